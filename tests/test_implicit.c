/* Implicit methods on the host backend: the order of every method on a
 * problem with an exact solution, the stiff specs against their published
 * reference values, the DIRK buffer layout of the buffer plan, and every
 * solver failure status, each provoked on purpose. */
#include "testutil.h"

#include <cJSON.h>
#include <math.h>

#include "generate.h"
#include "tables.h"

static const char exact_spec[] =
    "{\"name\": \"exact\", \"states\": {\"a\": 0.1, \"b\": 1.0, \"w\": 1.0},"
    " \"equations\": [\"da = 2 * a * (1 - a)\", \"db = -2 * t * b^2\","
    " \"dw = w * cos(t)\"]}";

static double exact_error(const cubie_result *r, double t)
{
    double y[3] = {1.0 / (1.0 + 9.0 * exp(-2.0 * t)), 1.0 / (1.0 + t * t),
                   exp(sin(t))};
    size_t last = cubie_result_n_saves(r) - 1;
    double e = 0.0;
    for (size_t i = 0; i < 3; i++) {
        e = fmax(e, fabs(cubie_result_state(r, 0, last, i) - y[i]));
    }
    return e;
}

typedef struct {
    const char *name;
    int order;
    double duration;
    int steps[4];
} order_case;

/* Newton and Krylov run to near roundoff (atol = rtol = 1e-13 gives a
 * Newton tolerance of 1e-14) so that only the method's error remains. */
static const order_case cases[] = {
    {"backwards_euler", 1, 1.0, {32, 64, 128, 256}},
    {"backwards_euler_pc", 1, 1.0, {32, 64, 128, 256}},
    {"crank_nicolson", 2, 1.0, {16, 32, 64, 128}},
    {"implicit_midpoint", 2, 1.0, {16, 32, 64, 128}},
    {"trapezoidal_dirk", 2, 1.0, {16, 32, 64, 128}},
    {"sdirk_2_2", 2, 1.0, {16, 32, 64, 128}},
    {"l_stable_dirk_3", 3, 1.0, {16, 32, 64, 128}},
    {"l_stable_sdirk_4", 4, 1.0, {16, 32, 64, 128}},
    {"kvaerno3", 3, 1.0, {16, 32, 64, 128}},
    {"kvaerno5", 5, 1.0, {8, 16, 32, 64}},
    {"firk_gauss_legendre_2", 4, 1.0, {8, 16, 32, 64}},
    {"firk_gauss_legendre_4", 8, 4.0, {6, 8, 10, 12}},
    {"radau_iia_5", 5, 1.0, {8, 16, 32, 64}},
    {"ros3p", 3, 1.0, {16, 32, 64, 128}},
    {"rodas3p", 3, 1.0, {16, 32, 64, 128}},
    {"rosenbrock23", 2, 1.0, {16, 32, 64, 128}},
};

/* Every method's fitted order with the linear solver lin (preconditioner
 * pre, NULL: none given). */
static void check_orders(const char *lin, const char *pre)
{
    cubie_system *sys = tu_system(exact_spec);
    cubie_error err = {0};
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, 1, &b, &err), &err);
    double worst = 0.0;
    for (size_t m = 0; m < sizeof(cases) / sizeof(cases[0]); m++) {
        const order_case *c = &cases[m];
        char algo[64];
        snprintf(algo, sizeof(algo), "algorithm=%s", c->name);
        const char *copt[] = {algo, "precision=float64",
                              "step_controller=fixed", lin, pre, NULL};
        cubie_solver *s = tu_compile(sys, copt);
        double lh[4], le[4], sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (int k = 0; k < 4; k++) {
            char dt[64], dur[64];
            snprintf(dt, sizeof(dt), "dt=%.17g", c->duration / c->steps[k]);
            snprintf(dur, sizeof(dur), "duration=%g", c->duration);
            const char *ropt[] = {dt, dur, "atol=1e-13", "rtol=1e-13", NULL};
            cubie_result *r = tu_run(s, b, ropt);
            assert_int_equal(cubie_result_status(r)[0], 0);
            lh[k] = log(c->duration / c->steps[k]);
            le[k] = log(exact_error(r, c->duration));
            sx += lh[k];
            sy += le[k];
            sxx += lh[k] * lh[k];
            sxy += lh[k] * le[k];
            cubie_result_free(r);
        }
        double p = (4 * sxy - sx * sy) / (4 * sxx - sx * sx);
        print_message("%-22s order %d: errors %.2e .. %.2e, fitted %.3f "
                      "(%s %s)\n", c->name, c->order, exp(le[0]), exp(le[3]),
                      p, lin, pre ? pre : "");
        worst = fmax(worst, fabs(p - c->order));
        cubie_solver_free(s);
    }
    assert_true(worst <= 0.3);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

static void every_implicit_method_should_converge_at_its_order(void **s0)
{
    (void)s0;
    check_orders("linear_correction_type=bicgstab",
                 "preconditioner_type=jacobi");
}

