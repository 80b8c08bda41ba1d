"""Block-sparse (BSR): pynla's BSR kernels against SciPy's calls on the same matrices (the
anchor, same class), and SciPy's CSR form where the issue compares with it ("scipy-csr").

Matrices are smaller versions of ``python -m pynla.bench block``: a pruned layer of 8 x 8
blocks (10000 x 10000, 2% of blocks) and a bundle-adjustment Jacobian of 2 x 3 blocks
(500 cameras, 20,000 points, 50,000 observations).
"""

import functools

import numpy as np
import scipy.sparse as sp

import pynla
from pynla.bench import block

from . import _timed

PRUNED = (1250, 0.02)
BUNDLE = (500, 20_000, 50_000)


@functools.lru_cache(maxsize=None)
def _pruned():
    A = block.pruned(False, PRUNED)
    rng = np.random.default_rng(block.SEED)
    return A, sp.csr_array(A), rng.standard_normal((A.shape[1], 64))


@functools.lru_cache(maxsize=None)
def _bundle():
    J = block.bundle(False, BUNDLE)
    return J, sp.csr_array(J), pynla.to_bsr(J.T, blocksize=(3, 2))


class _Timed(_timed.TimedCall):
    params = [["scipy", "scipy-csr", "pynla"], [1, 2]]

    def compare(self, expected, got):
        return block.compare(expected, got)


class PrunedTimesDense64(_Timed):
    def calls(self):
        A, A_csr, X = _pruned()
        return {"scipy": lambda: A @ X, "scipy-csr": lambda: A_csr @ X, "pynla": lambda: pynla.bsr_matmul(A, X)}


class PrunedTimesVector(_Timed):
    def calls(self):
        A, A_csr, X = _pruned()
        x = np.ascontiguousarray(X[:, 0])
        return {"scipy": lambda: A @ x, "scipy-csr": lambda: A_csr @ x, "pynla": lambda: pynla.bsr_matmul(A, x)}


class PrunedTransposeTimesDense64(_Timed):
    def calls(self):
        A, A_csr, X = _pruned()
        return {"scipy": lambda: A.T @ X, "scipy-csr": lambda: A_csr.T @ X,
                "pynla": lambda: pynla.bsr_matmul(A, X, transpose=True)}


class PrunedToBsr(_Timed):
    def calls(self):
        _, A_csr, _ = _pruned()
        return {"scipy": lambda: A_csr.tobsr(blocksize=(8, 8)), "pynla": lambda: pynla.to_bsr(A_csr, blocksize=(8, 8))}


class BundleNormalEquations(_Timed):
    """J^T J with J^T in 3 x 2 blocks and J in 2 x 3 blocks: BSR x BSR."""

    def calls(self):
        J, _, Jt = _bundle()
        return {"scipy": lambda: Jt @ J, "pynla": lambda: pynla.spgemm(Jt, J)}


class BundleTransposeTimesVector(_Timed):
    def calls(self):
        J, J_csr, _ = _bundle()
        y = np.linspace(-1.0, 1.0, J.shape[0])
        return {"scipy": lambda: J.T @ y, "scipy-csr": lambda: J_csr.T @ y,
                "pynla": lambda: pynla.bsr_matmul(J, y, transpose=True)}


class BundleAssembly(_Timed):
    def calls(self):
        blocks = block.bundle_blocks(False, BUNDLE)
        return {"scipy": lambda: block.scipy_assembly(*blocks), "pynla": lambda: pynla.bsr_from_blocks(*blocks)}
