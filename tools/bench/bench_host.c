/* Host-backend benchmark (not a test): compile times for the Lorenz
 * classical-rk4 and tsit5 kernels (spec -> source, source -> shared
 * object, cached second compile), and the throughput of 2^16 Lorenz runs,
 * RK4, dt = 1e-3, t in [0, 1], against a hand-written C loop doing the
 * same arithmetic, compiled with the same flags, in the same process:
 * one run per iteration, and blocks of 64 runs under omp simd. Then the
 * host lanes against one run at a time (host_lanes=1): Lorenz tsit5 (pi
 * controller), Hodgkin-Huxley RK4 (exp, vector math) and radau_iia_5 on
 * Robertson (divergent Newton and Krylov iterations).
 *   bench_host SPECS_DIR [n_runs] [repeats] [all|compile|rk4|tsit5|hh|stiff]
 */
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "cubie.h"

static void die(cubie_status st, cubie_error *err)
{
    fprintf(stderr, "bench_host: %s: %s\n", cubie_status_str(st),
            err->message);
    exit(1);
}

static cubie_options *opts(const char *const *pairs)
{
    cubie_error err = {0};
    cubie_options *o = NULL;
    cubie_options_new(&o);
    for (int i = 0; pairs[i]; i++) {
        cubie_status st = cubie_options_set_pair(o, pairs[i], &err);
        if (st != CUBIE_OK) {
            die(st, &err);
        }
    }
    return o;
}

/* One RK4 step of Lorenz on x, y, z with rho p: the hand-written
 * references' arithmetic, the generated kernel's literals. */
#define RK4_LORENZ(T, SFX, x, y, z, p, dt)                                  \
    do {                                                                    \
        T k1x = 10.0##SFX * (y - x), k1y = x * (p - z) - y,                 \
          k1z = x * y - 2.6666666666666665##SFX * z;                        \
        T ax = x + 0.5##SFX * dt * k1x, ay = y + 0.5##SFX * dt * k1y,       \
          az = z + 0.5##SFX * dt * k1z;                                     \
        T k2x = 10.0##SFX * (ay - ax), k2y = ax * (p - az) - ay,            \
          k2z = ax * ay - 2.6666666666666665##SFX * az;                     \
        T bx = x + 0.5##SFX * dt * k2x, by = y + 0.5##SFX * dt * k2y,       \
          bz = z + 0.5##SFX * dt * k2z;                                     \
        T k3x = 10.0##SFX * (by - bx), k3y = bx * (p - bz) - by,            \
          k3z = bx * by - 2.6666666666666665##SFX * bz;                     \
        T cx = x + dt * k3x, cy = y + dt * k3y, cz = z + dt * k3z;          \
        T k4x = 10.0##SFX * (cy - cx), k4y = cx * (p - cz) - cy,            \
          k4z = cx * cy - 2.6666666666666665##SFX * cz;                     \
        x += dt * (k1x + 2 * k2x + 2 * k3x + k4x) / 6;                      \
        y += dt * (k1y + 2 * k2y + 2 * k3y + k4y) / 6;                      \
        z += dt * (k1z + 2 * k2z + 2 * k3z + k4z) / 6;                      \
    } while (0)

/* The hand-written references: plain RK4 on Lorenz, same layout (run
 * index fastest), OpenMP over runs. hand_* does one run per iteration;
 * simd_* keeps blocks of 64 runs and steps them together under omp simd
 * (what the host lanes do, written by hand). */
