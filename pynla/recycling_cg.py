"""Deflated (recycled) preconditioned conjugate gradients for sequences of Hermitian positive
definite systems (Saad, Yeung, Erhel and Guyomarc'h 2000; Parks et al. 2006, RCG).

The deflation space W (k columns) is kept from one solve to the next. A solve starts from the
Galerkin solution in W (``W^H r0 = 0``) and keeps every search direction A-conjugate to W:
``p = z + beta p - W mu``, ``mu = (W^H A W)^-1 (A W)^H z``. The first m search directions P of
a solve are kept, and at its end W becomes the k Ritz vectors of M A with the smallest Ritz
values in ``span(W, P)``: the pencil ``(S^H A M A S, S^H A S)`` for S = [W, P]. Its blocks
cost no pass over the vectors: P is A-conjugate (``S^H A S`` is block diagonal: ``W^H A W``
and the curvatures ``p^H A p``), ``(A W)^H M A p_i = (A W)^H (z_i - z_i+1) / alpha_i`` from
the inner products every iteration computes anyway, and ``(A P)^H M A P`` is the Lanczos
tridiagonal of the CG coefficients (the preconditioned residuals are M-orthogonal). The new W
and A W are then one product each of the kept vectors with a small matrix.

The iteration loop runs in C++ (``_core.deflated_cg``): per iteration one product with A,
one with M, one sweep ``x += alpha p, r -= alpha A p``, the k + 1 inner products
``[A W, r]^H z`` in one block and the direction update. The loop holds each direction as
``p~ - W c`` (a vector and k coefficients), so that W is not read every iteration, only A W
in the sweep that reads it anyway; the kept directions come back as P~ and their
coefficients C (P = P~ - W C). Sparse A (CSR) and a diagonal M (Jacobi) run in the core
without returning to Python; other operators are called back.
"""

import numpy as np

from pynla import _core
from pynla._krylov import LinearSystem, SolveStats, check_positive_int, combine, inner
from pynla._threads import one_blas_thread
from pynla.orthogonalize import eigh_lapack

__all__ = ["RecyclingCG"]

