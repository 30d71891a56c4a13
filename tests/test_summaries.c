/* Output summaries (issue 11): every metric against values computed here,
 * in double, from the trajectory saved at the sample cadence of the same
 * run (save_every = sample_summaries_every: a save and a sample land on
 * the same step), in float32 and float64; fused and unfused requests;
 * variable selection; edge cases (one window, a one-sample window,
 * plateaus and more peaks than slots, all-negative signals with and
 * without settling_time, an adaptive controller, a failed run); and bad
 * input. The backend is the host's, or $CUBIE_TEST_BACKEND (the emulated
 * driver runs this file as summaries-emulated). */
#include "testutil.h"

#include <math.h>

/* x oscillates (several peaks a window), y is x's square plus a plateau,
 * z decays; the observable e is x + y. */
static const char osc_json[] =
    "{\"name\": \"osc\", \"states\": {\"x\": 1.0, \"v\": 0.0, \"y\": 0.5,"
    " \"z\": -2.0}, \"parameters\": {\"w\": 9.0, \"k\": 0.3},"
    " \"observables\": [\"e\"],"
    " \"equations\": [\"dx = v\", \"dv = -w * w * x - 0.2 * v\","
    " \"dy = where(sin(3 * t) > 0.6, 0, x * v)\", \"dz = -k * z - 1\","
    " \"e = x + y\"]}";

/* The same without the switch in dy: an adaptive controller at tight
 * tolerances would (rightly) shrink its step below dt_min at the jump. */
static const char smooth_json[] =
    "{\"name\": \"osc\", \"states\": {\"x\": 1.0, \"v\": 0.0, \"y\": 0.5,"
    " \"z\": -2.0}, \"parameters\": {\"w\": 9.0, \"k\": 0.3},"
    " \"observables\": [\"e\"],"
    " \"equations\": [\"dx = v\", \"dv = -w * w * x - 0.2 * v\","
    " \"dy = x * v\", \"dz = -k * z - 1\", \"e = x + y\"]}";

typedef struct {
    cubie_system *sys;
    cubie_solver *s;
    cubie_result *r;
} run_t;

static run_t run_pairs(const char *json, const char *const *pairs,
                       size_t n_runs)
{
    run_t t;
    t.sys = tu_system(json);
    t.s = tu_compile(t.sys, pairs);
    cubie_batch *b = NULL;
    cubie_error err = {0};
    tu_ok(cubie_batch_new(t.sys, n_runs, &b, &err), &err);
    for (size_t i = 0; i < n_runs; i++) {
        tu_ok(cubie_batch_set(b, "w", i, 9.0 + (double)i, &err), &err);
    }
    t.r = tu_run(t.s, b, NULL);
    cubie_batch_free(b);
    return t;
}

static void run_free(run_t *t)
{
    cubie_result_free(t->r);
    cubie_solver_free(t->s);
    cubie_system_free(t->sys);
}

/* The named array of a result; fails when it is not there. */
static cubie_array array(const cubie_result *r, const char *name)
{
    for (size_t i = 0; i < cubie_result_n_arrays(r); i++) {
        cubie_array a;
        assert_int_equal(cubie_result_array(r, i, &a), CUBIE_OK);
        if (strcmp(a.name, name) == 0) {
            return a;
        }
    }
    print_error("no array %s\n", name);
    fail();
    cubie_array none = {0};
    return none;
}

static bool has_array(const cubie_result *r, const char *name)
{
    for (size_t i = 0; i < cubie_result_n_arrays(r); i++) {
        cubie_array a;
        if (cubie_result_array(r, i, &a) == CUBIE_OK &&
            strcmp(a.name, name) == 0) {
            return true;
        }
    }
    return false;
}

static double at(const cubie_array *a, size_t i0, size_t i1, size_t i2)
{
    const size_t k = (i0 * a->shape[1] + i1) * a->shape[2] + i2;
    return a->elem_size == 8 ? ((const double *)a->data)[k]
                             : (double)((const float *)a->data)[k];
}

static int find_column(const cubie_array *a, const char *name)
{
    for (size_t k = 0; k < a->n_columns; k++) {
        if (strcmp(a->column_names[k], name) == 0) {
            return (int)k;
        }
    }
    return -1;
}

