"""Inverse-Fisher operators (FisherInverse, SlidingFisherInverse, EmpiricalFisher) against the
dense inverse of damping I + G^T G / m and against M-FAC's per-gradient recursion written in
NumPy; read-outs, shapes, orders, the sliding window, thread-count invariance and bad input.
(Their LinearOperator behaviour is checked with every other operator in test_operators.py.)"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import pynla
from tests.conftest import SEED

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


def dense_fisher(G, damping, m=None):
    G = np.asarray(G, dtype=np.float64)
    m = G.shape[0] if m is None else m
    return damping * np.eye(G.shape[1]) + G.T @ G / m


def relative(got, want):
    return np.abs(np.asarray(got, dtype=np.float64) - want).max() / max(np.abs(want).max(), 1e-300)


def recursion_inverse_product(G, damping, x):
    """M-FAC's recursion (the paper's Algorithm 1) in NumPy: F_0^-1 = I / damping, and
    F_i^-1 = F_(i-1)^-1 - v v^T / (m + g_i^T v) with v = F_(i-1)^-1 g_i, kept as the vectors v."""
    m = G.shape[0]
    vectors, denominators = [], []

    def apply(y):
        out = y / damping
        for v, denominator in zip(vectors, denominators):
            out = out - v * (v @ y) / denominator
        return out

    for g in G.astype(np.float64):
        v = apply(g)
        vectors.append(v)
        denominators.append(m + g @ v)
    return apply(x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (5, 40), (33, 200), (64, 300), (50, 20), (40, 40)], ids=str)
def test_matches_the_dense_inverse(dtype, shape):
    rng = np.random.default_rng(SEED)
    G = rng.standard_normal(shape).astype(dtype)
    damping = 0.1
    Finv = pynla.FisherInverse(G, damping)
    F = dense_fisher(G, damping)
    inverse = np.linalg.inv(F)
    x = rng.standard_normal(shape[1]).astype(dtype)
    X = rng.standard_normal((shape[1], 5)).astype(dtype)
    tol = TOLERANCE[dtype]
    assert (Finv @ x).dtype == dtype
    assert relative(Finv @ x, inverse @ x) <= tol
    assert relative(Finv @ X, inverse @ X) <= tol
    assert relative(Finv.diag(), np.diag(inverse)) <= tol
    chosen = [0, shape[1] - 1, -1]
    assert relative(Finv.columns(chosen), inverse[:, chosen]) <= tol
    assert relative(Finv.fisher() @ x, F @ x) <= tol
    assert relative(Finv.fisher() @ X, F @ X) <= tol
    assert Finv.n_gradients == shape[0] and Finv.shape == (shape[1], shape[1])


def test_matches_the_papers_recursion():
    rng = np.random.default_rng(SEED)
    G = rng.standard_normal((37, 2000)) * rng.uniform(0.1, 3, (37, 1))
    x = rng.standard_normal(2000)
    assert relative(pynla.FisherInverse(G, 1e-3) @ x, recursion_inverse_product(G, 1e-3, x)) <= 1e-10


@pytest.mark.parametrize("case", ["repeated", "zero", "fortran", "strided rows", "integers", "m > d"])
def test_gradient_structures(case):
    rng = np.random.default_rng(SEED)
    G = rng.standard_normal((12, 30))
    if case == "repeated":
        G[5] = G[2]
        G[7] = G[2]
    elif case == "zero":
        G[[0, 4]] = 0
    elif case == "fortran":
        G = np.asfortranarray(G)
    elif case == "strided rows":
        G = np.repeat(G, 2, axis=1)[:, ::2]
    elif case == "integers":
        G = rng.integers(-3, 4, (12, 30))
    elif case == "m > d":
        G = rng.standard_normal((45, 30))
    Finv = pynla.FisherInverse(G, 0.5)
    inverse = np.linalg.inv(dense_fisher(G, 0.5))
    x = rng.standard_normal(30)
    assert relative(Finv @ x, inverse @ x) <= 1e-12
    assert relative(Finv.diag(), np.diag(inverse)) <= 1e-12


def test_c_ordered_gradients_are_not_copied():
    G = np.random.default_rng(SEED).standard_normal((6, 50))
    assert pynla.FisherInverse(G, 1.0).args[0] is G


def test_obs_pruning_scores():
    """w_i^2 / (2 [F^-1]_ii) from diag() against the dense inverse's diagonal."""
    rng = np.random.default_rng(SEED)
    G, w = rng.standard_normal((16, 80)), rng.standard_normal(80)
    scores = w**2 / (2 * pynla.FisherInverse(G, 1e-2).diag())
    assert_allclose(scores, w**2 / (2 * np.diag(np.linalg.inv(dense_fisher(G, 1e-2)))), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sliding_window_equals_the_static_inverse_after_every_update(dtype):
    rng = np.random.default_rng(SEED)
    d, m, damping = 70, 6, 0.05
    window = pynla.SlidingFisherInverse(d, m, damping, dtype=dtype)
    tol = TOLERANCE[dtype] * (10 if dtype == np.float32 else 100)
    for t in range(3 * m):
        g = rng.standard_normal(d) * (1 + t % 3)
        window.update(g)
        held = window.gradients()
        assert held.shape == (min(t + 1, m), d) and held.dtype == dtype
        assert_array_equal(held[-1], g.astype(dtype))
        x = rng.standard_normal(d).astype(dtype)
        # F averages over the window's m, before it is full too (M-FAC's dynamic algorithm)
        inverse = np.linalg.inv(dense_fisher(held, damping, m))
        assert relative(window @ x, inverse @ x) <= tol
        assert relative(window.diag(), np.diag(inverse)) <= tol
        if t + 1 >= m:
            static = pynla.FisherInverse(held, damping)
            assert relative(window @ x, static @ x) <= tol
            assert relative(window.columns([1, 2]), static.columns([1, 2])) <= tol


def test_sliding_window_with_repeated_and_zero_gradients():
    rng = np.random.default_rng(SEED)
    window = pynla.SlidingFisherInverse(20, 4, 0.1, dtype=np.float64)
    g = rng.standard_normal(20)
    for update in (g, g, np.zeros(20), g, np.zeros(20), g, g):
        window.update(update)
        inverse = np.linalg.inv(dense_fisher(window.gradients(), 0.1, 4))
        x = rng.standard_normal(20)
        assert relative(window @ x, inverse @ x) <= 1e-10


def test_same_bits_for_any_thread_count(threads):
    rng = np.random.default_rng(SEED)
    G = rng.standard_normal((40, 20_001)).astype(np.float32)
    x = rng.standard_normal(20_001).astype(np.float32)
    Finv = pynla.FisherInverse(G, 0.01)
    results = []
    for n in (1, 2, 3):
        threads(n)
        results.append((Finv @ x, Finv.fisher() @ x))
    for got in results[1:]:
        for a, b in zip(got, results[0]):
            assert_array_equal(a.view(np.uint32), b.view(np.uint32))


def test_bad_input():
    rng = np.random.default_rng(SEED)
    G = rng.standard_normal((5, 10))
    for bad in (0.0, -1.0, np.nan, np.inf, "x", None):
        with pytest.raises(ValueError, match="damping"):
            pynla.FisherInverse(G, bad)
    for value in (np.nan, np.inf):
        broken = G.copy()
        broken[2, 3] = value
        with pytest.raises(ValueError, match="G has NaN or infinity"):
            pynla.FisherInverse(broken, 1.0)
    with pytest.raises(ValueError, match="G must be 2-D"):
        pynla.FisherInverse(np.ones(5), 1.0)
    with pytest.raises(ValueError, match="G has dtype complex128"):
        pynla.FisherInverse(G + 1j, 1.0)
    with pytest.raises(ValueError, match="use a damping above"):
        pynla.FisherInverse(np.ones((3, 4)) * 1e10, 1e-30)
    Finv = pynla.FisherInverse(G, 1.0)
    with pytest.raises(ValueError, match="indices must be in"):
        Finv.columns([10])
    with pytest.raises(ValueError, match="indices must be a 1-D array of integers"):
        Finv.columns([0.5])
    window = pynla.SlidingFisherInverse(10, 3, 1.0)
    with pytest.raises(ValueError, match=r"g has shape \(9,\), expected \(10,\)"):
        window.update(np.ones(9))
    with pytest.raises(ValueError, match="g has NaN or infinity"):
        window.update(np.full(10, np.nan))
    for bad_size in (0, -1, 2.5):
        with pytest.raises(ValueError, match="m must be"):
            pynla.SlidingFisherInverse(10, bad_size, 1.0)
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        pynla.SlidingFisherInverse(10, 3, 1.0, dtype=np.int64)
    assert window.n_gradients == 0  # refused gradients leave the window as it was


def test_sliding_window_takes_back_its_own_oldest_gradient():
    """update(window.gradient(0)) (a view of the slot that the update frees) re-adds it."""
    rng = np.random.default_rng(SEED)
    window = pynla.SlidingFisherInverse(15, 3, 0.2, dtype=np.float64)
    for _ in range(3):
        window.update(rng.standard_normal(15))
    before = window.gradients()
    assert_array_equal(window.gradient(-1), before[-1])
    window.update(window.gradient(0))
    assert_array_equal(window.gradients(), np.roll(before, -1, axis=0))
    x = rng.standard_normal(15)
    inverse = np.linalg.inv(dense_fisher(before, 0.2))
    assert relative(window @ x, inverse @ x) <= 1e-12


def dense_blocked_fisher(G, damping, block):
    G = np.asarray(G, dtype=np.float64)
    m, d = G.shape
    F = np.zeros((d, d))
    for j0 in range(0, d, block):
        part = G[:, j0:j0 + block]
        F[j0:j0 + part.shape[1], j0:j0 + part.shape[1]] = damping * np.eye(part.shape[1]) + part.T @ part / m
    return F


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, block", [((6, 23), 5), ((8, 64), 16), ((20, 30), 7), ((3, 10), 1), ((4, 12), 11)],
                         ids=str)
