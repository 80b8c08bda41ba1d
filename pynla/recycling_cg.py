"""Deflated (recycled) preconditioned conjugate gradients for sequences of Hermitian positive
definite systems (Saad, Yeung, Erhel and Guyomarc'h 2000; Parks et al. 2006, RCG).

The deflation space W (k columns) is kept from one solve to the next. A solve starts from the
Galerkin solution in W (``W^H r0 = 0``) and keeps every search direction A-conjugate to W:
``p = z + beta p - W mu``, ``mu = (W^H A W)^-1 (A W)^H z``. The first m search directions of
a solve are kept, and at its end W becomes the k Ritz vectors of M A with the smallest Ritz
values in ``span(W, P)``: the pencil ``(S^H A M A S, S^H A S)``, S = [W, P], whose products
need no extra work: ``A P`` are the CG products, and ``M A p_i = (z_i - z_i+1) / alpha_i``
from the preconditioned residuals. Per iteration the kernels do one product with A, one with
M, one sweep ``x += alpha p, r -= alpha A p`` (``_core.cg_advance``), the k + 1 inner
products ``[A W, r]^H z`` in one block (``_core.krylov_project``) and the direction update
(``_core.cg_direction``).
"""

import numpy as np
import scipy.linalg

from pynla import _core
from pynla._krylov import LinearSystem, SolveStats, check_positive_int
from pynla._threads import one_blas_thread

__all__ = ["RecyclingCG"]

#: Eigenvalues of a Gram matrix below this fraction of its largest are rounding: their
#: directions are left out of the Ritz problem and of the deflation.
_RANK_TOLERANCE = 1e-12


class RecyclingCG:
    """Recycled (deflated) conjugate gradients for sequences of Hermitian positive definite
    systems.

    Create one solver and call :meth:`solve` for each system: the first solve is an ordinary
    preconditioned CG that ends with a deflation space; each later solve keeps its search
    directions A-conjugate to that space, which removes the smallest eigenvalues of M A from
    CG's convergence. Related systems then need far fewer iterations than CG.

    Parameters
    ----------
    k : int, optional
        Columns of the deflation space (0: plain preconditioned CG).
    m : int, optional
        Search directions of each solve kept to update the deflation space (memory: 3 m + 3 k
        vectors of A's length).

    Attributes
    ----------
    stats : SolveStats or None
        The counts of the last solve.
    deflation_space : ndarray or None
        The deflation space W after the last solve (a copy).

    Notes
    -----
    A and M must be Hermitian positive definite (as for CG); a direction of non-positive
    curvature ends the solve with ``info = -1``. The work runs in float64 (complex128 for a
    complex system). A, M and the results follow :class:`RecyclingGMRES`'s rules.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> n = 500
    >>> laplacian = sp.diags_array([-1.0, 2.0, -1.0], offsets=[-1, 0, 1], shape=(n, n), format="csr")
    >>> solver = pynla.RecyclingCG(k=8)
    >>> b = np.ones(n)
    >>> for shift in (1e-4, 2e-4, 3e-4):
    ...     A = laplacian + shift * sp.eye_array(n, format="csr")
    ...     x, info = solver.solve(A, b, rtol=1e-10)
    ...     print(info, np.linalg.norm(b - A @ x) <= 1e-10 * np.linalg.norm(b))
    0 True
    0 True
    0 True
    """

    def __init__(self, k=10, m=40):
        self.k = check_positive_int(k, "k", low=0)
        self.m = check_positive_int(m, "m", low=1)
        self.stats = None
        self.reset()

    def reset(self):
        """Forget the deflation space: the next solve is an ordinary preconditioned CG."""
        self._W = None  # Fortran (n, kk)
        self._AW = None
        self._MAW = None
        self._key = None  # the (A, M) identities AW and MAW hold for

    @property
    def deflation_space(self):
        return None if self._W is None or self._W.shape[1] == 0 else self._W.copy()

    def solve(self, A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, callback=None):
        """Solve ``A x = b`` with the kept deflation space, and update it.

        Parameters
        ----------
        A : sparse array or matrix, ndarray or LinearOperator, shape (n, n)
            Hermitian positive definite.
        b : ndarray, shape (n,) or (n, 1)
        x0 : ndarray, optional
            Starting guess (default: zero).
        rtol, atol : float, optional
            Converged when ``||b - A x|| <= max(atol, rtol * ||b||)`` (SciPy's rule), checked
            on the true residual before returning.
        maxiter : int, optional
            Maximum number of iterations (default: 10 n).
        M : sparse array or matrix, ndarray or LinearOperator, optional
            Hermitian positive definite preconditioner, an approximation of A's inverse.
        callback : callable, optional
            Called as ``callback(xk)`` after each iteration.

        Returns
        -------
        x : ndarray, shape (n,)
        info : int
            0: converged; > 0: ``maxiter`` iterations without convergence (x is the last
            iterate); < 0: breakdown (a direction of non-positive curvature: A or M is not
            positive definite) or stagnation; x is the last iterate before it.

        Raises
        ------
        ValueError
            As :meth:`RecyclingGMRES.solve`.
        """
        system = LinearSystem(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter, M=M)
        with one_blas_thread():
            run = _Solve(self, system, callback)
            info = run.run(10 * system.n if system.maxiter is None else system.maxiter)
            run.update_deflation()
        self.stats = SolveStats(info, run.iterations, system.A.count, system.M.count, run.true_norm, 0,
                                run.deflated)
        return system.result(run.x), info


