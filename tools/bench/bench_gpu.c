/* GPU benchmark (not a test), for the GPU checklist: the Lorenz ensemble
 * of 2^20 and 2^22 runs, float32, classical RK4 at dt = 1e-3 over
 * t in [0, 1], final state only; then tsit5 under the pi controller at
 * atol = rtol = 1e-6; then the implicit cases: stiff Van der Pol (mu from
 * 100 to 1000, t in [0, 2000]) with kvaerno5 (float64) and ros3p
 * (float32) under the gustafsson controller, kvaerno5 with the default
 * direct solve, HIRES with radau_iia_5's defaults (float64), POLLU (20
 * states) with radau_iia_5 on lu (the default) and bicgstab; and the
 * original's two lorenz_mean_runtime.py configurations (`fixed`,
 * `adaptive`). Prints, per case: compile
 * time (cold, cache off), registers, spills, occupancy at the block size,
 * and the kernel time (CUDA events) as the median and minimum of many
 * launches (at most 11 for the implicit cases), each batch in one launch
 * (pipeline_chunks=1; bench_runpath times the two-stream pipeline).
 *   bench_gpu SPECS_DIR [repeats] [shrink]
 * shrink k divides every batch by 2^k (a dry run of this program on a
 * slow or emulated device). Exits 77 with a message when no CUDA device
 * is usable. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "cubie.h"

static void die(cubie_status st, cubie_error *err)
{
    fprintf(stderr, "bench_gpu: %s: %s\n", cubie_status_str(st),
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

static int shrink;

/* n runs (divided by 2^shrink) over [lo, hi] of the parameter `param`. */
static void bench(cubie_system *sys, const char *label,
                  const char *const *copt, const char *const *ropt,
                  const char *param, double lo_v, double hi_v, size_t n,
                  int reps)
{
    n >>= shrink;
    n = n > 0 ? n : 1;
    cubie_error err = {0};
    cubie_options *o = opts(copt);
    cubie_solver *s = NULL;
    cubie_status st = cubie_compile(sys, o, &s, &err);
    if (st != CUBIE_OK) {
        die(st, &err);
    }
    cubie_kernel_resources res;
    st = cubie_build_cuda(sys, o, cubie_solver_arch(s), NULL, NULL, &res,
                          &err);
    if (st != CUBIE_OK) {
        die(st, &err);
    }
    double occ = 0.0;
    int bs = 256;
    for (int i = 0; copt[i]; i++) {
        if (strncmp(copt[i], "blocksize=", 10) == 0) {
            bs = atoi(copt[i] + 10);
        }
    }
    for (int i = 0; ropt[i]; i++) {
        if (strncmp(ropt[i], "blocksize=", 10) == 0) {
            bs = atoi(ropt[i] + 10);
        }
    }
    cubie_solver_occupancy(s, bs, &occ, &err);
    cubie_error_clear(&err);
    const char *names[] = {param};
    double lo[] = {lo_v}, hi[] = {hi_v};
    size_t count[] = {n};
    cubie_batch *b = NULL;
    st = cubie_batch_grid(sys, 1, names, lo, hi, count, &b, &err);
    if (st != CUBIE_OK) {
        die(st, &err);
    }
    cubie_options *ro = opts(ropt);
    /* One launch a run, as the peers and the original time theirs: the
     * kernel time is one kernel's (bench_runpath times the pipeline). */
    if ((st = cubie_options_set(ro, "pipeline_chunks", "1", &err)) !=
        CUBIE_OK) {
        die(st, &err);
    }
    double *t = calloc((size_t)reps, sizeof(double));
    double *w = calloc((size_t)reps, sizeof(double));
    double copies = 0.0;
    size_t chunks = 0, failed = 0;
    for (int i = -1; i < reps; i++) { /* one warm-up */
        cubie_result *r = NULL;
        st = cubie_run(s, b, ro, &r, &err);
        if (st != CUBIE_OK) {
            die(st, &err);
        }
        if (i >= 0) {
            t[i] = cubie_result_kernel_ms(r);
            w[i] = cubie_result_wall_ms(r);
            copies += cubie_result_copy_ms(r) / reps;
        }
        chunks = cubie_result_n_chunks(r);
        failed = 0;
        for (size_t k = 0; k < n; k++) {
            failed += CUBIE_RUN_FAILED(cubie_result_status(r)[k]);
        }
        cubie_result_free(r);
    }
    qsort(t, (size_t)reps, sizeof(double), cmp_double);
    qsort(w, (size_t)reps, sizeof(double), cmp_double);
    /* The original's statistic too: the mean of the lowest five. */
    double low5 = 0.0, wlow5 = 0.0;
    const int k5 = reps < 5 ? reps : 5;
    for (int i = 0; i < k5; i++) {
        low5 += t[i] / k5;
        wlow5 += w[i] / k5;
    }
    printf("%-34s n=%-8zu %s | compile %.0f ms (solver %.0f ms) | %d regs, "
           "%d/%d B spill, %d B stack | occupancy %.2f at block %d | "
           "kernel median %.3f ms, min %.3f ms, low-5 mean %.3f ms over %d "
           "| run (wall) median %.3f ms, low-5 mean %.3f ms, copies %.3f ms "
           "| %zu chunk(s), %zu failed\n",
           label, n, cubie_solver_arch(s), res.compile_ms,
           cubie_solver_build_ms(s), res.registers, res.spill_stores,
           res.spill_loads, res.stack, occ, bs, t[reps / 2], t[0], low5,
           reps, w[reps / 2], wlow5, copies, chunks, failed);
    free(t);
    free(w);
    cubie_options_free(ro);
    cubie_options_free(o);
    cubie_batch_free(b);
    cubie_solver_free(s);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "specs";
    int reps = argc > 2 ? atoi(argv[2]) : 21;
    if (reps < 1) {
        reps = 1;
    }
    shrink = argc > 3 ? atoi(argv[3]) : 0;
    shrink = shrink < 0 ? 0 : shrink > 20 ? 20 : shrink;
    cubie_error err = {0};
    char *devs = NULL;
    if (cubie_devices(&devs, &err) != CUBIE_OK) {
        printf("bench_gpu skipped: %s\n", err.message);
        return 77;
    }
    printf("cubie %s\n%s", cubie_version(), devs);
    free(devs);
    char path[1024];
    snprintf(path, sizeof(path), "%s/lorenz.json", dir);
    cubie_system *sys = NULL;
    cubie_status st = cubie_system_load(path, &sys, &err);
    if (st != CUBIE_OK) {
        die(st, &err);
    }
    const char *rk4[] = {"algorithm=classical-rk4", "precision=float32",
                         "step_controller=fixed", "backend=cuda",
                         "cache=false", NULL};
    const char *rk4_run[] = {"dt=0.001", "duration=1", "blocksize=256",
                             NULL};
    bench(sys, "lorenz rk4 f32 fixed dt=1e-3", rk4, rk4_run, "rho", 0.0,
          21.0, 1u << 20, reps);
    bench(sys, "lorenz rk4 f32 fixed dt=1e-3", rk4, rk4_run, "rho", 0.0,
          21.0, 1u << 22, reps);
    const char *rk4_64[] = {"algorithm=classical-rk4", "precision=float64",
                            "step_controller=fixed", "backend=cuda",
                            "cache=false", NULL};
    bench(sys, "lorenz rk4 f64 fixed dt=1e-3", rk4_64, rk4_run, "rho", 0.0,
          21.0, 1u << 20, reps);
    const char *tsf[] = {"algorithm=tsit5", "precision=float32",
                         "step_controller=fixed", "backend=cuda",
                         "cache=false", NULL};
    bench(sys, "lorenz tsit5 f32 fixed dt=1e-3", tsf, rk4_run, "rho", 0.0,
          21.0, 1u << 20, reps);
    const char *ts[] = {"algorithm=tsit5", "precision=float32",
                        "step_controller=pi", "backend=cuda", "cache=false",
                        NULL};
    const char *ts_run[] = {"atol=1e-6", "rtol=1e-6", "duration=1",
                            "blocksize=256", NULL};
    bench(sys, "lorenz tsit5 f32 pi tol=1e-6", ts, ts_run, "rho", 0.0, 21.0,
          1u << 20, reps);
    /* The original's benchmarks/lorenz_mean_runtime.py configurations
     * (its benchmarks/lorenz_mean_runtime.py): `fixed` and `adaptive`. */
    const char *orig_fixed_run[] = {"dt=0.001", "duration=1",
                                    "save_every=1", "blocksize=64", NULL};
    bench(sys, "original 'fixed' rk4 f32 block 64", rk4, orig_fixed_run,
          "rho", 0.0, 21.0, 1u << 22, reps);
    const char *orig_ad[] = {"algorithm=radau", "precision=float32",
                             "step_controller=pid",
                             "preconditioner_type=jacobi", "backend=cuda",
                             "cache=false", NULL};
    const char *orig_ad_run[] = {"atol=1e-6", "rtol=1e-6", "dt_min=1e-12",
                                 "dt_max=1e3", "kp=1.2", "ki=0", "kd=0",
                                 "min_gain=0.1", "max_gain=5",
                                 "duration=1", "blocksize=64", NULL};
    bench(sys, "original 'adaptive' radau f32 pid", orig_ad, orig_ad_run,
          "rho", 0.0, 21.0, 1u << 20, reps < 11 ? reps : 11);
    cubie_system_free(sys);

    snprintf(path, sizeof(path), "%s/van_der_pol_stiff.json", dir);
    if ((st = cubie_system_load(path, &sys, &err)) != CUBIE_OK) {
        die(st, &err);
    }
    const int ireps = reps < 11 ? reps : 11;
    const char *kv[] = {"algorithm=kvaerno5", "precision=float64",
                        "step_controller=gustafsson",
                        "preconditioner_type=jacobi",
                        "linear_correction_type=bicgstab", "backend=cuda",
                        "cache=false", NULL};
    const char *kv_run[] = {"atol=1e-6", "rtol=1e-6", "duration=2000",
                            "blocksize=128", NULL};
    bench(sys, "vdp mu<=1e3 kvaerno5 f64 tol=1e-6", kv, kv_run, "mu", 100.0,
          1000.0, 1u << 16, ireps);
    const char *ros[] = {"algorithm=ros3p", "precision=float32",
                         "step_controller=gustafsson",
                         "preconditioner_type=jacobi",
                         "linear_correction_type=bicgstab", "backend=cuda",
                         "cache=false", NULL};
    const char *ros_run[] = {"atol=1e-4", "rtol=1e-4", "duration=2000",
                             "blocksize=128", NULL};
    bench(sys, "vdp mu<=1e3 ros3p f32 tol=1e-4", ros, ros_run, "mu", 100.0,
          1000.0, 1u << 16, ireps);
    /* The defaults: the direct solve (lu), Newton's method for kvaerno5's
     * 2 unknowns */
    const char *kv_lu[] = {"algorithm=kvaerno5", "precision=float64",
                           "backend=cuda", "cache=false", NULL};
    bench(sys, "vdp mu<=1e3 kvaerno5 f64 tol=1e-6 lu", kv_lu, kv_run, "mu",
          100.0, 1000.0, 1u << 16, ireps);
    cubie_system_free(sys);

    /* radau_iia_5's defaults on HIRES: lu factored once a step as one real
     * and one complex 8 x 8 block (RADAU5's transformation) */
    snprintf(path, sizeof(path), "%s/hires.json", dir);
    if ((st = cubie_system_load(path, &sys, &err)) != CUBIE_OK) {
        die(st, &err);
    }
    const char *hr[] = {"algorithm=radau_iia_5", "precision=float64",
                        "backend=cuda", "cache=false", NULL};
    const char *hr_run[] = {"atol=1e-8", "rtol=1e-6", "duration=321.8122",
                            "blocksize=64", NULL};
    bench(sys, "hires y1 in [0.5,1.5] radau_iia_5 f64 tol=1e-6 lu", hr,
          hr_run, "y1", 0.5, 1.5, 1u << 16, ireps);
    cubie_system_free(sys);

    /* POLLU's 20 states: radau_iia_5's defaults factor two 20 x 20
     * blocks a step (lu; on the host 3.75x faster than bicgstab on its 60
     * coupled unknowns, bench_stiff problems=pollution); bicgstab beside
     * it says whether the device agrees. */
    snprintf(path, sizeof(path), "%s/pollution.json", dir);
    if ((st = cubie_system_load(path, &sys, &err)) != CUBIE_OK) {
        die(st, &err);
    }
    const char *po[] = {"algorithm=radau_iia_5", "precision=float64",
                        "backend=cuda", "cache=false", NULL};
    const char *po_bi[] = {"algorithm=radau_iia_5", "precision=float64",
                           "linear_correction_type=bicgstab",
                           "backend=cuda", "cache=false", NULL};
    const char *po_run[] = {"atol=1e-8", "rtol=1e-6", "duration=60",
                            "dt=1e-6", "dt_min=1e-14", "dt_max=60",
                            "blocksize=64", NULL};
    bench(sys, "pollution y2 in [0.1,0.3] radau_iia_5 f64 tol=1e-6 lu",
          po, po_run, "y2", 0.1, 0.3, 1u << 14, ireps);
    bench(sys, "pollution y2 in [0.1,0.3] radau_iia_5 f64 tol=1e-6 "
               "bicgstab", po_bi, po_run, "y2", 0.1, 0.3, 1u << 14, ireps);
    cubie_system_free(sys);
    return 0;
}
