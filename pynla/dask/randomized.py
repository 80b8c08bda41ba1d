"""Randomized SVD of a row-chunked Dask array: for a tall A whose Gram matrix costs less than
the method, the exact truncated SVD from that Gram matrix (two passes, their work in the
tasks); otherwise pynla.randomized_svd with every product a pass over A's blocks."""

import dask
import numpy as np

import pynla
from pynla import _core
from pynla import randomized as one_machine
from pynla.dask._blocks import aligned, block_values, summed
from pynla.dask.products import aslinearoperator
from pynla.orthogonalize import small_eigh

#: The largest A^H A formed on the client (8192^2 float64 entries: 512 MiB).
_GRAM_MAX_ORDER = 8192


def randomized_svd(A, k, **options):
    """:func:`pynla.randomized_svd` of A (a dask.array.Array chunked by rows, NumPy or SciPy
    sparse chunks, or a :class:`pynla.dask.DaskOperator`). U, s and Vh are NumPy arrays; pass
    a DaskOperator (``pynla.dask.aslinearoperator(A)``) to read the passes over A taken from its
    ``passes``.

    - **Tall A** (m >= n) whose Gram matrix costs fewer multiply-adds than the method's passes
      and its basis (``m n^2 / 2`` against ``(2 q + 2) m n l + 8 m L l``: n up to about 650
      with the defaults at k = 50; n at most 8192): the exact truncated SVD, in two passes. The first adds
      the blocks' ``A_i^H A_i`` (each in its task, by the core's Gram pass); the top k
      eigenvectors V0 of ``A^H A`` give ``Y = A V0`` in the second, and the Rayleigh-Ritz step
      of pynla.randomized_svd on Y gives U, s and V (where ``sigma_k >= sigma_1 / 1000``, as
      pynla.randomized_svd's own Gram path: values exact to rounding, vectors within about
      ``sigma_1 / (2 sigma_k)`` times a direct SVD's rounding; below, the method runs instead). ``options`` then change nothing, as for pynla.randomized_svd's exact path.
    - Otherwise: pynla.randomized_svd on the DaskOperator, ``2 q + 2`` passes (8 with the
      defaults for ``k < 0.1 min(m, n)``); ``options`` are pynla.randomized_svd's, and the
      same ``rng`` gives the one-machine answer up to the order of the blocks' sums. Its basis
      (m x about 4 (k + oversamples)) is built on the client. Where pynla.randomized_svd's
      cost model picks its own exact path (A with few rows for k), that is computed from A's
      product with the identity, which brings the whole of A to the client.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import pynla, pynla.dask
    >>> rng = np.random.default_rng(0)
    >>> M = (rng.standard_normal((4000, 30)) * 0.9 ** np.arange(30)) @ rng.standard_normal((30, 200))
    >>> A = pynla.dask.aslinearoperator(da.from_array(M, chunks=(1000, 200)))
    >>> U, s, Vh = pynla.dask.randomized_svd(A, 20, rng=1)  # from the Gram matrix: exact
    >>> bool(np.allclose(s, np.linalg.svd(M, compute_uv=False)[:20], rtol=1e-12)), A.passes
    (True, 2)
    >>> A = pynla.dask.aslinearoperator(da.from_array(M, chunks=(1000, 200)))
    >>> U, s, Vh = pynla.dask.randomized_svd(A, 5, rng=1)  # block Krylov
    >>> bool(np.allclose(s, np.linalg.svd(M, compute_uv=False)[:5], rtol=1e-12)), A.passes
    (True, 8)
    """
    operator = aslinearoperator(A)
    m, n = operator.shape
    k = one_machine.check_integer(k, "k", 1, min(m, n), bound="min(A.shape)")
    if m >= n and n <= _GRAM_MAX_ORDER and _gram_costs_less(m, n, k, options):
        answer = _from_gram(operator, k)
        if answer is not None:
            return answer
    return pynla.randomized_svd(operator, k, **options)


def _gram_costs_less(m, n, k, options):
    """Whether A^H A (m n^2 / 2 multiply-adds, syrk's) costs less than block Krylov's 2 q + 2
    products of width l and the orthonormalization of its basis of L columns (8 m L l), with
    pynla.randomized_svd's defaults where ``options`` set none."""
    l = min(k + one_machine._krylov_oversamples(k), n)
    q = options.get("n_power_iterations") or (one_machine.KRYLOV_ITERATIONS_LARGE_RANK
                                              if k >= one_machine.KRYLOV_LARGE_RANK * n else one_machine.KRYLOV_ITERATIONS)
    L = min((q + 1) * l, n)
    return m * n * n / 2 < (2 * q + 2) * m * n * l + 8 * m * L * l


def _from_gram(operator, k):
    """(U, s, Vh) from A^H A's top k eigenvectors, refined by the Rayleigh-Ritz step on A V0;
    None where sigma_k < sigma_1 / 1000 (their rounding would then exceed the method's)."""
    rows = operator._rows
    dtype = one_machine.dense_compute_dtype(rows.dtype, "A")
    n = rows.shape[1]
    operator.passes += 1
    G = summed([_gram_block(block, rows.sparse, dtype) for block in rows.blocks], part_entries=n * n)
    if not np.isfinite(G).all():
        return None  # NaN or infinity in A, or squares beyond the dtype: the method says which
    values, vectors = small_eigh(G)  # ascending
    if not values[-k] >= one_machine._GRAM_RITZ_MIN_RATIO * values[-1] > 0:
        return None
    V0 = np.ascontiguousarray(vectors[:, : -k - 1 : -1])
    Y = operator.matmat(V0)  # a pass
    # A V0 = Y: the top k triplets of A on V0's span are those of B = V0^H A^H, whose B^H is Y.
    U_of_adjoint, s, Vh_of_adjoint = one_machine._ritz(V0, Y, k, right_vectors=True)
    return np.ascontiguousarray(Vh_of_adjoint.conj().T), s, np.ascontiguousarray(U_of_adjoint.conj().T)


@dask.delayed(pure=True)
def _gram_block(block, sparse, dtype):
    A_i = block_values(block, sparse, "A")
    A_i = A_i.toarray() if sparse else A_i
    A_i = aligned(np.ascontiguousarray(A_i, dtype=dtype))
    return _core.tall_gram(A_i)