/* The direct solve (lu): the same orders, with no Krylov tolerance in the
 * way at all, by Newton's method and by simplified Newton (one Jacobian
 * a step), which converges to the same stage values. */
static void every_implicit_method_should_converge_at_its_order_with_lu(
    void **s0)
{
    (void)s0;
    check_orders("linear_correction_type=lu", "jacobian_update=iteration");
    check_orders("linear_correction_type=lu", "jacobian_update=step");
}

/* ---- stiff specs against published references ------------------------- */

static cJSON *load_references(void)
{
    char path[512];
    tu_spec_path("reference/stiff_references.json", path, sizeof(path));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    assert_non_null(j);
    return j;
}

/* The entry of stiff_references.json for a spec file. */
static const cJSON *reference_of(const cJSON *refs, const char *spec)
{
    const cJSON *prob = NULL, *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(refs, "problems"))
    {
        if (strcmp(cJSON_GetObjectItem(it, "spec")->valuestring, spec) ==
            0) {
            prob = it;
        }
    }
    assert_non_null(prob);
    return prob;
}

/* A spec of specs/ and a batch of one run at its values. */
static cubie_system *spec_run(const char *spec, cubie_batch **b)
{
    char path[512];
    cubie_error err = {0};
    cubie_system *sys = NULL;
    tu_ok(cubie_system_load(tu_spec_path(spec, path, sizeof(path)), &sys,
                            &err),
          &err);
    tu_ok(cubie_batch_new(sys, 1, b, &err), &err);
    return sys;
}

typedef struct {
    const char *spec;
    const char *duration, *atol, *dt_max;
    bool tsit5_must_fail; /* within 100x the Kvaerno method's steps */
    const char *rosenbrock;
} stiff_case;

/* rtol = 1e-8; atol per problem as the test set suggests (HIRES and
 * Robertson have components far below 1). */
/* OREGO is periodic with sharp fronts: ros3p, not stiffly accurate, ends
 * 1e-3 off there at rtol 1e-8, so that problem checks rodas3p. Robertson
 * out to 1e11 takes steps with h lambda near -1e9, where ros3p's
 * stability function is about 0.73 (A- but not L-stable): a rounding
 * difference is not damped, and whether it reaches t_end or runs into
 * max_steps depends on how the host compiler contracts into fma. That
 * problem checks rodas3p (L-stable) too. */
static const stiff_case stiff_cases[] = {
    {"robertson.json", "duration=1e11", "atol=1e-14", "dt_max=1e10", true,
     "rodas3p"},
    {"van_der_pol_stiff.json", "duration=2000", "atol=1e-8", "dt_max=100",
     true, "ros3p"},
    {"hires.json", "duration=321.8122", "atol=1e-12", "dt_max=10", false,
     "ros3p"},
    {"orego.json", "duration=360", "atol=1e-8", "dt_max=10", true,
     "rodas3p"},
};

static long accepted(const cubie_result *r)
{
    const int32_t *c = cubie_result_counters(r);
    long acc = 0;
    for (size_t sv = 0; sv < cubie_result_n_saves(r); sv++) {
        acc += c[sv * 4 + 2] - c[sv * 4 + 3];
    }
    return acc;
}

