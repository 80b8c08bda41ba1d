"""Every public pynla operator against SciPy's operator for the same matrix
(``scipy.sparse.linalg.aslinearoperator`` of its dense equivalent): values and dtypes of every
product, for x of every shape, layout and numeric dtype, compositions, and SciPy's solvers.

The operators under test are collected from the base class: every public subclass of
``KernelLinearOperator`` must have a factory in OPERATORS, so a new operator is tested here by
being added to it (and fails test_every_operator_is_tested until it is).
"""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.testing import assert_allclose, assert_array_equal

import pynla
from pynla._operator import KernelLinearOperator
from tests.conftest import SEED

#: Every NumPy numeric dtype.
NUMERIC_DTYPES = [np.dtype(c) for c in "?bhilqBHILQefdgFDG"]


def bsr(rng, shape, blocksize, dtype):
    """A BSR array with about half of its blocks stored, of small integer values (exact in every dtype)."""
    dense = rng.integers(-3, 4, shape) * (rng.random(shape) < 0.6)
    return sp.bsr_array(dense.astype(dtype), blocksize=blocksize)


def walsh_hadamard_matrix(n):
    """H[i, j] = (-1)^popcount(i & j), from the definition, not from the transform."""
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return np.where(np.vectorize(lambda v: bin(v).count("1") % 2)(i & j) == 1, -1.0, 1.0)


def srht_matrix(S):
    return (walsh_hadamard_matrix(S.padded_size)[S.samples][:, : S.shape[1]] * S.signs) * S._scale


def cur_of(rng, dtype):
    A = (rng.standard_normal((9, 7)) @ rng.standard_normal((7, 8))).astype(dtype)
    if np.dtype(dtype).kind == "c":
        A = A + 1j * (rng.standard_normal((9, 7)) @ rng.standard_normal((7, 8)))
    decomposition = pynla.cur(A, 4, rng=SEED)
    return decomposition, decomposition.approximation()


def sparse_cur(rng):
    decomposition = pynla.cur(sp.random_array((12, 10), density=0.4, rng=rng, format="csr"), 3, rng=SEED)
    return decomposition, decomposition.approximation()


def fisher_inverse(rng, dtype):
    G = rng.standard_normal((4, 9)).astype(dtype)
    return pynla.FisherInverse(G, 1.0), np.linalg.inv(np.eye(9) + G.astype(np.float64).T @ G / 4)


def blocked_fisher_inverse(rng, dtype):
    G = rng.standard_normal((4, 9)).astype(dtype)
    F = np.zeros((9, 9))
    for j0 in range(0, 9, 4):
        part = G[:, j0:j0 + 4].astype(np.float64)
        F[j0:j0 + part.shape[1], j0:j0 + part.shape[1]] = np.eye(part.shape[1]) + part.T @ part / 4
    return pynla.FisherInverse(G, 1.0, block_size=4), np.linalg.inv(F)


def sliding_fisher_inverse(rng, dtype):
    window = pynla.SlidingFisherInverse(9, 3, 1.0, dtype=dtype)
    for _ in range(5):
        window.update(rng.standard_normal(9))
    G = window.gradients().astype(np.float64)
    return window, np.linalg.inv(np.eye(9) + G.T @ G / 3)


def empirical_fisher(rng, dtype):
    G = rng.standard_normal((4, 9)).astype(dtype)
    return pynla.FisherInverse(G, 0.5).fisher(), 0.5 * np.eye(9) + G.astype(np.float64).T @ G / 4


def truncated_svd(rng, dtype):
    U, _ = np.linalg.qr(rng.standard_normal((7, 3)))
    V, _ = np.linalg.qr(rng.standard_normal((10, 3)))
    svd = pynla.IncrementalSVD(U.astype(dtype), np.array([3.0, 2.0, 0.5], dtype=dtype), V.T.astype(dtype))
    svd.add_rows(rng.standard_normal((2, 10)).astype(dtype))
    return svd.aslinearoperator(), (svd.U.astype(np.float64) * svd.s) @ svd.Vt


