/* The run path around the kernel (not a test): 2^20 Lorenz runs, RK4
 * float32, dt = 1e-3, t in [0, 1], a grid of rho, on the final state only
 * and with save_every = 0.01 (101 saves). Prints, per case, the kernel
 * time, the whole cubie_run and the share of the run spent outside the
 * kernel (staging, layout, result), medians over the repeats.
 *   bench_runpath SPECS_DIR [n_runs] [repeats]
 * CUBIE_BENCH_BACKEND picks the backend (default auto). CUBIE_BENCH_STEPS
 * (default 1000, at least 100) sets the steps, so duration = steps x dt
 * and the saves case saves every steps / 100 steps: fewer steps keep
 * the emulated driver's kernels (tests/fakecuda) short where only the
 * host's work around them is wanted. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "cubie.h"

static void check(cubie_status st, cubie_error *err)
{
    if (st != CUBIE_OK) {
        fprintf(stderr, "bench_runpath: %s: %s\n", cubie_status_str(st),
                err->message);
        exit(1);
    }
}

/* cuda_only: a case about the GPU's chunks, skipped on the host. into:
 * the state and status into buffers of the caller's, allocated and
 * touched once (cubie_run_into), so no repeat pays for fresh pages. */
static void bench(const cubie_system *sys, const char *name,
                  const char *const *run_pairs, size_t n, int reps,
                  bool cuda_only, bool into)
{
    cubie_error err = {0};
    cubie_options *o = NULL, *ro = NULL;
    check(cubie_options_new(&o), &err);
    const char *backend = getenv("CUBIE_BENCH_BACKEND");
    check(cubie_options_set(o, "backend", backend ? backend : "auto", &err),
          &err);
    check(cubie_options_set(o, "algorithm", "classical-rk4", &err), &err);
    check(cubie_options_set(o, "precision", "float32", &err), &err);
    check(cubie_options_new(&ro), &err);
    for (int i = 0; run_pairs[i] != NULL; i++) {
        check(cubie_options_set_pair(ro, run_pairs[i], &err), &err);
    }
    cubie_solver *s = NULL;
    check(cubie_compile(sys, o, &s, &err), &err);
    if (cuda_only && strcmp(cubie_solver_backend(s), "cuda") != 0) {
        cubie_solver_free(s);
        cubie_options_free(ro);
        cubie_options_free(o);
        return;
    }
    const char *names[] = {"rho"};
    const double lo[] = {0.0}, hi[] = {28.0};
    const size_t count[] = {n};
    cubie_batch *b = NULL;
    check(cubie_batch_grid(sys, 1, names, lo, hi, count, &b, &err), &err);
    double kernel[32], whole[32], share[32], copies[32], host[32];
    size_t chunks = 0;
    /* the state's size: n_saves rows of 3 floats a run */
    size_t saves = 0;
    if (into) {
        cubie_result *r = NULL;
        check(cubie_run(s, b, ro, &r, &err), &err);
        saves = cubie_result_n_saves(r);
        cubie_result_free(r);
    }
    cubie_output_buffer buf[2] = {
        {"state", into ? malloc(n * saves * 3 * sizeof(float)) : NULL,
         n * saves * 3 * sizeof(float)},
        {"status", into ? malloc(n * sizeof(int32_t)) : NULL,
         n * sizeof(int32_t)}};
    if (into && (buf[0].data == NULL || buf[1].data == NULL)) {
        fprintf(stderr, "bench_runpath: out of memory\n");
        exit(1);
    }
    if (into) {
        memset(buf[0].data, 0, buf[0].bytes);
        memset(buf[1].data, 0, buf[1].bytes);
    }
    for (int k = 0; k < reps; k++) {
        cubie_result *r = NULL;
        const double a = now_ms();
        check(into ? cubie_run_into(s, b, ro, buf, 2, &r, &err)
                   : cubie_run(s, b, ro, &r, &err),
              &err);
        whole[k] = now_ms() - a;
        kernel[k] = cubie_result_kernel_ms(r);
        share[k] = 100.0 * (whole[k] - kernel[k]) / whole[k];
        copies[k] = cubie_result_copy_ms(r);
        /* the time neither a kernel nor a copy ran: the host's own work
         * where nothing overlaps it (all of it under the emulated
         * driver, whose streams run one after the other) */
        host[k] = whole[k] - kernel[k] - copies[k];
        chunks = cubie_result_n_chunks(r);
        cubie_result_free(r);
    }
    qsort(kernel, (size_t)reps, sizeof(double), cmp_double);
    qsort(whole, (size_t)reps, sizeof(double), cmp_double);
    qsort(share, (size_t)reps, sizeof(double), cmp_double);
    qsort(copies, (size_t)reps, sizeof(double), cmp_double);
    qsort(host, (size_t)reps, sizeof(double), cmp_double);
    printf("%-14s %zu runs on %s: kernel %.1f ms, whole run %.1f ms "
           "(%.2fx), outside the kernel %.2f %%; copies %.1f ms, whole - "
           "kernel - copies %.1f ms, %zu chunks (medians of %d)\n",
           name, n, cubie_solver_backend(s), kernel[reps / 2],
           whole[reps / 2], whole[reps / 2] / kernel[reps / 2],
           share[reps / 2], copies[reps / 2], host[reps / 2], chunks, reps);
    fflush(stdout);
    free(buf[0].data);
    free(buf[1].data);
    cubie_batch_free(b);
    cubie_solver_free(s);
    cubie_options_free(ro);
    cubie_options_free(o);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "specs";
    const size_t n = argc > 2 ? (size_t)atol(argv[2]) : (size_t)1 << 20;
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    reps = reps < 1 ? 1 : reps > 32 ? 32 : reps;
    char path[1024];
    snprintf(path, sizeof(path), "%s/lorenz.json", dir);
    cubie_error err = {0};
    cubie_system *sys = NULL;
    check(cubie_system_load(path, &sys, &err), &err);
    const char *steps_env = getenv("CUBIE_BENCH_STEPS");
    int steps = steps_env != NULL ? atoi(steps_env) : 1000;
    steps = steps < 100 ? 100 : steps;
    char duration[64], save_every[64];
    snprintf(duration, sizeof(duration), "duration=%.17g", steps * 1e-3);
    snprintf(save_every, sizeof(save_every), "save_every=%.17g",
             steps * 1e-5);
    const char *final_only[] = {"dt=0.001", duration, NULL};
    const char *saves[] = {"dt=0.001", duration, save_every, NULL};
    bench(sys, "final state", final_only, n, reps, false, false);
    bench(sys, "101 saves", saves, n, reps, false, false);
    bench(sys, "final, into", final_only, n, reps, false, true);
    /* The same in one chunk: what the two streams' overlap gains, and the
     * kernel time of one launch (to set beside a hand-written kernel's). */
    const char *final_one[] = {"dt=0.001", duration, "pipeline_chunks=1",
                               NULL};
    const char *saves_one[] = {"dt=0.001", duration, save_every,
                               "pipeline_chunks=1", NULL};
    bench(sys, "final, 1 chunk", final_one, n, reps, true, false);
    bench(sys, "saves, 1 chunk", saves_one, n, reps, true, false);
    cubie_system_free(sys);
    return 0;
}
