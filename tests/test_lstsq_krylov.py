"""sketched_lstsq(method="krylov") (CGLS, checked by its backward error) and "auto" on sparse A,
which tries it first: against LAPACK's gelsd over dtypes, layouts, 1-D and 2-D b, consistent and
inconsistent systems, rank deficiency, magnitudes, threads and CSR with duplicate and unsorted
indices; an ill-conditioned A that makes "auto" give CGLS up for sketch-and-precondition."""

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

import pynla
from pynla import lstsq as lstsq_module
from tests.conftest import SEED
from tests.test_lstsq import forward_error, problem


def sparse_problem(rng, n, d, per_row, *, dtype=np.float64, n_rhs=None, noise=0.1):
    """A random sparse A (n x d, about per_row entries a row, graded columns) and b = A x + noise."""
    A = sp.random_array((n, d), density=per_row / d, format="csr", rng=rng, dtype=np.float64)
    A = (A @ sp.diags_array(np.geomspace(1, 1e-3, d))).tocsr()  # column scaling takes it out
    if np.dtype(dtype).kind == "c":
        A = A + 1j * sp.csr_array((rng.standard_normal(A.nnz), A.indices, A.indptr), shape=A.shape)
    shape = (d,) if n_rhs is None else (d, n_rhs)
    b = A @ rng.standard_normal(shape) + noise * rng.standard_normal((n,) + shape[1:])
    return sp.csr_array(A, dtype=dtype), b.astype(dtype)


def tolerance(dtype):
    return 1e-4 if np.dtype(dtype).char.lower() == "f" else 1e-11


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("n_rhs", [None, 3])
@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_sparse_matches_gelsd(dtype, n_rhs, noise):
    rng = np.random.default_rng(SEED)
    A, b = sparse_problem(rng, 4000, 30, 5, dtype=dtype, n_rhs=n_rhs, noise=noise)
    expected = sl.lstsq(A.toarray(), b)[0]
    for method in ("krylov", "auto"):
        result = pynla.sketched_lstsq(A, b, method=method, rng=SEED)
        assert result.info == 0 and result.iterations < 40
        assert method == "auto" or result.iterations > 0  # "auto" may take gelsd for this size
        assert result.x.dtype == dtype and result.x.shape == expected.shape
        assert forward_error(result.x, expected) < tolerance(dtype)
        rounding = 100 * np.finfo(result.x.dtype).eps * np.linalg.norm(b, axis=0)  # a consistent b's residual
        assert_allclose(result.residual_norm, np.linalg.norm(A @ result.x - b, axis=0), rtol=1e-4, atol=rounding.max())


@pytest.mark.parametrize("layout", ["C", "F"])
def test_dense_a_matches_gelsd(layout):
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 2000, 20, 10, n_rhs=2)
    result = pynla.sketched_lstsq(np.asfortranarray(A) if layout == "F" else A, b, method="krylov")
    assert result.info == 0
    assert forward_error(result.x, sl.lstsq(A, b)[0]) < 1e-12


def test_auto_tries_cgls_first_on_a_sparse_tall_matrix(monkeypatch):
    rng = np.random.default_rng(SEED)
    A, b = sparse_problem(rng, 100_000, 60, 6)
    taken = []
    choose = lstsq_module._cheapest_method
    monkeypatch.setattr(lstsq_module, "_cheapest_method", lambda *args: taken.append(choose(*args)) or taken[-1])
    result = pynla.sketched_lstsq(A, b, rng=SEED)
    assert taken[0][:2] == ("krylov", "precondition")
    assert result.info == 0 and result.iterations < 20  # sketch-and-precondition takes about 30
    assert forward_error(result.x, sl.lstsq(A.toarray(), b)[0]) < 1e-12


