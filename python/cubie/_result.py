"""SolveResult: a run's outputs with the original's attributes.

Layout: the C library keeps each array as (run, time, variable), run
slowest (rows of one run together). The original's attributes are
(time, variable, run); here they are transposed NumPy views of the same
memory, so nothing is copied (``np.ascontiguousarray`` makes a packed
copy when one is needed). ``time_domain_array`` and ``summaries_array``
copy only when they must join states and observables, as the
original's do. Every view keeps the result's memory alive.
"""

import enum

import numpy as np

from . import _core

__all__ = ["SolveResult", "CUBIE_RESULT_CODES"]


class CUBIE_RESULT_CODES(enum.IntFlag):
    """Run status bits, with the original's names (NONFINITE_STATE,
    SINGULAR_MATRIX and the note LINEAR_CAP_OFTEN are cubie's own)."""
    SUCCESS = 0
    MAX_NEWTON_ITERATIONS_EXCEEDED = 2
    MAX_LINEAR_ITERATIONS_EXCEEDED = 4
    STEP_TOO_SMALL = 8
    DT_EFF_EFFECTIVELY_ZERO = 16
    MAX_LOOP_ITERS_EXCEEDED = 32
    STAGNATION = 64
    BICGSTAB_BREAKDOWN = 128
    NEWTON_DIVERGENCE = 256
    NONFINITE_STATE = 512
    SINGULAR_MATRIX = 1024
    LINEAR_CAP_OFTEN = 65536


def _view(a):
    """(run, time, column) -> (time, column, run), no copy."""
    return a.transpose(1, 2, 0)


