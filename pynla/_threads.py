"""The number of threads pynla's kernels use."""

import operator

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
