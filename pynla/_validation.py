"""Checks and conversions shared by every public function.

Inputs are checked once, here, before any kernel runs; each helper returns what it checked,
and every message names the argument it is about.
"""

import itertools
import numbers
from collections import namedtuple

import numpy as np
import scipy.sparse as sp

from pynla import _core

INT32_MAX = np.iinfo(np.int32).max
INT64_MAX = np.iinfo(np.int64).max

#: The value dtypes the C++ kernels take.
KERNEL_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.complex64, np.complex128))

#: The index dtypes the core's structure check takes.
_CHECKABLE_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


#: A checked CSR matrix as the core takes it: contiguous 1-D arrays and the shape; and whether
#: every row lists its columns in non-decreasing order (None: not known).
CsrInput = namedtuple("CsrInput", ["indptr", "indices", "data", "shape", "rows_sorted"], defaults=(None,))

#: A checked BSR matrix: indptr and indices over the block grid, data of shape (nnzb, R, C).
BsrInput = namedtuple("BsrInput", ["indptr", "indices", "data", "shape", "blocksize"])


def float_kernel_dtype(dtype, name):
    """The kernel dtype for a computation that only the C++ kernels do (inverses, operators):
    ``dtype`` itself if they take it, float64 for bool and integers; TypeError naming ``name``
    for the rest (long double, as numpy.linalg refuses it too)."""
    dtype = np.dtype(dtype)
    if dtype in KERNEL_DTYPES:
        return dtype
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    raise TypeError(f"{name} has dtype {dtype}; expected float32, float64, complex64, complex128, bool or integers")


def dense_compute_dtype(dtype, name):
    """The dtype dense (LAPACK) work runs in: float16 -> float32, bool and integers -> float64,
    the four kernel dtypes as they are; TypeError naming ``name`` for the rest."""
    dtype = np.dtype(dtype)
    return float_kernel_dtype(np.float32 if dtype == np.float16 else dtype, name)


def check_integer(value, name, low, high=None, *, bound=None):
    """``value`` as an int if it is an integer (not bool) in [low, high]; ValueError naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if high is None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and not low <= value <= high:
        raise ValueError(f"{name} must satisfy {low} <= {name} <= {bound} = {high}, got {value}")
    return value


def check_choice(value, name, choices):
    """``value`` if it is one of the strings ``choices``; ValueError naming ``name`` if not."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def require_sparse(A, name, *, ndims=(2,)):
    """Return A if it is a SciPy sparse array or matrix with a number of dimensions in ``ndims``;
    raise TypeError (not sparse) or ValueError (other dimensions) naming it if not."""
    if not sp.issparse(A):
        raise TypeError(f"{name} must be a SciPy sparse array or matrix, got {type(A).__name__}")
    if A.ndim not in ndims:
        raise ValueError(f"{name} must be {' or '.join(f'{n}-D' for n in ndims)}, got shape {A.shape}")
    return A


