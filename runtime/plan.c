/* The run's plan: every setting of settings.def resolved from the options
 * with the original's defaults and derivation rules. Settings whose option
 * has a default are read from it (one loop over the table); the derived
 * ones come from the tables of the method's family and controller
 * (families.def, controllers.def) and from the rules below, each with the
 * original's name for it. */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double opt_or(const struct cubie_options *o, cb_opt_id id, double d)
{
    return cb_opt_is_set(o, id) ? cb_opt_num(o, id) : d;
}

#define V(id) p->value[CB_SETTING_##id]

/* t0, duration, settling time: the run's span. */
static cubie_status plan_span(const struct cubie_options *o, cb_plan *p,
                              cubie_error *err)
{
    p->t0 = cb_opt_num(o, CB_OPT_T0);
    p->duration = cb_opt_num(o, CB_OPT_DURATION);
    p->settle = cb_opt_num(o, CB_OPT_SETTLING_TIME);
    p->max_steps = (int)cb_opt_num(o, CB_OPT_MAX_STEPS);
    p->nan_mask = cb_opt_num(o, CB_OPT_NAN_ERROR_TRAJECTORIES) != 0.0;
    p->blocksize = (int)cb_opt_num(o, CB_OPT_BLOCKSIZE);
    p->memory_cap = opt_or(o, CB_OPT_MEMORY_CAP, INFINITY);
    const double chunks = cb_opt_num(o, CB_OPT_PIPELINE_CHUNKS);
    p->pipeline_chunks = chunks < 1.0   ? 1
                         : chunks > 1e6 ? 1000000
                                        : (int)chunks;
    if (!(p->duration > 0.0)) {
        return cb_fail(err, CUBIE_E_OPTION, "duration", 0,
                       "option duration: must be > 0, not %g", p->duration);
    }
    if (p->settle < 0.0) {
        return cb_fail(err, CUBIE_E_OPTION, "settling_time", 0,
                       "option settling_time: must be >= 0, not %g",
                       p->settle);
    }
    V(T0) = p->t0;
    V(SAVE_START) = p->t0 + p->settle;
    V(T_END) = p->t0 + p->settle + p->duration;
    return CUBIE_OK;
}

/* Step sizes. Fixed: dt is the first of dt, dt_min, dt_max given (1e-3
 * by default). Adaptive: dt_min 1e-6 and dt_max 1 by default, dt alone
 * gives dt/100 and 100 dt, no dt gives sqrt(dt_min dt_max); bounds the
 * user set must be consistent, derived ones are fixed up (the original's
 * _ensure_sane_bounds). An implicit method's dt_max defaults to the whole
 * span (settling_time + duration), as RADAU5's and CVODE's do, not to the
 * original's 1: a stiff run's smooth stretches take steps of hundreds,
 * and a cap of 1 made Van der Pol (mu = 1000, t to 2000) take 3.5x the
 * steps it needs. Its first step stays the original's sqrt(dt_min * 1):
 * sqrt(dt_min * span) was 316 on Robertson to 1e11, past the initial
 * transient, and float32 rodas3p went on to a wrong answer from there.
 * Explicit methods keep 1 (their steps are bounded by stability anyway,
 * and their results stay the original's). */
