"""Nearest neighbours under an expensive score function, from a CUR model of the score matrix.

Offline, a set of anchor queries is scored exactly against every item: the rows R of the
query x item score matrix. Anchor items are the columns of R picked by pivoting. A new query
is scored exactly against the anchor items only (a row c of the matrix restricted to them);
``c U R``, with U the truncated pseudo-inverse of R's columns at the anchor items, estimates its
scores against every item; the best estimates are scored exactly and the best exact scores
returned. This is ANNCUR (Yadav, Monath, Angell, Zaheer, McCallum: "Efficient nearest neighbor
search for cross-encoder models using matrix factorization", EMNLP 2022), with the anchor items
chosen by LU with partial pivoting on R instead of at random.
"""

from collections import namedtuple

import numpy as np

from pynla._validation import check_integer
from pynla.cur import _check_rtol, _pivots, _truncated_pinv

__all__ = ["CURNearestNeighbors", "NeighborsResult"]

#: Queries whose estimated scores are held at once (rows of a chunk x n_items array).
QUERY_CHUNK = 256

#: What :meth:`CURNearestNeighbors.kneighbors` returns: ``ids`` and ``scores`` of shape
#: (n_queries, k), best first, and ``n_score_calls``, the exact scores computed per query.
NeighborsResult = namedtuple("NeighborsResult", ["ids", "scores", "n_score_calls"])


