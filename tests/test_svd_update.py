"""pynla.IncrementalSVD against dense references: the Zha-Simon update computed with NumPy
(exact method, to 1e-10), the exact truncated SVD of the whole matrix after many updates
(numpy.linalg.svd), incsvd's EvolvingMatrix (the paper's reference code), and bad input
(which leaves the factors as they were)."""

import contextlib
import io

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import pynla

SEED = 20_261_206


# ---------------------------------------------------------------------------------------------
# Dense references


def dense_zha_simon(U, s, Vt, X, Y, k):
    """The rank-k Zha-Simon update of U diag(s) Vt by X Y^T, dense, with Householder QR."""
    V = Vt.T
    Q_x, R_x = np.linalg.qr(X - U @ (U.T @ X))
    Q_y, R_y = np.linalg.qr(Y - V @ (V.T @ Y))
    r = X.shape[1]
    F = np.zeros((len(s) + r, len(s) + r))
    F[:len(s), :len(s)] = np.diag(s)
    F += np.vstack([U.T @ X, R_x]) @ np.vstack([V.T @ Y, R_y]).T
    F_u, F_s, F_vt = np.linalg.svd(F)
    return np.hstack([U, Q_x]) @ F_u[:, :k], F_s[:k], (np.hstack([V, Q_y]) @ F_vt[:k].T).T


def zha_simon_rows(U, s, Vt, E, k):
    """[U diag(s) Vt; E] as the edit of [U diag(s) Vt; 0] by X = the new rows' unit vectors."""
    m, p = U.shape[0], E.shape[0]
    U_padded = np.vstack([U, np.zeros((p, U.shape[1]))])
    return dense_zha_simon(U_padded, s, Vt, np.vstack([np.zeros((m, p)), np.eye(p)]), E.T, k)


def truncated(A, k):
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return U[:, :k], s[:k], Vt[:k]


def low_rank_plus_noise(rng, m, n, rank, noise):
    """A matrix with `rank` strong directions (singular values 10 down to 1) and small noise."""
    P, _ = np.linalg.qr(rng.standard_normal((m, rank)))
    Q, _ = np.linalg.qr(rng.standard_normal((n, rank)))
    return (P * np.linspace(10, 1, rank)) @ Q.T + noise * rng.standard_normal((m, n))


def product(svd):
    return (svd.U.astype(np.float64) * svd.s) @ svd.Vt


def orthogonality(svd):
    U, V = svd.U.astype(np.float64), svd.Vt.T.astype(np.float64)
    k = svd.k
    return max(np.abs(U.T @ U - np.eye(k)).max(), np.abs(V.T @ V - np.eye(k)).max())


def state(svd):
    return (svd.shape, svd.U.copy(), svd.s.copy(), svd.Vt.copy())


def assert_same_state(a, b):
    assert a[0] == b[0]
    for x, y in zip(a[1:], b[1:]):
        np.testing.assert_array_equal(x, y)


SPARSE_FORMATS = ["csr", "csc", "coo", "lil", "dok", "bsr"]


def as_format(B, fmt):
    if fmt == "dense":
        return B.toarray() if sp.issparse(B) else B
    return sp.csr_array(B).asformat(fmt)


# ---------------------------------------------------------------------------------------------
# The exact method equals the dense Zha-Simon update