def test_blocked_matches_the_dense_block_diagonal_inverse(dtype, shape, block):
    """Blocks that do not divide d, blocks narrower than m (m > block), one-coordinate blocks."""
    rng = np.random.default_rng(SEED)
    G = rng.standard_normal(shape).astype(dtype)
    Finv = pynla.FisherInverse(G, 0.3, block_size=block)
    F = dense_blocked_fisher(G, 0.3, block)
    inverse = np.linalg.inv(F)
    x = rng.standard_normal(shape[1]).astype(dtype)
    X = rng.standard_normal((shape[1], 4)).astype(dtype)
    tol = TOLERANCE[dtype]
    assert Finv.block_size == block
    assert relative(Finv @ x, inverse @ x) <= tol
    assert relative(Finv @ X, inverse @ X) <= tol
    assert relative(Finv.diag(), np.diag(inverse)) <= tol
    assert relative(Finv.columns([0, block, -1]), inverse[:, [0, block, -1]]) <= tol
    assert relative(Finv.fisher() @ X, F @ X) <= tol


def test_one_block_as_wide_as_g_is_the_unblocked_inverse():
    G = np.random.default_rng(SEED).standard_normal((5, 12))
    assert pynla.FisherInverse(G, 1.0, block_size=12).block_size is None
    assert pynla.FisherInverse(G, 1.0, block_size=100).block_size is None