static cubie_status plan_steps(const struct cubie_options *o, bool adaptive,
                               bool implicit, cb_plan *p, cubie_error *err)
{
    const bool has_dt = cb_opt_is_set(o, CB_OPT_DT);
    const bool has_min = cb_opt_is_set(o, CB_OPT_DT_MIN);
    const bool has_max = cb_opt_is_set(o, CB_OPT_DT_MAX);
    const cb_opt_id ids[] = {CB_OPT_DT, CB_OPT_DT_MIN, CB_OPT_DT_MAX};
    double dt = 0.0, dt_min = 0.0, dt_max = 0.0;
    for (int i = 0; i < 3; i++) {
        if (cb_opt_is_set(o, ids[i]) && !(cb_opt_num(o, ids[i]) > 0.0)) {
            return cb_fail(err, CUBIE_E_OPTION, cb_opt_table[ids[i]].key, 0,
                           "option %s: must be > 0, not %g",
                           cb_opt_table[ids[i]].key, cb_opt_num(o, ids[i]));
        }
    }
    if (!adaptive) {
        dt = 1e-3;
        for (int i = 0; i < 3; i++) {
            if (cb_opt_is_set(o, ids[i])) {
                dt = cb_opt_num(o, ids[i]);
                break;
            }
        }
        dt_min = dt_max = dt;
    } else if (has_min && has_max && cb_opt_num(o, CB_OPT_DT_MIN) >
                                         cb_opt_num(o, CB_OPT_DT_MAX)) {
        return cb_fail(err, CUBIE_E_OPTION, "dt_min", 0,
                       "option dt_min: %g is larger than dt_max %g",
                       cb_opt_num(o, CB_OPT_DT_MIN),
                       cb_opt_num(o, CB_OPT_DT_MAX));
    } else if (has_dt) {
        dt = cb_opt_num(o, CB_OPT_DT);
        dt_min = opt_or(o, CB_OPT_DT_MIN, dt / 100.0);
        dt_max = opt_or(o, CB_OPT_DT_MAX, dt * 100.0);
        if ((has_min && dt < dt_min) || (has_max && dt > dt_max)) {
            return cb_fail(err, CUBIE_E_OPTION, "dt", 0,
                           "option dt: %g lies outside [dt_min, dt_max] = "
                           "[%g, %g]", dt, dt_min, dt_max);
        }
    } else {
        dt_min = opt_or(o, CB_OPT_DT_MIN, 1e-6);
        /* the span as the bound, never as the first step: that stays
         * the original's sqrt(dt_min * 1) */
        const bool span = implicit && !has_max;
        dt_max = opt_or(o, CB_OPT_DT_MAX, 1.0);
        if (dt_min > dt_max) { /* one of them derived: fix it up */
            if (has_min) {
                dt_max = dt_min;
            } else {
                dt_min = dt_max;
            }
        }
        dt = sqrt(dt_min * dt_max);
        if (span) {
            dt_max = fmax(dt_max, p->duration + p->settle);
        }
    }
    if (!adaptive && dt > p->duration + p->settle) {
        return cb_fail(err, CUBIE_E_OPTION, "dt", 0,
                       "option dt: %g is longer than the whole integration "
                       "(%g)", dt, p->duration + p->settle);
    }
    V(DT) = dt;
    V(DT_MIN) = dt_min;
    V(DT_MAX) = dt_max;
    p->dt_min = dt_min;
    return CUBIE_OK;
}

/* Controller numbers: the user's, else the defaults of the controller
 * (gains, controllers.def) and of the method's family (safety, gain
 * clamps, deadband, families.def). */
static cubie_status plan_controller(const struct cubie_options *o,
                                    const cb_kernel_info *k, cb_plan *p,
                                    cubie_error *err)
{
    const cb_controller_info *ci = &cb_controllers[k->controller];
    const cb_family_info *fi = &cb_families[k->method->family];
    V(KP) = opt_or(o, CB_OPT_KP, ci->kp);
    V(KI) = opt_or(o, CB_OPT_KI, ci->ki);
    V(KD) = opt_or(o, CB_OPT_KD, ci->kd);
    V(SAFETY) = opt_or(o, CB_OPT_SAFETY, fi->safety);
    V(MIN_GAIN) = opt_or(o, CB_OPT_MIN_GAIN, fi->min_gain);
    V(MAX_GAIN) = opt_or(o, CB_OPT_MAX_GAIN, fi->max_gain);
    V(DEADBAND_MIN) = opt_or(o, CB_OPT_DEADBAND_MIN, fi->deadband_min);
    V(DEADBAND_MAX) = opt_or(o, CB_OPT_DEADBAND_MAX, fi->deadband_max);
    const bool adaptive = k->controller != CB_CTRL_FIXED;
    if (adaptive && !(V(MIN_GAIN) > 0.0 && V(MIN_GAIN) <= V(MAX_GAIN))) {
        return cb_fail(err, CUBIE_E_OPTION, "min_gain", 0,
                       "options min_gain %g and max_gain %g: need "
                       "0 < min_gain <= max_gain", V(MIN_GAIN), V(MAX_GAIN));
    }
    if (adaptive && !(V(SAFETY) > 0.0 && V(SAFETY) <= 1.0)) {
        return cb_fail(err, CUBIE_E_OPTION, "safety", 0,
                       "option safety: %g is not in (0, 1]", V(SAFETY));
    }
    return CUBIE_OK;
}

/* A per-state list: one value for every state, or one per state. */
static cubie_status state_list(const struct cubie_options *o, cb_opt_id id,
                               int n, double **out, cubie_error *err)
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

/* atol and rtol; the solvers' tolerances (the original's newton_krylov
 * defaults): Newton a tenth of the step's, Krylov the step's, unless
 * given. */
