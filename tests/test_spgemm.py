"""pynla.spgemm against SciPy's ``A @ B``: shapes, dtypes, formats, structures, exact zeros.

The reference is SciPy's product of the same CSR arrays (``scipy_product``). For the float and
complex kernels pynla promises SciPy's summation order, so values are compared bit for bit.
"""

import gc

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import pynla
from tests.conftest import (
    FORMATS,
    INDEX_DTYPES,
    KERNEL_DTYPES,
    SCIPY_PATH_DTYPES,
    assert_canonical,
    assert_kind,
    assert_reaches_both_paths,
    assert_same_product,
    bits,
    csr_copy,
    csr_from_row_lengths,
    power_law_csr,
    random_csr,
    row_plans,
    scipy_product,
    with_index_dtype,
    with_strided_arrays,
)

# (m, k, n, density): A is m x k, B is k x n.
SHAPES = [
    (0, 3, 4, 0.5),  # no rows
    (3, 0, 4, 0.5),  # zero inner dimension: C is all zero
    (1, 1, 1, 1.0),
    (5, 0, 7, 0.5),
    (4, 3, 0, 0.5),  # no columns
    (300, 2, 300, 0.5),  # tall times wide: a large C from tiny operands
    (2, 300, 2, 0.05),  # wide times tall: long sums into a tiny C
    (40, 30, 50, 0.2),
]


def shape_id(shape):
    m, k, n, _ = shape
    return f"{m}x{k}@{k}x{n}"


# ---------------------------------------------------------------------------------------------
# Shapes, dtypes, index dtypes


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_matches_scipy(rng, dtype, index_dtype, shape):
    m, k, n, density = shape
    A = random_csr(rng, (m, k), density, dtype, index_dtype=index_dtype)
    B = random_csr(rng, (k, n), density, dtype, index_dtype=index_dtype)
    C = pynla.spgemm(A, B)
    assert type(C) is sp.csr_array
    assert C.dtype == dtype
    assert C.indices.dtype == index_dtype and C.indptr.dtype == index_dtype
    assert_same_product(C, scipy_product(A, B))


@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_matches_scipy_unsorted_output(rng, dtype, index_dtype):
    A = random_csr(rng, (40, 30), 0.2, dtype, index_dtype=index_dtype)
    B = random_csr(rng, (30, 50), 0.2, dtype, index_dtype=index_dtype)
    C = pynla.spgemm(A, B, sort_indices=False)
    assert not C.has_canonical_format
    assert_same_product(C, scipy_product(A, B), sort_indices=False)


@pytest.mark.parametrize(
    "a_index_dtype, b_index_dtype",
    [(np.int64, np.int32), (np.int32, np.int64), (np.int64, np.int64)],
)
def test_int64_indices_in_give_int64_out(rng, a_index_dtype, b_index_dtype):
    A = random_csr(rng, (30, 20), 0.3, index_dtype=a_index_dtype)
    B = random_csr(rng, (20, 25), 0.3, index_dtype=b_index_dtype)
    C = pynla.spgemm(A, B)
    assert C.indptr.dtype == np.int64 and C.indices.dtype == np.int64
    assert_same_product(C, scipy_product(A, B))


def test_int64_indptr_with_int32_indices(rng):
    A = random_csr(rng, (30, 20), 0.3)
    A.indptr = A.indptr.astype(np.int64)
    B = random_csr(rng, (20, 25), 0.3)
    C = pynla.spgemm(A, B)
    assert C.indptr.dtype == np.int64 and C.indices.dtype == np.int64
    assert_same_product(C, scipy_product(A, B))


@pytest.mark.parametrize("spread", ["scattered", "clustered"])
@pytest.mark.parametrize("n_cols, index_dtype", [(2**31 - 1, np.int32), (2**31 + 10, np.int64)])
def test_index_dtype_follows_output_width(rng, n_cols, index_dtype, spread):
    """int32 while the columns fit it, int64 beyond (SciPy's rule); B is huge but nearly empty.

    Scattered columns are hashed; clustered ones, all near the last column, use a window whose
    first column is beyond 2^31 - 300.
    """
    A = random_csr(rng, (6, 5), 0.6)
    if spread == "scattered":
        columns = np.array([0, 7, 2**30, n_cols - 2, n_cols - 1])
    else:
        columns = np.array([n_cols - 200, n_cols - 150, n_cols - 64, n_cols - 2, n_cols - 1])
    B = sp.csr_array(
        (rng.standard_normal(9), np.array([0, 4, 3, 1, 2, 0, 4, 1, 3]), np.array([0, 2, 3, 5, 7, 9])),
        shape=(5, len(columns)),
    )
    huge = sp.csr_array(
        (B.data, columns[B.indices].astype(index_dtype), B.indptr.astype(index_dtype)), shape=(5, n_cols)
    )
    assert huge.indices.dtype == index_dtype
    flops, _, window, _ = row_plans(A, huge)
    assert np.all(window[flops > 0] == (spread == "clustered"))
    C = pynla.spgemm(A, huge)
    assert C.shape == (6, n_cols)
    assert C.indptr.dtype == index_dtype and C.indices.dtype == index_dtype
    # Same product on the 5 columns that occur: identical sums, columns renamed.
    compact = scipy_product(A, B)
    assert_canonical(C)
    assert_array_equal(C.indptr, compact.indptr)
    assert_array_equal(C.indices, columns[compact.indices])
    assert_array_equal(bits(C.data), bits(compact.data))


# ---------------------------------------------------------------------------------------------
# Value dtypes: promotion, and the dtypes SciPy computes


@pytest.mark.parametrize(
    "a_dtype, b_dtype, expected",
    [
        (np.float32, np.float64, np.float64),
        (np.float64, np.float32, np.float64),
        (np.float32, np.complex64, np.complex64),
        (np.float64, np.complex64, np.complex128),
        (np.complex64, np.complex128, np.complex128),
        (np.int32, np.float32, np.float64),
        (np.int64, np.complex64, np.complex128),
        (np.int8, np.float32, np.float32),
        (np.bool_, np.float64, np.float64),
        (np.uint16, np.complex64, np.complex64),
    ],
)
def test_mixed_dtypes_promote(rng, a_dtype, b_dtype, expected):
    A = random_csr(rng, (20, 15), 0.3, a_dtype)
    B = random_csr(rng, (15, 25), 0.3, b_dtype)
    C = pynla.spgemm(A, B)
    assert C.dtype == np.result_type(a_dtype, b_dtype) == expected
    assert_same_product(C, scipy_product(A, B))


