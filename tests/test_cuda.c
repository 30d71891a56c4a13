/* The cuda backend without a GPU: every algorithm in both precisions
 * compiles to CUBIN for sm_90 and sm_80 with its ptxas resource line;
 * the Lorenz tsit5 float32 kernel stays within 64 registers without
 * spills; the NVRTC cache returns the same artifact; backend choice with
 * no driver; chunked batches are bit-identical to one chunk. */
#include "testutil.h"

#include <math.h>
#include <unistd.h>

#include "cuda_build.h"
#include "driver.h"
#include "internal.h"
#include "tables.h"
#include "tableaus.h"

static cubie_system *lorenz(void)
{
    char path[512];
    cubie_error err = {0};
    cubie_system *sys = NULL;
    tu_ok(cubie_system_load(tu_spec_path("lorenz.json", path, sizeof(path)),
                            &sys, &err), &err);
    return sys;
}

static void every_algorithm_should_build_cubin_for_sm_90_and_sm_80(void **s)
{
    (void)s;
    if (!cb_nvrtc_available()) {
        skip();
    }
    cubie_system *sys = lorenz();
    const char *archs[] = {"sm_90", "sm_80"};
    const char *names[64];
    int n = 0;
    for (int m = 0; m < CB_METHOD_COUNT; m++) {
        names[n++] = cb_methods[m].name;
    }
    for (int m = 0; m < n; m++) {
        for (int p = 0; p < 2; p++) {
            char algo[64];
            snprintf(algo, sizeof(algo), "algorithm=%s", names[m]);
            const char *pairs[] = {algo, p ? "precision=float64"
                                           : "precision=float32",
                                   "opt_level=fast-compile", NULL};
            cubie_options *o = tu_options(pairs);
            for (int a = 0; a < 2; a++) {
                cubie_error err = {0};
                cubie_kernel_resources res;
                char *img = NULL;
                size_t len = 0;
                tu_ok(cubie_build_cuda(sys, o, archs[a], &img, &len, &res,
                                       &err), &err);
                /* A CUBIN is an ELF file. */
                assert_true(len > 4 && memcmp(img, "\177ELF", 4) == 0);
                assert_true(res.found);
                assert_true(res.registers > 0 && res.registers <= 255);
                /* The CUBIN's own record agrees with ptxas's log (the
                 * fallback for an NVRTC that logs nothing). */
                if (strncmp(archs[a], "sm_", 3) == 0) {
                    cb_resources cr;
                    assert_true(cb_cubin_resources(img, len, &cr));
                    assert_int_equal(cr.registers, res.registers);
                }
                print_message("%-22s %s %s: %3d registers, %d/%d bytes "
                              "spilled, %d bytes stack\n", names[m],
                              p ? "f64" : "f32", archs[a], res.registers,
                              res.spill_stores, res.spill_loads, res.stack);
                free(img);
            }
            cubie_options_free(o);
        }
    }
    cubie_system_free(sys);
}

/* The direct linear solve (lu) of each implicit family builds for the
 * device in both precisions, by Newton's method and factored once a
 * step (a Rosenbrock step always factors once). */
static void the_direct_solve_should_build_cubin(void **s)
{
    (void)s;
    if (!cb_nvrtc_available()) {
        skip();
    }
    cubie_system *sys = lorenz();
    const char *algos[] = {"algorithm=radau_iia_5", "algorithm=kvaerno5",
                           "algorithm=rodas3p"};
    const char *updates[] = {"jacobian_update=iteration",
                             "jacobian_update=step"};
    for (int m = 0; m < 3; m++) {
        for (int k = 0; k < 4; k++) {
            const int p = k & 1, u = k >> 1;
            if (m == 2 && u == 1) {
                continue;
            }
            const char *pairs[] = {algos[m],
                                   p ? "precision=float64"
                                     : "precision=float32",
                                   "linear_correction_type=lu", updates[u],
                                   "opt_level=fast-compile", NULL};
            cubie_options *o = tu_options(pairs);
            cubie_error err = {0};
            cubie_kernel_resources res;
            tu_ok(cubie_build_cuda(sys, o, "sm_90", NULL, NULL, &res, &err),
                  &err);
            print_message("%-22s lu %-9s %s sm_90: %3d registers, %d/%d "
                          "bytes spilled, %d bytes stack\n", algos[m] + 10,
                          updates[u] + 16, p ? "f64" : "f32", res.registers,
                          res.spill_stores, res.spill_loads, res.stack);
            assert_true(res.found);
            cubie_options_free(o);
        }
    }
    cubie_system_free(sys);
}

