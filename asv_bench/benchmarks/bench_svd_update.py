"""Truncated-SVD updating: pynla.IncrementalSVD against recomputing with SciPy's ``svds`` on a
Zipf term-document matrix of 10000 x 5000 (smaller than ``python -m pynla.bench svd-update``'s
20000 x 10000), k = 64: each call appends 3 blocks of rows to a copy of the initial factors
("scipy": svds after each block). Blocks of 100 rows (every method) and of 2000 rows (gkl, rpi).
Answers are checked as the bench checks them: singular values within 1e-2 of the exact ones.
"""

import functools

import scipy.sparse as sp

from pynla.bench import svd_update

from . import _timed

M, N, N_BLOCKS = 10_000, 5_000, 3


@functools.lru_cache(maxsize=None)
def _inputs(block_rows):
    return svd_update._rows_inputs(M, N, block_rows, N_BLOCKS)


class RowUpdates(_timed.TimedCall):
    params = [*_timed.TimedCall.params, [100, 2000], ["exact", "gkl", "rpi"]]
    param_names = [*_timed.TimedCall.param_names, "block_rows", "method"]

    def setup(self, impl, threads, block_rows, method):
        if block_rows == 2000 and method == "exact":
            raise NotImplementedError("the exact method on 2000-row blocks is for the bench's --full")
        self.block_rows, self.method = block_rows, method
        super().setup(impl, threads)

    def compare(self, expected, got):
        A, blocks, _ = _inputs(self.block_rows)
        final = functools.cache(lambda: sp.vstack([A, *blocks]).tocsr())
        return svd_update._error_compare(final, against_exact=True)(expected, got)

    def calls(self):
        A, blocks, factors = _inputs(self.block_rows)
        return {"scipy": svd_update._recompute(A, blocks),
                "pynla": svd_update._pynla_rows(factors, blocks, self.method)}