static int column(const cubie_array *a, const char *name)
{
    for (size_t k = 0; k < a->n_columns; k++) {
        if (strcmp(a->column_names[k], name) == 0) {
            return (int)k;
        }
    }
    print_error("%s has no column '%s'\n", a->name, name);
    fail();
    return -1;
}

/* ---- the reference: the metrics of a window of samples, in double --- */

typedef struct {
    double mean, max, min, rms, std, max_magnitude;
    double dmax, dmin, d2max, d2min;
    double peaks[8], npeaks[8];
    int n_peaks, n_npeaks;
} ref_t;

/* Window w of N samples; s[k] is sample k of the whole run (k from 0),
 * at time t_first + k ss. Peaks and the differences look back across
 * the window's start, as the kernel's do. */
static ref_t reference(const double *s, int w, int N, double t_first,
                       double ss, int slots)
{
    ref_t r;
    memset(&r, 0, sizeof(r));
    r.max = r.dmax = r.d2max = -INFINITY;
    r.min = r.dmin = r.d2min = INFINITY;
    double sum = 0.0, sq = 0.0;
    for (int j = 0; j < N; j++) {
        const int k = w * N + j;
        const double v = s[k];
        sum += v;
        sq += v * v;
        r.max = fmax(r.max, v);
        r.min = fmin(r.min, v);
        r.max_magnitude = fmax(r.max_magnitude, fabs(v));
        if (k >= 1) {
            r.dmax = fmax(r.dmax, (v - s[k - 1]) / ss);
            r.dmin = fmin(r.dmin, (v - s[k - 1]) / ss);
        }
        if (k >= 2) {
            const double d2 = (v - 2.0 * s[k - 1] + s[k - 2]) / (ss * ss);
            r.d2max = fmax(r.d2max, d2);
            r.d2min = fmin(r.d2min, d2);
            if (s[k - 1] > v && s[k - 1] > s[k - 2] && r.n_peaks < slots) {
                r.peaks[r.n_peaks++] = t_first + (double)(k - 1) * ss;
            }
            if (s[k - 1] < v && s[k - 1] < s[k - 2] && r.n_npeaks < slots) {
                r.npeaks[r.n_npeaks++] = t_first + (double)(k - 1) * ss;
            }
        }
    }
    r.mean = sum / N;
    r.rms = sqrt(sq / N);
    double var = 0.0;
    for (int j = 0; j < N; j++) {
        const double d = s[w * N + j] - r.mean;
        var += d * d;
    }
    r.std = sqrt(var / N);
    return r;
}

static void expect_near(double got, double want, double tol, double scale,
                        const char *what)
{
    if (isnan(want) && isnan(got)) {
        return;
    }
    if (!(fabs(got - want) <= tol * fmax(fabs(want), scale))) {
        print_error("%s: got %.17g, want %.17g (tolerance %g of %g)\n", what,
                    got, want, tol, fmax(fabs(want), scale));
        fail();
    }
}

/* ---- every metric against the reference --------------------------------- */

static const char every_metric[] =
    "output_types=state,observables,time,mean,max,min,rms,std,"
    "max_magnitude,peaks[3],negative_peaks[3],dxdt_max,dxdt_min,"
    "d2xdt2_max,d2xdt2_min";

/* The same metrics asked for by their fused names. */
static const char every_fused[] =
    "output_types=state,observables,time,mean_std_rms,extrema,"
    "max_magnitude,peaks[3],negative_peaks[3],dxdt_extrema,d2xdt2_extrema";
static const char mean_std[] = "output_types=state,observables,mean_std";
static const char std_rms[] = "output_types=state,observables,std_rms";

/* Every column of the summary arrays is checked against the reference
 * (a legend the reference lacks fails the test). */
