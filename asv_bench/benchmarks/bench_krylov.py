"""Krylov recycling: pynla.solve_sequence against SciPy's solver on each system, on the bench's
Darcy sequence (log-normal fields of one family in random order, Jacobi, rtol 1e-8) at 64^2
(smaller than ``python -m pynla.bench krylov``'s 128^2) and on the bench's convection-diffusion
sequence at 64^2. "scipy": gmres(restart=40) for gcrodr, cg for cg. Answers are checked on their
true residuals; ``track_products`` records pynla's products with A as a fraction of SciPy's.
"""

import functools

from pynla.bench import krylov

from . import _timed

N = 64


@functools.lru_cache(maxsize=None)
def _sequence(problem):
    return krylov.darcy_sequence(N) if problem == "darcy" else krylov.convection_sequence(N)


def _solvers(method):
    if method == "gcrodr":
        return {"scipy": krylov._scipy_gmres,
                "pynla": krylov._pynla("gcrodr", m=krylov.M_GMRES, k=krylov.K_GMRES)}
    return {"scipy": krylov._scipy_cg, "pynla": krylov._pynla("cg", k=krylov.K_CG, m=krylov.M_CG)}


class Sequence(_timed.TimedCall):
    params = [*_timed.TimedCall.params, ["darcy", "convection"], ["gcrodr", "cg"]]
    param_names = [*_timed.TimedCall.param_names, "problem", "method"]

    def setup(self, impl, threads, problem, method):
        if problem == "convection" and method == "cg":
            raise NotImplementedError("convection-diffusion is not symmetric: CG does not apply")
        self.problem, self.method = problem, method
        super().setup(impl, threads)

    def compare(self, expected, got):
        return krylov._compare(lambda: _sequence(self.problem))(expected, krylov._Answer(got))

    def calls(self):
        matrices, rhs = _sequence(self.problem)
        return {name: functools.partial(solve, matrices, rhs) for name, solve in _solvers(self.method).items()}


class Products:
    """pynla's products with A over the sequence, as a fraction of SciPy's (lower is better)."""

    params = [["darcy", "convection"], ["gcrodr", "cg"]]
    param_names = ["problem", "method"]
    timeout = 300

    def setup(self, problem, method):
        if problem == "convection" and method == "cg":
            raise NotImplementedError("convection-diffusion is not symmetric: CG does not apply")

    def track_products(self, problem, method):
        matrices, rhs = _sequence(problem)
        solvers = _solvers(method)
        ours = krylov._counted_products(solvers["pynla"], matrices, rhs)
        theirs = krylov._counted_products(solvers["scipy"], matrices, rhs)
        return ours / theirs

    track_products.unit = "fraction of SciPy's"