#: Operator class -> factories of (operator, the same matrix for SciPy: a BSR operator's sparse
#: matrix, the others' dense equivalent, built without the operator's products).
OPERATORS = {
    pynla.BsrLinearOperator: [
        *(lambda rng, d=d, b=b: (lambda A: (pynla.aslinearoperator(A), A))(bsr(rng, (6, 9), b, d))
          for d, b in [(np.float64, (2, 3)), (np.float32, (3, 3)), (np.complex128, (1, 1)), (np.int64, (2, 3)),
                       (np.bool_, (3, 1)), (np.longdouble, (2, 3))]),
        lambda rng: (lambda A: (pynla.aslinearoperator(A), A))(sp.bsr_matrix(bsr(rng, (4, 6), (2, 2), np.float64))),
    ],
    pynla.CountSketch: [
        lambda rng, d=d: (lambda S: (S, S.tosparse().toarray()))(pynla.CountSketch(5, 11, rng=SEED, dtype=d))
        for d in (np.float64, np.float32)
    ],
    pynla.SparseSignSketch: [
        lambda rng, d=d: (lambda S: (S, S.tosparse().toarray()))(
            pynla.SparseSignSketch(6, 11, nonzeros_per_column=3, rng=SEED, dtype=d))
        for d in (np.float64, np.float32)
    ],
    pynla.SRHT: [
        lambda rng, d=d: (lambda S: (S, srht_matrix(S)))(pynla.SRHT(5, 11, rng=SEED, dtype=d))
        for d in (np.float64, np.float32)
    ],
    pynla.GaussianSketch: [
        lambda rng, d=d: (lambda S: (S, S.matrix))(pynla.GaussianSketch(5, 11, rng=SEED, dtype=d))
        for d in (np.float64, np.float32)
    ],
    pynla.FisherInverse: [*(lambda rng, d=d: fisher_inverse(rng, d) for d in (np.float64, np.float32)),
                          lambda rng: blocked_fisher_inverse(rng, np.float32)],
    pynla.SlidingFisherInverse: [lambda rng, d=d: sliding_fisher_inverse(rng, d) for d in (np.float64, np.float32)],
    pynla.EmpiricalFisher: [lambda rng, d=d: empirical_fisher(rng, d) for d in (np.float64, np.float32)],
    pynla.TruncatedSVDOperator: [lambda rng, d=d: truncated_svd(rng, d) for d in (np.float64, np.float32)],
    pynla.CURDecomposition: [
        lambda rng: cur_of(rng, np.float64), lambda rng: cur_of(rng, np.float32), lambda rng: cur_of(rng, np.complex128),
        sparse_cur,
    ],
}

CASES = [(cls, i) for cls, factories in OPERATORS.items() for i in range(len(factories))]
CASE_IDS = [f"{cls.__name__}-{i}" for cls, i in CASES]


def build(case):
    """(the operator, SciPy's operator for the same matrix: for a BSR operator its sparse
    matrix, for the others their dense equivalent)."""
    cls, i = case
    op, matrix = OPERATORS[cls][i](np.random.default_rng(SEED + i))
    assert type(op) is cls
    return op, spla.aslinearoperator(matrix if sp.issparse(matrix) else np.asarray(matrix).astype(op.dtype))


def public_operator_classes():
    found, pending = set(), [KernelLinearOperator]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if getattr(pynla, sub.__name__, None) is sub:
                found.add(sub)
    return found


def test_every_operator_is_tested():
    assert public_operator_classes() == set(OPERATORS)


def tolerance(*dtypes):
    """0 if every dtype is exact (integers, bool), else 50 eps of the least precise float."""
    floats = [np.dtype(d) for d in dtypes if np.dtype(d).kind in "fc"]
    return 50 * max(np.finfo(d).eps for d in floats) if floats else 0.0


def assert_like(got, want, operator_dtype=None):
    """The same type, shape, dtype and values, within the rounding of the result dtype and of
    the operator's own dtype (its entries, and so its products, are only that precise)."""
    assert type(got) is type(want), f"{type(got).__name__}, SciPy's {type(want).__name__}"
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    tol = tolerance(want.dtype, *([operator_dtype] if operator_dtype is not None else []))
    scale = max(1.0, float(np.max(np.abs(np.asarray(want, dtype=np.clongdouble)), initial=0)))
    if tol == 0:
        assert_array_equal(got, want)
    else:
        assert_allclose(np.asarray(got, dtype=np.clongdouble), np.asarray(want, dtype=np.clongdouble),
                        rtol=tol, atol=tol * scale)


