"""sketched_lstsq against scipy.linalg.lstsq: well- and ill-conditioned problems, dense and sparse
A, 1-D and 2-D b, every sketch, dtypes, rank deficiency, threads and bad input; the Cholesky
method's two factors (A's Gram matrix, A R0^-1's) at every condition number and magnitude;
SciPy's own TestLstsq cases; and a property test that no wrong answer is ever reported as
converged."""

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import pynla
from pynla import lstsq as lstsq_module
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
    result = pynla.sketched_lstsq(A_in, b, method="precondition", rng=SEED)
    assert result.info == 0 and 0 < result.iterations < 100
    allowed = 50 * np.finfo(float).eps * (cond + cond**2 * 1e-3 / np.linalg.norm(b))
    assert forward_error(result.x, x_ref) <= max(allowed, 1e-13)
    assert result.residual_norm == pytest.approx(np.linalg.norm(A @ x_ref - b), rel=1e-10)


def problem_with_known_solution(rng, n, d, cond, *, dtype=np.float64, residual=0.1):
    """A = U diag(s) V^H (singular values 1 down to 1/cond) and b = A x + r with r orthogonal to
    A's range (||r|| = residual): x is the least-squares solution exactly, and ||r|| the least
    residual, whatever the conditioning."""
    U, _ = np.linalg.qr(rng.standard_normal((n, d + 1)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    A = (U[:, :d] * np.geomspace(1, 1 / cond, d)) @ V.T
    x = rng.standard_normal(d)
    return A.astype(dtype), (A @ x + residual * U[:, d]).astype(dtype), x


@pytest.mark.parametrize("cond", [1, 1e3, 1e6, 1e9, 1e12])
@pytest.mark.parametrize("layout", ["C", "F", "rows", "columns"])
@pytest.mark.parametrize("d", [40, 120])
def test_cholesky_agrees_with_gelsd(cond, layout, d):
    """Issue 20's bars for every layout A is used in place (C, F, rows or columns of a larger
    array): the residual gelsd's to 1e-12, relative, up to cond 1e12; x as close to the
    solution as gelsd's, within what the conditioning allows any backward stable solver. d =
    120: with R's extreme singular values estimated."""
    rng = np.random.default_rng(SEED)
    A, b, x = problem_with_known_solution(rng, 4000, d, cond)
    A_in = {"C": A, "F": np.asfortranarray(A), "rows": np.hstack([A, A])[:, :d],
            "columns": np.asfortranarray(np.vstack([A, A]))[:4000]}[layout]
    result = pynla.sketched_lstsq(A_in, b, method="cholesky", rng=SEED)
    x_gelsd = sl.lstsq(A, b)[0]
    assert result.info == 0 and 1 <= result.iterations <= 4
    assert result.residual_norm == pytest.approx(0.1, rel=1e-12)
    assert np.linalg.norm(A @ result.x - b) == pytest.approx(np.linalg.norm(A @ x_gelsd - b), rel=1e-12)
    allowed = 50 * np.finfo(float).eps * (cond + cond**2 * 0.1 / np.linalg.norm(b))
    assert forward_error(result.x, x) <= max(allowed, 1e-13, 4 * forward_error(x_gelsd, x))
    if cond <= 1e3:
        assert forward_error(result.x, x_gelsd) <= 1e-10  # issue 20: well-posed problems


@pytest.mark.parametrize("d", [81, 200, 500])
@pytest.mark.parametrize("cond", [1, 1e4, 1e8, 1e12])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_estimated_singular_values_understate_the_condition_slightly(d, cond, dtype):
    """Above 80 columns R's extreme singular values are estimated: never outside the exact ones
    (the check may only get stricter), and close to them."""
    rng = np.random.default_rng(SEED)
    A, _ = problem(rng, 3 * d, d, min(cond, 1e3) if dtype == np.float32 else cond, dtype=dtype)
    R = sl.qr(A, mode="r")[0][:d]
    exact = sl.svdvals(R)
    largest, smallest = lstsq_module._extreme_singular_values(np.asfortranarray(R))
    rounding = 10 * np.finfo(dtype).eps
    assert exact[0] * 0.8 <= largest <= exact[0] * (1 + rounding)
    assert exact[-1] * (1 - rounding) <= smallest <= exact[-1] * 1.25


@pytest.mark.parametrize("cond, sketched", [(1, False), (1e6, False), (1e9, True), (1e12, True)])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_cholesky_factors_a_or_a_over_its_sketch(monkeypatch, cond, sketched, dtype):
    """Below about cond 1e7 the Gram matrix of A itself; above, that of A R0^-1 (R0 from the
    sketch); either way within a few passes and at gelsd's residual."""
    calls = []
    factor = lstsq_module._preconditioned_gram_solve
    monkeypatch.setattr(lstsq_module, "_preconditioned_gram_solve", lambda *args: calls.append(1) or factor(*args))
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 3000, 30, cond, dtype=dtype, n_rhs=2, noise=1e-3)
    result = pynla.sketched_lstsq(A, b, method="cholesky", rng=SEED)
    assert bool(calls) == sketched
    assert result.info == 0 and 1 <= result.iterations <= 4
    x_gelsd = sl.lstsq(A, b)[0]
    # A residual is computed only to about eps ||A|| ||x|| (||A|| = 1), far above 1e-10 of it
    # where the noise's component along tiny singular values makes x large.
    rounding = 100 * np.finfo(float).eps * np.linalg.norm(x_gelsd, axis=0).max()
    assert_allclose(result.residual_norm, np.linalg.norm(A @ x_gelsd - b, axis=0), rtol=1e-10, atol=rounding)
    assert_allclose(np.linalg.norm(A @ result.x - b, axis=0), result.residual_norm, rtol=1e-10, atol=rounding)


def test_cholesky_in_single_precision_at_any_condition():
    """Single precision takes A R0^-1's Gram matrix from about cond 1e3 (and A's below)."""
    rng = np.random.default_rng(SEED)
    for cond in (10, 1e3, 1e5):
        for dtype in (np.float32, np.complex64):
            A, b = problem(rng, 5000, 20, cond, dtype=dtype, noise=1e-2)
            result = pynla.sketched_lstsq(A, b, method="cholesky", rng=SEED)
            wide = np.complex128 if np.dtype(dtype).kind == "c" else np.float64
            best = np.linalg.norm(A.astype(wide) @ sl.lstsq(A.astype(wide), b.astype(wide))[0] - b)
            assert result.info == 0 and result.x.dtype == dtype
            assert np.linalg.norm(A.astype(wide) @ result.x - b) <= best * (1 + 1e-5)


@pytest.mark.parametrize("method", ["cholesky", "precondition", "direct"])
@pytest.mark.parametrize("scale_a, scale_b", [(1e-300, 1e-300), (1e-170, 1e-170), (1e170, 1e170), (1e300, 1e300),
                                              (1.0, 1e-300), (1.0, 1e250), (1e-150, 1.0)])
def test_any_magnitude(method, scale_a, scale_b):
    """A and b far from 1 are scaled by a power of two (the same x): no squares overflow or
    underflow in the passes, no check made vacuous by underflow (which let sketch-and-
    precondition return x 4 times off at 1e-170), no residual rows in LAPACK's own scale."""
    rng = np.random.default_rng(SEED)
    for cond in (10, 1e9):  # A's Gram matrix, and (for "cholesky") that of A R0^-1
        A, b, x = problem_with_known_solution(rng, 3000, 20, cond)
        result = pynla.sketched_lstsq(A * scale_a, b * scale_b, method=method, rng=SEED)
        assert result.info == 0
        assert result.residual_norm / scale_b == pytest.approx(0.1, rel=1e-9)
        if cond < 1e6:  # above, x is determined only to about eps cond^2 ||r|| / ||x||
            assert forward_error(result.x * (scale_a / scale_b), x) <= 1e-13


def test_cholesky_takes_a_read_only_a_in_place():
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 3000, 25, 1e3)
    A.flags.writeable = False
    for cond_scale in (1, 1e-9):  # the Gram matrix of A, and that of A R0^-1 (a copy)
        M = np.array(A * np.geomspace(1, cond_scale, 25))
        M.flags.writeable = False
        result = pynla.sketched_lstsq(M, b, method="cholesky", rng=SEED)
        assert result.info == 0
        assert_allclose(result.x, sl.lstsq(M, b)[0], rtol=1e-6 if cond_scale < 1 else 1e-12)


