/* Stiff problems on the host (not a test): the implicit methods under
 * every linear solver x preconditioner, beside SUNDIALS CVODE in the same
 * process.
 *
 *   bench_stiff SPECS_DIR [key=value ...]
 *     problems=robertson,van_der_pol_stiff,hires,orego (pollution:
 *                       asked for by name)
 *     precisions=float64,float32
 *     algorithms=radau_iia_5,kvaerno5,rodas3p,ros3p,backwards_euler
 *     matrix=1          0: only the default options, the best row
 *                       of the matrix is not searched
 *     linears=minimal_residual,steepest_descent,bicgstab,lu
 *     preconds=none/neumann(1)/.../jacobi/jacobi,neumann(1)/...
 *                       the rows of the matrix, by their printed names
 *     target_ms=300     time each cell over at least this much kernel time
 *     rtol=1e-6         float64's relative tolerance (cubie and CVODE);
 *                       float32 keeps 1e-4
 *     jacobian=         jacobian_update for every cubie cell (auto when
 *                       not given; lu cells only)
 *
 * Problems (Test Set for IVP Solvers, Bari): Robertson to t = 40, Van der
 * Pol mu = 1000 to t = 2000 (VDPOLM), HIRES to 321.8122, OREGO to 360,
 * POLLU (pollution, 20 states) to 60.
 * Tolerances: float64 rtol 1e-6 (rtol=), atol 1e-8; float32 rtol 1e-4,
 * atol 1e-8.
 * backwards_euler has no error estimate: it runs fixed at t_end / 4000.
 *
 * Per cell: time per run (the kernel's time x threads is not used: runs
 * are spread over the OpenMP threads, so this is the kernel time divided
 * by the number of runs, as for CVODE), accepted and rejected steps,
 * Newton and Krylov iterations per run (iteration_counters), failed runs
 * and the error max_i |y_i - ref_i| / (|ref_i| + atol) at t_end against
 * specs/reference/stiff_references.json (Robertson at t = 40: CVODE at
 * rtol 1e-12, no published value exists; stiff_references.json records
 * an independent Radau IIA value for orientation, printed beside it).
 *
 * CVODE (when built with SUNDIALS): BDF, dense direct linear solver with
 * its difference-quotient Jacobian, one solver per OpenMP thread, the
 * same tolerances, float64 only (SUNDIALS is built for double). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bench_util.h"
#include "cubie.h"
#include "cvode_problems.h"

#ifdef CB_HAVE_CVODE
#include <cvode/cvode.h>
#include <nvector/nvector_serial.h>
#include <omp.h>
#include <sundials/sundials_context.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_dense.h>
#endif

#define MAX_N 20
#define MAX_RUNS 1024

typedef struct {
    const char *name;     /* spec file name without .json */
    double t_end;
    int n;
    void (*f)(const double *y, double *f);
    double y0[MAX_N];
    double ref[MAX_N];
    double orient[MAX_N]; /* Robertson t = 40: the unpublished value */
    bool have_orient;
} problem;

static problem problems[] = {
    {"robertson", 40.0, 3, rober_f, {0}, {0}, {0}, false},
    {"van_der_pol_stiff", 2000.0, 2, vdpolm_f, {0}, {0}, {0}, false},
    {"hires", 321.8122, 8, hires_f, {0}, {0}, {0}, false},
    {"orego", 360.0, 3, orego_f, {0}, {0}, {0}, false},
    {"pollution", 60.0, 20, pollu_f, {0}, {0}, {0}, false},
};
#define N_PROBLEMS (sizeof(problems) / sizeof(problems[0]))

typedef struct {
    const char *linear;   /* NULL: the default options */
    const char *precond;
    int order;
} config;

/* lu solves directly: the preconditioner does not apply (its only row is
 * "none"). */
static const char *const linears[] = {"minimal_residual", "steepest_descent",
                                      "bicgstab", "lu"};