def test_auto_gives_cgls_up_on_an_ill_conditioned_sparse_matrix(monkeypatch):
    """Two columns 1e-7 apart (cond about 1e7, which column scaling does not touch): CGLS's rate
    comes to predict far more passes than the budget, so it stops and sketch-and-precondition
    answers."""
    rng = np.random.default_rng(SEED)
    A, b = sparse_problem(rng, 100_000, 60, 6)
    A = sp.hstack([A, A[:, [0]] + 1e-7 * sp.random_array((100_000, 1), density=0.05, rng=rng)], format="csr")
    statuses = []
    original = lstsq_module.cgls
    monkeypatch.setattr(lstsq_module, "cgls", lambda *args: statuses.append(original(*args)) or statuses[-1])
    result = pynla.sketched_lstsq(A, b, rng=SEED)
    # Its error falls fast to 1e-10 (the well-conditioned part) and then stalls: the recent rate
    # gives it up a few steps later (12 here), within half the budget of about 32 passes.
    assert [(s.status, s.iterations <= 16) for s in statuses] == [("abandoned", True)]
    assert result.info == 0
    assert forward_error(result.x, sl.lstsq(A.toarray(), b)[0]) < 1e-6  # cond 1e7 times rounding


def test_rank_deficient_gives_the_minimum_norm_solution():
    """A repeated column: CGLS from x = 0 stays in A^H's range, so it finds gelsd's answer."""
    rng = np.random.default_rng(SEED)
    A, b = sparse_problem(rng, 3000, 12, 4)
    A = sp.hstack([A, A[:, [3]]], format="csr")
    result = pynla.sketched_lstsq(A, b, method="krylov")
    assert result.info == 0
    assert forward_error(result.x, sl.lstsq(A.toarray(), b)[0]) < 1e-10


def test_zero_matrix_and_zero_b():
    A = sp.csr_array((50, 4))
    result = pynla.sketched_lstsq(A, np.ones(50), method="krylov")
    assert_array_equal(result.x, np.zeros(4))
    assert result.residual_norm == pytest.approx(np.sqrt(50)) and result.info == 0
    rng = np.random.default_rng(SEED)
    A, _ = sparse_problem(rng, 500, 6, 3)
    result = pynla.sketched_lstsq(A, np.zeros(500), method="krylov")
    assert_array_equal(result.x, np.zeros(6))
    assert result.info == 0


def test_maxiter_reports_no_convergence():
    rng = np.random.default_rng(SEED)
    A, b = sparse_problem(rng, 5000, 40, 5)
    result = pynla.sketched_lstsq(A, b, method="krylov", maxiter=3)
    assert (result.info, result.iterations) == (1, 3)
    assert result.residual_norm == pytest.approx(np.linalg.norm(A @ result.x - b))


@pytest.mark.parametrize("magnitude", [1e-300, 1e-150, 1e150, 1e300])
def test_any_magnitude(magnitude):
    rng = np.random.default_rng(SEED)
    A, b = sparse_problem(rng, 3000, 20, 4)
    expected = pynla.sketched_lstsq(A, b, method="krylov").x
    for a_scale, b_scale in [(magnitude, magnitude), (magnitude, 1.0), (1.0, magnitude)]:
        result = pynla.sketched_lstsq(A * a_scale, b * b_scale, method="krylov")
        assert result.info == 0
        assert_allclose(result.x * a_scale / b_scale, expected, rtol=1e-10)


def test_results_do_not_depend_on_thread_count(threads):
    rng = np.random.default_rng(SEED)
    A, b = sparse_problem(rng, 60_000, 40, 8, n_rhs=2)
    results = []
    for count in (1, 2, 3):
        threads(count)
        results.append(pynla.sketched_lstsq(A, b, method="krylov").x)
    for other in results[1:]:
        assert_array_equal(other, results[0])


