"""Galerkin products: the coarse operators ``P.T @ A @ P`` and ``R @ A @ P`` of algebraic multigrid."""

import numpy as np
import scipy.sparse as sp

from pynla import _core
from pynla._validation import (
    KERNEL_DTYPES,
    CsrInput,
    bsr_like,
    bsr_parts,
    csr_like,
    csr_parts,
    index_dtype_for,
    require_sparse,
    transposed_parts,
)
from pynla.block_build import to_bsr
from pynla.spgemm import checked_product, spgemm
from pynla.spgemm_plan import SpgemmPlan

__all__ = ["PtapPlan", "ptap", "ptap_plan", "rap"]


def ptap(A, P):
    """The Galerkin product ``C = P.T @ A @ P`` (no conjugation), exactly symmetric when A is.

    The coarse operator of algebraic multigrid (PETSc's MatPtAP, hypre's RAP): P.T is made
    inside, then ``(P.T @ A) @ P`` is computed with :func:`pynla.spgemm`'s kernels, in SciPy's
    order. When A equals its transpose (checked in place, at a small fraction of the products'
    cost), each of C's values below the diagonal is replaced by its mirror above: C is then
    symmetric bit for bit, which SciPy's ``P.T @ A @ P`` is not.

    Parameters
    ----------
    A : sparse array or matrix, shape (n, n)
        Any SciPy sparse format; unsorted and repeated indices are allowed. Symmetry is looked
        for where A's dtype is float32, float64, complex64 or complex128.
    P : sparse array or matrix, shape (n, p)
        The prolongation. Any SciPy sparse format.

    Returns
    -------
    C : sparse array or matrix, shape (p, p)
        P's kind (array or matrix). BSR if P is BSR, as SciPy's ``P.T @ A @ P``: blocks of P's
        block width, with the blocks SciPy keeps (A is converted to BSR as SciPy converts it);
        else CSR, canonical (SciPy's is CSC there: its P.T is CSC). Its entries and values are
        SciPy's to rounding. Where A is symmetric (float and complex dtypes: ``A == A.T`` entry
        for entry, with the same stored pattern; a BSR A with blocks that are not square is
        looked at as CSR, where zeros inside its blocks need stored mirrors too), C's values
        below the diagonal are copies of those above.
        float32, float64, complex64 and complex128 run in the C++ kernels; other dtypes SciPy
        multiplies are computed by SciPy.

    Raises
    ------
    TypeError
        If A or P is not a SciPy sparse array or matrix.
    ValueError
        If A is not square, P's rows are not A's columns, or either has malformed structure.

    See Also
    --------
    rap : ``R @ A @ P`` for any R.

    Examples
    --------
    Aggregating a 1-D Laplacian's nodes in pairs:

    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> A = sp.diags_array([-1.0, 2.0, -1.0], offsets=[-1, 0, 1], shape=(6, 6), format="csr")
    >>> P = sp.csr_array((np.ones(6), np.arange(6) // 2, np.arange(7)), shape=(6, 3))
    >>> C = pynla.ptap(A, P)
    >>> C.toarray()
    array([[ 2., -1.,  0.],
           [-1.,  2., -1.],
           [ 0., -1.,  2.]])
    >>> bool((C != C.T).nnz == 0)
    True
    """
    _check_shapes(A, P)
    A, P = _native(A), _native(P)
    a_parts = _checked(A, "A")
    p_parts = _checked(P, "P")
    if _has_blocks(A) or _has_blocks(P):
        P_T = P.T  # SciPy's transpose (trusts the structure, checked above): BSR stays BSR
        if _has_blocks(P) and A.format != "bsr":
            # SciPy's P.T @ A for a BSR P.T converts A to BSR (R x 1 blocks), and so keeps every
            # block the products reach, zeros included (multigrid codes read the pattern): so does this.
            A = to_bsr(A, blocksize=(P.blocksize[0], 1))
        C = spgemm(spgemm(P_T, A), P)
    else:
        # SciPy multiplies 1 x 1 blocks as CSR (its BSR transpose is slow, too: 38 ms on a 1M-row
        # P). Both products take the parts checked above, and P is transposed once.
        C = checked_product(P, _result_parts(checked_product(P, transposed_parts(p_parts), a_parts)), p_parts)
    if _symmetry_found(A, a_parts, C.dtype):
        C = _mirrored(C)
    scalar_blocks = P.format == "bsr" and not (_has_blocks(A) or _has_blocks(P))  # SciPy's result is BSR
    return C.tobsr(blocksize=(1, 1), copy=False) if scalar_blocks else C


