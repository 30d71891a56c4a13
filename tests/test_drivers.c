/* Sampled drivers (issue 12): a forced linear system with an exact
 * solution, x' = -k x + A sin(w t), the forcing given as samples: the
 * error of a fixed-step method converges at the method's order while the
 * spline's own error is below it, and at the spline's order as the sample
 * period shrinks; a stiff driven problem solved by a Rosenbrock method
 * (which needs the drivers' time derivative) and a DIRK method agrees
 * with an explicit method at tiny steps (within 1e-5; 7e-3 off without the
 * drivers' time term); bad input. float32 and float64;
 * the backend is the host's, or $CUBIE_TEST_BACKEND (drivers-emulated
 * runs this file on the emulated CUDA driver). */
#include "testutil.h"

#include <math.h>

static const char forced_json[] =
    "{\"name\": \"forced\", \"states\": {\"x\": 0.0},"
    " \"parameters\": {\"k\": 2.0}, \"drivers\": [\"u\"],"
    " \"observables\": [\"y\"],"
    " \"equations\": [\"dx = -k * x + u\", \"y = 3 * u\"]}";

static const double A = 1.5, W = 2.0, K = 2.0;

/* x(t) for x(0) = 0. */
static double exact(double t)
{
    return A / (K * K + W * W) *
           (K * sin(W * t) - W * cos(W * t) + W * exp(-K * t));
}

/* Samples of A sin(w t) over whole periods of the forcing (so the
 * periodic spline, wrapping, is the right one), period P. */
static cubie_batch *forced_batch(const cubie_system *sys, double P,
                                 size_t n_runs)
{
    const double T = 2.0 * M_PI / W * 2.0; /* two periods: t in [0, 6.28] */
    const size_t n = (size_t)llround(T / P) + 1;
    const double h = T / (double)(n - 1);
    double *u = malloc(sizeof(double) * n), *t = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) {
        t[i] = h * (double)i;
        u[i] = A * sin(W * t[i]);
    }
    u[n - 1] = u[0]; /* the period closes exactly */
    cubie_batch *b = NULL;
    cubie_error err = {0};
    tu_ok(cubie_batch_new(sys, n_runs, &b, &err), &err);
    tu_ok(cubie_batch_set_driver(b, "u", u, n, &err), &err);
    tu_ok(cubie_batch_set_driver_times(b, t, n, &err), &err);
    free(u);
    free(t);
    return b;
}

/* The largest error against the exact solution over the saves of a run
 * of solver s on samples of period P. */
static double solver_error(cubie_solver *s, const cubie_system *sys,
                           double P, double *obs_err)
{
    cubie_batch *b = forced_batch(sys, P, 2);
    cubie_result *r = tu_run(s, b, NULL);
    double worst = 0.0, worst_obs = 0.0;
    cubie_array ob = {0};
    for (size_t i = 0; i < cubie_result_n_arrays(r); i++) {
        cubie_array x;
        cubie_result_array(r, i, &x);
        if (strcmp(x.name, "observables") == 0) {
            ob = x;
        }
    }
    for (size_t run = 0; run < 2; run++) {
        assert_int_equal(cubie_result_status(r)[run], 0);
        for (size_t k = 0; k < cubie_result_n_saves(r); k++) {
            const double t = cubie_result_time(r)[k];
            worst = fmax(worst,
                         fabs(cubie_result_state(r, run, k, 0) - exact(t)));
            const size_t at = run * cubie_result_n_saves(r) + k;
            const double y = ob.elem_size == 8
                                 ? ((const double *)ob.data)[at]
                                 : (double)((const float *)ob.data)[at];
            worst_obs = fmax(worst_obs, fabs(y - 3.0 * A * sin(W * t)));
        }
    }
    if (obs_err != NULL) {
        *obs_err = worst_obs;
    }
    cubie_result_free(r);
    cubie_batch_free(b);
    return worst;
}

static cubie_solver *forced_solver(const cubie_system *sys,
                                   const char *algorithm,
                                   const char *precision, double dt)
{
    char a[64], d[64];
    snprintf(a, sizeof(a), "algorithm=%s", algorithm);
    snprintf(d, sizeof(d), "dt=%.17g", dt);
    const char *pairs[] = {a, precision, d, "duration=3", "save_every=0.5",
                           "output_types=state,observables", NULL};
    return tu_compile(sys, pairs);
}