class CURNearestNeighbors:
    """The k items of highest score for a query, with few calls of an expensive score function.

    Parameters
    ----------
    score : callable
        ``score(query, item_ids)`` returns the real scores of ``query`` against the items
        ``item_ids`` (a 1-D intp array) as a 1-D array of the same length; higher is better.
        A query is whatever :meth:`fit` and :meth:`kneighbors` are given.
    n_items : int
        N, the number of items; item ids are ``0 .. N - 1``.
    n_anchor_items : int, optional
        How many items every query is scored against before any estimate (default 100).
    n_rerank : int, optional
        How many of the best estimated items are then scored exactly (default 400). A query
        costs ``n_anchor_items + n_rerank`` exact scores (fewer if N is smaller).
    rank : int, optional
        The rank of the core (default n_anchor_items): lower ranks filter noise in the anchor
        scores.
    rtol : float, optional
        Singular values of the anchor intersection below rtol times the largest are dropped
        (default: its dimension times float64's epsilon).

    Attributes
    ----------
    anchor_items_ : ndarray of intp
        The anchor items, in the order they were picked.
    anchor_scores_ : ndarray, shape (n_anchor_queries, N)
        The exact scores of the anchor queries against all items.
    n_fit_calls_ : int
        The exact scores :meth:`fit` computed.

    Examples
    --------
    Items and queries with 8 latent features; 60 exact scores per query out of 2000 items:

    >>> import numpy as np
    >>> from pynla import CURNearestNeighbors
    >>> rng = np.random.default_rng(0)
    >>> items = rng.standard_normal((2000, 8))
    >>> queries = rng.standard_normal((300, 8))
    >>> def score(query, item_ids):
    ...     return items[item_ids] @ query
    >>> index = CURNearestNeighbors(score, 2000, n_anchor_items=20, n_rerank=40).fit(queries[:100])
    >>> result = index.kneighbors(queries[100:], k=5)
    >>> result.ids.shape, int(result.n_score_calls.max())
    ((200, 5), 60)
    >>> exact = np.argsort(-(queries[100:] @ items.T), axis=1)[:, :5]
    >>> bool((np.sort(result.ids, axis=1) == np.sort(exact, axis=1)).all())
    True
    """

    def __init__(self, score, n_items, *, n_anchor_items=100, n_rerank=400, rank=None, rtol=None):
        if not callable(score):
            raise TypeError(f"score must be callable, got {type(score).__name__}")
        self.score = score
        self.n_items = check_integer(n_items, "n_items", 1)
        self.n_anchor_items = check_integer(n_anchor_items, "n_anchor_items", 1, self.n_items, bound="n_items")
        self.n_rerank = check_integer(n_rerank, "n_rerank", 0)
        self.rank = self.n_anchor_items if rank is None else check_integer(
            rank, "rank", 1, self.n_anchor_items, bound="n_anchor_items")
        self.rtol = _check_rtol(rtol)

    def fit(self, queries):
        """Scores each of ``queries`` (the anchor queries, at least n_anchor_items of them)
        against all items, and picks the anchor items. Returns self."""
        n_queries = len(queries)
        if n_queries < self.n_anchor_items:
            raise ValueError(f"queries must hold at least n_anchor_items = {self.n_anchor_items} queries, "
                             f"got {n_queries}")
        all_items = np.arange(self.n_items, dtype=np.intp)
        self.anchor_scores_ = np.stack([self._scores(query, all_items) for query in queries])
        self.n_fit_calls_ = self.anchor_scores_.size
        self.anchor_items_ = _pivots(self.anchor_scores_.T, self.n_anchor_items, "lupp")
        core = _truncated_pinv(self.anchor_scores_[:, self.anchor_items_], self.rank, self.rtol)
        self._estimator = core @ self.anchor_scores_  # estimates = (anchor-item scores) @ this
        return self

    def kneighbors(self, queries, k=10):
        """The k items of highest exact score among the anchors and the re-ranked estimates.

        Parameters
        ----------
        queries : sequence
            The queries, each passed to ``score`` as is.
        k : int, optional
            How many items to return per query (default 10), at most
            ``n_anchor_items + n_rerank``.

        Returns
        -------
        NeighborsResult
            ``ids`` (intp) and ``scores`` of shape (len(queries), k), highest score first;
            ``n_score_calls`` (len(queries),), the exact scores computed per query.
        """
        if not hasattr(self, "_estimator"):
            raise RuntimeError("call fit before kneighbors")
        n_rerank = min(self.n_rerank, self.n_items - self.n_anchor_items)
        k = check_integer(k, "k", 1, self.n_anchor_items + n_rerank, bound="n_anchor_items + n_rerank")
        n_queries = len(queries)
        ids = np.empty((n_queries, k), dtype=np.intp)
        scores = np.empty((n_queries, k))
        calls = np.zeros(n_queries, dtype=np.intp)
        for start in range(0, n_queries, QUERY_CHUNK):
            chunk = range(start, min(start + QUERY_CHUNK, n_queries))
            anchor = np.stack([self._scores(queries[i], self.anchor_items_) for i in chunk])
            estimates = anchor @ self._estimator
            estimates[:, self.anchor_items_] = -np.inf  # scored exactly already
            candidates = np.argpartition(estimates, -n_rerank, axis=1)[:, -n_rerank:] if n_rerank else \
                np.empty((len(chunk), 0), dtype=np.intp)
            for row, i in enumerate(chunk):
                found = np.concatenate([self.anchor_items_, candidates[row]])
                exact = np.concatenate([anchor[row], self._scores(queries[i], candidates[row])])
                best = _top(exact, k)
                ids[i], scores[i], calls[i] = found[best], exact[best], len(exact)
        return NeighborsResult(ids, scores, calls)

    def _scores(self, query, item_ids):
        values = np.asarray(self.score(query, item_ids.copy()))
        if values.shape != item_ids.shape:
            raise ValueError(f"score returned shape {values.shape} for {len(item_ids)} items, "
                             f"expected {item_ids.shape}")
        if values.dtype.kind not in "biuf":
            raise ValueError(f"score must return real numbers, got dtype {values.dtype}")
        values = values.astype(np.float64)
        if not np.isfinite(values).all():
            raise ValueError("score returned NaN or infinity")
        return values


def _top(values, k):
    """The positions of the k largest values, largest first."""
    if k < len(values):
        part = np.argpartition(values, -k)[-k:]
        return part[np.argsort(-values[part], kind="stable")]
    return np.argsort(-values, kind="stable")
