"""Krylov recycling cases (``python -m pynla.bench krylov``): sequences of 20 related sparse
systems solved one after another, against SciPy's solvers on each system.

Inputs
------
darcy N^2     -div(a grad u) = 1 on the unit square, zero Dirichlet, 5-point finite volumes
              (harmonic means of a on the faces), N = 128 (256 with ``--full``). The fields
              are log-normal: a = exp(cos t g1 + sin t g2), g1 and g2 standard Gaussian random
              fields (correlation length 0.1), t uniform on [0, 2 pi): one family of fields
              with the same marginal law, met in random order, as when a parameter space is
              sampled to generate training data. Jacobi preconditioner, rtol 1e-8.
convection    -Laplace u + v . grad u (upwind), N = 128, |v| = 60 turning through a random
              angle per system: nonsymmetric, where CG does not apply. Jacobi, rtol 1e-8.

Cases
-----
... gmres       anchor: SciPy ``gmres(restart=40)`` per system; peers: SciPy ``gcrotmk`` with
                its ``CU`` carried from system to system (m = 40 - K, k = K: the same recycled
                size as pynla's), and ``pynla.solve_sequence(method="gcrodr", m=40, k=K)``
                (sorted). The note gives each one's products with A, against the anchor's.
... cg          anchor: SciPy ``cg`` per system; peer: ``solve_sequence(method="cg")``.

SciPy's solvers run on one BLAS thread, their fastest setting here (twice as fast as two on
these vector lengths); pynla on 2 threads. Every solution is checked on its true residual (``||b - A x|| <= 1e-8 ||b||``, times 1.01
for SciPy's own stopping test on preconditioned residuals where it uses one). Products with A
are counted once per case by an untimed run of each implementation through a counting
operator (pynla's own counts agree: see its tests).
"""

import functools

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pynla.bench.timing import Case, Implementation, blas_threads

THREADS = 2
SEED = 20_261_206
N_SYSTEMS = 20
RTOL = 1e-8
#: Recycled columns: GCRO-DR's k (of m = 40) and gcrotmk's k; RecyclingCG's k and m.
K_GMRES = 10
M_GMRES = 40
K_CG, M_CG = 10, 80
#: SciPy stops on its own residual estimates; their true residual may exceed rtol by this.
RESIDUAL_SLACK = 1.01

# ---------------------------------------------------------------------------------------------
# Inputs


def gaussian_field(rng, N, length=0.1, smoothness=2.0):
    """A standard Gaussian random field on an N x N grid: white noise filtered by the spectrum
    (1 + (2 pi length |k|)^2)^-smoothness (Matern-like), scaled to zero mean, unit variance."""
    k = np.fft.fftfreq(N, d=1.0 / N)
    spectrum = (1 + (2 * np.pi * length) ** 2 * (k[:, None] ** 2 + k[None, :] ** 2)) ** (-smoothness)
    field = np.fft.ifft2(np.fft.fft2(rng.standard_normal((N, N))) * np.sqrt(spectrum)).real
    return (field - field.mean()) / field.std()


def darcy_matrix(a):
    """-div(a grad u) with zero Dirichlet data: 5-point finite volumes on the N x N cells of the
    unit square, face coefficients the harmonic means of a (CSR, scaled by (N + 1)^2)."""
    N = a.shape[0]
    east = 2 * a[:, :-1] * a[:, 1:] / (a[:, :-1] + a[:, 1:])
    south = 2 * a[:-1, :] * a[1:, :] / (a[:-1, :] + a[1:, :])
    diagonal = np.zeros((N, N))
    diagonal[:, :-1] += east
    diagonal[:, 1:] += east
    diagonal[:-1, :] += south
    diagonal[1:, :] += south
    diagonal[:, 0] += a[:, 0]
    diagonal[:, -1] += a[:, -1]
    diagonal[0, :] += a[0, :]
    diagonal[-1, :] += a[-1, :]
    cell = np.arange(N * N).reshape(N, N)
    rows = [cell, cell[:, :-1], cell[:, 1:], cell[:-1, :], cell[1:, :]]
    cols = [cell, cell[:, 1:], cell[:, :-1], cell[1:, :], cell[:-1, :]]
    values = [diagonal, -east, -east, -south, -south]
    flat = [np.concatenate([v.ravel() for v in group]) for group in (rows, cols, values)]
    return sp.csr_array((flat[2] * (N + 1.0) ** 2, (flat[0], flat[1])), shape=(N * N, N * N))


