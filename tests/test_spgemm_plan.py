"""pynla.spgemm_plan: the pattern of A @ B found once, the values recomputed into it.

A plan's result has the pattern of the product of A's and B's patterns (every entry some product
reaches, the reference being SciPy's product of all-ones matrices of those patterns); its values
are SciPy's ``A @ B``'s bit for bit, and exactly zero at the entries SciPy drops.
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
    assert_canonical,
    assert_kind,
    assert_same_product,
    bits,
    csr_copy,
    csr_from_row_lengths,
    power_law_csr,
    random_csr,
    random_values,
    scipy_product,
    with_index_dtype,
    with_strided_arrays,
)
from tests.test_spgemm import SHAPES, shape_id


def pattern_product(A, B):
    """The pattern of A @ B's products: SciPy's product of all-ones copies (sums of ones never cancel)."""
    a, b = csr_copy(A), csr_copy(B)
    a.data, b.data = np.ones(a.nnz), np.ones(b.nnz)
    return scipy_product(a, b)


def assert_plan_result(C, A, B):
    """C has the plan's pattern, SciPy's values (bit for bit) and zeros where SciPy has no entry."""
    assert_canonical(C)
    pattern = pattern_product(A, B)
    assert_array_equal(C.indptr, pattern.indptr, err_msg="indptr is not the pattern's")
    assert_array_equal(C.indices, pattern.indices, err_msg="indices are not the pattern's")
    assert C.indices.dtype == pattern.indices.dtype and C.indptr.dtype == pattern.indptr.dtype
    kept = csr_copy(C)
    kept.eliminate_zeros()
    kept.sort_indices()
    expected = scipy_product(A, B)
    kept = type(expected)((kept.data, kept.indices.astype(expected.indices.dtype),
                           kept.indptr.astype(expected.indptr.dtype)), shape=kept.shape)
    assert_same_product(kept, expected)


def new_values(rng, M, dtype=None, **options):
    """M with fresh random values in its pattern (a copy; dtype kept unless given)."""
    M = M.copy()
    M.data = random_values(rng, len(M.data), dtype or M.dtype, **options)
    return M


# ---------------------------------------------------------------------------------------------
# Values and patterns


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_matches_scipy(rng, dtype, index_dtype, shape):
    m, k, n, density = shape
    A = random_csr(rng, (m, k), density, dtype, index_dtype=index_dtype)
    B = random_csr(rng, (k, n), density, dtype, index_dtype=index_dtype)
    plan = pynla.spgemm_plan(A, B)
    assert plan.shape == (m, n)
    C = plan(A, B)
    assert_kind(C, A)
    assert_plan_result(C, A, B)
    assert plan.nnz == C.nnz and plan.index_dtype == C.indices.dtype


@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
def test_cancelled_entries_stay_as_zeros(rng, dtype):
    A = random_csr(rng, (60, 30), 0.3, dtype, integer_valued=True)
    B = random_csr(rng, (30, 50), 0.3, dtype, integer_valued=True)
    C = pynla.spgemm_plan(A, B)(A, B)
    assert_plan_result(C, A, B)
    assert np.count_nonzero(C.data == 0) > 0, "no entry cancelled: the test lost its point"


@pytest.mark.parametrize("inner", [15, 0], ids=["15", "empty-product"])
@pytest.mark.parametrize("dtype", SCIPY_PATH_DTYPES)
def test_other_dtypes_give_scipys_values(rng, dtype, inner):
    A = random_csr(rng, (20, inner), 0.3, dtype)
    B = random_csr(rng, (inner, 25), 0.3, dtype)
    C = pynla.spgemm_plan(A, B)(A, B)
    expected = A @ B
    assert C.dtype == expected.dtype
    assert_array_equal(C.toarray(), expected.toarray())
    pattern = pattern_product(A, B)
    assert_array_equal(C.indices, pattern.indices)
    assert_array_equal(C.indptr, pattern.indptr)


@pytest.mark.parametrize(("a_dtype", "b_dtype"), [(np.float32, np.complex128), (np.int64, np.float32),
                                                  (np.float32, np.float64)])
def test_mixed_dtypes_promote(rng, a_dtype, b_dtype):
    A = random_csr(rng, (20, 15), 0.3, a_dtype)
    B = random_csr(rng, (15, 25), 0.3, b_dtype)
    C = pynla.spgemm_plan(A, B)(A, B)
    assert C.dtype == np.result_type(a_dtype, b_dtype)
    assert_plan_result(C, A, B)


@pytest.mark.parametrize(
    "structure",
    ["power_law", "empty_and_dense_rows", "unsorted_duplicates"],
)
def test_structures(rng, structure):
    if structure == "power_law":
        A = power_law_csr(rng, (400, 300), integer_valued=True)
        B = power_law_csr(rng, (300, 500), integer_valued=True)
    elif structure == "empty_and_dense_rows":
        lengths = np.zeros(50, dtype=np.int64)
        lengths[::7] = 40
        lengths[3] = 60  # a dense row of A
        A = csr_from_row_lengths(rng, lengths, 60)
        B = random_csr(rng, (60, 45), 0.2)
    else:
        A = random_csr(rng, (40, 30), 0.3, unsorted=True, duplicates=True, integer_valued=True)
        B = random_csr(rng, (30, 35), 0.3, unsorted=True, duplicates=True, integer_valued=True)
    C = pynla.spgemm_plan(A, B)(A, B)
    assert_plan_result(C, A, B)


def test_rows_wider_than_the_window(rng):
    """Rows spanning more than 2**20 columns find their places by binary search."""
    n = 2**20 + 50
    B = sp.csr_array((rng.standard_normal(6), np.array([0, n - 1, 5, n - 2, 3, 2**19]), np.array([0, 2, 4, 6])),
                     shape=(3, n))
    A = random_csr(rng, (20, 3), 0.6)
    C = pynla.spgemm_plan(A, B)(A, B)
    assert_plan_result(C, A, B)


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("kind", ["sparray", "spmatrix"])
def test_formats(rng, fmt, kind):
    A0, B0 = random_csr(rng, (12, 8), 0.3), random_csr(rng, (8, 10), 0.3)
    A, B = (FORMATS[fmt](M if kind == "sparray" else sp.csr_matrix(M)) for M in (A0, B0))
    plan = pynla.spgemm_plan(A, B)
    C = plan(A, B)
    assert_kind(C, A)
    assert_plan_result(C, A0, B0)
    A2 = new_values(rng, A0)  # new values, in the format of the plan's A
    A2 = FORMATS[fmt](A2 if kind == "sparray" else sp.csr_matrix(A2))
    assert_plan_result(plan(A2, B), csr_copy(A2), B0)


def test_int64_and_strided_inputs(rng):
    A = with_index_dtype(random_csr(rng, (30, 20), 0.3), np.int64)
    B = random_csr(rng, (20, 25), 0.3)
    plan = pynla.spgemm_plan(A, B)
    assert plan.index_dtype == np.int64
    assert_plan_result(plan(A, B), A, B)
    A32 = with_index_dtype(A.copy(), np.int32)  # the same pattern in other index arrays
    strided = with_strided_arrays(csr_copy(A32))
    assert_plan_result(plan(strided, B), A, B)  # the plan keeps its own (int64) index dtype


# ---------------------------------------------------------------------------------------------
# Reuse, out, threads


def test_reused_100_times_gives_fresh_bits(rng):
    A = power_law_csr(rng, (300, 200))
    B = random_csr(rng, (200, 250), 0.05)
    plan = pynla.spgemm_plan(A, B)
    C = plan(A, B)
    for step in range(100):
        A, B = new_values(rng, A), new_values(rng, B)
        got = plan(A, B, out=C) if step % 2 else plan(A, B)
        if step % 2:
            assert got is C
        fresh = pynla.spgemm(A, B)
        kept = got.copy()
        kept.eliminate_zeros()
        assert_array_equal(kept.indices, fresh.indices)
        assert_array_equal(bits(kept.data), bits(fresh.data))


def test_same_bits_for_any_thread_count(rng, threads):
    A = power_law_csr(rng, (3000, 2000))
    B = power_law_csr(rng, (2000, 2500))
    plan = pynla.spgemm_plan(A, B)
    threads(1)
    one = plan(A, B)
    threads(2)
    two = plan(A, B)
    assert_array_equal(bits(one.data), bits(two.data))
    assert_plan_result(two, A, B)


def test_results_do_not_share_the_plans_pattern(rng):
    A = random_csr(rng, (30, 20), 0.3, integer_valued=True)
    plan = pynla.spgemm_plan(A, A.T)
    C = plan(A, A.T)
    C.eliminate_zeros()  # changes C's index arrays in place
    C.indices[:] = 0
    assert_plan_result(plan(A, A.T), A, sp.csr_array(A.T))


def test_callers_arrays_changed_after_the_plan(rng):
    A = random_csr(rng, (30, 20), 0.3)
    B = random_csr(rng, (20, 25), 0.3)
    plan = pynla.spgemm_plan(A, B)
    A.indices[[0, 1]] = A.indices[[1, 0]] if A.indices[0] != A.indices[1] else (A.indices[0] + 1) % 20
    with pytest.raises(ValueError, match="A's pattern"):
        plan(A, B)


# ---------------------------------------------------------------------------------------------
# Bad input


def test_pattern_mismatch_is_refused(rng):
    A = random_csr(rng, (30, 20), 0.3)
    B = random_csr(rng, (20, 25), 0.3)
    plan = pynla.spgemm_plan(A, B)
    denser = random_csr(rng, (30, 20), 0.5)
    with pytest.raises(ValueError, match="A's pattern"):
        plan(denser, B)
    moved = A.copy()
    moved.indices = (moved.indices + 1) % 20  # as many entries, other columns
    moved.has_sorted_indices = False
    with pytest.raises(ValueError, match="A's pattern"):
        plan(moved, B)
    with pytest.raises(ValueError, match="B's pattern"):
        plan(A, random_csr(rng, (20, 25), 0.1))
    with pytest.raises(ValueError, match="A has shape"):
        plan(random_csr(rng, (31, 20), 0.3), B)
    with pytest.raises(TypeError, match="B must be a SciPy sparse"):
        plan(A, B.toarray())


def test_out_is_checked(rng):
    A = random_csr(rng, (30, 20), 0.3)
    B = random_csr(rng, (20, 25), 0.3)
    plan = pynla.spgemm_plan(A, B)
    C = plan(A, B)
    with pytest.raises(TypeError, match="out must be a CSR"):
        plan(A, B, out=C.tocsc())
    with pytest.raises(ValueError, match="dtype"):
        plan(A, B, out=C.astype(np.float32))
    other = C.copy()
    other.indices = other.indices.copy()
    other.indices[[0, -1]] = other.indices[[-1, 0]]
    with pytest.raises(ValueError, match="out's pattern"):
        plan(A, B, out=other)
    D = sp.diags_array(rng.standard_normal(20), format="csr")  # D @ D has D's pattern
    square = pynla.spgemm_plan(D, D)
    aliased = sp.csr_array((D.data, D.indices.copy(), D.indptr.copy()), shape=D.shape)
    with pytest.raises(ValueError, match="shares memory"):
        square(D, D, out=aliased)


def test_bad_plans_are_refused(rng):
    A = random_csr(rng, (30, 20), 0.3)
    with pytest.raises(ValueError, match="dimension mismatch"):
        pynla.spgemm_plan(A, A)
    with pytest.raises(TypeError, match="A must be a SciPy sparse"):
        pynla.spgemm_plan(A.toarray(), A.T)
    broken = A.copy()
    broken.indices = broken.indices.copy()
    broken.indices[0] = 99
    with pytest.raises(ValueError, match="A"):
        pynla.spgemm_plan(broken, A.T)
