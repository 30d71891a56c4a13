"""The runs of a batch from dicts or arrays, by the original's rules.

Every grid is (n_vars, n_runs): one row per state or parameter in the
system's order, one column per run.
  - None: one run at the defaults.
  - dict name -> value(s): "combinatorial" takes every combination of
    each name's distinct values, the last name varying fastest;
    "verbatim" pairs them run for run (equal lengths). Names not given
    keep their defaults.
  - an array: 1-D is one run, 2-D is (n_vars, n_runs).
States and parameters then combine: "combinatorial" runs every state
column against every parameter column (states vary slowest);
"verbatim" pairs them, a grid of one run broadcasting.
The original's shortcut is kept: two 2-D arrays of the right heights
and the same run count are taken run for run whatever the grid type.
"""

import itertools
import warnings

import numpy as np

__all__ = ["build_grid"]


def _unique(values):
    seen, out = set(), []
    for v in values:
        key = float(v)
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def _single(data, names, defaults, kind, what):
    n = len(names)
    base = np.asarray(defaults, dtype=np.float64).reshape(n, 1)
    if data is None:
        return base
    if isinstance(data, dict):
        if n == 0 and data:
            raise ValueError("Grid values were provided but the system has "
                             "no %s" % what)
        rows, cols = [], []
        for key, value in data.items():
            if isinstance(key, (int, np.integer)):
                if not 0 <= key < n:
                    raise KeyError("%s index %d is out of range (%d %s)"
                                   % (what, key, n, what))
                idx = int(key)
            elif key in names:
                idx = names.index(key)
            else:
                raise KeyError("'%s' not found in this SystemValues object. "
                               "Double check that you're looking in the "
                               "right place (i.e. states, or parameters, or "
                               "constants); the %s are %s"
                               % (key, what, list(names)))
            v = np.atleast_1d(np.asarray(value, dtype=np.float64)).ravel()
            if v.size == 0:
                continue
            rows.append(idx)
            cols.append(v)
        if not rows:
            return base
        if kind == "combinatorial":
            combos = list(itertools.product(*[_unique(c) for c in cols]))
            swept = np.array(combos, dtype=np.float64).T
        else:
            lengths = {len(c) for c in cols}
            if len(lengths) != 1:
                raise ValueError("For 'verbatim', every %s value list must "
                                 "have the same length, got %s"
                                 % (what, [len(c) for c in cols]))
            swept = np.array(cols, dtype=np.float64)
        out = np.repeat(base, swept.shape[1], axis=1)
        out[rows, :] = swept
        return out
    if isinstance(data, (list, tuple, np.ndarray)):
        a = np.asarray(data, dtype=np.float64)
        if a.size == 0:
            return base
        if a.ndim > 2:
            raise ValueError("Input must be a 1D or 2D array, but got a %dD "
                             "array." % a.ndim)
        if a.ndim == 1:
            a = a.reshape(-1, 1)
        if a.shape[0] != n:
            warnings.warn("Provided input data has %d variables, but there "
                          "are %d settable values. Missing values will be "
                          "filled with default values, and extras ignored."
                          % (a.shape[0], n), UserWarning, stacklevel=4)
            full = np.repeat(base, a.shape[1], axis=1)
            k = min(n, a.shape[0])
            full[:k] = a[:k]
            a = full
        return a
    raise TypeError("Input must be None, dict, or array-like, got %s"
                    % type(data))


def build_grid(system, states=None, params=None, kind="combinatorial"):
    """(inits, params): float64 arrays (n_states, n_runs), (n_params,
    n_runs) for the runs the inputs describe."""
    if kind not in ("combinatorial", "verbatim"):
        raise ValueError("Unknown grid type '%s'. Use 'combinatorial' or "
                         "'verbatim'." % kind)
    sn, pn = list(system.states), list(system.parameters)
    if isinstance(states, np.ndarray) and states.ndim == 2 and \
            states.shape[0] == len(sn):
        if isinstance(params, np.ndarray) and params.ndim == 2 and \
                params.shape[0] == len(pn) and \
                params.shape[1] == states.shape[1]:
            return (np.ascontiguousarray(states, dtype=np.float64),
                    np.ascontiguousarray(params, dtype=np.float64))
    s = _single(states, sn, list(system.states.values()), kind, "states")
    p = _single(params, pn, list(system.parameters.values()), kind,
                "parameters")
    if kind == "combinatorial":
        ns, np_ = s.shape[1], p.shape[1]
        s = np.repeat(s, np_, axis=1)
        p = np.tile(p, (1, ns))
    else:
        if s.shape[1] != p.shape[1]:
            if s.shape[1] == 1:
                s = np.repeat(s, p.shape[1], axis=1)
            elif p.shape[1] == 1:
                p = np.repeat(p, s.shape[1], axis=1)
            else:
                raise ValueError("For 'verbatim', both grids must have the "
                                 "same number of runs, or one grid must have "
                                 "exactly 1 run so it can be broadcast to "
                                 "match the other.")
    return np.ascontiguousarray(s), np.ascontiguousarray(p)
