"""Thread controls, and results that do not depend on the number of threads."""

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from threadpoolctl import threadpool_info, threadpool_limits

import pynla
from tests.conftest import (
    assert_reaches_both_paths,
    assert_same_product,
    bits,
    csr_from_row_lengths,
    power_law_csr,
    random_csr,
    scipy_product,
)

THREAD_COUNTS = [1, 2, 4]

# ---------------------------------------------------------------------------------------------
# Controls


def test_set_and_get(threads):
    for n in (1, 3, 2, 1, 8):
        pynla.set_num_threads(n)
        assert pynla.get_num_threads() == n
    threads(2)


def test_accepts_integer_like(threads):
    pynla.set_num_threads(np.int64(3))
    assert pynla.get_num_threads() == 3
    assert isinstance(pynla.get_num_threads(), int)


@pytest.mark.parametrize("n", [0, -1, -(2**40)])
def test_fewer_than_one_thread_is_a_value_error(threads, n):
    threads(2)
    with pytest.raises(ValueError, match=r"\bn\b"):
        pynla.set_num_threads(n)
    assert pynla.get_num_threads() == 2  # unchanged


@pytest.mark.parametrize("n", [1.5, "2", None, 2.0])
def test_non_integer_is_a_type_error(threads, n):
    threads(2)
    with pytest.raises(TypeError):
        pynla.set_num_threads(n)
    assert pynla.get_num_threads() == 2


def test_set_num_threads_caps_every_python_thread(threads):
    def seen_from_another_thread():
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(pynla.get_num_threads).result()

    threads(1)
    assert seen_from_another_thread() == 1
    threads(2)
    assert seen_from_another_thread() == min(2, os.cpu_count())


def test_threadpoolctl_governs(threads):
    threads(3)
    with threadpool_limits(limits=1, user_api="openmp"):
        assert pynla.get_num_threads() == 1
    assert pynla.get_num_threads() == 3
    with threadpool_limits(limits=2, user_api="openmp"):
        assert pynla.get_num_threads() == 2
    assert pynla.get_num_threads() == 3


# ---------------------------------------------------------------------------------------------
# Threads from the work: small kernels stay on the calling thread


def test_small_work_takes_one_thread_and_the_count_grows_with_it():
    from pynla import _core

    chunk = _core.default_bytes_per_thread
    pynla.set_num_threads(4)
    _core.reset_contention()  # earlier tests' loops may have found the cores taken
    try:
        assert [_core.threads_for(w) for w in (0, 1, chunk - 1, chunk, 2 * chunk - 1)] == [1, 1, 1, 1, 1]
        assert [_core.threads_for(w) for w in (2 * chunk, 3 * chunk, 4 * chunk, 100 * chunk, 2**62)] == [2, 3, 4, 4, 4]
    finally:
        pynla.set_num_threads(2)


def test_the_rule_keeps_to_the_cap_and_threadpoolctl():
    from pynla import _core

    big = 1000 * _core.default_bytes_per_thread
    pynla.set_num_threads(3)
    _core.reset_contention()
    try:
        assert _core.threads_for(big) == 3
        with threadpool_limits(limits=1, user_api="openmp"):
            assert _core.threads_for(big) == 1
        with threadpool_limits(limits=2, user_api="openmp"):
            assert _core.threads_for(big) == 2
        pynla.set_num_threads(1)
        assert _core.threads_for(big) == 1
    finally:
        pynla.set_num_threads(2)


