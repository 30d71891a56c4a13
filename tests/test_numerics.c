/* Numerical tests on the host backend: orders of convergence on problems
 * with exact solutions, an independent Lorenz reference, save grids,
 * settling time and failure isolation. */
#include "testutil.h"

#include <math.h>

/* Three decoupled equations with exact solutions, nonlinear and
 * time-dependent so that the stage times and nonlinear order conditions
 * all matter, and mild enough that the error expansions are asymptotic
 * at step sizes well above roundoff:
 *   a' = 2 a (1 - a),  a(0) = 0.1  ->  a = 1 / (1 + 9 exp(-2t))
 *   b' = -2 t b^2,     b(0) = 1    ->  b = 1 / (1 + t^2)
 *   w' = w cos(t),     w(0) = 1    ->  w = exp(sin t)            */
static const char exact_spec[] =
    "{\"name\": \"exact\", \"states\": {\"a\": 0.1, \"b\": 1.0, \"w\": 1.0},"
    " \"equations\": [\"da = 2 * a * (1 - a)\", \"db = -2 * t * b^2\","
    " \"dw = w * cos(t)\"]}";

static void exact_at(double t, double y[3])
{
    y[0] = 1.0 / (1.0 + 9.0 * exp(-2.0 * t));
    y[1] = 1.0 / (1.0 + t * t);
    y[2] = exp(sin(t));
}

/* Largest error of run 0 at save `save`, taken at time t. */
static double exact_error_at(const cubie_result *r, size_t save, double t)
{
    double y[3], e = 0.0;
    exact_at(t, y);
    for (size_t i = 0; i < 3; i++) {
        e = fmax(e, fabs(cubie_result_state(r, 0, save, i) - y[i]));
    }
    return e;
}

static double exact_error(const cubie_result *r, double t)
{
    return exact_error_at(r, cubie_result_n_saves(r) - 1, t);
}

typedef struct {
    const char *name;
    int order;
    double duration;
    int steps[4]; /* steps over [0, duration] */
} order_case;

/* Step counts keep the errors in the asymptotic range and well above
 * float64 roundoff (errors from about 1e-4 down to 1e-13); the two
 * highest orders integrate longer for the same reason. */
static const order_case order_cases[] = {
    {"euler", 1, 1.0, {64, 128, 256, 512}},
    {"heun-21", 2, 1.0, {32, 64, 128, 256}},
    {"ralston-33", 3, 1.0, {16, 32, 64, 128}},
    {"bogacki-shampine-32", 3, 1.0, {16, 32, 64, 128}},
    {"classical-rk4", 4, 1.0, {8, 16, 32, 64}},
    {"dormand-prince-54", 5, 1.0, {8, 12, 16, 24}},
    {"cash-karp-54", 5, 1.0, {8, 12, 16, 24}},
    {"fehlberg-45", 5, 1.0, {16, 24, 32, 48}},
    {"tsit5", 5, 1.0, {8, 12, 16, 24}},
    {"vern7", 7, 4.0, {16, 24, 32, 48}},
    {"dormand-prince-853", 8, 4.0, {8, 12, 16, 24}},
};

/* Least-squares slope of log(error) against log(h). */
static double fitted_order(const double *h, const double *e, int n)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        double x = log(h[i]), y = log(e[i]);
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

static void every_method_should_converge_at_its_order(void **state)
{
    (void)state;
    cubie_system *sys = tu_system(exact_spec);
    cubie_error err = {0};
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, 1, &b, &err), &err);
    double worst = 0.0;
    for (size_t m = 0; m < sizeof(order_cases) / sizeof(order_cases[0]); m++) {
        const order_case *c = &order_cases[m];
        char algo[64];
        snprintf(algo, sizeof(algo), "algorithm=%s", c->name);
        const char *copt[] = {algo, "precision=float64", "backend=host",
                              "step_controller=fixed", NULL};
        cubie_solver *s = tu_compile(sys, copt);
        double h[4], e[4];
        int n = 0;
        for (; n < 4; n++) {
            char dt[64], dur[64];
            h[n] = c->duration / c->steps[n];
            snprintf(dt, sizeof(dt), "dt=%.17g", h[n]);
            snprintf(dur, sizeof(dur), "duration=%g", c->duration);
            const char *ropt[] = {dt, dur, NULL};
            cubie_result *r = tu_run(s, b, ropt);
            assert_int_equal(cubie_result_status(r)[0], 0);
            e[n] = exact_error(r, c->duration);
            cubie_result_free(r);
        }
        double p = fitted_order(h, e, n);
        print_message("%-20s order %d: errors %.3e .. %.3e, fitted %.3f\n",
                      c->name, c->order, e[0], e[n - 1], p);
        worst = fmax(worst, fabs(p - c->order));
        cubie_solver_free(s);
    }
    assert_true(worst <= 0.3);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

