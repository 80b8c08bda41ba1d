"""Conjugate gradients on the normal equations (CGLS) for sketched_lstsq's method="krylov":
``min ||A x - b||`` through products with A alone, certified by the backward error.

Each step is one pass over A: ``gradient(P, None)`` gives ``-A^H A P`` and the squared norms of
``A P`` together (the core's one-pass gradient kernel without B), where CGLS as usually written
takes two products, ``A P`` and then ``A^H`` of the residual. The residual is therefore never formed:
``A^H r`` and ``||r||^2`` are updated by their recurrences, ``s <- s - alpha A^H A p`` and
``||r||^2 <- ||r||^2 - alpha gamma`` (Hestenes and Stiefel 1952; Bjorck, Numerical Methods for
Least Squares Problems, 1996, section 7.4), and checked against a true pass over A
(``gradient(X, B)``) before an answer is given.

The check is Stewart's backward error: x is the exact least-squares solution for ``A + E`` with
``||E||_2 = ||A^H r|| / ||r||`` (E = -r r^H A / ||r||^2), so ``||A^H r|| <= tol ||A|| ||r||``
certifies x as the answer to a problem within ``tol`` of A, the guarantee of a backward stable
solver (gelsd); and ``||r|| <= tol (||A|| ||x|| + ||b||)`` certifies it for a nearby consistent
problem (what a b in A's range comes to). Each column takes the smaller of the two. ``||A||``
is taken from below (the largest column norm), so the bound holds.

CGLS converges at the rate ``(cond - 1) / (cond + 1)`` of A's condition number, not of a
preconditioned A: on a well-conditioned sparse A (random tall sparse matrices, cond about 1.2)
it needs 10-16 passes where sketch-and-precondition needs about 30 after a sketch and its QR.
Where A is ill conditioned it gives up early, as soon as its rate predicts more passes than the
caller's budget.
"""

import math
from collections import namedtuple

import numpy as np

__all__ = ["cgls"]

#: How a CGLS run ended: "certified" (x passed the backward-error check on a true pass),
#: "maxiter" (the iteration limit, unchecked), "abandoned" (its rate predicted more than the
#: budget, or it stalled short of the check).
CglsResult = namedtuple("CglsResult", ["X", "residual", "iterations", "status"])

#: The backward error certified where the iteration stalls short of rtol: this many units of
#: rounding (sketched_lstsq's _CERTIFICATE_FACTOR).
STALLED_UNITS = 64

#: Steps before the rate is trusted to predict the passes still needed, and how many steps in a
#: row may fail to halve the backward error before the iteration counts as stalled.
RATE_STEPS = 4
STALL_STEPS = 4


def cgls(gradient, B, column_scale, a_norm, rtol, maxiter, budget):
    """Solve ``min ||A D y - B||``, x = D y, D = diag(column_scale) (taking A's columns to unit
    norm: CGLS then works on A's condition number up to column scaling).

    ``gradient(X, B)`` returns ``(A^H (B - A X), squared column norms of B - A X)``, and
    ``gradient(P, None)`` returns ``(-A^H A P, squared column norms of A P)``, each in one pass.
    ``a_norm`` is a lower bound on ``||A D||_2``; ``budget`` the most passes worth taking before
    another method would have been cheaper (math.inf for none). Returns a CglsResult with X = D y
    and, but where "abandoned", the residual norms of a true pass.
    """
    scale = column_scale[:, None]

    def scaled(Y, B):
        G, squared = gradient(scale * Y, B)
        return scale * G.reshape(Y.shape), squared

    q = B.shape[1]
    Y = np.zeros((len(column_scale), q), dtype=B.dtype)
    S, r_squared = scaled(Y, B)  # S = (A D)^H B: a pass
    b_norms = np.sqrt(r_squared)
    P, gamma = S.copy(), _squared_norms(S)
    first = _backward_error(gamma, r_squared, a_norm)
    band = STALLED_UNITS * np.finfo(B.dtype).eps
    best, checked_best, stalled, passes = first, math.inf, 0, 1
    bests = [first]  # the least backward error after each step
    for iteration in range(1, maxiter + 1):
        W, p_squared = scaled(P, None)  # -(A D)^H (A D) P and ||A D P||^2: a pass
        passes += 1
        alpha = _ratio(gamma, p_squared)
        Y += alpha * P
        S += alpha * W
        r_squared = np.maximum(r_squared - alpha * gamma, 0)
        gamma_next = _squared_norms(S)
        error = _backward_error(gamma_next, r_squared, a_norm, Y, b_norms)
        stalled = 0 if error < best / 2 else stalled + 1
        best = min(best, error)
        bests.append(best)
        if error <= rtol or (stalled >= STALL_STEPS and error <= band):
            # A true pass: certified below rtol, or within the band where a second check finds
            # no more than half gained since the first (the floor of this A's rounding).
            S, r_squared = scaled(Y, B)
            passes += 1
            checked = _backward_error(_squared_norms(S), r_squared, a_norm, Y, b_norms)
            if checked <= rtol or (band >= checked > checked_best / 2):
                return CglsResult(scale * Y, np.sqrt(r_squared), iteration, "certified")
            if checked > checked_best / 2:  # a second check that gained little: the floor lies above the band
                return CglsResult(scale * Y, None, iteration, "abandoned")
            # Go on from the true values; the stall and rate records restart from them (the true
            # error may lie above the recurrences' of a few steps before, which is no stall).
            checked_best, stalled, best, bests = checked, 0, checked, [checked]
            gamma, P = _squared_norms(S), S.copy()
            continue
        if stalled >= STALL_STEPS or _predicted_passes(bests, rtol) > budget - passes:
            return CglsResult(scale * Y, None, iteration, "abandoned")
        P = S + _ratio(gamma_next, gamma) * P
        gamma = gamma_next
    _, r_squared = scaled(Y, B)
    return CglsResult(scale * Y, np.sqrt(r_squared), maxiter, "maxiter")


def _squared_norms(M):
    return np.sum(np.abs(M) ** 2, axis=0)


def _ratio(numerator, denominator):
    """numerator / denominator by columns, 0 where the denominator is 0 (a column already solved)."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _backward_error(gamma, r_squared, a_norm, Y=None, b_norms=None):
    """The largest over B's columns of the backward error that ``||A^H r||^2 = gamma`` and
    ``||r||^2`` certify: ``||A^H r|| / (||A|| ||r||)``, or for a column whose residual is at the
    level of a consistent system's, ``||r|| / (||A|| ||x|| + ||b||)``, whichever is smaller."""
    r_norms = np.sqrt(r_squared)
    normal = _ratio(np.sqrt(gamma), a_norm * r_norms)  # 0 where r = 0
    if Y is None:
        return float(np.max(normal, initial=0))
    consistent = _ratio(r_norms, a_norm * np.linalg.norm(Y, axis=0) + b_norms)
    return float(np.max(np.minimum(normal, consistent), initial=0))


def _predicted_passes(bests, rtol):
    """Passes still needed to take the backward error to rtol at the rate of the last RATE_STEPS
    steps (``bests``: the least error after each step; 0 before that many steps). The recent
    rate, not the mean since the start: CGLS gains fast on A's large singular values and then
    slows to the rate its condition allows, which is what the rest of the run will see."""
    if len(bests) <= RATE_STEPS or bests[-1] <= rtol:
        return 0
    if not 0 < bests[-1] < bests[-1 - RATE_STEPS]:
        return math.inf
    rate = math.log(bests[-1] / bests[-1 - RATE_STEPS]) / RATE_STEPS  # < 0
    return math.log(rtol / bests[-1]) / rate
