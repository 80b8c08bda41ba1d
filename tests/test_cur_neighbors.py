"""CURNearestNeighbors against exact top-k of synthetic score matrices."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import pynla


class ScoreMatrix:
    """score(query, item_ids) = M[query, item_ids], counting every score it computes per query."""

    def __init__(self, M):
        self.M = M
        self.calls = np.zeros(M.shape[0], dtype=np.intp)

    def __call__(self, query, item_ids):
        assert item_ids.dtype == np.intp and len(np.unique(item_ids)) == len(item_ids)
        self.calls[query] += len(item_ids)
        return self.M[query, item_ids]


def low_rank_plus_noise(rng, n_queries, n_items, rank, noise):
    queries = rng.standard_normal((n_queries, rank))
    items = rng.standard_normal((n_items, rank))
    return queries @ items.T / np.sqrt(rank) + noise * rng.standard_normal((n_queries, n_items))


def recall(found, M, k):
    exact = np.argpartition(-M, k - 1, axis=1)[:, :k]
    return np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(found, exact)])


def test_recall_and_reported_calls():
    rng = np.random.default_rng(1)
    M = low_rank_plus_noise(rng, 400, 3000, rank=16, noise=0.1)
    score = ScoreMatrix(M)
    index = pynla.CURNearestNeighbors(score, 3000, n_anchor_items=50, n_rerank=100).fit(np.arange(100))
    assert index.n_fit_calls_ == 100 * 3000 == score.calls.sum()
    test_queries = np.arange(100, 400)
    result = index.kneighbors(test_queries, k=10)
    assert_array_equal(result.n_score_calls, score.calls[test_queries])
    assert (result.n_score_calls == 150).all()  # 5% of the items
    assert recall(result.ids, M[test_queries], 10) >= 0.99


def test_scores_are_exact_and_sorted():
    rng = np.random.default_rng(2)
    M = low_rank_plus_noise(rng, 120, 500, rank=5, noise=0.05)
    index = pynla.CURNearestNeighbors(ScoreMatrix(M), 500, n_anchor_items=20, n_rerank=30).fit(np.arange(60))
    result = index.kneighbors(np.arange(60, 120), k=7)
    assert result.ids.shape == result.scores.shape == (60, 7)
    assert_array_equal(result.scores, M[np.arange(60, 120)[:, None], result.ids])
    assert (np.diff(result.scores, axis=1) <= 0).all()
    assert all(len(np.unique(row)) == 7 for row in result.ids)


def test_exact_when_every_item_is_scored():
    rng = np.random.default_rng(3)
    M = rng.standard_normal((50, 80))  # no structure at all
    index = pynla.CURNearestNeighbors(ScoreMatrix(M), 80, n_anchor_items=10, n_rerank=1000).fit(np.arange(20))
    result = index.kneighbors(np.arange(20, 50), k=5)
    assert_array_equal(result.n_score_calls, 80)
    assert_array_equal(result.ids, np.argsort(-M[20:], axis=1, kind="stable")[:, :5])


def test_exact_on_exact_low_rank_scores():
    """Rank-4 scores: the anchors determine every score, so the estimates are exact and the top
    k comes out of the first k re-ranked items."""
    rng = np.random.default_rng(4)
    M = low_rank_plus_noise(rng, 200, 1000, rank=4, noise=0.0)
    index = pynla.CURNearestNeighbors(ScoreMatrix(M), 1000, n_anchor_items=8, n_rerank=10).fit(np.arange(30))
    result = index.kneighbors(np.arange(30, 200), k=10)
    assert recall(result.ids, M[30:], 10) == 1.0


def test_queries_of_any_kind():
    items = {"a": 1.0, "b": 3.0, "c": 2.0, "d": 0.0}
    names = sorted(items)

    def score(query, item_ids):
        return np.array([items[names[i]] * len(query) for i in item_ids])

    index = pynla.CURNearestNeighbors(score, 4, n_anchor_items=1, n_rerank=3).fit(["x", "yy"])
    result = index.kneighbors(["zzz"], k=2)
    assert_array_equal(result.ids, [[1, 2]])
    assert_array_equal(result.scores, [[9.0, 6.0]])


@pytest.mark.parametrize(
    "returned, message",
    [
        (lambda ids: np.ones(len(ids) + 1), "score returned shape"),
        (lambda ids: np.full(len(ids), np.nan), "score returned NaN"),
        (lambda ids: np.ones(len(ids)) * 1j, "score must return real"),
        (lambda ids: np.full(len(ids), "a"), "score must return real"),
    ],
)
def test_bad_scores(returned, message):
    index = pynla.CURNearestNeighbors(lambda query, ids: returned(ids), 30, n_anchor_items=3, n_rerank=5)
    with pytest.raises(ValueError, match=message):
        index.fit(range(5))


def test_bad_arguments():
    score = ScoreMatrix(np.ones((10, 30)))
    with pytest.raises(TypeError, match="score must be callable"):
        pynla.CURNearestNeighbors(None, 30)
    with pytest.raises(ValueError, match="n_items must be"):
        pynla.CURNearestNeighbors(score, 0)
    with pytest.raises(ValueError, match="n_anchor_items must satisfy"):
        pynla.CURNearestNeighbors(score, 30, n_anchor_items=31)
    with pytest.raises(ValueError, match="n_rerank must be"):
        pynla.CURNearestNeighbors(score, 30, n_anchor_items=3, n_rerank=-1)
    with pytest.raises(ValueError, match="rank must satisfy"):
        pynla.CURNearestNeighbors(score, 30, n_anchor_items=3, rank=4)
    with pytest.raises(ValueError, match="rtol must be"):
        pynla.CURNearestNeighbors(score, 30, n_anchor_items=3, rtol=-1.0)
    index = pynla.CURNearestNeighbors(score, 30, n_anchor_items=5, n_rerank=5)
    with pytest.raises(RuntimeError, match="fit"):
        index.kneighbors([0])
    with pytest.raises(ValueError, match="at least n_anchor_items"):
        index.fit(range(4))
    index.fit(range(5))
    with pytest.raises(ValueError, match="k must satisfy"):
        index.kneighbors([6], k=11)