def test_blocked_same_bits_for_any_thread_count(threads):
    rng = np.random.default_rng(SEED)
    G = rng.standard_normal((16, 10_007)).astype(np.float32)
    X = rng.standard_normal((10_007, 3)).astype(np.float32)
    results = []
    for n in (1, 2, 3):
        threads(n)
        Finv = pynla.FisherInverse(G, 0.01, block_size=128)
        results.append((Finv @ X[:, 0], Finv @ X, Finv.diag(), Finv._block_factors))
    for got in results[1:]:
        for a, b in zip(got, results[0]):
            assert_array_equal(a, b)


def test_blocked_bad_input():
    G = np.random.default_rng(SEED).standard_normal((4, 10))
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="block_size must be"):
            pynla.FisherInverse(G, 1.0, block_size=bad)
    for row, value in ((1, np.inf), (0, np.inf), (2, np.nan)):
        broken = G.copy()
        broken[row, 7] = value
        with pytest.raises(ValueError, match="G has NaN or infinity"):
            pynla.FisherInverse(broken, 1.0, block_size=3)
    single = G.copy()
    single[:, 7] = 0
    single[0, 7] = np.inf  # the only nonzero of its column: an infinite pivot, finite elsewhere
    with pytest.raises(ValueError, match="G has NaN or infinity"):
        pynla.FisherInverse(single, 1.0, block_size=3)
    rank_one_second_block = np.hstack([np.eye(3, 4), np.ones((3, 4)) * 1e10])
    with pytest.raises(ValueError, match=r"block 1 \(coordinates 4 to 7\) is not positive definite"):
        pynla.FisherInverse(rank_one_second_block, 1e-30, block_size=4)


