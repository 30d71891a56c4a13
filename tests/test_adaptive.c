/* Adaptive step control on the host backend: tolerance sweeps of every
 * embedded method, the emitted controllers against their formulas, the
 * failure statuses, and the float32 save grid. */
#include "testutil.h"

#include <dlfcn.h>
#include <math.h>
#include <unistd.h>

#include "generate.h"
#include "template.h"

/* The problem of test_numerics.c: exact solutions, nonlinear and
 * time-dependent. */
static const char exact_spec[] =
    "{\"name\": \"exact\", \"states\": {\"a\": 0.1, \"b\": 1.0, \"w\": 1.0},"
    " \"equations\": [\"da = 2 * a * (1 - a)\", \"db = -2 * t * b^2\","
    " \"dw = w * cos(t)\"]}";

/* For the sweeps: the same, with a faster oscillation so that step
 * counts are dominated by accuracy, not by the start-up. */
static const char sweep_spec[] =
    "{\"name\": \"sweep\", \"states\": {\"a\": 0.1, \"b\": 1.0, \"w\": 1.0},"
    " \"equations\": [\"da = 2 * a * (1 - a)\", \"db = -2 * t * b^2\","
    " \"dw = 5 * w * cos(5 * t)\"]}";

static void sweep_exact_at(double t, double y[3])
{
    y[0] = 1.0 / (1.0 + 9.0 * exp(-2.0 * t));
    y[1] = 1.0 / (1.0 + t * t);
    y[2] = exp(sin(5.0 * t));
}

/* Accepted steps of run `run`: attempts minus rejections, all rows. */
static long accepted_steps(const cubie_result *r, size_t run, long *rejected)
{
    const int32_t *c = cubie_result_counters(r);
    long acc = 0, rej = 0;
    for (size_t sv = 0; sv < cubie_result_n_saves(r); sv++) {
        const int32_t *row = c + (run * cubie_result_n_saves(r) + sv) * 4;
        acc += row[2] - row[3];
        rej += row[3];
    }
    if (rejected != NULL) {
        *rejected = rej;
    }
    return acc;
}

typedef struct {
    const char *name;
    int q; /* order of the embedded estimate */
    bool slope_checked;
} sweep_case;

static const sweep_case sweep_cases[] = {
    {"bogacki-shampine-32", 2, true}, {"dormand-prince-54", 4, true},
    {"cash-karp-54", 4, true},        {"fehlberg-45", 4, true},
    {"tsit5", 4, true},               {"vern7", 6, true},
    /* DOP853's estimate mixes a 5th- and a 3rd-order estimator. */
    {"dormand-prince-853", 5, false},
};

static void tolerance_sweeps_should_control_the_error(void **state)
{
    (void)state;
    cubie_system *sys = tu_system(sweep_spec);
    cubie_error err = {0};
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, 1, &b, &err), &err);
    const double T = 6.0;
    double y[3];
    sweep_exact_at(T, y);
    for (size_t m = 0; m < sizeof(sweep_cases) / sizeof(sweep_cases[0]);
         m++) {
        const sweep_case *c = &sweep_cases[m];
        char algo[64];
        snprintf(algo, sizeof(algo), "algorithm=%s", c->name);
        const char *copt[] = {algo, "precision=float64", "step_controller=pi",
                              "output_types=state,iteration_counters", NULL};
        cubie_solver *s = tu_compile(sys, copt);
        double lt[7], ls[7], prev_err = INFINITY;
        long prev_steps = 0;
        for (int k = 0; k < 7; k++) {
            double tol = pow(10.0, -3 - k);
            char at[64], rt[64];
            snprintf(at, sizeof(at), "atol=%g", tol);
            snprintf(rt, sizeof(rt), "rtol=%g", tol);
            const char *ropt[] = {at, rt, "duration=6", "dt=1e-4",
                                  "dt_min=1e-12", "dt_max=1", NULL};
            cubie_result *r = tu_run(s, b, ropt);
            assert_int_equal(cubie_result_status(r)[0], 0);
            double e = 0.0;
            for (size_t i = 0; i < 3; i++) {
                e = fmax(e, fabs(cubie_result_state(r, 0, 1, i) - y[i]));
            }
            long rej = 0, steps = accepted_steps(r, 0, &rej);
            print_message("%-20s tol %.0e: error %.3e (%.2f x tol), %ld "
                          "steps, %ld rejected\n", c->name, tol, e, e / tol,
                          steps, rej);
            assert_true(e <= 100.0 * tol);
            (void)prev_err;
            assert_true(steps > prev_steps); /* more steps when tighter */
            prev_err = e;
            prev_steps = steps;
            lt[k] = log(tol);
            ls[k] = log((double)steps);
            cubie_result_free(r);
        }
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (int k = 0; k < 7; k++) {
            sx += lt[k];
            sy += ls[k];
            sxx += lt[k] * lt[k];
            sxy += lt[k] * ls[k];
        }
        double slope = (7 * sxy - sx * sy) / (7 * sxx - sx * sx);
        double want = -1.0 / (c->q + 1);
        print_message("%-20s log-log slope %.3f, expected %.3f\n", c->name,
                      slope, want);
        if (c->slope_checked) {
            assert_true(fabs(slope - want) <= 0.25 * fabs(want));
        }
        cubie_solver_free(s);
    }
    cubie_batch_free(b);
    cubie_system_free(sys);
}

