"""GCRO-DR: restarted GMRES that keeps a subspace from one cycle to the next and from one linear
system to the next (Parks, de Sturler, Mackey, Johnson and Maiti 2006).

Right preconditioning: the method runs on the operator A M (``M`` approximates A's inverse, as
in SciPy), with x = x0 + M y, so its residual is the true one. The recycled space is a pair
(U, C) of k columns with ``A M U = C`` and C orthonormal. A cycle runs m - k Arnoldi steps of
``(I - C C^H) A M`` from the current residual, giving ``A M T = C B + V+ Hbar`` with search
directions ``T = [C, V] S`` (the loop ``_core.arnoldi``, in C++: classical Gram-Schmidt twice
against ``[C, V]``, the second pass delayed to the next step, sparse A and a diagonal M applied
without returning to Python); the update
minimizes the residual over ``span(U, T)``; then the k harmonic Ritz vectors of ``A M`` in
that space with the smallest harmonic Ritz values (those that slow a restarted GMRES down)
become the next U. Each new system keeps U, recomputes ``C = A M U`` (k products, one block)
when A or M is another object, and starts from the residual's projection onto C. U is in M's
variable (x = M U): where the last M and the new one are both diagonal (Jacobi), U is rescaled
into the new M's variable first, so that the vectors x recycled stay the same.
"""

import numpy as np
import scipy.linalg

from pynla import _core
from pynla._krylov import LinearSystem, SolveStats, check_positive_int, combine, inner
from pynla._threads import one_blas_thread

__all__ = ["RecyclingGMRES"]

#: A new Arnoldi vector this small against A M v (relative) is rounding: the Krylov space is
#: invariant and the cycle ends (a "lucky" breakdown).
_BREAKDOWN = 1e-14
#: Restarts from the true residual allowed when the recurrence says converged but A says not.
_TRUE_RESIDUAL_RESTARTS = 3
#: A cycle that leaves more than this fraction of the residual is checked against A.
_SLOW_CYCLE = 0.99


