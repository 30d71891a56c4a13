/* The loop component: the integration loop's buffers (the original's
 * loop buffers) and the text of every marker of templates/loop.cu and
 * templates/entry.cu. The kernel's own signature is the kernel argument
 * table; the loop's and the run's take what their bodies use of it. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ctx.h"
#include "template.h"

/* ---- declarations from the kernel argument table ---- */

#define CB_DECL_REAL_IN(n) "const real *" #n
#define CB_DECL_INPUT_IN(n) "const cb_input *" #n
#define CB_DECL_REAL_OUT(n) "real *" #n
#define CB_DECL_INT_IN(n) "const int *" #n
#define CB_DECL_INT_OUT(n) "int *" #n
#define CB_DECL_INT_SCALAR(n) "int " #n
#define CB_DECL_REAL_SCALAR(n) "real " #n
#define CB_RDECL_REAL_IN(n) "const real *__restrict__ " #n
#define CB_RDECL_INPUT_IN(n) "const cb_input *__restrict__ " #n
#define CB_RDECL_REAL_OUT(n) "real *__restrict__ " #n
#define CB_RDECL_INT_IN(n) "const int *__restrict__ " #n
#define CB_RDECL_INT_OUT(n) "int *__restrict__ " #n
#define CB_RDECL_INT_SCALAR(n) "int " #n
#define CB_RDECL_REAL_SCALAR(n) "real " #n

/* The parameters as device functions declare them, and as the kernel
 * does (restrict-qualified). */
static const char *const karg_decl[CB_KARG_COUNT] = {
#define CB_KARG(id, name, elem, dir, rows, result, column) \
    CB_DECL_##elem##_##dir(name),
#include "kernel_args.def"
#undef CB_KARG
};
static const char *const karg_rdecl[CB_KARG_COUNT] = {
#define CB_KARG(id, name, elem, dir, rows, result, column) \
    CB_RDECL_##elem##_##dir(name),
#include "kernel_args.def"
#undef CB_KARG
};

const char *cb_karg_decl(cb_karg k, bool restrict_)
{
    return restrict_ ? karg_rdecl[k] : karg_decl[k];
}

/* cb_loop's and cb_run's candidates: the run index, the kernel's
 * arguments (cb_run writes the status), the pools. */
static void init_loop_fns(cb_ctx *c)
{
    const char *loop[CB_KARG_COUNT + 8], *run[CB_KARG_COUNT + 8];
    int nl = 0, nr = 0;
    loop[nl++] = "int run";
    run[nr++] = "int run";
    for (int k = 0; k < CB_KARG_COUNT; k++) {
        if (k != CB_KARG_STATUS_OUT) {
            loop[nl++] = karg_decl[k];
        }
        run[nr++] = karg_decl[k];
    }
    loop[nl++] = "real *shared";
    loop[nl++] = "real *persistent";
    loop[nl++] = "int *shared_i";
    loop[nl++] = "int *persistent_i";
    loop[nl] = NULL;
    run[nr++] = "real *shared";
    run[nr++] = "int *shared_i";
    run[nr] = NULL;
    cb_fn_init(&c->loop_fn, "int", "cb_loop", loop);
    cb_fn_init(&c->run_fn, "void", "cb_run", run);
    /* The host lanes' piece of work (lanes.cu): its pools are its own. */
    const char *lane[CB_KARG_COUNT + 8];
    int n = 0;
    lane[n++] = "int mode";
    lane[n++] = "int l";
    lane[n++] = "cb_lanes *B";
    lane[n++] = "int k";
    lane[n++] = "int run";
    for (int k = 0; k < CB_KARG_COUNT; k++) {
        lane[n++] = karg_decl[k];
    }
    lane[n] = NULL;
    cb_fn_init(&c->lane_fn, "int", "cb_lane", lane);
}

/* ---- buffers ---- */

static cubie_status loop_register(cb_ctx *c)
{
    const cb_prec p = c->prec;
    const size_t n = (size_t)c->sys->n_states;
    const size_t np = (size_t)c->sys->n_params, no = (size_t)c->sys->n_obs;
    cb_owner *L = c->loop;
    init_loop_fns(c);
    /* The original's loop buffers. Steps do not compute observables
     * (they are evaluated where they are saved or sampled), and sampled
     * drivers are evaluated in each right-hand side that reads them, at
     * its own time (gen/rhs.c): those buffers have no room. */
    CB_TRY(cb_register(L, "state", n, CB_LOC_LOCAL, false, NULL, p, c->err));
    CB_TRY(cb_register(L, "proposed_state", n, CB_LOC_LOCAL, false, NULL, p,
                       c->err));
    CB_TRY(cb_register(L, "parameters", np, CB_LOC_LOCAL, false, NULL, p,
                       c->err));
    CB_TRY(cb_register(L, "drivers", 0, CB_LOC_LOCAL, false, NULL, p,
                       c->err));
    CB_TRY(cb_register(L, "proposed_drivers", 0, CB_LOC_LOCAL, false, NULL, p,
                       c->err));
    CB_TRY(cb_register(L, "observables", c->need_obs ? no : 0, CB_LOC_LOCAL,
                       false, NULL, p, c->err));
    CB_TRY(cb_register(L, "proposed_observables", 0, CB_LOC_LOCAL, false,
                       NULL, p, c->err));
    CB_TRY(cb_register(L, "error", (size_t)c->n_error, CB_LOC_LOCAL, false,
                       NULL, p, c->err));
    CB_TRY(cb_register(L, "counters",
                       c->out[CB_OUT_ITERATION_COUNTERS] ? CB_N_COUNTERS : 0,
                       CB_LOC_LOCAL, false, NULL, CB_PREC_I32, c->err));
    /* Each summarised variable's accumulator slots (gen/summary.c). */
    const size_t slots = (size_t)c->metrics.slots;
    CB_TRY(cb_register(L, "state_summary",
                       (size_t)c->sel.summ_states.n * slots, CB_LOC_LOCAL,
                       false, NULL, p, c->err));
    CB_TRY(cb_register(L, "observable_summary",
                       (size_t)c->sel.summ_obs.n * slots, CB_LOC_LOCAL, false,
                       NULL, p, c->err));
    CB_TRY(cb_register(L, "dt", 1, CB_LOC_LOCAL, false, NULL, p, c->err));
    CB_TRY(cb_register(L, "accept_step", 1, CB_LOC_LOCAL, false, NULL,
                       CB_PREC_I32, c->err));
    /* The step's Newton and Krylov iterations. */
    CB_TRY(cb_register(L, "proposed_counters", 2, CB_LOC_LOCAL, false, NULL,
                       CB_PREC_I32, c->err));
    return CUBIE_OK;
}

