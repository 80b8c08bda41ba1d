"""Sketching: pynla's sketches, least squares and randomized SVD against SciPy's calls (and
scikit-learn's randomized_svd where installed), on smaller versions of the inputs of
``python -m pynla.bench sketch``: a sparse 2e5 x 2e4 matrix with 2e5 nonzeros (and, for the
sums of wide rows, 2e5 x 2e5 with 2e5 nonzeros and 2e5 x 2^24 with 2e4; for a full sketch, 1e5 x
200 with 20 a row), a dense
50000 x 100 matrix, a 50000 x 100 least-squares problem (condition 1e6) and a 4000 x 1000
matrix with singular values 1/i (k = 50); and a sparse 50000 x 100 least-squares problem with
10 entries a row (against SciPy's lsqr).

Sketches are random: answers are checked as ``python -m pynla.bench`` checks them (shape,
kind and norm; least-squares solution; SVD residual).
"""

import functools

import numpy as np
import scipy.linalg as sl
import scipy.sparse as sp

import pynla
from pynla.bench import sketch

from . import _timed

SEED = sketch.SEED


@functools.lru_cache(maxsize=None)
def _sparse():
    return sp.random_array((200_000, 20_000), density=5e-5, format="csr", rng=np.random.default_rng(SEED))


@functools.lru_cache(maxsize=None)
def _sparse_of_width(width, nnz):
    """2e5 rows, ``nnz`` nonzeros at random (rows of S A wider than the cached accumulator)."""
    rng = np.random.default_rng(SEED)
    rows, columns = rng.integers(0, 200_000, nnz), rng.integers(0, width, nnz)
    return sp.csr_array((rng.standard_normal(nnz), (rows, columns)), shape=(200_000, width))


@functools.lru_cache(maxsize=None)
def _tall_sparse():
    return sketch.sparse_input(100_000, 200, 20)[0]


@functools.lru_cache(maxsize=None)
def _dense():
    return np.random.default_rng(SEED).standard_normal((50_000, 100))


@functools.lru_cache(maxsize=None)
def _least_squares():
    return sketch.least_squares_input(50_000, 100, 1e6)


@functools.lru_cache(maxsize=None)
def _sparse_least_squares():
    return sketch.sparse_least_squares_input(50_000, 100, 10)


@functools.lru_cache(maxsize=None)
def _low_rank():
    return sketch.known_spectrum_matrix(4_000, 1_000)


class _Timed(_timed.TimedCall):
    def compare(self, expected, got):
        return sketch.compare_sketch(expected, got)


def _countsketch_calls(A, size):
    return {"scipy": lambda: sl.clarkson_woodruff_transform(A, size, rng=SEED),
            "pynla": lambda: pynla.CountSketch(size, A.shape[0], rng=SEED) @ A}


class CountSketchSparse(_Timed):
    def calls(self):
        return _countsketch_calls(_sparse(), 500)


class CountSketchSparseRanked(_Timed):
    """2e5 columns, 2000 entries per row of S A: rows summed by rank."""

    def calls(self):
        return _countsketch_calls(_sparse_of_width(200_000, 200_000), 100)


class CountSketchSparseWidest(_Timed):
    """2^24 columns (the widest the kernel takes), 40 entries per row of S A: rows radix-sorted."""

    def calls(self):
        return _countsketch_calls(_sparse_of_width(1 << 24, 20_000), 500)


class CountSketchSparseTall(_Timed):
    """1e5 x 200 with 20 nonzeros a row to 1000 rows: S A is full (as least squares sketches a
    tall sparse A), summed in a dense S A, then compressed."""

    def calls(self):
        return _countsketch_calls(_tall_sparse(), 1000)


class CountSketchDense(_Timed):
    def calls(self):
        return _countsketch_calls(_dense(), 1000)


class SparseSignDense(_Timed):
    """No SciPy sibling: the anchor is CountSketch by SciPy, the same size of sketch."""

    def calls(self):
        A = _dense()
        return {"scipy": lambda: sl.clarkson_woodruff_transform(A, 1000, rng=SEED),
                "pynla": lambda: pynla.SparseSignSketch(1000, A.shape[0], rng=SEED) @ A}


class SrhtDense(_Timed):
    def calls(self):
        A = _dense()
        return {"scipy": lambda: sl.clarkson_woodruff_transform(A, 1000, rng=SEED),
                "pynla": lambda: pynla.SRHT(1000, A.shape[0], rng=SEED) @ A}


class LeastSquares(_Timed):
    def compare(self, expected, got):
        return sketch.compare_solution(expected, got)

    def calls(self):
        A, b = _least_squares()
        return {"scipy": lambda: sl.lstsq(A, b)[0], "pynla": lambda: pynla.sketched_lstsq(A, b, rng=SEED).x}


class LeastSquaresSmall(_Timed):
    """Small and nearly square problems (sketched_lstsq's direct path) and a tall one near the
    switch to sketching: ``python -m pynla.bench sketch``'s "lstsq small" shapes."""

    params = [*_Timed.params, [f"{n}x{d}" for n, d in sketch.SMALL_LEAST_SQUARES]]
    param_names = [*_Timed.param_names, "shape"]

    def setup(self, impl, threads, shape):
        self.shape = tuple(int(size) for size in shape.split("x"))
        super().setup(impl, threads)

    def compare(self, expected, got):
        return sketch.compare_solution(expected, got)

    def calls(self):
        A, b = sketch.least_squares_input(*self.shape, 1e3)
        return {"scipy": lambda: sl.lstsq(A, b)[0], "pynla": lambda: pynla.sketched_lstsq(A, b, rng=SEED).x}


class LeastSquaresSparse(_Timed):
    """A sparse 50000 x 100 problem with 10 entries a row: CGLS (sketched_lstsq's "auto" on
    sparse A) against SciPy's lsqr at gelsd's accuracy."""

    def compare(self, expected, got):
        return sketch.compare_solution(expected, got)

    def calls(self):
        A, b = _sparse_least_squares()
        return {"scipy": lambda: sketch.scipy_lsqr(A, b), "pynla": lambda: pynla.sketched_lstsq(A, b, rng=SEED).x}


class RandomizedSvd(_Timed):
    params = [["scipy", "sklearn", "pynla"], [1, 2]]

    def compare(self, expected, got):
        return sketch.compare_svd(_low_rank())(expected, got)

    def calls(self):
        A = _low_rank()
        calls = {"scipy": lambda: sketch.scipy_svds(A), "pynla": lambda: pynla.randomized_svd(A, sketch.RANK, rng=SEED)}
        if sketch.sklearn_missing() is None:
            calls["sklearn"] = lambda: sketch.sklearn_svd(A)
        return calls