/* ---- Lorenz against an independent reference ------------------------ */

static void lorenz_rhs(const double *s, double rho, double *d)
{
    d[0] = 10.0 * (s[1] - s[0]);
    d[1] = s[0] * (rho - s[2]) - s[1];
    d[2] = s[0] * s[1] - (8.0 / 3.0) * s[2];
}

/* A plain RK4 written here, independent of the generator. */
static void lorenz_reference(double rho, int steps, double out[3])
{
    double s[3] = {1.0, 0.0, 0.0}, k[4][3], tmp[3];
    double h = 1.0 / steps;
    for (int n = 0; n < steps; n++) {
        lorenz_rhs(s, rho, k[0]);
        for (int i = 0; i < 3; i++) {
            tmp[i] = s[i] + 0.5 * h * k[0][i];
        }
        lorenz_rhs(tmp, rho, k[1]);
        for (int i = 0; i < 3; i++) {
            tmp[i] = s[i] + 0.5 * h * k[1][i];
        }
        lorenz_rhs(tmp, rho, k[2]);
        for (int i = 0; i < 3; i++) {
            tmp[i] = s[i] + h * k[2][i];
        }
        lorenz_rhs(tmp, rho, k[3]);
        for (int i = 0; i < 3; i++) {
            s[i] += h / 6.0 * (k[0][i] + 2 * k[1][i] + 2 * k[2][i] + k[3][i]);
        }
    }
    memcpy(out, s, sizeof(s));
}

static void lorenz_should_match_an_independent_reference(void **state)
{
    (void)state;
    double ref[3], ref2[3];
    lorenz_reference(28.0, 100000, ref);
    lorenz_reference(28.0, 200000, ref2);
    for (int i = 0; i < 3; i++) {
        /* The reference agrees with itself at half the step. */
        assert_true(fabs(ref[i] - ref2[i]) <= 1e-12 * fabs(ref2[i]));
    }
    char path[512];
    cubie_error err = {0};
    cubie_system *sys = NULL;
    tu_ok(cubie_system_load(tu_spec_path("lorenz.json", path, sizeof(path)),
                            &sys, &err), &err);
    const char *algos[] = {"classical-rk4", "dormand-prince-54", "tsit5",
                           "vern7", NULL};
    const char *dts[] = {"dt=1e-4", "dt=1e-3", "dt=1e-3", "dt=1e-3"};
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, 1, &b, &err), &err);
    for (int a = 0; algos[a]; a++) {
        char algo[64];
        snprintf(algo, sizeof(algo), "algorithm=%s", algos[a]);
        const char *copt[] = {algo, "precision=float64",
                              "step_controller=fixed", NULL};
        cubie_solver *s = tu_compile(sys, copt);
        const char *ropt[] = {dts[a], "duration=1", NULL};
        cubie_result *r = tu_run(s, b, ropt);
        for (int i = 0; i < 3; i++) {
            double got = cubie_result_state(r, 0, 1, (size_t)i);
            print_message("%s %s: %.15g vs %.15g\n", algos[a],
                          cubie_result_var_name(r, (size_t)i), got, ref2[i]);
            assert_true(fabs(got - ref2[i]) <= 1e-9 * fabs(ref2[i]));
        }
        cubie_result_free(r);
        cubie_solver_free(s);
    }
    cubie_batch_free(b);
    cubie_system_free(sys);
}

/* ---- the save grid ---------------------------------------------------- */

