/* Kernel generation: the passes of generate.h over one compile context
 * (ctx.h), the kernel's assembly, and the helpers every component shares.
 * Emitters only read the layout the freeze pass fixed; no offset is
 * computed in the generated code at run time. */
#include "generate.h"

#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "template.h"

struct cb_gen {
    cb_ctx c;
    cb_sb source, layout, stack;
    cb_kernel_info info;
    bool resolved, registered, frozen, emitted;
    struct cb_lit_cache lits; /* last: only its flags are zeroed */
};

/* ---- helpers ------------------------------------------------------------ */

void cb_lit(const cb_ctx *c, double v, char out[48])
{
    /* The compile's cache changes no text, only how fast it comes. */
    struct cb_lit_cache *m = c->lits;
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    const size_t k = (size_t)((bits * 0x9e3779b97f4a7c15ull) >> 56);
    if (m != NULL && m->set[k] &&
        memcmp(&m->slot[k].v, &v, sizeof(v)) == 0) {
        memcpy(out, m->slot[k].text, 48);
        return;
    }
    cb_real_literal(out, c->dbl, v);
    if (m != NULL) {
        m->slot[k].v = v;
        memcpy(m->slot[k].text, out, 48);
        m->set[k] = true;
    }
}

const char *cb_math(const cb_ctx *c, const char *name)
{
    static const char *const names[][2] = {
        {"fabs", "fabsf"}, {"fmax", "fmaxf"}, {"fmin", "fminf"},
        {"sqrt", "sqrtf"}, {"exp", "expf"},   {"log", "logf"},
        {"pow", "powf"},   {"fma", "fmaf"},   {NULL, NULL}};
    for (int i = 0; names[i][0] != NULL; i++) {
        if (strcmp(names[i][0], name) == 0) {
            return names[i][c->dbl ? 0 : 1];
        }
    }
    return name;
}

void cb_emit_term(const cb_ctx *c, cb_sb *sb, const char *target,
                  bool assign, double coef, const char *src)
{
    if (coef == 0.0) {
        if (assign) {
            cb_sb_printf(sb, "%s = (real)0;\n", target);
        }
        return;
    }
    char l[48];
    cb_lit(c, coef, l);
    if (!assign && coef != 1.0) {
        /* One rounding, written out: the host compiles without
         * contraction (runtime/host.c), so the same on every layout. */
        cb_sb_printf(sb, "%s = %s(%s, %s, %s);\n", target, cb_math(c, "fma"),
                     l, src, target);
        return;
    }
    cb_sb_printf(sb, "%s %s ", target, assign ? "=" : "+=");
    if (coef != 1.0) {
        cb_sb_printf(sb, "%s * ", l);
    }
    cb_sb_printf(sb, "%s;\n", src);
}

cubie_status cb_define(cb_ctx *c, cb_fn *f, cb_owner *o, const char *body,
                       cb_sb *sb)
{
    cb_sb full;
    cb_sb_init(&full);
    full.indent = 1;
    cubie_status st = CUBIE_OK;
    if (o != NULL) {
        st = cb_declare_used(o, body, false, &full, c->err);
    }
    full.indent = 0;
    cb_sb_puts(&full, body);
    if (st == CUBIE_OK && full.failed) {
        st = cb_fail_nomem(c->err);
    }
    if (st == CUBIE_OK) {
        cb_fn_define(f, sb, cb_sb_str(&full));
    }
    cb_sb_free(&full);
    return st;
}

cubie_status cb_define_step(cb_ctx *c, cb_sb *body, cb_sb *sb)
{
    static const char *const params[] = {
        "const real *state", "real *proposed_state", "const real *parameters",
        "const real *__restrict__ driver_coeffs", "real *error", "real dt",
        "real t",
        "int accepted", "real *shared", "real *persistent", "int *shared_i",
        "int *persistent_i", "int *counters", "const real *settings", NULL};
    cb_fn_init(&c->step, "int", "cb_step", params);
    cubie_status st = body->failed
                          ? cb_fail_nomem(c->err)
                          : cb_define(c, &c->step, c->algo, cb_sb_str(body),
                                      sb);
    cb_sb_free(body);
    return st;
}

