"""The number of threads pynla's kernels use."""

import operator

from pynla import _core


def set_num_threads(n):
    """Set the number of threads pynla's kernels use.

    The kernels run on OpenMP threads, so ``threadpoolctl.threadpool_limits`` and the
    ``OMP_NUM_THREADS`` environment variable govern them too; this sets the same limit.
    Results do not depend on the number of threads.

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
        The OpenMP thread limit of the calling thread (1 when built without OpenMP).

    Examples
    --------
    >>> import pynla
    >>> pynla.get_num_threads() >= 1
    True
    """
    return _core.get_num_threads()