def test_cholesky_maxiter():
    """maxiter counts refinement steps: 0 keeps the first answer (info 0 if it checks, 1 if not)."""
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 3000, 25, 1e5, noise=1.0)
    first = pynla.sketched_lstsq(A, b, method="cholesky", maxiter=0)
    assert first.iterations == 0 and first.info in (0, 1)
    refined = pynla.sketched_lstsq(A, b, method="cholesky")
    assert refined.info == 0 and refined.iterations >= 1


@pytest.mark.parametrize("sketch", ["sparse_sign", "countsketch", "srht", "gaussian"])
def test_every_sketch_converges(sketch):
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 2000, 25, 1e3)
    x_ref = sl.lstsq(A, b)[0]
    result = pynla.sketched_lstsq(A, b, method="precondition", sketch=sketch, sketch_size=500, rng=SEED)
    assert result.info == 0 and result.iterations > 0
    assert forward_error(result.x, x_ref) < 1e-11


def test_sketch_operator_can_be_passed():
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 2000, 25, 10)
    S = pynla.SRHT(400, 2000, rng=SEED)
    result = pynla.sketched_lstsq(A, b, method="precondition", sketch=S)
    assert result.iterations > 0
    assert forward_error(result.x, sl.lstsq(A, b)[0]) < 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
