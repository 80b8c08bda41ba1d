"""pynla.dask on a distributed.LocalCluster (2 worker processes) against pynla on the computed
arrays: the same bits for SpGEMM, sketches and product passes (their sums are added in a fixed
tree), least squares and randomized SVD within rounding; bad input; a worker lost mid-call;
blocks read by the workers from files, never by the client."""

import doctest
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import scipy.io
import scipy.linalg as sl
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

import pynla
from tests.conftest import SEED, power_law_csr

dask = pytest.importorskip("dask", reason="the dask extra (pip install '.[dask,test]') is part of the test extra")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
import pynla.dask  # noqa: E402  (after the importorskip above)


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes, as the issue's benchmark cluster."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  memory_limit="2GiB") as cluster, distributed.Client(cluster) as client:
        yield client


def chunked(M, rows):
    """M (NumPy or SciPy sparse) as a Dask array with row chunks of ``rows``."""
    if sp.issparse(M):
        return pynla.dask.from_sparse(M, rows_per_chunk=rows)
    return da.from_array(M, chunks=(rows, M.shape[1]))


def same_sparse(got, expected):
    assert type(got) is type(expected)
    assert got.shape == expected.shape
    assert_array_equal(got.indptr, expected.indptr)
    assert_array_equal(got.indices, expected.indices)
    assert_array_equal(got.data, expected.data)


# ---------------------------------------------------------------------------------------------
# Building


def test_import_pynla_does_not_import_dask():
    # -P: the installed pynla, not the source folder of the working directory (no compiled core)
    code = "import sys, pynla; print(sorted(name for name in sys.modules if name.split('.')[0] in ('dask', 'distributed')))"
    result = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_from_files_reads_blocks_in_the_workers(client, tmp_path):
    M = sp.random_array((900, 50), density=0.05, format="csr", rng=SEED)
    paths = [tmp_path / "0.npz", tmp_path / "1.mtx", tmp_path / "2.mtx.gz"]
    sp.save_npz(paths[0], M[:300])
    scipy.io.mmwrite(paths[1], M[300:600])
    scipy.io.mmwrite(tmp_path / "2.mtx", M[600:])
    subprocess.run(["gzip", str(tmp_path / "2.mtx")], check=True)
    A = pynla.dask.from_files(paths)
    assert A.chunks == ((300, 300, 300), (50,))
    assert_allclose(A.compute().toarray(), M.toarray(), rtol=1e-15)
    dense = np.arange(60.0).reshape(12, 5)
    np.save(tmp_path / "d0.npy", dense[:5])
    np.save(tmp_path / "d1.npy", dense[5:])
    assert_array_equal(pynla.dask.from_files([tmp_path / "d0.npy", tmp_path / "d1.npy"]).compute(), dense)


def test_building_errors(tmp_path):
    (tmp_path / "x.txt").write_text("1")
    with pytest.raises(ValueError, match="must be .npz"):
        pynla.dask.from_files([tmp_path / "x.txt"])
    with pytest.raises(FileNotFoundError, match="no file"):
        pynla.dask.from_files([tmp_path / "missing.npz"])
    np.save(tmp_path / "a.npy", np.ones((3, 2)))
    np.save(tmp_path / "b.npy", np.ones((3, 4)))
    with pytest.raises(ValueError, match="same columns"):
        pynla.dask.from_files([tmp_path / "a.npy", tmp_path / "b.npy"])
    with pytest.raises(TypeError, match="not a mix"):
        pynla.dask.from_blocks([np.ones((2, 2)), sp.eye_array(2)])
    with pytest.raises(ValueError, match="columns"):
        pynla.dask.from_blocks([np.ones((2, 2)), np.ones((2, 3))])
    with pytest.raises(TypeError, match="SciPy sparse"):
        pynla.dask.from_sparse(np.ones((2, 2)), 1)
    with pytest.raises(ValueError, match="rows_per_chunk"):
        pynla.dask.from_sparse(sp.eye_array(2), 0)


# ---------------------------------------------------------------------------------------------
# Bad input: named, never a wrong answer


def test_chunks_must_be_row_blocks():
    M = np.ones((100, 10))
    with pytest.raises(ValueError, match="chunked by rows only"):
        pynla.dask.aslinearoperator(da.from_array(M, chunks=(50, 5)))
    with pytest.raises(TypeError, match="dask.array.Array"):
        pynla.dask.sketched_lstsq(M, np.ones(100))
    with pytest.raises(ValueError, match="2-D"):
        pynla.dask.aslinearoperator(da.ones(10, chunks=5))
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        x = da.from_array(M, chunks=(50, 10))
        pynla.dask.aslinearoperator(x[x[:, 0] > 0])