/* ---- the emitted controllers against their formulas ----------------- */

typedef int (*ctrl_fn)(double *dt, const double *settings, double nrm2,
                       int niters, int truncated, int *accept,
                       double *history);

/* Compile src (the prelude and what follows it) with the C compiler and
 * these flags into a shared object in a fresh directory, and load it;
 * the files go, the handle stays. */
static void *build_so(const char *src, const char *tail, const char *flags)
{
    char dir[] = "/tmp/cubie-adaptive-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char c_path[256], so_path[256], cmd[1024];
    snprintf(c_path, sizeof(c_path), "%s/unit.c", dir);
    snprintf(so_path, sizeof(so_path), "%s/unit.so", dir);
    FILE *f = fopen(c_path, "w");
    assert_non_null(f);
    fputs(src, f);
    fputs(tail, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "cc -std=gnu11 %s -shared -fPIC -o %s %s -lm",
             flags, so_path, c_path);
    assert_int_equal(system(cmd), 0);
    void *h = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(h);
    unlink(c_path);
    unlink(so_path);
    rmdir(dir);
    return h;
}

/* Compile the emitted controller with a wrapper that feeds it a chosen
 * error norm: one state, y = 0, atol = 1, rtol = 0, so the norm is
 * error^2. */
static void *build_controller(cb_controller kind, int order, ctrl_fn *fn)
{
    cubie_error err = {0};
    char *src = NULL;
    tu_ok(cb_controller_unit(kind, order, true, 1, &src, &err), &err);
    void *h = build_so(
        src,
        "\nCB_KERNEL int test_ctrl(double *dt, const double *settings,\n"
        "    double nrm2, int niters, int truncated, int *accept,\n"
        "    double *history)\n"
        "{\n"
        "    double zero = 0.0, e = sqrt(nrm2);\n"
        "    return cb_controller_all(dt, &zero, &zero, &e, niters,\n"
        "                             truncated, accept, settings, 0,\n"
        "                             history);\n"
        "}\n",
        "-O1");
    free(src);
    *(void **)fn = dlsym(h, "test_ctrl");
    assert_non_null(*fn);
    return h;
}

/* ---- the controller's log2 and exp2 (templates/prelude.cu) ----------- */

typedef void (*map_fn)(const void *x, void *y, int n);

/* The prelude's cb_log2 and cb_exp2 over arrays, as a loop under omp
 * simd: built with the host backend's flags, vectorised (-O3) or not. */