#define N_LINEARS (sizeof(linears) / sizeof(linears[0]))
static const struct {
    const char *type;
    int order;
} preconds[] = {{"none", 0},   {"neumann", 1}, {"neumann", 2},
                {"neumann", 3}, {"neumann", 4}, {"jacobi", 0},
                {"jacobi,neumann", 1}, {"jacobi,neumann", 2}};
#define N_PRECONDS (sizeof(preconds) / sizeof(preconds[0]))

typedef struct {
    double us_per_run;
    double steps, rejected, newton, krylov; /* means per run */
    size_t failed, capped, n_runs; /* capped: CUBIE_RUN_LINEAR_CAP_OFTEN */
    double err;
    bool ok;
} cell;

static void die(const char *what, const cubie_error *err)
{
    fprintf(stderr, "bench_stiff: %s: %s\n", what, err->message);
    exit(1);
}

static const char *arg(int argc, char **argv, const char *key,
                       const char *dflt)
{
    const size_t k = strlen(key);
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], key, k) == 0 && argv[i][k] == '=') {
            return argv[i] + k + 1;
        }
    }
    return dflt;
}

/* Whether the sep-separated list holds name. */
static bool listed_by(const char *list, const char *name, char sep)
{
    const size_t k = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += k) {
        const bool start = p == list || p[-1] == sep;
        const bool end = p[k] == '\0' || p[k] == sep;
        if (start && end) {
            return true;
        }
    }
    return false;
}

static bool listed(const char *list, const char *name)
{
    return listed_by(list, name, ',');
}

/* y0 and the reference of each problem from stiff_references.json. */
static void load_references(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/reference/stiff_references.json", dir);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        fprintf(stderr, "bench_stiff: cannot open %s\n", path);
        exit(1);
    }
    static char text[1 << 20];
    const size_t len = fread(text, 1, sizeof(text) - 1, fp);
    fclose(fp);
    text[len] = '\0';
    cJSON *doc = cJSON_Parse(text);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "problems");
    for (size_t p = 0; p < N_PROBLEMS; p++) {
        problem *pr = &problems[p];
        char spec[128];
        snprintf(spec, sizeof(spec), "%s.json", pr->name);
        const cJSON *e = NULL;
        bool found = false;
        cJSON_ArrayForEach(e, list) {
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "spec");
            if (!cJSON_IsString(s) || strcmp(s->valuestring, spec) != 0) {
                continue;
            }
            found = true;
            const cJSON *states = cJSON_GetObjectItemCaseSensitive(e,
                                                                   "states");
            const cJSON *ref = cJSON_GetObjectItemCaseSensitive(e,
                                                                "reference");
            const cJSON *y0 = cJSON_GetObjectItemCaseSensitive(e, "y0");
            for (int i = 0; i < pr->n; i++) {
                const char *nm = cJSON_GetArrayItem(states, i)->valuestring;
                pr->ref[i] = cJSON_GetObjectItemCaseSensitive(ref, nm)
                                 ->valuedouble;
                pr->y0[i] = cJSON_GetArrayItem(y0, i)->valuedouble;
            }
            const cJSON *chk = cJSON_GetObjectItemCaseSensitive(
                e, "independent_check");
            const char *t40 = cJSON_GetStringValue(
                cJSON_GetObjectItemCaseSensitive(chk, "t40_unpublished"));
            const char *v = t40 != NULL ? strstr(t40, "y(40) = (") : NULL;
            if (v != NULL &&
                sscanf(v, "y(40) = (%lf, %lf, %lf)", &pr->orient[0],
                       &pr->orient[1], &pr->orient[2]) == 3) {
                pr->have_orient = true;
            }
        }
        if (!found) {
            fprintf(stderr, "bench_stiff: %s: no entry for %s\n", path, spec);
            exit(1);
        }
    }
    cJSON_Delete(doc);
}

static double error_of(const problem *pr, const double *y, double atol)
{
    double e = 0.0;
    for (int i = 0; i < pr->n; i++) {
        const double d = fabs(y[i] - pr->ref[i]) / (fabs(pr->ref[i]) + atol);
        e = d > e || isnan(d) ? d : e;
    }
    return e;
}