static double run_error(const char *algorithm, const char *precision,
                        double dt, double P, double *obs_err)
{
    cubie_system *sys = tu_system(forced_json);
    cubie_solver *s = forced_solver(sys, algorithm, precision, dt);
    const double e = solver_error(s, sys, P, obs_err);
    cubie_solver_free(s);
    cubie_system_free(sys);
    return e;
}

static double order_of(double e1, double e2, double ratio)
{
    return log(e1 / e2) / log(ratio);
}

/* Fine samples (the spline's error ~ P^4 w^4 A / 384 ~ 1e-13): the error
 * is the method's. */
static void a_fixed_step_method_should_keep_its_order(void **st)
{
    (void)st;
    const char *methods[] = {"classical-rk4", "heun-21"};
    const double orders[] = {4.0, 2.0};
    for (int m = 0; m < 2; m++) {
        const double e1 = run_error(methods[m], "precision=float64", 0.1,
                                    1e-3, NULL);
        const double e2 = run_error(methods[m], "precision=float64", 0.05,
                                    1e-3, NULL);
        const double e3 = run_error(methods[m], "precision=float64", 0.025,
                                    1e-3, NULL);
        const double p1 = order_of(e1, e2, 2.0), p2 = order_of(e2, e3, 2.0);
        print_message("%s float64, dt 0.1 0.05 0.025: errors %.3g %.3g "
                      "%.3g, orders %.2f %.2f\n", methods[m], e1, e2, e3, p1,
                      p2);
        if (!(fabs(p1 - orders[m]) < 0.3 && fabs(p2 - orders[m]) < 0.3)) {
            print_error("%s: errors %g %g %g, orders %.2f %.2f\n",
                        methods[m], e1, e2, e3, p1, p2);
            fail();
        }
    }
}

/* Tiny steps (RK4 at dt = 1e-3: ~1e-13): the error is the spline's, of
 * order 4 for a cubic, and the observable reads the driver at the save.
 * One solver serves every recording: their length and period are run
 * arguments, never compiled in. */
static void the_spline_should_converge_at_its_order(void **st)
{
    (void)st;
    double ob[3];
    const double P[] = {0.2, 0.1, 0.05};
    double e[3];
    cubie_system *sys = tu_system(forced_json);
    cubie_solver *s = forced_solver(sys, "classical-rk4",
                                    "precision=float64", 1e-3);
    for (int i = 0; i < 3; i++) {
        e[i] = solver_error(s, sys, P[i], &ob[i]);
    }
    cubie_solver_free(s);
    cubie_system_free(sys);
    const double p1 = order_of(e[0], e[1], 2.0), p2 = order_of(e[1], e[2],
                                                                2.0);
    print_message("cubic spline float64, P 0.2 0.1 0.05: errors %.3g %.3g "
                  "%.3g, orders %.2f %.2f\n", e[0], e[1], e[2], p1, p2);
    if (!(fabs(p1 - 4.0) < 0.5 && fabs(p2 - 4.0) < 0.5)) {
        print_error("errors %g %g %g, orders %.2f %.2f\n", e[0], e[1], e[2],
                    p1, p2);
        fail();
    }
    /* y = 3 u at the save times, to the spline's error there */
    assert_true(ob[2] < 1e-5);
    assert_true(order_of(ob[0], ob[2], 4.0) > 3.0);
}

/* float32: Heun's order 2 in dt, the cubic's order 4 in the sample
 * period (coarse enough to stay above float32's rounding). */
