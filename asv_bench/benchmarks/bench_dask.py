"""pynla.dask on Dask's synchronous scheduler (no cluster, so asv's timings stay steady): the
cost of the row-block front end over pynla on the whole array, for least squares on 200000 x 50
in 8 blocks, CountSketch of a sparse 200000 x 2000 matrix to 500 rows, and A @ A of the R-MAT
graph of scale 14 in 8 blocks. The anchor (under "scipy", as in every TimedCall) is pynla on
the whole array; ``python -m pynla.bench dask`` measures the same calls on local clusters.
Skipped (asv's NotImplementedError) when Dask is not installed."""

import functools
import importlib.util

import numpy as np
import scipy.sparse as sp

import pynla
from pynla.bench.matrices import rmat_square

from . import _timed

_ROWS_PER_BLOCK = 25_000


@functools.lru_cache(maxsize=None)
def _problem(case):
    rng = np.random.default_rng(20_261_207)
    if case == "lstsq 200000x50":
        A = rng.standard_normal((200_000, 50))
        return A, A @ rng.standard_normal(50)
    if case == "countsketch 200000x2000":
        return (sp.random_array((200_000, 2000), density=0.005, format="csr", rng=rng),)
    A = rmat_square(14)
    return (A,)


class DaskFrontEnd(_timed.TimedCall):
    params = [*_timed.TimedCall.params, ["lstsq 200000x50", "countsketch 200000x2000", "spgemm rmat14"]]
    param_names = [*_timed.TimedCall.param_names, "case"]

    def setup(self, impl, threads, case):
        if importlib.util.find_spec("dask") is None:
            raise NotImplementedError("Dask is not installed")
        import dask

        dask.config.set(scheduler="synchronous")
        self.case = case
        super().setup(impl, threads)

    def calls(self):
        import dask.array as da

        import pynla.dask

        inputs = _problem(self.case)
        if self.case.startswith("lstsq"):
            A, b = inputs
            A_d = da.from_array(A, chunks=(_ROWS_PER_BLOCK, A.shape[1]))
            return {"scipy": lambda: pynla.sketched_lstsq(A, b).x, "pynla": lambda: pynla.dask.sketched_lstsq(A_d, b).x}
        (A,) = inputs
        A_d = pynla.dask.from_sparse(A, _ROWS_PER_BLOCK if self.case.startswith("countsketch") else A.shape[0] // 8)
        if self.case.startswith("countsketch"):
            S = pynla.CountSketch(500, A.shape[0], rng=0)
            return {"scipy": lambda: S @ A, "pynla": lambda: pynla.dask.sketch(S, A_d)}
        return {"scipy": lambda: pynla.spgemm(A, A), "pynla": lambda: pynla.dask.spgemm(A_d, A).compute()}

    def compare(self, expected, got):
        difference = abs(got - expected).max() / abs(expected).max()
        return (None if difference <= 1e-12 else f"relative difference {difference:.1e}"), None