/* ---- CVODE ---------------------------------------------------------- */

#ifdef CB_HAVE_CVODE
static int cv_rhs(sunrealtype t, N_Vector y, N_Vector ydot, void *user)
{
    (void)t;
    const problem *pr = user;
    pr->f(N_VGetArrayPointer(y), N_VGetArrayPointer(ydot));
    return 0;
}

/* n_runs runs of pr on every OpenMP thread, one solver each; returns
 * the wall time and fills y (the last run's end state) and the stats of
 * one run. */
static double cvode_runs(const problem *pr, double rtol, double atol,
                         int n_runs, double *y_out, long *steps,
                         long *fails, long *nni, long *jevals, int *bad)
{
    *bad = 0;
    const double t0 = now_ms();
#pragma omp parallel
    {
        SUNContext ctx;
        SUNContext_Create(NULL, &ctx);
        N_Vector y = N_VNew_Serial(pr->n, ctx);
        double *yd = N_VGetArrayPointer(y);
        for (int i = 0; i < pr->n; i++) {
            yd[i] = pr->y0[i];
        }
        void *mem = CVodeCreate(CV_BDF, ctx);
        SUNMatrix A = SUNDenseMatrix(pr->n, pr->n, ctx);
        SUNLinearSolver LS = SUNLinSol_Dense(y, A, ctx);
        CVodeInit(mem, cv_rhs, 0.0, y);
        CVodeSetUserData(mem, (void *)pr);
        CVodeSStolerances(mem, rtol, atol);
        CVodeSetLinearSolver(mem, LS, A);
        CVodeSetMaxNumSteps(mem, 10000000);
        int my_bad = 0;
#pragma omp for schedule(static)
        for (int r = 0; r < n_runs; r++) {
            for (int i = 0; i < pr->n; i++) {
                yd[i] = pr->y0[i];
            }
            CVodeReInit(mem, 0.0, y);
            sunrealtype t = 0.0;
            if (CVode(mem, pr->t_end, y, &t, CV_NORMAL) < 0) {
                my_bad++;
            }
            if (r == n_runs - 1) {
                for (int i = 0; i < pr->n; i++) {
                    y_out[i] = yd[i];
                }
                CVodeGetNumSteps(mem, steps);
                CVodeGetNumErrTestFails(mem, fails);
                CVodeGetNumNonlinSolvIters(mem, nni);
                CVodeGetNumJacEvals(mem, jevals);
            }
        }
#pragma omp atomic
        *bad += my_bad;
        SUNLinSolFree(LS);
        SUNMatDestroy(A);
        CVodeFree(&mem);
        N_VDestroy(y);
        SUNContext_Free(&ctx);
    }
    return now_ms() - t0;
}

/* Robertson at t = 40 has no published value: CVODE at rtol 1e-12. */
static void cvode_reference(problem *pr)
{
    double y[MAX_N];
    long s, f, nni, je;
    int bad;
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    cvode_runs(pr, 1e-12, 1e-20, 1, y, &s, &f, &nni, &je, &bad);
    omp_set_num_threads(threads);
    printf("reference %s t = %g: CVODE rtol 1e-12 atol 1e-20 (%ld steps):",
           pr->name, pr->t_end, s);
    for (int i = 0; i < pr->n; i++) {
        printf(" %.15g", y[i]);
        pr->ref[i] = y[i];
    }
    if (pr->have_orient) {
        double d = 0.0;
        for (int i = 0; i < pr->n; i++) {
            const double e = fabs(y[i] - pr->orient[i]) / fabs(pr->orient[i]);
            d = e > d ? e : d;
        }
        printf("; against the independent Radau IIA value of "
               "stiff_references.json: max relative difference %.1e", d);
    }
    printf("\n");
}

