"""SpGEMM cases: sparse x sparse products ``C = A @ B``, CSR in and out, float64.

Implementations
---------------
scipy               ``A @ B`` (SciPy's sparsetools, single-threaded): the anchor.
pynla               ``pynla.spgemm(A, B)``, sorted (canonical) output, 2 threads.
pynla-unsorted      ``pynla.spgemm(A, B, sort_indices=False)``, 2 threads.
pynla               the same as the first, 1 thread.
pynla-plan          ``plan(A, B, out=C)`` of ``plan = pynla.spgemm_plan(A, B)``: the numeric phase
                    only (the analysis and the first result are made once, untimed), 2 threads;
                    it keeps the entries whose products cancel, as explicit zeros.
mkl                 ``sparse_dot_mkl.dot_product_mkl(A, B, reorder_output=True)`` (sorted output),
                    2 threads (``mkl_set_num_threads``); needs ``sparse-dot-mkl`` and ``mkl``.
mkl-unsorted        the same with ``reorder_output=False`` (its default).
graphblas           SuiteSparse:GraphBLAS through ``python-graphblas``: ``A.mxm(B).new()`` then
                    ``wait()`` (so no pending work, such as a deferred sort, is left out),
                    2 threads (``gb.ss.config["nthreads"]``); converting from and to SciPy is not
                    timed.

Cases (``--full`` / default)
----------------------------
=============================  ==================================  =============================
family                          --full                              default
=============================  ==================================  =============================
2D Poisson, 5-point, A^2        1000 x 1000 grid (1M rows)          500 x 500 grid
2D elasticity, Q1, A^2          499 x 499 quads, 500,000 dofs       249 x 249 quads, 125,000 dofs
3D 27-point stencil, A^2        80^3 grid (512,000 rows)            40^3 grid
R-MAT 2^18 x 2^16, A A^T        1.31M edges (edge factor 5/row)     2^15 x 2^13, edge factor 5
R-MAT scale 18, ef 10, A^2      a,b,c,d = .45,.22,.22,.11           scale 14
Graph500 R-MAT scale 16, A^2    ef 16, a,b,c,d = .57,.19,.19,.05    scale 13
uniform random, 5 a row, A^2    100000 x 100000                     10000 x 10000
=============================  ==================================  =============================

``pynla.bench.matrices`` lists each matrix's nnz(A), nnz(C), flops and SciPy time, and why
those R-MAT parameters (Graph500's at scale 18 give a product SciPy needs ~40 s and 8 GB for).
"""

import functools
import importlib.util
import os
import sys

import numpy as np
import scipy.sparse as sp

from pynla.bench import matrices
from pynla.bench.timing import Case, Implementation

THREADS = 2  # the machine the suite is tuned for has 2 cores

# ---------------------------------------------------------------------------------------------
# Implementations


def _scipy_product(A, B):
    return A @ B


def _pynla_threads(n):
    def activate():
        import pynla

        pynla.set_num_threads(n)

    return activate


def _pynla_sorted(A, B):
    import pynla

    return pynla.spgemm(A, B)


def _pynla_unsorted(A, B):
    import pynla

    return pynla.spgemm(A, B, sort_indices=False)


def check_sorted(C):
    """None if every row's column indices strictly increase (canonical CSR)."""
    indices, indptr = np.asarray(C.indices), np.asarray(C.indptr)
    if indices.size < 2:
        return None
    increasing = np.diff(indices.astype(np.int64)) > 0
    row_starts = indptr[1:-1]
    row_starts = row_starts[(row_starts > 0) & (row_starts < indices.size)]
    increasing[row_starts - 1] = True  # the step from one row's end to the next row's start
    if not increasing.all():
        return "indices not sorted although sort_indices=True"
    if not C.has_sorted_indices:
        return "indices sorted but has_sorted_indices is False"
    return None


def _missing(module):
    return None if importlib.util.find_spec(module) is not None else "not installed"


def _mkl_runtime():
    """Point sparse_dot_mkl at the pip ``mkl`` wheel's libmkl_rt (it does not search there) and
    keep MKL's OpenMP threads from spinning after each call (they would steal the 2 cores from
    whatever is timed next). Must run before sparse_dot_mkl is imported."""
    if "MKL_RT" not in os.environ:
        for name in ("libmkl_rt.so.2", "libmkl_rt.so.3", "libmkl_rt.so"):
            candidate = os.path.join(sys.prefix, "lib", name)
            if os.path.exists(candidate):
                os.environ["MKL_RT"] = candidate
    os.environ.setdefault("KMP_BLOCKTIME", "0")