def rap(R, A, P):
    """The Galerkin product ``C = R @ A @ P``, computed as ``(R @ A) @ P`` (SciPy's order).

    For restrictions that are not P's transpose (Petrov-Galerkin multigrid, reduced models).
    Both products run in :func:`pynla.spgemm`'s kernels.

    Parameters
    ----------
    R : sparse array or matrix, shape (p, n)
    A : sparse array or matrix, shape (n, m)
    P : sparse array or matrix, shape (m, q)
        Any SciPy sparse formats; unsorted and repeated indices are allowed.

    Returns
    -------
    C : sparse array or matrix, shape (p, q)
        As SciPy's ``R @ A @ P``: BSR if R is BSR (A and P are then converted to BSR as SciPy
        converts them, and every block the products reach is kept), else CSR, of R's kind; its
        entries are SciPy's and its values SciPy's to rounding (SciPy's ``R @ A`` is left
        unsorted, so its second product sums in another order).

    Raises
    ------
    TypeError
        If R, A or P is not a SciPy sparse array or matrix.
    ValueError
        If the inner dimensions differ, or an input has malformed structure.

    See Also
    --------
    ptap : ``P.T @ A @ P``, exactly symmetric for symmetric A.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> A = sp.csr_array(np.array([[4.0, 1.0], [2.0, 3.0]]))
    >>> R = sp.csr_array(np.array([[1.0, 1.0]]))
    >>> P = sp.csr_array(np.array([[1.0], [0.5]]))
    >>> pynla.rap(R, A, P).toarray()
    array([[8.]])
    """
    for M, name in ((R, "R"), (A, "A"), (P, "P")):
        require_sparse(M, name)
    if R.shape[1] != A.shape[0]:
        raise ValueError(f"R has {R.shape[1]} columns, A has {A.shape[0]} rows: R @ A @ P needs them equal")
    if A.shape[1] != P.shape[0]:
        raise ValueError(f"A has {A.shape[1]} columns, P has {P.shape[0]} rows: R @ A @ P needs them equal")
    if R.format != "bsr":  # CSR products (as SciPy's), of operands checked once
        r, a, p = (csr_parts(M, name) for M, name in ((R, "R"), (A, "A"), (P, "P")))
        return checked_product(R, _result_parts(checked_product(R, r, a)), p)
    for M, name in ((R, "R"), (A, "A"), (P, "P")):
        _checked(M, name)
    # SciPy's products of a BSR left operand convert the right one to BSR
    A = A if A.format == "bsr" else to_bsr(A, blocksize=(R.blocksize[1], 1))
    P = P if P.format == "bsr" else to_bsr(P, blocksize=(A.blocksize[1], 1))
    return spgemm(spgemm(R, A), P)


def ptap_plan(A, P):
    """Analyse ``P.T @ A @ P`` once, to recompute it for new values of A and P.

    Multigrid set-up with changed coefficients (time stepping, Newton steps, parameter sweeps)
    recomputes the same Galerkin product with new values in fixed patterns. The plan finds the
    patterns of ``P.T @ A`` and of the product once (two :func:`pynla.spgemm_plan` plans); each
    call computes only the values.

    Parameters
    ----------
    A : sparse array or matrix, shape (n, n)
        Any SciPy sparse format. Only its pattern matters here.
    P : sparse array or matrix, shape (n, p)
        As A.

    Returns
    -------
    plan : PtapPlan
        ``plan(A_new, P_new, out=None)`` computes ``P_new.T @ A_new @ P_new`` for matrices with
        the patterns of A and P.

    Raises
    ------
    TypeError, ValueError
        As :func:`ptap`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> A = sp.diags_array([-1.0, 2.0, -1.0], offsets=[-1, 0, 1], shape=(6, 6), format="csr")
    >>> P = sp.csr_array((np.ones(6), np.arange(6) // 2, np.arange(7)), shape=(6, 3))
    >>> plan = pynla.ptap_plan(A, P)
    >>> C = plan(A, P)
    >>> A.data *= 3.0                          # new values, same pattern
    >>> C = plan(A, P, out=C)                  # computed into C's own arrays
    >>> C.toarray()
    array([[ 6., -3.,  0.],
           [-3.,  6., -3.],
           [ 0., -3.,  6.]])
    """
    return PtapPlan(A, P)


