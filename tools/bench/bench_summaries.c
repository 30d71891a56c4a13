/* Summaries against trajectories (not a test): Lorenz, tsit5 with its
 * default controller (pi), atol = rtol = 1e-6, float32, t in [0, 10], a
 * grid of rho over [0, 28]. Case "summaries": mean, std, max, min of
 * every state over 10 windows of 100 samples (summarise_every 1,
 * sample_summaries_every 0.01), nothing saved per step. Case "saves":
 * every state saved at the same cadence (save_every 0.01, 1001 rows).
 * Prints, per case: kernel time and the whole cubie_run (medians over the
 * repeats), the bytes of the output arrays (what `cubie run --out` writes,
 * less the .npy headers and the inputs), failed runs, and the process's
 * peak resident memory after the case. CUBIE_BENCH_BACKEND picks the
 * backend (default auto).
 *   bench_summaries SPECS_DIR [n_runs] [repeats] [summaries|saves|both] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"
#include "cubie.h"

static void check(cubie_status st, cubie_error *err)
{
    if (st != CUBIE_OK) {
        fprintf(stderr, "bench_summaries: %s: %s\n", cubie_status_str(st),
                err->message);
        exit(1);
    }
}

/* Bytes of the arrays a run produced, its inputs (inits, params) left
 * out: what the results are. */
static double output_bytes(const cubie_result *r)
{
    double bytes = 0.0;
    for (size_t i = 0; i < cubie_result_n_arrays(r); i++) {
        cubie_array a;
        if (cubie_result_array(r, i, &a) != CUBIE_OK ||
            strcmp(a.name, "inits") == 0 || strcmp(a.name, "params") == 0) {
            continue;
        }
        double n = (double)a.elem_size;
        for (int d = 0; d < a.ndim; d++) {
            n *= (double)a.shape[d];
        }
        bytes += n;
    }
    return bytes;
}

static void bench(const cubie_system *sys, const char *name,
                  const char *const *pairs, size_t n, int reps)
{
    cubie_error err = {0};
    cubie_options *o = NULL;
    check(cubie_options_new(&o), &err);
    for (int i = 0; pairs[i] != NULL; i++) {
        check(cubie_options_set_pair(o, pairs[i], &err), &err);
    }
    cubie_solver *s = NULL;
    const double t0 = now_ms();
    check(cubie_compile(sys, o, &s, &err), &err);
    const double compile_ms = now_ms() - t0;
    const char *names[] = {"rho"};
    const double lo[] = {0.0}, hi[] = {28.0};
    const size_t count[] = {n};
    cubie_batch *b = NULL;
    check(cubie_batch_grid(sys, 1, names, lo, hi, count, &b, &err), &err);
    double kernel[32], whole[32], bytes = 0.0;
    size_t failed = 0;
    for (int k = 0; k < reps; k++) {
        cubie_result *r = NULL;
        const double a = now_ms();
        check(cubie_run(s, b, NULL, &r, &err), &err);
        whole[k] = now_ms() - a;
        kernel[k] = cubie_result_kernel_ms(r);
        bytes = output_bytes(r);
        failed = 0;
        for (size_t i = 0; i < n; i++) {
            failed += CUBIE_RUN_FAILED(cubie_result_status(r)[i]);
        }
        cubie_result_free(r);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double k_ms = median(kernel, reps), w_ms = median(whole, reps);
    printf("%-9s %zu runs: kernel %.1f ms, whole run %.1f ms (non-kernel "
           "%.1f %%), output %.3g bytes (%.1f per run), failed runs %zu, "
           "peak RSS %.2f GiB, compile %.0f ms\n",
           name, n, k_ms, w_ms, 100.0 * (w_ms - k_ms) / w_ms, bytes,
           bytes / (double)n, failed, (double)ru.ru_maxrss / 1048576.0,
           compile_ms);
    fflush(stdout);
    cubie_batch_free(b);
    cubie_solver_free(s);
    cubie_options_free(o);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "specs";
    const size_t n = argc > 2 ? (size_t)atol(argv[2]) : (size_t)1 << 20;
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    const char *which = argc > 4 ? argv[4] : "both";
    reps = reps < 1 ? 1 : reps > 32 ? 32 : reps;
    char path[1024];
    snprintf(path, sizeof(path), "%s/lorenz.json", dir);
    cubie_error err = {0};
    cubie_system *sys = NULL;
    check(cubie_system_load(path, &sys, &err), &err);
    printf("lorenz tsit5 (pi) float32 atol=rtol=1e-6, t in [0, 10], rho "
           "grid [0, 28], backend %s, medians of %d\n",
           getenv("CUBIE_BENCH_BACKEND") ? getenv("CUBIE_BENCH_BACKEND")
                                         : "auto",
           reps);
    const char *backend = getenv("CUBIE_BENCH_BACKEND");
    char bk[64];
    snprintf(bk, sizeof(bk), "backend=%s", backend ? backend : "auto");
    const char *summaries[] = {"algorithm=tsit5", "precision=float32",
                               "duration=10", "output_types=mean,std,max,min",
                               "summarise_variables=x,y,z",
                               "summarise_every=1",
                               "sample_summaries_every=0.01", bk, NULL};
    const char *saves[] = {"algorithm=tsit5", "precision=float32",
                           "duration=10", "output_types=state",
                           "save_every=0.01", bk, NULL};
    if (strcmp(which, "saves") != 0) {
        bench(sys, "summaries", summaries, n, reps);
    }
    if (strcmp(which, "summaries") != 0) {
        bench(sys, "saves", saves, n, reps);
    }
    cubie_system_free(sys);
    return 0;
}