def values(rng, shape, dtype):
    """Small integer values (exact in every dtype), imaginary parts for complex dtypes."""
    dtype = np.dtype(dtype)
    v = rng.integers(0 if dtype.kind in "bu" else -3, 2 if dtype.kind == "b" else 4, shape)
    if dtype.kind == "c":
        v = v + 1j * rng.integers(-3, 4, shape)
    return v.astype(dtype)


def layouts(x):
    """x as C order, Fortran order, a strided view, read-only and non-native byte order."""
    yield x
    yield np.asfortranarray(x)
    spread = np.zeros((2 * x.shape[0],) + x.shape[1:], dtype=x.dtype)
    spread[::2] = x
    yield spread[::2]
    readonly = x.copy()
    readonly.flags.writeable = False
    yield readonly
    if x.dtype.itemsize > 1:
        yield x.astype(x.dtype.newbyteorder())


PRODUCTS = {
    "matvec": lambda op, x: op.matvec(x),
    "matmat": lambda op, x: op.matmat(x),
    "@": lambda op, x: op @ x,
    "dot": lambda op, x: op.dot(x),
    "rmatvec": lambda op, y: op.rmatvec(y),
    "rmatmat": lambda op, y: op.rmatmat(y),
    ".T @": lambda op, y: op.T @ y,
    ".H @": lambda op, y: op.H @ y,
    "adjoint() @": lambda op, y: op.adjoint() @ y,
}
ADJOINT_SIDE = {"rmatvec", "rmatmat", ".T @", ".H @", "adjoint() @"}
NEEDS_VECTOR = {"matvec", "rmatvec"}
NEEDS_MATRIX = {"matmat", "rmatmat"}


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_attributes_as_scipy(case):
    op, reference = build(case)
    assert isinstance(op, spla.LinearOperator)
    assert op.shape == reference.shape and op.dtype == reference.dtype
    assert isinstance(op.args, tuple)
    assert op.ndim == 2


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("product", PRODUCTS)
def test_products_match_scipy_for_every_dtype_shape_and_layout(case, product):
    op, reference = build(case)
    rng = np.random.default_rng(SEED)
    rows = op.shape[0] if product in ADJOINT_SIDE else op.shape[1]
    shapes = [(rows,), (rows, 1), (rows, 3), (rows, 0)]
    shapes = [s for s in shapes if not (product in NEEDS_VECTOR and len(s) == 2 and s[1] != 1)]
    shapes = [s for s in shapes if not (product in NEEDS_MATRIX and len(s) == 1)]
    for dtype, shape in itertools.product(NUMERIC_DTYPES, shapes):
        x = values(rng, shape, dtype)
        want = PRODUCTS[product](reference, x)
        for laid_out in layouts(x):
            assert_like(PRODUCTS[product](op, laid_out), want, op.dtype)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix's own warning
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matrix_in_matrix_out(case):
    """np.matrix in, np.matrix out of matvec, rmatvec, matmat and rmatmat, as LinearOperator
    documents (SciPy's own operator of a sparse array returns an ndarray from matmat: there the
    values are compared, not the type); ``@`` gives an ndarray, as SciPy's ``dot`` does."""
    op, reference = build(case)
    rng = np.random.default_rng(SEED)
    X = np.asmatrix(values(rng, (op.shape[1], 2), np.float64))
    Y = np.asmatrix(values(rng, (op.shape[0], 2), np.float64))
    for got, want in [(op.matmat(X), reference.matmat(X)), (op.rmatmat(Y), reference.rmatmat(Y)),
                      (op.matvec(X[:, :1]), reference.matvec(X[:, :1])), (op.rmatvec(Y[:, 1]), reference.rmatvec(Y[:, 1]))]:
        assert isinstance(got, np.matrix)
        assert_like(np.asarray(got), np.asarray(want), op.dtype)
    assert_like(op @ X, reference @ X, op.dtype)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_lists_and_row_vectors_from_the_left(case):
    op, reference = build(case)
    x = [1] * op.shape[1]
    assert_like(op @ x, reference @ x, op.dtype)
    assert_like(op.matvec(x), reference.matvec(x), op.dtype)
    y = np.arange(op.shape[0], dtype=np.float64)
    assert_like(y @ op, y @ reference, op.dtype)
    assert_like(y.reshape(1, -1) @ op, y.reshape(1, -1) @ reference, op.dtype)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_compositions_match_scipy(case):
    op, reference = build(case)
    rng = np.random.default_rng(SEED)
    x = values(rng, (op.shape[1], 2), np.complex128)
    y = values(rng, (op.shape[0], 2), np.float64)
    assert_like((op + op) @ x, (reference + reference) @ x, op.dtype)
    assert_like((op - 2 * op) @ x, (reference - 2 * reference) @ x, op.dtype)
    assert_like((op * 1.5j) @ x, (reference * 1.5j) @ x, op.dtype)
    assert_like((-op).H @ y, (-reference).H @ y, op.dtype)
    assert_like((op / 4) @ x, (reference / 4) @ x, op.dtype)
    assert_like((op.H @ op) @ x, (reference.H @ reference) @ x, op.dtype)
    assert_like((op @ op.T) @ y, (reference @ reference.T) @ y, op.dtype)
    if op.shape[0] == op.shape[1]:
        assert_like((op ** 3) @ x, (reference ** 3) @ x, op.dtype)
    assert (op + reference).dtype == np.result_type(op.dtype, reference.dtype)


