"""Tall-skinny dense kernels: ``pynla.qr`` against ``scipy.linalg.qr`` (LAPACK geqrf and orgqr),
economic mode, and ``pynla.sketched_lstsq`` against ``scipy.linalg.lstsq`` (LAPACK gelsd), on
tall Gaussian matrices.

Cases
-----
qr                 100000 x 100 (the default run). ``--full``: the grid of m/n from 20 to 20000 and
                   n from 20 to 500, 20000 x 20, 100000 x 50, 100000 x 150, 1000000 x 50, 200000 x
                   200, 50000 x 500 and 10000 x 500, and 200000 x 200 with singular values graded
                   to condition 1e6. Anchor: SciPy's ``qr(A, mode="economic")`` at 2 BLAS threads;
                   pynla at 2 threads and at 1. The table notes each answer's orthogonality
                   ``||Q^T Q - I||_2`` and residual ``||A - Q R|| / ||A||`` (issue bounds: 1e-13
                   and 1e-14).
lstsq              100000 x 50 (the default run). ``--full``: the grid of m/n from 20 to 20000 and n
                   from 20 to 500, with the issue's five rows (100000 x 150, 1000000 x 50, 50000 x
                   500, 200000 x 200, and 200000 x 200 graded to condition 1e6); b = A x + 1e-8
                   noise. Anchor: SciPy's ``lstsq`` at 2 BLAS threads; peer NumPy's ``lstsq`` (gelsd
                   too) in the grid; pynla's default method ("auto") at 2 threads and at 1. An
                   answer must agree with gelsd's to 1e-10, relatively (1e-8 at condition 1e6).
"""

import numpy as np
import scipy.linalg as sl

from pynla.bench.sketch import _numpy_lstsq, _pynla_lstsq, _scipy_lstsq
from pynla.bench.timing import Case, Implementation, blas_threads

THREADS = 2
SEED = 20_261_206
#: The bounds an answer must meet: orthogonality and relative residual.
ORTHOGONALITY, RESIDUAL = 1e-13, 1e-14

QR_GRID = [(20_000, 20, 1.0), (100_000, 50, 1.0), (100_000, 150, 1.0), (1_000_000, 50, 1.0), (200_000, 200, 1.0),
           (200_000, 200, 1e6), (50_000, 500, 1.0), (10_000, 500, 1.0)]
DEFAULT_QR_GRID = [(100_000, 100, 1.0)]
LSTSQ_GRID = [(400, 20, 1.0), (20_000, 20, 1.0), (400_000, 20, 1.0), (1000, 50, 1.0), (100_000, 50, 1.0),
              (1_000_000, 50, 1.0), (100_000, 150, 1.0), (4000, 200, 1.0), (200_000, 200, 1.0), (200_000, 200, 1e6),
              (10_000, 500, 1.0), (50_000, 500, 1.0)]
DEFAULT_LSTSQ_GRID = [(100_000, 50, 1.0)]


def tall_matrix(m, n, cond):
    """Gaussian m x n (cond 1), or with singular values graded from 1 to 1/cond."""
    rng = np.random.default_rng(SEED)
    A = rng.standard_normal((m, n))
    if cond == 1.0:
        return A
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    Q, _ = np.linalg.qr(A)
    return (Q * np.geomspace(1, 1 / cond, n)) @ V.T


def _scipy_qr(A):
    return sl.qr(A, mode="economic", check_finite=False)


def _pynla_qr(A):
    import pynla

    return pynla.qr(A, mode="economic", check_finite=False)


def _quality(A, answer):
    Q, R = answer
    orthogonality = float(np.linalg.norm(Q.T @ Q - np.eye(Q.shape[1]), 2))
    residual = float(np.linalg.norm(A - Q @ R) / np.linalg.norm(A))
    return orthogonality, residual


def _qr_case(m, n, cond):
    inputs = {}

    def setup():
        inputs["A"] = tall_matrix(m, n, cond)
        return (inputs["A"],)

    def compare(expected, got, explicit_zeros=False):
        orthogonality, residual = _quality(inputs["A"], got)
        anchor = _quality(inputs["A"], expected)
        note = (f"||Q^T Q - I|| {orthogonality:.1e}, residual {residual:.1e} "
                f"(LAPACK: {anchor[0]:.1e}, {anchor[1]:.1e})")
        return (note, None) if not (orthogonality <= ORTHOGONALITY and residual <= RESIDUAL) else (None, note)

    def nbytes(answer):
        return sum(x.nbytes for x in answer)

    name = f"qr {m}x{n}" + (f" cond {cond:.0e}" if cond != 1.0 else "")
    return Case(name=name, setup=setup,
                anchor=Implementation("scipy", _scipy_qr, threads=THREADS, activate=blas_threads(THREADS)),
                implementations=(Implementation("pynla", _pynla_qr, threads=THREADS, activate=blas_threads(THREADS)),
                                 Implementation("pynla", _pynla_qr, threads=1, activate=blas_threads(1))),
                compare=compare, nbytes=nbytes, targets={f"pynla@{THREADS}": 2.5} if m >= 20 * n else {})


def _lstsq_case(m, n, cond, peers):
    def setup():
        A = tall_matrix(m, n, cond)
        rng = np.random.default_rng(SEED + 1)
        b = A @ rng.standard_normal(n)
        return A, b + 1e-8 * np.linalg.norm(b) / np.sqrt(m) * rng.standard_normal(m)

    tolerance = 1e-10 if cond == 1.0 else 1e-8

    def compare(expected, got, explicit_zeros=False):
        error = np.linalg.norm(got - expected) / np.linalg.norm(expected)
        note = f"relative difference {error:.1e} from gelsd"
        return (note, None) if not error <= tolerance else (None, note)

    name = f"lstsq {m}x{n}" + (f" cond {cond:.0e}" if cond != 1.0 else "")
    numpy_peer = (Implementation("numpy", _numpy_lstsq, threads=THREADS, activate=blas_threads(THREADS)),)
    return Case(name=name, setup=setup,
                anchor=Implementation("scipy", _scipy_lstsq, threads=THREADS, activate=blas_threads(THREADS)),
                implementations=(*(numpy_peer if peers else ()),
                                 Implementation("pynla", _pynla_lstsq, threads=THREADS, activate=blas_threads(THREADS)),
                                 Implementation("pynla", _pynla_lstsq, threads=1, activate=blas_threads(1))),
                compare=compare, nbytes=lambda answer: answer.nbytes, targets={f"pynla@{THREADS}": lstsq_target(m, n)})


def lstsq_target(m, n):
    """Issue 20's target for sketched_lstsq against gelsd on 2 cores."""
    return {(1_000_000, 50): 15.0, (200_000, 200): 6.0}.get((m, n), 5.0 if n <= 200 else 2.5)


def cases(full=False):
    return ([_qr_case(m, n, cond) for m, n, cond in (QR_GRID if full else DEFAULT_QR_GRID)]
            + [_lstsq_case(m, n, cond, peers=full) for m, n, cond in (LSTSQ_GRID if full else DEFAULT_LSTSQ_GRID)])
