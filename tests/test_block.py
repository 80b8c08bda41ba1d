"""Block sparse row (BSR) kernels against dense NumPy references: bsr_matmul (A X and A^T X),
BSR x BSR spgemm, to_bsr, choose_blocksize, bsr_from_blocks, block_diagonal_inverse and the
BSR LinearOperator."""

import copy

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import pynla
from tests.conftest import INDEX_DTYPES, KERNEL_DTYPES, SEED

#: Block shapes: 1x1, the unrolled shapes and two that take the generic path (5x7, 2x9).
BLOCK_SHAPES = [(1, 1), (2, 3), (3, 2), (3, 3), (4, 4), (6, 6), (8, 8), (9, 9), (16, 16), (5, 7), (2, 9)]
#: Columns of X: 1-D, one column, fewer than a run of lanes, whole runs, runs plus a tail.
WIDTHS = [None, 1, 3, 8, 13, 64]


def tolerance(dtype):
    return 2e-4 if np.dtype(dtype).char in "fF" else 1e-11


def random_bsr(rng, grid, blocksize, density, dtype=np.float64, index_dtype=np.int32, *, unsorted=False,
               repeats=0, kind=sp.bsr_array):
    """A BSR matrix on a block grid, built from its arrays: blocks at random places (unsorted
    within block rows if asked), plus ``repeats`` blocks listed twice (they add up)."""
    n_block_rows, n_block_cols = grid
    mask = sp.random_array(grid, density=density, rng=rng, format="csr")
    rows = np.repeat(np.arange(n_block_rows), np.diff(mask.indptr))
    cols = mask.indices.astype(np.int64)
    if repeats and len(cols):
        pick = rng.integers(0, len(cols), repeats)
        rows, cols = np.concatenate([rows, rows[pick]]), np.concatenate([cols, cols[pick]])
    order = np.lexsort((rng.random(len(cols)) if unsorted else cols, rows))
    rows, cols = rows[order], cols[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_block_rows))])
    data = random_blocks(rng, len(cols), blocksize, dtype)
    shape = (n_block_rows * blocksize[0], n_block_cols * blocksize[1])
    return kind((data, cols.astype(index_dtype), indptr.astype(index_dtype)), shape=shape, blocksize=blocksize)


def random_blocks(rng, n, blocksize, dtype):
    values = rng.standard_normal((n, *blocksize))
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.standard_normal((n, *blocksize))
    return values.astype(dtype)


def random_dense(rng, shape, dtype):
    if len(shape) == 2:
        return random_blocks(rng, 1, shape, dtype)[0]
    return random_blocks(rng, 1, (shape[0], 1), dtype)[0, :, 0]


def dense(A):
    """A's values as a dense array, repeats added (SciPy's toarray adds them)."""
    return A.toarray()


# ---------------------------------------------------------------------------------------------
# bsr_matmul