class SolveResult:
    """The outputs of one solve. Attributes as the original's:
    time_domain_array (time, variable, run), summaries_array (window,
    summary, run), time (time, run) when output_types holds "time",
    time_domain_legend and summaries_legend ({column: label}),
    status_codes (run,), status_messages, iteration_counters (time, 4,
    run), as_numpy, as_numpy_per_summary, as_pandas; plus cubie's:
    arrays (every array in the C layout), settings (every option as it
    ran), notes, kernel_ms, wall_ms and plot()."""

    def __init__(self, core_result, system):
        self._core = core_result
        self.system = system
        self.arrays = {}
        self.legends = {}
        for name, arr, cols, axes in core_result.arrays():
            self.arrays[name] = arr
            self.legends[name] = list(cols) if cols is not None else []
        self.settings = core_result.settings()
        self.notes = core_result.notes
        self.kernel_ms = core_result.kernel_ms
        self.wall_ms = core_result.wall_ms
        self.backend = core_result.backend
        state = self.arrays["state"]
        names = self.legends["state"]
        self._has_time = bool(names) and names[-1] == "t"
        self._state = state[:, :, :-1] if self._has_time else state
        self._state_names = names[:-1] if self._has_time else names
        out = self.settings.get("output_types") or ()
        self._state_saved = "state" in out
        self.solve_settings = self.settings

    # ---- the original's attributes ------------------------------------

    @property
    def status_codes(self):
        return self.arrays["status"]

    @property
    def status_messages(self):
        """{run: [flag names]} for the runs with any bit set."""
        out = {}
        for run in np.flatnonzero(self.status_codes):
            code = int(self.status_codes[run])
            out[int(run)] = [f.name for f in CUBIE_RESULT_CODES
                             if f.value and code & f.value]
        return out

    @property
    def failed(self):
        """A boolean per run: a failure bit is set (notes are not)."""
        return (self.status_codes & _core.RUN_FAILED_MASK) != 0

    @property
    def time(self):
        if not self._has_time:
            return None
        return self.arrays["state"][:, :, -1].T

    @property
    def state(self):
        return _view(self.arrays["state"])

    @property
    def observables(self):
        a = self.arrays.get("observables")
        return None if a is None else _view(a)

    @property
    def iteration_counters(self):
        a = self.arrays.get("iteration_counters")
        return None if a is None else _view(a)

    @property
    def time_domain_array(self):
        parts = []
        if self._state_saved and self._state.shape[2] > 0:
            parts.append(_view(self._state))
        obs = self.arrays.get("observables")
        if obs is not None and obs.shape[2] > 0:
            parts.append(_view(obs))
        if not parts:
            return np.array([])
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    @property
    def time_domain_legend(self):
        labels = []
        if self._state_saved:
            labels += self._state_names
        if self.arrays.get("observables") is not None:
            labels += self.legends["observables"]
        return dict(enumerate(labels))

    @property
    def summaries_array(self):
        parts = [_view(self.arrays[k]) for k in
                 ("state_summaries", "observable_summaries")
                 if k in self.arrays and self.arrays[k].shape[2] > 0]
        if not parts:
            return np.array([])
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    @property
    def summaries_legend(self):
        labels = []
        for k in ("state_summaries", "observable_summaries"):
            if k in self.arrays:
                labels += self.legends[k]
        return dict(enumerate(labels))

    @property
    def summary_time(self):
        return self.arrays.get("summary_time")

    def _copy(self, a):
        return None if a is None else np.array(a, copy=True)

    @property
    def as_numpy(self):
        return {"time": self._copy(self.time),
                "time_domain_array": self._copy(self.time_domain_array),
                "summaries_array": self._copy(self.summaries_array),
                "time_domain_legend": dict(self.time_domain_legend),
                "summaries_legend": dict(self.summaries_legend),
                "iteration_counters": self._copy(self.iteration_counters)}

    @property
    def as_numpy_per_summary(self):
        out = {"time": self._copy(self.time),
               "time_domain_array": self._copy(self.time_domain_array),
               "time_domain_legend": dict(self.time_domain_legend),
               "iteration_counters": self._copy(self.iteration_counters)}
        legend = list(self.summaries_legend.values())
        if legend:
            arr = self.summaries_array
            by = {}
            for i, label in enumerate(legend):
                metric = label.split(" ", 1)[1]
                by.setdefault(metric, []).append(i)
            for metric, cols in by.items():
                out[metric] = np.array(arr[:, cols, :], copy=True)
            out["summary_legend"] = dict(self.time_domain_legend)
        return out

    @property
    def as_pandas(self):
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Pandas is required to convert SolveResult to "
                              "DataFrames. Install it (Debian: "
                              "python3-pandas).") from None
        td = self.time_domain_array
        frames = {}
        if td.size:
            n_runs = td.shape[2]
            labels = list(self.time_domain_legend.values())
            cols = pd.MultiIndex.from_tuples(
                [("run_%d" % r, lab) for r in range(n_runs)
                 for lab in labels])
            data = td.transpose(0, 2, 1).reshape(td.shape[0], -1)
            index = self.time[:, 0] if self.time is not None else None
            frames["time_domain"] = pd.DataFrame(data, columns=cols,
                                                 index=index)
        else:
            frames["time_domain"] = pd.DataFrame()
        sm = self.summaries_array
        if sm.size:
            labels = list(self.summaries_legend.values())
            cols = pd.MultiIndex.from_tuples(
                [("run_%d" % r, lab) for r in range(sm.shape[2])
                 for lab in labels])
            frames["summaries"] = pd.DataFrame(
                sm.transpose(0, 2, 1).reshape(sm.shape[0], -1), columns=cols,
                index=self.summary_time)
        else:
            frames["summaries"] = pd.DataFrame()
        return frames

    # ---- plots --------------------------------------------------------

    def plot(self, variables=None, runs=None, summary=None, axis=None,
             ax=None, path=None):
        """Trajectories of runs (default: the first 8) for variables
        (default: every saved one) against time; or, with summary="x
        mean" (a summaries_legend label), that column of the last window
        against the parameter or state named by axis, one point per run.
        Draws on ax (a new figure without one), saves to path when given,
        and returns the axes. Needs matplotlib."""
        import matplotlib
        if path is not None and ax is None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        if summary is not None:
            legend = list(self.summaries_legend.values())
            if summary not in legend:
                raise KeyError("no summary column %r; the columns are %s"
                               % (summary, legend))
            if axis is None:
                raise ValueError("plot(summary=...) needs axis=: a "
                                 "parameter or state that varies over the "
                                 "runs")
            x = self._input(axis)
            y = self.summaries_array[-1, legend.index(summary), :]
            order = np.argsort(x)
            ax.plot(x[order], y[order], ".-")
            ax.set_xlabel(axis)
            ax.set_ylabel(summary)
        else:
            legend = list(self.time_domain_legend.values())
            variables = legend if variables is None else list(variables)
            td = self.time_domain_array
            n_runs = td.shape[2]
            runs = range(min(n_runs, 8)) if runs is None else runs
            t = self.time[:, 0] if self.time is not None else \
                self.arrays["time"]
            for r in runs:
                for v in variables:
                    if v not in legend:
                        raise KeyError("no saved variable %r; saved: %s"
                                       % (v, legend))
                    ax.plot(t, td[:, legend.index(v), r],
                            label="%s, run %d" % (v, r))
            ax.set_xlabel("t")
            if len(runs) * len(variables) <= 12:
                ax.legend(fontsize="small")
        if path is not None:
            ax.figure.savefig(path, dpi=120, bbox_inches="tight")
        return ax

    def _input(self, name):
        """The value of a state (initial) or parameter over the runs."""
        for arr in ("params", "inits"):
            names = self.legends.get(arr, [])
            if name in names:
                return self.arrays[arr][:, names.index(name)]
        raise KeyError("%r is neither a parameter nor a state" % name)

    def __repr__(self):
        return ("SolveResult(%d runs on %s, %d failed%s)"
                % (len(self.status_codes), self.backend,
                   int(self.failed.sum()),
                   ", notes" if self.notes else ""))