static void *build_pow2(bool dbl, bool vector, map_fn *lg, map_fn *ex)
{
    static char src[65536];
    const int len = snprintf(src, sizeof(src), "#define CB_F32 %d\n%s",
                             dbl ? 0 : 1, cb_template("prelude.cu"));
    assert_true(len > 0 && (size_t)len < sizeof(src));
    void *h = build_so(
        src,
        "\nCB_KERNEL void t_log2(const real *x, real *y, int n)\n"
        "{\n"
        "#pragma omp simd\n"
        "    for (int i = 0; i < n; ++i) y[i] = cb_log2(x[i]);\n"
        "}\n"
        "CB_KERNEL void t_exp2(const real *x, real *y, int n)\n"
        "{\n"
        "#pragma omp simd\n"
        "    for (int i = 0; i < n; ++i) y[i] = cb_exp2(x[i]);\n"
        "}\n",
        vector ? "-O3 -march=native -fopenmp-simd -fno-math-errno "
                 "-fno-trapping-math -ffp-contract=off"
               : "-O1 -fno-tree-vectorize -fno-math-errno "
                 "-fno-trapping-math -ffp-contract=off");
    *(void **)lg = dlsym(h, "t_log2");
    *(void **)ex = dlsym(h, "t_exp2");
    assert_non_null(*lg);
    assert_non_null(*ex);
    return h;
}

/* |got - want| in units of the last place of want, rounded to the
 * precision (want is computed in long double). */
static double ulps(long double want, double got, bool dbl)
{
    if (isnan(want) || isnan(got)) {
        return isnan(want) && isnan(got) ? 0.0 : INFINITY;
    }
    const long double w = dbl ? (long double)(double)want
                              : (long double)(float)want;
    if (isinf(w) || isinf(got)) { /* an overflow is exact */
        return (double)w == got ? 0.0 : INFINITY;
    }
    int e;
    frexpl(w == 0 ? 1e-300L : w, &e);
    const int mant = dbl ? 53 : 24, emin = dbl ? -1021 : -125;
    const long double ulp = ldexpl(1.0L, (e < emin ? emin : e) - mant);
    return (double)(fabsl(want - (long double)got) / ulp);
}

enum { POW2_N = 40000 };

static void pow2_inputs(bool dbl, double *xl, double *xe)
{
    /* log2: from the subnormals to the largest finite number, and close
     * to 1; exp2: through the range the results are finite in, and past
     * it both ways. The ends hold the special values. */
    const double lo = dbl ? -1074.0 : -149.0, hi = dbl ? 1024.0 : 128.0;
    for (int i = 0; i < POW2_N; i++) {
        const double u = (double)i / (POW2_N - 1);
        xl[i] = i % 4 == 3 ? 1.0 + (u - 0.5) * 1e-3
                           : exp2(lo + (hi - lo) * u) * (0.999 + 0.0007 * (i % 3));
        xe[i] = (lo - 3.0) + (hi - lo + 6.0) * u;
    }
    const double special_l[] = {0.0, -0.0, -1.0, INFINITY, NAN, 1.0, 2.0,
                                0.5, dbl ? 4.9e-324 : 1.4e-45};
    const double special_e[] = {INFINITY, -INFINITY, NAN, 0.0, 1.0, -1.0,
                                0.5, dbl ? 1023.9999 : 127.9999,
                                dbl ? -1074.0 : -149.0};
    for (int i = 0; i < 9; i++) {
        xl[i] = special_l[i];
        xe[i] = special_e[i];
    }
    if (!dbl) {
        for (int i = 0; i < POW2_N; i++) {
            xl[i] = (float)xl[i];
            xe[i] = (float)xe[i];
        }
    }
}

/* The controller's powers of two are accurate, take every special value
 * as libm does, and give the same bits in vector registers as out of
 * them (so lanes and one run at a time agree). */
