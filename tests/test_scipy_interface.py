"""SciPy's own tests of LinearOperator (scipy/sparse/linalg/tests/test_interface.py, installed
with SciPy), run with every matrix SciPy turns into an operator turned into pynla's instead:
``pynla.aslinearoperator`` of the matrix as BSR (1 x 1 blocks; bsr_matrix for np.matrix and
sparse matrices), so that each test's operator is a ``BsrLinearOperator``."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg._interface as interface
from scipy.sparse.linalg.tests import test_interface as scipy_tests

import pynla

scipy_aslinearoperator = interface.aslinearoperator


def pynla_aslinearoperator(A):
    """SciPy's aslinearoperator, with pynla's operator for every array and sparse matrix."""
    if isinstance(A, interface.LinearOperator):
        return A
    if isinstance(A, np.matrix) or isinstance(A, sp.spmatrix):
        return pynla.aslinearoperator(sp.bsr_matrix(A, blocksize=(1, 1)))
    if isinstance(A, np.ndarray) or sp.issparse(A):
        return pynla.aslinearoperator(sp.bsr_array(A, blocksize=(1, 1)))
    return scipy_aslinearoperator(A)


@pytest.fixture(autouse=True)
def pynla_operators(monkeypatch):
    monkeypatch.setattr(interface, "aslinearoperator", pynla_aslinearoperator)


def test_substitution_reaches_pynla():
    assert type(interface.aslinearoperator(np.eye(3))) is pynla.BsrLinearOperator


class TestAsLinearOperator(scipy_tests.TestAsLinearOperator):
    def setup_method(self):
        super().setup_method()  # its cases' .T, .H and adjoint() operators too are pynla's
        assert any(isinstance(getattr(M, "A", None), pynla.BsrLinearOperator) for M, _ in self.cases)


test_attributes = scipy_tests.test_attributes
test_adjoint_conjugate = scipy_tests.test_adjoint_conjugate
test_ndim = scipy_tests.test_ndim
test_transpose_noconjugate = scipy_tests.test_transpose_noconjugate
test_dtypes_of_operator_sum = scipy_tests.test_dtypes_of_operator_sum