#define HAND_LOOP(T, SFX)                                                   \
    static void hand_##T(const T *inits, const T *rho, T *out, int n,     \
                         int steps, T dt)                                   \
    {                                                                       \
        _Pragma("omp parallel for schedule(dynamic, 64)")                   \
        for (int r = 0; r < n; r++) {                                       \
            T x = inits[r], y = inits[n + r], z = inits[2 * n + r];         \
            const T p = rho[r];                                             \
            for (int s = 0; s < steps; s++) {                               \
                RK4_LORENZ(T, SFX, x, y, z, p, dt);                         \
            }                                                               \
            out[r] = x;                                                     \
            out[n + r] = y;                                                 \
            out[2 * n + r] = z;                                             \
        }                                                                   \
    }                                                                       \
    static void simd_##T(const T *inits, const T *rho, T *out, int n,     \
                         int steps, T dt)                                   \
    {                                                                       \
        enum { W = 64 };                                                    \
        _Pragma("omp parallel for schedule(dynamic, 1)")                    \
        for (int b0 = 0; b0 < n; b0 += W) {                                 \
            const int m = n - b0 < W ? n - b0 : W;                          \
            T x[W] = {0}, y[W] = {0}, z[W] = {0}, p[W] = {0};               \
            for (int l = 0; l < m; l++) {                                   \
                x[l] = inits[b0 + l];                                       \
                y[l] = inits[n + b0 + l];                                   \
                z[l] = inits[2 * n + b0 + l];                               \
                p[l] = rho[b0 + l];                                         \
            }                                                               \
            for (int s = 0; s < steps; s++) {                               \
                _Pragma("omp simd")                                         \
                for (int l = 0; l < W; l++) {                               \
                    T xl = x[l], yl = y[l], zl = z[l];                      \
                    RK4_LORENZ(T, SFX, xl, yl, zl, p[l], dt);               \
                    x[l] = xl;                                              \
                    y[l] = yl;                                              \
                    z[l] = zl;                                              \
                }                                                           \
            }                                                               \
            for (int l = 0; l < m; l++) {                                   \
                out[b0 + l] = x[l];                                         \
                out[n + b0 + l] = y[l];                                     \
                out[2 * n + b0 + l] = z[l];                                 \
            }                                                               \
        }                                                                   \
    }
HAND_LOOP(float, f)
HAND_LOOP(double, )

static void compile_times(cubie_system *sys, const char *algo)
{
    char a[64];
    snprintf(a, sizeof(a), "algorithm=%s", algo);
    const char *p_nocache[] = {a, "precision=float32", "backend=host",
                               "cache=false", NULL};
    const char *p_cache[] = {a, "precision=float32", "backend=host", NULL};
    cubie_error err = {0};
    cubie_options *o = opts(p_nocache);
    /* Generation takes a tenth of a millisecond: many samples, and their
     * minimum too, which a busy machine disturbs least. */
    enum { N_GEN = 101 };
    double gen[N_GEN], miss[3], hit[5];
    for (int i = 0; i < N_GEN; i++) {
        char *src = NULL;
        double t = now_ms();
        cubie_status st = cubie_generate(sys, o, &src, &err);
        gen[i] = now_ms() - t;
        if (st != CUBIE_OK) {
            die(st, &err);
        }
        free(src);
    }
    for (int i = 0; i < 3; i++) {
        cubie_solver *s = NULL;
        double t = now_ms();
        cubie_status st = cubie_compile(sys, o, &s, &err);
        miss[i] = now_ms() - t;
        if (st != CUBIE_OK) {
            die(st, &err);
        }
        cubie_solver_free(s);
    }
    cubie_options_free(o);
    o = opts(p_cache);
    for (int i = 0; i < 6; i++) {
        cubie_solver *s = NULL;
        double t = now_ms();
        cubie_status st = cubie_compile(sys, o, &s, &err);
        double dt = now_ms() - t;
        if (st != CUBIE_OK) {
            die(st, &err);
        }
        if (i > 0) {
            hit[i - 1] = dt; /* the first may be the miss that fills it */
        }
        cubie_solver_free(s);
    }
    cubie_options_free(o);
    const double gen_median = median(gen, N_GEN); /* sorts gen */
    printf("%-14s spec->source %.3f ms (min %.3f) | source->.so (no cache) "
           "%.1f ms | cached compile %.2f ms (medians)\n", algo, gen_median,
           gen[0], median(miss, 3), median(hit, 5));
}

static cubie_solver *compile_or_die(cubie_system *sys, const char *const *p)
{
    cubie_error err = {0};
    cubie_options *o = opts(p);
    cubie_solver *s = NULL;
    cubie_status st = cubie_compile(sys, o, &s, &err);
    cubie_options_free(o);
    if (st != CUBIE_OK) {
        die(st, &err);
    }
    return s;
}

static cubie_result *run_or_die(cubie_solver *s, cubie_batch *b,
                                cubie_options *ro)
{
    cubie_error err = {0};
    cubie_result *res = NULL;
    cubie_status st = cubie_run(s, b, ro, &res, &err);
    if (st != CUBIE_OK) {
        die(st, &err);
    }
    return res;
}

/* Largest difference of the final states of two results, relative to
 * max(1, |a|), and how many elements differ at all (NaN = NaN). */
