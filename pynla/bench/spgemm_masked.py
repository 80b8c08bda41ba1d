"""Masked SpGEMM cases: triangle counting, the sum of ``L @ L`` masked by L (L the strict lower
triangle of an undirected graph's 0/1 adjacency matrix, CSR, float64).

Implementations
---------------
scipy       ``(L @ L).multiply(L).sum()``: the whole product, then the mask (single-threaded): the anchor.
pynla       ``pynla.spgemm(L, L, mask=L).sum()``: only the masked entries are summed, 2 threads.
pynla       the same, 1 thread.
graphblas   SuiteSparse:GraphBLAS through ``python-graphblas``: ``C(L.S) << L.mxm(L, plus_pair)``,
            then ``C.reduce_scalar()`` (its own triangle count: GraphBLAS's masked product picks
            its method, dot or saxpy, itself), 2 threads; converting L is not timed.

Cases (``--full`` / default): undirected R-MAT scale 18 / 14 (edge factor 10) and Graph500
scale 16 / 13 (edge factor 16), the graphs of the spgemm section made symmetric, no self loops.
"""

import numpy as np
import scipy.sparse as sp

from pynla.bench import matrices
from pynla.bench.spgemm import THREADS, _graphblas_activate, _graphblas_unavailable, _pynla_threads
from pynla.bench.timing import Case, Implementation


def lower_triangle(A):
    """L: the strict lower triangle of the 0/1 adjacency matrix of A's undirected graph."""
    adjacency = ((A + A.T) != 0).astype(np.float64)
    L = sp.tril(adjacency, -1, format="csr")
    L.sort_indices()
    return L


def _scipy_triangles(L):
    return float((L @ L).multiply(L).sum())


def _pynla_triangles(L):
    import pynla

    return float(pynla.spgemm(L, L, mask=L).sum())


def _graphblas_prepare(L):
    import graphblas as gb

    return (gb.io.from_scipy_sparse(L),)


def _graphblas_triangles(gL):
    import graphblas as gb

    C = gb.Matrix(gb.dtypes.INT64, gL.nrows, gL.ncols)
    C(gL.S) << gL.mxm(gL, gb.semiring.plus_pair)
    return float(C.reduce_scalar().new().value)


SCIPY = Implementation("scipy", _scipy_triangles, threads=1)

IMPLEMENTATIONS = (
    Implementation("pynla", _pynla_triangles, threads=THREADS, activate=_pynla_threads(THREADS)),
    Implementation("pynla", _pynla_triangles, threads=1, activate=_pynla_threads(1)),
    Implementation("graphblas", _graphblas_triangles, threads=THREADS, prepare=_graphblas_prepare,
                   activate=_graphblas_activate, unavailable=_graphblas_unavailable),
)


def compare(expected, got, explicit_zeros=False):
    """Triangle counts are integers: they must agree exactly."""
    return (None if got == expected else f"{got:.0f} triangles, SciPy counts {expected:.0f}"), None


def describe(inputs, expected):
    (L,) = inputs
    return {"shape": list(L.shape), "nnz(L)": int(L.nnz), "triangles": int(expected)}


def _case(name, build):
    return Case(name=name, setup=lambda: (lower_triangle(build()),), anchor=SCIPY, implementations=IMPLEMENTATIONS,
                compare=compare, nbytes=lambda answer: 8, describe=describe)


def cases(full=False):
    """Triangle counting on the R-MAT and Graph500 graphs of the spgemm section."""
    rmat, g500 = (18, 16) if full else (14, 13)
    return [
        _case(f"triangles rmat-s{rmat}-ef10", lambda: matrices.rmat_square(rmat)),
        _case(f"triangles graph500-s{g500}-ef16", lambda: matrices.graph500(g500)),
    ]
