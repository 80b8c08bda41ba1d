"""Truncated-SVD updating: a rank-k SVD ``A ~ U diag(s) Vt`` of a growing sparse matrix kept
current as rows, columns and low-rank edits arrive, without recomputing it.

Every update is an edit ``A + X Y^T`` (appended rows: X is the new rows' unit vectors and Y
the block; appended columns: the other way round). With the residuals of X and Y against the
current bases written ``X = U C_x + Q_x R_x`` and ``Y = V C_y + Q_y R_y`` (Q orthonormal and
orthogonal to U, V),

    A_k + X Y^T = [U Q_x] F [V Q_y]^T,   F = [diag(s) 0; 0 0] + [C_x; R_x] [C_y; R_y]^T,

and the top k singular triplets of the small F rotate the bases (Zha and Simon, SIAM J. Sci.
Comput. 21, 1999). ``method`` says how Q and R are found: "exact" takes every direction of the
residual; "gkl" the l directions of Golub-Kahan-Lanczos bidiagonalization of the residual
(Vecharynski and Saad, SIMAX 35, 2014); "rpi" the l directions of t randomized power
iterations on it (Yamazaki et al., SC 2015).

Sparse blocks cost what their nonzeros cost, not what the matrix's dimensions cost (Deng et
al., "Fast Updating Truncated SVD for Representation Learning with Sparse Matrices", ICLR
2024): a residual direction is kept implicitly, as ``q = e(b) - V c`` with b on the basis rows
the block touches, and each basis is kept as ``W K`` with a k x k K (Brand, Linear Algebra
Appl. 415, 2006), so an update rewrites K and only the touched rows of W.
"""

import copy

import numpy as np
import scipy.linalg as sl
import scipy.sparse as sp

from pynla import _core
from pynla._operator import KernelLinearOperator
from pynla._threads import one_blas_thread
from pynla._validation import check_choice, check_integer, csr_parts
from pynla.orthogonalize import eigh_lapack
from pynla.randomized import randomized_svd
from pynla.spgemm import spgemm

__all__ = ["IncrementalSVD", "TruncatedSVDOperator"]

METHODS = ("exact", "gkl", "rpi")

#: The dtypes of the factors a user gets (the work runs in float64 for both).
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: rpi's power iterations when not given.
_RPI_ITERATIONS = 2

#: The orthogonality loss ||U^T U - I||_2 (or V's) above which an update re-orthonormalizes the
#: factors, at O(k^3) through the kept Gram matrices.
_REORTHOGONALIZE_LOSS = 1e-12

#: A basis W K is rewritten as (W K) I, at O(n k^2), when ||K||_F ||K^-1||_F passes this
#: times k (about k for an orthogonal K; one stretched direction passes it at a condition
#: number of about 4 sqrt(k)): W's rows and its Gram matrix lose about cond(K)^2 eps, and the
#: loss measured through them must stay well below _REORTHOGONALIZE_LOSS. (The norms cost
#: microseconds; cond(K) itself, an SVD, cost a quarter of a 100-row update.)
_MAX_K_SPREAD = 4.0

_EPS = np.finfo(np.float64).eps


