"""Sketch operators (CountSketch, SparseSignSketch, SRHT, GaussianSketch) against dense NumPy
references and SciPy: their distributions, S @ A for dense and sparse A of every layout, format
and dtype, the LinearOperator interface, thread-count independence and bad input."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import pynla
from tests.conftest import (
    FORMATS,
    INDEX_DTYPES,
    KERNEL_DTYPES,
    SEED,
    csr_from_row_lengths,
    power_law_csr,
    random_csr,
    random_values,
)

SKETCHES = {
    "countsketch": lambda m, n, rng, dtype=np.float64: pynla.CountSketch(m, n, rng=rng, dtype=dtype),
    "sparse_sign": lambda m, n, rng, dtype=np.float64: pynla.SparseSignSketch(
        m, n, nonzeros_per_column=min(3, m), rng=rng, dtype=dtype),
    "srht": lambda m, n, rng, dtype=np.float64: pynla.SRHT(m, n, rng=rng, dtype=dtype),
    "gaussian": lambda m, n, rng, dtype=np.float64: pynla.GaussianSketch(m, n, rng=rng, dtype=dtype),
}


def real(dtype):
    """The real dtype of dtype: S's dtype for S @ A in A's dtype."""
    return np.finfo(dtype).dtype
SPARSE_SKETCHES = ["countsketch", "sparse_sign"]


def tolerance(dtype):
    return 1e-4 if np.dtype(dtype).char in "fF" else 1e-12


def random_dense(rng, shape, dtype=np.float64):
    return random_values(rng, int(np.prod(shape)), dtype).reshape(shape)


def reference(S, A):
    """S @ A from S's dense matrix (in long double for real inputs, so that only pynla rounds)."""
    return S.toarray() @ (A.toarray() if sp.issparse(A) else np.asarray(A))


# ---------------------------------------------------------------------------------------------
# Distributions


def test_countsketch_has_one_signed_unit_per_column():
    S = pynla.CountSketch(50, 4000, rng=SEED).toarray()
    assert_array_equal(np.count_nonzero(S, axis=0), 1)
    assert set(np.unique(S)) == {-1.0, 0.0, 1.0}


def test_countsketch_rows_and_signs_are_uniform():
    """Chi-square of the row counts over 200 000 columns, and the sign balance: a biased draw
    (say rows from the high bits of a small product) fails both by a wide margin."""
    m, n = 40, 200_000
    S = pynla.CountSketch(m, n, rng=SEED)
    counts = np.bincount(S.rows, minlength=m)
    chi_square = np.sum((counts - n / m) ** 2 / (n / m))
    assert chi_square < 80  # 39 degrees of freedom: P(chi2 > 80) < 1e-4
    assert abs(int(np.sum(S.signs)) / n) < 0.01  # 4.5 standard deviations
    assert abs(np.corrcoef(S.rows, S.signs)[0, 1]) < 0.01


@pytest.mark.parametrize("k", [1, 2, 8, 12])
def test_sparse_sign_columns_have_k_distinct_rows(k):
    m, n = 12, 3000
    S = pynla.SparseSignSketch(m, n, nonzeros_per_column=k, rng=SEED)
    rows = S.rows.reshape(n, k)
    assert all(len(set(r)) == k for r in rows)
    D = S.toarray()
    assert_array_equal(np.count_nonzero(D, axis=0), k)
    assert_allclose(np.unique(np.abs(D[D != 0])), [1 / np.sqrt(k)])
    # Every row is equally likely: each appears in k/m of the columns.
    counts = np.bincount(S.rows, minlength=m)
    assert np.all(np.abs(counts - n * k / m) < 5 * np.sqrt(n * k / m))


@pytest.mark.parametrize("name", SKETCHES)
def test_sketches_preserve_norms_on_average(name):
    """E ||S x||^2 = ||x||^2 for every sketch here, and over 300 seeds ||S x|| / ||x|| stays
    within the distortion expected of m = 400 rows: the check fails for a wrong scale (a factor
    sqrt(k) or sqrt(n2/n) off) or a sketch that drops rows."""
    rng = np.random.default_rng(SEED)
    n, m = 700, 400
    x = rng.standard_normal(n)
    spiky = np.zeros(n)
    spiky[3] = 1.0
    for vector in (x, spiky):
        ratios = np.array([np.linalg.norm(SKETCHES[name](m, n, seed) @ vector) / np.linalg.norm(vector)
                           for seed in range(300)])
        assert abs(np.mean(ratios**2) - 1) < 0.03
        assert np.max(np.abs(ratios - 1)) < 0.35


