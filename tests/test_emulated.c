/* The cuda backend's launch path under the emulated driver
 * (tests/fakecuda, loaded by meson with LD_PRELOAD): allocation, copies,
 * kernel parameters, shared memory sizing and slicing, block and grid,
 * chunking by free device memory, events, PTX fallback, driver failures,
 * other threads, and the CLI. The emulated device runs cubie_kernel (the
 * CUDA branch of the source) built with the host backend's compiler
 * flags, and meson runs this program with CC and CXX set to compile both
 * without fused multiply-adds, so every result must equal the host
 * backend's bit for bit. Exits
 * 77 when the emulated driver is not loaded (a build without NVRTC). */
#include "testutil.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include <cuda.h>

#include "fake_cuda.h"
#include "cuda_build.h"
#include "driver.h"
#include "util.h"

static cubie_fake_cuda_stats_fn fake_stats;
static cubie_fake_cuda_fail_fn fake_fail;
static cubie_fake_cuda_config_fn fake_config;
static cubie_fake_cuda_arch_fn fake_arch;

static cubie_fake_cuda_stats stats(void)
{
    cubie_fake_cuda_stats s;
    fake_stats(&s);
    return s;
}

static cubie_system *spec(const char *name)
{
    char path[512];
    cubie_error err = {0};
    cubie_system *sys = NULL;
    tu_ok(cubie_system_load(tu_spec_path(name, path, sizeof(path)), &sys,
                            &err), &err);
    return sys;
}

/* A batch of n runs over [lo, hi] of the first parameter (of the first
 * state for a system without parameters). */
static cubie_batch *grid(const cubie_system *sys, size_t n, double lo,
                         double hi)
{
    cubie_error err = {0};
    cubie_batch *b = NULL;
    const char *names[] = {cubie_system_n_parameters(sys) > 0
                               ? cubie_system_parameter_name(sys, 0)
                               : cubie_system_state_name(sys, 0)};
    double l[] = {lo}, h[] = {hi};
    size_t count[] = {n};
    tu_ok(cubie_batch_grid(sys, 1, names, l, h, count, &b, &err), &err);
    return b;
}

/* Every output of two results, byte for byte. */
static void assert_same_result(const cubie_result *a, const cubie_result *b)
{
    const size_t runs = cubie_result_n_runs(a), saves = cubie_result_n_saves(a);
    const size_t sz = (size_t)cubie_result_precision(a);
    assert_int_equal(runs, cubie_result_n_runs(b));
    assert_int_equal(saves, cubie_result_n_saves(b));
    assert_int_equal(cubie_result_n_vars(a), cubie_result_n_vars(b));
    assert_memory_equal(cubie_result_state_data(a), cubie_result_state_data(b),
                        runs * saves * cubie_result_n_vars(a) * sz);
    assert_memory_equal(cubie_result_status(a), cubie_result_status(b),
                        runs * sizeof(int32_t));
    assert_memory_equal(cubie_result_time(a), cubie_result_time(b),
                        saves * sizeof(double));
    const void *oa = cubie_result_observable_data(a);
    const void *ob = cubie_result_observable_data(b);
    assert_true((oa == NULL) == (ob == NULL));
    if (oa != NULL) {
        assert_memory_equal(oa, ob,
                            runs * saves * cubie_result_n_observables(a) * sz);
    }
    const int32_t *ca = cubie_result_counters(a), *cb = cubie_result_counters(b);
    assert_true((ca == NULL) == (cb == NULL));
    if (ca != NULL) {
        assert_memory_equal(ca, cb, runs * saves * 4 * sizeof(int32_t));
    }
}

/* No fault so far. */
static void assert_clean(void)
{
    cubie_fake_cuda_stats s = stats();
    if (s.violations != 0) {
        print_error("emulated driver: %s\n", s.last_violation);
    }
    assert_int_equal(s.violations, 0);
}

/* No device memory, stream or event left behind: a solver keeps them for
 * its next run and frees them with itself. */
static void assert_released(void)
{
    assert_clean();
    const cubie_fake_cuda_stats st = stats();
    assert_int_equal(st.live_allocations, 0);
    assert_int_equal(st.live_streams, 0);
    assert_int_equal(st.live_events, 0);
}

/* Compile one stack for both backends, run, compare. all_ok: every run
 * must succeed (a failed run is NaN-masked alike on both sides, which
 * would compare equal whatever the kernel did). */
