"""pynla.orthogonalize against its definition: W orthonormal, orthogonal to Q, spanning the part of
V outside Q's span, with V = Q C + W R; for every dtype and layout, V of low rank or inside Q's
span (lost directions replaced), any magnitude, empty shapes, and bad input."""

import numpy as np
import pytest
import scipy.linalg
from numpy.testing import assert_allclose

import pynla

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
#: Orthogonality and reconstruction tolerances, in units of the dtype's rounding.
UNITS = 64


def gaussian(rng, shape, dtype):
    values = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    return values.astype(dtype)


def orthonormal(rng, n, p, dtype):
    return scipy.linalg.qr(gaussian(rng, (n, p), dtype), mode="economic")[0]


def tolerance(dtype):
    return UNITS * np.finfo(dtype).eps


def assert_basis(W, Q, V, C, R, dtype):
    """W orthonormal and orthogonal to Q; V = Q C + W R; W's span holds V's part outside Q."""
    n, k = V.shape
    tol = tolerance(dtype)
    assert W.shape == (n, k) and W.dtype == np.dtype(dtype)
    assert np.linalg.norm(W.conj().T @ W - np.eye(k), 2) <= tol * max(k, 1)
    scale = max(np.linalg.norm(V, 2), np.finfo(dtype).tiny)
    if Q is not None:
        assert np.linalg.norm(Q.conj().T @ W, 2) <= tol * max(k, 1)
        assert_allclose(C, Q.conj().T @ V, atol=tol * scale)
    assert np.linalg.norm((Q @ C if Q is not None else 0) + W @ R - V, 2) <= tol * k * scale


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, p, k", [(1000, 20, 5), (500, 0, 40), (300, 100, 100), (64, 60, 4), (5000, 8, 56)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_gaussian_block_against_a_basis(rng, dtype, n, p, k, order):
    Q = orthonormal(rng, n, p, dtype) if p else None
    V = np.asarray(gaussian(rng, (n, k), dtype), order=order)
    W, C, R = pynla.orthogonalize(V, Q, return_coefficients=True, rng=0)
    assert_basis(W, Q, V, C, R, dtype)
    if p == 0:
        assert C.shape == (0, k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("largest", [1.0, 0.01])
def test_strided_block(rng, dtype, largest):
    """V with both its rows and its columns strided, or its rows reversed, at a magnitude that
    unit scaling keeps as it is (largest 0.01 with 2000 entries: no copy made by the scaling) or
    changes."""
    block = np.asarray(gaussian(rng, (400, 20), dtype))
    for view in ((slice(None, None, 2), slice(None, None, 2)), (slice(None, None, -2), slice(0, 10))):
        V = (block * (largest / np.abs(block[view]).max()).astype(block.dtype))[view]
        assert not (V.flags.c_contiguous or V.flags.f_contiguous)
        for Q in (None, orthonormal(rng, 200, 6, dtype)):
            W, C, R = pynla.orthogonalize(V, Q, return_coefficients=True, rng=0)
            assert_basis(W, Q, V, C, R, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_span_is_v_outside_q(rng, dtype):
    """Projecting V's part outside Q onto W changes nothing: W spans it (full rank case)."""
    Q = orthonormal(rng, 800, 30, dtype)
    V = gaussian(rng, (800, 12), dtype)
    W = pynla.orthogonalize(V, Q)
    outside = V - Q @ (Q.conj().T @ V)
    assert np.linalg.norm(outside - W @ (W.conj().T @ outside)) <= 1e-13 * np.linalg.norm(outside)


@pytest.mark.parametrize("dtype", [np.float64, np.complex64])
def test_directions_inside_q_or_dependent_are_replaced(rng, dtype):
    """Columns inside Q's span, repeated columns and a zero column: W keeps k orthonormal columns,
    orthogonal to Q, and R's rows for the replaced directions are at the level of rounding."""
    n, p = 400, 10
    Q = orthonormal(rng, n, p, dtype)
    free = gaussian(rng, (n, 3), dtype)
    V = np.hstack([Q @ gaussian(rng, (p, 2), dtype), free, free[:, :1] * 2, np.zeros((n, 1), dtype)])
    W, C, R = pynla.orthogonalize(V, Q, return_coefficients=True, rng=1)
    assert_basis(W, Q, V, C, R, dtype)
    singular = np.linalg.svd(R, compute_uv=False)
    assert np.sum(singular > 1e-3 * singular[0]) == 3  # V's part outside Q has rank 3
    # W's span holds that part.
    outside = V - Q @ C
    assert np.linalg.norm(outside - W @ (W.conj().T @ outside)) <= tolerance(dtype) * 10 * np.linalg.norm(V)


def test_same_rng_same_bits():
    rng = np.random.default_rng(3)
    Q = orthonormal(rng, 200, 5, np.float64)
    V = np.hstack([Q[:, :2], rng.standard_normal((200, 2))])
    W, C, R = pynla.orthogonalize(V, Q, return_coefficients=True, rng=7)
    assert np.array_equal(W, pynla.orthogonalize(V, Q, rng=7))
    assert_basis(W, Q, V, C, R, np.float64)
    assert np.sum(np.linalg.norm(R, axis=1) > 1e-10) == 2  # two of W's directions carry V


@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1e150, 1e300])
def test_any_magnitude(rng, scale):
    Q = orthonormal(rng, 600, 10, np.float64)
    V = rng.standard_normal((600, 8))
    W, C, R = pynla.orthogonalize(V * scale, Q, return_coefficients=True)
    assert_basis(W, Q, V * scale, C, R, np.float64)
    unscaled = pynla.orthogonalize(V, Q, return_coefficients=True)[2]
    assert_allclose(np.abs(R / scale), np.abs(unscaled), rtol=1e-10, atol=1e-14 * np.abs(unscaled).max())


