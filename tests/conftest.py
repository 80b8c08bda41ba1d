"""Shared fixtures and helpers: random sparse matrices of chosen structure, SciPy references.

Every helper builds CSR arrays directly (indptr, indices, data), so a test controls exactly
what pynla reads: empty rows, dense rows, power-law row lengths, unsorted or repeated column
indices, int32 or int64 index arrays, and non-contiguous (strided) arrays.
"""

from collections import namedtuple

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal

import pynla

#: Arbitrary, fixed seed (not 0, 1 or 42, which hide bugs that special seeds happen to avoid).
SEED = 31_415_926

#: Value dtypes the C++ kernel takes; the rest go through SciPy.
KERNEL_DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
INDEX_DTYPES = [np.int32, np.int64]
#: Value dtypes pynla hands to SciPy (its answer must be SciPy's).
SCIPY_PATH_DTYPES = [
    np.bool_, np.int8, np.int16, np.int32, np.int64,
    np.uint8, np.uint16, np.uint32, np.uint64, np.longdouble, np.clongdouble,
]  # fmt: skip

#: Format name -> conversion of a csr_array to that format.
FORMATS = {
    "csr": lambda M: M.tocsr(),
    "csc": lambda M: M.tocsc(),
    "coo": lambda M: M.tocoo(),
    "bsr": lambda M: M.tobsr(),
    "dia": lambda M: M.todia(),
    "lil": lambda M: M.tolil(),
    "dok": lambda M: M.todok(),
}


@pytest.fixture
def rng():
    return np.random.default_rng(SEED)


@pytest.fixture
def plain_copy():
    """``plain_copy(False)`` keeps kernels on their plain (SSE2) copies; restored afterwards."""
    from pynla import _core

    yield _core.allow_avx2
    _core.allow_avx2(True)


@pytest.fixture
def threads():
    """Sets pynla's thread count for the test: ``threads(n)``; the count is restored afterwards.
    While it is in force every kernel takes all n threads, however small its work (the rule that
    keeps small kernels on one thread would otherwise keep a test's inputs off the parallel paths)."""
    from pynla import _core

    before = pynla.get_num_threads()
    default = _core.set_bytes_per_thread(1)

    def set_threads(n):
        pynla.set_num_threads(n)
        assert pynla.get_num_threads() == n

    yield set_threads
    _core.set_bytes_per_thread(default)
    pynla.set_num_threads(before)
    assert pynla.get_num_threads() == before


# ---------------------------------------------------------------------------------------------
# Values


def random_values(rng, size, dtype, *, integer_valued=False):
    """``size`` random values of ``dtype``; small nonzero integers (as the dtype) if asked.

    Integer-valued data makes sums exact, so some entries of a product cancel to exactly zero.
    """
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return np.ones(size, dtype=bool)
    if dtype.kind in "iu":
        low = 1 if dtype.kind == "u" else -4
        values = rng.integers(low, 5, size=size)
        return np.where(values == 0, 1, values).astype(dtype)
    if integer_valued:
        values = rng.choice(np.array([-2.0, -1.0, 1.0, 2.0]), size=size)
        if dtype.kind == "c":
            # Nonzero imaginary parts: no product has a -0.0 part (see test_complex_signed_zeros).
            values = values + 1j * rng.choice(np.array([-1.0, 1.0]), size=size)
        return values.astype(dtype)
    values = rng.standard_normal(size)
    if dtype.kind == "c":
        values = values + 1j * rng.standard_normal(size)
    return values.astype(dtype)


# ---------------------------------------------------------------------------------------------
# Structures


def csr_from_row_lengths(
    rng,
    row_lengths,
    n_cols,
    dtype=np.float64,
    *,
    index_dtype=np.int32,
    container=sp.csr_array,
    integer_valued=False,
    unsorted=False,
    duplicates=False,
):
    """A CSR matrix with the given number of stored entries in each row.

    Columns are distinct within a row unless ``duplicates`` (then drawn with replacement, so
    rows repeat columns); sorted within each row unless ``unsorted`` (then shuffled).
    """
    row_lengths = np.asarray(row_lengths, dtype=np.int64)
    if not duplicates:
        row_lengths = np.minimum(row_lengths, n_cols)
    elif n_cols == 0:
        row_lengths = np.zeros_like(row_lengths)
    n_rows = len(row_lengths)
    indptr = np.concatenate([[0], np.cumsum(row_lengths)])
    nnz = int(indptr[-1])
    rows = np.repeat(np.arange(n_rows), row_lengths)
    if duplicates:
        columns = rng.integers(0, max(n_cols, 1), size=nnz)
    else:
        columns = np.empty(nnz, dtype=np.int64)
        for i in np.flatnonzero(row_lengths):
            columns[indptr[i] : indptr[i + 1]] = rng.choice(n_cols, size=row_lengths[i], replace=False)
    # Order within rows: by column (sorted) or at random (unsorted); rows stay in order.
    order = np.lexsort((rng.random(nnz) if unsorted else columns, rows))
    columns = columns[order]
    M = container(
        (random_values(rng, nnz, dtype, integer_valued=integer_valued), columns, indptr), shape=(n_rows, n_cols)
    )
    M = with_index_dtype(M, index_dtype)
    if duplicates or unsorted:
        M.has_sorted_indices = False  # tell SciPy the truth: it must not trust the default
    return M