@pytest.mark.parametrize("sparse", [False, True])
def test_a_float64_sketch_on_single_precision_a(dtype, sparse):
    """A given sketch of float64 entries sketches float32/complex64 A to float64; the solve
    stays in A's dtype."""
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 2000, 5, 10, dtype=dtype)
    S = pynla.CountSketch(100, 2000, rng=SEED)
    result = pynla.sketched_lstsq(sp.csr_array(A) if sparse else A, b, method="precondition", sketch=S)
    x_ref = sl.lstsq(A.astype(np.complex128 if np.dtype(dtype).kind == "c" else np.float64), b)[0]
    assert result.x.dtype == dtype
    assert forward_error(result.x, x_ref) < 1e-4


@pytest.mark.parametrize("method", ["cholesky", "precondition", "direct"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("n_rhs", [None, 1, 3])
def test_dtypes_and_right_hand_sides(dtype, n_rhs, method):
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 1500, 12, 100, dtype=dtype, n_rhs=n_rhs)
    result = pynla.sketched_lstsq(A, b, method=method, rng=SEED)
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
    result = pynla.sketched_lstsq(A, A @ x, method="precondition", rng=SEED)
    assert_allclose(result.x, x, rtol=1e-13)
    assert result.residual_norm < 1e-12


@pytest.mark.parametrize("method", ["auto", "cholesky", "precondition", "solve", "direct"])
def test_square_and_integer_inputs(method):
    rng = np.random.default_rng(SEED)
    A = rng.integers(-5, 6, (30, 30))
    A[np.arange(30), np.arange(30)] += 40  # diagonally dominant: well conditioned
    b = rng.integers(-3, 4, 30)
    result = pynla.sketched_lstsq(A, b, method=method, rng=SEED)
    assert result.x.dtype == np.float64
    assert_allclose(result.x, np.linalg.solve(A, b), rtol=1e-12)


def test_maxiter_reports_no_convergence():
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 2000, 30, 1e6)
    result = pynla.sketched_lstsq(A, b, method="precondition", maxiter=2, rng=SEED)
    assert result.info == 1 and result.iterations == 2
    assert pynla.sketched_lstsq(A, b, method="precondition", maxiter=0, rng=SEED).iterations == 0