static cubie_status plan_tolerances(const struct cubie_options *o,
                                    const cb_kernel_info *k, cb_plan *p,
                                    cubie_error *err)
{
    const int n = k->n_states;
    double **const st = p->states;
    CB_TRY(state_list(o, CB_OPT_ATOL, n, &st[CB_SETTING_ATOL], err));
    CB_TRY(state_list(o, CB_OPT_RTOL, n, &st[CB_SETTING_RTOL], err));
    const struct {
        cb_setting s;
        cb_opt_id opt;
        cb_setting from;
        double scale;
    } derived[] = {
        {CB_SETTING_NEWTON_ATOL, CB_OPT_NEWTON_ATOL, CB_SETTING_ATOL, 0.1},
        {CB_SETTING_NEWTON_RTOL, CB_OPT_NEWTON_RTOL, CB_SETTING_RTOL, 0.1},
        {CB_SETTING_KRYLOV_ATOL, CB_OPT_KRYLOV_ATOL, CB_SETTING_ATOL, 1.0},
        {CB_SETTING_KRYLOV_RTOL, CB_OPT_KRYLOV_RTOL, CB_SETTING_RTOL, 1.0},
    };
    for (size_t l = 0; l < sizeof(derived) / sizeof(derived[0]); l++) {
        if (cb_opt_is_set(o, derived[l].opt)) {
            CB_TRY(state_list(o, derived[l].opt, n, &st[derived[l].s], err));
            continue;
        }
        st[derived[l].s] = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
        if (st[derived[l].s] == NULL) {
            return cb_fail_nomem(err);
        }
        for (int i = 0; i < n; i++) {
            st[derived[l].s][i] = st[derived[l].from][i] * derived[l].scale;
        }
    }
    for (int i = 0; k->controller != CB_CTRL_FIXED && i < n; i++) {
        if (st[CB_SETTING_ATOL][i] + st[CB_SETTING_RTOL][i] <= 0.0) {
            return cb_fail(err, CUBIE_E_OPTION, "atol", 0,
                           "options atol and rtol: both are 0 for state %d; "
                           "no error can be accepted", i);
        }
    }
    return CUBIE_OK;
}

/* The solvers' numbers: caps travel as reals (kept exact in float32);
 * the Krylov stopping rule's floor sqrt(eps) and reduction min(rtol)
 * (adaptive; for Rosenbrock methods a tenth of it, at most 1e-6; eps when
 * fixed). */
static cubie_status plan_solver(const struct cubie_options *o,
                                const cb_kernel_info *k, cb_plan *p,
                                cubie_error *err)
{
    const cb_opt_id caps[] = {CB_OPT_NEWTON_MAX_ITERS, CB_OPT_KRYLOV_MAX_ITERS,
                              CB_OPT_NEWTON_MAX_BACKTRACKS};
    for (int i = 0; i < 3; i++) {
        if (cb_opt_num(o, caps[i]) > 1000000.0) {
            return cb_fail(err, CUBIE_E_OPTION, cb_opt_table[caps[i]].key, 0,
                           "option %s: %g is above the limit of 1000000",
                           cb_opt_table[caps[i]].key, cb_opt_num(o, caps[i]));
        }
    }
    const bool adaptive = k->controller != CB_CTRL_FIXED;
    const double eps = k->is_double ? DBL_EPSILON : (double)FLT_EPSILON;
    V(KRYLOV_FLOOR) = opt_or(o, CB_OPT_KRYLOV_RESIDUAL_FLOOR, sqrt(eps));
    double min_rtol = INFINITY;
    for (int i = 0; i < k->n_states; i++) {
        min_rtol = fmin(min_rtol, p->states[CB_SETTING_RTOL][i]);
    }
    /* A Rosenbrock stage is the linear solve's answer, with no Newton
     * iteration to correct it: its residual goes to a tenth of rtol, and
     * never above 1e-6. Where a step meets a growing mode (h lambda near
     * 1/gamma, I - gamma h J near singular) a residual of 1e-4 became
     * an O(1) error the embedded estimate did not see: rodas3p on Van der
     * Pol (mu = 1000, t to 2000, no dt_max) ended at x = -0.2 instead of
     * 1.706 at rtol 1e-4, at 1e13 at rtol 1e-3, with a 0 status; with a
     * reduction of 1e-6 both reach 1.70 (tests/test_implicit.c). */
    const bool rosenbrock = k->implicit &&
                            !cb_families[k->method->family].newton;
    const double reduction =
        adaptive && min_rtol > 0.0
            ? fmax(rosenbrock ? fmin(0.1 * min_rtol, 1e-8) : min_rtol, eps)
            : eps;
    V(KRYLOV_REDUCTION) =
        opt_or(o, CB_OPT_KRYLOV_RESIDUAL_REDUCTION, reduction);
    if (!(V(BETA) > 0.0) || V(NEWTON_DAMPING) <= 0.0 ||
        V(NEWTON_DAMPING) >= 1.0) {
        return cb_fail(err, CUBIE_E_OPTION,
                       V(BETA) > 0.0 ? "newton_damping" : "beta", 0,
                       "options beta (%g) must be > 0 and newton_damping "
                       "(%g) in (0, 1)", V(BETA), V(NEWTON_DAMPING));
    }
    return CUBIE_OK;
}