static void stiff_specs_should_reach_their_published_references(void **s0)
{
    (void)s0;
    cJSON *refs = load_references();
    for (size_t k = 0; k < sizeof(stiff_cases) / sizeof(stiff_cases[0]);
         k++) {
        const stiff_case *sc = &stiff_cases[k];
        const cJSON *prob = reference_of(refs, sc->spec);
        const cJSON *names = cJSON_GetObjectItem(prob, "states");
        const cJSON *ref = cJSON_GetObjectItem(prob, "reference");
        cubie_batch *b = NULL;
        cubie_system *sys = spec_run(sc->spec, &b);
        const double atol = atof(sc->atol + 5), rtol = 1e-8;
        const char *methods[] = {"radau_iia_5", "kvaerno5", sc->rosenbrock};
        long kvaerno_steps = 0;
        /* each method with BiCGSTAB (Jacobi) and with the direct solve,
         * Newton's method (the matrix at every iterate) and simplified
         * Newton (one per step; a Rosenbrock method has only that) */
        static const char *const how[] = {"bicgstab", "lu", "lu, step"};
        for (int m = 0; m < 8; m++) {
            char algo[64];
            snprintf(algo, sizeof(algo), "algorithm=%s", methods[m % 3]);
            const bool lu = m >= 3;
            const char *copt[] = {algo, "precision=float64",
                                  "output_types=state,iteration_counters",
                                  lu ? "linear_correction_type=lu"
                                     : "linear_correction_type=bicgstab",
                                  !lu ? "preconditioner_type=jacobi"
                                  : m >= 6 ? "jacobian_update=step"
                                           : "jacobian_update=iteration",
                                  NULL};
            const char *ropt[] = {sc->duration, sc->atol, "rtol=1e-8",
                                  sc->dt_max,  "dt=1e-6",  "dt_min=1e-16",
                                  NULL};
            cubie_solver *s = tu_compile(sys, copt);
            cubie_result *r = tu_run(s, b, ropt);
            assert_int_equal(cubie_result_status(r)[0], 0);
            double worst = 0.0;
            for (size_t i = 0; i < cubie_result_n_vars(r); i++) {
                const char *nm = cJSON_GetArrayItem(names, (int)i)->valuestring;
                assert_string_equal(nm, cubie_result_var_name(r, i));
                double want = cJSON_GetObjectItem(ref, nm)->valuedouble;
                double got = cubie_result_state(r, 0, 1, i);
                worst = fmax(worst, fabs(got - want) /
                                        (atol + rtol * fabs(want)));
            }
            long steps = accepted(r);
            if (m == 1) {
                kvaerno_steps = steps;
            }
            print_message("%-24s %-12s %-8s: error %.3g x tolerance, %ld "
                          "steps\n", sc->spec, methods[m % 3], how[m / 3],
                          worst, steps);
            assert_true(worst <= 100.0);
            cubie_result_free(r);
            cubie_solver_free(s);
        }
        /* An explicit method on the same problem. */
        char cap[64];
        snprintf(cap, sizeof(cap), "max_steps=%ld", 100 * kvaerno_steps);
        const char *copt[] = {"algorithm=tsit5", "precision=float64",
                              "output_types=state,iteration_counters", NULL};
        const char *ropt[] = {sc->duration, sc->atol, "rtol=1e-8",
                              sc->dt_max,  "dt=1e-6",  "dt_min=1e-16",
                              cap, NULL};
        cubie_solver *s = tu_compile(sys, copt);
        cubie_result *r = tu_run(s, b, ropt);
        int st = cubie_result_status(r)[0];
        print_message("%-24s tsit5       : status %d, %ld steps (cap %ld)\n",
                      sc->spec, st, st ? -1L : accepted(r),
                      100 * kvaerno_steps);
        if (sc->tsit5_must_fail) {
            assert_true(st & CUBIE_RUN_MAX_STEPS);
        }
        cubie_result_free(r);
        cubie_solver_free(s);
        cubie_batch_free(b);
        cubie_system_free(sys);
    }
    cJSON_Delete(refs);
}

/* With the default options a stiff run is not held to steps of 1: an
 * implicit method's dt_max is the whole span, so Van der Pol (mu = 1000,
 * to t = 2000, whose smooth stretches take steps of tens) needs fewer
 * accepted steps than the 2000 a cap of 1 would force, and still meets
 * the reference within the default tolerances; an explicit method keeps
 * the original's dt_max of 1. */
static void default_steps_should_not_cap_stiff_runs(void **s0)
{
    (void)s0;
    cJSON *refs = load_references();
    const cJSON *prob = reference_of(refs, "van_der_pol_stiff.json");
    const cJSON *ref = cJSON_GetObjectItem(prob, "reference");
    cubie_error err = {0};
    cubie_batch *b = NULL;
    cubie_system *sys = spec_run("van_der_pol_stiff.json", &b);
    const char *methods[] = {"radau_iia_5", "kvaerno5", "rodas3p"};
    const double tol = 1e-6; /* the default atol and rtol */
    for (int m = 0; m < 3; m++) {
        char algo[64];
        snprintf(algo, sizeof(algo), "algorithm=%s", methods[m]);
        const char *copt[] = {algo, "precision=float64",
                              "output_types=state,iteration_counters", NULL};
        const char *ropt[] = {"duration=2000", NULL};
        cubie_solver *s = tu_compile(sys, copt);
        cubie_result *r = tu_run(s, b, ropt);
        assert_int_equal(cubie_result_status(r)[0], 0);
        cubie_setting v;
        tu_ok(cubie_result_find_setting(r, "dt_max", &v), &err);
        assert_true(v.number == 2000.0);
        double worst = 0.0;
        for (size_t i = 0; i < cubie_result_n_vars(r); i++) {
            const double want = cJSON_GetObjectItem(
                ref, cubie_result_var_name(r, i))->valuedouble;
            const double got = cubie_result_state(r, 0, 1, i);
            worst = fmax(worst, fabs(got - want) / (tol + tol * fabs(want)));
        }
        const long steps = accepted(r);
        print_message("van_der_pol_stiff defaults %-12s: error %.3g x "
                      "tolerance, %ld steps\n", methods[m], worst, steps);
        assert_true(worst <= 100.0);
        assert_true(steps < 2000);
        cubie_result_free(r);
        cubie_solver_free(s);
    }
    /* A Rosenbrock stage is its linear solve's answer: at loose
     * tolerances the Krylov residual is still held to 1e-8 (plan.c),
     * which a step meeting the growing mode near x = 1 needs. With a
     * reduction of rtol / 10 these ended at x = -0.2 and 1e13, status 0. */
    {
        const char *copt[] = {"algorithm=rodas3p", "precision=float64",
                              NULL};
        cubie_solver *s = tu_compile(sys, copt);
        static const char *const loose[][2] = {{"rtol=1e-3", "atol=1e-8"},
                                               {"rtol=1e-4", "atol=1e-8"}};
        for (int k = 0; k < 2; k++) {
            const char *ropt[] = {"duration=2000", loose[k][0], loose[k][1],
                                  NULL};
            cubie_result *r = tu_run(s, b, ropt);
            assert_int_equal(cubie_result_status(r)[0], 0);
            const double lt = atof(loose[k][0] + 5);
            for (size_t i = 0; i < cubie_result_n_vars(r); i++) {
                const double want = cJSON_GetObjectItem(
                    ref, cubie_result_var_name(r, i))->valuedouble;
                const double got = cubie_result_state(r, 0, 1, i);
                if (!(fabs(got - want) <= 100.0 * lt * (1.0 + fabs(want)))) {
                    fail_msg("rodas3p %s: %s = %.9g, reference %.9g",
                             loose[k][0], cubie_result_var_name(r, i), got,
                             want);
                }
            }
            cubie_result_free(r);
        }
        cubie_solver_free(s);
    }
    const char *copt[] = {"algorithm=tsit5", "precision=float64", NULL};
    const char *ropt[] = {"duration=1", NULL};
    cubie_solver *s = tu_compile(sys, copt);
    cubie_result *r = tu_run(s, b, ropt);
    cubie_setting v;
    tu_ok(cubie_result_find_setting(r, "dt_max", &v), &err);
    assert_true(v.number == 1.0);
    cubie_result_free(r);
    cubie_solver_free(s);
    cubie_batch_free(b);
    cubie_system_free(sys);
    cJSON_Delete(refs);
}

