"""Measuring: cases and implementations, the median-of-repeats timer, the peak-memory probe,
table printing and JSON.

A capability module (``pynla/bench/<capability>.py``) exposes ``cases(full=False)``, a list of
:class:`Case`. A case builds its inputs (``setup``), names the anchor implementation (SciPy or
NumPy) whose answer every other implementation must reproduce and whose time every ratio is
measured against, and lists the competing implementations. ``python -m pynla.bench`` runs them.
"""

import dataclasses
import gc
import importlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

# ---------------------------------------------------------------------------------------------
# Cases and implementations


def _identity_args(*inputs):
    return inputs


def _nothing():
    return None


def _same(result):
    return result


@dataclasses.dataclass(frozen=True)
class Implementation:
    """One way of computing a case's answer.

    name
        Short label for the table ("scipy", "pynla", "mkl", ...).
    call
        The timed call: ``call(*args)`` returns the answer. Nothing else is timed.
    threads
        Threads it is allowed (shown in the table).
    prepare
        Untimed, once per case: ``prepare(*inputs)`` returns the ``args`` tuple for ``call``
        (conversion into a peer's own format goes here).
    activate
        Untimed, before every call: e.g. set the thread count (implementations are timed in
        turns, so each one sets its own).
    to_reference
        Untimed: converts an answer into the anchor's type for the correctness check.
    unavailable
        Returns None if the implementation can run, else why not (e.g. "not installed").
    memory
        Whether the peak-memory probe runs for it (in a child process).
    check
        Optional extra check of the answer (e.g. sorted indices): returns None or an error.
    explicit_zeros
        True for peers that keep entries summing to exactly zero where the anchor drops them
        (GraphBLAS, MKL): they are then compared without those entries, and the table notes
        how many they kept. pynla promises SciPy's entries, so it is held to the same nnz.
    floor
        A reference time rather than a competitor: a different, simpler computation that bounds
        what the case can cost (one pass over the input, say). Its answer is not checked, and
        the table says so.
    """

    name: str
    call: Callable[..., Any]
    threads: int = 1
    prepare: Callable[..., tuple] = _identity_args
    activate: Callable[[], None] = _nothing
    to_reference: Callable[[Any], Any] = _same
    unavailable: Callable[[], "str | None"] = _nothing
    memory: bool = False
    check: "Callable[[Any], str | None] | None" = None
    explicit_zeros: bool = False
    floor: bool = False


