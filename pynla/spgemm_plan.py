"""Sparse x sparse products of fixed patterns: the structure found once, the values many times."""

import numpy as np
import scipy.sparse as sp

from pynla import _core
from pynla._validation import KERNEL_DTYPES, CsrInput, as_csr_array, csr_like, csr_parts, index_dtype_for, require_sparse
from pynla.spgemm import check_inner_dimensions, product_arrays, values_at

__all__ = ["SpgemmPlan", "spgemm_plan"]


def spgemm_plan(A, B):
    """Analyse the product ``A @ B`` once, to recompute it for new values of A and B.

    Time stepping, Newton iterations and multigrid set-up with changed coefficients multiply
    matrices whose patterns stay fixed while their values change. The plan finds the pattern of
    the product once; each call then computes only the values, into that pattern: no hashing,
    sorting or counting, and with ``out`` no allocation.

    Parameters
    ----------
    A : sparse array or matrix, shape (m, k)
        Any SciPy sparse format. Only its pattern (where it has entries) matters here.
    B : sparse array or matrix, shape (k, n)
        As A.

    Returns
    -------
    plan : SpgemmPlan
        ``plan(A_new, B_new)`` computes ``A_new @ B_new`` for matrices with the patterns of A
        and B.

    Raises
    ------
    TypeError, ValueError
        As :func:`pynla.spgemm`: non-sparse input, inner dimensions that differ, malformed
        structure.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> A = sp.random_array((50, 40), density=0.1, format="csr", rng=0)
    >>> B = sp.random_array((40, 30), density=0.1, format="csr", rng=1)
    >>> plan = pynla.spgemm_plan(A, B)
    >>> C = plan(A, B)
    >>> A.data *= 2.0                      # new values, same pattern
    >>> C = plan(A, B, out=C)              # computed into C's own arrays
    >>> bool(abs(C - A @ B).max() == 0)
    True
    """
    return SpgemmPlan(A, B)


