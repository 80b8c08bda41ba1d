"""The core's BLAS/LAPACK table, filled at import from SciPy's cython_blas/cython_lapack.

``pynla._core.dense.gemm`` and ``solve`` call ?gemm and ?gesv through the table; they are
checked against NumPy, and against SciPy's own wrappers of the same routines (same library,
so the same bits).
"""

import numpy as np
import pytest
import scipy.linalg.blas as scipy_blas
import scipy.linalg.lapack as scipy_lapack
from numpy.testing import assert_allclose, assert_array_equal

from pynla import _core

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
#: Relative tolerance against NumPy's answer (its BLAS may block the sums differently).
RTOL = {np.float32: 2e-5, np.float64: 1e-13, np.complex64: 2e-5, np.complex128: 1e-13}
PREFIX = {np.float32: "s", np.float64: "d", np.complex64: "c", np.complex128: "z"}

gemm, solve = _core.dense.gemm, _core.dense.solve


def random_fortran(rng, shape, dtype):
    values = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    return np.asfortranarray(values.astype(dtype))


def well_conditioned(rng, n, dtype):
    """Diagonally dominant, so the solution is accurate to a few ulps."""
    a = random_fortran(rng, (n, n), dtype)
    return np.asfortranarray(a + np.asarray(2 * n * np.eye(n), dtype=dtype))


# ---------------------------------------------------------------------------------------------
# gemm


GEMM_SHAPES = [(0, 0, 0), (0, 3, 2), (3, 0, 2), (2, 3, 0), (1, 1, 1), (1, 5, 1), (5, 1, 4), (7, 3, 4), (64, 33, 17)]


