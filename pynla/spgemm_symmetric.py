"""Symmetric sparse products: ``A @ A.T`` and ``A.T @ A``, whole or their upper triangle."""

import numpy as np
import scipy.sparse as sp

from pynla._validation import (
    KERNEL_DTYPES,
    as_csr_array,
    csr_like,
    csr_parts,
    index_dtype_for,
    require_sparse,
    transposed_parts,
)
from pynla.spgemm import product_arrays

__all__ = ["spgemm_aat", "spgemm_ata"]


def spgemm_aat(A, *, upper=False, sort_indices=True):
    """``C = A @ A.T`` (no conjugation, as SciPy's), whole or only its upper triangle.

    A A^T is symmetric, so its upper triangle (the entries with column >= row) says all of it:
    with ``upper=True`` only those entries are computed, at about half the work of the whole
    product (sparse Gram and co-occurrence matrices, similarity of rows). The transpose of A is
    made inside, from A's arrays: the caller passes A alone.

    Parameters
    ----------
    A : sparse array or matrix, shape (m, n)
        Any SciPy sparse format; unsorted and repeated indices are allowed.
    upper : bool, optional
        If True, return only the upper triangle of A A^T (``scipy.sparse.triu`` of it).
    sort_indices : bool, optional
        As :func:`pynla.spgemm`.

    Returns
    -------
    C : csr_array or csr_matrix, shape (m, m)
        A's kind, as :func:`pynla.spgemm`: the entries and values of SciPy's ``A @ A.T`` (bit
        for bit for float32, float64, complex64 and complex128; other dtypes are computed by
        SciPy), or its upper triangle.

    Raises
    ------
    TypeError
        If A is not a SciPy sparse array or matrix.
    ValueError
        If A has malformed structure.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> A = sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]]))
    >>> pynla.spgemm_aat(A).toarray()
    array([[ 5.,  8.],
           [ 8., 25.]])
    >>> pynla.spgemm_aat(A, upper=True).toarray()
    array([[ 5.,  8.],
           [ 0., 25.]])
    """
    require_sparse(A, "A")
    parts = csr_parts(A, "A")
    return _symmetric_product(A, parts, transposed_parts(parts), upper, sort_indices)


def spgemm_ata(A, *, upper=False, sort_indices=True):
    """``C = A.T @ A`` (no conjugation, as SciPy's), whole or only its upper triangle.

    The normal-equations and Gram matrix of A's columns. As :func:`spgemm_aat`, on A's
    transpose: the transpose of A is made inside, and with ``upper=True`` only the entries with
    column >= row are computed.

    Parameters
    ----------
    A : sparse array or matrix, shape (m, n)
        Any SciPy sparse format; unsorted and repeated indices are allowed.
    upper : bool, optional
        If True, return only the upper triangle of A^T A.
    sort_indices : bool, optional
        As :func:`pynla.spgemm`.

    Returns
    -------
    C : csr_array or csr_matrix, shape (n, n)
        A's kind: the entries of SciPy's ``A.T @ A`` and its values to rounding (SciPy sums
        them in another order), or its upper triangle.

    Raises
    ------
    TypeError, ValueError
        As :func:`spgemm_aat`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> A = sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]]))
    >>> pynla.spgemm_ata(A, upper=True).toarray()
    array([[ 1.,  0.,  2.],
           [ 0.,  9., 12.],
           [ 0.,  0., 20.]])
    """
    require_sparse(A, "A")
    parts = csr_parts(A, "A")
    transposed = transposed_parts(parts)
    return _symmetric_product(A, transposed, parts, upper, sort_indices)


def _symmetric_product(A, left, right, upper, sort_indices):
    """left @ right (= A A^T or A^T A), or its upper triangle, as A's kind."""
    shape = (left.shape[0], right.shape[1])
    dtype = np.dtype(A.dtype)
    if dtype not in KERNEL_DTYPES:  # SciPy's product, and its triangle
        C = as_csr_array(left) @ as_csr_array(right)
        C = sp.csr_array(sp.triu(C, format="csr") if upper else C)
        C.sort_indices()
        return csr_like(A, (C.data, C.indices, C.indptr), shape, sorted_indices=True)
    index_dtype = index_dtype_for((left, right), maxval=max(*shape, left.shape[1], len(left.data)))
    indptr, indices, data = product_arrays(left, right, dtype, index_dtype, sort_indices, upper=upper)
    return csr_like(A, (data, indices, indptr), shape, sorted_indices=sort_indices)