/* Saves: with save_every, rows at t0 + settling_time + i save_every, the
 * original's count 1 + floor(ratio + min(4 eps ratio, 0.49)) (a ratio a
 * hair under a whole number counts it); else the first and last rows. */
static cubie_status plan_saves(const struct cubie_options *o,
                               const cb_kernel_info *k, cb_plan *p,
                               cubie_error *err)
{
    const double eps = k->is_double ? DBL_EPSILON : (double)FLT_EPSILON;
    if (!k->saves) {
        /* Summaries only: no row per save. */
        p->save_every = p->duration;
        p->n_saves = 0;
        V(SAVE_EVERY) = p->save_every;
        return CUBIE_OK;
    }
    if (!cb_opt_is_set(o, CB_OPT_SAVE_EVERY)) {
        p->save_every = p->duration; /* initial and final rows */
        p->n_saves = 2;
        V(SAVE_EVERY) = p->save_every;
        return CUBIE_OK;
    }
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
    V(SAVE_EVERY) = p->save_every;
    return CUBIE_OK;
}

/* The summary schedule, the original's rules: summarise_every S and
 * sample_summaries_every ss; S unset: the duration, ss then duration/100;
 * ss unset: S/10. A window holds N = S/ss samples (within 0.01 of a whole
 * number); samples fall at t0 + settling_time + k ss, k >= 1; only
 * complete windows are written. */
static cubie_status plan_summaries(const struct cubie_options *o,
                                   const cb_kernel_info *k, cb_plan *p,
                                   cubie_error *err)
{
    if (!k->summaries) {
        p->n_windows = 0;
        return CUBIE_OK;
    }
    const bool has_s = cb_opt_is_set(o, CB_OPT_SUMMARISE_EVERY);
    const bool has_ss = cb_opt_is_set(o, CB_OPT_SAMPLE_SUMMARIES_EVERY);
    const double S = has_s ? cb_opt_num(o, CB_OPT_SUMMARISE_EVERY)
                           : p->duration;
    const double ss = has_ss ? cb_opt_num(o, CB_OPT_SAMPLE_SUMMARIES_EVERY)
                      : has_s ? S / 10.0
                              : p->duration / 100.0;
    if (!(S > 0.0)) {
        return cb_fail(err, CUBIE_E_OPTION, "summarise_every", 0,
                       "option summarise_every: must be > 0, not %g", S);
    }
    if (!(ss > 0.0)) {
        return cb_fail(err, CUBIE_E_OPTION, "sample_summaries_every", 0,
                       "option sample_summaries_every: must be > 0, not %g",
                       ss);
    }
    if (ss > S * (1.0 + 1e-12)) {
        return cb_fail(err, CUBIE_E_OPTION, "sample_summaries_every", 0,
                       "option sample_summaries_every: %g is longer than "
                       "the summary window summarise_every = %g", ss, S);
    }
    const double ratio = S / ss;
    const double n = round(ratio);
    if (fabs(ratio - n) > 0.01) {
        return cb_fail(err, CUBIE_E_OPTION, "summarise_every", 0,
                       "option summarise_every: %g is not a whole number "
                       "of sample intervals sample_summaries_every = %g "
                       "(%.4g of them)", S, ss, ratio);
    }
    if (S > p->duration + p->dt_min) {
        return cb_fail(err, CUBIE_E_OPTION, "summarise_every", 0,
                       "option summarise_every: %g is longer than the "
                       "duration %g (no complete window)", S, p->duration);
    }
    const double eps = k->is_double ? DBL_EPSILON : (double)FLT_EPSILON;
    const double q = p->duration / ss;
    const double samples = floor(q + fmin(4.0 * eps * q, 0.49));
    if (samples > 16777216.0) {
        return cb_fail(err, CUBIE_E_OPTION, "sample_summaries_every", 0,
                       "option sample_summaries_every: %g samples are too "
                       "many (at most 2^24)", samples);
    }
    p->sample_every = ss;
    p->per_window = (int)n;
    p->n_windows = (int)samples / p->per_window;
    p->n_samples = p->n_windows * p->per_window;
    V(SAMPLE_EVERY) = ss;
    V(SAMPLES_PER_WINDOW) = (double)p->per_window;
    V(N_SAMPLES) = (double)p->n_samples;
    return CUBIE_OK;
}

