"""Krylov subspace recycling: RecyclingGMRES (GCRO-DR), RecyclingCG, sort_systems,
solve_sequence and their kernels (csr_matvec, krylov_orthogonalize; the CG loop's vector
updates are tested in C++, cpp/tests/test_krylov.cpp, and here through the solver).

Every solve is checked outside the solver: the true residual ||b - A x|| <= max(atol,
rtol ||b||), and the solution against SciPy's gmres/cg (or a dense solve). The recycled spaces
are checked against small dense reference implementations of the same algorithms.
"""

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.testing import assert_allclose, assert_array_equal

import pynla
from pynla import _core
from pynla._krylov import LinearSystem
from pynla.bench.krylov import darcy_sequence, jacobi
from pynla.recycling_gmres import _Solve, _smallest_harmonic_ritz
from tests.conftest import csr_from_row_lengths

# ---------------------------------------------------------------------------------------------
# Systems


def laplacian_2d(N, dtype=np.float64):
    T = sp.diags_array([-1.0, 2.0, -1.0], offsets=[-1, 0, 1], shape=(N, N))
    return (sp.kron(T, sp.eye_array(N)) + sp.kron(sp.eye_array(N), T)).tocsr().astype(dtype)


def convection_diffusion(N, velocity):
    """-Laplace u + v . grad u, upwind: nonsymmetric, eigenvalues in the right half-plane."""
    T = sp.diags_array([-1.0, 2.0, -1.0], offsets=[-1, 0, 1], shape=(N, N))
    D = sp.diags_array([-1.0, 1.0], offsets=[-1, 0], shape=(N, N))  # backward difference
    I = sp.eye_array(N)
    h = 1.0 / (N + 1)
    vx, vy = velocity
    return ((sp.kron(T, I) + sp.kron(I, T)) / h**2 + (vx * sp.kron(I, D) + vy * sp.kron(D, I)) / h).tocsr()


def spd_sequence(rng, n_systems, N=20):
    """Laplacians with a slowly changing positive diagonal (a reaction term)."""
    L = laplacian_2d(N)
    base = rng.random(N * N)
    return [(L + sp.diags_array(0.01 + 0.1 * base + 0.01 * i * rng.random(N * N))).tocsr() for i in range(n_systems)]


def assert_solves(A, x, b, rtol, atol=0.0):
    residual = np.linalg.norm(b - A @ x)
    assert residual <= max(atol, rtol * np.linalg.norm(b)) * (1 + 1e-12), residual / np.linalg.norm(b)


class CountingOperator(spla.LinearOperator):
    """A's products, counted column by column (a block of k columns counts k)."""

    def __init__(self, A):
        super().__init__(dtype=A.dtype, shape=A.shape)
        self.A = A
        self.count = 0

    def _matvec(self, x):
        self.count += 1
        return self.A @ x

    def _matmat(self, X):
        self.count += X.shape[1]
        return self.A @ X

    def _adjoint(self):
        return CountingOperator(self.A.conj().T)


SOLVERS = {
    "gcrodr": lambda: pynla.RecyclingGMRES(m=20, k=5),
    "cg": lambda: pynla.RecyclingCG(k=5, m=20),
}


# ---------------------------------------------------------------------------------------------
# Kernels


def normal(rng, shape, dtype):
    values = rng.standard_normal(shape)
    return values + 1j * rng.standard_normal(shape) if np.dtype(dtype).kind == "c" else values


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("k", [None, 1, 4])
@pytest.mark.parametrize("options", [{}, {"unsorted": True}, {"duplicates": True}])
def test_csr_matvec_matches_scipy(rng, dtype, index_dtype, k, options):
    lengths = np.concatenate([[0, 40], rng.integers(0, 6, 300)])  # an empty and a dense row
    A = csr_from_row_lengths(rng, lengths, 40, dtype, index_dtype=index_dtype, **options)
    x = rng.standard_normal((40,) if k is None else (40, k)).astype(dtype)
    y = _core.csr_matvec((A.indptr, A.indices, A.data, A.shape), x)
    assert y.shape == x.shape[:0] + (A.shape[0],) + x.shape[1:]
    assert_allclose(y, A @ x, rtol=1e-13, atol=1e-13)