def random_csr(rng, shape, density, dtype=np.float64, **options):
    """A CSR matrix with each row's length drawn as Binomial(n_cols, density)."""
    n_rows, n_cols = shape
    return csr_from_row_lengths(rng, rng.binomial(n_cols, density, size=n_rows), n_cols, dtype, **options)


def power_law_lengths(rng, n_rows, n_cols, *, exponent=1.3, minimum=1):
    """Row lengths with a heavy (Pareto) tail, capped at n_cols: a few very long rows."""
    lengths = np.floor(minimum * (1.0 + rng.pareto(exponent, size=n_rows))).astype(np.int64)
    return np.minimum(lengths, n_cols)


def power_law_csr(rng, shape, dtype=np.float64, *, exponent=1.3, minimum=1, **options):
    n_rows, n_cols = shape
    lengths = power_law_lengths(rng, n_rows, n_cols, exponent=exponent, minimum=minimum)
    return csr_from_row_lengths(rng, lengths, n_cols, dtype, **options)


def with_index_dtype(M, index_dtype):
    """M with its indptr and indices replaced by arrays of ``index_dtype`` (SciPy keeps them)."""
    M.indptr = M.indptr.astype(index_dtype)
    M.indices = M.indices.astype(index_dtype)
    assert M.indptr.dtype == index_dtype and M.indices.dtype == index_dtype
    return M


def strided(array):
    """A non-contiguous view holding the same values as ``array`` (every other element)."""
    view = np.repeat(array, 2)[::2]
    assert not view.flags.c_contiguous or len(view) <= 1
    assert_array_equal(view, array)
    return view


def with_strided_arrays(M):
    """M (CSR) with indptr, indices and data replaced by non-contiguous views of their values."""
    M.indptr, M.indices, M.data = strided(M.indptr), strided(M.indices), strided(M.data)
    return M


def csr_copy(M):
    """A csr_array holding contiguous copies of M's CSR arrays, structure left as it is."""
    c = M if M.format == "csr" else M.tocsr()
    copy = sp.csr_array((np.array(c.data), np.array(c.indices), np.array(c.indptr)), shape=c.shape)
    copy.has_sorted_indices = False
    return copy


# ---------------------------------------------------------------------------------------------
# Which accumulator a row of C takes (to check that tests reach both)

#: Mirrors cpp/include/pynla/spgemm/row_plans.hpp (kMaxWindow, kWindowColumnsPerProduct,
#: kMaxShortRowWindow, kListColumnsPerProduct) and row_entries.hpp (kMaxRankedEntries): a row of
#: C is summed in a dense window over its column span if the span is at most WINDOW_MAX columns
#: and at most WINDOW_COLUMNS_PER_PRODUCT times its product count, else in a hash table. A short
#: row (at most SHORT_ROW_PRODUCTS products) also takes the window if its span is at most
#: SHORT_ROW_WINDOW_MAX wide; its columns may then be listed instead of scanned (the kernel
#: decides from the rows before it) if the span has at least LIST_COLUMNS_PER_PRODUCT columns a
#: product. Used only to assert that a test reaches the path it means to; if the
#: kernel's rule changes, update these and the assertions will say which tests lost a path.
WINDOW_MAX = 2**20
WINDOW_COLUMNS_PER_PRODUCT = 256
SHORT_ROW_PRODUCTS = 32
SHORT_ROW_WINDOW_MAX = 2**16
LIST_COLUMNS_PER_PRODUCT = 16
BITMAP_COLUMNS_PER_ENTRY = 64  # a row of A with an entry per 64 columns of B takes a whole-width window

RowPlans = namedtuple("RowPlans", ["flops", "width", "window", "listed"])