class RecyclingGMRES:
    """GCRO-DR(m, k): restarted GMRES that recycles a k-dimensional subspace between cycles
    and between systems.

    Create one solver and call :meth:`solve` for each system of a sequence: the first solve is
    an ordinary restarted solve that ends with a recycled subspace; each later solve starts
    from it. Related systems (a parameter sweep, time steps, Newton steps) then need far fewer
    products with A than GMRES. The recycled space is the span of the k harmonic Ritz vectors
    of ``A M`` with the smallest harmonic Ritz values, updated at every cycle.

    Parameters
    ----------
    m : int, optional
        The subspace a cycle minimizes the residual over: k recycled columns plus m - k Arnoldi
        vectors. Memory: m + 1 vectors of A's length, plus k for U.
    k : int, optional
        Columns of the recycled space; 0 gives plain restarted GMRES(m). ``0 <= k < m``.

    Attributes
    ----------
    stats : SolveStats or None
        The counts of the last solve: iterations (Arnoldi steps), matvecs, preconditioner
        applications, the true residual norm reached, cycles.
    recycled_space : tuple (U, C) or None
        The recycled space after the last solve (copies): ``A M U = C``, C orthonormal.

    Notes
    -----
    The work runs in float64 (complex128 for a complex A, b or M); x is returned in SciPy's
    dtype for the call. Sparse A and M multiply through pynla's CSR and BSR kernels, dense ones
    through NumPy, anything else through its ``LinearOperator``. A recycled space is kept for a
    system whose A and M are the same objects as the last solve's; for other objects ``C`` is
    recomputed from U (an A changed in place between solves is not noticed: pass a new object
    or call :meth:`reset`; the check of the true residual still keeps a wrong x from being
    reported as converged). U is in M's variable (x = M U): when the last M and the new one are
    both diagonal sparse matrices (Jacobi; no M counts as the identity), U is rescaled so that
    M U stays the same vectors x, which suits systems whose coefficients change (Darcy systems
    whose Jacobi M changed with them took 1.4 times the products with U carried as it is). A
    sequence that rescales its unknowns instead (A_j = A D_j) is the opposite case, where U as
    it is stays exact: pass M as a ``LinearOperator`` to keep U. Any other M (BSR, dense, an
    operator) keeps U, as undoing it would cost a solve with the new M. Results are the same
    bits for any number of pynla threads (BLAS runs on one thread inside ``solve``).

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> n = 400
    >>> base = sp.diags_array([-1.0, 2.2, -1.2], offsets=[-1, 0, 1], shape=(n, n), format="csr")
    >>> solver = pynla.RecyclingGMRES(m=30, k=8)
    >>> rng = np.random.default_rng(0)
    >>> for shift in (0.0, 0.01, 0.02):
    ...     A = base + shift * sp.eye_array(n, format="csr")
    ...     b = rng.standard_normal(n)
    ...     x, info = solver.solve(A, b, rtol=1e-8)
    ...     ok = info == 0 and np.linalg.norm(b - A @ x) <= 1e-8 * np.linalg.norm(b)
    ...     print(ok, solver.stats.recycled > 0)
    True False
    True True
    True True
    """

    def __init__(self, m=40, k=10):
        self.m = check_positive_int(m, "m", low=2)
        self.k = check_positive_int(k, "k", low=0)
        if self.k >= self.m:
            raise ValueError(f"k must be less than m, got k={self.k} and m={self.m}")
        self.stats = None
        self._U = None  # recycled space, y-space (x = M y), Fortran (n, kk)
        self._basis = None  # Fortran (n, m + 1): C in its first kk columns, then the Arnoldi vectors
        self._recycled = 0  # kk: columns of U and C
        self._key = None  # the (A, M) identities C = A M U was computed for
        self._m_diagonal = None  # M's diagonal for that M where diagonal (U holds M^-1 x), else None

    @property
    def recycled_space(self):
        if self._recycled == 0:
            return None
        return self._U.copy(), self._basis[:, : self._recycled].copy()

    def reset(self):
        """Forget the recycled space: the next solve starts as an ordinary restarted GMRES."""
        self._U, self._basis, self._recycled, self._key, self._m_diagonal = None, None, 0, None, None

    def solve(self, A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, callback=None):
        """Solve ``A x = b``, starting from the recycled space, and update it.

        Parameters
        ----------
        A : sparse array or matrix, ndarray or LinearOperator, shape (n, n)
        b : ndarray, shape (n,) or (n, 1)
        x0 : ndarray, optional
            Starting guess (default: zero).
        rtol, atol : float, optional
            Converged when ``||b - A x|| <= max(atol, rtol * ||b||)`` (SciPy's rule), checked
            on the true residual before returning.
        maxiter : int, optional
            Maximum number of restart cycles (default: 1000).
        M : sparse array or matrix, ndarray or LinearOperator, optional
            Preconditioner: an approximation of A's inverse, applied on the right.
        callback : callable, optional
            Called as ``callback(xk)`` after each cycle.

        Returns
        -------
        x : ndarray, shape (n,)
        info : int
            0: converged; > 0: ``maxiter`` cycles without convergence (x is the last iterate,
            the best so far); < 0: breakdown or stagnation (the residual stopped decreasing;
            x is the best iterate).

        Raises
        ------
        ValueError
            If A is not square, b, x0 or M do not match it, A, M, b or x0 has non-finite
            entries, or a tolerance is negative.
        """
        # One BLAS thread from the start: a threaded BLAS call (even ||b||'s) would leave
        # OpenBLAS's threads spinning for a tenth of a second against the loop's own.
        with one_blas_thread():
            system = LinearSystem(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter, M=M)
            run = _Solve(self, system, callback)
            info = run.run(1000 if system.maxiter is None else system.maxiter)
        self.stats = SolveStats(info, run.iterations, system.A.count, system.M.count, run.true_norm, run.cycles,
                                run.recycled_at_start)
        return system.result(run.x), info


