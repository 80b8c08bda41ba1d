"""SpGEMM for graphs: triangle counting with a masked product, and products over the min-plus
and or-and semirings, against SciPy where it has the operation and SuiteSparse:GraphBLAS
(``python-graphblas``, 2 threads; converting from SciPy is not timed).

Cases (``--full`` / default)
----------------------------
triangles       the sum of ``L @ L`` masked by L (L the strict lower triangle of the undirected
                graph's 0/1 adjacency matrix). scipy: ``(L @ L).multiply(L).sum()`` (the whole
                product, then the mask: the anchor); pynla: ``pynla.spgemm(L, L, mask=L).sum()``;
                graphblas: ``C(L.S) << L.mxm(L, plus_pair)`` then ``C.reduce_scalar()``.
                Undirected R-MAT scale 18 / 14 (edge factor 10) and Graph500 scale 16 / 13.
min_plus A^2    shortest two-edge paths on R-MAT scale 16 / 14 (edge factor 10, weights in
                (0.5, 1.5)). SciPy has no min-plus product: GraphBLAS's ``A.mxm(A, min_plus)``
                is the anchor (the case is skipped without it).
or_and A^2      two-step reachability on the same graphs as bool matrices. scipy: the bool
                product ``A @ A`` (or-and, as SciPy multiplies bools: the anchor); pynla:
                ``pynla.spgemm(A, A, semiring="or_and")``; graphblas: ``A.mxm(A, lor_land)``.
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


def _to_graphblas(*matrices_):
    import graphblas as gb

    return tuple(gb.io.from_scipy_sparse(M) for M in matrices_)


def _as_csr(answer):
    """An answer as canonical CSR (GraphBLAS matrices converted), or the number itself."""
    if hasattr(answer, "nvals"):  # a graphblas.Matrix
        import graphblas as gb

        answer = gb.io.to_scipy_sparse(answer, format="csr")
    if sp.issparse(answer):
        answer = sp.csr_array(answer)
        answer.sort_indices()
    return answer


def compare(expected, got, explicit_zeros=False):
    """Counts must be equal; matrices must have the same pattern and values (min, max, or and
    counts are exact)."""
    expected, got = _as_csr(expected), _as_csr(got)
    if not sp.issparse(expected):
        return (None if got == expected else f"{got:.0f} triangles, the anchor counts {expected:.0f}"), None
    same = (got.shape == expected.shape and np.array_equal(got.indptr, expected.indptr)
            and np.array_equal(got.indices, expected.indices) and np.array_equal(got.data, expected.data))
    return (None if same else f"nnz {got.nnz} against the anchor's {expected.nnz}, or other values"), None


def _nbytes(answer):
    answer = _as_csr(answer)
    return answer.data.nbytes + answer.indices.nbytes + answer.indptr.nbytes if sp.issparse(answer) else 8


def _describe(inputs, expected):
    expected = _as_csr(expected)
    facts = {"shape": list(inputs[0].shape), "nnz(A)": int(inputs[0].nnz)}
    facts.update({"nnz(C)": int(expected.nnz)} if sp.issparse(expected) else {"triangles": int(expected)})
    return facts


# Triangles -----------------------------------------------------------------------------------


def _scipy_triangles(L):
    return float((L @ L).multiply(L).sum())


def _pynla_triangles(L):
    import pynla

    return float(pynla.spgemm(L, L, mask=L).sum())


def _graphblas_triangles(gL):
    import graphblas as gb

    C = gb.Matrix(gb.dtypes.INT64, gL.nrows, gL.ncols)
    C(gL.S) << gL.mxm(gL, gb.semiring.plus_pair)
    return float(C.reduce_scalar().new().value)


TRIANGLES = (
    Implementation("pynla", _pynla_triangles, threads=THREADS, activate=_pynla_threads(THREADS)),
    Implementation("pynla", _pynla_triangles, threads=1, activate=_pynla_threads(1)),
    Implementation("graphblas", _graphblas_triangles, threads=THREADS, prepare=_to_graphblas,
                   activate=_graphblas_activate, unavailable=_graphblas_unavailable),
)

# Semirings -----------------------------------------------------------------------------------


def _pynla_semiring(semiring):
    def product(A):
        import pynla

        return pynla.spgemm(A, A, semiring=semiring)

    return product


def _graphblas_semiring(name):
    def product(gA):
        import graphblas as gb

        C = gA.mxm(gA, getattr(gb.semiring, name)).new()
        C.wait()
        return C

    return product


def _semiring_implementations(semiring, graphblas_name):
    return (
        Implementation("pynla", _pynla_semiring(semiring), threads=THREADS, activate=_pynla_threads(THREADS)),
        Implementation("pynla", _pynla_semiring(semiring), threads=1, activate=_pynla_threads(1)),
        Implementation("graphblas", _graphblas_semiring(graphblas_name), threads=THREADS, prepare=_to_graphblas,
                       activate=_graphblas_activate, unavailable=_graphblas_unavailable),
    )


def _weighted(A):
    """A with weights in (0.5, 1.5), fixed seed (min-plus sums of them)."""
    A = sp.csr_array(A, copy=True)
    A.data = np.random.default_rng(20_261_206).uniform(0.5, 1.5, A.nnz)
    return A


def _case(name, setup, anchor, implementations):
    return Case(name=name, setup=setup, anchor=anchor, implementations=implementations, compare=compare,
                nbytes=_nbytes, describe=_describe)


def cases(full=False):
    """Triangle counting, min-plus and or-and products on the R-MAT graphs of the spgemm section."""
    rmat, g500, semiring_scale = (18, 16, 16) if full else (14, 13, 14)
    min_plus_graphblas, *min_plus_pynla = _semiring_implementations("min_plus", "min_plus")[::-1]
    or_and = _semiring_implementations("or_and", "lor_land")
    return [
        _case(f"triangles rmat-s{rmat}-ef10", lambda: (lower_triangle(matrices.rmat_square(rmat)),),
              Implementation("scipy", _scipy_triangles), TRIANGLES),
        _case(f"triangles graph500-s{g500}-ef16", lambda: (lower_triangle(matrices.graph500(g500)),),
              Implementation("scipy", _scipy_triangles), TRIANGLES),
        _case(f"min_plus rmat-s{semiring_scale}-ef10 A^2", lambda: (_weighted(matrices.rmat_square(semiring_scale)),),
              min_plus_graphblas, tuple(reversed(min_plus_pynla))),
        _case(f"or_and rmat-s{semiring_scale}-ef10 A^2",
              lambda: (matrices.rmat_square(semiring_scale).astype(bool),),
              Implementation("scipy", lambda A: A @ A), or_and),
    ]