def test_a_loop_that_found_the_cores_taken_holds_kernels_on_one_thread():
    """A parallel loop whose thread ran a tenth of its time (the OS gave its core to other work)
    holds every kernel on one thread for a while; the threads fixture (a test that wants every
    thread) is not held."""
    from pynla import _core

    big = 1000 * _core.default_bytes_per_thread
    pynla.set_num_threads(2)
    try:
        _core.reset_contention()
        _core.record_parallel_loop(cpu_seconds=0.0095, wall_seconds=0.01)  # lost 0.5 ms, a twentieth
        assert _core.contention_hold_off() == 0
        assert _core.threads_for(big) == 2
        # Recorded as if an hour from now, so that the 20 ms hold-off cannot end before the checks.
        _core.record_parallel_loop(cpu_seconds=0.001, wall_seconds=0.01, seconds_from_now=3600)
        assert 3600 < _core.contention_hold_off() <= 3600.02
        assert _core.threads_for(big) == 1
        _core.set_bytes_per_thread(1)  # as the threads fixture does
        assert _core.threads_for(big) == 2
    finally:
        _core.set_bytes_per_thread(_core.default_bytes_per_thread)
        _core.reset_contention()
    assert _core.contention_hold_off() == 0
    assert _core.threads_for(big) == 2


def test_the_threads_fixture_sends_every_kernel_to_every_thread(threads):
    from pynla import _core

    threads(3)
    assert _core.threads_for(3) == 3  # a byte a thread
    with pytest.raises(ValueError, match="bytes"):
        _core.set_bytes_per_thread(0)


def test_small_products_same_bits_with_and_without_the_rule(rng, threads):
    """The rule only picks a count; a count never changes the bits (1 thread by the rule, all
    threads by the fixture, on a product small enough that the rule would keep it on one)."""
    from pynla import _core

    A = random_csr(rng, (300, 300), 0.02)
    threads(2)
    forced = pynla.spgemm(A, A)
    default = _core.set_bytes_per_thread(_core.default_bytes_per_thread)
    try:
        assert _core.threads_for(12 * int(np.diff(A.indptr)[A.indices].sum())) == 1
        assert_array_equal(bits(pynla.spgemm(A, A).data), bits(forced.data))
    finally:
        _core.set_bytes_per_thread(default)


def blas_thread_counts():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_dense_work_rules_limit_blas_below_their_thresholds():
    """Small dense work runs on one BLAS thread, large work keeps the BLAS's own count."""
    from pynla import _threads

    with threadpool_limits(limits=2, user_api="blas"):
        assert set(blas_thread_counts()) == {2}
        with _threads.blas_threads_for(_threads.THREADED_MULTIPLY_ADDS - 1):
            assert set(blas_thread_counts()) == {1}
        with _threads.blas_threads_for(_threads.THREADED_MULTIPLY_ADDS):
            assert set(blas_thread_counts()) == {2}
        with _threads.small_lapack_threads(_threads.SMALL_LAPACK_ORDER):
            assert set(blas_thread_counts()) == {1}
        with _threads.small_lapack_threads(_threads.SMALL_LAPACK_ORDER - 1):
            assert set(blas_thread_counts()) == {2}
        assert set(blas_thread_counts()) == {2}


def test_one_blas_thread_nests_and_restores_the_outer_count(monkeypatch):
    """Nested one_blas_thread contexts keep one BLAS thread until the outermost one ends, which
    restores the count it found, also when the body raises; only the outermost entry of a Python
    thread limits the BLAS, and another Python thread's first entry limits again."""
    import threading

    from pynla import _threads

    controller = _threads._blas_controller()
    limits = []
    original_limit = controller.limit

    def counted_limit(*args, **kwargs):
        limits.append(threading.get_ident())
        return original_limit(*args, **kwargs)

    monkeypatch.setattr(controller, "limit", counted_limit)
    with _threads.one_blas_thread(), _threads.one_blas_thread(), _threads.one_blas_thread():
        assert len(limits) == 1
        worker = threading.Thread(target=lambda: _threads.one_blas_thread().__enter__().__exit__(None, None, None))
        worker.start()
        worker.join()
        assert len(limits) == 2 and limits[1] != limits[0]

    with threadpool_limits(limits=2, user_api="blas"):
        with _threads.one_blas_thread():
            with _threads.one_blas_thread():
                assert set(blas_thread_counts()) == {1}
            assert set(blas_thread_counts()) == {1}
        assert set(blas_thread_counts()) == {2}
        with pytest.raises(RuntimeError), _threads.one_blas_thread(), _threads.one_blas_thread():
            raise RuntimeError("inside")
        assert set(blas_thread_counts()) == {2}
        with _threads.one_blas_thread():  # a fresh outermost entry limits again
            assert set(blas_thread_counts()) == {1}


