"""SpGEMM: ``pynla.spgemm(A, B)`` against SciPy's ``A @ B`` (the anchor, same class).

Each benchmark is one (matrix, impl, threads) combination; "scipy" is single-threaded, so
its 2-thread combinations are skipped. Matrices are moderate versions of the families of
``python -m pynla.bench spgemm`` (SciPy takes 10-60 ms on each; building one takes < 0.3 s,
so each benchmark process builds just the one it needs, which keeps it out of the others'
peak memory).

track_ratio records SciPy's time over the implementation's, measured in turns in one process
(a graph that survives a change of machine). peakmem_product is asv's absolute peak RSS of the
benchmark process (interpreter and libraries, ~100 MB, plus inputs, answer and temporaries):
compare implementations on the same matrix. ``python -m pynla.bench`` reports the extra memory relative to the answer.
"""

import functools
import gc
import math

import pynla
from pynla.bench import matrices
from pynla.bench.spgemm import check_sorted, compare

from . import _timed


def _square(A):
    return A, A


def _times_transpose(A):
    return A, A.T.tocsr()


MATRICES = {
    "poisson2d-500x500": lambda: _square(matrices.poisson2d(500)),
    "elasticity2d-45k-dofs": lambda: _square(matrices.elasticity2d(149)),
    "stencil27-30^3": lambda: _square(matrices.stencil27(30)),
    "rmat-2^14x2^12-AAT": lambda: _times_transpose(matrices.rmat_rectangular(14, 12)),
    "rmat-s13-ef10": lambda: _square(matrices.rmat_square(13)),
    "graph500-s12-ef16": lambda: _square(matrices.graph500(12)),
    "uniform-10000-5/row": lambda: _square(matrices.uniform_random(10_000, 5)),
}

PRODUCTS = {
    "scipy": lambda A, B: A @ B,
    "pynla": lambda A, B: pynla.spgemm(A, B),
    "pynla-unsorted": lambda A, B: pynla.spgemm(A, B, sort_indices=False),
}


def _reset_peak_memory():
    """Start the process's peak RSS afresh (Linux), so peakmem_ counts the product, not setup.

    asv's peakmem is ru_maxrss of the benchmark process, setup included; writing "5" to
    /proc/self/clear_refs resets it to the current RSS.
    """
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


@functools.lru_cache(maxsize=1)
def _inputs(matrix):
    return MATRICES[matrix]()  # seeds are fixed inside the generators


_CHECKED = set()  # setup may run once per sample: check each combination once per process


class SpGEMM:
    params = [list(MATRICES), list(PRODUCTS), [1, 2]]
    param_names = ["matrix", "impl", "threads"]
    timeout = 120
    repeat = (3, 10, 10.0)  # at least 3 samples, up to 10 or 10 s

    def setup(self, matrix, impl, threads):
        if impl == "scipy" and threads != 1:
            raise NotImplementedError("SciPy's product is single-threaded")
        self.A, self.B = _inputs(matrix)
        self.product = PRODUCTS[impl]
        pynla.set_num_threads(threads)
        if (matrix, impl, threads) not in _CHECKED:
            expected, C = self.A @ self.B, self.product(self.A, self.B)  # doubles as warm-up
            problem, _ = compare(expected, C)
            if problem is None and impl == "pynla":
                problem = check_sorted(C)
            assert problem is None, f"{impl} disagrees with SciPy on {matrix}: {problem}"
            del expected, C
            _CHECKED.add((matrix, impl, threads))
        _reset_peak_memory()

    def time_product(self, matrix, impl, threads):
        self.product(self.A, self.B)

    def peakmem_product(self, matrix, impl, threads):
        self.product(self.A, self.B)

    def track_ratio(self, matrix, impl, threads):
        if impl == "scipy":
            return math.nan  # the anchor itself: asv shows NaN as a skip
        A, B = self.A, self.B
        return _timed.interleaved_ratio(lambda: PRODUCTS["scipy"](A, B), lambda: self.product(A, B))

    track_ratio.unit = "SciPy time / time"


