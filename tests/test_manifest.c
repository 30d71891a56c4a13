/* What a result records of its run (cubie.h, "what a run was given"):
 * the inputs as the arrays inits and params, every option's resolved
 * value (cubie_result_setting: typed, never a stand-in, where it came
 * from) and the spec's text; and that compiling the spec with every
 * setting's text and running the recorded inputs gives the same kernel
 * and the same results bit for bit, for explicit, implicit and
 * Rosenbrock stacks, fixed and adaptive, float32 and float64, with a
 * buffer moved to shared memory. */
#include "testutil.h"

#include <math.h>

static char *spec_text(const char *name)
{
    char path[1024];
    tu_spec_path(name, path, sizeof(path));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    assert_true(n > 0);
    return buf;
}

static cubie_setting setting(const cubie_result *r, const char *key)
{
    cubie_setting v;
    if (cubie_result_find_setting(r, key, &v) != CUBIE_OK) {
        fail_msg("no setting %s", key);
    }
    assert_string_equal(v.key, key);
    return v;
}

static double number(const cubie_result *r, const char *key)
{
    cubie_setting v = setting(r, key);
    assert_true(v.kind == CUBIE_SETTING_NUMBER ||
                v.kind == CUBIE_SETTING_INTEGER);
    assert_non_null(v.text);
    assert_true(strtod(v.text, NULL) == v.number); /* the text reads back */
    return v.number;
}

static const char *choice(const cubie_result *r, const char *key)
{
    cubie_setting v = setting(r, key);
    assert_int_equal(v.kind, CUBIE_SETTING_CHOICE);
    return v.text;
}

/* A batch of n runs of sys, from the result's inits and params arrays
 * (the last two), set value by value by name. */
static cubie_batch *batch_of(const cubie_system *sys, const cubie_result *r)
{
    const size_t na = cubie_result_n_arrays(r);
    cubie_array in, pa;
    assert_int_equal(cubie_result_array(r, na - 2, &in), CUBIE_OK);
    assert_int_equal(cubie_result_array(r, na - 1, &pa), CUBIE_OK);
    assert_string_equal(in.name, "inits");
    assert_string_equal(pa.name, "params");
    cubie_error err = {0};
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, in.shape[0], &b, &err), &err);
    const cubie_array *arr[2] = {&in, &pa};
    for (int k = 0; k < 2; k++) {
        const double *x = arr[k]->data;
        for (size_t run = 0; run < arr[k]->shape[0]; run++) {
            for (size_t j = 0; j < arr[k]->n_columns; j++) {
                tu_ok(cubie_batch_set(b, arr[k]->column_names[j], run,
                                      x[run * arr[k]->n_columns + j], &err),
                      &err);
            }
        }
    }
    return b;
}

/* Options of every setting's text (the unset ones left unset). */
static cubie_options *options_of(const cubie_result *r)
{
    cubie_error err = {0};
    cubie_options *o = NULL;
    assert_int_equal(cubie_options_new(&o), CUBIE_OK);
    for (size_t i = 0; i < cubie_result_n_settings(r); i++) {
        cubie_setting v;
        assert_int_equal(cubie_result_setting(r, i, &v), CUBIE_OK);
        if (v.kind != CUBIE_SETTING_UNSET) {
            tu_ok(cubie_options_set(o, v.key, v.text, &err), &err);
        }
    }
    return o;
}

/* Run spec under pairs on a small grid, check what the result records,
 * then compile and run again from the record alone: the same source, the
 * same bytes of every array. */