def csr_parts(A, name, *, find_rows_sorted=False):
    """The CSR arrays of sparse A (any format), checked: returns a CsrInput in A's own dtypes.

    Malformed structure (wrong lengths, indptr[0] != 0, decreasing indptr, indptr[-1] !=
    len(indices), indices out of range) raises ValueError naming ``name``, and is caught
    before SciPy converts the input to CSR (its converters trust their input).
    Duplicate and unsorted indices are allowed: kernels sum duplicates. With
    ``find_rows_sorted``, the result's ``rows_sorted`` tells whether every row lists its
    columns in order (else None: finding out walks every row start, and costs more than the
    rest of the check on matrices of short rows).
    """
    n_rows, n_cols = A.shape
    if A.format == "csc":  # its arrays are the CSR parts of its transpose
        checked = _check_compressed(A.indptr, A.indices, A.data, n_cols, n_rows, name, ("column", "row"))
        return transposed_parts(CsrInput(*checked[:3], (n_cols, n_rows)))
    if A.format == "bsr" and A.blocksize == (1, 1):  # its arrays are CSR's: checked as such, not converted
        data = _bsr_layout(A, name)[0].reshape(-1)
        checked = _check_compressed(A.indptr, A.indices, data, n_rows, n_cols, name, ("row", "column"),
                                    find_rows_sorted=find_rows_sorted)
        return CsrInput(*checked[:3], (n_rows, n_cols), checked[3])
    elif A.format == "bsr":
        bsr_parts(A, name)
    elif A.format == "coo":
        _check_coordinates(A.coords, A.data, A.shape, name)
    elif A.format == "lil":
        _check_lists_of_lists(A.rows, A.data, A.shape, name)
    elif A.format == "dia":
        if np.ndim(A.data) != 2 or np.shape(A.data)[0] != len(A.offsets):
            raise ValueError(f"{name}.data has shape {np.shape(A.data)}, expected ({len(A.offsets)}, n) for its offsets")
    csr = A if A.format == "csr" else A.tocsr()
    indptr, indices, data, rows_sorted = _check_compressed(csr.indptr, csr.indices, csr.data, n_rows, n_cols, name,
                                                           ("row", "column"), find_rows_sorted=find_rows_sorted)
    return CsrInput(indptr, indices, data, (n_rows, n_cols), rows_sorted)


def bsr_parts(A, name):
    """The BSR arrays of a BSR matrix A, checked: returns a BsrInput in A's own dtypes.

    A blocksize that does not divide the shape, data not of shape (nnzb, R, C) and malformed
    structure (as for csr_parts, over the block grid) raise ValueError naming ``name``.
    Unsorted and repeated blocks are allowed: kernels add repeats up.
    """
    data, grid, blocksize = _bsr_layout(A, name)
    indptr, indices, data, _ = _check_compressed(A.indptr, A.indices, data, *grid, name,
                                                 ("block row", "block column"), data_ndim=3)
    return BsrInput(indptr, indices, data, A.shape, blocksize)


def bsr_kernel_arrays(A, name, dtype):
    """A's BSR arrays as a kernel that checks the structure in its own call takes them (the
    tuple of cast_bsr, values in ``dtype``), for small products, which a separate check would
    cost a call. Only the layout is checked here; when the kernel's call raises ValueError,
    ``bsr_parts(A, name)`` names the fault."""
    data, grid, blocksize = _bsr_layout(A, name)
    indptr, indices = np.asarray(A.indptr), np.asarray(A.indices)
    if indptr.dtype != indices.dtype or indptr.dtype not in _CHECKABLE_INDEX_DTYPES:  # rare: the full check
        parts = bsr_parts(A, name)
        return cast_bsr(parts, dtype, index_dtype_for([parts], maxval=0))
    return (np.ascontiguousarray(indptr), np.ascontiguousarray(indices),
            np.ascontiguousarray(data, dtype=dtype).reshape(-1), grid, blocksize)


