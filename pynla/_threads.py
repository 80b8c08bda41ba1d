"""The number of threads pynla's kernels use, and one BLAS thread for small dense work."""

import functools
import operator

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
    """One threadpoolctl controller for the process: building one scans every loaded library
    (about 1 ms); limiting through a kept one takes about 15 us. Made at first use, after
    ``import pynla`` has loaded NumPy's and SciPy's BLAS."""
    return threadpoolctl.ThreadpoolController()


def one_blas_thread():
    """A context running BLAS and LAPACK on one thread, for small dense factorizations:
    threaded LAPACK on a few hundred rows is slower and erratic on a busy machine (the SVD of a
    220 x 220 factor on 2 cores: 7 ms on one thread, 8 to 115 ms on two)."""
    return _blas_controller().limit(limits=1, user_api="blas")
