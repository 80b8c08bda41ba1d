"""Reproducible test matrices for the benchmarks.

Every generator is deterministic (fixed seeds), vectorised (NumPy/SciPy only, no Python loop
over rows or entries), downloads nothing, and returns a ``scipy.sparse.csr_array`` with
float64 values, int32 indices, sorted column indices and no duplicates.

Families
--------
poisson2d(n)
    5-point Laplacian on an n x n grid (PDE, very regular, 5 entries a row).
elasticity2d(n)
    Plane-stress linear elasticity on an n x n grid of bilinear quads, 2 dofs a node
    (finite elements, up to 18 entries a row).
stencil27(n)
    27-point stencil on an n x n x n grid (3D PDE, 27 entries a row).
smoothed_aggregation(A, aggregates, ...), grid_aggregates(shape, size)
    A prolongation P as algebraic multigrid builds one (Galerkin products P^T A P), on
    aggregates that are boxes of a grid's nodes.
rmat(...), rmat_rectangular(...), rmat_square(...), graph500(...)
    R-MAT / Kronecker random graphs, square or rectangular (power-law degrees: a few hub
    rows and columns make products "explode").

Sizes used by ``python -m pynla.bench spgemm`` (``--full`` and default). flops is
``sum_k nnz(A[:, k]) * nnz(B[k, :])``, the multiply-adds of a row-wise product; SciPy is one
run of ``A @ B`` on the 2-core benchmark machine:

=====================================  =========  =======  =======  =======  =======
product                                rows       nnz(A)   nnz(C)   flops    SciPy
=====================================  =========  =======  =======  =======  =======
poisson2d(1000) squared                1,000,000  4.996M   12.98M   24.96M   0.16 s
elasticity2d(499) squared              500,000    8.48M    24.14M   143.9M   0.41 s
stencil27(80) squared                  512,000    13.48M   61.16M   357.9M   1.60 s
rmat_rectangular(18, 16) times A^T     262,144    1.31M    142.96M  150.0M   5.19 s
rmat_square(18) squared                262,144    2.62M    177.69M  186.8M   5.80 s
graph500(16) squared                   65,536     0.956M   163.71M  399.8M   6.88 s
poisson2d(500) squared                 250,000    1.25M    3.24M    6.23M    0.02 s
elasticity2d(249) squared              125,000    2.11M    6.01M    35.81M   0.09 s
stencil27(40) squared                  64,000     1.64M    7.30M    42.88M   0.10 s
rmat_rectangular(15, 13) times A^T     32,768     0.163M   11.85M   13.24M   0.15 s
rmat_square(14) squared                16,384     0.163M   6.24M    7.33M    0.08 s
graph500(13) squared                   8,192      0.111M   7.02M    19.11M   0.16 s
=====================================  =========  =======  =======  =======  =======
"""

import numpy as np
import scipy.sparse as sp

__all__ = [
    "poisson2d",
    "elasticity2d",
    "stencil27",
    "rmat",
    "rmat_rectangular",
    "rmat_square",
    "graph500",
    "uniform_random",
    "smoothed_aggregation",
    "grid_aggregates",
    "product_flops",
    "csr_nbytes",
]

#: Seeds are fixed per family so that any generator call is reproducible on its own.
SEED_RMAT_RECTANGULAR = 20_180_416
SEED_RMAT_SQUARE = 31_415_926
SEED_GRAPH500 = 27_182_818
SEED_UNIFORM = 16_180_339


def _canonical_csr(A):
    """float64 values, int32 indices (when they fit), sorted, no duplicates."""
    A = sp.csr_array(A, dtype=np.float64)
    A.sum_duplicates()  # also sorts the indices
    if max(A.shape) < 2**31 and A.nnz < 2**31:
        A.indices = A.indices.astype(np.int32, copy=False)
        A.indptr = A.indptr.astype(np.int32, copy=False)
    return A


def _tridiagonal(n, lower, diagonal, upper):
    return sp.diags_array([lower, diagonal, upper], offsets=[-1, 0, 1], shape=(n, n), format="csr")


def poisson2d(n):
    """5-point Laplacian on an ``n x n`` grid (Dirichlet boundary), shape ``(n*n, n*n)``.

    ``kron(I, T) + kron(T, I)`` with ``T = tridiag(-1, 2, -1)``: 4 on the diagonal, -1 for
    each grid neighbour. nnz = 5 n^2 - 4 n. ``poisson2d(1000)``: 1M rows, 4.99M entries.
    """
    T = _tridiagonal(n, -1.0, 2.0, -1.0)
    I = sp.identity(n, format="csr")
    return _canonical_csr(sp.kron(I, T, format="csr") + sp.kron(T, I, format="csr"))


