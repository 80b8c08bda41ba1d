"""Block-sparse (BSR) cases: products with dense matrices, BSR x BSR, conversion and assembly.

Matrices
--------
pruned      20000 x 20000, 8 x 8 blocks, 2% of blocks present (8M values): a pruned layer.
            The default run uses the issue's size; ``--full`` uses 40000 x 40000 (1% of blocks).
bundle      a bundle-adjustment Jacobian J: each observation of a point by a camera is a row of
            2 x 3 blocks (three for the 9 camera parameters, one for the 3 point coordinates).
            Default 1000 cameras, 40,000 points, 200,000 observations; ``--full`` 2,000 cameras,
            100,000 points, 1,000,000 observations.

Implementations
---------------
scipy       the anchor: SciPy's own call on the BSR matrix (``A @ X``, ``A.T @ X``,
            ``A.tobsr(blocksize)``, ``J.T @ J`` on BSR, COO assembly then ``tobsr``), 1 thread.
scipy-csr   the same product on SciPy's CSR form of A (converted untimed): divide pynla's
            ratio by this row's to get pynla's ratio against SciPy's CSR.
pynla       pynla's call (``bsr_matmul``, ``spgemm``, ``to_bsr``, ``bsr_from_blocks``), 2 threads
            and 1 thread.
"""

import numpy as np
import scipy.sparse as sp

from pynla.bench.timing import Case, Implementation

THREADS = 2
SEED = 20_240_613


# ---------------------------------------------------------------------------------------------
# Matrices


def pruned(full, size=None):
    """A square BSR matrix of random 8 x 8 blocks (positions uniform at random); ``size`` =
    (block rows, density) overrides the suite's."""
    rng = np.random.default_rng(SEED)
    n_blocks, density = size or ((5000, 0.01) if full else (2500, 0.02))
    mask = sp.random_array((n_blocks, n_blocks), density=density, rng=rng, format="csr")
    data = rng.standard_normal((mask.nnz, 8, 8))
    return sp.bsr_array((data, mask.indices, mask.indptr), shape=(8 * n_blocks, 8 * n_blocks))


def bundle_blocks(full, size=None):
    """The blocks of a bundle-adjustment Jacobian: (block rows, block columns, 2 x 3 blocks,
    shape); ``size`` = (cameras, points, observations) overrides the suite's."""
    rng = np.random.default_rng(SEED + 1)
    n_cameras, n_points, n_observations = size or ((2000, 100_000, 1_000_000) if full else (1000, 40_000, 200_000))
    cameras = rng.integers(0, n_cameras, n_observations)
    points = rng.integers(0, n_points, n_observations)
    observation = np.arange(n_observations)
    # Block columns: camera c owns 3c, 3c+1, 3c+2; point p owns 3 n_cameras + p.
    block_rows = np.repeat(observation, 4)
    block_cols = np.stack([3 * cameras, 3 * cameras + 1, 3 * cameras + 2, 3 * n_cameras + points], axis=1).ravel()
    blocks = rng.standard_normal((4 * n_observations, 2, 3))
    shape = (2 * n_observations, 9 * n_cameras + 3 * n_points)
    return block_rows, block_cols, blocks, shape


def bundle(full, size=None):
    import pynla

    return pynla.bsr_from_blocks(*bundle_blocks(full, size))


# ---------------------------------------------------------------------------------------------
# Checking and sizing


def compare(expected, got, explicit_zeros=False, rtol=1e-10):
    if sp.issparse(expected):
        if not sp.issparse(got) or got.shape != expected.shape:
            return f"got {type(got).__name__} {getattr(got, 'shape', '')}, expected {expected.shape}", None
        difference = abs(sp.csr_array(got) - sp.csr_array(expected)).max() if expected.nnz else 0.0
        scale = abs(expected).max() if expected.nnz else 0.0
    else:
        got = np.asarray(got)
        if got.shape != expected.shape:
            return f"shape {got.shape}, expected {expected.shape}", None
        difference = float(np.abs(got - expected).max()) if expected.size else 0.0
        scale = float(np.abs(expected).max()) if expected.size else 0.0
    if not difference <= rtol * scale:
        return f"max abs diff {difference:.3g} > {rtol:g} * {scale:.3g}", None
    return None, None


def nbytes(answer):
    if sp.issparse(answer):
        return sum(np.asarray(a).nbytes for a in (answer.data, answer.indices, answer.indptr))
    return np.asarray(answer).nbytes