static void check_metrics(const char *json, const char *outputs,
                          const char *precision, const char *algorithm,
                          double tol)
{
    const char *pairs[] = {outputs, precision, algorithm,
                           "dt=0.001", "duration=2", "summarise_every=0.5",
                           "sample_summaries_every=0.01", "save_every=0.01",
                           "atol=1e-9", "rtol=1e-9", NULL};
    run_t t = run_pairs(json, pairs, 3);
    const cubie_array st = array(t.r, "state");
    const cubie_array ob = array(t.r, "observables");
    const cubie_array sm = array(t.r, "state_summaries");
    const cubie_array om = array(t.r, "observable_summaries");
    const cubie_array times = array(t.r, "summary_time");
    const int N = 50, windows = 4, n_samples = windows * N;
    assert_int_equal(sm.shape[1], windows);
    assert_int_equal(times.shape[0], windows);
    for (int w = 0; w < windows; w++) {
        assert_true(fabs(((const double *)times.data)[w] - 0.5 * (w + 1)) <
                    1e-12);
    }
    const char *names[] = {"x", "v", "y", "z", "e"};
    double s[256];
    for (size_t run = 0; run < 3; run++) {
        for (int var = 0; var < 5; var++) {
            const bool obs = var == 4;
            const cubie_array *src = obs ? &ob : &st;
            const cubie_array *dst = obs ? &om : &sm;
            /* Sample k is save row k + 1 (row 0 is t0). */
            for (int k = 0; k < n_samples; k++) {
                s[k] = at(src, run, (size_t)k + 1, obs ? 0 : (size_t)var);
            }
            for (int w = 0; w < windows; w++) {
                const ref_t r = reference(s, w, N, 0.01, 0.01, 3);
                double big = 0.0;
                for (int j = 0; j < N; j++) {
                    big = fmax(big, fabs(s[w * N + j]));
                }
                char col[64];
                size_t checked = 0;
#define CHECK(label, value, scale)                                           \
    do {                                                                     \
        snprintf(col, sizeof(col), "%s %s", names[var], label);              \
        const int c_ = find_column(dst, col);                                \
        if (c_ >= 0) {                                                       \
            checked++;                                                       \
            expect_near(at(dst, run, (size_t)w, (size_t)c_), value, tol,     \
                        scale, col);                                         \
        }                                                                    \
    } while (0)
                CHECK("mean", r.mean, big);
                CHECK("max", r.max, big);
                CHECK("min", r.min, big);
                CHECK("rms", r.rms, big);
                CHECK("std", r.std, big);
                CHECK("max_magnitude", r.max_magnitude, big);
                CHECK("dxdt_max", r.dmax, big / 0.01);
                CHECK("dxdt_min", r.dmin, big / 0.01);
                CHECK("d2xdt2_max", r.d2max, big / 1e-4);
                CHECK("d2xdt2_min", r.d2min, big / 1e-4);
                for (int p = 0; p < 3; p++) {
                    char label[32];
                    snprintf(label, sizeof(label), "peaks_%d", p + 1);
                    CHECK(label, p < r.n_peaks ? r.peaks[p] : NAN, 1.0);
                    snprintf(label, sizeof(label), "negative_peaks_%d",
                             p + 1);
                    CHECK(label, p < r.n_npeaks ? r.npeaks[p] : NAN, 1.0);
                }
#undef CHECK
                /* this variable's columns, all of them */
                assert_int_equal(checked, dst->n_columns / (obs ? 1 : 4));
            }
        }
    }
    run_free(&t);
}

static void every_metric_should_match_the_trajectory_in_float64(void **st)
{
    (void)st;
    check_metrics(osc_json, every_metric, "precision=float64",
                  "algorithm=classical-rk4", 1e-12);
    check_metrics(osc_json, every_fused, "precision=float64",
                  "algorithm=classical-rk4", 1e-12);
    check_metrics(osc_json, mean_std, "precision=float64",
                  "algorithm=classical-rk4", 1e-12);
    check_metrics(osc_json, std_rms, "precision=float64",
                  "algorithm=classical-rk4", 1e-12);
}

static void every_metric_should_match_the_trajectory_in_float32(void **st)
{
    (void)st;
    check_metrics(osc_json, every_metric, "precision=float32",
                  "algorithm=classical-rk4", 1e-5);
    check_metrics(osc_json, every_fused, "precision=float32",
                  "algorithm=classical-rk4", 1e-5);
}

/* An adaptive controller still lands on every sample time. */
static void samples_should_land_on_their_times_with_adaptive_steps(
    void **st)
{
    (void)st;
    check_metrics(smooth_json, every_metric, "precision=float64",
                  "algorithm=tsit5", 1e-12);
}

/* ---- fusion ------------------------------------------------------------- */

/* Requested together, mean/std/rms share accumulators (mean_std_rms),
 * max/min become extrema, and the values are those of separate runs:
 * bit for bit, but for mean and rms, computed from the shifted sums
 * (within 1e-14 relative in float64). */
