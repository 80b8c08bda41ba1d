"""pynla: a numerical linear algebra engine with a C++ core and a SciPy-compatible API.

Functions take and return SciPy types (``scipy.sparse`` arrays and matrices,
``LinearOperator``) and run multithreaded C++ kernels with the GIL released.
"""

from pynla import _dense  # noqa: F401  (fills the core's BLAS/LAPACK table at import)
from pynla._memory import release_cached_memory
from pynla._threads import get_num_threads, set_num_threads
from pynla.block import BsrLinearOperator, aslinearoperator, block_diagonal_inverse, bsr_matmul
from pynla.block_build import bsr_from_blocks, choose_blocksize, to_bsr
from pynla.cur import CURDecomposition, cur, cur_from_functions
from pynla.cur_neighbors import CURNearestNeighbors, NeighborsResult
from pynla.galerkin import PtapPlan, ptap, ptap_plan, rap
from pynla.fisher import EmpiricalFisher, FisherInverse, SlidingFisherInverse
from pynla.lstsq import LstsqResult, sketched_lstsq
from pynla.orthogonalize import orthogonalize
from pynla._krylov import SolveStats
from pynla.randomized import randomized_range_finder, randomized_svd
from pynla.recycling_cg import RecyclingCG
from pynla.recycling_gmres import RecyclingGMRES
from pynla.sequences import SequenceResult, solve_sequence, sort_systems
from pynla.sketch import SRHT, CountSketch, GaussianSketch, SparseSignSketch
from pynla.spgemm import spgemm
from pynla.spgemm_plan import SpgemmPlan, spgemm_plan
from pynla.spgemm_symmetric import spgemm_aat, spgemm_ata
from pynla.svd_update import IncrementalSVD, TruncatedSVDOperator
from pynla.tall import qr

__all__ = [
    "BsrLinearOperator",
    "CURDecomposition",
    "CURNearestNeighbors",
    "CountSketch",
    "EmpiricalFisher",
    "FisherInverse",
    "IncrementalSVD",
    "GaussianSketch",
    "LstsqResult",
    "NeighborsResult",
    "PtapPlan",
    "RecyclingCG",
    "RecyclingGMRES",
    "SRHT",
    "SequenceResult",
    "SlidingFisherInverse",
    "SolveStats",
    "SparseSignSketch",
    "SpgemmPlan",
    "TruncatedSVDOperator",
    "aslinearoperator",
    "block_diagonal_inverse",
    "bsr_from_blocks",
    "bsr_matmul",
    "choose_blocksize",
    "cur",
    "cur_from_functions",
    "get_num_threads",
    "orthogonalize",
    "ptap",
    "ptap_plan",
    "qr",
    "randomized_range_finder",
    "randomized_svd",
    "rap",
    "release_cached_memory",
    "set_num_threads",
    "sketched_lstsq",
    "solve_sequence",
    "sort_systems",
    "spgemm",
    "spgemm_aat",
    "spgemm_ata",
    "spgemm_plan",
    "to_bsr",
]
__version__ = "0.1.0"