class SpgemmPlan:
    """The pattern of ``C = A @ B`` for A and B of fixed patterns; calling it computes C's values.

    Make one with :func:`spgemm_plan` (the class itself also takes ``names``, the two names its
    errors give A and B: :func:`pynla.ptap_plan`'s plans are of ``P.T @ A`` and ``T @ P``). The
    pattern is the product of A's and B's patterns: every
    entry that some product reaches. Calling the plan sums the products into it in SciPy's order,
    so every value equals SciPy's ``A @ B``'s bit for bit; an entry whose products cancel to
    exactly zero stays in the pattern as an explicit zero, where SciPy's product drops it. The
    result is the same for any number of threads.

    Attributes
    ----------
    shape : tuple of int
        The shape of C.
    nnz : int
        The number of entries in C's pattern.
    index_dtype : numpy.dtype
        C's index dtype (int32 unless an input has int64 indices or nnz(C) needs int64).
    """

    def __init__(self, A, B, *, names=("A", "B")):
        # names: what errors call A and B (a Galerkin plan's products are of P.T and A, T and P).
        self._names = names
        require_sparse(A, names[0])
        require_sparse(B, names[1])
        check_inner_dimensions(A, B)
        a_parts = csr_parts(A, names[0])
        b_parts = a_parts if B is A else csr_parts(B, names[1])
        self._a_shape, self._b_shape = A.shape, B.shape
        self._b_is_a = B is A
        self.shape = (A.shape[0], B.shape[1])
        index_dtype = index_dtype_for((a_parts, b_parts), maxval=max(*A.shape, *B.shape, len(a_parts.data), len(b_parts.data)))
        # The pattern of C: the product of the patterns, as ones (sums of ones never cancel).
        ones = np.dtype(np.float32)
        indptr, indices, _ = product_arrays(_pattern(a_parts, ones), _pattern(b_parts, ones), ones, index_dtype, True)
        self.index_dtype = indptr.dtype
        self.nnz = len(indices)
        self._c_indptr, self._c_indices = indptr, indices
        # Own copies: the caller may change its arrays in place, and the kernel trusts these.
        self._a_indptr, self._a_indices = (np.array(x, dtype=self.index_dtype) for x in (a_parts.indptr, a_parts.indices))
        if B is A:  # one pattern, kept once
            self._b_indptr, self._b_indices = self._a_indptr, self._a_indices
        else:
            self._b_indptr, self._b_indices = (np.array(x, dtype=self.index_dtype) for x in (b_parts.indptr, b_parts.indices))

    def __repr__(self):
        return f"<SpgemmPlan of a {self.shape[0]}x{self.shape[1]} product with {self.nnz} entries>"

    def __call__(self, A, B, *, out=None):
        """Compute ``A @ B`` for A and B with the plan's patterns.

        Parameters
        ----------
        A : sparse array or matrix, shape (m, k)
            The pattern the plan was made with (after conversion to CSR, the same row offsets
            and column indices, in the same order), any values. Any SciPy sparse format.
        B : sparse array or matrix, shape (k, n)
            As A.
        out : csr_array or csr_matrix, optional
            A result of this plan (its row offsets and column indices unchanged), of the dtype
            of this product: its values are overwritten, and it is returned.

        Returns
        -------
        C : csr_array or csr_matrix, shape (m, n)
            ``out``, or a new CSR matrix of A's kind (``csr_array`` for a sparse array) with the
            plan's pattern: sorted column indices, no duplicates, explicit zeros where products
            cancel. Its dtype is NumPy's result type of A's and B's dtypes.

        Raises
        ------
        TypeError
            If A or B is not sparse, or ``out`` is not a CSR matrix.
        ValueError
            If A's or B's shape or pattern is not the plan's, or ``out``'s shape, dtype or
            pattern is not the result's, or ``out`` shares memory with A's or B's values.
        """
        a_name, b_name = self._names
        require_sparse(A, a_name)
        require_sparse(B, b_name)
        for M, name, shape in ((A, a_name, self._a_shape), (B, b_name, self._b_shape)):
            if M.shape != shape:
                raise ValueError(f"{name} has shape {M.shape}, the plan's {name} has shape {shape}")
        dtype = np.result_type(A.dtype, B.dtype)
        a_data = self._values_in_pattern(A, a_name, self._a_indptr, self._a_indices)
        # A @ A with a plan of A @ A: B's pattern is the one just checked.
        b_data = a_data if B is A and self._b_is_a else self._values_in_pattern(B, b_name, self._b_indptr, self._b_indices)
        values = self._output_values(out, dtype, (a_data, b_data))
        if dtype in KERNEL_DTYPES:
            a = (self._a_indptr, self._a_indices, np.ascontiguousarray(a_data, dtype=dtype), self._a_shape)
            b = (self._b_indptr, self._b_indices, np.ascontiguousarray(b_data, dtype=dtype), self._b_shape)
            _core.spgemm_into_pattern(a, b, self._c_indptr, self._c_indices, values)
        else:  # bool, integers, long double: SciPy's product, read at the pattern's places
            values[:] = self._scipy_values(a_data, b_data)
        if out is not None:
            return out
        return csr_like(A, (values, self._c_indices.copy(), self._c_indptr.copy()), self.shape, sorted_indices=True)

    def _values_in_pattern(self, M, name, indptr, indices):
        """M's values, in the order of the plan's pattern of M; ValueError if M's pattern is not it."""
        if M.format == "csr":  # compared below with the checked pattern: no check of its own needed
            m_indptr, m_indices, data = M.indptr, M.indices, M.data
        else:
            m_indptr, m_indices, data, _, _ = csr_parts(M, name)
        if not (len(data) == len(indices) and _equal(indptr, m_indptr) and _equal(indices, m_indices)):
            raise ValueError(f"{name}'s pattern (its CSR row offsets and column indices) is not the plan's")
        return data

    def _output_values(self, out, dtype, inputs):
        """The array the values go to: out's values, checked, or a new one."""
        if out is None:
            return np.empty(self.nnz, dtype=dtype)
        if not (sp.issparse(out) and out.format == "csr"):
            raise TypeError(f"out must be a CSR array or matrix, got {type(out).__name__}")
        if out.shape != self.shape or out.dtype != dtype:
            raise ValueError(f"out has shape {out.shape} and dtype {out.dtype}, the product {self.shape} and {dtype}")
        values = out.data
        if not (values.flags.c_contiguous and values.flags.writeable and len(values) == self.nnz):
            raise ValueError("out.data must be a writeable contiguous array with one value per entry of the plan")
        if not (_equal(self._c_indptr, out.indptr) and _equal(self._c_indices, out.indices)):
            raise ValueError("out's pattern (its row offsets and column indices) is not the plan's")
        if any(np.may_share_memory(values, data) for data in inputs):
            raise ValueError(f"out shares memory with the values of {' or '.join(self._names)}")
        return values

    def _scipy_values(self, a_data, b_data):
        """SciPy's A @ B (for dtypes the kernel does not take) at the places of the plan's pattern."""
        a = as_csr_array(CsrInput(self._a_indptr, self._a_indices, a_data, self._a_shape))
        b = as_csr_array(CsrInput(self._b_indptr, self._b_indices, b_data, self._b_shape))
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self._c_indptr))
        return values_at(a @ b, rows, self._c_indices)


def _pattern(parts, dtype):
    """The CSR parts with every value one."""
    return CsrInput(parts.indptr, parts.indices, np.ones(len(parts.indices), dtype=dtype), parts.shape, parts.rows_sorted)


def _equal(stored, given):
    """Whether the index array ``given`` holds the values of ``stored``, compared in a dtype that
    holds both (a narrowing cast could make an out-of-range index look like a stored one)."""
    dtype = np.promote_types(stored.dtype, given.dtype)
    return _core.equal_arrays(np.ascontiguousarray(stored, dtype=dtype), np.ascontiguousarray(given, dtype=dtype))