/* ---- markers ---- */

/* Whether the loop counts attempts failed on krylov_max_iters: adaptive
 * steps that solve linear systems (a fixed step's failure ends the run,
 * its status says why). */
static bool counts_caps(const cb_ctx *c)
{
    return c->ctrl != CB_CTRL_FIXED && c->nk.linear_owner != NULL;
}


/* The selected variables of a buffer, one column each from col. */
static void save_selected(cb_sb *sb, const char *arr, const char *cols,
                          int col, const char *buffer,
                          const cb_index_set *sel)
{
    for (int k = 0; k < sel->n; k++) {
        cb_sb_line(sb, "%s[CB_AT(run, n_runs, n_saves, save_idx, "
                       "CB_COLS_%s, %d)] = %s[%d];",
                   arr, cols, col + k, buffer, sel->idx[k]);
    }
}

/* One save: each requested output, in table order, writes its columns
 * of its array at row save_idx. */
static void emit_save(cb_ctx *c, cb_sb *sb)
{
    char idx[160];
    for (int o = 0; o < CB_OUT_COUNT; o++) {
        if (!c->out[o]) {
            continue;
        }
        const cb_karg a = cb_outputs[o].array;
        const char *arr = cb_kargs[a].name;
        const char *cols = cb_kargs[a].id;
        char off[32] = "";
        if (c->out_col[o] > 0) {
            snprintf(off, sizeof(off), "%d + ", c->out_col[o]);
        }
        snprintf(idx, sizeof(idx),
                 "CB_AT(run, n_runs, n_saves, save_idx, CB_COLS_%s, %si)",
                 cols, off);
        switch ((cb_output)o) {
        case CB_OUT_STATE:
            if (c->sel.saved_states.n == c->sys->n_states) {
                cb_sb_line(sb, "for (int i = 0; i < CB_N_STATES; ++i) {");
                cb_sb_line(sb, "    %s[%s] = state[i];", arr, idx);
                cb_sb_line(sb, "}");
            } else {
                save_selected(sb, arr, cols, c->out_col[o], "state",
                              &c->sel.saved_states);
            }
            break;
        case CB_OUT_TIME:
            cb_sb_line(sb, "%s[CB_AT(run, n_runs, n_saves, save_idx, "
                           "CB_COLS_%s, %d)] = cb_time_real(t);",
                       arr, cols, c->out_col[o]);
            break;
        case CB_OUT_OBSERVABLES:
            if (c->sel.saved_obs.n == 0) {
                break;
            }
            cb_rhs_call(c, sb, CB_RHS_OBSERVABLES, "state", NULL,
                        "observables", "cb_time_real(t)", false);
            if (c->sel.saved_obs.n == c->sys->n_obs) {
                cb_sb_line(sb, "for (int i = 0; i < CB_N_OBS; ++i) {");
                cb_sb_line(sb, "    %s[%s] = observables[i];", arr, idx);
                cb_sb_line(sb, "}");
            } else {
                save_selected(sb, arr, cols, c->out_col[o], "observables",
                              &c->sel.saved_obs);
            }
            break;
        case CB_OUT_ITERATION_COUNTERS:
            cb_sb_line(sb, "for (int i = 0; i < CB_N_COUNTERS; ++i) {");
            cb_sb_line(sb, "    %s[%s] = counters[i];", arr, idx);
            cb_sb_line(sb, "    counters[i] = 0;");
            cb_sb_line(sb, "}");
            break;
        case CB_OUT_STATE_SUMMARIES:
        case CB_OUT_OBSERVABLE_SUMMARIES:
        case CB_OUT_COUNT:
            break; /* summaries are written at the end of a window */
        }
    }
}

/* Whether the attempt's step landed on an event (a save, or a sample). */
static const char *landed(const cb_ctx *c)
{
    return c->summaries ? "(do_save | do_sample)" : "do_save";
}

/* After each attempt: counters, then the controller's verdict (fixed
 * steps: every step is accepted, and a failing one ends the run). */
