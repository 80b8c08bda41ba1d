"""sketched_lstsq against scipy.linalg.lstsq: well- and ill-conditioned problems, dense and sparse
A, 1-D and 2-D b, every sketch, dtypes, rank deficiency, threads and bad input."""

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

import pynla
from tests.conftest import SEED


def problem(rng, n, d, cond, *, dtype=np.float64, n_rhs=None, noise=0.1):
    """A = U diag(s) V^H with singular values from 1 down to 1/cond, and b = A x + noise."""
    complex_ = np.dtype(dtype).kind == "c"

    def gaussian(shape):
        values = rng.standard_normal(shape)
        return values + 1j * rng.standard_normal(shape) if complex_ else values

    U, _ = np.linalg.qr(gaussian((n, d)))
    V, _ = np.linalg.qr(gaussian((d, d)))
    A = (U * np.geomspace(1, 1 / cond, d)) @ V.conj().T
    shape = (d,) if n_rhs is None else (d, n_rhs)
    b = A @ gaussian(shape) + noise * gaussian((n,) + shape[1:])
    return A.astype(dtype), b.astype(dtype)


def forward_error(x, reference):
    return np.linalg.norm(x - reference) / np.linalg.norm(reference)


@pytest.mark.parametrize("cond", [10, 1e4, 1e8])
@pytest.mark.parametrize("layout", ["C", "F", "sparse"])
def test_agrees_with_scipy_lstsq(cond, layout):
    """Forward error against LAPACK's gelsd within what the conditioning allows any backward
    stable solver: about cond * eps + cond^2 * eps * ||r|| / (||A|| ||x||)."""
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 3000, 40, cond, noise=1e-3)
    x_ref = sl.lstsq(A, b)[0]
    A_in = {"C": A, "F": np.asfortranarray(A), "sparse": sp.csr_array(A)}[layout]
    result = pynla.sketched_lstsq(A_in, b, rng=SEED)
    assert result.info == 0 and 0 < result.iterations < 100
    allowed = 50 * np.finfo(float).eps * (cond + cond**2 * 1e-3 / np.linalg.norm(b))
    assert forward_error(result.x, x_ref) <= max(allowed, 1e-13)
    assert result.residual_norm == pytest.approx(np.linalg.norm(A @ x_ref - b), rel=1e-10)


@pytest.mark.parametrize("sketch", ["sparse_sign", "countsketch", "srht", "gaussian"])
def test_every_sketch_converges(sketch):
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 2000, 25, 1e3)
    x_ref = sl.lstsq(A, b)[0]
    result = pynla.sketched_lstsq(A, b, sketch=sketch, sketch_size=500, rng=SEED)
    assert result.info == 0
    assert forward_error(result.x, x_ref) < 1e-11


def test_sketch_operator_can_be_passed():
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 2000, 25, 10)
    S = pynla.SRHT(400, 2000, rng=SEED)
    result = pynla.sketched_lstsq(A, b, sketch=S)
    assert forward_error(result.x, sl.lstsq(A, b)[0]) < 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("n_rhs", [None, 1, 3])
def test_dtypes_and_right_hand_sides(dtype, n_rhs):
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 1500, 12, 100, dtype=dtype, n_rhs=n_rhs)
    result = pynla.sketched_lstsq(A, b, rng=SEED)
    x_ref = sl.lstsq(A.astype(np.complex128 if np.dtype(dtype).kind == "c" else np.float64), b)[0]
    assert result.x.dtype == dtype and result.x.shape == x_ref.shape
    single = np.dtype(dtype).char in "fF"
    assert forward_error(result.x, x_ref) < (1e-4 if single else 1e-12)
    residual = np.linalg.norm(A.astype(x_ref.dtype) @ x_ref - b, axis=0)
    assert_allclose(result.residual_norm, residual, rtol=1e-3 if single else 1e-10)
    if n_rhs is None:
        assert isinstance(result.residual_norm, float)


def test_sketch_and_solve_is_near_optimal():
    """Sketch-and-solve's residual is within 1 + O(sqrt(d/s)) of the least residual."""
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 4000, 20, 100, noise=1.0)
    best = np.linalg.norm(A @ sl.lstsq(A, b)[0] - b)
    result = pynla.sketched_lstsq(A, b, method="solve", rng=SEED)
    assert result.iterations == 0 and result.info == 0
    assert best <= result.residual_norm <= 1.2 * best
    assert result.residual_norm == pytest.approx(np.linalg.norm(A @ result.x - b), rel=1e-12)


def test_consistent_system_is_solved_exactly():
    rng = np.random.default_rng(SEED)
    A = rng.standard_normal((1000, 10))
    x = rng.standard_normal(10)
    result = pynla.sketched_lstsq(A, A @ x, rng=SEED)
    assert_allclose(result.x, x, rtol=1e-13)
    assert result.residual_norm < 1e-12


