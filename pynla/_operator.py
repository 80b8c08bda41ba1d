"""The base of every pynla operator: a ``scipy.sparse.linalg.LinearOperator`` whose products
run on pynla's kernels and which otherwise behaves as SciPy's own operator for the same matrix.

SciPy's operator for a matrix M (``aslinearoperator(M)``) has M's dtype, ``args == (M,)``,
results of NumPy's result type of M's and x's dtypes, np.matrix out for np.matrix in, and
takes x of any numeric dtype and byte order. A pynla operator keeps all of that and runs its
kernels where they apply; a subclass only writes its products:

``_kernel_product(X, adjoint)``
    ``A @ X`` (``A^H @ X`` if adjoint) for a 2-D ndarray X in native byte order (any strides)
    whose dtype, the result's, is one of ``kernel_dtypes``.
``_exact_product(X, adjoint)``
    The same for every other numeric result dtype (long double; integers and bool for an
    integer operator), computed in that dtype as SciPy computes it. Default: none (TypeError);
    an operator whose ``kernel_dtypes`` is None takes every dtype in ``_kernel_product``.
``_sparse_product(X, adjoint)``
    The same for a SciPy sparse X. Default: TypeError (SciPy's generic operator refuses sparse
    X too; a matrix-backed operator multiplies it instead, and says so in its docstring).

Conversions happen once, here: lists and other array-likes become arrays, non-native byte
order becomes native, x becomes the result dtype (a copy only if its dtype differs), a 1-D x
is multiplied as one column. ``A.T``, ``A.H``, sums, products, scalings and powers are SciPy's.
"""

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pynla._validation import KERNEL_DTYPES


class KernelLinearOperator(spla.LinearOperator):
    """A LinearOperator whose products run on pynla's kernels (see the module docstring)."""

    #: The result dtypes ``_kernel_product`` takes; None: every numeric dtype.
    kernel_dtypes = KERNEL_DTYPES
    #: The memory order x converted to the result dtype gets ("K": x's own; "C" for kernels
    #: that take C order only, so that conversion and layout cost one copy, not two).
    kernel_order = "K"

    def __init__(self, dtype, shape, args=()):
        super().__init__(dtype=dtype, shape=shape)
        self.args = tuple(args)

    def _kernel_product(self, X, adjoint):
        raise NotImplementedError

    def _exact_product(self, X, adjoint):
        raise TypeError(f"{type(self).__name__} has no product for dtype {X.dtype} "
                        f"(it takes {', '.join(str(t) for t in self.kernel_dtypes)})")

    def _sparse_product(self, X, adjoint):
        raise TypeError(f"{type(self).__name__} multiplies dense arrays only, got a sparse {X.format} operand")

    def _product(self, X, adjoint):
        """A @ X or A^H @ X for X of any kind SciPy's wrappers pass: (n,), (n, 1), (n, k)."""
        if sp.issparse(X):
            return self._sparse_product(X, adjoint)
        matrix_in = isinstance(X, np.matrix)
        X = np.asarray(X)
        if X.dtype.kind not in "biufc":
            raise TypeError(f"X has dtype {X.dtype}; expected a numeric dtype")
        dtype = np.result_type(self.dtype, X.dtype)  # native byte order, as every result type
        X2 = (X.reshape(-1, 1) if X.ndim == 1 else X).astype(dtype, order=self.kernel_order, copy=False)
        if self.kernel_dtypes is None or dtype in self.kernel_dtypes:
            Y = self._kernel_product(X2, adjoint)
        else:
            Y = self._exact_product(X2, adjoint)
        if X.ndim == 1:
            Y = Y.reshape(-1)
        return np.asmatrix(Y) if matrix_in else Y

    def _matvec(self, x):
        return self._product(x, adjoint=False)

    def _rmatvec(self, x):
        return self._product(x, adjoint=True)

    def _matmat(self, X):
        return self._product(X, adjoint=False)

    def _rmatmat(self, X):
        return self._product(X, adjoint=True)

    # Sparse operands skip SciPy's matmat wrapper, which turns any error on sparse X (malformed
    # structure included) into "Unable to multiply a LinearOperator with a sparse matrix".

    def matmat(self, X):
        return self._sparse_operand(X, adjoint=False) if sp.issparse(X) else super().matmat(X)

    def rmatmat(self, X):
        return self._sparse_operand(X, adjoint=True) if sp.issparse(X) else super().rmatmat(X)

    def dot(self, x):
        """``A @ x``: as SciPy's ``LinearOperator.dot``, except that a sparse x of one column
        goes to the sparse product (SciPy's sends it to ``matvec``, which takes dense x only)."""
        return self.matmat(x) if sp.issparse(x) else super().dot(x)

    def _sparse_operand(self, X, adjoint):
        n = self.shape[0] if adjoint else self.shape[1]
        if X.ndim != 2 or X.shape[0] != n:
            raise ValueError(f"dimension mismatch: {self.shape}, {X.shape}")
        return self._sparse_product(X, adjoint)