def test_threadpoolctl_sees_an_openmp_runtime():
    assert pynla._core.has_openmp
    assert any(info["user_api"] == "openmp" for info in threadpool_info())


@pytest.mark.parametrize("value", ["1", "3"])
def test_omp_num_threads_environment_variable(tmp_path, value):
    """OMP_NUM_THREADS sets the count a fresh process starts with."""
    script = "import pynla; print(pynla.get_num_threads())"
    env = {**os.environ, "OMP_NUM_THREADS": value}
    result = subprocess.run(
        [sys.executable, "-P", "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == value


# ---------------------------------------------------------------------------------------------
# Same bits for any number of threads. The matrices are large enough that each call cuts its
# rows into many tasks (16 a thread), so the threads really share the work.


def big_power_law(rng, dtype, **options):
    return power_law_csr(rng, (3000, 3000), dtype, exponent=1.2, minimum=2, **options)


def products_by_thread_count(threads, A, B, sort_indices):
    results = {}
    for n in THREAD_COUNTS:
        threads(n)
        results[n] = pynla.spgemm(A, B, sort_indices=sort_indices)
    return results


def assert_identical(C, D):
    assert C.dtype == D.dtype and C.indices.dtype == D.indices.dtype
    assert_array_equal(C.indptr, D.indptr)
    assert_array_equal(C.indices, D.indices)  # unsorted results too: their order is fixed
    assert_array_equal(bits(C.data), bits(D.data))


@pytest.mark.parametrize("sort_indices", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_power_law_same_bits_for_any_thread_count(rng, threads, dtype, sort_indices):
    # B wider than a short row's window over all columns: light rows scattered over it hash.
    A = big_power_law(rng, dtype, unsorted=True, duplicates=True)
    B = power_law_csr(rng, (3000, 100_000), dtype, exponent=1.2, minimum=2, unsorted=True)
    assert_reaches_both_paths(A, B, at_least=100)
    results = products_by_thread_count(threads, A, B, sort_indices)
    for n in THREAD_COUNTS[1:]:
        assert_identical(results[n], results[1])
    assert_same_product(results[4], scipy_product(A, B), sort_indices=sort_indices)


@pytest.mark.parametrize("sort_indices", [True, False])
def test_cancellation_same_bits_for_any_thread_count(rng, threads, sort_indices):
    """Rows that cancel to nothing are spread over many tasks: the gaps close the same way."""
    X = big_power_law(rng, np.float64, integer_valued=True)[:, :1500]
    B = sp.vstack([X, -X], format="csr")  # 6000 x 1500: each row of X, then negated
    P = abs(big_power_law(rng, np.float64, integer_valued=True))
    Q = P.copy()
    Q.data[rng.random(Q.nnz) < 0.3] = 0
    Q.eliminate_zeros()
    # Row i of C is P[i] X - Q[i] X, exact in floating point: where Q[i] == P[i] it is empty.
    A2 = sp.hstack([P, Q], format="csr")
    results = products_by_thread_count(threads, A2, B, sort_indices)
    for n in THREAD_COUNTS[1:]:
        assert_identical(results[n], results[1])
    row_nnz = np.diff(results[1].indptr)
    assert np.count_nonzero((row_nnz == 0) & (np.diff(P.indptr) > 0)) > 100  # whole rows cancelled
    assert_same_product(results[2], scipy_product(A2, B), sort_indices=sort_indices)


def test_threadpool_limits_same_bits(rng, threads):
    threads(2)
    A = big_power_law(rng, np.float64)
    free = pynla.spgemm(A, A)
    with threadpool_limits(limits=1, user_api="openmp"):
        limited = pynla.spgemm(A, A)
    assert_identical(limited, free)


def test_wide_rows_same_bits_for_any_thread_count(rng, threads):
    """Rows of full-width windows (B unsorted) and hashed rows, accumulators reused across rows."""
    A = csr_from_row_lengths(rng, rng.integers(0, 40, size=2000), 200)
    B = csr_from_row_lengths(rng, rng.integers(0, 300, size=200), 100_000, unsorted=True)
    assert_reaches_both_paths(A, B, at_least=50)
    results = products_by_thread_count(threads, A, B, False)
    for n in THREAD_COUNTS[1:]:
        assert_identical(results[n], results[1])
    assert_same_product(results[1], scipy_product(A, B), sort_indices=False)


@pytest.mark.parametrize("n_threads", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("m, k, n", [(0, 0, 0), (1, 1, 1), (3, 0, 4), (2, 5, 3), (5, 1, 5), (7, 7, 1)])
def test_fewer_rows_than_threads(rng, threads, n_threads, m, k, n):
    threads(n_threads)
    A = random_csr(rng, (m, k), 0.6, np.complex64)
    B = random_csr(rng, (k, n), 0.6, np.complex64)
    for sort_indices in (True, False):
        assert_same_product(
            pynla.spgemm(A, B, sort_indices=sort_indices), scipy_product(A, B), sort_indices=sort_indices
        )


# ---------------------------------------------------------------------------------------------
# Python threads sharing the kernel


def test_concurrent_python_threads(rng):
    cases = []
    for t in range(16):
        kind = t % 4
        if kind == 0:
            A = power_law_csr(rng, (800, 800), np.float64, exponent=1.3, minimum=2, unsorted=True)
            B = A
        elif kind == 1:
            A = random_csr(rng, (300, 200), 0.05, np.complex64, duplicates=True)
            B = random_csr(rng, (200, 400), 0.05, np.complex64)
        elif kind == 2:  # wide, dense accumulator
            A = random_csr(rng, (50, 20), 0.5, np.float32)
            B = random_csr(rng, (20, 20_000), 0.2, np.float32)
        else:  # cancellations
            A = random_csr(rng, (400, 60), 0.1, np.float64, integer_valued=True)
            B = random_csr(rng, (60, 300), 0.1, np.float64, integer_valued=True)
        cases.append((A, B, bool(t % 2), scipy_product(A, B)))

    start = threading.Barrier(4)

    def run(case):
        A, B, sort_indices, _ = case
        try:
            start.wait(timeout=60)  # the first four calls overlap
        except threading.BrokenBarrierError:
            pass
        return [pynla.spgemm(A, B, sort_indices=sort_indices) for _ in range(3)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        outputs = list(pool.map(run, cases))
    for (_, _, sort_indices, expected), results in zip(cases, outputs, strict=True):
        for C in results:
            assert_same_product(C, expected, sort_indices=sort_indices)


def test_shared_operands_across_python_threads(rng):
    A = power_law_csr(rng, (1500, 1500), np.complex128, exponent=1.3, minimum=2)
    expected = scipy_product(A, A)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: pynla.spgemm(A, A), range(8)))
    for C in results:
        assert_same_product(C, expected)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_runs_kernels_after_the_parent_used_its_pool(rng, threads):
    """fork() right after parallel kernels: the child gets a fresh pool (the parent's workers do
    not exist there, and its lock may have been held), and its kernels neither hang nor differ."""
    import multiprocessing

    threads(2)
    A = random_csr(rng, (400, 400), 0.05)
    expected = pynla.spgemm(A, A)
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        for _ in range(3):
            pynla.spgemm(A, A)  # the parent's workers are busy or spinning as the children fork
            results = [pool.apply_async(_square_in_child, (A,)).get(timeout=60) for _ in range(2)]
            for C in results:
                assert_array_equal(bits(C.data), bits(expected.data))


def _square_in_child(A):
    from pynla import _core

    _core.set_bytes_per_thread(1)  # every kernel on 2 threads in the child too
    pynla.set_num_threads(2)
    return pynla.spgemm(A, A)
