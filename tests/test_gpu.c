/* The gpu suite: the numerics on the cuda backend, against the host
 * backend (float64 to 1e-12 relative, float32 to 1e-5) and against exact
 * solutions. Exits 77 (skip) when no CUDA device is usable. */
#include "testutil.h"

#include <math.h>

#include "cuda_build.h"
#include "driver.h"

static const char exact_spec[] =
    "{\"name\": \"exact\", \"states\": {\"a\": 0.1, \"b\": 1.0, \"w\": 1.0},"
    " \"parameters\": {\"k\": 2.0},"
    " \"equations\": [\"da = k * a * (1 - a)\", \"db = -2 * t * b^2\","
    " \"dw = w * cos(t)\"]}";

static cubie_system *lorenz(void)
{
    char path[512];
    cubie_error err = {0};
    cubie_system *sys = NULL;
    tu_ok(cubie_system_load(tu_spec_path("lorenz.json", path, sizeof(path)),
                            &sys, &err), &err);
    return sys;
}

/* Largest relative difference of two results (scale floor 1). */
static double max_rel_diff(const cubie_result *a, const cubie_result *b)
{
    double worst = 0.0; /* a NaN anywhere makes it infinite */
    for (size_t r = 0; r < cubie_result_n_runs(a); r++) {
        for (size_t sv = 0; sv < cubie_result_n_saves(a); sv++) {
            for (size_t v = 0; v < cubie_result_n_vars(a); v++) {
                double x = cubie_result_state(a, r, sv, v);
                double y = cubie_result_state(b, r, sv, v);
                double d = fabs(x - y) / fmax(1.0, fabs(x));
                worst = d == d ? fmax(worst, d) : INFINITY;
            }
        }
    }
    return worst;
}

typedef struct {
    const char *algo, *ctrl;
    const char *run[4];
} gpu_case;