def test_duplicate_and_unsorted_indices_and_other_formats():
    rng = np.random.default_rng(SEED)
    A, b = sparse_problem(rng, 3000, 15, 4)
    expected = sl.lstsq(A.toarray(), b)[0]
    coo = A.tocoo()
    doubled = sp.csr_array((np.concatenate([coo.data, coo.data]) / 2,
                            (np.concatenate([coo.row, coo.row]), np.concatenate([coo.col, coo.col]))),
                           shape=A.shape)
    doubled.has_canonical_format = False  # keeps its duplicates
    reversed_rows = sp.csr_array(A)  # the same matrix with each row's entries listed backwards
    for i in range(A.shape[0]):
        start, end = A.indptr[i], A.indptr[i + 1]
        reversed_rows.indices[start:end] = A.indices[start:end][::-1]
        reversed_rows.data[start:end] = A.data[start:end][::-1]
    reversed_rows.has_sorted_indices = False
    for M in (doubled, reversed_rows, A.tocsc(), A.tocoo(), sp.csr_matrix(A)):
        result = pynla.sketched_lstsq(M, b, method="krylov")
        assert result.info == 0
        assert forward_error(result.x, expected) < 1e-12


def test_malformed_csr_names_a():
    A = sp.csr_array((np.ones(3), np.array([0, 5, 1]), np.array([0, 1, 2, 3])), shape=(3, 2))
    with pytest.raises(ValueError, match="A"):
        pynla.sketched_lstsq(A, np.ones(3), method="krylov")


def test_duplicates_that_nearly_cancel_do_not_void_the_check():
    """Entries stored twice that sum to 1e-15 of themselves: the columns' norms (the check's
    lower bound on ||A||) come from the summed entries, not the stored ones."""
    rng = np.random.default_rng(SEED)
    n, d = 400, 5
    M = rng.standard_normal((n, d))
    data = np.stack([M.ravel(), -M.ravel() * (1 - 1e-15)], 1).ravel()
    columns = np.tile(np.repeat(np.arange(d), 2), n)
    A = sp.csr_matrix((data, columns, np.arange(0, 2 * n * d + 1, 2 * d)), shape=(n, d))
    A.has_canonical_format = False
    b = rng.standard_normal(n)
    result = pynla.sketched_lstsq(A, b, method="krylov", rng=SEED)
    assert result.info == 0
    dense = A.toarray()
    assert forward_error(result.x, sl.lstsq(dense, b)[0]) < 1e-8  # cond of the summed A is about 1


@pytest.mark.parametrize("noise", [1e-3, 1e-6, 1e-9])
def test_nearly_consistent_b_is_answered(monkeypatch, noise):
    """A residual of 1e-9 to 1e-3 of ||b||: the backward-error check cannot resolve it from
    rounding, so CGLS stalls and sketch-and-precondition answers, even for an A too large to
    densify (never info 2 for an answer that is right)."""
    monkeypatch.setattr(lstsq_module, "_DENSE_FALLBACK_ENTRIES", 0)
    rng = np.random.default_rng(SEED)
    A, b = sparse_problem(rng, 20_000, 30, 5, noise=noise)
    expected = sl.lstsq(A.toarray(), b)[0]
    for method in ("krylov", "auto"):
        result = pynla.sketched_lstsq(A, b, method=method, rng=SEED)
        assert result.info == 0
        assert forward_error(result.x, expected) < 1e-11


def test_dense_non_finite_a_is_refused():
    A = np.ones((50, 3))
    A[4, 1] = np.nan
    with pytest.raises(ValueError, match="A must not contain NaN or infinity"):
        pynla.sketched_lstsq(A, np.ones(50), method="krylov")


def test_auto_keeps_to_a_given_maxiter():
    rng = np.random.default_rng(SEED)
    A, b = sparse_problem(rng, 40_000, 50, 6)
    A = sp.hstack([A, A[:, [0]] + 1e-6 * sp.random_array((40_000, 1), density=0.05, rng=rng)], format="csr")
    for maxiter in (3, 10):
        result = pynla.sketched_lstsq(A, b, maxiter=maxiter, rng=SEED)
        assert result.iterations <= maxiter
