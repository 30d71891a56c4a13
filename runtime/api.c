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

/* Pass: choose the backend. auto: cuda when a device is usable, else
 * host; the reason is kept for the result and the manifest. */
static cubie_status backend_choose(struct cubie_solver *s, cubie_error *err)
{
    const char *want = cb_opt_text(s->opt, CB_OPT_BACKEND);
    char why[512] = "";
    bool usable = strcmp(want, "host") != 0 && cb_cuda_usable(why, sizeof(why));
    if (strcmp(want, "cuda") == 0 && !usable) {
        return cb_fail(err, CUBIE_E_BACKEND, "backend", 0,
                       "backend=cuda: %s", why);
    }
    if (usable) {
        snprintf(s->backend, sizeof(s->backend), "cuda");
        snprintf(s->reason, sizeof(s->reason), "backend=%s: a CUDA device "
                 "is usable", want);
    } else {
        snprintf(s->backend, sizeof(s->backend), "host");
        if (strcmp(want, "host") == 0) {
            snprintf(s->reason, sizeof(s->reason), "backend=host requested");
        } else {
            snprintf(s->reason, sizeof(s->reason),
                     "backend=auto: %s; using the host backend", why);
        }
    }
    return CUBIE_OK;
}

static cubie_status solver_build(struct cubie_solver *s, cubie_error *err)
{
    bool cache = cb_opt_num(s->opt, CB_OPT_CACHE) != 0.0;
    double t = cb_now_ms();
    cubie_status st;
    if (strcmp(s->backend, "cuda") == 0) {
        const cb_kernel_info *k = &s->gen.info;
        cb_nvrtc_opts o = {
            .arch = cb_opt_text(s->opt, CB_OPT_ARCH),
            .fast_compile = strcmp(cb_opt_text(s->opt, CB_OPT_OPT_LEVEL),
                                   "fast-compile") == 0,
            .lineinfo = cb_opt_num(s->opt, CB_OPT_LINEINFO) != 0.0,
            .max_registers = (int)cb_opt_num(s->opt, CB_OPT_MAX_REGISTERS),
            .use_cache = cache};
        size_t per_run = k->shared_stride * (k->is_double ? 8 : 4) +
                         k->shared_i_stride * 4;
        st = cb_cuda_load(s->gen.source, &o, per_run, &s->cuda, s->arch,
                          sizeof(s->arch), err);
    } else {
        st = cb_host_build(s->gen.source, cache, &s->host, err);
    }
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
                s->sys->name, s->gen.info.method,
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
    cb_cuda_unload(s->cuda);
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
cubie_status cubie_solver_occupancy(const struct cubie_solver *s,
                                    int blocksize, double *occupancy,
                                    cubie_error *err)
{
    if (s == NULL || occupancy == NULL || blocksize <= 0) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_solver_occupancy: bad argument");
    }
    if (s->cuda == NULL) {
        return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                       "occupancy is a property of the cuda backend; this "
                       "solver runs on %s", s->backend);
    }
    int blocks = 0, threads = 0;
    cubie_status st = cb_cuda_occupancy(s->cuda, blocksize, &blocks,
                                        &threads, err);
    *occupancy = st == CUBIE_OK && threads > 0
                     ? (double)(blocks * blocksize) / threads
                     : 0.0;
    return st;
}