@pytest.mark.parametrize("method", ["auto", "cholesky", "precondition", "solve", "direct"])
def test_rank_deficient_raises(method):
    rng = np.random.default_rng(SEED)
    A = rng.standard_normal((500, 8))
    A[:, 5] = A[:, 0] + A[:, 1]
    with pytest.raises(np.linalg.LinAlgError, match="rank deficient.*numerical rank 7"):
        pynla.sketched_lstsq(A, rng.standard_normal(500), method=method, rng=SEED)
    with pytest.raises(np.linalg.LinAlgError, match="rank deficient.*numerical rank 0"):
        pynla.sketched_lstsq(np.zeros((50, 3)), np.ones(50), method=method, rng=SEED)


def test_results_do_not_depend_on_thread_count(threads):
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 3000, 30, 1e4, n_rhs=2)
    results = []
    for count in (1, 2, 3):
        threads(count)
        results.append([pynla.sketched_lstsq(M, b, method="precondition", rng=SEED).x
                        for M in (A, np.asfortranarray(A), sp.csr_array(A))]
                       + [pynla.sketched_lstsq(M, b, method="cholesky", rng=SEED).x
                          for M in (A, np.asfortranarray(A), A * np.geomspace(1, 1e-9, 30))])
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
        run = [pynla.sketched_lstsq(A, b, method="precondition", rng=SEED).x]
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
    with pytest.raises(ValueError, match="A must not contain NaN"):
        pynla.sketched_lstsq(np.full((3, 3), np.inf), np.ones(3), method="direct")
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="A must not contain NaN"):
            pynla.sketched_lstsq(np.where(np.eye(20, 3) > 0, bad, A), b, method="cholesky")
    with pytest.raises(ValueError, match="method='cholesky' needs a dense A"):
        pynla.sketched_lstsq(sp.csr_array(A), b, method="cholesky")
    with pytest.raises(ValueError, match="rtol"):
        pynla.sketched_lstsq(A, b, rtol=0)
    with pytest.raises(ValueError, match="maxiter"):
        pynla.sketched_lstsq(A, b, maxiter=-1)
    with pytest.raises(TypeError, match="A"):
        pynla.sketched_lstsq(A.astype(object), b)


# SciPy's own least-squares tests (scipy/linalg/tests/test_basic.py, class TestLstsq), every
# case with at least as many rows as columns and full column rank, with SciPy's tolerances,
# through every method that claims an exact answer ("auto", "cholesky", "precondition",
# "direct").

REAL_DTYPES = [np.float32, np.float64]
COMPLEX_DTYPES = [np.complex64, np.complex128]
EXACT_METHODS = ["auto", "cholesky", "precondition", "direct"]


def scipy_eps(dtype):
    """SciPy's _eps_cast: eps of the dtype's precision."""
    return np.finfo(np.dtype(dtype).char.lower()).eps


def scipy_diagonally_heavy(rng, n, d, dtype):
    """TestLstsq's matrices: uniform entries, the first d diagonal entries 20 (0.1 + U)."""
    complex_ = np.dtype(dtype).kind == "c"
    A = rng.random([n, d]) + 1j * rng.random([n, d]) if complex_ else rng.random([n, d])
    A = np.asarray(A, dtype=dtype)
    for i in range(d):
        A[i, i] = 20 * (0.1 + A[i, i])
    return A


def normal_equations_solution(A, b):
    """TestLstsq's direct_lstsq: the solution of A^H A x = A^H b."""
    return np.linalg.solve(A.conj().T @ A, A.conj().T @ b)


@pytest.mark.parametrize("method", EXACT_METHODS)
@pytest.mark.parametrize("dtype", REAL_DTYPES)
def test_scipy_simple_exact(method, dtype):
    A = np.array([[1, 20], [-30, 4]], dtype=dtype)
    for bt in (((1, 0), (0, 1)), (1, 0), ((2, 1), (-30, 4))):
        b = np.array(bt, dtype=dtype)
        x = pynla.sketched_lstsq(A, b, method=method, rng=SEED).x
        assert_allclose(A @ x, b, atol=25 * scipy_eps(dtype), rtol=25 * scipy_eps(dtype))


