"""pynla.spgemm_aat and spgemm_ata against SciPy's ``A @ A.T`` and ``A.T @ A``, whole and upper."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

import pynla
from tests.conftest import (
    INDEX_DTYPES,
    KERNEL_DTYPES,
    SCIPY_PATH_DTYPES,
    assert_canonical,
    assert_kind,
    assert_same_product,
    bits,
    csr_copy,
    power_law_csr,
    random_csr,
    scipy_product,
)

SHAPES = [(0, 4), (4, 0), (1, 1), (300, 3), (3, 300), (40, 30)]


def upper_of(C):
    """The upper triangle (column >= row) of canonical CSR C, as C's kind and index dtype."""
    T = sp.csr_array(sp.triu(C, format="csr"))
    T.sort_indices()
    return type(C)((T.data, T.indices.astype(C.indices.dtype), T.indptr.astype(C.indptr.dtype)), shape=C.shape)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_aat_matches_scipy_bit_for_bit(rng, dtype, index_dtype, shape):
    A = random_csr(rng, shape, 0.3, dtype, index_dtype=index_dtype)
    expected = scipy_product(A, sp.csr_array(csr_copy(A).T))
    C = pynla.spgemm_aat(A)
    assert_kind(C, A)
    assert_same_product(C, expected)
    assert_same_product(pynla.spgemm_aat(A, upper=True), upper_of(expected))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_ata_matches_scipy(rng, dtype, shape):
    A = random_csr(rng, shape, 0.3, dtype)
    expected = (A.T @ A).toarray()
    C = pynla.spgemm_ata(A)
    assert C.shape == (shape[1], shape[1])
    assert_canonical(C)
    tolerance = 1e-5 if dtype in (np.float32, np.complex64) else 1e-12
    assert_allclose(C.toarray(), expected, rtol=tolerance, atol=tolerance)
    # The same bits as pynla's product of the transpose, made by SciPy.
    transposed = sp.csr_array(csr_copy(A).T)
    assert_same_product(C, scipy_product(transposed, sp.csr_array(csr_copy(A))))
    upper = pynla.spgemm_ata(A, upper=True)
    assert_array_equal(upper.toarray(), np.triu(C.toarray()))


def test_structures_and_unsorted_output(rng):
    """Power-law rows (both accumulators), unsorted and repeated indices, unsorted output."""
    A = power_law_csr(rng, (500, 800), unsorted=True, duplicates=True)
    expected = scipy_product(A, sp.csr_array(csr_copy(A).T))
    assert_same_product(pynla.spgemm_aat(A), expected)
    assert_same_product(pynla.spgemm_aat(A, upper=True, sort_indices=False), upper_of(expected), sort_indices=False)


def test_aat_of_sorted_rows_is_exactly_symmetric(rng):
    A = power_law_csr(rng, (400, 300))
    C = pynla.spgemm_aat(A)
    assert_array_equal(bits(C.toarray()), bits(C.T.toarray()))


def test_upper_triangle_is_half_the_entries(rng):
    A = random_csr(rng, (200, 100), 0.05)
    whole, upper = pynla.spgemm_aat(A), pynla.spgemm_aat(A, upper=True)
    diagonal = np.count_nonzero(whole.diagonal())
    assert upper.nnz == (whole.nnz - diagonal) // 2 + diagonal


@pytest.mark.parametrize("dtype", SCIPY_PATH_DTYPES)
def test_other_dtypes_give_scipys_answer(rng, dtype):
    A = random_csr(rng, (20, 15), 0.3, dtype)
    for function, expected in ((pynla.spgemm_aat, A @ A.T), (pynla.spgemm_ata, A.T @ A)):
        C = function(A)
        assert C.dtype == expected.dtype
        assert_array_equal(C.toarray(), expected.toarray())
        assert_array_equal(function(A, upper=True).toarray(), np.triu(expected.toarray()))


def test_same_bits_for_any_thread_count(rng, threads):
    A = power_law_csr(rng, (3000, 2000))
    threads(1)
    one = pynla.spgemm_aat(A, upper=True)
    threads(2)
    two = pynla.spgemm_aat(A, upper=True)
    assert_array_equal(one.indices, two.indices)
    assert_array_equal(bits(one.data), bits(two.data))


def test_bad_input_is_refused(rng):
    with pytest.raises(TypeError, match="A must be a SciPy sparse"):
        pynla.spgemm_aat(np.ones((3, 3)))
    broken = random_csr(rng, (10, 8), 0.4)
    broken.indices = broken.indices.copy()
    broken.indices[0] = 99
    with pytest.raises(ValueError, match="A"):
        pynla.spgemm_ata(broken)