@pytest.mark.parametrize("blocksize", BLOCK_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_matmul_matches_dense(rng, blocksize, dtype):
    A = random_bsr(rng, (7, 5), blocksize, 0.4, dtype)
    for k in WIDTHS:
        for transpose in (False, True):
            n = A.shape[0] if transpose else A.shape[1]
            X = random_dense(rng, (n,) if k is None else (n, k), dtype)
            expected = (dense(A).T if transpose else dense(A)) @ X
            Y = pynla.bsr_matmul(A, X, transpose=transpose)
            assert Y.dtype == dtype and Y.shape == expected.shape and Y.flags.c_contiguous
            assert_allclose(Y, expected, rtol=tolerance(dtype), atol=tolerance(dtype) * 10)


@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("grid", [(0, 0), (0, 4), (4, 0), (1, 1), (30, 2), (2, 30)], ids=str)
def test_matmul_shapes(rng, grid, index_dtype):
    """Empty, 1x1, tall and wide block grids, int32 and int64 indices."""
    A = random_bsr(rng, grid, (3, 2), 0.5, index_dtype=index_dtype)
    for transpose in (False, True):
        n = A.shape[0] if transpose else A.shape[1]
        for X in (rng.standard_normal(n), rng.standard_normal((n, 11)), np.zeros((n, 0))):
            Y = pynla.bsr_matmul(A, X, transpose=transpose)
            assert_allclose(Y, (dense(A).T if transpose else dense(A)) @ X, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("transpose", [False, True])
def test_matmul_structures(rng, transpose):
    """Unsorted and repeated blocks, empty block rows and a dense block row."""
    A = random_bsr(rng, (40, 30), (4, 4), 0.05, unsorted=True, repeats=25)
    dense_row = sp.bsr_array((random_blocks(rng, 30, (4, 4), np.float64), np.arange(30), np.array([0, 30])),
                             shape=(4, 120))
    empty_rows = sp.bsr_array((40, 120), blocksize=(4, 4))
    A = sp.vstack([empty_rows, A, dense_row, empty_rows], format="bsr")
    A = sp.bsr_array((A.data, A.indices, A.indptr), shape=A.shape)
    assert np.diff(A.indptr).max() == 30 and np.diff(A.indptr).min() == 0
    n = A.shape[0] if transpose else A.shape[1]
    X = rng.standard_normal((n, 20))
    expected = (dense(A).T if transpose else dense(A)) @ X
    assert_allclose(pynla.bsr_matmul(A, X, transpose=transpose), expected, rtol=1e-12, atol=1e-12)


def test_matmul_layouts(rng):
    """X in C order, Fortran order, strided, and as a list; spmatrix A."""
    A = random_bsr(rng, (9, 6), (3, 3), 0.4, kind=sp.bsr_matrix)
    X = rng.standard_normal((18, 10))
    expected = dense(A) @ X
    for variant in (X, np.asfortranarray(X), rng.standard_normal((18, 20))[:, ::2], X.tolist()):
        variant_expected = dense(A) @ np.asarray(variant)
        assert_allclose(pynla.bsr_matmul(A, variant), variant_expected, rtol=1e-12, atol=1e-12)
    assert_allclose(pynla.bsr_matmul(A, X), expected, rtol=1e-12)


def test_matmul_mixed_and_scipy_dtypes(rng):
    """The result dtype is NumPy's result type; dtypes outside the kernels give SciPy's answer."""
    A = random_bsr(rng, (6, 4), (2, 2), 0.5, np.float32)
    X = rng.standard_normal((8, 3))
    Y = pynla.bsr_matmul(A, X)
    assert Y.dtype == np.float64
    assert_allclose(Y, dense(A).astype(np.float64) @ X, rtol=1e-6)
    A_int = sp.bsr_array((rng.integers(-3, 4, A.data.shape), A.indices, A.indptr), shape=A.shape)
    X_int = rng.integers(-3, 4, (8, 3))
    assert_array_equal(pynla.bsr_matmul(A_int, X_int), A_int @ X_int)
    assert_array_equal(pynla.bsr_matmul(A_int, X_int[:, 0]), A_int @ X_int[:, 0])


@pytest.mark.parametrize("transpose", [False, True])
def test_matmul_same_bits_for_any_thread_count(rng, threads, transpose):
    A = random_bsr(rng, (300, 200), (8, 8), 0.05, unsorted=True, repeats=100)
    n = A.shape[0] if transpose else A.shape[1]
    results = []
    for n_threads in (1, 2, 3):
        threads(n_threads)
        results.append([pynla.bsr_matmul(A, rng_x, transpose=transpose)
                        for rng_x in (np.ones(n), np.linspace(-1, 1, n * 37).reshape(n, 37))])
    for other in results[1:]:
        for mine, theirs in zip(results[0], other):
            assert_array_equal(mine, theirs)


@pytest.mark.parametrize("blocksize, dtype", [((1, 1), np.float64), ((2, 3), np.float64), ((4, 4), np.float64),
                                             ((1, 1), np.float32), ((2, 3), np.complex128)], ids=str)
def test_matmul_transpose_of_tall_matrices(rng, threads, blocksize, dtype):
    """A tall A with few columns: A^T X is summed by ranges of block rows (fixed by A alone),
    which stays close to the dense product and gives the same bits on 1, 2 and 3 threads."""
    A = random_bsr(rng, (50_000, 6), blocksize, 0.5, dtype, unsorted=True, repeats=500)
    assert A.shape[0] >= 8 * A.shape[1] and A.nnz > 1 << 17  # several ranges
    for X in (rng.standard_normal(A.shape[0]), rng.standard_normal((A.shape[0], 5))):
        X = X.astype(dtype)
        expected = dense(A).T @ X
        results = []
        for n_threads in (1, 2, 3):
            threads(n_threads)
            results.append(pynla.bsr_matmul(A, X, transpose=True))
        assert_allclose(results[0], expected, rtol=tolerance(dtype), atol=tolerance(dtype) * 10)
        for other in results[1:]:
            assert_array_equal(results[0], other)
    # The operator's transposed products take the same path, and build no block-column listing.
    operator = pynla.aslinearoperator(A)
    X = rng.standard_normal((A.shape[0], 3)).astype(dtype)
    assert_array_equal(operator.rmatmat(X), pynla.bsr_matmul(A, X.conj(), transpose=True).conj())
    assert operator._columns is None


def test_matmul_bad_input(rng):
    A = random_bsr(rng, (4, 3), (2, 2), 0.5)
    with pytest.raises(TypeError, match="A must be a BSR"):
        pynla.bsr_matmul(A.tocsr(), np.ones(6))
    with pytest.raises(TypeError, match="A must be a SciPy sparse"):
        pynla.bsr_matmul(A.toarray(), np.ones(6))
    with pytest.raises(ValueError, match="X has shape"):
        pynla.bsr_matmul(A, np.ones(5))
    with pytest.raises(ValueError, match="X has shape"):
        pynla.bsr_matmul(A, np.ones(6), transpose=True)
    with pytest.raises(ValueError, match="X has shape"):
        pynla.bsr_matmul(A, np.ones((6, 2, 2)))


def malformed_bsr_variants(A):
    """(description, BSR with broken structure, expected message part) for a valid BSR A."""
    def broken(**arrays):
        B = A.copy()
        for name, value in arrays.items():
            setattr(B, name, value)
        return B

    indptr = A.indptr.copy()
    indptr[1], indptr[2] = indptr[2], indptr[1] - 1
    indices = A.indices.copy()
    indices[0] = A.shape[1] // A.blocksize[1]
    return [
        ("decreasing indptr", broken(indptr=indptr), "non-decreasing"),
        ("block column out of range", broken(indices=indices), "out of range"),
        ("short indices", broken(indices=A.indices[:-1]), "differ"),
        # SciPy takes the blocksize from data: other blocks make the grid and indptr disagree.
        ("data of the wrong block shape", broken(data=A.data[:, :1, :]), r"A\.(data|indptr)"),
        ("indptr[0] != 0", broken(indptr=A.indptr + 1), "indptr"),
    ]


def with_index_arrays(A, indptr_dtype, indices_dtype, *, byte_order="=", strided=False):
    """A copy of BSR A with its indptr and indices in the given dtypes and byte order, and
    (``strided``) as every other element of an array twice as long."""
    def layout(values, dtype):
        values = values.astype(np.dtype(dtype).newbyteorder(byte_order))
        if not strided:
            return values
        spread = np.empty(2 * len(values), values.dtype)
        spread[::2] = values
        return spread[::2]

    B = copy.copy(A)  # not A.copy(): SciPy's would check (and refuse) a malformed A
    B.indptr, B.indices = layout(A.indptr, indptr_dtype), layout(A.indices, indices_dtype)
    return B


@pytest.mark.parametrize("layout", [(np.int64, np.int32, "=", False), (np.int32, np.int64, "=", False),
                                    (np.int16, np.uint8, "=", False), (np.int32, np.int32, ">", False),
                                    (np.int64, np.int64, "=", True), (np.uint64, np.int32, "<", True)], ids=str)
@pytest.mark.parametrize("transpose", [False, True])
def test_matmul_index_layouts(rng, layout, transpose):
    """Index arrays of other dtypes, byte orders and strides multiply as int32/int64 ones do."""
    A = random_bsr(rng, (6, 5), (2, 3), 0.5, unsorted=True, repeats=3)
    B = with_index_arrays(A, *layout[:2], byte_order=layout[2], strided=layout[3])
    X = rng.standard_normal((A.shape[0] if transpose else A.shape[1], 3))
    assert_array_equal(pynla.bsr_matmul(B, X, transpose=transpose), pynla.bsr_matmul(A, X, transpose=transpose))


@pytest.mark.parametrize("case", range(5))
def test_malformed_bsr_is_rejected(rng, case):
    A = random_bsr(rng, (5, 4), (2, 3), 0.6)
    description, B, message = malformed_bsr_variants(A)[case]
    calls = {
        "bsr_matmul": lambda: pynla.bsr_matmul(B, np.ones(12)),
        "bsr_matmul transposed": lambda: pynla.bsr_matmul(B, np.ones(10), transpose=True),
        "bsr_matmul int64 indptr": lambda: pynla.bsr_matmul(with_index_arrays(B, np.int64, np.int32), np.ones(12)),
        "aslinearoperator": lambda: pynla.aslinearoperator(B),
        "spgemm": lambda: pynla.spgemm(B, random_bsr(rng, (4, 2), (3, 3), 0.5)),
        "to_bsr": lambda: pynla.to_bsr(B, blocksize=(1, 1)),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=message):
            call()


# ---------------------------------------------------------------------------------------------
# BSR x BSR


@pytest.mark.parametrize("shapes", [((3, 3), (3, 3)), ((2, 3), (3, 2)), ((3, 2), (2, 3)), ((8, 8), (8, 8)),
                                    ((5, 7), (7, 2)), ((1, 1), (1, 1))], ids=str)
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_bsr_product_matches_dense(rng, shapes, dtype):
    (r, k), (k2, s) = shapes
    A = random_bsr(rng, (9, 6), (r, k), 0.3, dtype, unsorted=True, repeats=4)
    B = random_bsr(rng, (6, 7), (k2, s), 0.3, dtype, unsorted=True, repeats=4)
    C = pynla.spgemm(A, B)
    assert C.format == "bsr" and C.blocksize == (r, s) and C.dtype == dtype and C.has_canonical_format
    assert np.all(np.diff(C.indices[C.indptr[0]:C.indptr[1]]) > 0)
    assert_allclose(C.toarray(), dense(A) @ dense(B), rtol=tolerance(dtype), atol=tolerance(dtype) * 10)
    # The same blocks as SciPy's product (it keeps blocks that sum to zero too).
    expected = A @ B
    expected.sort_indices()
    assert_array_equal(C.indptr, expected.indptr)
    assert_array_equal(C.indices, expected.indices)


@pytest.mark.parametrize("kind", [sp.bsr_array, sp.bsr_matrix])
def test_bsr_product_of_1x1_blocks_drops_zero_sums_as_scipy(kind):
    """SciPy multiplies 1 x 1 blocks as CSR, dropping entries that sum to zero (the issue's case:
    nnz 3, not 4); B with (k, 1) blocks is first re-blocked to 1 x 1, as SciPy does."""
    A = kind(np.array([[1.0, 1.0], [0.0, 1.0]]), blocksize=(1, 1))
    B = kind(np.array([[1.0, 0.0], [-1.0, 1.0]]), blocksize=(1, 1))
    for right in (B, kind(B.toarray(), blocksize=(2, 1))):
        C, expected = pynla.spgemm(A, right), A @ right
        expected.sort_indices()
        assert type(C) is type(expected) and C.blocksize == (1, 1) and C.nnz == expected.nnz == 3
        assert_array_equal(C.indptr, expected.indptr)
        assert_array_equal(C.indices, expected.indices)
        assert_array_equal(C.data, expected.data)


def test_bsr_product_kinds_and_reblocking(rng):
    """spmatrix in, spmatrix out; B whose blocks do not meet A's is re-blocked, as SciPy does."""
    A = random_bsr(rng, (6, 4), (2, 3), 0.5, kind=sp.bsr_matrix)
    B = random_bsr(rng, (2, 5), (6, 2), 0.5, kind=sp.bsr_matrix)
    C = pynla.spgemm(A, B)
    assert isinstance(C, sp.bsr_matrix) and C.blocksize == (2, 2)
    assert_allclose(C.toarray(), dense(A) @ dense(B), rtol=1e-12, atol=1e-12)
    C_int = pynla.spgemm(A.astype(np.int64), B.astype(np.int64))
    assert C_int.format == "bsr" and C_int.dtype == np.int64
    assert_array_equal(C_int.toarray(), dense(A.astype(np.int64)) @ dense(B.astype(np.int64)))


@pytest.mark.parametrize("grids", [((0, 3), (3, 2)), ((3, 0), (0, 2)), ((4, 3), (3, 0)), ((1, 1), (1, 1))], ids=str)
def test_bsr_product_empty_shapes(rng, grids):
    A = random_bsr(rng, grids[0], (2, 2), 0.7, index_dtype=np.int64)
    B = random_bsr(rng, grids[1], (2, 3), 0.7)
    C = pynla.spgemm(A, B)
    assert C.shape == (A.shape[0], B.shape[1]) and C.indices.dtype == np.int64
    assert_allclose(C.toarray(), dense(A) @ dense(B), rtol=1e-12, atol=1e-12)


def test_bsr_product_same_bits_for_any_thread_count(rng, threads):
    A = random_bsr(rng, (200, 150), (3, 3), 0.05, unsorted=True, repeats=50)
    B = random_bsr(rng, (150, 170), (3, 3), 0.05, unsorted=True, repeats=50)
    products = []
    for n in (1, 2, 3):
        threads(n)
        products.append(pynla.spgemm(A, B))
    for C in products[1:]:
        for name in ("indptr", "indices", "data"):
            assert_array_equal(getattr(C, name), getattr(products[0], name))


# ---------------------------------------------------------------------------------------------
# to_bsr and choose_blocksize


@pytest.mark.parametrize("blocksize", [(1, 1), (2, 3), (3, 3), (4, 4), (8, 8), (5, 7)], ids=str)
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
def test_to_bsr_matches_scipy(rng, blocksize, dtype, index_dtype):
    r, c = blocksize
    A = sp.random_array((r * 11, c * 7), density=0.15, rng=rng, format="csr", dtype=np.float64).astype(dtype)
    A = sp.csr_array((A.data, A.indices.astype(index_dtype), A.indptr.astype(index_dtype)), shape=A.shape)
    B = pynla.to_bsr(A, blocksize=blocksize)
    expected = A.tobsr(blocksize=blocksize)
    expected.sort_indices()
    assert B.blocksize == blocksize and B.has_canonical_format and B.dtype == dtype
    assert B.indices.dtype == index_dtype
    for name in ("indptr", "indices", "data"):
        assert_array_equal(getattr(B, name), getattr(expected, name))
    assert_array_equal(B.tocsr().toarray(), A.toarray())  # round trip CSR -> BSR -> CSR


def test_to_bsr_inputs(rng):
    """Every format, unsorted and duplicate entries (added up), spmatrix -> bsr_matrix, and
    dtypes outside the kernels."""
    rows, cols = rng.integers(0, 12, 200), rng.integers(0, 18, 200)
    A = sp.coo_array((rng.standard_normal(200), (rows, cols)), shape=(12, 18))
    B = pynla.to_bsr(A, blocksize=(3, 6))
    assert isinstance(B, sp.bsr_array)
    assert_allclose(B.toarray(), A.toarray(), rtol=1e-12)
    for fmt in ("csr", "csc", "lil", "dok", "dia", "bsr"):
        M = sp.csr_matrix(A).asformat(fmt)
        converted = pynla.to_bsr(M, blocksize=(2, 3))
        assert isinstance(converted, sp.bsr_matrix)
        assert_allclose(converted.toarray(), A.toarray(), rtol=1e-12)
    unsorted = sp.csr_array((np.array([1.0, 2.0, 3.0]), np.array([5, 0, 5]), np.array([0, 3, 3])), shape=(2, 6))
    assert_array_equal(pynla.to_bsr(unsorted, blocksize=(1, 3)).toarray(), [[2, 0, 0, 0, 0, 4], [0] * 6])
    A_int = sp.csr_array(rng.integers(-2, 3, (6, 6)))
    assert_array_equal(pynla.to_bsr(A_int, blocksize=(2, 2)).toarray(), A_int.toarray())


def test_to_bsr_bad_blocksize(rng):
    A = sp.random_array((6, 8), density=0.5, rng=rng, format="csr")
    for blocksize in ((4, 2), (2, 3), (0, 1), (-2, 2), "ab", 3):
        with pytest.raises(ValueError, match="blocksize"):
            pynla.to_bsr(A, blocksize=blocksize)


@pytest.mark.parametrize("blocksize", [(2, 2), (3, 3), (2, 3), (6, 6), (8, 8)], ids=str)
def test_choose_blocksize_finds_the_blocks(rng, blocksize):
    """A matrix made of dense R x C blocks (and nothing else) is stored in R x C blocks."""
    A = random_bsr(rng, (48, 40), blocksize, 0.1).tocsr()
    choice = pynla.choose_blocksize(A)
    assert choice.blocksize == blocksize and choice.fill_ratio == 1.0
    assert pynla.to_bsr(A).blocksize == blocksize


def test_choose_blocksize_on_a_sample_of_rows(rng):
    """Large matrices compare candidates on bands of rows; the fill ratio is still exact."""
    from pynla import block_build

    A = random_bsr(rng, (1200, 300), (6, 6), 0.03).tocsr()
    assert A.nnz > block_build.SAMPLE_ABOVE_NNZ and A.shape[0] // 144 >= 2 * block_build.SAMPLE_STRIDE
    assert pynla.choose_blocksize(A) == ((6, 6), 1.0)
    A.data[rng.random(A.nnz) < 0.5] = 0.0
    A.eliminate_zeros()  # half the entries gone: whatever shape is chosen, its fill is reported exactly
    choice = pynla.choose_blocksize(A)
    stored = pynla.to_bsr(A, blocksize=choice.blocksize)
    assert choice.fill_ratio == stored.data.size / A.nnz


def test_choose_blocksize_keeps_scattered_matrices_in_csr(rng):
    A = sp.random_array((480, 480), density=0.01, rng=rng, format="csr")
    choice = pynla.choose_blocksize(A)
    assert choice.blocksize == (1, 1) and choice.fill_ratio == 1.0
    B = random_bsr(rng, (40, 40), (4, 4), 0.2).tocsr()
    B.data[::2] = 0.0  # explicit zeros count as stored entries
    choice = pynla.choose_blocksize(B, candidates=(2,))
    assert choice.blocksize == (2, 2) and choice.fill_ratio == pytest.approx(1.0)
    with pytest.raises(ValueError, match="candidates"):
        pynla.choose_blocksize(sp.random_array((7, 7), density=0.5, rng=rng), candidates=(2, 3))


# ---------------------------------------------------------------------------------------------
# bsr_from_blocks


@pytest.mark.parametrize("blocksize", [(1, 1), (2, 9), (3, 3), (6, 6)], ids=str)
@pytest.mark.parametrize("dtype", KERNEL_DTYPES + [np.int64])
def test_from_blocks_equals_dense_assembly(rng, blocksize, dtype):
    r, c = blocksize
    grid = (13, 9)
    n = 150  # more blocks than places: many repeats
    rows, cols = rng.integers(0, grid[0], n), rng.integers(0, grid[1], n)
    blocks = random_blocks(rng, n, blocksize, dtype) if dtype != np.int64 else rng.integers(-5, 6, (n, r, c))
    expected = np.zeros((grid[0] * r, grid[1] * c), dtype=dtype)
    for i, j, block in zip(rows, cols, blocks):
        expected[i * r:(i + 1) * r, j * c:(j + 1) * c] += block
    A = pynla.bsr_from_blocks(rows, cols, blocks, expected.shape)
    assert isinstance(A, sp.bsr_array) and A.blocksize == blocksize and A.has_canonical_format
    assert len(A.indices) == len(set(zip(rows.tolist(), cols.tolist())))
    assert_allclose(A.toarray(), expected, rtol=tolerance(dtype) if dtype != np.int64 else 0)


def test_from_blocks_same_bits_for_any_thread_count(rng, threads):
    n = 5000
    rows, cols = rng.integers(0, 300, n), rng.integers(0, 300, n)
    blocks = rng.standard_normal((n, 3, 3))
    built = []
    for t in (1, 2, 3):
        threads(t)
        built.append(pynla.bsr_from_blocks(rows, cols, blocks, (900, 900)))
    for A in built[1:]:
        assert_array_equal(A.data, built[0].data)
        assert_array_equal(A.indices, built[0].indices)


def test_from_blocks_empty_and_bad_input(rng):
    A = pynla.bsr_from_blocks([], [], np.zeros((0, 2, 3)), (4, 6))
    assert A.shape == (4, 6) and A.nnz == 0
    blocks = np.ones((2, 2, 3))
    for rows, cols, shape, message in [
        ([0, 2], [0, 1], (4, 6), "block_rows has index 2"),
        ([0, 1], [-1, 1], (4, 6), "block_cols has index -1"),
        ([0], [0, 1], (4, 6), "block_rows must be 2"),
        ([0, 1], [0.0, 1.0], (4, 6), "block_cols must be 2 integers"),
        ([0, 1], [0, 1], (5, 6), "shape"),
        ([0, 1], [0, 1], (4,), "shape"),
    ]:
        with pytest.raises(ValueError, match=message):
            pynla.bsr_from_blocks(rows, cols, blocks, shape)
    with pytest.raises(ValueError, match="blocks must have shape"):
        pynla.bsr_from_blocks([0], [0], np.ones((2, 3)), (4, 6))


# ---------------------------------------------------------------------------------------------
# block_diagonal_inverse and the LinearOperator


def diagonally_dominant_bsr(rng, n_blocks, r, dtype=np.float64, *, kind=sp.bsr_array):
    """A Hermitian BSR matrix whose diagonal entries exceed the magnitudes of the rest of their
    row: positive definite, with invertible diagonal blocks (unsorted and repeated blocks)."""
    A = random_bsr(rng, (n_blocks, n_blocks), (r, r), 0.1, dtype, unsorted=True, repeats=3)
    hermitian = A + A.T.conj()
    shift = 1 + abs(hermitian).sum(axis=1).max()
    shift = sp.bsr_array(sp.eye_array(n_blocks * r, dtype=dtype) * shift, blocksize=(r, r))
    return kind((hermitian + shift).tobsr(blocksize=(r, r)))


@pytest.mark.parametrize("r", [1, 2, 3, 6, 9])
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_block_diagonal_inverse(rng, r, dtype):
    A = diagonally_dominant_bsr(rng, 20, r, dtype)
    M = pynla.block_diagonal_inverse(A)
    assert M.format == "bsr" and M.blocksize == (r, r) and M.dtype == dtype
    assert_array_equal(M.indices, np.arange(20))
    D = dense(A)
    for i in range(20):
        block = D[i * r:(i + 1) * r, i * r:(i + 1) * r]
        assert_allclose(M.data[i] @ block, np.eye(r), atol=tolerance(dtype) * 10)


def test_block_diagonal_inverse_inputs(rng):
    A = diagonally_dominant_bsr(rng, 10, 3, kind=sp.bsr_matrix)
    M = pynla.block_diagonal_inverse(A)
    assert isinstance(M, sp.bsr_matrix)
    from_csr = pynla.block_diagonal_inverse(sp.csr_array(A), blocksize=3)
    assert_allclose(from_csr.toarray(), M.toarray(), rtol=1e-12)
    with pytest.raises(ValueError, match="blocksize is needed"):
        pynla.block_diagonal_inverse(sp.csr_array(A))
    with pytest.raises(ValueError, match="square"):
        pynla.block_diagonal_inverse(random_bsr(rng, (3, 2), (2, 2), 0.5))
    with pytest.raises(ValueError, match="not square"):
        pynla.block_diagonal_inverse(random_bsr(rng, (3, 2), (2, 3), 0.5))


def test_dtypes_outside_the_kernels(rng):
    """Integers are inverted in float64; long double, which LAPACK has not, is refused by name.
    (The operator of either multiplies as SciPy does: tests/test_operators.py.)"""
    A = sp.bsr_array(np.kron(np.eye(3), [[2, 1], [1, 2]]).astype(np.int64), blocksize=(2, 2))
    M = pynla.block_diagonal_inverse(A)
    assert M.dtype == np.float64
    assert_allclose(M.toarray() @ A.toarray(), np.eye(6), atol=1e-15)
    with pytest.raises(TypeError, match="A has dtype"):
        pynla.block_diagonal_inverse(A.astype(np.longdouble))


def test_block_diagonal_inverse_reports_the_singular_block(rng):
    A = diagonally_dominant_bsr(rng, 8, 2)
    rows = np.repeat(np.arange(8), np.diff(A.indptr))
    A.data[(rows == 3) & (A.indices == 3)] = 1.0  # block row 3: a rank-one (singular) block
    with pytest.raises(np.linalg.LinAlgError, match="diagonal block 3 is singular"):
        pynla.block_diagonal_inverse(A)
    missing = sp.bsr_array((np.ones((1, 2, 2)), np.array([1]), np.array([0, 1, 1])), shape=(4, 4))
    with pytest.raises(np.linalg.LinAlgError, match="diagonal block 0 is missing"):
        pynla.block_diagonal_inverse(missing)


def test_block_jacobi_preconditions_cg(rng):
    # D H D with H diagonally dominant and D spread over three decades: positive definite, badly
    # scaled; the block-diagonal inverse undoes the scaling, plain CG pays for it.
    H = diagonally_dominant_bsr(rng, 200, 3)
    D = sp.diags_array(rng.permutation(np.geomspace(1, 1e3, H.shape[0])))
    A = (D @ H @ D).tobsr(blocksize=(3, 3))
    b = rng.standard_normal(A.shape[0])
    M = pynla.aslinearoperator(pynla.block_diagonal_inverse(A))
    iterations = []
    x, info = spla.cg(pynla.aslinearoperator(A), b, M=M, rtol=1e-10, callback=lambda xk: iterations.append(1))
    assert info == 0
    assert np.linalg.norm(dense(A) @ x - b) <= 1e-8 * np.linalg.norm(b)
    plain = []
    spla.cg(pynla.aslinearoperator(A), b, rtol=1e-10, callback=lambda xk: plain.append(1))
    assert 2 * len(iterations) <= len(plain)


@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_linear_operator(rng, dtype):
    A = random_bsr(rng, (12, 9), (3, 2), 0.3, dtype, unsorted=True, repeats=4)
    op = pynla.aslinearoperator(A)
    assert isinstance(op, pynla.BsrLinearOperator) and op.shape == A.shape and op.dtype == dtype
    D = dense(A)
    x, y = random_dense(rng, (18,), dtype), random_dense(rng, (36,), dtype)
    X, Y = random_dense(rng, (18, 5), dtype), random_dense(rng, (36, 5), dtype)
    tol = dict(rtol=tolerance(dtype), atol=tolerance(dtype) * 10)
    assert_allclose(op.matvec(x), D @ x, **tol)
    assert_allclose(op.rmatvec(y), D.conj().T @ y, **tol)
    assert_allclose(op.matmat(X), D @ X, **tol)
    assert_allclose(op.rmatmat(Y), D.conj().T @ Y, **tol)
    assert_allclose(op.H @ y, D.conj().T @ y, **tol)
    assert_allclose(op @ x.real.astype(np.float64), D @ x.real.astype(np.float64), rtol=1e-4, atol=1e-4)


def test_linear_operator_runs_scipy_solvers(rng):
    A = random_bsr(rng, (60, 40), (3, 3), 0.1)
    b = rng.standard_normal(A.shape[0])
    x = spla.lsqr(pynla.aslinearoperator(A), b, atol=1e-12, btol=1e-12)[0]
    assert_allclose(x, np.linalg.lstsq(dense(A), b, rcond=None)[0], rtol=1e-6, atol=1e-8)
    s = spla.svds(pynla.aslinearoperator(A), k=3, return_singular_vectors=False, rng=SEED)
    assert_allclose(np.sort(s), np.sort(np.linalg.svd(dense(A), compute_uv=False))[-3:], rtol=1e-8)
    assert not isinstance(pynla.aslinearoperator(A.tocsr()), pynla.BsrLinearOperator)


# ---------------------------------------------------------------------------------------------
# Random structures


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    grid=st.tuples(st.integers(0, 12), st.integers(0, 12)),
    blocksize=st.sampled_from(BLOCK_SHAPES),
    density=st.floats(0, 1),
    repeats=st.integers(0, 10),
    k=st.sampled_from(WIDTHS),
)
def test_random_structures(seed, grid, blocksize, density, repeats, k):
    rng = np.random.default_rng(seed)
    A = random_bsr(rng, grid, blocksize, density, unsorted=True, repeats=repeats)
    D = dense(A)
    X = random_dense(rng, (A.shape[1],) if k is None else (A.shape[1], k), np.float64)
    assert_allclose(pynla.bsr_matmul(A, X), D @ X, rtol=1e-12, atol=1e-12)
    Z = random_dense(rng, (A.shape[0],) if k is None else (A.shape[0], k), np.float64)
    assert_allclose(pynla.bsr_matmul(A, Z, transpose=True), D.T @ Z, rtol=1e-12, atol=1e-12)
    assert_array_equal(pynla.to_bsr(A.tocsr(), blocksize=blocksize).toarray(), D)


@pytest.mark.parametrize("blocksize", [(3, 3), (8, 8), (5, 7)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_with_and_without_avx2(rng, plain_copy, blocksize, dtype):
    """The AVX2 and plain copies of the dense-block kernel sum in the same order (lane-wise
    arithmetic only), so they give the same bits. On a CPU without AVX2 both runs take the plain
    copy and the test still holds."""
    from pynla import _core

    A = random_bsr(rng, (40, 30), blocksize, 0.2, dtype, unsorted=True, repeats=20)
    results = []
    for allowed in (True, False):
        plain_copy(allowed)
        if not allowed:
            assert not _core.uses_avx2()
        products = []
        for transpose in (False, True):
            for k in (1, 5, 16, 37):
                X = random_dense(np.random.default_rng(SEED), (A.shape[0 if transpose else 1], k), dtype)
                products.append(pynla.bsr_matmul(A, X, transpose=transpose))
        results.append(products)
    for with_avx2, without in zip(*results):
        assert_array_equal(with_avx2, without)