def test_b_must_match_a_rows():
    A = da.from_array(np.random.default_rng(SEED).standard_normal((100, 3)), chunks=(50, 3))
    with pytest.raises(ValueError, match="b's row chunks"):
        pynla.dask.sketched_lstsq(A, da.ones(100, chunks=40))
    with pytest.raises(ValueError, match="b has shape"):
        pynla.dask.sketched_lstsq(A, np.ones(99))
    with pytest.raises(ValueError, match="method"):
        pynla.dask.sketched_lstsq(A, np.ones(100), method="direct")
    with pytest.raises(ValueError, match="NaN or infinity"):
        pynla.dask.sketched_lstsq(A, np.full(100, np.nan))
    bad = A.map_blocks(lambda block: np.where(block > 1, np.inf, block))
    with pytest.raises(ValueError, match="A must not contain NaN or infinity"):
        pynla.dask.sketched_lstsq(bad, np.ones(100))


def test_mixed_chunk_types_are_named():
    M = sp.random_array((100, 10), density=0.2, format="csr", rng=SEED)
    A = pynla.dask.from_sparse(M, 50)
    mixed = A.map_blocks(lambda block: block.toarray() if block.shape[0] == 50 and block[0, 0] != 7 else block)
    with pytest.raises(TypeError, match="mixes chunk types"):
        pynla.dask.aslinearoperator(mixed) @ np.ones(10)


def test_sketch_and_spgemm_errors():
    A = chunked(sp.random_array((100, 10), density=0.2, format="csr", rng=SEED), 30)
    with pytest.raises(TypeError, match="pynla sketch"):
        pynla.dask.sketch(np.ones((5, 100)), A)
    with pytest.raises(ValueError, match="one column for each"):
        pynla.dask.sketch(pynla.CountSketch(5, 99, rng=0), A)
    with pytest.raises(ValueError, match="A's columns must match"):
        pynla.dask.spgemm(A, sp.eye_array(11, format="csr"))
    with pytest.raises(TypeError, match="SciPy sparse"):
        pynla.dask.spgemm(da.ones((10, 10), chunks=(5, 10)), sp.eye_array(10))
    with pytest.raises(TypeError, match="B must be"):
        pynla.dask.spgemm(A, np.eye(10))


# ---------------------------------------------------------------------------------------------
# Products and SpGEMM: the same bits


@pytest.mark.parametrize("kind", ["dense", "sparse", "complex sparse", "float32"])
def test_operator_products(client, kind):
    rng = np.random.default_rng(SEED)
    M = sp.random_array((1000, 40), density=0.05, format="csr", rng=rng)
    if kind == "complex sparse":
        M = M + 1j * sp.random_array((1000, 40), density=0.05, format="csr", rng=rng)
    M = M.toarray() if kind == "dense" else M.astype(np.float32).toarray() if kind == "float32" else M
    op = pynla.dask.aslinearoperator(chunked(M, 300))
    X, Y = rng.standard_normal((40, 3)), rng.standard_normal((1000, 2))
    assert_allclose(op @ X, M @ X, rtol=1e-5 if kind == "float32" else 1e-13, atol=1e-12)
    expected = (M.conj().T if kind == "complex sparse" else M.T) @ Y
    assert_allclose(op.H @ Y, expected, rtol=1e-5 if kind == "float32" else 1e-13, atol=1e-12)
    assert op.passes == 2
    assert_array_equal(op.H @ Y, op.H @ Y)  # the tree's order is fixed
    x, info = __import__("scipy.sparse.linalg", fromlist=["lsqr"]).lsqr(op, Y[:, 0], atol=1e-12, btol=1e-12)[:2]
    assert_allclose(x, np.linalg.lstsq(np.asarray(sp.csr_array(M).toarray()), Y[:, 0], rcond=None)[0], rtol=1e-4)


