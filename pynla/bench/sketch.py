"""Sketching cases: CountSketch of sparse and dense matrices, sketched least squares and
randomized SVD, at the issue's sizes.

Cases
-----
countsketch sparse   1e6 x 1e5, 1e6 nonzeros, to 1000 rows; the mid sizes of issue 22, 50000
                     x 5000 with 50 nonzeros a row to 400 rows (a nearly dense sketch) and 1e5 x 1e5
                     with 10 a row to 1000 rows; and a tall 200000 x 200 with 20 a row to 2000 rows
                     (a full sketch, as least squares takes). Anchor: SciPy's ``clarkson_woodruff_transform``
                     (which draws its sketch, as pynla's ``CountSketch(...) @ A`` does inside the
                     timed call).
countsketch dense    200000 x 200 to 2000 rows, C order. Anchor: SciPy's
                     ``clarkson_woodruff_transform``; floor: one pass over A (``A @ x``).
lstsq                200000 x 200, condition number 1e6, b = A x + noise. Anchor: SciPy's
                     ``lstsq`` (LAPACK gelsd); peer NumPy's ``lstsq`` (``--full`` only). pynla's answer must agree
                     with gelsd's to 1e-8 relatively; the table notes the error.
lstsq small          20 x 15, 300 x 200, 1000 x 1000, 2000 x 1000 (condition 1e3), where sketching
                     cannot win and ``sketched_lstsq`` solves with gelsd itself, and 20000 x 100,
                     near where its cost model switches. Anchor: SciPy's ``lstsq``.
lstsq sparse         200000 x 200 with 20 entries a row (``--full`` adds 1e6 x 100 with 5 and 1e5 x 500
                     with 10), b = A x + noise: CGLS ("auto" tries it first on sparse A). Anchor:
                     SciPy's ``lsqr`` with atol = btol = 1e-14 (gelsd's accuracy); answers agree to 1e-8.
rsvd                 20000 x 5000 with known singular values 1/i, k = 50 (``--full``; the default
                     run uses 10000 x 2500).
rsvd grid            100 x 500, 300 x 300, 1000 x 200, 2000 x 1000, 20000 x 2000 (singular values
                     1/i) and k = 10, 20, 50 (``--full``; the default run takes three), each at 2 BLAS
                     threads and at 1 (every implementation at that count). Anchor: scikit-learn's ``randomized_svd`` with its
                     defaults (SciPy's ``svds`` if scikit-learn is not installed). The table
                     notes each answer's Frobenius residual over the optimal rank-k residual.

Sketches are random, so pynla's and SciPy's answers are different draws: a sketch is checked
by its shape, kind and norm (within the distortion expected of its size), least squares by
the solution, the SVD by its residual.
"""

import time

import numpy as np
import scipy.linalg as sl
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pynla.bench.matrices import with_singular_values
from pynla.bench.timing import SETTLE_SECONDS, Case, Implementation, blas_threads

THREADS = 2
SEED = 20_251_123
RANK = 50


# ---------------------------------------------------------------------------------------------
# Inputs


#: CountSketch of sparse A: (rows, columns, nonzeros a row, sketch size, target against SciPy or
#: None). The last is a tall A whose sketch is full, as least squares sketches it.
SPARSE_COUNTSKETCHES = [(1_000_000, 100_000, 1, 1000, 8.0), (50_000, 5000, 50, 400, 8.0),
                        (100_000, 100_000, 10, 1000, 8.0), (200_000, 200, 20, 2000, None)]


def sparse_input(n=1_000_000, d=100_000, per_row=1):
    rng = np.random.default_rng(SEED)
    return (sp.random_array((n, d), density=per_row / d, format="csr", rng=rng),)


def _sparse_countsketch_case(n, d, per_row, size, target):
    return Case(name=f"countsketch sparse {n}x{d} {per_row}/row -> {size}", setup=lambda: sparse_input(n, d, per_row),
                anchor=Implementation("scipy", _scipy_countsketch(size)),
                implementations=_pynla_pair(_pynla_countsketch(size)), compare=compare_sketch, nbytes=nbytes,
                targets={} if target is None else {f"pynla@{THREADS}": target})  # issue 22


