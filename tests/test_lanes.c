/* The host lanes (templates/lanes.cu): blocks of runs stepped together
 * under omp simd give each run what the kernel gives it one run at a time
 * (host_lanes=1): bit for bit where the arithmetic is the same (fixed
 * and adaptive steps; not the vector math of a system's own exp or sin:
 * glibc's libmvec rounds differently from libm), within a few ulps of
 * each such call elsewhere; a failing lane leaves its neighbours as
 * they would be alone; the block width follows host_lanes and the size
 * of a lane. */
#include <math.h>

#include "testutil.h"

static const char blowup_spec[] =
    "{\"name\": \"blowup\", \"states\": {\"y\": 1.0},"
    " \"parameters\": {\"k\": 1.0}, \"equations\": [\"dy = k * y^2\"]}";

static cubie_system *load(const char *name)
{
    char path[512];
    cubie_error err = {0};
    cubie_system *sys = NULL;
    tu_ok(cubie_system_load(tu_spec_path(name, path, sizeof(path)), &sys,
                            &err),
          &err);
    return sys;
}

/* The same options with host_lanes=value added. */
static cubie_solver *compile_lanes(const cubie_system *sys,
                                   const char *const *pairs,
                                   const char *lanes)
{
    const char *p[16];
    tu_with(pairs, lanes, p);
    return tu_compile(sys, p);
}

/* Every saved state of every run: bit for bit equal (tol 0), or within
 * tol relative to max(1, |a|). NaN matches NaN only. */
static void assert_states_match(const cubie_result *a, const cubie_result *b,
                                size_t n_states, double tol)
{
    assert_int_equal(cubie_result_n_runs(a), cubie_result_n_runs(b));
    assert_int_equal(cubie_result_n_saves(a), cubie_result_n_saves(b));
    for (size_t r = 0; r < cubie_result_n_runs(a); r++) {
        assert_int_equal(cubie_result_status(a)[r], cubie_result_status(b)[r]);
        for (size_t s = 0; s < cubie_result_n_saves(a); s++) {
            for (size_t v = 0; v < n_states; v++) {
                double x = cubie_result_state(a, r, s, v);
                double y = cubie_result_state(b, r, s, v);
                if (isnan(x) || isnan(y)) {
                    assert_true(isnan(x) && isnan(y));
                } else if (tol == 0.0) {
                    assert_memory_equal(&x, &y, sizeof(x));
                } else if (fabs(x - y) > tol * fmax(1.0, fabs(x))) {
                    print_error("run %zu save %zu state %zu: %.17g vs %.17g\n",
                                r, s, v, x, y);
                    fail();
                }
            }
        }
    }
}

/* Lorenz over a grid of rho with a run count that fills no block evenly:
 * the lanes at every width against one run at a time. */
static void compare_lorenz(const char *const *copt, const char *const *ropt,
                           double tol)
{
    cubie_system *sys = load("lorenz.json");
    cubie_error err = {0};
    cubie_batch *b = NULL;
    const char *names[] = {"rho"};
    double lo[] = {0.0}, hi[] = {28.0};
    size_t count[] = {77};
    tu_ok(cubie_batch_grid(sys, 1, names, lo, hi, count, &b, &err), &err);
    cubie_solver *one = compile_lanes(sys, copt, "host_lanes=1");
    cubie_result *ref = tu_run(one, b, ropt);
    static const char *const widths[] = {"host_lanes=0", "host_lanes=3",
                                         "host_lanes=8", "host_lanes=64"};
    for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
        cubie_solver *s = compile_lanes(sys, copt, widths[w]);
        cubie_result *r = tu_run(s, b, ropt);
        assert_states_match(ref, r, 3, tol);
        cubie_result_free(r);
        cubie_solver_free(s);
    }
    cubie_result_free(ref);
    cubie_solver_free(one);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

static void fixed_steps_should_match_one_run_at_a_time_bit_for_bit(
    void **state)
{
    (void)state;
    const char *c32[] = {"algorithm=classical-rk4", "precision=float32",
                         "output_types=state,time", NULL};
    const char *c64[] = {"algorithm=classical-rk4", "precision=float64",
                         "output_types=state,time", NULL};
    const char *final[] = {"dt=0.001", NULL};
    const char *saves[] = {"dt=0.001", "save_every=0.1", NULL};
    compare_lorenz(c32, final, 0.0);
    compare_lorenz(c32, saves, 0.0);
    compare_lorenz(c64, saves, 0.0);
    /* Other explicit tableaus, and a step that does not divide the save
     * interval (the last step before each save is cut). */
    const char *dp[] = {"algorithm=dormand-prince-54", "precision=float64",
                        "step_controller=fixed", NULL};
    const char *odd[] = {"dt=0.0007", "save_every=0.05", NULL};
    compare_lorenz(dp, odd, 0.0);
}

