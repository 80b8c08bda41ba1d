"""pynla.ptap and pynla.rap against SciPy's ``P.T @ A @ P`` and ``R @ A @ P``: entries, values,
formats, kinds, dtypes, exact symmetry for symmetric A, thread invariance and bad input."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import pynla
from pynla import galerkin
from tests.conftest import INDEX_DTYPES, KERNEL_DTYPES, SCIPY_PATH_DTYPES, bits, random_csr, with_index_dtype, with_strided_arrays


def symmetric_csr(rng, n, density, dtype=np.float64):
    """A random symmetric CSR matrix (values and pattern), canonical, with a nonzero diagonal."""
    M = random_csr(rng, (n, n), density, dtype)
    S = sp.csr_array(M + M.T + sp.eye_array(n, dtype=dtype, format="csr"))
    S.sort_indices()
    return S


def aggregation(rng, n, n_coarse, dtype=np.float64, smoothing=None):
    """A prolongation as algebraic multigrid makes one: each fine node in one of n_coarse
    aggregates, then (given a matrix) one damped Jacobi step that widens its pattern."""
    P = sp.csr_array((np.ones(n, dtype=dtype), rng.integers(0, max(n_coarse, 1), n), np.arange(n + 1)),
                     shape=(n, n_coarse)) if n_coarse else sp.csr_array((n, 0), dtype=dtype)
    if smoothing is not None:
        P = sp.csr_array(P - (smoothing @ P) * dtype(0.25) if n_coarse else P)
    P.sort_indices()
    return P


def reference(A, P):
    """P^T A P in extended precision (long double, dense)."""
    wide = np.clongdouble if np.result_type(A.dtype, P.dtype).kind == "c" else np.longdouble
    return P.T.toarray().astype(wide) @ A.toarray().astype(wide) @ P.toarray().astype(wide)


def tolerance(dtype):
    return 2e-4 if np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.complex64)) else 1e-12


def assert_close_to_scipy(C, A, P):
    """C holds SciPy's P.T @ A @ P to rounding, in SciPy's shape and dtype."""
    expected = P.T @ A @ P
    assert C.shape == expected.shape and C.dtype == expected.dtype
    exact = reference(A, P)
    scale = max(1.0, float(np.abs(exact).max()) if exact.size else 1.0)
    error = np.abs(C.toarray().astype(exact.dtype) - exact)
    assert error.size == 0 or float(error.max()) <= tolerance(C.dtype) * scale


def assert_exactly_symmetric(C):
    dense = C.toarray()
    assert_array_equal(bits(dense), bits(dense.T))


def assert_canonical_result(C):
    copy = C.copy()
    copy.sort_indices()
    assert_array_equal(copy.indices, C.indices)
    assert C.has_sorted_indices


@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
@pytest.mark.parametrize("n, n_coarse", [(0, 0), (1, 1), (5, 0), (40, 7), (300, 40), (200, 200)])
def test_symmetric_A_gives_an_exactly_symmetric_result(rng, dtype, n, n_coarse):
    A = symmetric_csr(rng, n, 0.05, dtype)
    P = aggregation(rng, n, n_coarse, dtype, smoothing=A)
    C = pynla.ptap(A, P)
    assert type(C) is sp.csr_array
    assert_close_to_scipy(C, A, P)
    assert_exactly_symmetric(C)
    assert_canonical_result(C)


@pytest.mark.parametrize("blocksize", [None, (2, 2)])
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
def test_index_dtypes(rng, index_dtype, blocksize):
    A = symmetric_csr(rng, 80, 0.05)
    P = aggregation(rng, 80, 10, smoothing=A)
    if blocksize:
        A, P = A.tobsr(blocksize=blocksize), P.tobsr(blocksize=blocksize)
    C = pynla.ptap(with_index_dtype(A.copy(), index_dtype), with_index_dtype(P.copy(), index_dtype))
    assert_close_to_scipy(C, A, P)
    assert_exactly_symmetric(C)
    if index_dtype == np.int64:
        assert C.indices.dtype == np.int64


@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_nonsymmetric_A_gives_pynla_spgemm_of_the_two_products(rng, dtype):
    A = random_csr(rng, (150, 150), 0.05, dtype)
    P = aggregation(rng, 150, 20, dtype, smoothing=A)
    C = pynla.ptap(A, P)
    expected = pynla.spgemm(pynla.spgemm(P.T, A), P)
    assert_array_equal(C.indptr, expected.indptr)
    assert_array_equal(C.indices, expected.indices)
    assert_array_equal(bits(C.data), bits(expected.data))
    assert_close_to_scipy(C, A, P)


@pytest.mark.parametrize("blocks", [(2, 2, 2, 3), (3, 3, 3, 3), (1, 1, 1, 1), (3, 3, 3, 1), (2, 2, 2, 1)],
                         ids=lambda b: "A{}x{} P{}x{}".format(*b))
@pytest.mark.parametrize("symmetric", [True, False])
def test_bsr_inputs_give_scipys_bsr_result(rng, blocks, symmetric):
    a_rows, a_cols, p_rows, p_cols = blocks
    n, n_coarse = 60 * a_rows, 12 * p_cols
    A = symmetric_csr(rng, n, 0.03) if symmetric else random_csr(rng, (n, n), 0.03)
    P = aggregation(rng, n, n_coarse, smoothing=A)
    A_bsr, P_bsr = A.tobsr(blocksize=(a_rows, a_cols)), P.tobsr(blocksize=(p_rows, p_cols))
    C = pynla.ptap(A_bsr, P_bsr)
    expected = P_bsr.T @ A_bsr @ P_bsr
    assert C.format == expected.format == "bsr"
    assert C.blocksize == expected.blocksize
    expected.sort_indices()  # the blocks SciPy keeps
    assert_array_equal(C.indptr, expected.indptr)
    assert_array_equal(C.indices, expected.indices)
    assert_close_to_scipy(C, A, P)
    if symmetric:
        assert_exactly_symmetric(C)


@pytest.mark.parametrize("a_format", ["csr", "csc", "coo", "lil", "dia", "bsr"])
@pytest.mark.parametrize("p_format", ["csr", "csc", "coo", "bsr"])
def test_every_format(rng, a_format, p_format):
    upper_band = sp.diags_array([rng.standard_normal(80 - k) for k in range(4)], offsets=range(4), format="csr")
    A = sp.csr_array(upper_band + upper_band.T)  # banded, for DIA
    A.sort_indices()
    P = aggregation(rng, 80, 10, smoothing=A)
    A_in = A.asformat(a_format) if a_format != "bsr" else A.tobsr(blocksize=(2, 2))
    P_in = P.asformat(p_format) if p_format != "bsr" else P.tobsr(blocksize=(2, 1))
    C = pynla.ptap(A_in, P_in)
    assert_close_to_scipy(C, A, P)
    assert_exactly_symmetric(C)


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csr_array, sp.bsr_matrix, sp.bsr_array])
def test_result_kind_is_scipys(rng, container):
    A = container(symmetric_csr(rng, 30, 0.1))
    P = container(aggregation(rng, 30, 5))
    expected = type(P.T @ A @ P) if P.format == "bsr" else container  # CSR, where SciPy's is CSC
    assert type(pynla.ptap(A, P)) is expected
    assert type(pynla.rap(P.T, A, P)) is expected


@pytest.mark.parametrize("dtype", SCIPY_PATH_DTYPES)
def test_dtypes_the_kernels_do_not_take_give_scipys_answer(rng, dtype):
    A = symmetric_csr(rng, 30, 0.1)
    A.data = np.round(3 * A.data)
    A = A.astype(dtype)
    P = aggregation(rng, 30, 6).astype(dtype)
    C = pynla.ptap(A, P)
    expected = P.T @ A @ P
    assert C.dtype == expected.dtype
    assert_array_equal(C.toarray(), expected.toarray())


def test_mixed_dtypes_follow_numpy_promotion(rng):
    A = symmetric_csr(rng, 40, 0.1, np.float32)
    P = aggregation(rng, 40, 8, np.complex128, smoothing=A.astype(np.complex128))
    C = pynla.ptap(A, P)
    assert C.dtype == np.complex128
    assert_close_to_scipy(C, A, P)
    assert_exactly_symmetric(C)


def test_unsorted_and_repeated_entries_of_a_symmetric_A(rng):
    A = symmetric_csr(rng, 60, 0.1)
    coo = A.tocoo()
    half = coo.data / 2  # every entry split into two halves, listed in a shuffled order
    order = rng.permutation(2 * coo.nnz)
    rows = np.concatenate([coo.row, coo.row])[order]
    cols = np.concatenate([coo.col, coo.col])[order]
    values = np.concatenate([half, half])[order]
    A_messy = sp.coo_array((values, (rows, cols)), shape=A.shape)  # repeated entries
    by_row = np.argsort(rows, kind="stable")  # CSR with unsorted, repeated columns
    unsorted = sp.csr_array((values[by_row], cols[by_row], np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=60))])),
                            shape=A.shape)
    assert not unsorted.has_canonical_format
    blocks = A.tobsr(blocksize=(3, 3))
    shuffled = rng.permutation(blocks.indptr[1])  # block row 0's blocks out of order
    blocks.indices[:blocks.indptr[1]] = blocks.indices[shuffled]
    blocks.data[:blocks.indptr[1]] = blocks.data[shuffled]
    blocks.has_sorted_indices = False
    P = aggregation(rng, 60, 9, smoothing=A)
    one_side = A.tocoo()  # one entry above the diagonal stored as two halves, its mirror whole
    above = np.flatnonzero(one_side.col > one_side.row)[0]
    one_side = sp.coo_array((np.concatenate([one_side.data, [one_side.data[above] / 2]]),
                             (np.concatenate([one_side.row, [one_side.row[above]]]),
                              np.concatenate([one_side.col, [one_side.col[above]]]))), shape=A.shape)
    one_side.data[above] /= 2
    for messy in (A_messy, unsorted, blocks, one_side, one_side.tocsr()):
        C = pynla.ptap(messy, P)
        assert_close_to_scipy(C, A, P)
        assert_exactly_symmetric(C)


def test_non_contiguous_arrays(rng):
    A = symmetric_csr(rng, 50, 0.1)
    P = aggregation(rng, 50, 8, smoothing=A)
    expected = pynla.ptap(A, P)
    C = pynla.ptap(with_strided_arrays(A.copy()), with_strided_arrays(P.copy()))
    assert_array_equal(bits(C.toarray()), bits(expected.toarray()))


@pytest.mark.parametrize("blocksize", [None, (3, 3)])
def test_thread_count_does_not_change_bits(rng, threads, blocksize):
    A = symmetric_csr(rng, 600, 0.02)
    P = aggregation(rng, 600, 60, smoothing=A)
    if blocksize:
        A, P = A.tobsr(blocksize=blocksize), P.tobsr(blocksize=blocksize)
    results = []
    for n in (1, 2, 3):
        threads(n)
        results.append(pynla.ptap(A, P).toarray())
    for other in results[1:]:
        assert_array_equal(bits(other), bits(results[0]))


def test_a_symmetric_value_with_a_lopsided_pattern_is_not_taken_for_symmetric(rng):
    """A == A.T numerically, but an explicit zero above the diagonal has no stored mirror: the
    pattern differs, so the result is the plain product (which is still right)."""
    A = sp.csr_array((np.array([2.0, 0.0, 3.0]), np.array([0, 1, 1]), np.array([0, 2, 3])), shape=(2, 2))
    P = sp.csr_array(np.array([[1.0, 0.5], [0.25, 1.0]]))
    C = pynla.ptap(A, P)
    expected = pynla.spgemm(pynla.spgemm(P.T, A), P)
    assert_array_equal(bits(C.toarray()), bits(expected.toarray()))
    assert_allclose(C.toarray(), (P.T @ A @ P).toarray(), rtol=1e-15)


def test_a_nan_in_A_makes_it_not_symmetric(rng):
    A = symmetric_csr(rng, 20, 0.2)
    A.data[0] = np.nan
    P = aggregation(rng, 20, 4)
    C = pynla.ptap(A, P)
    expected = pynla.spgemm(pynla.spgemm(P.T, A), P)
    assert_array_equal(bits(C.toarray()), bits(expected.toarray()))


@pytest.mark.parametrize("blocksize", [None, (2, 2)])
def test_mirroring_a_lopsided_pattern_rebuilds_from_the_upper_triangle(blocksize):
    """The products' patterns are symmetric, so this path is not reached through ptap; a
    pattern that is not must still come out symmetric, from the triangle above."""
    dense = np.array([[1.0, 2.0, 0.0, 5.0], [3.0, 4.0, 0.0, 0.0], [7.0, 0.0, 6.0, 0.0], [0.0, 0.0, 0.0, 8.0]])
    C = sp.csr_array(dense) if blocksize is None else sp.bsr_array(dense, blocksize=blocksize)
    S = galerkin._mirrored(C)
    upper = np.triu(dense)
    assert_array_equal(S.toarray(), upper + np.triu(dense, 1).T)
    assert S.format == C.format


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 40), n_coarse=st.integers(0, 12), density=st.floats(0.0, 0.5),
       seed=st.integers(0, 2**32 - 1), block=st.sampled_from([None, 1, 2]))
def test_property_ptap_matches_the_dense_product(n, n_coarse, density, seed, block):
    rng = np.random.default_rng(seed)
    n = n - n % 2 if block == 2 else n
    n_coarse = n_coarse - n_coarse % 2 if block == 2 else n_coarse
    A = symmetric_csr(rng, n, density)
    P = sp.csr_array(random_csr(rng, (n, n_coarse), density))
    if block:
        A, P = A.tobsr(blocksize=(block, block)), P.tobsr(blocksize=(block, block))
    C = pynla.ptap(A, P)
    assert_close_to_scipy(C, A, P)
    assert_exactly_symmetric(C)


@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_rap_is_pynlas_two_products_bit_for_bit(rng, dtype):
    R = random_csr(rng, (20, 100), 0.05, dtype)
    A = random_csr(rng, (100, 80), 0.05, dtype)
    P = random_csr(rng, (80, 15), 0.1, dtype)
    C = pynla.rap(R, A, P)
    expected = pynla.spgemm(pynla.spgemm(R, A), P)
    assert_array_equal(bits(C.toarray()), bits(expected.toarray()))
    assert_allclose(C.toarray(), (R @ A @ P).toarray(), rtol=tolerance(dtype), atol=tolerance(dtype))


def test_rap_of_bsr_inputs_is_bsr(rng):
    A = random_csr(rng, (60, 60), 0.1)
    R, P = random_csr(rng, (30, 60), 0.1), random_csr(rng, (60, 30), 0.1)
    C = pynla.rap(R.tobsr(blocksize=(3, 2)), A.tobsr(blocksize=(2, 2)), P.tobsr(blocksize=(2, 3)))
    assert C.format == "bsr" and C.blocksize == (3, 3)
    assert_allclose(C.toarray(), (R @ A @ P).toarray(), rtol=1e-13, atol=1e-13)


def test_bad_input_names_the_argument():
    A = sp.csr_array(np.eye(4))
    P = sp.csr_array(np.ones((4, 2)))
    with pytest.raises(TypeError, match="A must be a SciPy sparse"):
        pynla.ptap(np.eye(4), P)
    with pytest.raises(TypeError, match="P must be a SciPy sparse"):
        pynla.ptap(A, np.ones((4, 2)))
    with pytest.raises(ValueError, match="A must be square"):
        pynla.ptap(sp.csr_array(np.ones((4, 3))), P)
    with pytest.raises(ValueError, match="P has 3 rows, A has 4 columns"):
        pynla.ptap(A, sp.csr_array(np.ones((3, 2))))
    bad = sp.csr_array(np.ones((4, 2)))
    bad.indices[1] = 7
    with pytest.raises(ValueError, match="P.indices has index 7 out of range"):
        pynla.ptap(A, bad)
    bad_A = A.copy()
    bad_A.indptr[2] = 0
    with pytest.raises(ValueError, match="A.indptr is not non-decreasing"):
        pynla.ptap(bad_A, P)
    with pytest.raises(TypeError, match="R must be a SciPy sparse"):
        pynla.rap([[1.0]], A, P)
    with pytest.raises(ValueError, match="R has 3 columns, A has 4 rows"):
        pynla.rap(sp.csr_array(np.ones((2, 3))), A, P)
    with pytest.raises(ValueError, match="A has 4 columns, P has 3 rows"):
        pynla.rap(sp.csr_array(np.ones((2, 4))), A, sp.csr_array(np.ones((3, 2))))
    bad_R = sp.csr_array(np.ones((2, 4)))
    bad_R.indices[0] = 7
    with pytest.raises(ValueError, match="R.indices has index 7 out of range"):
        pynla.rap(bad_R, A, P)


# ---------------------------------------------------------------------------------------------
# Plans


@pytest.mark.parametrize("dtype", KERNEL_DTYPES + [np.int64])
@pytest.mark.parametrize("symmetric", [True, False])
def test_plan_gives_ptaps_values_reused_with_new_values(rng, dtype, symmetric):
    A = symmetric_csr(rng, 120, 0.05) if symmetric else random_csr(rng, (120, 120), 0.05)
    P = aggregation(rng, 120, 15, smoothing=A)
    if np.dtype(dtype).kind == "i":
        A.data, P.data = np.round(3 * A.data), np.round(3 * P.data)
    A, P = A.astype(dtype), P.astype(dtype)
    plan = pynla.ptap_plan(A, P)
    C = plan(A, P)
    assert type(C) is sp.csr_array and C.nnz == plan.nnz and C.shape == plan.shape == (15, 15)
    assert_array_equal(bits(C.toarray()), bits(pynla.ptap(A, P).toarray()))
    first = bits(C.data).copy()
    for _ in range(100):  # reused: the same bits every time
        C = plan(A, P, out=C)
    assert_array_equal(bits(C.data), first)
    A.data = (A.data * 3).astype(dtype)  # new values, same patterns (A stays symmetric)
    P.data = (P.data * 2).astype(dtype)
    again = plan(A, P, out=C)
    assert again is C
    assert_array_equal(C.toarray(), pynla.ptap(A, P).toarray())
    if symmetric and dtype in KERNEL_DTYPES:
        assert_exactly_symmetric(C)


def test_plan_of_bsr_inputs_gives_csr(rng):
    A = symmetric_csr(rng, 60, 0.1)
    P = aggregation(rng, 60, 12, smoothing=A)
    A_bsr, P_bsr = A.tobsr(blocksize=(3, 3)), P.tobsr(blocksize=(3, 3))
    C = pynla.ptap_plan(A_bsr, P_bsr)(A_bsr, P_bsr)
    assert C.format == "csr"
    assert_close_to_scipy(C, A, P)
    assert_exactly_symmetric(C)


def test_plan_refuses_other_patterns_and_shapes(rng):
    A = symmetric_csr(rng, 40, 0.1)
    P = aggregation(rng, 40, 6, smoothing=A)
    plan = pynla.ptap_plan(A, P)
    other_P = aggregation(rng, 40, 6)
    with pytest.raises(ValueError, match="P's pattern"):
        plan(A, other_P)
    other_A = symmetric_csr(rng, 40, 0.2)
    with pytest.raises(ValueError, match="A's pattern"):
        plan(other_A, P)
    with pytest.raises(ValueError, match="P has shape"):
        plan(A, aggregation(rng, 40, 7))
    with pytest.raises(TypeError, match="P must be a SciPy sparse"):
        plan(A, P.toarray())
    other_out = plan(A, P)
    other_out.indices = other_out.indices[::-1].copy()  # same length, another pattern
    with pytest.raises(ValueError, match="out's pattern"):
        plan(A, P, out=other_out)
    with pytest.raises(ValueError, match="A must be square"):
        pynla.ptap_plan(sp.csr_array(np.ones((4, 3))), P)


def test_plan_thread_count_does_not_change_bits(rng, threads):
    A = symmetric_csr(rng, 500, 0.02)
    P = aggregation(rng, 500, 50, smoothing=A)
    plan = pynla.ptap_plan(A, P)
    results = []
    for n in (1, 2, 3):
        threads(n)
        results.append(bits(plan(A, P).data))
    for other in results[1:]:
        assert_array_equal(other, results[0])


def test_csr_A_with_bsr_P_keeps_scipys_blocks_where_a_coarse_row_cancels():
    """Found by pyamg's tests routed through pynla: a 1-D Poisson matrix with P of 1 x 2 blocks
    on the near-null space (1, x) has coarse rows whose products cancel to zero. SciPy's
    ``P.T @ A @ P`` converts A to BSR and keeps those zero blocks, which pyamg's Schwarz
    smoother reads as the coarse pattern; an empty row there made LAPACK fail."""
    n = 12
    A = sp.diags_array([-1.0, 2.0, -1.0], offsets=[-1, 0, 1], shape=(n, n), format="csr")
    aggregate = np.arange(n) // 3
    x = np.arange(1.0, n + 1)
    P = sp.bsr_array((np.stack([np.ones(n), x], axis=1).reshape(n, 1, 2), aggregate, np.arange(n + 1)),
                     shape=(n, 2 * (n // 3)))
    C = pynla.ptap(A, P)
    expected = P.T @ A @ P
    expected.sort_indices()
    assert C.format == expected.format == "bsr" and C.blocksize == expected.blocksize == (2, 2)
    assert_array_equal(C.indptr, expected.indptr)
    assert_array_equal(C.indices, expected.indices)
    assert_allclose(C.toarray(), expected.toarray(), atol=1e-13)
    assert_exactly_symmetric(C)


@pytest.mark.parametrize("r_blocks", [(2, 3), (1, 1)])
@pytest.mark.parametrize("a_format", ["csr", "bsr"])
@pytest.mark.parametrize("p_format", ["csr", "bsr"])
def test_rap_with_bsr_R_converts_as_scipy(rng, a_format, p_format, r_blocks):
    R = random_csr(rng, (20, 60), 0.1).tobsr(blocksize=r_blocks)
    A = random_csr(rng, (60, 60), 0.1)
    P = random_csr(rng, (60, 30), 0.1)
    A = A.tobsr(blocksize=(3, 3)) if a_format == "bsr" else A
    P = P.tobsr(blocksize=(3, 2)) if p_format == "bsr" else P
    C = pynla.rap(R, A, P)
    expected = R @ A @ P
    expected.sort_indices()
    assert C.format == expected.format and C.blocksize == expected.blocksize
    assert_array_equal(C.indices, expected.indices)
    assert_allclose(C.toarray(), expected.toarray(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("a_format, p_blocks", [("csr", (2, 1)), ("bsr", (1, 1)), ("csr", (2, 2))])
def test_blocks_kept_as_scipy_keeps_them_where_products_cancel(a_format, p_blocks):
    """C[0, 1] and C[1, 0] cancel exactly: SciPy keeps or drops them by the formats (its 1 x 1
    block products run in CSR and drop them; larger blocks keep them); pynla does the same."""
    A = sp.csr_array(np.array([[2.0, 1.0, 0.0, 0.0], [1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 2.0, 1.0], [0.0, 0.0, 1.0, 2.0]]))
    P = sp.csr_array(np.array([[1.0, 1.0], [-1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]))
    A_in = A.tobsr(blocksize=(2, 2)) if a_format == "bsr" else A
    P_in = P.tobsr(blocksize=p_blocks)
    C = pynla.ptap(A_in, P_in)
    expected = P_in.T @ A_in @ P_in
    expected.sort_indices()
    assert C.format == expected.format and C.blocksize == expected.blocksize
    assert_array_equal(C.indices, expected.indices)
    assert_array_equal(C.toarray(), expected.toarray())


def test_inputs_are_left_as_they_are(rng):
    """Repeated entries of dtypes the kernels do not take are summed on a copy, never in the
    caller's arrays (to_bsr on the way to BSR products)."""
    A = sp.csr_array((np.array([1, 2, 3, 4, 5, 6]), np.array([1, 1, 0, 1, 2, 3]), np.array([0, 3, 4, 5, 6])),
                     shape=(4, 4))
    P = sp.bsr_array(np.arange(8).reshape(4, 2), blocksize=(2, 2))
    R = P.T.tobsr()
    before = [x.copy() for x in (A.indptr, A.indices, A.data)]
    pynla.ptap(A, P)
    pynla.rap(R, A, P)
    for got, want in zip((A.indptr, A.indices, A.data), before):
        assert_array_equal(got, want)