#: Directions of W whose A-norm, W made A-orthonormal, is below this fraction of the largest
#: are left out of the deflation: they are nearly in the span of the others, and deflating
#: with them amplifies rounding by the inverse fraction (info -1 at a residual of 1e-6 for a W
#: with a column 1e-5 from the others' span). CG's directions lose their conjugacy as Ritz
#: values converge, and the Ritz step then gives such near copies of converged vectors.
_DEPENDENT = 1e-8


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
        Search directions of each solve kept to update the deflation space (memory: 2 m + 2 k
        vectors of A's length, and 4 more for the iteration).

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

    def __init__(self, k=10, m=80):
        self.k = check_positive_int(k, "k", low=0)
        self.m = check_positive_int(m, "m", low=1)
        self.stats = None
        self.reset()

    def reset(self):
        """Forget the deflation space: the next solve is an ordinary preconditioned CG."""
        self._W = None  # Fortran (n, kk)
        self._AW = None
        self._stiffness = None  # W^H A W
        self._energy = None  # (A W)^H M A W
        self._key = None  # the (A, M) identities the three above hold for
        self._kept = None  # (P, A P): the arrays a solve keeps its first m directions in

    def _keep(self, W, AW, energy, key):
        """Keeps span(W) made A-orthonormal, W's nearly dependent directions left out (see
        _DEPENDENT), with A W, W^H A W, (A W)^H M A W (``energy``: for the given W; made
        Hermitian here) and the (A, M) they hold for."""
        values, vectors = eigh_lapack(_hermitian(inner(W, AW)))
        keep = values > _DEPENDENT * max(values[-1], 0.0) if values.size else values > 0
        scale = vectors[:, keep] / np.sqrt(values[keep])
        self._W, self._AW = combine(W, scale), combine(AW, scale)
        self._stiffness = _hermitian(inner(self._W, self._AW))
        self._energy = _hermitian(_adjoint(scale) @ energy @ scale)
        self._key = key

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
            0: converged; > 0: ``maxiter`` iterations without convergence; < 0: breakdown (a
            direction of non-positive curvature: A or M is not positive definite) or
            stagnation. Without convergence x is the best iterate whose true residual was
            computed: the start, where each restart began, and the last.

        Raises
        ------
        ValueError
            As :meth:`RecyclingGMRES.solve`.
        """
        # One BLAS thread from the start: a threaded BLAS call (even ||b||'s) would leave
        # OpenBLAS's threads spinning for a tenth of a second against the loop's own.
        with one_blas_thread():
            system = LinearSystem(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter, M=M)
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
            AW = np.asfortranarray(system.A(solver._W))
            solver._keep(solver._W, AW, inner(AW, system.M(AW)), system.key)
        self.deflated = kk = 0 if solver._W is None else solver._W.shape[1]
        # [A W, r]: r is the last column, so that one projection gives (A W)^H z and r^H z.
        self.AWr = np.zeros((n, kk + 1), dtype=system.dtype, order="F")
        self.gram = np.zeros((kk, kk), dtype=system.dtype, order="F")
        self.inverse_gram = np.zeros((kk, kk), dtype=system.dtype, order="F")
        if kk:
            self.AWr[:, :kk] = solver._AW
            self.gram[:] = solver._stiffness
            self.inverse_gram[:] = np.linalg.inv(solver._stiffness)  # I to rounding (_keep)
        self.r = self.AWr[:, kk]
        # The first m iterations' directions, products and coefficients, for the new W.
        stored = min(m, n) if solver.k else 0
        # Kept from solve to solve: fresh arrays of 2 m vectors cost their page faults every solve
        # (80 MB at 65536 rows and m = 80). Only columns a solve has written are read.
        if solver._kept is None or solver._kept[0].shape != (n, stored) or solver._kept[0].dtype != system.dtype:
            solver._kept = tuple(np.empty((n, stored), dtype=system.dtype, order="F") for _ in range(2))
        self.P, self.AP = solver._kept  # the loop's P~ and A P~ (the module docstring's P = P~ - W C)
        self.coefficients = np.zeros((kk, stored), dtype=system.dtype, order="F")  # C
        self.alphas = np.zeros(stored)
        self.curvatures = np.zeros(stored)
        self.rhos = np.zeros(stored + 1)  # r_i^H z_i
        self.projections = np.zeros((kk, stored + 1), dtype=system.dtype, order="F")  # (A W)^H z_i
        self.stored = 0
        self.storing = stored > 0
        self.work = [np.empty(n, dtype=system.dtype) for _ in range(3)]  # spare direction, A p, M r
        W = solver._W if kk else np.zeros((n, 0), dtype=system.dtype, order="F")
        self.workspace = self._loop_workspace(W, self.gram, self.inverse_gram, self.coefficients, self.projections)

    def _loop_workspace(self, W, gram, inverse_gram, coefficients, projections):
        """_core.deflated_cg's arrays for deflation by W (the stored count is set per run)."""
        return (self.x, self.AWr, W, gram, inverse_gram, self.P, self.AP, coefficients, 0, self.alphas,
                self.curvatures, self.rhos, projections, *self.work)

    def run(self, maxiter):
        """CG to the tolerance on the true residual, restarting from it when the recurrence's
        residual has drifted below the tolerance. Returns info; x is then the best iterate
        whose true residual was computed: the start, each restart's and the last (past its
        attainable accuracy, or with an inexact A, deflated CG's true residual can grow again)."""
        system = self.system
        if system.b_norm == 0.0:
            self.x = np.zeros(system.n, dtype=system.dtype)
            self.true_norm = 0.0
            return 0
        self.r[:] = system.b if system.started_from_zero else system.residual(self.x)
        best = (np.linalg.norm(self.r), self.x.copy())
        info = -1
        for _ in range(4):
            status = self._iterate(maxiter)
            true_residual = system.residual(self.x)
            self.true_norm = np.linalg.norm(true_residual)
            if status == 0 and self.true_norm <= system.tolerance:
                return 0
            if self.true_norm < best[0]:
                best = (self.true_norm, self.x.copy())
            if status > 0 or (status < 0 and not self._without_deflation()):
                info = status
                break
            if status < 0 and best[0] < self.true_norm:  # restart plain CG from the best iterate
                self.x[:] = best[1]
                true_residual = system.residual(self.x)
            self.r[:] = true_residual
            self.storing = False  # the stored recurrences hold within one run only
        self.true_norm, self.x = best
        return info

    def _without_deflation(self):
        """Makes the next runs plain PCG; False if they already are. A deflated run that breaks
        down or ends short of the tolerance on the true residual does so where rounding (an A
        applied inexactly, a tolerance near the attainable accuracy) has put components along
        W into r: deflated CG never reduces those (its directions are A-conjugate to W), plain
        CG does (A applied in float32: solves ended at true residuals of 2e-2 to 0.4 on a
        non-positive curvature; restarted plain, at 2e-5 to 7e-5, as plain CG's)."""
        n, dtype, capacity = self.system.n, self.system.dtype, self.P.shape[1]
        if self.workspace[2].shape[1] == 0:
            return False
        self.AWr = np.zeros((n, 1), dtype=dtype, order="F")
        self.r = self.AWr[:, 0]
        nothing = np.zeros((0, 0), dtype=dtype, order="F")
        self.workspace = self._loop_workspace(np.zeros((n, 0), dtype=dtype, order="F"), nothing, nothing,
                                              np.zeros((0, capacity), dtype=dtype, order="F"),
                                              np.zeros((0, capacity + 1), dtype=dtype, order="F"))
        return True

    def _iterate(self, maxiter):
        """Deflated CG (``_core.deflated_cg``) from the residual in self.r until the
        recurrence's residual meets the tolerance (0), maxiter iterations pass (maxiter) or the
        curvature is not positive (-1)."""
        system = self.system
        workspace = self.workspace[:8] + (self.stored,) + self.workspace[9:]
        status, iterations, products, preconditionings, self.stored, _ = _core.deflated_cg(
            workspace, *system.loop_operands(), self.callback, system.tolerance, maxiter, self.iterations, self.storing)
        self.iterations += iterations
        system.count_loop(products, preconditionings)
        return {0: 0, 1: maxiter, -1: -1}[status]

    def update_deflation(self):
        """W = the k Ritz vectors of M A with the smallest Ritz values in span(W, P) (the
        pencil of the module docstring, assembled from the stored coefficients)."""
        solver = self.solver
        s, kk = self.stored, self.deflated
        if solver.k == 0 or s == 0:
            return
        alphas, rhos, curvatures = self.alphas[:s], self.rhos[: s + 1], self.curvatures[:s]
        size = kk + s
        energy = np.zeros((size, size), dtype=self.P.dtype)
        # The pencil for the directions scaled to unit curvature, p_i / sqrt(p_i^H A p_i), in
        # ratios of the coefficients: its entries are of M A's size, where the products of
        # alphas and rhos of the unscaled ones (M A's size cubed) overflowed beyond |M| ~ 1e102.
        # (A P)^H M A P: the Lanczos tridiagonal; alpha_i = rho_i / curvature_i.
        diagonal = (1 + rhos[1:] / rhos[:-1]) / alphas
        off_diagonal = -np.sqrt(curvatures[1:] / curvatures[:-1]) / alphas[:-1]
        energy[kk:, kk:] = np.diag(diagonal) + np.diag(off_diagonal, 1) + np.diag(off_diagonal, -1)
        if kk:
            energy[:kk, :kk] = solver._energy
            differences = self.projections[:, :s] - self.projections[:, 1 : s + 1]
            energy[:kk, kk:] = differences / (alphas * np.sqrt(curvatures))
            energy[kk:, :kk] = _adjoint(energy[:kk, kk:])
        # S^H A S is I: the directions at unit curvature, A-conjugate to W and to each other,
        # and W A-orthonormal (_keep: to rounding).
        values, Y = _smallest_ritz(energy, solver.k)
        Y[kk:] /= np.sqrt(curvatures)[:, None]  # back to the directions as stored
        # [W, P] Y with P = P~ - W C: P~ Y_P + W (Y_W - C Y_P), and the same for A W and A P.
        W = combine(self.P[:, :s], Y[kk:])
        AW = combine(self.AP[:, :s], Y[kk:])
        if kk:
            in_w = Y[:kk] - self.coefficients[:, :s] @ Y[kk:]
            combine(solver._W, in_w, W, accumulate=True)
            combine(solver._AW, in_w, AW, accumulate=True)
        # The pencil's W^H A W = I assumes the directions exactly A-conjugate, which CG loses as
        # Ritz values converge (1e-6 to 1e-1 off after 40 directions, measured): _keep makes W
        # A-orthonormal from W^H A W itself (a next solve with the same A and M that deflated with
        # I broke down). A W is made of products with A, so this costs none.
        solver._keep(W, AW, np.diag(values).astype(W.dtype), self.system.key)


def _adjoint(X):
    return X.T.conj() if X.dtype.kind == "c" else X.T


def _hermitian(G):
    return (G + _adjoint(G)) / 2


def _smallest_ritz(energy, k):
    """(values, Y): the k smallest eigenpairs of the Hermitian ``energy``, Y orthonormal."""
    values, vectors = eigh_lapack(_hermitian(energy))
    count = min(k, values.size)
    return values[:count], vectors[:, :count]