def test_csr_matvec_refuses_wrong_operands(rng):
    A = laplacian_2d(3)
    a = (A.indptr, A.indices, A.data, A.shape)
    with pytest.raises(ValueError, match="x"):
        _core.csr_matvec(a, np.ones(8))
    with pytest.raises(TypeError, match="x"):
        _core.csr_matvec(a, np.ones(9, dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("n, p", [(0, 0), (1, 0), (1, 1), (50, 7), (5000, 30)])
def test_orthogonalize_removes_the_basis(rng, dtype, n, p):
    Q = np.linalg.qr(normal(rng, (n, p), dtype))[0]
    Q = np.asfortranarray(np.hstack([Q, normal(rng, (n, 2), dtype)]))  # columns past p: unused
    w0 = Q[:, :p] @ normal(rng, p, dtype) + 1e-7 * normal(rng, n, dtype)
    w = w0.copy()
    h, norm = _core.krylov_orthogonalize(Q, p, w)
    assert_allclose(w + Q[:, :p] @ h, w0, atol=1e-13)
    assert np.abs(Q[:, :p].conj().T @ w).max(initial=0) <= 1e-12 * max(norm, 1e-7)
    assert norm == pytest.approx(np.linalg.norm(w), rel=1e-13, abs=1e-300)


def test_orthogonalize_refuses_bad_operands(rng):
    Q = np.asfortranarray(rng.standard_normal((10, 3)))
    with pytest.raises(ValueError, match="p"):
        _core.krylov_orthogonalize(Q, 4, np.ones(10))
    with pytest.raises(ValueError, match="q"):
        _core.krylov_orthogonalize(np.ascontiguousarray(Q), 3, np.ones(10))
    with pytest.raises(ValueError, match="w"):
        _core.krylov_orthogonalize(Q, 3, np.ones(9))
    read_only = np.ones(10)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        _core.krylov_orthogonalize(Q, 3, read_only)
    with pytest.raises(TypeError, match="float64 or complex128"):
        _core.krylov_orthogonalize(Q, 3, np.ones(10, dtype=np.float32))


# ---------------------------------------------------------------------------------------------
# Solves: residuals, SciPy's answers, kinds of A and M


def nonsymmetric_sequence(n_systems, N=16):
    return [convection_diffusion(N, (20 * np.cos(t), 20 * np.sin(t))) for t in np.linspace(0, 1, n_systems)]


@pytest.mark.parametrize("rtol", [1e-5, 1e-10])
def test_gcrodr_sequence_nonsymmetric_matches_scipy(rng, rtol):
    solver = pynla.RecyclingGMRES(m=25, k=6)
    for A in nonsymmetric_sequence(5):
        b = rng.standard_normal(A.shape[0])
        x, info = solver.solve(A, b, rtol=rtol)
        assert info == 0
        assert_solves(A, x, b, rtol)
        reference, reference_info = spla.gmres(A, b, rtol=rtol * 1e-2, restart=60, maxiter=1000)
        assert reference_info == 0
        assert_allclose(x, reference, atol=10 * rtol * np.linalg.norm(reference) * np.linalg.cond(A.toarray()))
    assert solver.stats.recycled == 6 or solver.stats.recycled == 7  # a complex pair may enter whole


def test_gcrodr_recycling_saves_products(rng):
    """The same A with new right-hand sides: later solves need far fewer products."""
    A = convection_diffusion(24, (15.0, 5.0))
    solver = pynla.RecyclingGMRES(m=30, k=10)
    counts = []
    for _ in range(4):
        b = rng.standard_normal(A.shape[0])
        x, info = solver.solve(A, b, rtol=1e-8)
        assert info == 0
        assert_solves(A, x, b, 1e-8)
        counts.append(solver.stats.matvecs)
    assert counts[-1] < 0.8 * counts[0], counts


def test_gcrodr_reprojection_keeps_x_across_diagonal_preconditioners(rng):
    """A new A and a new diagonal M: the recycled space is carried as the same vectors x = M U
    (U rescaled into the new M's variable), not as the same U."""
    A = spd_sequence(rng, 1, N=10)[0]
    b = rng.standard_normal(100)
    M1, M2 = (sp.diags_array(rng.uniform(0.2, 5.0, 100), format="csr") for _ in range(2))
    solver = pynla.RecyclingGMRES(m=20, k=5)
    solver.solve(A, b, M=M1, rtol=1e-14, maxiter=1)
    U1, _ = solver.recycled_space
    A2 = A.copy()  # another object: C = A M U is recomputed
    system = LinearSystem(A2, b, None, rtol=1e-8, atol=0.0, maxiter=None, M=M2)
    _Solve(solver, system, None)._reproject()
    U2, C2 = solver.recycled_space
    assert principal_sines(M2 @ U2, M1 @ U1) <= 1e-12
    assert_allclose(A2 @ (M2 @ U2), C2, atol=1e-12 * np.abs(C2).max())
    assert_allclose(C2.T @ C2, np.eye(5), atol=1e-12)


def test_gcrodr_interrupted_reprojection_leaves_the_recycled_space_as_it_was(rng):
    """A product that raises during the reprojection for a new A and M (an operator's error,
    Ctrl-C) changes nothing: the next solve with the earlier A and M recycles as before."""
    A = spd_sequence(rng, 1, N=10)[0]
    b = rng.standard_normal(100)
    M = sp.diags_array(1 / A.diagonal(), format="csr")
    solver = pynla.RecyclingGMRES(m=30, k=10)
    solver.solve(A, b, M=M, rtol=1e-8)
    U, C = solver.recycled_space

    class Raising(spla.LinearOperator):
        def __init__(self):
            super().__init__(dtype=A.dtype, shape=A.shape)

        def _matvec(self, x):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        solver.solve(Raising(), b, M=sp.diags_array(rng.uniform(1e-3, 1e3, 100), format="csr"))
    assert_array_equal(solver.recycled_space[0], U)
    assert_array_equal(solver.recycled_space[1], C)
    x, info = solver.solve(A, b, M=M, rtol=1e-8)
    assert info == 0
    assert_solves(A, x, b, 1e-8)


def test_gcrodr_rescaling_that_overflows_carries_u_as_it_is(rng):
    """Diagonal preconditioners whose ratio overflows: U is carried as it is, and the solve ends
    as a fresh solver's does (no exception from the recycled space)."""
    A = spd_sequence(rng, 1, N=8)[0]
    b = rng.standard_normal(64)
    solver = pynla.RecyclingGMRES(m=20, k=5)
    solver.solve(A, b, M=sp.diags_array(np.full(64, 1e150), format="csr"), rtol=1e-8)
    assert solver.recycled_space is not None
    M = sp.diags_array(np.full(64, 1e-200), format="csr")
    x, info = solver.solve(A.copy(), b, M=M, rtol=1e-8)
    assert np.isfinite(x).all()
    assert info == pynla.RecyclingGMRES(m=20, k=5).solve(A, b, M=M, rtol=1e-8)[1]


def test_gcrodr_jacobi_sequence_recycles_across_preconditioners():
    """Darcy systems whose coefficients (so whose Jacobi preconditioners) change from system to
    system: carried as vectors x, the recycled space saves products that it does not where U
    is carried as it is (a Jacobi M given as a LinearOperator, which the solver cannot see is
    diagonal)."""
    matrices, rhs = darcy_sequence(32)
    counts = {}
    for kind, preconditioner in (("diagonal", jacobi), ("operator", lambda A: spla.aslinearoperator(jacobi(A)))):
        result = pynla.solve_sequence(matrices, rhs, method="gcrodr", rtol=1e-8, M=preconditioner, m=40, k=10)
        assert (result.info == 0).all()
        for A, x, b in zip(matrices, result.x, rhs):
            assert_solves(A, x, b, 1e-8)
        counts[kind] = result.matvecs
    assert counts["diagonal"] < 0.85 * counts["operator"], counts


def test_gcrodr_same_matrix_many_right_hand_sides_keeps_c_orthonormal():
    # A cycle restarted from the true residual must start orthogonal to C: near the attainable
    # accuracy that residual lies almost in span(C), and a cycle from it as it was left
    # ||C^H C - I|| at 1e2 for good; later solves with the same A failed (info -1, residuals
    # up to 12 ||b||) where SciPy's gmres converges.
    rng = np.random.default_rng(4)
    A = np.diag(np.linspace(1, 10, 100))
    for j in range(6):  # nearly defective 2 x 2 blocks at the small end of the spectrum
        i = 2 * j
        A[i, i] = A[i + 1, i + 1] = 0.01 * (1 + 0.3 * j)
        A[i, i + 1], A[i + 1, i] = 1.0, 1e-14
    Q = np.linalg.qr(rng.standard_normal((100, 100)))[0]
    A = Q @ A @ Q.T
    solver = pynla.RecyclingGMRES(m=40, k=20)
    for _ in range(6):
        b = rng.standard_normal(100)
        x, info = solver.solve(A, b, rtol=1e-10, maxiter=1000)
        assert info == 0
        assert_solves(A, x, b, 1e-10)
        C = solver.recycled_space[1]
        assert np.linalg.norm(C.T @ C - np.eye(C.shape[1])) <= 1e-8


def test_gcrodr_never_returns_an_iterate_worse_than_its_start():
    # M = 1e-200 Jacobi: the products underflow, the solve ends at info -1, and x had a
    # residual of 2.1 ||b|| (x = 0: 1.0); the start is now a candidate for the best iterate.
    A = darcy_sequence(32)[0][0]
    b = np.ones(A.shape[0])
    x, info = pynla.RecyclingGMRES(m=40, k=10).solve(A, b, rtol=1e-8, M=jacobi(A) * 1e-200)
    assert info == 0 or np.linalg.norm(b - A @ x) <= np.linalg.norm(b)


def test_gcrodr_indefinite_and_complex(rng):
    n = 200
    # Indefinite: eigenvalues on both sides of zero.
    A = sp.diags_array(np.concatenate([-np.linspace(1, 3, 60), np.linspace(0.5, 4, 140)])).tocsr()
    A = (A + 0.05 * sp.random_array((n, n), density=0.02, rng=rng)).tocsr()
    b = rng.standard_normal(n)
    solver = pynla.RecyclingGMRES(m=30, k=8)
    for shift in (0.0, 0.01):
        As = (A + shift * sp.eye_array(n)).tocsr()
        x, info = solver.solve(As, b, rtol=1e-9)
        assert info == 0
        assert_solves(As, x, b, 1e-9)
        assert_allclose(x, scipy.linalg.solve(As.toarray(), b), rtol=1e-6, atol=1e-6)
    # Complex non-Hermitian.
    C = (A + 1j * sp.diags_array(rng.random(n))).tocsr()
    bc = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    solver = pynla.RecyclingGMRES(m=30, k=8)
    for scale in (1.0, 1.02):
        x, info = solver.solve(C * scale, bc, rtol=1e-9)
        assert info == 0 and x.dtype == np.complex128
        assert_solves(C * scale, x, bc, 1e-9)


@pytest.mark.parametrize("method", ["gcrodr", "cg"])
@pytest.mark.parametrize("kind", ["csr", "csc", "bsr", "coo", "dense", "operator", "matrix"])
@pytest.mark.parametrize("preconditioned", [False, True])
def test_kinds_of_A_and_M(rng, method, kind, preconditioned):
    sequence = spd_sequence(rng, 3, N=12)
    solver = SOLVERS[method]()
    b = rng.standard_normal(sequence[0].shape[0])
    for A in sequence:
        operand = {
            "csr": A, "csc": A.tocsc(), "bsr": A.tobsr(blocksize=(2, 2)), "coo": A.tocoo(),
            "dense": A.toarray(), "operator": spla.aslinearoperator(A), "matrix": sp.csr_matrix(A),
        }[kind]  # fmt: skip
        M = sp.diags_array(1.0 / A.diagonal()) if preconditioned else None
        x, info = solver.solve(operand, b, rtol=1e-9, M=M)
        assert info == 0
        assert_solves(A, x, b, 1e-9)
        if preconditioned:
            assert solver.stats.preconditioner_applications > 0


def test_cg_sequence_matches_scipy_and_saves_products(rng):
    sequence = spd_sequence(rng, 6, N=24)
    solver = pynla.RecyclingCG(k=10, m=30)
    b = rng.standard_normal(sequence[0].shape[0])
    ours, scipys = [], []
    for A in sequence:
        M = sp.diags_array(1.0 / A.diagonal())
        x, info = solver.solve(A, b, rtol=1e-8, M=M)
        assert info == 0
        assert_solves(A, x, b, 1e-8)
        iterations = []
        reference, reference_info = spla.cg(A, b, rtol=1e-8, M=M, callback=lambda _: iterations.append(1))
        assert reference_info == 0
        assert_allclose(x, reference, rtol=1e-5, atol=1e-6 * np.abs(reference).max())
        ours.append(solver.stats.iterations)
        scipys.append(len(iterations))
    assert ours[0] == pytest.approx(scipys[0], abs=2)  # the first solve is plain PCG
    assert sum(ours[3:]) < 0.8 * sum(scipys[3:]), (ours, scipys)


def test_cg_without_deflation_is_scipys_cg(rng):
    A = spd_sequence(rng, 1, N=15)[0]
    b = rng.standard_normal(A.shape[0])
    iterations = []
    reference, _ = spla.cg(A, b, rtol=1e-10, callback=lambda _: iterations.append(1))
    solver = pynla.RecyclingCG(k=0)
    x, info = solver.solve(A, b, rtol=1e-10)
    assert info == 0
    assert abs(solver.stats.iterations - len(iterations)) <= 1
    assert solver.deflation_space is None
    assert_allclose(x, reference, rtol=1e-7, atol=1e-9)


def test_cg_complex_hermitian_sequence(rng):
    n = 150  # a complex Hermitian A: i (S - S^T) off the diagonal
    S = sp.random_array((n, n), density=0.05, rng=rng)
    skew = 1j * (S - S.T)
    solver = pynla.RecyclingCG(k=6, m=30)
    for shift in (1.0, 1.05, 1.1):
        tridiagonal = sp.diags_array([-1.0, 4.0 * shift, -1.0], offsets=[-1, 0, 1], shape=(n, n))
        A = (tridiagonal + 0.3 * skew).tocsr()  # Hermitian, positive definite
        b = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        x, info = solver.solve(A, b, rtol=1e-10, M=sp.diags_array(1 / A.diagonal().real))
        assert info == 0 and x.dtype == np.complex128
        assert_solves(A, x, b, 1e-10)
        assert_allclose(x, scipy.linalg.solve(A.toarray(), b), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("method", ["gcrodr", "cg"])
def test_an_operator_that_raises_raises_through_the_solver(rng, method):
    A = laplacian_2d(6)

    def product(x):
        if product.calls == 3:
            raise RuntimeError("the operator failed")
        product.calls += 1
        return A @ x

    product.calls = 0
    operator = spla.LinearOperator(A.shape, matvec=product, dtype=float)
    with pytest.raises(RuntimeError, match="the operator failed"):
        SOLVERS[method]().solve(operator, rng.standard_normal(36), rtol=1e-10)
    wrong_shape = spla.LinearOperator(A.shape, matvec=lambda x: np.ones(5), dtype=float)
    with pytest.raises(ValueError):
        SOLVERS[method]().solve(wrong_shape, rng.standard_normal(36), rtol=1e-10)


@pytest.mark.parametrize("method", ["gcrodr", "cg"])
def test_same_A_new_b_and_both_changing(rng, method):
    sequence = spd_sequence(rng, 3, N=14)
    solver = SOLVERS[method]()
    for A in [sequence[0], sequence[0], sequence[0], sequence[1], sequence[2]]:
        b = rng.standard_normal(A.shape[0])
        x, info = solver.solve(A, b, rtol=1e-10)
        assert info == 0
        assert_solves(A, x, b, 1e-10)


@pytest.mark.parametrize("preconditioned", [False, True])
def test_deflated_cg_same_matrix_many_right_hand_sides(preconditioned):
    # After a solve W^H A W is not I to rounding (CG's directions lose their conjugacy): the
    # next solves with the same A and M deflated with I, and broke down on the third here.
    A = darcy_sequence(32)[0][0]
    M = jacobi(A) if preconditioned else None
    solver = pynla.RecyclingCG(k=10, m=40)
    for seed in range(4):
        b = np.random.default_rng(seed).standard_normal(A.shape[0])
        x, info = solver.solve(A, b, rtol=1e-10, M=M)
        assert info == 0
        assert_solves(A, x, b, 1e-10)


@pytest.mark.parametrize("n, k, m", [(16, 15, 16), (30, 20, 30), (100, 50, 100)])
def test_deflated_cg_deflation_space_large_for_the_system(n, k, m):
    # With k and m near n, CG's lost conjugacy makes the Ritz step return near copies of
    # converged vectors; deflating with a nearly dependent W broke down or stalled (8 of 24
    # solves at n = 100) before W was made A-orthonormal with such directions left out.
    rng = np.random.default_rng(17)
    for _ in range(2):
        Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
        A0 = (Q * np.logspace(0, 4, n)) @ Q.T
        solver = pynla.RecyclingCG(k=k, m=m)
        for _ in range(6):
            E = 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
            A = sp.csr_array(A0 + E @ E.T)
            b = rng.standard_normal(n)
            x, info = solver.solve(A, b, rtol=1e-8)
            assert info == 0
            assert_solves(A, x, b, 1e-8)


def test_deflated_cg_with_an_inexact_operator_reaches_plain_cgs_accuracy():
    # A applied in float32: deflation cannot keep r free of W's directions, the curvature
    # turns non-positive, and the solve ended at a true residual of 2e-2 to 0.4 where plain CG
    # ends near 2e-5; it now restarts as plain CG from its best iterate.
    matrices, rhs = darcy_sequence(48)
    solver = pynla.RecyclingCG(k=10, m=80)
    for A, b in zip(matrices[:5], rhs):
        A32 = A.astype(np.float32)
        inexact = spla.LinearOperator(A.shape, dtype=np.float64,
                                      matvec=lambda v, A32=A32: (A32 @ v.ravel().astype(np.float32)).astype(np.float64))
        x, info = solver.solve(inexact, b, rtol=1e-6, M=jacobi(A))
        plain, _ = spla.cg(inexact, b, rtol=1e-6, M=jacobi(A))
        residual = np.linalg.norm(b - A @ x) / np.linalg.norm(b)
        assert residual <= max(10 * np.linalg.norm(b - A @ plain) / np.linalg.norm(b), 1e-6)


@pytest.mark.parametrize("method", ["gcrodr", "cg"])
def test_x0_atol_and_callback(rng, method):
    A = spd_sequence(rng, 1, N=12)[0]
    b = rng.standard_normal(A.shape[0])
    x_true = scipy.linalg.solve(A.toarray(), b)
    seen = []
    x, info = SOLVERS[method]().solve(A, b, x0=x_true + 1e-3, atol=1e-7, rtol=0.0, callback=seen.append)
    assert info == 0 and seen
    assert np.linalg.norm(b - A @ x) <= 1e-7
    x, info = SOLVERS[method]().solve(A, b, x0=x_true)
    assert info == 0


@pytest.mark.parametrize("preconditioned", [False, True])
def test_deflated_cg_callback_sees_the_whole_iterate(rng, preconditioned):
    # The loop keeps W's part of x as coefficients: the callback must see x itself, not the rest.
    first, second = spd_sequence(rng, 2)
    b = rng.standard_normal(first.shape[0])
    M = jacobi if preconditioned else (lambda A: None)
    solver = pynla.RecyclingCG(k=5, m=20)
    solver.solve(first, b, rtol=1e-10, M=M(first))
    seen = []
    x, info = solver.solve(second, b, rtol=1e-10, M=M(second), callback=seen.append)
    assert info == 0 and solver.stats.recycled == 5 and len(seen) == solver.stats.iterations
    np.testing.assert_array_equal(seen[-1], x)
    residuals = [np.linalg.norm(b - second @ xk) for xk in seen]
    x_start, _ = pynla.RecyclingCG(k=5, m=20).solve(second, b, maxiter=1)  # one plain CG step
    assert residuals[0] < np.linalg.norm(b - second @ x_start)  # the Galerkin start is in it
    assert residuals[-1] <= 1e-10 * np.linalg.norm(b)


@pytest.mark.parametrize("method", ["gcrodr", "cg"])
@pytest.mark.parametrize("dtype, result", [(np.float32, np.float32), (np.int64, np.float64),
                                           (np.complex64, np.complex64), (np.float64, np.float64)])
def test_result_dtype_follows_scipy(rng, method, dtype, result):
    A = (laplacian_2d(6) * 4 + 2 * sp.eye_array(36)).astype(dtype)
    b = np.ones(36, dtype=dtype)
    x, info = SOLVERS[method]().solve(A, b, rtol=1e-6)
    assert info == 0 and x.dtype == result
    assert x.dtype == spla.gmres(A, b, rtol=1e-6)[0].dtype


@pytest.mark.parametrize("method", ["gcrodr", "cg"])
def test_zero_rhs_empty_and_one_by_one(method):
    solver = SOLVERS[method]()
    x, info = solver.solve(laplacian_2d(3), np.zeros(9))
    assert info == 0 and not x.any()
    x, info = SOLVERS[method]().solve(sp.csr_array((0, 0)), np.zeros(0))
    assert info == 0 and x.shape == (0,)
    x, info = SOLVERS[method]().solve(np.array([[4.0]]), np.array([2.0]), rtol=1e-12)
    assert info == 0 and x == pytest.approx([0.5])


# ---------------------------------------------------------------------------------------------
# Counts


@pytest.mark.parametrize("method", ["gcrodr", "cg"])
def test_counts_match_a_counting_operator(rng, method):
    sequence = spd_sequence(rng, 3, N=12)
    solver = SOLVERS[method]()
    b = rng.standard_normal(sequence[0].shape[0])
    for A in sequence:
        counted_A = CountingOperator(A)
        counted_M = CountingOperator(sp.diags_array(1.0 / A.diagonal()).tocsr())
        x, info = solver.solve(counted_A, b, rtol=1e-9, M=counted_M)
        assert info == 0
        assert solver.stats.matvecs == counted_A.count
        assert solver.stats.preconditioner_applications == counted_M.count
        assert solver.stats.residual_norm == pytest.approx(np.linalg.norm(b - A @ x), rel=1e-8, abs=1e-14)
        assert solver.stats.iterations > 0


@pytest.mark.parametrize("method", ["gcrodr", "cg"])
def test_core_operands_count_and_solve_as_called_back(rng, method):
    """A CSR A and a Jacobi M run inside the core's loops (GCRO-DR folds M into A's values):
    the same counts and solutions as the same operators called back from the loop."""
    sequence = spd_sequence(rng, 3, N=12)
    native, called = SOLVERS[method](), SOLVERS[method]()
    b = rng.standard_normal(sequence[0].shape[0])
    for A in sequence:
        M = sp.diags_array(1.0 / A.diagonal()).tocsr()
        x, info = native.solve(A, b, rtol=1e-9, M=M)
        x_called, info_called = called.solve(CountingOperator(A), b, rtol=1e-9, M=CountingOperator(M))
        assert info == info_called == 0
        assert native.stats.iterations == called.stats.iterations
        assert native.stats.matvecs == called.stats.matvecs
        assert native.stats.preconditioner_applications == called.stats.preconditioner_applications
        assert_allclose(x, x_called, rtol=1e-7, atol=1e-9 * np.abs(x).max())


# ---------------------------------------------------------------------------------------------
# Breakdown, stagnation, maxiter, threads


@pytest.mark.parametrize("seed", range(8))
def test_gcrodr_singular_system_ends_on_the_best_iterate(seed):
    # b has a component in A's null space: no solution. Once x is the least-squares solution,
    # further cycles work on a residual A hardly moves, where rounding in the small solve moved
    # x away again (to 3x the least residual for some b); the solver keeps the best iterate.
    A = sp.diags_array(np.concatenate([np.zeros(5), np.linspace(1, 2, 45)])).tocsr()
    b = np.random.default_rng(seed).standard_normal(50)
    solver = pynla.RecyclingGMRES(m=10, k=3)
    x, info = solver.solve(A, b, rtol=1e-10, maxiter=50)
    assert info != 0
    assert np.isfinite(x).all()
    least = np.linalg.norm(b[:5])
    assert np.linalg.norm(b - A @ x) <= least * (1 + 1e-8)
    assert solver.stats.residual_norm == pytest.approx(np.linalg.norm(b - A @ x), rel=1e-12)


@pytest.mark.parametrize("method", ["gcrodr", "cg"])
@pytest.mark.parametrize("scale", [1e-150, 1e-100, 1e100, 1e150])
def test_preconditioners_of_any_magnitude(rng, method, scale):
    """M = scale * Jacobi, as far as the curvatures p^H A p stay finite: every solve of a
    sequence converges and updates the recycled space (the deflated CG's Ritz step multiplied
    coefficients to M A's size cubed, and raised at 1e150)."""
    A = spd_sequence(rng, 1, N=8)[0]
    M = sp.diags_array(scale / A.diagonal(), format="csr")
    solver = SOLVERS[method]()
    for _ in range(3):
        b = rng.standard_normal(64)
        x, info = solver.solve(A, b, M=M, rtol=1e-8)
        assert info == 0
        assert_solves(A, x, b, 1e-8)
    assert solver.stats.recycled > 0


def test_cg_indefinite_reports_breakdown(rng):
    A = sp.diags_array(np.linspace(-1, 1, 40) + 0.01).tocsr()
    x, info = pynla.RecyclingCG(k=2).solve(A, rng.standard_normal(40), rtol=1e-10)
    assert info == -1
    assert np.isfinite(x).all()


@pytest.mark.parametrize("method", ["gcrodr", "cg"])
def test_maxiter_reached_gives_positive_info(rng, method):
    A = laplacian_2d(20)
    b = rng.standard_normal(A.shape[0])
    x, info = SOLVERS[method]().solve(A, b, rtol=1e-12, maxiter=2)
    assert info == 2
    assert np.isfinite(x).all()
    assert np.linalg.norm(b - A @ x) < np.linalg.norm(b)


@pytest.mark.parametrize("method", ["gcrodr", "cg"])
def test_one_and_two_threads_give_the_same_bits(rng, threads, method):
    sequence = spd_sequence(rng, 3, N=20)
    b = rng.standard_normal(sequence[0].shape[0])
    results = []
    for n in (1, 2):
        threads(n)
        solver = SOLVERS[method]()
        results.append([solver.solve(A, b, rtol=1e-9, M=sp.diags_array(1 / A.diagonal()))[0] for A in sequence])
    for one, two in zip(*results):
        assert_array_equal(one, two)


# ---------------------------------------------------------------------------------------------
# The recycled spaces against dense reference implementations


def principal_sines(X, Y):
    """The sines of the principal angles between span(X) and span(Y) (equal dimensions)."""
    Qx, Qy = np.linalg.qr(X)[0], np.linalg.qr(Y)[0]
    return np.linalg.norm(Qy - Qx @ (Qx.conj().T @ Qy), 2)


def reference_gcrodr_first_cycle(A, b, m, k):
    """GCRO-DR's first cycle from x0 = 0, dense and literal (Parks et al. 2006, Alg. 2, lines
    1-5): GMRES(m) by modified Gram-Schmidt, then the k harmonic Ritz vectors of A with the
    smallest harmonic Ritz values from (H_m + h^2 H_m^-H e_m e_m^H) g = theta g. Returns U (the
    span is what is recycled)."""
    n = len(b)
    V = np.zeros((n, m + 1))
    H = np.zeros((m + 1, m))
    V[:, 0] = b / np.linalg.norm(b)
    for j in range(m):
        w = A @ V[:, j]
        for i in range(j + 1):
            H[i, j] = V[:, i] @ w
            w = w - H[i, j] * V[:, i]
        H[j + 1, j] = np.linalg.norm(w)
        V[:, j + 1] = w / H[j + 1, j]
    Hm = H[:m, :m]
    e_m = np.zeros(m)
    e_m[-1] = 1
    f = np.linalg.solve(Hm.T, e_m)
    values, vectors = np.linalg.eig(Hm + H[m, m - 1] ** 2 * np.outer(f, e_m))
    assert np.abs(values.imag).max() == 0  # a symmetric A: real harmonic Ritz values
    order = np.argsort(np.abs(values))[:k]
    return V[:, :m] @ vectors[:, order].real


def test_gcrodr_recycled_space_matches_a_dense_reference(rng):
    """One cycle (maxiter=1, a tolerance it cannot meet): pynla's recycled U spans the same
    space as the literal dense GCRO-DR's, and A U = C with C orthonormal."""
    n, m, k = 120, 20, 6
    perturbation = 0.1 * sp.random_array((n, n), density=0.05, rng=rng)
    A = (sp.diags_array(np.linspace(0.01, 10, n)) + perturbation + perturbation.T).tocsr()  # real harmonic Ritz values
    b = rng.standard_normal(n)
    solver = pynla.RecyclingGMRES(m=m, k=k)
    solver.solve(A, b, rtol=1e-14, maxiter=1)
    U, C = solver.recycled_space
    assert_allclose(A @ U, C, atol=1e-12 * np.abs(C).max())
    assert_allclose(C.T @ C, np.eye(C.shape[1]), atol=1e-12)
    assert principal_sines(U, reference_gcrodr_first_cycle(A.toarray(), b, m, k)) <= 1e-8


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_harmonic_ritz_vectors_against_scipy_eig(rng, dtype):
    """The cycle's harmonic Ritz step, which calls LAPACK's ggev directly: its columns span
    the eigenvectors of SciPy's eig with the smallest |theta| (a real pencil's complex pairs
    whole, as real and imaginary parts), each of unit length."""
    size = 14
    draw = lambda *shape: rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if dtype == np.complex128 else 0)
    G, WV = draw(size + 1, size).astype(dtype), draw(size + 1, size).astype(dtype)
    values, vectors = scipy.linalg.eig(G.conj().T @ G, G.conj().T @ WV)
    order = np.argsort(np.abs(values))
    pairs = 0
    for k in range(1, 8):
        P = _smallest_harmonic_ritz(G, WV, k, size)
        assert P.dtype == dtype
        assert P.shape[1] in (k, k + 1)  # k + 1: a pair is not split
        assert_allclose(np.linalg.norm(P[:, np.abs(values[order[: P.shape[1]]].imag) == 0], axis=0), 1.0)
        assert principal_sines(P.astype(complex), vectors[:, order[: P.shape[1]]]) <= 1e-8
        pairs += P.shape[1] == k + 1
    assert dtype == np.complex128 or pairs > 0  # the real pencil's pair path ran


def reference_deflation_update(A, M, W, P, k):
    """Ritz vectors of M A in span(W, P) with the k smallest Ritz values, dense: the pencil
    (S^T A M A S, S^T A S)."""
    S = np.hstack([W, P])
    values, vectors = scipy.linalg.eigh(S.T @ A @ M @ A @ S, S.T @ A @ S)
    return S @ vectors[:, :k]


def test_cg_deflation_space_matches_a_dense_reference(rng):
    """The first solve keeps its first m search directions; the new deflation space spans the
    Ritz vectors of M A computed densely from those directions (recomputed here by the
    plain PCG recurrence, which the first solve is)."""
    A = spd_sequence(rng, 1, N=10)[0].toarray()
    M = np.diag(1.0 / np.diag(A))
    b = rng.standard_normal(A.shape[0])
    m, k = 15, 4
    solver = pynla.RecyclingCG(k=k, m=m)
    solver.solve(A, b, rtol=1e-12, M=M)
    # Plain PCG's first m directions.
    x, r = np.zeros_like(b), b.copy()
    z = M @ r
    p = z.copy()
    directions = []
    for _ in range(m):
        q = A @ p
        alpha = (r @ z) / (p @ q)
        directions.append(p.copy())
        x, r_new = x + alpha * p, r - alpha * q
        z_new = M @ r_new
        p = z_new + (r_new @ z_new) / (r @ z) * p
        r, z = r_new, z_new
    reference = reference_deflation_update(A, M, np.zeros((A.shape[0], 0)), np.column_stack(directions), k)
    assert principal_sines(solver.deflation_space, reference) <= 1e-6


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("method", ["gcrodr", "cg"])
def test_bad_input_names_the_argument(method):
    solver = SOLVERS[method]()
    A = laplacian_2d(3)
    b = np.ones(9)
    cases = [
        (dict(A=sp.csr_array(np.ones((9, 8))), b=b), "A must be square"),
        (dict(A=A, b=np.ones(8)), "b has shape"),
        (dict(A=A, b=b, x0=np.ones(3)), "x0 has shape"),
        (dict(A=A, b=b, M=sp.eye_array(8)), "M has shape"),
        (dict(A=A, b=b, rtol=-1.0), "rtol"),
        (dict(A=A, b=b, atol=np.nan), "atol"),
        (dict(A=A, b=np.full(9, np.nan)), "b contains non-finite"),
        (dict(A=A * np.inf, b=b), "A contains non-finite"),
        (dict(A=A.toarray() * np.nan, b=b), "A contains non-finite"),
        (dict(A=A, b=b, x0=np.full(9, np.inf)), "x0 contains non-finite"),
        (dict(A=A, b=b, maxiter=0), "maxiter"),
    ]
    for arguments, message in cases:
        with pytest.raises(ValueError, match=message):
            solver.solve(**arguments)
    bad = sp.csr_array((np.ones(2), np.array([0, 9]), np.array([0, 1, 2] + [2] * 7)), shape=(9, 9))
    with pytest.raises(ValueError, match="A"):
        solver.solve(bad, b)
    with pytest.raises(TypeError, match="A must be"):
        solver.solve("matrix", b)


def test_bad_parameters():
    with pytest.raises(ValueError, match="k must be less than m"):
        pynla.RecyclingGMRES(m=10, k=10)
    with pytest.raises(ValueError, match="m must be at least 2"):
        pynla.RecyclingGMRES(m=1, k=0)
    with pytest.raises(ValueError, match="k must be at least 0"):
        pynla.RecyclingCG(k=-1)
    with pytest.raises(TypeError, match="m must be an integer"):
        pynla.RecyclingCG(m=2.5)


# ---------------------------------------------------------------------------------------------
# Sorting and sequences


def test_sort_systems_is_greedy_nearest_neighbour(rng):
    F = rng.standard_normal((30, 3))
    order = pynla.sort_systems(F, start=4)
    assert sorted(order) == list(range(30)) and order[0] == 4
    taken = {4}
    for previous, current in zip(order, order[1:]):
        remaining = [i for i in range(30) if i not in taken]
        distances = np.linalg.norm(F[remaining] - F[previous], axis=1)
        assert current == remaining[np.argmin(distances)]
        taken.add(current)


def test_sort_systems_by_matrices(rng):
    A = laplacian_2d(5)
    shifts = [0.0, 3.0, 1.0, 2.0]
    matrices = [(A + s * sp.eye_array(25)).tocsr() for s in shifts]
    assert_array_equal(pynla.sort_systems(matrices), [0, 2, 3, 1])
    unsorted = [M.copy() for M in matrices]
    unsorted[2].indices, unsorted[2].data = unsorted[2].indices[::-1].copy(), unsorted[2].data[::-1].copy()
    unsorted[2] = sp.csr_array((matrices[2].data, matrices[2].indices, matrices[2].indptr), shape=(25, 25))
    assert_array_equal(pynla.sort_systems(unsorted), [0, 2, 3, 1])
    assert_array_equal(pynla.sort_systems([M.toarray() for M in matrices]), [0, 2, 3, 1])
    other = matrices[:3] + [sp.eye_array(25, format="csr")]
    with pytest.raises(ValueError, match="sparsity pattern"):
        pynla.sort_systems(other)
    with pytest.raises(ValueError, match="empty"):
        pynla.sort_systems(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="start"):
        pynla.sort_systems(np.zeros((3, 2)), start=3)
    with pytest.raises(ValueError, match="non-finite"):
        pynla.sort_systems(np.array([[0.0], [np.nan]]))


@pytest.mark.parametrize("method", ["gcrodr", "cg"])
def test_solve_sequence_returns_the_callers_order(rng, method):
    sequence = spd_sequence(rng, 5, N=12)
    order = [3, 0, 4, 1, 2]
    shuffled = [sequence[i] for i in order]
    rhs = rng.standard_normal((5, sequence[0].shape[0]))
    result = pynla.solve_sequence(shuffled, rhs, method=method, rtol=1e-9, M=lambda A: sp.diags_array(1 / A.diagonal()),
                                  k=4, m=20)
    assert_array_equal(result.info, 0)
    assert sorted(result.order) == list(range(5))
    for A, b, x, stats in zip(shuffled, rhs, result.x, result.stats):
        assert_solves(A, x, b, 1e-9)
        assert stats.preconditioner_applications > 0
    assert result.matvecs == sum(s.matvecs for s in result.stats)
    unsorted = pynla.solve_sequence(shuffled, rhs[0], method=method, sort=False, rtol=1e-9)
    assert_array_equal(unsorted.order, np.arange(5))
    for A, x in zip(shuffled, unsorted.x):
        assert_solves(A, x, rhs[0], 1e-9)


def test_solve_sequence_bad_input(rng):
    sequence = spd_sequence(rng, 2, N=4)
    with pytest.raises(ValueError, match="method"):
        pynla.solve_sequence(sequence, np.ones(16), method="bicg")
    with pytest.raises(ValueError, match="rhs has shape"):
        pynla.solve_sequence(sequence, np.ones((3, 16)))
    with pytest.raises(ValueError, match="empty"):
        pynla.solve_sequence([], np.ones(16))
    with pytest.raises(ValueError, match="features="):
        pynla.solve_sequence([spla.aslinearoperator(A) for A in sequence], np.ones(16))