def dense_input():
    return (np.random.default_rng(SEED).standard_normal((200_000, 200)),)


def least_squares_input(n=200_000, d=200, cond=1e6):
    """A = G diag(s) V^T, G Gaussian (condition near 1 for n >> d), s from 1 to 1/cond, V a
    random rotation; b = A x + 1e-8 noise: a problem on which gelsd itself is accurate to
    about cond * eps, so that agreement is a fair test."""
    rng = np.random.default_rng(SEED + 1)
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    A = (rng.standard_normal((n, d)) * np.geomspace(1, 1 / cond, d)) @ V.T
    b = A @ rng.standard_normal(d)
    b += 1e-8 * np.linalg.norm(b) / np.sqrt(n) * rng.standard_normal(n)
    return A, b


def spectrum():
    return 1.0 / np.arange(1, 5001)


def known_spectrum_matrix(m, n):
    """An m x n matrix (m >= n) with singular values ``1/i`` (matrices.with_singular_values)."""
    return with_singular_values(m, n, spectrum(), SEED + 2)


# ---------------------------------------------------------------------------------------------
# Checks


def compare_sketch(expected, got, explicit_zeros=False):
    """A different draw of the same sketch: same kind and shape, Frobenius norm within the
    distortion a sketch of this size allows."""
    if sp.issparse(expected) != sp.issparse(got) or got.shape != expected.shape:
        return f"got {type(got).__name__} {got.shape}, expected {type(expected).__name__} {expected.shape}", None
    norm = sp.linalg.norm if sp.issparse(got) else np.linalg.norm
    ratio = norm(got) / norm(expected)
    if not 0.9 < ratio < 1.1:
        return f"norm {ratio:.3f} times the anchor's: not a sketch of the same size", None
    return None, f"||S A|| / anchor's {ratio:.4f}"


def compare_solution(expected, got, explicit_zeros=False):
    error = np.linalg.norm(got - expected) / np.linalg.norm(expected)
    if not error <= 1e-8:
        return f"relative error {error:.2e} against the anchor", None
    return None, f"relative error {error:.1e} against the anchor"


def residual_ratio(A, answer):
    """||A - U diag(s) Vh||_F over the optimal rank-k residual, through
    ||A||^2 - 2 tr(diag(s) U^T A Vh^T) + ||s||^2 (U and Vh orthonormal)."""
    U, s, Vh = answer
    k = len(s)
    optimal = np.sqrt(np.sum(spectrum()[k:min(A.shape)] ** 2))
    cross = np.einsum("ij,ij->i", U.T @ A, Vh) @ s
    residual = np.sqrt(max(np.sum(spectrum()[:min(A.shape)] ** 2) - 2 * cross + s @ s, 0.0))
    return residual / optimal


def compare_svd(A):
    def compare(expected, got, explicit_zeros=False):
        ratio, anchor_ratio = residual_ratio(A, got), residual_ratio(A, expected)
        note = f"residual / optimal {ratio:.6f} (anchor {anchor_ratio:.6f})"
        if not ratio <= max(1.01, anchor_ratio):
            return note, None
        return None, note

    return compare


def nbytes(answer):
    if sp.issparse(answer):
        return sum(np.asarray(a).nbytes for a in (answer.data, answer.indices, answer.indptr))
    if isinstance(answer, tuple):
        return sum(np.asarray(a).nbytes for a in answer)
    return np.asarray(answer).nbytes


# ---------------------------------------------------------------------------------------------
# Implementations


def _threads(n, settle=False):
    def activate():
        import pynla

        pynla.set_num_threads(n)
        if settle:
            time.sleep(SETTLE_SECONDS)

    return activate


def _settled_threads(n):
    return _threads(n, settle=True)


def _settle():
    time.sleep(SETTLE_SECONDS)


