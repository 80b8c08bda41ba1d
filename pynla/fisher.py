"""Inverse-Hessian-vector products of the damped empirical Fisher (M-FAC: Frantar, Kurtic and
Alistarh, "Efficient Matrix-Free Approximations of Second-Order Information", NeurIPS 2021).

For m gradients g_1 ... g_m of dimension d (the rows of G, m x d) and a damping lambda > 0,

    F = lambda I + (1/m) G^T G,    F^-1 x = (x - G^T K^-1 G x) / lambda,    K = lambda m I + G G^T

(Woodbury's identity): set-up is the m x m Gram matrix G G^T (one BLAS-3 ``syrk``, half the
flops of ``G @ G.T``) and its Cholesky factor; a product is two passes over G (``G x``, then
``x - G^T w``) around two m x m triangular solves. The paper's per-gradient recursion computes
the same F^-1 in m rank-one steps of d m work each.
"""

import numpy as np
import scipy.linalg as sl
from scipy.linalg import blas

from pynla import _core
from pynla._operator import KernelLinearOperator
from pynla._threads import one_blas_thread
from pynla._validation import check_integer

__all__ = ["EmpiricalFisher", "FisherInverse", "SlidingFisherInverse"]

#: The gradient dtypes; bool and integer G are taken as float64.
_GRADIENT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: Values of G a column chunk of diag() reads at a time: 4 Mi, 32 MB.
_CHUNK_VALUES = 1 << 22

#: K = damping m I + G G^T is suspect when its condition number, estimated from the Cholesky
#: pivots (largest diagonal entry over smallest squared pivot), passes this over eps of G's
#: dtype: products are then checked on a probe before the operator is handed out. (Measured:
#: products lose about 0.03 to 0.1 times cond(K) eps, so below this they keep 1e-6 of it.)
_SUSPECT_CONDITION = 1e-5

#: A probe's estimated forward error above this many sqrt(eps) means the products lose accuracy
#: (the Woodbury form's solve amplifies rounding: more gradients than coordinates, or nearly
#: dependent ones, with a damping too small): refused. (3.5e-3 in float32, 1.5e-7 in float64.)
_FORWARD_ERROR_UNITS = 10


