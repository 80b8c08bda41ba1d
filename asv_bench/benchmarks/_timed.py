"""The shape shared by the benchmark classes that time each implementation of one call, and the
ratio to the anchor that their ``track_ratio`` records."""

import gc
import math
import statistics
import time

import pynla

#: track_ratio alternates the anchor's call and the implementation's at least _MIN_ROUNDS times,
#: and goes on (up to _MAX_ROUNDS) while the rounds so far took under _ROUND_SECONDS.
_MIN_ROUNDS, _MAX_ROUNDS, _ROUND_SECONDS = 3, 15, 2.0


def interleaved_ratio(anchor, call):
    """The anchor's median time over ``call``'s, from calls of the two in turns in this process
    (garbage collector off, as timeit), so that a slow spell of a shared machine falls on both:
    a number that moves with pynla, not with the machine."""
    times = {anchor: [], call: []}
    start = time.perf_counter()
    gc.disable()
    try:
        while len(times[call]) < _MIN_ROUNDS or (len(times[call]) < _MAX_ROUNDS
                                                  and time.perf_counter() - start < _ROUND_SECONDS):
            for function in (anchor, call):
                begin = time.perf_counter()
                function()
                times[function].append(time.perf_counter() - begin)
    finally:
        gc.enable()
    return statistics.median(times[anchor]) / statistics.median(times[call])


class TimedCall:
    """params (impl, threads): ``calls()`` maps each implementation's name to a function of no
    arguments, the anchor's under "scipy" (whatever library it is); setup picks one, sets
    pynla's threads and checks its answer against the anchor's with ``compare(expected, got) ->
    (problem, note)`` once. Only pynla runs with 2 threads. ``time_call`` times the call;
    ``track_ratio`` records the anchor's time over it (interleaved_ratio), whose graph stays
    readable when the machine changes."""

    params = [["scipy", "pynla"], [1, 2]]
    param_names = ["impl", "threads"]
    timeout = 120

    def calls(self):
        raise NotImplementedError

    def compare(self, expected, got):
        raise NotImplementedError

    def setup(self, impl, threads, *_):
        calls = self.calls()
        if impl not in calls or (impl != "pynla" and threads != 1):
            raise NotImplementedError("not a combination this benchmark times")
        pynla.set_num_threads(threads)
        self.anchor, self.call = calls["scipy"], calls[impl]
        problem, _ = self.compare(self.anchor(), self.call())
        assert problem is None, problem

    def time_call(self, impl, threads, *_):
        self.call()

    def track_ratio(self, impl, threads, *_):
        if impl == "scipy":
            return math.nan  # the anchor itself: asv shows NaN as a skip
        return interleaved_ratio(self.anchor, self.call)

    track_ratio.unit = "anchor time / time"
