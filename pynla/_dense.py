"""Hands SciPy's own BLAS/LAPACK to the core.

``scipy.linalg.cython_blas`` and ``cython_lapack`` export their routines as PyCapsules in
``__pyx_capi__``; the core keeps the function pointers in one table. One BLAS in the process,
the one ``threadpoolctl`` controls, and nothing extra to link.
"""

from scipy.linalg import cython_blas, cython_lapack

from pynla import _core

_core.dense.load_routines(cython_blas.__pyx_capi__, cython_lapack.__pyx_capi__)