class SpGEMMPlan:
    """The numeric phase of ``pynla.spgemm_plan``: ``plan(A, B, out=C)`` for new values in fixed
    patterns (the analysis, done once, is untimed). track_ratio: a fresh ``pynla.spgemm`` (sorted
    output, same threads) over the plan's call, in turns in one process."""

    params = [list(MATRICES), [1, 2]]
    param_names = ["matrix", "threads"]
    timeout = 120
    repeat = (3, 10, 10.0)

    def setup(self, matrix, threads):
        self.A, self.B = _inputs(matrix)
        pynla.set_num_threads(threads)
        self.plan = pynla.spgemm_plan(self.A, self.B)
        self.C = self.plan(self.A, self.B)
        problem, _ = compare(self.A @ self.B, self.C, explicit_zeros=True)
        assert problem is None, f"the plan disagrees with SciPy on {matrix}: {problem}"

    def numeric(self):
        return self.plan(self.A, self.B, out=self.C)

    def time_numeric(self, matrix, threads):
        self.numeric()

    def track_ratio(self, matrix, threads):
        A, B = self.A, self.B
        return _timed.interleaved_ratio(lambda: pynla.spgemm(A, B), self.numeric)

    track_ratio.unit = "fresh pynla.spgemm time / time"


GRAPHS = {
    "rmat-s13-ef10": lambda: matrices.rmat_square(13),
    "graph500-s12-ef16": lambda: matrices.graph500(12),
}


class TriangleCount:
    """Masked products: triangles counted as ``pynla.spgemm(L, L, mask=L).sum()`` (L the strict
    lower triangle of the undirected graph), against SciPy's ``(L @ L).multiply(L).sum()``.
    track_ratio: SciPy's time over pynla's, in turns in one process."""

    params = [list(GRAPHS), [1, 2]]
    param_names = ["graph", "threads"]
    timeout = 120
    repeat = (3, 10, 10.0)

    def setup(self, graph, threads):
        from pynla.bench.spgemm_graphs import lower_triangle

        self.L = lower_triangle(GRAPHS[graph]())
        pynla.set_num_threads(threads)
        assert self.masked() == self.scipy(), f"pynla's triangle count disagrees with SciPy's on {graph}"

    def masked(self):
        return pynla.spgemm(self.L, self.L, mask=self.L).sum()

    def scipy(self):
        return (self.L @ self.L).multiply(self.L).sum()

    def time_masked(self, graph, threads):
        self.masked()

    def track_ratio(self, graph, threads):
        return _timed.interleaved_ratio(self.scipy, self.masked)

    track_ratio.unit = "SciPy time / time"


class Semirings:
    """``pynla.spgemm(A, A, semiring=...)`` on an R-MAT graph (SciPy has no such products but
    plus_times, and or_and as its bool product). track_ratio: SciPy's plus_times product of the
    same matrix over pynla's semiring product, in turns in one process (a semiring costs about
    what the plain product costs)."""

    params = [["min_plus", "max_times", "or_and", "plus_pair"], [1, 2]]
    param_names = ["semiring", "threads"]
    timeout = 120

    def setup(self, semiring, threads):
        A = matrices.rmat_square(13)
        self.A = A.astype(bool) if semiring == "or_and" else A
        self.plain = A
        self.semiring = semiring
        pynla.set_num_threads(threads)

    def product(self):
        return pynla.spgemm(self.A, self.A, semiring=self.semiring)

    def time_product(self, semiring, threads):
        self.product()

    def track_ratio(self, semiring, threads):
        plain = self.plain
        return _timed.interleaved_ratio(lambda: plain @ plain, self.product)

    track_ratio.unit = "SciPy plus_times time / time"


class SymmetricProducts:
    """``pynla.spgemm_aat(A, upper=...)`` against SciPy's ``A @ A.T`` (the whole product: SciPy
    has no triangle-only one). track_ratio: SciPy's time over pynla's, in turns in one process."""

    params = [["rmat-2^14x2^12", "random-20000x50000-20/row"], [False, True], [1, 2]]
    param_names = ["matrix", "upper", "threads"]
    timeout = 120

    def setup(self, matrix, upper, threads):
        import scipy.sparse as sp

        if matrix.startswith("rmat"):
            self.A = matrices.rmat_rectangular(14, 12)
        else:
            self.A = sp.random_array((20000, 50000), density=4e-4, format="csr", rng=20261206)
        self.upper = upper
        pynla.set_num_threads(threads)

    def product(self):
        return pynla.spgemm_aat(self.A, upper=self.upper)

    def time_aat(self, matrix, upper, threads):
        self.product()

    def track_ratio(self, matrix, upper, threads):
        A = self.A
        return _timed.interleaved_ratio(lambda: A @ A.T, self.product)

    track_ratio.unit = "SciPy A @ A.T time / time"