static void float32_should_converge_too(void **st)
{
    (void)st;
    double e[3];
    const double dt[] = {0.1, 0.05, 0.025};
    for (int i = 0; i < 3; i++) {
        e[i] = run_error("heun-21", "precision=float32", dt[i], 1e-2, NULL);
    }
    double p1 = order_of(e[0], e[1], 2.0), p2 = order_of(e[1], e[2], 2.0);
    print_message("heun-21 float32, dt 0.1 0.05 0.025: errors %.3g %.3g "
                  "%.3g, orders %.2f %.2f\n", e[0], e[1], e[2], p1, p2);
    if (!(fabs(p1 - 2.0) < 0.3 && fabs(p2 - 2.0) < 0.3)) {
        print_error("heun float32: errors %g %g %g, orders %.2f %.2f\n",
                    e[0], e[1], e[2], p1, p2);
        fail();
    }
    const double P[] = {0.4, 0.2, 0.1};
    cubie_system *sys = tu_system(forced_json);
    cubie_solver *s = forced_solver(sys, "classical-rk4",
                                    "precision=float32", 0.005);
    for (int i = 0; i < 3; i++) {
        e[i] = solver_error(s, sys, P[i], NULL);
    }
    cubie_solver_free(s);
    cubie_system_free(sys);
    p1 = order_of(e[0], e[1], 2.0);
    p2 = order_of(e[1], e[2], 2.0);
    print_message("cubic spline float32, P 0.4 0.2 0.1: errors %.3g %.3g "
                  "%.3g, orders %.2f %.2f\n", e[0], e[1], e[2], p1, p2);
    if (!(fabs(p1 - 4.0) < 0.6 && fabs(p2 - 4.0) < 0.6)) {
        print_error("spline float32: errors %g %g %g, orders %.2f %.2f\n",
                    e[0], e[1], e[2], p1, p2);
        fail();
    }
    assert_true(run_error("classical-rk4", "precision=float32", 0.01, 0.01,
                          NULL) < 2e-6);
}

/* Summaries see a driver through an observable like any variable: the
 * window's max and mean of y = 3 u against the same of 3 A sin(w t) at
 * the sample times. */
static void summaries_should_see_the_drivers(void **st)
{
    (void)st;
    cubie_system *sys = tu_system(forced_json);
    const char *pairs[] = {"algorithm=classical-rk4", "precision=float64",
                           "dt=0.01", "duration=3", "output_types=max,mean",
                           "summarise_variables=y", "summarise_every=1.5",
                           "sample_summaries_every=0.01", NULL};
    cubie_solver *s = tu_compile(sys, pairs);
    cubie_batch *b = forced_batch(sys, 0.01, 1);
    cubie_result *r = tu_run(s, b, NULL);
    cubie_array m = {0};
    for (size_t i = 0; i < cubie_result_n_arrays(r); i++) {
        cubie_array x;
        cubie_result_array(r, i, &x);
        if (strcmp(x.name, "observable_summaries") == 0) {
            m = x;
        }
    }
    assert_int_equal(m.shape[1], 2);
    assert_string_equal(m.column_names[0], "y max");
    for (size_t w = 0; w < 2; w++) {
        double mx = -INFINITY, sum = 0.0;
        for (int k = 1; k <= 150; k++) {
            const double y = 3.0 * A * sin(W * (1.5 * (double)w + 0.01 * k));
            mx = fmax(mx, y);
            sum += y;
        }
        const double *v = m.data;
        assert_true(fabs(v[w * 2] - mx) < 1e-8);
        assert_true(fabs(v[w * 2 + 1] - sum / 150.0) < 1e-8);
    }
    cubie_result_free(r);
    cubie_batch_free(b);
    cubie_solver_free(s);
    cubie_system_free(sys);
}

/* ---- stiff and driven ---------------------------------------------------- */

/* x' = -1000 (x - u(t)), u sampled: x follows u with a lag of 1e-3. A
 * Rosenbrock method needs du/dt in its time term; DIRK and Rosenbrock at
 * dt = 0.005 against RK4 at dt = 1e-4 (stable: 1000 dt = 0.1), to t =
 * 1.5, well inside the data (t in [0, 2]): the zero padding past their
 * end bends the spline near it. */