static void gpu_should_match_host(void **state)
{
    (void)state;
    cubie_system *sys = lorenz();
    cubie_error err = {0};
    cubie_batch *b = NULL;
    const char *names[] = {"rho"};
    double lo[] = {0.0}, hi[] = {28.0};
    size_t count[] = {1000}; /* not a multiple of the block */
    tu_ok(cubie_batch_grid(sys, 1, names, lo, hi, count, &b, &err), &err);
    const gpu_case cases[] = {
        {"euler", "fixed", {"dt=0.001", NULL}},
        {"classical-rk4", "fixed", {"dt=0.001", "save_every=0.1", NULL}},
        {"tsit5", "fixed", {"dt=0.002", NULL}},
        {"vern7", "fixed", {"dt=0.005", NULL}},
        {"dormand-prince-853", "fixed", {"dt=0.005", NULL}},
        {"dormand-prince-54", "pi", {"atol=1e-10", "rtol=1e-10", NULL}},
        {"tsit5", "gustafsson", {"atol=1e-10", "rtol=1e-10", NULL}},
        /* Implicit: Newton run to roundoff, so both backends agree. */
        {"radau_iia_5", "fixed", {"dt=0.01", "atol=1e-13", "rtol=1e-13"}},
        {"kvaerno5", "fixed", {"dt=0.01", "atol=1e-13", "rtol=1e-13"}},
        {"ros3p", "fixed", {"dt=0.005", "atol=1e-13", "rtol=1e-13"}},
        {"kvaerno5", "gustafsson", {"atol=1e-10", "rtol=1e-10", NULL}},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (int p = 0; p < 2; p++) {
            char algo[64], ctrl[64];
            snprintf(algo, sizeof(algo), "algorithm=%s", cases[c].algo);
            snprintf(ctrl, sizeof(ctrl), "step_controller=%s", cases[c].ctrl);
            const char *prec = p ? "precision=float64" : "precision=float32";
            const char *host[] = {algo, ctrl, prec, "backend=host", NULL};
            const char *gpu[] = {algo, ctrl, prec, "backend=cuda", NULL};
            cubie_solver *sh = tu_compile(sys, host);
            cubie_solver *sg = tu_compile(sys, gpu);
            assert_string_equal(cubie_solver_backend(sg), "cuda");
            bool adaptive = strcmp(cases[c].ctrl, "fixed") != 0;
            /* float32 cannot meet 1e-10: its adaptive runs ask for 1e-5. */
            const char *f32_adaptive[] = {"atol=1e-5", "rtol=1e-5", NULL};
            /* float32 Newton cannot reach 1e-14 either: it asks for 1e-5
             * (a tenth of 1e-4), a few float epsilons. */
            const char *f32_implicit[] = {cases[c].run[0], "atol=1e-4",
                                          "rtol=1e-4", NULL};
            const bool tight = cases[c].run[1] != NULL &&
                               strncmp(cases[c].run[1], "atol", 4) == 0;
            /* float32 fixed steps over t in [0, 1/4]: over [0, 1] the
             * rounding of a thousand steps, grown by the Lorenz flow,
             * already parts two correct float32 kernels that fuse
             * multiply-adds differently by 1.6e-5 (the host with and
             * without -ffp-contract, measured by gpu-emulated). */
            const char *f32_fixed[6];
            size_t nf = 0;
            for (; nf < 4 && cases[c].run[nf] != NULL; nf++) {
                f32_fixed[nf] = cases[c].run[nf];
            }
            f32_fixed[nf] = "duration=0.25";
            f32_fixed[nf + 1] = NULL;
            const char *const *run =
                p == 0 && adaptive ? f32_adaptive
                : p == 0 && tight  ? f32_implicit
                : p == 0           ? f32_fixed
                                   : cases[c].run;
            cubie_result *rh = tu_run(sh, b, run);
            cubie_result *rg = tu_run(sg, b, run);
            double d = max_rel_diff(rh, rg);
            /* Fixed steps agree to roundoff (1e-12 / 1e-5). Adaptive runs
             * may take differently rounded step sequences, so they agree
             * to their tolerance instead. */
            /* float32 implicit runs stop Newton at 1e-5, and the two
             * backends may stop it an iteration apart. */
            double tol = p ? (adaptive ? 1e-8 : 1e-12)
                           : (adaptive || tight ? 1e-3 : 1e-5);
            print_message("%s %s %s: host vs cuda %.2e (limit %.0e), kernel "
                          "%.2f ms on %s\n", cases[c].algo, cases[c].ctrl,
                          prec + 10, d, tol, cubie_result_kernel_ms(rg),
                          cubie_solver_arch(sg));
            assert_true(d <= tol);
            for (size_t r = 0; r < cubie_result_n_runs(rg); r++) {
                /* No run may fail: a NaN-masked pair would compare equal. */
                assert_int_equal(cubie_result_status(rh)[r], 0);
                assert_int_equal(cubie_result_status(rg)[r], 0);
            }
            cubie_result_free(rh);
            cubie_result_free(rg);
            cubie_solver_free(sh);
            cubie_solver_free(sg);
        }
    }
    cubie_batch_free(b);
    cubie_system_free(sys);
}

/* Buffers in shared memory: the block's slices, the opt-in above 48 KiB
 * (radau on HIRES, float64: about 1.1 kB a run) and the halved block. */
