/* The public API: systems, compile (a visible pass list), run, results. */
#include "internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

const char *cubie_version(void)
{
    return "0.1.0";
}

const char *cubie_status_str(cubie_status s)
{
    switch (s) {
#define CUBIE_X(name, msg) \
    case name:             \
        return msg;
        CUBIE_STATUS_LIST(CUBIE_X)
#undef CUBIE_X
    default:
        return "unknown status";
    }
}

const char *cubie_run_status_str(int bit)
{
    switch (bit) {
#define CUBIE_X(name, value, msg) \
    case value:                   \
        return msg;
        CUBIE_RUN_STATUS_LIST(CUBIE_X)
#undef CUBIE_X
    default:
        return "unknown status bit";
    }
}

void cubie_error_clear(cubie_error *err)
{
    if (err == NULL) {
        return;
    }
    free(err->log);
    memset(err, 0, sizeof(*err));
}

/* ---- systems --------------------------------------------------------- */

cubie_status cubie_system_parse(const char *json, size_t len,
                                struct cubie_system **out, cubie_error *err)
{
    if (json == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_system_parse: NULL argument");
    }
    return cb_spec_parse(json, len, out, err);
}

cubie_status cubie_system_load(const char *path, struct cubie_system **out,
                               cubie_error *err)
{
    if (path == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_system_load: NULL argument");
    }
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return cb_fail(err, CUBIE_E_IO, path, 0, "cannot read %s: %s", path,
                       strerror(errno));
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *p = realloc(buf, cap);
            if (p == NULL) {
                free(buf);
                fclose(f);
                return cb_fail_nomem(err);
            }
            buf = p;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            break;
        }
    }
    fclose(f);
    cubie_status st = cb_spec_parse(buf ? buf : "", len, out, err);
    if (st != CUBIE_OK && err != NULL) {
        /* Say which file the path inside the spec refers to. */
        char msg[sizeof(err->message)];
        size_t used = (size_t)snprintf(msg, sizeof(msg), "%.400s: ", path);
        memcpy(msg + used, err->message, sizeof(msg) - used - 1);
        msg[sizeof(msg) - 1] = '\0';
        memcpy(err->message, msg, sizeof(msg));
    }
    free(buf);
    return st;
}

const char *cubie_system_name(const struct cubie_system *s)
{
    return s ? s->name : NULL;
}
size_t cubie_system_n_states(const struct cubie_system *s)
{
    return s ? (size_t)s->n_states : 0;
}
size_t cubie_system_n_parameters(const struct cubie_system *s)
{
    return s ? (size_t)s->n_params : 0;
}
size_t cubie_system_n_observables(const struct cubie_system *s)
{
    return s ? (size_t)s->n_obs : 0;
}
const char *cubie_system_state_name(const struct cubie_system *s, size_t i)
{
    return s && i < (size_t)s->n_states ? s->state_names[i] : NULL;
}
const char *cubie_system_parameter_name(const struct cubie_system *s,
                                        size_t i)
{
    return s && i < (size_t)s->n_params ? s->param_names[i] : NULL;
}
const char *cubie_system_observable_name(const struct cubie_system *s,
                                         size_t i)
{
    return s && i < (size_t)s->n_obs ? s->aux_names[s->obs_aux[i]] : NULL;
}

/* ---- compile: spec -> stack -> layout -> source -> build ------------- */

cubie_status cubie_generate(const struct cubie_system *sys,
                            const struct cubie_options *opt, char **source,
                            cubie_error *err)
{
    if (sys == NULL || opt == NULL || source == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_generate: NULL argument");
    }
    cb_generated g;
    cubie_status st = cb_generate(sys, opt, &g, err);
    if (st != CUBIE_OK) {
        return st;
    }
    *source = g.source;
    g.source = NULL;
    cb_generated_free(&g);
    return CUBIE_OK;
}

/* Pass: choose the backend. The cuda backend lands with the driver-API
 * work; until then auto means host, and says why. */
static cubie_status backend_choose(struct cubie_solver *s, cubie_error *err)
{
    const char *want = cb_opt_text(s->opt, CB_OPT_BACKEND);
    if (strcmp(want, "cuda") == 0) {
        return cb_fail(err, CUBIE_E_BACKEND, "backend", 0,
                       "backend=cuda: this build of cubie has no CUDA "
                       "launch path yet; use backend=host or auto");
    }
    snprintf(s->backend, sizeof(s->backend), "host");
    snprintf(s->reason, sizeof(s->reason), "%s",
             strcmp(want, "host") == 0
                 ? "backend=host requested"
                 : "backend=auto: no CUDA launch path in this build, using "
                   "the host backend");
    return CUBIE_OK;
}

