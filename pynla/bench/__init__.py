"""Benchmarks of pynla against SciPy (the anchor) and peer libraries.

``python -m pynla.bench`` runs them and prints a table of median times and ratios to SciPy.
Each capability has a module here (``spgemm``, ...) exposing ``cases(full=False)``, a list of
:class:`pynla.bench.timing.Case`; ``matrices`` holds the reproducible test-matrix generators
that the asv benchmarks (``asv_bench/``) reuse, and ``timing`` the timer, the peak-memory
probe and the output.
"""
