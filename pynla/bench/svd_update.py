"""Truncated-SVD updating cases (``python -m pynla.bench svd-update``): keeping a rank-64 SVD of
a growing sparse matrix current, against incsvd (the reference code of Deng et al., ICLR 2024)
and against recomputing the SVD with SciPy's ``svds``.

Inputs
------
A term-document matrix: Zipf-distributed columns (exponent 1.1), 50 draws a row (repeats add
up, values log(1 + count)), 20000 x 10000 at the start (80000 x 40000 with ``--full``). The
initial factors are ``svds(A, 64)`` for every implementation. Blocks of 100 rows (nnz about
5000) and of 2000 rows (about 100000), drawn the same way.

Cases
-----
rows+p METHOD vs incsvd    N updates by blocks of p rows, from the same factors; anchor:
                           incsvd's same method (ZhaSimon, GKL, RPI) with the same l (64)
                           and t (2). The table notes the largest relative error of the 64
                           singular values against ``svds`` of the final matrix, for both.
rows+p METHOD vs recompute N updates; anchor: ``svds`` of the matrix after each update (what a
                           user without updating does); peer: ``pynla.randomized_svd`` after
                           each update. Same error note. (exact on 2000-row blocks: ``--full``.)
graph growth               a power-law graph (R-MAT, 2^15 vertices, symmetrized) whose
                           adjacency grows by 100 vertices an update (their rows, then their
                           columns); anchor: incsvd ZhaSimon (add_row, then add_column).
flat 2x                    pynla exact on blocks of 100 rows (5000 nonzeros): the anchor on
                           the 20000 x 10000 matrix, pynla on one of twice the rows and
                           columns (ratio 1: the update's cost does not grow with m and n).

Every call starts from a copy of the initial factors (inside the timed call, for every
implementation alike: a few ms against tens to thousands).
"""

import contextlib
import functools
import io

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pynla.bench.matrices import rmat
from pynla.bench.timing import Case, Implementation

THREADS = 2
SEED = 20_261_206
K = 64
ZIPF_EXPONENT = 1.1
DRAWS_PER_ROW = 50
L = 64
T = 2
#: pynla's error may exceed the anchor's by this factor (plus rounding) and still count as equal.
ERROR_SLACK = 1.1

_INCSVD_METHODS = {"exact": "ZhaSimon", "gkl": "GKL", "rpi": "RPI"}


# ---------------------------------------------------------------------------------------------
# Inputs


def zipf_rows(rng, n_rows, n_cols):
    """n_rows rows of DRAWS_PER_ROW Zipf-distributed column draws each (repeats add up),
    values log(1 + count): a term-document matrix."""
    weights = 1.0 / np.arange(1, n_cols + 1) ** ZIPF_EXPONENT
    cols = rng.choice(n_cols, size=n_rows * DRAWS_PER_ROW, p=weights / weights.sum())
    rows = np.repeat(np.arange(n_rows), DRAWS_PER_ROW)
    A = sp.csr_array((np.ones(len(cols)), (rows, cols)), shape=(n_rows, n_cols))
    A.sum_duplicates()
    A.data = np.log1p(A.data)
    return A


@functools.cache
def term_document(m, n, block_rows, n_blocks):
    """(A, blocks): the initial matrix and the blocks that arrive."""
    rng = np.random.default_rng(SEED + m + block_rows)
    return zipf_rows(rng, m, n), tuple(zipf_rows(rng, block_rows, n) for _ in range(n_blocks))


def initial_factors(A):
    """svds(A, K), largest first."""
    U, s, Vt = spla.svds(A, K, random_state=SEED)
    order = np.argsort(-s)
    return U[:, order], s[order], Vt[order]


@functools.cache
def _rows_inputs(m, n, block_rows, n_blocks):
    """(A, blocks, the initial factors of A)."""
    A, blocks = term_document(m, n, block_rows, n_blocks)
    return A, blocks, initial_factors(A)


@functools.cache
def graph(n_vertices=1 << 15, start=30_000, step=100, n_steps=5):
    """(A0, steps): the symmetrized R-MAT graph's first ``start`` vertices, then the row block
    and column block of each ``step`` vertices that join."""
    G = rmat(15, 15, 8 << 15, (0.45, 0.22, 0.22, 0.11), SEED, self_loops=False)
    G = ((G + G.T) * 0.5).tocsr()
    steps = []
    for i in range(n_steps):
        n = start + i * step
        steps.append((G[n:n + step, :n].tocsr(), G[:n + step, n:n + step].tocsc()))
    return G[:start, :start].tocsr(), tuple(steps)