static cubie_result *run_and_rerun(const char *spec_name,
                                   const char *const *pairs, const char *axis,
                                   double lo, double hi)
{
    char *json = spec_text(spec_name);
    cubie_system *sys = tu_system(json);
    cubie_error err = {0};
    cubie_batch *b = NULL;
    const char *names[] = {axis};
    const double start[] = {lo}, stop[] = {hi};
    const size_t count[] = {3};
    tu_ok(cubie_batch_grid(sys, 1, names, start, stop, count, &b, &err), &err);
    cubie_solver *s = tu_compile(sys, pairs);
    cubie_result *r = tu_run(s, b, NULL);
    assert_string_equal(cubie_result_spec(r), json);

    /* Every option in table order, then the locations; texts read back. */
    const size_t n_opt = cubie_n_options();
    assert_true(cubie_result_n_settings(r) > n_opt);
    for (size_t i = 0; i < cubie_result_n_settings(r); i++) {
        cubie_setting v;
        assert_int_equal(cubie_result_setting(r, i, &v), CUBIE_OK);
        if (i < n_opt) {
            assert_string_equal(v.key, cubie_option_key(i));
            assert_string_equal(v.scope, cubie_option_scope(i));
        } else {
            const size_t len = strlen(v.key);
            assert_true(len > 9 && strcmp(v.key + len - 9, "_location") == 0);
            assert_int_equal(v.kind, CUBIE_SETTING_CHOICE);
            assert_true(strcmp(v.text, "local") == 0 ||
                        strcmp(v.text, "shared") == 0);
            assert_string_equal(v.scope, "compile");
        }
        assert_true(strcmp(v.origin, "user") == 0 ||
                    strcmp(v.origin, "default") == 0 ||
                    strcmp(v.origin, "derived") == 0);
        assert_true((v.text == NULL) == (v.kind == CUBIE_SETTING_UNSET));
        if (v.kind == CUBIE_SETTING_LIST) {
            assert_true((v.numbers != NULL) != (v.names != NULL));
            assert_true(v.n_items > 0 || strcmp(v.text, "[]") == 0);
        }
    }
    cubie_setting v;
    assert_int_equal(cubie_result_setting(r, cubie_result_n_settings(r), &v),
                     CUBIE_E_ARG);

    /* The inputs: the grid's values, with the spec's names. */
    const size_t na = cubie_result_n_arrays(r);
    cubie_array in, pa;
    assert_int_equal(cubie_result_array(r, na - 2, &in), CUBIE_OK);
    assert_int_equal(cubie_result_array(r, na - 1, &pa), CUBIE_OK);
    assert_int_equal(in.ndim, 2);
    assert_string_equal(in.descr, "<f8");
    assert_string_equal(in.axes, "run, state");
    assert_string_equal(pa.axes, "run, parameter");
    assert_int_equal(in.shape[0], 3);
    assert_int_equal(in.shape[1], cubie_system_n_states(sys));
    assert_int_equal(pa.shape[1], cubie_system_n_parameters(sys));
    for (size_t j = 0; j < in.n_columns; j++) {
        assert_string_equal(in.column_names[j],
                            cubie_system_state_name(sys, j));
    }
    for (size_t j = 0; j < pa.n_columns; j++) {
        assert_string_equal(pa.column_names[j],
                            cubie_system_parameter_name(sys, j));
    }
    const double *p = pa.data, *x = in.data;
    for (size_t run = 0; run < 3; run++) {
        const double want = lo + (hi - lo) * (double)run / 2.0;
        const double got =
            pa.n_columns > 0 && strcmp(pa.column_names[0], axis) == 0
                ? p[run * pa.n_columns]
                : x[run * in.n_columns];
        assert_true(fabs(got - want) <= 1e-12 * fmax(1.0, fabs(want)));
    }

    /* Again from the record alone. */
    cubie_system *sys2 = tu_system(cubie_result_spec(r));
    cubie_options *o = options_of(r);
    cubie_solver *s2 = NULL;
    tu_ok(cubie_compile(sys2, o, &s2, &err), &err);
    assert_string_equal(cubie_solver_source(s2), cubie_solver_source(s));
    cubie_batch *b2 = batch_of(sys2, r);
    cubie_result *r2 = tu_run(s2, b2, NULL);
    assert_int_equal(cubie_result_n_arrays(r2), na);
    for (size_t i = 0; i < na; i++) {
        cubie_array a1, a2;
        assert_int_equal(cubie_result_array(r, i, &a1), CUBIE_OK);
        assert_int_equal(cubie_result_array(r2, i, &a2), CUBIE_OK);
        assert_string_equal(a1.name, a2.name);
        size_t n = a1.elem_size;
        for (int d = 0; d < a1.ndim; d++) {
            assert_int_equal(a1.shape[d], a2.shape[d]);
            n *= a1.shape[d];
        }
        if (n > 0 && memcmp(a1.data, a2.data, n) != 0) {
            fail_msg("%s: array %s differs after the rerun", spec_name,
                     a1.name);
        }
    }
    /* The rerun records the same settings (all of them now the user's). */
    assert_int_equal(cubie_result_n_settings(r2), cubie_result_n_settings(r));
    for (size_t i = 0; i < cubie_result_n_settings(r); i++) {
        cubie_setting v1, v2;
        assert_int_equal(cubie_result_setting(r, i, &v1), CUBIE_OK);
        assert_int_equal(cubie_result_setting(r2, i, &v2), CUBIE_OK);
        assert_string_equal(v1.key, v2.key);
        assert_int_equal(v1.kind, v2.kind);
        if (v1.text != NULL) {
            assert_string_equal(v1.text, v2.text);
        }
    }
    cubie_result_free(r2);
    cubie_batch_free(b2);
    cubie_solver_free(s2);
    cubie_options_free(o);
    cubie_system_free(sys2);
    cubie_solver_free(s);
    cubie_batch_free(b);
    cubie_system_free(sys);
    free(json);
    return r;
}