@pytest.mark.parametrize("structure", ["uniform", "power law", "empty rows"])
@pytest.mark.parametrize("b_kind", ["broadcast", "row blocks"])
def test_spgemm_same_bits(client, structure, b_kind):
    rng = np.random.default_rng(SEED)
    if structure == "power law":
        M = sp.csr_array(power_law_csr(rng, (1500, 1500)))
    else:
        M = sp.random_array((1500, 1500), density=0.004, format="csr", rng=rng)
    if structure == "empty rows":
        M = sp.csr_array(M.multiply((np.arange(1500) % 3 == 0)[:, None]))
    A = chunked(M, 400)
    B = M if b_kind == "broadcast" else chunked(M, 333)
    C = pynla.dask.spgemm(A, B)
    assert C.chunks[0] == A.chunks[0]
    same_sparse(C.compute(), pynla.spgemm(M, M))


def test_spgemm_matrix_container_and_rectangular(client):
    rng = np.random.default_rng(SEED)
    A0 = sp.csr_matrix(sp.random_array((700, 300), density=0.01, rng=rng))
    B0 = sp.csr_matrix(sp.random_array((300, 50), density=0.05, rng=rng))
    C = pynla.dask.spgemm(chunked(A0, 200), chunked(B0, 64)).compute()
    same_sparse(C, pynla.spgemm(A0, B0))


# ---------------------------------------------------------------------------------------------
# Sketches: the same bits for a fixed reduction order, S @ A.compute() to rounding


@pytest.mark.parametrize("name", ["countsketch", "sparse_sign", "srht", "gaussian"])
@pytest.mark.parametrize("sparse", [False, True])
def test_sketch(client, name, sparse):
    rng = np.random.default_rng(SEED)
    M = sp.random_array((5000, 30), density=0.05, format="csr", rng=rng)
    M = M if sparse else M.toarray()
    S = {"countsketch": pynla.CountSketch, "sparse_sign": pynla.SparseSignSketch, "srht": pynla.SRHT,
         "gaussian": pynla.GaussianSketch}[name](200, 5000, rng=SEED)
    got = pynla.dask.sketch(S, chunked(M, 1300))
    expected = S @ M
    assert type(got) is type(expected)
    dense_got = got.toarray() if sp.issparse(got) else got
    dense_expected = expected.toarray() if sp.issparse(expected) else expected
    assert_allclose(dense_got, dense_expected, rtol=1e-12, atol=1e-13 * np.abs(dense_expected).max())
    again = pynla.dask.sketch(S, chunked(M, 1300))
    assert_array_equal(again.toarray() if sp.issparse(again) else again, dense_got)


@pytest.mark.parametrize("sparse", [False, True])
def test_sums_in_tasks_and_on_the_client_are_the_same_bits(client, monkeypatch, sparse):
    """Large parts are added in tasks, small ones on the client, in the same tree, and the
    cluster's answer is Dask's synchronous scheduler's (the blocks that arrive unaligned in a
    worker are copied: NumPy would multiply them by other loops)."""
    import importlib

    blocks_module = importlib.import_module("pynla.dask._blocks")
    M = sp.random_array((6000, 40), density=0.1, format="csr", rng=SEED)
    M = M if sparse else M.toarray()
    S, A = pynla.SparseSignSketch(300, 6000, rng=SEED), chunked(M, 700)
    results = []
    for limit in (0, 1 << 40):
        monkeypatch.setattr(blocks_module, "SMALL_PART_ENTRIES", limit)
        results.append(pynla.dask.sketch(S, A))
        results.append(pynla.dask.aslinearoperator(A).H @ np.arange(12000.0).reshape(6000, 2))
    with dask.config.set(scheduler="synchronous"):  # no cluster: the same bits
        results.append(pynla.dask.sketch(S, A))
        results.append(pynla.dask.aslinearoperator(A).H @ np.arange(12000.0).reshape(6000, 2))
    as_dense = [r.toarray() if sp.issparse(r) else r for r in results]
    assert_array_equal(as_dense[0], as_dense[2])
    assert_array_equal(as_dense[0], as_dense[4])
    assert_array_equal(as_dense[1], as_dense[3])
    assert_array_equal(as_dense[1], as_dense[5])
    assert_allclose(as_dense[0], (S @ M).toarray() if sparse else S @ M, rtol=1e-12, atol=1e-12)


def test_sketch_of_integer_values_is_exact(client):
    """Integer-valued A and a CountSketch (entries +-1): every sum is exact, so any order of
    the blocks' sums gives S @ A's bits."""
    M = np.random.default_rng(SEED).integers(-50, 50, (4000, 7)).astype(np.float64)
    S = pynla.CountSketch(100, 4000, rng=SEED)
    assert_array_equal(pynla.dask.sketch(S, chunked(M, 999)), S @ M)


