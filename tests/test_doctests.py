"""The Examples in the public docstrings run, and give what they show."""

import doctest

import pytest

import pynla

PUBLIC = [
    pynla.spgemm,
    pynla.spgemm_plan,
    pynla.spgemm_aat,
    pynla.spgemm_ata,
    pynla.ptap,
    pynla.rap,
    pynla.ptap_plan,
    pynla.set_num_threads,
    pynla.get_num_threads,
    pynla.release_cached_memory,
    pynla.bsr_matmul,
    pynla.to_bsr,
    pynla.choose_blocksize,
    pynla.bsr_from_blocks,
    pynla.block_diagonal_inverse,
    pynla.aslinearoperator,
    pynla.sketched_lstsq,
    pynla.randomized_range_finder,
    pynla.randomized_svd,
    pynla.cur,
    pynla.cur_from_functions,
    pynla.qr,
    pynla.orthogonalize,
    pynla.sort_systems,
    pynla.solve_sequence,
]

#: Public classes whose docstrings carry Examples.
PUBLIC_CLASSES = [
    pynla.CountSketch, pynla.SparseSignSketch, pynla.SRHT, pynla.GaussianSketch, pynla.CURNearestNeighbors,
    pynla.FisherInverse, pynla.SlidingFisherInverse, pynla.RecyclingGMRES, pynla.RecyclingCG,
]


@pytest.mark.parametrize("function", PUBLIC + PUBLIC_CLASSES, ids=lambda f: f.__name__)
def test_docstring_examples(function):
    finder = doctest.DocTestFinder(recurse=False)
    tests = finder.find(function, function.__name__, globs={})
    examples = sum(len(test.examples) for test in tests)
    assert examples > 0, f"{function.__name__} has no Examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted == examples
    assert result.failed == 0, f"{result.failed} of {examples} examples in {function.__name__} failed (see output)"


def test_every_public_function_is_covered():
    functions = (name for name in pynla.__all__ if callable(getattr(pynla, name)))
    assert sorted(f.__name__ for f in PUBLIC) == sorted(name for name in functions if name[0].islower())


def test_set_num_threads_example_restores_the_count():
    """The set_num_threads example changes the count and puts it back: running it is harmless."""
    before = pynla.get_num_threads()
    test_docstring_examples(pynla.set_num_threads)
    assert pynla.get_num_threads() == before