def stencil27(n):
    """27-point stencil on an ``n x n x n`` grid, shape ``(n**3, n**3)``.

    26 on the diagonal and -1 for each of the (up to) 26 neighbours of a grid point in the
    3 x 3 x 3 cube around it (the 27-point Laplacian of e.g. HPCG): ``27 I - kron(S, S, S)``
    with ``S = tridiag(1, 1, 1)``. nnz = (3 n - 2)^3. ``stencil27(80)``: 512,000 rows,
    13.61M entries.
    """
    S = _tridiagonal(n, 1.0, 1.0, 1.0)
    SSS = sp.kron(sp.kron(S, S, format="csr"), S, format="csr")
    return _canonical_csr(27.0 * sp.identity(n**3, format="csr") - SSS)


def _q1_plane_stress_element(young=1.0, poisson=0.3):
    """8 x 8 stiffness of a unit-square bilinear quad, plane stress, 2 x 2 Gauss points.

    Dof order: (u_x, u_y) of the corners (0,0), (1,0), (1,1), (0,1).
    """
    D = young / (1.0 - poisson**2) * np.array(
        [[1.0, poisson, 0.0], [poisson, 1.0, 0.0], [0.0, 0.0, (1.0 - poisson) / 2.0]]
    )
    corner_x = np.array([-1.0, 1.0, 1.0, -1.0])  # reference corners, xi and eta in [-1, 1]
    corner_y = np.array([-1.0, -1.0, 1.0, 1.0])
    g = 1.0 / np.sqrt(3.0)
    xi, eta = np.meshgrid([-g, g], [-g, g])
    xi, eta = xi.ravel(), eta.ravel()  # 4 Gauss points, weight 1 each
    # Shape function derivatives in physical coordinates (unit square: x = (xi + 1) / 2).
    dN_dx = 0.25 * corner_x[None, :] * (1.0 + corner_y[None, :] * eta[:, None]) * 2.0
    dN_dy = 0.25 * corner_y[None, :] * (1.0 + corner_x[None, :] * xi[:, None]) * 2.0
    B = np.zeros((4, 3, 8))  # strain-displacement matrix at each Gauss point
    B[:, 0, 0::2] = dN_dx
    B[:, 1, 1::2] = dN_dy
    B[:, 2, 0::2] = dN_dy
    B[:, 2, 1::2] = dN_dx
    det_jacobian = 0.25  # (1/2)^2: reference square [-1, 1]^2 onto the unit square
    return np.einsum("gki,kl,glj->ij", B, D, B) * det_jacobian


def elasticity2d(n, young=1.0, poisson=0.3):
    """Stiffness matrix of plane-stress elasticity on an ``n x n`` grid of unit bilinear quads.

    (n+1)^2 nodes, 2 dofs a node (u_x, u_y interleaved), so shape ``(2 (n+1)^2, 2 (n+1)^2)``;
    no boundary conditions (the matrix is singular: rigid-body modes), E = 1, nu = 0.3.
    Assembled from the 8 x 8 element matrix through one COO sum (duplicates summed);
    entries that cancel to exactly zero in the assembly are removed. An interior row has
    18 entries (9 nodes x 2 dofs). ``elasticity2d(499)``: 500,000 dofs, 8.98M entries.
    """
    ke = _q1_plane_stress_element(young, poisson)
    nodes_per_row = n + 1
    ex, ey = np.meshgrid(np.arange(n), np.arange(n))
    n0 = (ey * nodes_per_row + ex).ravel()
    corners = np.stack([n0, n0 + 1, n0 + 1 + nodes_per_row, n0 + nodes_per_row], axis=1)
    dofs = np.empty((corners.shape[0], 8), dtype=np.int64)
    dofs[:, 0::2] = 2 * corners
    dofs[:, 1::2] = 2 * corners + 1
    rows = np.repeat(dofs, 8, axis=1).ravel()
    cols = np.tile(dofs, (1, 8)).ravel()
    vals = np.broadcast_to(ke.ravel(), (corners.shape[0], 64)).ravel()
    size = 2 * nodes_per_row**2
    A = _canonical_csr(sp.coo_array((vals, (rows, cols)), shape=(size, size)))
    A.eliminate_zeros()
    return A