def test_srht_rows_are_orthogonal():
    S = pynla.SRHT(16, 64, rng=SEED).toarray()
    assert_allclose(S @ S.T, 4 * np.eye(16), atol=1e-12)


@pytest.mark.parametrize("name", SKETCHES)
def test_same_seed_same_sketch(name):
    first, second = SKETCHES[name](30, 200, SEED).toarray(), SKETCHES[name](30, 200, SEED).toarray()
    assert_array_equal(first, second)
    generator = np.random.default_rng(SEED)
    assert not np.array_equal(SKETCHES[name](30, 200, generator).toarray(), SKETCHES[name](30, 200, generator).toarray())


# ---------------------------------------------------------------------------------------------
# Column blocks (S.columns), which sketch A by row blocks


@pytest.mark.parametrize("name", SKETCHES)
@pytest.mark.parametrize("n, cuts", [(1000, [300, 301]), (1024, [1, 2, 3, 517, 999]), (7, []), (1, [])])
@pytest.mark.parametrize("dtype", [np.float64, np.complex64, np.longdouble])
def test_column_blocks_sum_to_the_sketch(name, n, cuts, dtype):
    """Sketching A's row blocks with S's matching columns and adding gives S @ A; the blocks'
    adjoints stack to S^H Y; a block of a block is the block of S."""
    rng = np.random.default_rng(SEED)
    S = SKETCHES[name](min(n, 30), n, SEED)
    A, Y = random_dense(rng, (n, 3), dtype), random_dense(rng, (S.shape[0], 2), dtype)
    bounds = list(zip([0, *cuts], [*cuts, n]))
    parts = sum(S.columns(start, stop) @ A[start:stop] for start, stop in bounds)
    assert_allclose(parts, S @ A, rtol=tolerance(dtype), atol=tolerance(dtype) * np.abs(S @ A).max())
    adjoint = np.vstack([S.columns(start, stop).H @ Y for start, stop in bounds])
    assert_allclose(adjoint, S.H @ Y, rtol=tolerance(dtype), atol=tolerance(dtype) * np.abs(S.H @ Y).max())
    start, stop = n // 5, n - n // 4
    inner = S.columns(start, stop).columns(1, stop - start) if stop - start > 1 else S.columns(start, stop)
    offset = 1 if stop - start > 1 else 0
    assert_allclose(inner.toarray(), S.toarray()[:, start + offset:stop], rtol=1e-15, atol=1e-15)
    assert type(S.columns(0, n)) is type(S) or name == "srht"


@pytest.mark.parametrize("name", ["countsketch", "sparse_sign"])
def test_sparse_sign_column_blocks_are_the_same_draws(name):
    S = SKETCHES[name](40, 5000, SEED)
    block = S.columns(1234, 4321)
    assert_array_equal(block.rows, S.rows.reshape(5000, -1)[1234:4321].ravel())
    assert_array_equal(block.signs, S.signs.reshape(5000, -1)[1234:4321].ravel())


@pytest.mark.parametrize("start, stop", [(-1, 3), (3, 2), (0, 11), (0.5, 3)])
def test_column_block_bounds_are_checked(start, stop):
    with pytest.raises(ValueError, match="columns needs integers"):
        pynla.CountSketch(4, 10, rng=0).columns(start, stop)


# ---------------------------------------------------------------------------------------------
# S @ dense A


@pytest.mark.parametrize("name", SKETCHES)
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
@pytest.mark.parametrize("layout", ["C", "F", "rows strided", "columns strided", "1-D", "1-D strided"])
def test_dense_product_matches_reference(name, dtype, layout):
    rng = np.random.default_rng(SEED)
    n, d = 300, 13
    S = SKETCHES[name](37, n, SEED, real(dtype))
    A = random_dense(rng, (2 * n, 2 * d), dtype)
    A = {"C": np.ascontiguousarray(A[:n, :d]), "F": np.asfortranarray(A[:n, :d]), "rows strided": A[::2, :d],
         "columns strided": A[:n, ::2][:, :d], "1-D": np.ascontiguousarray(A[:n, 0]), "1-D strided": A[::2, 1]}[layout]
    Y = S @ A
    assert Y.dtype == dtype and Y.shape == (37,) + A.shape[1:]
    assert_allclose(Y, reference(S, A), rtol=tolerance(dtype), atol=tolerance(dtype) * 10)