@pytest.mark.parametrize("sort_indices", [True, False])
@pytest.mark.parametrize("dtype", SCIPY_PATH_DTYPES, ids=lambda t: np.dtype(t).name)
def test_other_dtypes_give_scipys_answer(rng, dtype, sort_indices):
    A = random_csr(rng, (30, 20), 0.25, dtype)
    B = random_csr(rng, (20, 35), 0.25, dtype)
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    assert type(C) is sp.csr_array
    assert C.dtype == dtype
    assert_same_product(C, scipy_product(A, B), sort_indices=sort_indices, bitwise=False)


@pytest.mark.parametrize(
    "a_dtype, b_dtype",
    [(np.int8, np.int16), (np.bool_, np.int8), (np.uint8, np.int8), (np.int32, np.uint32), (np.longdouble, np.float32)],
)
def test_other_mixed_dtypes_give_scipys_answer(rng, a_dtype, b_dtype):
    A = random_csr(rng, (25, 20), 0.25, a_dtype)
    B = random_csr(rng, (20, 15), 0.25, b_dtype)
    C = pynla.spgemm(A, B)
    assert C.dtype == np.result_type(a_dtype, b_dtype)
    assert_same_product(C, scipy_product(A, B), bitwise=False)


def test_bool_product_is_logical(rng):
    A = random_csr(rng, (25, 20), 0.2, np.bool_)
    B = random_csr(rng, (20, 30), 0.2, np.bool_)
    C = pynla.spgemm(A, B)
    assert C.dtype == np.bool_
    assert_array_equal(C.toarray(), (A.toarray().astype(int) @ B.toarray().astype(int)) > 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128, np.int64])
def test_matches_dense_product(rng, dtype):
    """An independent reference: the dense product (exact here: small integer values)."""
    A = random_csr(rng, (30, 25), 0.3, dtype, integer_valued=True, unsorted=True, duplicates=True)
    B = random_csr(rng, (25, 20), 0.3, dtype, integer_valued=True, unsorted=True, duplicates=True)
    C = pynla.spgemm(A, B)
    assert_array_equal(C.toarray(), A.toarray() @ B.toarray())


# ---------------------------------------------------------------------------------------------
# Formats and containers


def in_format(M, fmt, kind):
    M = FORMATS[fmt](M)
    return M if kind == "sparray" else sp.csr_matrix(M).asformat(fmt)