static void saves_should_land_on_the_requested_grid(void **state)
{
    (void)state;
    cubie_system *sys = tu_system(exact_spec);
    cubie_error err = {0};
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, 1, &b, &err), &err);
    const char *copt[] = {"algorithm=vern7", "precision=float64",
                          "step_controller=fixed", NULL};
    cubie_solver *s = tu_compile(sys, copt);
    /* dt does not divide save_every: steps are truncated onto each save. */
    const char *ropt[] = {"dt=0.0137", "save_every=0.1", "duration=1",
                          NULL};
    cubie_result *r = tu_run(s, b, ropt);
    assert_int_equal(cubie_result_n_saves(r), 11);
    for (size_t i = 0; i < 11; i++) {
        double t = cubie_result_time(r)[i];
        assert_true(fabs(t - 0.1 * (double)i) < 1e-15);
        assert_true(exact_error_at(r, i, t) < 1e-9);
    }
    cubie_result_free(r);
    /* Settling: integrate from t0 = 0.2 for 0.3 unrecorded, then record
     * from 0.5 for 0.25 (rows at 0.5 and 0.75 only). */
    const char *ropt2[] = {"dt=0.01", "t0=0.2", "settling_time=0.3",
                           "duration=0.25", NULL};
    cubie_batch *b2 = NULL;
    tu_ok(cubie_batch_new(sys, 1, &b2, &err), &err);
    /* Start on the exact solution at t0 = 0.2. */
    double y0[3];
    exact_at(0.2, y0);
    tu_ok(cubie_batch_set(b2, "a", 0, y0[0], &err), &err);
    tu_ok(cubie_batch_set(b2, "b", 0, y0[1], &err), &err);
    tu_ok(cubie_batch_set(b2, "w", 0, y0[2], &err), &err);
    r = tu_run(s, b2, ropt2);
    assert_int_equal(cubie_result_n_saves(r), 2);
    assert_true(fabs(cubie_result_time(r)[0] - 0.5) < 1e-15);
    assert_true(fabs(cubie_result_time(r)[1] - 0.75) < 1e-15);
    for (int i = 0; i < 2; i++) {
        double t = cubie_result_time(r)[i];
        assert_true(exact_error_at(r, (size_t)i, t) < 1e-10);
    }
    cubie_result_free(r);
    cubie_batch_free(b2);
    cubie_solver_free(s);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

/* ---- float32 -------------------------------------------------------- */

static void float32_should_agree_with_float64_to_single_precision(void **s0)
{
    (void)s0;
    cubie_system *sys = tu_system(exact_spec);
    cubie_error err = {0};
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, 1, &b, &err), &err);
    const char *copt[] = {"algorithm=tsit5", "precision=float32",
                          "step_controller=fixed", NULL};
    cubie_solver *s = tu_compile(sys, copt);
    const char *ropt[] = {"dt=0.01", "duration=1", NULL};
    cubie_result *r = tu_run(s, b, ropt);
    assert_int_equal(cubie_result_precision(r), 4);
    assert_true(exact_error(r, 1.0) < 2e-6);
    cubie_result_free(r);
    cubie_solver_free(s);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

/* ---- failures stay in their run --------------------------------------- */

static const char blowup_spec[] =
    "{\"name\": \"blowup\", \"states\": {\"y\": 1.0},"
    " \"parameters\": {\"k\": 1.0}, \"equations\": [\"dy = k * y^2\"]}";

static void a_failing_run_should_not_disturb_its_neighbours(void **state)
{
    (void)state;
    cubie_system *sys = tu_system(blowup_spec);
    cubie_error err = {0};
    cubie_batch *b = NULL, *one = NULL;
    tu_ok(cubie_batch_new(sys, 5, &b, &err), &err);
    tu_ok(cubie_batch_new(sys, 1, &one, &err), &err);
    double k[5] = {-1.0, -0.5, 50.0, 0.25, 0.5};
    for (size_t i = 0; i < 5; i++) {
        tu_ok(cubie_batch_set(b, "k", i, k[i], &err), &err);
    }
    /* k = 50: y = 1/(1 - 50 t) blows up at t = 0.02, so the run goes
     * non-finite; the others are smooth. */
    const char *copt[] = {"algorithm=rk4", "precision=float64", NULL};
    cubie_solver *s = tu_compile(sys, copt);
    const char *ropt[] = {"dt=0.001", "save_every=0.25", NULL};
    cubie_result *r = tu_run(s, b, ropt);
    assert_int_equal(cubie_result_status(r)[2], CUBIE_RUN_NONFINITE_STATE);
    for (size_t sv = 0; sv < cubie_result_n_saves(r); sv++) {
        assert_true(isnan(cubie_result_state(r, 2, sv, 0)));
    }
    for (size_t i = 0; i < 5; i++) {
        if (i == 2) {
            continue;
        }
        assert_int_equal(cubie_result_status(r)[i], 0);
        tu_ok(cubie_batch_set(one, "k", 0, k[i], &err), &err);
        cubie_result *alone = tu_run(s, one, ropt);
        for (size_t sv = 0; sv < cubie_result_n_saves(r); sv++) {
            /* Bit for bit the same as the run alone. */
            assert_memory_equal(
                &((const double *)cubie_result_state_data(r))
                    [(i * cubie_result_n_saves(r) + sv)],
                &((const double *)cubie_result_state_data(alone))[sv],
                sizeof(double));
        }
        cubie_result_free(alone);
    }
    cubie_result_free(r);
    /* Without masking the rows before the failure are kept. */
    const char *ropt2[] = {"dt=0.001", "save_every=0.25",
                           "nan_error_trajectories=false", NULL};
    r = tu_run(s, b, ropt2);
    assert_int_equal(cubie_result_status(r)[2], CUBIE_RUN_NONFINITE_STATE);
    assert_true(cubie_result_state(r, 2, 0, 0) == 1.0);
    assert_true(isnan(cubie_result_state(r, 2, 4, 0)));
    cubie_result_free(r);
    /* A step cap ends the run with its own status. */
    const char *ropt3[] = {"dt=0.001", "max_steps=10", NULL};
    r = tu_run(s, b, ropt3);
    for (size_t i = 0; i < 5; i++) {
        assert_true(cubie_result_status(r)[i] & CUBIE_RUN_MAX_STEPS);
    }
    cubie_result_free(r);
    cubie_solver_free(s);
    cubie_batch_free(b);
    cubie_batch_free(one);
    cubie_system_free(sys);
}