static void emit_control(cb_ctx *c, cb_sb *sb)
{
    const bool counting = c->out[CB_OUT_ITERATION_COUNTERS];
    if (counting) {
        cb_sb_line(sb, "counters[%d] += proposed_counters[0]; // %s",
                   CB_COUNTER_NEWTON, cb_counter_names[CB_COUNTER_NEWTON]);
        cb_sb_line(sb, "counters[%d] += proposed_counters[1]; // %s",
                   CB_COUNTER_KRYLOV, cb_counter_names[CB_COUNTER_KRYLOV]);
        cb_sb_line(sb, "counters[%d] += 1; // %s", CB_COUNTER_ATTEMPTS,
                   cb_counter_names[CB_COUNTER_ATTEMPTS]);
    }
    if (c->ctrl == CB_CTRL_FIXED) {
        cb_sb_line(sb, "accept_step[0] = 1;");
        cb_sb_line(sb, "if (step_status != 0) {");
        cb_sb_line(sb, "    status |= step_status;");
        cb_sb_line(sb, "    CB_EXIT;");
        cb_sb_line(sb, "}");
        return;
    }
    /* A failed step forces a rejection; a non-finite proposal is
     * remembered, and all of it is committed only if the run cannot
     * recover. */
    const char *const bind[] = {
        "niters",     "proposed_counters[0]",
        "accept_out", "accept_step",
        "shared",     "controller_shared",
        "persistent", "controller_persistent",
        NULL};
    cb_sb_line(sb, "int proposal_finite = 1;");
    cb_sb_line(sb, "for (int i = 0; i < CB_N_STATES; ++i) {");
    cb_sb_line(sb, "    proposal_finite = proposal_finite && "
                   "cb_finite(proposed_state[i]);");
    cb_sb_line(sb, "    if (step_status != 0) {");
    char big[48];
    cb_lit(c, 1e16, big);
    cb_sb_line(sb, "        error[i] = %s;", big);
    cb_sb_line(sb, "    }");
    cb_sb_line(sb, "}");
    /* A step cut short to land on a save or a sample time leaves dt and
     * the controller's history as they were. */
    cb_sb_line(sb, "const int truncated = %s & (dt_eff != dt[0]);",
               landed(c));
    cb_sb_puts(sb, "const int ctrl_status = ");
    cb_fn_call(&c->controller, sb, bind);
    cb_sb_puts(sb, ";\n");
    if (counts_caps(c)) {
        cb_sb_line(sb, "linear_capped += (step_status & "
                       "CB_RUN_MAX_LINEAR_ITERS) != 0;");
    }
    cb_sb_line(sb, "transient |= step_status | ctrl_status |");
    cb_sb_line(sb, "             (proposal_finite ? 0 : "
                   "CB_RUN_NONFINITE_STATE);");
    if (counting) {
        cb_sb_line(sb, "counters[%d] += !accept_step[0]; // %s",
                   CB_COUNTER_REJECTIONS,
                   cb_counter_names[CB_COUNTER_REJECTIONS]);
    }
    cb_sb_line(sb, "if (ctrl_status & CB_RUN_STEP_TOO_SMALL) {");
    cb_sb_line(sb, "    status |= transient;");
    cb_sb_line(sb, "    CB_EXIT;");
    cb_sb_line(sb, "}");
}

/* The step as the loop calls it: "dt; t; accepted" from the marker, the
 * loop's buffers for the rest. */
static cubie_status emit_step_call(cb_ctx *c, const char *arg, cb_sb *sb)
{
    char a[3][160];
    const char *p = arg;
    for (int i = 0; i < 3; i++) {
        while (*p == ' ') {
            p++;
        }
        size_t len = strcspn(p, ";");
        while (len > 0 && p[len - 1] == ' ') {
            len--;
        }
        snprintf(a[i], sizeof(a[i]), "%.*s", (int)len, p);
        p += strcspn(p, ";");
        if (*p == ';') {
            p++;
        } else if (i < 2) {
            return cb_fail(c->err, CUBIE_E_CODEGEN, NULL, 0,
                           "STEP_CALL marker needs 'dt; t; accepted'");
        }
    }
    const char *const bind[] = {
        "dt",           a[0],
        "t",            a[1],
        "accepted",     a[2],
        "shared",       "algorithm_shared",
        "persistent",   "algorithm_persistent",
        "shared_i",     "algorithm_shared_i",
        "persistent_i", "algorithm_persistent_i",
        "counters",     "proposed_counters",
        NULL};
    cb_fn_call(&c->step, sb, bind);
    return CUBIE_OK;
}

/* The template-defined function called name, or NULL. */
static cb_fn *fn_named(cb_ctx *c, const char *name)
{
    return strcmp(name, "cb_loop") == 0   ? &c->loop_fn
           : strcmp(name, "cb_run") == 0  ? &c->run_fn
           : strcmp(name, "cb_lane") == 0 ? &c->lane_fn
                                          : NULL;
}

static cubie_status mk_params(cb_ctx *c, const char *arg, const char *scope,
                              int col, cb_sb *sb)
{
    cb_fn *f = fn_named(c, arg);
    if (f == NULL) {
        return cb_fail(c->err, CUBIE_E_CODEGEN, NULL, 0,
                       "PARAMS marker of an unknown function '%s'", arg);
    }
    cb_fn_use(f, scope);
    f->defined = true;
    cb_fn_params(f, sb, col);
    return CUBIE_OK;
}

/* A call's arguments: "FN" or "FN name=expression; ...", each name bound
 * to its expression, the other parameters passed by their own names. */
static cubie_status mk_args(cb_ctx *c, const char *arg, const char *scope,
                            int col, cb_sb *sb)
{
    (void)scope;
    (void)col;
    char fn[32], text[128];
    const size_t fl = strcspn(arg, " ");
    snprintf(fn, sizeof(fn), "%.*s", (int)fl, arg);
    snprintf(text, sizeof(text), "%s", arg + fl);
    const cb_fn *f = fn_named(c, fn);
    if (f == NULL || !f->defined) {
        return cb_fail(c->err, CUBIE_E_CODEGEN, NULL, 0,
                       "ARGS marker before the signature of '%s'", fn);
    }
    const char *bind[2 * 8 + 1];
    int nb = 0;
    for (char *p = strtok(text, ";"); p != NULL && nb < 2 * 8;
         p = strtok(NULL, ";")) {
        char *eq = strchr(p, '=');
        if (eq == NULL) {
            return cb_fail(c->err, CUBIE_E_CODEGEN, NULL, 0,
                           "ARGS marker of '%s': '%s' is not name=value",
                           fn, p);
        }
        *eq = '\0';
        while (*p == ' ') {
            p++;
        }
        bind[nb++] = p;
        bind[nb++] = eq + 1;
    }
    bind[nb] = NULL;
    cb_fn_args(f, sb, bind);
    return CUBIE_OK;
}

static cubie_status mk_buffers(cb_ctx *c, const char *arg, const char *scope,
                               int col, cb_sb *sb)
{
    (void)arg;
    (void)col;
    return cb_declare_used(c->loop, scope, true, sb, c->err);
}

/* The run's start, first save and save interval, from the settings. */
static cubie_status mk_clock(cb_ctx *c, const char *arg, const char *scope,
                             int col, cb_sb *sb)
{
    (void)c, (void)arg, (void)scope, (void)col;
    static const char *const clock[][2] = {
        {"t_start", "T0"},
        {"t_save0", "SAVE_START"},
        {"save_every", "SAVE_EVERY"},
    };
    for (int i = 0; i < 3; i++) {
        cb_sb_line(sb, "const cb_time %s = cb_time_make(settings[CB_SET_%s],",
                   clock[i][0], clock[i][1]);
        cb_sb_line(sb, "    settings[CB_SET_%s + 1]);", clock[i][1]);
    }
    return CUBIE_OK;
}

