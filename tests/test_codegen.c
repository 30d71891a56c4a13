/* Code generation checks: every explicit method in both precisions
 * compiles under NVRTC for sm_90; the PTX of a float32 kernel holds no
 * f64 instruction; gcc's promotion lint is clean; the source is
 * deterministic, holds no run-time offset arithmetic, and relocating
 * buffers between shared and local memory changes no result. */
#include "testutil.h"

#include <ctype.h>
#include <math.h>
#include <unistd.h>

#include "internal.h"
#include "tables.h"
#include "template.h"

static char *generate(const cubie_system *sys, const char *const *pairs)
{
    cubie_error err = {0};
    cubie_options *o = tu_options(pairs);
    char *src = NULL;
    tu_ok(cubie_generate(sys, o, &src, &err), &err);
    cubie_options_free(o);
    return src;
}

static cubie_system *lorenz(void)
{
    char path[512];
    cubie_error err = {0};
    cubie_system *sys = NULL;
    tu_ok(cubie_system_load(tu_spec_path("lorenz.json", path, sizeof(path)),
                            &sys, &err), &err);
    return sys;
}

/* An f64 PTX instruction: an opcode with a .f64 type, e.g. add.f64,
 * cvt.f64.f32 or cvt.rn.f32.f64. */
static const char *find_f64(const char *ptx)
{
    return strstr(ptx, ".f64");
}

/* Every algorithm name (methods.def): explicit, the single-solve
 * implicit methods, DIRK and FIRK, Rosenbrock-W. */
static int all_methods(const char **out, int max)
{
    int n = 0;
    for (int m = 0; m < CB_METHOD_COUNT && n < max; m++) {
        out[n++] = cb_methods[m].name;
    }
    return n;
}

static void every_method_should_compile_under_nvrtc(void **state)
{
    (void)state;
    if (!cb_nvrtc_available()) {
        skip();
    }
    cubie_system *sys = lorenz();
    const char *fast[] = {"--Ofast-compile=max", NULL};
    const char *names[64];
    int n_names = all_methods(names, 64);
    assert_int_equal(n_names, 11 + 3 + 10 + 3);
    for (int m = 0; m < n_names; m++) {
        for (int p = 0; p < 2; p++) {
            char algo[64];
            snprintf(algo, sizeof(algo), "algorithm=%s", names[m]);
            const char *pairs[] = {algo, p ? "precision=float64"
                                           : "precision=float32", NULL};
            char *src = generate(sys, pairs);
            cubie_error err = {0};
            char *img = NULL, *log = NULL;
            size_t len = 0;
            tu_ok(cb_nvrtc_compile(src, "sm_90", fast, &img, &len, &log,
                                   &err), &err);
            assert_true(len > 0);
            free(img);
            free(log);
            if (p == 0) {
                tu_ok(cb_nvrtc_compile(src, "compute_90", fast, &img, &len,
                                       NULL, &err), &err);
                const char *hit = find_f64(img);
                if (hit != NULL) {
                    print_error("%s float32 PTX has an f64 instruction: "
                                "%.60s\n", names[m], hit);
                }
                assert_null(hit);
                /* The kernel is really there. */
                assert_non_null(strstr(img, ".entry cubie_kernel"));
                free(img);
            }
            free(src);
        }
    }
    cubie_system_free(sys);
}

/* Every summary metric, of states and observables, with a variable
 * selection, under an adaptive controller: valid CUDA, and a float32
 * kernel without an f64 instruction. */
static void every_summary_metric_should_compile_under_nvrtc(void **state)
{
    (void)state;
    if (!cb_nvrtc_available()) {
        skip();
    }
    static const char json[] =
        "{\"states\": {\"x\": 1.0, \"y\": 0.0}, \"parameters\": {\"k\": 2},"
        " \"observables\": [\"e\"], \"equations\": [\"dx = y\","
        " \"dy = -k * x\", \"e = x * x + y * y\"]}";
    cubie_system *sys = tu_system(json);
    const char *fast[] = {"--Ofast-compile=max", NULL};
    for (int p = 0; p < 2; p++) {
        const char *pairs[] = {
            "algorithm=tsit5",
            p ? "precision=float64" : "precision=float32",
            "output_types=state,mean,max,min,rms,std,max_magnitude,"
            "peaks[2],negative_peaks[3],dxdt_max,dxdt_min,d2xdt2_max,"
            "d2xdt2_min,iteration_counters",
            "save_variables=y", "summarise_variables=x,e",
            "state_summary_location=shared", NULL};
        char *src = generate(sys, pairs);
        assert_non_null(strstr(src, "state_summaries_out"));
        cubie_error err = {0};
        char *img = NULL;
        size_t len = 0;
        tu_ok(cb_nvrtc_compile(src, p ? "sm_90" : "compute_90", fast, &img,
                               &len, NULL, &err), &err);
        if (p == 0) {
            const char *hit = find_f64(img);
            if (hit != NULL) {
                print_error("float32 summary PTX has an f64 instruction: "
                            "%.60s\n", hit);
            }
            assert_null(hit);
        }
        free(img);
        free(src);
    }
    cubie_system_free(sys);
}