@pytest.mark.parametrize("kind", ["sparray", "spmatrix"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_formats(rng, fmt, kind):
    A0 = random_csr(rng, (12, 8), 0.3)
    B0 = random_csr(rng, (8, 10), 0.3)
    A, B = in_format(A0, fmt, kind), in_format(B0, fmt, kind)
    assert A.format == fmt and B.format == fmt
    assert isinstance(A, sp.sparray) == (kind == "sparray")
    C = pynla.spgemm(A, B)
    if fmt == "bsr":  # BSR x BSR gives BSR, block by block (tests/test_block.py)
        assert C.format == "bsr" and isinstance(C, sp.sparray) == (kind == "sparray")
        assert_allclose(C.toarray(), scipy_product(A, B).toarray(), rtol=1e-12, atol=1e-12)
        return
    assert_kind(C, A)
    assert_same_product(C, scipy_product(A, B))


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_formats_mixed(rng, fmt):
    A0 = random_csr(rng, (12, 8), 0.3, np.complex128)
    B0 = random_csr(rng, (8, 10), 0.3, np.complex128)
    for A, B in [
        (sp.csr_matrix(A0), in_format(B0, fmt, "sparray")),
        (in_format(A0, fmt, "sparray"), sp.csr_matrix(B0)),
    ]:
        C = pynla.spgemm(A, B)
        assert_kind(C, A)
        assert_same_product(C, scipy_product(A, B))


def test_bsr_with_blocks(rng):
    A0 = random_csr(rng, (12, 8), 0.3, np.float32)
    B0 = random_csr(rng, (8, 10), 0.3, np.float32)
    A, B = A0.tobsr(blocksize=(3, 2)), B0.tobsr(blocksize=(2, 5))
    assert A.blocksize == (3, 2)
    C = pynla.spgemm(A, B)
    assert C.format == "bsr" and C.blocksize == (3, 5)
    assert_allclose(C.toarray(), scipy_product(A, B).toarray(), rtol=1e-5, atol=1e-5)


def test_coo_with_duplicates(rng):
    """COO duplicates are summed (as SciPy's tocsr does) before the product."""
    rows, cols = rng.integers(0, 10, 80), rng.integers(0, 12, 80)
    A = sp.coo_array((rng.standard_normal(80), (rows, cols)), shape=(10, 12))
    B = random_csr(rng, (12, 9), 0.4)
    C = pynla.spgemm(A, B)
    assert_same_product(C, scipy_product(A, B))


@pytest.mark.parametrize("dtype", [np.int8, np.bool_])
def test_index_dtype_same_for_every_value_dtype(dtype):
    """The index dtype does not depend on which path (kernel or SciPy) the value dtype takes.

    int64 operands give int64 results, also when no product is formed (here A is empty).
    """
    A = with_index_dtype(sp.csr_array((3, 4), dtype=dtype), np.int64)
    B = with_index_dtype(sp.csr_array(np.ones((4, 2), dtype=dtype)), np.int64)
    kernel = pynla.spgemm(A.astype(np.float64), B.astype(np.float64))
    other = pynla.spgemm(A, B)
    assert kernel.indptr.dtype == np.int64  # as the docstring says
    assert other.indptr.dtype == kernel.indptr.dtype and other.indices.dtype == kernel.indices.dtype


@pytest.mark.parametrize("kind", ["sparray", "spmatrix"])
def test_result_kind_matches_scipy(rng, kind):
    A = in_format(random_csr(rng, (6, 5), 0.5), "csr", kind)
    B = in_format(random_csr(rng, (5, 4), 0.5), "csr", kind)
    assert type(pynla.spgemm(A, B)) is type(A @ B)


def _vector(rng, n, density, dtype, fmt):
    dense = np.where(rng.random(n) < density, rng.standard_normal(n), 0).astype(dtype)
    return sp.coo_array(dense) if fmt == "coo" else sp.csr_array(dense)


@pytest.mark.parametrize("fmt", ["csr", "coo"])
@pytest.mark.parametrize("dtype", [*KERNEL_DTYPES, np.int64])
@pytest.mark.parametrize("m, k", [(6, 9), (1, 1), (0, 4), (5, 0), (300, 2)])
def test_one_dimensional_operands_as_scipy(rng, dtype, fmt, m, k):
    """A 1-D sparse array is a row on the left and a column on the right, and the result loses
    its axis, as in SciPy (its own test_arithmetic1d multiplies them)."""
    M = random_csr(rng, (m, k), 0.5).astype(dtype)
    x, y = _vector(rng, k, 0.6, dtype, fmt), _vector(rng, m, 0.6, dtype, fmt)
    for left, right in ((M, x), (y, M), (x, x)):
        C, expected = pynla.spgemm(left, right), left @ right
        assert type(C) is np.ndarray if np.ndim(expected) == 0 else isinstance(C, sp.coo_array)
        assert C.shape == expected.shape and C.dtype == expected.dtype
        assert_array_equal(C if np.ndim(C) == 0 else C.toarray(),
                           expected if np.ndim(expected) == 0 else expected.toarray())


def test_one_dimensional_operand_with_a_mask(rng):
    M = random_csr(rng, (8, 6), 0.6)
    x = _vector(rng, 6, 0.8, np.float64, "csr")
    mask = sp.coo_array(np.array([1.0, 0, 0, 1, 1, 0, 0, 1]))
    expected = (M @ x).toarray() * (mask.toarray() != 0)
    assert_array_equal(pynla.spgemm(M, x, mask=mask).toarray(), expected)
    assert_array_equal(pynla.spgemm(M, x, mask=mask, complement=True).toarray(), (M @ x).toarray() - expected)


def test_one_dimensional_bad_input_names_the_argument(rng):
    M = random_csr(rng, (4, 3), 0.6)
    x, y = _vector(rng, 3, 0.8, np.float64, "csr"), _vector(rng, 4, 0.8, np.float64, "csr")
    with pytest.raises(ValueError, match="dimension mismatch"):
        pynla.spgemm(M, y)
    with pytest.raises(ValueError, match="mask has shape"):
        pynla.spgemm(M, x, mask=sp.csr_array(np.ones((4, 1))))
    with pytest.raises(TypeError, match="mask must be a SciPy sparse"):
        pynla.spgemm(M, x, mask=np.ones(4))
    with pytest.raises(ValueError, match="scalar"):
        pynla.spgemm(x, x, mask=x)
    with pytest.raises(ValueError, match="scalar"):
        pynla.spgemm(x, x, semiring="min_plus")


# ---------------------------------------------------------------------------------------------
# Structures


@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_all_zero_rows(rng, dtype):
    # Every other row of A is empty, and so are some rows of B (their products add nothing).
    A = csr_from_row_lengths(rng, [0, 5, 0, 0, 3, 12, 0, 1, 0], 12, dtype)
    B = csr_from_row_lengths(rng, [4, 0, 0, 7, 0, 2, 0, 0, 9, 1, 0, 3], 15, dtype)
    C = pynla.spgemm(A, B)
    assert_same_product(C, scipy_product(A, B))
    assert np.all(np.diff(C.indptr)[[0, 2, 3, 6, 8]] == 0)


@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_zero_operands(dtype):
    A = sp.csr_array((7, 5), dtype=dtype)
    B = sp.csr_array(np.ones((5, 6), dtype=dtype))
    for left, right in [(A, B), (B.T.tocsr(), A.T.tocsr()), (A, sp.csr_array((5, 6), dtype=dtype))]:
        C = pynla.spgemm(left, right)
        assert C.nnz == 0 and C.shape == (left.shape[0], right.shape[1])
        assert_same_product(C, scipy_product(left, right))


@pytest.mark.parametrize("sort_indices", [True, False])
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_dense_rows(rng, dtype, sort_indices):
    # A has a full row (it meets every row of B); B has a full row (it spreads over every column).
    A = csr_from_row_lengths(rng, [2, 60, 0, 3, 1, 60, 5], 60, dtype)
    B = csr_from_row_lengths(rng, rng.binomial(80, 0.05, size=60), 80, dtype)
    B = sp.vstack([B[:10], sp.csr_array(random_csr(rng, (1, 80), 1.0, dtype)), B[11:]], format="csr")
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    assert_same_product(C, scipy_product(A, B), sort_indices=sort_indices)


@pytest.mark.parametrize("sort_indices", [True, False])
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_power_law_rows(rng, dtype, sort_indices):
    # B wider than a short row's window over all columns: light rows scattered over it hash.
    A = power_law_csr(rng, (2000, 2000), dtype, exponent=1.1, minimum=1)
    B = power_law_csr(rng, (2000, 100_000), dtype, exponent=1.1, minimum=1)
    assert np.diff(A.indptr).max() > 50 * max(np.median(np.diff(A.indptr)), 1)  # really heavy-tailed
    assert_reaches_both_paths(A, B, at_least=50)
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    assert_same_product(C, scipy_product(A, B), sort_indices=sort_indices)


@pytest.mark.parametrize("sort_indices", [True, False])
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_unsorted_and_duplicate_inputs(rng, dtype, index_dtype, sort_indices):
    A = random_csr(rng, (50, 40), 0.15, dtype, index_dtype=index_dtype, unsorted=True, duplicates=True)
    B = random_csr(rng, (40, 60), 0.15, dtype, index_dtype=index_dtype, unsorted=True, duplicates=True)
    assert not A.has_canonical_format and not B.has_canonical_format
    assert A.nnz > A.copy().tocoo().tocsr().nnz  # really holds duplicates
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    assert_same_product(C, scipy_product(A, B), sort_indices=sort_indices)


@pytest.mark.parametrize("which", ["A", "B", "both"])
@pytest.mark.parametrize("dtype", [np.float64, np.complex64])
def test_non_contiguous_arrays(rng, dtype, which):
    A = random_csr(rng, (30, 25), 0.2, dtype, unsorted=True)
    B = random_csr(rng, (25, 35), 0.2, dtype)
    expected = scipy_product(A, B)
    if which in ("A", "both"):
        A = with_strided_arrays(A)
        assert not A.indices.flags.c_contiguous and not A.data.flags.c_contiguous
    if which in ("B", "both"):
        B = with_strided_arrays(B)
        assert not B.indptr.flags.c_contiguous
    assert_same_product(pynla.spgemm(A, B), expected)


def test_non_contiguous_int64_indices(rng):
    A = with_strided_arrays(random_csr(rng, (30, 25), 0.2, index_dtype=np.int64))
    B = random_csr(rng, (25, 35), 0.2, index_dtype=np.int64)
    C = pynla.spgemm(A, B)
    assert C.indices.dtype == np.int64
    assert_same_product(C, scipy_product(A, B))


@pytest.mark.parametrize("sort_indices", [True, False])
def test_flags_that_lie(rng, sort_indices):
    """pynla reads the structure, not the flags: unsorted rows flagged sorted, duplicates
    flagged canonical (a wrongly trusted flag would misplace the window or skip a sum)."""
    A = random_csr(rng, (40, 30), 0.2, unsorted=True, duplicates=True)
    B = random_csr(rng, (30, 5000), 0.01, unsorted=True, duplicates=True)
    expected = scipy_product(A, B)
    A.has_canonical_format = True
    B.has_sorted_indices = True
    assert A.has_sorted_indices and B.has_sorted_indices
    assert_same_product(pynla.spgemm(A, B, sort_indices=sort_indices), expected, sort_indices=sort_indices)


def test_explicit_zeros_in_inputs(rng):
    """Stored zeros in A or B make zero products, which are dropped like any exact zero."""
    A = random_csr(rng, (20, 15), 0.4)
    B = random_csr(rng, (15, 25), 0.4)
    A.data[::3] = 0.0
    B.data[::4] = 0.0
    C = pynla.spgemm(A, B)
    assert_same_product(C, scipy_product(A, B))
    assert np.all(C.data != 0)


@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_non_finite_values(rng, dtype):
    """inf and nan propagate as in SciPy (inf * stored zero is nan, nan is never dropped)."""
    A = random_csr(rng, (20, 20), 0.3, dtype)
    B = random_csr(rng, (20, 20), 0.3, dtype)
    A.data[::5] = np.inf
    A.data[1::7] = np.nan
    B.data[::4] = -np.inf
    B.data[2::9] = 0
    C = pynla.spgemm(A, B)
    assert np.isnan(C.data).any() and np.isinf(C.data).any()
    assert_same_product(C, scipy_product(A, B))


@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_subnormal_values(rng, dtype):
    """Tiny values are not flushed to zero: products and sums of subnormals as SciPy's."""
    tiny = np.finfo(dtype).tiny
    A = random_csr(rng, (20, 20), 0.3, dtype)
    B = random_csr(rng, (20, 20), 0.3, dtype)
    A.data *= np.sqrt(tiny).real * 1e-3
    B.data *= np.sqrt(tiny).real
    C = pynla.spgemm(A, B)
    assert np.sum(np.abs(C.data.real) < tiny) > 20  # many results are subnormal
    assert_same_product(C, scipy_product(A, B))


def test_non_native_byte_order(rng):
    A = random_csr(rng, (20, 15), 0.3, unsorted=True)
    B = random_csr(rng, (15, 25), 0.3)
    expected = scipy_product(A, B)
    A.data, A.indices, A.indptr = A.data.astype(">f8"), A.indices.astype(">i4"), A.indptr.astype(">i4")
    C = pynla.spgemm(A, B)
    assert C.dtype == np.float64 and C.dtype.isnative
    assert_same_product(C, expected)


def test_read_only_inputs(rng):
    A = random_csr(rng, (20, 15), 0.3, np.complex64, duplicates=True)
    B = random_csr(rng, (15, 25), 0.3, np.complex64)
    for M in (A, B):
        for array in (M.data, M.indices, M.indptr):
            array.flags.writeable = False
    assert_same_product(pynla.spgemm(A, B), scipy_product(A, B))


@pytest.mark.parametrize("flag", [np.True_, np.False_], ids=["np.True_", "np.False_"])
def test_numpy_bool_sort_flag(rng, flag):
    A = random_csr(rng, (30, 30), 0.2, unsorted=True)
    C = pynla.spgemm(A, A, sort_indices=flag)
    assert_same_product(C, scipy_product(A, A), sort_indices=bool(flag))


def test_tall_matrix_of_mostly_empty_rows(rng):
    """200 000 rows, a few hundred entries: the work split must not trip over empty rows."""
    n = 200_000
    rows, cols = rng.integers(0, n, 400), rng.integers(0, n, 400)
    A = sp.csr_array((rng.standard_normal(400), (rows, cols)), shape=(n, n))
    B = sp.csr_array((rng.standard_normal(400), (cols[::-1].copy(), rows)), shape=(n, n))
    C = pynla.spgemm(A, B)
    assert_same_product(C, scipy_product(A, B))


# ---------------------------------------------------------------------------------------------
# Exact cancellation: entries summing to exactly zero are dropped, as SciPy drops them


@pytest.mark.parametrize("sort_indices", [True, False])
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_cancellation_smallest(dtype, sort_indices):
    A = sp.csr_array(np.array([[1, 1]], dtype=dtype))
    B = sp.csr_array(np.array([[1], [-1]], dtype=dtype))
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    assert C.shape == (1, 1) and C.nnz == 0
    assert_array_equal(C.indptr, [0, 0])
    assert len(C.indices) == len(C.data) == 0


@pytest.mark.parametrize("sort_indices", [True, False])
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_cancellation_whole_rows_between_others(dtype, sort_indices):
    # Rows 0 and 2 of C cancel entirely, rows 1 and 3 keep entries; row 4 partly cancels.
    A = sp.csr_array(np.array([[1, 1, 0], [1, 0, 0], [2, 2, 0], [0, 1, 0], [1, 1, 1]], dtype=dtype))
    B = sp.csr_array(np.array([[1, 2, 0, 3], [-1, -2, 0, -3], [0, 5, 4, 3]], dtype=dtype))
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    assert_array_equal(C.indptr, [0, 0, 3, 3, 6, 9])
    assert_same_product(C, scipy_product(A, B), sort_indices=sort_indices)
    assert_array_equal(C.toarray(), A.toarray() @ B.toarray())


@pytest.mark.parametrize("sort_indices", [True, False])
@pytest.mark.parametrize("n_cols", [12, 3000], ids=["dense-accumulator", "hash-accumulator"])
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_cancellation_random(rng, dtype, n_cols, sort_indices):
    """Integer-valued +-1, +-2 data: many sums are exactly zero, in both accumulators."""
    A = random_csr(rng, (200, 40), 0.15, dtype, integer_valued=True, unsorted=True)
    B = random_csr(rng, (40, n_cols), 0.01 if n_cols > 100 else 0.5, dtype, integer_valued=True)
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    structural = (abs(A) > 0).astype(np.int8) @ (abs(B) > 0).astype(np.int8)
    assert C.nnz < structural.nnz, "the test should make some entries cancel"
    assert_same_product(C, scipy_product(A, B), sort_indices=sort_indices)
    assert np.all(C.data != 0)


def test_cancellation_to_nothing(rng):
    """A @ B where every entry of C cancels: B holds each row twice, once negated."""
    B = random_csr(rng, (20, 30), 0.3, integer_valued=True)
    B2 = sp.vstack([B, -B], format="csr")
    A = sp.hstack([random_csr(rng, (25, 20), 0.3, integer_valued=True)] * 2, format="csr")
    C = pynla.spgemm(A, B2)
    assert C.nnz == 0 and C.shape == (25, 30)
    assert_array_equal(C.indptr, np.zeros(26))


# ---------------------------------------------------------------------------------------------
# Accumulators. A row of C is summed in a dense window over its column span when the span is
# narrow or densely hit, else in a hash table; the tests below reach both, switch between them
# row by row, and probe the window's edges (bitmap words of 64 columns, summary words of 4096,
# the largest window) and its movement from row to row.


WIDE = 1_000_000


def wide_rows(rng, n_rows, length, n_cols=WIDE, dtype=np.float64):
    return csr_from_row_lengths(rng, np.full(n_rows, length), n_cols, dtype)


@pytest.mark.parametrize("sort_indices", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.complex64])
def test_wide_output_window(rng, dtype, sort_indices):
    # 1 x 10^6 output with about 300 000 distinct columns over a span of nearly 10^6.
    A = random_csr(rng, (1, 4), 1.0, dtype)
    B = wide_rows(rng, 4, 90_000, dtype=dtype)
    assert np.all(row_plans(A, B)[2])
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    assert C.nnz > WIDE // 4
    assert_same_product(C, scipy_product(A, B), sort_indices=sort_indices)


@pytest.mark.parametrize("sort_indices", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_wide_output_beyond_largest_window(rng, dtype, sort_indices):
    # 1 x 3 * 10^6 output, 360 000 products spread over all of it: too wide for a window.
    A = random_csr(rng, (2, 4), 1.0, dtype)
    B = wide_rows(rng, 4, 90_000, n_cols=3_000_000, dtype=dtype)
    assert not np.any(row_plans(A, B)[2])
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    assert_same_product(C, scipy_product(A, B), sort_indices=sort_indices)


@pytest.mark.parametrize("sort_indices", [True, False])
def test_wide_output_overlapping_rows(rng, sort_indices):
    # Four multiples of one row: 400 000 products into the same 100 000 columns.
    B1 = wide_rows(rng, 1, 100_000)
    B = sp.vstack([B1, 2 * B1, -3 * B1, 0.5 * B1], format="csr")
    # Row 0 sums to b + 2b - 3b + 0.5b = 0.5b; row 1 to b + 2b - 3b = 0 exactly (fl(b + 2b) = fl(3b)).
    A = sp.csr_array(np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0]]))
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    assert_array_equal(C.indptr, [0, 100_000, 100_000])
    assert_same_product(C, scipy_product(A, B), sort_indices=sort_indices)