/* Time must be able to advance: near t the kernel's times are spaced
 * t * 2^-52 apart in float64, about t * 2^-47 in a float32 kernel's
 * float pair. The span, the step (fixed) or the largest step (adaptive)
 * and the save interval must each be several such spacings, or the run
 * would end at once or stand still while claiming success. */
static cubie_status plan_time_range(const cb_kernel_info *k, bool adaptive,
                                    cb_plan *p, cubie_error *err)
{
    const char *prec = k->is_double ? "float64" : "float32";
    const double t_end = V(T_END);
    if (!isfinite(p->t0) || !isfinite(t_end) ||
        (!k->is_double && fmax(fabs(p->t0), fabs(t_end)) >= (double)FLT_MAX)) {
        return cb_fail(err, CUBIE_E_OPTION, "t0", 0,
                       "option t0: the run's times %g to %g do not fit %s",
                       p->t0, t_end, prec);
    }
    const double spacing = fmax(fabs(p->t0), fabs(t_end)) *
                           (k->is_double ? 0x1p-52 : 0x1p-47);
    const struct {
        const char *what, *key;
        double v;
    } need[] = {
        {"the span settling_time + duration", "duration",
         p->settle + p->duration},
        {adaptive ? "the largest step dt_max" : "the step dt",
         adaptive ? "dt_max" : "dt", adaptive ? V(DT_MAX) : V(DT)},
        {"the save interval save_every", "save_every", p->save_every},
        {"the sample interval sample_summaries_every",
         "sample_summaries_every",
         k->summaries ? p->sample_every : p->save_every},
    };
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        if (need[i].v < 4.0 * spacing) {
            return cb_fail(err, CUBIE_E_OPTION, need[i].key, 0,
                           "option t0 = %g: near t = %g the %s times are "
                           "%g apart, so %s (%g) cannot advance time; "
                           "move t0 toward 0 or lengthen it",
                           p->t0, fmax(fabs(p->t0), fabs(t_end)), prec,
                           spacing, need[i].what, need[i].v);
        }
    }
    return CUBIE_OK;
}

/* The drivers' spline: the batch's samples, their times (given, or
 * driver_t0 and driver_sample_period), driver_order and driver_wrap (the
 * kernel's), driver_boundary_condition (default periodic with wrap, else
 * clamped). */
cubie_status cb_plan_drivers(const struct cubie_options *o,
                             const cb_kernel_info *k,
                             const struct cubie_batch *in, cb_plan *p,
                             cubie_error *err)
{
    if (k->n_drivers == 0) {
        return CUBIE_OK;
    }
    const struct cubie_system *sys = in->sys;
    for (int d = 0; d < sys->n_drivers; d++) {
        if (in->driver_set == NULL || !in->driver_set[d]) {
            return cb_fail(err, CUBIE_E_BATCH, sys->driver_names[d], 0,
                           "driver %s has no samples (cubie_batch_set_driver; "
                           "on the command line --drivers FILE.csv)",
                           sys->driver_names[d]);
        }
    }
    const bool has_period = cb_opt_is_set(o, CB_OPT_DRIVER_SAMPLE_PERIOD);
    const bool has_t0 = cb_opt_is_set(o, CB_OPT_DRIVER_T0);
    double t0 = 0.0, period = 0.0;
    if (in->has_driver_times) {
        if (has_period || has_t0) {
            const char *key = has_period ? "driver_sample_period"
                                         : "driver_t0";
            return cb_fail(err, CUBIE_E_OPTION, key, 0,
                           "option %s: the drivers' samples come with their "
                           "times; give one or the other, not both", key);
        }
        t0 = in->driver_t0;
        period = in->driver_period;
    } else {
        if (!has_period) {
            return cb_fail(err, CUBIE_E_OPTION, "driver_sample_period", 0,
                           "option driver_sample_period: needed for the "
                           "drivers' samples (or give their times: a t "
                           "column, cubie_batch_set_driver_times)");
        }
        period = cb_opt_num(o, CB_OPT_DRIVER_SAMPLE_PERIOD);
        t0 = has_t0 ? cb_opt_num(o, CB_OPT_DRIVER_T0) : 0.0;
    }
    const cb_spline_bc bc =
        cb_opt_is_set(o, CB_OPT_DRIVER_BOUNDARY_CONDITION)
            ? cb_spline_bc_of(
                  cb_opt_choice(o, CB_OPT_DRIVER_BOUNDARY_CONDITION))
        : k->driver_wrap ? CB_BC_PERIODIC
                         : CB_BC_CLAMPED;
    CB_TRY(cb_spline_build(in->driver_samples, in->n_driver_samples,
                           (size_t)sys->n_drivers, sys->driver_names, t0,
                           period, k->driver_order, k->driver_wrap, bc,
                           &p->spline, err));
    p->driver_bc = bc;
    p->driver_t0 = t0;
    if (!k->is_double && p->spline.n_segments > ((size_t)1 << 24)) {
        return cb_fail(err, CUBIE_E_OPTION, "driver_sample_period", 0,
                       "option driver_sample_period: %zu segments are more "
                       "than a float32 kernel counts exactly (2^24)",
                       p->spline.n_segments);
    }
    p->n_driver_coeffs = p->spline.n_segments * p->spline.n_drivers *
                         (size_t)(p->spline.order + 1);
    V(DRIVER_START) = p->spline.start;
    V(DRIVER_PERIOD) = p->spline.period;
    V(DRIVER_SEGMENTS) = (double)p->spline.n_segments;
    return CUBIE_OK;
}