class PtapPlan:
    """The pattern of ``C = P.T @ A @ P`` for A and P of fixed patterns; calling it computes C's
    values.

    Make one with :func:`ptap_plan`. The pattern is the product of the patterns: an entry whose
    products cancel stays as an explicit zero (as :class:`pynla.SpgemmPlan`). Values are those of
    :func:`ptap` (SciPy's order of sums); where A is symmetric in that call, the values below
    the diagonal are copies of those above, so C is symmetric bit for bit. The values are
    computed entry by entry in CSR: for BSR inputs with blocks larger than 1 x 1, whose
    conversion each call pays, :func:`ptap`'s block kernels are faster (1.6x on the bench's 2-D
    elasticity).

    Attributes
    ----------
    shape : tuple of int
        The shape of C, (p, p).
    nnz : int
        The number of entries in C's pattern.
    """

    def __init__(self, A, P):
        _check_shapes(A, P)
        _checked(P, "P")  # before SciPy's transpose, which trusts the structure
        self._left = SpgemmPlan(P.T, A, names=("P", "A"))  # P.T is P's pattern, transposed
        self._right = SpgemmPlan(self._left(P.T, A), P, names=("P.T @ A", "P"))
        self._shapes = (A.shape, P.shape)
        self.shape, self.nnz = self._right.shape, self._right.nnz

    def __repr__(self):
        return f"<PtapPlan of a {self.shape[0]}x{self.shape[1]} Galerkin product with {self.nnz} entries>"

    def __call__(self, A, P, *, out=None):
        """Compute ``P.T @ A @ P`` for A and P with the plan's patterns.

        Parameters
        ----------
        A, P : sparse arrays or matrices
            With the patterns the plan was made with, any values (the patterns are compared as
            :meth:`pynla.SpgemmPlan.__call__` compares them). Any SciPy sparse formats.
        out : csr_array or csr_matrix, optional
            A result of this plan, of this product's dtype: its values are overwritten, and it
            is returned.

        Returns
        -------
        C : csr_array or csr_matrix, shape (p, p)
            ``out``, or a new CSR matrix of P's kind with the plan's pattern (CSR also for BSR
            inputs). Its dtype is NumPy's result type of A's and P's dtypes.

        Raises
        ------
        TypeError
            If A or P is not sparse, or ``out`` is not a CSR matrix.
        ValueError
            If A's or P's shape or pattern is not the plan's, or ``out``'s shape, dtype or pattern
            is not the result's.
        """
        require_sparse(A, "A")
        require_sparse(P, "P")
        for M, name, shape in ((A, "A", self._shapes[0]), (P, "P", self._shapes[1])):
            if M.shape != shape:
                raise ValueError(f"{name} has shape {M.shape}, the plan's {name} has shape {shape}")
        A, P = _native(A), _native(P)
        a_parts = _checked(A, "A")
        _checked(P, "P")  # before SciPy's transpose, which trusts the structure
        if out is not None and sp.issparse(out) and np.may_share_memory(out.data, A.data):
            raise ValueError("out shares memory with the values of A")
        symmetric = _symmetry_found(A, a_parts, np.result_type(A.dtype, P.dtype))  # before out is written
        C = self._right(self._left(P.T, A), P, out=out)
        if symmetric:  # the plan's patterns are kept whole: C's is symmetric with A's
            mirrored = _core.mirror_upper((C.indptr, C.indices, C.data, C.shape, (1, 1)))
            assert mirrored, "a plan of P.T A P with a symmetric pattern of A has a symmetric pattern"
        return C