# ---------------------------------------------------------------------------------------------
# Least squares and randomized SVD


def problem(rng, n, d, cond, q=None):
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    A = (U * np.geomspace(1, 1 / cond, d)) @ V.T
    shape = (n,) if q is None else (n, q)
    return A, A @ rng.standard_normal((d,) if q is None else (d, q)) + 1e-6 * rng.standard_normal(shape)


@pytest.mark.parametrize("cond", [1.0, 1e4, 1e10])
@pytest.mark.parametrize("q", [None, 3])
def test_lstsq_dense(client, cond, q):
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 30000, 25, cond, q)
    result = pynla.dask.sketched_lstsq(chunked(A, 7000), b, rng=SEED)
    expected = pynla.sketched_lstsq(A, b, rng=SEED)
    assert result.info == 0
    residual = np.linalg.norm(A @ result.x - b, axis=0)
    # Never a larger residual than LAPACK's (to 1e-12): at cond 1e10 both pynla's answers are
    # below gelsd's by about 1e-11, each its own way (the blocks' sums are added in another order).
    assert np.all(residual <= np.linalg.norm(A @ sl.lstsq(A, b)[0] - b, axis=0) * (1 + 1e-12))
    assert_allclose(result.residual_norm, residual, rtol=1e-10)
    if cond <= 1e4:
        assert_allclose(result.x, expected.x, rtol=1e-12, atol=1e-12 * np.abs(expected.x).max())
        assert result.passes == 1 + result.iterations  # the Gram matrix's and a step's each
    else:
        assert result.passes == 4  # the Gram matrix's (too ill conditioned), the sketch's, A R0^-1's, a step's


@pytest.mark.parametrize("dtype", [np.float32, np.complex128, np.int64])
def test_lstsq_dtypes(client, dtype):
    rng = np.random.default_rng(SEED)
    A = rng.standard_normal((6000, 8)) * 10
    if dtype == np.complex128:
        A = A + 1j * rng.standard_normal((6000, 8))
    A, b = A.astype(dtype), rng.standard_normal(6000).astype(np.float32 if dtype == np.float32 else np.float64)
    result = pynla.dask.sketched_lstsq(chunked(A, 2500), b)
    expected = pynla.sketched_lstsq(A, b)
    assert result.x.dtype == expected.x.dtype and result.info == 0
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(result.x, expected.x, rtol=tolerance, atol=tolerance * np.abs(expected.x).max())


@pytest.mark.parametrize("shape", [(5, 0), (1, 1), (30, 30)])
def test_lstsq_edge_shapes(client, shape):
    A = np.random.default_rng(SEED).standard_normal(shape) + 3 * np.eye(*shape)
    b = np.arange(shape[0], dtype=float)
    result = pynla.dask.sketched_lstsq(chunked(A, 2), b)
    assert_allclose(result.x, sl.lstsq(A, b)[0], rtol=1e-12, atol=1e-12)


def test_lstsq_sparse_and_dask_b(client):
    rng = np.random.default_rng(SEED)
    M = sp.random_array((20000, 40), density=0.05, format="csr", rng=rng) + sp.eye_array(20000, 40)
    M = sp.csr_array(M)
    b = rng.standard_normal(20000)
    expected = sl.lstsq(M.toarray(), b)[0]
    results = {}
    for method, extra_passes in (("auto", 4), ("krylov", 4), ("precondition", 2)):
        result = pynla.dask.sketched_lstsq(chunked(M, 6000), da.from_array(b, chunks=6000), method=method, rng=SEED)
        assert result.info == 0
        assert_allclose(result.x, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
        # CGLS ("auto"'s first method): A's largest magnitude, its column norms, the first
        # gradient, the steps and their check; "precondition": the sketch, the first answer's
        # pass, the steps.
        assert result.passes == result.iterations + extra_passes
        results[method] = result
    # A well-conditioned A: CGLS's steps, as on one machine, and fewer than the sketch's.
    assert abs(results["auto"].iterations - pynla.sketched_lstsq(M, b).iterations) <= 1
    assert results["auto"].passes < results["precondition"].passes


def test_lstsq_sparse_ill_conditioned_krylov_gives_way(client):
    """CGLS gives up on an ill-conditioned sparse A within its budget, and sketch-and-precondition
    answers (its steps counted after CGLS's), as on one machine."""
    rng = np.random.default_rng(SEED)
    M = sp.random_array((20000, 40), density=0.05, format="csr", rng=rng) + sp.eye_array(20000, 40)
    M = sp.csr_array(M @ sp.diags_array(np.logspace(0, 5, 40)) @ sp.csr_array(np.triu(np.ones((40, 40)))))
    b = rng.standard_normal(20000)
    result = pynla.dask.sketched_lstsq(chunked(M, 6000), b, rng=SEED)
    expected = sl.lstsq(M.toarray(), b)[0]
    assert result.info == 0
    assert np.linalg.norm(M @ result.x - b) <= np.linalg.norm(M @ expected - b) * (1 + 1e-10)
    assert result.passes > result.iterations + 4  # CGLS's passes, then the sketch's and the answer's


@pytest.mark.parametrize("scale_a, scale_b", [(1e-200, 1e-150), (1e200, 1e190), (1.0, 1e-300)])
def test_lstsq_any_magnitude(client, scale_a, scale_b):
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 5000, 10, 10.0)
    result = pynla.dask.sketched_lstsq(chunked(A * scale_a, 2000), b * scale_b)
    x = sl.lstsq(A, b)[0] * (scale_b / scale_a)
    assert result.info == 0
    assert_allclose(result.x, x, rtol=1e-12)