static cubie_status solver_build(struct cubie_solver *s, cubie_error *err)
{
    bool cache = cb_opt_num(s->opt, CB_OPT_CACHE) != 0.0;
    double t = cb_now_ms();
    cubie_status st = cb_host_build(s->gen.source, cache, &s->host, err);
    s->build_ms = cb_now_ms() - t;
    return st;
}

/* CUBIE_DEBUG=SLE: after the pass that made it, print the resolved stack
 * (S), the layout table (L) or the generated source (E) to stderr. Only
 * on this explicit request does the library write anywhere. */
static void debug_dump(const struct cubie_solver *s)
{
    const char *mask = getenv("CUBIE_DEBUG");
    if (mask == NULL) {
        return;
    }
    if (strchr(mask, 'S') != NULL) {
        fprintf(stderr, "cubie: stack: system %s, algorithm %s, "
                        "step_controller fixed, precision %s\n",
                s->sys->name, s->gen.info.tableau->name,
                s->gen.info.is_double ? "float64" : "float32");
    }
    if (strchr(mask, 'L') != NULL) {
        fprintf(stderr, "cubie: layout:\n%s", s->gen.layout);
    }
    if (strchr(mask, 'E') != NULL) {
        fprintf(stderr, "cubie: source:\n%s", s->gen.source);
    }
}

cubie_status cubie_compile(const struct cubie_system *sys,
                           const struct cubie_options *opt,
                           struct cubie_solver **out, cubie_error *err)
{
    if (sys == NULL || opt == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_compile: NULL argument");
    }
    *out = NULL;
    struct cubie_solver *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return cb_fail_nomem(err);
    }
    /* The solver keeps its own copies: the caller may free theirs. */
    cubie_status st = cb_spec_parse(sys->json, strlen(sys->json), &s->sys,
                                    err);
    if (st == CUBIE_OK) {
        st = cubie_options_copy(opt, &s->opt);
        if (st != CUBIE_OK) {
            cb_fail(err, st, NULL, 0, "cannot copy the options");
        }
    }
    double t = cb_now_ms();
    if (st == CUBIE_OK) {
        st = cb_generate(s->sys, s->opt, &s->gen, err);
    }
    s->generate_ms = cb_now_ms() - t;
    if (st == CUBIE_OK) {
        debug_dump(s);
        st = backend_choose(s, err);
    }
    if (st == CUBIE_OK) {
        st = solver_build(s, err);
    }
    if (st != CUBIE_OK) {
        cubie_solver_free(s);
        return st;
    }
    *out = s;
    return CUBIE_OK;
}

void cubie_solver_free(struct cubie_solver *s)
{
    if (s == NULL) {
        return;
    }
    cb_host_unload(&s->host);
    cb_generated_free(&s->gen);
    cubie_system_free(s->sys);
    cubie_options_free(s->opt);
    free(s);
}

const char *cubie_solver_source(const struct cubie_solver *s)
{
    return s ? s->gen.source : NULL;
}
const char *cubie_solver_backend(const struct cubie_solver *s)
{
    return s ? s->backend : NULL;
}
const char *cubie_solver_backend_reason(const struct cubie_solver *s)
{
    return s ? s->reason : NULL;
}
double cubie_solver_generate_ms(const struct cubie_solver *s)
{
    return s ? s->generate_ms : 0.0;
}
double cubie_solver_build_ms(const struct cubie_solver *s)
{
    return s ? s->build_ms : 0.0;
}
const char *cubie_solver_layout(const struct cubie_solver *s)
{
    return s ? s->gen.layout : NULL;
}

/* ---- run ------------------------------------------------------------- */

typedef struct {
    double t0, duration, settle, save_every, dt;
    int n_saves, max_steps;
    bool nan_mask;
} run_plan;

/* The options in force for one run: the solver's, with the run-time keys
 * of run_opt on top; a compile-time key that differs is an error. */