/* POLLU, 20 states, the largest stiff spec: the default options of the
 * three stiff methods (lu, one factorisation a step; radau_iia_5's two
 * 20 x 20 blocks of the transformed solve, one complex) meet the
 * published reference. y16 (4e-18) and the components near 1e-8 are held
 * to atol, the others to rtol. */
static void pollution_should_reach_its_published_reference(void **s0)
{
    (void)s0;
    cJSON *refs = load_references();
    const cJSON *prob = reference_of(refs, "pollution.json");
    const cJSON *names = cJSON_GetObjectItem(prob, "states");
    const cJSON *ref = cJSON_GetObjectItem(prob, "reference");
    assert_int_equal(cJSON_GetArraySize(names), 20);
    cubie_error err = {0};
    cubie_batch *b = NULL;
    cubie_system *sys = spec_run("pollution.json", &b);
    const char *methods[] = {"radau_iia_5", "kvaerno5", "rodas3p"};
    const double atol = 1e-12, rtol = 1e-8;
    for (int m = 0; m < 3; m++) {
        char algo[64];
        snprintf(algo, sizeof(algo), "algorithm=%s", methods[m]);
        const char *copt[] = {algo, "precision=float64",
                              "output_types=state,iteration_counters", NULL};
        /* dt alone would bound steps to [dt / 100, 100 dt] */
        const char *ropt[] = {"duration=60", "atol=1e-12", "rtol=1e-8",
                              "dt=1e-6", "dt_min=1e-16", "dt_max=60",
                              NULL};
        cubie_solver *s = tu_compile(sys, copt);
        cubie_result *r = tu_run(s, b, ropt);
        assert_int_equal(cubie_result_status(r)[0], 0);
        cubie_setting v;
        tu_ok(cubie_result_find_setting(r, "linear_correction_type", &v),
              &err);
        assert_string_equal(v.text, "lu");
        double worst = 0.0;
        for (size_t i = 0; i < cubie_result_n_vars(r); i++) {
            const char *nm = cJSON_GetArrayItem(names, (int)i)->valuestring;
            assert_string_equal(nm, cubie_result_var_name(r, i));
            const double want = cJSON_GetObjectItem(ref, nm)->valuedouble;
            const double got = cubie_result_state(r, 0, 1, i);
            worst = fmax(worst,
                         fabs(got - want) / (atol + rtol * fabs(want)));
        }
        print_message("pollution defaults %-12s: error %.3g x tolerance, "
                      "%ld steps\n", methods[m], worst, accepted(r));
        assert_true(worst <= 100.0);
        cubie_result_free(r);
        cubie_solver_free(s);
    }
    cubie_batch_free(b);
    cubie_system_free(sys);
    cJSON_Delete(refs);
}

#define STIFF_TESTS \
    cmocka_unit_test(stiff_specs_should_reach_their_published_references), \
    cmocka_unit_test(default_steps_should_not_cap_stiff_runs), \
    cmocka_unit_test(pollution_should_reach_its_published_reference),