/* Sampled drivers through every family's right-hand side (the explicit
 * stages, Newton's residual and J v, Rosenbrock's time term with the
 * drivers' rates), wrapping or not: valid CUDA, no f64 in float32. */
static void driven_kernels_should_compile_under_nvrtc(void **state)
{
    (void)state;
    if (!cb_nvrtc_available()) {
        skip();
    }
    static const char json[] =
        "{\"states\": {\"x\": 1.0, \"y\": 0.0}, \"drivers\": [\"I\", \"g\"],"
        " \"observables\": [\"e\"], \"equations\": [\"dx = y + I\","
        " \"dy = -g * x - y * I\", \"e = x * g\"]}";
    cubie_system *sys = tu_system(json);
    const char *fast[] = {"--Ofast-compile=max", NULL};
    const char *algos[] = {"algorithm=tsit5", "algorithm=kvaerno5",
                           "algorithm=rodas3p", "algorithm=radau_iia_5"};
    for (int a = 0; a < 4; a++) {
        for (int w = 0; w < 2; w++) {
            const char *pairs[] = {algos[a], "precision=float32",
                                   w ? "driver_wrap=false"
                                     : "driver_wrap=true",
                                   "driver_order=5",
                                   "output_types=state,observables", NULL};
            char *src = generate(sys, pairs);
            assert_non_null(strstr(src, "cb_driver("));
            cubie_error err = {0};
            char *img = NULL;
            size_t len = 0;
            tu_ok(cb_nvrtc_compile(src, "compute_90", fast, &img, &len,
                                   NULL, &err), &err);
            const char *hit = find_f64(img);
            if (hit != NULL) {
                print_error("%s: float32 PTX has an f64 instruction: "
                            "%.60s\n", algos[a], hit);
            }
            assert_null(hit);
            if (a == 2) { /* the time term reads the drivers' rates */
                assert_non_null(strstr(src, "cb_driver_dt(driver_coeffs"));
            }
            free(img);
            free(src);
        }
    }
    cubie_system_free(sys);
}

static void a_planted_error_should_come_back_with_the_nvrtc_log(void **st)
{
    (void)st;
    if (!cb_nvrtc_available()) {
        skip();
    }
    cubie_error err = {0};
    char *img = NULL, *log = NULL;
    size_t len = 0;
    cubie_status s = cb_nvrtc_compile(
        "extern \"C\" __global__ void k(float *x) { x[0] = y; }", "sm_90",
        NULL, &img, &len, &log, &err);
    assert_int_equal(s, CUBIE_E_COMPILE);
    assert_non_null(err.log);
    assert_non_null(strstr(err.log, "identifier \"y\" is undefined"));
    assert_null(img);
    free(log);
    cubie_error_clear(&err);
}

static bool have_cc(void)
{
    return system("cc --version > /dev/null 2>&1") == 0;
}

/* gcc flags exactly what NVRTC cannot: any promotion to double. */
static void float32_source_should_pass_the_promotion_lint(void **state)
{
    (void)state;
    if (!have_cc()) {
        skip();
    }
    char path[512];
    const char *specs[] = {"lorenz.json", "van_der_pol.json",
                           "hodgkin_huxley.json", "fitzhugh_nagumo.json",
                           "brusselator.json", "damped_pendulum.json",
                           "robertson.json", "hires.json",
                           "van_der_pol_stiff.json", "pollution.json",
                           NULL};
    const char *algos[] = {"algorithm=tsit5", "algorithm=vern7",
                           "algorithm=euler", "algorithm=radau_iia_5",
                           "algorithm=kvaerno5", "algorithm=rodas3p",
                           "algorithm=crank_nicolson", NULL};
    char dir[] = "/tmp/cubie-lint-XXXXXX";
    assert_non_null(mkdtemp(dir));
    for (int s = 0; specs[s]; s++) {
        cubie_error err = {0};
        cubie_system *sys = NULL;
        tu_ok(cubie_system_load(tu_spec_path(specs[s], path, sizeof(path)),
                                &sys, &err), &err);
        for (int a = 0; algos[a]; a++) {
            const char *pairs[] = {algos[a], "precision=float32", NULL};
            char *src = generate(sys, pairs);
            char file[600], cmd[1400];
            snprintf(file, sizeof(file), "%s/k.c", dir);
            FILE *f = fopen(file, "w");
            assert_non_null(f);
            fputs(src, f);
            fclose(f);
            snprintf(cmd, sizeof(cmd),
                     "cc -std=c11 -Wall -Wextra -Wdouble-promotion "
                     "-Wfloat-conversion -Werror -fopenmp -fsyntax-only -x c '%s'",
                     file);
            int rc = system(cmd);
            if (rc != 0) {
                print_error("lint failed for %s %s\n", specs[s], algos[a]);
            }
            assert_int_equal(rc, 0);
            unlink(file);
            free(src);
        }
        cubie_system_free(sys);
    }
    rmdir(dir);
}