class _Solve:
    """One call of RecyclingGMRES.solve: its state and steps."""

    def __init__(self, solver, system, callback):
        self.solver, self.system, self.callback = solver, system, callback
        self.iterations = self.cycles = 0
        self.x = system.x
        self.true_norm = np.inf
        self.best = (np.inf, system.x)  # (true residual norm, iterate)
        self.checked = None  # the iterate the last true residual was computed for
        n, m = system.n, solver.m
        if solver._basis is None or solver._basis.shape[0] != n or solver._basis.dtype != system.dtype:
            solver.reset()
            solver._basis = np.zeros((n, m + 1), dtype=system.dtype, order="F")
        self.basis = solver._basis
        self.recycled_at_start = solver._recycled
        self.m_diagonal = system.m_diagonal()

    def run(self, maxiter):
        system, solver = self.system, self.solver
        if system.b_norm == 0.0:
            self.x = np.zeros(system.n, dtype=system.dtype)
            self.true_norm = 0.0
            return 0
        r = system.b.copy() if system.started_from_zero else system.residual(self.x)
        self.best = (np.linalg.norm(r), self.x)  # the start: no iterate is returned that is worse
        if solver._recycled and solver._key != system.key:
            self._reproject()
        r, norm = self._start_from_recycled(r)
        restarts = stalls = 0
        while True:
            if norm <= system.tolerance:
                r, norm = self._true_residual()
                if norm <= system.tolerance:
                    return 0
                restarts += 1
                if restarts > _TRUE_RESIDUAL_RESTARTS:
                    return self._end(-1)  # the recurrence and A disagree: rounding limits the accuracy
                r, norm = self._start_from_recycled(r)
            if self.cycles >= maxiter:
                return self._end(maxiter)
            r, new_norm, broke_down = self._cycle(r, norm)
            self.cycles += 1
            if self.callback is not None:
                self.callback(self.x)
            if not np.isfinite(new_norm):
                return self._end(-1)
            if system.tolerance < new_norm and norm * _SLOW_CYCLE < new_norm:
                # Near an invariant space (a singular A, a residual A hardly moves) the small
                # solve's rounding can move x the wrong way: check x against A, go on from the
                # true residual, and stop once it is no better than the best so far.
                best = self.best[0]
                r, new_norm = self._true_residual()
                if new_norm >= best:
                    return self._end(-1)
                r, new_norm = self._start_from_recycled(r)
            stalls = stalls + 1 if new_norm >= norm * (1 - 1e-12) else 0
            norm = new_norm
            if norm > system.tolerance and (stalls >= 2 or (broke_down and stalls)):
                return self._end(-1)

    def _true_residual(self):
        """(b - A x, its norm) for the current x, which becomes the best iterate if it is."""
        r = self.system.residual(self.x)
        self.true_norm = norm = np.linalg.norm(r)
        self.checked = self.x
        if norm < self.best[0]:
            self.best = (norm, self.x)
        return r, norm

    def _end(self, info):
        """Ends the solve on the best iterate whose true residual was computed."""
        if self.checked is not self.x:
            self._true_residual()
        self.true_norm, self.x = self.best
        return info

    # -- the recycled space ------------------------------------------------------------------

    def _reproject(self):
        """C = A M U for this system's A and M, orthonormalized (U transformed alike). Where the
        last M and this one are both diagonal, U first becomes this M's variable for the same
        vectors x = M U."""
        solver, system = self.solver, self.system
        U = solver._U  # the solver's state changes only once the products have returned
        if solver._m_diagonal is not None and self.m_diagonal is not None:
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                rescaled = U * (solver._m_diagonal / self.m_diagonal)[:, None]
            if np.isfinite(rescaled).all():  # else (a zero or vanishing new M) U is carried as it is
                U = rescaled
        AU = system.A(system.M(U))
        Q, R, kept = _orthonormal_columns(AU)
        kk = Q.shape[1]
        solver._U = np.asfortranarray(scipy.linalg.solve_triangular(R, U[:, kept].T, trans="T").T)
        self.basis[:, :kk] = Q
        solver._recycled = kk
        solver._key, solver._m_diagonal = system.key, self.m_diagonal

    def _start_from_recycled(self, r):
        """x += M U C^H r, r -= C C^H r: the best start within the recycled space, and the start
        every cycle needs (the Arnoldi loop takes r orthogonal to C). Returns (r, ||r||). A cycle
        that began from a true residual as it was broke C's orthonormality (a residual near
        the attainable accuracy lies almost in span(C)), and the next Ritz step kept the damage:
        with the same A, later solves failed where SciPy's gmres converges."""
        kk = self.solver._recycled
        if kk:
            C = self.basis[:, :kk]
            coefficients = inner(C, r[:, None])
            self.x = self.x + self.system.M(combine(self.solver._U, coefficients)[:, 0])
            r = r - combine(C, coefficients)[:, 0]
        return r, np.linalg.norm(r)

    # -- a cycle ----------------------------------------------------------------------------

    def _cycle(self, r, norm):
        """One cycle from residual r: Arnoldi, the minimal-residual update, the new recycled
        space. Returns (r, ||r||, whether the Krylov space became invariant)."""
        solver, system, basis = self.solver, self.system, self.basis
        kk, m = solver._recycled, solver.m
        steps = m - kk
        H = np.zeros((steps + 1, steps), dtype=system.dtype, order="F")
        B = np.zeros((kk, steps), dtype=system.dtype, order="F")
        S = np.zeros((kk + steps, steps), dtype=system.dtype, order="F")
        basis[:, kk] = r / norm
        done, products, broke_down, non_finite = _core.arnoldi(basis, kk, steps, H, B, S, norm, system.tolerance,
                                                               _BREAKDOWN, *system.right_preconditioned_operands())
        self.iterations += products
        system.count_loop(products, products if system.M.operand is not None else 0)
        if non_finite:
            return r, np.inf, True
        Hj = H[: done + 1, :done]
        S = S[: kk + done, :done]
        rhs = np.zeros(done + 1, dtype=system.dtype)
        rhs[0] = norm
        y = scipy.linalg.lstsq(Hj, rhs, lapack_driver="gelsy")[0]
        small_residual = rhs - Hj @ y
        # [T y, V+ small_residual] (T = [C, V] S) in one pass over the basis.
        weights = np.zeros((kk + done + 1, 2), dtype=system.dtype)
        weights[: kk + done, 0] = S @ y
        weights[kk:, 1] = small_residual
        step_and_r = combine(basis[:, : kk + done + 1], weights)
        step = step_and_r[:, :1]
        if kk:
            combine(solver._U, -(B[:, :done] @ y)[:, None], step, accumulate=True)
        self.x = self.x + system.M(step[:, 0])
        r = step_and_r[:, 1]
        if solver.k:
            self._update_recycled(Hj, B[:, :done], S, done)
        return r, np.linalg.norm(small_residual), broke_down

    def _update_recycled(self, H, B, S, steps):
        """The k harmonic Ritz vectors of A M in span(U, T) with the smallest harmonic Ritz
        values: Ghat^H Ghat z = theta Ghat^H What^H Vhat z, What = [C, V+], Vhat = [U D, T],
        T = [C, V] S the cycle's search directions, Ghat = [[D, B], [0, H]] (D scales U's
        columns to unit length). The new C = What Q and U = Vhat P R^-1 (Ghat P = Q R) are each
        one product of the n-row basis with a small matrix."""
        solver, basis = self.solver, self.basis
        kk = solver._recycled
        size = kk + steps
        dtype = basis.dtype
        W_hat = basis[:, : size + 1]
        U = solver._U
        D = 1.0 / np.sqrt(np.diagonal(inner(U, U)).real) if kk else np.zeros(0)
        G = np.zeros((size + 1, size), dtype=dtype)
        G[:kk, :kk] = np.diag(D)
        G[:kk, kk:] = B
        G[kk:, kk:] = H
        WV = np.zeros((size + 1, size), dtype=dtype)  # What^H Vhat: [What^H U D, [S; 0]]
        if kk:
            WV[:, :kk] = inner(W_hat, U) * D
        WV[:size, kk:] = S
        P = _smallest_harmonic_ritz(G, WV, min(solver.k, size), solver.m - 1)
        if P is None:
            return
        Q, R, kept = _orthonormal_columns(G @ P)
        if Q.shape[1] == 0:
            return
        # U_new = [U D, T] P R^-1 (the small factor first) and C_new = What Q, their parts in
        # What's span in one pass over the basis.
        weights = scipy.linalg.solve_triangular(R, P[:, kept].T, trans="T").T
        k_new = Q.shape[1]
        coefficients = np.zeros((size + 1, 2 * k_new), dtype=dtype, order="F")
        coefficients[:size, :k_new] = S @ weights[kk:]
        coefficients[:, k_new:] = Q
        U_and_C = combine(W_hat, coefficients)
        U_new = U_and_C[:, :k_new]
        if kk:
            combine(U, D[:, None] * weights[:kk], U_new, accumulate=True)
        basis[:, :k_new] = U_and_C[:, k_new:]  # (not made in place: W_hat holds the old C)
        solver._U = U_new
        solver._recycled = k_new
        solver._key, solver._m_diagonal = self.system.key, self.m_diagonal


