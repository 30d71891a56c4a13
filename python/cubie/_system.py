"""create_ODE_system: a system from equations, a function or a JSON spec."""

import hashlib
import json
import os

import numpy as np

from . import _core
from ._function import function_equations, string_equations

__all__ = ["SymbolicODE", "create_ODE_system"]


def _precision(p):
    try:
        dt = np.dtype(p)
    except TypeError:
        dt = None
    if dt == np.float32:
        return np.float32
    if dt == np.float64:
        return np.float64
    raise ValueError("precision must be one of float32 or float64 (cubie "
                     "has no float16 kernels), got %r" % (p,))


def _values(v, what):
    """A dict of name -> float from a dict or a list of names."""
    if v is None:
        return {}
    if isinstance(v, dict):
        return {str(k): float(np.asarray(x, dtype=float).flat[0])
                for k, x in v.items()}
    if isinstance(v, str):
        return {v: 0.0}
    try:
        return {str(k): 0.0 for k in v}
    except TypeError:
        raise TypeError("%s must be a dict of name -> default or a list of "
                        "names, got %s" % (what, type(v).__name__)) from None


class SymbolicODE:
    """A system of ODEs as cubie compiles it: a JSON spec (``spec``) and
    its parsed form. Attributes follow the original's where they apply:
    ``name``, ``precision``, ``num_states``, ``num_parameters``,
    ``num_constants``, ``num_observables``, ``num_drivers``, and the names
    and defaults in ``states``, ``parameters`` (dicts), ``constants``,
    ``observables`` and ``drivers``."""

    def __init__(self, spec, precision=np.float32):
        self.spec = dict(spec)
        self.precision = _precision(precision)
        self.json = json.dumps(self.spec)
        self._core = _core.System(self.json)  # SpecError on bad input
        self.name = self._core.name or self.spec.get("name", "")
        self.states = {k: float(v) for k, v in
                       self.spec.get("states", {}).items()}
        self.parameters = {k: float(v) for k, v in
                           self.spec.get("parameters", {}).items()}
        self.constants = {k: float(v) for k, v in
                          self.spec.get("constants", {}).items()}
        self.observables = list(self.spec.get("observables", []))
        self.drivers = list(self.spec.get("drivers", []))

    num_states = property(lambda self: len(self.states))
    num_parameters = property(lambda self: len(self.parameters))
    num_constants = property(lambda self: len(self.constants))
    num_observables = property(lambda self: len(self.observables))
    num_drivers = property(lambda self: len(self.drivers))
    equations = property(lambda self: list(self.spec["equations"]))

    def __repr__(self):
        return ("SymbolicODE(%r: %d states, %d parameters, %d observables, "
                "%s)" % (self.name, self.num_states, self.num_parameters,
                         self.num_observables,
                         np.dtype(self.precision).name))


def create_ODE_system(dxdt, precision=np.float32, states=None,
                      observables=None, parameters=None, constants=None,
                      drivers=None, name=None, **unsupported):
    """A SymbolicODE from equations, as the original's.

    dxdt: equation strings ("dx = -k * x"; a string of lines or a list),
    a Python function f(t, y, p) or f(t, y, a, b, ...) read from its
    source (never called), a path to a JSON spec, or a dict of one.
    states, parameters, constants: dicts of name -> default, or lists of
    names (default 0.0); observables and drivers: lists of names."""
    for key in ("user_functions", "user_function_derivatives", "mass",
                "state_priority", "irreducible", "simplify_options"):
        if unsupported.get(key) is not None:
            raise NotImplementedError("create_ODE_system: %s is not "
                                      "supported by cubie's C library" % key)
    unknown = set(unsupported) - {"user_functions", "user_function_"
                                  "derivatives", "mass", "state_priority",
                                  "irreducible", "simplify_options",
                                  "strict", "simplify"}
    if unknown:
        raise TypeError("create_ODE_system got unexpected keyword arguments "
                        "%s" % sorted(unknown))
    if dxdt is None:
        raise TypeError("dxdt cannot be None")
    if isinstance(dxdt, (str, os.PathLike)) and str(dxdt).endswith(".json") \
            and os.path.isfile(str(dxdt)):
        with open(str(dxdt), "rb") as f:
            spec = json.loads(f.read().decode("utf-8"))
        return SymbolicODE(spec, precision)
    if isinstance(dxdt, dict):
        return SymbolicODE(dxdt, precision)
    st = None if states is None else _values(states, "states")
    par = _values(parameters, "parameters")
    con = _values(constants, "constants")
    obs = list(observables or [])
    drv = list(drivers or [])
    if callable(dxdt) and not isinstance(dxdt, (str, list, tuple)):
        eqs, st, par = function_equations(dxdt, st, par, con, obs, drv)
    elif isinstance(dxdt, str) or (
            hasattr(dxdt, "__iter__") and not isinstance(dxdt, dict)):
        items = [dxdt] if isinstance(dxdt, str) else list(dxdt)
        if items and not all(isinstance(x, str) for x in items):
            raise TypeError("dxdt elements must be strings, got %s"
                            % type(items[0]).__name__)
        eqs, st, par = string_equations(items if not isinstance(dxdt, str)
                                        else dxdt, st, par, con, obs, drv)
    else:
        raise TypeError("dxdt must be string or iterable, got %s"
                        % type(dxdt).__name__)
    if name is None:
        name = "system_" + hashlib.sha1("\n".join(eqs).encode()).hexdigest()[
            :12]
    spec = {"name": name, "states": st, "equations": eqs}
    if par:
        spec["parameters"] = par
    if con:
        spec["constants"] = con
    if obs:
        spec["observables"] = obs
    if drv:
        spec["drivers"] = drv
    return SymbolicODE(spec, precision)
