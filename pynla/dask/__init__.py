"""pynla on Dask arrays: the same calls on matrices held as ``dask.array`` arrays chunked by
rows (NumPy or SciPy sparse chunks), on Dask's threads or a ``distributed`` cluster, with the
one-machine answers.

- Building: :func:`from_sparse`, :func:`from_blocks`, :func:`from_files` (one file per row
  block, read by the tasks).
- :func:`spgemm`: sparse products, a task per row block, B broadcast or gathered by rows.
- :func:`sketch`: ``S @ A`` for every pynla sketch, each block sketched where it is stored.
- :func:`sketched_lstsq`, :func:`randomized_svd`: pynla's methods with distributed passes.
- :class:`DaskOperator` (:func:`aslinearoperator`): ``A @ X`` and ``A^H @ Y`` as tasks, for
  any solver that takes a LinearOperator.

Every sum over blocks is added in a tree fixed by the number of blocks, so results are the
same bits on any cluster and worker count. Needs Dask and distributed (``pip install
"pynla[dask]"``); ``import pynla`` does not import them.
"""

from pynla.dask.arrays import from_blocks, from_files, from_sparse
from pynla.dask.lstsq import DaskLstsqResult, sketched_lstsq
from pynla.dask.products import DaskOperator, aslinearoperator
from pynla.dask.randomized import randomized_svd
from pynla.dask.sketch import sketch
from pynla.dask.spgemm import spgemm

__all__ = ["DaskLstsqResult", "DaskOperator", "aslinearoperator", "from_blocks", "from_files", "from_sparse",
           "randomized_svd", "sketch", "sketched_lstsq", "spgemm"]