def smoothed_aggregation(A, aggregates, near_null=None, omega=2.0 / 3.0):
    """A smoothed-aggregation prolongation ``P = (I - omega / rho D^-1 A) T`` for a symmetric A.

    ``aggregates[i]`` is node i's aggregate; a node owns ``d = A.shape[0] // len(aggregates)``
    consecutive rows of A (its dofs). T puts on each aggregate the columns of ``near_null``
    (one row per dof, ``c`` columns: c columns per aggregate; default the constant, one per dof
    kind), so P has shape ``(n, c * n_aggregates)``. rho bounds D^-1 A's spectral radius by its
    largest absolute row sum (Gershgorin), so the smoothing is deterministic and cheap. Canonical
    CSR, float64, as the other generators; ``.tobsr((d, c))`` gives pyamg's block layout.
    """
    n = A.shape[0]
    dofs_per_node = n // len(aggregates)
    if near_null is None:
        near_null = np.tile(np.eye(dofs_per_node), (len(aggregates), 1))
    columns_per_aggregate = near_null.shape[1]
    rows = np.repeat(np.arange(n), columns_per_aggregate)
    cols = (columns_per_aggregate * np.repeat(aggregates, dofs_per_node)[:, None] + np.arange(columns_per_aggregate)).ravel()
    n_coarse = columns_per_aggregate * (int(aggregates.max()) + 1)
    T = sp.csr_array((near_null.ravel(), (rows, cols)), shape=(n, n_coarse))
    inverse_diagonal = 1.0 / A.diagonal()
    DA = sp.csr_array(sp.diags_array(inverse_diagonal) @ A)
    rho = float(np.abs(DA).sum(axis=1).max())
    return _canonical_csr(T - (omega / rho) * (DA @ T))