/* Status bits and settings offsets: what every emitted function may use. */
void cb_emit_common_defines(const cb_ctx *c, cb_sb *sb)
{
    cb_sb_line(sb, "// Run status bits (cubie.h).");
#define CUBIE_X(name, value, msg) \
    cb_sb_line(sb, "#define CB_%s %d", &#name[6], value);
    CUBIE_RUN_STATUS_LIST(CUBIE_X)
    CUBIE_RUN_NOTE_LIST(CUBIE_X)
#undef CUBIE_X
    cb_sb_line(sb, "// Offsets into the settings argument (gen/settings.def).");
    for (int s = 0; s < CB_SETTING_COUNT; s++) {
        cb_sb_line(sb, "#define CB_SET_%s %d", cb_settings[s].id,
                   cb_setting_offset((cb_setting)s, c->sys->n_states));
    }
}

/* ---- pass: resolve ------------------------------------------------------- */

static const cb_component *const algorithm_components[] = {
    &cb_comp_erk, &cb_comp_single, &cb_comp_dirk, &cb_comp_firk,
    &cb_comp_rosenbrock, NULL};

static cubie_status resolve_outputs(cb_ctx *c)
{
    const char *outs = cb_opt_text(c->opt, CB_OPT_OUTPUT_TYPES);
    for (int o = 0; o < CB_OUT_COUNT; o++) {
        c->out[o] = cb_outputs[o].cadence == CB_CADENCE_SAVE &&
                    cb_opt_list_has(outs, cb_outputs[o].name);
    }
    if (c->out[CB_OUT_OBSERVABLES] && c->sys->n_obs == 0) {
        return cb_fail(c->err, CUBIE_E_OPTION, "output_types", 0,
                       "option output_types: 'observables' requested, but "
                       "system '%s' lists no observables", c->sys->name);
    }
    CB_TRY(cb_summary_metrics(outs, &c->metrics, c->err));
    CB_TRY(cb_select_variables(c->sys, c->opt, &c->sel, c->err));
    if (c->metrics.n > 0) {
        c->out[CB_OUT_STATE_SUMMARIES] = c->sel.summ_states.n > 0;
        c->out[CB_OUT_OBSERVABLE_SUMMARIES] = c->sel.summ_obs.n > 0;
        if (c->sel.summ_states.n + c->sel.summ_obs.n == 0) {
            return cb_fail(c->err, CUBIE_E_OPTION, "summarise_variables", 0,
                           "option output_types asks for summary metrics, "
                           "but no variable is summarised "
                           "(summarise_variables and the summarised_*_"
                           "indices select none)");
        }
    }
    c->summaries = c->metrics.n > 0;
    /* Sampled drivers: the spline's order and what lies outside the data
     * shape the code (a new recording, its length or period does not). */
    c->driver_order = (int)cb_opt_num(c->opt, CB_OPT_DRIVER_ORDER);
    c->driver_wrap = cb_opt_num(c->opt, CB_OPT_DRIVER_WRAP) != 0.0;
    if (c->sys->n_drivers > 0 &&
        (c->driver_order < 1 || c->driver_order > CB_DRIVER_MAX_ORDER)) {
        return cb_fail(c->err, CUBIE_E_OPTION, "driver_order", 0,
                       "option driver_order: %d is not from 1 to %d",
                       c->driver_order, CB_DRIVER_MAX_ORDER);
    }
    c->need_obs = (c->out[CB_OUT_OBSERVABLES] && c->sel.saved_obs.n > 0) ||
                  c->out[CB_OUT_OBSERVABLE_SUMMARIES];
    const struct cubie_system *s = c->sys;
    for (int k = 0; k < CB_KARG_COUNT; k++) {
        c->cols[k] = 0;
    }
    c->cols[CB_KARG_INITS] = s->n_states;
    c->cols[CB_KARG_PARAMS] = s->n_params;
    c->cols[CB_KARG_SETTINGS] = cb_settings_length(s->n_states);
    c->cols[CB_KARG_STATUS_OUT] = 1;
    /* Outputs take the columns of their arrays in table order. */
    for (int o = 0; o < CB_OUT_COUNT; o++) {
        if (!c->out[o]) {
            continue;
        }
        const cb_output_info *oi = &cb_outputs[o];
        const int per = c->metrics.outputs;
        const int n =
            oi->cols == CB_COLS_STATES        ? c->sel.saved_states.n
            : oi->cols == CB_COLS_OBSERVABLES ? c->sel.saved_obs.n
            : oi->cols == CB_COLS_COUNTERS    ? CB_N_COUNTERS
            : oi->cols == CB_COLS_STATE_SUMMARIES ? c->sel.summ_states.n * per
            : oi->cols == CB_COLS_OBSERVABLE_SUMMARIES
                ? c->sel.summ_obs.n * per
                : 1;
        c->out_col[o] = c->cols[oi->array];
        c->cols[oi->array] += n;
    }
    return CUBIE_OK;
}

static cubie_status resolve_controller(cb_ctx *c)
{
    const char *ctrl = cb_opt_text(c->opt, CB_OPT_STEP_CONTROLLER);
    if (*ctrl == '\0') {
        /* The original's defaults: pi for explicit embedded pairs,
         * gustafsson for implicit ones, else fixed (families.def). */
        c->ctrl = cb_method_default_controller(c->method);
    } else {
        const int k = cb_controller_find(ctrl);
        c->ctrl = k >= 0 ? (cb_controller)k : CB_CTRL_FIXED;
    }
    if (cb_controllers[c->ctrl].needs_estimate &&
        c->method->error_order == 0) {
        return cb_fail(c->err, CUBIE_E_OPTION, "step_controller", 0,
                       "option step_controller: '%s' adapts the step from an "
                       "error estimate, and algorithm '%s' has none; use "
                       "step_controller=fixed or an embedded method (e.g. "
                       "dormand-prince-54, tsit5, bogacki-shampine-32)",
                       ctrl, c->method->name);
    }
    return CUBIE_OK;
}

cubie_status cb_gen_resolve(cb_gen *g)
{
    cb_ctx *c = &g->c;
    c->dbl = cb_opt_choice(c->opt, CB_OPT_PRECISION) == CB_PRECISION_FLOAT64;
    c->prec = c->dbl ? CB_PREC_F64 : CB_PREC_F32;
    const char *algo = cb_opt_text(c->opt, CB_OPT_ALGORITHM);
    c->method = cb_method_find(algo);
    if (c->method == NULL) {
        return cb_fail(c->err, CUBIE_E_OPTION, "algorithm", 0,
                       "option algorithm: unknown algorithm '%s'", algo);
    }
    c->tab = c->method->tableau;
    const cb_family_info *fam = &cb_families[c->method->family];
    for (int i = 0; algorithm_components[i] != NULL; i++) {
        if (strcmp(algorithm_components[i]->name, fam->component) == 0) {
            c->algorithm = algorithm_components[i];
        }
    }
    if (c->algorithm == NULL) {
        return cb_fail(c->err, CUBIE_E_CODEGEN, "algorithm", 0,
                       "no component '%s' for algorithm '%s'",
                       fam->component, c->method->name);
    }
    CB_TRY(resolve_controller(c));
    CB_TRY(resolve_outputs(c));
    c->n_error = c->ctrl == CB_CTRL_FIXED ? 0 : c->sys->n_states;
    c->fsal = (c->method->family == CB_FAM_ERK ||
               c->method->family == CB_FAM_DIRK) &&
              cb_rk_fsal(c->tab);
    c->order = cb_method_exponent_order(c->method);
    c->block = (int)cb_opt_num(c->opt, CB_OPT_BLOCKSIZE);
    if (c->block < 1 || c->block > 1024) {
        return cb_fail(c->err, CUBIE_E_OPTION, "blocksize", 0,
                       "option blocksize: %d is not in 1..1024 (the kernel "
                       "is bound to it: __launch_bounds__)", c->block);
    }
    c->host_lanes = (int)cb_opt_num(c->opt, CB_OPT_HOST_LANES);
    if (c->host_lanes > 256) {
        return cb_fail(c->err, CUBIE_E_OPTION, "host_lanes", 0,
                       "option host_lanes: %d is more than 256 runs per "
                       "host block", c->host_lanes);
    }
    if (c->algorithm->resolve != NULL) {
        CB_TRY(c->algorithm->resolve(c));
    }
    /* The stack, for CUBIE_DEBUG=S. */
    cb_sb *s = &g->stack;
    cb_sb_line(s, "system %s: %d states, %d parameters, %d observables",
               c->sys->name, c->sys->n_states, c->sys->n_params,
               c->sys->n_obs);
    cb_sb_line(s, "algorithm %s (component %s, order %d, error order %d%s)",
               c->method->name, c->algorithm->name, c->method->order,
               c->method->error_order, c->fsal ? ", FSAL" : "");
    cb_sb_line(s, "step_controller %s (exponent order %d)",
               cb_controllers[c->ctrl].name, c->order);
    if (c->algorithm != &cb_comp_erk) {
        char order[32] = "";
        if (c->nk.pre == CB_PRECOND_NEUMANN ||
            c->nk.pre == CB_PRECOND_JACOBI_NEUMANN) {
            snprintf(order, sizeof(order), " (order %d)", c->nk.pre_order);
        }
        cb_sb_line(s, "solve: %s, linear solver %s, preconditioner %s%s, "
                      "jacobian per %s",
                   c->nk.newton ? "newton" : "linear only",
                   cb_choices[c->nk.lin].text, cb_choices[c->nk.pre].text,
                   order,
                   c->nk.lu_step || !c->nk.newton ? "step" : "iteration");
    }
    cb_sb_printf(s, "precision %s, outputs", c->dbl ? "float64" : "float32");
    for (int o = 0; o < CB_OUT_COUNT; o++) {
        if (c->out[o]) {
            cb_sb_printf(s, " %s", cb_outputs[o].name);
        }
    }
    cb_sb_printf(s, ", blocksize %d\n", c->block);
    if (c->summaries) {
        cb_sb_printf(s, "summaries:");
        for (int i = 0; i < c->metrics.n; i++) {
            const cb_metric_req *r = &c->metrics.m[i];
            if (r->param > 0) {
                cb_sb_printf(s, " %s[%d]", cb_metric_table[r->id].name,
                             r->param);
            } else {
                cb_sb_printf(s, " %s", cb_metric_table[r->id].name);
            }
        }
        cb_sb_printf(s, " of %d states and %d observables\n",
                     c->sel.summ_states.n, c->sel.summ_obs.n);
    }
    g->resolved = true;
    return s->failed ? cb_fail_nomem(c->err) : CUBIE_OK;
}

/* ---- pass: register ------------------------------------------------------ */

/* The owners, in the order relocations and their error list visit them. */
static int owners_of(const cb_ctx *c, cb_owner **out)
{
    int n = 0;
    out[n++] = c->algo;
    out[n++] = c->ctrl_owner;
    out[n++] = c->loop;
    if (c->nk.newton_owner != NULL) {
        out[n++] = c->nk.newton_owner;
    }
    if (c->nk.linear_owner != NULL) {
        out[n++] = c->nk.linear_owner;
    }
    return n;
}

/* Apply every `<buffer>_location` option to whichever owner has that
 * buffer; a key no owner knows is an error naming the buffers there are. */
static cubie_status apply_locations(cb_ctx *c)
{
    cb_owner *owners[5];
    const int n_owners = owners_of(c, owners);
    for (int i = 0; i < c->opt->n_locs; i++) {
        const cb_location_opt *l = &c->opt->locs[i];
        bool any = false;
        for (int k = 0; k < n_owners; k++) {
            bool rec = false;
            CB_TRY(cb_update_location(owners[k], l->key, l->value, &rec,
                                      c->err));
            any = any || rec;
        }
        if (any) {
            continue;
        }
        cb_sb names;
        cb_sb_init(&names);
        for (int k = 0; k < n_owners; k++) {
            for (size_t j = 0; j < cb_relocatable_count(owners[k]); j++) {
                cb_sb_printf(&names, "%s%s", names.len ? ", " : "",
                             cb_relocatable_name(owners[k], j));
            }
        }
        cubie_status st = cb_fail(
            c->err, CUBIE_E_OPTION, l->key, 0,
            "option %s: this solver has no buffer called '%.*s' "
            "(relocatable buffers: %s)", l->key,
            (int)(strlen(l->key) - strlen("_location")), l->key,
            cb_sb_str(&names));
        cb_sb_free(&names);
        return st;
    }
    return CUBIE_OK;
}

cubie_status cb_gen_register(cb_gen *g)
{
    cb_ctx *c = &g->c;
    if (!g->resolved) {
        return cb_fail(c->err, CUBIE_E_ARG, NULL, 0,
                       "cb_gen_register before cb_gen_resolve");
    }
    c->reg = cb_registry_new();
    if (c->reg == NULL) {
        return cb_fail_nomem(c->err);
    }
    CB_TRY(cb_registry_owner(c->reg, "algorithm", c->prec, &c->algo,
                             c->err));
    CB_TRY(cb_registry_owner(c->reg, "controller", c->prec, &c->ctrl_owner,
                             c->err));
    CB_TRY(cb_registry_owner(c->reg, "loop", c->prec, &c->loop, c->err));
    CB_TRY(c->algorithm->register_buffers(c));
    CB_TRY(cb_comp_controller.register_buffers(c));
    CB_TRY(cb_comp_loop.register_buffers(c));
    CB_TRY(apply_locations(c));
    /* Relocations change the solver's sizes: refresh the roll-ups from the
     * innermost child out; the step's and the controller's last, so they
     * see the relocated sizes. */
    CB_TRY(cb_nk_refresh(c));
    CB_TRY(cb_register_child(c->loop, c->algo, "algorithm", c->err));
    CB_TRY(cb_register_child(c->loop, c->ctrl_owner, "controller", c->err));
    g->registered = true;
    return CUBIE_OK;
}

/* ---- pass: freeze -------------------------------------------------------- */

cubie_status cb_gen_freeze(cb_gen *g)
{
    cb_ctx *c = &g->c;
    if (!g->registered) {
        return cb_fail(c->err, CUBIE_E_ARG, NULL, 0,
                       "cb_gen_freeze before cb_gen_register");
    }
    CB_TRY(cb_registry_freeze(c->reg, c->err));
    cb_owner *owners[5] = {c->loop, c->algo, c->ctrl_owner,
                           c->nk.newton_owner, c->nk.linear_owner};
    for (int k = 0; k < 5; k++) {
        if (owners[k] != NULL) {
            CB_TRY(cb_owner_describe(owners[k], &g->layout, c->err));
        }
    }
    CB_TRY(cb_owner_sizes(c->loop, &c->loop_sizes, c->err));
    CB_TRY(cb_loop_lanes(c));
    g->frozen = true;
    return g->layout.failed ? cb_fail_nomem(c->err) : CUBIE_OK;
}

/* ---- pass: emit ---------------------------------------------------------- */

static size_t odd_stride(size_t n)
{
    /* An odd stride puts neighbouring runs in different banks. */
    return n == 0 ? 0 : (n % 2 == 0 ? n + 1 : n);
}

/* The registry's layout table as a comment block. */
static void emit_layout_block(const cb_gen *g, cb_sb *sb)
{
    cb_sb_line(sb, "// Buffer layout (elements per run), from the buffer "
                   "registry:");
    const char *p = cb_sb_str(&g->layout);
    while (*p) {
        size_t len = strcspn(p, "\n");
        cb_sb_printf(sb, "//%s%.*s\n", len ? " " : "", (int)len, p);
        p += len + (p[len] == '\n');
    }
}

static void emit_defines(const cb_gen *g, cb_sb *sb)
{
    const cb_ctx *c = &g->c;
    const struct cubie_system *s = c->sys;
    const cb_sizes *z = &c->loop_sizes;
    cb_sb_line(sb, "// Sizes.");
    cb_sb_line(sb, "#define CB_N_STATES %d", s->n_states);
    cb_sb_line(sb, "#define CB_N_PARAMS %d", s->n_params);
    cb_sb_line(sb, "#define CB_N_OBS %d", s->n_obs);
    cb_sb_line(sb, "#define CB_N_COUNTERS %d", CB_N_COUNTERS);
    cb_sb_line(sb, "// Columns of the output arrays (gen/outputs.def).");
    for (int k = 0; k < CB_KARG_COUNT; k++) {
        if (cb_kargs[k].dir != CB_DIR_OUT ||
            (cb_kargs[k].rows != CB_ROWS_SAVES &&
             cb_kargs[k].rows != CB_ROWS_WINDOWS)) {
            continue;
        }
        cb_sb_printf(sb, "#define CB_COLS_%s %d //", cb_kargs[k].id,
                     c->cols[k]);
        bool any = false;
        for (int o = 0; o < CB_OUT_COUNT; o++) {
            if (c->out[o] && cb_outputs[o].array == (cb_karg)k) {
                cb_sb_printf(sb, "%s %s", any ? "," : "", cb_outputs[o].name);
                any = true;
            }
        }
        cb_sb_puts(sb, any ? "\n" : " not written\n");
    }
    cb_sb_line(sb, "// Where column col of row row (of rows per run) of an "
                   "output array goes:");
    cb_sb_line(sb, "// run index fastest on the GPU (coalesced; "
                   "cubie_store turns a chunk's");
    cb_sb_line(sb, "// arrays into the caller's layout on the device), the "
                   "caller's layout");
    cb_sb_line(sb, "// (run, row, column) on the host, which writes its "
                   "results in place. An");
    cb_sb_line(sb, "// input's column col of a run is in the caller's "
                   "layout on both: read once");
    cb_sb_line(sb, "// a run, it needs no transpose.");
    cb_sb_line(sb, "#if CB_GPU || defined(CB_DEVICE_LAYOUT)");
    cb_sb_line(sb, "#define CB_AT(run, n_runs, rows, row, cols, col) "
                   "(((long long)(row) * (cols) + (col)) * (n_runs) + (run))");
    cb_sb_line(sb, "typedef real cb_input; // staged in the kernel's "
                   "precision");
    cb_sb_line(sb, "#else");
    /* (0 * n_runs: the host's index does not need it, but names it, so
     * the functions that index keep it as the GPU's do) */
    cb_sb_line(sb, "#define CB_AT(run, n_runs, rows, row, cols, col) "
                   "(((long long)(run) * (rows) + \\");
    cb_sb_line(sb, "    (row)) * (cols) + (col) + 0 * (n_runs))");
    cb_sb_line(sb, "typedef double cb_input; // the batch's own values, "
                   "rounded as they load");
    cb_sb_line(sb, "#endif");
    cb_sb_line(sb, "#define CB_IN(run, n_runs, cols, col) "
                   "((long long)(run) * (cols) + (col) + 0 * (n_runs))");
    cb_emit_common_defines(c, sb);
    cb_sb_line(sb, "// Fixed steps well before a save run as a counted burst.");
    cb_sb_line(sb, "#define CB_FIXED_BURST %d", cb_loop_fixed_burst(c));
    cb_sb_line(sb, "// A step within this factor of a save time lands on it.");
    cb_sb_line(sb, "#define CB_EVENT_STRETCH %s",
               c->dbl ? "1.000000001" : "1.00000095367431640625f");
    cb_sb_line(sb, "// Threads per block the kernel is built for "
                   "(__launch_bounds__).");
    cb_sb_line(sb, "#define CB_BLOCK_SIZE %d", c->block);
    cb_sb_line(sb, "// Threads a block of the stores (entry.cu).");
    cb_sb_line(sb, "#define CB_STORE_BLOCK %d", CB_STORE_BLOCK);
    cb_sb_line(sb, "// Runs per SIMD block of the host backend (lanes.cu; 1: "
                   "one at a time).");
    cb_sb_line(sb, "#define CB_LANES %d", c->lanes);
    cb_sb_line(sb, "// Explicit steps (of a burst, of a pass's attempt) run on "
                   "every lane,");
    cb_sb_line(sb, "// ended or not (no branch).");
    cb_sb_line(sb, "#define CB_LANE_EXPLICIT %d", cb_loop_lane_explicit(c));
    cb_sb_line(sb, "// Per-run pools (elements), from the buffer registry.");
    cb_sb_line(sb, "#define CB_SHARED_SIZE %zu", z->shared);
    cb_sb_line(sb, "#define CB_SHARED_ALLOC %zu", z->shared ? z->shared : 1);
    cb_sb_line(sb, "#define CB_SHARED_STRIDE %zu", odd_stride(z->shared));
    cb_sb_line(sb, "#define CB_SHARED_I_SIZE %zu", z->shared_int);
    cb_sb_line(sb, "#define CB_SHARED_I_ALLOC %zu",
               z->shared_int ? z->shared_int : 1);
    cb_sb_line(sb, "#define CB_SHARED_I_STRIDE %zu", odd_stride(z->shared_int));
    cb_sb_line(sb, "#define CB_PERSISTENT_ALLOC %zu",
               z->persistent ? z->persistent : 1);
    cb_sb_line(sb, "#define CB_PERSISTENT_I_ALLOC %zu",
               z->persistent_int ? z->persistent_int : 1);
}

cubie_status cb_gen_emit(cb_gen *g)
{
    cb_ctx *c = &g->c;
    cb_sb *sb = &g->source;
    const struct cubie_system *s = c->sys;
    if (!g->frozen) {
        return cb_fail(c->err, CUBIE_E_ARG, NULL, 0,
                       "cb_gen_emit before cb_gen_freeze");
    }
    cb_sb_line(sb, "// Generated by cubie %d.%d.%d. Do not edit: regenerate.",
               CUBIE_VERSION_MAJOR, CUBIE_VERSION_MINOR, CUBIE_VERSION_PATCH);
    cb_sb_line(sb, "// system %s: %d states, %d parameters, %d observables",
               s->name, s->n_states, s->n_params, s->n_obs);
    cb_sb_line(sb, "// algorithm %s, step_controller %s, precision %s",
               c->method->name, cb_controllers[c->ctrl].name,
               c->dbl ? "float64" : "float32");
    cb_sb_line(sb, "#define CB_F32 %d", c->dbl ? 0 : 1);
    cb_sb_puts(sb, cb_template("prelude.cu"));
    cb_sb_puts(sb, "\n");
    emit_defines(g, sb);
    emit_layout_block(g, sb);
    cb_sb_puts(sb, "\n");
    /* Callees first: each function's parameters are known to its callers. */
    CB_TRY(cb_rhs_emit_system(c, sb));
    CB_TRY(c->algorithm->emit(c, sb));
    CB_TRY(cb_comp_controller.emit(c, sb));
    CB_TRY(cb_comp_loop.emit(c, sb));
    g->emitted = true;
    return sb->failed ? cb_fail_nomem(c->err) : CUBIE_OK;
}

/* ---- pass: check --------------------------------------------------------- */

cubie_status cb_gen_check(cb_gen *g)
{
    cb_ctx *c = &g->c;
    if (!g->emitted) {
        return cb_fail(c->err, CUBIE_E_ARG, NULL, 0,
                       "cb_gen_check before cb_gen_emit");
    }
    CB_TRY(cb_registry_check_declared(c->reg, c->err));
    cb_kernel_info *k = &g->info;
    k->is_double = c->dbl;
    k->n_states = c->sys->n_states;
    k->n_params = c->sys->n_params;
    k->n_obs = c->sys->n_obs;
    k->n_drivers = c->sys->n_drivers;
    k->driver_order = c->driver_order;
    k->driver_wrap = c->driver_wrap;
    k->method = c->method;
    k->controller = c->ctrl;
    k->implicit = c->algorithm != &cb_comp_erk;
    k->linear = k->implicit ? (int)c->nk.lin
                            : (int)cb_nk_linear_for(c, 1, false);
    k->jacobian = !k->implicit ? (int)cb_nk_jacobian_for(c, c->sys->n_states,
                                                         1)
                  : c->nk.lu_step || !c->nk.newton ? (int)CB_JACOBIAN_STEP
                                                   : (int)CB_JACOBIAN_ITERATION;
    memcpy(k->out, c->out, sizeof(k->out));
    memcpy(k->cols, c->cols, sizeof(k->cols));
    memcpy(k->out_col, c->out_col, sizeof(k->out_col));
    k->saves = false;
    for (int o = 0; o < CB_OUT_COUNT; o++) {
        k->saves = k->saves ||
                   (c->out[o] && cb_outputs[o].cadence == CB_CADENCE_SAVE);
    }
    k->summaries = c->summaries;
    k->block = c->block;
    k->shared_stride = odd_stride(c->loop_sizes.shared);
    k->shared_i_stride = odd_stride(c->loop_sizes.shared_int);
    k->persistent = c->loop_sizes.persistent;
    k->persistent_i = c->loop_sizes.persistent_int;
    k->local = c->loop_sizes.local;
    k->local_i = c->loop_sizes.local_int;
    return CUBIE_OK;
}

/* ---- the generation object ----------------------------------------------- */

cubie_status cb_gen_new(const struct cubie_system *sys,
                        const struct cubie_options *opt, cubie_error *err,
                        cb_gen **out)
{
    /* Zeroed but for the literal texts (16 KiB), which are written
     * before they are read. */
    *out = malloc(sizeof(**out));
    if (*out == NULL) {
        return cb_fail_nomem(err);
    }
    cb_gen *g = *out;
    memset(g, 0, offsetof(cb_gen, lits));
    memset(g->lits.set, 0, sizeof(g->lits.set));
    g->c.sys = sys;
    g->c.opt = opt;
    g->c.err = err;
    g->c.lits = &g->lits;
    cb_sb_init(&g->source);
    cb_sb_init(&g->layout);
    cb_sb_init(&g->stack);
    return CUBIE_OK;
}

void cb_gen_free(cb_gen *g)
{
    if (g == NULL) {
        return;
    }
    cb_sb_free(&g->source);
    cb_sb_free(&g->layout);
    cb_sb_free(&g->stack);
    cb_registry_free(g->c.reg);
    cb_selection_free(&g->c.sel);
    free(g);
}

const char *cb_gen_stack(const cb_gen *g)
{
    return cb_sb_str(&g->stack);
}

const char *cb_gen_layout(const cb_gen *g)
{
    return cb_sb_str(&g->layout);
}

const char *cb_gen_source(const cb_gen *g)
{
    return cb_sb_str(&g->source);
}

char *cb_gen_take_source(cb_gen *g)
{
    return cb_sb_take(&g->source);
}

char *cb_gen_take_layout(cb_gen *g)
{
    return cb_sb_take(&g->layout);
}

char *cb_gen_take_stack(cb_gen *g)
{
    return cb_sb_take(&g->stack);
}

const cb_kernel_info *cb_gen_info(const cb_gen *g)
{
    return &g->info;
}

/* Whether buffer j of owner k has a name an earlier one has. */
static bool relocatable_seen(cb_owner *const *owners, int k, size_t j)
{
    const char *name = cb_relocatable_name(owners[k], j);
    for (int e = 0; e <= k; e++) {
        const size_t n = e < k ? cb_relocatable_count(owners[e]) : j;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(cb_relocatable_name(owners[e], i), name) == 0) {
                return true;
            }
        }
    }
    return false;
}