def onenormest_seeded(op):
    """onenormest with NumPy's global generator (which it draws from) in a fixed state."""
    state = np.random.get_state()
    try:
        np.random.seed(SEED % 2**32)
        return spla.onenormest(op)
    finally:
        np.random.set_state(state)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # SciPy's lsmr in float32
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_scipy_solvers_take_it(case):
    """lsqr, lsmr, svds for every operator; cg, gmres, onenormest and expm_multiply for the
    square ones (cg on A^H A + I, which is positive definite): the same answers as with SciPy's
    operator for the same matrix."""
    op, reference = build(case)
    if op.dtype.kind not in "fc":  # SciPy's solvers run on floats; integer operators as float64
        op, reference = op * 1.0, reference * 1.0
    if op.dtype == np.longdouble:
        return  # SciPy's iterative solvers and ARPACK take double precision only
    b = values(np.random.default_rng(SEED), op.shape[0], op.dtype)  # SciPy's lsqr takes b of A's kind only
    single = op.dtype in (np.float32, np.complex64)
    tol, stop = (1e-4, 1e-6) if single else (1e-8, 1e-12)
    for solver in (spla.lsqr, spla.lsmr):
        assert_allclose(solver(op, b, atol=stop, btol=stop)[0], solver(reference, b, atol=stop, btol=stop)[0],
                        rtol=tol, atol=tol)
    k = min(op.shape) - 2
    if k >= 1:
        assert_allclose(spla.svds(op, k, return_singular_vectors=False, rng=SEED),
                        spla.svds(reference, k, return_singular_vectors=False, rng=SEED), rtol=tol, atol=tol)
    normal = op.H @ op + spla.aslinearoperator(sp.eye_array(op.shape[1], dtype=op.dtype))
    normal_reference = reference.H @ reference + spla.aslinearoperator(sp.eye_array(op.shape[1], dtype=op.dtype))
    c = values(np.random.default_rng(SEED), op.shape[1], op.dtype)
    assert_allclose(spla.cg(normal, c, rtol=stop)[0], spla.cg(normal_reference, c, rtol=stop)[0], rtol=tol, atol=tol)
    if op.shape[0] == op.shape[1]:
        assert_allclose(spla.gmres(op + 10 * spla.aslinearoperator(sp.eye_array(op.shape[0])), b, rtol=1e-10)[0],
                        spla.gmres(reference + 10 * spla.aslinearoperator(sp.eye_array(op.shape[0])), b, rtol=1e-10)[0],
                        rtol=tol, atol=tol)
        assert onenormest_seeded(op) == pytest.approx(onenormest_seeded(reference), rel=tol)
        assert_allclose(spla.expm_multiply(op / 10, b, traceA=0.0), spla.expm_multiply(reference / 10, b, traceA=0.0),
                        rtol=tol, atol=tol)


# ---------------------------------------------------------------------------------------------
# Sparse x: matrix-backed operators (BSR) multiply it as SciPy's matrix-backed operator does;
# sketches apply themselves to it; the rest refuse it as SciPy's generic LinearOperator does.


