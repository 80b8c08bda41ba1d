"""Galerkin products ``C = P^T A P``: the coarse operators of algebraic multigrid.

Matrices
--------
A is a fine-grid operator of ``pynla.bench.matrices``; P its smoothed-aggregation prolongation
(``matrices.smoothed_aggregation``: aggregates of 3 x 3 nodes in 2-D, 3 x 3 x 3 in 3-D, one
damped Jacobi step), as pyamg's solvers build them for their first level.

=====================================  ==================================  =====================
case                                    --full                              default
=====================================  ==================================  =====================
2-D Poisson, CSR                        1000 x 1000 grid                    500 x 500 grid
3-D 27-point stencil, CSR               80^3 grid                           40^3 grid
2-D elasticity, BSR 2 x 2 (A), 2 x 3    499 x 499 quads                     249 x 249 quads
(P: translations and the rotation)
=====================================  ==================================  =====================

Implementations
---------------
scipy       ``P.T @ A @ P`` (SciPy's sparsetools, single-threaded): the anchor.
pynla       ``pynla.ptap(A, P)`` (symmetric A: the result made symmetric bit for bit), 2 threads
            and 1 thread.
pynla-rap   ``pynla.rap(P.T, A, P)``: the same products without the symmetry (the price of the
            check and the mirroring is the difference), 2 threads.
pynla-plan  ``plan(A, P, out=C)`` of ``plan = pynla.ptap_plan(A, P)``: the values only (the
            analysis and the first result are made once, untimed), 2 threads; it keeps entries
            whose products cancel, as explicit zeros.
"""

import numpy as np
import scipy.sparse as sp

from pynla.bench import matrices
from pynla.bench.spgemm import _pynla_threads, compare, nbytes
from pynla.bench.timing import Case, Implementation

THREADS = 2


def _scipy_ptap(A, P):
    return P.T @ A @ P


def _pynla_ptap(A, P):
    import pynla

    return pynla.ptap(A, P)


def _pynla_rap(A, P):
    import pynla

    return pynla.rap(P.T, A, P)


def _plan_prepare(A, P):
    import pynla

    plan = pynla.ptap_plan(A, P)
    return plan, A, P, plan(A, P)


def _plan_values(plan, A, P, C):
    return plan(A, P, out=C)


SCIPY = Implementation("scipy", _scipy_ptap, threads=1, memory=True)
IMPLEMENTATIONS = (
    Implementation("pynla", _pynla_ptap, threads=THREADS, activate=_pynla_threads(THREADS), memory=True),
    Implementation("pynla", _pynla_ptap, threads=1, activate=_pynla_threads(1)),
    Implementation("pynla-rap", _pynla_rap, threads=THREADS, activate=_pynla_threads(THREADS)),
    Implementation("pynla-plan", _plan_values, threads=THREADS, prepare=_plan_prepare,
                   activate=_pynla_threads(THREADS), explicit_zeros=True),
)


def first_level_poisson(n):
    A = matrices.poisson2d(n)
    return A, matrices.smoothed_aggregation(A, matrices.grid_aggregates((n, n), 3))


def first_level_stencil(n):
    A = matrices.stencil27(n)
    return A, matrices.smoothed_aggregation(A, matrices.grid_aggregates((n, n, n), 3))


def first_level_elasticity(quads):
    """BSR A (2 x 2 blocks, a node's two dofs) and P (2 x 3 blocks: x and y translations and the
    rotation about the origin, on each aggregate)."""
    A = matrices.elasticity2d(quads)
    A = sp.csr_array(A + sp.eye_array(A.shape[0], format="csr") * 1e-8 * A.diagonal().max())  # no zero pivots
    nodes = quads + 1
    y, x = np.divmod(np.arange(nodes * nodes), nodes)
    near_null = np.zeros((2 * nodes * nodes, 3))
    near_null[0::2, 0] = 1.0
    near_null[1::2, 1] = 1.0
    near_null[0::2, 2], near_null[1::2, 2] = -y / nodes, x / nodes
    P = matrices.smoothed_aggregation(A, matrices.grid_aggregates((nodes, nodes), 3), near_null)
    return A.tobsr(blocksize=(2, 2)), P.tobsr(blocksize=(2, 3))


def describe(inputs, expected):
    A, P = inputs
    return {"shape_A": list(A.shape), "shape_P": list(P.shape), "nnz_A": int(A.nnz), "nnz_P": int(P.nnz),
            "nnz_C": int(expected.nnz)}


def _case(name, setup):
    return Case(name=name, setup=setup, anchor=SCIPY, implementations=IMPLEMENTATIONS, compare=compare,
                nbytes=nbytes, describe=describe, targets={"pynla": 1.0})


def cases(full=False):
    poisson = 1000 if full else 500
    grid = 80 if full else 40
    quads = 499 if full else 249
    return [
        _case(f"poisson2d-{poisson}x{poisson} P^T A P", lambda: first_level_poisson(poisson)),
        _case(f"stencil27-{grid}^3 P^T A P", lambda: first_level_stencil(grid)),
        _case(f"elasticity2d-{quads}x{quads} BSR P^T A P", lambda: first_level_elasticity(quads)),
    ]
