"""The number of threads pynla's kernels use, and one BLAS thread for small dense work."""

import contextlib
import functools
import operator
import threading

import threadpoolctl

from pynla import _core


def set_num_threads(n):
    """Set the number of threads pynla's kernels use.

    The setting caps kernels called from every Python thread. The kernels run on OpenMP
    threads, so ``threadpoolctl.threadpool_limits`` and ``OMP_NUM_THREADS`` govern them too:
    those set OpenMP's limit for the calling thread, and a kernel uses the smaller of the two.
    This function also sets the calling thread's OpenMP limit to ``n``. Results do not depend
    on the number of threads.

    Parameters
    ----------
    n : int
        Number of threads, at least 1.

    Examples
    --------
    >>> import pynla
    >>> previous = pynla.get_num_threads()
    >>> pynla.set_num_threads(1)
    >>> pynla.get_num_threads()
    1
    >>> pynla.set_num_threads(previous)
    """
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    _core.set_num_threads(n)


def get_num_threads():
    """Return the number of threads pynla's kernels use.

    Returns
    -------
    int
        The threads a kernel called from this thread will use: the calling thread's OpenMP
        limit, capped by `set_num_threads` (1 when built without OpenMP).

    Examples
    --------
    >>> import pynla
    >>> pynla.get_num_threads() >= 1
    True
    """
    return _core.get_num_threads()


@functools.cache
def _blas_controller():
    """One threadpoolctl controller for the process's BLAS libraries: building one scans every
    loaded library (about 1 ms); limiting through a kept one takes about 15 us. Made at first
    use, after ``import pynla`` has loaded NumPy's and SciPy's BLAS."""
    return threadpoolctl.ThreadpoolController().select(user_api="blas")


class _OneBlasThread(threading.local):
    """The context one_blas_thread returns: the BLAS limited to one thread on the outermost
    entry in a Python thread, nested entries free. Small dense work nests them (a randomized SVD
    on one BLAS thread calls Gram passes that each need one): through threadpoolctl each nested
    entry cost 15 to 45 us, 0.4 ms of a 2 ms SVD of a 100 x 500 matrix.

    A nested entry does not look at the BLAS again: code that raises the BLAS's thread count
    inside the outermost entry (a LinearOperator's own threadpool_limits, say) leaves it raised
    for the pynla work nested after it. The depth is per Python thread, but the BLAS's thread
    count is the process's: contexts in two Python threads at once restore each other's counts
    as threadpoolctl's own limits do."""

    depth = 0
    limiter = None

    def __enter__(self):
        if self.depth == 0:
            self.limiter = _blas_controller().limit(limits=1).__enter__()
        self.depth += 1
        return self

    def __exit__(self, *exc_info):
        self.depth -= 1
        if self.depth == 0:
            limiter, self.limiter = self.limiter, None
            limiter.__exit__(*exc_info)


_ONE_BLAS_THREAD = _OneBlasThread()


def one_blas_thread():
    """A context running BLAS and LAPACK on one thread, for small dense factorizations:
    threaded LAPACK on a few hundred rows is slower and erratic on a busy machine (the SVD of a
    220 x 220 factor on 2 cores: 7 ms on one thread, 8 to 115 ms on two). Nested uses in one
    Python thread cost nothing."""
    return _ONE_BLAS_THREAD


#: A call whose dense work (its largest product with A, or its basis's orthonormalization, in
#: multiply-adds) is below this runs on one BLAS thread throughout: NumPy's and SciPy's
#: OpenBLAS, and pynla's own threads, each spinning after their calls, take the cores from each
#: other. Measured on 2 cores (AMD EPYC), one BLAS thread against two: randomized SVD of 2000 x
#: 1000, k = 50 (1.1e8), 85 against 144 ms; of a sparse 20200 x 10000 (basis work 4.2e8), 559
#: against 463; of 20000 x 2000, k = 10 (6.4e8), 722 against 461.
THREADED_MULTIPLY_ADDS = 1 << 28

#: Small LAPACK calls (Gram eigendecompositions, SVDs of thin factors) on matrices of this order
#: and up run on one BLAS thread (threaded LAPACK at a few hundred is erratic on 2 cores: a
#: 220 x 220 SVD took 8-115 ms on two threads, 7 on one); below it the BLAS stays on one thread
#: by itself, and the thread limit would cost more than the call.
SMALL_LAPACK_ORDER = 64


def blas_threads_for(multiply_adds, threshold=THREADED_MULTIPLY_ADDS):
    """One BLAS thread for a call whose dense work is below ``threshold`` multiply-adds
    (THREADED_MULTIPLY_ADDS unless the caller measured its own), else the BLAS's own count."""
    return one_blas_thread() if multiply_adds < threshold else contextlib.nullcontext()


def small_lapack_threads(order):
    """The BLAS thread setting for a small LAPACK call on matrices of this order (the smaller
    side for a thin one): one thread from SMALL_LAPACK_ORDER up, the BLAS's own below."""
    return one_blas_thread() if order >= SMALL_LAPACK_ORDER else contextlib.nullcontext()
