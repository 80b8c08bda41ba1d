"""pynla.spgemm with a mask: the entries of SciPy's ``A @ B`` at (or, with complement, outside)
the structure of the mask, bit for bit.

The reference is SciPy's product of the same CSR arrays (``scipy_product``), its entries kept or
dropped by a dense map of the mask's structure.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal

import pynla
from tests.conftest import (
    FORMATS,
    INDEX_DTYPES,
    KERNEL_DTYPES,
    SCIPY_PATH_DTYPES,
    assert_kind,
    assert_reaches_both_paths,
    assert_same_product,
    bits,
    csr_copy,
    power_law_csr,
    random_csr,
    scipy_product,
)
from tests.test_spgemm import SHAPES, shape_id


def masked_reference(A, B, mask, complement=False):
    """SciPy's A @ B (canonical) with only the entries at the mask's structure (or outside it)."""
    C = scipy_product(A, B)
    structure = csr_copy(mask)
    structure.data = np.ones(structure.nnz)
    inside = structure.toarray() != 0  # duplicates sum to at least one: still inside
    rows = np.repeat(np.arange(C.shape[0]), np.diff(C.indptr))
    keep = inside[rows, C.indices] != complement
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=C.shape[0]))]).astype(C.indptr.dtype)
    return type(C)((C.data[keep], C.indices[keep], indptr), shape=C.shape)


@pytest.mark.parametrize("complement", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_matches_scipy(rng, dtype, index_dtype, shape, complement):
    m, k, n, density = shape
    A = random_csr(rng, (m, k), density, dtype, index_dtype=index_dtype)
    B = random_csr(rng, (k, n), density, dtype, index_dtype=index_dtype)
    mask = random_csr(rng, (m, n), 0.3, index_dtype=index_dtype)
    C = pynla.spgemm(A, B, mask=mask, complement=complement)
    assert_kind(C, A)
    assert_same_product(C, masked_reference(A, B, mask, complement))


@pytest.mark.parametrize("complement", [False, True])
def test_structures(rng, complement):
    """Power-law rows (window and hash accumulators), unsorted and repeated indices in A, B and
    the mask, integer values (sums that cancel are dropped, as SciPy drops them), unsorted output."""
    A = power_law_csr(rng, (500, 300), integer_valued=True, unsorted=True, duplicates=True)
    B = power_law_csr(rng, (300, 100_000), integer_valued=True, unsorted=True)  # wide: light rows hash
    mask = power_law_csr(rng, (500, 100_000), unsorted=True, duplicates=True)
    assert_reaches_both_paths(A, B)
    expected = masked_reference(A, B, mask, complement)
    assert_same_product(pynla.spgemm(A, B, mask=mask, complement=complement), expected)
    assert_same_product(pynla.spgemm(A, B, mask=mask, complement=complement, sort_indices=False), expected,
                        sort_indices=False)


def test_empty_full_and_dense_masks(rng):
    A = random_csr(rng, (40, 30), 0.2)
    B = random_csr(rng, (30, 50), 0.2)
    full = sp.csr_array(np.ones((40, 50)))
    empty = sp.csr_array((40, 50))
    assert_same_product(pynla.spgemm(A, B, mask=full), scipy_product(A, B))  # denser than the product
    assert pynla.spgemm(A, B, mask=empty).nnz == 0
    assert_same_product(pynla.spgemm(A, B, mask=empty, complement=True), scipy_product(A, B))
    assert pynla.spgemm(A, B, mask=full, complement=True).nnz == 0


def test_explicit_zeros_in_the_mask_count(rng):
    A = random_csr(rng, (20, 15), 0.4)
    B = random_csr(rng, (15, 25), 0.4)
    mask = random_csr(rng, (20, 25), 0.3)
    zeroed = mask.copy()
    zeroed.data[:] = 0.0  # structure kept, values zero
    assert_same_product(pynla.spgemm(A, B, mask=zeroed), masked_reference(A, B, mask))


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_mask_formats(rng, fmt):
    A = random_csr(rng, (20, 15), 0.4)
    B = random_csr(rng, (15, 25), 0.4)
    mask = random_csr(rng, (20, 25), 0.3)
    got = pynla.spgemm(A, B, mask=FORMATS[fmt](mask))
    assert_same_product(got, masked_reference(A, B, mask))


def test_bsr_inputs_give_csr(rng):
    A = sp.bsr_array(random_csr(rng, (20, 16), 0.3), blocksize=(2, 2))
    B = sp.bsr_array(random_csr(rng, (16, 24), 0.3), blocksize=(2, 2))
    mask = random_csr(rng, (20, 24), 0.3)
    C = pynla.spgemm(A, B, mask=mask)
    assert C.format == "csr"
    assert_same_product(C, masked_reference(A, B, mask))


@pytest.mark.parametrize("inner", [15, 0], ids=["15", "empty-product"])
@pytest.mark.parametrize("dtype", SCIPY_PATH_DTYPES)
def test_other_dtypes_give_scipys_answer(rng, dtype, inner):
    A = random_csr(rng, (20, inner), 0.3, dtype)
    B = random_csr(rng, (inner, 25), 0.3, dtype)
    mask = random_csr(rng, (20, 25), 0.3)
    for complement in (False, True):
        C = pynla.spgemm(A, B, mask=mask, complement=complement)
        expected = masked_reference(A, B, mask, complement)
        assert C.dtype == expected.dtype
        assert_array_equal(C.toarray(), expected.toarray())
        assert C.nnz == expected.nnz


def test_same_bits_for_any_thread_count(rng, threads):
    A = power_law_csr(rng, (3000, 2000))
    B = power_law_csr(rng, (2000, 2500))
    mask = power_law_csr(rng, (3000, 2500))
    threads(1)
    one = pynla.spgemm(A, B, mask=mask)
    threads(2)
    two = pynla.spgemm(A, B, mask=mask)
    assert_array_equal(one.indices, two.indices)
    assert_array_equal(bits(one.data), bits(two.data))
    assert_same_product(two, masked_reference(A, B, mask))


def test_triangle_count(rng):
    """Triangles of an undirected graph: the sum of L @ L masked by L, L its strict lower triangle."""
    upper = sp.triu(random_csr(rng, (120, 120), 0.08), 1)
    adjacency = ((upper + upper.T) != 0).astype(np.float64)
    L = sp.tril(adjacency, -1, format="csr")
    dense = adjacency.toarray()
    triangles = np.trace(dense @ dense @ dense) / 6
    assert triangles > 10
    assert pynla.spgemm(L, L, mask=L).sum() == triangles


def test_bad_masks_are_refused(rng):
    A = random_csr(rng, (20, 15), 0.4)
    B = random_csr(rng, (15, 25), 0.4)
    with pytest.raises(ValueError, match="mask has shape"):
        pynla.spgemm(A, B, mask=random_csr(rng, (20, 24), 0.3))
    with pytest.raises(TypeError, match="mask must be a SciPy sparse"):
        pynla.spgemm(A, B, mask=np.ones((20, 25)))
    with pytest.raises(ValueError, match="complement=True needs a mask"):
        pynla.spgemm(A, B, complement=True)
    broken = random_csr(rng, (20, 25), 0.3)
    broken.indices = broken.indices.copy()
    broken.indices[0] = 99
    with pytest.raises(ValueError, match="mask"):
        pynla.spgemm(A, B, mask=broken)