@pytest.mark.parametrize("fmt", ["dense", *SPARSE_FORMATS])
def test_exact_rows_equal_dense_zha_simon(fmt):
    rng = np.random.default_rng(SEED)
    k = 6
    U, s, Vt = truncated(rng.standard_normal((40, 30)) * 0.8 ** np.arange(30), k)
    E = sp.random_array((7, 30), density=0.3, rng=1, format="csr")
    svd = pynla.IncrementalSVD(U, s, Vt)
    svd.add_rows(as_format(E, fmt))
    U_w, s_w, Vt_w = zha_simon_rows(U, s, Vt, E.toarray(), k)
    assert svd.shape == (47, 30)
    np.testing.assert_allclose(svd.s, s_w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(product(svd), (U_w * s_w) @ Vt_w, atol=1e-10)
    assert orthogonality(svd) < 1e-12


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc", "coo"])
def test_exact_columns_equal_dense_zha_simon(fmt):
    rng = np.random.default_rng(SEED + 1)
    k = 5
    U, s, Vt = truncated(rng.standard_normal((30, 45)) * 0.8 ** np.arange(30)[:, None], k)
    B = sp.random_array((30, 9), density=0.3, rng=2, format="csr")
    svd = pynla.IncrementalSVD(U, s, Vt)
    svd.add_columns(as_format(B, fmt))
    # [A, B] = ([A^T; B^T])^T: the row update of the transpose.
    V_w, s_w, Ut_w = zha_simon_rows(Vt.T, s, U.T, B.toarray().T, k)
    assert svd.shape == (30, 54)
    np.testing.assert_allclose(svd.s, s_w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(product(svd), ((V_w * s_w) @ Ut_w).T, atol=1e-10)


@pytest.mark.parametrize("sparse_x, sparse_y", [(False, False), (True, False), (False, True), (True, True)])
def test_exact_edit_equals_dense_zha_simon(sparse_x, sparse_y):
    rng = np.random.default_rng(SEED + 2)
    k = 6
    U, s, Vt = truncated(rng.standard_normal((35, 25)) * 0.7 ** np.arange(25), k)
    X = sp.random_array((35, 3), density=0.3, rng=3, format="csr")
    Y = sp.random_array((25, 3), density=0.3, rng=4, format="csc")
    svd = pynla.IncrementalSVD(U, s, Vt)
    svd.update(X if sparse_x else X.toarray(), Y if sparse_y else Y.toarray())
    U_w, s_w, Vt_w = dense_zha_simon(U, s, Vt, X.toarray(), Y.toarray(), k)
    np.testing.assert_allclose(svd.s, s_w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(product(svd), (U_w * s_w) @ Vt_w, atol=1e-10)
    assert orthogonality(svd) < 1e-12


@pytest.mark.parametrize("update", ["rows", "columns", "edit"])
def test_one_update_of_a_low_rank_matrix_is_exact(update):
    """Rank(A) + rank(update) <= k: the factors reproduce the new matrix to rounding."""
    rng = np.random.default_rng(SEED + 3)
    m, n, k = 30, 20, 8
    A = rng.standard_normal((m, 3)) @ rng.standard_normal((3, n))
    svd = pynla.IncrementalSVD(*truncated(A, k))  # 5 zero singular values
    if update == "rows":
        E = rng.standard_normal((2, 3)) @ rng.standard_normal((3, n))
        svd.add_rows(E)
        want = np.vstack([A, E])
    elif update == "columns":
        B = rng.standard_normal((m, 4))
        svd.add_columns(B)
        want = np.hstack([A, B])
    else:
        X, Y = rng.standard_normal((m, 4)), rng.standard_normal((n, 4))
        svd.update(X, Y)
        want = A + X @ Y.T
    np.testing.assert_allclose(product(svd), want, atol=1e-10 * np.abs(want).max())
    np.testing.assert_allclose(svd.s, np.linalg.svd(want, compute_uv=False)[:k], atol=1e-10 * np.abs(want).max())


# ---------------------------------------------------------------------------------------------
# Many updates against the exact truncated SVD of the whole matrix


#: Relative error of the leading singular values after 20 updates of 10 rows to a rank-8 plus
#: 1e-3 noise matrix (measured: exact 2e-7, gkl and rpi at l = 10 about 1e-6).
MANY_UPDATES_BOUND = {"exact": 1e-5, "gkl": 1e-4, "rpi": 1e-4}


@pytest.mark.parametrize("method", pynla.svd_update.METHODS)
def test_many_row_updates_track_the_exact_svd(method):
    rng = np.random.default_rng(SEED + 4)
    k, n = 8, 60
    A = low_rank_plus_noise(rng, 400, n, k, 1e-3)
    svd = pynla.IncrementalSVD(*truncated(A[:200], k), rng=0)
    for start in range(200, 400, 10):
        block = sp.csr_array(A[start:start + 10])
        if method == "exact":
            svd.add_rows(block)
        else:
            svd.add_rows(block, method=method, l=10)
    exact = np.linalg.svd(A, compute_uv=False)[:k]
    assert np.abs(svd.s - exact).max() / exact[0] < MANY_UPDATES_BOUND[method]
    assert orthogonality(svd) < 1e-10


@pytest.mark.parametrize("method", pynla.svd_update.METHODS)
def test_graph_growth_rows_and_columns_in_alternation(method):
    """A symmetric matrix growing by nodes: rows, then columns (with the new-new block)."""
    rng = np.random.default_rng(SEED + 5)
    k, n_final = 6, 120
    P, _ = np.linalg.qr(rng.standard_normal((n_final, k)))
    noise = 1e-3 * rng.standard_normal((n_final, n_final))
    A = (P * np.linspace(10, 1, k)) @ P.T + (noise + noise.T) / 2
    n = 60
    svd = pynla.IncrementalSVD(*truncated(A[:n, :n], k), rng=1)
    options = {} if method == "exact" else {"method": method, "l": 6}
    while n < n_final:
        svd.add_rows(sp.csr_array(A[n:n + 6, :n]), **options)
        svd.add_columns(sp.csc_array(A[:n + 6, n:n + 6]), **options)
        n += 6
    assert svd.shape == (n_final, n_final)
    exact = np.linalg.svd(A, compute_uv=False)[:k]
    assert np.abs(svd.s - exact).max() / exact[0] < MANY_UPDATES_BOUND[method]
    assert orthogonality(svd) < 1e-10


def test_orthogonality_after_ten_thousand_small_updates():
    rng = np.random.default_rng(SEED + 6)
    n, k = 40, 5
    svd = pynla.IncrementalSVD(*truncated(rng.standard_normal((k + 1, n)), k))
    for i in range(10_000):
        row = sp.random_array((1, n), density=0.1, rng=rng, format="csr")
        if i % 2:
            svd.add_rows(row)
        else:
            svd.add_rows(row, method="rpi", l=1)
    assert svd.shape == (10_000 + k + 1, n)
    assert orthogonality(svd) < 1e-10
    assert svd.orthogonality_loss() < 1e-10


# ---------------------------------------------------------------------------------------------
# The paper's reference code


def incsvd_matrix(U, s, Vt, method):
    incsvd = pytest.importorskip("IncSVD.EvolvingMatrix")
    A = sp.csr_matrix((U * s) @ Vt)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the shapes it sets up
        matrix = incsvd.EvolvingMatrix(A, len(s), sparse=True, method=method)
    matrix._Uk, matrix._sigmak, matrix._Vk = U.copy(), s.copy(), Vt.T.copy()
    return matrix


@pytest.mark.parametrize("method, theirs", [("exact", "ZhaSimon"), ("gkl", "GKL"), ("rpi", "RPI")])
def test_same_results_as_incsvd(method, theirs):
    rng = np.random.default_rng(SEED + 7)
    k = 6
    A = low_rank_plus_noise(rng, 200, 50, k, 1e-2)
    U, s, Vt = truncated(A[:100], k)
    reference = incsvd_matrix(U, s, Vt, theirs)
    svd = pynla.IncrementalSVD(U, s, Vt, rng=0)
    for start in range(100, 200, 20):
        E = sp.csr_array(A[start:start + 20])
        if method == "exact":
            reference.add_row(sp.csr_matrix(E))
            svd.add_rows(E)
        else:
            reference.add_row(sp.csr_matrix(E), l=20, t=2 if method == "rpi" else None)
            svd.add_rows(E, method=method, l=20)
    theirs_s = np.sort(reference.Sigmak)[::-1]
    # l = 20 = the block's rows: every method takes the whole residual, and so agrees with
    # the exact update (up to incsvd's Gram-Schmidt, which drops directions below 1e-5).
    np.testing.assert_allclose(svd.s, theirs_s, rtol=1e-8)
    np.testing.assert_allclose(product(svd), (reference.Uk * reference.Sigmak) @ reference.Vk.T, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# Inputs: dtypes, duplicates, shapes, empty blocks


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes(dtype):
    rng = np.random.default_rng(SEED + 8)
    A = low_rank_plus_noise(rng, 60, 40, 4, 1e-3).astype(dtype)
    svd = pynla.IncrementalSVD.from_matrix(sp.csr_array(A[:50]), 4, rng=0)
    assert svd.dtype == dtype
    svd.add_rows(sp.csr_array(A[50:]))
    for a in (svd.U, svd.s, svd.Vt, svd.transform(A[:3])):
        assert a.dtype == dtype
    exact = np.linalg.svd(A.astype(np.float64), compute_uv=False)[:4]
    tolerance = 1e-5 if dtype == np.float32 else 1e-9
    assert np.abs(svd.s - exact).max() / exact[0] < tolerance
    assert orthogonality(svd) < (1e-6 if dtype == np.float32 else 1e-12)


def test_integer_and_bool_blocks_are_taken_as_float64():
    rng = np.random.default_rng(SEED + 9)
    U, s, Vt = truncated(rng.standard_normal((10, 8)), 3)
    a, b = pynla.IncrementalSVD(U, s, Vt), pynla.IncrementalSVD(U, s, Vt)
    E = rng.integers(-3, 4, size=(2, 8))
    a.add_rows(E)
    b.add_rows(E.astype(np.float64))
    np.testing.assert_array_equal(a.s, b.s)
    a.add_rows(sp.csr_array(E > 0))
    b.add_rows((E > 0).astype(np.float64))
    np.testing.assert_allclose(a.s, b.s, rtol=1e-14)


def test_duplicate_and_unsorted_indices_add_up():
    rng = np.random.default_rng(SEED + 10)
    U, s, Vt = truncated(rng.standard_normal((12, 10)), 4)
    cols = np.array([7, 2, 7, 9, 0, 9])
    vals = np.array([1.0, 2.0, 3.0, -1.0, 0.5, 2.0])
    E = sp.csr_array((vals, cols, np.array([0, 3, 5, 6])), shape=(3, 10))  # row 0 repeats column 7
    assert not E.has_canonical_format
    a, b = pynla.IncrementalSVD(U, s, Vt), pynla.IncrementalSVD(U, s, Vt)
    a.add_rows(E)
    b.add_rows(E.toarray())
    np.testing.assert_allclose(a.s, b.s, rtol=1e-13)
    np.testing.assert_allclose(product(a), product(b), atol=1e-13)


def test_non_contiguous_dense_blocks():
    rng = np.random.default_rng(SEED + 11)
    U, s, Vt = truncated(rng.standard_normal((12, 10)), 4)
    big = rng.standard_normal((6, 20))
    a, b = pynla.IncrementalSVD(U, s, Vt), pynla.IncrementalSVD(U, s, Vt)
    a.add_rows(big[::2, ::2])
    b.add_rows(np.ascontiguousarray(big[::2, ::2]))
    np.testing.assert_array_equal(a.s, b.s)


def test_empty_blocks():
    rng = np.random.default_rng(SEED + 12)
    U, s, Vt = truncated(rng.standard_normal((12, 10)), 4)
    svd = pynla.IncrementalSVD(U, s, Vt)
    before = state(svd)
    svd.add_rows(np.zeros((0, 10)))
    svd.add_rows(sp.csr_array((0, 10)))
    svd.add_columns(np.zeros((12, 0)))
    svd.update(np.zeros((12, 0)), np.zeros((10, 0)))
    svd.update(sp.csr_array((12, 2)), sp.csr_array((10, 2)))  # a zero edit
    assert_same_state(before, state(svd))
    svd.add_rows(sp.csr_array((3, 10)))  # three rows of zeros: the matrix grows, s stays
    assert svd.shape == (15, 10)
    np.testing.assert_allclose(svd.s, s, rtol=1e-14)
    np.testing.assert_array_equal(svd.U[12:], 0)


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (5, 1), (3, 3)])
def test_small_shapes(shape):
    """k = min(m, n): A's factors are exact, so the first update is the SVD of the new
    matrix; the second is the dense Zha-Simon update of the (now truncated) factors."""
    rng = np.random.default_rng(SEED + 13)
    A = rng.standard_normal(shape)
    k = min(shape)
    svd = pynla.IncrementalSVD(*truncated(A, k))
    E = rng.standard_normal((2, shape[1]))
    svd.add_rows(E)
    np.testing.assert_allclose(svd.s, np.linalg.svd(np.vstack([A, E]), compute_uv=False)[:k], rtol=1e-12)
    U, s, Vt = svd.U.copy(), svd.s.copy(), svd.Vt.copy()
    B = rng.standard_normal((shape[0] + 2, 1))
    svd.add_columns(B)
    V_w, s_w, Ut_w = zha_simon_rows(Vt.T, s, U.T, B.T, k)
    np.testing.assert_allclose(svd.s, s_w, rtol=1e-12)
    np.testing.assert_allclose(product(svd), ((V_w * s_w) @ Ut_w).T, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 12), n=st.integers(1, 12), p=st.integers(0, 5), density=st.floats(0, 1),
       k_fraction=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
def test_exact_rows_against_dense_svd_hypothesis(m, n, p, density, k_fraction, seed):
    """With k = min(m + p, n) nothing is truncated: the factors are the SVD of [A; E]."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    k = max(1, int(k_fraction * min(m, n)))
    E = sp.random_array((p, n), density=density, rng=rng, format="coo")
    svd = pynla.IncrementalSVD(*truncated(A, k))
    svd.add_rows(E)
    want = truncated(np.vstack([A, E.toarray()]), k)
    if k == min(m, n):  # A was whole: the update is exact
        np.testing.assert_allclose(svd.s, want[1], rtol=1e-9, atol=1e-12)
    assert orthogonality(svd) < 1e-10


def test_blocks_that_replace_the_leading_directions():
    """Each block ten times larger than the last: the new top directions replace the old, K
    becomes ill conditioned and is folded into W (the rewrite path); the exact method still
    equals the dense Zha-Simon update at every step."""
    rng = np.random.default_rng(SEED + 22)
    k = 5
    reference = truncated(rng.standard_normal((30, 20)), k)
    svd = pynla.IncrementalSVD(*reference)
    for i in range(8):
        E = 10.0 ** (i + 1) * rng.standard_normal((2, 20))
        reference = zha_simon_rows(*reference, E, k)
        svd.add_rows(sp.csr_array(E))
        U_w, s_w, Vt_w = reference
        np.testing.assert_allclose(svd.s, s_w, rtol=1e-12)
        np.testing.assert_allclose(product(svd), (U_w * s_w) @ Vt_w, atol=1e-12 * s_w[0])
        assert orthogonality(svd) < 1e-12


@pytest.mark.parametrize("method", pynla.svd_update.METHODS)
def test_k_equal_to_the_columns(method):
    """k = n: V is square, every residual is zero."""
    rng = np.random.default_rng(SEED + 23)
    A, E = rng.standard_normal((10, 6)), rng.standard_normal((3, 6))
    svd = pynla.IncrementalSVD(*truncated(A, 6), rng=0)
    svd.add_rows(E, **({} if method == "exact" else {"method": method, "l": 3}))
    np.testing.assert_allclose(svd.s, np.linalg.svd(np.vstack([A, E]), compute_uv=False), rtol=1e-12)


@pytest.mark.parametrize("method", pynla.svd_update.METHODS)
@pytest.mark.parametrize("offset", [0.0, 1e-3])
def test_rows_in_or_near_the_row_space(method, offset):
    """Rows in V's span (a zero residual: Lanczos stops at once) or near it."""
    rng = np.random.default_rng(SEED + 21)
    U, s, Vt = truncated(rng.standard_normal((30, 20)) * 0.7 ** np.arange(20), 6)
    E = rng.standard_normal((4, 6)) @ Vt + offset * rng.standard_normal((4, 20))
    svd = pynla.IncrementalSVD(U, s, Vt, rng=0)
    svd.add_rows(sp.csr_array(E), **({} if method == "exact" else {"method": method, "l": 4}))
    U_w, s_w, Vt_w = zha_simon_rows(U, s, Vt, E, 6)
    np.testing.assert_allclose(svd.s, s_w, rtol=1e-10)
    np.testing.assert_allclose(product(svd), (U_w * s_w) @ Vt_w, atol=1e-10)
    assert orthogonality(svd) < 1e-12


@pytest.mark.parametrize("scale", [1e-170, 1e-300, 1e150, 1e290])
@pytest.mark.parametrize("method", pynla.svd_update.METHODS)
def test_any_magnitude(scale, method):
    """Gram matrices square values: blocks and F are scaled first, so tiny and huge matrices
    get the singular values of the same matrix at scale 1, times the scale."""
    rng = np.random.default_rng(SEED + 20)
    A = low_rank_plus_noise(rng, 60, 30, 5, 1e-2)
    options = {} if method == "exact" else {"method": method, "l": 5}
    answers = []
    for factor in (1.0, scale):
        svd = pynla.IncrementalSVD(*(lambda U, s, Vt: (U, factor * s, Vt))(*truncated(A[:40], 5)), rng=0)
        svd.add_rows(sp.csr_array(factor * A[40:50]), **options)
        svd.update(factor * A[:50, :2], np.eye(30)[:, :2], **options)
        answers.append(svd.s / factor)
    np.testing.assert_allclose(answers[1], answers[0], rtol=1e-10)


# ---------------------------------------------------------------------------------------------
# Read-outs


def test_transform_and_operator():
    rng = np.random.default_rng(SEED + 14)
    svd = pynla.IncrementalSVD.from_matrix(sp.random_array((50, 30), density=0.2, rng=5), 5, rng=0)
    B = sp.random_array((4, 30), density=0.3, rng=6, format="csr")
    np.testing.assert_allclose(svd.transform(B), B.toarray() @ svd.Vt.T, atol=1e-14)
    np.testing.assert_allclose(svd.transform(B.toarray()), B.toarray() @ svd.Vt.T, atol=1e-14)
    op = svd.aslinearoperator()
    x = rng.standard_normal(30)
    np.testing.assert_allclose(op @ x, product(svd) @ x, atol=1e-13)
    assert op.shape == (50, 30)


def test_from_matrix_is_near_optimal():
    rng = np.random.default_rng(SEED + 15)
    A = low_rank_plus_noise(rng, 80, 50, 5, 1e-2)
    svd = pynla.IncrementalSVD.from_matrix(A, 5, rng=0)
    optimal = np.linalg.norm(A - (lambda U, s, Vt: (U * s) @ Vt)(*truncated(A, 5)))
    assert np.linalg.norm(A - product(svd)) <= 1.01 * optimal


def test_factors_are_sorted_and_read_outs_are_read_only():
    rng = np.random.default_rng(SEED + 16)
    U, s, Vt = truncated(rng.standard_normal((10, 8)), 4)
    svd = pynla.IncrementalSVD(U[:, ::-1], s[::-1], Vt[::-1])  # as svds returns them: ascending
    np.testing.assert_allclose(svd.s, s, rtol=1e-14)
    np.testing.assert_allclose(product(svd), (U * s) @ Vt, atol=1e-14)
    with pytest.raises(ValueError):
        svd.U[0, 0] = 1.0


def test_results_do_not_depend_on_thread_count():
    rng = np.random.default_rng(SEED + 17)
    A = sp.random_array((3000, 2000), density=0.01, rng=7, format="csr")
    blocks = [sp.random_array((300, 2000), density=0.01, rng=8 + i, format="csr") for i in range(2)]
    answers = []
    threads = pynla.get_num_threads()
    try:
        for n_threads in (1, 2):
            pynla.set_num_threads(n_threads)
            svd = pynla.IncrementalSVD.from_matrix(A, 10, rng=0)
            for method, E in zip(("exact", "gkl"), blocks):
                svd.add_rows(E, method=method)
            answers.append(state(svd))
    finally:
        pynla.set_num_threads(threads)
    assert_same_state(*answers)
    del rng


# ---------------------------------------------------------------------------------------------
# Bad input: a clear exception, and the factors left as they were


def test_bad_blocks_leave_the_factors_unchanged():
    rng = np.random.default_rng(SEED + 18)
    U, s, Vt = truncated(rng.standard_normal((12, 10)), 4)
    svd = pynla.IncrementalSVD(U, s, Vt)
    before = state(svd)
    bad_values = np.ones((2, 10))
    bad_values[1, 3] = np.nan
    cases = [
        (ValueError, "B has shape", lambda: svd.add_rows(np.ones((2, 9)))),
        (ValueError, "B has shape", lambda: svd.add_rows(sp.csr_array((2, 11)))),
        (ValueError, "B has shape", lambda: svd.add_columns(np.ones((11, 2)))),
        (ValueError, "non-finite", lambda: svd.add_rows(bad_values)),
        (ValueError, "non-finite", lambda: svd.add_rows(sp.csr_array(bad_values))),
        (ValueError, "X has 2 columns and Y 3", lambda: svd.update(np.ones((12, 2)), np.ones((10, 3)))),
        (ValueError, "Y has shape", lambda: svd.update(np.ones((12, 2)), np.ones((9, 2)))),
        (ValueError, "method must be one of", lambda: svd.add_rows(np.ones((1, 10)), method="lanczos")),
        (ValueError, "l must be", lambda: svd.add_rows(np.ones((1, 10)), method="gkl", l=0)),
        (ValueError, "t must be", lambda: svd.add_rows(np.ones((1, 10)), method="rpi", t=0)),
        (ValueError, "apply to the 'gkl' and 'rpi'", lambda: svd.add_rows(np.ones((1, 10)), l=3)),
        (ValueError, "t applies to the 'rpi'", lambda: svd.add_rows(np.ones((1, 10)), method="gkl", t=3)),
        (TypeError, "expected real values", lambda: svd.add_rows(np.ones((1, 10), dtype=complex))),
        (TypeError, "expected real values", lambda: svd.add_rows(np.array([["a"] * 10]))),
        (ValueError, "malformed|indptr|index", lambda: svd.add_rows(
            sp.csr_array((np.ones(2), np.array([0, 10]), np.array([0, 2])), shape=(1, 10)))),
        (ValueError, "overflowed", lambda: svd.add_rows(np.full((1, 10), 1e308))),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=message):
            call()
        assert_same_state(before, state(svd))


def test_bad_factors():
    rng = np.random.default_rng(SEED + 19)
    U, s, Vt = truncated(rng.standard_normal((12, 10)), 4)
    with pytest.raises(ValueError, match="U is not orthonormal"):
        pynla.IncrementalSVD(U * 1.01, s, Vt)
    with pytest.raises(ValueError, match="Vt is not orthonormal"):
        pynla.IncrementalSVD(U, s, Vt + 1e-3)
    with pytest.raises(ValueError, match="shapes"):
        pynla.IncrementalSVD(U, s[:3], Vt)
    with pytest.raises(ValueError, match="negative"):
        pynla.IncrementalSVD(U, -s, Vt)
    with pytest.raises(ValueError, match="non-finite"):
        pynla.IncrementalSVD(U, np.array([np.inf, 1, 1, 1]), Vt)
    with pytest.raises(TypeError, match="real"):
        pynla.IncrementalSVD(U.astype(complex), s, Vt)
    with pytest.raises(ValueError, match="k must satisfy"):
        pynla.IncrementalSVD.from_matrix(np.ones((5, 3)), 4)
    with pytest.raises(ValueError, match="k must satisfy"):
        pynla.IncrementalSVD.from_matrix(np.ones((5, 3)), 0)
    with pytest.raises(ValueError, match="2-D"):
        pynla.IncrementalSVD.from_matrix(np.ones(5), 1)