static cubie_status mk_load(cb_ctx *c, const char *arg, const char *scope,
                            int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    cb_sb_line(sb, "for (int i = 0; i < CB_N_STATES; ++i) {");
    cb_sb_line(sb, "    state[i] = (real)inits[CB_IN(run, n_runs, "
                   "CB_N_STATES, i)];");
    cb_sb_line(sb, "}");
    if (c->sys->n_params > 0) {
        cb_sb_line(sb, "for (int i = 0; i < CB_N_PARAMS; ++i) {");
        cb_sb_line(sb, "    parameters[i] = (real)params[CB_IN(run, "
                       "n_runs, CB_N_PARAMS, i)];");
        cb_sb_line(sb, "}");
    }
    return CUBIE_OK;
}

/* The sample schedule (settings.def) and the accumulators' first values;
 * the first sample is one interval after the save start. The locals the
 * metrics' code names (gen/metrics.def) are declared where it uses them. */
static void emit_summary_init(const cb_ctx *c, cb_sb *sb)
{
    cb_sb_line(sb, "const cb_time sample_every = cb_time_make("
                   "settings[CB_SET_SAMPLE_EVERY],");
    cb_sb_line(sb, "    settings[CB_SET_SAMPLE_EVERY + 1]);");
    cb_sb_line(sb, "const int per_window = (int)settings["
                   "CB_SET_SAMPLES_PER_WINDOW];");
    cb_sb_line(sb, "const int n_samples = (int)settings[CB_SET_N_SAMPLES];");
    cb_sb_line(sb, "const int n_windows = n_samples / per_window;");
    if (cb_summary_uses(c, "nw")) {
        cb_sb_line(sb, "const real nw = (real)per_window;");
    }
    if (cb_summary_uses(c, "ss") || cb_summary_uses(c, "ss2")) {
        cb_sb_line(sb, "const real ss = cb_time_real(sample_every);");
    }
    if (cb_summary_uses(c, "ss2")) {
        cb_sb_line(sb, "const real ss2 = ss * ss;");
    }
    cb_sb_line(sb, "int sample_idx = 0;");
    cb_sb_line(sb, "cb_time next_sample = cb_time_mul_add(t_save0, (real)1, "
                   "sample_every);");
    cb_summary_emit_init(c, sb);
}

static cubie_status mk_init(cb_ctx *c, const char *arg, const char *scope,
                            int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    cb_sb_line(sb, "dt[0] = settings[CB_SET_DT];");
    cb_sb_line(sb, "accept_step[0] = 1;");
    cb_sb_line(sb, "real dt_eff = dt[0]; // the attempt's step, cut to the "
                   "next event");
    cb_sb_line(sb, "int do_save = 0; // it lands on the next save");
    if (c->summaries) {
        cb_sb_line(sb, "int do_sample = 0; // it lands on the next sample");
    }
    if (c->ctrl != CB_CTRL_FIXED) {
        cb_sb_line(sb, "int transient = 0; // status bits of this attempt, "
                       "kept if it fails");
    }
    if (counts_caps(c)) {
        cb_sb_line(sb, "int linear_capped = 0; // attempts failed on "
                       "krylov_max_iters");
    }
    if (c->summaries) {
        emit_summary_init(c, sb);
    }
    return CUBIE_OK;
}

/* The loop condition: saves to come, and with summaries samples too. */
static cubie_status mk_more(cb_ctx *c, const char *arg, const char *scope,
                            int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    cb_sb_puts(sb, c->summaries ? "save_idx < n_saves || sample_idx < "
                                  "n_samples"
                                : "save_idx < n_saves");
    return CUBIE_OK;
}

/* The next time a step must land on. */
static const char *next_event(const cb_ctx *c)
{
    return c->summaries ? "cb_next_event(next_save, save_idx < n_saves, "
                          "next_sample, sample_idx < n_samples)"
                        : "next_save";
}

static cubie_status mk_next_event(cb_ctx *c, const char *arg,
                                  const char *scope, int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    cb_sb_puts(sb, next_event(c));
    return CUBIE_OK;
}

/* Cut the step to land on the next save (or sample) time; a step within
 * a hair of it is stretched instead, so no sliver step follows. dt_eff,
 * do_save and do_sample are the loop's (LOOP_INIT): the lanes keep them
 * from a pass's attempt to the rest of it. */
static cubie_status mk_events(cb_ctx *c, const char *arg, const char *scope,
                              int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    /* Selects, not branches: the flags stay comparisons, which the host
     * lanes' vectoriser takes as masks. */
    if (!c->summaries) {
        cb_sb_line(sb, "const real to_save = cb_time_sub(next_save, t);");
        cb_sb_line(sb, "do_save = to_save <= dt[0] * CB_EVENT_STRETCH;");
        cb_sb_line(sb, "dt_eff = do_save ? to_save : dt[0];");
        return CUBIE_OK;
    }
    /* A save and a sample at the same time (within the stretch) are one
     * event: the step lands once and does both. */
    cb_sb_line(sb, "const real to_event = cb_time_sub(%s, t);", next_event(c));
    cb_sb_line(sb, "const int landing = to_event <= dt[0] * CB_EVENT_STRETCH;");
    cb_sb_line(sb, "dt_eff = landing ? to_event : dt[0];");
    cb_sb_line(sb, "do_save = landing & (save_idx < n_saves) &");
    cb_sb_line(sb, "          (cb_time_sub(next_save, t) <= to_event * "
                   "CB_EVENT_STRETCH);");
    cb_sb_line(sb, "do_sample = landing & (sample_idx < n_samples) &");
    cb_sb_line(sb, "            (cb_time_sub(next_sample, t) <= to_event * "
                   "CB_EVENT_STRETCH);");
    return CUBIE_OK;
}

