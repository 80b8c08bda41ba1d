"""Sparse x sparse matrix products."""

import numpy as np
import scipy.sparse as sp

from pynla import _core
from pynla.block import spgemm_bsr
from pynla._semirings import SEMIRINGS, semiring_dtypes, semiring_operand, semiring_result
from pynla._validation import (
    KERNEL_DTYPES,
    as_csr_array,
    cast_csr,
    check_choice,
    csr_like,
    csr_parts,
    index_dtype_for,
    require_sparse,
)

__all__ = ["spgemm"]


def spgemm(A, B, *, sort_indices=True, mask=None, complement=False, semiring="plus_times"):
    """Multiply two sparse matrices: ``C = A @ B``, multithreaded, optionally masked.

    Computes the product row by row (Gustavson's algorithm), each row in a per-thread dense
    accumulator over its span of columns (banded and dense rows) or a hash table (scattered
    rows); rows are shared among threads by their flop counts. The result holds the same entries as SciPy's ``A @ B``
    (entries that sum to exactly zero are dropped, as SciPy does) with values summed in the
    same order, and is the same, bit for bit, for any number of threads.

    Parameters
    ----------
    A : sparse array or matrix, shape (m, k) or (k,)
        Any SciPy sparse format (CSR, CSC, COO, BSR, DIA, LIL, DOK). Unsorted and duplicate
        indices are allowed (duplicates are summed). A 1-D sparse array is a row, as in SciPy.
    B : sparse array or matrix, shape (k, n) or (k,)
        As A; a 1-D sparse array is a column.
    sort_indices : bool, optional
        If True (default), the result is in canonical form: column indices sorted within
        rows, no duplicates. If False, columns are left in the order the kernel finds them,
        which is faster; the result has ``has_sorted_indices`` False (and no duplicates).
        BSR results are always sorted.
    mask : sparse array or matrix, shape (m, n), optional
        Computes only the entries of ``A @ B`` at the stored entries of ``mask`` (its
        structure: explicit zeros count, values do not), as GraphBLAS's ``C<M> = A B`` with a
        structural mask; rows whose mask row is empty make no product at all. Any SciPy sparse
        format. Used for triangle counting (``spgemm(L, L, mask=L).sum()`` with L a 0/1
        lower triangle), k-truss support and sampled products.
    complement : bool, optional
        With ``mask``: compute the entries of ``A @ B`` outside the mask's structure instead.
    semiring : str, optional
        How products are made and added (GraphBLAS's semirings, as a template parameter of the
        C++ kernel):

        - ``"plus_times"`` (default): SciPy's ``A @ B``.
        - ``"min_plus"``: ``C[i, j] = min_k A[i, k] + B[k, j]`` (shortest two-edge paths).
        - ``"max_plus"``: ``max_k A[i, k] + B[k, j]`` (longest paths).
        - ``"max_times"``: ``max_k A[i, k] * B[k, j]`` (most reliable paths).
        - ``"or_and"``: ``any_k A[i, k] and B[k, j]`` on bool matrices (reachability).
        - ``"plus_pair"``: the number of k with both A[i, k] and B[k, j] stored (common
          neighbours); values are not read, the counts are float64.

        The minimum and maximum ignore NaN products (as ``fmin``/``fmax``). Over every semiring
        but plus_times, k runs over stored entries only (explicit zeros are edges), and C has an
        entry wherever some product reaches it, whatever its value; repeated entries of A or B
        are summed first. min_plus, max_plus and max_times take float32 and float64 (integers are
        computed in float64, exact below 2**53, and returned in their dtype).

    Returns
    -------
    C : csr_array or csr_matrix, shape (m, n)
        ``csr_array`` if A is a sparse array, ``csr_matrix`` if it is a sparse matrix, as
        SciPy's ``A @ B``. If A and B are both BSR, C is BSR (``bsr_array`` or ``bsr_matrix``)
        with A's block height and B's block width, computed block by block with dense block
        products; all its blocks are kept, even ones that sum to zero, as SciPy keeps them
        (except with 1 x 1 blocks, which SciPy multiplies as CSR, dropping entries that sum to
        zero: so does pynla, with its CSR kernel); with a mask, C is CSR. The
        dtype is NumPy's result type of A's and B's dtypes; the index dtype is int32 unless an
        input has int64 indices or nnz(C) needs int64. With a 1-D operand, as SciPy: the
        result loses its axis (a 1-D ``coo_array``; a 0-d ndarray for two 1-D arrays, which
        take no mask and only plus_times).

    Raises
    ------
    TypeError
        If A or B is not a SciPy sparse array or matrix (a dense array or LinearOperator), or the
        semiring does not take their dtypes (or_and on non-bool matrices, min_plus on complex).
    ValueError
        If the inner dimensions differ, an input has malformed CSR structure, the mask's shape
        is not the product's, ``complement`` is given without a mask, or the semiring is not one
        of the above.
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

    Only the entries at a mask's structure (here the diagonal):

    >>> pynla.spgemm(A, B, mask=sp.eye_array(2)).toarray()
    array([[10.,  0.],
           [ 0.,  0.]])

    Shortest two-edge paths (min-plus): D[0, 1] = min(1 + 1, 2 + 6), and D has no entry
    [1, 1], as no k has both A[1, k] and B[k, 1] stored:

    >>> D = pynla.spgemm(A, B, semiring="min_plus")
    >>> D.toarray()
    array([[7., 2.],
           [7., 0.]])
    >>> D.nnz
    3
    """
    if sp.issparse(A) and sp.issparse(B) and 1 in (A.ndim, B.ndim):
        return _with_vectors(A, B, sort_indices=sort_indices, mask=mask, complement=complement, semiring=semiring)
    require_sparse(A, "A")
    require_sparse(B, "B")
    check_inner_dimensions(A, B)
    check_choice(semiring, "semiring", SEMIRINGS)
    shape = (A.shape[0], B.shape[1])
    mask_parts = _mask_parts(mask, complement, shape)
    both_bsr = A.format == "bsr" and B.format == "bsr" and mask is None and semiring == "plus_times"
    # SciPy's BSR product hands 1 x 1 blocks to its CSR product (B re-blocked to A's block width
    # first), which drops entries that sum to zero: those take the CSR kernel here too.
    scalar_blocks = both_bsr and A.blocksize == (1, 1) and B.blocksize[1] == 1
    if both_bsr and not scalar_blocks:
        return spgemm_bsr(A, B)
    a_parts = csr_parts(A, "A", find_rows_sorted=B is A)
    b_parts = a_parts if B is A else csr_parts(B, "B", find_rows_sorted=True)  # A @ A: one check, one conversion

    if semiring != "plus_times":
        index_dtype = _index_dtype(a_parts, b_parts)
        kernel_dtype, result_dtype = semiring_dtypes(semiring, A.dtype, B.dtype)
        a, b = (semiring_operand(parts, semiring, kernel_dtype) for parts in (a_parts, b_parts))
        indptr, indices, data = product_arrays(a, b, kernel_dtype, index_dtype, sort_indices, mask_parts, complement,
                                               semiring)
        return csr_like(A, (semiring_result(data, kernel_dtype, result_dtype), indices, indptr), shape,
                        sorted_indices=sort_indices)
    C = checked_product(A, a_parts, b_parts, sort_indices=sort_indices, mask_parts=mask_parts, complement=complement)
    return C.tobsr(blocksize=(1, 1), copy=False) if scalar_blocks else C