static cubie_status merge_options(const struct cubie_solver *s,
                                  const struct cubie_options *run_opt,
                                  struct cubie_options **out,
                                  cubie_error *err)
{
    cubie_status st = cubie_options_copy(s->opt, out);
    if (st != CUBIE_OK || run_opt == NULL) {
        return st == CUBIE_OK ? st : cb_fail_nomem(err);
    }
    for (int i = 0; i < CB_OPT_COUNT; i++) {
        if (!cb_opt_is_set(run_opt, (cb_opt_id)i)) {
            continue;
        }
        const char *v = cb_opt_text(run_opt, (cb_opt_id)i);
        if (cb_opt_table[i].scope == CB_SCOPE_COMPILE) {
            if (strcmp(v, cb_opt_text(s->opt, (cb_opt_id)i)) != 0) {
                cubie_options_free(*out);
                *out = NULL;
                return cb_fail(err, CUBIE_E_OPTION, cb_opt_table[i].key, 0,
                               "option %s changes the generated kernel: "
                               "compile a new solver for %s=%s",
                               cb_opt_table[i].key, cb_opt_table[i].key, v);
            }
            continue;
        }
        st = cubie_options_set(*out, cb_opt_table[i].key, v, err);
        if (st != CUBIE_OK) {
            cubie_options_free(*out);
            *out = NULL;
            return st;
        }
    }
    if (run_opt->n_locs > 0) {
        cubie_options_free(*out);
        *out = NULL;
        return cb_fail(err, CUBIE_E_OPTION, run_opt->locs[0].key, 0,
                       "option %s changes the generated kernel: compile a "
                       "new solver", run_opt->locs[0].key);
    }
    return CUBIE_OK;
}

static cubie_status make_plan(const struct cubie_options *o,
                              const cb_kernel_info *k, run_plan *p,
                              cubie_error *err)
{
    p->t0 = cb_opt_num(o, CB_OPT_T0);
    p->duration = cb_opt_num(o, CB_OPT_DURATION);
    p->settle = cb_opt_num(o, CB_OPT_SETTLING_TIME);
    p->max_steps = (int)cb_opt_num(o, CB_OPT_MAX_STEPS);
    p->nan_mask = cb_opt_num(o, CB_OPT_NAN_ERROR_TRAJECTORIES) != 0.0;
    if (!(p->duration > 0.0)) {
        return cb_fail(err, CUBIE_E_OPTION, "duration", 0,
                       "option duration: must be > 0, not %g", p->duration);
    }
    if (p->settle < 0.0) {
        return cb_fail(err, CUBIE_E_OPTION, "settling_time", 0,
                       "option settling_time: must be >= 0, not %g",
                       p->settle);
    }
    /* Fixed steps: dt is the first of dt, dt_min, dt_max that is set. */
    const cb_opt_id order[] = {CB_OPT_DT, CB_OPT_DT_MIN, CB_OPT_DT_MAX};
    p->dt = 1e-3;
    for (int i = 0; i < 3; i++) {
        if (cb_opt_is_set(o, order[i])) {
            p->dt = cb_opt_num(o, order[i]);
            break;
        }
    }
    if (!(p->dt > 0.0)) {
        return cb_fail(err, CUBIE_E_OPTION, "dt", 0,
                       "option dt: must be > 0, not %g", p->dt);
    }
    if (p->dt > p->duration + p->settle) {
        return cb_fail(err, CUBIE_E_OPTION, "dt", 0,
                       "option dt: %g is longer than the whole integration "
                       "(%g)", p->dt, p->duration + p->settle);
    }
    double eps = k->is_double ? DBL_EPSILON : (double)FLT_EPSILON;
    if (cb_opt_is_set(o, CB_OPT_SAVE_EVERY)) {
        p->save_every = cb_opt_num(o, CB_OPT_SAVE_EVERY);
        if (!(p->save_every > 0.0)) {
            return cb_fail(err, CUBIE_E_OPTION, "save_every", 0,
                           "option save_every: must be > 0, not %g",
                           p->save_every);
        }
        if (p->save_every > p->duration + p->dt) {
            return cb_fail(err, CUBIE_E_OPTION, "save_every", 0,
                           "option save_every: %g is longer than the "
                           "duration %g", p->save_every, p->duration);
        }
        /* The original's rule: rows = 1 + floor(ratio + min(4 eps ratio,
         * 0.49)), so a ratio a hair under a whole number counts it. */
        double ratio = p->duration / p->save_every;
        double rows = 1.0 + floor(ratio + fmin(4.0 * eps * ratio, 0.49));
        if (rows > 2147483647.0) {
            return cb_fail(err, CUBIE_E_OPTION, "save_every", 0,
                           "option save_every: %g saves are too many", rows);
        }
        p->n_saves = (int)rows;
    } else {
        p->save_every = p->duration; /* initial and final rows */
        p->n_saves = 2;
    }
    return CUBIE_OK;
}