static void fused_and_unfused_requests_should_give_the_same_values(
    void **st)
{
    (void)st;
    const char *common[] = {"precision=float64", "algorithm=classical-rk4",
                            "dt=0.001", "duration=1", "summarise_every=0.25",
                            "sample_summaries_every=0.005"};
    const char *sets[][2] = {
        {"output_types=mean,std,rms,max,min,dxdt_max,dxdt_min",
         "fused"},
        {"output_types=mean", "mean"}, {"output_types=std", "std"},
        {"output_types=rms", "rms"},   {"output_types=max", "max"},
        {"output_types=min", "min"},   {"output_types=dxdt_max", "dxdt_max"},
        {"output_types=dxdt_min", "dxdt_min"}};
    run_t runs[8];
    for (int i = 0; i < 8; i++) {
        const char *pairs[8];
        for (int k = 0; k < 6; k++) {
            pairs[k] = common[k];
        }
        pairs[6] = sets[i][0];
        pairs[7] = NULL;
        runs[i] = run_pairs(osc_json, pairs, 2);
    }
    const cubie_array fused = array(runs[0].r, "state_summaries");
    /* The fused request's order: mean, std, rms (mean_std_rms at mean's
     * place), then max, min (extrema), then dxdt_max, dxdt_min. */
    const char *order[] = {"x mean", "x std", "x rms", "x max", "x min",
                           "x dxdt_max", "x dxdt_min", "v mean"};
    for (int k = 0; k < 8; k++) {
        assert_string_equal(fused.column_names[k], order[k]);
    }
    for (int i = 1; i < 8; i++) {
        const cubie_array one = array(runs[i].r, "state_summaries");
        for (size_t c = 0; c < one.n_columns; c++) {
            const int fc = column(&fused, one.column_names[c]);
            for (size_t run = 0; run < 2; run++) {
                for (size_t w = 0; w < 4; w++) {
                    const double a = at(&one, run, w, c);
                    const double b = at(&fused, run, w, (size_t)fc);
                    /* mean and rms come from the shifted sums when
                     * fused (shift + sum(v - shift) / N): the same value
                     * to rounding; the others bit for bit. */
                    const char *name = one.column_names[c];
                    const bool shifted = strstr(name, " mean") != NULL ||
                                         strstr(name, " rms") != NULL;
                    const double tol = shifted ? 1e-14 : 0.0;
                    /* (relative to the signal's size, about 1) */
                    if (!(fabs(a - b) <= tol * fmax(fabs(a), 1.0))) {
                        print_error("%s: %.17g alone, %.17g fused\n",
                                    one.column_names[c], a, b);
                        fail();
                    }
                }
            }
        }
    }
    /* Fused names asked for beside their members repeat nothing: the
     * same columns as the fused request, the same values bit for bit. */
    const char *pairs[8];
    for (int k = 0; k < 6; k++) {
        pairs[k] = common[k];
    }
    pairs[6] = "output_types=mean_std,std_rms,mean,extrema,max,dxdt_extrema";
    pairs[7] = NULL;
    run_t named = run_pairs(osc_json, pairs, 2);
    const cubie_array nm = array(named.r, "state_summaries");
    assert_int_equal(nm.n_columns, fused.n_columns);
    for (size_t c = 0; c < nm.n_columns; c++) {
        assert_string_equal(nm.column_names[c], fused.column_names[c]);
    }
    const size_t n = nm.shape[0] * nm.shape[1] * nm.shape[2];
    assert_memory_equal(nm.data, fused.data, n * nm.elem_size);
    run_free(&named);
    for (int i = 0; i < 8; i++) {
        run_free(&runs[i]);
    }
}

/* ---- selection ---------------------------------------------------------- */

