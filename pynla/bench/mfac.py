"""M-FAC cases: the inverse of the damped empirical Fisher of m float32 gradients of dimension d
(``python -m pynla.bench mfac``; d = 10^5 by default, 10^6 with ``--full``), m = 1024.

Cases
-----
mfac setup       FisherInverse(G, damping). Anchor: the same algebra in NumPy's BLAS-3 form
                 (``G @ G.T``, then ``np.linalg.cholesky``); peers: SciPy's ``cho_factor`` on
                 the same Gram matrix, and (``--full``) M-FAC's per-gradient recursion in NumPy.
                 Each answer is checked by its F^-1 x for one x.
mfac F^-1 x      one product. Anchor: NumPy's ``(x - G.T @ cho_solve(K, G @ x)) / damping``;
                 floor: one read of G (``G @ x``): the product reads G twice.
mfac F^-1 X(32)  32 vectors at once: two BLAS-3 products; same anchor.
mfac update      SlidingFisherInverse.update on a full window of m gradients (the gradient
                 that leaves comes back in, so F stays the same and answers can be checked).
                 Anchor: setting FisherInverse up from scratch on the window.
mfac blocked     the pruning setting: d = 10^6, m = 64, blocks of 128 coordinates
                 (``block_size=128``): set-up and one product. Anchor: NumPy's batched form
                 (one batched matmul for the blocks' Gram matrices, batched inverses, batched
                 products); floor of the product: one read of G.
"""

import numpy as np
import scipy.linalg as sl

from pynla.bench.timing import Case, Implementation, blas_threads

THREADS = 2
SEED = 20_261_206
M = 1024
DAMPING = 1e-4
N_VECTORS = 32


def gradients(d, m=M):
    rng = np.random.default_rng(SEED)
    return rng.standard_normal((m, d), dtype=np.float32)


def _probe(d):
    return np.random.default_rng(SEED + 1).standard_normal(d).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Implementations of the set-up: each returns a function x -> F^-1 x


def _numpy_setup(G):
    K = G @ G.T
    K[np.diag_indices_from(K)] += DAMPING * G.shape[0]
    L = np.linalg.cholesky(K)
    return lambda x: (x - G.T @ sl.cho_solve((L, True), G @ x)) / DAMPING


def _scipy_setup(G):
    K = G @ G.T
    K[np.diag_indices_from(K)] += DAMPING * G.shape[0]
    factor = sl.cho_factor(K, overwrite_a=True, check_finite=False)
    return lambda x: (x - G.T @ sl.cho_solve(factor, G @ x, check_finite=False)) / DAMPING


def _recursion_setup(G):
    """M-FAC's Algorithm 1: v_i = F_(i-1)^-1 g_i from the earlier v's, kept as rows of V."""
    m, d = G.shape
    V = np.empty_like(G)
    denominators = np.empty(m, dtype=np.float64)
    for i in range(m):
        g = G[i]
        v = g / DAMPING - V[:i].T @ ((V[:i] @ g) / denominators[:i]).astype(G.dtype)
        V[i] = v
        denominators[i] = m + float(g @ v)
    return lambda x: x / DAMPING - V.T @ ((V @ x) / denominators).astype(G.dtype)


def _pynla_setup(G):
    import pynla

    operator = pynla.FisherInverse(G, DAMPING)
    return lambda x: operator @ x


def _checked_by_probe(d):
    probe = _probe(d)

    def compare(expected, got, explicit_zeros=False):
        want, have = expected(probe), got(probe)
        error = float(np.linalg.norm(have - want) / np.linalg.norm(want))
        if not error <= 1e-3:
            return f"F^-1 x differs from the anchor's by {error:.1e} (relative)", None
        return None, f"F^-1 x within {error:.1e} of the anchor's"

    return compare


def _compare_arrays(expected, got, explicit_zeros=False):
    error = float(np.linalg.norm(got - expected) / np.linalg.norm(expected))
    if not error <= 1e-3:
        return f"relative difference {error:.1e} from the anchor", None
    return None, f"within {error:.1e} of the anchor"


def _nbytes(answer):
    return np.asarray(answer).nbytes if not callable(answer) else M * M * 8


def _pynla(call, **options):
    """pynla's implementation: its threads and the BLAS's (which its set-up and small solves
    use) at THREADS, after the same pause as every other implementation of the case gets for
    the BLAS threads of the previous call to settle."""
    return Implementation("pynla", call, threads=THREADS, activate=blas_threads(THREADS), **options)


# ---------------------------------------------------------------------------------------------
# Cases


def _setup_case(d, full):
    peers = [Implementation("scipy cho_factor", _scipy_setup, threads=THREADS, activate=blas_threads(THREADS))]
    if full:
        peers.append(Implementation("recursion", _recursion_setup, threads=THREADS, activate=blas_threads(THREADS)))
    return Case(name=f"mfac setup m={M} d={d:.0e}", setup=lambda: (gradients(d),),
                anchor=Implementation("numpy", _numpy_setup, threads=THREADS, activate=blas_threads(THREADS)),
                implementations=(_pynla(_pynla_setup), *peers), compare=_checked_by_probe(d), nbytes=_nbytes)