class _Solve:
    """One call of RecyclingCG.solve: its state and steps."""

    def __init__(self, solver, system, callback):
        self.solver, self.system, self.callback = solver, system, callback
        self.iterations = 0
        self.x = system.x
        self.true_norm = np.inf
        n, m = system.n, solver.m
        if solver._W is not None and (solver._W.shape[0] != n or solver._W.dtype != system.dtype):
            solver.reset()
        if solver._W is not None and solver._key != system.key:
            solver._AW = np.asfortranarray(system.A(solver._W))
            solver._MAW = None
            solver._key = system.key
        self.deflated = 0 if solver._W is None else solver._W.shape[1]
        kk = self.deflated
        # [A W, r]: r is the last column, so that one projection gives (A W)^H z and r^H z.
        self.AWr = np.zeros((n, kk + 1), dtype=system.dtype, order="F")
        if kk:
            self.AWr[:, :kk] = solver._AW
            self.inverse_gram = _pseudo_inverse(_adjoint(solver._W) @ solver._AW)
        self.r = self.AWr[:, kk]
        stored = min(m, n) if solver.k else 0
        self.P = np.zeros((n, stored), dtype=system.dtype, order="F")
        self.AP = np.zeros((n, stored), dtype=system.dtype, order="F")
        self.Z = np.zeros((n, stored + 1), dtype=system.dtype, order="F")
        self.alphas = np.zeros(stored, dtype=system.dtype)
        self.stored = 0

    def _deflation_weights(self, g):
        """(W^H A W)^-1 g."""
        return self.inverse_gram @ g if self.deflated else g[:0]

    def run(self, maxiter):
        """CG to the tolerance on the true residual, restarting from it when the recurrence's
        residual has drifted below the tolerance. Returns info."""
        system = self.system
        if system.b_norm == 0.0:
            self.x = np.zeros(system.n, dtype=system.dtype)
            self.true_norm = 0.0
            return 0
        self.r[:] = system.b if system.started_from_zero else system.residual(self.x)
        for _ in range(4):
            info = self._iterate(maxiter)
            if info != 0:
                self.true_norm = np.linalg.norm(system.residual(self.x))
                return info
            true_residual = system.residual(self.x)
            self.true_norm = np.linalg.norm(true_residual)
            if self.true_norm <= system.tolerance:
                return 0
            self.r[:] = true_residual
            self.P = self.P[:, : self.stored]  # M A p = (z - z') / alpha holds within one run only
        return -1

    def _iterate(self, maxiter):
        """Deflated CG from the residual in self.r until the recurrence's residual meets the
        tolerance (0), maxiter iterations pass (maxiter) or the curvature is not positive (-1)."""
        system, solver = self.system, self.solver
        kk = self.deflated
        x, r = self.x, self.r
        if kk:  # the Galerkin start in W: W^H r = 0 afterwards
            weights = self._deflation_weights(_core.krylov_project(solver._W, kk, r))
            x += solver._W @ weights
            r -= solver._AW @ weights
        z = system.M(r)
        g = _core.krylov_project(self.AWr, kk + 1, z)
        rho = g[kk].real
        p = z - solver._W @ self._deflation_weights(g[:kk]) if kk else z.copy()
        if self.stored < self.P.shape[1]:
            self.Z[:, self.stored] = z
        norm = np.linalg.norm(r)
        while norm > system.tolerance:
            if self.iterations >= maxiter:
                return maxiter
            q = system.A(p)
            curvature = _core.krylov_project(p.reshape(-1, 1, order="F"), 1, q)[0].real
            if not (np.isfinite(curvature) and curvature > 0 and np.isfinite(rho) and rho > 0):
                return -1
            alpha = rho / curvature
            norm = np.sqrt(_core.cg_advance(alpha, p, q, x, r))
            self.iterations += 1
            z = system.M(r)
            if self.stored < self.P.shape[1]:
                i = self.stored
                self.P[:, i], self.AP[:, i], self.Z[:, i + 1], self.alphas[i] = p, q, z, alpha
                self.stored += 1
            if self.callback is not None:
                self.callback(x)
            g = _core.krylov_project(self.AWr, kk + 1, z)
            rho, beta = g[kk].real, g[kk].real / rho
            _core.cg_direction(beta, z, solver._W if kk else self.AWr, self._deflation_weights(g[:kk]), p)
        return 0

    def update_deflation(self):
        """W = the k Ritz vectors of M A with the smallest Ritz values in span(W, P): the
        pencil (S^H A M A S, S^H A S) for S = [W, P], assembled block by block."""
        solver, system = self.solver, self.system
        if solver.k == 0 or self.stored == 0:
            return
        kk, s = self.deflated, self.stored
        MAP = (self.Z[:, :s] - self.Z[:, 1 : s + 1]) / self.alphas[:s]
        if kk and solver._MAW is None:
            solver._MAW = np.asfortranarray(system.M(solver._AW))
        S = [solver._W, self.P[:, :s]] if kk else [self.P[:, :s]]
        AS = [solver._AW, self.AP[:, :s]] if kk else [self.AP[:, :s]]
        MAS = [solver._MAW, MAP] if kk else [MAP]
        stiffness = _hermitian(np.block([[_adjoint(a) @ b for b in AS] for a in S]))
        energy = _hermitian(np.block([[_adjoint(a) @ b for b in MAS] for a in AS]))
        Y = _smallest_ritz(energy, stiffness, solver.k)
        rows = np.cumsum([0] + [block.shape[1] for block in S])

        def combine(blocks):
            return np.asfortranarray(sum(block @ Y[rows[i] : rows[i + 1]] for i, block in enumerate(blocks)))

        solver._W, solver._AW, solver._MAW = combine(S), combine(AS), combine(MAS)
        solver._key = system.key


def _adjoint(X):
    return X.T.conj() if X.dtype.kind == "c" else X.T


def _hermitian(G):
    return (G + _adjoint(G)) / 2


def _pseudo_inverse(G):
    """The inverse of a Hermitian positive semidefinite G on its numerical range."""
    values, vectors = scipy.linalg.eigh(_hermitian(G))
    keep = values > _RANK_TOLERANCE * max(values[-1], 0.0) if values.size else values > 0
    vectors = vectors[:, keep]
    return (vectors / values[keep]) @ _adjoint(vectors)


def _smallest_ritz(energy, stiffness, k):
    """Y (columns) of the k smallest eigenpairs of energy y = lambda stiffness y, on the range
    of the positive semidefinite stiffness (directions it does not see are left out)."""
    values, vectors = scipy.linalg.eigh(stiffness)
    keep = values > _RANK_TOLERANCE * max(values[-1], 0.0)
    T = vectors[:, keep] / np.sqrt(values[keep])
    reduced = _hermitian(_adjoint(T) @ energy @ T)
    _, ritz = scipy.linalg.eigh(reduced)
    return T @ ritz[:, : min(k, ritz.shape[1])]