@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmark input and the implementations that compute its answer.

    name
        Unique within the capability; says the size ("poisson2d-500x500 A^2").
    setup
        Builds the inputs (untimed, fixed seeds): returns a tuple passed to ``prepare``.
    anchor
        The reference implementation (SciPy): its answer is the expected one and every ratio
        is ``anchor time / implementation time``.
    implementations
        The competitors, in table order.
    compare
        ``compare(expected, got, explicit_zeros)``: ``(problem, note)``, ``problem`` None if
        ``got`` is right, else a short reason; ``note`` None or a remark for the table.
    nbytes
        Bytes held by an answer (the memory column is peak extra memory as % of this).
    describe
        ``describe(inputs, expected)``: a dict of facts for the report (shape, nnz, flops).
    targets
        The ratios an issue asks of implementations, by "name" or "name@threads" (the latter
        first): marked on ``--plot`` and in ``--markdown`` (pynla/bench/report.py).
    """

    name: str
    setup: Callable[[], tuple]
    anchor: Implementation
    implementations: tuple
    compare: Callable[[Any, Any, bool], tuple]
    nbytes: Callable[[Any], int]
    describe: Callable[[tuple, Any], dict] = lambda inputs, expected: {}
    targets: dict = dataclasses.field(default_factory=dict)

    @property
    def all_implementations(self):
        return (self.anchor, *self.implementations)

    def target(self, impl):
        """The ratio asked of ``impl`` (an Implementation), or None."""
        return self.targets.get(f"{impl.name}@{impl.threads}", self.targets.get(impl.name))

    def implementation(self, key):
        """The implementation called ``key``: a name, or "name@threads" when names repeat."""
        name, _, threads = key.partition("@")
        for impl in self.all_implementations:
            if impl.name == name and (not threads or impl.threads == int(threads)):
                return impl
        raise KeyError(f"case {self.name!r} has no implementation {key!r}")


#: Untimed pause before each call of a case that runs BLAS: OpenBLAS's threads keep spinning for
#: about 0.1 s after each BLAS call, and on 2 cores a spinning thread halves the speed of
#: whichever OpenMP thread shares its core.
SETTLE_SECONDS = 0.12


def blas_threads(n):
    """An ``activate`` for BLAS-bound calls: pynla's kernels and the BLAS both at n threads, then
    a pause for the BLAS threads of the previous call to settle (for every implementation of the
    case, anchor included)."""
    def activate():
        import threadpoolctl

        import pynla

        pynla.set_num_threads(n)
        threadpoolctl.threadpool_limits(n, user_api="blas")
        time.sleep(SETTLE_SECONDS)

    return activate


# ---------------------------------------------------------------------------------------------
# Timer


def timed_call(impl, args):
    """``(seconds, answer)`` of one ``impl.call(*args)``, garbage collector off (as timeit)."""
    impl.activate()
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = impl.call(*args)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return elapsed, result


def time_call(impl, args):
    """Seconds taken by one ``impl.call(*args)``; the answer is freed after the clock stops."""
    elapsed, result = timed_call(impl, args)
    del result
    return elapsed


def repeats_for(warm_up_seconds, requested=None):
    """How many timed calls: ``requested`` if given, else 3 for calls of 0.25 s or more and at
    least 5 for faster ones (more for very fast ones: up to ~0.6 s of calls, at most 11; more
    would push the default run past 3 minutes)."""
    if requested is not None:
        return requested
    if warm_up_seconds >= 0.25:
        return 3
    return int(min(11, max(5, math.ceil(0.6 / max(warm_up_seconds, 1e-6)))))


def median(values):
    return statistics.median(values) if values else float("nan")


def geometric_mean(values):
    values = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


# ---------------------------------------------------------------------------------------------
# Peak memory, in a child process
#
# The parent saves the case's inputs to a temporary folder once. For each probed implementation
# a fresh interpreter loads them, runs ``prepare``, then: gc.collect(); write "5" to
# /proc/self/clear_refs (resets VmHWM to the current RSS); read VmRSS (the baseline: interpreter,
# libraries, inputs); run the call; read VmHWM. extra = VmHWM - baseline - nbytes(answer), the
# peak working memory beyond the inputs and the answer it returns. A fresh process per
# measurement, so no allocator cache from an earlier call hides or adds memory.


def memory_probe_supported():
    return os.path.exists("/proc/self/clear_refs") and os.path.exists("/proc/self/status")


def _status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def save_inputs(inputs, folder):
    """Save a tuple of sparse matrices (CSR, CSC, BSR), ndarrays and tuples of numbers (such
    as a shape); repeated objects (``(A, A)``) saved once."""
    manifest = []
    for position, item in enumerate(inputs):
        first = next(i for i, other in enumerate(inputs) if other is item)
        if first != position:
            manifest.append({"same_as": first})
        elif sp.issparse(item) and item.format in ("csr", "csc", "bsr"):
            for part in ("data", "indices", "indptr"):
                np.save(os.path.join(folder, f"{position}.{part}.npy"), getattr(item, part))
            manifest.append({"kind": type(item).__name__, "shape": list(item.shape),
                             "sorted": bool(item.has_sorted_indices)})
        elif isinstance(item, np.ndarray):
            np.save(os.path.join(folder, f"{position}.npy"), item)
            manifest.append({"kind": "ndarray"})
        elif isinstance(item, tuple) and all(isinstance(x, (int, float)) for x in item):
            manifest.append({"kind": "tuple", "value": list(item)})
        else:
            raise TypeError(f"cannot save input {position} of type {type(item).__name__}")
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f)


def load_inputs(folder):
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    inputs = []
    for position, entry in enumerate(manifest):
        if "same_as" in entry:
            inputs.append(inputs[entry["same_as"]])
        elif entry["kind"] == "ndarray":
            inputs.append(np.load(os.path.join(folder, f"{position}.npy")))
        elif entry["kind"] == "tuple":
            inputs.append(tuple(entry["value"]))
        else:
            parts = [np.load(os.path.join(folder, f"{position}.{p}.npy"))
                     for p in ("data", "indices", "indptr")]
            matrix = getattr(sp, entry["kind"])(tuple(parts), shape=tuple(entry["shape"]))
            matrix.has_sorted_indices = entry["sorted"]
            inputs.append(matrix)
    return tuple(inputs)


def probe_peak_memory(module_name, full, case_name, impl_name, folder, timeout=900):
    """Run the memory probe of one implementation in a child process; returns a dict with
    ``baseline``, ``peak``, ``answer`` and ``extra`` in bytes, or ``{"error": ...}`` (with
    ``"crashed": True`` if a signal killed the child, e.g. an abort on heap corruption)."""
    command = [sys.executable, "-P", "-m", "pynla.bench.timing", "probe", module_name,
               "full" if full else "default", case_name, impl_name, folder]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=folder)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1][:160]
        if done.returncode < 0:  # killed by a signal: the implementation crashed the process
            name = signal.Signals(-done.returncode).name
            return {"error": f"crashed ({name}): {tail}", "crashed": True}
        return {"error": f"exit {done.returncode}: {tail}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _probe_child(module_name, mode, case_name, impl_name, folder):
    module = importlib.import_module(module_name)
    case = next(c for c in module.cases(full=mode == "full") if c.name == case_name)
    impl = case.implementation(impl_name)
    args = impl.prepare(*load_inputs(folder))
    impl.activate()
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    baseline = _status_kib("VmRSS") * 1024
    result = impl.call(*args)
    peak = _status_kib("VmHWM") * 1024
    answer = case.nbytes(result)
    print(json.dumps({"baseline": baseline, "peak": peak, "answer": answer,
                      "extra": peak - baseline - answer}))


class InputFolder:
    """A temporary folder holding a case's saved inputs (created on first use)."""

    def __init__(self, inputs):
        self.inputs, self.path = inputs, None

    def get(self):
        if self.path is None:
            self.path = tempfile.mkdtemp(prefix="pynla-bench-")
            save_inputs(self.inputs, self.path)
        return self.path

    def close(self):
        if self.path is not None:
            for name in os.listdir(self.path):
                os.remove(os.path.join(self.path, name))
            os.rmdir(self.path)
            self.path = None