#undef V

cubie_status cb_plan_make(const struct cubie_options *o,
                          const cb_kernel_info *k, cb_plan *p,
                          cubie_error *err)
{
    memset(p, 0, sizeof(*p));
    /* Settings read straight from an option with a default. */
    for (int s = 0; s < CB_SETTING_COUNT; s++) {
        const int opt = cb_settings[s].option;
        if (opt >= 0 && cb_settings[s].kind != CB_SETK_STATES &&
            cb_opt_table[opt].def[0] != '\0') {
            p->value[s] = cb_opt_num(o, (cb_opt_id)opt);
        }
    }
    CB_TRY(plan_span(o, p, err));
    if (p->blocksize > k->block) {
        return cb_fail(err, CUBIE_E_OPTION, "blocksize", 0,
                       "option blocksize: %d is more than the %d threads a "
                       "block this kernel was compiled for "
                       "(__launch_bounds__); compile with blocksize=%d",
                       p->blocksize, k->block, p->blocksize);
    }
    CB_TRY(plan_steps(o, k->controller != CB_CTRL_FIXED, k->implicit, p,
                      err));
    CB_TRY(plan_controller(o, k, p, err));
    CB_TRY(plan_tolerances(o, k, p, err));
    CB_TRY(plan_solver(o, k, p, err));
    CB_TRY(plan_saves(o, k, p, err));
    CB_TRY(plan_summaries(o, k, p, err));
    return plan_time_range(k, k->controller != CB_CTRL_FIXED, p, err);
}

void cb_plan_free(cb_plan *p)
{
    cb_spline_free(&p->spline);
    for (int s = 0; s < CB_SETTING_COUNT; s++) {
        free(p->states[s]);
        p->states[s] = NULL;
    }
}

void cb_put_real(void *buf, bool dbl, size_t at, double x)
{
    if (dbl) {
        ((double *)buf)[at] = x;
    } else {
        ((float *)buf)[at] = (float)x;
    }
}

double cb_get_real(const void *buf, bool dbl, size_t at)
{
    return dbl ? ((const double *)buf)[at] : (double)((const float *)buf)[at];
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

void cb_plan_fill_settings(const cb_plan *p, const cb_kernel_info *k,
                           void *settings)
{
    const bool d = k->is_double;
    const int n = k->n_states;
    for (int s = 0; s < CB_SETTING_COUNT; s++) {
        const int at = cb_setting_offset((cb_setting)s, n);
        switch (cb_settings[s].kind) {
        case CB_SETK_TIME:
            put_time(settings, d, at, p->value[s]);
            break;
        case CB_SETK_REAL:
            cb_put_real(settings, d, (size_t)at, p->value[s]);
            break;
        case CB_SETK_STATES:
            for (int i = 0; i < n; i++) {
                cb_put_real(settings, d, (size_t)(at + i), p->states[s][i]);
            }
            break;
        }
    }
}