@functools.lru_cache(maxsize=None)
def _mkl_unavailable():
    if _missing("sparse_dot_mkl"):
        return "not installed (pip install sparse-dot-mkl mkl)"
    _mkl_runtime()
    try:
        import sparse_dot_mkl  # noqa: F401
    except ImportError as error:  # the package is there but libmkl_rt is not
        return f"not installed: {str(error).splitlines()[-1][:80]}"
    return None


def _mkl_activate():
    import sparse_dot_mkl

    sparse_dot_mkl.mkl_set_num_threads(THREADS)


def _mkl_sorted(A, B):
    import sparse_dot_mkl

    return sparse_dot_mkl.dot_product_mkl(A, B, reorder_output=True)


def _mkl_unsorted(A, B):
    import sparse_dot_mkl

    return sparse_dot_mkl.dot_product_mkl(A, B, reorder_output=False)


def _plan_prepare(A, B):
    """The plan and a result to compute into (untimed: the analysis is done once)."""
    import pynla

    plan = pynla.spgemm_plan(A, B)
    return plan, A, B, plan(A, B)


def _plan_numeric(plan, A, B, C):
    return plan(A, B, out=C)


@functools.lru_cache(maxsize=None)
def _graphblas_unavailable():
    if _missing("graphblas"):
        return "not installed (pip install python-graphblas)"
    try:
        import graphblas  # noqa: F401
    except ImportError as error:
        return f"not installed: {str(error).splitlines()[-1][:80]}"
    return None


def _graphblas_prepare(A, B):
    import graphblas as gb

    gA = gb.io.from_scipy_sparse(A)
    gB = gA if B is A else gb.io.from_scipy_sparse(B)
    return gA, gB


def _graphblas_activate():
    import graphblas as gb

    gb.ss.config["nthreads"] = THREADS


def _graphblas_product(gA, gB):
    C = gA.mxm(gB).new()
    C.wait()
    return C


def _graphblas_to_scipy(C):
    import graphblas as gb

    return gb.io.to_scipy_sparse(C, format="csr")


SCIPY = Implementation("scipy", _scipy_product, threads=1, memory=True)

IMPLEMENTATIONS = (
    Implementation("pynla", _pynla_sorted, threads=THREADS, activate=_pynla_threads(THREADS),
                   memory=True, check=check_sorted),
    Implementation("pynla-unsorted", _pynla_unsorted, threads=THREADS,
                   activate=_pynla_threads(THREADS), memory=True),
    Implementation("pynla", _pynla_sorted, threads=1, activate=_pynla_threads(1), memory=True,
                   check=check_sorted),
    # The numeric phase of a plan (pynla.spgemm_plan): the pattern is the plan's, so entries that
    # cancel stay as explicit zeros.
    Implementation("pynla-plan", _plan_numeric, threads=THREADS, prepare=_plan_prepare,
                   activate=_pynla_threads(THREADS), check=check_sorted, explicit_zeros=True),
    Implementation("mkl", _mkl_sorted, threads=THREADS, activate=_mkl_activate,
                   unavailable=_mkl_unavailable, check=check_sorted, explicit_zeros=True),
    Implementation("mkl-unsorted", _mkl_unsorted, threads=THREADS, activate=_mkl_activate,
                   unavailable=_mkl_unavailable, explicit_zeros=True),
    Implementation("graphblas", _graphblas_product, threads=THREADS, prepare=_graphblas_prepare,
                   activate=_graphblas_activate, to_reference=_graphblas_to_scipy,
                   unavailable=_graphblas_unavailable, explicit_zeros=True),
)


# ---------------------------------------------------------------------------------------------
# Checking and describing