@pytest.mark.parametrize("scale_a, scale_b", [(1e-200, 1e-150), (1e200, 1e190), (1.0, 1e-300)])
def test_lstsq_sparse_any_magnitude(client, scale_a, scale_b):
    rng = np.random.default_rng(SEED)
    M = sp.csr_array(sp.random_array((6000, 12), density=0.3, rng=rng) + sp.eye_array(6000, 12))
    b = rng.standard_normal(6000)
    result = pynla.dask.sketched_lstsq(chunked(M * scale_a, 2000), b * scale_b, rng=SEED)
    x = sl.lstsq(M.toarray(), b)[0] * (scale_b / scale_a)
    assert result.info == 0
    assert_allclose(result.x, x, rtol=1e-12)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_lstsq_sparse_nan_is_named(client, bad):
    M = sp.csr_array(sp.random_array((3000, 5), density=0.5, rng=SEED))
    M.data[7] = bad
    with pytest.raises(ValueError, match="A must not contain NaN or infinity"):
        pynla.dask.sketched_lstsq(chunked(M, 1000), np.ones(3000))
    with pytest.raises(ValueError, match="b must not contain NaN or infinity"):
        pynla.dask.sketched_lstsq(chunked(sp.csr_array(sp.random_array((3000, 5), density=0.5, rng=SEED)), 1000),
                                  np.where(np.arange(3000) == 5, bad, 1.0))


def test_lstsq_rank_deficient_is_named(client):
    A = np.random.default_rng(SEED).standard_normal((3000, 6))
    A[:, 5] = A[:, 4]
    with pytest.raises(np.linalg.LinAlgError, match="rank deficient"):
        pynla.dask.sketched_lstsq(chunked(A, 1000), np.ones(3000))


@pytest.mark.parametrize("sparse, decay, k, passes", [(False, 0.7, 8, 2), (True, 0.7, 8, 2), (False, 0.5, 30, 7),
                                                    (False, 0.99, 2, 8)])
def test_randomized_svd(client, sparse, decay, k, passes):
    """From the Gram matrix where it costs less than block Krylov and sigma_k >= sigma_1 / 100
    (2 passes: the exact SVD); block Krylov where it costs less (8 passes), or where the Gram
    matrix's sigma_k is too small (1 pass, then 6 at q = 2): pynla's one-machine answer."""
    rng = np.random.default_rng(SEED)
    M = (rng.standard_normal((3000, 40)) * decay ** np.arange(40)) @ rng.standard_normal((40, 300))
    M = sp.csr_array(np.where(np.abs(M) > 0.2 * np.abs(M).max(), M, 0)) if sparse else M
    op = pynla.dask.aslinearoperator(chunked(M, 1700))
    U, s, Vh = pynla.dask.randomized_svd(op, k, rng=SEED)
    U0, s0, Vh0 = pynla.randomized_svd(M, k, rng=SEED)
    assert op.passes == passes
    assert (U.dtype, s.dtype, Vh.dtype) == (U0.dtype, s0.dtype, Vh0.dtype)
    if passes == 2:  # exact: against LAPACK's SVD
        U0, s0, Vh0 = np.linalg.svd(M.toarray() if sparse else M, full_matrices=False)
        U0, s0, Vh0 = U0[:, :k], s0[:k], Vh0[:k]
    assert_allclose(s, s0, rtol=1e-12 if passes == 2 else 1e-10, atol=1e-14 * s0[0])
    assert_allclose(np.abs(U.T @ U), np.eye(k), atol=1e-13)
    assert_allclose(np.abs(Vh @ Vh.T), np.eye(k), atol=1e-13)
    good = s0 >= 1e-6 * s0[0]  # vectors of singular values at rounding level are not defined
    assert_allclose(np.abs(np.sum(U * U0, axis=0))[good], 1, atol=1e-8)


