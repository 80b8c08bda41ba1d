"""Operands and results of sparse products over semirings other than SciPy's plus-times
(``pynla.spgemm(..., semiring=...)``): which dtypes each takes, what the kernel computes in, and
what the result holds."""

import numpy as np

from pynla._validation import CsrInput, as_csr_array

#: The semirings ``pynla.spgemm`` sums over: (how products are added, how they are made).
SEMIRINGS = ("plus_times", "min_plus", "max_plus", "max_times", "or_and", "plus_pair")


def semiring_dtypes(semiring, a_dtype, b_dtype):
    """(kernel dtype, result dtype) of a product over ``semiring`` (not plus_times), or TypeError.

    min_plus, max_plus, max_times: float32 and float64 in the kernel; integers computed in
    float64 (exact below 2**53) and returned in their own dtype. or_and: bool matrices only.
    plus_pair: any dtype (values are not read); counts in float64.
    """
    if semiring == "or_and":
        if a_dtype != np.bool_ or b_dtype != np.bool_:
            raise TypeError(f"semiring 'or_and' takes bool matrices; got A {a_dtype} and B {b_dtype}")
        return np.dtype(np.uint8), np.dtype(np.bool_)
    if semiring == "plus_pair":
        return np.dtype(np.float64), np.dtype(np.float64)
    dtype = np.result_type(a_dtype, b_dtype)
    if dtype in (np.float32, np.float64):
        return dtype, dtype
    if dtype.kind in "iu":
        return np.dtype(np.float64), dtype
    raise TypeError(f"semiring {semiring!r} takes real matrices (floating or integer); got {dtype}")


def semiring_operand(parts, semiring, kernel_dtype):
    """Checked CSR parts as the semiring's kernel takes them: repeated entries summed first (as
    SciPy's formats mean them: an entry's value is the sum of its repeats), values in
    ``kernel_dtype`` (bool seen as bytes; plus_pair's values are not read, so not converted)."""
    M = as_csr_array(parts)
    if not M.has_canonical_format:  # a copy: the arrays may be the caller's
        M = M.copy()
        M.sum_duplicates()
    data = np.ascontiguousarray(M.data)
    if semiring == "or_and":
        data = data.view(np.uint8)
    elif semiring == "plus_pair" and data.dtype != kernel_dtype:
        data = np.empty(len(data), dtype=kernel_dtype)
    return CsrInput(M.indptr, M.indices, data, parts.shape, True)


def semiring_result(data, kernel_dtype, result_dtype):
    """The kernel's values in the result's dtype."""
    if kernel_dtype == np.uint8:
        return data.view(np.bool_)
    return data if result_dtype == kernel_dtype else data.astype(result_dtype)