@pytest.mark.parametrize("shape", [(0, 5), (3, 0), (0, 0)], ids=str)
@pytest.mark.parametrize("block", [None, 2])
def test_no_gradients_or_no_coordinates(shape, block):
    """No gradients: F = damping I; no coordinates: empty results."""
    Finv = pynla.FisherInverse(np.zeros(shape), 2.0, block_size=block)
    d = shape[1]
    assert_array_equal(Finv @ np.ones(d), np.full(d, 0.5))
    assert_array_equal(Finv @ np.ones((d, 2)), np.full((d, 2), 0.5))
    assert_array_equal(Finv.diag(), np.full(d, 0.5))
    assert_array_equal(Finv.fisher() @ np.ones(d), np.full(d, 2.0))
    window = pynla.SlidingFisherInverse(4, 2, 2.0)
    assert_array_equal(window @ np.ones(4), np.full(4, 0.5))


@pytest.mark.parametrize("dtype, damping", [(np.float32, 1e-6), (np.float64, 1e-13)])
@pytest.mark.parametrize("kind", ["static", "blocked", "sliding"])
def test_lost_accuracy_is_refused_and_the_suggested_damping_works(dtype, damping, kind):
    """More gradients than coordinates with a damping so small that K = damping m I + G G^T is
    singular in working precision: the Woodbury products would be percent-level wrong, so they
    are refused, naming a damping that is accepted and accurate."""
    rng = np.random.default_rng(SEED)
    G = rng.standard_normal((10, 6)).astype(dtype)

    def build(value):
        if kind == "static":
            return pynla.FisherInverse(G, value)
        if kind == "blocked":
            return pynla.FisherInverse(np.hstack([G, G]), value, block_size=6)
        window = pynla.SlidingFisherInverse(6, 10, value, dtype=dtype)
        for g in G:
            window.update(g)
        return window

    with pytest.raises(ValueError, match="use a damping above about") as refused:
        build(damping)
    suggested = float(str(refused.value).rsplit("about ", 1)[1])
    accepted = build(suggested)
    held = G if kind != "blocked" else np.hstack([G, G])
    dense = dense_fisher(held, suggested) if kind != "blocked" else dense_blocked_fisher(held, suggested, 6)
    x = rng.standard_normal(held.shape[1])
    assert relative(accepted @ x.astype(dtype), np.linalg.solve(dense, x)) <= (1e-4 if dtype == np.float32 else 1e-5)


def test_a_refused_update_leaves_the_window_as_it_was():
    """More gradients than coordinates with almost no damping: some update is refused (K
    singular in working precision); the window is then as it was before that update."""
    rng = np.random.default_rng(SEED)
    window = pynla.SlidingFisherInverse(3, 8, 1e-13, dtype=np.float64)
    x = rng.standard_normal(3)
    with pytest.raises(ValueError, match="damping"):
        for _ in range(8):
            before, product = window.gradients(), window @ x
            window.update(rng.standard_normal(3))
    assert_array_equal(window.gradients(), before)
    assert_array_equal(window @ x, product)


def test_thresholds_do_not_overflow_in_float32():
    ones = np.ones((2, 3), np.float32)
    assert_allclose(pynla.FisherInverse(ones, 1e39) @ np.ones(3, np.float32), np.full(3, 1e-39), rtol=1e-6)
    window = pynla.SlidingFisherInverse(3, 2, 1.0)
    window.update(np.full(3, 2e18))
    assert window.n_gradients == 1
    with pytest.raises(ValueError, match="overflows float32: scale G down"):
        pynla.FisherInverse(np.full((2, 3), 1e20, np.float32), 1.0)
