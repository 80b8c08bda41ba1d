"""Small inputs: the cases of ``python -m pynla.bench small`` (the square of 2-D Laplacians of
25 to 10000 rows, a small BSR matrix times a vector and times 8 columns, CountSketch of a
small dense and a small sparse matrix, CUR of a 300 x 300 matrix, and a loop that alternates
a NumPy matmul with a sparse product of 900 or 250000 rows), each against its SciPy anchor.
Only pynla runs with 2 threads; there, the thread rule (threads from the work, one while the
cores are found taken) decides how many it uses.
"""

import numpy as np
import scipy.linalg as sl
import scipy.sparse as sp

import pynla
from pynla.bench import cur, small
from pynla.bench.block import compare as compare_block
from pynla.bench.sketch import compare_sketch
from pynla.bench.spgemm import compare as compare_product

from . import _timed


class LaplacianSquare(_timed.TimedCall):
    params = [*_timed.TimedCall.params, [25, 100, 900, 10_000]]
    param_names = [*_timed.TimedCall.param_names, "rows"]

    def setup(self, impl, threads, rows):
        self.A = small.laplacian(rows)
        super().setup(impl, threads)

    def compare(self, expected, got):
        return compare_product(expected, got)

    def calls(self):
        A = self.A
        return {"scipy": lambda: A @ A, "pynla": lambda: pynla.spgemm(A, A)}


class SmallBsrProduct(_timed.TimedCall):
    params = [*_timed.TimedCall.params, [1, 8]]
    param_names = [*_timed.TimedCall.param_names, "columns"]

    def setup(self, impl, threads, columns):
        self.A = small.banded_bsr()
        shape = (self.A.shape[1], columns) if columns > 1 else (self.A.shape[1],)
        self.X = np.random.default_rng(small.SEED).standard_normal(shape)
        super().setup(impl, threads)

    def compare(self, expected, got):
        return compare_block(expected, got)

    def calls(self):
        A, X = self.A, self.X
        return {"scipy": lambda: A @ X, "pynla": lambda: pynla.bsr_matmul(A, X)}


class SmallCountSketch(_timed.TimedCall):
    params = [*_timed.TimedCall.params, ["dense 2000x40 -> 50", "sparse 20000x500 -> 200"]]
    param_names = [*_timed.TimedCall.param_names, "matrix"]

    def setup(self, impl, threads, matrix):
        rng = np.random.default_rng(small.SEED)
        if matrix.startswith("dense"):
            self.A, self.size = rng.standard_normal((2000, 40)), 50
        else:
            self.A, self.size = sp.random_array((20_000, 500), density=0.005, format="csr", rng=rng), 200
        super().setup(impl, threads)

    def compare(self, expected, got):
        return compare_sketch(expected, got)

    def calls(self):
        A, size = self.A, self.size
        return {"scipy": lambda: sl.clarkson_woodruff_transform(A, size, rng=small.SEED),
                "pynla": lambda: pynla.CountSketch(size, A.shape[0], rng=small.SEED) @ A}


class SmallCur(_timed.TimedCall):
    """CUR of a 300 x 300 matrix (singular values 1/i) at k = 20, against SciPy's ID at rank 40."""

    def setup(self, impl, threads):
        self.A = cur.known_spectrum_matrix(*small.CUR_SHAPE)
        super().setup(impl, threads)

    def compare(self, expected, got):
        return cur.compare_cur(self.A, small.CUR_RANK, 2 * small.CUR_RANK)(expected, got)

    def calls(self):
        A = self.A
        return {"scipy": lambda: cur.interp_decomp(A, 2 * small.CUR_RANK),
                "pynla": lambda: cur._pynla_cur(A, small.CUR_RANK)}


class NumpyMatmulThenProduct(_timed.TimedCall):
    """A 200 x 200 NumPy matmul, then the square of a Laplacian (900 rows: one thread by the work
    rule; 250000 rows: two, beside NumPy's BLAS threads), ten times or three."""

    params = [*_timed.TimedCall.params, [900, 250_000]]
    param_names = [*_timed.TimedCall.param_names, "rows"]

    def setup(self, impl, threads, rows):
        self.M = np.random.default_rng(small.SEED).standard_normal((200, 200))
        self.A = small.laplacian(rows)
        self.iterations = 10 if rows < 10_000 else 3
        super().setup(impl, threads)

    def compare(self, expected, got):
        return compare_product(expected, got)

    def calls(self):
        M, A, iterations = self.M, self.A, self.iterations

        def loop(product):
            def run():
                for _ in range(iterations):
                    M @ M
                    C = product(A)
                return C

            return run

        return {"scipy": loop(lambda A: A @ A), "pynla": loop(lambda A: pynla.spgemm(A, A))}