def checked_product(A, a_parts, b_parts, *, sort_indices=True, mask_parts=None, complement=False):
    """SciPy's product of checked CSR parts (``csr_parts``; the mask's too, if given), as
    :func:`spgemm` returns it: CSR of the kind of A (the sparse array or matrix the result's kind
    follows). For callers that have checked their operands already (Galerkin products)."""
    shape = (a_parts.shape[0], b_parts.shape[1])
    dtype = np.result_type(a_parts.data.dtype, b_parts.data.dtype)
    index_dtype = _index_dtype(a_parts, b_parts)
    if dtype not in KERNEL_DTYPES:
        C = _scipy_product(A, a_parts, b_parts, shape, index_dtype, sort_indices)
        return C if mask_parts is None else _masked(C, mask_parts, complement)
    indptr, indices, data = product_arrays(a_parts, b_parts, dtype, index_dtype, sort_indices, mask_parts, complement)
    return csr_like(A, (data, indices, indptr), shape, sorted_indices=sort_indices)


def _index_dtype(a_parts, b_parts):
    """The index dtype of a product (int32 unless an input's indices or sizes need int64)."""
    maxval = max(*a_parts.shape, *b_parts.shape, len(a_parts.data), len(b_parts.data))
    return index_dtype_for((a_parts, b_parts), maxval=maxval)


def _with_vectors(A, B, *, mask, **options):
    """``A @ B`` where A or B is a 1-D sparse array, as SciPy computes it: a 1-D A is a row, a 1-D
    B a column, and the result has neither of their axes: a 1-D coo_array, or for two vectors a
    0-d ndarray. A mask has the result's shape (no mask, and only plus-times, for two vectors:
    a scalar cannot say that no product reached it)."""
    row = A.reshape((1, A.shape[0])) if A.ndim == 1 else A
    column = B.reshape((B.shape[0], 1)) if B.ndim == 1 else B
    check_inner_dimensions(row, column)
    shape = A.shape[:-1] + B.shape[1:]
    product_shape = (row.shape[0], column.shape[1])
    if shape == () and (mask is not None or options["semiring"] != "plus_times"):
        raise ValueError("the product of two 1-D arrays is a scalar: it takes no mask, and only semiring='plus_times'")
    if mask is not None:
        require_sparse(mask, "mask", ndims=(1, 2))
        if mask.shape != shape:
            raise ValueError(f"mask has shape {mask.shape}, the product has shape {shape}")
        mask = mask.reshape(product_shape)
    C = spgemm(row, column, mask=mask, **options)
    if shape == ():
        return np.array(C.data[0] if C.nnz else 0, dtype=C.dtype)
    return sp.coo_array(C).reshape(shape)


