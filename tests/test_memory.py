"""The block cache: large freed results are kept, reused for later results, and released."""

import numpy as np
import scipy.sparse as sp

import pynla
from pynla import _core
from tests.conftest import assert_same_product, scipy_product


def tridiagonal(n, values=(1.0, 2.0, 1.0)):
    return sp.diags_array(list(values), offsets=[-1, 0, 1], shape=(n, n), format="csr")


def test_freed_large_result_is_kept_and_released():
    pynla.release_cached_memory()
    C = pynla.spgemm(tridiagonal(500_000), tridiagonal(500_000))  # 30 MB of entries
    assert _core.cached_memory() == 0
    del C
    kept = _core.cached_memory()
    assert kept >= 30 * 2**20
    assert pynla.release_cached_memory() == kept
    assert _core.cached_memory() == 0


def test_small_results_are_not_kept():
    pynla.release_cached_memory()
    C = pynla.spgemm(tridiagonal(1000), tridiagonal(1000))
    del C
    assert _core.cached_memory() == 0


def test_kept_block_is_reused_and_its_old_contents_never_show():
    """A second product of the same size is written into the first one's kept blocks, and is
    exactly SciPy's: nothing of the first product's entries survives in it."""
    pynla.release_cached_memory()
    A = tridiagonal(400_000)
    first = pynla.spgemm(A, A)
    del first
    kept = _core.cached_memory()
    assert kept > 0
    B = tridiagonal(400_000, values=(-3.0, 0.5, 7.0))
    B.data[::7] = 0.0  # exact zeros: C has fewer entries than the block's old contents
    second = pynla.spgemm(B, B)
    assert _core.cached_memory() < kept  # taken for the second result
    assert_same_product(second, scipy_product(B, B))
    assert np.all(second.data != 0)
    del second
    pynla.release_cached_memory()