static void adaptive_and_implicit_steps_should_match_one_run_at_a_time(
    void **state)
{
    (void)state;
    /* The controller's log2 and exp2 are plain arithmetic (the
     * prelude's), so adaptive steps agree bit for bit too: every
     * controller of an explicit method, in vector registers or not. */
    const char *ro[] = {"atol=1e-8", "rtol=1e-8", "save_every=0.25", NULL};
    const char *ts[] = {"algorithm=tsit5", "precision=float64", NULL};
    compare_lorenz(ts, ro, 0.0);
    const char *t32[] = {"algorithm=tsit5", "precision=float32", NULL};
    const char *r32[] = {"atol=1e-5", "rtol=1e-5", "save_every=0.1", NULL};
    compare_lorenz(t32, r32, 0.0);
    const char *dp[] = {"algorithm=dormand-prince-54", "precision=float64",
                        "step_controller=pid", NULL};
    compare_lorenz(dp, ro, 0.0);
    const char *bs[] = {"algorithm=bogacki-shampine-32", "precision=float32",
                        "step_controller=i", NULL};
    compare_lorenz(bs, r32, 0.0);
    const char *be[] = {"algorithm=backwards_euler", "precision=float64",
                        "step_controller=fixed", NULL};
    const char *rb[] = {"dt=0.001", "save_every=0.25", NULL};
    compare_lorenz(be, rb, 0.0);
    const char *ra[] = {"algorithm=radau_iia_5", "precision=float64", NULL};
    compare_lorenz(ra, ro, 1e-9);
    /* The direct solve's pivot search and row swaps, per lane. */
    const char *rl[] = {"algorithm=radau_iia_5", "precision=float64",
                        "linear_correction_type=lu", NULL};
    compare_lorenz(rl, ro, 1e-9);
    const char *kl[] = {"algorithm=kvaerno5", "precision=float32",
                        "linear_correction_type=lu", NULL};
    compare_lorenz(kl, r32, 1e-4);
}

/* Hodgkin-Huxley's rates call exp: the lanes call glibc's vector exp
 * (within 4 ulps, glibc's manual), one run at a time libm's. Over a
 * short stretch before the first spikes the states agree closely. */
