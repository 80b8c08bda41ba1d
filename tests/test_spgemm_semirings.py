"""pynla.spgemm over semirings other than plus-times, against dense NumPy references.

The reference broadcasts over k: the products A[i, k] (x) B[k, j] of every stored pair (repeated
entries summed first), reduced by the semiring's addition; C must have an entry exactly where
some pair is stored, with the reduced value (min, max and or are exact in any order, and
plus_pair counts are integers, so values are compared exactly).
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from scipy.sparse.csgraph import shortest_path

import pynla
from tests.conftest import INDEX_DTYPES, bits, csr_copy, power_law_csr, random_csr
from tests.test_spgemm import SHAPES, shape_id

# How each semiring makes a product and reduces them, with the reduction's identity.
REFERENCES = {
    "min_plus": (np.add, np.min, np.inf),
    "max_plus": (np.add, np.max, -np.inf),
    "max_times": (np.multiply, np.max, -np.inf),
    "or_and": (np.logical_and, np.any, False),
    "plus_pair": (lambda a, b: np.ones(np.broadcast(a, b).shape), np.sum, 0.0),
}

# (semiring, dtype) pairs the kernel takes.
CASES = [(s, d) for s in ("min_plus", "max_plus", "max_times") for d in (np.float32, np.float64, np.int32)]
CASES += [("or_and", np.bool_), ("plus_pair", np.float64), ("plus_pair", np.bool_), ("plus_pair", np.complex128)]


def canonical(M):
    """CSR M with repeated entries summed (what an entry of a SciPy matrix means)."""
    M = csr_copy(M)
    M.sum_duplicates()
    return M


def reference(A, B, semiring):
    """(present, values): where C has entries, and their values (dense, n x m)."""
    A, B = canonical(A), canonical(B)
    stored_a = sp.csr_array((np.ones(A.nnz, dtype=bool), A.indices, A.indptr), shape=A.shape).toarray()
    stored_b = sp.csr_array((np.ones(B.nnz, dtype=bool), B.indices, B.indptr), shape=B.shape).toarray()
    multiply, reduce, identity = REFERENCES[semiring]
    pairs = stored_a[:, :, None] & stored_b[None, :, :]
    products = multiply(A.toarray()[:, :, None], B.toarray()[None, :, :])
    values = reduce(np.where(pairs, products, identity), axis=1) if pairs.size else np.zeros((A.shape[0], B.shape[1]))
    return pairs.any(axis=1), values


def assert_semiring_product(C, A, B, semiring):
    present, values = reference(A, B, semiring)
    got = np.zeros(C.shape, dtype=bool)
    rows = np.repeat(np.arange(C.shape[0]), np.diff(C.indptr))
    got[rows, C.indices] = True
    assert C.nnz == np.count_nonzero(present), "entries where no pair is stored, or missing ones"
    assert_array_equal(got, present)
    assert_array_equal(C.data, values[rows, C.indices].astype(C.dtype))


def random_of(rng, shape, density, dtype, **options):
    M = random_csr(rng, shape, density, np.float64, integer_valued=True, **options)
    if np.dtype(dtype) == np.bool_:
        M.data = rng.random(M.nnz) < 0.7  # some stored False: an edge that or_and's "and" makes false
    else:
        M.data = M.data.astype(dtype)
    return M


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize(("semiring", "dtype"), CASES, ids=lambda x: getattr(x, "__name__", x))
def test_matches_dense_reference(rng, semiring, dtype, index_dtype, shape):
    m, k, n, density = shape
    A = random_of(rng, (m, k), density, dtype, index_dtype=index_dtype)
    B = random_of(rng, (k, n), density, dtype, index_dtype=index_dtype)
    C = pynla.spgemm(A, B, semiring=semiring)
    expected_dtype = {"or_and": np.bool_, "plus_pair": np.float64}.get(semiring, np.dtype(dtype))
    assert C.dtype == expected_dtype
    assert C.has_sorted_indices
    assert_semiring_product(C, A, B, semiring)


@pytest.mark.parametrize("semiring", list(REFERENCES))
def test_unsorted_repeated_masked_and_wide(rng, semiring):
    """Unsorted and repeated entries, power-law rows (both accumulators), unsorted output, masks."""
    dtype = np.bool_ if semiring == "or_and" else np.float64
    A = random_of(rng, (300, 200), 0.03, dtype, unsorted=True, duplicates=True)
    B = power_law_csr(rng, (200, 400), integer_valued=True)
    if dtype == np.bool_:
        B.data = rng.random(B.nnz) < 0.7
    assert_semiring_product(pynla.spgemm(A, B, semiring=semiring), A, B, semiring)
    unsorted = pynla.spgemm(A, B, semiring=semiring, sort_indices=False)
    unsorted.sort_indices()
    assert_semiring_product(unsorted, A, B, semiring)
    mask = random_csr(rng, (300, 400), 0.2)
    masked = pynla.spgemm(A, B, semiring=semiring, mask=mask)
    present, _ = reference(A, B, semiring)
    inside = csr_copy(mask).toarray() != 0
    assert masked.nnz == np.count_nonzero(present & inside)
    full = pynla.spgemm(A, B, semiring=semiring)
    assert_array_equal(masked.toarray(), np.where(inside, full.toarray(), 0))


def test_same_bits_for_any_thread_count(rng, threads):
    A = power_law_csr(rng, (3000, 2000))
    B = power_law_csr(rng, (2000, 2500))
    for semiring in ("min_plus", "max_times", "plus_pair"):
        threads(1)
        one = pynla.spgemm(A, B, semiring=semiring)
        threads(2)
        two = pynla.spgemm(A, B, semiring=semiring)
        assert_array_equal(one.indices, two.indices)
        assert_array_equal(bits(one.data), bits(two.data))


def test_repeated_min_plus_squaring_gives_shortest_paths(rng):
    """Distances by min-plus squaring of the weight matrix with a zero diagonal (explicit zeros:
    a stored zero is a path of length 0) agree with SciPy's csgraph.shortest_path."""
    n = 60
    W = sp.random_array((n, n), density=0.06, format="coo", rng=rng)
    off_diagonal = W.row != W.col
    W = sp.coo_array((rng.uniform(1.0, 10.0, np.count_nonzero(off_diagonal)),
                      (W.row[off_diagonal], W.col[off_diagonal])), shape=(n, n))
    D = sp.csr_array((np.concatenate([W.data, np.zeros(n)]),
                      (np.concatenate([W.row, np.arange(n)]), np.concatenate([W.col, np.arange(n)]))), shape=(n, n))
    assert D.nnz == W.nnz + n  # the diagonal's stored zeros
    for _ in range(int(np.ceil(np.log2(n)))):
        D = pynla.spgemm(D, D, semiring="min_plus")
    expected = shortest_path(W, method="D", directed=True)
    reached = np.isfinite(expected)
    dense = np.full((n, n), np.inf)
    rows = np.repeat(np.arange(n), np.diff(D.indptr))
    dense[rows, D.indices] = D.data
    assert_array_equal(np.isfinite(dense), reached)
    np.testing.assert_allclose(dense[reached], expected[reached], rtol=1e-12)


def test_nan_products_are_ignored_by_min_and_max():
    A = sp.csr_array(np.array([[np.nan, 1.0]]))
    B = sp.csr_array(np.array([[2.0], [3.0]]))
    assert pynla.spgemm(A, B, semiring="min_plus").data.tolist() == [4.0]
    assert pynla.spgemm(A, B, semiring="max_times").data.tolist() == [3.0]


def test_bad_semirings_are_refused(rng):
    A = random_csr(rng, (10, 8), 0.4)
    with pytest.raises(ValueError, match="semiring must be one of 'plus_times', 'min_plus'"):
        pynla.spgemm(A, A.T, semiring="min_times")
    with pytest.raises(TypeError, match="'or_and' takes bool matrices"):
        pynla.spgemm(A, A.T, semiring="or_and")
    with pytest.raises(TypeError, match="'min_plus' takes real matrices"):
        pynla.spgemm(A.astype(np.complex128), A.T, semiring="min_plus")
    with pytest.raises(TypeError, match="'max_plus' takes real matrices"):
        pynla.spgemm(A.astype(bool), A.T.astype(bool), semiring="max_plus")