/* An explicit embedded pair: the family's controller (pi) and the
 * adaptive defaults, derived, as numbers and per-state lists. */
static void
an_adaptive_explicit_run_should_record_its_derived_settings(void **state)
{
    (void)state;
    const char *pairs[] = {"algorithm=dopri54", "precision=float64",
                           "atol=1e-8,1e-7,1e-6", NULL};
    cubie_result *r = run_and_rerun("lorenz.json", pairs, "rho", 0.0, 28.0);
    assert_string_equal(choice(r, "algorithm"), "dormand-prince-54");
    assert_string_equal(choice(r, "step_controller"), "pi");
    assert_string_equal(setting(r, "step_controller").origin, "derived");
    assert_string_equal(setting(r, "algorithm").origin, "user");
    assert_string_equal(setting(r, "t0").origin, "default");
    assert_string_equal(choice(r, "backend"), "host");
    assert_true(number(r, "dt_min") == 1e-6);
    assert_true(number(r, "dt_max") == 1.0);
    assert_true(number(r, "dt") == sqrt(1e-6 * 1.0));
    assert_true(number(r, "save_every") == 1.0); /* first and last */
    assert_true(number(r, "kp") == 0.7 && number(r, "ki") == -0.4);
    assert_true(number(r, "max_gain") == 10.0);
    assert_int_equal(setting(r, "max_steps").kind, CUBIE_SETTING_INTEGER);
    cubie_setting b = setting(r, "nan_error_trajectories");
    assert_int_equal(b.kind, CUBIE_SETTING_BOOL);
    assert_true(b.number == 1.0);
    assert_string_equal(b.text, "true");
    cubie_setting atol = setting(r, "atol");
    assert_int_equal(atol.kind, CUBIE_SETTING_LIST);
    assert_int_equal(atol.n_items, 3);
    assert_true(atol.numbers[0] == 1e-8 && atol.numbers[2] == 1e-6);
    assert_string_equal(atol.text, "1e-08,1e-07,1e-06");
    cubie_setting natol = setting(r, "newton_atol");
    assert_string_equal(natol.origin, "derived");
    assert_true(natol.numbers[1] == 1e-7 * 0.1);
    cubie_setting rtol = setting(r, "rtol");
    assert_int_equal(rtol.n_items, 3);
    assert_true(number(r, "krylov_residual_reduction") == 1e-6);
    cubie_setting outs = setting(r, "output_types");
    assert_int_equal(outs.kind, CUBIE_SETTING_LIST);
    assert_int_equal(outs.n_items, 1);
    assert_null(outs.numbers);
    assert_string_equal(outs.names[0], "state");
    assert_int_equal(setting(r, "memory_cap").kind, CUBIE_SETTING_UNSET);
    assert_int_equal(setting(r, "arch").kind, CUBIE_SETTING_UNSET);
    assert_string_equal(choice(r, "stage_rhs_location"), "local");
    cubie_setting v;
    assert_int_equal(cubie_result_find_setting(r, "warp", &v), CUBIE_E_OPTION);
    assert_int_equal(cubie_result_find_setting(NULL, "dt", &v), CUBIE_E_ARG);
    cubie_result_free(r);
}