/* The time after an accepted step: an event's own time when it landed on
 * one. */
static cubie_status mk_new_time(cb_ctx *c, const char *arg,
                                const char *scope, int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    cb_sb_line(sb, "const cb_time t_new = %s ? %s", landed(c),
               next_event(c));
    cb_sb_line(sb, "    : cb_time_add(t, dt_eff);");
    return CUBIE_OK;
}

/* A sample after an accepted step that landed on a sample time. */
static cubie_status mk_sample(cb_ctx *c, const char *arg, const char *scope,
                              int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    if (!c->summaries) {
        return CUBIE_OK;
    }
    cb_sb_line(sb, "if (do_sample) {");
    cb_sb_indent(sb);
    cb_summary_emit_sample(c, sb);
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    return CUBIE_OK;
}

/* Fill rows from..rows - 1 (all when from is "0") of the columns of
 * output o with value (NaN, or 0 for an int array). */
static void fill_rows(const cb_ctx *c, cb_sb *sb, int o, const char *from,
                      const char *rows)
{
    const cb_karg a = cb_outputs[o].array;
    const int first = c->out_col[o];
    int n = 0;
    switch (cb_outputs[o].cols) {
    case CB_COLS_STATES:
        n = c->sel.saved_states.n;
        break;
    case CB_COLS_OBSERVABLES:
        n = c->sel.saved_obs.n;
        break;
    case CB_COLS_COUNTERS:
        n = CB_N_COUNTERS;
        break;
    case CB_COLS_ONE:
        n = 1;
        break;
    case CB_COLS_STATE_SUMMARIES:
    case CB_COLS_OBSERVABLE_SUMMARIES:
        n = c->cols[a];
        break;
    }
    if (n == 0) {
        return;
    }
    char nan[48];
    cb_lit(c, NAN, nan);
    const bool ints = cb_kargs[a].elem == CB_ELEM_INT;
    cb_sb_line(sb, "for (int r = %s; r < %s; ++r) {", from, rows);
    cb_sb_line(sb, "    for (int i = %d; i < %d; ++i) {", first, first + n);
    cb_sb_line(sb, "        %s[CB_AT(run, n_runs, %s, r, CB_COLS_%s, i)] = "
                   "%s;",
               cb_kargs[a].name, rows, cb_kargs[a].id, ints ? "0" : nan);
    cb_sb_line(sb, "    }");
    cb_sb_line(sb, "}");
}

/* The rows a failed run did not reach read NaN (0 for counters); with
 * nan_error_trajectories a failed run's masked outputs read NaN
 * throughout. So every element of every output is written, by the
 * kernel, in place. */
static void emit_fill_and_mask(const cb_ctx *c, cb_sb *sb)
{
    for (int o = 0; o < CB_OUT_COUNT; o++) {
        if (!c->out[o]) {
            continue;
        }
        const bool window = cb_outputs[o].cadence == CB_CADENCE_WINDOW;
        fill_rows(c, sb, o, window ? "sample_idx / per_window" : "save_idx",
                  window ? "n_windows" : "n_saves");
    }
    bool masked = false;
    for (int o = 0; o < CB_OUT_COUNT; o++) {
        masked = masked || (c->out[o] && cb_outputs[o].masked);
    }
    if (!masked) {
        return;
    }
    cb_sb_line(sb, "if (status != 0 && settings[CB_SET_NAN_MASK] != "
                   "(real)0) {");
    cb_sb_indent(sb);
    for (int o = 0; o < CB_OUT_COUNT; o++) {
        if (c->out[o] && cb_outputs[o].masked) {
            const bool window = cb_outputs[o].cadence == CB_CADENCE_WINDOW;
            fill_rows(c, sb, o, "0", window ? "n_windows" : "n_saves");
        }
    }
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
}

/* After the loop: the outputs filled and masked, then the run's notes. */
static cubie_status mk_end(cb_ctx *c, const char *arg, const char *scope,
                           int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    emit_fill_and_mask(c, sb);
    if (counts_caps(c)) {
        cb_sb_line(sb, "// A note, not a failure (the outputs stand): one "
                       "attempt in ten or more");
        cb_sb_line(sb, "// failed because a linear solve hit "
                       "krylov_max_iters.");
        cb_sb_line(sb, "if (linear_capped > 0 && linear_capped * 10 >= "
                       "steps) {");
        cb_sb_line(sb, "    status |= CB_RUN_LINEAR_CAP_OFTEN;");
        cb_sb_line(sb, "}");
    }
    return CUBIE_OK;
}

static cubie_status mk_save(cb_ctx *c, const char *arg, const char *scope,
                            int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    emit_save(c, sb);
    return CUBIE_OK;
}

static cubie_status mk_control(cb_ctx *c, const char *arg, const char *scope,
                               int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    emit_control(c, sb);
    return CUBIE_OK;
}

static cubie_status mk_accepted(cb_ctx *c, const char *arg,
                                const char *scope, int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    if (c->ctrl != CB_CTRL_FIXED) {
        cb_sb_line(sb, "transient = 0;");
    }
    return CUBIE_OK;
}

static cubie_status mk_step_call(cb_ctx *c, const char *arg,
                                 const char *scope, int col, cb_sb *sb)
{
    (void)scope, (void)col;
    return emit_step_call(c, arg, sb);
}

/* cb_run: the persistent pools of the run, all of it zeroed first, as is
 * the run's slice of shared memory. */