@pytest.mark.parametrize("method", EXACT_METHODS)
@pytest.mark.parametrize("dtype", REAL_DTYPES + COMPLEX_DTYPES)
def test_scipy_simple_overdetermined(method, dtype):
    if np.dtype(dtype).kind == "c":
        A = np.array([[1 + 2j, 2], [4, 5], [3, 4]], dtype=dtype)
        b = np.array([1, 2 + 4j, 3], dtype=dtype)
        expected = (-0.4831460674157303 + 0.258426966292135j, 0.921348314606741 + 0.292134831460674j)
    else:
        A = np.array([[1, 2], [4, 5], [3, 4]], dtype=dtype)
        b = np.array([1, 2, 3], dtype=dtype)
        expected = (-0.428571428571429, 0.85714285714285)
    result = pynla.sketched_lstsq(A, b, method=method, rng=SEED)
    tolerance = 25 * scipy_eps(dtype)
    assert result.info == 0
    assert_allclose(result.x, expected, rtol=tolerance, atol=tolerance)
    assert_allclose(result.residual_norm ** 2, np.sum(np.abs(A @ result.x - b) ** 2), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("method", EXACT_METHODS)
@pytest.mark.parametrize("dtype", REAL_DTYPES + COMPLEX_DTYPES)
@pytest.mark.parametrize("n", [20, 200])
def test_scipy_random_exact(method, dtype, n):
    """Square systems: A x = b to SciPy's tolerance (500 or 400 eps single, 1000 eps double)."""
    rng = np.random.RandomState(1234)
    A = scipy_diagonally_heavy(rng, n, n, dtype)
    single = np.dtype(dtype).char in "fF"
    tolerance = (400 if dtype == np.complex64 else 500 if single else 1000) * scipy_eps(dtype)
    for i in range(4):
        b = np.asarray(rng.random([n, 3]), dtype=dtype)
        result = pynla.sketched_lstsq(A, b, method=method, rng=SEED + i)
        assert result.info == 0
        assert_allclose(A @ result.x, b, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("method", EXACT_METHODS)
@pytest.mark.parametrize("dtype", REAL_DTYPES + COMPLEX_DTYPES)
@pytest.mark.parametrize("shape", [(20, 15), (200, 2), (100, 50), (12, 8)])
def test_scipy_random_overdetermined(method, dtype, shape):
    """Against the normal equations' solution to 25 eps, as SciPy; (100, 50) and (12, 8) are
    the issue's shapes where sketch-and-precondition used to report wrong answers as converged."""
    rng = np.random.RandomState(1234)
    A = scipy_diagonally_heavy(rng, *shape, dtype)
    tolerance = 25 * scipy_eps(dtype)
    for i in range(4):
        b = np.asarray(rng.random([shape[0], 3]), dtype=dtype)
        result = pynla.sketched_lstsq(A, b, method=method, rng=SEED + i)
        assert result.info == 0
        assert_allclose(result.x, normal_equations_solution(A, b), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("method", EXACT_METHODS + ["solve"])
@pytest.mark.parametrize("n_rhs", [None, 2])
def test_every_small_shape_is_accepted(method, n_rhs):
    """1 x 1, fewer than 8 rows (the sparse sign sketch's default nonzeros per column), no columns."""
    rng = np.random.default_rng(SEED)
    for n, d in [(1, 1), (2, 1), (3, 3), (7, 2), (4, 0), (0, 0)]:
        A = rng.standard_normal((n, d)) + 3 * np.eye(n, d)
        b = rng.standard_normal((n,) if n_rhs is None else (n, n_rhs))
        result = pynla.sketched_lstsq(A, b, method=method, rng=SEED)
        reference, residues, _, _ = sl.lstsq(A, b)
        assert result.info == 0 and result.x.shape == reference.shape
        assert_allclose(result.x, reference, rtol=1e-12, atol=1e-14)
        assert_allclose(result.residual_norm, np.linalg.norm(A @ reference - b, axis=0), atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_auto_and_direct_give_scipys_answer_on_small_problems(dtype):
    """Where sketching cannot win, "auto" is LAPACK's gelsd: SciPy's answer to the bit."""
    rng = np.random.default_rng(SEED)
    for n, d in [(20, 15), (100, 100), (60, 40), (500, 3)]:
        A, b = problem(rng, n, d, 100, dtype=dtype, n_rhs=2)
        expected = sl.lstsq(A, b)[0]
        for method in ("auto", "direct"):
            result = pynla.sketched_lstsq(A, b, method=method)
            assert result.iterations == 0 and result.info == 0
            assert_array_equal(result.x, expected)


@pytest.mark.parametrize("shape, chosen", [((60_000, 150), "cholesky"), ((2000, 1000), "cholesky"),
                                           ((20_000, 10), "cholesky")])
def test_auto_takes_a_faster_method_on_tall_problems(monkeypatch, shape, chosen):
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, *shape, 1e3)
    taken = []
    choose = lstsq_module._cheapest_method
    monkeypatch.setattr(lstsq_module, "_cheapest_method", lambda *args: taken.append(choose(*args)) or taken[-1])
    result = pynla.sketched_lstsq(A, b, rng=SEED)
    assert [method for method, _, _ in taken] == [chosen]
    assert result.info == 0 and result.iterations > 0
    assert forward_error(result.x, sl.lstsq(A, b)[0]) < 1e-11


def test_auto_sketches_sparse_tall_problems():
    rng = np.random.default_rng(SEED)
    A = sp.random_array((200_000, 100), density=0.05, rng=rng, format="csr") + sp.eye_array(200_000, 100)
    b = rng.standard_normal(200_000)
    result = pynla.sketched_lstsq(A, b, rng=SEED)
    assert result.info == 0 and result.iterations > 5
    assert forward_error(result.x, sl.lstsq(A.toarray(), b)[0]) < 1e-11


def test_issue_example_is_no_longer_wrong():
    """SciPy's 20 x 15 case: the sketch has as many rows as A, so it embeds nothing and the
    iteration stalls far from the answer; the check sees it and LAPACK answers."""
    rng = np.random.RandomState(1234)
    A = scipy_diagonally_heavy(rng, 20, 15, np.float64)
    b = rng.random((20, 3))
    result = pynla.sketched_lstsq(A, b, method="precondition", rng=0)
    assert result.info == 0
    assert_allclose(result.x, sl.lstsq(A, b)[0], rtol=1e-13)


def test_check_rejects_wrong_answers_and_keeps_converged_ones_with_margin():
    """The check directly: LAPACK's answer measures within an eighth of the accepted excess;
    the same answer moved by 1e-8 of its size measures far beyond it."""
    rng = np.random.default_rng(SEED)
    accepted = lstsq_module._CERTIFICATE_FACTOR
    for cond, noise in [(1, 0.0), (1e3, 1e-6), (1e6, 1.0), (1e10, 1e-2)]:
        A, b = problem(rng, 20_000, 30, cond, n_rhs=2, noise=noise)
        x = sl.lstsq(A, b)[0]
        R = sl.qr(pynla.SparseSignSketch(400, 20_000, rng=SEED) @ A, mode="r")[0][:30]
        gradient = lstsq_module._gradient_function(A)

        def units(X):
            G, squared = gradient(X, b)
            return lstsq_module._excess_units(R, sl.svdvals(R), X, G, np.sqrt(squared))[1]

        assert units(x) <= accepted / 8
        assert units(x + 1e-8 * np.linalg.norm(x) * rng.standard_normal(x.shape)) > 100 * accepted


class FirstRows:
    """A "sketch" that keeps A's first rows: it embeds nothing when those rows miss a direction."""

    def __init__(self, s, n):
        self.shape, self.dtype = (s, n), np.dtype(np.float64)

    def __matmul__(self, M):
        return M[: self.shape[0]]


def test_answer_that_fails_its_check_is_replaced_or_reported(monkeypatch):
    """R from rows where column 0 is 1e-6 times smaller diverges; LAPACK answers instead, or,
    for a sparse A too large to densify, the iterate comes back with info 2."""
    rng = np.random.default_rng(SEED)
    A = rng.standard_normal((200, 5))
    A[:20, 0] *= 1e-6
    b = rng.standard_normal(200)
    for A_in in (A, sp.csr_array(A)):
        result = pynla.sketched_lstsq(A_in, b, method="precondition", sketch=FirstRows(20, 200))
        assert result.info == 0
        assert_allclose(result.x, sl.lstsq(A, b)[0], rtol=1e-13)
    monkeypatch.setattr(lstsq_module, "_DENSE_FALLBACK_ENTRIES", 0)
    result = pynla.sketched_lstsq(sp.csr_array(A), b, method="precondition", sketch=FirstRows(20, 200))
    assert result.info == 2
    assert result.residual_norm == pytest.approx(np.linalg.norm(A @ result.x - b))


def test_rank_of_a_sparse_matrix_too_large_to_densify_comes_from_its_sketch(monkeypatch):
    rng = np.random.default_rng(SEED)
    A = rng.standard_normal((5000, 8))
    A[:, 5] = A[:, 0] + A[:, 1]
    monkeypatch.setattr(lstsq_module, "_DENSE_FALLBACK_ENTRIES", 0)
    with pytest.raises(np.linalg.LinAlgError, match="numerical rank 7 < 8 columns, from its sketch"):
        pynla.sketched_lstsq(sp.csr_array(A), rng.standard_normal(5000), method="precondition", rng=SEED)


def test_square_sketch_of_a_well_conditioned_matrix_is_not_called_rank_deficient():
    """A square sketch may be near singular where A is not: the rank is decided on A."""
    for seed in range(40):
        rng = np.random.RandomState(seed)
        A = scipy_diagonally_heavy(rng, 200, 200, np.float64)
        b = rng.random(200)
        for method in ("precondition", "solve"):
            result = pynla.sketched_lstsq(A, b, method=method, rng=seed)
            assert np.linalg.norm(A @ result.x - b) <= 1e-12 * np.linalg.norm(b)


@st.composite
def least_squares_problems(draw):
    """m from d to 30 d, d from 1 to 300, condition 1 to 1e10, residual from 0 to 10 ||A x||."""
    d = draw(st.integers(1, 300))
    n = draw(st.integers(d, 30 * d).filter(lambda n: n * d <= 1_500_000))
    cond = 10.0 ** draw(st.integers(0, 10))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.complex64, np.complex128]))
    n_rhs = draw(st.sampled_from([None, 3]))
    noise = draw(st.sampled_from([0.0, 1e-6, 1e-2, 10.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    return n, d, cond, dtype, n_rhs, noise, seed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(least_squares_problems(), st.sampled_from(["auto", "cholesky", "precondition", "krylov"]))
def test_never_a_wrong_answer_reported_as_converged(case, method):
    """A wrong answer: a residual above gelsd's by more than 100 times the gap between two LAPACK
    drivers (gelsy against gelsd) on the same problem (and 100 eps ||b||, where they agree to the
    bit). Refusing as rank deficient is right only where gelsd finds rank below d."""
    n, d, cond, dtype, n_rhs, noise, seed = case
    rng = np.random.default_rng(seed)
    A, b = problem(rng, n, d, cond, dtype=dtype, n_rhs=n_rhs, noise=noise)
    x_gelsd, _, rank, _ = sl.lstsq(A, b)
    x_gelsy = sl.lstsq(A, b, lapack_driver="gelsy")[0]
    try:
        result = pynla.sketched_lstsq(A, b, method=method, rng=seed)
    except np.linalg.LinAlgError:
        assert rank < d
        return
    if result.info != 0:
        return
    eps = np.finfo(np.dtype(dtype).char.lower()).eps
    residual = {name: np.linalg.norm(A @ x - b, axis=0) for name, x in
                [("pynla", result.x), ("gelsd", x_gelsd), ("gelsy", x_gelsy)]}
    gap = np.abs(residual["gelsy"] - residual["gelsd"])
    allowed = residual["gelsd"] + 100 * gap + 100 * eps * np.linalg.norm(b, axis=0)
    assert np.all(residual["pynla"] <= allowed)
