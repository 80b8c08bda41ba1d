"""Sparse x sparse matrix products."""

import numpy as np
import scipy.sparse as sp

from pynla import _core
from pynla.block import spgemm_bsr
from pynla._validation import KERNEL_DTYPES, cast_csr, csr_like, csr_parts, index_dtype_for, require_sparse

__all__ = ["spgemm"]


def spgemm(A, B, *, sort_indices=True):
    """Multiply two sparse matrices: ``C = A @ B``, multithreaded.

    Computes the product row by row (Gustavson's algorithm), each row in a per-thread dense
    accumulator over its span of columns (banded and dense rows) or a hash table (scattered
    rows); rows are shared among threads by their flop counts. The result holds the same entries as SciPy's ``A @ B``
    (entries that sum to exactly zero are dropped, as SciPy does) with values summed in the
    same order, and is the same, bit for bit, for any number of threads.

    Parameters
    ----------
    A : sparse array or matrix, shape (m, k)
        Any SciPy sparse format (CSR, CSC, COO, BSR, DIA, LIL, DOK). Unsorted and duplicate
        indices are allowed (duplicates are summed).
    B : sparse array or matrix, shape (k, n)
        As A.
    sort_indices : bool, optional
        If True (default), the result is in canonical form: column indices sorted within
        rows, no duplicates. If False, columns are left in the order the kernel finds them,
        which is faster; the result has ``has_sorted_indices`` False (and no duplicates).
        BSR results are always sorted.

    Returns
    -------
    C : csr_array or csr_matrix, shape (m, n)
        ``csr_array`` if A is a sparse array, ``csr_matrix`` if it is a sparse matrix, as
        SciPy's ``A @ B``. If A and B are both BSR, C is BSR (``bsr_array`` or ``bsr_matrix``)
        with A's block height and B's block width, computed block by block with dense block
        products; all its blocks are kept, even ones that sum to zero, as SciPy keeps them
        (except with 1 x 1 blocks, which SciPy multiplies as CSR, dropping entries that sum to
        zero: so does pynla, with its CSR kernel). The
        dtype is NumPy's result type of A's and B's dtypes; the index dtype is int32 unless an
        input has int64 indices or nnz(C) needs int64.

    Raises
    ------
    TypeError
        If A or B is not a SciPy sparse array or matrix (a dense array or LinearOperator).
    ValueError
        If the inner dimensions differ, or an input has malformed CSR structure.
    MemoryError
        If the product cannot be allocated.

    Notes
    -----
    float32, float64, complex64 and complex128 run in the C++ kernel. Other dtypes SciPy
    multiplies (bool, integers, long double) are computed by SciPy, so they give its answer.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> A = sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]))
    >>> B = sp.csr_array(np.array([[0.0, 1.0], [4.0, 0.0], [5.0, 6.0]]))
    >>> C = pynla.spgemm(A, B)
    >>> C.toarray()
    array([[10., 13.],
           [12.,  0.]])
    >>> bool(abs(C - A @ B).max() == 0)
    True
    """
    require_sparse(A, "A")
    require_sparse(B, "B")
    check_inner_dimensions(A, B)
    both_bsr = A.format == "bsr" and B.format == "bsr"
    # SciPy's BSR product hands 1 x 1 blocks to its CSR product (B re-blocked to A's block width
    # first), which drops entries that sum to zero: those take the CSR kernel here too.
    scalar_blocks = both_bsr and A.blocksize == (1, 1) and B.blocksize[1] == 1
    if both_bsr and not scalar_blocks:
        return spgemm_bsr(A, B)
    shape = (A.shape[0], B.shape[1])
    dtype = np.result_type(A.dtype, B.dtype)
    a_parts = csr_parts(A, "A", find_rows_sorted=B is A)
    b_parts = a_parts if B is A else csr_parts(B, "B", find_rows_sorted=True)  # A @ A: one check, one conversion
    index_dtype = index_dtype_for((a_parts, b_parts), maxval=max(*A.shape, *B.shape, len(a_parts.data), len(b_parts.data)))

    if dtype not in KERNEL_DTYPES:
        return _scipy_product(A, a_parts, b_parts, shape, index_dtype, sort_indices)

    indptr, indices, data = product_arrays(a_parts, b_parts, dtype, index_dtype, sort_indices)
    C = csr_like(A, (data, indices, indptr), shape, sorted_indices=sort_indices)
    return C.tobsr(blocksize=(1, 1)) if scalar_blocks else C


def product_arrays(a_parts, b_parts, dtype, index_dtype, sort_indices):
    """(indptr, indices, data) of the kernel's product of checked CSR parts, in ``dtype`` (a
    kernel dtype), with ``index_dtype`` indices or int64 where nnz(C) needs them."""
    try:
        return _multiply(a_parts, b_parts, dtype, index_dtype, sort_indices)
    except OverflowError:  # nnz(C) may not fit int32 (the product count does not): int64 indices
        indptr, indices, data = _multiply(a_parts, b_parts, dtype, np.dtype(np.int64), sort_indices)
        if index_dtype == np.int32 and indptr[-1] <= np.iinfo(np.int32).max:  # it fits: SciPy's int32
            indptr, indices = indptr.astype(np.int32), indices.astype(np.int32)
        return indptr, indices, data


def check_inner_dimensions(A, B):
    """SciPy's ValueError for ``A @ B`` with A's columns not B's rows."""
    if A.shape[1] != B.shape[0]:
        raise ValueError(
            f"matmul: dimension mismatch with signature (n,k={A.shape[1]}),(k={B.shape[0]},m)->(n,m)"
        )


def _multiply(a_parts, b_parts, dtype, index_dtype, sort_indices):
    a = cast_csr(a_parts, dtype, index_dtype)
    b = cast_csr(b_parts, dtype, index_dtype)
    return _core.spgemm(a, b, sort_indices=sort_indices, b_rows_sorted=b.rows_sorted)


def _scipy_product(A, a_parts, b_parts, shape, index_dtype, sort_indices):
    """SciPy's product, for the dtypes the kernel does not take, returned as spgemm returns."""
    a = sp.csr_array((a_parts.data, a_parts.indices, a_parts.indptr), shape=a_parts.shape)
    b = sp.csr_array((b_parts.data, b_parts.indices, b_parts.indptr), shape=b_parts.shape)
    c = sp.csr_array(a @ b, shape=shape)
    if sort_indices:
        c.sort_indices()
    indptr = np.asarray(c.indptr, dtype=np.promote_types(index_dtype, c.indptr.dtype))
    indices = np.asarray(c.indices, dtype=indptr.dtype)
    return csr_like(A, (c.data, indices, indptr), shape, sorted_indices=sort_indices)
