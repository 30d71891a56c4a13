"""Solver and solve_ivp with the original's names, defaults and routing.

Every option of the C library (``cubie list options``) is a flat keyword,
as in the original; the settings dicts of the original
(step_control_settings, algorithm_settings, output_settings,
loop_settings, memory_settings) are merged into them. Compile-time
options build the kernel; run-time ones travel with each solve (changing
one never recompiles). An unknown keyword is a KeyError naming it.
"""

import numpy as np

from . import _core
from ._batch import build_grid
from ._result import SolveResult
from ._system import SymbolicODE, create_ODE_system

__all__ = ["Solver", "solve_ivp"]

_SCOPES = {key: scope for key, _, scope in _core.options()}
_RENAMED = {"dt_save": "save_every", "dt_summarise": "summarise_every",
            "dt_update_summaries": "sample_summaries_every"}
# The original's keywords that have no meaning here: accepted, ignored.
_IGNORED = {"time_logging_level", "auto_memory", "memory_manager",
            "stream_group", "mem_proportion", "host_spill_threshold",
            "spill_directory", "cache_mode", "max_cache_entries",
            "cache_dir"}
_GROUPS = ("step_control_settings", "algorithm_settings", "output_settings",
           "loop_settings", "memory_settings")


def _text(key, value, system):
    """An option's value as cubie_options_set takes it."""
    if key in ("save_variables", "summarise_variables"):
        if isinstance(value, str):
            return value
        names = list(value)
        return ",".join(names) if names else "[]"
    if key.endswith("_indices"):
        if isinstance(value, str):
            return value
        idx = np.atleast_1d(value).astype(int)
        return ",".join(str(i) for i in idx) if idx.size else "[]"
    if key == "output_types":
        return value if isinstance(value, str) else ",".join(value)
    if key in ("atol", "rtol", "newton_atol", "newton_rtol", "krylov_atol",
               "krylov_rtol") and np.ndim(value) > 0:
        return ",".join(repr(float(v)) for v in np.ravel(value))
    if key == "precision":
        return np.dtype(value).name
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def _check_renamed(keys):
    old = [k for k in keys if k in _RENAMED]
    if old:
        raise KeyError("Renamed keyword argument(s): " + ", ".join(
            "'%s' is now '%s'" % (k, _RENAMED[k]) for k in old) + ".")


def _split(system, kwargs, what):
    """(compile, run) option dicts of text from keyword arguments."""
    _check_renamed(kwargs)
    comp, run, unknown = {}, {}, []
    for key, value in kwargs.items():
        if value is None or key in _IGNORED:
            continue
        if key == "cache":
            comp["cache"] = "true" if value else "false"
            continue
        scope = _SCOPES.get(key)
        if scope is None and key.endswith("_location"):
            scope = "compile"
        if scope is None:
            unknown.append(key)
            continue
        (comp if scope == "compile" else run)[key] = _text(key, value,
                                                           system)
    if unknown:
        raise KeyError("%s: %s" % (what, set(unknown)))
    return comp, run