def row_plans(A, B):
    """RowPlans(flops, span width, takes a window, its columns may be listed) for each row of
    A @ B, as the kernel plans it.

    The span runs from the least to the greatest column of the rows of B that the row uses. A
    row not planned (an entry of A for every 64 columns of B or more) has B's columns as its
    flops and width, and takes a window.
    """
    a, b = csr_copy(A), csr_copy(B)
    b_lengths = np.diff(b.indptr)
    b_low = np.array([b.indices[b.indptr[k] : b.indptr[k + 1]].min(initial=b.shape[1]) for k in range(b.shape[0])])
    b_high = np.array([b.indices[b.indptr[k] : b.indptr[k + 1]].max(initial=-1) for k in range(b.shape[0])])
    flops = np.zeros(a.shape[0], dtype=np.int64)
    width = np.zeros(a.shape[0], dtype=np.int64)
    for i in range(a.shape[0]):
        used = a.indices[a.indptr[i] : a.indptr[i + 1]]
        used = used[b_lengths[used] > 0]
        flops[i] = b_lengths[used].sum()
        if len(used) == 0:
            continue
        width[i] = b_high[used].max() - b_low[used].min() + 1
    short = (flops > 0) & (flops <= SHORT_ROW_PRODUCTS)
    window = (flops > 0) & (width <= WINDOW_MAX) & (width <= WINDOW_COLUMNS_PER_PRODUCT * flops)
    window |= short & (width <= SHORT_ROW_WINDOW_MAX)
    listed = window & short & (width >= LIST_COLUMNS_PER_PRODUCT * flops)
    a_lengths = np.diff(a.indptr)
    unplanned = (a_lengths > 0) & (b.shape[1] <= BITMAP_COLUMNS_PER_ENTRY * a_lengths)  # a window over all columns
    flops[unplanned], width[unplanned], window[unplanned], listed[unplanned] = b.shape[1], b.shape[1], True, False
    return RowPlans(flops, width, window, listed)


def assert_reaches_both_paths(A, B, *, at_least=1):
    """Some rows of A @ B take the window accumulator and some the hash accumulator."""
    flops, _, window, _ = row_plans(A, B)
    n_window, n_hash = int(np.sum(window)), int(np.sum((flops > 0) & ~window))
    assert n_window >= at_least, f"only {n_window} rows take the window accumulator"
    assert n_hash >= at_least, f"only {n_hash} rows take the hash accumulator"


# ---------------------------------------------------------------------------------------------
# References and checks


INT32_MAX = np.iinfo(np.int32).max


def scipy_product(A, B):
    """SciPy's ``A @ B`` computed on the very CSR arrays pynla reads, in canonical form.

    Both operands are first turned into CSR (as pynla does), so SciPy sums each entry in the
    order pynla promises to follow; the result's indices are then sorted within rows. The result
    is a csr_array if A is a sparse array, a csr_matrix if A is a sparse matrix.

    Index dtype, as SciPy picks it: int64 if an operand has int64 index arrays or C's shape
    needs it, else int32; csr_matrix then narrows int64 arrays whose values fit int32 (its
    constructor checks contents; csr_array's does not). SciPy skips the first step when no
    product is formed at all (for ``maxnnz == 0`` it returns an empty int32 matrix even for
    int64 operands); the reference then follows the rule, as pynla's docstring states it.
    """
    a, b = csr_copy(A), csr_copy(B)
    C = a @ b
    C.sort_indices()
    wide = any(not np.can_cast(x.dtype, np.int32) for x in (a.indptr, a.indices, b.indptr, b.indices))
    rule = np.dtype(np.int64 if wide or max(C.shape, default=0) > INT32_MAX else np.int32)
    flops = int(np.diff(b.indptr)[a.indices].sum()) if a.nnz else 0
    if flops > 0:
        assert C.indptr.dtype == C.indices.dtype == rule, "the tests' index dtype rule disagrees with SciPy's"
    container = sp.csr_array if isinstance(A, sp.sparray) else sp.csr_matrix
    C = container((C.data, C.indices.astype(rule), C.indptr.astype(rule)), shape=C.shape)
    if isinstance(A, sp.sparray):
        assert C.indptr.dtype == rule
    return C


def sorted_rows(C):
    """(indptr, indices, data) of CSR C with each row sorted by column (C is left alone).

    Sorts explicitly instead of trusting ``has_sorted_indices``, which pynla sets.
    """
    indptr = np.asarray(C.indptr)
    rows = np.repeat(np.arange(C.shape[0]), np.diff(indptr))
    order = np.lexsort((C.indices, rows))
    return indptr, np.asarray(C.indices)[order], np.asarray(C.data)[order]