/* Split x into hi + lo of the kernel's precision (a float pair keeps
 * about 48 bits of a double). */
static void put_time(void *settings, bool dbl, int at, double x)
{
    if (dbl) {
        ((double *)settings)[at] = x;
        ((double *)settings)[at + 1] = 0.0;
    } else {
        float hi = (float)x;
        ((float *)settings)[at] = hi;
        ((float *)settings)[at + 1] = (float)(x - (double)hi);
    }
}

static void put_real(void *buf, bool dbl, size_t at, double x)
{
    if (dbl) {
        ((double *)buf)[at] = x;
    } else {
        ((float *)buf)[at] = (float)x;
    }
}

static double get_real(const void *buf, bool dbl, size_t at)
{
    return dbl ? ((const double *)buf)[at] : (double)((const float *)buf)[at];
}

static void fill_settings(const struct cubie_options *o, const run_plan *p,
                          const cb_kernel_info *k, void *set)
{
    const bool d = k->is_double;
    put_time(set, d, CB_SET_T0, p->t0);
    put_time(set, d, CB_SET_SAVE_START, p->t0 + p->settle);
    put_time(set, d, CB_SET_T_END, p->t0 + p->settle + p->duration);
    put_time(set, d, CB_SET_SAVE_EVERY, p->save_every);
    put_real(set, d, CB_SET_DT, p->dt);
    put_real(set, d, CB_SET_DT_MIN, p->dt);
    put_real(set, d, CB_SET_DT_MAX, p->dt);
    for (int i = CB_SET_KP; i < CB_SET_FIXED_COUNT; i++) {
        put_real(set, d, (size_t)i, 0.0);
    }
    for (int i = 0; i < k->n_states; i++) {
        put_real(set, d, (size_t)(CB_SET_FIXED_COUNT + i),
                 cb_opt_num(o, CB_OPT_ATOL));
        put_real(set, d, (size_t)(CB_SET_FIXED_COUNT + k->n_states + i),
                 cb_opt_num(o, CB_OPT_RTOL));
    }
}

static cubie_status result_alloc(const struct cubie_solver *s, size_t n_runs,
                                 const run_plan *p, struct cubie_result **out,
                                 cubie_error *err)
{
    const cb_kernel_info *k = &s->gen.info;
    struct cubie_result *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return cb_fail_nomem(err);
    }
    r->n_runs = n_runs;
    r->n_saves = (size_t)p->n_saves;
    r->n_vars = (size_t)k->n_states;
    r->precision = k->is_double ? 8 : 4;
    r->state = malloc((size_t)r->precision * r->n_runs * r->n_saves *
                      r->n_vars);
    r->time = malloc(sizeof(double) * r->n_saves);
    r->status = calloc(n_runs, sizeof(int32_t));
    r->var_names = calloc(r->n_vars + 1, sizeof(char *));
    bool ok = r->state && r->time && r->status && r->var_names;
    for (size_t v = 0; ok && v < r->n_vars; v++) {
        r->var_names[v] = strdup(s->sys->state_names[v]);
        ok = r->var_names[v] != NULL;
    }
    if (!ok) {
        cubie_result_free(r);
        return cb_fail_nomem(err);
    }
    for (size_t i = 0; i < r->n_saves; i++) {
        r->time[i] = p->t0 + p->settle + (double)i * p->save_every;
    }
    snprintf(r->backend, sizeof(r->backend), "%s", s->backend);
    *out = r;
    return CUBIE_OK;
}

