/* Host-backend benchmark (not a test): compile times for the Lorenz
 * classical-rk4 and tsit5 kernels (spec -> source, source -> shared
 * object, cached second compile), and the throughput of 2^16 Lorenz runs,
 * RK4, dt = 1e-3, t in [0, 1], against a hand-written C loop doing the
 * same arithmetic, compiled with the same flags, in the same process.
 *   bench_host SPECS_DIR [n_runs] [repeats]                              */
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

/* The hand-written reference: plain RK4 on Lorenz, same layout (run index
 * fastest), same literals, OpenMP over runs. */
#define HAND_LOOP(T, SFX)                                                   \
    static void hand_##T(const T *inits, const T *rho, T *out, int n,     \
                         int steps, T dt)                                   \
    {                                                                       \
        _Pragma("omp parallel for schedule(dynamic, 64)")                   \
        for (int r = 0; r < n; r++) {                                       \
            T x = inits[r], y = inits[n + r], z = inits[2 * n + r];         \
            const T p = rho[r];                                             \
            for (int s = 0; s < steps; s++) {                               \
                T k1x = 10.0##SFX * (y - x), k1y = x * (p - z) - y,         \
                  k1z = x * y - 2.6666666666666665##SFX * z;                \
                T ax = x + 0.5##SFX * dt * k1x, ay = y + 0.5##SFX * dt * k1y,\
                  az = z + 0.5##SFX * dt * k1z;                             \
                T k2x = 10.0##SFX * (ay - ax), k2y = ax * (p - az) - ay,    \
                  k2z = ax * ay - 2.6666666666666665##SFX * az;             \
                T bx = x + 0.5##SFX * dt * k2x, by = y + 0.5##SFX * dt * k2y,\
                  bz = z + 0.5##SFX * dt * k2z;                             \
                T k3x = 10.0##SFX * (by - bx), k3y = bx * (p - bz) - by,    \
                  k3z = bx * by - 2.6666666666666665##SFX * bz;             \
                T cx = x + dt * k3x, cy = y + dt * k3y, cz = z + dt * k3z;  \
                T k4x = 10.0##SFX * (cy - cx), k4y = cx * (p - cz) - cy,    \
                  k4z = cx * cy - 2.6666666666666665##SFX * cz;             \
                x += dt * (k1x + 2 * k2x + 2 * k3x + k4x) / 6;              \
                y += dt * (k1y + 2 * k2y + 2 * k3y + k4y) / 6;              \
                z += dt * (k1z + 2 * k2z + 2 * k3z + k4z) / 6;              \
            }                                                               \
            out[r] = x;                                                     \
            out[n + r] = y;                                                 \
            out[2 * n + r] = z;                                             \
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

static void throughput(cubie_system *sys, const char *prec, int n, int reps)
{
    const char *pairs[] = {"algorithm=classical-rk4", prec, "backend=host",
                           NULL};
    cubie_error err = {0};
    cubie_options *o = opts(pairs);
    cubie_solver *s = NULL;
    cubie_status st = cubie_compile(sys, o, &s, &err);
    if (st != CUBIE_OK) {
        die(st, &err);
    }
    const char *names[] = {"rho"};
    double lo[] = {0.0}, hi[] = {28.0};
    size_t count[] = {(size_t)n};
    cubie_batch *b = NULL;
    st = cubie_batch_grid(sys, 1, names, lo, hi, count, &b, &err);
    if (st != CUBIE_OK) {
        die(st, &err);
    }
    const char *rp[] = {"dt=0.001", "duration=1", NULL};
    cubie_options *ro = opts(rp);
    bool dbl = strcmp(prec, "precision=float64") == 0;
    double tk[32], th[32];
    double maxdiff = 0.0;
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
        cubie_result *res = NULL;
        st = cubie_run(s, b, ro, &res, &err);
        if (st != CUBIE_OK) {
            die(st, &err);
        }
        tk[i] = cubie_result_kernel_ms(res);
        double t = now_ms();
        if (dbl) {
            hand_double(inits, rho, out, n, 1000, 1e-3);
        } else {
            hand_float(inits, rho, out, n, 1000, 1e-3f);
        }
        th[i] = now_ms() - t;
        for (int r = 0; r < n; r += 997) {
            for (int v = 0; v < 3; v++) {
                double h = dbl ? ((double *)out)[v * n + r]
                               : ((float *)out)[v * n + r];
                double c = cubie_result_state(res, (size_t)r, 1, (size_t)v);
                maxdiff = fmax(maxdiff, fabs(h - c) / fmax(1.0, fabs(h)));
            }
        }
        cubie_result_free(res);
    }
    double mk = median(tk, reps), mh = median(th, reps);
    double steps = (double)n * 1000.0;
    printf("lorenz rk4 %s, %d runs x 1000 steps, %d threads: cubie %.1f ms "
           "(%.3g steps/s), hand-written C %.1f ms (%.3g steps/s), "
           "ratio cubie/hand %.2f, max rel. difference %.1e\n",
           dbl ? "float64" : "float32", n, omp_get_max_threads(), mk,
           steps / (mk * 1e-3), mh, steps / (mh * 1e-3), mk / mh, maxdiff);
    free(inits);
    free(rho);
    free(out);
    cubie_options_free(ro);
    cubie_options_free(o);
    cubie_batch_free(b);
    cubie_solver_free(s);
}

/* Lorenz tsit5 under the default pi controller, atol = rtol = 1e-6. */
static void adaptive(cubie_system *sys, const char *prec, int n, int reps)
{
    const char *pairs[] = {"algorithm=tsit5", prec, "backend=host",
                           "output_types=state,iteration_counters", NULL};
    cubie_error err = {0};
    cubie_options *o = opts(pairs);
    cubie_solver *s = NULL;
    cubie_status st = cubie_compile(sys, o, &s, &err);
    if (st != CUBIE_OK) {
        die(st, &err);
    }
    const char *names[] = {"rho"};
    double lo[] = {0.0}, hi[] = {28.0};
    size_t count[] = {(size_t)n};
    cubie_batch *b = NULL;
    st = cubie_batch_grid(sys, 1, names, lo, hi, count, &b, &err);
    if (st != CUBIE_OK) {
        die(st, &err);
    }
    const char *rp[] = {"atol=1e-6", "rtol=1e-6", "duration=1", NULL};
    cubie_options *ro = opts(rp);
    double tk[32];
    long attempts = 0, rejected = 0, failed = 0;
    for (int i = 0; i < reps; i++) {
        cubie_result *res = NULL;
        double t = now_ms();
        st = cubie_run(s, b, ro, &res, &err);
        double wall = now_ms() - t;
        if (st != CUBIE_OK) {
            die(st, &err);
        }
        tk[i] = cubie_result_kernel_ms(res);
        if (i == 0) {
            const int32_t *c = cubie_result_counters(res);
            size_t saves = cubie_result_n_saves(res);
            for (int r = 0; r < n; r++) {
                failed += cubie_result_status(res)[r] != 0;
                for (size_t sv = 0; sv < saves; sv++) {
                    attempts += c[((size_t)r * saves + sv) * 4 + 2];
                    rejected += c[((size_t)r * saves + sv) * 4 + 3];
                }
            }
            printf("lorenz tsit5 pi %s atol=rtol=1e-6, %d runs: first run "
                   "wall %.1f ms (kernel %.1f ms)\n",
                   strcmp(prec, "precision=float64") == 0 ? "float64"
                                                          : "float32",
                   n, wall, tk[0]);
        }
        cubie_result_free(res);
    }
    printf("    accepted steps %ld (%.1f per run), rejected %ld, failed "
           "runs %ld; kernel median %.1f ms (%.3g accepted steps/s)\n",
           attempts - rejected, (double)(attempts - rejected) / n, rejected,
           failed, median(tk, reps),
           (double)(attempts - rejected) / (median(tk, reps) * 1e-3));
    cubie_options_free(ro);
    cubie_options_free(o);
    cubie_batch_free(b);
    cubie_solver_free(s);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "specs";
    int n = argc > 2 ? atoi(argv[2]) : 65536;
    int reps = argc > 3 ? atoi(argv[3]) : 7;
    if (reps < 1 || reps > 32 || n < 2) {
        fprintf(stderr, "usage: bench_host SPECS_DIR [n_runs] [1..32]\n");
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/lorenz.json", dir);
    cubie_error err = {0};
    cubie_system *sys = NULL;
    cubie_status st = cubie_system_load(path, &sys, &err);
    if (st != CUBIE_OK) {
        die(st, &err);
    }
    compile_times(sys, "classical-rk4");
    compile_times(sys, "tsit5");
    throughput(sys, "precision=float32", n, reps);
    throughput(sys, "precision=float64", n, reps);
    adaptive(sys, "precision=float32", n, reps);
    adaptive(sys, "precision=float64", n, reps);
    cubie_system_free(sys);
    return 0;
}
