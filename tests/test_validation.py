"""pynla.spgemm on bad input: clear exceptions naming the argument, never a crash."""

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import aslinearoperator

import pynla
from tests.conftest import INDEX_DTYPES, with_index_dtype

OTHER = {"A": "B", "B": "A"}


def good_operands(dtype=np.float64, index_dtype=np.int32):
    """A (3 x 4) and B (4 x 2), both well formed, 5 stored entries each."""
    A = sp.csr_array((np.arange(1, 6, dtype=dtype), np.array([0, 2, 1, 0, 3]), np.array([0, 2, 3, 5])), shape=(3, 4))
    B = sp.csr_array((np.arange(1, 6, dtype=dtype), np.array([0, 1, 1, 0, 1]), np.array([0, 2, 3, 4, 5])), shape=(4, 2))
    return with_index_dtype(A, index_dtype), with_index_dtype(B, index_dtype)


def assert_names(error, name):
    """The message names ``name`` ("A" or "B") and not the other argument."""
    message = str(error.value)
    assert re.search(rf"\b{name}\b", message), f"message does not name {name}: {message!r}"
    assert not re.search(rf"\b{OTHER[name]}\b", message), f"message names {OTHER[name]} too: {message!r}"


def call_with(which, M, dtype=np.float64, index_dtype=np.int32, **options):
    A, B = good_operands(dtype, index_dtype)
    return pynla.spgemm(M, B, **options) if which == "A" else pynla.spgemm(A, M, **options)


# ---------------------------------------------------------------------------------------------
# Shapes


@pytest.mark.parametrize("a_shape, b_shape", [((4, 3), (2, 5)), ((1, 0), (1, 1)), ((0, 7), (6, 0)), ((3, 3), (4, 3))])
def test_dimension_mismatch_has_scipys_message(a_shape, b_shape):
    A, B = sp.csr_array(a_shape), sp.csr_array(b_shape)
    with pytest.raises(ValueError) as scipy_error:
        A @ B
    with pytest.raises(ValueError) as error:
        pynla.spgemm(A, B)
    assert str(error.value) == str(scipy_error.value)
    k_a, k_b = a_shape[1], b_shape[0]
    assert str(error.value) == f"matmul: dimension mismatch with signature (n,k={k_a}),(k={k_b},m)->(n,m)"


def test_dimension_mismatch_exact_wording():
    with pytest.raises(ValueError, match=re.escape("matmul: dimension mismatch with signature (n,k=3),(k=2,m)->(n,m)")):
        pynla.spgemm(sp.csr_matrix((5, 3)), sp.coo_array((2, 4)))


@pytest.mark.parametrize("which", ["A", "B"])
def test_one_dimensional_sparse_is_rejected_where_matrices_are_needed(which):
    """(pynla.spgemm takes 1-D sparse arrays as SciPy's ``@`` does: tests/test_spgemm.py.)"""
    vector = sp.coo_array(np.array([1.0, 0.0, 2.0]))
    square = sp.csr_array(np.eye(3))
    with pytest.raises(ValueError, match="2-D") as error:
        pynla.spgemm_plan(vector, square) if which == "A" else pynla.spgemm_plan(square, vector)
    assert_names(error, which)


# ---------------------------------------------------------------------------------------------
# Types


def numpy_matrix(array):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # np.matrix is discouraged, still met
        return np.asmatrix(array)


NOT_SPARSE = {
    "ndarray": lambda: np.eye(3),
    "np.matrix": lambda: numpy_matrix(np.eye(3)),
    "LinearOperator": lambda: aslinearoperator(sp.csr_array(np.eye(3))),
    "list": lambda: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    "None": lambda: None,
    "scalar": lambda: 2.0,
}


@pytest.mark.parametrize("which", ["A", "B"])
@pytest.mark.parametrize("kind", list(NOT_SPARSE))
def test_not_sparse_is_a_type_error(which, kind):
    square = sp.csr_array(np.eye(3))
    other = NOT_SPARSE[kind]()
    with pytest.raises(TypeError) as error:
        pynla.spgemm(other, square) if which == "A" else pynla.spgemm(square, other)
    assert_names(error, which)


# ---------------------------------------------------------------------------------------------
# Malformed CSR structure: A is 3 x 4, B is 4 x 2, each with indptr of length 4 or 5 and
# 5 stored entries. Each case breaks one rule of the format.


def set_indptr(values):
    def breaks(M):
        M.indptr = np.array(values, dtype=M.indptr.dtype)

    return breaks


def set_index(position, value):
    def breaks(M):
        indices = M.indices.astype(np.int64) if abs(value) > 2**31 - 1 else M.indices.copy()
        indices[position] = value
        M.indices = indices

    return breaks