@pytest.mark.parametrize("order", [">", "<"])
def test_byte_orders(rng, order):
    A = symmetric_csr(rng, 40, 0.1)
    P = aggregation(rng, 40, 6, smoothing=A)
    swapped = [M.copy() for M in (A, P)]
    for M in swapped:  # SciPy's astype refuses a byte order, but keeps arrays set so
        M.data = M.data.astype(np.dtype(np.float64).newbyteorder(order))
    assert swapped[0].dtype.isnative == (order == "<")
    for C in (pynla.ptap(*swapped), pynla.ptap_plan(*swapped)(*swapped)):
        assert_close_to_scipy(C, A, P)
        assert_exactly_symmetric(C)


def test_plan_checks_a_malformed_P_before_transposing_it():
    A = sp.csr_array(np.eye(4))
    P = sp.bsr_array(np.ones((4, 2)), blocksize=(2, 1))
    bad = P.copy()
    bad.indices[1] = 50
    with pytest.raises(ValueError, match="P.indices has index 50 out of range"):
        pynla.ptap_plan(A, bad)
    plan = pynla.ptap_plan(A, P)
    with pytest.raises(ValueError, match="P.indices has index 50 out of range"):
        plan(A, bad)


def test_plan_refuses_out_sharing_As_values(rng):
    A = symmetric_csr(rng, 30, 0.1)
    P = sp.csr_array(sp.eye_array(30))  # C has A's pattern
    plan = pynla.ptap_plan(A, P)
    with pytest.raises(ValueError, match="out shares memory with the values of A"):
        plan(A, P, out=A)