def test_square_and_integer_inputs():
    rng = np.random.default_rng(SEED)
    A = rng.integers(-5, 6, (30, 30))
    A[np.arange(30), np.arange(30)] += 40  # diagonally dominant: well conditioned
    b = rng.integers(-3, 4, 30)
    result = pynla.sketched_lstsq(A, b, rng=SEED)
    assert result.x.dtype == np.float64
    assert_allclose(result.x, np.linalg.solve(A, b), rtol=1e-12)


def test_maxiter_reports_no_convergence():
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 2000, 30, 1e6)
    result = pynla.sketched_lstsq(A, b, maxiter=2, rng=SEED)
    assert result.info == 1 and result.iterations == 2
    assert pynla.sketched_lstsq(A, b, maxiter=0, rng=SEED).iterations == 0


def test_rank_deficient_raises():
    rng = np.random.default_rng(SEED)
    A = rng.standard_normal((500, 8))
    A[:, 5] = A[:, 0] + A[:, 1]
    with pytest.raises(np.linalg.LinAlgError, match="rank deficient.*numerical rank 7"):
        pynla.sketched_lstsq(A, rng.standard_normal(500), rng=SEED)
    with pytest.raises(np.linalg.LinAlgError, match="rank deficient"):
        pynla.sketched_lstsq(np.zeros((50, 3)), np.ones(50), rng=SEED)


def test_results_do_not_depend_on_thread_count(threads):
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 3000, 30, 1e4, n_rhs=2)
    results = []
    for count in (1, 2, 3):
        threads(count)
        results.append([pynla.sketched_lstsq(M, b, rng=SEED).x for M in (A, np.asfortranarray(A), sp.csr_array(A))])
    for other in results[1:]:
        for first, second in zip(results[0], other):
            assert_array_equal(first, second)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_with_and_without_avx2(plain_copy, dtype):
    """The fused pass over A (G = A^T (B - A X)) has an AVX2 copy that keeps the order of its
    sums, so both copies give the same bits; on a CPU without AVX2 both runs take the plain copy."""
    from pynla import _core

    rng = np.random.default_rng(SEED)
    A = rng.standard_normal((1000, 37)).astype(dtype)  # 37 columns: not a multiple of the lanes
    b = rng.standard_normal(1000).astype(dtype)
    X, B = rng.standard_normal((37, 2)).astype(dtype), rng.standard_normal((1000, 2)).astype(dtype)
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    results = []
    for allowed in (True, False):
        plain_copy(allowed)
        run = [pynla.sketched_lstsq(A, b, rng=SEED).x]
        for q in (1, 2):
            gradient, norms = _core.residual_gradient(A, np.ascontiguousarray(X[:, :q]), np.ascontiguousarray(B[:, :q]))
            R = B[:, :q] - A @ X[:, :q]
            assert_allclose(gradient.reshape(37, q), A.T @ R, rtol=rtol)
            assert_allclose(norms, np.sum(R * R, axis=0), rtol=rtol)
            run += [gradient, norms]
        results.append(run)
    for with_avx2, without in zip(*results):
        assert_array_equal(with_avx2, without)


def test_bad_input():
    A, b = np.ones((20, 3)) + np.eye(20, 3), np.ones(20)
    with pytest.raises(ValueError, match="A must not contain NaN"):
        pynla.sketched_lstsq(np.where(np.eye(20, 3) > 0, np.nan, A), b)
    with pytest.raises(ValueError, match="A must not contain NaN"):
        pynla.sketched_lstsq(sp.csr_array(np.where(np.eye(20, 3) > 0, np.inf, A)), b)
    with pytest.raises(ValueError, match="b must not contain NaN"):
        pynla.sketched_lstsq(A, np.full(20, np.nan))
    with pytest.raises(ValueError, match="b has shape"):
        pynla.sketched_lstsq(A, np.ones(19))
    with pytest.raises(ValueError, match="A must be 2-D"):
        pynla.sketched_lstsq(np.ones(20), b)
    with pytest.raises(ValueError, match="at least as many rows"):
        pynla.sketched_lstsq(A.T, np.ones(3))
    with pytest.raises(ValueError, match="sketch_size"):
        pynla.sketched_lstsq(A, b, sketch_size=2)
    with pytest.raises(ValueError, match="sketch_size"):
        pynla.sketched_lstsq(A, b, sketch_size=21)
    with pytest.raises(ValueError, match="sketch must be one of"):
        pynla.sketched_lstsq(A, b, sketch="fourier")
    with pytest.raises(ValueError, match="sketch must be an operator"):
        pynla.sketched_lstsq(A, b, sketch=pynla.CountSketch(5, 19))
    with pytest.raises(ValueError, match="method"):
        pynla.sketched_lstsq(A, b, method="qr")
    with pytest.raises(ValueError, match="rtol"):
        pynla.sketched_lstsq(A, b, rtol=0)
    with pytest.raises(ValueError, match="maxiter"):
        pynla.sketched_lstsq(A, b, maxiter=-1)
    with pytest.raises(TypeError, match="A"):
        pynla.sketched_lstsq(A.astype(object), b)
