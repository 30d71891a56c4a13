"""The Python binding's overhead (not a test): 2^20 Lorenz runs, RK4
float32, dt = 1e-3, t in [0, 1], a grid of rho, final state only. Prints
the whole Solver.solve call as Python sees it against the C cubie_run's
own wall time (result.wall_ms) of the same call, medians over repeats.

    tools/python tools/bench/bench_python.py [SPECS] [n_runs] [repeats]
    (or PYTHONPATH=build/python /usr/bin/python3 ...)
"""
import os
import sys
import threading
import time

import numpy as np

import cubie as qb

specs = sys.argv[1] if len(sys.argv) > 1 else "specs"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 20
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5

system = qb.create_ODE_system(os.path.join(specs, "lorenz.json"))
t0 = time.perf_counter()
solver = qb.Solver(system, algorithm="classical-rk4", dt=1e-3)
print("compile (or cache hit) %.1f ms on %s" %
      ((time.perf_counter() - t0) * 1e3, solver.backend))
rho = {"rho": np.linspace(0.0, 28.0, n)}
solver.solve(None, {"rho": rho["rho"][:1024]}, duration=1.0)  # warm
py, c, ker = [], [], []
for _ in range(reps):
    t0 = time.perf_counter()
    r = solver.solve(None, rho, duration=1.0)
    py.append((time.perf_counter() - t0) * 1e3)
    c.append(r.wall_ms)
    ker.append(r.kernel_ms)
    del r
py, c, ker = np.median(py), np.median(c), np.median(ker)
print("%d runs: Python solve %.1f ms, C cubie_run %.1f ms (kernel %.1f ms): "
      "the binding adds %.2f %% (medians of %d)"
      % (n, py, c, ker, 100.0 * (py - c) / c, reps))

# Two threads at once: the GIL is released during the run.
m = n // 4
half = {"rho": rho["rho"][:m]}
t0 = time.perf_counter()
solver.solve(None, half, duration=1.0)
one = time.perf_counter() - t0
t0 = time.perf_counter()
ths = [threading.Thread(target=solver.solve, args=(None, half),
                        kwargs={"duration": 1.0}) for _ in range(2)]
for t in ths:
    t.start()
for t in ths:
    t.join()
two = time.perf_counter() - t0
print("%d runs: one solve %.1f ms; two solves on two Python threads at once "
      "%.1f ms (%.2fx one; 2.00x would mean serialised)"
      % (m, one * 1e3, two * 1e3, two / one))