static void vector_math_should_stay_close_to_libm(void **state)
{
    (void)state;
    cubie_system *sys = load("hodgkin_huxley.json");
    cubie_error err = {0};
    cubie_batch *b = NULL;
    const char *names[] = {"I_ext"};
    double lo[] = {0.0}, hi[] = {20.0};
    size_t count[] = {40};
    tu_ok(cubie_batch_grid(sys, 1, names, lo, hi, count, &b, &err), &err);
    const char *c[] = {"algorithm=classical-rk4", "precision=float64", NULL};
    const char *r[] = {"dt=0.01", "duration=2", "save_every=0.5", NULL};
    cubie_solver *one = compile_lanes(sys, c, "host_lanes=1");
    cubie_solver *lanes = compile_lanes(sys, c, "host_lanes=0");
    cubie_result *a = tu_run(one, b, r), *v = tu_run(lanes, b, r);
    assert_states_match(a, v, 4, 1e-12);
    cubie_result_free(a);
    cubie_result_free(v);
    cubie_solver_free(one);
    cubie_solver_free(lanes);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

/* y' = k y^2, y(0) = 1: y = 1 / (1 - k t), which blows up at t = 1/k.
 * Runs 3, 17 and 40 of 45 blow up before t = 1; every other run of their
 * blocks ends as it would alone, and near the exact solution. */
static void failing_lanes_should_not_disturb_their_block(void **state)
{
    (void)state;
    cubie_system *sys = tu_system(blowup_spec);
    cubie_error err = {0};
    enum { N = 45 };
    cubie_batch *b = NULL, *alone = NULL;
    tu_ok(cubie_batch_new(sys, N, &b, &err), &err);
    tu_ok(cubie_batch_new(sys, 1, &alone, &err), &err);
    double k[N];
    for (int i = 0; i < N; i++) {
        k[i] = i == 3 || i == 17 || i == 40 ? 20.0 + i : -1.0 + 0.03 * i;
    }
    tu_ok(cubie_batch_set_all(b, "k", k, N, &err), &err);
    static const char *const algos[][3] = {
        {"algorithm=classical-rk4", "step_controller=fixed", "rk4"},
        {"algorithm=tsit5", "step_controller=pi", "tsit5"},
    };
    for (size_t a = 0; a < 2; a++) {
        const char *c[] = {algos[a][0], algos[a][1], "precision=float64",
                           "host_lanes=16", NULL};
        cubie_solver *s = tu_compile(sys, c);
        const char *r[] = {"dt=0.001", "save_every=0.25", "atol=1e-10",
                           "rtol=1e-10", NULL};
        cubie_result *res = tu_run(s, b, r);
        for (int i = 0; i < N; i++) {
            const int32_t st = cubie_result_status(res)[i];
            tu_ok(cubie_batch_set(alone, "k", 0, k[i], &err), &err);
            cubie_result *one = tu_run(s, alone, r);
            assert_int_equal(st, cubie_result_status(one)[0]);
            if (k[i] > 1.0) {
                assert_true(CUBIE_RUN_FAILED(st));
                assert_true(isnan(cubie_result_state(res, (size_t)i, 4, 0)));
            } else {
                assert_int_equal(st, 0);
                for (size_t sv = 0; sv < 5; sv++) {
                    const double t = 0.25 * (double)sv;
                    const double y = cubie_result_state(res, (size_t)i, sv, 0);
                    const double y1 = cubie_result_state(one, 0, sv, 0);
                    assert_memory_equal(&y, &y1, sizeof(y));
                    assert_true(fabs(y - 1.0 / (1.0 - k[i] * t)) < 1e-8);
                }
            }
            cubie_result_free(one);
        }
        cubie_result_free(res);
        cubie_solver_free(s);
    }
    cubie_batch_free(alone);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

/* The host kernel reads the batch in place, rounding it to float32 as it
 * loads, and the result's record shares the batch's values: over chunks
 * (memory_cap) that end inside a block of lanes, at either precision and
 * width, the record is the batch bit for bit, not its float32 rounding,
 * and each run integrates its own values. Changing the batch after a run
 * (the batch copies its values first) or freeing it leaves the results'
 * records as they ran. */
static void the_record_should_keep_the_batch_as_given(void **state)
{
    (void)state;
    cubie_system *sys = tu_system(
        "{\"name\": \"decay\", \"states\": {\"y\": 1.0},"
        " \"parameters\": {\"k\": 1.0}, \"equations\": [\"dy = -k * y\"]}");
    cubie_error err = {0};
    enum { N = 77 };
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, N, &b, &err), &err);
    double y0[N], k[N];
    for (int i = 0; i < N; i++) {
        y0[i] = 0.1 * (i + 1) + 1e-13 * i; /* not float32 values */
        k[i] = 1.0 / 3.0 + 0.01 * i;
    }
    tu_ok(cubie_batch_set_all(b, "y", y0, N, &err), &err);
    tu_ok(cubie_batch_set_all(b, "k", k, N, &err), &err);
    static const char *const precisions[] = {"precision=float32",
                                             "precision=float64"};
    static const char *const widths[] = {"host_lanes=1", "host_lanes=8"};
    for (int p = 0; p < 2; p++) {
        for (int w = 0; w < 2; w++) {
            const char *c[] = {"algorithm=classical-rk4",
                               "step_controller=fixed", precisions[p],
                               widths[w], NULL};
            cubie_solver *s = tu_compile(sys, c);
            /* 20-50 runs a chunk: the first ends inside a block */
            const char *r[] = {"dt=0.01", "duration=1", "memory_cap=840",
                               NULL};
            cubie_result *res = tu_run(s, b, r);
            assert_true(cubie_result_n_chunks(res) >= 2);
            const size_t na = cubie_result_n_arrays(res);
            cubie_array in, pa;
            tu_ok(cubie_result_array(res, na - 2, &in), &err);
            tu_ok(cubie_result_array(res, na - 1, &pa), &err);
            assert_string_equal(in.name, "inits");
            assert_string_equal(pa.name, "params");
            assert_int_equal(in.shape[0], N);
            assert_memory_equal(in.data, y0, sizeof(y0));
            assert_memory_equal(pa.data, k, sizeof(k));
            /* the first save is the initial state as the kernel loaded
             * it, the last y0 e^-k */
            const size_t last = cubie_result_n_saves(res) - 1;
            assert_true(last >= 1);
            const double tol = p == 0 ? 5e-6 : 1e-9;
            for (int i = 0; i < N; i++) {
                const double first = cubie_result_state(res, (size_t)i, 0, 0);
                const double loaded = p == 0 ? (double)(float)y0[i] : y0[i];
                assert_memory_equal(&first, &loaded, sizeof(first));
                const double y = cubie_result_state(res, (size_t)i, last, 0);
                const double exact = y0[i] * exp(-k[i]);
                if (fabs(y - exact) > tol * exact) {
                    print_error("%s %s run %d: %.9g vs %.9g\n",
                                precisions[p], widths[w], i, y, exact);
                    fail();
                }
            }
            if (p == 1 && w == 1) {
                /* The batch changes after the run: the record does not;
                 * a second run records the new values. */
                double k2[N];
                for (int i = 0; i < N; i++) {
                    k2[i] = 2.0 + 0.5 * i;
                }
                tu_ok(cubie_batch_set_all(b, "k", k2, N, &err), &err);
                tu_ok(cubie_batch_set(b, "y", 3, 42.0, &err), &err);
                cubie_result *res2 = tu_run(s, b, r);
                cubie_array pa2, in2;
                tu_ok(cubie_result_array(res2, na - 1, &pa2), &err);
                tu_ok(cubie_result_array(res2, na - 2, &in2), &err);
                assert_memory_equal(pa2.data, k2, sizeof(k2));
                assert_true(((const double *)in2.data)[3] == 42.0);
                /* The batch freed: both records still hold their runs'
                 * values (AddressSanitizer watches the reads). */
                cubie_batch_free(b);
                b = NULL;
                assert_memory_equal(in.data, y0, sizeof(y0));
                assert_memory_equal(pa.data, k, sizeof(k));
                assert_memory_equal(pa2.data, k2, sizeof(k2));
                assert_true(((const double *)in2.data)[3] == 42.0);
                const double y2 = cubie_result_state(
                    res2, 5, cubie_result_n_saves(res2) - 1, 0);
                const double exact2 = y0[5] * exp(-k2[5]);
                /* RK4, dt 0.01: k^5 dt^4 / 120 = 1.5e-7 relative */
                assert_true(fabs(y2 - exact2) < 1e-6 * exact2);
                cubie_result_free(res2);
            }
            cubie_result_free(res);
            cubie_solver_free(s);
        }
    }
    cubie_batch_free(b);
    cubie_system_free(sys);
}