static void controller_pow2_should_be_accurate_and_layout_free(void **s0)
{
    (void)s0;
    if (system("cc --version > /dev/null 2>&1") != 0) {
        skip();
    }
    static double xl[POW2_N], xe[POW2_N];
    static double yl[2][POW2_N], ye[2][POW2_N];
    static float fx[POW2_N], fy[2][POW2_N];
    for (int d = 0; d < 2; d++) {
        const bool dbl = d == 1;
        pow2_inputs(dbl, xl, xe);
        double worst_l = 0.0, worst_e = 0.0;
        for (int v = 0; v < 2; v++) {
            map_fn lg, ex;
            void *h = build_pow2(dbl, v == 1, &lg, &ex);
            if (dbl) {
                lg(xl, yl[v], POW2_N);
                ex(xe, ye[v], POW2_N);
            } else {
                for (int i = 0; i < POW2_N; i++) {
                    fx[i] = (float)xl[i];
                }
                lg(fx, fy[v], POW2_N);
                for (int i = 0; i < POW2_N; i++) {
                    yl[v][i] = fy[v][i];
                    fx[i] = (float)xe[i];
                }
                ex(fx, fy[v], POW2_N);
                for (int i = 0; i < POW2_N; i++) {
                    ye[v][i] = fy[v][i];
                }
            }
            dlclose(h);
        }
        for (int i = 0; i < POW2_N; i++) {
            /* Vectorised or not: the same bits. */
            assert_memory_equal(&yl[0][i], &yl[1][i], sizeof(double));
            assert_memory_equal(&ye[0][i], &ye[1][i], sizeof(double));
            const double el = ulps(log2l(xl[i]), yl[1][i], dbl);
            const double ee = ulps(exp2l(xe[i]), ye[1][i], dbl);
            if (el > 2.5 || ee > 2.5) {
                print_error("%s: log2(%a) = %a (%.2f ulps), exp2(%a) = %a "
                            "(%.2f ulps)\n",
                            dbl ? "float64" : "float32", xl[i], yl[1][i], el,
                            xe[i], ye[1][i], ee);
            }
            worst_l = fmax(worst_l, el);
            worst_e = fmax(worst_e, ee);
        }
        print_message("%s: log2 within %.2f ulps, exp2 within %.2f ulps of "
                      "libm's long double\n",
                      dbl ? "float64" : "float32", worst_l, worst_e);
        assert_true(worst_l <= 2.5);
        assert_true(worst_e <= 2.5);
    }
}

static double clampd(double x, double lo, double hi)
{
    return fmin(fmax(x, lo), hi);
}

static void controllers_should_follow_their_formulas(void **state)
{
    (void)state;
    if (system("cc --version > /dev/null 2>&1") != 0) {
        skip();
    }
    /* A recorded sequence of error norms, with rejections (E > 1). */
    const double E[] = {0.04, 0.3, 2.5, 0.8, 0.01, 1e-6, 0.5, 7.0, 0.9,
                        0.2};
    const int n_e = sizeof(E) / sizeof(E[0]);
    const int p = 4;
    const double ex = 1.0 / (2.0 * (p + 1));
    const double kp = 0.7, ki = -0.4, kd = 0.1, safety = 0.9;
    const double min_gain = 0.2, max_gain = 5.0, db_min = 1.0, db_max = 1.2;
    const double dt_min = 1e-9, dt_max = 0.5, n_target = 20.0;
    double settings[64] = {0};
    settings[CB_SET_DT_MIN] = dt_min;
    settings[CB_SET_DT_MAX] = dt_max;
    settings[CB_SET_KP] = kp;
    settings[CB_SET_KI] = ki;
    settings[CB_SET_KD] = kd;
    settings[CB_SET_SAFETY] = safety;
    settings[CB_SET_MIN_GAIN] = min_gain;
    settings[CB_SET_MAX_GAIN] = max_gain;
    settings[CB_SET_DEADBAND_MIN] = db_min;
    settings[CB_SET_DEADBAND_MAX] = db_max;
    settings[CB_SET_NEWTON_TARGET_ITERS] = n_target;
    settings[CB_SET_FIXED_COUNT] = 1.0;     /* atol */
    settings[CB_SET_FIXED_COUNT + 1] = 0.0; /* rtol */
    const int niters[] = {3, 5, 8, 2, 1, 0, 12, 4, 6, 3};
    const cb_controller kinds[] = {CB_CTRL_I, CB_CTRL_PI, CB_CTRL_PID,
                                   CB_CTRL_GUSTAFSSON};
    for (int k = 0; k < 4; k++) {
        ctrl_fn fn;
        void *h = build_controller(kinds[k], p, &fn);
        double dt = 0.01, hist[2] = {0, 0};
        /* The formula by hand, with its own history. */
        double h_dt = 0.01, prev = 0, prev2 = 0, dt_prev = 0, e_prev = 0;
        for (int i = 0; i < n_e; i++) {
            const double e = E[i];
            const int accept_hand = e <= 1.0;
            double gain = 0;
            switch (kinds[k]) {
            case CB_CTRL_I:
                gain = safety * pow(e, -ex);
                break;
            case CB_CTRL_PI: {
                double pe = prev > 0 ? prev : e;
                gain = safety * pow(e, -kp * ex) * pow(pe, -ki * ex);
                break;
            }
            case CB_CTRL_PID: {
                double pe = prev > 0 ? prev : e;
                double pe2 = prev2 > 0 ? prev2 : pe;
                gain = safety * pow(e, -kp * ex) * pow(pe, -ki * ex) *
                       pow(pe2, -kd * ex);
                break;
            }
            default: {
                double fac = fmin(safety, safety * (1 + 2 * n_target) /
                                              (niters[i] + 2 * n_target));
                gain = fac * pow(e, -ex);
                if (accept_hand && dt_prev > 0) {
                    double gus = safety * (h_dt / dt_prev) *
                                 pow(e * e / e_prev, -ex);
                    gain = fmin(gus, gain);
                }
                break;
            }
            }
            gain = clampd(gain, min_gain, max_gain);
            if (gain >= db_min && gain <= db_max) {
                gain = 1.0;
            }
            if (!accept_hand) {
                gain = fmin(gain, safety);
            }
            if (accept_hand) {
                if (kinds[k] == CB_CTRL_PID) {
                    prev2 = prev > 0 ? prev : e;
                }
                if (kinds[k] == CB_CTRL_GUSTAFSSON) {
                    dt_prev = h_dt;
                    e_prev = e;
                }
                prev = e;
            }
            h_dt = clampd(h_dt * gain, dt_min, dt_max);

            int accept = -1;
            int st = fn(&dt, settings, e, niters[i], 0, &accept, hist);
            assert_int_equal(st, 0);
            assert_int_equal(accept, accept_hand);
            assert_true(fabs(dt - h_dt) <= 1e-13 * h_dt);
        }
        /* A truncated, accepted step freezes dt and the history. */
        double before = dt, h0 = hist[0], h1 = hist[1];
        int accept = -1;
        assert_int_equal(fn(&dt, settings, 0.01, 1, 1, &accept, hist), 0);
        assert_int_equal(accept, 1);
        assert_true(dt == before && hist[0] == h0 && hist[1] == h1);
        /* Wanting a step below dt_min says so. */
        dt = 2e-9;
        assert_int_equal(fn(&dt, settings, 1e6, 1, 0, &accept, hist),
                         CUBIE_RUN_STEP_TOO_SMALL);
        assert_int_equal(accept, 0);
        dlclose(h);
    }
}