/* ---- the DIRK stack's layout ------------------------------------------ */

static const char *row(const char *layout, const char *owner,
                       const char *name, char *out, size_t n)
{
    char head[96];
    snprintf(head, sizeof(head), "owner '%s'", owner);
    const char *o = strstr(layout, head);
    assert_non_null(o);
    char key[96];
    snprintf(key, sizeof(key), "\n  %s ", name);
    const char *r = strstr(o, key);
    assert_non_null(r);
    const char *e = strchr(r + 1, '\n');
    snprintf(out, n, "%.*s", (int)(e - r - 1), r + 1);
    return out;
}

static void dirk_caches_should_alias_the_solver_scratch(void **s0)
{
    (void)s0;
    char path[512], line[256];
    cubie_error err = {0};
    cubie_system *sys = NULL;
    tu_ok(cubie_system_load(tu_spec_path("lorenz.json", path, sizeof(path)),
                            &sys, &err), &err);
    /* Newton's scratch in shared memory: the FSAL and warm-start caches
     * of kvaerno5 overlap it; the stage base overlaps the accumulator. */
    const char *shared[] = {"algorithm=kvaerno5", "delta_location=shared",
                            "residual_location=shared",
                            "accumulator_location=shared",
                            "linear_correction_type=bicgstab", NULL};
    cubie_solver *s = tu_compile(sys, shared);
    const char *L = cubie_solver_layout(s);
    print_message("%s", L);
    row(L, "algorithm", "increment_cache", line, sizeof(line));
    assert_non_null(strstr(line, "shared"));
    assert_non_null(strstr(line, "(overlapped)"));
    row(L, "algorithm", "rhs_cache", line, sizeof(line));
    assert_non_null(strstr(line, "(overlapped)"));
    row(L, "algorithm", "stage_base", line, sizeof(line));
    assert_non_null(strstr(line, "(overlapped)"));
    row(L, "algorithm", "solver_shared", line, sizeof(line));
    /* solver_shared holds delta and residual: 2 x 3 elements, and the two
     * 3-element caches fill it exactly. */
    assert_non_null(strstr(line, " 6 "));
    assert_non_null(strstr(L, "totals: shared 24, persistent 1,"));
    cubie_solver_free(s);
    /* Everything local: the caches fall back to persistent space of their
     * own and the sizes add up: solver 1 (Newton's theta) + 3 + 3. */
    const char *local[] = {"algorithm=kvaerno5",
                           "linear_correction_type=bicgstab", NULL};
    s = tu_compile(sys, local);
    L = cubie_solver_layout(s);
    row(L, "algorithm", "increment_cache", line, sizeof(line));
    assert_non_null(strstr(line, "persistent"));
    assert_non_null(strstr(line, "(own space)"));
    row(L, "algorithm", "rhs_cache", line, sizeof(line));
    assert_non_null(strstr(line, "(own space)"));
    assert_non_null(strstr(L, "totals: shared 0, persistent 7, local 27;"));
    cubie_solver_free(s);
    /* lu factored once a step: the factorisation serves every stage, so
     * the warm start, carried between the stages' solves, may not overlap
     * the solver's pools; the FSAL cache, written after the last solve
     * and read before the next step's factorisation, still does. */
    const char *lu[] = {"algorithm=kvaerno5", "delta_location=shared",
                        "residual_location=shared",
                        "lu_matrix_location=shared",
                        "linear_correction_type=lu", "jacobian_update=step",
                        NULL};
    s = tu_compile(sys, lu);
    L = cubie_solver_layout(s);
    print_message("%s", L);
    row(L, "algorithm", "increment_cache", line, sizeof(line));
    assert_non_null(strstr(line, "persistent"));
    assert_null(strstr(line, "aliases"));
    row(L, "algorithm", "rhs_cache", line, sizeof(line));
    assert_non_null(strstr(line, "(overlapped)"));
    cubie_solver_free(s);
    cubie_system_free(sys);
}

/* ---- every failure status, on purpose ------------------------------- */

static int status_of(const char *spec, const char *const *copt,
                     const char *const *ropt)
{
    cubie_system *sys = tu_system(spec);
    cubie_error err = {0};
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, 2, &b, &err), &err);
    cubie_solver *s = tu_compile(sys, copt);
    cubie_result *r = tu_run(s, b, ropt);
    int st = cubie_result_status(r)[0];
    /* Both runs are the same: a failure is per run, and deterministic. */
    assert_int_equal(st, cubie_result_status(r)[1]);
    cubie_result_free(r);
    cubie_solver_free(s);
    cubie_batch_free(b);
    cubie_system_free(sys);
    return st;
}

