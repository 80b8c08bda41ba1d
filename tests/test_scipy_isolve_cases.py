"""SciPy's own iterative-solver test cases (``scipy/sparse/linalg/_isolve/tests/test_iterative.py``,
installed with SciPy) run through pynla's recycling solvers, with SciPy's checks: RecyclingGMRES
where SciPy runs gcrotmk (its recycling sibling), RecyclingCG where it runs cg. One solver
object takes the cases in turn, so each later case starts with a recycled space from an
unrelated matrix (of another size where sizes differ), which must not hurt."""

import numpy as np
import pytest
import scipy.sparse.linalg as spla
from numpy.linalg import norm
from numpy.testing import assert_array_equal

import pynla

iterative = pytest.importorskip("scipy.sparse.linalg._isolve.tests.test_iterative")

SIBLINGS = {"gcrodr": (spla.gcrotmk, pynla.RecyclingGMRES), "cg": (spla.cg, pynla.RecyclingCG)}


def cases_for(method):
    sibling = SIBLINGS[method][0]
    return [case for case in iterative.IterativeParams().cases if sibling not in case.skip]


@pytest.mark.parametrize("method", sorted(SIBLINGS))
def test_convergence_on_scipys_cases(method):
    """test_convergence: x0 = 0 is not overwritten; rtol 1e-8 (1e-2 in single precision)."""
    sibling, make = SIBLINGS[method]
    solver = make()
    checked = 0
    for case in cases_for(method):
        rtol = 1e-8 if case.A.dtype.char in "dD" else 1e-2
        x0 = 0 * case.b
        x, info = solver.solve(case.A, case.b, x0=x0, rtol=rtol)
        assert_array_equal(x0, 0 * case.b)
        if sibling in case.nonconvergence:
            assert info != 0, case.name
            assert norm(case.A @ x - case.b) <= norm(case.b)
        else:
            assert info == 0, case.name
            assert norm(case.A @ x - case.b) <= norm(case.b) * rtol * (1 + 1e-12), case.name
        checked += 1
    assert checked >= (20 if method == "gcrodr" else 8)


@pytest.mark.parametrize("method", sorted(SIBLINGS))
def test_identity_and_inverse_preconditioners_on_scipys_cases(method):
    """test_precond_dummy (an identity LinearOperator as M) and test_precond_inverse (A's
    inverse as M: one iteration's work) on SciPy's cases."""
    sibling, make = SIBLINGS[method]
    solver = make()
    for case in cases_for(method):
        if sibling in case.nonconvergence:
            continue
        identity = spla.LinearOperator(case.A.shape, lambda b: b, dtype=case.A.dtype)
        x, info = solver.solve(case.A, case.b, x0=0 * case.b, rtol=1e-8, M=identity)
        assert info == 0, case.name
        assert norm(case.A @ x - case.b) <= norm(case.b) * 1e-8 * (1 + 1e-12), case.name
        if case.name in ("poisson1d", "poisson2d"):
            dense = case.A.toarray()
            inverse = spla.LinearOperator(case.A.shape, lambda b, dense=dense: np.linalg.solve(dense, b), dtype=float)
            fresh = make()
            x, info = fresh.solve(case.A, case.b, rtol=1e-8, M=inverse)
            assert info == 0
            assert norm(case.A @ x - case.b) <= norm(case.b) * 1e-8
            assert fresh.stats.iterations <= 2  # M A = I: one step, two with rounding