static void lorenz_tsit5_float32_should_fit_64_registers_without_spills(
    void **s)
{
    (void)s;
    if (!cb_nvrtc_available()) {
        skip();
    }
    cubie_system *sys = lorenz();
    const char *pairs[] = {"algorithm=tsit5", "precision=float32", NULL};
    cubie_options *o = tu_options(pairs);
    cubie_error err = {0};
    cubie_kernel_resources res;
    tu_ok(cubie_build_cuda(sys, o, "sm_90", NULL, NULL, &res, &err), &err);
    print_message("lorenz tsit5 float32 sm_90: %d registers, %d/%d bytes "
                  "spilled, %d bytes stack\n", res.registers,
                  res.spill_stores, res.spill_loads, res.stack);
    assert_true(res.found);
    assert_int_equal(res.spill_stores, 0);
    assert_int_equal(res.spill_loads, 0);
    assert_true(res.registers <= 64);
    cubie_options_free(o);
    cubie_system_free(sys);
}

static void resource_lines_should_parse(void **s)
{
    (void)s;
    cb_resources r;
    cb_parse_resources(
        "ptxas info    : Compiling entry function 'cubie_kernel' for "
        "'sm_90'\nptxas info    : Function properties for cubie_kernel\n"
        "ptxas         .     24 bytes stack frame, 8 bytes spill stores, "
        "12 bytes spill loads\nptxas info    : Used 255 registers, used 1 "
        "barriers, 2552 bytes smem\n", &r);
    assert_true(r.found);
    assert_int_equal(r.registers, 255);
    assert_int_equal(r.stack, 24);
    assert_int_equal(r.spill_stores, 8);
    assert_int_equal(r.spill_loads, 12);
    assert_int_equal(r.smem, 2552);
    cb_parse_resources("no ptxas here", &r);
    assert_false(r.found);
    /* Other entry functions before and after it (ptxas lists the stores
     * first at the default optimisation level): cubie_kernel's block. */
    cb_parse_resources(
        "ptxas info    : Compiling entry function 'cubie_store8' for "
        "'sm_90'\nptxas info    : Function properties for cubie_store8\n"
        "ptxas         .     0 bytes stack frame, 0 bytes spill stores, "
        "0 bytes spill loads\nptxas info    : Used 16 registers\n"
        "ptxas info    : Compiling entry function 'cubie_kernel' for "
        "'sm_90'\nptxas info    : Function properties for cubie_kernel\n"
        "ptxas         .     40 bytes stack frame, 4 bytes spill stores, "
        "8 bytes spill loads\nptxas info    : Used 176 registers, 96 bytes "
        "smem\nptxas info    : Compiling entry function 'cubie_store4' for "
        "'sm_90'\nptxas info    : Function properties for cubie_store4\n"
        "ptxas         .     0 bytes stack frame, 0 bytes spill stores, "
        "0 bytes spill loads\nptxas info    : Used 12 registers\n", &r);
    assert_true(r.found);
    assert_int_equal(r.registers, 176);
    assert_int_equal(r.stack, 40);
    assert_int_equal(r.spill_stores, 4);
    assert_int_equal(r.spill_loads, 8);
    assert_int_equal(r.smem, 96);
}