def describe(inputs, expected):
    A = inputs[0]
    if not sp.issparse(A):  # assembly: (block rows, block columns, blocks, shape)
        return {"blocks_listed": int(len(A)), "blocksize": list(inputs[2].shape[1:]), "shape": list(inputs[3])}
    facts = {"shape_A": list(A.shape), "nnz_A": int(A.nnz)}
    if A.format == "bsr":
        facts["blocksize"] = list(A.blocksize)
    if len(inputs) > 1 and isinstance(inputs[1], np.ndarray):
        columns = inputs[1].shape[1] if inputs[1].ndim == 2 else 1
        facts["flops"] = 2 * int(A.nnz) * columns
    return facts


# ---------------------------------------------------------------------------------------------
# Implementations


def _pynla_threads(n):
    def activate():
        import pynla

        pynla.set_num_threads(n)

    return activate


def _pynla(call, **options):
    def run(*args):
        import pynla

        return getattr(pynla, call)(*args, **options)

    return run


def _pynla_implementations(call, **options):
    return (
        Implementation("pynla", _pynla(call, **options), threads=THREADS, activate=_pynla_threads(THREADS), memory=True),
        Implementation("pynla", _pynla(call, **options), threads=1, activate=_pynla_threads(1), memory=True),
    )


def _as_csr(A, *rest):
    return (sp.csr_array(A), *rest)


def _case(name, setup, scipy_call, pynla_call, *, csr_peer=None, **options):
    implementations = _pynla_implementations(pynla_call, **options)
    if csr_peer is not None:
        implementations = (Implementation("scipy-csr", csr_peer, threads=1, prepare=_as_csr),) + implementations
    return Case(name=name, setup=setup, anchor=Implementation("scipy", scipy_call, threads=1, memory=True),
                implementations=implementations, compare=compare, nbytes=nbytes, describe=describe)


def _with_dense(build, columns, transpose=False):
    def setup():
        A = build()
        rng = np.random.default_rng(SEED + 2)
        rows = A.shape[0] if transpose else A.shape[1]
        return A, rng.standard_normal((rows, columns) if columns > 1 else rows)

    return setup


def _product(A, X):
    return A @ X


def _transpose_product(A, X):
    return A.T @ X


def _to_bsr_8(A):
    return A.tobsr(blocksize=(8, 8))


def scipy_assembly(block_rows, block_cols, blocks, shape):
    """SciPy's way to assemble from blocks: expand to COO entries, then ``tobsr``."""
    _, r, c = blocks.shape
    rows = (np.asarray(block_rows)[:, None, None] * r + np.arange(r)[None, :, None]).repeat(c, axis=2)
    cols = (np.asarray(block_cols)[:, None, None] * c + np.arange(c)[None, None, :]).repeat(r, axis=1)
    return sp.coo_array((blocks.ravel(), (rows.ravel(), cols.ravel())), shape=shape).tobsr(blocksize=(r, c))


def _normal_matrix_inputs(full):
    def setup():
        import pynla

        J = bundle(full)
        return pynla.to_bsr(J.T, blocksize=(3, 2)), J  # J^T in 3 x 2 blocks, built untimed

    return setup


def cases(full=False):
    """The BSR suite: the issue's 20000 x 20000 8 x 8 case and a bundle-adjustment Jacobian."""
    size = "40k" if full else "20k"
    # Two matrix-vector cases in --full only: the default run's time goes to the other capabilities.
    vector_cases = [
        _case(f"pruned-{size}-8x8 A@x", _with_dense(lambda: pruned(full), 1), _product, "bsr_matmul",
              csr_peer=_product),
        _case("bundle-J 2x3 J^T@y", _with_dense(lambda: bundle(full), 1, transpose=True), _transpose_product,
              "bsr_matmul", csr_peer=_transpose_product, transpose=True),
    ] if full else []
    return vector_cases + [
        _case(f"pruned-{size}-8x8 A@X64", _with_dense(lambda: pruned(full), 64), _product, "bsr_matmul",
              csr_peer=_product),
        _case(f"pruned-{size}-8x8 A^T@X64", _with_dense(lambda: pruned(full), 64, transpose=True),
              _transpose_product, "bsr_matmul", csr_peer=_transpose_product, transpose=True),
        _case(f"pruned-{size}-8x8 to_bsr", lambda: (sp.csr_array(pruned(full)),), _to_bsr_8, "to_bsr",
              blocksize=(8, 8)),
        _case("bundle-J 2x3 J@x", _with_dense(lambda: bundle(full), 1), _product, "bsr_matmul", csr_peer=_product),
        _case("bundle-J 2x3 J^T J", _normal_matrix_inputs(full), _product, "spgemm"),
        _case("bundle-J 2x3 assembly", lambda: bundle_blocks(full), scipy_assembly, "bsr_from_blocks"),
    ]