def column_equal_to_n_cols(M):
    indices = M.indices.copy()
    indices[1] = M.shape[1]
    M.indices = indices


def drop_last(attribute):
    def breaks(M):
        setattr(M, attribute, getattr(M, attribute)[:-1].copy())

    return breaks


def reshape_2d(attribute):
    def breaks(M):
        setattr(M, attribute, getattr(M, attribute).reshape(-1, 1))

    return breaks


def float_indices(M):
    M.indices = M.indices.astype(np.float64)


def last_row_offsets(M):  # indptr of the right length with one row pointing past the end
    indptr = M.indptr.copy()
    indptr[-2] = 7
    M.indptr = indptr


MALFORMED = {
    "indptr decreasing": lambda M: set_indptr([0, 3, 2] + [5] * (len(M.indptr) - 3))(M),
    "indptr negative inside": lambda M: set_indptr([0, -1] + [5] * (len(M.indptr) - 2))(M),
    "indptr[0] not 0": lambda M: set_indptr([1] + list(M.indptr[1:]))(M),
    "indptr[-1] beyond len(indices)": lambda M: set_indptr(list(M.indptr[:-1]) + [6])(M),
    "indptr[-1] short of len(indices)": lambda M: set_indptr(list(M.indptr[:-1]) + [4])(M),
    "indptr inner offset past the end": last_row_offsets,
    "indptr too short": drop_last("indptr"),
    "indptr too long": lambda M: set_indptr(list(M.indptr) + [5])(M),
    "data shorter than indices": drop_last("data"),
    "indices shorter than data": drop_last("indices"),
    "negative column index": set_index(1, -1),
    "very negative column index": set_index(3, -(2**40)),
    "column index equal to n_cols": column_equal_to_n_cols,
    "column index far beyond n_cols": set_index(4, 2**40),
    "float indices": float_indices,
    "2-D indices": reshape_2d("indices"),
    "2-D data": reshape_2d("data"),
}


@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.complex64, np.int64], ids=["kernel-f8", "kernel-c8", "scipy-i8"])
@pytest.mark.parametrize("which", ["A", "B"])
@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_csr_is_a_value_error(case, which, dtype, index_dtype):
    A, B = good_operands(dtype, index_dtype)
    M = A if which == "A" else B
    MALFORMED[case](M)
    for sort_indices in (True, False):
        with pytest.raises(ValueError) as error:
            pynla.spgemm(A, B, sort_indices=sort_indices)
        assert_names(error, which)


@pytest.mark.parametrize("index_dtype", [np.int8, np.int16, np.uint16, np.uint32, np.uint64])
def test_index_arrays_of_other_integer_dtypes_are_checked(index_dtype):
    """Index arrays SciPy does not make, but a user can set, are checked as well: good ones give
    the product; a bad one is named with its own value (uint64's past int64 too)."""
    A, B = good_operands()
    expected = A.toarray() @ B.toarray()  # before the change: SciPy's own code refuses uint64 indices
    B.indptr, B.indices = B.indptr.astype(index_dtype), B.indices.astype(index_dtype)
    np.testing.assert_array_equal(pynla.spgemm(A, B).toarray(), expected)
    bad = np.iinfo(index_dtype).max
    B.indices = B.indices.copy()
    B.indices[3] = bad
    with pytest.raises(ValueError, match=rf"^B\.indices has index {bad} out of range for 2 columns"):
        pynla.spgemm(A, B)


def test_negative_int32_index_in_a_matrix_wider_than_int32():
    """int32 index arrays set by hand in a matrix with more columns than int32 counts (SciPy
    itself would pick int64): a negative index is still out of range, the most negative too."""
    from pynla._validation import csr_parts

    A = sp.csr_array((np.ones(2), np.array([5, 7]), np.array([0, 2])), shape=(1, 3_000_000_000))
    A.indptr = A.indptr.astype(np.int32)
    for bad in (np.iinfo(np.int32).min, -1):
        A.indices = np.array([5, bad], dtype=np.int32)
        with pytest.raises(ValueError, match=rf"^A\.indices has index {bad} out of range for 3000000000 columns"):
            csr_parts(A, "A")
    A.indices = np.array([5, np.iinfo(np.int32).max], dtype=np.int32)
    assert csr_parts(A, "A").indices.dtype == np.int32