def _check_shapes(A, P):
    """TypeError or ValueError, naming the argument, unless A is square and sparse, and P sparse
    with A's columns as its rows."""
    require_sparse(A, "A")
    require_sparse(P, "P")
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be square, got shape {A.shape}")
    if P.shape[0] != A.shape[1]:
        raise ValueError(f"P has {P.shape[0]} rows, A has {A.shape[1]} columns: P.T @ A @ P needs them equal")


def _has_blocks(M):
    """Whether M is BSR with blocks larger than 1 x 1 (SciPy multiplies 1 x 1 blocks as CSR)."""
    return M.format == "bsr" and M.blocksize != (1, 1)


def _native(M):
    """M, or a copy of M with its values in the machine's byte order (the kernels' only one)."""
    return M if M.dtype.isnative else M.astype(M.dtype.newbyteorder("="))


def _symmetry_found(A, a_parts, dtype):
    """Whether the product, of dtype ``dtype``, is to be mirrored: A is symmetric and both dtypes
    are the kernels' (float and complex)."""
    return dtype in KERNEL_DTYPES and np.dtype(A.dtype) in KERNEL_DTYPES and _is_symmetric(A, a_parts)


def _result_parts(C):
    """The CSR parts of a product's CSR result (well formed: the kernels made it)."""
    return CsrInput(C.indptr, C.indices, C.data, C.shape, C.has_sorted_indices or None)


def _checked(M, name):
    """M's checked parts (BsrInput for BSR with blocks larger than 1 x 1, else CsrInput):
    malformed structure raises ValueError naming ``name`` here, before SciPy's transpose or
    pynla.spgemm (which would name its own arguments) sees it."""
    return bsr_parts(M, name) if _has_blocks(M) else csr_parts(M, name)


def _is_symmetric(A, parts):
    """Whether A equals its transpose, value for value and in its stored pattern (the core's test
    on A's own arrays, or on a canonical copy if A's rows are unsorted or repeat columns)."""
    square_blocks = not isinstance(parts, CsrInput) and parts.blocksize[0] == parts.blocksize[1]
    if not square_blocks:
        parts = parts if isinstance(parts, CsrInput) else csr_parts(A, "A")
    blocksize = parts.blocksize if square_blocks else (1, 1)
    n_block_rows = A.shape[0] // blocksize[0]
    index_dtype = index_dtype_for([parts], maxval=0)
    indptr, indices = (np.ascontiguousarray(x, dtype=index_dtype) for x in (parts.indptr, parts.indices))
    data = np.ascontiguousarray(parts.data)
    answer = _core.symmetry((indptr, indices, data.reshape(-1), (n_block_rows,) * 2, blocksize))
    if answer != "not canonical":
        return answer == "symmetric"
    canonical = (sp.bsr_array((data, indices, indptr), shape=A.shape, copy=True) if square_blocks
                 else sp.csr_array((data, indices, indptr), shape=A.shape, copy=True))
    canonical.sum_duplicates()
    arrays = (canonical.indptr, canonical.indices, canonical.data.reshape(-1), (n_block_rows,) * 2, blocksize)
    return _core.symmetry(arrays) == "symmetric"


def _mirrored(C):
    """C, a product that should be symmetric (P.T A P of symmetric A), made symmetric bit for bit:
    each value below the diagonal replaced by its mirror above (in place, by the core, where C's
    pattern is symmetric, as the products' patterns are); else rebuilt from C's upper triangle."""
    blocksize = C.blocksize if C.format == "bsr" else (1, 1)
    n_block_rows = C.shape[0] // blocksize[0]
    data = C.data.reshape(-1)  # C is the kernels' own canonical result: a view, written in place
    if _core.mirror_upper((C.indptr, C.indices, data, (n_block_rows, n_block_rows), blocksize)):
        return C
    csr = sp.csr_array(C)
    S = sp.triu(csr, format="csr") + sp.triu(csr, k=1, format="csr").T
    S.sort_indices()
    if C.format == "bsr":
        S = S.tobsr(blocksize=blocksize)
        S.sort_indices()
        return bsr_like(C, (S.data, S.indices, S.indptr), S.shape, blocksize)
    return csr_like(C, (S.data, S.indices, S.indptr), S.shape, sorted_indices=True)