const char *cubie_solver_arch(const struct cubie_solver *s)
{
    return s ? s->arch : NULL;
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

/* Everything one cubie_run needs beyond the batch: times, step sizes,
 * controller numbers and tolerances, resolved from the options with the
 * original's defaults and derivation rules (cubie-features.md §4). */
typedef struct {
    double t0, duration, settle, save_every;
    double dt, dt_min, dt_max;
    double kp, ki, kd, safety, min_gain, max_gain, deadband_min,
        deadband_max, newton_target_iters;
    double *atol, *rtol; /* n_states each (malloc) */
    double *natol, *nrtol, *katol, *krtol;
    double newton_max_iters, krylov_max_iters, krylov_floor,
        krylov_reduction, newton_damping, newton_max_backtracks, beta,
        gamma;
    int n_saves, max_steps;
    bool nan_mask;
} run_plan;

static void plan_free(run_plan *p)
{
    free(p->atol);
    free(p->rtol);
    free(p->natol);
    free(p->nrtol);
    free(p->katol);
    free(p->krtol);
    p->atol = p->rtol = p->natol = p->nrtol = p->katol = p->krtol = NULL;
}

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

static double opt_or(const struct cubie_options *o, cb_opt_id id, double d)
{
    return cb_opt_is_set(o, id) ? cb_opt_num(o, id) : d;
}

/* Step sizes. Fixed: dt is the first of dt, dt_min, dt_max given (1e-3
 * by default). Adaptive: dt_min 1e-6 and dt_max 1 by default, dt alone
 * gives dt/100 and 100 dt, no dt gives sqrt(dt_min dt_max); bounds the
 * user set must be consistent, derived ones are fixed up. */
static cubie_status plan_steps(const struct cubie_options *o, bool adaptive,
                               run_plan *p, cubie_error *err)
{
    const bool has_dt = cb_opt_is_set(o, CB_OPT_DT);
    const bool has_min = cb_opt_is_set(o, CB_OPT_DT_MIN);
    const bool has_max = cb_opt_is_set(o, CB_OPT_DT_MAX);
    const cb_opt_id ids[] = {CB_OPT_DT, CB_OPT_DT_MIN, CB_OPT_DT_MAX};
    for (int i = 0; i < 3; i++) {
        if (cb_opt_is_set(o, ids[i]) && !(cb_opt_num(o, ids[i]) > 0.0)) {
            return cb_fail(err, CUBIE_E_OPTION, cb_opt_table[ids[i]].key, 0,
                           "option %s: must be > 0, not %g",
                           cb_opt_table[ids[i]].key, cb_opt_num(o, ids[i]));
        }
    }
    if (!adaptive) {
        p->dt = 1e-3;
        for (int i = 0; i < 3; i++) {
            if (cb_opt_is_set(o, ids[i])) {
                p->dt = cb_opt_num(o, ids[i]);
                break;
            }
        }
        p->dt_min = p->dt_max = p->dt;
        return CUBIE_OK;
    }
    if (has_min && has_max && cb_opt_num(o, CB_OPT_DT_MIN) >
                                  cb_opt_num(o, CB_OPT_DT_MAX)) {
        return cb_fail(err, CUBIE_E_OPTION, "dt_min", 0,
                       "option dt_min: %g is larger than dt_max %g",
                       cb_opt_num(o, CB_OPT_DT_MIN),
                       cb_opt_num(o, CB_OPT_DT_MAX));
    }
    if (has_dt) {
        p->dt = cb_opt_num(o, CB_OPT_DT);
        p->dt_min = opt_or(o, CB_OPT_DT_MIN, p->dt / 100.0);
        p->dt_max = opt_or(o, CB_OPT_DT_MAX, p->dt * 100.0);
        if ((has_min && p->dt < p->dt_min) || (has_max && p->dt > p->dt_max)) {
            return cb_fail(err, CUBIE_E_OPTION, "dt", 0,
                           "option dt: %g lies outside [dt_min, dt_max] = "
                           "[%g, %g]", p->dt, p->dt_min, p->dt_max);
        }
    } else {
        p->dt_min = opt_or(o, CB_OPT_DT_MIN, 1e-6);
        p->dt_max = opt_or(o, CB_OPT_DT_MAX, 1.0);
        if (p->dt_min > p->dt_max) { /* one of them derived: fix it up */
            if (has_min) {
                p->dt_max = p->dt_min;
            } else {
                p->dt_min = p->dt_max;
            }
        }
        p->dt = sqrt(p->dt_min * p->dt_max);
    }
    return CUBIE_OK;
}

/* atol / rtol: one value for every state, or one per state. */
static cubie_status plan_tolerance(const struct cubie_options *o,
                                   cb_opt_id id, int n, double **out,
                                   cubie_error *err)
{
    const char *key = cb_opt_table[id].key;
    *out = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (*out == NULL) {
        return cb_fail_nomem(err);
    }
    int got = cb_opt_number_list(cb_opt_text(o, id), *out, n);
    if (got == 1) {
        for (int i = 1; i < n; i++) {
            (*out)[i] = (*out)[0];
        }
    } else if (got != n) {
        return cb_fail(err, CUBIE_E_OPTION, key, 0,
                       "option %s: %d values for %d states (give one value, "
                       "or one per state)", key, got, n);
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
    const bool adaptive = k->controller != CB_CTRL_FIXED;
    cubie_status st = plan_steps(o, adaptive, p, err);
    if (st != CUBIE_OK) {
        return st;
    }
    if (!adaptive && p->dt > p->duration + p->settle) {
        return cb_fail(err, CUBIE_E_OPTION, "dt", 0,
                       "option dt: %g is longer than the whole integration "
                       "(%g)", p->dt, p->duration + p->settle);
    }
    /* Controller numbers: the user's, else the family's defaults
     * (cubie-features.md §4): explicit pairs pi with a closed deadband
     * and gains up to 10; implicit ones RADAU5's 1.0..1.2 and 8. */
    p->kp = opt_or(o, CB_OPT_KP, 0.7);
    p->ki = opt_or(o, CB_OPT_KI, -0.4);
    p->kd = opt_or(o, CB_OPT_KD, 0.0);
    p->safety = opt_or(o, CB_OPT_SAFETY, 0.9);
    p->min_gain = opt_or(o, CB_OPT_MIN_GAIN, 0.2);
    p->max_gain = opt_or(o, CB_OPT_MAX_GAIN, k->implicit ? 8.0 : 10.0);
    p->deadband_min = opt_or(o, CB_OPT_DEADBAND_MIN, 1.0);
    p->deadband_max = opt_or(o, CB_OPT_DEADBAND_MAX, k->implicit ? 1.2 : 1.0);
    p->newton_target_iters = cb_opt_num(o, CB_OPT_NEWTON_TARGET_ITERS);
    if (adaptive && !(p->min_gain > 0.0 && p->min_gain <= p->max_gain)) {
        return cb_fail(err, CUBIE_E_OPTION, "min_gain", 0,
                       "options min_gain %g and max_gain %g: need "
                       "0 < min_gain <= max_gain", p->min_gain, p->max_gain);
    }
    if (adaptive && !(p->safety > 0.0 && p->safety <= 1.0)) {
        return cb_fail(err, CUBIE_E_OPTION, "safety", 0,
                       "option safety: %g is not in (0, 1]", p->safety);
    }
    if ((st = plan_tolerance(o, CB_OPT_ATOL, k->n_states, &p->atol, err)) ||
        (st = plan_tolerance(o, CB_OPT_RTOL, k->n_states, &p->rtol, err))) {
        return st;
    }
    /* Solver tolerances (§3.4): Newton a tenth of the step's, Krylov the
     * step's, unless given. */
    const int n = k->n_states;
    const cb_opt_id lists[4] = {CB_OPT_NEWTON_ATOL, CB_OPT_NEWTON_RTOL,
                                CB_OPT_KRYLOV_ATOL, CB_OPT_KRYLOV_RTOL};
    double **dst[4] = {&p->natol, &p->nrtol, &p->katol, &p->krtol};
    const double *from[4] = {p->atol, p->rtol, p->atol, p->rtol};
    const double scale[4] = {0.1, 0.1, 1.0, 1.0};
    for (int l = 0; l < 4; l++) {
        if (cb_opt_is_set(o, lists[l])) {
            if ((st = plan_tolerance(o, lists[l], n, dst[l], err))) {
                return st;
            }
        } else {
            *dst[l] = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
            if (*dst[l] == NULL) {
                return cb_fail_nomem(err);
            }
            for (int i = 0; i < n; i++) {
                (*dst[l])[i] = from[l][i] * scale[l];
            }
        }
    }
    /* Caps travel as reals: keep them exact in float32. */
    const cb_opt_id caps[] = {CB_OPT_NEWTON_MAX_ITERS, CB_OPT_KRYLOV_MAX_ITERS,
                              CB_OPT_NEWTON_MAX_BACKTRACKS};
    for (int i = 0; i < 3; i++) {
        if (cb_opt_num(o, caps[i]) > 1000000.0) {
            return cb_fail(err, CUBIE_E_OPTION, cb_opt_table[caps[i]].key, 0,
                           "option %s: %g is above the limit of 1000000",
                           cb_opt_table[caps[i]].key, cb_opt_num(o, caps[i]));
        }
    }
    p->newton_max_iters = cb_opt_num(o, CB_OPT_NEWTON_MAX_ITERS);
    p->krylov_max_iters = cb_opt_num(o, CB_OPT_KRYLOV_MAX_ITERS);
    p->newton_damping = cb_opt_num(o, CB_OPT_NEWTON_DAMPING);
    p->newton_max_backtracks = cb_opt_num(o, CB_OPT_NEWTON_MAX_BACKTRACKS);
    p->beta = cb_opt_num(o, CB_OPT_BETA);
    p->gamma = cb_opt_num(o, CB_OPT_GAMMA);
    const double eps_k = k->is_double ? DBL_EPSILON : (double)FLT_EPSILON;
    p->krylov_floor = opt_or(o, CB_OPT_KRYLOV_RESIDUAL_FLOOR, sqrt(eps_k));
    double min_rtol = INFINITY;
    for (int i = 0; i < n; i++) {
        min_rtol = fmin(min_rtol, p->rtol[i]);
    }
    double reduction = adaptive && min_rtol > 0.0 ? min_rtol : eps_k;
    if (adaptive && min_rtol > 0.0 && k->linear_only) {
        reduction *= 0.01; /* linearly implicit: tighter solves */
    }
    p->krylov_reduction = opt_or(o, CB_OPT_KRYLOV_RESIDUAL_REDUCTION,
                                 reduction);
    if (!(p->beta > 0.0) || p->newton_damping <= 0.0 ||
        p->newton_damping >= 1.0) {
        return cb_fail(err, CUBIE_E_OPTION,
                       p->beta > 0.0 ? "newton_damping" : "beta", 0,
                       "options beta (%g) must be > 0 and newton_damping "
                       "(%g) in (0, 1)", p->beta, p->newton_damping);
    }
    for (int i = 0; adaptive && i < k->n_states; i++) {
        if (p->atol[i] + p->rtol[i] <= 0.0) {
            return cb_fail(err, CUBIE_E_OPTION, "atol", 0,
                           "options atol and rtol: both are 0 for state %d; "
                           "no error can be accepted", i);
        }
    }
    double eps = k->is_double ? DBL_EPSILON : (double)FLT_EPSILON;
    if (cb_opt_is_set(o, CB_OPT_SAVE_EVERY)) {
        p->save_every = cb_opt_num(o, CB_OPT_SAVE_EVERY);
        if (!(p->save_every > 0.0)) {
            return cb_fail(err, CUBIE_E_OPTION, "save_every", 0,
                           "option save_every: must be > 0, not %g",
                           p->save_every);
        }
        if (p->save_every > p->duration + p->dt_min) {
            return cb_fail(err, CUBIE_E_OPTION, "save_every", 0,
                           "option save_every: %g is longer than the "
                           "duration %g", p->save_every, p->duration);
        }
        /* The original's rule: rows = 1 + floor(ratio + min(4 eps ratio,
         * 0.49)), so a ratio a hair under a whole number counts it. */
        double ratio = p->duration / p->save_every;
        double rows = 1.0 + floor(ratio + fmin(4.0 * eps * ratio, 0.49));
        if (rows > 16777216.0) {
            return cb_fail(err, CUBIE_E_OPTION, "save_every", 0,
                           "option save_every: %g saves are too many (at "
                           "most 2^24)", rows);
        }
        if (rows < 2.0) {
            return cb_fail(err, CUBIE_E_OPTION, "save_every", 0,
                           "option save_every: %g is longer than the "
                           "duration %g (no save after the first)",
                           p->save_every, p->duration);
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

static void fill_settings(const run_plan *p, const cb_kernel_info *k,
                          void *set)
{
    const bool d = k->is_double;
    put_time(set, d, CB_SET_T0, p->t0);
    put_time(set, d, CB_SET_SAVE_START, p->t0 + p->settle);
    put_time(set, d, CB_SET_T_END, p->t0 + p->settle + p->duration);
    put_time(set, d, CB_SET_SAVE_EVERY, p->save_every);
    put_real(set, d, CB_SET_DT, p->dt);
    put_real(set, d, CB_SET_DT_MIN, p->dt_min);
    put_real(set, d, CB_SET_DT_MAX, p->dt_max);
    put_real(set, d, CB_SET_KP, p->kp);
    put_real(set, d, CB_SET_KI, p->ki);
    put_real(set, d, CB_SET_KD, p->kd);
    put_real(set, d, CB_SET_SAFETY, p->safety);
    put_real(set, d, CB_SET_MIN_GAIN, p->min_gain);
    put_real(set, d, CB_SET_MAX_GAIN, p->max_gain);
    put_real(set, d, CB_SET_DEADBAND_MIN, p->deadband_min);
    put_real(set, d, CB_SET_DEADBAND_MAX, p->deadband_max);
    put_real(set, d, CB_SET_NEWTON_TARGET_ITERS, p->newton_target_iters);
    put_real(set, d, CB_SET_NEWTON_MAX_ITERS, p->newton_max_iters);
    put_real(set, d, CB_SET_NEWTON_DAMPING, p->newton_damping);
    put_real(set, d, CB_SET_NEWTON_MAX_BACKTRACKS, p->newton_max_backtracks);
    put_real(set, d, CB_SET_KRYLOV_MAX_ITERS, p->krylov_max_iters);
    put_real(set, d, CB_SET_KRYLOV_FLOOR, p->krylov_floor);
    put_real(set, d, CB_SET_KRYLOV_REDUCTION, p->krylov_reduction);
    put_real(set, d, CB_SET_BETA, p->beta);
    put_real(set, d, CB_SET_GAMMA, p->gamma);
    const double *arrays[6] = {p->atol,  p->rtol,  p->natol,
                               p->nrtol, p->katol, p->krtol};
    const size_t n = (size_t)k->n_states;
    for (size_t a = 0; a < 6; a++) {
        for (size_t i = 0; i < n; i++) {
            put_real(set, d, CB_SET_FIXED_COUNT + a * n + i, arrays[a][i]);
        }
    }
}

static char **copy_names(const char *const *names, size_t n, const char *extra)
{
    char **out = calloc(n + 2, sizeof(char *));
    for (size_t i = 0; out != NULL && i < n + (extra ? 1 : 0); i++) {
        out[i] = strdup(i < n ? names[i] : extra);
        if (out[i] == NULL) {
            for (size_t j = 0; j < i; j++) {
                free(out[j]);
            }
            free(out);
            return NULL;
        }
    }
    return out;
}

static void free_names(char **names)
{
    for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
        free(names[i]);
    }
    free(names);
}

static cubie_status result_alloc(const struct cubie_solver *s, size_t n_runs,
                                 const run_plan *p, struct cubie_result **out,
                                 cubie_error *err)
{
    const cb_kernel_info *k = &s->gen.info;
    const struct cubie_system *sys = s->sys;
    struct cubie_result *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return cb_fail_nomem(err);
    }
    r->n_runs = n_runs;
    r->n_saves = (size_t)p->n_saves;
    r->n_vars = (size_t)k->n_saved;
    r->precision = k->is_double ? 8 : 4;
    const size_t rows = r->n_runs * r->n_saves;
    r->state = malloc((size_t)r->precision * rows * r->n_vars + 8);
    r->time = malloc(sizeof(double) * r->n_saves);
    r->status = calloc(n_runs, sizeof(int32_t));
    r->var_names = copy_names(k->save_state ? sys->state_names : NULL,
                              k->save_state ? (size_t)sys->n_states : 0,
                              k->save_time ? "t" : NULL);
    bool ok = r->state && r->time && r->status && r->var_names;
    if (ok && k->save_obs) {
        const char **names = calloc((size_t)sys->n_obs + 1, sizeof(char *));
        ok = names != NULL;
        for (int i = 0; ok && i < sys->n_obs; i++) {
            names[i] = sys->aux_names[sys->obs_aux[i]];
        }
        r->n_obs = (size_t)sys->n_obs;
        r->obs_names = ok ? copy_names(names, r->n_obs, NULL) : NULL;
        r->obs = malloc((size_t)r->precision * rows * r->n_obs);
        ok = r->obs_names && r->obs;
        free(names);
    }
    if (ok && k->save_counters) {
        r->counters = calloc(rows * 4, sizeof(int32_t));
        ok = r->counters != NULL;
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

/* Device layout (save, column, run) -> user layout (run, save, column),
 * NaN for the runs that failed when masking. */
static void transpose_real(const void *dev, void *user, bool d, size_t n,
                           size_t saves, size_t cols, const int32_t *status,
                           bool mask, int keep_col)
{
    for (size_t run = 0; run < n; run++) {
        bool nan_run = mask && status[run] != 0;
        for (size_t sv = 0; sv < saves; sv++) {
            for (size_t i = 0; i < cols; i++) {
                double v = get_real(dev, d, (sv * cols + i) * n + run);
                if (nan_run && (int)i != keep_col) {
                    v = NAN;
                }
                put_real(user, d, (run * saves + sv) * cols + i, v);
            }
        }
    }
}

/* Bytes one run needs in the device layout: inputs, outputs, status. */
static size_t bytes_per_run(const cb_kernel_info *k, const run_plan *p)
{
    const size_t sz = k->is_double ? 8 : 4, saves = (size_t)p->n_saves;
    size_t b = sz * (size_t)(k->n_states + k->n_params);
    b += sz * saves * (size_t)k->n_saved;
    b += k->save_obs ? sz * saves * (size_t)k->n_obs : 0;
    b += k->save_counters ? 4 * saves * 4 : 0;
    return b + 4;
}

/* Runs per chunk: all of them, unless the memory cap (and on the GPU the
 * free device memory) says fewer. The same rule serves both backends, so
 * the chunking logic is tested on the host. */
static cubie_status chunk_runs(const struct cubie_solver *s,
                               const struct cubie_options *o,
                               const run_plan *p, size_t n, size_t *out,
                               cubie_error *err)
{
    const size_t per = bytes_per_run(&s->gen.info, p);
    double cap = cb_opt_is_set(o, CB_OPT_MEMORY_CAP)
                     ? cb_opt_num(o, CB_OPT_MEMORY_CAP)
                     : INFINITY;
    if (s->cuda != NULL) {
        size_t free_b = cb_cuda_free_memory(s->cuda);
        if (free_b > 0) {
            cap = fmin(cap, 0.8 * (double)free_b);
        }
    } else if (!cb_opt_is_set(o, CB_OPT_MEMORY_CAP)) {
        /* The host's staging buffers (device layout) come on top of the
         * result itself: keep them to 512 MiB a chunk. */
        cap = 512.0 * 1024.0 * 1024.0;
    }
    if (cap < (double)per) {
        return cb_fail(err, CUBIE_E_OPTION, "memory_cap", 0,
                       "option memory_cap: %.0f bytes cannot hold one run "
                       "(%zu bytes)", cap, per);
    }
    double m = floor(cap / (double)per);
    *out = m >= (double)n ? n : (size_t)m;
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
    const double t_start = cb_now_ms();
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
    size_t m = 0;
    st = make_plan(o, k, &p, err);
    if (st == CUBIE_OK) {
        st = chunk_runs(s, o, &p, in->n_runs, &m, err);
    }
    const int blocksize = (int)cb_opt_num(o, CB_OPT_BLOCKSIZE);
    cubie_options_free(o);
    if (st != CUBIE_OK) {
        plan_free(&p);
        return st;
    }
    const bool d = k->is_double;
    const size_t sz = d ? 8 : 4, n = in->n_runs;
    const size_t ns = (size_t)k->n_states, np = (size_t)k->n_params;
    const size_t saves = (size_t)p.n_saves, cols = (size_t)k->n_saved;
    const size_t n_obs = k->save_obs ? (size_t)k->n_obs : 0;
    /* Chunk buffers in the device layout, run index fastest. */
    void *inits = malloc(sz * ns * m + sz);
    void *params = malloc(sz * np * m + sz);
    void *settings = malloc(sz * (size_t)k->n_settings);
    void *state_out = malloc(sz * saves * cols * m + sz);
    void *obs_out = malloc(sz * saves * n_obs * m + sz);
    int *counters_out = malloc(sizeof(int) * (k->save_counters ? saves * 4 * m
                                                               : 1));
    int *status_out = malloc(sizeof(int) * m);
    struct cubie_result *r = NULL;
    if (inits == NULL || params == NULL || settings == NULL ||
        state_out == NULL || obs_out == NULL || counters_out == NULL ||
        status_out == NULL) {
        st = cb_fail_nomem(err);
        goto done;
    }
    if ((st = result_alloc(s, n, &p, &r, err)) != CUBIE_OK) {
        goto done;
    }
    fill_settings(&p, k, settings);
    for (size_t r0 = 0; r0 < n; r0 += m) {
        const size_t c = n - r0 < m ? n - r0 : m;
        for (size_t run = 0; run < c; run++) {
            for (size_t i = 0; i < ns; i++) {
                put_real(inits, d, i * c + run, in->inits[(r0 + run) * ns + i]);
            }
            for (size_t i = 0; i < np; i++) {
                put_real(params, d, i * c + run,
                         in->params[(r0 + run) * np + i]);
            }
        }
        /* Rows a failed run never reaches read as NaN, not garbage. */
        for (size_t i = 0; i < saves * cols * c; i++) {
            put_real(state_out, d, i, NAN);
        }
        for (size_t i = 0; i < saves * n_obs * c; i++) {
            put_real(obs_out, d, i, NAN);
        }
        if (k->save_counters) {
            memset(counters_out, 0, sizeof(int) * saves * 4 * c);
        }
        double ms = 0.0, copy_ms = 0.0;
        if (s->cuda != NULL) {
            st = cb_cuda_run(s->cuda, blocksize, sz, inits, sz * ns * c,
                             params, sz * np * c, settings,
                             sz * (size_t)k->n_settings, state_out,
                             sz * saves * cols * c, obs_out,
                             sz * saves * n_obs * c, counters_out,
                             k->save_counters ? sizeof(int) * saves * 4 * c
                                              : 0,
                             status_out, (int)c, p.n_saves, p.max_steps, &ms,
                             &copy_ms, err);
            if (st != CUBIE_OK) {
                goto done;
            }
        } else {
            double t = cb_now_ms();
            s->host.run(inits, params, settings, state_out, obs_out,
                        counters_out, status_out, (int)c, p.n_saves,
                        p.max_steps);
            ms = cb_now_ms() - t;
        }
        r->kernel_ms += ms;
        r->copy_ms += copy_ms;
        r->n_chunks++;
        for (size_t run = 0; run < c; run++) {
            r->status[r0 + run] = status_out[run];
        }
        /* Present per run; a failed run keeps its time column. */
        transpose_real(state_out, (char *)r->state + sz * r0 * saves * cols,
                       d, c, saves, cols, r->status + r0, p.nan_mask,
                       k->save_time ? (int)cols - 1 : -1);
        if (k->save_obs) {
            transpose_real(obs_out, (char *)r->obs + sz * r0 * saves * n_obs,
                           d, c, saves, n_obs, r->status + r0, p.nan_mask,
                           -1);
        }
        for (size_t run = 0; k->save_counters && run < c; run++) {
            for (size_t sv = 0; sv < saves; sv++) {
                for (size_t q = 0; q < 4; q++) {
                    r->counters[((r0 + run) * saves + sv) * 4 + q] =
                        counters_out[(sv * 4 + q) * c + run];
                }
            }
        }
    }
    r->wall_ms = cb_now_ms() - t_start;
    *out = r;
    r = NULL;
done:
    cubie_result_free(r);
    free(inits);
    free(params);
    free(settings);
    free(state_out);
    free(obs_out);
    free(counters_out);
    free(status_out);
    plan_free(&p);
    return st;
}

void cubie_result_free(struct cubie_result *r)
{
    if (r == NULL) {
        return;
    }
    free_names(r->var_names);
    free_names(r->obs_names);
    free(r->state);
    free(r->obs);
    free(r->counters);
    free(r->time);
    free(r->status);
    free(r);
}

size_t cubie_result_n_observables(const struct cubie_result *r)
{
    return r ? r->n_obs : 0;
}
const char *cubie_result_observable_name(const struct cubie_result *r,
                                         size_t k)
{
    return r && k < r->n_obs ? r->obs_names[k] : NULL;
}
const void *cubie_result_observable_data(const struct cubie_result *r)
{
    return r ? r->obs : NULL;
}
double cubie_result_observable(const struct cubie_result *r, size_t run,
                               size_t save, size_t k)
{
    if (r == NULL || r->obs == NULL || run >= r->n_runs ||
        save >= r->n_saves || k >= r->n_obs) {
        return NAN;
    }
    return get_real(r->obs, r->precision == 8,
                    (run * r->n_saves + save) * r->n_obs + k);
}
const int32_t *cubie_result_counters(const struct cubie_result *r)
{
    return r ? r->counters : NULL;
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
size_t cubie_result_n_chunks(const struct cubie_result *r)
{
    return r ? r->n_chunks : 0;
}
double cubie_result_kernel_ms(const struct cubie_result *r)
{
    return r ? r->kernel_ms : 0.0;
}

double cubie_result_copy_ms(const struct cubie_result *r)
{
    return r ? r->copy_ms : 0.0;
}

double cubie_result_wall_ms(const struct cubie_result *r)
{
    return r ? r->wall_ms : 0.0;
}

cubie_status cubie_build_cuda(const struct cubie_system *sys,
                              const struct cubie_options *opt,
                              const char *arch, char **image, size_t *len,
                              cubie_kernel_resources *res, cubie_error *err)
{
    if (sys == NULL || opt == NULL || arch == NULL || res == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_build_cuda: NULL argument");
    }
    memset(res, 0, sizeof(*res));
    if (image != NULL) {
        *image = NULL;
    }
    cb_generated g;
    cubie_status st = cb_generate(sys, opt, &g, err);
    if (st != CUBIE_OK) {
        return st;
    }
    cb_nvrtc_opts o = {
        .arch = arch,
        .fast_compile = strcmp(cb_opt_text(opt, CB_OPT_OPT_LEVEL),
                               "fast-compile") == 0,
        .lineinfo = cb_opt_num(opt, CB_OPT_LINEINFO) != 0.0,
        .max_registers = (int)cb_opt_num(opt, CB_OPT_MAX_REGISTERS),
        .use_cache = cb_opt_num(opt, CB_OPT_CACHE) != 0.0};
    cb_artifact a;
    st = cb_nvrtc_build(g.source, &o, &a, err);
    if (st == CUBIE_OK) {
        res->registers = a.res.registers;
        res->spill_stores = a.res.spill_stores;
        res->spill_loads = a.res.spill_loads;
        res->stack = a.res.stack;
        res->static_smem = a.res.smem;
        res->found = a.res.found;
        res->cache_hit = a.cache_hit;
        res->compile_ms = a.ms;
        res->shared_per_run = g.info.shared_stride * (g.info.is_double ? 8 : 4) +
                              g.info.shared_i_stride * 4;
        if (image != NULL) {
            *image = a.image;
            *len = a.len;
            a.image = NULL;
        }
        cb_artifact_free(&a);
    }
    cb_generated_free(&g);
    return st;
}

cubie_status cubie_devices(char **text, cubie_error *err)
{
    if (text == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0, "cubie_devices: NULL");
    }
    *text = malloc(4096);
    if (*text == NULL) {
        return cb_fail_nomem(err);
    }
    cubie_status st = cb_cuda_describe(*text, 4096, err);
    if (st != CUBIE_OK) {
        free(*text);
        *text = NULL;
    }
    return st;
}