static void generation_should_be_deterministic(void **state)
{
    (void)state;
    cubie_system *sys = lorenz();
    const char *pairs[] = {"algorithm=dormand-prince-853", NULL};
    char *a = generate(sys, pairs);
    char *b = generate(sys, pairs);
    assert_string_equal(a, b);
    free(a);
    free(b);
    cubie_system_free(sys);
}

/* Every pool pointer is the pool plus a literal: `shared + 12`. */
static void buffer_offsets_should_be_literals(void **state)
{
    (void)state;
    cubie_system *sys = lorenz();
    const char *pairs[] = {"algorithm=tsit5", "state_location=shared",
                           "stage_accumulator_location=shared",
                           "parameters_location=shared", NULL};
    char *src = generate(sys, pairs);
    const char *pools[] = {"= shared + ", "= persistent + ", "= shared_i + ",
                           "= persistent_i + ", NULL};
    int found = 0;
    for (int p = 0; pools[p]; p++) {
        for (const char *s = strstr(src, pools[p]); s != NULL;
             s = strstr(s + 1, pools[p])) {
            const char *num = s + strlen(pools[p]);
            assert_true(isdigit((unsigned char)num[0]));
            while (isdigit((unsigned char)*num)) {
                num++;
            }
            assert_int_equal(*num, ';');
            found++;
        }
    }
    assert_true(found >= 4);
    assert_non_null(strstr(src, "real *state = shared + 0;"));
    free(src);
    cubie_system_free(sys);
}

/* Relocating buffers changes where they live, never what is computed. */
static void relocated_buffers_should_give_identical_results(void **state)
{
    (void)state;
    cubie_system *sys = lorenz();
    cubie_error err = {0};
    cubie_batch *b = NULL;
    const char *names[] = {"rho"};
    double lo[] = {0.0}, hi[] = {28.0};
    size_t count[] = {7};
    tu_ok(cubie_batch_grid(sys, 1, names, lo, hi, count, &b, &err), &err);
    const char *local[] = {"algorithm=tsit5", "precision=float64", NULL};
    const char *shared[] = {"algorithm=tsit5", "precision=float64",
                            "state_location=shared",
                            "proposed_state_location=shared",
                            "parameters_location=shared",
                            "stage_rhs_location=shared",
                            "stage_accumulator_location=shared",
                            "dt_location=shared",
                            "accept_step_location=shared",
                            "proposed_counters_location=shared", NULL};
    const char *ropt[] = {"dt=0.001", "save_every=0.5", NULL};
    cubie_solver *s1 = tu_compile(sys, local);
    cubie_solver *s2 = tu_compile(sys, shared);
    assert_non_null(strstr(cubie_solver_source(s2), "= shared_i + "));
    cubie_result *r1 = tu_run(s1, b, ropt);
    cubie_result *r2 = tu_run(s2, b, ropt);
    size_t n = cubie_result_n_runs(r1) * cubie_result_n_saves(r1) *
               cubie_result_n_vars(r1);
    assert_memory_equal(cubie_result_state_data(r1),
                        cubie_result_state_data(r2), n * sizeof(double));
    cubie_result_free(r1);
    cubie_result_free(r2);
    cubie_solver_free(s1);
    cubie_solver_free(s2);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

static void every_spec_should_generate_and_run(void **state)
{
    (void)state;
    const char *specs[] = {"lorenz.json", "van_der_pol.json",
                           "hodgkin_huxley.json", "fitzhugh_nagumo.json",
                           "brusselator.json", "damped_pendulum.json", NULL};
    char path[512];
    for (int s = 0; specs[s]; s++) {
        cubie_error err = {0};
        cubie_system *sys = NULL;
        tu_ok(cubie_system_load(tu_spec_path(specs[s], path, sizeof(path)),
                                &sys, &err), &err);
        const char *copt[] = {"algorithm=rk4", "precision=float64", NULL};
        cubie_solver *sv = tu_compile(sys, copt);
        cubie_batch *b = NULL;
        tu_ok(cubie_batch_new(sys, 4, &b, &err), &err);
        const char *ropt[] = {"dt=0.001", "duration=1", NULL};
        cubie_result *r = tu_run(sv, b, ropt);
        for (size_t i = 0; i < 4; i++) {
            assert_int_equal(cubie_result_status(r)[i], 0);
            for (size_t v = 0; v < cubie_result_n_vars(r); v++) {
                assert_true(isfinite(cubie_result_state(r, i, 1, v)));
            }
        }
        cubie_result_free(r);
        cubie_batch_free(b);
        cubie_solver_free(sv);
        cubie_system_free(sys);
    }
}

/* The next comma-separated declaration of a parameter list, trimmed. */
static const char *next_param(const char *p, char *out, size_t n)
{
    while (*p == ' ' || *p == '\n' || *p == ',') {
        p++;
    }
    size_t len = strcspn(p, ",)");
    size_t end = len;
    while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\n')) {
        end--;
    }
    snprintf(out, n, "%.*s", (int)end, p);
    return p + len;
}

