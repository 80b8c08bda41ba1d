"""The core's transpose of checked CSR parts (``_validation.transposed_parts``, used by the
Galerkin and symmetric products) against SciPy's conversion to CSC: the same arrays, entry for
entry (SciPy's order within each row of the transpose, repeated entries kept), for every thread
count, dtype, index dtype, shape and structure."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal

from pynla._validation import as_csr_array, csr_parts, transposed_parts
from tests.conftest import (
    INDEX_DTYPES,
    KERNEL_DTYPES,
    bits,
    csr_from_row_lengths,
    power_law_csr,
    random_csr,
    with_index_dtype,
    with_strided_arrays,
)


def assert_scipys_transpose(M):
    parts = csr_parts(M, "A")
    expected = as_csr_array(parts).tocsc()
    got = transposed_parts(parts)
    assert got.shape == M.shape[::-1] and got.rows_sorted
    assert_array_equal(got.indptr, expected.indptr)
    assert_array_equal(got.indices, expected.indices)
    assert got.data.dtype == expected.data.dtype
    assert_array_equal(bits(got.data), bits(expected.data))
    return got


@pytest.mark.parametrize("n_threads", [1, 2, 4])
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_matches_scipy(rng, threads, n_threads, dtype, index_dtype):
    threads(n_threads)
    for shape in [(0, 3), (3, 0), (1, 1), (300, 2), (2, 300), (40, 30)]:
        assert_scipys_transpose(with_index_dtype(random_csr(rng, shape, 0.3, dtype), index_dtype))


@pytest.mark.parametrize("n_threads", [1, 3])
def test_structures(rng, threads, n_threads):
    """Empty and dense rows, power-law rows, unsorted rows and repeated columns."""
    threads(n_threads)
    assert_scipys_transpose(csr_from_row_lengths(rng, [0, 50, 0, 0, 3, 50, 1, 0], 50))
    assert_scipys_transpose(power_law_csr(rng, (500, 400)))
    assert_scipys_transpose(random_csr(rng, (200, 150), 0.1, unsorted=True))
    assert_scipys_transpose(random_csr(rng, (200, 150), 0.1, unsorted=True, duplicates=True))


def test_same_bits_for_any_thread_count(rng, threads):
    M = power_law_csr(rng, (2000, 1500), np.complex128, unsorted=True, duplicates=True)
    results = []
    for n_threads in (1, 2, 3):
        threads(n_threads)
        results.append(assert_scipys_transpose(M))
    for got in results[1:]:
        assert_array_equal(got.indices, results[0].indices)
        assert_array_equal(bits(got.data), bits(results[0].data))


def test_mixed_index_dtypes_and_strided_arrays(rng):
    M = random_csr(rng, (60, 70), 0.2)
    M.indptr = M.indptr.astype(np.int64)  # indices stay int32
    assert_scipys_transpose(M)
    assert_scipys_transpose(with_strided_arrays(random_csr(rng, (60, 70), 0.2)))


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.dtype(">f8")], ids=str)
def test_other_dtypes_take_scipys_conversion(rng, dtype):
    M = random_csr(rng, (50, 40), 0.2)
    assert_scipys_transpose(sp.csr_array((M.data.astype(dtype), M.indices, M.indptr), shape=M.shape))