char *cb_gen_locations(const cb_gen *g)
{
    cb_owner *owners[5];
    const int n_owners = owners_of(&g->c, owners);
    cb_sb sb;
    cb_sb_init(&sb);
    for (int k = 0; k < n_owners; k++) {
        for (size_t j = 0; j < cb_relocatable_count(owners[k]); j++) {
            if (relocatable_seen(owners, k, j)) {
                continue; /* one option moves both */
            }
            cb_sb_printf(&sb, "%s=%s\n", cb_relocatable_name(owners[k], j),
                         cb_relocatable_location(owners[k], j) ==
                                 CB_LOC_SHARED
                             ? "shared"
                             : "local");
        }
    }
    return cb_sb_take(&sb);
}

cubie_status cb_generate(const struct cubie_system *sys,
                         const struct cubie_options *opt, cb_generated *out,
                         cubie_error *err)
{
    memset(out, 0, sizeof(*out));
    cb_gen *g = NULL;
    CB_TRY(cb_gen_new(sys, opt, err, &g));
    cubie_status st = cb_gen_resolve(g);
    if (st == CUBIE_OK) {
        st = cb_gen_register(g);
    }
    if (st == CUBIE_OK) {
        st = cb_gen_freeze(g);
    }
    if (st == CUBIE_OK) {
        st = cb_gen_emit(g);
    }
    if (st == CUBIE_OK) {
        st = cb_gen_check(g);
    }
    if (st == CUBIE_OK) {
        out->info = g->info;
        out->source = cb_gen_take_source(g);
        out->layout = cb_gen_take_layout(g);
        out->stack = cb_gen_take_stack(g);
        out->locations = cb_gen_locations(g);
        if (out->source == NULL || out->layout == NULL ||
            out->stack == NULL || out->locations == NULL) {
            cb_generated_free(out);
            st = cb_fail_nomem(err);
        }
    }
    cb_gen_free(g);
    return st;
}

void cb_generated_free(cb_generated *g)
{
    free(g->source);
    free(g->layout);
    free(g->stack);
    free(g->locations);
    g->source = NULL;
    g->layout = NULL;
    g->stack = NULL;
    g->locations = NULL;
}