static void newton_iterations_exceeded_should_be_flagged(void **s0)
{
    (void)s0;
    /* The first solve of a run has no contraction history and needs two
     * iterations: a cap of one fails it. */
    const char *copt[] = {"algorithm=backwards_euler", "precision=float64",
                          NULL};
    const char *ropt[] = {"dt=0.01", "newton_max_iters=1", NULL};
    int st = status_of(exact_spec, copt, ropt);
    assert_true(st & CUBIE_RUN_MAX_NEWTON_ITERS);
}

static void newton_divergence_should_be_flagged(void **s0)
{
    (void)s0;
    /* y' = y^2 from 1 with h = 0.4: u = 0.4 (1 + u)^2 has no real root,
     * and Newton's iterates run away. */
    const char *spec = "{\"states\": {\"y\": 1}, \"equations\": "
                       "[\"dy = y^2\"]}";
    const char *copt[] = {"algorithm=backwards_euler", "precision=float64",
                          NULL};
    const char *ropt[] = {"dt=0.4", "duration=0.8", NULL};
    int st = status_of(spec, copt, ropt);
    print_message("status %d\n", st);
    assert_true(st & CUBIE_RUN_NEWTON_DIVERGENCE);
}

static void linear_iterations_exceeded_should_be_flagged(void **s0)
{
    (void)s0;
    char path[512];
    FILE *f = fopen(tu_spec_path("robertson.json", path, sizeof(path)), "rb");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Robertson's operator is far from the identity: one Krylov
     * iteration cannot reach a tight tolerance. */
    const char *copt[] = {"algorithm=backwards_euler", "precision=float64",
                          "linear_correction_type=bicgstab",
                          "preconditioner_type=none", NULL};
    const char *ropt[] = {"dt=1", "krylov_max_iters=1", "atol=1e-12",
                          "rtol=1e-12", NULL};
    int st = status_of(buf, copt, ropt);
    assert_true(st & CUBIE_RUN_MAX_LINEAR_ITERS);
}

/* Linear solves that hit krylov_max_iters in one attempt in ten or more
 * leave a note, not a failure: the run completes, its outputs stand, and
 * cubie_result_notes names the options to try. */
static void linear_cap_hits_should_be_noted_not_failed(void **s0)
{
    (void)s0;
    char path[512];
    cubie_error err = {0};
    cubie_system *sys = NULL;
    tu_ok(cubie_system_load(tu_spec_path("robertson.json", path,
                                         sizeof(path)), &sys, &err), &err);
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, 2, &b, &err), &err);
    const char *ropt[] = {"duration=1", "rtol=1e-6", "atol=1e-8", NULL};
    const char *capped_ropt[] = {"duration=1", "rtol=1e-6", "atol=1e-8",
                                 "krylov_max_iters=5", NULL};
    const char *weak[] = {"algorithm=radau_iia_5", "precision=float64",
                          "linear_correction_type=minimal_residual",
                          "preconditioner_type=neumann",
                          "output_types=state,iteration_counters", NULL};
    const char *strong[] = {"algorithm=radau_iia_5", "precision=float64",
                            "linear_correction_type=bicgstab",
                            "preconditioner_type=jacobi",
                            "output_types=state,iteration_counters", NULL};
    cubie_solver *sw = tu_compile(sys, weak);
    cubie_solver *ss = tu_compile(sys, strong);
    cubie_result *rw = tu_run(sw, b, capped_ropt);
    cubie_result *rs = tu_run(ss, b, ropt);
    const char *note = cubie_result_notes(rw);
    print_message("%s", note);
    for (size_t k = 0; k < 2; k++) {
        const int32_t st = cubie_result_status(rw)[k];
        assert_true(st & CUBIE_RUN_LINEAR_CAP_OFTEN);
        assert_false(CUBIE_RUN_FAILED(st));
        assert_int_equal(cubie_result_status(rs)[k], 0);
        /* The loop's own count agrees: one attempt in ten was rejected. */
        const int32_t *c = cubie_result_counters(rw) + (k * 2 + 1) * 4;
        assert_true(c[3] * 10 >= c[2]);
        /* Not masked: the same solution as the unhindered solver. */
        for (size_t i = 0; i < 3; i++) {
            const double a = cubie_result_state(rw, k, 1, i);
            const double e = cubie_result_state(rs, k, 1, i);
            assert_true(fabs(a - e) <= 1e-5 * fabs(e) + 1e-10);
        }
    }
    assert_non_null(strstr(note, "2 of 2 runs"));
    assert_non_null(strstr(note, "krylov_max_iters (5)"));
    assert_non_null(strstr(note, "linear_correction_type=lu"));
    assert_non_null(strstr(note, "linear_correction_type=bicgstab"));
    assert_non_null(strstr(note, "preconditioner_type=jacobi"));
    assert_string_equal(cubie_result_notes(rs), "");
    cubie_result_free(rw);
    cubie_result_free(rs);
    cubie_solver_free(sw);
    cubie_solver_free(ss);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