class _WoodburyFisher(KernelLinearOperator):
    """What the static and the sliding-window inverses share: products and read-outs from the
    gradient rows ``self._gradients`` (m x d, C order) and ``self._solve(C)`` = K^-1 C for C
    with one row per gradient row."""

    block_size = None  # the static inverse's blocked variant sets it

    def __init__(self, gradients, damping):
        dtype = gradients.dtype
        super().__init__(dtype, (gradients.shape[1], gradients.shape[1]), (gradients,))
        self.kernel_dtypes = (dtype,)  # the kernels run in G's dtype; other x is rounded to it
        self.damping = damping

    @property
    def _gradients(self):
        raise NotImplementedError

    def _solve(self, C):
        raise NotImplementedError

    def _small_solve(self, C):
        """K^-1 C on one BLAS thread: SciPy's BLAS (not NumPy's) runs the m x m solves, and its
        threads, spinning after a threaded call, would take the cores from the pass over G that
        follows (G^T W at m = 1024, d = 1e5, k = 32: 105-123 ms after a threaded solve, 64 alone)."""
        with one_blas_thread():
            return self._solve(C)

    def _kernel_product(self, X, adjoint):  # F^-1 is symmetric: the adjoint is itself
        G = self._gradients
        if X.shape[1] == 1:  # two memory-bound passes in C++, thread-count-invariant bits
            x = np.ascontiguousarray(X[:, 0])
            w = np.ascontiguousarray(self._small_solve(_core.fisher_gradient_dots(G, x)), dtype=self.dtype)
            return _core.fisher_damped_combination(G, w, x, 1.0 / self.damping).reshape(-1, 1)
        W = self._small_solve(G @ X).astype(self.dtype, copy=False)  # BLAS-3 for several vectors
        Y = G.T @ W  # then in place: no d x k temporaries
        np.subtract(X, Y, out=Y)
        Y *= self.dtype.type(1.0 / self.damping)
        return Y

    def _exact_product(self, X, adjoint):
        """x of other dtypes: rounded to G's dtype (complex x as two real products), the
        result given in x's result dtype."""
        if X.dtype.kind == "c":
            real = self._kernel_product(np.ascontiguousarray(X.real, dtype=self.dtype), adjoint)
            imaginary = self._kernel_product(np.ascontiguousarray(X.imag, dtype=self.dtype), adjoint)
            return (real + 1j * imaginary.astype(X.dtype)).astype(X.dtype)
        return self._kernel_product(X.astype(self.dtype), adjoint).astype(X.dtype)

    def _check_products(self, largest_gram):
        """ValueError if products lose accuracy in G's dtype: a probe z's y = F^-1 z, its
        residual r = z - F y in float64, and iterative refinement's estimate of the forward
        error, ||F^-1 r|| / ||y||, above _FORWARD_ERROR_UNITS sqrt(eps). ``largest_gram``: the
        largest diagonal entry of G G^T, for the damping suggested."""
        z = np.random.default_rng(0).standard_normal(self.shape[0]).astype(self.dtype)
        y = self @ z
        residual = z - self._fisher_product_float64(y)
        error = float(np.linalg.norm(self @ residual.astype(self.dtype))) / max(float(np.linalg.norm(y)), 1e-300)
        if not error <= _FORWARD_ERROR_UNITS * float(np.sqrt(np.finfo(self.dtype).eps)):
            raise ValueError(f"products of F^-1 lose accuracy in {self.dtype} with damping {self.damping:g} (relative "
                             f"error about {error:.1e}): use a damping above about "
                             f"{_safe_damping(largest_gram, self._n_averaged, self.dtype):.3g}")

    def _fisher_product_float64(self, y):
        """F y in float64, G read a chunk of columns (or a block) at a time, made float64."""
        G, m = self._gradients, self._n_averaged
        out = self.damping * y.astype(np.float64)
        blocked = self.block_size is not None
        step = self.block_size if blocked else max(1, _CHUNK_VALUES // max(G.shape[0], 1))
        Gy = np.zeros(G.shape[0])
        if not blocked:
            for j in range(0, G.shape[1], step):
                Gy += G[:, j:j + step].astype(np.float64) @ y[j:j + step]
        for j in range(0, G.shape[1], step):
            part = G[:, j:j + step].astype(np.float64)
            out[j:j + step] += part.T @ (part @ y[j:j + step] if blocked else Gy) / m
        return out

    def diag(self):
        """The diagonal of F^-1, ``(1 - ||L^-1 g_(j)||^2) / damping`` for each coordinate j
        (g_(j) the j-th column of G, K = L L^T): a triangular solve with G, by chunks of
        columns (O(d m^2), the cost of the set-up; no m x d array is formed)."""
        G = self._gradients
        m, d = G.shape
        step = max(1, _CHUNK_VALUES // max(m, 1))
        out = np.empty(d, dtype=self.dtype)
        for j in range(0, d, step):
            Z = self._half_solve(G[:, j:j + step])
            out[j:j + step] = (1 - np.einsum("ij,ij->j", Z, Z)) / self.damping
        return out

    def columns(self, indices):
        """``F^-1 e_i`` for the coordinates i in ``indices``: a (d, k) array, column t for
        ``indices[t]`` (``(e_i - G^T K^-1 g_(i)) / damping``, one BLAS-3 pass over G)."""
        G = self._gradients
        indices = _coordinates(indices, G.shape[1])
        W = self._small_solve(G[:, indices]).astype(self.dtype, copy=False)
        Y = -(G.T @ W)
        Y[indices, np.arange(len(indices))] += 1
        return Y * self.dtype.type(1.0 / self.damping)

    def fisher(self):
        """F itself, ``damping I + G^T G / m``, as a LinearOperator (:class:`EmpiricalFisher`)."""
        return EmpiricalFisher(self._gradients, self.damping, self._n_averaged)


class FisherInverse(_WoodburyFisher):
    """The inverse of the damped empirical Fisher ``F = damping I + G^T G / m`` of m gradients,
    as a ``scipy.sparse.linalg.LinearOperator`` of shape (d, d): ``Finv @ x`` is F^-1 x.

    Set-up: the Gram matrix ``G G^T`` by BLAS ``syrk`` and the Cholesky factor of
    ``K = damping m I + G G^T`` (O(d m^2) flops, no m x d array besides G). Each product:
    ``(x - G^T K^-1 G x) / damping``: two passes over G in C++ for a vector (multithreaded,
    the same bits for any thread count), BLAS-3 for several vectors.

    Parameters
    ----------
    G : array_like, shape (m, d)
        One gradient a row; float32 or float64 (bool and integers as float64). Fortran-ordered
        G is copied once to C order; C-ordered G is used as it is (not copied, not modified:
        change it and the operator is wrong).
    damping : float
        lambda > 0.
    block_size : int, optional
        If given, F is block-diagonal over consecutive blocks of ``block_size`` coordinates
        (the last may be shorter), each block with the Fisher of its coordinates (M-FAC's
        blocked variant, which OBS pruning uses): set-up (each block's m x m Gram matrix and
        Cholesky factor) and products run block by block in C++, one pass over G each.

    Attributes
    ----------
    damping : float
    n_gradients : int
        m.
    block_size : int or None
        None for one block (also when ``block_size`` is at least d).

    Raises
    ------
    ValueError
        If G is not 2-D, has NaN or infinity, or damping is not a positive number; if K is not
        positive definite; or if products would lose accuracy in G's dtype (more gradients than
        coordinates, or nearly dependent ones, with too small a damping). When K's Cholesky
        pivots make it suspect (condition number past 1e-5 / eps), products are checked on a
        probe (iterative refinement's error estimate, refused above 10 sqrt(eps)); the message
        names a damping that is accepted.

    Notes
    -----
    Products run in G's dtype; x of another dtype is rounded to it (complex x as two real
    products) and the result has NumPy's result type of G's and x's dtypes, as for SciPy's
    operator of a G-dtype matrix. ``diag()``, ``columns(indices)`` and ``fisher()`` read out
    F^-1's diagonal, chosen columns and F itself.

    Examples
    --------
    Optimal Brain Surgeon pruning scores ``w_i^2 / (2 [F^-1]_ii)`` of weights w, from the
    gradients of 64 samples:

    >>> import numpy as np
    >>> import pynla
    >>> rng = np.random.default_rng(0)
    >>> G = rng.standard_normal((64, 1000))
    >>> Finv = pynla.FisherInverse(G, damping=1e-2)
    >>> w = rng.standard_normal(1000)
    >>> scores = w**2 / (2 * Finv.diag())
    >>> prune = np.argsort(scores)[:100]  # the 100 weights whose removal costs least
    >>> F = 1e-2 * np.eye(1000) + G.T @ G / 64
    >>> bool(np.allclose(Finv @ w, np.linalg.solve(F, w)))
    True
    >>> bool(np.allclose(Finv.diag(), np.diag(np.linalg.inv(F))))
    True
    """

    def __init__(self, G, damping, *, block_size=None):
        G = _gradient_matrix(G, "G")
        damping = _damping(damping)
        super().__init__(G, damping)
        m, d = G.shape
        self._G = G
        self.n_gradients = self._n_averaged = m
        if block_size is not None:
            block_size = check_integer(block_size, "block_size", 1)
        # One block as wide as G is the unblocked inverse, whose set-up is BLAS-3.
        self.block_size = block_size if block_size is not None and block_size < d else None
        if self.block_size is None:
            gram = _gram(G)
            largest = _largest_diagonal(gram, G)
            self._factor = _cholesky(gram, damping * m, damping, largest, G.dtype)
            pivots = np.diagonal(self._factor)
        else:
            factors, failed = _core.fisher_blocked_factors(G, self.block_size, damping * m)
            first = failed * self.block_size
            # NaN or infinity in G fails a block, or leaves a non-finite factor (an infinite pivot)
            block_finite = failed < 0 or np.isfinite(G[:, first:first + self.block_size]).all()
            if not np.isfinite(factors).all() or not block_finite:
                raise ValueError("G has NaN or infinity")
            if failed >= 0:
                block = G[:, first:first + self.block_size]
                largest = float(np.max(np.einsum("ij,ij->i", block, block), initial=0.0))
                raise ValueError(f"the Gram matrix of G's block {failed} (coordinates {first} to "
                                 f"{min(d, first + self.block_size) - 1}) is not positive definite in {G.dtype} with "
                                 f"damping {damping:g}: use a damping above about {_safe_damping(largest, m, G.dtype):.3g}")
            self._block_factors = factors.reshape(-(-d // self.block_size), m * (m + 1) // 2)  # lower, packed by rows
            # Each block's K diagonal is its factor's squared row norms (no pass over G)
            row_starts = np.arange(m) * np.arange(1, m + 1) // 2
            if m == 0:  # no gradients: F = damping I, nothing to check
                return
            diagonals = np.add.reduceat(self._block_factors**2, row_starts, axis=1)
            pivots = self._block_factors[:, row_starts + np.arange(m)]
            condition = np.max(np.max(diagonals, axis=1) / np.min(pivots**2, axis=1), initial=0.0)
            largest = float(np.max(diagonals, initial=0.0)) - damping * m
        if self.block_size is None:
            condition = (largest + damping * m) / float(np.min(np.abs(pivots), initial=np.inf)) ** 2
        if condition > _SUSPECT_CONDITION / float(np.finfo(G.dtype).eps):
            self._check_products(largest)

    @property
    def _gradients(self):
        return self._G

    def _kernel_product(self, X, adjoint):
        if self.block_size is None:
            return super()._kernel_product(X, adjoint)
        Y = _core.fisher_blocked_product(self._G, self.block_size, self._block_factors.reshape(-1),
                                         np.ascontiguousarray(X), 1.0 / self.damping)
        return Y.reshape(X.shape)

    def diag(self):
        if self.block_size is None:
            return super().diag()
        return _core.fisher_blocked_diagonal(self._G, self.block_size, self._block_factors.reshape(-1),
                                             1.0 / self.damping)

    def columns(self, indices):
        if self.block_size is None:
            return super().columns(indices)
        G, b = self._G, self.block_size
        indices = _coordinates(indices, G.shape[1])
        Y = np.zeros((G.shape[1], len(indices)), dtype=self.dtype)
        for t, i in enumerate(indices):  # F^-1 e_i lives in i's block
            j0 = i - i % b
            block = G[:, j0:j0 + b]
            factor = np.zeros((G.shape[0], G.shape[0]))
            factor[np.tril_indices(G.shape[0])] = self._block_factors[i // b]
            w = sl.cho_solve((factor, True), block[:, i - j0], check_finite=False)
            Y[j0:j0 + block.shape[1], t] = -(block.T @ w.astype(self.dtype))
            Y[i, t] += 1
        return Y * self.dtype.type(1.0 / self.damping)

    def fisher(self):
        return EmpiricalFisher(self._G, self.damping, self._n_averaged, block_size=self.block_size)

    def _solve(self, C):
        return sl.cho_solve((self._factor, False), C, check_finite=False)

    def _half_solve(self, C):
        """U^-T C for K = U^T U: ||U^-T g||^2 = g^T K^-1 g."""
        return sl.solve_triangular(self._factor, C, trans="T", check_finite=False)


class SlidingFisherInverse(_WoodburyFisher):
    """F^-1 over a sliding window of the last m gradients: ``update(g)`` adds a gradient (the
    oldest leaves once m are held) in O(d m + m^2), without a new set-up.

    ``F = damping I + (1/m) sum over the window of g g^T`` (the window's m, even before it is
    full, as M-FAC's dynamic algorithm). The gradients live in a ring buffer (m x d); the
    Cholesky factor of ``K = damping m I + G G^T`` is kept with its rows in the order the
    gradients arrived, so that the oldest leaves by a rank-one update of the rest of the factor
    (a stable update, never a downdate) and the newest joins as a last row (one triangular
    solve): O(m^2) each, after the new Gram row ``G g`` (one pass over the window).

    Parameters
    ----------
    d : int
        The gradients' dimension.
    m : int
        The window: the number of gradients kept.
    damping : float
        lambda > 0.
    dtype : float32 or float64, optional
        The gradients' dtype (default float32).

    Examples
    --------
    >>> import numpy as np
    >>> import pynla
    >>> rng = np.random.default_rng(0)
    >>> window = pynla.SlidingFisherInverse(500, 8, damping=0.1, dtype=np.float64)
    >>> for _ in range(20):
    ...     window.update(rng.standard_normal(500))
    >>> static = pynla.FisherInverse(window.gradients(), damping=0.1)
    >>> x = rng.standard_normal(500)
    >>> bool(np.allclose(window @ x, static @ x))
    True
    """

    def __init__(self, d, m, damping, *, dtype=np.float32):
        d, m = check_integer(d, "d", 1), check_integer(m, "m", 1)
        dtype = np.dtype(dtype)
        if dtype not in _GRADIENT_DTYPES:
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        ring = np.zeros((m, d), dtype=dtype)
        super().__init__(ring, _damping(damping))
        self._ring = ring
        self._order = []  # ring slots, oldest first: the factor's rows
        self._factor = np.zeros((m, m), dtype=np.float64, order="F")  # lower; leading n x n in use
        self._n_averaged = m

    @property
    def n_gradients(self):
        return len(self._order)

    @property
    def _gradients(self):
        return self._ring

    def gradients(self):
        """The window's gradients, oldest first: an (n, d) copy."""
        return self._ring[self._order]

    def gradient(self, i):
        """The window's i-th gradient, oldest first (negative i counts from the newest): a
        read-only view, valid until the next update."""
        view = self._ring[self._order[i]]
        view.flags.writeable = False
        return view

    def update(self, g):
        """Add gradient g (d values); the oldest leaves if the window is full. A gradient that is
        refused (ValueError: NaN or infinity; K not positive definite, or products that would
        lose accuracy, as for FisherInverse, checked when g is nearly in the window's span)
        leaves the window as it was."""
        m, d = self._ring.shape
        g = np.asarray(g)
        if g.shape != (d,):
            raise ValueError(f"g has shape {g.shape}, expected ({d},)")
        if g.dtype.kind not in "biuf":
            raise ValueError(f"g has dtype {g.dtype}; expected real numbers")
        g = np.array(g, dtype=self.dtype)  # a copy: g may be a view of the slot about to be freed
        if not np.isfinite(g).all():
            raise ValueError("g has NaN or infinity")
        factor, order = self._factor.copy(order="F"), list(self._order)
        oldest = self._ring[order[0]].copy() if order else None
        try:
            self._append(g)
        except ValueError:
            for slot in set(self._order) - set(order):  # the new gradient's slot
                self._ring[slot] = 0
            if oldest is not None:
                self._ring[order[0]] = oldest
            self._factor, self._order = factor, order
            raise

    def _append(self, g):
        m = self._ring.shape[0]
        if len(self._order) == m:
            self._drop_oldest()
        n = len(self._order)
        slot = self._free_slot()
        cross = _core.fisher_gradient_dots(self._ring, g)[self._order].astype(np.float64)
        diagonal = float(np.dot(g.astype(np.float64), g)) + self.damping * m
        L = self._factor
        row = sl.solve_triangular(L[:n, :n], cross, lower=True, check_finite=False) if n else cross
        pivot = diagonal - float(row @ row)

        def largest():  # G G^T's largest diagonal entry over the window and g (a pass: error paths only)
            return max(diagonal - self.damping * m, float(np.max(np.einsum("ij,ij->i", self._ring, self._ring))))

        if not pivot > 0:
            raise ValueError(f"the window's Gram matrix is not positive definite in {self.dtype} with damping "
                             f"{self.damping:g}: use a damping above about {_safe_damping(largest(), m, self.dtype):.3g}")
        L[n, :n] = row
        L[n, n] = np.sqrt(pivot)
        self._ring[slot] = g
        self._order.append(slot)
        if diagonal > pivot * _SUSPECT_CONDITION / float(np.finfo(self.dtype).eps):  # g nearly in the window's span
            self._check_products(largest())

    def _free_slot(self):
        used = set(self._order)
        return next(s for s in range(self._ring.shape[0]) if s not in used)

    def _drop_oldest(self):
        """The factor of K without its first row and column: L22 L22^T + l21 l21^T, by the
        rank-one Cholesky update of L22 with l21."""
        n = len(self._order)
        L = self._factor
        v = L[1:n, 0].copy()
        rest = L[1:n, 1:n]  # updated in place, then moved to the leading block
        for k in range(n - 1):
            r = np.hypot(rest[k, k], v[k])
            c, s = r / rest[k, k], v[k] / rest[k, k]
            rest[k, k] = r
            rest[k + 1:, k] = (rest[k + 1:, k] + s * v[k + 1:]) / c
            v[k + 1:] = c * v[k + 1:] - s * rest[k + 1:, k]
        L[: n - 1, : n - 1] = np.tril(rest)
        L[n - 1, :] = 0
        L[:, n - 1] = 0
        self._ring[self._order[0]] = 0
        self._order.pop(0)

    def _solve(self, C):
        """K^-1 C for C with a row per ring slot; slots not in the window get 0."""
        n = len(self._order)
        W = np.zeros(C.shape, dtype=np.float64)
        if n:
            L = self._factor[:n, :n]
            rows = sl.solve_triangular(L, C[self._order], lower=True, check_finite=False)
            W[self._order] = sl.solve_triangular(L, rows, lower=True, trans="T", check_finite=False)
        return W

    def _half_solve(self, C):
        n = len(self._order)
        return sl.solve_triangular(self._factor[:n, :n], C[self._order], lower=True, check_finite=False)


class EmpiricalFisher(KernelLinearOperator):
    """The damped empirical Fisher ``F = damping I + G^T G / m`` as a LinearOperator (d, d):
    ``F x = damping x + G^T (G x) / m``, two passes over G (with ``block_size``, the
    block-diagonal part, in NumPy a block at a time). Made by the inverses' ``fisher()``."""

    def __init__(self, G, damping, m, *, block_size=None):
        G, damping, m = _gradient_matrix(G, "G"), _damping(damping), check_integer(m, "m", 0)
        if block_size is not None:
            block_size = check_integer(block_size, "block_size", 1)
        super().__init__(G.dtype, (G.shape[1], G.shape[1]), (G,))
        self.kernel_dtypes = (G.dtype,)
        # (With no gradients the average is empty: any m then gives F = damping I.)
        self._G, self.damping, self._m, self.block_size = G, damping, max(m, 1), block_size

    def _kernel_product(self, X, adjoint):
        G = self._G
        if self.block_size is not None:  # damping X + G_b^T G_b X_b / m block by block
            Y = X * self.dtype.type(self.damping)
            for j0 in range(0, G.shape[1], self.block_size):
                block, rows = G[:, j0:j0 + self.block_size], slice(j0, j0 + self.block_size)
                Y[rows] += block.T @ (block @ X[rows]) * self.dtype.type(1.0 / self._m)
            return Y
        if X.shape[1] == 1:  # damping (x - G^T w) with w = -(G x) / (damping m)
            x = np.ascontiguousarray(X[:, 0])
            w = _core.fisher_gradient_dots(G, x) * self.dtype.type(-1.0 / (self.damping * self._m))
            return _core.fisher_damped_combination(G, w, x, self.damping).reshape(-1, 1)
        Y = G.T @ (G @ X)
        Y *= self.dtype.type(1.0 / self._m)
        Y += X * self.dtype.type(self.damping)
        return Y

    _exact_product = _WoodburyFisher._exact_product


def _gradient_matrix(G, name):
    G = np.asarray(G)
    if G.ndim != 2:
        raise ValueError(f"{name} must be 2-D (one gradient a row), got shape {G.shape}")
    if G.dtype.kind not in "biuf":
        raise ValueError(f"{name} has dtype {G.dtype}; expected float32, float64, bool or integers")
    dtype = G.dtype if G.dtype in _GRADIENT_DTYPES else np.dtype(np.float64)
    return np.ascontiguousarray(G, dtype=dtype)


def _coordinates(indices, d):
    """indices as intp in [0, d) (negative ones from the end); ValueError naming them."""
    indices = np.asarray(indices)
    if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
        raise ValueError(f"indices must be a 1-D array of integers, got {indices.dtype} of shape {indices.shape}")
    if indices.size and (indices.min() < -d or indices.max() >= d):
        raise ValueError(f"indices must be in [-{d}, {d}), got values from {indices.min()} to {indices.max()}")
    return np.where(indices < 0, indices + d, indices).astype(np.intp)


def _damping(damping):
    try:
        value = float(damping)
    except (TypeError, ValueError):
        raise ValueError(f"damping must be a positive number, got {damping!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"damping must be a positive number, got {damping!r}")
    return value


def _gram(G):
    """G G^T (upper triangle) by BLAS syrk on G's rows, as Fortran's view of C-ordered G."""
    if G.size == 0:  # (BLAS refuses empty operands)
        return np.zeros((G.shape[0], G.shape[0]), dtype=G.dtype)
    syrk = blas.ssyrk if G.dtype == np.float32 else blas.dsyrk
    return syrk(1.0, G.T, trans=1, lower=0)


def _largest_diagonal(gram, G):
    """The largest diagonal entry of G G^T, as a Python float; ValueError if the Gram matrix is
    not finite (NaN or infinity in G, or G G^T past G's dtype)."""
    if not np.isfinite(gram).all():
        if np.isfinite(G).all():
            raise ValueError(f"G G^T overflows {G.dtype}: scale G down (and the damping by the square of the factor)")
        raise ValueError("G has NaN or infinity")
    return float(np.max(np.diagonal(gram), initial=0.0))


def _safe_damping(largest, m, dtype):
    """A damping that makes K's estimated condition number at most _SUSPECT_CONDITION / eps,
    for G G^T's largest diagonal entry ``largest``: then K is positive definite in working
    precision and no probe runs (the smallest pivot^2 of K is at least damping m)."""
    limit = _SUSPECT_CONDITION / float(np.finfo(dtype).eps)
    return 1.01 * largest / (max(m, 1) * (limit - 1))


def _cholesky(gram, shift, damping, largest, dtype):
    """The upper Cholesky factor of gram + shift I, in float64 (the m x m algebra costs little
    next to the Gram matrix, and a float32 factor would lose what float32 G still has);
    ValueError if it is not positive definite, naming a damping that is."""
    K = gram.astype(np.float64)
    K[np.diag_indices_from(K)] += shift
    try:
        return sl.cholesky(K, lower=False, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        raise ValueError(f"the Gram matrix of G is not positive definite in {dtype} with damping {damping:g}: "
                         f"use a damping above about {_safe_damping(largest, gram.shape[0], dtype):.3g}") from None
