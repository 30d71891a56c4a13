"""The Python package against independent references: SciPy's solve_ivp,
the command-line program's bytes, and the original's documented examples
run unchanged (only the import differs)."""

import os
import subprocess
import threading
import time

import numpy as np
import pytest
from scipy.integrate import solve_ivp as scipy_solve_ivp

import cubie as qb

SPECS = os.environ.get("CUBIE_SPECS", os.path.join(
    os.path.dirname(__file__), "..", "..", "specs"))
EXE = os.environ.get("CUBIE_EXE")


def scipy_final(f, y0, t_end, args=()):
    sol = scipy_solve_ivp(f, (0.0, t_end), y0, args=args, method="DOP853",
                          rtol=1e-12, atol=1e-12)
    assert sol.success
    return sol.y[:, -1]


# ---- the original's getting-started page, unchanged ----------------------

def lotka_volterra_p(t, y, p):
    dx = p.a * y.x - p.b * y.x * y.y
    dy = -p.c * y.y + p.d * y.x * y.y
    return [dx, dy]


def lotka_volterra(t, y, a, b, c, d):
    dx = a * y[0] - b * y[0] * y[1]
    dy = -c * y[1] + d * y[0] * y[1]
    return [dx, dy]


def lv_scipy(t, y, a, b, c, d):
    return [a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]]


def euler_error_bound(system, y0, params, dt):
    """Twice the difference between Euler at dt and at dt/2: the error
    of the step dt, estimated independently of the reference."""
    out = []
    for h in (dt, dt / 2):
        s = qb.Solver(system, algorithm="euler", dt=h)
        r = s.solve(y0, params, duration=1.0)
        out.append(r.time_domain_array[-1].astype(np.float64))
    return 2 * np.abs(out[0] - out[1])