def _bsr_layout(A, name):
    """BSR A's data as an array, its block grid and its blocksize, checked: the format, a
    blocksize that divides the shape, data of shape (nnzb, R, C)."""
    if A.format != "bsr":
        raise TypeError(f"{name} must be a BSR array or matrix (scipy.sparse.bsr_array), got format {A.format!r}")
    (n_rows, n_cols), (block_rows, block_cols) = A.shape, A.blocksize
    if block_rows < 1 or block_cols < 1 or n_rows % block_rows or n_cols % block_cols:
        raise ValueError(f"{name}.blocksize {A.blocksize} does not divide its shape {A.shape}")
    data = np.asarray(A.data)
    if data.ndim != 3 or data.shape[1:] != (block_rows, block_cols):
        raise ValueError(f"{name}.data has shape {data.shape}, expected (nnzb, {block_rows}, {block_cols})")
    return data, (n_rows // block_rows, n_cols // block_cols), (block_rows, block_cols)


def _check_compressed(indptr, indices, data, n_major, n_minor, name, axes, data_ndim=1, find_rows_sorted=False):
    """Checks compressed (CSR/CSC, or BSR with data_ndim=3) structure.

    Returns the arrays and whether every row lists its indices in non-decreasing order (None
    unless ``find_rows_sorted``).
    """
    major, minor = axes
    indptr, indices, data = np.asarray(indptr), np.asarray(indices), np.asarray(data)
    for label, array in (("indptr", indptr), ("indices", indices)):
        if array.ndim != 1 or array.dtype.kind not in "iu":
            raise ValueError(f"{name}.{label} must be a 1-D integer array, got {array.dtype} of shape {array.shape}")
    if data.ndim != data_ndim:
        raise ValueError(f"{name}.data must be {data_ndim}-D, got shape {data.shape}")
    if len(indptr) != n_major + 1:
        raise ValueError(f"{name}.indptr has length {len(indptr)}, expected {n_major + 1} (one more than the {major}s)")
    if indptr[0] != 0:
        raise ValueError(f"{name}.indptr[0] is {indptr[0]}, expected 0")
    if indptr[-1] != len(indices) or len(indices) != len(data):
        raise ValueError(
            f"{name}: indptr[-1] = {indptr[-1]}, len(indices) = {len(indices)} and len(data) = {len(data)} differ"
        )
    # One pass over each array in C++ (numpy's diff, min and max would take three).
    decrease, out_of_range, rows_sorted = _core.check_compressed(*_checkable(indptr, indices), n_minor,
                                                                find_rows_sorted=find_rows_sorted)
    if decrease >= 0:
        raise ValueError(f"{name}.indptr is not non-decreasing: indptr[{decrease + 1}] < indptr[{decrease}]")
    if out_of_range >= 0:
        raise ValueError(f"{name}.indices has index {indices[out_of_range]} out of range for {n_minor} {minor}s")
    return indptr, indices, data, rows_sorted


def _checkable(indptr, indices):
    """indptr and indices as contiguous arrays of one dtype the core's check takes (int32 or
    int64), at the same positions; uint64 values past int64 are clipped, so they stay out of range."""
    if indptr.dtype == indices.dtype and indptr.dtype in _CHECKABLE_INDEX_DTYPES \
            and indptr.flags.c_contiguous and indices.flags.c_contiguous:
        return indptr, indices
    dtype = np.int32 if indptr.dtype == indices.dtype == np.int32 else np.int64
    return tuple(
        np.ascontiguousarray(np.minimum(a, INT64_MAX) if a.dtype == np.uint64 else a, dtype=dtype)
        for a in (indptr, indices)
    )


def _check_lists_of_lists(rows, data, shape, name):
    """Checks LIL structure: a column list and a value list of equal length per row, in range.

    LIL is a format of Python lists, so this walks them in Python, as SciPy's own LIL code does.
    """
    n_rows, n_cols = shape
    if len(rows) != n_rows or len(data) != n_rows:
        raise ValueError(f"{name}: LIL has {len(rows)} rows and {len(data)} data rows, expected {n_rows}")
    row_lengths = np.fromiter(map(len, rows), dtype=np.int64, count=n_rows)
    if not np.array_equal(row_lengths, np.fromiter(map(len, data), dtype=np.int64, count=n_rows)):
        raise ValueError(f"{name}: a row of the LIL matrix has a different number of columns and values")
    columns = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=int(row_lengths.sum()))
    _check_in_range(columns, n_cols, f"{name}.rows", "columns")


def _check_coordinates(coords, data, shape, name):
    """Checks COO coordinates: one index array per axis, as long as data, each in range."""
    for axis, (index, size) in enumerate(zip(coords, shape)):
        index = np.asarray(index)
        if index.ndim != 1 or len(index) != len(data):
            raise ValueError(f"{name}.coords[{axis}] has shape {index.shape}, expected ({len(data)},)")
        _check_in_range(index, size, f"{name}.coords[{axis}]", f"places on axis {axis}")


def _check_in_range(index, size, what, unit):
    """Raises ValueError naming ``what`` if an entry of the integer array ``index`` is outside [0, size)."""
    if len(index) > 0:
        low, high = index.min(), index.max()
        if low < 0 or high >= size:
            raise ValueError(f"{what} has index {low if low < 0 else high} out of range for {size} {unit}")