/* The kernel argument table (gen/kernel_args.def) is the device ABI: the
 * kernel's signature lists its entries in order with their types, the
 * host entry reads each from args[] at the table's position, the PTX entry
 * takes as many parameters, and the runtime's launch arrays hold them. */
static void the_kernel_signature_should_follow_the_argument_table(void **st)
{
    (void)st;
    /* Lorenz forced through a sampled driver, so every argument is read */
    cubie_system *sys = tu_system(
        "{\"name\": \"lorenz\", \"states\": {\"x\": 1, \"y\": 0, \"z\": 0},"
        " \"parameters\": {\"rho\": 28}, \"drivers\": [\"f\"],"
        " \"observables\": [\"r2\"], \"equations\": [\"dx = 10 * (y - x) + f\","
        " \"dy = x * (rho - z) - y\", \"dz = x * y - 8 / 3 * z\","
        " \"r2 = x * x + y * y + z * z\"]}");
    const char *pairs[] = {
        "algorithm=tsit5",
        "output_types=state,time,observables,iteration_counters,mean",
        NULL};
    char *src = generate(sys, pairs);
    const char *k = strstr(src, "cubie_kernel(");
    assert_non_null(k);
    const char *p = k + strlen("cubie_kernel(");
    char decl[160], want[200];
    for (int i = 0; i < CB_KARG_COUNT; i++) {
        p = next_param(p, decl, sizeof(decl));
        assert_string_equal(decl, cb_karg_decl((cb_karg)i, true));
    }
    assert_int_equal(*p, ')');
    /* This stack writes every output, so the host entry reads every
     * argument, each from its own slot. */
    for (int i = 0; i < CB_KARG_COUNT; i++) {
        const cb_karg_info *a = &cb_kargs[i];
        const char *t = cb_elem_type(a->elem);
        if (a->dir == CB_DIR_SCALAR) {
            snprintf(want, sizeof(want), "const %s %s = *(const %s *)args[%d];",
                     t, a->name, t, i);
        } else {
            const char *q = a->dir == CB_DIR_IN ? "const " : "";
            snprintf(want, sizeof(want), "%s%s *%s = *(%s%s *const *)args[%d];",
                     q, t, a->name, q, t, i);
        }
        if (strstr(src, want) == NULL) {
            fail_msg("the host entry lacks '%s'", want);
        }
    }
    /* The runtime's launch takes one value per table entry. */
    cb_launch l;
    assert_int_equal(sizeof(l.host) / sizeof(l.host[0]), CB_KARG_COUNT);
    assert_int_equal(sizeof(l.scalar) / sizeof(l.scalar[0]), CB_KARG_COUNT);
    if (cb_nvrtc_available()) {
        const char *fast[] = {"--Ofast-compile=max", NULL};
        cubie_error err = {0};
        char *ptx = NULL;
        size_t len = 0;
        tu_ok(cb_nvrtc_compile(src, "compute_90", fast, &ptx, &len, NULL,
                               &err), &err);
        const char *entry = strstr(ptx, ".entry cubie_kernel(");
        assert_non_null(entry);
        const char *close = strchr(entry, ')');
        int params = 0;
        for (const char *q = strstr(entry, ".param"); q != NULL && q < close;
             q = strstr(q + 1, ".param")) {
            params++;
        }
        assert_int_equal(params, CB_KARG_COUNT);
        free(ptx);
    }
    free(src);
    cubie_system_free(sys);
}