static void check_case(const cubie_system *sys, const cubie_batch *b,
                       const char *const *compile, const char *const *run,
                       bool all_ok)
{
    const char *host[16], *cuda[16];
    tu_with(compile, "backend=host", host);
    tu_with(compile, "backend=cuda", cuda);
    cubie_solver *sh = tu_compile(sys, host);
    cubie_solver *sg = tu_compile(sys, cuda);
    assert_string_equal(cubie_solver_backend(sg), "cuda");
    assert_string_equal(cubie_solver_arch(sg), "sm_90");
    long launches = stats().launches;
    cubie_result *rh = tu_run(sh, b, run);
    cubie_result *rg = tu_run(sg, b, run);
    assert_string_equal(cubie_result_backend(rg), "cuda");
    assert_true(stats().launches > launches);
    /* Disjoint parts of the run, on one clock (events here are float):
     * the emulated streams run one after the other. On a device the
     * kernels of one stream overlap the copies of the other. */
    assert_true(cubie_result_copy_ms(rg) > 0.0);
    assert_true(cubie_result_copy_ms(rh) == 0.0);
    assert_true(cubie_result_wall_ms(rg) + 0.01 >=
                cubie_result_kernel_ms(rg) + cubie_result_copy_ms(rg));
    assert_true(cubie_result_wall_ms(rh) >= cubie_result_kernel_ms(rh));
    assert_same_result(rh, rg);
    size_t failed = 0;
    for (size_t r = 0; r < cubie_result_n_runs(rh); r++) {
        failed += cubie_result_status(rh)[r] != 0;
    }
    if (all_ok) {
        assert_int_equal(failed, 0);
    } else {
        assert_true(failed > 0 && failed < cubie_result_n_runs(rh));
    }
    assert_clean();
    cubie_result_free(rh);
    cubie_result_free(rg);
    cubie_solver_free(sh);
    cubie_solver_free(sg);
    assert_released();
}

static void launches_should_equal_the_host_backend(void **s)
{
    (void)s;
    cubie_system *lorenz = spec("lorenz.json");
    cubie_batch *b = grid(lorenz, 1000, 0.0, 28.0); /* not a block multiple */
    const char *rk4[] = {"algorithm=classical-rk4", "precision=float32",
                         "output_types=state,observables,time", NULL};
    const char *rk4_run[] = {"dt=0.001", "save_every=0.05", NULL};
    check_case(lorenz, b, rk4, rk4_run, true);
    const char *tsit5[] = {"algorithm=tsit5", "step_controller=pi",
                           "precision=float64",
                           "output_types=state,time,iteration_counters",
                           NULL};
    const char *tol[] = {"atol=1e-8", "rtol=1e-8", "save_every=0.25", NULL};
    check_case(lorenz, b, tsit5, tol, true);
    cubie_batch_free(b);
    /* Results of over 2^20 elements: turned into the caller's layout on
     * the device and stored by several threads (runtime/layout.c, tasks of
     * 4096 runs, which 4099 fill unevenly), 4-byte (float32, the int32
     * counters) and 8-byte. */
    cubie_batch *big = grid(lorenz, 4099, 0.0, 28.0);
    const char *many_saves[] = {"dt=0.001", "save_every=0.01", NULL};
    const char *big32[] = {"algorithm=classical-rk4", "precision=float32",
                           "output_types=state,time,iteration_counters",
                           NULL};
    check_case(lorenz, big, big32, many_saves, true);
    const char *big64[] = {"algorithm=classical-rk4", "precision=float64",
                           "output_types=state,time", NULL};
    check_case(lorenz, big, big64, many_saves, true);
    cubie_batch_free(big);
    cubie_system_free(lorenz);

    /* Implicit, with Newton and Krylov counters and int32 buffers. */
    cubie_system *vdp = spec("van_der_pol_stiff.json");
    cubie_batch *bv = grid(vdp, 300, 10.0, 1000.0);
    const char *kv[] = {"algorithm=kvaerno5", "step_controller=gustafsson",
                        "precision=float64", "preconditioner_type=jacobi",
                        "linear_correction_type=bicgstab",
                        "output_types=state,iteration_counters", NULL};
    const char *kv_run[] = {"duration=2", "atol=1e-6", "rtol=1e-6",
                            "save_every=0.5", NULL};
    check_case(vdp, bv, kv, kv_run, true);
    cubie_batch_free(bv);
    cubie_system_free(vdp);
}

/* Runs that fail are flagged and NaN-masked the same way, and do not
 * disturb their neighbours. */