def convection_matrix(N, velocity):
    """-Laplace u + v . grad u on the N x N interior grid, upwind differences."""
    h = 1.0 / (N + 1)
    T = sp.diags_array([-1.0, 2.0, -1.0], offsets=[-1, 0, 1], shape=(N, N))
    I = sp.eye_array(N)
    forward = sp.diags_array([-1.0, 1.0], offsets=[0, 1], shape=(N, N))
    backward = sp.diags_array([-1.0, 1.0], offsets=[-1, 0], shape=(N, N))
    vx, vy = velocity
    dx = backward if vx >= 0 else forward
    dy = backward if vy >= 0 else forward
    return ((sp.kron(T, I) + sp.kron(I, T)) / h**2 + (vx * sp.kron(I, dx) + vy * sp.kron(dy, I)) / h).tocsr()


@functools.cache
def darcy_sequence(N):
    """(matrices, right-hand sides): N_SYSTEMS Darcy systems in random order of t."""
    rng = np.random.default_rng(SEED + N)
    g1, g2 = gaussian_field(rng, N), gaussian_field(rng, N)
    angles = rng.uniform(0, 2 * np.pi, N_SYSTEMS)
    matrices = tuple(darcy_matrix(np.exp(np.cos(t) * g1 + np.sin(t) * g2)) for t in angles)
    return matrices, np.ones((N_SYSTEMS, N * N))


@functools.cache
def convection_sequence(N):
    rng = np.random.default_rng(SEED + 7 * N)
    angles = rng.uniform(0, 2 * np.pi, N_SYSTEMS)
    matrices = tuple(convection_matrix(N, (60 * np.cos(t), 60 * np.sin(t))) for t in angles)
    return matrices, np.ones((N_SYSTEMS, N * N))


def jacobi(A):
    return sp.diags_array(1.0 / A.diagonal(), format="csr")


# ---------------------------------------------------------------------------------------------
# Implementations: each solves the whole sequence and returns the solutions in order


class _Counted(spla.LinearOperator):
    """A's products, counted (for the untimed counting runs)."""

    def __init__(self, A, counter):
        super().__init__(dtype=A.dtype, shape=A.shape)
        self.A, self.counter = A, counter

    def _matvec(self, x):
        self.counter[0] += 1
        return self.A @ x

    def _matmat(self, X):
        self.counter[0] += X.shape[1]
        return self.A @ X


def _scipy_gmres(matrices, rhs):
    return [spla.gmres(A, b, rtol=RTOL, atol=0.0, restart=M_GMRES, maxiter=1000, M=_jacobi_of(A))[0]
            for A, b in zip(matrices, rhs)]


def _scipy_gcrotmk(matrices, rhs):
    carried = []
    solutions = []
    for A, b in zip(matrices, rhs):
        carried[:] = [(None, u) for _, u in carried]  # C = A U is for the previous A
        solutions.append(spla.gcrotmk(A, b, rtol=RTOL, atol=0.0, m=M_GMRES - K_GMRES, k=K_GMRES, CU=carried,
                                      maxiter=1000, M=_jacobi_of(A))[0])
    return solutions


def _scipy_cg(matrices, rhs):
    return [spla.cg(A, b, rtol=RTOL, atol=0.0, maxiter=10 * A.shape[0], M=_jacobi_of(A))[0]
            for A, b in zip(matrices, rhs)]