/* An implicit method in float32 with a buffer in shared memory: the
 * family's gustafsson controller and bounds, the solver's derived
 * numbers, the location as asked. */
static void an_implicit_run_should_record_its_solver_and_locations(void **state)
{
    (void)state;
    const char *pairs[] = {"algorithm=kvaerno3", "duration=0.01",
                           "stage_rhs_location=shared", "dt=1e-4", NULL};
    cubie_result *r =
        run_and_rerun("van_der_pol_stiff.json", pairs, "mu", 10.0, 1000.0);
    assert_string_equal(choice(r, "step_controller"), "gustafsson");
    assert_true(number(r, "dt") == 1e-4);
    assert_true(number(r, "dt_min") == 1e-6); /* dt / 100 */
    assert_true(number(r, "dt_max") == 1e-2); /* 100 dt */
    assert_string_equal(setting(r, "dt_min").origin, "derived");
    assert_true(number(r, "max_gain") == 8.0);
    assert_true(number(r, "deadband_max") == 1.2);
    assert_true(number(r, "krylov_residual_floor") ==
                sqrt((double)1.1920928955078125e-07)); /* sqrt(FLT_EPSILON) */
    assert_string_equal(choice(r, "precision"), "float32");
    /* auto, resolved by the compile: lu for the spec's few unknowns */
    assert_string_equal(choice(r, "linear_correction_type"), "lu");
    assert_string_equal(setting(r, "linear_correction_type").origin,
                        "derived");
    /* and Newton's method, the matrix at every iterate, below 12 */
    assert_string_equal(choice(r, "jacobian_update"), "iteration");
    assert_string_equal(setting(r, "jacobian_update").origin, "derived");
    assert_string_equal(choice(r, "stage_rhs_location"), "shared");
    assert_string_equal(setting(r, "stage_rhs_location").origin, "user");
    cubie_result_free(r);
}

/* Rosenbrock-W with fixed steps (no controller to derive) and a system
 * without parameters: params is an (n_runs, 0) array. */
static void
a_fixed_step_run_without_parameters_should_record_it_too(void **state)
{
    (void)state;
    const char *pairs[] = {"algorithm=ros3p",   "step_controller=fixed",
                           "precision=float64", "dt=1e-3",
                           "duration=0.05",     NULL};
    cubie_result *r = run_and_rerun("robertson.json", pairs, "y1", 1.0, 0.5);
    assert_string_equal(choice(r, "step_controller"), "fixed");
    assert_true(number(r, "dt") == 1e-3);
    /* fixed steps: the bounds are the step (runtime/plan.c) */
    assert_true(number(r, "dt_min") == 1e-3 && number(r, "dt_max") == 1e-3);
    /* the Krylov reduction is eps with fixed steps */
    assert_true(number(r, "krylov_residual_reduction") == 0x1p-52);
    const size_t na = cubie_result_n_arrays(r);
    cubie_array pa;
    assert_int_equal(cubie_result_array(r, na - 1, &pa), CUBIE_OK);
    assert_string_equal(pa.name, "params");
    assert_int_equal(pa.shape[0], 3);
    assert_int_equal(pa.shape[1], 0);
    assert_int_equal(pa.n_columns, 0);
    assert_non_null(pa.data);
    assert_non_null(pa.column_names);
    cubie_result_free(r);
}