static void a_selection_should_write_only_the_selected_columns(void **st)
{
    (void)st;
    const char *all[] = {"output_types=state,observables,mean,max",
                         "precision=float64", "algorithm=classical-rk4",
                         "dt=0.001", "summarise_every=0.5",
                         "sample_summaries_every=0.05", NULL};
    const char *some[] = {"output_types=state,observables,mean,max",
                          "precision=float64", "algorithm=classical-rk4",
                          "dt=0.001", "summarise_every=0.5",
                          "sample_summaries_every=0.05",
                          "save_variables=z,x", "summarise_variables=y,e",
                          NULL};
    run_t a = run_pairs(osc_json, all, 2);
    run_t b = run_pairs(osc_json, some, 2);
    const cubie_array sa = array(a.r, "state"), sb = array(b.r, "state");
    assert_int_equal(sb.n_columns, 2); /* x, z in index order */
    assert_string_equal(sb.column_names[0], "x");
    assert_string_equal(sb.column_names[1], "z");
    assert_false(has_array(b.r, "observables") &&
                 array(b.r, "observables").n_columns > 0);
    const cubie_array ma = array(a.r, "state_summaries");
    const cubie_array mb = array(b.r, "state_summaries");
    assert_int_equal(mb.n_columns, 2);
    assert_string_equal(mb.column_names[0], "y mean");
    assert_string_equal(mb.column_names[1], "y max");
    const cubie_array ob = array(b.r, "observable_summaries");
    assert_int_equal(ob.n_columns, 2);
    assert_string_equal(ob.column_names[0], "e mean");
    for (size_t run = 0; run < 2; run++) {
        for (size_t sv = 0; sv < sa.shape[1]; sv++) {
            assert_true(at(&sb, run, sv, 0) == at(&sa, run, sv, 0));
            assert_true(at(&sb, run, sv, 1) == at(&sa, run, sv, 3));
        }
        for (size_t w = 0; w < 2; w++) {
            assert_true(at(&mb, run, w, 0) ==
                        at(&ma, run, w, (size_t)column(&ma, "y mean")));
            assert_true(at(&mb, run, w, 1) ==
                        at(&ma, run, w, (size_t)column(&ma, "y max")));
        }
    }
    run_free(&a);
    run_free(&b);
    /* Indices select too, unioned with names; [] selects none. */
    const char *idx[] = {"output_types=mean", "algorithm=classical-rk4",
                         "summarise_variables=v",
                         "summarised_state_indices=3,0",
                         "summarised_observable_indices=[]", NULL};
    run_t c = run_pairs(osc_json, idx, 1);
    const cubie_array mc = array(c.r, "state_summaries");
    assert_int_equal(mc.n_columns, 3);
    assert_string_equal(mc.column_names[0], "x mean");
    assert_string_equal(mc.column_names[1], "v mean");
    assert_string_equal(mc.column_names[2], "z mean");
    assert_false(has_array(c.r, "observable_summaries"));
    /* Summaries only: no per-save rows at all. */
    assert_int_equal(cubie_result_n_saves(c.r), 0);
    run_free(&c);
}

/* ---- placement ---------------------------------------------------------- */

/* The accumulators are registry buffers of the loop: moved to shared
 * memory, they give the same values, to the last bits (the host compiler,
 * at -march=native, contracts a * b + c into an fma where it keeps a
 * local array in registers, not where it goes through memory); NaN where
 * and only where the local placement has one. */
static void relocated_accumulators_should_give_the_same_values(void **st)
{
    (void)st;
    const char *local[] = {"output_types=mean,std,peaks[2],d2xdt2_extrema",
                           "precision=float64", "algorithm=classical-rk4",
                           "dt=0.001", "summarise_every=0.25",
                           "sample_summaries_every=0.01", NULL};
    const char *shared[] = {"output_types=mean,std,peaks[2],d2xdt2_extrema",
                            "precision=float64", "algorithm=classical-rk4",
                            "dt=0.001", "summarise_every=0.25",
                            "sample_summaries_every=0.01",
                            "state_summary_location=shared",
                            "observable_summary_location=shared", NULL};
    run_t a = run_pairs(osc_json, local, 3);
    run_t b = run_pairs(osc_json, shared, 3);
    assert_non_null(strstr(cubie_solver_layout(b.s), "state_summary"));
    const char *names[] = {"state_summaries", "observable_summaries"};
    for (int k = 0; k < 2; k++) {
        const cubie_array x = array(a.r, names[k]), y = array(b.r, names[k]);
        assert_int_equal(x.shape[2], y.shape[2]);
        const size_t n = x.shape[0] * x.shape[1] * x.shape[2];
        assert_true(n > 0);
        const double *p = x.data, *q = y.data;
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(isnan(p[i]), isnan(q[i]));
            if (!isnan(p[i]) && !(fabs(p[i] - q[i]) <=
                                  4e-16 * fmax(fmax(fabs(p[i]), 1.0),
                                               fabs(q[i])))) {
                print_error("%s[%zu]: %.17g local, %.17g shared\n",
                            names[k], i, p[i], q[i]);
                fail();
            }
        }
    }
    run_free(&a);
    run_free(&b);
}