static cubie_status mk_run_pools(cb_ctx *c, const char *arg,
                                 const char *scope, int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    const cb_fn *L = &c->loop_fn;
    if (cb_fn_uses(L, "persistent")) {
        cb_sb_line(sb, "real persistent[CB_PERSISTENT_ALLOC];");
        cb_sb_line(sb, "for (int i = 0; i < CB_PERSISTENT_ALLOC; ++i) {");
        cb_sb_line(sb, "    persistent[i] = (real)0;");
        cb_sb_line(sb, "}");
    }
    if (cb_fn_uses(L, "persistent_i")) {
        cb_sb_line(sb, "int persistent_i[CB_PERSISTENT_I_ALLOC];");
        cb_sb_line(sb, "for (int i = 0; i < CB_PERSISTENT_I_ALLOC; ++i) {");
        cb_sb_line(sb, "    persistent_i[i] = 0;");
        cb_sb_line(sb, "}");
    }
    if (cb_fn_uses(L, "shared")) {
        cb_sb_line(sb, "for (int i = 0; i < CB_SHARED_SIZE; ++i) {");
        cb_sb_line(sb, "    shared[i] = (real)0;");
        cb_sb_line(sb, "}");
    }
    if (cb_fn_uses(L, "shared_i")) {
        cb_sb_line(sb, "for (int i = 0; i < CB_SHARED_I_SIZE; ++i) {");
        cb_sb_line(sb, "    shared_i[i] = 0;");
        cb_sb_line(sb, "}");
    }
    return CUBIE_OK;
}

static cubie_status mk_kernel_params(cb_ctx *c, const char *arg,
                                     const char *scope, int col, cb_sb *sb)
{
    (void)c, (void)arg, (void)scope;
    for (int k = 0; k < CB_KARG_COUNT; k++) {
        cb_sb_printf(sb, "%s%s", karg_rdecl[k],
                     k + 1 < CB_KARG_COUNT ? ",\n" : "");
        if (k + 1 < CB_KARG_COUNT) {
            cb_sb_printf(sb, "%*s", col, "");
        }
    }
    return CUBIE_OK;
}

/* The run's slice of the block's dynamic shared memory. */
static cubie_status mk_kernel_shared(cb_ctx *c, const char *arg,
                                     const char *scope, int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    const bool s = cb_fn_uses(&c->run_fn, "shared");
    const bool si = cb_fn_uses(&c->run_fn, "shared_i");
    if (s || si) {
        cb_sb_line(sb, "extern __shared__ __align__(16) unsigned char "
                       "cb_smem[];");
    }
    if (s) {
        cb_sb_line(sb, "real *shared = (real *)cb_smem + threadIdx.x * "
                       "CB_SHARED_STRIDE;");
    }
    if (si) {
        cb_sb_line(sb, "int *shared_i = (int *)((real *)cb_smem + "
                       "blockDim.x * CB_SHARED_STRIDE) +");
        cb_sb_line(sb, "                threadIdx.x * CB_SHARED_I_STRIDE;");
    }
    return CUBIE_OK;
}

/* The host entry's arguments, each read through its pointer. */
static cubie_status mk_host_args(cb_ctx *c, const char *arg,
                                 const char *scope, int col, cb_sb *sb)
{
    (void)c, (void)arg, (void)col;
    const char *names[CB_KARG_COUNT];
    bool used[CB_KARG_COUNT] = {false};
    for (int k = 0; k < CB_KARG_COUNT; k++) {
        names[k] = cb_kargs[k].name;
    }
    cb_idents_used(scope, names, CB_KARG_COUNT, used);
    for (int k = 0; k < CB_KARG_COUNT; k++) {
        const cb_karg_info *a = &cb_kargs[k];
        if (!used[k]) {
            continue;
        }
        const char *t = cb_elem_type(a->elem);
        if (a->dir == CB_DIR_SCALAR) {
            cb_sb_line(sb, "const %s %s = *(const %s *)args[%d];", t,
                       a->name, t, k);
        } else {
            const char *q = a->dir == CB_DIR_IN ? "const " : "";
            cb_sb_line(sb, "%s%s *%s = *(%s%s *const *)args[%d];", q, t,
                       a->name, q, t, k);
        }
    }
    return CUBIE_OK;
}

static cubie_status mk_host_shared(cb_ctx *c, const char *arg,
                                   const char *scope, int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    if (cb_fn_uses(&c->run_fn, "shared")) {
        cb_sb_line(sb, "real shared[CB_SHARED_ALLOC];");
    }
    if (cb_fn_uses(&c->run_fn, "shared_i")) {
        cb_sb_line(sb, "int shared_i[CB_SHARED_I_ALLOC];");
    }
    return CUBIE_OK;
}

/* ---- the host lanes (templates/lanes.cu) ---- */

/* A variable a lane keeps in its block between calls: n elements (0: a
 * scalar) of type. */
typedef struct {
    const char *type;
    char name[64];
    size_t n;
} lane_var;

typedef struct {
    lane_var v[96];
    int n;
    bool full;
} lane_vars;

static void lane_add(lane_vars *lv, const char *type, const char *name,
                     size_t n)
{
    if (lv->n == (int)(sizeof(lv->v) / sizeof(lv->v[0]))) {
        lv->full = true;
        return;
    }
    lane_var *v = &lv->v[lv->n++];
    v->type = type;
    snprintf(v->name, sizeof(v->name), "%s", name);
    v->n = n;
}

static void lane_visit(void *ctx, const char *name, size_t size, bool is_int)
{
    lane_add(ctx, is_int ? "int" : "real", name, size);
}

/* Whether a lane makes a pass's attempt in a piece of its own, on every
 * lane (CB_LANE_EXPLICIT): explicit steps never fail and never branch
 * on the lane, nor does the controller. */
bool cb_loop_lane_explicit(const cb_ctx *c)
{
    return c->method->family == CB_FAM_ERK;
}

/* What a lane keeps: the loop's own variables (templates/loop.cu, and
 * those of LOOP_INIT that change), the loop's local buffers, the pools
 * with room. */