def product_arrays(a_parts, b_parts, dtype, index_dtype, sort_indices, mask_parts=None, complement=False,
                   semiring="plus_times", upper=False):
    """(indptr, indices, data) of the kernel's product of checked CSR parts, in ``dtype`` (a
    dtype the semiring's kernel takes), with ``index_dtype`` indices or int64 where nnz(C) needs
    them; masked by the checked CSR parts ``mask_parts`` if given, or only its upper triangle
    (column >= row) if ``upper``."""
    options = (sort_indices, mask_parts, complement, semiring, upper)
    try:
        return _multiply(a_parts, b_parts, dtype, index_dtype, *options)
    except OverflowError:  # nnz(C) may not fit int32 (the product count does not): int64 indices
        indptr, indices, data = _multiply(a_parts, b_parts, dtype, np.dtype(np.int64), *options)
        if index_dtype == np.int32 and indptr[-1] <= np.iinfo(np.int32).max:  # it fits: SciPy's int32
            indptr, indices = indptr.astype(np.int32), indices.astype(np.int32)
        return indptr, indices, data


def _mask_parts(mask, complement, shape):
    """The checked CSR parts of the mask (None without one)."""
    if mask is None:
        if complement:
            raise ValueError("complement=True needs a mask")
        return None
    require_sparse(mask, "mask")
    if mask.shape != shape:
        raise ValueError(f"mask has shape {mask.shape}, the product has shape {shape}")
    return csr_parts(mask, "mask")


def _masked(C, mask_parts, complement):
    """CSR C with only its entries at the mask's structure (outside it, with complement)."""
    pattern = as_csr_array(mask_parts, np.ones(len(mask_parts.indices), dtype=np.int8))
    rows = np.repeat(np.arange(C.shape[0]), np.diff(C.indptr))
    keep = values_at(pattern, rows, C.indices) != 0
    if complement:
        keep = ~keep
    indptr = np.zeros(C.shape[0] + 1, dtype=C.indptr.dtype)
    np.cumsum(np.bincount(rows[keep], minlength=C.shape[0]), out=indptr[1:])
    return csr_like(C, (C.data[keep], C.indices[keep], indptr), C.shape, sorted_indices=C.has_sorted_indices)


def check_inner_dimensions(A, B):
    """SciPy's ValueError for ``A @ B`` with A's columns not B's rows."""
    if A.shape[1] != B.shape[0]:
        raise ValueError(
            f"matmul: dimension mismatch with signature (n,k={A.shape[1]}),(k={B.shape[0]},m)->(n,m)"
        )


def values_at(M, rows, columns):
    """M's values at the places (rows[t], columns[t]), zero where M has no entry: a 1-D array."""
    if len(rows) == 0:  # SciPy's indexing returns a sparse array for no places
        return np.zeros(0, dtype=M.dtype)
    # Copies: SciPy's indexing sets flags that arrays owned by the core (by a capsule) refuse.
    return np.asarray(sp.csr_array(M)[np.array(rows), np.array(columns)]).ravel()


def _multiply(a_parts, b_parts, dtype, index_dtype, sort_indices, mask_parts, complement, semiring, upper):
    a = cast_csr(a_parts, dtype, index_dtype)
    b = cast_csr(b_parts, dtype, index_dtype)
    mask = None
    if mask_parts is not None:
        mask = tuple(np.ascontiguousarray(x, dtype=index_dtype) for x in (mask_parts.indptr, mask_parts.indices))
    return _core.spgemm(a, b, sort_indices=sort_indices, b_rows_sorted=b.rows_sorted, mask=mask, complement=complement,
                        semiring=semiring, upper=upper)


def _scipy_product(A, a_parts, b_parts, shape, index_dtype, sort_indices):
    """SciPy's product, for the dtypes the kernel does not take, returned as spgemm returns."""
    c = sp.csr_array(as_csr_array(a_parts) @ as_csr_array(b_parts), shape=shape)
    if sort_indices:
        c.sort_indices()
    indptr = np.asarray(c.indptr, dtype=np.promote_types(index_dtype, c.indptr.dtype))
    indices = np.asarray(c.indices, dtype=indptr.dtype)
    return csr_like(A, (c.data, indices, indptr), shape, sorted_indices=sort_indices)