@pytest.mark.parametrize("sort_indices", [True, False])
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_wide_output_mixed_paths(rng, dtype, sort_indices):
    """Rows of one product taking different paths, with cancellation inside the window."""
    r0 = wide_rows(rng, 1, 300_000, dtype=dtype)
    r1 = wide_rows(rng, 1, 200_000, dtype=dtype)
    r2 = wide_rows(rng, 1, 5, dtype=dtype)
    B = sp.vstack([r0, r1, r2, -r0, r2], format="csr")  # row 3 cancels row 0 exactly
    A = sp.csr_array(
        np.array(
            [
                [1, 1, 0, 0, 0],  # window: ~440 000 distinct columns
                [0, 0, 1, 0, 0],  # hash: 5 columns scattered over 10^6
                [1, 0, 0, 1, 0],  # window, then every entry cancels: an empty row
                [0, 0, 0, 0, 0],  # empty
                [1, 1, 0, 1, 1],  # window, r0 cancels: what is left is r1 + r2
                [0, 0, 1, 0, 2],  # hash, two rows of 5 columns
                [1, 0, 1, 1, 0],  # window, only r2 survives: 5 entries
            ],
            dtype=dtype,
        )
    )
    assert_array_equal(row_plans(A, B)[2], [True, False, True, False, True, False, True])
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    nnz = np.diff(C.indptr)
    assert nnz[1] == 5 and nnz[2] == 0 and nnz[3] == 0 and nnz[6] == 5
    assert nnz[0] > WIDE // 4 and nnz[4] == r1.nnz + 5 - len(np.intersect1d(r1.indices, r2.indices))
    assert_same_product(C, scipy_product(A, B), sort_indices=sort_indices)


