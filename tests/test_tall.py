"""pynla.qr against scipy.linalg.qr: the bounds of issue 20 (orthogonality and residual),
LAPACK's own answer where Cholesky QR does not apply, SciPy's errors, and the same bits for
any number of threads."""

import numpy as np
import pytest
import scipy.linalg
from numpy.testing import assert_allclose, assert_array_equal
from threadpoolctl import threadpool_limits

import pynla
from pynla import tall

#: Orthogonality ||Q^H Q - I||_2 and residual ||A - Q R|| / ||A|| bounds per dtype (float64:
#: the issue's; single precision: the same number of units of rounding).
BOUNDS = {np.float64: (1e-13, 1e-14), np.complex128: (1e-13, 1e-14),
          np.float32: (5e-5, 5e-6), np.complex64: (5e-5, 5e-6)}  # fmt: skip


def graded(rng, m, n, cond, dtype=np.float64):
    """U diag(geomspace(1, 1/cond)) V^H with random orthonormal U and V."""
    U, _ = np.linalg.qr(rng.standard_normal((m, n)) + (1j * rng.standard_normal((m, n)) if np.dtype(dtype).kind == "c" else 0))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return ((U * np.geomspace(1, 1 / cond, n)) @ V.T).astype(dtype)


def assert_qr(A, Q, R, dtype):
    orthogonality, residual = BOUNDS[dtype]
    n = A.shape[1]
    assert Q.dtype == R.dtype == np.dtype(dtype)
    assert Q.shape == A.shape and R.shape == (n, n)
    assert_array_equal(R, np.triu(R))
    Q64, R64, A64 = (np.asarray(X, dtype=np.complex128) for X in (Q, R, A))
    assert np.linalg.norm(Q64.conj().T @ Q64 - np.eye(n), 2) <= orthogonality
    assert np.linalg.norm(A64 - Q64 @ R64) <= residual * np.linalg.norm(A64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.complex64])