static void implicit_methods_should_agree_with_an_explicit_one(void **st)
{
    (void)st;
    static const char stiff_json[] =
        "{\"name\": \"lag\", \"states\": {\"x\": 0.0}, \"drivers\": [\"u\"],"
        " \"equations\": [\"dx = -1000 * (x - u)\"]}";
    const char *algos[] = {"classical-rk4", "rodas3p", "ros3p", "kvaerno5"};
    const char *dts[] = {"dt=1e-4", "dt=0.005", "dt=0.005", "dt=0.005"};
    double final[4];
    for (int i = 0; i < 4; i++) {
        cubie_system *sys = tu_system(stiff_json);
        char a[64];
        snprintf(a, sizeof(a), "algorithm=%s", algos[i]);
        const char *pairs[] = {a, "precision=float64", dts[i],
                               "step_controller=fixed", "duration=1.5",
                               "save_every=0.25", "driver_wrap=false", NULL};
        cubie_solver *s = tu_compile(sys, pairs);
        enum { n = 201 };
        double u[n];
        for (int j = 0; j < n; j++) {
            u[j] = sin(3.0 * 0.01 * j) + 0.5 * cos(7.0 * 0.01 * j);
        }
        cubie_batch *b = NULL;
        cubie_error err = {0};
        tu_ok(cubie_batch_new(sys, 1, &b, &err), &err);
        tu_ok(cubie_batch_set_driver(b, "u", u, n, &err), &err);
        const char *ro[] = {"driver_sample_period=0.01", NULL};
        cubie_result *r = tu_run(s, b, ro);
        assert_int_equal(cubie_result_status(r)[0], 0);
        final[i] = cubie_result_state(r, 0, cubie_result_n_saves(r) - 1, 0);
        cubie_result_free(r);
        cubie_batch_free(b);
        cubie_solver_free(s);
        cubie_system_free(sys);
    }
    for (int i = 1; i < 4; i++) {
        print_message("%s x(1.5) %.12g, rk4 %.12g: off by %.2g\n", algos[i],
                      final[i], final[0], fabs(final[i] - final[0]));
        if (!(fabs(final[i] - final[0]) < 1e-5)) {
            print_error("%s: x(1.5) = %.12g, rk4 %.12g\n", algos[i], final[i],
                        final[0]);
            fail();
        }
    }
}

/* ---- bad input ----------------------------------------------------------- */

static void missing_samples_should_name_the_driver(void **st)
{
    (void)st;
    cubie_system *sys = tu_system(forced_json);
    const char *pairs[] = {"algorithm=rk4", NULL};
    cubie_solver *s = tu_compile(sys, pairs);
    cubie_batch *b = NULL;
    cubie_error err = {0};
    tu_ok(cubie_batch_new(sys, 1, &b, &err), &err);
    cubie_result *r = NULL;
    assert_int_equal(cubie_run(s, b, NULL, &r, &err), CUBIE_E_BATCH);
    assert_non_null(strstr(err.message, "driver u has no samples"));
    cubie_error_clear(&err);
    const double u[] = {0, 1, 2, 3, 4, 0};
    assert_int_equal(cubie_batch_set_driver(b, "v", u, 6, &err),
                     CUBIE_E_BATCH);
    assert_non_null(strstr(err.message, "'v' is not a driver"));
    cubie_error_clear(&err);
    tu_ok(cubie_batch_set_driver(b, "u", u, 6, &err), &err);
    assert_int_equal(cubie_run(s, b, NULL, &r, &err), CUBIE_E_OPTION);
    assert_string_equal(err.path, "driver_sample_period");
    cubie_error_clear(&err);
    const double t[] = {0, 1, 2, 3.5, 4, 5};
    assert_int_equal(cubie_batch_set_driver_times(b, t, 6, &err),
                     CUBIE_E_BATCH);
    assert_non_null(strstr(err.message, "not uniform"));
    cubie_error_clear(&err);
    cubie_batch_free(b);
    cubie_solver_free(s);
    cubie_system_free(sys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_fixed_step_method_should_keep_its_order),
        cmocka_unit_test(the_spline_should_converge_at_its_order),
        cmocka_unit_test(float32_should_converge_too),
        cmocka_unit_test(summaries_should_see_the_drivers),
        cmocka_unit_test(implicit_methods_should_agree_with_an_explicit_one),
        cmocka_unit_test(missing_samples_should_name_the_driver),
    };
    return cmocka_run_group_tests_name("drivers", tests, NULL, NULL);
}