static double state_diff(const cubie_result *a, const cubie_result *b,
                         size_t n_states, long *differ)
{
    double m = 0.0;
    *differ = 0;
    const size_t n = cubie_result_n_runs(a);
    const size_t last = cubie_result_n_saves(a) - 1;
    for (size_t r = 0; r < n; r++) {
        for (size_t v = 0; v < n_states; v++) {
            double x = cubie_result_state(a, r, last, v);
            double y = cubie_result_state(b, r, last, v);
            if (isnan(x) && isnan(y)) {
                continue;
            }
            *differ += x != y;
            m = fmax(m, fabs(x - y) / fmax(1.0, fabs(x)));
        }
    }
    return m;
}

static void free_all(cubie_solver *a, cubie_solver *b, cubie_batch *bt,
                     cubie_options *ro)
{
    cubie_solver_free(a);
    cubie_solver_free(b);
    cubie_batch_free(bt);
    cubie_options_free(ro);
}

/* Lorenz RK4, fixed dt = 1e-3 over [0, 1], final state: cubie's host
 * lanes and cubie one run at a time (host_lanes=1), against the scalar
 * and the vectorised hand-written loops, interleaved, in one process. */
static void throughput(cubie_system *sys, const char *prec, int n, int reps)
{
    const char *pl[] = {"algorithm=classical-rk4", prec, "backend=host",
                        NULL};
    const char *ps[] = {"algorithm=classical-rk4", prec, "backend=host",
                        "host_lanes=1", NULL};
    cubie_solver *sl = compile_or_die(sys, pl), *ss = compile_or_die(sys, ps);
    const char *names[] = {"rho"};
    double lo[] = {0.0}, hi[] = {28.0};
    size_t count[] = {(size_t)n};
    cubie_error err = {0};
    cubie_batch *b = NULL;
    cubie_status st = cubie_batch_grid(sys, 1, names, lo, hi, count, &b,
                                       &err);
    if (st != CUBIE_OK) {
        die(st, &err);
    }
    const char *rp[] = {"dt=0.001", "duration=1", NULL};
    cubie_options *ro = opts(rp);
    bool dbl = strcmp(prec, "precision=float64") == 0;
    double tl[32], ts[32], th[32], tv[32];
    double maxdiff = 0.0, lanes_diff = 0.0;
    long differ = 0;
    size_t sz = dbl ? 8 : 4;
    void *inits = malloc(sz * 3 * (size_t)n), *rho = malloc(sz * (size_t)n);
    void *out = malloc(sz * 3 * (size_t)n);
    for (int r = 0; r < n; r++) {
        double rv = 28.0 * r / (n - 1);
        if (dbl) {
            ((double *)inits)[r] = 1.0;
            ((double *)inits)[n + r] = 0.0;
            ((double *)inits)[2 * n + r] = 0.0;
            ((double *)rho)[r] = rv;
        } else {
            ((float *)inits)[r] = 1.0f;
            ((float *)inits)[n + r] = 0.0f;
            ((float *)inits)[2 * n + r] = 0.0f;
            ((float *)rho)[r] = (float)rv;
        }
    }
    for (int i = 0; i < reps; i++) {
        cubie_result *rl = run_or_die(sl, b, ro);
        tl[i] = cubie_result_kernel_ms(rl);
        cubie_result *rs = run_or_die(ss, b, ro);
        ts[i] = cubie_result_kernel_ms(rs);
        if (i == 0) {
            lanes_diff = state_diff(rl, rs, 3, &differ);
        }
        double t = now_ms();
        if (dbl) {
            hand_double(inits, rho, out, n, 1000, 1e-3);
        } else {
            hand_float(inits, rho, out, n, 1000, 1e-3f);
        }
        th[i] = now_ms() - t;
        t = now_ms();
        if (dbl) {
            simd_double(inits, rho, out, n, 1000, 1e-3);
        } else {
            simd_float(inits, rho, out, n, 1000, 1e-3f);
        }
        tv[i] = now_ms() - t;
        for (int r = 0; r < n; r += 997) {
            for (int v = 0; v < 3; v++) {
                double h = dbl ? ((double *)out)[v * n + r]
                               : ((float *)out)[v * n + r];
                double c = cubie_result_state(rl, (size_t)r, 1, (size_t)v);
                maxdiff = fmax(maxdiff, fabs(h - c) / fmax(1.0, fabs(h)));
            }
        }
        cubie_result_free(rl);
        cubie_result_free(rs);
    }
    double ml = median(tl, reps), ms = median(ts, reps);
    double mh = median(th, reps), mv = median(tv, reps);
    double steps = (double)n * 1000.0;
    printf("lorenz rk4 %s, %d runs x 1000 steps, %d threads (kernel medians "
           "of %d):\n", dbl ? "float64" : "float32", n,
           omp_get_max_threads(), reps);
    printf("    cubie lanes %.1f ms (%.3g steps/s) | cubie one run at a "
           "time %.1f ms (%.3g steps/s) | hand scalar %.1f ms (%.3g "
           "steps/s) | hand omp simd %.1f ms (%.3g steps/s)\n", ml,
           steps / (ml * 1e-3), ms, steps / (ms * 1e-3), mh,
           steps / (mh * 1e-3), mv, steps / (mv * 1e-3));
    printf("    speed of cubie lanes: %.2fx the omp simd loop's, %.2fx the "
           "scalar loop's, %.2fx cubie one at a time; lanes vs one at a "
           "time: %ld elements differ (max rel. %.1e); vs hand %.1e\n",
           mv / ml, mh / ml, ms / ml, differ, lanes_diff, maxdiff);
    free(inits);
    free(rho);
    free(out);
    free_all(sl, ss, b, ro);
}