# ---------------------------------------------------------------------------------------------
# Output


def format_seconds(seconds):
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


def format_count(n):
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def format_table(header, rows, align=None):
    """Plain-text table; ``align`` is a string of 'l'/'r' per column."""
    align = align or "l" * len(header)
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(row):
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                         for c, w, a in zip(row, widths, align)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


class Progress:
    """Where a long run stands, on stderr. On a terminal, one line rewritten in place (case,
    implementation, repeat, time left); in a log, one line per finished case (its time, the
    time left), not one per repeat. Time left: the mean time of the cases done so far, times
    the cases still to run."""

    def __init__(self, cases, stream=sys.stderr):
        self.stream, self.tty = stream, stream.isatty()
        self.cases, self.finished = cases, 0
        self.start = time.perf_counter()
        self.width = 0

    def expect(self, more):
        """``more`` cases added to the run (the gate's reruns)."""
        self.cases += more

    def time_left(self):
        """"~N min left" (or s), or "" before the first case ends."""
        if not self.finished:
            return ""
        left = (time.perf_counter() - self.start) / self.finished * (self.cases - self.finished)
        return f"~{left / 60:.0f} min left" if left >= 90 else f"~{left:.0f} s left"

    def show(self, text):
        """What the run is doing now: on a terminal only."""
        if self.tty:
            left = self.time_left()
            self._rewrite(f"{text} ({left})" if left else text)

    def case_done(self, label, seconds):
        """A case has finished: a line in a log."""
        self.finished += 1
        if not self.tty:
            left = self.time_left()
            self.stream.write(f"{label}: {seconds:.1f} s{', ' + left if self.finished < self.cases else ''}\n")
            self.stream.flush()

    def done(self):
        if self.tty and self.width:
            self._rewrite("")
        self.width = 0

    def _rewrite(self, text):
        self.stream.write("\r" + text.ljust(self.width) + ("\r" if not text else ""))
        self.width = len(text)
        self.stream.flush()


def write_json(path, report):
    with open(path, "w") as f:
        json.dump(report, f, indent=2, default=_json_default)
        f.write("\n")


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "probe":
        _probe_child(*sys.argv[2:])
    else:
        sys.exit("usage: python -P -m pynla.bench.timing probe MODULE default|full CASE IMPL DIR")