/* ---- failure statuses -------------------------------------------------- */

static void an_impossible_tolerance_should_end_with_step_too_small(void **s0)
{
    (void)s0;
    cubie_system *sys = tu_system(exact_spec);
    cubie_error err = {0};
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, 4, &b, &err), &err);
    const char *copt[] = {"algorithm=dormand-prince-54", "precision=float64",
                          NULL};
    cubie_solver *s = tu_compile(sys, copt);
    /* Rounding alone exceeds 1e-30; the step shrinks to dt_min. */
    const char *ropt[] = {"atol=1e-30", "rtol=1e-30", "dt_min=1e-10",
                          "max_steps=100000000", NULL};
    cubie_result *r = tu_run(s, b, ropt);
    for (size_t i = 0; i < 4; i++) {
        assert_true(cubie_result_status(r)[i] & CUBIE_RUN_STEP_TOO_SMALL);
        assert_true(isnan(cubie_result_state(r, i, 1, 0)));
    }
    cubie_result_free(r);
    cubie_solver_free(s);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

static void a_nan_run_should_be_flagged_and_leave_neighbours_alone(void **s0)
{
    (void)s0;
    cubie_system *sys = tu_system(
        "{\"states\": {\"y\": 1.0}, \"parameters\": {\"k\": 1.0},"
        " \"equations\": [\"dy = -sqrt(k) * y\"]}");
    cubie_error err = {0};
    cubie_batch *b = NULL, *one = NULL;
    tu_ok(cubie_batch_new(sys, 3, &b, &err), &err);
    tu_ok(cubie_batch_new(sys, 1, &one, &err), &err);
    tu_ok(cubie_batch_set(b, "k", 0, 4.0, &err), &err);
    tu_ok(cubie_batch_set(b, "k", 1, -1.0, &err), &err); /* sqrt: NaN */
    tu_ok(cubie_batch_set(b, "k", 2, 0.25, &err), &err);
    const char *copt[] = {"algorithm=tsit5", "precision=float64", NULL};
    cubie_solver *s = tu_compile(sys, copt);
    const char *ropt[] = {"atol=1e-8", "rtol=1e-8", "save_every=0.25", NULL};
    cubie_result *r = tu_run(s, b, ropt);
    assert_true(cubie_result_status(r)[1] & CUBIE_RUN_NONFINITE_STATE);
    assert_true(cubie_result_status(r)[1] & CUBIE_RUN_STEP_TOO_SMALL);
    for (size_t run = 0; run < 3; run += 2) {
        assert_int_equal(cubie_result_status(r)[run], 0);
        double k = run == 0 ? 4.0 : 0.25;
        assert_true(fabs(cubie_result_state(r, run, 4, 0) - exp(-sqrt(k))) <
                    1e-7);
        tu_ok(cubie_batch_set(one, "k", 0, k, &err), &err);
        cubie_result *alone = tu_run(s, one, ropt);
        assert_memory_equal(
            (const double *)cubie_result_state_data(r) + run * 5,
            cubie_result_state_data(alone), 5 * sizeof(double));
        cubie_result_free(alone);
    }
    cubie_result_free(r);
    cubie_solver_free(s);
    cubie_batch_free(b);
    cubie_batch_free(one);
    cubie_system_free(sys);
}