def grid_aggregates(shape, size):
    """Aggregates of the nodes of a grid of ``shape`` (row-major): boxes of ``size`` nodes a side."""
    index = np.indices(shape).reshape(len(shape), -1) // size
    boxes = [-(-n // size) for n in shape]
    return np.ravel_multi_index(tuple(index), boxes)


def rmat(scale_rows, scale_cols, n_edges, probabilities, seed, *, self_loops=True, permute=True):
    """R-MAT (recursive matrix) random sparse matrix of shape ``(2**scale_rows, 2**scale_cols)``.

    Each of ``n_edges`` edges picks its quadrant level by level with probabilities
    ``(a, b, c, d)`` (top-left, top-right, bottom-left, bottom-right), as the Graph500
    generator does; when one side has more levels than the other, the extra levels split
    that side only (row bit 1 with probability c + d, column bit 1 with probability b + d).
    Then: duplicate edges are merged (one entry each), self loops dropped unless
    ``self_loops``, row and column labels randomly permuted (if ``permute``; Graph500 does
    this so that hubs are not all at small indices), and values drawn uniform in [0.5, 1.5).
    All from ``numpy.random.default_rng(seed)``.
    """
    a, b, c, d = (float(p) for p in probabilities)
    if not np.isclose(a + b + c + d, 1.0):
        raise ValueError(f"probabilities must sum to 1, got {probabilities}")
    rng = np.random.default_rng(seed)
    n_rows, n_cols = 2**scale_rows, 2**scale_cols
    rows = np.zeros(n_edges, dtype=np.int64)
    cols = np.zeros(n_edges, dtype=np.int64)
    for level in range(max(scale_rows, scale_cols)):  # one vectorised step per bit
        split_rows, split_cols = level < scale_rows, level < scale_cols
        if split_rows and split_cols:
            row_bit = rng.random(n_edges) < c + d
            p_col = np.where(row_bit, d / (c + d), b / (a + b))
            col_bit = rng.random(n_edges) < p_col
        elif split_rows:
            row_bit, col_bit = rng.random(n_edges) < c + d, None
        else:
            row_bit, col_bit = None, rng.random(n_edges) < b + d
        if row_bit is not None:
            rows = 2 * rows + row_bit
        if col_bit is not None:
            cols = 2 * cols + col_bit
    if permute:  # square: one relabelling of the vertices; rectangular: one per side
        row_labels = rng.permutation(n_rows)
        col_labels = row_labels if n_rows == n_cols else rng.permutation(n_cols)
        rows, cols = row_labels[rows], col_labels[cols]
    keys = np.unique(rows * n_cols + cols)  # merge duplicates; sorted = CSR order
    rows, cols = np.divmod(keys, n_cols)
    if not self_loops:
        keep = rows != cols
        rows, cols = rows[keep], cols[keep]
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    values = rng.uniform(0.5, 1.5, size=cols.size)
    return _canonical_csr(sp.csr_array((values, cols, indptr), shape=(n_rows, n_cols)))


def rmat_rectangular(scale_rows=18, scale_cols=16, edge_factor=5):
    """R-MAT matrix of shape ``(2**scale_rows, 2**scale_cols)``, for the product ``A @ A.T``.

    ``edge_factor * 2**scale_rows`` edges, a,b,c,d = .45,.22,.22,.11, duplicates merged,
    rows and columns relabelled at random, values uniform in [0.5, 1.5), seed
    ``SEED_RMAT_RECTANGULAR``. ``A @ A.T`` costs ``sum_k nnz(A[:, k])^2`` flops, so hub
    columns dominate; the parameters keep SciPy at ~5 s and C at 1.7 GB for (18, 16, 5):
    nnz(A) = 1.31M, nnz(A A^T) = 142.96M, flops = 150.0M. Graph500's .57,.19,.19,.05 with
    8 edges a row would need 1.79G flops; .45,.22,.22,.11 with 8 edges a row 382M flops,
    350M entries (4.2 GB) and 13 s of SciPy.
    """
    return rmat(scale_rows, scale_cols, edge_factor << scale_rows, (0.45, 0.22, 0.22, 0.11),
                SEED_RMAT_RECTANGULAR)


def rmat_square(scale=18, edge_factor=10):
    """Square R-MAT graph, ``2**scale`` vertices, for ``A @ A``.

    ``edge_factor * 2**scale`` edges, a,b,c,d = .45,.22,.22,.11, duplicates merged, self
    loops dropped, vertices relabelled at random, values uniform in [0.5, 1.5), seed
    ``SEED_RMAT_SQUARE``. Scale 18: nnz(A) = 2.62M, nnz(A^2) = 177.69M (2.1 GB),
    flops = 186.8M, SciPy ~6 s. With Graph500's .57,.19,.19,.05 instead, scale 18 edge
    factor 10 has hubs of ~11,000 entries and A^2 needs 1.29G flops, 679M entries (8.1 GB)
    and ~40 s of SciPy: too slow for the suite.
    """
    return rmat(scale, scale, edge_factor << scale, (0.45, 0.22, 0.22, 0.11), SEED_RMAT_SQUARE,
                self_loops=False)


def graph500(scale=16, edge_factor=16):
    """Graph500-style Kronecker graph, ``2**scale`` vertices, for ``A @ A``.

    Graph500's parameters: ``edge_factor * 2**scale`` edges, a,b,c,d = .57,.19,.19,.05,
    vertices relabelled at random; kept directed, duplicates merged, self loops dropped,
    values uniform in [0.5, 1.5), seed ``SEED_GRAPH500``. Scale 16: nnz(A) = 0.956M, hubs of
    ~6,300 entries, nnz(A^2) = 163.71M (2.0 GB), flops = 399.8M, SciPy ~7-8 s.
    """
    return rmat(scale, scale, edge_factor << scale, (0.57, 0.19, 0.19, 0.05), SEED_GRAPH500,
                self_loops=False)


def uniform_random(n, per_row, seed=SEED_UNIFORM):
    """``n x n``, ``per_row`` entries a row in columns drawn uniformly (duplicates merged),
    values uniform in [0.5, 1.5): the matrix users first try (``scipy.sparse.random``'s
    structure with a fixed row length). Its products have short rows scattered over every
    column: n = 10000, 5 a row gives about 25 products a row, nnz(A^2) = 0.25M."""
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, n, size=n * per_row)
    rows = np.repeat(np.arange(n), per_row)
    values = rng.uniform(0.5, 1.5, size=n * per_row)
    return _canonical_csr(sp.csr_array((values, (rows, cols)), shape=(n, n)))


def product_flops(A, B):
    """Multiply-adds of a row-wise product ``A @ B``: ``sum_k nnz(A[:, k]) * nnz(B[k, :])``."""
    A, B = sp.csr_array(A), sp.csr_array(B)
    col_counts = np.bincount(A.indices, minlength=A.shape[1]).astype(np.int64)
    row_counts = np.diff(B.indptr).astype(np.int64)
    return int(col_counts @ row_counts)


def csr_nbytes(C):
    """Bytes of a CSR/CSC matrix's three arrays (data, indices, indptr)."""
    return int(C.data.nbytes + C.indices.nbytes + C.indptr.nbytes)


def with_singular_values(m, n, sigma, seed):
    """An m x n dense matrix with singular values ``sigma`` (min(m, n) of them): diag(sigma)
    between two products of two random Householder reflectors, O(m n) to build. Randomized
    methods see only the singular values (a Gaussian test matrix is rotation invariant)."""
    rng = np.random.default_rng(seed)
    A = np.zeros((m, n))
    r = min(m, n)
    A[np.arange(r), np.arange(r)] = sigma[:r]
    for _ in range(2):
        v = rng.standard_normal(m)
        v /= np.linalg.norm(v)
        A -= 2.0 * np.outer(v, v @ A)
        w = rng.standard_normal(n)
        w /= np.linalg.norm(w)
        A -= 2.0 * np.outer(A @ w, w)
    return A
