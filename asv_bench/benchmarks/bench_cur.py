"""CUR: pynla.cur against SciPy's interpolative decomposition (rank 2k) on a 500 x 5000 matrix
with singular values 1/i (k = 50), and CURNearestNeighbors against exact scoring of all 20000
items for 200 queries; smaller versions of the cases of ``python -m pynla.bench cur``, checked
as it checks them (error within 1.5x of the optimal rank-k error; recall@10 >= 0.995).
"""

import functools

import numpy as np

import pynla
from pynla.bench import cur

from . import _timed

N_QUERIES = 200


@functools.lru_cache(maxsize=None)
def _matrix():
    return cur.known_spectrum_matrix(500, 5_000)


@functools.lru_cache(maxsize=None)
def _neighbours():
    score = cur.EmbeddingScores(cur.N_ANCHOR_QUERIES + N_QUERIES)
    queries = np.arange(cur.N_ANCHOR_QUERIES, cur.N_ANCHOR_QUERIES + N_QUERIES)
    return score, cur.fitted_index(score), queries


class CurDense(_timed.TimedCall):
    def compare(self, expected, got):
        return cur.compare_cur(_matrix())(expected, got)

    def calls(self):
        A = _matrix()
        return {"scipy": lambda: cur.interp_decomp(A), "pynla": lambda: pynla.cur(A, cur.RANK, rng=cur.SEED)}


class CurNeighbours(_timed.TimedCall):
    def compare(self, expected, got):
        return cur.compare_neighbours(expected, got)

    def calls(self):
        score, index, queries = _neighbours()
        return {"scipy": lambda: cur.exact_top(score, queries),
                "pynla": lambda: index.kneighbors(queries, k=cur.NEIGHBOURS)}