/* One configuration, host lanes against one run at a time, interleaved:
 * kernel medians, and the final states compared. */
static void lanes_vs_scalar(cubie_system *sys, const char *label,
                            const char *const *compile, const char *const *run,
                            const char *axis, double lo, double hi, int n,
                            int reps)
{
    const char *pl[16], *ps[16];
    int k = 0;
    for (; compile[k] != NULL && k < 14; k++) {
        pl[k] = ps[k] = compile[k];
    }
    pl[k] = NULL;
    ps[k] = "host_lanes=1";
    ps[k + 1] = NULL;
    cubie_solver *sl = compile_or_die(sys, pl), *ss = compile_or_die(sys, ps);
    cubie_error err = {0};
    cubie_batch *b = NULL;
    size_t count[] = {(size_t)n};
    cubie_status st = cubie_batch_grid(sys, 1, &axis, &lo, &hi, count, &b,
                                       &err);
    if (st != CUBIE_OK) {
        die(st, &err);
    }
    cubie_options *ro = opts(run);
    double tl[32], ts[32];
    double diff = 0.0;
    long differ = 0, failed_l = 0, failed_s = 0;
    for (int i = 0; i < reps; i++) {
        cubie_result *rl = run_or_die(sl, b, ro);
        cubie_result *rs = run_or_die(ss, b, ro);
        tl[i] = cubie_result_kernel_ms(rl);
        ts[i] = cubie_result_kernel_ms(rs);
        if (i == 0) {
            diff = state_diff(rl, rs, (size_t)cubie_system_n_states(sys),
                              &differ);
            for (int r = 0; r < n; r++) {
                failed_l += cubie_result_status(rl)[r] != 0;
                failed_s += cubie_result_status(rs)[r] != 0;
            }
        }
        cubie_result_free(rl);
        cubie_result_free(rs);
    }
    double ml = median(tl, reps), ms = median(ts, reps);
    printf("%s, %d runs: lanes %.1f ms (%.2f us/run) | one at a time %.1f "
           "ms (%.2f us/run) | lanes %.2fx faster | final states: %ld "
           "elements differ, max rel. %.1e | failed runs %ld / %ld\n",
           label, n, ml, ml * 1e3 / n, ms, ms * 1e3 / n, ms / ml, differ,
           diff, failed_l, failed_s);
    free_all(sl, ss, b, ro);
}

/* Lorenz tsit5 under the default pi controller, atol = rtol = 1e-6. */
static void adaptive(cubie_system *sys, const char *prec, int n, int reps)
{
    const char *c[] = {"algorithm=tsit5", prec, "backend=host", NULL};
    const char *r[] = {"atol=1e-6", "rtol=1e-6", "duration=1", NULL};
    char label[96];
    snprintf(label, sizeof(label), "lorenz tsit5 pi %s atol=rtol=1e-6",
             prec + strlen("precision="));
    lanes_vs_scalar(sys, label, c, r, "rho", 0.0, 28.0, n, reps);
}

static cubie_system *load_or_die(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    cubie_error err = {0};
    cubie_system *sys = NULL;
    cubie_status st = cubie_system_load(path, &sys, &err);
    if (st != CUBIE_OK) {
        die(st, &err);
    }
    return sys;
}

/* Hodgkin-Huxley RK4 (its rates call exp: the vector math), and its
 * error against the float64 kernel one run at a time. */
