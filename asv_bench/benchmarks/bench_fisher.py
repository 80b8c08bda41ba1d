"""M-FAC: pynla.FisherInverse against SciPy's cho_factor/cho_solve Woodbury on m = 256 float32
gradients of dimension 10^5 (smaller than ``python -m pynla.bench mfac``'s m = 1024): set-up,
one product F^-1 x, 32 products at once, and a sliding-window update against a new set-up.
Answers are checked as the bench checks them (F^-1 x within 1e-3 of SciPy's).
"""

import functools

import numpy as np

import pynla
from pynla.bench import mfac

from . import _timed

M, D = 256, 100_000


@functools.lru_cache(maxsize=None)
def _gradients():
    return mfac.gradients(D, M)


@functools.lru_cache(maxsize=None)
def _vectors(n_vectors):
    return np.random.default_rng(mfac.SEED + 2).standard_normal((D, n_vectors)).astype(np.float32)


class FisherSetup(_timed.TimedCall):
    def compare(self, expected, got):
        return mfac._checked_by_probe(D)(expected, got)

    def calls(self):
        G = _gradients()
        return {"scipy": lambda: mfac._scipy_setup(G), "pynla": lambda: mfac._pynla_setup(G)}


class FisherProduct(_timed.TimedCall):
    params = [*_timed.TimedCall.params, [1, 32]]
    param_names = [*_timed.TimedCall.param_names, "vectors"]

    def setup(self, impl, threads, vectors):
        self.vectors = vectors
        super().setup(impl, threads)

    def compare(self, expected, got):
        return mfac._compare_arrays(expected, got)

    def calls(self):
        G, X = _gradients(), _vectors(self.vectors)
        X = X[:, 0].copy() if self.vectors == 1 else X
        scipy_apply, operator = mfac._scipy_setup(G), pynla.FisherInverse(G, mfac.DAMPING)
        return {"scipy": lambda: scipy_apply(X), "pynla": lambda: operator @ X}


class SlidingUpdate(_timed.TimedCall):
    """pynla's update of a full window (the leaving gradient comes back in) against SciPy's
    set-up from scratch on the window."""

    def compare(self, expected, got):
        return mfac._checked_by_probe(D)(expected, got)

    def calls(self):
        G = _gradients()
        window = pynla.SlidingFisherInverse(D, M, mfac.DAMPING)
        for g in G:
            window.update(g)

        def update():
            window.update(window.gradient(0))
            return lambda x: window @ x

        return {"scipy": lambda: mfac._scipy_setup(G), "pynla": update}
