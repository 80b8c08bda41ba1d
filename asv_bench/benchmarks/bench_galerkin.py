"""Galerkin products: ``pynla.ptap(A, P)`` against SciPy's ``P.T @ A @ P``, on the first level
of a smoothed-aggregation hierarchy (``python -m pynla.bench galerkin``'s cases, smaller): a
2-D Poisson matrix (CSR; also at 96 x 96, as ``python -m pynla.bench small`` has it) and 2-D elasticity (BSR, 2 x 2 blocks; P 2 x 3). Checked as the bench
checks them (SciPy's entries, values within 1e-12 of its largest).
"""

import functools

import pynla
from pynla.bench import galerkin
from pynla.bench.spgemm import compare

from . import _timed

SETUPS = {
    "poisson2d-96x96": lambda: galerkin.first_level_poisson(96),  # a coarse level's size
    "poisson2d-300x300": lambda: galerkin.first_level_poisson(300),
    "elasticity2d-149x149-bsr": lambda: galerkin.first_level_elasticity(149),
}


@functools.lru_cache(maxsize=None)
def _inputs(matrix):
    return SETUPS[matrix]()


class Ptap(_timed.TimedCall):
    params = [list(SETUPS), ["scipy", "pynla"], [1, 2]]
    param_names = ["matrix", "impl", "threads"]

    def setup(self, matrix, impl, threads):
        self.matrix = matrix
        super().setup(impl, threads)

    def compare(self, expected, got):
        return compare(expected, got)

    def calls(self):
        A, P = _inputs(self.matrix)
        return {"scipy": lambda: P.T @ A @ P, "pynla": lambda: pynla.ptap(A, P)}

    def time_call(self, matrix, impl, threads):
        super().time_call(impl, threads)

    def track_ratio(self, matrix, impl, threads):
        return super().track_ratio(impl, threads)

    track_ratio.unit = "SciPy P.T @ A @ P time / time"