@pytest.mark.parametrize("sort_indices", [True, False])
def test_many_dense_rows(rng, sort_indices):
    """Every row of C is dense (tens of columns): one thread's window serves row after row."""
    A = random_csr(rng, (300, 50), 0.3, unsorted=True, duplicates=True)
    B = random_csr(rng, (50, 40), 0.3)
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    assert np.mean(np.diff(C.indptr)) > 40 / 4
    assert_same_product(C, scipy_product(A, B), sort_indices=sort_indices)


@pytest.mark.parametrize("sort_indices", [True, False])
@pytest.mark.parametrize("low", [0, 1, 63, 64, 4095, 4096, 100_003])
@pytest.mark.parametrize("dtype", [np.float64, np.complex64])
def test_window_word_boundaries(rng, dtype, low, sort_indices):
    """Columns on both sides of the window's 64-column words and 4096-column summary words.

    B's rows are sorted, dense enough for a window over their span of 300 001 columns from
    ``low``, and each holds some boundary columns; two rows cancel each other exactly.
    """
    edges = np.array(
        [0, 1, 62, 63, 64, 65, 127, 128, 4031, 4032, 4095, 4096, 4097, 8191, 8192, 262_143, 262_144, 262_145, 300_000]
    )
    width = edges[-1] + 1
    n_cols = low + width
    rows = []
    for _ in range(6):
        chosen = np.union1d(rng.choice(edges, size=8, replace=False), rng.choice(width, size=2000, replace=False))
        chosen = np.union1d(chosen, [0, width - 1])  # every row spans the whole window
        rows.append(
            sp.csr_array(
                (random_values_like(rng, len(chosen), dtype), low + chosen, [0, len(chosen)]), shape=(1, n_cols)
            )
        )
    edge = sp.csr_array((random_values_like(rng, len(edges), dtype), low + edges, [0, len(edges)]), shape=(1, n_cols))
    B = sp.vstack(rows + [edge, -edge], format="csr")  # rows 6 and 7 cancel each other
    a = rng.integers(0, 2, size=(40, 8)).astype(dtype)
    a[:, 0] = 1  # every row of C makes at least 2000 products over the 300 001 columns
    a[0] = [1, 0, 0, 0, 0, 0, 1, 1]  # B's edge columns, cancelled, and one dense row
    A = sp.csr_array(a)
    flops, width_seen, window, _ = row_plans(A, B)
    assert np.all(window) and np.all(width_seen == width)
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    assert_same_product(C, scipy_product(A, B), sort_indices=sort_indices)