static double cvode_bench(const problem *pr, double rtol, double atol,
                          double target_ms, double *err_out)
{
    double y[MAX_N];
    long s, f, nni, je;
    int bad;
    int n = 16;
    double ms = cvode_runs(pr, rtol, atol, n, y, &s, &f, &nni, &je, &bad);
    while (ms < target_ms && n < 8 * MAX_RUNS) {
        n *= 2;
        ms = cvode_runs(pr, rtol, atol, n, y, &s, &f, &nni, &je, &bad);
    }
    double t[3];
    for (int k = 0; k < 3; k++) {
        t[k] = cvode_runs(pr, rtol, atol, n, y, &s, &f, &nni, &je, &bad) /
               n * 1e3;
    }
    const double us = median(t, 3);
    *err_out = error_of(pr, y, atol);
    printf("%-18s float64 %-16s %-16s %-16s %10.1f us/run  %8ld %6ld "
           "%9ld %9ld jac  %zu/%d failed  err %.2e\n",
           pr->name, "CVODE_BDF", "dense_direct", "dq_jacobian", us, s, f,
           nni, je, (size_t)bad, n, *err_out);
    fflush(stdout);
    return us;
}
#endif

/* ---- cubie ---------------------------------------------------------- */

static cubie_system *load_system(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s.json", dir, name);
    cubie_error err = {0};
    cubie_system *sys = NULL;
    if (cubie_system_load(path, &sys, &err) != CUBIE_OK) {
        die(path, &err);
    }
    return sys;
}

static void set(cubie_options *o, const char *key, const char *value)
{
    cubie_error err = {0};
    if (cubie_options_set(o, key, value, &err) != CUBIE_OK) {
        die(key, &err);
    }
}

static void setf(cubie_options *o, const char *key, double value)
{
    char v[64];
    snprintf(v, sizeof(v), "%.17g", value);
    set(o, key, v);
}

/* One run of n_runs; fills c (time from the kernel's). */
static bool run_once(cubie_solver *s, const cubie_system *sys,
                     const cubie_options *ro, const problem *pr,
                     double atol, double max_err, size_t n_runs, cell *c)
{
    cubie_error err = {0};
    cubie_batch *b = NULL;
    if (cubie_batch_new(sys, n_runs, &b, &err) != CUBIE_OK) {
        die("batch", &err);
    }
    cubie_result *r = NULL;
    if (cubie_run(s, b, ro, &r, &err) != CUBIE_OK) {
        die("run", &err);
    }
    const int32_t *st = cubie_result_status(r);
    const int32_t *ctr = cubie_result_counters(r);
    const size_t saves = cubie_result_n_saves(r);
    memset(c, 0, sizeof(*c));
    c->n_runs = n_runs;
    c->us_per_run = cubie_result_kernel_ms(r) / (double)n_runs * 1e3;
    double worst = 0.0;
    for (size_t k = 0; k < n_runs; k++) {
        c->failed += CUBIE_RUN_FAILED(st[k]);
        c->capped += (st[k] & CUBIE_RUN_LINEAR_CAP_OFTEN) != 0;
        double y[MAX_N];
        for (int i = 0; i < pr->n; i++) {
            y[i] = cubie_result_state(r, k, saves - 1, (size_t)i);
        }
        const double e = error_of(pr, y, atol);
        worst = e > worst || isnan(e) ? e : worst;
        for (size_t row = 0; row < saves; row++) {
            const int32_t *q = ctr + (k * saves + row) * 4;
            c->newton += q[0];
            c->krylov += q[1];
            c->steps += q[2] - q[3];
            c->rejected += q[3];
        }
    }
    c->newton /= (double)n_runs;
    c->krylov /= (double)n_runs;
    c->steps /= (double)n_runs;
    c->rejected /= (double)n_runs;
    c->err = worst;
    c->ok = c->failed == 0 && worst <= max_err;
    cubie_result_free(r);
    cubie_batch_free(b);
    return c->ok;
}

/* A preconditioner's printed name: "jacobi", "neumann(2)". */
static void precond_label(const config *cf, char *buf, size_t n)
{
    if (cf->linear == NULL) {
        snprintf(buf, n, "(defaults)");
    } else if (cf->order > 0) {
        snprintf(buf, n, "%s(%d)", cf->precond, cf->order);
    } else {
        snprintf(buf, n, "%s", cf->precond);
    }
}