@pytest.mark.parametrize("m, k, n", GEMM_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_matches_numpy(rng, dtype, m, k, n):
    a, b = random_fortran(rng, (m, k), dtype), random_fortran(rng, (k, n), dtype)
    c = gemm(a, b)
    assert c.shape == (m, n) and c.dtype == dtype
    assert c.flags.f_contiguous
    expected = a @ b
    scale = max(1.0, float(np.abs(expected).max(initial=0)))
    assert_allclose(c, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * scale * max(k, 1))
    if k == 0:
        assert_array_equal(c, np.zeros((m, n), dtype))  # C = A B with beta = 0, never garbage


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_is_scipys_gemm(rng, dtype):
    """Same routine as scipy.linalg.blas.?gemm, so bit for bit the same result."""
    a, b = random_fortran(rng, (40, 30), dtype), random_fortran(rng, (30, 20), dtype)
    expected = getattr(scipy_blas, PREFIX[dtype] + "gemm")(1.0, a, b)
    assert_array_equal(gemm(a, b), expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_exact_on_integers(rng, dtype):
    a = np.asfortranarray(rng.integers(-3, 4, size=(6, 5)).astype(dtype))
    b = np.asfortranarray(rng.integers(-3, 4, size=(5, 4)).astype(dtype))
    assert_array_equal(gemm(a, b), a @ b)


def test_gemm_leaves_inputs_alone(rng):
    a, b = random_fortran(rng, (5, 4), np.float64), random_fortran(rng, (4, 3), np.float64)
    a0, b0 = a.copy(), b.copy()
    gemm(a, b)
    assert_array_equal(a, a0)
    assert_array_equal(b, b0)


# ---------------------------------------------------------------------------------------------
# solve (?gesv)


@pytest.mark.parametrize("n, n_rhs", [(1, 1), (1, 3), (2, 1), (5, 2), (40, 7), (0, 0), (0, 3), (4, 0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_solve_matches_numpy(rng, dtype, n, n_rhs):
    a, b = well_conditioned(rng, n, dtype), random_fortran(rng, (n, n_rhs), dtype)
    x = solve(a, b)
    assert x.shape == (n, n_rhs) and x.dtype == dtype
    assert x.flags.f_contiguous
    assert_allclose(x, np.linalg.solve(a, b), rtol=10 * RTOL[dtype], atol=10 * RTOL[dtype])
    if n > 0 and n_rhs > 0:
        residual = np.abs(a @ x - b).max() / (np.abs(a).max() * np.abs(x).max() + np.abs(b).max())
        assert residual < 10 * n * np.finfo(dtype).eps


@pytest.mark.parametrize("dtype", DTYPES)
def test_solve_is_scipys_gesv(rng, dtype):
    a, b = well_conditioned(rng, 30, dtype), random_fortran(rng, (30, 4), dtype)
    _, _, expected, info = getattr(scipy_lapack, PREFIX[dtype] + "gesv")(a, b)
    assert info == 0
    assert_array_equal(solve(a, b), expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_solve_one_by_one(dtype):
    a = np.asfortranarray(np.array([[4.0]], dtype=dtype))
    b = np.asfortranarray(np.array([[2.0, -8.0]], dtype=dtype))
    assert_array_equal(solve(a, b), np.array([[0.5, -2.0]], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_solve_leaves_inputs_alone(rng, dtype):
    a, b = well_conditioned(rng, 6, dtype), random_fortran(rng, (6, 2), dtype)
    a0, b0 = a.copy(), b.copy()
    solve(a, b)
    assert_array_equal(a, a0)  # gesv overwrites its A and B: the binding must work on copies
    assert_array_equal(b, b0)


SINGULAR = {
    "zeros": lambda dtype: np.zeros((3, 3), dtype),
    "repeated row": lambda dtype: np.array([[1, 2, 3], [4, 5, 6], [1, 2, 3]], dtype),
    "zero column": lambda dtype: np.array([[1, 0, 3], [4, 0, 6], [7, 0, 9]], dtype),
    "1x1 zero": lambda dtype: np.zeros((1, 1), dtype),
}


@pytest.mark.parametrize("case", list(SINGULAR))
@pytest.mark.parametrize("dtype", DTYPES)
def test_singular_is_linalg_error(dtype, case):
    a = np.asfortranarray(SINGULAR[case](dtype))
    b = np.asfortranarray(np.ones((a.shape[0], 2), dtype))
    with pytest.raises(np.linalg.LinAlgError):
        solve(a, b)


def test_linalg_error_is_numpys():
    with pytest.raises(np.linalg.LinAlgError) as error:
        solve(np.zeros((2, 2), order="F"), np.ones((2, 1), order="F"))
    assert type(error.value) is np.linalg.LinAlgError
    assert "singular" in str(error.value).lower()


# ---------------------------------------------------------------------------------------------
# Bad input: TypeError for dtypes, ValueError for layout and shapes


@pytest.mark.parametrize("function", [gemm, solve], ids=["gemm", "solve"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float16, np.bool_, np.longdouble, object])
def test_wrong_dtype_is_a_type_error(function, dtype):
    a = np.asfortranarray(np.eye(3).astype(dtype))
    with pytest.raises(TypeError):
        function(a, a)


@pytest.mark.parametrize("function", [gemm, solve], ids=["gemm", "solve"])
@pytest.mark.parametrize(
    "a_dtype, b_dtype",
    [(np.float64, np.float32), (np.float32, np.float64), (np.complex128, np.float64), (np.float64, np.int64)],
)
def test_mixed_dtypes_are_a_type_error(function, a_dtype, b_dtype):
    a = np.asfortranarray(np.eye(3, dtype=a_dtype))
    b = np.asfortranarray(np.eye(3, dtype=b_dtype))
    with pytest.raises(TypeError):
        function(a, b)


def c_ordered(dtype=np.float64):
    a = np.ascontiguousarray(np.arange(12.0).reshape(3, 4).astype(dtype))
    assert not a.flags.f_contiguous
    return a


def strided_fortran():
    a = np.asfortranarray(np.arange(36.0).reshape(6, 6))[::2, :]
    assert not a.flags.f_contiguous and not a.flags.c_contiguous
    return a


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("which", ["a", "b"])
def test_c_ordered_is_a_value_error(dtype, which):
    square = np.asfortranarray(np.eye(4, dtype=dtype))
    bad = c_ordered(dtype)
    with pytest.raises(ValueError):
        gemm(bad, square) if which == "a" else gemm(square[:3, :3].copy(order="F"), bad)
    bad_square = np.ascontiguousarray(np.arange(16.0).reshape(4, 4).astype(dtype)) + np.eye(4, dtype=dtype) * 40
    with pytest.raises(ValueError):
        solve(bad_square, square) if which == "a" else solve(square, np.ascontiguousarray(bad_square))


@pytest.mark.parametrize("function", [gemm, solve], ids=["gemm", "solve"])
def test_non_contiguous_is_a_value_error(function):
    a = strided_fortran()  # 3 x 6
    square = np.asfortranarray(np.eye(3))
    with pytest.raises(ValueError):
        function(square, a)


@pytest.mark.parametrize("function", [gemm, solve], ids=["gemm", "solve"])
@pytest.mark.parametrize("shape", [(3,), (2, 2, 2), ()])
def test_not_two_dimensional_is_a_value_error(function, shape):
    bad = np.asfortranarray(np.ones(shape))
    square = np.asfortranarray(np.eye(2))
    with pytest.raises(ValueError):
        function(square, bad)
    with pytest.raises(ValueError):
        function(bad, square)


def test_gemm_inner_dimensions_differ():
    with pytest.raises(ValueError):
        gemm(np.ones((2, 3), order="F"), np.ones((4, 2), order="F"))


@pytest.mark.parametrize("a_shape, b_shape", [((2, 3), (2, 1)), ((3, 3), (2, 1)), ((3, 3), (4, 3))])
def test_solve_shapes_differ(a_shape, b_shape):
    with pytest.raises(ValueError):
        solve(np.ones(a_shape, order="F"), np.ones(b_shape, order="F"))


def test_not_an_array_is_a_type_error():
    with pytest.raises(TypeError):
        gemm([[1.0]], [[1.0]])


def test_package_import_loaded_the_table():
    """Importing pynla filled the table (else every call raises); loading again is harmless."""
    from scipy.linalg import cython_blas, cython_lapack

    a = np.asfortranarray(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert_array_equal(gemm(a, a), a @ a)
    _core.dense.load_routines(cython_blas.__pyx_capi__, cython_lapack.__pyx_capi__)
    assert_array_equal(gemm(a, a), a @ a)