static void failed_runs_should_come_back_as_on_the_host(void **s)
{
    (void)s;
    cubie_system *sys = tu_system(
        "{\"name\": \"blowup\", \"states\": {\"y\": 1.0},"
        " \"parameters\": {\"p\": 0.0},"
        " \"equations\": [\"dy = p * y^2\"]}");
    cubie_batch *b = grid(sys, 257, -1.0, 3.0); /* p > 1 blows up by t = 1 */
    const char *c[] = {"algorithm=dormand-prince-54", "step_controller=pi",
                       "precision=float32", NULL};
    const char *run[] = {"duration=1.5", "max_steps=2000", NULL};
    check_case(sys, b, c, run, false);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

/* Buffers moved to shared memory: the launch carries block x per-run
 * bytes, opts in above 48 KiB, and halves the block until it fits. */
static void shared_buffers_should_size_the_launch(void **s)
{
    (void)s;
    cubie_system *sys = spec("hires.json");
    cubie_batch *b = grid(sys, 700, 0.5, 1.5);
    const char *c[] = {"algorithm=radau_iia_5", "precision=float64",
                       "step_controller=fixed", "state_location=shared",
                       "proposed_state_location=shared",
                       "stage_increment_location=shared",
                       "delta_location=shared", "residual_location=shared",
                       "stage_states_location=shared",
                       "lin_residual_location=shared",
                       "preconditioner_type=jacobi",
                       "linear_correction_type=bicgstab", NULL};
    const char *run[] = {"dt=0.05", "duration=2", NULL};
    check_case(sys, b, c, run, true);
    cubie_fake_cuda_stats st = stats();
    /* The per-run bytes as the kernel computes them. */
    const char *cuda[16];
    tu_with(c, "backend=cuda", cuda);
    cubie_solver *sv = tu_compile(sys, cuda);
    const char *src = cubie_solver_source(sv);
    static const char real_def[] = "#define CB_SHARED_STRIDE ";
    static const char int_def[] = "#define CB_SHARED_I_STRIDE ";
    const char *rd = strstr(src, real_def), *id = strstr(src, int_def);
    assert_non_null(rd);
    assert_non_null(id);
    size_t per = strtoull(rd + strlen(real_def), NULL, 10) * 8 +
                 strtoull(id + strlen(int_def), NULL, 10) * 4;
    print_message("radau f64 HIRES: %zu shared bytes a run, block %u, "
                  "%zu bytes a block, opt-in %d\n", per, st.last_block,
                  st.last_shared, st.max_dynamic_shared);
    assert_true(per > 48 * 1024 / 256); /* 256 runs would not fit 48 KiB */
    assert_int_equal(st.last_shared, st.last_block * per);
    assert_true(st.last_block < 256);
    assert_true(st.last_block * per <= 232448);
    assert_true(2 * st.last_block * per > 232448 || st.last_block == 256);
    if (st.last_shared > 48 * 1024) {
        assert_true(st.max_dynamic_shared >= (int)st.last_shared);
    }
    /* Occupancy comes from the driver for that block. */
    double occ = 0.0;
    cubie_error err = {0};
    tu_ok(cubie_solver_occupancy(sv, 64, &occ, &err), &err);
    assert_true(occ > 0.0 && occ <= 1.0);
    cubie_solver_free(sv);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

/* One run that alone needs more shared memory than a block may have. */
static void one_run_over_the_shared_limit_should_be_refused(void **s)
{
    (void)s;
    cb_sb sb;
    cb_sb_init(&sb);
    cb_sb_printf(&sb, "{\"name\": \"wide\", \"states\": {");
    for (int i = 0; i < 6000; i++) {
        cb_sb_printf(&sb, "%s\"x%d\": 1.0", i ? ", " : "", i);
    }
    cb_sb_printf(&sb, "}, \"equations\": [");
    for (int i = 0; i < 6000; i++) {
        cb_sb_printf(&sb, "%s\"dx%d = -x%d\"", i ? ", " : "", i, i);
    }
    cb_sb_printf(&sb, "]}");
    char *json = cb_sb_take(&sb);
    cubie_system *sys = tu_system(json);
    free(json);
    cubie_error err = {0};
    cubie_options *o = tu_options((const char *[]){
        "algorithm=classical-rk4", "precision=float64", "backend=cuda",
        "state_location=shared", "proposed_state_location=shared",
        "stage_rhs_location=shared", "stage_accumulator_location=shared",
        NULL});
    cubie_solver *sv = NULL;
    assert_int_equal(cubie_compile(sys, o, &sv, &err), CUBIE_E_BACKEND);
    assert_null(sv);
    print_message("%s\n", err.message);
    assert_non_null(strstr(err.message, "shared memory"));
    assert_non_null(strstr(err.message, "232448"));
    assert_non_null(strstr(err.message, "_location=local"));
    cubie_error_clear(&err);
    cubie_options_free(o);
    cubie_system_free(sys);
    assert_clean();
}

/* Free device memory decides the chunks when it is short. */
static void short_device_memory_should_split_the_batch(void **s)
{
    (void)s;
    cubie_system *sys = spec("lorenz.json");
    cubie_batch *b = grid(sys, 5000, 0.0, 28.0);
    const char *c[] = {"algorithm=tsit5", "precision=float32",
                       "output_types=state,time", "backend=cuda", NULL};
    const char *run[] = {"dt=0.01", "save_every=0.1", NULL};
    cubie_solver *sv = tu_compile(sys, c);
    cubie_result *one = tu_run(sv, b, run);
    assert_int_equal(cubie_result_n_chunks(one), 1);
    /* A second run reuses the solver's device buffers: no allocation
     * (the next one would fail). */
    fake_fail("cuMemAlloc_v2", 1, CUDA_ERROR_OUT_OF_MEMORY);
    cubie_result *again = tu_run(sv, b, run);
    fake_fail(NULL, 0, 0);
    assert_same_result(one, again);
    cubie_result_free(again);
    cubie_solver_free(sv);
    assert_released();
    /* 5000 runs x 11 saves x 4 values x 4 bytes = 880 kB of output. */
    fake_config(400000, 0); /* also restarts the peak */
    sv = tu_compile(sys, c);
    cubie_result *split = tu_run(sv, b, run);
    cubie_fake_cuda_stats st = stats();
    fake_config(0, 0);
    print_message("400 kB free: %zu chunks, peak %zu bytes\n",
                  cubie_result_n_chunks(split), st.peak_bytes);
    assert_true(cubie_result_n_chunks(split) >= 3);
    assert_true(st.peak_bytes <= 400000);
    assert_same_result(one, split);
    assert_clean();
    cubie_result_free(one);
    cubie_result_free(split);
    cubie_solver_free(sv);
    assert_released();
    cubie_batch_free(b);
    cubie_system_free(sys);
}

typedef struct {
    size_t calls, last_done, total;
    bool in_order;
} progress_log;

static void note_progress(size_t done, size_t total, void *ctx)
{
    progress_log *p = ctx;
    p->in_order = p->in_order && done > p->last_done && done <= total;
    p->calls++;
    p->last_done = done;
    p->total = total;
}

/* A large batch goes in chunks that alternate between two streams, each
 * queued before the one before it is waited for: two launches are queued
 * at once. The emulated streams run only when waited for, so a staging
 * buffer refilled before its copy ran, or a result stored before its
 * copy back, would differ from the host backend's results here. */
static void chunks_should_overlap_on_two_streams(void **s)
{
    (void)s;
    cubie_system *sys = spec("lorenz.json");
    const char *c32[] = {"algorithm=classical-rk4", "precision=float32",
                         "output_types=state,time,iteration_counters",
                         NULL};
    const char *c64[] = {"algorithm=tsit5", "precision=float64",
                         "output_types=state,observables,time", NULL};
    const char *const *stacks[] = {c32, c64};
    /* 2 x 65536 + 1000 runs: three chunks of the pipeline's least size
     * (runtime/run.c, CB_PIPE_MIN_RUNS), the last a short one. */
    cubie_batch *big = grid(sys, 2 * 65536 + 1000, 0.0, 28.0);
    const char *brief[] = {"dt=0.01", "duration=0.2", "save_every=0.1",
                           NULL};
    /* A small batch in many chunks, forced by the memory cap. */
    cubie_batch *small = grid(sys, 5000, 0.0, 28.0);
    const char *capped[] = {"dt=0.01", "duration=0.5", "save_every=0.1",
                            "memory_cap=100000", NULL};
    for (int k = 0; k < 2; k++) {
        const char *host[16], *cuda[16];
        tu_with(stacks[k], "backend=host", host);
        tu_with(stacks[k], "backend=cuda", cuda);
        cubie_solver *sh = tu_compile(sys, host);
        cubie_solver *sg = tu_compile(sys, cuda);
        fake_config(0, 0); /* restarts max_queued_launches */
        const long ops = stats().async_ops;
        cubie_result *rh = tu_run(sh, big, brief);
        cubie_result *rg = tu_run(sg, big, brief);
        assert_int_equal(cubie_result_n_chunks(rg), 3);
        assert_int_equal(stats().max_queued_launches, 2);
        assert_true(stats().async_ops > ops);
        assert_same_result(rh, rg);
        cubie_result_free(rg);
        /* pipeline_chunks=1: the batch in one chunk, the same results */
        const char *one[] = {"dt=0.01", "duration=0.2", "save_every=0.1",
                             "pipeline_chunks=1", NULL};
        rg = tu_run(sg, big, one);
        assert_int_equal(cubie_result_n_chunks(rg), 1);
        assert_same_result(rh, rg);
        cubie_result_free(rh);
        cubie_result_free(rg);

        progress_log log = {0, 0, 0, true};
        cubie_solver_set_progress(sg, note_progress, &log);
        rh = tu_run(sh, small, capped);
        rg = tu_run(sg, small, capped);
        print_message("memory_cap=100000, %s: %zu chunks\n",
                      k == 0 ? "float32" : "float64",
                      cubie_result_n_chunks(rg));
        assert_true(cubie_result_n_chunks(rg) >= 8);
        assert_int_equal(log.calls, cubie_result_n_chunks(rg));
        assert_true(log.in_order);
        assert_int_equal(log.last_done, 5000);
        assert_same_result(rh, rg);
        assert_clean();
        cubie_result_free(rh);
        cubie_result_free(rg);
        cubie_solver_free(sh);
        cubie_solver_free(sg);
        assert_released();
    }
    cubie_batch_free(big);
    cubie_batch_free(small);
    cubie_system_free(sys);
}

/* The kernel writes the device's layout (run index fastest) and the
 * device turns each output array with more than one element a run into
 * the caller's (cubie_store4 / cubie_store8) before it comes back: one
 * store per such array and chunk, none where the layouts are one (a
 * single run, one element a run, the status). The results equal the host
 * backend's, which writes the caller's layout itself. */
static void outputs_should_turn_into_the_callers_layout_on_the_device(
    void **s)
{
    (void)s;
    cubie_system *sys = spec("lorenz.json");
    const struct {
        const char *prec, *outputs, *indices, *save_every;
        size_t runs;
        long stores; /* a chunk's */
    } cases[] = {
        /* state, observable r2, counters (int32), every save */
        {"float32", "state,observables,iteration_counters", "", "0.1", 1000,
         3},
        {"float64", "state,observables,iteration_counters", "", "0.1", 999,
         3},
        /* without save_every the first and last rows: still a store */
        {"float32", "state", "", NULL, 777, 1},
        {"float64", "state", "saved_state_indices=0", NULL, 500, 1},
        /* one element a run (the mean of x over one window), and a
         * single run */
        {"float64", "mean", "summarised_state_indices=0", "0.5", 500, 0},
        {"float32", "state,observables", "", "0.1", 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char prec[64], outputs[128];
        snprintf(prec, sizeof(prec), "precision=%s", cases[i].prec);
        snprintf(outputs, sizeof(outputs), "output_types=%s",
                 cases[i].outputs);
        const char *opts[] = {"algorithm=tsit5", prec, outputs,
                              cases[i].indices[0] ? cases[i].indices : NULL,
                              NULL};
        const char *host[16], *cuda[16];
        tu_with(opts, "backend=host", host);
        tu_with(opts, "backend=cuda", cuda);
        cubie_solver *sh = tu_compile(sys, host);
        cubie_solver *sg = tu_compile(sys, cuda);
        cubie_batch *b = grid(sys, cases[i].runs, 0.0, 28.0);
        char save[64];
        snprintf(save, sizeof(save), "%s=%s",
                 strstr(cases[i].outputs, "mean") != NULL ? "summarise_every"
                                                         : "save_every",
                 cases[i].save_every != NULL ? cases[i].save_every : "");
        const char *ropt[] = {"duration=0.5",
                              cases[i].save_every != NULL ? save : NULL,
                              NULL};
        const long before = stats().store_launches;
        cubie_result *rg = tu_run(sg, b, ropt);
        const long stores = stats().store_launches - before;
        cubie_result *rh = tu_run(sh, b, ropt);
        print_message("%s %s %s, %zu runs: %ld stores\n", cases[i].prec,
                      cases[i].outputs, cases[i].indices, cases[i].runs,
                      stores);
        assert_int_equal(cubie_result_n_chunks(rg), 1);
        assert_int_equal(stores, cases[i].stores);
        assert_same_result(rh, rg);
        cubie_result_free(rh);
        cubie_result_free(rg);
        cubie_batch_free(b);
        cubie_solver_free(sh);
        cubie_solver_free(sg);
    }
    cubie_system_free(sys);
    assert_clean();
}

/* A function limited to fewer threads (registers) gets smaller blocks
 * and a grid that still covers every run. */
static void thread_limit_should_shrink_the_block(void **s)
{
    (void)s;
    cubie_system *sys = spec("lorenz.json");
    cubie_batch *b = grid(sys, 1000, 0.0, 28.0);
    fake_config(0, 96);
    const char *c[] = {"algorithm=classical-rk4", "precision=float64", NULL};
    const char *run[] = {"dt=0.001", NULL};
    check_case(sys, b, c, run, true);
    cubie_fake_cuda_stats st = stats();
    fake_config(0, 0);
    assert_int_equal(st.last_block, 96);
    assert_int_equal(st.last_grid, 11); /* ceil(1000 / 96) */
    cubie_batch_free(b);
    cubie_system_free(sys);
}

/* Each driver call that fails is named, with the driver's message, and
 * leaves no device memory behind; the next run works. */
static void driver_failures_should_be_named_and_clean(void **s)
{
    (void)s;
    cubie_system *sys = spec("lorenz.json");
    cubie_batch *b = grid(sys, 300, 0.0, 28.0);
    const char *c[] = {"algorithm=classical-rk4", "precision=float32",
                       "output_types=state,observables,iteration_counters",
                       "backend=cuda", NULL};
    cubie_solver *sv = tu_compile(sys, c);
    const long modules = stats().live_modules;
    const struct {
        const char *sym;
        int nth, code;
        const char *expect;
    } cases[] = {
        {"cuMemAlloc_v2", 3, CUDA_ERROR_OUT_OF_MEMORY, "out of memory"},
        {"cuMemcpyHtoDAsync_v2", 2, CUDA_ERROR_INVALID_VALUE,
         "cuMemcpyHtoDAsync"},
        {"cuLaunchKernel", 1, CUDA_ERROR_LAUNCH_FAILED, "cuLaunchKernel"},
        {"cuEventSynchronize", 1, CUDA_ERROR_ILLEGAL_ADDRESS,
         "illegal memory access"},
        {"cuMemcpyDtoHAsync_v2", 3, CUDA_ERROR_LAUNCH_FAILED,
         "cuMemcpyDtoHAsync"},
        {"cuStreamCreate", 1, CUDA_ERROR_OUT_OF_MEMORY, "cuStreamCreate"},
        {"cuEventElapsedTime_v2", 1, CUDA_ERROR_INVALID_HANDLE,
         "cuEventElapsedTime"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cubie_error err = {0};
        cubie_result *r = NULL;
        fake_fail(cases[i].sym, cases[i].nth, cases[i].code);
        assert_int_equal(cubie_run(sv, b, NULL, &r, &err), CUBIE_E_BACKEND);
        print_message("%s: %s\n", cases[i].sym, err.message);
        assert_null(r);
        assert_non_null(strstr(err.message, cases[i].expect));
        cubie_error_clear(&err);
        assert_clean();
    }
    fake_fail(NULL, 0, 0);
    cubie_result_free(tu_run(sv, b, NULL));
    assert_clean();
    /* Failures in the middle of a pipeline of about 20 chunks, with work
     * queued on both streams: named, nothing left queued or leaked, and
     * the next run is whole. */
    {
        cubie_batch *many = grid(sys, 5000, 0.0, 28.0);
        const char *capped[] = {"memory_cap=100000", NULL};
        const struct {
            const char *sym;
            int nth;
        } mid[] = {{"cuLaunchKernel", 3},       {"cuEventSynchronize", 3},
                   {"cuMemcpyHtoDAsync_v2", 7}, {"cuMemcpyDtoHAsync_v2", 9},
                   {"cuEventRecord", 6},        {"cuEventElapsedTime_v2", 9}};
        cubie_options *ro = tu_options(capped);
        for (size_t i = 0; i < sizeof(mid) / sizeof(mid[0]); i++) {
            cubie_error err = {0};
            cubie_result *r = NULL;
            fake_fail(mid[i].sym, mid[i].nth, CUDA_ERROR_LAUNCH_FAILED);
            assert_int_equal(cubie_run(sv, many, ro, &r, &err),
                             CUBIE_E_BACKEND);
            fake_fail(NULL, 0, 0);
            assert_null(r);
            cubie_error_clear(&err);
            assert_clean();
            assert_int_equal(stats().live_streams, 0);
        }
        cubie_options_free(ro);
        const char *hc[] = {"algorithm=classical-rk4", "precision=float32",
                            "output_types=state,observables,iteration_counters",
                            "backend=host", NULL};
        cubie_solver *sh = tu_compile(sys, hc);
        cubie_result *rg = tu_run(sv, many, capped);
        cubie_result *rh = tu_run(sh, many, capped);
        assert_true(cubie_result_n_chunks(rg) >= 8);
        assert_same_result(rh, rg);
        cubie_result_free(rg);
        cubie_result_free(rh);
        cubie_solver_free(sh);
        cubie_batch_free(many);
    }
    /* Page-locked staging refused: the run stages in ordinary memory,
     * with the same results, and frees it. */
    fake_fail("cuMemHostAlloc", 1, CUDA_ERROR_OUT_OF_MEMORY);
    {
        const char *hc[] = {"algorithm=classical-rk4", "precision=float32",
                            "output_types=state,observables,iteration_counters",
                            "backend=host", NULL};
        cubie_solver *fresh = tu_compile(sys, c), *sh = tu_compile(sys, hc);
        cubie_result *rg = tu_run(fresh, b, NULL), *rh = tu_run(sh, b, NULL);
        assert_same_result(rh, rg);
        cubie_result_free(rg);
        cubie_result_free(rh);
        cubie_solver_free(fresh);
        cubie_solver_free(sh);
    }
    fake_fail(NULL, 0, 0);
    cubie_solver_free(sv);
    assert_released();

    /* At load: the module, and the shared-memory opt-in. */
    cubie_error err = {0};
    cubie_options *o = tu_options(c);
    fake_fail("cuModuleLoadData", 1, CUDA_ERROR_INVALID_IMAGE);
    assert_int_equal(cubie_compile(sys, o, &sv, &err), CUBIE_E_BACKEND);
    assert_non_null(strstr(err.message, "cuModuleLoadData"));
    assert_non_null(strstr(err.message, "image is invalid"));
    cubie_error_clear(&err);
    fake_fail("cuFuncSetAttribute", 1, CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cubie_compile(sys, o, &sv, &err), CUBIE_E_BACKEND);
    assert_non_null(strstr(err.message, "cuFuncSetAttribute"));
    cubie_error_clear(&err);
    fake_fail(NULL, 0, 0);
    assert_int_equal(stats().live_modules, modules - 1);
    cubie_options_free(o);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

/* A device newer than NVRTC knows gets PTX for the newest architecture
 * NVRTC can build at or below its own, which the driver JIT-compiles. */
static void an_unknown_architecture_should_fall_back_to_ptx(void **s)
{
    (void)s;
    cubie_system *sys = spec("lorenz.json");
    cubie_batch *b = grid(sys, 200, 0.0, 28.0);
    const char *host[] = {"algorithm=tsit5", "precision=float32",
                          "backend=host", NULL};
    const char *cuda[] = {"algorithm=tsit5", "precision=float32",
                          "backend=cuda", NULL};
    fake_arch(9, 9);
    cubie_solver *sg = tu_compile(sys, cuda);
    fake_arch(0, 0);
    print_message("sm_99 device: built %s\n", cubie_solver_arch(sg));
    assert_string_equal(cubie_solver_arch(sg), "compute_90");
    cubie_solver *sh = tu_compile(sys, host);
    cubie_result *rh = tu_run(sh, b, NULL);
    cubie_result *rg = tu_run(sg, b, NULL);
    assert_same_result(rh, rg);
    assert_clean();
    cubie_result_free(rh);
    cubie_result_free(rg);
    cubie_solver_free(sh);
    cubie_solver_free(sg);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

typedef struct {
    cubie_solver *sv;
    const cubie_batch *b;
    cubie_result *r;
    cubie_status st;
    cubie_error err;
} thread_job;

static void *run_job(void *p)
{
    thread_job *j = p;
    j->st = cubie_run(j->sv, j->b, NULL, &j->r, &j->err);
    return NULL;
}

/* A solver compiled on one thread runs on another (the driver's current
 * context is per thread). */
static void another_thread_should_run_the_solver(void **s)
{
    (void)s;
    cubie_system *sys = spec("lorenz.json");
    cubie_batch *b = grid(sys, 500, 0.0, 28.0);
    const char *c[] = {"algorithm=classical-rk4", "precision=float32",
                       "backend=cuda", NULL};
    const long modules = stats().live_modules;
    cubie_solver *sv = tu_compile(sys, c);
    assert_int_equal(stats().live_modules, modules + 1);
    cubie_result *here = tu_run(sv, b, NULL);
    thread_job j = {.sv = sv, .b = b};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_job, &j), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    tu_ok(j.st, &j.err);
    assert_int_equal(cubie_result_n_chunks(j.r), 1);
    assert_same_result(here, j.r);
    cubie_result_free(here);
    cubie_result_free(j.r);
    cubie_solver_free(sv);
    assert_released();
    assert_int_equal(stats().live_modules, modules);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

static void devices_and_the_cli_should_use_the_driver(void **s)
{
    (void)s;
    char *text = NULL;
    cubie_error err = {0};
    tu_ok(cubie_devices(&text, &err), &err);
    print_message("%s", text);
    assert_non_null(strstr(text, "driver 13.0, 1 device"));
    assert_non_null(strstr(text, "cubie emulated device (host CPU), sm_90, "
                                 "132 SMs, 80.0 GiB"));
    free(text);

    const char *exe = getenv("CUBIE_EXE");
    assert_non_null(exe);
    char dir[] = "/tmp/cubie-emulated-XXXXXX", spec_path[512], cmd[2048];
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd),
             "'%s' run '%s' --set backend=cuda --set dt=0.01 "
             "--grid rho=0:28:100 --out '%s/out' > '%s/log' 2>&1",
             exe, tu_spec_path("lorenz.json", spec_path, sizeof(spec_path)),
             dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd),
             "grep -q '\"backend\":[[:space:]]*\"cuda\"' "
             "'%s/out/manifest.json' && "
             "test -s '%s/out/state.npy' && test -s '%s/out/status.npy'",
             dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Sampled drivers: coefficients that fit go to the kernel's constant
 * memory (one copy a run), larger recordings are read from the argument;
 * either way the forced solution is right. */
static void driver_coefficients_should_use_constant_memory_while_they_fit(
    void **state)
{
    (void)state;
    cubie_system *sys = tu_system(
        "{\"states\": {\"x\": 0}, \"drivers\": [\"u\"],"
        " \"equations\": [\"dx = -x + u\"]}");
    const char *pairs[] = {"backend=cuda", "algorithm=rk4", "dt=0.01",
                           "precision=float64", "duration=3", NULL};
    cubie_solver *s = tu_compile(sys, pairs);
    const size_t counts[] = {201, 20001}; /* 3 KiB, 5 MiB of coefficients */
    for (int k = 0; k < 2; k++) {
        const size_t n = counts[k];
        const double T = 2.0 * M_PI;
        double *u = malloc(sizeof(double) * n);
        for (size_t i = 0; i < n; i++) {
            u[i] = sin(T * (double)i / (double)(n - 1));
        }
        u[n - 1] = u[0];
        char period[64];
        snprintf(period, sizeof(period), "driver_sample_period=%.17g",
                 T / (double)(n - 1));
        const char *ro[] = {period, NULL};
        cubie_batch *b = NULL;
        cubie_error err = {0};
        tu_ok(cubie_batch_new(sys, 3, &b, &err), &err);
        tu_ok(cubie_batch_set_driver(b, "u", u, n, &err), &err);
        if (k == 0) {
            /* The copy into constant memory is finished before any
             * launch (cuCtxSynchronize): its failure is the run's. */
            cubie_options *rop = tu_options(ro);
            cubie_result *bad = NULL;
            fake_fail("cuCtxSynchronize", 1, CUDA_ERROR_LAUNCH_FAILED);
            assert_int_equal(cubie_run(s, b, rop, &bad, &err),
                             CUBIE_E_BACKEND);
            fake_fail(NULL, 0, 0);
            assert_null(bad);
            assert_non_null(strstr(err.message, "cuCtxSynchronize"));
            cubie_error_clear(&err);
            cubie_options_free(rop);
        }
        const long before = stats().constant_copies;
        cubie_result *r = tu_run(s, b, ro);
        const long copies = stats().constant_copies - before;
        assert_int_equal(copies, k == 0 ? 1 : 0);
        /* x' = -x + sin t, x(0) = 0: x = (sin t - cos t + e^-t) / 2 */
        const double want = 0.5 * (sin(3.0) - cos(3.0) + exp(-3.0));
        for (size_t run = 0; run < 3; run++) {
            const double x = cubie_result_state(r, run, 1, 0);
            assert_true(fabs(x - want) < 1e-6);
        }
        cubie_result_free(r);
        cubie_batch_free(b);
        free(u);
    }
    cubie_solver_free(s);
    cubie_system_free(sys);
    assert_int_equal(stats().violations, 0);
}

int main(void)
{
    *(void **)&fake_stats = dlsym(RTLD_DEFAULT, "cubie_fake_cuda_stats_get");
    *(void **)&fake_fail = dlsym(RTLD_DEFAULT, "cubie_fake_cuda_fail");
    *(void **)&fake_config = dlsym(RTLD_DEFAULT, "cubie_fake_cuda_config");
    *(void **)&fake_arch = dlsym(RTLD_DEFAULT, "cubie_fake_cuda_arch");
    char why[512];
    if (fake_stats == NULL || fake_fail == NULL || fake_config == NULL ||
        fake_arch == NULL) {
        printf("emulated driver not loaded (LD_PRELOAD): skipped\n");
        return 77;
    }
    if (!cb_cuda_usable(why, sizeof(why))) {
        printf("the emulated driver did not start: %s\n", why);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(launches_should_equal_the_host_backend),
        cmocka_unit_test(failed_runs_should_come_back_as_on_the_host),
        cmocka_unit_test(shared_buffers_should_size_the_launch),
        cmocka_unit_test(one_run_over_the_shared_limit_should_be_refused),
        cmocka_unit_test(short_device_memory_should_split_the_batch),
        cmocka_unit_test(chunks_should_overlap_on_two_streams),
        cmocka_unit_test(
            outputs_should_turn_into_the_callers_layout_on_the_device),
        cmocka_unit_test(thread_limit_should_shrink_the_block),
        cmocka_unit_test(driver_failures_should_be_named_and_clean),
        cmocka_unit_test(an_unknown_architecture_should_fall_back_to_ptx),
        cmocka_unit_test(another_thread_should_run_the_solver),
        cmocka_unit_test(devices_and_the_cli_should_use_the_driver),
        cmocka_unit_test(
            driver_coefficients_should_use_constant_memory_while_they_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