def random_values_like(rng, size, dtype):
    values = rng.standard_normal(size) + (1j * rng.standard_normal(size) if np.dtype(dtype).kind == "c" else 0)
    return values.astype(dtype)


@pytest.mark.parametrize("span", [2**20 - 1, 2**20, 2**20 + 1])
def test_largest_window(rng, span):
    """Rows whose span is just below, at and above the largest window (many products each)."""
    n_cols = span + 10
    B = csr_from_row_lengths(rng, np.full(20, 3000), n_cols)
    # Every row of B reaches both ends of [5, 5 + span): its first column 5, its last 4 + span.
    B = B.tolil()
    B[:, 5] = 1.5
    B[:, 4 + span] = -2.5
    B[:, :5] = 0
    B[:, 5 + span :] = 0
    B = sp.csr_array(B)
    B.eliminate_zeros()
    A = random_csr(rng, (30, 20), 0.5)
    flops, width, _, _ = row_plans(A, B)
    assert np.all(width[flops > 0] == span)
    assert_same_product(pynla.spgemm(A, B), scipy_product(A, B))


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("sort_indices", [True, False])
def test_window_moves_between_rows(rng, threads, n_threads, sort_indices):
    """Banded rows (windows at moving offsets, growing and shrinking) among scattered rows."""
    threads(n_threads)
    n = 20_000
    half_bandwidths = rng.integers(0, 30, size=n)
    half_bandwidths[::97] = 900  # now and then a much wider window
    rows, cols = [], []
    for i, h in enumerate(half_bandwidths):
        if i % 5 == 0:  # a scattered row: two columns anywhere
            band = rng.choice(n, size=2, replace=False)
        else:
            band = np.arange(max(0, i - h), min(n, i + h + 1))
            band = band[rng.random(len(band)) < 0.3]
        rows.append(np.full(len(band), i))
        cols.append(band)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    A = sp.csr_array((rng.standard_normal(len(rows)), (rows, cols)), shape=(n, n))
    A.sum_duplicates()
    assert_reaches_both_paths(A, A, at_least=500)
    C = pynla.spgemm(A, A, sort_indices=sort_indices)
    assert_same_product(C, scipy_product(A, A), sort_indices=sort_indices)


@pytest.mark.parametrize("sort_indices", [True, False])
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
@pytest.mark.parametrize("n_cols", [1, 9, 5000, 2**16, 2**16 + 1, 300_000])
def test_short_rows(rng, n_cols, dtype, index_dtype, sort_indices):
    """Rows of at most 32 products (random and graph matrices): listed in a window and put in
    order by rank, or hashed and ranked where B is wide and the row's span too; every product
    count from 1 to 40 (the ranks' blocks of 8 and the limit of 32), repeated columns in A and B,
    unsorted rows, clustered rows among scattered ones, and a row that cancels to nothing."""
    # B: 40 rows of one entry, then rows of 1 to 4 entries, then the negation of row 0, then 10
    # rows of 4 neighbouring columns.
    lengths = np.concatenate([np.ones(40, dtype=int), rng.integers(1, 5, size=60)])
    B = csr_from_row_lengths(rng, lengths, n_cols, dtype, index_dtype=index_dtype, unsorted=True, duplicates=True)
    starts = rng.integers(0, max(n_cols - 4, 1), size=10)
    runs = sp.csr_array((random_values_like(rng, 40, dtype), (np.repeat(np.arange(10), 4), np.minimum(
        (starts[:, None] + np.arange(4)).ravel(), n_cols - 1))), shape=(10, n_cols))
    B = sp.csr_array(sp.vstack([B, -B[0:1], runs], format="csr"))
    # A: row r < 40 takes r + 1 of B's one-entry rows (r + 1 products); then random rows over all
    # of B (repeated columns too), clustered rows (two runs of B) among them, so that a thread
    # switches between listing and scanning its short rows; then B's row 0 and its negation.
    rows = [sp.csr_array((np.ones(r + 1, dtype=dtype), rng.permutation(40)[: r + 1], [0, r + 1]), shape=(1, 111))
            for r in range(40)]
    for _ in range(20):
        rows.append(random_csr(rng, (4, 111), 0.04, dtype, unsorted=True, duplicates=True))
        pair = 101 + rng.choice(10, size=2, replace=False)
        rows.append(sp.csr_array((np.ones(2, dtype=dtype), pair, [0, 2]), shape=(1, 111)))
    rows.append(sp.csr_array((np.ones(2, dtype=dtype), [0, 100], [0, 2]), shape=(1, 111)))
    A = sp.csr_array(sp.vstack(rows, format="csr"))
    A, B = (with_index_dtype(M, index_dtype) for M in (A, B))
    plans = row_plans(A, B)
    short = (plans.flops > 0) & (plans.flops <= 32)
    if n_cols >= 5000:  # spans wide enough for their products to be listed
        assert np.any(short & plans.listed)
    if n_cols > 2**17:
        assert np.any(short & ~plans.window)  # hashed and ranked
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    assert C.indptr[-1] == C.indptr[-2]  # the last row cancelled exactly
    assert_same_product(C, scipy_product(A, B), sort_indices=sort_indices)