/* ---- edge cases --------------------------------------------------------- */

/* One window (summarise_every unset: the duration, sampled 100 times),
 * and windows of one sample each. */
static void one_window_and_one_sample_windows_should_work(void **st)
{
    (void)st;
    const char *one[] = {"output_types=state,mean,max", "dt=0.001",
                         "precision=float64", "algorithm=classical-rk4",
                         "save_every=0.01", NULL};
    run_t a = run_pairs(osc_json, one, 1);
    const cubie_array m = array(a.r, "state_summaries");
    const cubie_array s = array(a.r, "state");
    assert_int_equal(m.shape[1], 1);
    double sum = 0.0, mx = -INFINITY;
    for (size_t k = 1; k <= 100; k++) {
        sum += at(&s, 0, k, 0);
        mx = fmax(mx, at(&s, 0, k, 0));
    }
    expect_near(at(&m, 0, 0, 0), sum / 100.0, 1e-12, 1.0, "one window mean");
    expect_near(at(&m, 0, 0, 1), mx, 1e-12, 1.0, "one window max");
    run_free(&a);

    const char *single[] = {"output_types=state,mean,std,max,dxdt_max",
                            "dt=0.001", "precision=float64",
                            "algorithm=classical-rk4", "summarise_every=0.1",
                            "sample_summaries_every=0.1", "save_every=0.1",
                            NULL};
    run_t b = run_pairs(osc_json, single, 1);
    const cubie_array m1 = array(b.r, "state_summaries");
    const cubie_array s1 = array(b.r, "state");
    assert_int_equal(m1.shape[1], 10);
    for (size_t w = 0; w < 10; w++) {
        const double v = at(&s1, 0, w + 1, 0);
        expect_near(at(&m1, 0, w, (size_t)column(&m1, "x mean")), v, 1e-12,
                    1.0, "mean of one sample");
        expect_near(at(&m1, 0, w, (size_t)column(&m1, "x std")), 0.0, 1e-12,
                    1.0, "std of one sample");
        expect_near(at(&m1, 0, w, (size_t)column(&m1, "x max")), v, 1e-12,
                    1.0, "max of one sample");
        const double d = at(&m1, 0, w, (size_t)column(&m1, "x dxdt_max"));
        if (w == 0) {
            assert_true(isnan(d)); /* no difference in the first window */
        } else {
            expect_near(d, (v - at(&s1, 0, w, 0)) / 0.1, 1e-10, 1.0,
                        "dxdt of one sample");
        }
    }
    run_free(&b);
}

/* Plateaus (y holds still while sin(3t) > 0.6) give no peak; with more
 * peaks than slots the first ones are kept, the rest dropped. */
static void peaks_should_skip_plateaus_and_keep_the_first_ones(void **st)
{
    (void)st;
    const char *pairs[] = {"output_types=state,peaks[2],negative_peaks[8]",
                           "precision=float64", "algorithm=classical-rk4",
                           "dt=0.001", "duration=8", "summarise_every=8",
                           "sample_summaries_every=0.01", "save_every=0.01",
                           NULL};
    run_t t = run_pairs(osc_json, pairs, 1);
    const cubie_array s = array(t.r, "state"), m = array(t.r,
                                                         "state_summaries");
    double x[1024], y[1024];
    for (int k = 0; k < 800; k++) {
        x[k] = at(&s, 0, (size_t)k + 1, 0);
        y[k] = at(&s, 0, (size_t)k + 1, 2);
    }
    int plateau = 0;
    for (int k = 1; k < 800; k++) {
        plateau += y[k] == y[k - 1];
    }
    assert_true(plateau > 20); /* the signal does hold still */
    const ref_t rx = reference(x, 0, 800, 0.01, 0.01, 2);
    const ref_t rn = reference(x, 0, 800, 0.01, 0.01, 8);
    assert_true(rn.n_npeaks == 8); /* x has more minima than 8 slots */
    for (int p = 0; p < 2; p++) {
        char col[32];
        snprintf(col, sizeof(col), "x peaks_%d", p + 1);
        expect_near(at(&m, 0, 0, (size_t)column(&m, col)), rx.peaks[p],
                    1e-12, 1.0, col);
    }
    for (int p = 0; p < 8; p++) {
        char col[40];
        snprintf(col, sizeof(col), "x negative_peaks_%d", p + 1);
        expect_near(at(&m, 0, 0, (size_t)column(&m, col)), rn.npeaks[p],
                    1e-12, 1.0, col);
    }
    const ref_t ry = reference(y, 0, 800, 0.01, 0.01, 8);
    for (int p = 0; p < 8; p++) {
        char col[40];
        snprintf(col, sizeof(col), "y negative_peaks_%d", p + 1);
        expect_near(at(&m, 0, 0, (size_t)column(&m, col)),
                    p < ry.n_npeaks ? ry.npeaks[p] : NAN, 1e-12, 1.0, col);
    }
    run_free(&t);
}