@pytest.mark.parametrize("shape", [(4000, 10), (20_000, 1), (1000, 50), (20_000, 20), (9000, 300)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_gaussian_within_the_bounds(rng, dtype, shape, order):
    A = np.asarray(graded(rng, *shape, 10.0, dtype), order=order)
    Q, R = pynla.qr(A, mode="economic")
    assert_qr(A, Q, R, dtype)
    assert np.all(np.real(np.diag(R)) > 0) and np.all(np.imag(np.diag(R)) == 0)
    (R_only,) = pynla.qr(A, mode="r")
    assert_array_equal(R_only, R)


@pytest.mark.parametrize("cond", [1e3, 1e6, 1e9, 1e12, 1e14, 1e17])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_graded_up_to_numerically_rank_deficient(rng, cond, dtype):
    """Every condition number: Cholesky QR, shifted CholeskyQR3, or LAPACK, within the bounds."""
    A = graded(rng, 3000, 60, cond, dtype)
    Q, R = pynla.qr(A, mode="economic")
    assert_qr(A, Q, R, dtype)


@pytest.mark.parametrize("cond, shifted, lapack", [(1e3, False, False), (1e6, False, False), (1e9, True, False),
                                                   (1e12, True, False), (1e17, True, True)])
def test_path_by_condition(rng, monkeypatch, cond, shifted, lapack):
    """Cholesky QR up to cond ~1e6, shifted CholeskyQR3 up to ~1e12, LAPACK past ~1e14."""
    calls = {"shift": 0, "lapack": 0}

    def counted(name, function):
        def call(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return call

    monkeypatch.setattr(tall, "_shift", counted("shift", tall._shift))
    monkeypatch.setattr(scipy.linalg, "qr", counted("lapack", scipy.linalg.qr))
    A = graded(rng, 3000, 60, cond)
    assert_qr(A, *pynla.qr(A, mode="economic"), np.float64)
    assert calls == {"shift": int(shifted), "lapack": int(lapack)}


def test_exactly_rank_deficient_goes_to_lapack(rng):
    A = rng.standard_normal((500, 3)) @ rng.standard_normal((3, 40))
    Q, R = pynla.qr(A, mode="economic")
    Q_lapack, R_lapack = scipy.linalg.qr(A, mode="economic")
    assert_array_equal(Q, Q_lapack)
    assert_array_equal(R, R_lapack)


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e200, 1e300])
def test_any_magnitude(rng, scale):
    """A times c: Q the same to rounding, R times c (A scaled by a power of two first)."""
    A = rng.standard_normal((2000, 30))
    Q, R = pynla.qr(A, mode="economic")
    Q_scaled, R_scaled = pynla.qr(A * scale, mode="economic")
    assert np.all(np.isfinite(R_scaled))
    assert_allclose(Q_scaled, Q, atol=1e-13)
    assert_allclose(R_scaled / scale, R, rtol=1e-12, atol=1e-12 * np.abs(R).max())


@pytest.mark.parametrize("shape", [(50_000, 300), (20_000, 40), (9000, 8)])
def test_same_bits_for_any_number_of_threads(rng, shape):
    A = rng.standard_normal(shape)
    results = []
    for n_threads in (1, 2):
        with threadpool_limits(n_threads):
            pynla.set_num_threads(n_threads)
            results.append(pynla.qr(A, mode="economic"))
    pynla.set_num_threads(2)
    assert_array_equal(results[0][0], results[1][0])
    assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize(
    "shape, kwargs",
    [((100, 40), {"mode": "economic"}),  # fewer than 4 rows a column
     ((400, 20), {"mode": "economic"}),  # fewer than MIN_ENTRIES entries
     ((200, 1), {"mode": "r"}),
     ((30, 60), {"mode": "economic"}),
     ((400, 20), {"mode": "full"}),
     ((400, 20), {"mode": "raw"}),
     ((400, 20), {"mode": "economic", "pivoting": True}),
     ((400, 0), {"mode": "economic"}),
     ((0, 0), {"mode": "r"})],
)  # fmt: skip
def test_other_calls_are_scipys(rng, shape, kwargs):
    A = rng.standard_normal(shape)
    expected, got = scipy.linalg.qr(A, **kwargs), pynla.qr(A, **kwargs)
    assert len(expected) == len(got)
    for x, y in zip(expected, got):
        if isinstance(x, tuple):
            for u, v in zip(x, y):
                assert_array_equal(u, v)
        else:
            assert_array_equal(x, y)


@pytest.mark.parametrize("dtype, expected", [(np.int64, np.float64), (np.int32, np.float64), (np.float16, np.float32),
                                             (np.bool_, np.float32)])
def test_other_dtypes_compute_as_scipy(rng, dtype, expected):
    A = rng.integers(0, 3, size=(4000, 10)).astype(dtype)
    A[np.arange(10), np.arange(10)] = 5  # full rank
    Q, R = pynla.qr(A, mode="economic")
    assert Q.dtype == R.dtype == scipy.linalg.qr(A, mode="economic")[0].dtype == expected
    assert_qr(A.astype(expected), Q, R, expected)


def test_input_is_not_modified(rng):
    A = np.asfortranarray(rng.standard_normal((2000, 20)))  # where LAPACK could write into it
    copy = A.copy()
    pynla.qr(A, mode="economic", overwrite_a=True)
    assert_array_equal(A, copy)


@pytest.mark.parametrize(
    "a, kwargs, message",
    [(np.array([[1.0, np.nan]] * 8), {}, "must not contain infs or NaNs"),
     (np.array([[1.0, np.inf]] * 8), {"mode": "economic"}, "must not contain infs or NaNs"),
     (np.ones(8), {"mode": "economic"}, "expected a 2-D array"),
     (np.ones((8, 2)), {"mode": "thin"}, "Mode argument should be one of")],
)  # fmt: skip
def test_errors_are_scipys(a, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pynla.qr(a, **kwargs)
    with pytest.raises(ValueError, match=message):
        scipy.linalg.qr(a, **kwargs)


def test_unchecked_nan_does_not_hang_or_crash():
    A = np.ones((400, 5))
    A[3, 2] = np.nan
    Q, R = pynla.qr(A, mode="economic", check_finite=False)  # LAPACK's answer, NaN in it
    assert Q.shape == (400, 5) and R.shape == (5, 5)


def test_public_name():
    assert tall.__all__ == ["qr"]
    assert pynla.qr is tall.qr