@pytest.mark.parametrize("name", SPARSE_SKETCHES)
# S @ A in cache (summed in parts); not, with many rows (gathered); not, with few rows (column blocks
# for more than one nonzero per column of S, else gathered)
@pytest.mark.parametrize("shape", [(500, 21, 29), (700, 1100, 600), (300, 6100, 100)])
def test_sparse_sketch_of_dense_matches_scipy(name, shape):
    """Every loop order (rows contiguous with a small or a large result, columns contiguous,
    strided) agrees with SciPy's product by S's sparse matrix."""
    rng = np.random.default_rng(SEED)
    n, d, m = shape
    S = SKETCHES[name](m, n, SEED)
    A = rng.standard_normal((n, d))
    expected = S.tosparse() @ A
    wide = np.zeros((n, 2 * d))
    wide[:, ::2] = A
    for layout in (A, np.asfortranarray(A), wide[:, ::2]):
        assert_allclose(S @ layout, expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", SKETCHES)
@pytest.mark.parametrize("shape", [(0, 4), (5, 0), (1, 1), (1, 7), (64, 1), (9, 40)])
def test_dense_edge_shapes(name, shape):
    rng = np.random.default_rng(SEED)
    n = shape[0]
    m = 1 if name == "srht" else 3
    if name == "srht" and n == 0:
        with pytest.raises(ValueError, match="sketch_size"):
            SKETCHES[name](m, n, SEED)
        return
    S = SKETCHES[name](m, n, SEED)
    A = rng.standard_normal(shape)
    assert_allclose(S @ A, reference(S, A), atol=1e-12)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_integer_and_bool_inputs_are_sketched_in_float64(dtype):
    rng = np.random.default_rng(SEED)
    A = random_values(rng, 200, dtype).reshape(50, 4)
    for name in SKETCHES:
        S = SKETCHES[name](10, 50, SEED)
        Y = S @ A
        assert Y.dtype == np.float64
        assert_allclose(Y, reference(S, A.astype(np.float64)), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# S @ sparse A


def sparse_reference(S, A):
    """S @ A by SciPy's own product with S's sparse matrix (float64)."""
    return (S.tosparse() @ sp.csr_array(A)).tocsr()


@pytest.mark.parametrize("name", SPARSE_SKETCHES)
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("source", ["csr", "csc"])
def test_sparse_product_matches_scipy(name, dtype, index_dtype, source):
    rng = np.random.default_rng(SEED)
    A = random_csr(rng, (400, 90), 0.05, dtype, index_dtype=index_dtype)
    A = A if source == "csr" else A.tocsc()
    S = SKETCHES[name](23, 400, SEED, real(dtype))
    Y = S @ A
    assert Y.format == source and isinstance(Y, sp.sparray) and Y.dtype == dtype
    assert Y.has_canonical_format
    Y = Y.tocsr()
    expected = sparse_reference(S, A)
    assert_array_equal(Y.indptr, expected.indptr)
    assert_array_equal(Y.indices, expected.indices)
    scale = np.abs(expected.data).max(initial=1.0)
    assert_allclose(Y.data, expected.data, rtol=tolerance(dtype), atol=tolerance(dtype) * scale)


@pytest.mark.parametrize("name", SPARSE_SKETCHES)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("container", [sp.csr_array, sp.csr_matrix])
def test_sparse_product_every_format(name, fmt, container):
    rng = np.random.default_rng(SEED)
    A = FORMATS[fmt](container(random_csr(rng, (60, 30), 0.1)))
    S = SKETCHES[name](8, 60, SEED)
    Y = S @ A
    assert isinstance(Y, sp.sparray) == isinstance(A, sp.sparray)
    assert Y.format == ("csc" if fmt == "csc" else "csr")
    assert_allclose(Y.toarray(), reference(S, A), atol=1e-12)


@pytest.mark.parametrize("name", SPARSE_SKETCHES)
@pytest.mark.parametrize("structure", ["unsorted", "duplicates", "empty rows", "dense row", "power law", "empty"])
def test_sparse_product_structures(name, structure):
    rng = np.random.default_rng(SEED)
    n, d = 300, 50
    if structure == "power law":
        A = power_law_csr(rng, (n, d))
    elif structure == "empty":
        A = sp.csr_array((n, d))
    else:
        lengths = rng.integers(0, 6, n)
        if structure == "empty rows":
            lengths[::3] = 0
        if structure == "dense row":
            lengths[7] = d
        A = csr_from_row_lengths(rng, lengths, d, unsorted=structure == "unsorted", duplicates=structure == "duplicates")
    S = SKETCHES[name](17, n, SEED)
    for source in (A, A.tocsc()):
        Y = S @ source
        assert Y.has_canonical_format
        assert_allclose(Y.toarray(), reference(S, A), atol=1e-12)


@pytest.mark.parametrize("source", ["csr", "csc"])
def test_sparse_product_drops_exact_cancellation(source):
    """With one row, S adds A's two rows signed: rows chosen to cancel in their first column give
    an exact zero there, which SciPy drops, and so does pynla."""
    S = pynla.CountSketch(1, 2, rng=SEED)
    A = sp.csr_array(np.array([[1.0, 2.0], [-1.0, 5.0]]) * S.signs[:, None])  # S A = [0, 7]
    Y = S @ (A if source == "csr" else A.tocsc())
    assert Y.nnz == 1 and Y.nnz == sparse_reference(S, A).nnz
    assert_array_equal(Y.toarray(), [[0.0, 7.0]])


@pytest.mark.parametrize("name", ["srht", "gaussian"])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_dense_sketches_of_sparse_are_dense(name, fmt):
    rng = np.random.default_rng(SEED)
    A = FORMATS[fmt](random_csr(rng, (120, 40), 0.1, np.float32))
    S = SKETCHES[name](16, 120, SEED, np.float32)
    Y = S @ A
    assert isinstance(Y, np.ndarray) and Y.dtype == np.float32
    assert_allclose(Y, reference(S, A.astype(np.float64)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_widest_kernel_input_with_few_entries_per_row(dtype):
    """2^24 columns, the widest the kernels take, with a few entries per row of S A (with
    repeats, to be summed): rows are sorted, as no accumulator that wide is allocated; same
    entries as SpGEMM with S's sparse matrix, from CSR and CSC."""
    rng = np.random.default_rng(SEED)
    n, d, nnz = 3000, 1 << 24, 400
    columns = rng.integers(0, d, nnz)
    columns[::4] = columns[1::4]  # repeated columns, in different rows of A
    values = (rng.standard_normal(nnz) + (1j * rng.standard_normal(nnz) if dtype == np.complex128 else 0)).astype(dtype)
    A = sp.csr_array((values, (rng.integers(0, n, nnz), columns)), shape=(n, d))
    S = pynla.CountSketch(7, n, rng=SEED, dtype=real(dtype))
    expected = sp.csr_array(S.tosparse().astype(dtype) @ A)
    for source in (A, A.tocsc()):
        Y = S @ source
        assert Y.dtype == dtype and Y.shape == (7, d) and Y.has_canonical_format
        assert abs(sp.csr_array(Y) - expected).max() <= 4 * np.finfo(dtype).eps * abs(A).max()


@pytest.mark.parametrize("container", [sp.csr_array, sp.csr_matrix])
def test_very_wide_sparse_input_goes_through_spgemm(container):
    """A result wider than the kernels' per-thread accumulator (2^24 columns) is computed by
    SpGEMM with S's sparse matrix: same entries, same kind of container."""
    rng = np.random.default_rng(SEED)
    n, d = 40, (1 << 24) + 5
    A = container((rng.standard_normal(60), (rng.integers(0, n, 60), rng.integers(0, d, 60))), shape=(n, d))
    S = pynla.CountSketch(3, n, rng=SEED)
    Y = S @ A
    assert isinstance(Y, sp.sparray) == isinstance(A, sp.sparray) and Y.shape == (3, d)
    assert abs(sp.csr_array(Y) - sp.csr_array(S.tosparse() @ A)).max() == 0


def test_malformed_sparse_input_is_rejected():
    A = sp.csr_array((np.ones(3), np.array([0, 1, 9]), np.array([0, 2, 3])), shape=(2, 4))
    with pytest.raises(ValueError, match="A.indices"):
        pynla.CountSketch(3, 2, rng=SEED) @ A
    A = sp.csr_array((np.ones(3), np.array([0, 1, 2]), np.array([0, 3, 2])), shape=(2, 4))
    with pytest.raises(ValueError, match="A"):
        pynla.SparseSignSketch(3, 2, nonzeros_per_column=2, rng=SEED) @ A


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 60), d=st.integers(0, 12), m=st.integers(1, 9), k=st.integers(1, 4),
    density=st.floats(0, 1), seed=st.integers(0, 2**32 - 1), column_major=st.booleans(),
)  # fmt: skip
def test_sparse_sign_on_random_structures(n, d, m, k, density, seed, column_major):
    rng = np.random.default_rng(seed)
    k = min(k, m)
    A = random_csr(rng, (n, d), density, duplicates=True, unsorted=True)
    S = pynla.SparseSignSketch(m, n, nonzeros_per_column=k, rng=seed)
    Y = S @ (A.tocsc() if column_major else A)
    assert_allclose(Y.toarray(), reference(S, A), atol=1e-12)
    dense = A.toarray()
    assert_allclose(S @ (np.asfortranarray(dense) if column_major else dense), reference(S, A), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Threads


@pytest.mark.parametrize("name", SKETCHES)
def test_results_do_not_depend_on_thread_count(name, threads):
    rng = np.random.default_rng(SEED)
    n = 5000
    A = rng.standard_normal((n, 40))
    As = random_csr(rng, (n, 300), 0.01)
    results = []
    for count in (1, 2, 3):
        threads(count)
        S = SKETCHES[name](300, n, SEED)
        run = [S.toarray()[:, :50], S @ A, S @ np.asfortranarray(A), S @ A[:, 0], S.T @ A[:300]]
        if name in SPARSE_SKETCHES:
            run += [(S @ As).toarray(), (S @ As.tocsc()).toarray()]
        results.append(run)
    for other in results[1:]:
        for first, second in zip(results[0], other):
            assert_array_equal(first, second)


# ---------------------------------------------------------------------------------------------
# LinearOperator


@pytest.mark.parametrize("name", SKETCHES)
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_linear_operator_interface(name, dtype):
    rng = np.random.default_rng(SEED)
    S = SKETCHES[name](12, 80, SEED)
    D = S.toarray()
    assert isinstance(S, spla.LinearOperator) and S.shape == (12, 80)
    x, y = random_dense(rng, (80,), dtype), random_dense(rng, (12,), dtype)
    X, Y = random_dense(rng, (80, 3), dtype), random_dense(rng, (12, 3), dtype)
    assert_allclose(S.matvec(x), D @ x, atol=1e-12)
    assert_allclose(S.rmatvec(y), D.T @ y, atol=1e-12)
    assert_allclose(S.matmat(X), D @ X, atol=1e-12)
    assert_allclose(S.rmatmat(Y), D.T @ Y, atol=1e-12)
    assert_allclose(S.T @ y, D.T @ y, atol=1e-12)
    assert_allclose(S.H @ Y, D.T @ Y, atol=1e-12)
    product = S @ spla.aslinearoperator(np.eye(80))
    assert isinstance(product, spla.LinearOperator)
    assert_allclose(product @ x, D @ x, atol=1e-12)


def test_sketch_as_lsqr_operator():
    """A sketch is an ordinary LinearOperator to SciPy's solvers: lsqr on S A x = S b."""
    rng = np.random.default_rng(SEED)
    A = rng.standard_normal((400, 5))
    b = rng.standard_normal(400)
    S = pynla.SparseSignSketch(60, 400, rng=SEED)
    operator = S @ spla.aslinearoperator(A)
    x = spla.lsqr(operator, S @ b, atol=1e-14, btol=1e-14)[0]
    assert_allclose(x, np.linalg.lstsq(S @ A, S @ b, rcond=None)[0], rtol=1e-8)


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("name", SKETCHES)
def test_bad_sizes(name):
    make = SKETCHES[name]
    with pytest.raises(ValueError, match="sketch_size"):
        make(0, 10, SEED)
    with pytest.raises(ValueError, match="n must be"):
        make(3, -1, SEED)
    with pytest.raises(TypeError, match="sketch_size"):
        make(2.5, 10, SEED)
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        make(3, 10, SEED, np.complex128)
    S = make(3, 10, SEED)
    with pytest.raises(ValueError, match="dimension mismatch"):  # SciPy's LinearOperator messages
        S @ np.ones((11, 2))
    with pytest.raises(ValueError, match="expected 1-d or 2-d"):
        S @ np.ones((10, 2, 2))
    with pytest.raises(ValueError, match="dimension mismatch"):
        S @ sp.csr_array((9, 2))
    with pytest.raises(TypeError, match="X has dtype object"):
        S @ np.ones((10, 2), dtype=object)


def test_sketch_specific_limits():
    with pytest.raises(ValueError, match="nonzeros_per_column"):
        pynla.SparseSignSketch(3, 10, nonzeros_per_column=4)
    with pytest.raises(ValueError, match="nonzeros_per_column"):
        pynla.SparseSignSketch(3, 10, nonzeros_per_column=0)
    with pytest.raises(ValueError, match="sketch_size=11 exceeds n=10"):
        pynla.SRHT(11, 10)