/* z stays below -2: its max and extrema are negative in every window,
 * settling_time or not (the original read 0 in window 0 after a
 * settling time). */
static void all_negative_signals_should_keep_negative_maxima(void **st)
{
    (void)st;
    /* max alone (with dxdt_max), and extrema: separate accumulators */
    const char *outs[] = {"output_types=state,max,dxdt_max",
                          "output_types=state,extrema"};
    for (int q = 0; q < 4; q++) {
        const int settle = q % 2;
        const bool extrema = q >= 2;
        const char *pairs[] = {outs[extrema],
                               "precision=float64",
                               "algorithm=classical-rk4", "dt=0.001",
                               "summarise_every=0.25",
                               "sample_summaries_every=0.01",
                               "save_every=0.01",
                               settle ? "settling_time=0.5"
                                      : "settling_time=0",
                               NULL};
        run_t t = run_pairs(osc_json, pairs, 1);
        const cubie_array s = array(t.r, "state");
        const cubie_array m = array(t.r, "state_summaries");
        for (size_t w = 0; w < 4; w++) {
            double mx = -INFINITY, mn = INFINITY;
            for (size_t j = 0; j < 25; j++) {
                const double v = at(&s, 0, w * 25 + j + 1, 3);
                mx = fmax(mx, v);
                mn = fmin(mn, v);
            }
            assert_true(mx < -2.0);
            expect_near(at(&m, 0, w, (size_t)column(&m, "z max")), mx,
                        1e-12, 1.0, "z max");
            if (extrema) {
                expect_near(at(&m, 0, w, (size_t)column(&m, "z min")), mn,
                            1e-12, 1.0, "z min");
            } else {
                assert_true(at(&m, 0, w, (size_t)column(&m, "z dxdt_max")) <
                            0);
            }
        }
        run_free(&t);
    }
}

/* A run that fails has NaN summaries, like its trajectory; the others
 * are untouched. */
static void a_failed_runs_summaries_should_read_nan(void **st)
{
    (void)st;
    static const char blow_json[] =
        "{\"states\": {\"x\": 1.0}, \"parameters\": {\"k\": 1.0},"
        " \"equations\": [\"dx = k * x * x\"]}";
    cubie_system *sys = tu_system(blow_json);
    const char *pairs[] = {"output_types=state,mean,max",
                           "algorithm=classical-rk4", "dt=0.001",
                           "precision=float64", "summarise_every=0.25",
                           "sample_summaries_every=0.05", NULL};
    cubie_solver *s = tu_compile(sys, pairs);
    cubie_batch *b = NULL;
    cubie_error err = {0};
    tu_ok(cubie_batch_new(sys, 2, &b, &err), &err);
    tu_ok(cubie_batch_set(b, "k", 0, -1.0, &err), &err); /* decays */
    tu_ok(cubie_batch_set(b, "k", 1, 4.0, &err), &err);  /* blows up at 1/4 */
    cubie_result *r = tu_run(s, b, NULL);
    assert_int_equal(cubie_result_status(r)[0], 0);
    assert_true(cubie_result_status(r)[1] != 0);
    const cubie_array m = array(r, "state_summaries");
    for (size_t w = 0; w < m.shape[1]; w++) {
        assert_true(isfinite(at(&m, 0, w, 0)));
        assert_true(isnan(at(&m, 1, w, 0)) && isnan(at(&m, 1, w, 1)));
    }
    /* x(t) = 1 / (1 + t) for k = -1: the first window's mean. */
    double want = 0.0;
    for (int k = 1; k <= 5; k++) {
        want += 1.0 / (1.0 + 0.05 * k);
    }
    expect_near(at(&m, 0, 0, 0), want / 5.0, 1e-9, 1.0, "decay mean");
    cubie_result_free(r);
    cubie_batch_free(b);
    cubie_solver_free(s);
    cubie_system_free(sys);
}