class Solver:
    """A compiled kernel for one system and solver stack, reused by
    every solve.

    Solver(system, algorithm="euler", **options): options are cubie's
    (the original's names: dt, atol, rtol, step_controller, output_types,
    save_every, preconditioner_type, backend, ...). The kernel is
    compiled at once, with the GIL released."""

    def __init__(self, system, algorithm="euler", lineinfo=None,
                 step_control_settings=None, algorithm_settings=None,
                 output_settings=None, memory_settings=None,
                 loop_settings=None, time_logging_level=None, cache=True,
                 auto_memory=True, **kwargs):
        if not isinstance(system, SymbolicODE):
            raise TypeError("Solver needs a system from create_ODE_system, "
                            "got %s" % type(system).__name__)
        self.system = system
        merged = {}
        for group in (step_control_settings, algorithm_settings,
                      output_settings, memory_settings, loop_settings):
            if group:
                merged.update(group)
        merged.update(kwargs)
        merged["algorithm"] = algorithm
        merged["precision"] = system.precision  # the system's, as there
        merged["cache"] = cache
        if lineinfo is not None:
            merged["lineinfo"] = lineinfo
        comp, run = _split(system, merged,
                           "Unrecognized keyword arguments")
        self._compile_options = comp
        self._run_options = run
        self._build()

    def _build(self):
        self._core = _core.Solver(self.system._core, self._compile_options)

    @property
    def algorithm(self):
        return self._compile_options.get("algorithm")

    @property
    def precision(self):
        return self.system.precision

    @property
    def backend(self):
        return self._core.backend

    @property
    def source(self):
        """The generated CUDA C of the kernel."""
        return self._core.source

    def update(self, updates_dict=None, silent=False, **kwargs):
        """Change options: compile-time ones rebuild the kernel. Returns
        the keys taken."""
        upd = dict(updates_dict or {})
        upd.update(kwargs)
        comp, run = _split(self.system, upd, "Unrecognized parameters")
        self._run_options.update(run)
        if comp and any(self._compile_options.get(k) != v
                        for k, v in comp.items()):
            self._compile_options.update(comp)
            self._build()
        return set(comp) | set(run)

    def build_grid(self, initial_values=None, parameters=None,
                   grid_type="verbatim"):
        """(inits, params) of the runs, each (n_vars, n_runs)."""
        return build_grid(self.system, initial_values, parameters, grid_type)

    def solve(self, initial_values, parameters, drivers=None, duration=1.0,
              settling_time=0.0, t0=0.0, blocksize=256, grid_type="verbatim",
              nan_error_trajectories=True, on_device=False, **kwargs):
        """Run the batch the inputs describe; a SolveResult."""
        if on_device:
            raise NotImplementedError("on_device results are not offered: "
                                      "results come back to the host")
        if kwargs:
            self.update(kwargs)
        inits, params = build_grid(self.system, initial_values, parameters,
                                   grid_type)
        run = dict(self._run_options)
        run.update({"duration": repr(float(duration)),
                    "settling_time": repr(float(settling_time)),
                    "t0": repr(float(t0)), "blocksize": str(int(blocksize)),
                    "nan_error_trajectories":
                        "true" if nan_error_trajectories else "false"})
        samples, times = None, None
        if drivers:
            samples, times = {}, None
            for key, value in drivers.items():
                if key == "time":
                    times = np.asarray(value, dtype=np.float64)
                elif key in ("dt", "driver_sample_period"):
                    run["driver_sample_period"] = repr(float(value))
                elif key in ("t0", "driver_t0"):
                    run["driver_t0"] = repr(float(value))
                elif key in ("order", "wrap", "boundary_condition"):
                    raise KeyError("drivers['%s']: set driver_%s as a Solver "
                                   "option" % (key, key))
                else:
                    samples[key] = np.asarray(value, dtype=np.float64)
        res = self._core.run(inits, params, run, samples, times)
        return SolveResult(res, self.system)

    def close(self):
        self._core = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def solve_ivp(system, y0, parameters=None, drivers=None, method="euler",
              duration=1.0, settling_time=0.0, t0=0.0, save_variables=None,
              summarise_variables=None, grid_type="combinatorial",
              time_logging_level=None, nan_error_trajectories=True,
              **kwargs):
    """Build (when system is not one already), compile and solve in one
    call, as the original's solve_ivp; a SolveResult."""
    if not isinstance(system, SymbolicODE):
        if parameters is not None and not isinstance(parameters, dict):
            raise TypeError("When equations are supplied directly to "
                            "solve_ivp, parameters must be a dict mapping "
                            "names to values so the system's parameters can "
                            "be declared.")
        states = None
        if isinstance(y0, dict):
            states = {k: float(np.asarray(v, dtype=float).flat[0])
                      for k, v in y0.items()}
        drv = [k for k in (drivers or {}) if k not in
               ("time", "dt", "driver_sample_period", "t0", "driver_t0")]
        system = create_ODE_system(
            system, precision=kwargs.pop("precision", np.float32),
            states=states, parameters=parameters, drivers=drv or None)
    loop = kwargs.pop("loop_settings", None)
    if loop:
        kwargs = dict(loop, **kwargs)
    if save_variables is not None:
        kwargs["save_variables"] = save_variables
    if summarise_variables is not None:
        kwargs["summarise_variables"] = summarise_variables
    blocksize = kwargs.pop("blocksize", 256)
    solver = Solver(system, algorithm=method, **kwargs)
    try:
        return solver.solve(y0, parameters, drivers=drivers,
                            duration=duration, settling_time=settling_time,
                            t0=t0, blocksize=blocksize, grid_type=grid_type,
                            nan_error_trajectories=nan_error_trajectories)
    finally:
        solver.close()