/* The arrays any result can hold name the inputs too (the CLI's list of
 * its own files). */
static void the_array_names_should_include_the_inputs(void **state)
{
    (void)state;
    bool inits = false, params = false;
    for (const char *const *a = cubie_array_names(); *a != NULL; a++) {
        inits = inits || strcmp(*a, "inits") == 0;
        params = params || strcmp(*a, "params") == 0;
    }
    assert_true(inits && params);
    assert_int_equal(cubie_result_n_settings(NULL), 0);
    assert_null(cubie_result_spec(NULL));
}

/* cubie_run_into: the outputs land in the caller's buffers, bit for bit
 * what cubie_run gives, and stay the caller's after cubie_result_free;
 * a wrong size or an array the run does not write is refused before the
 * run. */
static void outputs_should_land_in_the_callers_buffers(void **state)
{
    (void)state;
    char path[1024];
    cubie_error err = {0};
    cubie_system *sys = NULL;
    tu_ok(cubie_system_load(tu_spec_path("lorenz.json", path, sizeof(path)),
                            &sys, &err), &err);
    const char *pairs[] = {"algorithm=classical-rk4", "precision=float32",
                           "output_types=state,observables,time,mean",
                           "summarise_every=0.5", "sample_summaries_every=0.1",
                           NULL};
    cubie_solver *s = tu_compile(sys, pairs);
    const char *names[] = {"rho"};
    const double lo[] = {0.0}, hi[] = {28.0};
    const size_t count[] = {7};
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_grid(sys, 1, names, lo, hi, count, &b, &err), &err);
    const char *ro[] = {"dt=0.001", "save_every=0.25", NULL};
    cubie_result *want = tu_run(s, b, ro);
    /* 7 runs x 5 saves x (3 states + t), x 1 observable; 2 windows x 3
     * means; the status */
    float *state_ = malloc(7 * 5 * 4 * 4), *obs = malloc(7 * 5 * 4);
    float *means = malloc(7 * 2 * 3 * 4);
    int32_t *status = malloc(7 * 4);
    const cubie_output_buffer bufs[] = {
        {"state", state_, 7 * 5 * 4 * 4},
        {"observables", obs, 7 * 5 * 4},
        {"state_summaries", means, 7 * 2 * 3 * 4},
        {"status", status, 7 * 4}};
    cubie_options *o = tu_options(ro);
    cubie_result *got = NULL;
    tu_ok(cubie_run_into(s, b, o, bufs, 4, &got, &err), &err);
    const char *arrays[] = {"state", "observables", "state_summaries"};
    const void *mine[] = {state_, obs, means};
    for (int k = 0; k < 3; k++) {
        cubie_array x, y;
        for (size_t i = 0; i < cubie_result_n_arrays(got); i++) {
            cubie_result_array(got, i, &x);
            if (strcmp(x.name, arrays[k]) == 0) {
                break;
            }
        }
        for (size_t i = 0; i < cubie_result_n_arrays(want); i++) {
            cubie_result_array(want, i, &y);
            if (strcmp(y.name, arrays[k]) == 0) {
                break;
            }
        }
        assert_string_equal(x.name, arrays[k]);
        assert_ptr_equal(x.data, mine[k]);
        assert_memory_equal(x.data, y.data,
                            x.shape[0] * x.shape[1] * x.shape[2] * 4);
    }
    assert_ptr_equal(cubie_result_status(got), status);
    cubie_result_free(got);
    cubie_result_free(want);
    /* still the caller's: readable after the result is gone */
    assert_true(status[0] == 0 && state_[0] == 1.0f);
    /* refused before the run */
    const cubie_output_buffer small[] = {{"state", state_, 12}};
    assert_int_equal(cubie_run_into(s, b, o, small, 1, &got, &err),
                     CUBIE_E_ARG);
    assert_non_null(strstr(err.message, "takes 560 bytes, not 12"));
    assert_null(got);
    cubie_error_clear(&err);
    const cubie_output_buffer other[] = {{"iteration_counters", status, 28}};
    assert_int_equal(cubie_run_into(s, b, o, other, 1, &got, &err),
                     CUBIE_E_ARG);
    assert_non_null(strstr(err.message, "writes no array "
                                        "'iteration_counters'"));
    cubie_error_clear(&err);
    free(state_);
    free(obs);
    free(means);
    free(status);
    cubie_options_free(o);
    cubie_batch_free(b);
    cubie_solver_free(s);
    cubie_system_free(sys);
}