static void a_second_build_should_hit_the_cache(void **s)
{
    (void)s;
    if (!cb_nvrtc_available()) {
        skip();
    }
    char dir[] = "/tmp/cubie-cache-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *saved = getenv("CUBIE_CACHE_DIR");
    char *saved_copy = saved ? strdup(saved) : NULL;
    setenv("CUBIE_CACHE_DIR", dir, 1);
    cubie_system *sys = lorenz();
    const char *pairs[] = {"algorithm=rk4", "opt_level=fast-compile", NULL};
    cubie_options *o = tu_options(pairs);
    cubie_error err = {0};
    cubie_kernel_resources r1, r2;
    char *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    tu_ok(cubie_build_cuda(sys, o, "sm_90", &a, &la, &r1, &err), &err);
    tu_ok(cubie_build_cuda(sys, o, "sm_90", &b, &lb, &r2, &err), &err);
    print_message("NVRTC sm_90: miss %.1f ms, hit %.2f ms\n", r1.compile_ms,
                  r2.compile_ms);
    assert_false(r1.cache_hit);
    assert_true(r2.cache_hit);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_int_equal(r1.registers, r2.registers);
    /* Another option is another key. */
    cubie_options *o2 = tu_options((const char *[]){
        "algorithm=rk4", "opt_level=fast-compile", "max_registers=32",
        NULL});
    cubie_kernel_resources r3;
    tu_ok(cubie_build_cuda(sys, o2, "sm_90", NULL, NULL, &r3, &err), &err);
    assert_false(r3.cache_hit);
    assert_true(r3.registers <= 32);
    free(a);
    free(b);
    cubie_options_free(o);
    cubie_options_free(o2);
    cubie_system_free(sys);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    if (saved_copy != NULL) {
        setenv("CUBIE_CACHE_DIR", saved_copy, 1);
        free(saved_copy);
    } else {
        unsetenv("CUBIE_CACHE_DIR");
    }
}

/* A generated kernel that NVRTC rejects: the message holds the log and
 * the path of the dumped source, which is the source. */
static void a_failed_build_should_dump_its_source(void **s)
{
    (void)s;
    if (!cb_nvrtc_available()) {
        skip();
    }
    const char *bad = "extern \"C\" __global__ void cubie_kernel(float *x)"
                      " { x[0] = undefined_name; }\n";
    cb_nvrtc_opts o = {.arch = "sm_90", .fast_compile = true,
                       .use_cache = false};
    cb_artifact a;
    cubie_error err = {0};
    assert_int_equal(cb_nvrtc_build(bad, &o, &a, &err), CUBIE_E_COMPILE);
    assert_non_null(strstr(err.message, "undefined_name"));
    assert_non_null(strstr(err.message, "source dumped to "));
    assert_true(err.dump_path[0] != '\0');
    assert_non_null(strstr(err.message, err.dump_path));
    FILE *f = fopen(err.dump_path, "rb");
    assert_non_null(f);
    char buf[256] = {0};
    assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
    fclose(f);
    assert_string_equal(buf, bad);
    unlink(err.dump_path);
    cubie_error_clear(&err);
}

static void without_a_driver_auto_should_fall_back_to_host(void **s)
{
    (void)s;
    char why[512];
    if (cb_cuda_usable(why, sizeof(why))) {
        skip(); /* a GPU machine: the gpu suite covers this */
    }
    cubie_system *sys = lorenz();
    cubie_solver *sv = tu_compile(sys, (const char *[]){"backend=auto",
                                                        NULL});
    assert_string_equal(cubie_solver_backend(sv), "host");
    assert_non_null(strstr(cubie_solver_backend_reason(sv), "backend=auto"));
    assert_non_null(strstr(cubie_solver_backend_reason(sv), why));
    cubie_solver_free(sv);
    cubie_options *o = tu_options((const char *[]){"backend=cuda", NULL});
    cubie_error err = {0};
    assert_int_equal(cubie_compile(sys, o, &sv, &err), CUBIE_E_BACKEND);
    assert_null(sv);
    assert_non_null(strstr(err.message, "backend=cuda"));
    assert_non_null(strstr(err.message, why));
    cubie_error_clear(&err);
    char *text = NULL;
    assert_int_equal(cubie_devices(&text, &err), CUBIE_E_BACKEND);
    assert_null(text);
    cubie_error_clear(&err);
    cubie_options_free(o);
    cubie_system_free(sys);
}

/* The toolkit's stub libcuda exports every entry point but is no driver:
 * cubie must find all its symbols (the _v2 names) and then report the
 * stub, not crash or hang. Run in a child process: the driver is loaded
 * once per process. */