static void hodgkin_huxley(const char *dir, int n, int reps)
{
    cubie_system *sys = load_or_die(dir, "hodgkin_huxley.json");
    const char *c32[] = {"algorithm=classical-rk4", "precision=float32",
                         "backend=host", NULL};
    const char *c64[] = {"algorithm=classical-rk4", "precision=float64",
                         "backend=host", NULL};
    const char *r[] = {"dt=0.01", "duration=20", NULL};
    lanes_vs_scalar(sys, "hodgkin_huxley rk4 float32 dt=0.01 t in [0, 20]",
                    c32, r, "I_ext", 0.0, 20.0, n, reps);
    lanes_vs_scalar(sys, "hodgkin_huxley rk4 float64 dt=0.01 t in [0, 20]",
                    c64, r, "I_ext", 0.0, 20.0, n, reps);
    /* The float32 lanes against the float64 kernel one at a time. */
    const char *c64s[] = {"algorithm=classical-rk4", "precision=float64",
                          "backend=host", "host_lanes=1", NULL};
    cubie_solver *s32 = compile_or_die(sys, c32);
    cubie_solver *s64 = compile_or_die(sys, c64s);
    cubie_error err = {0};
    cubie_batch *b = NULL;
    const char *axis = "I_ext";
    double lo = 0.0, hi = 20.0;
    size_t count[] = {(size_t)n};
    cubie_status st = cubie_batch_grid(sys, 1, &axis, &lo, &hi, count, &b,
                                       &err);
    if (st != CUBIE_OK) {
        die(st, &err);
    }
    cubie_options *ro = opts(r);
    const char *c32s[] = {"algorithm=classical-rk4", "precision=float32",
                          "backend=host", "host_lanes=1", NULL};
    cubie_solver *s32s = compile_or_die(sys, c32s);
    cubie_result *a = run_or_die(s32, b, ro), *d = run_or_die(s64, b, ro);
    cubie_result *as = run_or_die(s32s, b, ro);
    long differ = 0;
    const size_t ns = (size_t)cubie_system_n_states(sys);
    double e = state_diff(d, a, ns, &differ);
    double es = state_diff(d, as, ns, &differ);
    printf("    against the float64 kernel one at a time, max rel. "
           "difference: float32 lanes %.1e, float32 one at a time %.1e\n",
           e, es);
    cubie_result_free(a);
    cubie_result_free(as);
    cubie_result_free(d);
    cubie_solver_free(s32s);
    free_all(s32, s64, b, ro);
    cubie_system_free(sys);
}

/* Stiff: radau_iia_5 on Robertson with jacobi + bicgstab (the defaults),
 * the Newton and Krylov iterations diverging between lanes. */
static void stiff(const char *dir, int n, int reps)
{
    cubie_system *sys = load_or_die(dir, "robertson.json");
    const char *c[] = {"algorithm=radau_iia_5", "precision=float64",
                       "backend=host", NULL};
    const char *r[] = {"duration=40", "rtol=1e-6", "atol=1e-8", NULL};
    lanes_vs_scalar(sys, "robertson radau_iia_5 float64 to t = 40", c, r,
                    "y1", 0.5, 1.0, n, reps);
    cubie_system_free(sys);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "specs";
    int n = argc > 2 ? atoi(argv[2]) : 65536;
    int reps = argc > 3 ? atoi(argv[3]) : 7;
    const char *only = argc > 4 ? argv[4] : "all";
    if (reps < 1 || reps > 32 || n < 2) {
        fprintf(stderr, "usage: bench_host SPECS_DIR [n_runs] [1..32] "
                        "[all|compile|rk4|tsit5|hh|stiff]\n");
        return 2;
    }
    bool all = strcmp(only, "all") == 0;
    cubie_system *sys = load_or_die(dir, "lorenz.json");
    if (all || strcmp(only, "compile") == 0) {
        compile_times(sys, "classical-rk4");
        compile_times(sys, "tsit5");
    }
    if (all || strcmp(only, "rk4") == 0) {
        throughput(sys, "precision=float32", n, reps);
        throughput(sys, "precision=float64", n, reps);
    }
    if (all || strcmp(only, "tsit5") == 0) {
        adaptive(sys, "precision=float32", n, reps);
        adaptive(sys, "precision=float64", n, reps);
    }
    cubie_system_free(sys);
    if (all || strcmp(only, "hh") == 0) {
        hodgkin_huxley(dir, n, reps);
    }
    if (all || strcmp(only, "stiff") == 0) {
        stiff(dir, n < 4096 ? n : 4096, reps);
    }
    return 0;
}