static cubie_status lane_vars_of(cb_ctx *c, lane_vars *lv)
{
    lv->n = 0;
    lv->full = false;
    lane_add(lv, "cb_time", "t", 0);
    lane_add(lv, "cb_time", "next_save", 0);
    lane_add(lv, "int", "save_idx", 0);
    lane_add(lv, "int", "status", 0);
    lane_add(lv, "int", "accepted", 0);
    lane_add(lv, "int", "steps", 0);
    lane_add(lv, "int", "stalled", 0);
    if (c->ctrl != CB_CTRL_FIXED) {
        lane_add(lv, "int", "transient", 0);
    }
    if (cb_loop_lane_explicit(c)) {
        lane_add(lv, "real", "dt_eff", 0);
        lane_add(lv, "int", "do_save", 0);
        lane_add(lv, "int", "save_due", 0);
        if (c->summaries) {
            lane_add(lv, "int", "do_sample", 0);
        }
    }
    if (counts_caps(c)) {
        lane_add(lv, "int", "linear_capped", 0);
    }
    if (c->summaries) {
        lane_add(lv, "int", "sample_idx", 0);
        lane_add(lv, "cb_time", "next_sample", 0);
    }
    CB_TRY(cb_owner_locals(c->loop, lane_visit, lv, c->err));
    const cb_sizes *z = &c->loop_sizes;
    if (z->shared > 0) {
        lane_add(lv, "real", "shared", z->shared);
    }
    if (z->shared_int > 0) {
        lane_add(lv, "int", "shared_i", z->shared_int);
    }
    if (z->persistent > 0) {
        lane_add(lv, "real", "persistent", z->persistent);
    }
    if (z->persistent_int > 0) {
        lane_add(lv, "int", "persistent_i", z->persistent_int);
    }
    if (lv->full) {
        return cb_fail(c->err, CUBIE_E_CODEGEN, NULL, 0,
                       "more than %zu variables per host lane",
                       sizeof(lv->v) / sizeof(lv->v[0]));
    }
    return CUBIE_OK;
}

/* A block lives on its OpenMP thread's stack: at most this much. */
enum { LANE_BLOCK_BYTES = 256 * 1024 };

cubie_status cb_loop_lanes(cb_ctx *c)
{
    lane_vars lv;
    CB_TRY(lane_vars_of(c, &lv));
    const size_t real_bytes = c->dbl ? 8 : 4;
    size_t bytes = sizeof(int); /* done */
    for (int i = 0; i < lv.n; i++) {
        const lane_var *v = &lv.v[i];
        const size_t elem = strcmp(v->type, "int") == 0 ? sizeof(int)
                            : strcmp(v->type, "real") == 0 ? real_bytes
                                                           : 2 * real_bytes;
        bytes += elem * (v->n > 0 ? v->n : 1);
    }
    /* Two 512-bit vectors of lanes (AVX-512; two 256-bit ones hold
     * half): enough independent work per instruction to hide latency. */
    int w = c->host_lanes > 0 ? c->host_lanes : c->dbl ? 16 : 32;
    while (w > 1 && (size_t)w * bytes > LANE_BLOCK_BYTES) {
        w /= 2;
    }
    c->lanes = w;
    return CUBIE_OK;
}

/* What the END piece reads of a lane (the fill, the status and its
 * notes): an ended lane keeps these. The rest an ended lane may
 * overwrite with what its explicit steps computed after its end, which
 * nothing reads: so they are stored plainly, which vectorises well
 * (AMD's AVX2 masked stores are slow). */