def compare(expected, got, explicit_zeros=False, rtol=1e-12):
    """``(problem, note)``: ``problem`` is None if ``got`` has the entries of ``expected`` (same
    shape, nnz, pattern, and values within ``rtol * max|expected|``), else why not. Indices
    may be unsorted in ``got``. With ``explicit_zeros``, entries of ``got`` that are exactly
    zero (sums that cancel, which SciPy drops and GraphBLAS/MKL keep) are removed first and
    counted in ``note``."""
    if not sp.issparse(got):
        return f"returned {type(got).__name__}, not a sparse matrix", None
    if got.shape != expected.shape:
        return f"shape {got.shape}, expected {expected.shape}", None
    got = sp.csr_array(got)
    expected = sp.csr_array(expected)
    note = None
    if explicit_zeros and got.nnz != expected.nnz:
        zeros = int(np.count_nonzero(got.data == 0))
        if zeros:
            got = got.copy()
            got.eliminate_zeros()
            note = f"keeps {zeros:,} explicit zeros that SciPy drops (compared without them)"
    if got.nnz != expected.nnz:
        return f"nnz {got.nnz:,}, expected {expected.nnz:,}", note
    if not np.array_equal(np.diff(got.indptr), np.diff(expected.indptr)):
        return "row counts differ", note
    if not got.has_sorted_indices:
        got = got.copy()
        got.sort_indices()
    if not expected.has_sorted_indices:
        expected = expected.copy()
        expected.sort_indices()
    if not np.array_equal(got.indices, expected.indices):
        return "column indices differ", note
    scale = float(np.abs(expected.data).max()) if expected.nnz else 0.0
    diff = float(np.abs(got.data - expected.data).max()) if expected.nnz else 0.0
    if not diff <= rtol * scale:
        return f"max abs diff {diff:.3g} > {rtol:g} * {scale:.3g}", note
    return None, note


def nbytes(C):
    if sp.issparse(C):
        return matrices.csr_nbytes(C)
    raise TypeError(f"cannot size {type(C).__name__}")


def describe(inputs, expected):
    A, B = inputs
    return {
        "shape_A": list(A.shape),
        "shape_B": list(B.shape),
        "nnz_A": int(A.nnz),
        "nnz_B": int(B.nnz),
        "nnz_C": int(expected.nnz),
        "flops": matrices.product_flops(A, B),
        "nbytes_C": matrices.csr_nbytes(expected),
    }


# ---------------------------------------------------------------------------------------------
# Cases


def _square(build):
    def setup():
        A = build()
        return A, A

    return setup


def _times_transpose(build):
    def setup():
        A = build()
        return A, sp.csr_array(A.T)  # CSR of A^T, built untimed

    return setup


def _case(name, setup):
    # Issue 22: at one thread, never slower than SciPy's (single-threaded) product.
    return Case(name=name, setup=setup, anchor=SCIPY, implementations=IMPLEMENTATIONS,
                compare=compare, nbytes=nbytes, describe=describe, targets={"pynla@1": 1.0})


def rmat_cases(full):
    """The three R-MAT products (parameters, nnz and flops: ``pynla.bench.matrices``)."""
    rect = (18, 16) if full else (15, 13)
    square = 18 if full else 14
    g500 = 16 if full else 13
    return [
        _case(f"rmat-2^{rect[0]}x2^{rect[1]} A*A^T",
              _times_transpose(lambda: matrices.rmat_rectangular(*rect))),
        _case(f"rmat-s{square}-ef10 A^2", _square(lambda: matrices.rmat_square(square))),
        _case(f"graph500-s{g500}-ef16 A^2", _square(lambda: matrices.graph500(g500))),
    ]


def cases(full=False):
    """The SpGEMM suite: the issue's sizes with ``full``, smaller ones of the same families
    otherwise (the default run takes under 3 minutes on 2 cores)."""
    poisson = 1000 if full else 500
    quads = 499 if full else 249
    grid = 80 if full else 40
    uniform = 100_000 if full else 10_000
    dofs = 2 * (quads + 1) ** 2
    return [
        _case(f"poisson2d-{poisson}x{poisson} A^2", _square(lambda: matrices.poisson2d(poisson))),
        _case(f"elasticity2d-{dofs // 1000}k-dofs A^2",
              _square(lambda: matrices.elasticity2d(quads))),
        _case(f"stencil27-{grid}^3 A^2", _square(lambda: matrices.stencil27(grid))),
        *rmat_cases(full),
        _case(f"uniform-{uniform}-5/row A^2", _square(lambda: matrices.uniform_random(uniform, 5))),
    ]