@pytest.mark.parametrize("container", [sp.csr_array, sp.csc_matrix])
def test_bsr_operator_multiplies_sparse_x_as_scipy(container):
    rng = np.random.default_rng(SEED)
    A = bsr(rng, (6, 9), (2, 3), np.float64)
    op, reference = pynla.aslinearoperator(A), spla.aslinearoperator(A)
    X = container(values(rng, (9, 4), np.float64))
    for product in ("matmat", "@", "dot"):
        got, want = PRODUCTS[product](op, X), PRODUCTS[product](reference, X)
        assert type(got) is type(want)
        assert_array_equal(got.toarray(), want.toarray())
    Y = container(values(rng, (6, 2), np.complex128))
    assert_allclose(op.rmatmat(Y).toarray(), (A.conj().T @ Y).toarray())
    one_column = container(values(rng, (9, 1), np.float64))
    assert_array_equal((op @ one_column).toarray(), (A @ one_column).toarray())


@pytest.mark.parametrize("cls", [pynla.CountSketch, pynla.SparseSignSketch, pynla.SRHT, pynla.GaussianSketch])
def test_sketches_apply_to_sparse_x_both_ways(cls):
    rng = np.random.default_rng(SEED)
    S = cls(8, 10, rng=SEED)
    dense = S.toarray()
    X = sp.csr_array(values(rng, (10, 3), np.float64))
    Y = sp.csc_array(values(rng, (8, 2), np.float64))
    assert_allclose(np.asarray(sp.csr_array(S @ X).toarray() if sp.issparse(S @ X) else S @ X), dense @ X.toarray(),
                    atol=1e-12)
    adjoint = S.rmatmat(Y)
    assert_allclose(adjoint.toarray() if sp.issparse(adjoint) else adjoint, dense.T @ Y.toarray(), atol=1e-12)
    wide = sp.csr_array(values(rng, (10, 3), np.longdouble))
    got = S @ wide
    assert got.dtype == np.longdouble
    assert_allclose(np.asarray(got.toarray() if sp.issparse(got) else got, dtype=np.float64),
                    dense @ wide.toarray().astype(np.float64), atol=1e-12)


def test_cur_refuses_sparse_x_as_a_generic_operator():
    op, _ = build((pynla.CURDecomposition, 0))
    with pytest.raises(TypeError, match="dense arrays only"):
        op @ sp.csr_array(np.ones((op.shape[1], 2)))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_bad_operands(case):
    op, _ = build(case)
    with pytest.raises(ValueError, match="dimension mismatch"):
        op.matvec(np.ones(op.shape[1] + 1))
    with pytest.raises(ValueError, match="dimension mismatch"):
        op @ np.ones((op.shape[1] + 1, 2))
    with pytest.raises(TypeError, match="X has dtype object"):
        op @ np.ones((op.shape[1], 2), dtype=object)


def test_bsr_operator_sees_changes_to_its_matrix():
    """As SciPy's matrix-backed operator: A changed in place changes the products, for x of A's
    dtype and of a wider one."""
    A = sp.bsr_array(np.eye(4, dtype=np.float32), blocksize=(2, 2))
    op = pynla.aslinearoperator(A)
    op @ np.ones(4, np.float32), op @ np.ones(4), op.H @ np.ones(4, np.complex64)
    A.data[:] = 5
    for x in (np.ones(4, np.float32), np.ones(4), np.ones(4, np.complex64)):
        assert_array_equal(op @ x, A @ x)
        assert_array_equal(op.H @ x, A.T @ x)


@pytest.mark.parametrize("cls", [pynla.CountSketch, pynla.SparseSignSketch])
@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix, sp.coo_array])
def test_sparse_sketch_fallbacks_keep_the_container_and_format(cls, container):
    """S @ X in long double and S.H @ Y (SciPy's product with S's sparse form) come back as the
    kernels' results do: a matrix for a sparse matrix, CSC for CSC, CSR for the rest."""
    rng = np.random.default_rng(SEED)
    S = cls(8, 12, rng=SEED)
    for operand, product in ((container(values(rng, (12, 3), np.longdouble)), lambda Z: S @ Z),
                             (container(values(rng, (8, 3), np.float64)), lambda Z: S.H @ Z)):
        got = product(operand)
        assert isinstance(got, sp.spmatrix) == isinstance(operand, sp.spmatrix)
        assert got.format == ("csc" if operand.format == "csc" else "csr")
        dense = S.toarray().astype(np.float64)
        want = (dense.T if got.shape[0] == 12 else dense) @ operand.toarray().astype(np.float64)
        assert_allclose(got.toarray().astype(np.float64), want, atol=1e-12)


def test_sketch_dtype_in_either_byte_order():
    assert pynla.CountSketch(3, 10, rng=SEED, dtype=">f4").dtype == np.float32