static void bicgstab_breakdown_should_be_flagged(void **s0)
{
    (void)s0;
    /* A rotation with a vanishing beta: the operator is all but skew and
     * the iteration's scalars leave the floating-point range (a NaN
     * counts as a breakdown too). */
    const char *spec = "{\"states\": {\"x\": 1, \"y\": 0}, \"equations\": "
                       "[\"dx = -y\", \"dy = x\"]}";
    const char *copt[] = {"algorithm=backwards_euler", "precision=float64",
                          "linear_correction_type=bicgstab",
                          "preconditioner_type=none", NULL};
    const char *ropt[] = {"dt=0.1", "beta=1e-300", NULL};
    int st = status_of(spec, copt, ropt);
    print_message("status %d\n", st);
    assert_true(st & CUBIE_RUN_BICGSTAB_BREAKDOWN);
}

/* dy = y with backward Euler at dt = 1: the step's matrix 1 - dt J is
 * exactly 0, which the direct solve reports instead of dividing by it. */
static void singular_linear_systems_should_be_flagged(void **s0)
{
    (void)s0;
    const char *spec = "{\"states\": {\"y\": 1}, \"equations\": "
                       "[\"dy = y\"]}";
    const char *copt[] = {"algorithm=backwards_euler", "precision=float64",
                          "linear_correction_type=lu",
                          "step_controller=fixed", NULL};
    const char *ropt[] = {"dt=1", "duration=1", NULL};
    int st = status_of(spec, copt, ropt);
    print_message("status %d\n", st);
    assert_true(st & CUBIE_RUN_SINGULAR_MATRIX);
    assert_true(CUBIE_RUN_FAILED(st));
    /* A step that is not singular solves. */
    const char *fine[] = {"dt=0.5", "duration=1", NULL};
    assert_int_equal(status_of(spec, copt, fine), 0);
    /* Factored once a step, the failed factorisation fails the solves
     * that would use it. */
    const char *once[] = {"algorithm=backwards_euler", "precision=float64",
                          "linear_correction_type=lu",
                          "jacobian_update=step", "step_controller=fixed",
                          NULL};
    st = status_of(spec, once, ropt);
    assert_true(st & CUBIE_RUN_SINGULAR_MATRIX);
    assert_true(CUBIE_RUN_FAILED(st));
    assert_int_equal(status_of(spec, once, fine), 0);
}

/* jacobian_update=auto: one factorisation a step for a coupled problem
 * (radau_iia_5: one block per eigenvalue of A) and from 12 unknowns on,
 * Newton's method (the matrix in each solve) for fewer; a Rosenbrock step
 * factors once whatever the option. */
static void jacobian_update_should_follow_the_unknowns(void **s0)
{
    (void)s0;
    /* 4 independent decays: kvaerno5 solves 4 unknowns, radau_iia_5 12 */
    cubie_system *sys = tu_system(
        "{\"states\": {\"a\": 1, \"b\": 1, \"c\": 1, \"d\": 1}, "
        "\"equations\": [\"da = -a\", \"db = -2 * b\", \"dc = -3 * c\", "
        "\"dd = -4 * d\"]}");
    const struct {
        const char *algo, *update, *call;
        bool factors;
    } cases[] = {
        {"algorithm=kvaerno5", NULL, "cb_stage_factor(", false},
        {"algorithm=kvaerno5", "jacobian_update=step", "cb_stage_factor(",
         true},
        {"algorithm=radau_iia_5", NULL, "cb_firk_factor(", true},
        {"algorithm=radau_iia_5", NULL, "lu_block_2[i + k * 4] =", true},
        {"algorithm=radau_iia_5", "jacobian_update=iteration",
         "cb_firk_factor(", false},
        {"algorithm=rodas3p", "jacobian_update=iteration",
         "cb_stage_lu_factor(", true},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const char *pairs[] = {cases[k].algo, "precision=float64",
                               "linear_correction_type=lu", cases[k].update,
                               NULL};
        cubie_options *o = tu_options(pairs);
        cubie_error err = {0};
        char *src = NULL;
        tu_ok(cubie_generate(sys, o, &src, &err), &err);
        if ((strstr(src, cases[k].call) != NULL) != cases[k].factors) {
            fail_msg("%s %s: %s expected %s", cases[k].algo,
                     cases[k].update ? cases[k].update : "(auto)",
                     cases[k].call, cases[k].factors ? "" : "absent");
        }
        free(src);
        cubie_options_free(o);
    }
    cubie_system_free(sys);
}

/* linear_correction_type=auto: lu where the largest system it factors
 * has at most 24 unknowns, bicgstab above. A one-stage method factors
 * its n states; radau_iia_5 its 3n coupled unknowns, or under
 * jacobian_update=step (auto's choice for it) one n x n block per
 * eigenvalue of A; its error filter is a problem of n unknowns, solved
 * with the real block's factors where there are blocks. */