def components(values):
    """Float or complex values as a float array (real and imaginary parts interleaved)."""
    values = np.ascontiguousarray(values)
    return values.view(values.real.dtype) if values.dtype.kind == "c" else values


def bits(values):
    """Bit patterns of float or complex values, for exact comparison (signed zeros included)."""
    parts = components(values)
    return parts.view(f"u{parts.dtype.itemsize}")


def differing_bits(got, want):
    """Positions (in ``components``) whose bits differ; any two NaNs count as equal.

    Which NaN an operation returns (sign, payload) is not specified by IEEE 754 and changes when
    a compiler swaps the operands of an addition, so NaN bits are not compared.
    """
    both_nan = np.isnan(components(got)) & np.isnan(components(want))
    return np.flatnonzero((bits(got) != bits(want)) & ~both_nan)


def assert_no_duplicates(C):
    """No column repeats within a row of CSR C."""
    indptr, indices, _ = sorted_rows(C)
    rows = np.repeat(np.arange(C.shape[0]), np.diff(indptr))
    same_row = rows[1:] == rows[:-1]
    assert not np.any(same_row & (indices[1:] == indices[:-1])), "a row holds a column twice"


def assert_canonical(C):
    """Column indices strictly increasing within each row, and the flags say so."""
    rows = np.repeat(np.arange(C.shape[0]), np.diff(C.indptr))
    same_row = rows[1:] == rows[:-1]
    assert np.all(np.diff(C.indices.astype(np.int64))[same_row] > 0), "columns not strictly increasing within rows"
    assert C.has_sorted_indices
    assert C.has_canonical_format


def assert_same_product(C, expected, *, sort_indices=True, bitwise=True):
    """C (from pynla) holds the same matrix as ``expected`` (canonical SciPy result).

    Same shape, value dtype and index dtype, same indptr and indices, same values; bit for bit
    when ``bitwise`` (float/complex kernels promise it). ``sort_indices`` is what C was asked for:
    canonical if True; otherwise no duplicates, and equal after sorting its rows.
    """
    assert type(C) is type(expected), f"{type(C).__name__}, expected {type(expected).__name__}"
    assert C.shape == expected.shape
    assert C.dtype == expected.dtype, f"value dtype {C.dtype}, SciPy's is {expected.dtype}"
    assert C.indptr.dtype == expected.indptr.dtype, f"indptr dtype {C.indptr.dtype}, expected {expected.indptr.dtype}"
    assert C.indices.dtype == expected.indices.dtype, (
        f"indices dtype {C.indices.dtype}, expected {expected.indices.dtype}"
    )
    assert len(C.indices) == len(C.data) == C.indptr[-1]
    if sort_indices:
        assert_canonical(C)
        indptr, indices, data = C.indptr, C.indices, C.data
    else:
        assert not C.has_sorted_indices
        assert_no_duplicates(C)
        indptr, indices, data = sorted_rows(C)
    assert_array_equal(indptr, expected.indptr, err_msg="indptr differs from SciPy's")
    assert_array_equal(indices, expected.indices, err_msg="indices differ from SciPy's")
    assert_array_equal(data, expected.data, err_msg="values differ from SciPy's")
    if bitwise:
        differ = differing_bits(data, expected.data)
        assert len(differ) == 0, (
            f"{len(differ)} values differ from SciPy's in their bits, e.g. at {differ[0]}: "
            f"{data.flat[differ[0] // (2 if data.dtype.kind == 'c' else 1)]!r} vs "
            f"{expected.data.flat[differ[0] // (2 if data.dtype.kind == 'c' else 1)]!r}"
        )


def assert_kind(C, A):
    """csr_array if A is a sparse array, csr_matrix if a sparse matrix (SciPy's rule)."""
    if isinstance(A, sp.sparray):
        assert type(C) is sp.csr_array, type(C)
    else:
        assert type(C) is sp.csr_matrix, type(C)


def orthonormal(rng, n, r, dtype=np.float64):
    """n x r with orthonormal columns: QR of a Gaussian (complex Gaussian for complex dtype)."""
    G = rng.standard_normal((n, r))
    if np.dtype(dtype).kind == "c":
        G = G + 1j * rng.standard_normal((n, r))
    return np.linalg.qr(G)[0]


def with_spectrum(rng, shape, sigma, dtype=np.float64):
    """U diag(sigma) V^H (of ``dtype``) with random orthonormal U, V; len(sigma) <= min(shape)."""
    m, n = shape
    r = len(sigma)
    U, V = orthonormal(rng, m, r, dtype), orthonormal(rng, n, r, dtype)
    return ((U * sigma) @ V.conj().T).astype(dtype)