def _orthonormal_columns(X):
    """(Q, R, kept): X[:, kept] = Q R, Q orthonormal, dropping columns that add less than
    1e-12 of X's size (QR with column pivoting: the leading part of its factors; R upper
    triangular, kept in pivot order)."""
    if X.shape[1] == 0:
        return X, np.zeros((0, 0), dtype=X.dtype), np.zeros(0, dtype=int)
    Q, R, pivots = scipy.linalg.qr(X, mode="economic", pivoting=True)
    diagonal = np.abs(np.diag(R))
    rank = int(np.count_nonzero(diagonal > 1e-12 * diagonal[0])) if diagonal[0] > 0 else 0
    return Q[:, :rank], R[:rank, :rank], pivots[:rank]


def _smallest_harmonic_ritz(G, WV, k, limit):
    """The k eigenvectors of (G^H G) z = theta (G^H WV) z with the smallest |theta|, each of
    unit length, as the columns of a matrix of G's dtype (for real G, a complex pair enters as
    its real and imaginary parts: k grows by one rather than split a pair, up to ``limit``
    columns, and a pair that would pass it is left out). None if there are none.

    LAPACK's ggev is called directly: scipy.linalg.eig's checks and workspace query cost as
    much as the solve at this size (0.73 against 0.48 ms at 40 x 40), once a cycle, and ggev
    gives a real pair's parts as adjacent columns."""
    GH = G.conj().T
    ggev, = scipy.linalg.lapack.get_lapack_funcs(("ggev",), (G,))
    if G.dtype.kind == "c":
        alpha, beta, _, vectors, _, info = ggev(GH @ G, GH @ WV, compute_vl=0, overwrite_a=1, overwrite_b=1)
    else:
        alpha_real, alpha_imaginary, beta, _, vectors, _, info = ggev(GH @ G, GH @ WV, compute_vl=0, overwrite_a=1,
                                                                      overwrite_b=1)
        alpha = alpha_real + 1j * alpha_imaginary
    if info != 0:  # the QZ iteration failed: no Ritz vectors this cycle
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        values = alpha / beta
    finite = np.flatnonzero(np.isfinite(values))
    order = finite[np.argsort(np.abs(values[finite]), kind="stable")]
    if G.dtype.kind == "c":
        columns = vectors[:, order[:k]]
        return columns / np.linalg.norm(columns, axis=0) if columns.shape[1] else None
    columns = []
    taken = set()
    for index in order:
        if len(columns) >= k:
            break
        if index in taken:
            continue
        if values[index].imag == 0:
            columns.append(vectors[:, index] / np.linalg.norm(vectors[:, index]))
            taken.add(index)
            continue
        first = index if values[index].imag > 0 else index - 1  # ggev: the pair's columns are re, im
        taken.update({first, first + 1})
        pair = vectors[:, first : first + 2] / np.linalg.norm(vectors[:, first : first + 2])
        if abs(values[index].imag) <= 1e-12 * abs(values[index]):  # a real eigenvalue, split by rounding
            columns.append(pair[:, 0] / np.linalg.norm(pair[:, 0]))
        elif len(columns) + 2 <= limit:
            columns.extend((pair[:, 0], pair[:, 1]))
    return np.stack(columns, axis=1) if columns else None