/* ---- bad input ---------------------------------------------------------- */

static void bad_summary_requests_should_name_the_option(void **st)
{
    (void)st;
    const struct {
        const char *pairs[4];
        bool at_run;
        const char *key, *text;
    } bad[] = {
        {{"output_types=state,median", NULL}, false, "output_types",
         "unknown output 'median'"},
        {{"output_types=peaks[x]", NULL}, false, "output_types",
         "write peaks[n]"},
        {{"output_types=peaks[0]", NULL}, false, "output_types",
         "write peaks[n]"},
        {{"output_types=mean[2]", NULL}, false, "output_types",
         "takes no parameter"},
        {{"output_types=mean", "summarise_every=0.25",
          "sample_summaries_every=0.07"},
         true, "summarise_every", "not a whole number of sample intervals"},
        {{"output_types=mean", "summarise_every=0.1",
          "sample_summaries_every=0.2"},
         true, "sample_summaries_every", "longer than the summary window"},
        {{"output_types=mean", "summarise_every=2", NULL}, true,
         "summarise_every", "longer than the duration"},
        {{"output_types=state", "save_variables=x,q", NULL}, false,
         "save_variables", "'q' is neither a state nor an observable"},
        {{"output_types=mean", "summarise_variables=k", NULL}, false,
         "summarise_variables", "'k' is neither a state nor an observable"},
        {{"output_types=mean", "summarised_state_indices=4", NULL}, false,
         "summarised_state_indices", "not the index of one of the 4 states"},
        {{"output_types=mean", "summarise_variables=[]",
          "summarised_observable_indices=[]"},
         false, "summarise_variables", "no variable is summarised"},
    };
    cubie_system *sys = tu_system(osc_json);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cubie_options *o = NULL;
        assert_int_equal(cubie_options_new(&o), CUBIE_OK);
        cubie_error err = {0};
        cubie_status st_ = CUBIE_OK;
        for (int k = 0; k < 4 && bad[i].pairs[k] && st_ == CUBIE_OK; k++) {
            st_ = cubie_options_set_pair(o, bad[i].pairs[k], &err);
        }
        cubie_solver *s = NULL;
        if (st_ == CUBIE_OK) {
            cubie_options_set(o, "backend", "host", &err);
            st_ = cubie_compile(sys, o, &s, &err);
        }
        if (st_ == CUBIE_OK) {
            assert_true(bad[i].at_run);
            cubie_batch *b = NULL;
            tu_ok(cubie_batch_new(sys, 1, &b, &err), &err);
            cubie_result *r = NULL;
            st_ = cubie_run(s, b, NULL, &r, &err);
            cubie_batch_free(b);
            cubie_result_free(r);
        }
        if (st_ != CUBIE_E_OPTION || strcmp(err.path, bad[i].key) != 0 ||
            strstr(err.message, bad[i].text) == NULL) {
            print_error("case %zu: %s (%s): %s\n", i, cubie_status_str(st_),
                        err.path, err.message);
            fail();
        }
        cubie_error_clear(&err);
        cubie_solver_free(s);
        cubie_options_free(o);
    }
    cubie_system_free(sys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_metric_should_match_the_trajectory_in_float64),
        cmocka_unit_test(every_metric_should_match_the_trajectory_in_float32),
        cmocka_unit_test(
            samples_should_land_on_their_times_with_adaptive_steps),
        cmocka_unit_test(
            fused_and_unfused_requests_should_give_the_same_values),
        cmocka_unit_test(a_selection_should_write_only_the_selected_columns),
        cmocka_unit_test(relocated_accumulators_should_give_the_same_values),
        cmocka_unit_test(one_window_and_one_sample_windows_should_work),
        cmocka_unit_test(peaks_should_skip_plateaus_and_keep_the_first_ones),
        cmocka_unit_test(all_negative_signals_should_keep_negative_maxima),
        cmocka_unit_test(a_failed_runs_summaries_should_read_nan),
        cmocka_unit_test(bad_summary_requests_should_name_the_option),
    };
    return cmocka_run_group_tests_name("summaries", tests, NULL, NULL);
}