def test_ill_conditioned_block(rng):
    """Columns graded to 1e-12 of each other: Cholesky QR cannot factor the block's Gram matrix,
    Householder QR does, and the result is still orthonormal to rounding."""
    Q = orthonormal(rng, 2000, 16, np.float64)
    V = rng.standard_normal((2000, 10)) * np.geomspace(1, 1e-12, 10)
    W, C, R = pynla.orthogonalize(V, Q, return_coefficients=True)
    assert_basis(W, Q, V, C, R, np.float64)


@pytest.mark.parametrize("dtype, expected", [(np.int64, np.float64), (np.float16, np.float32), (bool, np.float64)])
def test_other_dtypes(rng, dtype, expected):
    V = (rng.standard_normal((50, 3)) * 10).astype(dtype)
    V[:3] += np.eye(3, dtype=dtype)  # full column rank for bool too
    assert pynla.orthogonalize(V).dtype == expected


def test_mixed_dtypes_promote(rng):
    Q = orthonormal(rng, 100, 4, np.float32)
    V = gaussian(rng, (100, 2), np.complex128)
    assert pynla.orthogonalize(V, Q).dtype == np.complex128


def test_empty_shapes():
    assert pynla.orthogonalize(np.zeros((5, 0))).shape == (5, 0)
    assert pynla.orthogonalize(np.zeros((0, 0))).shape == (0, 0)
    W, C, R = pynla.orthogonalize(np.ones((4, 1)), np.zeros((4, 0)), return_coefficients=True)
    assert W.shape == (4, 1) and C.shape == (0, 1) and R.shape == (1, 1)
    assert_allclose(np.abs(W[:, 0]), 0.5)


def test_input_is_not_modified(rng):
    Q = orthonormal(rng, 100, 4, np.float64)
    V = rng.standard_normal((100, 3))
    V_copy, Q_copy = V.copy(), Q.copy()
    pynla.orthogonalize(V, Q)
    assert np.array_equal(V, V_copy) and np.array_equal(Q, Q_copy)


def test_bad_input():
    with pytest.raises(ValueError, match="V must be 2-D"):
        pynla.orthogonalize(np.ones(5))
    with pytest.raises(ValueError, match="Q must be 2-D"):
        pynla.orthogonalize(np.ones((5, 2)), np.ones(5))
    with pytest.raises(ValueError, match="same rows"):
        pynla.orthogonalize(np.ones((5, 2)), np.eye(4, 1))
    with pytest.raises(ValueError, match="only 1 directions are orthogonal"):
        pynla.orthogonalize(np.ones((5, 2)), np.eye(5, 4))
    with pytest.raises(ValueError, match="must not contain infs or NaNs|array must not contain"):
        pynla.orthogonalize(np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="array must not contain"):
        pynla.orthogonalize(np.ones((5, 2)), np.full((5, 1), np.inf))
    with pytest.raises(TypeError, match="V has dtype"):
        pynla.orthogonalize(np.ones((5, 2), dtype=np.longdouble))


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_same_bits_for_any_number_of_threads(threads, dtype):
    """The inner products over the rows (Q^H V, the block's Gram matrix) are the core's sums by
    ranges of rows; the rest are products whose sums run over the block's few columns."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(5)
    Q = orthonormal(rng, 50_000, 100, dtype)
    V = gaussian(rng, (50_000, 40), dtype)
    results = []
    for blas in (1, 2):
        for count in (1, 2, 3):
            threads(count)
            with threadpool_limits(blas):
                results.append(pynla.orthogonalize(V, Q))
    for other in results[1:]:
        assert np.array_equal(results[0], other)