def test_indptr_and_indices_of_different_dtypes():
    """int64 indptr with int32 indices (or the other way) is checked and multiplied."""
    A, B = good_operands()
    A.indptr = A.indptr.astype(np.int64)
    B.indices = B.indices.astype(np.int64)
    np.testing.assert_array_equal(pynla.spgemm(A, B).toarray(), A.toarray() @ B.toarray())
    A.indptr[2] = 1  # [0, 2, 1, 5]
    with pytest.raises(ValueError, match=r"^A\.indptr is not non-decreasing: indptr\[2\] < indptr\[1\]"):
        pynla.spgemm(A, B)


@pytest.mark.parametrize("which", ["A", "B"])
def test_malformed_csr_matrix_is_a_value_error(which):
    A, B = (sp.csr_matrix(M) for M in good_operands())
    M = A if which == "A" else B
    M.indices = M.indices.copy()
    M.indices[0] = -3
    with pytest.raises(ValueError) as error:
        pynla.spgemm(A, B)
    assert_names(error, which)


def test_malformed_operand_squared_is_rejected():
    """spgemm(A, A) checks A once: the check still runs, and names A."""
    A = sp.csr_array(np.eye(3))
    A.indices = np.array([0, 1, 10**6], dtype=np.int32)
    with pytest.raises(ValueError, match=r"^A\.indices has index 1000000 out of range"):
        pynla.spgemm(A, A)


def test_good_operands_are_good():
    """The cases above break operands that are otherwise accepted."""
    for dtype in (np.float64, np.complex64, np.int64):
        for index_dtype in INDEX_DTYPES:
            A, B = good_operands(dtype, index_dtype)
            A.check_format(full_check=True)
            B.check_format(full_check=True)
            np.testing.assert_array_equal(pynla.spgemm(A, B).toarray(), A.toarray() @ B.toarray())


# ---------------------------------------------------------------------------------------------
# Malformed operands in other formats: pynla converts them to CSR, with SciPy's converters,
# which trust their input (they write out of bounds, or read memory never written). Each case
# runs in a child process, since a crash there would take the test session down with it.

MALFORMED_OTHER_FORMATS = {
    "csc row index out of range": "M = sp.csc_array(np.eye(3)); M.indices = np.array([0, 1, 10**6], dtype=np.int32)",
    "csc indptr decreasing": "M = sp.csc_array(np.eye(3)); M.indptr = np.array([0, 3, 1, 3], dtype=np.int32)",
    "csc data shorter than indices": "M = sp.csc_array(np.eye(3)); M.data = M.data[:2].copy()",
    "bsr block column out of range": "M = sp.bsr_array(np.eye(4), blocksize=(2, 2)); M.indices = np.array([0, 7])",
    "bsr indptr decreasing": "M = sp.bsr_array(np.eye(4), blocksize=(2, 2)); M.indptr = np.array([0, 2, 1])",
    "coo row index out of range": "M = sp.coo_array(np.eye(3)); M.coords = (np.array([0, 1, 10**6]), M.coords[1])",
    "coo negative row index": "M = sp.coo_array(np.eye(3)); M.coords = (np.array([0, -5, 1]), M.coords[1])",
    "coo column index out of range": "M = sp.coo_array(np.eye(3)); M.coords = (M.coords[0], np.array([0, 1, 10**6]))",
    "coo coordinates shorter than data": "M = sp.coo_array(np.eye(3)); M.coords = (M.coords[0][:2], M.coords[1])",
    "lil data longer than rows": "M = sp.lil_array(np.eye(3)); M.data[1] = [2.0] * 1000",
    "lil rows longer than data": "M = sp.lil_array(np.eye(3)); M.rows[1] = [0, 1, 2] * 300",
}


@pytest.mark.parametrize("which", ["A", "B"])
@pytest.mark.parametrize("case", list(MALFORMED_OTHER_FORMATS))
def test_malformed_other_formats_do_not_crash(tmp_path, case, which):
    call = "pynla.spgemm(M, good)" if which == "A" else "pynla.spgemm(good, M)"
    script = "\n".join(
        [
            "import numpy as np, scipy.sparse as sp, pynla",
            MALFORMED_OTHER_FORMATS[case],
            "good = sp.csr_array(np.eye(M.shape[0]))",
            "try:",
            f"    {call}",
            "except ValueError as error:",
            "    print('ValueError:', error, flush=True)",
        ]
    )
    # -P and a scratch working directory: the child imports the installed pynla, as we do.
    result = subprocess.run(
        [sys.executable, "-P", "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert result.returncode == 0, (
        f"the interpreter died (return code {result.returncode}) on {case} as {which}\n"
        f"stdout: {result.stdout}\nstderr: {result.stderr[-2000:]}"
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("ValueError:")]
    assert len(lines) == 1, f"expected a ValueError, got stdout {result.stdout!r}"
    assert re.search(rf"\b{which}\b", lines[0]), f"message does not name {which}: {lines[0]!r}"