def exact_singular_values(A):
    """The K largest singular values of A, to rounding (ARPACK at tol 0)."""
    return np.sort(spla.svds(A, K, tol=0, random_state=SEED, return_singular_vectors=False))[::-1]


# ---------------------------------------------------------------------------------------------
# Implementations: each runs a sequence of updates from copies of the initial factors and
# returns the final singular values


def _pynla_rows(factors, blocks, method):
    import pynla

    start = pynla.IncrementalSVD(*factors, rng=SEED)
    options = {} if method == "exact" else {"l": L} if method == "gkl" else {"l": L, "t": T}

    def run():
        svd = start.copy()
        for block in blocks:
            svd.add_rows(block, method=method, **options)
        return svd.s

    return run


def _incsvd(factors):
    """incsvd's EvolvingMatrix on the given factors (its constructor's own svds is skipped)."""
    from IncSVD.EvolvingMatrix import EvolvingMatrix

    U, s, Vt = factors
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the shapes it sets up
        placeholder = sp.csr_matrix(np.random.default_rng(SEED).standard_normal((2 * K, 2 * K)))
        matrix = EvolvingMatrix(placeholder, K, sparse=True, method="ZhaSimon")
    matrix._m, matrix._n = U.shape[0], Vt.shape[1]
    matrix._Uk, matrix._sigmak, matrix._Vk = U.copy(), s.copy(), Vt.T.copy()
    return matrix


def _incsvd_rows(factors, blocks, method):
    name = _INCSVD_METHODS[method]
    l, t = (None, None) if method == "exact" else (L, None) if method == "gkl" else (L, T)
    blocks = [sp.csr_matrix(block) for block in blocks]

    def run():
        matrix = _incsvd(factors)
        matrix._method = matrix._method_dict[name]
        for block in blocks:
            matrix.add_row(block, l=l, t=t)
        return np.sort(matrix.Sigmak)[::-1]

    return run


def _incsvd_unavailable():
    try:
        import IncSVD.EvolvingMatrix  # noqa: F401
    except ImportError:
        return "not installed (pip install incsvd)"
    return None


def _grown(A, blocks):
    """The matrix after each block."""
    matrices = []
    for block in blocks:
        A = sp.vstack([A, block]).tocsr()
        matrices.append(A)
    return matrices


def _recompute(A, blocks):
    matrices = _grown(A, blocks)

    def run():
        for A in matrices:
            s = spla.svds(A, K, random_state=SEED, return_singular_vectors=False)
        return np.sort(s)[::-1]

    return run


def _recompute_randomized(A, blocks):
    import pynla

    matrices = _grown(A, blocks)

    def run():
        for A in matrices:
            s = pynla.randomized_svd(A, K, rng=SEED)[1]
        return s

    return run


# ---------------------------------------------------------------------------------------------
# Cases


#: Against recomputing (exact), an update's error is the truncation's: it is reported, and
#: only an error above this fails the check.
RECOMPUTE_ERROR_BOUND = 1e-2


def _error_compare(final, against_exact=False):
    """compare(): each answer's largest relative error against the exact singular values of the
    final matrix; pynla's may not exceed the anchor's by more than ERROR_SLACK (or, against
    an exact anchor, RECOMPUTE_ERROR_BOUND)."""
    exact = functools.cache(lambda: exact_singular_values(final()))

    def error(s):
        return float(np.abs(np.asarray(s) - exact()).max() / exact()[0])

    def compare(expected, got, explicit_zeros=False):
        theirs, ours = error(expected), error(got)
        note = f"sigma error {ours:.1e} (anchor {theirs:.1e})"
        bound = RECOMPUTE_ERROR_BOUND if against_exact else ERROR_SLACK * theirs + 1e-12
        if not ours <= bound:
            return f"sigma error {ours:.1e} above the anchor's {theirs:.1e}", None
        return None, note

    return compare


def _run(run):
    return run()


def _implementation(name, runner, **options):
    """An implementation whose prepare builds ``runner(*inputs)``, a function of no arguments
    that runs the sequence (the timed call)."""
    return Implementation(name, _run, threads=THREADS, prepare=lambda *inputs: (runner(*inputs),), **options)