static void gpu_should_match_host_with_shared_buffers(void **state)
{
    (void)state;
    cubie_system *lz = lorenz();
    char path[512];
    cubie_error err = {0};
    cubie_system *hires = NULL;
    tu_ok(cubie_system_load(tu_spec_path("hires.json", path, sizeof(path)),
                            &hires, &err), &err);
    const struct {
        cubie_system *sys;
        const char *param;
        double lo, hi, tol;
        const char *copt[16];
        const char *ropt[5];
    } cases[] = {
        {lz, "rho", 0.0, 28.0, 1e-5,
         {"algorithm=tsit5", "precision=float32", "step_controller=fixed",
          "state_location=shared", "proposed_state_location=shared",
          "stage_rhs_location=shared", "stage_accumulator_location=shared",
          NULL},
         {"dt=0.002", "duration=0.25", NULL}},
        {hires, "y1", 0.5, 1.5, 1e-12,
         {"algorithm=radau_iia_5", "precision=float64",
          "step_controller=fixed", "state_location=shared",
          "proposed_state_location=shared",
          "stage_increment_location=shared", "delta_location=shared",
          "residual_location=shared", "stage_states_location=shared",
          "lin_residual_location=shared", "preconditioner_type=jacobi",
          "linear_correction_type=bicgstab", NULL},
         {"dt=0.05", "duration=2", "atol=1e-13", "rtol=1e-13", NULL}},
        /* the direct solve, its 24 x 24 matrix in shared memory (4.6 KiB
         * a run: a block of at most 32 runs) */
        {hires, "y1", 0.5, 1.5, 1e-12,
         {"algorithm=radau_iia_5", "precision=float64",
          "step_controller=fixed", "linear_correction_type=lu",
          "lu_matrix_location=shared", NULL},
         {"dt=0.05", "duration=2", "atol=1e-13", "rtol=1e-13", NULL}},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        cubie_batch *b = NULL;
        const char *names[] = {cases[c].param};
        double lo[] = {cases[c].lo}, hi[] = {cases[c].hi};
        size_t count[] = {700};
        tu_ok(cubie_batch_grid(cases[c].sys, 1, names, lo, hi, count, &b,
                               &err), &err);
        const char *host[16], *gpu[16];
        tu_with(cases[c].copt, "backend=host", host);
        tu_with(cases[c].copt, "backend=cuda", gpu);
        cubie_solver *sh = tu_compile(cases[c].sys, host);
        cubie_solver *sg = tu_compile(cases[c].sys, gpu);
        cubie_result *rh = tu_run(sh, b, cases[c].ropt);
        cubie_result *rg = tu_run(sg, b, cases[c].ropt);
        double d = max_rel_diff(rh, rg);
        print_message("%s with shared buffers: host vs cuda %.2e (limit "
                      "%.0e), kernel %.2f ms\n", cases[c].copt[0] + 10, d,
                      cases[c].tol, cubie_result_kernel_ms(rg));
        for (size_t r = 0; r < cubie_result_n_runs(rg); r++) {
            assert_int_equal(cubie_result_status(rh)[r], 0);
            assert_int_equal(cubie_result_status(rg)[r], 0);
        }
        assert_true(d <= cases[c].tol);
        cubie_result_free(rh);
        cubie_result_free(rg);
        cubie_solver_free(sh);
        cubie_solver_free(sg);
        cubie_batch_free(b);
    }
    cubie_system_free(hires);
    cubie_system_free(lz);
}

static void gpu_should_reach_exact_solutions_and_chunk_identically(void **s)
{
    (void)s;
    cubie_system *sys = tu_system(exact_spec);
    cubie_error err = {0};
    cubie_batch *b = NULL;
    const char *names[] = {"k"};
    double lo[] = {2.0}, hi[] = {2.0};
    size_t count[] = {4096};
    tu_ok(cubie_batch_grid(sys, 1, names, lo, hi, count, &b, &err), &err);
    const char *copt[] = {"algorithm=vern7", "precision=float64",
                          "step_controller=fixed", "backend=cuda",
                          "output_types=state,time", NULL};
    cubie_solver *sv = tu_compile(sys, copt);
    const char *one[] = {"dt=0.01", "save_every=0.25", NULL};
    const char *cap[] = {"dt=0.01", "save_every=0.25", "memory_cap=200000",
                         NULL};
    cubie_result *r1 = tu_run(sv, b, one);
    cubie_result *r2 = tu_run(sv, b, cap);
    assert_true(cubie_result_n_chunks(r2) >= 3);
    size_t n = cubie_result_n_runs(r1) * cubie_result_n_saves(r1) *
               cubie_result_n_vars(r1);
    assert_memory_equal(cubie_result_state_data(r1),
                        cubie_result_state_data(r2), n * sizeof(double));
    for (size_t sv2 = 0; sv2 < cubie_result_n_saves(r1); sv2++) {
        double t = cubie_result_time(r1)[sv2];
        assert_true(fabs(cubie_result_state(r1, 4095, sv2, 3) - t) < 1e-14);
        double a = 1.0 / (1.0 + 9.0 * exp(-2.0 * t));
        assert_true(fabs(cubie_result_state(r1, 4095, sv2, 0) - a) < 1e-11);
        assert_true(fabs(cubie_result_state(r1, 0, sv2, 2) - exp(sin(t))) <
                    1e-11);
    }
    cubie_result_free(r1);
    cubie_result_free(r2);
    cubie_solver_free(sv);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

int main(void)
{
    char why[512];
    if (!cb_cuda_usable(why, sizeof(why))) {
        printf("gpu suite skipped: %s\n", why);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gpu_should_match_host),
        cmocka_unit_test(gpu_should_match_host_with_shared_buffers),
        cmocka_unit_test(gpu_should_reach_exact_solutions_and_chunk_identically),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