class _Basis:
    """An n x k matrix with orthonormal columns, kept as ``W K`` (Brand 2006).

    An update maps the basis to ``basis M + e(D)`` for a k x k M and rows D placed at some rows
    (e: zero elsewhere), at O(k^3 + rows k^2) rather than O(n k^2): K becomes K M and only those
    rows of W change, by D (K M)^-1. Appending rows is the same, at rows past the end. W^T W is
    kept current with W, so the orthogonality of W K is known at O(k^3).
    """

    def __init__(self, Q):
        self.reset(Q)
        self._marks = np.full(self.n, -1, dtype=np.int64)

    @property
    def W(self):
        return self._W[:self.n]

    def rows(self, rows):
        """The basis's rows ``rows`` (indices or a slice), k columns."""
        return self._W[rows] @ self.K

    def matrix(self):
        return self.W @ self.K

    def loss(self):
        """||B^T B - I||_F (an upper bound of the 2-norm) for this basis B, from the kept Gram
        matrix."""
        H = self.K.T @ self.gram @ self.K
        return float(np.linalg.norm(H - np.eye(len(H))))

    def marks(self, n):
        """The -1-filled workspace of _core.touched_rows, for indices below n."""
        if len(self._marks) < n:
            self._marks = np.full(max(n, 2 * len(self._marks)), -1, dtype=np.int64)
        return self._marks

    def plan(self, M, ext, G):
        """The change ``basis <- basis M + e(B G)`` for the extension ``ext`` (its B on its
        rows, which may lie in rows it appends), computed without touching the basis: commit()
        applies it and cannot fail. Costs O(k^3 + rows k a) for B of a columns."""
        n, k = self.n + ext.n_new, len(self.K)
        K = self.K @ M
        K_inv = _inverse(M)
        if K_inv is not None:
            K_inv = K_inv @ self.K_inv
        if K_inv is None or np.linalg.norm(K) * np.linalg.norm(K_inv) > _MAX_K_SPREAD * k:
            W = np.zeros((_capacity(len(self._W), n), k))
            np.matmul(self.W, K, out=W[:self.n])
            W[ext.rows] += ext.rows_of(G)
            return {"W": W, "n": n, "K": np.eye(k), "K_inv": np.eye(k), "gram": W[:n].T @ W[:n]}
        W = None
        if n > len(self._W):
            W = np.zeros((_capacity(len(self._W), n), k))
            W[:self.n] = self.W
        Z = G @ K_inv  # W's rows change by B Z
        if ext.B is None:  # appended rows, zero until now
            new, gram = Z, self.gram + Z.T @ Z
        else:
            # W's rows gain B Z; their Gram matrix, from what made B and Ct: Ct = V's rows^T B =
            # K^T (W's rows)^T B, and Q = e(B) - V Ct: B^T B = Q^T Q + Ct^T Ct.
            P = np.linalg.solve(self.K.T, ext.Ct) @ Z
            new = ext.W_rows + ext.B @ Z
            q_gram = np.eye(len(Z)) if ext.q_gram is None else ext.q_gram
            gram = self.gram + P + P.T + Z.T @ (q_gram + ext.Ct.T @ ext.Ct) @ Z
        return {"W": W, "n": n, "K": K, "K_inv": K_inv, "gram": gram, "rows": ext.rows, "new": new}

    def commit(self, change):
        if change["W"] is not None:
            self._W = change["W"]
        if "rows" in change:
            self._W[change["rows"]] = change["new"]
        self.n, self.K, self.K_inv, self.gram = change["n"], change["K"], change["K_inv"], change["gram"]

    def rotate(self, M):
        """basis <- basis M for an invertible M that keeps K well conditioned (re-orthonormalizing)."""
        self.K = self.K @ M
        self.K_inv = np.linalg.solve(M, self.K_inv)

    def reset(self, Q):
        """Holds the orthonormal Q (n x k) instead, as Q I, with its Gram matrix computed afresh."""
        self._W = np.array(Q, dtype=np.float64, order="C")
        self.n = len(Q)
        self.K = np.eye(Q.shape[1])
        self.K_inv = np.eye(Q.shape[1])
        self.gram = self._W.T @ self._W