static cubie_system *decays(int n)
{
    char spec[4096] = "{\"states\": {";
    for (int i = 0; i < n; i++) {
        snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec),
                 "%s\"y%d\": 1", i ? ", " : "", i);
    }
    strcat(spec, "}, \"equations\": [");
    for (int i = 0; i < n; i++) {
        snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec),
                 "%s\"dy%d = -%d * y%d\"", i ? ", " : "", i, i + 1, i);
    }
    strcat(spec, "]}");
    return tu_system(spec);
}

static void auto_should_pick_lu_for_small_problems_only(void **s0)
{
    (void)s0;
    static const char lu[] = "(lu).\nCB_DEVFN int cb_%s_linsolve(";
    static const char bicg[] = "(BiCGSTAB).\nCB_DEVFN int cb_%s_linsolve(";
    /* the filter on the transformed solve's real block, no solver of its
     * own */
    static const char blk[] = "(lu; RADAU5's error filter).\nCB_DEVFN int "
                              "cb_%s_block_solve(";
    const struct {
        int n;
        const char *algo, *jacobian, *form[2], *prefix[2];
    } cases[] = {
        {9, "algorithm=kvaerno5", NULL, {lu, NULL}, {"stage", NULL}},
        /* blocks of 9 */
        {9, "algorithm=radau_iia_5", NULL, {lu, blk}, {"firk", "firk"}},
        /* 27 coupled unknowns in one matrix */
        {9, "algorithm=radau_iia_5", "jacobian_update=iteration",
         {bicg, lu}, {"firk", "filter"}},
        {24, "algorithm=kvaerno5", NULL, {lu, NULL}, {"stage", NULL}},
        {24, "algorithm=radau_iia_5", NULL, {lu, blk}, {"firk", "firk"}},
        {25, "algorithm=kvaerno5", NULL, {bicg, NULL}, {"stage", NULL}},
        {25, "algorithm=radau_iia_5", NULL, {bicg, bicg},
         {"firk", "filter"}},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        cubie_system *sys = decays(cases[k].n);
        const char *pairs[] = {cases[k].algo, "precision=float64",
                               cases[k].jacobian, NULL};
        cubie_options *o = tu_options(pairs);
        cubie_error err = {0};
        char *src = NULL;
        tu_ok(cubie_generate(sys, o, &src, &err), &err);
        for (int p = 0; p < 2 && cases[k].form[p] != NULL; p++) {
            char want[128];
            snprintf(want, sizeof(want), cases[k].form[p],
                     cases[k].prefix[p]);
            if (strstr(src, want) == NULL) {
                fail_msg("%d states, %s %s: no \"%s\"", cases[k].n,
                         cases[k].algo,
                         cases[k].jacobian ? cases[k].jacobian : "", want);
            }
        }
        if (cases[k].form[1] == blk) {
            assert_null(strstr(src, "cb_filter_"));
        }
        free(src);
        cubie_options_free(o);
        cubie_system_free(sys);
    }
}

static void iteration_counters_should_count_newton_and_krylov(void **s0)
{
    (void)s0;
    cubie_system *sys = tu_system(exact_spec);
    cubie_error err = {0};
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, 1, &b, &err), &err);
    const char *copt[] = {"algorithm=kvaerno5", "precision=float64",
                          "output_types=state,iteration_counters", NULL};
    cubie_solver *s = tu_compile(sys, copt);
    const char *ropt[] = {"atol=1e-8", "rtol=1e-8", NULL};
    cubie_result *r = tu_run(s, b, ropt);
    const int32_t *c = cubie_result_counters(r) + 4; /* row 1 */
    print_message("newton %d, krylov %d, attempts %d, rejected %d\n", c[0],
                  c[1], c[2], c[3]);
    /* Six implicit stages a step, each at least one Newton iteration. */
    assert_true(c[0] >= 6 * c[2]);
    assert_true(c[1] >= c[0] / 2);
    assert_true(c[2] > 0);
    cubie_result_free(r);
    cubie_solver_free(s);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_implicit_method_should_converge_at_its_order),
        cmocka_unit_test(
            every_implicit_method_should_converge_at_its_order_with_lu),
        STIFF_TESTS
        cmocka_unit_test(dirk_caches_should_alias_the_solver_scratch),
        cmocka_unit_test(newton_iterations_exceeded_should_be_flagged),
        cmocka_unit_test(newton_divergence_should_be_flagged),
        cmocka_unit_test(linear_iterations_exceeded_should_be_flagged),
        cmocka_unit_test(linear_cap_hits_should_be_noted_not_failed),
        cmocka_unit_test(bicgstab_breakdown_should_be_flagged),
        cmocka_unit_test(singular_linear_systems_should_be_flagged),
        cmocka_unit_test(jacobian_update_should_follow_the_unknowns),
        cmocka_unit_test(auto_should_pick_lu_for_small_problems_only),
        cmocka_unit_test(iteration_counters_should_count_newton_and_krylov),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
