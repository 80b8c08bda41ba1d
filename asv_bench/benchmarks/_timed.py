"""The shape shared by the benchmark classes that time each implementation of one call."""

import pynla


class TimedCall:
    """params (impl, threads): ``calls()`` maps each implementation's name to a function of no
    arguments; setup picks one, sets pynla's threads and checks its answer against "scipy"'s
    with ``compare(expected, got) -> (problem, note)`` once. Only pynla runs with 2 threads."""

    params = [["scipy", "pynla"], [1, 2]]
    param_names = ["impl", "threads"]
    timeout = 120

    def calls(self):
        raise NotImplementedError

    def compare(self, expected, got):
        raise NotImplementedError

    def setup(self, impl, threads):
        calls = self.calls()
        if impl not in calls or (impl != "pynla" and threads != 1):
            raise NotImplementedError("not a combination this benchmark times")
        pynla.set_num_threads(threads)
        self.call = calls[impl]
        problem, _ = self.compare(calls["scipy"](), self.call())
        assert problem is None, problem

    def time_call(self, impl, threads):
        self.call()