def _pynla_pair(call, activate=_threads):
    return (Implementation("pynla", call, threads=THREADS, activate=activate(THREADS)),
            Implementation("pynla", call, threads=1, activate=activate(1)))


def _scipy_countsketch(size):
    def call(A):
        return sl.clarkson_woodruff_transform(A, size, rng=SEED)

    return call


def _pynla_countsketch(size):
    def call(A):
        import pynla

        return pynla.CountSketch(size, A.shape[0], rng=SEED) @ A

    return call


def _one_pass(A):
    return A @ np.ones(A.shape[1])


def _scipy_lstsq(A, b):
    return sl.lstsq(A, b)[0]


def _numpy_lstsq(A, b):
    return np.linalg.lstsq(A, b, rcond=None)[0]


def _pynla_lstsq(A, b):
    import pynla

    return pynla.sketched_lstsq(A, b, rng=SEED).x


def sparse_least_squares_input(n, d, per_row):
    """A random sparse A (about per_row entries a row) and b = A x + noise."""
    rng = np.random.default_rng(SEED + 3)
    A = sp.random_array((n, d), density=per_row / d, format="csr", rng=rng)
    return A, A @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)


def scipy_lsqr(A, b):
    """SciPy's lsqr to the accuracy of gelsd (its defaults, atol = btol = 1e-6, stop near 1e-6)."""
    return spla.lsqr(A, b, atol=1e-14, btol=1e-14, iter_lim=100_000)[0]


#: (n, d, entries a row) of the sparse least-squares cases (the first in the default suite).
SPARSE_LEAST_SQUARES = [(200_000, 200, 20), (1_000_000, 100, 5), (100_000, 500, 10)]


def _sparse_least_squares_case(n, d, per_row):
    return Case(name=f"lstsq sparse {n}x{d} {per_row}/row", setup=lambda: sparse_least_squares_input(n, d, per_row),
                anchor=Implementation("scipy lsqr", scipy_lsqr), implementations=_pynla_pair(_pynla_lstsq),
                compare=compare_solution, nbytes=nbytes)


#: (n, d) of the small and nearly square least-squares cases.
SMALL_LEAST_SQUARES = [(20, 15), (300, 200), (1000, 1000), (2000, 1000), (20_000, 100)]


def _small_least_squares_case(n, d):
    return Case(name=f"lstsq dense {n}x{d} cond 1e3", setup=lambda: least_squares_input(n, d, 1e3),
                anchor=Implementation("scipy", _scipy_lstsq, threads=THREADS, activate=blas_threads(THREADS)),
                implementations=_pynla_pair(_pynla_lstsq, blas_threads), compare=compare_solution, nbytes=nbytes)


def sklearn_missing():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return "not installed"
    return None


def sklearn_svd(A):
    from sklearn.utils.extmath import randomized_svd

    return randomized_svd(A, RANK, random_state=SEED)


def scipy_svds(A):
    import scipy.sparse.linalg as spla

    U, s, Vh = spla.svds(A, RANK, rng=SEED)
    order = np.argsort(s)[::-1]
    return U[:, order], s[order], Vh[order]


def _pynla_svd(A):
    import pynla

    return pynla.randomized_svd(A, RANK, rng=SEED)


#: The randomized SVD grid: shapes and ranks (issue 28); the default run takes DEFAULT_SVD_GRID.
SVD_GRID = [((m, n), k) for m, n in [(100, 500), (300, 300), (1000, 200), (2000, 1000), (20_000, 2000)]
            for k in (10, 20, 50)]
DEFAULT_SVD_GRID = [((300, 300), 20), ((1000, 200), 10), ((2000, 1000), 50)]


