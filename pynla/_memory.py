"""The memory pynla keeps for reuse."""

from pynla import _core


def release_cached_memory():
    """Free the result buffers pynla keeps for reuse; return how many bytes were freed.

    Large results (1 MB and up) are not returned to the system when their arrays are freed:
    up to eight of them, 512 MB in all, are kept, and later results of a similar size are
    written into them. A fresh page costs a page fault and a zero fill at its first touch,
    which is 10-15% of the time of a sparse product with a large result; kept pages are ready.
    Call this to give the memory back, e.g. after the last of a series of large products.

    Returns
    -------
    int
        Bytes freed (0 if nothing was kept).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> A = sp.diags_array([1.0, 2.0, 1.0], offsets=[-1, 0, 1], shape=(500_000, 500_000), format="csr")
    >>> C = pynla.spgemm(A, A)  # 2.5 million entries, 30 MB
    >>> del C  # its buffers are kept
    >>> pynla.release_cached_memory() > 0
    True
    """
    return int(_core.release_cached_memory())