/* cubie_batch_set_all: one name for every run at once, as the recorded
 * inputs show; the wrong count, a non-finite value (nothing set) and an
 * unknown name are errors naming what. */
static void set_all_should_set_every_run_or_nothing(void **s0)
{
    (void)s0;
    cubie_system *sys = tu_system("{\"states\": {\"x\": 1}, "
                                  "\"parameters\": {\"k\": 2}, "
                                  "\"equations\": [\"dx = -k * x\"]}");
    cubie_error err = {0};
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, 3, &b, &err), &err);
    const double k[3] = {0.5, 1.0, 1.5}, x[3] = {3.0, 2.0, 1.0};
    tu_ok(cubie_batch_set_all(b, "k", k, 3, &err), &err);
    tu_ok(cubie_batch_set_all(b, "x", x, 3, &err), &err);
    const double bad[3] = {4.0, NAN, 4.0};
    assert_int_equal(cubie_batch_set_all(b, "k", bad, 3, &err),
                     CUBIE_E_BATCH);
    assert_non_null(strstr(err.message, "run 1"));
    cubie_error_clear(&err);
    err = (cubie_error){0};
    assert_int_equal(cubie_batch_set_all(b, "k", k, 2, &err), CUBIE_E_BATCH);
    assert_non_null(strstr(err.message, "2 values of 'k' for a batch of 3"));
    err = (cubie_error){0};
    assert_int_equal(cubie_batch_set_all(b, "q", k, 3, &err), CUBIE_E_BATCH);
    const char *copt[] = {"algorithm=euler", "precision=float64", NULL};
    cubie_solver *s = tu_compile(sys, copt);
    const char *ropt[] = {"dt=0.01", "duration=0.01", NULL};
    cubie_result *r = tu_run(s, b, ropt);
    for (size_t i = 0; i < cubie_result_n_arrays(r); i++) {
        cubie_array a;
        tu_ok(cubie_result_array(r, i, &a), &err);
        const double *v = a.data;
        if (strcmp(a.name, "params") == 0) {
            for (int run = 0; run < 3; run++) {
                assert_true(v[run] == k[run]); /* the NaN set nothing */
            }
        } else if (strcmp(a.name, "inits") == 0) {
            for (int run = 0; run < 3; run++) {
                assert_true(v[run] == x[run]);
            }
        }
    }
    /* One Euler step: x (1 - k dt). */
    for (int run = 0; run < 3; run++) {
        assert_true(fabs(cubie_result_state(r, (size_t)run, 1, 0) -
                         x[run] * (1.0 - 0.01 * k[run])) < 1e-15);
    }
    cubie_result_free(r);
    cubie_solver_free(s);
    cubie_batch_free(b);
    cubie_system_free(sys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            an_adaptive_explicit_run_should_record_its_derived_settings),
        cmocka_unit_test(
            an_implicit_run_should_record_its_solver_and_locations),
        cmocka_unit_test(
            a_fixed_step_run_without_parameters_should_record_it_too),
        cmocka_unit_test(the_array_names_should_include_the_inputs),
        cmocka_unit_test(outputs_should_land_in_the_callers_buffers),
        cmocka_unit_test(set_all_should_set_every_run_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