def index_dtype_for(parts, maxval):
    """int64 if any of the CSR parts has int64 indices or ``maxval`` exceeds int32, else int32.

    This is SciPy's rule for results (``get_index_dtype`` on the operands' index arrays).
    """
    wide = maxval > INT32_MAX or any(not _fits_int32(p.indices.dtype) or not _fits_int32(p.indptr.dtype) for p in parts)
    return np.dtype(np.int64 if wide else np.int32)


def _fits_int32(dtype):
    """Whether every value of the integer dtype fits int32, in either byte order (np.can_cast's
    answer, which costs more than the structure check of a small matrix)."""
    return dtype.itemsize < 4 or (dtype.itemsize == 4 and dtype.kind == "i")


def transposed_parts(parts):
    """The checked CSR parts of the transpose of checked CSR parts, rows sorted, repeated entries
    kept (SciPy's conversion to CSC, in the core for the kernels' dtypes)."""
    if np.dtype(parts.data.dtype) not in KERNEL_DTYPES:
        At = as_csr_array(parts).tocsc()
        return CsrInput(At.indptr, At.indices, At.data, parts.shape[::-1], True)
    a = cast_csr(parts, parts.data.dtype, index_dtype_for([parts], maxval=max(*parts.shape, len(parts.data))))
    indptr, indices, data = _core.transpose(tuple(a[:4]))
    return CsrInput(indptr, indices, data, parts.shape[::-1], True)


def cast_csr(parts, dtype, index_dtype):
    """The CSR parts as contiguous arrays of the given dtypes (copies only what must change)."""
    return CsrInput(
        np.ascontiguousarray(parts.indptr, dtype=index_dtype),
        np.ascontiguousarray(parts.indices, dtype=index_dtype),
        np.ascontiguousarray(parts.data, dtype=dtype),
        parts.shape,
        parts.rows_sorted,
    )


def cast_bsr(parts, dtype, index_dtype):
    """The BSR parts as the core takes them: (indptr, indices, flat data, block grid, blocksize)."""
    (n_rows, n_cols), (block_rows, block_cols) = parts.shape, parts.blocksize
    return (
        np.ascontiguousarray(parts.indptr, dtype=index_dtype),
        np.ascontiguousarray(parts.indices, dtype=index_dtype),
        np.ascontiguousarray(parts.data, dtype=dtype).reshape(-1),
        (n_rows // block_rows, n_cols // block_cols),
        parts.blocksize,
    )


def bsr_like(A, arrays, shape, blocksize):
    """A canonical BSR result of the kind of A: bsr_matrix for a sparse matrix, else bsr_array.

    ``arrays`` is (data, indices, indptr) with data flat or (nnzb, R, C), used without a copy.
    """
    data, indices, indptr = arrays
    container = sp.bsr_matrix if isinstance(A, sp.spmatrix) else sp.bsr_array
    result = container((data.reshape(-1, *blocksize), indices, indptr), shape=shape, blocksize=blocksize, copy=False)
    result.has_sorted_indices = True
    result.has_canonical_format = True
    return result


def as_csr_array(parts, data=None):
    """Checked CSR parts as a SciPy csr_array sharing their arrays (``data`` in place of theirs
    if given): for the steps the kernels leave to SciPy."""
    return sp.csr_array((parts.data if data is None else data, parts.indices, parts.indptr), shape=parts.shape)


def csr_like(A, arrays, shape, *, sorted_indices):
    """A CSR result of the kind of A: csr_array for a sparse array, csr_matrix for a sparse matrix.

    ``arrays`` is (data, indices, indptr), used without a copy; ``sorted_indices`` says whether
    column indices are sorted within rows (results never hold duplicates).
    """
    container = sp.csr_array if isinstance(A, sp.sparray) else sp.csr_matrix
    result = container(arrays, shape=shape, copy=False)
    result.has_sorted_indices = sorted_indices
    result.has_canonical_format = sorted_indices
    return result