static int lanes_of(const cubie_system *sys, const char *const *pairs)
{
    cubie_error err = {0};
    cubie_options *o = tu_options(pairs);
    char *src = NULL;
    tu_ok(cubie_generate(sys, o, &src, &err), &err);
    cubie_options_free(o);
    const char *d = strstr(src, "#define CB_LANES ");
    assert_non_null(d);
    int w = atoi(d + strlen("#define CB_LANES "));
    free(src);
    return w;
}

static void the_block_width_should_follow_the_options(void **state)
{
    (void)state;
    cubie_system *lorenz = load("lorenz.json");
    const char *f32[] = {"algorithm=classical-rk4", NULL};
    const char *f64[] = {"algorithm=classical-rk4", "precision=float64",
                         NULL};
    const char *w5[] = {"algorithm=classical-rk4", "host_lanes=5", NULL};
    const char *w1[] = {"algorithm=classical-rk4", "host_lanes=1", NULL};
    assert_int_equal(lanes_of(lorenz, f32), 32);
    assert_int_equal(lanes_of(lorenz, f64), 16);
    assert_int_equal(lanes_of(lorenz, w5), 5);
    assert_int_equal(lanes_of(lorenz, w1), 1);
    /* A block lives on its thread's stack (256 KiB at most): a large
     * implicit system gets fewer lanes than it asks for. */
    char big[16384];
    int n = 0;
    n += snprintf(big + n, sizeof(big) - (size_t)n,
                  "{\"name\": \"chain\", \"states\": {");
    for (int i = 0; i < 200; i++) {
        n += snprintf(big + n, sizeof(big) - (size_t)n, "%s\"x%d\": 1.0",
                      i ? ", " : "", i);
    }
    n += snprintf(big + n, sizeof(big) - (size_t)n, "}, \"equations\": [");
    for (int i = 0; i < 200; i++) {
        n += snprintf(big + n, sizeof(big) - (size_t)n, "%s\"dx%d = -x%d\"",
                      i ? ", " : "", i, i);
    }
    snprintf(big + n, sizeof(big) - (size_t)n, "]}");
    cubie_system *chain = tu_system(big);
    const char *radau[] = {"algorithm=radau_iia_5", "precision=float64",
                           "host_lanes=256", NULL};
    const int w = lanes_of(chain, radau);
    assert_true(w >= 1 && w < 256);
    cubie_error err = {0};
    cubie_options *o = tu_options(radau);
    tu_ok(cubie_options_set(o, "host_lanes", "300", &err), &err);
    char *src = NULL;
    assert_int_equal(cubie_generate(lorenz, o, &src, &err), CUBIE_E_OPTION);
    assert_non_null(strstr(err.message, "host_lanes"));
    cubie_options_free(o);
    cubie_system_free(chain);
    cubie_system_free(lorenz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixed_steps_should_match_one_run_at_a_time_bit_for_bit),
        cmocka_unit_test(adaptive_and_implicit_steps_should_match_one_run_at_a_time),
        cmocka_unit_test(vector_math_should_stay_close_to_libm),
        cmocka_unit_test(failing_lanes_should_not_disturb_their_block),
        cmocka_unit_test(the_record_should_keep_the_batch_as_given),
        cmocka_unit_test(the_block_width_should_follow_the_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
