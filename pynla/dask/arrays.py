"""Building row-chunked Dask arrays: from a SciPy sparse matrix, from a list of row blocks,
or from files (one per row block) that are read by the tasks, never by the client."""

import os
import zipfile

import dask
import dask.array as da
import numpy as np
import scipy.io
import scipy.sparse as sp

from pynla.sketch import _count

#: Matrix Market fields and the dtypes scipy.io.mmread gives them.
_MATRIX_MARKET_DTYPES = {"real": np.float64, "double": np.float64, "integer": np.int64, "unsigned-integer": np.uint64,
                         "complex": np.complex128, "pattern": np.float64}


def from_sparse(A, rows_per_chunk):
    """A SciPy sparse array or matrix as a Dask array of CSR chunks of ``rows_per_chunk`` rows
    (the last one shorter), of the same container (array or matrix).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> import pynla.dask
    >>> A = pynla.dask.from_sparse(sp.eye_array(10, format="csr"), rows_per_chunk=4)
    >>> A.chunks
    ((4, 4, 2), (10,))
    """
    if not sp.issparse(A) or A.ndim != 2:
        raise TypeError(f"A must be a 2-D SciPy sparse array or matrix, got {type(A).__name__}")
    rows_per_chunk = _count(rows_per_chunk, "rows_per_chunk", 1)
    return da.from_array(A.tocsr(), chunks=(rows_per_chunk, A.shape[1]), asarray=False)


def from_blocks(blocks):
    """Row blocks (NumPy arrays, or SciPy sparse arrays/matrices, all of one kind and with the
    same number of columns) stacked as a Dask array with one chunk per block."""
    blocks = list(blocks)
    if not blocks:
        raise ValueError("blocks must hold at least one block")
    sparse = [sp.issparse(block) for block in blocks]
    if any(sparse) != all(sparse):
        raise TypeError("blocks must be all NumPy arrays or all SciPy sparse arrays/matrices, not a mix")
    chunks = []
    for i, block in enumerate(blocks):
        block = block.tocsr() if sparse[i] else np.asarray(block)
        if block.ndim != 2 or block.shape[1] != np.shape(blocks[0])[1]:
            raise ValueError(f"blocks[{i}] has shape {block.shape}: every block must be 2-D with the first's "
                             f"{np.shape(blocks[0])[1]} columns")
        chunks.append(da.from_array(block, chunks=block.shape, asarray=not sparse[i]))
    return da.concatenate(chunks, axis=0)


def from_files(paths):
    """A Dask array with one row block per file, each read by its own task (the client reads
    only the files' headers): ``.npz`` (``scipy.sparse.save_npz``), ``.mtx`` or ``.mtx.gz``
    (Matrix Market; sparse chunks, CSR), ``.npy`` (dense chunks, memory-mapped by the task).
    Files must hold blocks of one kind with the same number of columns, at paths every worker
    can read (on a cluster: a shared file system).

    Examples
    --------
    >>> import os, tempfile
    >>> import scipy.sparse as sp
    >>> import pynla.dask
    >>> folder = tempfile.mkdtemp()
    >>> paths = [os.path.join(folder, f"{i}.npz") for i in range(3)]
    >>> for i, path in enumerate(paths):
    ...     sp.save_npz(path, sp.random_array((100 + i, 20), density=0.1, format="csr", rng=i))
    >>> A = pynla.dask.from_files(paths)
    >>> A.shape, A.chunks[0]
    ((303, 20), (100, 101, 102))
    """
    paths = [os.fspath(path) for path in paths]
    if not paths:
        raise ValueError("paths must name at least one file")
    chunks, kinds = [], set()
    columns = _header(paths[0])[0][1]
    for path in paths:
        shape, dtype, sparse = _header(path)
        if shape[1] != columns:
            raise ValueError(f"{path} has {shape[1]} columns, {paths[0]} {columns}: every file must hold a row "
                             "block with the same columns")
        kinds.add(sparse)
        meta = sp.csr_array((0, 0), dtype=dtype) if sparse else np.empty((0, 0), dtype=dtype)
        chunks.append(da.from_delayed(_load(path), shape=shape, dtype=dtype, meta=meta))
    if len(kinds) > 1:
        raise TypeError("paths mix sparse files (.npz, .mtx) and dense ones (.npy)")
    return da.concatenate(chunks, axis=0)


def _header(path):
    """(shape, dtype, sparse) of a block file, from its header alone."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no file {path}")
    if path.endswith(".npz"):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "shape.npy" not in names or "data.npy" not in names:
                raise ValueError(f"{path} is not a SciPy sparse .npz file (scipy.sparse.save_npz)")
            with archive.open("shape.npy") as member:
                shape = tuple(int(size) for size in np.lib.format.read_array(member))
            with archive.open("data.npy") as member:
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}[np.lib.format.read_magic(member)]
                dtype = read_header(member)[2]
        return shape, np.dtype(dtype), True
    if path.endswith((".mtx", ".mtx.gz")):
        rows, columns, _, _, field, _ = scipy.io.mminfo(path)
        return (rows, columns), np.dtype(_MATRIX_MARKET_DTYPES[field]), True
    if path.endswith(".npy"):
        block = np.load(path, mmap_mode="r")
        if block.ndim != 2:
            raise ValueError(f"{path} holds an array of shape {block.shape}: row blocks must be 2-D")
        return block.shape, block.dtype, False
    raise ValueError(f"{path}: block files must be .npz (scipy.sparse.save_npz), .mtx, .mtx.gz or .npy")


@dask.delayed(pure=True)
def _load(path):
    if path.endswith(".npz"):
        return sp.load_npz(path).tocsr()
    if path.endswith(".npy"):
        return np.load(path, mmap_mode="r")
    return sp.csr_array(scipy.io.mmread(path))