def test_randomized_svd_exact_from_gram(client):
    rng = np.random.default_rng(SEED)
    M = rng.standard_normal((5000, 60)) @ np.diag(np.linspace(1, 0.1, 60)) + 1j * rng.standard_normal((5000, 60))
    op = pynla.dask.aslinearoperator(chunked(M, 1300))
    U, s, Vh = pynla.dask.randomized_svd(op, 25)
    U0, s0, Vh0 = np.linalg.svd(M, full_matrices=False)
    assert op.passes == 2
    assert_allclose(s, s0[:25], rtol=1e-13)
    assert_allclose((U * s) @ Vh, (U0[:, :25] * s0[:25]) @ Vh0[:25], atol=1e-12 * s0[0])


# ---------------------------------------------------------------------------------------------
# A lost worker, and inputs larger than a worker's memory


def test_worker_lost_mid_call_gives_the_same_answer(tmp_path):
    """A worker killed while a least-squares solve and a sketch run: Dask reruns its tasks
    (pure functions of their inputs) on the other, and the answers are the same bits."""
    rng = np.random.default_rng(SEED)
    A, b = problem(rng, 40000, 20, 100.0)
    paths = []
    for i, start in enumerate(range(0, 40000, 5000)):
        paths.append(tmp_path / f"{i}.npy")
        np.save(paths[-1], A[start:start + 5000])
    S = pynla.SparseSignSketch(300, 40000, rng=SEED)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  memory_limit="2GiB") as cluster, distributed.Client(cluster):
        expected_x = pynla.dask.sketched_lstsq(pynla.dask.from_files(paths), b).x
        expected_sketch = pynla.dask.sketch(S, pynla.dask.from_files(paths))
        victim = list(cluster.workers.values())[0]
        killed_at = []

        def kill_soon():
            time.sleep(0.05)
            os.kill(victim.process.process.pid, signal.SIGKILL)
            killed_at.append(time.perf_counter())

        killer = threading.Thread(target=kill_soon)
        killer.start()
        got_x = pynla.dask.sketched_lstsq(pynla.dask.from_files(paths), b).x
        got_sketch = pynla.dask.sketch(S, pynla.dask.from_files(paths))
        finished_at = time.perf_counter()
        killer.join()
        assert killed_at[0] < finished_at  # the worker died while the calls ran
    assert_array_equal(got_x, expected_x)
    assert_array_equal(got_sketch, expected_sketch)


def test_matrix_larger_than_a_worker_memory_limit(tmp_path):
    """An 800 MB matrix in 16 files, on workers limited to 400 MiB each (about 150 of them
    taken by the interpreter and libraries): every pass reads its blocks in the workers, and
    the client never holds the matrix."""
    rng = np.random.default_rng(SEED)
    paths, x_true = [], rng.standard_normal(50)
    for i in range(16):
        block = rng.standard_normal((125_000, 50))
        paths.append(tmp_path / f"{i}.npy")
        np.save(paths[-1], block)
    b_paths = [tmp_path / f"b{i}.npy" for i in range(16)]
    for path, b_path in zip(paths, b_paths):
        np.save(b_path, (np.load(path) @ x_true)[:, None])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  memory_limit="400MiB") as cluster, distributed.Client(cluster):
        result = pynla.dask.sketched_lstsq(pynla.dask.from_files(paths), pynla.dask.from_files(b_paths))
    assert result.info == 0
    assert_allclose(result.x[:, 0], x_true, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Docstring examples


@pytest.mark.parametrize("function", [pynla.dask.from_sparse, pynla.dask.from_files, pynla.dask.spgemm,
                                      pynla.dask.sketch, pynla.dask.sketched_lstsq, pynla.dask.randomized_svd,
                                      pynla.dask.DaskOperator])
def test_docstring_examples(function):
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(function, globs={}):
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 0