def test_getting_started_function_system_on_a_100_by_100_grid():
    LV = qb.create_ODE_system(
            lotka_volterra_p,
            states={'x': 100, 'y': 100},
            parameters={'a': 0.01, 'b': 1, 'c': 0.01, 'd': 1},
            name="LotkaVolterra")
    solution = qb.solve_ivp(LV,
                            {'x': np.arange(100), 'y': np.arange(100)},
                            duration=1.0)
    td = solution.time_domain_array
    assert td.shape == (2, 2, 10000)
    assert not solution.failed.any()
    # Every combination, y varying fastest: run 100 i + j is (x_i, y_j).
    runs = [0, 101, 5050, 9999, 4321]
    bound = euler_error_bound(
        LV, {'x': [r // 100 for r in runs], 'y': [r % 100 for r in runs]},
        None, 1e-3)
    for k, r in enumerate(runs):
        x0, y0 = r // 100, r % 100
        assert td[0, 0, r] == x0 and td[0, 1, r] == y0
        ref = scipy_final(lv_scipy, [x0, y0], 1.0, (0.01, 1, 0.01, 1))
        err = np.abs(td[-1, :, r] - ref)
        assert np.all(err <= bound[:, k] + 1e-4 * (1 + np.abs(ref))), \
            (r, td[-1, :, r], ref, bound[:, k])


def test_getting_started_scipy_style_one_call():
    solution = qb.solve_ivp(
        lotka_volterra,
        y0={'x': np.arange(100), 'y': np.arange(100)},
        parameters={'a': 0.01, 'b': 1, 'c': 0.01, 'd': 1},
        duration=1.0)
    td = solution.time_domain_array
    assert td.shape == (2, 2, 10000)
    assert list(solution.time_domain_legend.values()) == ['x', 'y']
    ref = scipy_final(lv_scipy, [3, 7], 1.0, (0.01, 1, 0.01, 1))
    assert np.allclose(td[-1, :, 307], ref, rtol=2e-2, atol=1e-3)


def test_getting_started_reused_solver():
    LV = qb.create_ODE_system(
            lotka_volterra,
            states={'x': 100, 'y': 100},
            parameters={'a': 0.01, 'b': 1, 'c': 0.01, 'd': 1})
    solver = qb.Solver(LV, algorithm="euler")
    source = solver.source
    for a_values in ([0.01, 0.02], [0.05, 0.1]):
        solution = solver.solve(
            {'x': np.arange(100), 'y': np.arange(100)},
            {'a': a_values},
            duration=1.0,
            grid_type="combinatorial")
        td = solution.time_domain_array
        assert td.shape == (2, 2, 20000)
        # States vary slowest, parameters fastest: run 2 k + j has a_j.
        params = solution.arrays["params"]
        assert np.all(params[:4, 0] == [a_values[0], a_values[1]] * 2)
        ref = scipy_final(lv_scipy, [2, 5], 1.0, (a_values[1], 1, 0.01, 1))
        assert np.allclose(td[-1, :, 2 * 205 + 1], ref, rtol=2e-2,
                           atol=1e-3)
    assert solver.source == source  # the same kernel, never rebuilt


# ---- the original's "coming from SciPy" page, unchanged --------------------

def van_der_pol(t, y, mu):
    return [y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]]


def test_coming_from_scipy_van_der_pol():
    result = qb.solve_ivp(
        van_der_pol,
        y0={"x": [1.0], "v": [0.0]},
        parameters={"mu": [1.5]},
        duration=20.0,
        method="ode45",
        save_every=0.1,
    )
    trajectories = result.as_numpy["time_domain_array"]
    assert trajectories.shape == (201, 2, 1)
    sol = scipy_solve_ivp(van_der_pol, (0.0, 20.0), [1.0, 0.0], args=(1.5,),
                          method="DOP853", rtol=1e-12, atol=1e-12,
                          t_eval=np.linspace(0, 20, 201))
    err = np.max(np.abs(trajectories[:, :, 0] - sol.y.T))
    print("ode45 float32 atol = rtol = 1e-6 against SciPy: %.2e" % err)
    assert err < 1e-3  # float32 and a 1e-6 local tolerance over 20 s


def test_coming_from_scipy_sweep_and_reused_solver():
    result = qb.solve_ivp(
        van_der_pol,
        y0={"x": [1.0], "v": [0.0]},
        parameters={"mu": np.linspace(0.5, 4.0, 1024)},
        duration=20.0,
        method="ode45",
        save_every=0.1,
    )
    td = result.time_domain_array
    assert td.shape == (201, 2, 1024)
    for r in (0, 511, 1023):
        mu = 0.5 + 3.5 * r / 1023
        ref = scipy_final(van_der_pol, [1.0, 0.0], 20.0, (mu,))
        assert np.allclose(td[-1, :, r], ref, atol=2e-3), (r, mu)
    system = qb.create_ODE_system(
        van_der_pol,
        states={"x": 1.0, "v": 0.0},
        parameters={"mu": 1.5},
    )
    solver = qb.Solver(system, algorithm="ode45", save_every=0.1)
    mu_batches = [np.linspace(0.5, 1.0, 8), np.linspace(2.0, 3.0, 16)]
    for mu_batch in mu_batches:
        result = solver.solve(
            {"x": [1.0], "v": [0.0]},
            {"mu": mu_batch},
            duration=20.0,
        )
        assert result.time_domain_array.shape == (201, 2, len(mu_batch))
        ref = scipy_final(van_der_pol, [1.0, 0.0], 20.0, (mu_batch[-1],))
        assert np.allclose(result.time_domain_array[-1, :, -1], ref,
                           atol=2e-3)


# ---- the same numbers as the command line ----------------------------------

@pytest.mark.skipif(EXE is None, reason="CUBIE_EXE not set")
def test_python_and_the_cli_give_the_same_bytes(tmp_path):
    spec = os.path.join(SPECS, "lorenz.json")
    out = tmp_path / "out"
    subprocess.run([EXE, "run", spec, "--set", "backend=host",
                    "--set", "algorithm=tsit5", "--set", "precision=float64",
                    "--set", "save_every=0.5", "--set", "duration=5",
                    "--grid", "rho=0:28:64", "--out", str(out), "-q"],
                   check=True)
    system = qb.create_ODE_system(spec, precision=np.float64)
    solver = qb.Solver(system, algorithm="tsit5", backend="host",
                       save_every=0.5)
    # The CLI's grid (its own rounding of 0:28:64), as it recorded it.
    rho = np.load(out / "params.npy")[:, 0]
    r = solver.solve(None, {"rho": rho}, duration=5)
    cli = np.load(out / "state.npy")
    assert cli.shape == r.arrays["state"].shape
    assert cli.tobytes() == r.arrays["state"].tobytes()
    assert np.array_equal(np.load(out / "status.npy"), r.status_codes)


# ---- the GIL is released ---------------------------------------------------

def test_two_threads_solve_at_once():
    system = qb.create_ODE_system(os.path.join(SPECS, "lorenz.json"))
    solver = qb.Solver(system, algorithm="rk4", dt=1e-3)
    rho = {"rho": np.linspace(0, 28, 1 << 14)}
    solver.solve(None, rho, duration=0.1)  # warm
    t0 = time.perf_counter()
    solver.solve(None, rho, duration=2.0)
    one = time.perf_counter() - t0
    # While a solve runs, this thread keeps running Python.
    ticks = [0]
    done = threading.Event()

    def work():
        solver.solve(None, rho, duration=2.0)
        done.set()

    th = threading.Thread(target=work)
    th.start()
    while not done.is_set():
        ticks[0] += 1
    th.join()
    # Two solves on two threads at once.
    t0 = time.perf_counter()
    ths = [threading.Thread(target=solver.solve, args=(None, rho),
                            kwargs={"duration": 2.0}) for _ in range(2)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    two = time.perf_counter() - t0
    print("one solve %.3f s; two at once on two threads %.3f s; %d ticks "
          "of Python during one solve" % (one, two, ticks[0]))
    assert ticks[0] > 1000


# ---- bad input names the place ---------------------------------------------

def test_an_unknown_option_is_a_key_error_naming_it():
    system = qb.create_ODE_system("dx = -k * x", states={"x": 1.0},
                                  parameters={"k": 0.5})
    with pytest.raises(KeyError, match="dtt"):
        qb.Solver(system, algorithm="euler", dtt=0.1)
    with pytest.raises(KeyError, match="save_every"):
        qb.Solver(system, dt_save=0.1)
    solver = qb.Solver(system)
    with pytest.raises(KeyError, match="bogus"):
        solver.solve(None, None, bogus=1)
    with pytest.raises(qb.OptionError) as e:
        qb.Solver(system, algorithm="no_such_method")
    assert e.value.path == "algorithm"


def test_a_bad_equation_names_the_equation_and_column():
    with pytest.raises(qb.ExpressionError) as e:
        qb.create_ODE_system({"states": {"x": 1}, "equations":
                              ["dx = -k * x", "dy = x +* 2"]})
    assert e.value.path.startswith("/equations")
    assert e.value.column > 0
    with pytest.raises(ValueError, match="Equation 0"):
        qb.create_ODE_system("dx = (x +", states={"x": 1.0})


def test_wrong_array_shapes_are_refused():
    system = qb.create_ODE_system("dx = -k * x\ndy = x", states={"x": 1.0,
                                  "y": 0.0}, parameters={"k": 0.5})
    solver = qb.Solver(system)
    with pytest.raises(ValueError, match="3D"):
        solver.solve(np.zeros((2, 3, 4)), None)
    with pytest.raises(ValueError, match="verbatim"):
        solver.solve({"x": [1, 2, 3]}, {"k": [1, 2]})
    with pytest.raises(ValueError, match="shape"):
        solver._core.run(np.zeros((3, 4)), np.zeros((1, 4)))


def test_a_function_using_while_names_the_line():
    def f(t, y, p):
        k = 0
        while k < 3:
            k = k + 1
        return [-p.a * y.x]

    with pytest.raises(NotImplementedError,
                       match=r"While-loops .* \(at line \d+ of f\)"):
        qb.create_ODE_system(f, states={"x": 1.0}, parameters={"a": 1.0})


# ---- the function reader ---------------------------------------------------

def test_if_else_for_and_numpy_calls_in_a_function():
    def f(t, y, p):
        s = 0.0
        for i in range(3):
            s += y[i]
        if t < 1.0:
            g = np.exp(-p.k * t)
        else:
            g = math_free(t)  # noqa: F821 (never called)
        return [-g * y[0], s - y[1], np.sin(y[2])]

    with pytest.raises(NotImplementedError, match="math_free"):
        qb.create_ODE_system(f, states={"a": 1, "b": 0, "c": 0.5},
                             parameters={"k": 1.0})

    def g(t, y, p):
        s = 0.0
        for i in range(3):
            s += y[i]
        if t < 1.0:
            r = np.exp(-p.k * t)
        else:
            r = 0.5
        return [-r * y[0], s - y[1], np.sin(y[2])]

    system = qb.create_ODE_system(g, np.float64,
                                  states={"a": 1, "b": 0, "c": 0.5},
                                  parameters={"k": 1.0})
    # The switch at t = 1 needs steps below the default dt_min.
    r = qb.solve_ivp(system, None, method="tsit5", duration=2.0,
                     atol=1e-10, rtol=1e-10, dt_min=1e-12)

    def ref(t, y):
        rr = np.exp(-t) if t < 1.0 else 0.5
        return [-rr * y[0], y[0] + y[1] + y[2] - y[1], np.sin(y[2])]

    sol = scipy_solve_ivp(ref, (0, 2.0), [1, 0, 0.5], rtol=1e-11,
                          atol=1e-12, method="DOP853", max_step=0.01)
    assert np.allclose(r.time_domain_array[-1, :, 0], sol.y[:, -1],
                       rtol=1e-5, atol=1e-7)


def test_results_are_views_that_keep_the_memory_alive():
    system = qb.create_ODE_system("dx = -k * x", np.float64,
                                  states={"x": 1.0}, parameters={"k": 0.5})
    r = qb.Solver(system, dt=1e-3, output_types="state,time",
                  save_every=0.5).solve(None, {"k": [0.5, 1.0]})
    td = r.time_domain_array
    assert not td.flags.owndata and td.base is not None
    del r
    import gc
    gc.collect()
    assert np.allclose(td[-1, 0, :], np.exp([-0.5, -1.0]), rtol=1e-3)


def test_the_readme_example_runs_and_plots(tmp_path):
    readme = os.path.join(SPECS, "..", "README.md")
    code, on = [], False
    for line in open(readme, encoding="utf-8"):
        if line.rstrip("\n") == "```python":
            on = True
        elif line.rstrip("\n") == "```" and on:
            break
        elif on:
            code.append(line)
    assert code
    os.symlink(os.path.abspath(SPECS), tmp_path / "specs")
    (tmp_path / "out").mkdir()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile("".join(code), "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    for png in ("lorenz_z.png", "lorenz_zmax.png"):
        assert (tmp_path / "out" / png).stat().st_size > 1000


def test_string_subscripts_dict_returns_observables_and_strings():
    import math

    def f(t, y, p):
        speed = math.sqrt(y["x"] ** 2 + y["v"] ** 2)
        return {"v": -p["w"] ** 2 * y["x"] - (p["c"] if t > 1 else 0.0)
                * y["v"], "x": y["v"]}

    system = qb.create_ODE_system(f, np.float64, states={"x": 1.0, "v": 0.0},
                                  parameters={"w": 2.0, "c": 0.0},
                                  observables=["speed"])
    r = qb.Solver(system, algorithm="tsit5", atol=1e-10, rtol=1e-10,
                  output_types="state,observables",
                  save_every=0.5).solve(None, None, duration=3.0)
    td = r.time_domain_array
    assert list(r.time_domain_legend.values()) == ["x", "v", "speed"]
    t = np.linspace(0, 3, 7)
    assert np.allclose(td[:, 0, 0], np.cos(2 * t), atol=1e-8)
    assert np.allclose(td[:, 1, 0], -2 * np.sin(2 * t), atol=1e-8)
    assert np.allclose(td[:, 2, 0], np.hypot(td[:, 0, 0], td[:, 1, 0]))
    # The same system as equation strings, Python syntax.
    s2 = qb.create_ODE_system(["dx = v", "dv = -w**2 * x - (c if t > 1 "
                               "else 0.0) * v", "speed = sqrt(x**2 + v**2)"],
                              np.float64, states={"x": 1.0, "v": 0.0},
                              parameters={"w": 2.0, "c": 0.0},
                              observables=["speed"])
    r2 = qb.Solver(s2, algorithm="tsit5", atol=1e-10, rtol=1e-10,
                   output_types="state,observables",
                   save_every=0.5).solve(None, None, duration=3.0)
    assert np.allclose(r2.time_domain_array, td, rtol=1e-12, atol=1e-14)


def test_states_are_inferred_and_unknown_names_become_parameters():
    def f(t, y):
        return [y[1], -y[0]]

    system = qb.create_ODE_system(f)
    assert list(system.states) == ["y0", "y1"]
    with pytest.warns(qb.EquationWarning, match="'k'"):
        s = qb.create_ODE_system("dx = -k * x")
    assert list(s.states) == ["x"] and s.parameters == {"k": 0.0}


def test_summaries_pandas_and_status_messages():
    # dx = x^2 from x0 blows up at t = 1 / x0: x0 = 2 fails by t = 1.
    system = qb.create_ODE_system("dx = x * x", np.float64,
                                  states={"x": 0.1})
    solver = qb.Solver(system, algorithm="rk4", dt=1e-3,
                       output_types=["state", "mean", "max"],
                       save_every=0.25, summarise_every=0.5,
                       sample_summaries_every=0.05)
    r = solver.solve({"x": [0.1, 2.0, 0.5]}, None, duration=1.0)
    assert r.status_messages == {1: ["NONFINITE_STATE"]}
    assert list(r.failed) == [False, True, False]
    assert list(r.summaries_legend.values()) == ["x mean", "x max"]
    sm = r.summaries_array
    assert sm.shape == (2, 2, 3)
    # x(t) = x0 / (1 - x0 t): the max of a window is its last sample.
    for run, x0 in ((0, 0.1), (2, 0.5)):
        for w, t in ((0, 0.5), (1, 1.0)):
            assert abs(sm[w, 1, run] - x0 / (1 - x0 * t)) < 1e-9
    assert np.isnan(sm[:, :, 1]).all()  # the failed run reads NaN
    per = r.as_numpy_per_summary
    assert per["max"].shape == (2, 1, 3) and per["mean"].shape == (2, 1, 3)
    frames = r.as_pandas
    td = frames["time_domain"]
    assert td.shape == (5, 3) and ("run_2", "x") in td.columns
    assert abs(td[("run_2", "x")].iloc[-1] - 1.0) < 1e-9
    assert frames["summaries"].shape == (2, 6)


@pytest.mark.skipif(EXE is None, reason="CUBIE_EXE not set")
def test_drivers_from_python_match_the_cli(tmp_path):
    spec = os.path.join(SPECS, "fitzhugh_nagumo_driven.json")
    csv = os.path.join(SPECS, "fitzhugh_nagumo_driven.drivers.csv")
    out = tmp_path / "out"
    subprocess.run([EXE, "run", spec, "--set", "backend=host",
                    "--set", "algorithm=rodas3p", "--set",
                    "precision=float64", "--set", "duration=200",
                    "--set", "save_every=1", "--drivers", csv,
                    "--out", str(out), "-q"], check=True)
    rows = [ln for ln in open(csv) if not ln.startswith("#")][1:]
    data = np.array([[float(x) for x in ln.split(",")] for ln in rows])
    system = qb.create_ODE_system(spec, precision=np.float64)
    r = qb.Solver(system, algorithm="rodas3p", backend="host",
                  save_every=1.0).solve(
        None, None, drivers={"I_stim": data[:, 1], "time": data[:, 0]},
        duration=200.0)
    assert not r.failed.any()
    cli = np.load(out / "state.npy")
    assert cli.tobytes() == r.arrays["state"].tobytes()
    # Five pulses, five spikes: v crosses 1 upwards five times.
    v = r.time_domain_array[:, 0, 0]
    assert int(np.sum((v[1:] > 1.0) & (v[:-1] <= 1.0))) == 5