@pytest.mark.parametrize("sort_indices", [True, False])
def test_switch_sweep(rng, sort_indices):
    """Rows of every ratio of span to products, on both sides of the window/hash switch."""
    widths = [100, 1000, 10_000, 100_000]
    n_cols = 200_000
    b_rows = []
    for w in widths:  # 50 rows of B per width: two fixed ends, a few columns between
        for _ in range(50):
            inner = rng.choice(np.arange(1, w - 1), size=3, replace=False)
            cols = np.sort(np.concatenate([[0, w - 1], inner])) + 1000
            b_rows.append(sp.csr_array((rng.standard_normal(5), cols, [0, 5]), shape=(1, n_cols)))
    B = sp.vstack(b_rows, format="csr")
    rows = []
    for group in range(len(widths)):
        for count in (1, 2, 5, 10, 20, 50):  # products per row: 5 * count
            row = np.zeros(B.shape[0])
            row[rng.choice(np.arange(50 * group, 50 * group + 50), size=count, replace=False)] = rng.standard_normal(
                count
            )
            rows.append(row)
    A = sp.csr_array(np.array(rows))
    assert_reaches_both_paths(A, B, at_least=5)
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    assert_same_product(C, scipy_product(A, B), sort_indices=sort_indices)


@pytest.mark.parametrize("sort_indices", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_unsorted_b_with_wide_rows(rng, dtype, sort_indices):
    """An unsorted B gives each row of C a span of all of B's columns: light rows hash, heavy
    rows use a window of the full width."""
    A = csr_from_row_lengths(rng, np.concatenate([np.full(50, 1), np.full(10, 200)]), 300, dtype)
    B = random_csr(rng, (300, 200_000), 0.000125, dtype, unsorted=True)
    B = sp.vstack([B[:5], csr_from_row_lengths(rng, [800], 200_000, dtype, unsorted=True), B[6:]], format="csr")
    assert not B.has_sorted_indices
    assert_reaches_both_paths(A, B, at_least=5)
    assert_same_product(pynla.spgemm(A, B, sort_indices=sort_indices), scipy_product(A, B), sort_indices=sort_indices)


# ---------------------------------------------------------------------------------------------
# Results and arguments


@pytest.mark.parametrize("path", ["listed", "scanned", "hash"])
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_signed_zeros(dtype, path):
    """Bit-identical to SciPy also where a real or imaginary part is zero, in both accumulators.

    SciPy starts every sum from +0; a product with a -0.0 part (e.g. (-1+0j) * (-1+0j) has
    imaginary part (-1)(0) + (0)(-1) = -0.0) therefore comes out of SciPy as +0.0. Complex
    matrices holding real values (imaginary parts all zero) meet this all the time.
    """
    A = sp.csr_array(np.array([[-1 + 0j, 0, 0], [1, 0, 0], [0, 3, 2 - 1j]], dtype=dtype))
    b = np.array([[-1 + 0j, complex(-0.0, 1.0)], [3, 0], [-0.5 + 0j, 1j]], dtype=dtype)
    # Columns 0 and 1 of b, placed at columns 0 and n - 1 of B: a narrow span, or one so wide
    # for its few products that the row is hashed.
    # With A's columns and B's rows repeated 20 times, each row makes more products than a
    # listed row may: a scanned window.
    n = {"listed": 1000, "scanned": 2, "hash": 100_000}[path]
    B = sp.csr_array(sp.coo_array((b.ravel(), (np.repeat(np.arange(3), 2), np.tile([0, n - 1], 3))), shape=(3, n)))
    if path == "scanned":
        A, B = sp.csr_array(sp.hstack([A] * 20)), sp.csr_array(sp.vstack([B] * 20))
    plans = row_plans(A, B)
    assert np.all(plans.window == (path != "hash")) and np.all(plans.listed == (path == "listed"))
    assert_same_product(pynla.spgemm(A, B), scipy_product(A, B))


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_inputs_are_not_modified(rng, fmt):
    A = in_format(random_csr(rng, (15, 10), 0.3, unsorted=True), fmt, "sparray")
    B = in_format(random_csr(rng, (10, 12), 0.3, duplicates=True), fmt, "spmatrix")
    before = [(type(M), M.format, M.shape, M.dtype, M.toarray(), csr_copy(M)) for M in (A, B)]
    flags = (A.has_sorted_indices, B.has_canonical_format) if fmt == "csr" else None
    pynla.spgemm(A, B)
    pynla.spgemm(A, B, sort_indices=False)
    for M, (kind, format_, shape, dtype, dense, copy) in zip((A, B), before, strict=True):
        assert (type(M), M.format, M.shape, M.dtype) == (kind, format_, shape, dtype)
        assert_array_equal(M.toarray(), dense)
        if fmt == "csr":  # the very arrays, in their order: nothing sorted or summed in place
            assert_array_equal(M.indptr, copy.indptr)
            assert_array_equal(M.indices, copy.indices)
            assert_array_equal(M.data, copy.data)
    if fmt == "csr":
        assert (A.has_sorted_indices, B.has_canonical_format) == flags


def test_result_owns_its_memory(rng):
    A = sp.csr_array(sp.eye_array(20, format="csr"))
    B = random_csr(rng, (20, 20), 0.3)
    C = pynla.spgemm(A, B)
    for array in (C.indptr, C.indices, C.data):
        for operand in (A, B):
            assert not np.shares_memory(array, operand.data)
            assert not np.shares_memory(array, operand.indices)
            assert not np.shares_memory(array, operand.indptr)
    expected = B.toarray()
    del A, B
    gc.collect()
    assert_array_equal(C.toarray(), expected)
    assert C.data.flags.writeable and C.indices.flags.writeable
    C.data *= 2  # a normal array: SciPy may operate on it in place
    assert_array_equal(C.toarray(), 2 * expected)


def test_result_works_in_scipy(rng):
    A = random_csr(rng, (30, 30), 0.1)
    C = pynla.spgemm(A, A)
    D = C @ C - scipy_product(A, A) @ scipy_product(A, A)
    assert abs(D).max() == 0
    assert_array_equal((C.T @ A).toarray(), (scipy_product(A, A).T @ A).toarray())


def test_sort_indices_is_keyword_only(rng):
    A = random_csr(rng, (4, 4), 0.5)
    with pytest.raises(TypeError):
        pynla.spgemm(A, A, False)


def test_unsorted_output_sorts_to_sorted_output(rng):
    A = power_law_csr(rng, (200, 200), np.complex128, exponent=1.2, minimum=2, unsorted=True)
    unsorted = pynla.spgemm(A, A, sort_indices=False)
    ordered = pynla.spgemm(A, A)
    assert not unsorted.has_sorted_indices
    unsorted.sort_indices()
    assert_array_equal(unsorted.indptr, ordered.indptr)
    assert_array_equal(unsorted.indices, ordered.indices)
    assert_array_equal(bits(unsorted.data), bits(ordered.data))


def test_repeated_calls_agree(rng):
    A = power_law_csr(rng, (300, 300), exponent=1.2, unsorted=True)
    first = pynla.spgemm(A, A, sort_indices=False)
    for _ in range(3):
        again = pynla.spgemm(A, A, sort_indices=False)
        assert_array_equal(again.indptr, first.indptr)
        assert_array_equal(again.indices, first.indices)  # even the unsorted order is fixed
        assert_array_equal(bits(again.data), bits(first.data))


def test_core_reports_int32_overflow():
    """nnz(C) beyond int32: the core raises OverflowError (spgemm then retries with int64).

    A 46341 x 1 column of ones times a 1 x 46341 row makes 46341^2 = 2^31 + 4634 products. The
    core bounds nnz(C) by the product count before allocating C, so this needs little memory
    (the retry itself would need some 34 GB, so it is not run here).
    """
    from pynla import _core

    n = 46_341
    ones = np.ones(n)
    column = (np.arange(n + 1, dtype=np.int32), np.zeros(n, dtype=np.int32), ones, (n, 1))
    row = (np.array([0, n], dtype=np.int32), np.arange(n, dtype=np.int32), ones, (1, n))
    assert n * n > np.iinfo(np.int32).max
    with pytest.raises(OverflowError):
        _core.spgemm(column, row, sort_indices=True)


def test_int64_retry_gives_int32_indices_when_c_fits(monkeypatch):
    """When the product count passes int32 but nnz(C) does not, the answer has SciPy's int32
    indices. (A real such product takes 2^31 products; the core's refusal is simulated.)"""
    from pynla import _core

    real_spgemm = _core.spgemm

    def refuse_int32(a, b, **options):
        if a[1].dtype == np.int32:
            raise OverflowError("spgemm: nnz(C) may not fit the index type")
        return real_spgemm(a, b, **options)

    monkeypatch.setattr(_core, "spgemm", refuse_int32)
    A = sp.random_array((40, 30), density=0.2, format="csr", rng=1)
    B = sp.random_array((30, 50), density=0.2, format="csr", rng=2)
    C = pynla.spgemm(A, B)
    assert C.indptr.dtype == C.indices.dtype == np.int32
    assert_same_product(C, scipy_product(A, B))


# ---------------------------------------------------------------------------------------------
# Random structures (hypothesis)


@st.composite
def products(draw):
    """(A, B, sort_indices): random shapes up to 30, densities, unsorted/duplicate columns."""
    m, k, n = (draw(st.integers(0, 30)) for _ in range(3))
    dtype = draw(st.sampled_from(KERNEL_DTYPES))
    index_dtypes = draw(st.tuples(st.sampled_from(INDEX_DTYPES), st.sampled_from(INDEX_DTYPES)))
    integer_valued = draw(st.booleans())  # exact sums: cancellations
    rng = np.random.default_rng(draw(st.integers(0, 2**63 - 1)))
    operands = []
    for shape, index_dtype in zip([(m, k), (k, n)], index_dtypes, strict=True):
        options = dict(
            index_dtype=index_dtype,
            integer_valued=integer_valued,
            unsorted=draw(st.booleans()),
            duplicates=draw(st.booleans()),
        )
        density = draw(st.sampled_from([0.0, 0.05, 0.2, 0.5, 1.0]))
        operands.append(random_csr(rng, shape, density, dtype, **options))
    # Spread B's columns over a wider range, so that rows of C are hashed as well as windowed.
    spread = draw(st.sampled_from([1, 1, 300, 5000, 40_000]))
    B = operands[1]
    if spread > 1:
        offsets = rng.integers(0, spread, size=n)  # column j goes to j * spread + offsets[j]
        columns = np.arange(n) * spread + offsets
        operands[1] = sp.csr_array(
            (B.data, columns[B.indices].astype(B.indices.dtype), B.indptr), shape=(k, n * spread)
        )
        operands[1].has_sorted_indices = False
    return operands[0], operands[1], draw(st.booleans())


@settings(max_examples=100, deadline=None, database=None)
@given(products())
def test_random_structures_match_scipy(case):
    A, B, sort_indices = case
    C = pynla.spgemm(A, B, sort_indices=sort_indices)
    assert_same_product(C, scipy_product(A, B), sort_indices=sort_indices)
    assert C.nnz == (A @ B).nnz


@settings(max_examples=30, deadline=None, database=None)
@given(products(), st.sampled_from(list(FORMATS)), st.sampled_from(["sparray", "spmatrix"]))
def test_random_structures_any_format(case, fmt, kind):
    A, B, sort_indices = case
    A2, B2 = in_format(csr_copy(A), fmt, kind), in_format(csr_copy(B), "csr", kind)
    C = pynla.spgemm(A2, B2, sort_indices=sort_indices)
    assert_kind(C, A2)
    assert_same_product(C, scipy_product(A2, B2), sort_indices=sort_indices)
    expected = A.toarray() @ B.toarray()
    tolerance = 1e-4 if A.dtype in (np.float32, np.complex64) else 1e-12
    assert np.allclose(
        C.toarray(), expected, rtol=tolerance, atol=tolerance * max(1.0, np.abs(expected).max(initial=0))
    )


def test_with_index_dtype_helper_keeps_int64():
    """The helper the tests rely on: SciPy keeps int64 index arrays assigned to a csr_array."""
    M = with_index_dtype(sp.csr_array(np.eye(3)), np.int64)
    assert M.indices.dtype == np.int64 and M.indptr.dtype == np.int64