def _svd_grid_cases(grid):
    """Per shape, rank and BLAS thread count, a case: scikit-learn's randomized_svd (SciPy's
    svds without it) against pynla's, at that count."""
    def rank_k(call, k):
        return lambda A: call(A, k)

    def sklearn_k(A, k):
        from sklearn.utils.extmath import randomized_svd
        return randomized_svd(A, k, random_state=SEED)

    def svds_k(A, k):
        import scipy.sparse.linalg as spla
        U, s, Vh = spla.svds(A, k, rng=SEED)
        order = np.argsort(s)[::-1]
        return U[:, order], s[order], Vh[order]

    def pynla_k(A, k):
        import pynla
        return pynla.randomized_svd(A, k, rng=SEED)

    cases = []
    for (m, n), k in grid:
        inputs = {}

        def setup(m=m, n=n, inputs=inputs):
            inputs["A"] = known_spectrum_matrix(m, n)
            return (inputs["A"],)

        def compare(expected, got, explicit_zeros=False, inputs=inputs):
            return compare_svd(inputs["A"])(expected, got, explicit_zeros)

        anchor_name, anchor_call = (("sklearn", sklearn_k) if sklearn_missing() is None else ("scipy-svds", svds_k))
        for threads in (THREADS, 1):
            cases.append(Case(name=f"rsvd {m}x{n} k={k} blas {threads}", setup=setup,
                              anchor=Implementation(anchor_name, rank_k(anchor_call, k), threads=threads,
                                                    activate=blas_threads(threads)),
                              implementations=(Implementation("pynla", rank_k(pynla_k, k), threads=threads,
                                                              activate=blas_threads(threads)),),
                              compare=compare, nbytes=nbytes))
    return cases


def cases(full=False):
    m, n = (20_000, 5_000) if full else (10_000, 2_500)
    svd_anchor = (Implementation("sklearn", sklearn_svd, threads=THREADS, activate=blas_threads(THREADS))
                  if sklearn_missing() is None
                  else Implementation("scipy-svds", scipy_svds, threads=THREADS, activate=blas_threads(THREADS)))
    svd_input = {}
    # NumPy's lstsq is gelsd too (the same LAPACK call): shown in --full only, for time.
    numpy_peer = ((Implementation("numpy", _numpy_lstsq, threads=THREADS, activate=blas_threads(THREADS)),)
                  if full else ())

    def svd_setup():
        svd_input["A"] = known_spectrum_matrix(m, n)
        return (svd_input["A"],)

    def compare_this_svd(expected, got, explicit_zeros=False):
        return compare_svd(svd_input["A"])(expected, got, explicit_zeros)

    return [
        *(_sparse_countsketch_case(*shape) for shape in SPARSE_COUNTSKETCHES),
        Case(name="countsketch dense 200000x200 -> 2000", setup=dense_input,
             anchor=Implementation("scipy", _scipy_countsketch(2000), activate=_settle),
             implementations=(*_pynla_pair(_pynla_countsketch(2000), _settled_threads),
                              Implementation("numpy A@x", _one_pass, threads=THREADS, floor=True,
                                             activate=blas_threads(THREADS))),
             compare=compare_sketch, nbytes=nbytes),
        Case(name="lstsq dense 200000x200 cond 1e6", setup=least_squares_input,
             anchor=Implementation("scipy", _scipy_lstsq, threads=THREADS, activate=blas_threads(THREADS)),
             implementations=(*numpy_peer, *_pynla_pair(_pynla_lstsq, blas_threads)),
             compare=compare_solution, nbytes=nbytes),
        *(_small_least_squares_case(n_rows, d) for n_rows, d in SMALL_LEAST_SQUARES),
        *(_sparse_least_squares_case(*shape) for shape in (SPARSE_LEAST_SQUARES if full else SPARSE_LEAST_SQUARES[:1])),
        Case(name=f"rsvd dense {m}x{n} k={RANK} s_i=1/i", setup=svd_setup, anchor=svd_anchor,
             implementations=_pynla_pair(_pynla_svd, blas_threads), compare=compare_this_svd, nbytes=nbytes,
             targets={f"pynla@{THREADS}": 2.5} if full else {}),  # issue 20, on the full size
        *_svd_grid_cases(SVD_GRID if full else DEFAULT_SVD_GRID),
    ]