/* Whether the '/'-separated list of names holds cf's (NULL: all). */
static bool precond_listed(const char *list, const config *cf)
{
    char name[48];
    precond_label(cf, name, sizeof(name));
    return list == NULL || listed_by(list, name, '/');
}

static const char *jacobian_update; /* jacobian=, or NULL */

static void measure(const cubie_system *sys, const problem *pr,
                    const char *prec, const char *alg, const config *cf,
                    double rtol64, double target_ms, cell *out)
{
    const bool dbl = strcmp(prec, "float64") == 0;
    const double rtol = dbl ? rtol64 : 1e-4, atol = 1e-8;
    /* Robust: no run failed and the error is what the tolerance asks
     * for, within a factor 1000 (backwards_euler, fixed: finite). */
    const bool fixed = strcmp(alg, "backwards_euler") == 0;
    const double max_err = fixed ? HUGE_VAL : 1e3 * rtol;
    cubie_options *o = NULL, *ro = NULL;
    cubie_error err = {0};
    cubie_options_new(&o);
    cubie_options_new(&ro);
    set(o, "backend", "host");
    set(o, "algorithm", alg);
    set(o, "precision", prec);
    set(o, "output_types", "state,iteration_counters");
    if (jacobian_update != NULL) {
        set(o, "jacobian_update", jacobian_update);
    }
    if (cf->linear != NULL) {
        set(o, "linear_correction_type", cf->linear);
        set(o, "preconditioner_type", cf->precond);
        if (cf->order > 0) {
            char v[16];
            snprintf(v, sizeof(v), "%d", cf->order);
            set(o, "preconditioner_order", v);
        }
    }
    setf(ro, "duration", pr->t_end);
    setf(ro, "rtol", rtol);
    setf(ro, "atol", atol);
    set(ro, "max_steps", "200000");
    if (fixed) {
        setf(ro, "dt", pr->t_end / 4000.0);
    }
    cubie_solver *s = NULL;
    if (cubie_compile(sys, o, &s, &err) != CUBIE_OK) {
        die("compile", &err);
    }
    size_t n = 8;
    cell c;
    run_once(s, sys, ro, pr, atol, max_err, n, &c);
    if (c.ok && c.us_per_run * (double)n * 1e-3 < target_ms) {
        const double want = target_ms / (c.us_per_run * 1e-3);
        n = want > MAX_RUNS ? MAX_RUNS : ((size_t)want + 1) & ~(size_t)1;
        double t[3];
        for (int k = 0; k < 3; k++) {
            run_once(s, sys, ro, pr, atol, max_err, n, &c);
            t[k] = c.us_per_run;
        }
        c.us_per_run = median(t, 3);
    }
    char pre[48];
    precond_label(cf, pre, sizeof(pre));
    printf("%-18s %-7s %-16s %-16s %-16s %10.1f us/run  %8.0f %6.0f "
           "%9.0f %9.0f kry  %zu/%zu failed  %zu capped  err %.2e%s\n",
           pr->name, prec, alg, cf->linear ? cf->linear : "", pre,
           c.us_per_run, c.steps, c.rejected, c.newton, c.krylov, c.failed,
           c.n_runs, c.capped, c.err, c.ok ? "" : "  (not robust)");
    fflush(stdout);
    *out = c;
    cubie_solver_free(s);
    cubie_options_free(ro);
    cubie_options_free(o);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "specs";
    const char *probs = arg(argc, argv, "problems",
                            "robertson,van_der_pol_stiff,hires,orego");
    const char *precs = arg(argc, argv, "precisions", "float64,float32");
    const char *algs = arg(argc, argv, "algorithms",
                           "radau_iia_5,kvaerno5,rodas3p,ros3p,"
                           "backwards_euler");
    const bool matrix = atoi(arg(argc, argv, "matrix", "1")) != 0;
    const char *lins = arg(argc, argv, "linears",
                           "minimal_residual,steepest_descent,bicgstab,lu");
    const char *pres = arg(argc, argv, "preconds", NULL);
    const double target = atof(arg(argc, argv, "target_ms", "300"));
    const double rtol64 = atof(arg(argc, argv, "rtol", "1e-6"));
    jacobian_update = arg(argc, argv, "jacobian", NULL);
    if (!(rtol64 > 0.0 && rtol64 < 1.0)) {
        fprintf(stderr, "bench_stiff: rtol must lie in (0, 1)\n");
        return 2;
    }
    static const char *const all_algs[] = {"radau_iia_5", "kvaerno5",
                                           "rodas3p", "ros3p",
                                           "backwards_euler"};
    static const char *const all_precs[] = {"float64", "float32"};
    load_references(dir);
    printf("tolerances: float64 rtol %g atol 1e-8, float32 rtol 1e-4 "
           "atol 1e-8\n", rtol64);
    printf("columns: problem precision algorithm linear preconditioner | "
           "time per run | accepted rejected steps | Newton and Krylov "
           "iterations per run | failed runs | runs noted for linear solves "
           "hitting krylov_max_iters | error\n");
    for (size_t p = 0; p < N_PROBLEMS; p++) {
        problem *pr = &problems[p];
        if (!listed(probs, pr->name)) {
            continue;
        }
        double cv_us = 0.0, cv_err = 0.0;
#ifdef CB_HAVE_CVODE
        if (pr->have_orient) {
            cvode_reference(pr);
        }
        if (listed(precs, "float64")) {
            cv_us = cvode_bench(pr, rtol64, 1e-8, target, &cv_err);
        }
#endif
        cubie_system *sys = load_system(dir, pr->name);
        for (size_t q = 0; q < 2; q++) {
            if (!listed(precs, all_precs[q])) {
                continue;
            }
            for (size_t a = 0; a < 5; a++) {
                if (!listed(algs, all_algs[a])) {
                    continue;
                }
                const config dflt = {NULL, NULL, 0};
                cell d, best = {0}, c;
                measure(sys, pr, all_precs[q], all_algs[a], &dflt, rtol64,
                        target, &d);
                config best_cf = dflt;
                if (d.ok) {
                    best = d;
                }
                for (size_t l = 0; matrix && l < N_LINEARS; l++) {
                    if (!listed(lins, linears[l])) {
                        continue;
                    }
                    const bool direct = strcmp(linears[l], "lu") == 0;
                    for (size_t k = 0; k < (direct ? 1 : N_PRECONDS); k++) {
                        const config cf = {linears[l], preconds[k].type,
                                           preconds[k].order};
                        if (!precond_listed(pres, &cf)) {
                            continue;
                        }
                        measure(sys, pr, all_precs[q], all_algs[a], &cf,
                                rtol64, target, &c);
                        if (c.ok && (!best.ok ||
                                     c.us_per_run < best.us_per_run)) {
                            best = c;
                            best_cf = cf;
                        }
                    }
                }
                printf("=> %s %s %s: defaults %.1f us/run%s", pr->name,
                       all_precs[q], all_algs[a], d.us_per_run,
                       d.ok ? "" : " (not robust)");
                if (matrix && best.ok) {
                    char bp[48];
                    precond_label(&best_cf, bp, sizeof(bp));
                    printf(", best %s %s %.1f us/run, defaults/best %.2f",
                           best_cf.linear ? best_cf.linear : "", bp,
                           best.us_per_run, d.us_per_run / best.us_per_run);
                }
                if (cv_us > 0.0 && q == 0) {
                    printf(", defaults/CVODE %.2f", d.us_per_run / cv_us);
                    printf(", defaults' error/CVODE's %.2g", d.err / cv_err);
                    if (matrix && best.ok) {
                        printf(", best/CVODE %.2f", best.us_per_run / cv_us);
                    }
                }
                printf("\n");
                fflush(stdout);
            }
        }
        cubie_system_free(sys);
    }
    return 0;
}
