"""Tall-skinny QR and least squares: pynla.qr against scipy.linalg.qr (economic), and
pynla.sketched_lstsq against scipy.linalg.lstsq (gelsd), on Gaussian matrices of 100000 x 100
and 20000 x 20 (QR) or 100000 x 50 and 20000 x 20 (least squares), and of 200000 x 200 graded
to condition 1e6; smaller and fewer than ``python -m pynla.bench tall --full``'s grids, checked
as it checks them (QR: orthogonality 1e-13, residual 1e-14; least squares: gelsd's answer to
1e-10, 1e-8 at condition 1e6).
"""

import functools

from pynla.bench import tall

from . import _timed


@functools.lru_cache(maxsize=None)
def _case(shape):
    m, n, cond = shape
    return tall._qr_case(m, n, cond)


@functools.lru_cache(maxsize=None)
def _lstsq_case(shape):
    m, n, cond = shape
    return tall._lstsq_case(m, n, cond, peers=False)


class TallQR(_timed.TimedCall):
    params = [*_timed.TimedCall.params, [(100_000, 100, 1.0), (20_000, 20, 1.0), (200_000, 200, 1e6)]]
    param_names = [*_timed.TimedCall.param_names, "shape"]

    def setup(self, impl, threads, shape):
        self.shape = shape
        (self.A,) = _case(shape).setup()
        super().setup(impl, threads)

    def compare(self, expected, got):
        return _case(self.shape).compare(expected, got)

    def calls(self):
        A = self.A
        return {"scipy": lambda: tall._scipy_qr(A), "pynla": lambda: tall._pynla_qr(A)}


class TallLstsq(_timed.TimedCall):
    params = [*_timed.TimedCall.params, [(100_000, 50, 1.0), (20_000, 20, 1.0), (200_000, 200, 1e6)]]
    param_names = [*_timed.TimedCall.param_names, "shape"]

    def setup(self, impl, threads, shape):
        self.shape = shape
        self.A, self.b = _lstsq_case(shape).setup()
        super().setup(impl, threads)

    def compare(self, expected, got):
        return _lstsq_case(self.shape).compare(expected, got)

    def calls(self):
        A, b = self.A, self.b
        return {"scipy": lambda: tall._scipy_lstsq(A, b), "pynla": lambda: tall._pynla_lstsq(A, b)}