/* Every function takes only what it uses: nothing is cast to void, and
 * the kernel is bound to its block size, with the registry's layout table
 * at its head. */
static void generated_code_should_hold_no_unused_parameters(void **state)
{
    (void)state;
    const char *specs[] = {"lorenz.json", "hires.json", "robertson.json",
                           "hodgkin_huxley.json", NULL};
    const char *ctrl[] = {"step_controller=fixed", "step_controller=i",
                          "step_controller=pid", NULL};
    char path[512];
    for (int sp = 0; specs[sp] != NULL; sp++) {
        cubie_error err = {0};
        cubie_system *sys = NULL;
        tu_ok(cubie_system_load(tu_spec_path(specs[sp], path, sizeof(path)),
                                &sys, &err), &err);
        for (int m = 0; m < CB_METHOD_COUNT; m++) {
            char algo[80];
            snprintf(algo, sizeof(algo), "algorithm=%s", cb_methods[m].name);
            const int c = cb_methods[m].error_order > 0 ? m % 3 : 0;
            const char *pairs[] = {
                algo, m % 2 ? "precision=float64" : "precision=float32",
                ctrl[c], "output_types=state,time,iteration_counters",
                "preconditioner_type=jacobi,neumann", NULL};
            char *src = generate(sys, pairs);
            if (strstr(src, "(void)") != NULL) {
                fail_msg("%s %s: '%.80s'", specs[sp], algo,
                         strstr(src, "(void)"));
            }
            assert_non_null(strstr(src, "__launch_bounds__(CB_BLOCK_SIZE)"));
            assert_non_null(strstr(src, "#define CB_BLOCK_SIZE 256"));
            assert_non_null(strstr(src, "// Buffer layout (elements per run)"));
            assert_non_null(strstr(src, "// owner 'loop'"));
            free(src);
        }
        cubie_system_free(sys);
    }
}

/* The version string is the version macros'; every option's default is
 * a value the option accepts. */
static void the_version_and_defaults_should_be_consistent(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof(want), "%d.%d.%d", CUBIE_VERSION_MAJOR,
             CUBIE_VERSION_MINOR, CUBIE_VERSION_PATCH);
    assert_string_equal(cubie_version(), want);
    cubie_options *o = NULL;
    assert_int_equal(cubie_options_new(&o), CUBIE_OK);
    for (int i = 0; i < CB_OPT_COUNT; i++) {
        if (cb_opt_table[i].def[0] == '\0') {
            continue;
        }
        cubie_error err = {0};
        tu_ok(cubie_options_set(o, cb_opt_table[i].key, cb_opt_table[i].def,
                                &err), &err);
    }
    cubie_options_free(o);
    /* Settings: the per-state arrays come after every fixed entry, whose
     * offsets are the enum's. */
    bool states = false;
    for (int s = 0; s < CB_SETTING_COUNT; s++) {
        if (cb_settings[s].kind == CB_SETK_STATES) {
            states = true;
        } else {
            assert_false(states);
        }
    }
    assert_int_equal(cb_setting_offset(CB_SETTING_DT, 3), CB_SET_DT);
    assert_int_equal(cb_setting_offset(CB_SETTING_GAMMA, 3), CB_SET_GAMMA);
    assert_int_equal(cb_setting_offset(CB_SETTING_ATOL, 3),
                     CB_SET_FIXED_COUNT);
    assert_int_equal(cb_setting_offset(CB_SETTING_RTOL, 3),
                     CB_SET_FIXED_COUNT + 3);
    assert_int_equal(cb_settings_length(3), CB_SET_FIXED_COUNT + 6 * 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_method_should_compile_under_nvrtc),
        cmocka_unit_test(every_summary_metric_should_compile_under_nvrtc),
        cmocka_unit_test(driven_kernels_should_compile_under_nvrtc),
        cmocka_unit_test(a_planted_error_should_come_back_with_the_nvrtc_log),
        cmocka_unit_test(float32_source_should_pass_the_promotion_lint),
        cmocka_unit_test(generation_should_be_deterministic),
        cmocka_unit_test(buffer_offsets_should_be_literals),
        cmocka_unit_test(relocated_buffers_should_give_identical_results),
        cmocka_unit_test(every_spec_should_generate_and_run),
        cmocka_unit_test(the_kernel_signature_should_follow_the_argument_table),
        cmocka_unit_test(generated_code_should_hold_no_unused_parameters),
        cmocka_unit_test(the_version_and_defaults_should_be_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