def _pynla(method, **options):
    def run(matrices, rhs):
        import pynla

        features = [A.A if isinstance(A, _Counted) else A for A in matrices]
        result = pynla.solve_sequence(matrices, rhs, method=method, rtol=RTOL, M=_jacobi_of, features=features,
                                      **options)
        return list(result.x)

    return run


def _counted_products(solve, matrices, rhs):
    """Products with A of one untimed run of ``solve`` through counting operators."""
    counter = [0]
    solve([_Counted(A, counter) for A in matrices], rhs)
    return counter[0]


def _jacobi_of(A):
    """jacobi() for a counting operator's matrix too."""
    return jacobi(A.A if isinstance(A, _Counted) else A)


# ---------------------------------------------------------------------------------------------
# Cases


class _Answer(list):
    """The solutions, and the products with A the implementation took (counted untimed)."""

    products = None


def _implementation(name, solve):
    # SciPy's solvers are fastest on one BLAS thread (their vector operations are too short to
    # share: cg on the Darcy sequence takes 1.1 s on one, 2.5 s on two), so they get one;
    # pynla gets 2 threads (and holds one BLAS thread itself inside a solve).
    threads = THREADS if name.startswith("pynla") else 1
    counts = {}

    def call(matrices, rhs):
        answer = _Answer(solve(matrices, rhs))
        answer.products = counts.get(name)  # a dictionary look-up: nothing to time
        return answer

    def prepare(matrices, rhs):
        if name not in counts:
            counts[name] = _counted_products(solve, matrices, rhs)
        return matrices, rhs

    # Every implementation runs BLAS (SciPy's vector operations, pynla's small dense steps):
    # each starts after the previous one's BLAS threads have settled.
    return Implementation(name, call, threads=threads, prepare=prepare, activate=blas_threads(threads))


def _compare(sequence):
    def compare(expected, got, explicit_zeros=False):
        matrices, rhs = sequence()
        worst = max(np.linalg.norm(b - A @ x) / np.linalg.norm(b) for A, b, x in zip(matrices, rhs, got))
        if not worst <= RTOL * RESIDUAL_SLACK:
            return f"a true residual of {worst:.1e} (rtol {RTOL:.0e})", None
        if expected.products and got.products:
            ratio = got.products / expected.products
            return None, f"{got.products:,} products with A, {ratio:.2f}x the anchor's {expected.products:,}"
        return None, None

    return compare


def _case(name, sequence, anchor, peers):
    return Case(name=name, setup=sequence, anchor=_implementation(*anchor),
                implementations=tuple(_implementation(*peer) for peer in peers),
                compare=_compare(sequence), nbytes=lambda answer: sum(x.nbytes for x in answer))


def cases(full=False):
    sizes = (128, 256) if full else (128,)
    result = []
    for N in sizes:
        darcy = functools.partial(darcy_sequence, N)
        result.append(_case(f"krylov darcy {N}^2 x{N_SYSTEMS} gmres", darcy, ("scipy gmres(40)", _scipy_gmres),
                            [(f"scipy gcrotmk+CU k={K_GMRES}", _scipy_gcrotmk),
                             (f"pynla gcrodr({M_GMRES},{K_GMRES})", _pynla("gcrodr", m=M_GMRES, k=K_GMRES))]))
        result.append(_case(f"krylov darcy {N}^2 x{N_SYSTEMS} cg", darcy, ("scipy cg", _scipy_cg),
                            [(f"pynla cg k={K_CG}", _pynla("cg", k=K_CG, m=M_CG))]))
    convection = functools.partial(convection_sequence, 128)
    result.append(_case(f"krylov convection 128^2 x{N_SYSTEMS} gmres", convection, ("scipy gmres(40)", _scipy_gmres),
                        [(f"scipy gcrotmk+CU k={K_GMRES}", _scipy_gcrotmk),
                         (f"pynla gcrodr({M_GMRES},{K_GMRES})", _pynla("gcrodr", m=M_GMRES, k=K_GMRES))]))
    return result