def _product_case(d, n_vectors):
    def setup():
        G = gradients(d)
        rng = np.random.default_rng(SEED + 2)
        X = rng.standard_normal((d, n_vectors) if n_vectors > 1 else d).astype(np.float32)
        return G, X

    def prepare_anchor(G, X):
        return _numpy_setup(G), X

    def prepare_pynla(G, X):
        import pynla

        return pynla.FisherInverse(G, DAMPING), X

    label = "x" if n_vectors == 1 else f"X({n_vectors})"
    floor = ()
    if n_vectors == 1:
        floor = (Implementation("one read of G", lambda G, X: G @ X, threads=THREADS, activate=blas_threads(THREADS),
                                floor=True),)
    return Case(name=f"mfac F^-1 {label} m={M} d={d:.0e}", setup=setup,
                anchor=Implementation("numpy", lambda apply, X: apply(X), threads=THREADS,
                                      prepare=prepare_anchor, activate=blas_threads(THREADS)),
                implementations=(_pynla(lambda operator, X: operator @ X, prepare=prepare_pynla), *floor),
                compare=_compare_arrays, nbytes=_nbytes)


def _update_case(d):
    def prepare_pynla(G):
        import pynla

        window = pynla.SlidingFisherInverse(G.shape[1], G.shape[0], DAMPING)
        for g in G:
            window.update(g)
        return (window,)

    def update(window):  # the leaving gradient comes back in: the same F, another order
        window.update(window.gradient(0))
        return lambda x: window @ x

    return Case(name=f"mfac update m={M} d={d:.0e}", setup=lambda: (gradients(d),),
                anchor=Implementation("from scratch", _pynla_setup, threads=THREADS,
                                      activate=blas_threads(THREADS)),
                implementations=(_pynla(update, prepare=prepare_pynla),), compare=_checked_by_probe(d),
                nbytes=_nbytes)


def _numpy_blocked_setup(G, block):
    """The blocked inverse in NumPy's batched form: the full blocks' Gram matrices by one
    batched matmul and their Cholesky factors by one batched call; the last, shorter block
    apart."""
    m, d = G.shape
    full = (d // block) * block
    stacked = G[:, :full].reshape(m, -1, block).transpose(1, 0, 2)  # (blocks, m, block) view
    K = stacked @ stacked.transpose(0, 2, 1)
    K += DAMPING * m * np.eye(m, dtype=G.dtype)
    inverses = np.linalg.inv(K)
    tail = G[:, full:]
    tail_inverse = np.linalg.inv(tail @ tail.T + DAMPING * m * np.eye(m, dtype=G.dtype)) if tail.shape[1] else None

    def apply(x):
        blocks = x[:full].reshape(-1, block, 1)
        W = inverses @ (stacked @ blocks)
        y = np.empty_like(x)
        y[:full] = (blocks - stacked.transpose(0, 2, 1) @ W).reshape(-1) / DAMPING
        if tail_inverse is not None:
            y[full:] = (x[full:] - tail.T @ (tail_inverse @ (tail @ x[full:]))) / DAMPING
        return y

    return apply


def _blocked_case(d, m, block):
    def pynla_setup(G):
        import pynla

        operator = pynla.FisherInverse(G, DAMPING, block_size=block)
        return lambda x: operator @ x

    return Case(name=f"mfac blocked setup m={m} d={d:.0e} block={block}", setup=lambda: (gradients(d, m),),
                anchor=Implementation("numpy batched", lambda G: _numpy_blocked_setup(G, block), threads=THREADS,
                                      activate=blas_threads(THREADS)),
                implementations=(_pynla(pynla_setup),), compare=_checked_by_probe(d), nbytes=_nbytes)


def _blocked_product_case(d, m, block):
    def prepare_anchor(G, x):
        return _numpy_blocked_setup(G, block), x

    def prepare_pynla(G, x):
        import pynla

        return pynla.FisherInverse(G, DAMPING, block_size=block), x

    return Case(name=f"mfac blocked F^-1 x m={m} d={d:.0e} block={block}",
                setup=lambda: (gradients(d, m), _probe(d)),
                anchor=Implementation("numpy batched", lambda apply, x: apply(x), threads=THREADS,
                                      prepare=prepare_anchor, activate=blas_threads(THREADS)),
                implementations=(_pynla(lambda operator, x: operator @ x, prepare=prepare_pynla),
                                 Implementation("one read of G", lambda G, x: G @ x, threads=THREADS,
                                                activate=blas_threads(THREADS), floor=True)),
                compare=_compare_arrays, nbytes=_nbytes)


def cases(full=False):
    d = 1_000_000 if full else 100_000
    return [_setup_case(d, full), _product_case(d, 1), _product_case(d, N_VECTORS), _update_case(d),
            _blocked_case(1_000_000, 64, 128), _blocked_product_case(1_000_000, 64, 128)]