static void grid_batches_should_vary_the_named_axes(void **state)
{
    (void)state;
    /* y' = k y: y(1) = exp(k) for each k of the grid. */
    cubie_system *sys = tu_system(
        "{\"states\": {\"y\": 1}, \"parameters\": {\"k\": 0},"
        " \"equations\": [\"dy = k * y\"]}");
    cubie_error err = {0};
    cubie_batch *b = NULL;
    const char *names[] = {"y", "k"};
    double start[] = {1.0, -1.0}, stop[] = {2.0, 1.0};
    size_t count[] = {2, 5};
    tu_ok(cubie_batch_grid(sys, 2, names, start, stop, count, &b, &err),
          &err);
    assert_int_equal(cubie_batch_n_runs(b), 10);
    const char *copt[] = {"algorithm=vern7", "precision=float64",
                          "step_controller=fixed", NULL};
    cubie_solver *s = tu_compile(sys, copt);
    const char *ropt[] = {"dt=0.01", NULL};
    cubie_result *r = tu_run(s, b, ropt);
    for (size_t run = 0; run < 10; run++) {
        double y0 = run < 5 ? 1.0 : 2.0;
        double kk = -1.0 + 0.5 * (double)(run % 5);
        assert_true(fabs(cubie_result_state(r, run, 1, 0) - y0 * exp(kk)) <
                    1e-12);
    }
    cubie_result_free(r);
    cubie_solver_free(s);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

/* The solver and the batch keep their own copies of the system. */
static void a_batch_should_outlive_the_callers_system(void **state)
{
    (void)state;
    cubie_system *sys = tu_system(
        "{\"states\": {\"y\": 1}, \"parameters\": {\"k\": -1},"
        " \"equations\": [\"dy = k * y\"]}");
    cubie_error err = {0};
    const char *copt[] = {"algorithm=rk4", "precision=float64",
                          "step_controller=fixed", NULL};
    cubie_solver *s = tu_compile(sys, copt);
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, 2, &b, &err), &err);
    cubie_system_free(sys);
    tu_ok(cubie_batch_set(b, "k", 1, -2.0, &err), &err);
    cubie_result *r = tu_run(s, b, NULL);
    assert_true(fabs(cubie_result_state(r, 0, 1, 0) - exp(-1.0)) < 1e-12);
    assert_true(fabs(cubie_result_state(r, 1, 1, 0) - exp(-2.0)) < 1e-11);
    /* A save interval that leaves no second row is refused. */
    cubie_options *o = tu_options((const char *[]){"dt=0.1",
                                                   "save_every=1.05", NULL});
    cubie_result *bad = NULL;
    assert_int_equal(cubie_run(s, b, o, &bad, &err), CUBIE_E_OPTION);
    assert_string_equal(err.path, "save_every");
    cubie_error_clear(&err);
    cubie_options_free(o);
    cubie_result_free(r);
    cubie_batch_free(b);
    cubie_solver_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_method_should_converge_at_its_order),
        cmocka_unit_test(lorenz_should_match_an_independent_reference),
        cmocka_unit_test(saves_should_land_on_the_requested_grid),
        cmocka_unit_test(float32_should_agree_with_float64_to_single_precision),
        cmocka_unit_test(a_failing_run_should_not_disturb_its_neighbours),
        cmocka_unit_test(grid_batches_should_vary_the_named_axes),
        cmocka_unit_test(a_batch_should_outlive_the_callers_system),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