static void a_stub_driver_should_be_reported_as_such(void **s)
{
    (void)s;
    const char *stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
    const char *exe = getenv("CUBIE_EXE");
    if (access(stub, R_OK) != 0 || exe == NULL) {
        skip();
    }
    char dir[] = "/tmp/cubie-stub-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char link[128], cmd[4096];
    snprintf(link, sizeof(link), "%s/libcuda.so.1", dir);
    assert_int_equal(symlink(stub, link), 0);
    /* Ahead of the folders the program needs (deplibs on a device
     * machine), and without a preloaded driver (the emulated one). */
    const char *path = getenv("LD_LIBRARY_PATH");
    snprintf(cmd, sizeof(cmd),
             "env -u LD_PRELOAD LD_LIBRARY_PATH='%s%s%s' '%s' devices 2>&1",
             dir, path != NULL && *path ? ":" : "", path ? path : "", exe);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[1024] = {0};
    size_t got = fread(out, 1, sizeof(out) - 1, p);
    int rc = pclose(p);
    (void)got;
    print_message("%s", out);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "CUDA_ERROR_STUB_LIBRARY"));
    assert_null(strstr(out, "lacks"));
    unlink(link);
    rmdir(dir);
}

static void chunked_batches_should_be_bit_identical(void **s)
{
    (void)s;
    cubie_system *sys = lorenz();
    cubie_error err = {0};
    cubie_batch *b = NULL;
    const char *names[] = {"rho", "x"};
    double lo[] = {0.0, -1.0}, hi[] = {28.0, 1.0};
    size_t count[] = {50, 20};
    tu_ok(cubie_batch_grid(sys, 2, names, lo, hi, count, &b, &err), &err);
    const char *copt[] = {"algorithm=tsit5", "precision=float64",
                          "backend=host",
                          "output_types=state,time,observables,"
                          "iteration_counters",
                          NULL};
    cubie_solver *sv = tu_compile(sys, copt);
    const char *one[] = {"save_every=0.25", NULL};
    /* 1000 runs; a run takes (3+1) + 5 x (4 + 1) + 5 x 4 ints + 1 ... a
     * cap of 100 kB makes several chunks. */
    const char *cap[] = {"save_every=0.25", "memory_cap=100000", NULL};
    cubie_result *r1 = tu_run(sv, b, one);
    cubie_result *r2 = tu_run(sv, b, cap);
    print_message("%zu runs in %zu chunks\n", cubie_result_n_runs(r2),
                  cubie_result_n_chunks(r2));
    assert_int_equal(cubie_result_n_chunks(r1), 1);
    assert_true(cubie_result_n_chunks(r2) >= 3);
    size_t n = cubie_result_n_runs(r1) * cubie_result_n_saves(r1);
    assert_memory_equal(cubie_result_state_data(r1),
                        cubie_result_state_data(r2),
                        n * cubie_result_n_vars(r1) * sizeof(double));
    assert_memory_equal(cubie_result_observable_data(r1),
                        cubie_result_observable_data(r2),
                        n * cubie_result_n_observables(r1) * sizeof(double));
    assert_memory_equal(cubie_result_counters(r1), cubie_result_counters(r2),
                        n * 4 * sizeof(int32_t));
    assert_memory_equal(cubie_result_status(r1), cubie_result_status(r2),
                        cubie_result_n_runs(r1) * sizeof(int32_t));
    cubie_result_free(r1);
    cubie_result_free(r2);
    /* A cap below one run is refused, naming the option. */
    cubie_options *o = tu_options((const char *[]){"memory_cap=10", NULL});
    cubie_result *r = NULL;
    assert_int_equal(cubie_run(sv, b, o, &r, &err), CUBIE_E_OPTION);
    assert_string_equal(err.path, "memory_cap");
    cubie_error_clear(&err);
    cubie_options_free(o);
    cubie_solver_free(sv);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_algorithm_should_build_cubin_for_sm_90_and_sm_80),
        cmocka_unit_test(the_direct_solve_should_build_cubin),
        cmocka_unit_test(
            lorenz_tsit5_float32_should_fit_64_registers_without_spills),
        cmocka_unit_test(resource_lines_should_parse),
        cmocka_unit_test(a_second_build_should_hit_the_cache),
        cmocka_unit_test(a_failed_build_should_dump_its_source),
        cmocka_unit_test(without_a_driver_auto_should_fall_back_to_host),
        cmocka_unit_test(a_stub_driver_should_be_reported_as_such),
        cmocka_unit_test(chunked_batches_should_be_bit_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