static void errorless_methods_should_refuse_adaptive_control(void **s0)
{
    (void)s0;
    cubie_system *sys = tu_system(exact_spec);
    cubie_error err = {0};
    cubie_options *o = tu_options((const char *[]){
        "algorithm=classical-rk4", "step_controller=pi", NULL});
    cubie_solver *s = NULL;
    assert_int_equal(cubie_compile(sys, o, &s, &err), CUBIE_E_OPTION);
    assert_non_null(strstr(err.message, "has none"));
    assert_string_equal(err.path, "step_controller");
    cubie_options_free(o);
    cubie_error_clear(&err);
    cubie_system_free(sys);
}

/* ---- the float32 save grid ------------------------------------------- */

static void float32_saves_should_land_exactly_on_the_grid(void **s0)
{
    (void)s0;
    cubie_system *sys = tu_system(exact_spec);
    cubie_error err = {0};
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, 2, &b, &err), &err);
    const char *copt[] = {"algorithm=tsit5", "precision=float32",
                          "output_types=state,time", NULL};
    cubie_solver *s = tu_compile(sys, copt);
    /* 10^5 intervals of 0.01 (not a binary fraction). */
    const char *ropt[] = {"save_every=0.01", "duration=1000", "t0=0.5",
                          "atol=1e-5", "rtol=1e-5", NULL};
    cubie_result *r = tu_run(s, b, ropt);
    const size_t n = cubie_result_n_saves(r);
    assert_int_equal(n, 100001);
    assert_string_equal(cubie_result_var_name(r, 3), "t");
    const float *data = cubie_result_state_data(r);
    for (size_t run = 0; run < 2; run++) {
        assert_int_equal(cubie_result_status(r)[run], 0);
        for (size_t i = 0; i < n; i++) {
            /* The kernel's own time at row i, against the grid. */
            float t = data[(run * n + i) * 4 + 3];
            float want = (float)(0.5 + 0.01 * (double)i);
            if (t != want) {
                print_error("row %zu: t = %.9g, want %.9g\n", i, (double)t,
                            (double)want);
            }
            assert_true(t == want);
        }
    }
    cubie_result_free(r);
    cubie_solver_free(s);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tolerance_sweeps_should_control_the_error),
        cmocka_unit_test(controller_pow2_should_be_accurate_and_layout_free),
        cmocka_unit_test(controllers_should_follow_their_formulas),
        cmocka_unit_test(an_impossible_tolerance_should_end_with_step_too_small),
        cmocka_unit_test(a_nan_run_should_be_flagged_and_leave_neighbours_alone),
        cmocka_unit_test(errorless_methods_should_refuse_adaptive_control),
        cmocka_unit_test(float32_saves_should_land_exactly_on_the_grid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