def _capacity(old, needed):
    """Rows to allocate for ``needed`` rows where ``old`` are: as many, or half as many again
    as before when they do not fit, so that appends cost O(1) a row."""
    return old if needed <= old else max(needed, old + old // 2)


def _inverse(K):
    """K^-1, or None if K is singular to working precision."""
    try:
        K_inv = np.linalg.inv(K)
    except np.linalg.LinAlgError:
        return None
    return K_inv if np.isfinite(K_inv).all() else None


class _SparseBlock:
    """A block Y (n x s: s new directions over a basis's n rows) given by the CSR rows of Y^T,
    relabelled onto the rows it touches (``rows``): products cost its nonzeros, not n. Held
    as Y / scale, its largest magnitude 1, so that Gram matrices neither overflow nor
    underflow at any magnitude of Y."""

    def __init__(self, parts, marks, name):
        self.name = name
        rows, local = _core.touched_rows(parts.indices, marks)
        self.rows = rows
        self.s = parts.shape[0]
        self.scale, data = _unit_scaled(parts.data)
        self.squared_norm = float(data @ data)
        self._z = (parts.indptr, local, data, (self.s, len(rows)))
        self._bsr = (parts.indptr, local, data, (self.s, len(rows)), (1, 1))
        self._columns = _core.bsr_block_columns(self._bsr) if len(rows) else None

    def times(self, P):
        """Y's touched rows times P (s x l): |rows| x l."""
        if not len(self.rows):
            return np.zeros((0, P.shape[1]))
        y = _core.bsr_matmul(self._bsr, np.ascontiguousarray(P), transpose=True, check=False, columns=self._columns)
        return y.reshape(len(self.rows), P.shape[1])

    def adjoint_times(self, B):
        """Y^T B for B given on the touched rows (|rows| x l): s x l."""
        if not len(self.rows):
            return np.zeros((self.s, B.shape[1]))
        return _core.bsr_matmul(self._bsr, np.ascontiguousarray(B), transpose=False, check=False).reshape(self.s, -1)

    def z_csr(self):
        """Y^T over the touched rows as a CSR tuple (indptr, indices, data, shape)."""
        return self._z

    def gram(self):
        """Y^T Y (s x s)."""
        indptr, local, data, _ = self._z
        Z = sp.csr_array((data, local, indptr), shape=(self.s, max(len(self.rows), 1)))
        return spgemm(Z, Z.T.tocsr()).toarray()


class _DenseBlock:
    """A dense block Y (n x s): it touches every row. Held as Y / scale, as _SparseBlock."""

    def __init__(self, Y, name):
        self.name = name
        self.rows = slice(0, Y.shape[0])
        self.s = Y.shape[1]
        self.scale, self._Y = _unit_scaled(Y)
        self.squared_norm = float(np.vdot(self._Y, self._Y))

    def times(self, P):
        return self._Y @ P

    def adjoint_times(self, B):
        return self._Y.T @ B

    def gram(self):
        return self._Y.T @ self._Y

    def z_csr(self):
        n, s = self._Y.shape
        indptr = np.arange(0, (s + 1) * n, n, dtype=np.int64)
        return (indptr, np.tile(np.arange(n, dtype=np.int64), s), np.ascontiguousarray(self._Y.T).reshape(-1), (s, n))


def _unit_scaled(values):
    """(scale, values / scale) with the largest magnitude 1 (scale 1 for all zeros)."""
    largest = float(np.max(np.abs(values), initial=0.0))
    if largest == 0.0:
        return 1.0, values
    return largest, values / largest


class _Extension:
    """A block Y against an orthonormal basis V = W K: ``Y = V C + Q R`` (up to the directions
    the method leaves out), with Q orthonormal and orthogonal to V, held implicitly as
    ``Q = e(B) - V Ct`` (B on the block's rows, whose rows of W are ``W_rows``). ``B is None``
    marks appended rows: Q is their unit vectors (C = 0, R = I, Ct = 0: all None)."""

    def __init__(self, C, R, rows, B, Ct, W_rows=None, n_new=0, q_gram=None):
        self.C, self.R, self.rows, self.B, self.Ct, self.W_rows, self.n_new = C, R, rows, B, Ct, W_rows, n_new
        self.q_gram = q_gram  # Q^T Q as computed; None: I

    @classmethod
    def appended(cls, n, s):
        return cls(None, None, slice(n, n + s), None, None, n_new=s)

    def rows_of(self, G):
        """The rows of e(B) G at self.rows: B G (G itself for appended rows)."""
        return G if self.B is None else self.B @ G


def _extension(basis, block, method, l, t, rng):
    """The _Extension of ``block`` against ``basis`` by ``method`` (computed on Y / scale, C and
    R scaled back)."""
    W_rows = basis._W[block.rows]
    C = (block.adjoint_times(W_rows) @ basis.K).T  # V^T Y = K^T (W's rows)^T Y, k x s
    floor = 8 * max(block.s, 1) * _EPS * block.squared_norm  # Gram entries below this are rounding
    if method == "exact":
        T, _, spread = _split_gram(block.gram() - C.T @ C, floor)
        B, Ct, q_gram = block.times(T), C @ T, None
        if spread >= _ONE_PASS_SPREAD:  # the residual is nearly rank-deficient: a second pass
            B, Ct, q_gram = _orthonormalized(B, Ct, 8 * max(B.shape[1], 1) * _EPS, passes=1)
    elif method == "gkl":
        B, Ct, q_gram = _bidiagonalization(block, C, min(l, block.s), floor, rng)
    else:
        B, Ct, q_gram = _power_iteration(block, C, min(l, block.s), t, floor, rng)
    R = (block.adjoint_times(B) - C.T @ Ct).T  # Q^T Y
    return _Extension(block.scale * C, block.scale * R, block.rows, B, Ct, W_rows, q_gram=q_gram)


def _split_gram(G, floor):
    """(T, R, spread) with T^T G T = I and G ~ R^T R, from the eigenvalues of G above ``floor``:
    for G the Gram matrix of Z, Z T is an orthonormal basis of Z's range and Z = (Z T) R.
    spread: the largest eigenvalue kept over the smallest (1 for none)."""
    values, vectors = eigh_lapack(np.array(G, order="F"))
    keep = values > floor
    values, vectors = values[keep][::-1], vectors[:, keep][:, ::-1]
    roots = np.sqrt(values)
    spread = values[0] / values[-1] if len(values) else 1.0
    return vectors / roots, roots[:, None] * vectors.T, spread


#: A Gram pass leaves columns orthonormal to about eps times the spread of the eigenvalues it
#: kept (cond(Z)^2): below this spread, to about 1e-13, and no second pass is needed.
_ONE_PASS_SPREAD = 1e-13 / _EPS

#: Columns whose Gram matrix is within this of I (largest entry) are kept as they are.
_ORTHONORMAL_ENOUGH = 1e-13


def _orthonormalized(B, Ct, floor, passes):
    """The implicit Q = e(B) - V Ct (Ct = V^T e(B)) with orthonormal columns spanning the same
    space, by up to ``passes`` rounds of Gram eigendecomposition (Q^T Q = B^T B - Ct^T Ct); a
    round on nearly orthonormal columns is the last (one is enough between power iterations).
    Returns (B, Ct, Q^T Q as computed, or None for I). Columns already orthonormal to
    _ORTHONORMAL_ENOUGH (GKL's, as a rule) are returned as they are, with their Gram matrix."""
    for _ in range(passes):
        G = B.T @ B - Ct.T @ Ct
        if np.abs(G - np.eye(len(G))).max(initial=0.0) <= _ORTHONORMAL_ENOUGH:
            return B, Ct, G
        T, _, spread = _split_gram(G, floor)
        B, Ct = B @ T, Ct @ T
        floor = 8 * max(B.shape[1], 1) * _EPS
        if spread < _ONE_PASS_SPREAD:
            break
    return B, Ct, None


def _bidiagonalization(block, C, l, floor, rng):
    """l steps of Golub-Kahan-Lanczos bidiagonalization of the residual (I - V V^T) Y (the C++
    kernel, pynla/svd_update/bidiagonalization.hpp: only the short right vectors are
    reorthogonalized, as in incsvd), then its left vectors made orthonormal by a Gram pass
    (BLAS-3; it drops directions the recurrence repeated): implicit (B, Ct)."""
    p = rng.standard_normal(block.s)
    z = block.z_csr()
    steps, b, c = _core.gkl_bidiagonalize(z, np.ascontiguousarray(C), p / np.linalg.norm(p), l, np.sqrt(floor))
    B, Ct = b.reshape(steps, z[3][1]).T, c.reshape(steps, len(C)).T
    return _orthonormalized(B, Ct, floor, passes=2)


def _power_iteration(block, C, l, t, floor, rng):
    """t randomized power iterations on the residual (I - V V^T) Y from an l-column Gaussian
    start: an orthonormal basis of its dominant range, implicit (B, Ct)."""
    P = rng.standard_normal((block.s, l))
    for i in range(t):
        last = i + 1 == t
        B, Ct, q_gram = _orthonormalized(block.times(P), C @ P, floor, passes=2 if last else 1)
        if not last:
            P = block.adjoint_times(B) - C.T @ Ct
    return B, Ct, q_gram


def _top_triplets(s, left, right, k):
    """The top k singular triplets (U_F, s_F, V_F) of
    F = [diag(s) 0; 0 0] + [C_x; R_x] [C_y; R_y]^T."""
    if left.B is None:  # appended rows: F = [diag(s) 0; C_y^T R_y^T]
        return _appended_triplets(s, np.vstack([right.C, right.R]).T, k)
    if right.B is None:  # appended columns: F^T has the form above
        V_F, s_F, U_F = _appended_triplets(s, np.vstack([left.C, left.R]).T, k)
        return U_F, s_F, V_F
    F = np.vstack([left.C, left.R]) @ np.vstack([right.C, right.R]).T
    F[np.arange(k), np.arange(k)] += s
    return _svd_top(F, k)


def _appended_triplets(s, L, k):
    """The top k triplets of F = [diag(s) 0; L] (L: p x (k + b), p new rows)."""
    top = np.zeros((k, L.shape[1]))
    top[np.arange(k), np.arange(k)] = s
    return _svd_top(np.vstack([top, L]), k)


#: Singular vectors are found as F v / s_F (new rows' left vectors, the Gram route's other side)
#: only if the k-th singular value is at least this fraction of the largest (else gesdd on F).
_SMALLEST_DIVISOR = 1e-6


#: F of at least this order on both sides takes the Gram route in _svd_top: syevd of the smaller
#: Gram matrix costs half of gesdd on F (164 x 128, one thread: 1.2 against 2.3 ms).
_GRAM_ROUTE_ORDER = 96


def _svd_top(F, k):
    """The top k singular triplets of F: from the eigenvectors of its smaller Gram matrix when
    F is large and its k-th singular value is not tiny (the other side's vectors are then
    F v / sigma, accurate to eps (s_1 / s_k)^2), else LAPACK's gesdd. F is scaled to a largest
    magnitude of 1 first, so that its Gram matrix neither overflows nor underflows."""
    if not np.isfinite(F).all():
        raise ValueError("the update overflowed: its values are too large for float64")
    scale, F = _unit_scaled(F)
    U_F, s_F, V_F = _svd_top_unit(F, k)
    return U_F, scale * s_F, V_F


def _svd_top_unit(F, k):
    if min(F.shape) >= _GRAM_ROUTE_ORDER:
        wide = F.shape[0] < F.shape[1]
        G = F @ F.T if wide else F.T @ F
        values, vectors = eigh_lapack(np.asfortranarray(G))
        s_F = np.sqrt(np.maximum(values[::-1][:k], 0.0))
        if s_F[-1] > _SMALLEST_DIVISOR * s_F[0]:
            small = vectors[:, ::-1][:, :k]
            other = (F.T @ small if wide else F @ small) / s_F
            return (small, s_F, other) if wide else (other, s_F, small)
    U, sv, Vt = sl.svd(F, full_matrices=False, lapack_driver="gesdd", check_finite=False)
    return U[:, :k], sv[:k], Vt[:k].T


class IncrementalSVD:
    r"""A rank-k truncated SVD ``A ~ U @ diag(s) @ Vt`` of an m x n matrix, kept current as rows,
    columns and low-rank edits arrive.

    Build one with :meth:`from_matrix` (a randomized SVD of A) or from factors you have, then
    call :meth:`add_rows`, :meth:`add_columns` and :meth:`update`. Each update is the
    Zha-Simon update of the current factors, at a cost set by the block's nonzeros and k, not
    by m or n, for sparse blocks.

    Parameters
    ----------
    U : array_like, shape (m, k)
        Orthonormal columns (up to the square root of the dtype's eps).
    s : array_like, shape (k,)
        Non-negative singular values, in any order (they are sorted, largest first, with U's
        and Vt's vectors).
    Vt : array_like, shape (k, n)
        Orthonormal rows.
    rng : None, int or numpy.random.Generator, optional
        Draws the random start of the "gkl" and "rpi" updates.

    Attributes
    ----------
    shape : (int, int)
    k : int
    dtype : numpy.dtype
        float32 or float64: U's, s's and Vt's result type (integers: float64). The work runs
        in float64 either way.

    Notes
    -----
    Which method, from ``python -m pynla.bench svd-update`` (k = 64, a 20000 x 10000 sparse
    term-document matrix, 2 cores): blocks of about 100 rows: "exact" (about 5 ms an update;
    it takes the whole residual, so its error is the truncation's only; "gkl" and "rpi" with
    l = 64 cost about the same); blocks of 1000 rows and more: "gkl" or "rpi" (about 30 ms
    for 2000 rows, against 3 s for "exact", whose dense step is of order k + block rows), at
    a larger error (after three 2000-row blocks the leading singular values are within 1.9e-4
    of the exact SVD's, against 1.2e-4 for "exact"). ``l`` directions of
    each block's residual enter those two (default ``min(block rows, k)``): fewer are faster
    and less accurate. Any magnitude works: blocks and the small matrices are scaled before
    their Gram matrices are formed.

    Accuracy: a block's residual against the current factors is kept implicitly (its size
    never appears as a difference of small numbers, only as one of large Gram entries), so
    directions of it below about ``sqrt(8 p eps)`` times the block's norm are dropped as
    rounding. "exact" therefore equals the dense Zha-Simon update to about 1e-10 for blocks
    whose rows are not within 1e-6 of the current row space (the tests check 1e-10), and to
    about the size of the dropped residual otherwise (rows 1e-9 away: 2e-9).

    U and V stay orthonormal to about 1e-12: when the loss measured through the kept Gram
    matrices passes that, the factors are re-orthonormalized at O(k^3);
    :meth:`reorthogonalize` does it from the full factors.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> A = sp.random_array((300, 200), density=0.05, rng=0, format="csr")
    >>> svd = pynla.IncrementalSVD.from_matrix(A, 10, rng=0)
    >>> E = sp.random_array((20, 200), density=0.05, rng=1, format="csr")
    >>> svd.add_rows(E)
    >>> svd.shape, svd.U.shape, svd.s.shape, svd.Vt.shape
    ((320, 200), (320, 10), (10,), (10, 200))
    >>> svd.orthogonality_loss() < 1e-12
    True
    """

    def __init__(self, U, s, Vt, *, rng=None):
        U, s, Vt = (np.asarray(a) for a in (U, s, Vt))
        for name, a in (("U", U), ("s", s), ("Vt", Vt)):
            if a.dtype.kind not in "biuf":
                raise TypeError(f"{name} has dtype {a.dtype}; expected real floating-point values")
        dtype = np.result_type(U, s, Vt, np.float32)
        self.dtype = dtype if dtype in _DTYPES else np.dtype(np.float64)
        if U.ndim != 2 or s.ndim != 1 or Vt.ndim != 2 or not U.shape[1] == len(s) == Vt.shape[0]:
            raise ValueError(f"U, s and Vt have shapes {U.shape}, {s.shape} and {Vt.shape}; expected (m, k), (k,) and (k, n)")
        k = len(s)
        if not 1 <= k <= min(U.shape[0], Vt.shape[1]):
            raise ValueError(f"k = {k} singular triplets for a {U.shape[0]} x {Vt.shape[1]} matrix; expected 1 <= k <= min(m, n)")
        U, s, Vt = (np.asarray(a, dtype=np.float64) for a in (U, s, Vt))
        for name, a in (("U", U), ("s", s), ("Vt", Vt)):
            if not np.isfinite(a).all():
                raise ValueError(f"{name} has non-finite values")
        if (s < 0).any():
            raise ValueError("s has negative values; singular values are non-negative")
        tolerance = np.sqrt(np.finfo(self.dtype).eps)
        for name, Q in (("U", U), ("Vt", Vt.T)):
            loss = np.linalg.norm(Q.T @ Q - np.eye(k), 2)
            if loss > tolerance:
                raise ValueError(f"{name} is not orthonormal: ||Q^T Q - I|| = {loss:.3g} > {tolerance:.3g}")
        order = np.argsort(-s, kind="stable")
        self._left, self._right = _Basis(U[:, order]), _Basis(Vt[order].T)
        self._s = s[order]
        self._rng = np.random.default_rng(rng)
        self._cache = {}
        if self.orthogonality_loss() > _REORTHOGONALIZE_LOSS:
            self.reorthogonalize()

    @classmethod
    def from_matrix(cls, A, k, *, rng=None):
        """The rank-k truncated SVD of A (dense or sparse, m x n) by :func:`pynla.randomized_svd`
        (block Krylov: within a small factor of the optimal rank-k error), ready for updates.

        The factors are of A's dtype (float32 or float64; integers and bool: float64).
        """
        if not sp.issparse(A):
            A = np.asarray(A)
        if A.ndim != 2:
            raise ValueError(f"A must be 2-D, got shape {A.shape}")
        k = check_integer(k, "k", 1, min(A.shape), bound="min(A.shape)")
        rng = np.random.default_rng(rng)
        U, s, Vt = randomized_svd(A, k, rng=rng)
        return cls(U, s, Vt, rng=rng)

    def copy(self):
        """An independent copy (the factors as they are now; its random draws continue from
        a copy of this one's generator)."""
        twin = copy.copy(self)
        twin._left, twin._right = copy.deepcopy(self._left), copy.deepcopy(self._right)
        twin._rng = copy.deepcopy(self._rng)
        twin._cache = {}
        return twin

    @property
    def shape(self):
        return (self._left.n, self._right.n)

    @property
    def k(self):
        return len(self._s)

    @property
    def U(self):
        """The left singular vectors, m x k (made on first read after an update)."""
        return self._read("U", lambda: self._left.matrix())

    @property
    def s(self):
        """The singular values, largest first."""
        return self._read("s", lambda: self._s)

    @property
    def Vt(self):
        """The right singular vectors as rows, k x n (made on first read after an update)."""
        return self._read("Vt", lambda: self._right.matrix().T)

    def _read(self, name, make):
        if name not in self._cache:
            value = np.array(make(), dtype=self.dtype)
            value.flags.writeable = False  # a cached read-out: callers must not change it
            self._cache[name] = value
        return self._cache[name]

    def add_rows(self, B, *, method="exact", l=None, t=None):
        """Append the rows B (p x n, dense or any SciPy sparse format): A becomes [A; B].

        Parameters
        ----------
        B : array_like or sparse, shape (p, n)
            Duplicate sparse entries add up. p = 0 changes nothing.
        method : {"exact", "gkl", "rpi"}, optional
            "exact": every direction of B's residual against V; "gkl": ``l`` steps of
            Golub-Kahan-Lanczos on it; "rpi": ``l`` directions from ``t`` power iterations.
        l : int, optional
            Directions of the residual that "gkl" and "rpi" keep (default ``min(p, k)``).
        t : int, optional
            Power iterations of "rpi" (default 2).

        Raises
        ------
        ValueError
            B has the wrong number of columns or non-finite values; a bad method, l or t.
        TypeError
            B is complex or not numeric.

        The factors are unchanged when an exception is raised.
        """
        block = _block_rows(B, "B", self.shape[1])
        if block is None:
            return
        self._apply(_APPENDED, (block, "B"), method, l, t, _block_size(block))

    def add_columns(self, B, *, method="exact", l=None, t=None):
        """Append the columns B (m x p, dense or any SciPy sparse format): A becomes [A, B].

        Arguments, exceptions and methods as :meth:`add_rows`, with B's rows and columns
        exchanged.
        """
        block = _block_rows(B.T if sp.issparse(B) else np.asarray(B).T, "B", self.shape[0], transposed=True)
        if block is None:
            return
        self._apply((block, "B"), _APPENDED, method, l, t, _block_size(block))

    def update(self, X, Y, *, method="exact", l=None, t=None):
        """Change A to ``A + X @ Y.T`` (X m x r, Y n x r, dense or sparse): a rank-r edit, such
        as new weights of existing rows and columns.

        Arguments and exceptions as :meth:`add_rows` (``l`` defaults to ``min(r, k)``).
        """
        x_block = _block_rows(X.T if sp.issparse(X) else np.asarray(X).T, "X", self.shape[0], transposed=True)
        y_block = _block_rows(Y.T if sp.issparse(Y) else np.asarray(Y).T, "Y", self.shape[1], transposed=True)
        r_x, r_y = _block_size(x_block), _block_size(y_block)
        if r_x != r_y:
            raise ValueError(f"X has {r_x} columns and Y {r_y}; expected the same number (X @ Y.T)")
        if x_block is None or y_block is None or not (_any_nonzero(x_block) and _any_nonzero(y_block)):
            return  # a zero edit
        self._apply((x_block, "X"), (y_block, "Y"), method, l, t, r_x)

    @staticmethod
    def _block(basis, block, name):
        """The block (rows of Y^T, as _block_rows gives them) against this basis's rows."""
        if isinstance(block, np.ndarray):
            return _DenseBlock(block.T, name)
        return _SparseBlock(block, basis.marks(block.shape[1]), name)

    def _extension(self, basis, side, method, l, t, s):
        """The _Extension of one side: its s appended rows, or its (block rows, name)."""
        if side is _APPENDED:
            return _Extension.appended(basis.n, s)
        return _extension(basis, self._block(basis, *side), method, l, t, self._rng)

    def _apply(self, left, right, method, l, t, s):
        """One update by the sides ``left`` and ``right`` (each _APPENDED or (block rows, name)):
        the extensions of both, F's top k triplets, both bases' changes planned, then
        committed together (an exception before the commit changes nothing)."""
        method = check_choice(method, "method", METHODS)
        if method == "exact":
            if l is not None or t is not None:
                raise ValueError("l and t apply to the 'gkl' and 'rpi' methods only")
        else:
            l = min(s, self.k) if l is None else check_integer(l, "l", 1)
            if method == "gkl" and t is not None:
                raise ValueError("t applies to the 'rpi' method only")
            t = _RPI_ITERATIONS if t is None else check_integer(t, "t", 1)
        k = self.k
        # One BLAS thread: its threads spin between the many small calls and slow pynla's own
        # (2000-row blocks, 2 cores: rpi 40 ms on one BLAS thread, 80-210 ms on two).
        # Overflow shows as a non-finite F.
        with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
            x = self._extension(self._left, left, method, l, t, s)
            y = self._extension(self._right, right, method, l, t, s)
            Uf, s_new, Vf = _top_triplets(self._s, x, y, k)
            changes = [basis.plan(G[:k] if ext.Ct is None else G[:k] - ext.Ct @ G[k:], ext, G[k:])
                       for basis, ext, G in ((self._left, x, Uf), (self._right, y, Vf))]
        self._left.commit(changes[0])
        self._right.commit(changes[1])
        self._s = s_new
        self._cache.clear()
        if self.orthogonality_loss() > _REORTHOGONALIZE_LOSS:
            self._reorthonormalize_from_grams()

    def orthogonality_loss(self):
        """max(||U^T U - I||_F, ||V^T V - I||_F), through the Gram matrices the factors keep
        (O(k^3), not a pass over U and V)."""
        return max(self._left.loss(), self._right.loss())

    def _reorthonormalize_from_grams(self):
        """U = Q_u R_u and V = Q_v R_v (R from the Cholesky factors of the kept Gram matrices),
        then the SVD of R_u diag(s) R_v^T rotates Q_u and Q_v: O(k^3)."""
        factors = []
        for basis in (self._left, self._right):
            try:
                factors.append(np.linalg.cholesky(basis.K.T @ basis.gram @ basis.K).T)
            except np.linalg.LinAlgError:
                self.reorthogonalize()
                return
        (R_u, R_v) = factors
        Um, s_new, Vmt = np.linalg.svd((R_u * self._s) @ R_v.T)
        self._left.rotate(sl.solve_triangular(R_u, Um))
        self._right.rotate(sl.solve_triangular(R_v, Vmt.T))
        self._s = s_new
        self._cache.clear()

    def reorthogonalize(self):
        """Re-orthonormalize U and V from the full factors (Householder QR of each, O((m + n) k^2))
        and recompute the SVD of the rank-k matrix they represent; the Gram matrices the
        factors keep are recomputed too."""
        Q_u, R_u = np.linalg.qr(self._left.matrix())
        Q_v, R_v = np.linalg.qr(self._right.matrix())
        Um, s_new, Vmt = np.linalg.svd((R_u * self._s) @ R_v.T)
        self._left.reset(Q_u @ Um)
        self._right.reset(Q_v @ Vmt.T)
        self._s = s_new
        self._cache.clear()

    def transform(self, B):
        """Project rows onto the right singular vectors: ``B @ V`` (p x k), as scikit-learn's
        ``TruncatedSVD.transform``; B is p x n, dense or sparse (its cost: its nonzeros times k)."""
        block = _block_rows(B, "B", self.shape[1])
        if block is None:
            return np.zeros((0, self.k), dtype=self.dtype)
        block = self._block(self._right, block, "B")
        return (block.scale * block.adjoint_times(self._right.rows(block.rows))).astype(self.dtype)

    def aslinearoperator(self):
        """The rank-k approximation ``U diag(s) Vt`` as a LinearOperator (m x n)."""
        return TruncatedSVDOperator(self.U, self.s, self.Vt)


def _any_nonzero(block):
    return bool(np.any(block if isinstance(block, np.ndarray) else block.data))


#: A side of an update that is s appended rows (or columns): its residual is their unit vectors.
_APPENDED = object()


def _block_size(block):
    return 0 if block is None else block.shape[0]


def _block_rows(B, name, n_cols, *, transposed=False):
    """The rows of a block (dense or sparse) of ``n_cols`` columns, checked: a CsrInput with
    float64 values and int64 indices, or a float64 array; None if it has no rows."""
    if sp.issparse(B):
        if B.ndim != 2 or B.shape[1] != n_cols:
            raise ValueError(f"{name} has shape {B.T.shape if transposed else B.shape}; expected "
                             f"{'(' + str(n_cols) + ', p)' if transposed else '(p, ' + str(n_cols) + ')'}")
        if B.dtype.kind not in "biuf":
            raise TypeError(f"{name} has dtype {B.dtype}; expected real values")
        parts = csr_parts(B, name)
        data = np.asarray(parts.data, dtype=np.float64)
        if not np.isfinite(data).all():
            raise ValueError(f"{name} has non-finite values")
        if parts.shape[0] == 0:
            return None
        return parts._replace(indptr=parts.indptr.astype(np.int64, copy=False),
                              indices=parts.indices.astype(np.int64, copy=False), data=data)
    B = np.asarray(B)
    if B.dtype.kind not in "biuf":
        raise TypeError(f"{name} has dtype {B.dtype}; expected real values")
    if B.ndim != 2 or B.shape[1] != n_cols:
        raise ValueError(f"{name} has shape {B.T.shape if transposed else B.shape}; expected "
                         f"{'(' + str(n_cols) + ', p)' if transposed else '(p, ' + str(n_cols) + ')'}")
    B = np.asarray(B, dtype=np.float64)
    if not np.isfinite(B).all():
        raise ValueError(f"{name} has non-finite values")
    return B if B.shape[0] else None


class TruncatedSVDOperator(KernelLinearOperator):
    """``U diag(s) Vt`` as a LinearOperator: products through the factors, O((m + n) k) a
    column. Every numeric dtype (NumPy's products); sparse X is multiplied as NumPy does."""

    kernel_dtypes = None

    def __init__(self, U, s, Vt):
        super().__init__(U.dtype, (U.shape[0], Vt.shape[1]), (U, s, Vt))
        self.U, self.s, self.Vt = U, s, Vt

    def _kernel_product(self, X, adjoint):
        if adjoint:
            return self.Vt.T @ (self.s[:, None] * (self.U.T @ X))
        return self.U @ (self.s[:, None] * (self.Vt @ X))

    def _sparse_product(self, X, adjoint):
        if adjoint:
            return self.Vt.T @ (self.s[:, None] * np.asarray(self.U.T @ X))
        return self.U @ (self.s[:, None] * np.asarray(self.Vt @ X))