static bool lane_end_reads(const char *name)
{
    static const char *const kept[] = {"status", "save_idx", "sample_idx",
                                       "steps", "linear_capped", NULL};
    for (int i = 0; kept[i] != NULL; i++) {
        if (strcmp(name, kept[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* The block's fields, a lane's loads from it or its stores to it. */
enum { LANE_FIELDS, LANE_LOAD, LANE_STORE };

static cubie_status emit_lane_vars(cb_ctx *c, int what, cb_sb *sb)
{
    lane_vars lv;
    CB_TRY(lane_vars_of(c, &lv));
    for (int i = 0; i < lv.n; i++) {
        const lane_var *v = &lv.v[i];
        if (!c->dbl && strcmp(v->type, "cb_time") == 0) {
            /* A float pair: two arrays, so each half loads as a vector. */
            for (int h = 0; h < 2; h++) {
                const char *half = h ? "lo" : "hi";
                if (what == LANE_FIELDS) {
                    cb_sb_line(sb, "float %s_%s[CB_LANES];", v->name, half);
                } else if (what == LANE_LOAD) {
                    cb_sb_line(sb, "%s.%s = B->%s_%s[l];", v->name, half,
                               v->name, half);
                } else {
                    cb_sb_line(sb, "B->%s_%s[l] = %s.%s;", v->name, half,
                               v->name, half);
                }
            }
            continue;
        }
        if (what == LANE_FIELDS) {
            if (v->n > 0) {
                cb_sb_line(sb, "%s %s[%zu][CB_LANES];", v->type, v->name,
                           v->n);
            } else {
                cb_sb_line(sb, "%s %s[CB_LANES];", v->type, v->name);
            }
        } else if (v->n > 0) {
            cb_sb_line(sb, "for (int i = 0; i < %zu; ++i) {", v->n);
            if (what == LANE_LOAD) {
                cb_sb_line(sb, "    %s[i] = B->%s[i][l];", v->name, v->name);
            } else {
                cb_sb_line(sb, "    B->%s[i][l] = %s[i];", v->name, v->name);
            }
            cb_sb_line(sb, "}");
        } else if (what == LANE_LOAD) {
            cb_sb_line(sb, "%s = B->%s[l];", v->name, v->name);
        } else if (lane_end_reads(v->name)) {
            cb_sb_line(sb, "B->%s[l] = cb_kept ? B->%s[l] : %s;", v->name,
                       v->name, v->name);
        } else {
            cb_sb_line(sb, "B->%s[l] = %s;", v->name, v->name);
        }
    }
    return CUBIE_OK;
}

/* LANE_VARS fields|load|store. */
static cubie_status mk_lane_vars(cb_ctx *c, const char *arg,
                                 const char *scope, int col, cb_sb *sb)
{
    (void)scope, (void)col;
    const int what = strcmp(arg, "fields") == 0 ? LANE_FIELDS
                     : strcmp(arg, "load") == 0 ? LANE_LOAD
                     : strcmp(arg, "store") == 0 ? LANE_STORE
                                                 : -1;
    if (what < 0) {
        return cb_fail(c->err, CUBIE_E_CODEGEN, NULL, 0,
                       "LANE_VARS marker: '%s' is not fields, load or store",
                       arg);
    }
    return emit_lane_vars(c, what, sb);
}

/* A lane's own pools, those its piece uses, zeroed as cb_run zeroes a
 * run's (loaded from the block after the first piece). */
static cubie_status mk_lane_pools(cb_ctx *c, const char *arg,
                                  const char *scope, int col, cb_sb *sb)
{
    (void)c, (void)arg, (void)col;
    static const char *const pools[4][3] = {
        {"real", "shared", "CB_SHARED_ALLOC"},
        {"int", "shared_i", "CB_SHARED_I_ALLOC"},
        {"real", "persistent", "CB_PERSISTENT_ALLOC"},
        {"int", "persistent_i", "CB_PERSISTENT_I_ALLOC"},
    };
    const char *names[4];
    bool used[4] = {false};
    for (int i = 0; i < 4; i++) {
        names[i] = pools[i][1];
    }
    cb_idents_used(scope, names, 4, used);
    for (int i = 0; i < 4; i++) {
        if (!used[i]) {
            continue;
        }
        cb_sb_line(sb, "%s %s[%s];", pools[i][0], pools[i][1], pools[i][2]);
        cb_sb_line(sb, "for (int i = 0; i < %s; ++i) {", pools[i][2]);
        cb_sb_line(sb, "    %s[i] = 0;", pools[i][1]);
        cb_sb_line(sb, "}");
    }
    return CUBIE_OK;
}

static const cb_marker *loop_markers(void);

/* One template expanded in place, with the loop's markers. */
static cubie_status expand(cb_ctx *c, const char *name, cb_sb *sb)
{
    const char *const one[] = {name, NULL};
    return cb_expand_templates(c, one, loop_markers(), sb);
}

bool cb_loop_fixed_burst(const cb_ctx *c)
{
    return c->ctrl == CB_CTRL_FIXED && !c->out[CB_OUT_ITERATION_COUNTERS];
}

/* A lane's pieces of a burst (templates/burst.cu), where cb_loop has
 * one. */
static cubie_status mk_lane_burst(cb_ctx *c, const char *arg,
                                  const char *scope, int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    return cb_loop_fixed_burst(c) ? expand(c, "burst.cu", sb) : CUBIE_OK;
}

/* A pass's attempt (templates/attempt.cu); cb_loop makes it before the
 * rest of the pass, the lanes in a piece of its own for explicit methods
 * (cb_loop_lane_explicit). */
static cubie_status mk_attempt(cb_ctx *c, const char *arg, const char *scope,
                               int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    return expand(c, "attempt.cu", sb);
}

/* The rest of a pass of the general path (templates/pass.cu), for
 * cb_loop and for the lanes alike. */
static cubie_status mk_pass(cb_ctx *c, const char *arg, const char *scope,
                            int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    return expand(c, "pass.cu", sb);
}

/* The save and the sample that end a pass (templates/save.cu). */
static cubie_status mk_pass_save(cb_ctx *c, const char *arg,
                                 const char *scope, int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    return expand(c, "save.cu", sb);
}

/* Whether a lane's pass landed where its save piece has work. */
static cubie_status mk_save_due(cb_ctx *c, const char *arg,
                                const char *scope, int col, cb_sb *sb)
{
    (void)arg, (void)scope, (void)col;
    cb_sb_puts(sb, landed(c));
    return CUBIE_OK;
}

static const cb_marker markers[] = {
    {"PARAMS", true, mk_params},
    {"ARGS", true, mk_args},
    {"BUFFERS", true, mk_buffers},
    {"LOAD", false, mk_load},
    {"LOOP_CLOCK", false, mk_clock},
    {"LOOP_INIT", false, mk_init},
    {"LOOP_SAVE", false, mk_save},
    {"LOOP_CONTROL", false, mk_control},
    {"LOOP_ACCEPTED", false, mk_accepted},
    {"STEP_CALL", false, mk_step_call},
    {"LOOP_MORE", false, mk_more},
    {"NEXT_EVENT", false, mk_next_event},
    {"LOOP_EVENTS", false, mk_events},
    {"NEW_TIME", false, mk_new_time},
    {"LOOP_SAMPLE", false, mk_sample},
    {"LOOP_END", false, mk_end},
    {"RUN_POOLS", true, mk_run_pools},
    {"KERNEL_PARAMS", false, mk_kernel_params},
    {"KERNEL_SHARED", true, mk_kernel_shared},
    {"HOST_ARGS", true, mk_host_args},
    {"HOST_SHARED", true, mk_host_shared},
    {"ATTEMPT", false, mk_attempt},
    {"PASS", false, mk_pass},
    {"PASS_SAVE", false, mk_pass_save},
    {"SAVE_DUE", false, mk_save_due},
    {"LANE_VARS", false, mk_lane_vars},
    {"LANE_POOLS", true, mk_lane_pools},
    {"LANE_BURST", false, mk_lane_burst},
    {NULL, false, NULL},
};

static const cb_marker *loop_markers(void)
{
    return markers;
}

static cubie_status loop_emit(cb_ctx *c, cb_sb *sb)
{
    static const char *const templates[] = {"loop.cu", "entry.cu",
                                            "lanes.cu", NULL};
    if (c->summaries) {
        cb_sb_line(sb, "// The earlier of the next save and the next sample "
                       "still to come.");
        cb_sb_line(sb, "CB_DEVFN cb_time cb_next_event(cb_time save, int "
                       "saving, cb_time sample,");
        cb_sb_line(sb, "                              int sampling)");
        cb_sb_line(sb, "{");
        cb_sb_line(sb, "    if (!saving || !sampling) {");
        cb_sb_line(sb, "        return saving ? save : sample;");
        cb_sb_line(sb, "    }");
        cb_sb_line(sb, "    return cb_time_sub(save, sample) <= (real)0 ? "
                       "save : sample;");
        cb_sb_line(sb, "}");
        cb_sb_puts(sb, "\n");
    }
    return cb_expand_templates(c, templates, markers, sb);
}

const cb_component cb_comp_loop = {
    .name = "loop",
    .register_buffers = loop_register,
    .emit = loop_emit,
};
