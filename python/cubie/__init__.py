"""cubie: batches of ODE systems integrated by generated CUDA C kernels
(on NVIDIA GPUs, or on the CPU), with the API of the Python original.

    import cubie as qb
    LV = qb.create_ODE_system("dx = a*x - b*x*y\\ndy = -c*y + d*x*y",
                              states={"x": 1, "y": 1},
                              parameters={"a": 1, "b": 1, "c": 1, "d": 1})
    result = qb.solve_ivp(LV, {"x": np.linspace(0, 2, 64)},
                          method="tsit5", duration=10, save_every=0.1)
    result.time_domain_array   # (time, variable, run)

Errors raise subclasses of cubie.CubieError (SpecError, ExpressionError,
OptionError, CompileError, BackendError, BatchError, RunError) carrying
the library's detail: .path (JSON path or option key), .column (in an
expression), .log (the compiler's), .dump_path.
"""

from ._core import (BackendError, BatchError, CompileError, CubieError,
                    ExpressionError, OptionError, RunError, SpecError)
from ._function import EquationWarning
from ._result import CUBIE_RESULT_CODES, SolveResult
from ._solver import Solver, solve_ivp
from ._system import SymbolicODE, create_ODE_system

__version__ = "0.1.0"

__all__ = ["create_ODE_system", "solve_ivp", "Solver", "SolveResult",
           "SymbolicODE", "CUBIE_RESULT_CODES", "EquationWarning",
           "CubieError", "SpecError", "ExpressionError", "OptionError",
           "CompileError", "BackendError", "BatchError", "RunError"]