cubie_status cubie_run(struct cubie_solver *s, const cubie_batch *in,
                       const struct cubie_options *run_opt,
                       struct cubie_result **out, cubie_error *err)
{
    if (s == NULL || in == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0, "cubie_run: NULL argument");
    }
    *out = NULL;
    const cb_kernel_info *k = &s->gen.info;
    if (in->sys->n_states != k->n_states || in->sys->n_params != k->n_params) {
        return cb_fail(err, CUBIE_E_BATCH, NULL, 0,
                       "the batch was made for another system (%d states, "
                       "%d parameters; the solver has %d and %d)",
                       in->sys->n_states, in->sys->n_params, k->n_states,
                       k->n_params);
    }
    struct cubie_options *o = NULL;
    cubie_status st = merge_options(s, run_opt, &o, err);
    if (st != CUBIE_OK) {
        return st;
    }
    run_plan p = {0};
    st = make_plan(o, k, &p, err);
    if (st != CUBIE_OK) {
        cubie_options_free(o);
        return st;
    }
    const bool d = k->is_double;
    const size_t sz = d ? 8 : 4, n = in->n_runs;
    const size_t ns = (size_t)k->n_states, np = (size_t)k->n_params;
    const size_t n_out = (size_t)p.n_saves * ns * n;
    void *inits = malloc(sz * ns * n + sz);
    void *params = malloc(sz * np * n + sz);
    void *settings = malloc(sz * (size_t)k->n_settings);
    void *state_out = malloc(sz * n_out + sz);
    struct cubie_result *r = NULL;
    if (inits == NULL || params == NULL || settings == NULL ||
        state_out == NULL) {
        st = cb_fail_nomem(err);
        goto done;
    }
    if ((st = result_alloc(s, n, &p, &r, err)) != CUBIE_OK) {
        goto done;
    }
    /* Device layout: run index fastest. */
    for (size_t run = 0; run < n; run++) {
        for (size_t i = 0; i < ns; i++) {
            put_real(inits, d, i * n + run, in->inits[run * ns + i]);
        }
        for (size_t i = 0; i < np; i++) {
            put_real(params, d, i * n + run, in->params[run * np + i]);
        }
    }
    fill_settings(o, &p, k, settings);
    /* Rows a failed run never reaches read as NaN, not as garbage. */
    for (size_t i = 0; i < n_out; i++) {
        put_real(state_out, d, i, NAN);
    }
    double t = cb_now_ms();
    s->host.run(inits, params, settings, state_out, NULL, NULL, r->status,
                (int)n, p.n_saves, p.max_steps);
    r->kernel_ms = cb_now_ms() - t;
    /* Present per run: (n_runs, n_saves, n_vars). */
    for (size_t run = 0; run < n; run++) {
        bool mask = p.nan_mask && r->status[run] != 0;
        for (size_t sv = 0; sv < (size_t)p.n_saves; sv++) {
            for (size_t i = 0; i < ns; i++) {
                double v = mask ? NAN
                                : get_real(state_out, d,
                                           (sv * ns + i) * n + run);
                put_real(r->state, d, (run * (size_t)p.n_saves + sv) * ns + i,
                         v);
            }
        }
    }
    *out = r;
    r = NULL;
done:
    cubie_result_free(r);
    free(inits);
    free(params);
    free(settings);
    free(state_out);
    cubie_options_free(o);
    return st;
}

void cubie_result_free(struct cubie_result *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t v = 0; r->var_names != NULL && v < r->n_vars; v++) {
        free(r->var_names[v]);
    }
    free(r->var_names);
    free(r->state);
    free(r->time);
    free(r->status);
    free(r);
}

size_t cubie_result_n_runs(const struct cubie_result *r)
{
    return r ? r->n_runs : 0;
}
size_t cubie_result_n_saves(const struct cubie_result *r)
{
    return r ? r->n_saves : 0;
}
size_t cubie_result_n_vars(const struct cubie_result *r)
{
    return r ? r->n_vars : 0;
}
int cubie_result_precision(const struct cubie_result *r)
{
    return r ? r->precision : 0;
}
const char *cubie_result_var_name(const struct cubie_result *r, size_t v)
{
    return r && v < r->n_vars ? r->var_names[v] : NULL;
}
const void *cubie_result_state_data(const struct cubie_result *r)
{
    return r ? r->state : NULL;
}
double cubie_result_state(const struct cubie_result *r, size_t run,
                          size_t save, size_t var)
{
    if (r == NULL || run >= r->n_runs || save >= r->n_saves ||
        var >= r->n_vars) {
        return NAN;
    }
    return get_real(r->state, r->precision == 8,
                    (run * r->n_saves + save) * r->n_vars + var);
}
const double *cubie_result_time(const struct cubie_result *r)
{
    return r ? r->time : NULL;
}
const int32_t *cubie_result_status(const struct cubie_result *r)
{
    return r ? r->status : NULL;
}
const char *cubie_result_backend(const struct cubie_result *r)
{
    return r ? r->backend : NULL;
}
double cubie_result_kernel_ms(const struct cubie_result *r)
{
    return r ? r->kernel_ms : 0.0;
}