def _rows_case(m, n, block_rows, n_blocks, method, anchor):
    if anchor == "incsvd":
        anchor_impl = _implementation(f"incsvd {_INCSVD_METHODS[method]}",
                                      lambda A, blocks, factors: _incsvd_rows(factors, blocks, method),
                                      unavailable=_incsvd_unavailable)
        peers = ()
    else:
        anchor_impl = _implementation("svds each", lambda A, blocks, factors: _recompute(A, blocks))
        peers = (_implementation("pynla randomized_svd each",
                                 lambda A, blocks, factors: _recompute_randomized(A, blocks)),)
    final = functools.cache(lambda: sp.vstack([*term_document(m, n, block_rows, n_blocks)[:1],
                                               *term_document(m, n, block_rows, n_blocks)[1]]).tocsr())
    return Case(name=f"svd-update rows+{block_rows} {method} x{n_blocks} {m}x{n} k={K} vs {anchor}",
                setup=lambda: _rows_inputs(m, n, block_rows, n_blocks), anchor=anchor_impl,
                implementations=(_implementation("pynla", lambda A, blocks, factors: _pynla_rows(factors, blocks,
                                                                                                 method)), *peers),
                compare=_error_compare(final, against_exact=anchor == "recompute"), nbytes=lambda s: (m + n) * K * 8)


@functools.cache
def _graph_inputs():
    A0, steps = graph()
    return A0, steps, initial_factors(A0)


def _pynla_graph(A0, steps, factors):
    import pynla

    start = pynla.IncrementalSVD(*factors, rng=SEED)

    def run():
        svd = start.copy()
        for rows, cols in steps:
            svd.add_rows(rows)
            svd.add_columns(cols)
        return svd.s

    return run


def _incsvd_graph(A0, steps, factors):
    steps = [(sp.csr_matrix(rows), sp.csc_matrix(cols)) for rows, cols in steps]

    def run():
        matrix = _incsvd(factors)
        for rows, cols in steps:
            matrix.add_row(rows)
            matrix.add_column(cols)
        return np.sort(matrix.Sigmak)[::-1]

    return run


def _graph_case():
    def final():
        A, steps = graph()
        for rows, cols in steps:
            A = sp.hstack([sp.vstack([A, rows]), cols]).tocsr()
        return A

    return Case(name=f"svd-update graph growth +100 vertices x5 k={K} vs incsvd", setup=_graph_inputs,
                anchor=_implementation("incsvd ZhaSimon", _incsvd_graph, unavailable=_incsvd_unavailable),
                implementations=(_implementation("pynla", _pynla_graph),),
                compare=_error_compare(functools.cache(final)), nbytes=lambda s: 2 * (1 << 15) * K * 8)


def _flat_case(m, n, n_blocks):
    def compare(expected, got, explicit_zeros=False):
        return None, "different matrices: the ratio is the point"

    def runner(scale):
        return lambda: _pynla_rows(_rows_inputs(scale * m, scale * n, 100, n_blocks)[2],
                                   term_document(scale * m, scale * n, 100, n_blocks)[1], "exact")

    return Case(name=f"svd-update rows+100 exact x{n_blocks} flat: {m}x{n} -> {2 * m}x{2 * n}", setup=lambda: (),
                anchor=_implementation(f"pynla {m}x{n}", runner(1)),
                implementations=(_implementation(f"pynla {2 * m}x{2 * n}", runner(2)),),
                compare=compare, nbytes=lambda s: 2 * (m + n) * K * 8)


def cases(full=False):
    m, n = (80_000, 40_000) if full else (20_000, 10_000)
    updates = 3 if full else 2  # per call of the cases against recomputing or on 2000-row blocks
    small = [_rows_case(m, n, 100, 10, method, "incsvd") for method in ("exact", "gkl", "rpi")]
    recompute_small = [_rows_case(m, n, 100, updates, "exact", "recompute")]
    large = [_rows_case(m, n, 2000, updates, method, "incsvd") for method in ("gkl", "rpi")]
    # exact on 2000-row blocks costs about 3 s an update (its dense step is of order k + 2000):
    # with --full only, to keep the default run short.
    large_methods = ("exact", "gkl", "rpi") if full else ("gkl", "rpi")
    recompute_large = [_rows_case(m, n, 2000, updates, method, "recompute") for method in large_methods]
    return [*small, *recompute_small, *large, *recompute_large, _graph_case(), _flat_case(m, n, 10)]
