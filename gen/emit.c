/* Kernel generation as a list of passes over one compile context:
 *   stack_resolve -> register_buffers -> layout_assign -> kernel_emit
 * Emitters only read the layout the registry froze; no offset is computed
 * here or at run time (DESIGN.md, "The generated kernel"). */
#include "emit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit_internal.h"

extern const struct {
    const char *name;
    const char *text;
} cb_templates[];

const char *cb_template(const char *name)
{
    for (int i = 0; cb_templates[i].name != NULL; i++) {
        if (strcmp(cb_templates[i].name, name) == 0) {
            return cb_templates[i].text;
        }
    }
    return NULL;
}

/* ---- pass 1: stack_resolve ------------------------------------------ */

static cubie_status stack_resolve(cb_ctx *c)
{
    c->dbl = strcmp(cb_opt_text(c->opt, CB_OPT_PRECISION), "float64") == 0;
    const char *algo = cb_opt_text(c->opt, CB_OPT_ALGORITHM);
    c->tab = cb_erk_find(algo);
    if (c->tab != NULL) {
        c->family = CB_FAM_ERK;
        c->method = c->tab->name;
        c->has_estimate = c->tab->b_hat != NULL;
        c->order = c->tab->order;
    } else if (!cb_implicit_resolve(c, algo)) {
        return cb_fail(c->err, CUBIE_E_OPTION, "algorithm", 0,
                       "option algorithm: unknown algorithm '%s'", algo);
    }
    const char *ctrl = cb_opt_text(c->opt, CB_OPT_STEP_CONTROLLER);
    const bool has_estimate = c->has_estimate;
    if (*ctrl == '\0') {
        /* The original's defaults: pi for explicit embedded pairs,
         * gustafsson for implicit ones, else fixed. */
        c->ctrl = !has_estimate              ? CB_CTRL_FIXED
                  : c->family == CB_FAM_ERK ? CB_CTRL_PI
                                            : CB_CTRL_GUSTAFSSON;
    } else {
        c->ctrl = CB_CTRL_FIXED;
        for (int i = 0; cb_controller_names[i] != NULL; i++) {
            if (strcmp(ctrl, cb_controller_names[i]) == 0) {
                c->ctrl = (cb_controller)i;
            }
        }
    }
    if (c->ctrl != CB_CTRL_FIXED && !has_estimate) {
        return cb_fail(c->err, CUBIE_E_OPTION, "step_controller", 0,
                       "option step_controller: '%s' adapts the step from an "
                       "error estimate, and algorithm '%s' has none; use "
                       "step_controller=fixed or an embedded method (e.g. "
                       "dormand-prince-54, tsit5, bogacki-shampine-32)",
                       ctrl, c->method);
    }
    const char *outs = cb_opt_text(c->opt, CB_OPT_OUTPUT_TYPES);
    c->save_state = cb_opt_list_has(outs, "state");
    c->save_obs = cb_opt_list_has(outs, "observables") && c->sys->n_obs > 0;
    c->save_time = cb_opt_list_has(outs, "time");
    c->save_counters = cb_opt_list_has(outs, "iteration_counters");
    c->n_saved = (c->save_state ? c->sys->n_states : 0) + (c->save_time ? 1 : 0);
    if (cb_opt_list_has(outs, "observables") && c->sys->n_obs == 0) {
        return cb_fail(c->err, CUBIE_E_OPTION, "output_types", 0,
                       "option output_types: 'observables' requested, but "
                       "system '%s' lists no observables", c->sys->name);
    }
    c->n_error = c->ctrl == CB_CTRL_FIXED ? 0 : c->sys->n_states;
    c->fsal = c->tab != NULL && cb_erk_fsal(c->tab);
    return CUBIE_OK;
}

/* ---- pass 2: register_buffers --------------------------------------- */

/* Apply every `<buffer>_location` option to whichever owner has that
 * buffer; a key no owner knows is an error naming the buffers there are. */
static cubie_status apply_locations(cb_ctx *c, cb_owner *const *owners,
                                    int n_owners, bool final)
{
    for (int i = 0; i < c->opt->n_locs; i++) {
        const cb_location_opt *l = &c->opt->locs[i];
        bool any = false;
        for (int k = 0; k < n_owners; k++) {
            bool rec = false;
            cubie_status st =
                cb_update_location(owners[k], l->key, l->value, &rec, c->err);
            if (st != CUBIE_OK) {
                return st;
            }
            any = any || rec;
        }
        if (!any && final) {
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
    }
    return CUBIE_OK;
}

static cubie_status register_buffers(cb_ctx *c)
{
    const cb_prec p = c->dbl ? CB_PREC_F64 : CB_PREC_F32;
    const size_t n = (size_t)c->sys->n_states;
    cubie_status st;
    c->reg = cb_registry_new();
    if (c->reg == NULL) {
        return cb_fail_nomem(c->err);
    }
#define TRY(call)                   \
    do {                            \
        if ((st = (call)) != CUBIE_OK) { \
            return st;              \
        }                           \
    } while (0)
    TRY(cb_registry_owner(c->reg, "algorithm", p, &c->algo, c->err));
    TRY(cb_registry_owner(c->reg, "controller", p, &c->ctrl_owner, c->err));
    TRY(cb_registry_owner(c->reg, "loop", p, &c->loop, c->err));

    if (c->family == CB_FAM_ERK) {
        /* ERK: the stage derivative (persistent when it is carried to the
         * next step as its first stage, FSAL) and one accumulator row per
         * later stage. */
        TRY(cb_register(c->algo, "stage_rhs", n, CB_LOC_LOCAL, c->fsal, NULL,
                        p, c->err));
        TRY(cb_register(c->algo, "stage_accumulator",
                        (size_t)(c->tab->stages - 1) * n, CB_LOC_LOCAL,
                        false, NULL, p, c->err));
    } else {
        TRY(cb_implicit_register(c));
    }

    /* Controller history (persistent): PI keeps the previous error norm,
     * PID two, Gustafsson the previous step and error norm. */
    static const size_t history[] = {0, 0, 1, 2, 2};
    TRY(cb_register(c->ctrl_owner, "timestep_buffer", history[c->ctrl],
                    CB_LOC_LOCAL, true, NULL, p, c->err));

    /* The loop's buffers, as in the original (cubie-features.md §1.6). */
    const size_t np = (size_t)c->sys->n_params, no = (size_t)c->sys->n_obs;
    TRY(cb_register(c->loop, "state", n, CB_LOC_LOCAL, false, NULL, p, c->err));
    TRY(cb_register(c->loop, "proposed_state", n, CB_LOC_LOCAL, false, NULL, p,
                    c->err));
    TRY(cb_register(c->loop, "parameters", np, CB_LOC_LOCAL, false, NULL, p,
                    c->err));
    TRY(cb_register(c->loop, "drivers", 0, CB_LOC_LOCAL, false, NULL, p,
                    c->err));
    TRY(cb_register(c->loop, "proposed_drivers", 0, CB_LOC_LOCAL, false, NULL,
                    p, c->err));
    TRY(cb_register(c->loop, "observables", no, CB_LOC_LOCAL, false, NULL, p,
                    c->err));
    TRY(cb_register(c->loop, "proposed_observables", no, CB_LOC_LOCAL, false,
                    NULL, p, c->err));
    TRY(cb_register(c->loop, "error", (size_t)c->n_error, CB_LOC_LOCAL, false,
                    NULL, p, c->err));
    TRY(cb_register(c->loop, "counters", c->save_counters ? 4 : 0,
                    CB_LOC_LOCAL, false, NULL, CB_PREC_I32, c->err));
    TRY(cb_register(c->loop, "state_summary", 0, CB_LOC_LOCAL, false, NULL, p,
                    c->err));
    TRY(cb_register(c->loop, "observable_summary", 0, CB_LOC_LOCAL, false,
                    NULL, p, c->err));
    TRY(cb_register(c->loop, "dt", 1, CB_LOC_LOCAL, false, NULL, p, c->err));
    TRY(cb_register(c->loop, "accept_step", 1, CB_LOC_LOCAL, false, NULL,
                    CB_PREC_I32, c->err));
    TRY(cb_register(c->loop, "proposed_counters", 2, CB_LOC_LOCAL, false, NULL,
                    CB_PREC_I32, c->err));

    cb_owner *owners[5] = {c->algo, c->ctrl_owner, c->loop,
                           c->nk.newton_owner, c->nk.linear_owner};
    int n_owners = 3 + (c->nk.newton_owner != NULL) +
                   (c->nk.linear_owner != NULL);
    if (c->nk.newton_owner == NULL && c->nk.linear_owner != NULL) {
        owners[3] = c->nk.linear_owner;
    }
    TRY(apply_locations(c, owners, n_owners, true));
    if (c->family != CB_FAM_ERK) {
        /* Relocations change the solver's sizes: refresh the roll-ups
         * from the innermost child out. */
        TRY(cb_implicit_register_children(c));
    }
    /* Children last, so their roll-ups see the relocated sizes. */
    TRY(cb_register_child(c->loop, c->algo, "algorithm", c->err));
    TRY(cb_register_child(c->loop, c->ctrl_owner, "controller", c->err));
#undef TRY
    return CUBIE_OK;
}

/* ---- pass 3: layout_assign ------------------------------------------ */

static cubie_status layout_assign(cb_ctx *c, cb_sb *layout)
{
    cb_owner *owners[5] = {c->loop, c->algo, c->ctrl_owner,
                           c->nk.newton_owner, c->nk.linear_owner};
    for (int k = 0; k < 5; k++) {
        if (owners[k] == NULL) {
            continue;
        }
        cubie_status st = cb_owner_describe(owners[k], layout, c->err);
        if (st != CUBIE_OK) {
            return st;
        }
    }
    return cb_owner_sizes(c->loop, &c->loop_sizes, c->err);
}

/* ---- pass 4: kernel_emit -------------------------------------------- */


static void real_lit(const cb_ctx *c, cb_sb *sb, double v)
{
    cb_print_real(v, c->dbl, sb);
}

/* Emit the auxiliaries in need_aux (dependency order) as locals. */
static void emit_aux(const cb_ctx *c, cb_sb *sb, const bool *need)
{
    const struct cubie_system *s = c->sys;
    for (int o = 0; o < s->n_aux; o++) {
        int k = s->aux_order[o];
        if (!need[k]) {
            continue;
        }
        cb_sb_printf(sb, "const real a_%s = ", s->aux_names[k]);
        cb_expr_print(s->eqs[s->aux_eq[k]].rhs, c->dbl, cb_spec_print_sym,
                      (void *)s, sb);
        cb_sb_puts(sb, ";\n");
    }
}

static cubie_status emit_system(cb_ctx *c, cb_sb *sb)
{
    const struct cubie_system *s = c->sys;
    bool *roots = calloc((size_t)s->n_eqs + 1, sizeof(bool));
    bool *need = calloc((size_t)s->n_aux + 1, sizeof(bool));
    if (roots == NULL || need == NULL) {
        free(roots);
        free(need);
        return cb_fail_nomem(c->err);
    }
    cb_sb_line(sb, "// The system '%s': derivatives of the states.", s->name);
    cb_sb_line(sb, "CB_DEVFN void cb_dxdt(const real *state, "
                   "const real *parameters,");
    cb_sb_line(sb, "                      const real *drivers, real *out, "
                   "real t)");
    cb_sb_line(sb, "{");
    cb_sb_indent(sb);
    cb_sb_line(sb, "(void)state;");
    cb_sb_line(sb, "(void)parameters;");
    cb_sb_line(sb, "(void)drivers;");
    cb_sb_line(sb, "(void)t;");
    for (int k = 0; k < s->n_states; k++) {
        roots[s->deriv_eq[k]] = true;
    }
    cb_spec_aux_closure(s, roots, need);
    emit_aux(c, sb, need);
    for (int k = 0; k < s->n_states; k++) {
        cb_sb_printf(sb, "out[%d] = ", k);
        cb_expr_print(s->eqs[s->deriv_eq[k]].rhs, c->dbl, cb_spec_print_sym,
                      (void *)s, sb);
        cb_sb_printf(sb, "; // d%s\n", s->state_names[k]);
    }
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_puts(sb, "\n");

    cb_sb_line(sb, "// Observables: the auxiliaries listed as observables.");
    cb_sb_line(sb, "CB_DEVFN void cb_observables(const real *state, "
                   "const real *parameters,");
    cb_sb_line(sb, "                             const real *drivers, "
                   "real *observables, real t)");
    cb_sb_line(sb, "{");
    cb_sb_indent(sb);
    cb_sb_line(sb, "(void)state;");
    cb_sb_line(sb, "(void)parameters;");
    cb_sb_line(sb, "(void)drivers;");
    cb_sb_line(sb, "(void)observables;");
    cb_sb_line(sb, "(void)t;");
    memset(roots, 0, sizeof(bool) * (size_t)s->n_eqs);
    for (int k = 0; k < s->n_obs; k++) {
        roots[s->aux_eq[s->obs_aux[k]]] = true;
    }
    cb_spec_aux_closure(s, roots, need);
    emit_aux(c, sb, need);
    for (int k = 0; k < s->n_obs; k++) {
        cb_sb_line(sb, "observables[%d] = a_%s;", k,
                   s->aux_names[s->obs_aux[k]]);
    }
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_puts(sb, "\n");
    free(roots);
    free(need);
    return CUBIE_OK;
}

/* `target[i] OP coef * src[i]` inside a state loop; nothing for coef 0
 * unless assign (then a zero). */
void cb_emit_term(const cb_ctx *c, cb_sb *sb, const char *target,
                      bool assign, double coef, const char *src)
{
    if (coef == 0.0) {
        if (assign) {
            cb_sb_printf(sb, "%s = (real)0;\n", target);
        }
        return;
    }
    cb_sb_printf(sb, "%s %s ", target, assign ? "=" : "+=");
    if (coef != 1.0) {
        real_lit(c, sb, coef);
        cb_sb_puts(sb, " * ");
    }
    cb_sb_printf(sb, "%s;\n", src);
}

void cb_emit_step_open(cb_sb *sb)
{
    /* One signature for every family: the loop calls them all alike. */
    cb_sb_line(sb, "CB_DEVFN int cb_step(const real *state, "
                   "real *proposed_state,");
    cb_sb_line(sb, "                     const real *parameters, "
                   "const real *drivers,");
    cb_sb_line(sb, "                     real *proposed_drivers, "
                   "real *observables,");
    cb_sb_line(sb, "                     real *proposed_observables, "
                   "real *error, real dt,");
    cb_sb_line(sb, "                     real t, int first_step, "
                   "int accepted, real *shared,");
    cb_sb_line(sb, "                     real *persistent, int *shared_i, "
                   "int *persistent_i,");
    cb_sb_line(sb, "                     int *counters, const real *settings)");
    cb_sb_line(sb, "{");
    cb_sb_indent(sb);
}

/* The generic explicit Runge-Kutta step, driven by the method table.
 * Streaming accumulators as in the original: when stage k's derivative
 * is known it is added, times a_jk, into row j-1 of stage_accumulator for
 * every later stage j; row j-1 then becomes stage j's state in place. The
 * solution (and error) accumulate the same way. Zero coefficients are not
 * emitted; stage loops are unrolled here. */
static cubie_status emit_erk(cb_ctx *c, cb_sb *sb)
{
    const cb_erk_tableau *T = c->tab;
    const int s = T->stages, n = c->sys->n_states;
    const int b_row = cb_erk_b_row(T);
    cubie_status st;
    cb_sb_line(sb, "// Algorithm step: %s, %d stage%s, order %d (%s).",
               T->name, s, s == 1 ? "" : "s", T->order, T->source);
    cb_emit_step_open(sb);
    cb_sb_line(sb, "(void)settings;");
    cb_sb_line(sb, "(void)shared;");
    cb_sb_line(sb, "(void)persistent;");
    cb_sb_line(sb, "(void)shared_i;");
    cb_sb_line(sb, "(void)persistent_i;");
    cb_sb_line(sb, "(void)observables;");
    cb_sb_line(sb, "(void)error;");
    cb_sb_line(sb, "(void)first_step;");
    cb_sb_line(sb, "(void)accepted;");
    if ((st = cb_get_allocator(c->algo, "stage_rhs", false, sb, c->err)) ||
        (st = cb_get_allocator(c->algo, "stage_accumulator", false, sb,
                               c->err))) {
        return st;
    }
    cb_sb_line(sb, "(void)stage_accumulator;");
    /* Explicit steps do no Newton or Krylov iterations. */
    cb_sb_line(sb, "counters[0] = 0;");
    cb_sb_line(sb, "counters[1] = 0;");
    double d[CB_MAX_STAGES];
    for (int k = 0; k < s; k++) {
        d[k] = T->b_hat && c->n_error ? T->b[k] - T->b_hat[k] : 0.0;
    }
    char tgt[64], src[64];
    for (int k = 0; k < s; k++) {
        cb_sb_line(sb, "// stage %d", k);
        if (k == 0) {
            if (c->fsal) {
                /* Decided per run, never by a warp vote: the cached
                 * derivative and a recomputed one differ in rounding, so
                 * a vote would make a run depend on its neighbours. */
                cb_sb_line(sb, "// FSAL: the last stage of an accepted step "
                               "is this step's first.");
                cb_sb_line(sb, "if (first_step || !accepted) {");
                cb_sb_indent(sb);
            }
            cb_sb_line(sb, "cb_dxdt(state, parameters, drivers, stage_rhs, "
                           "t);");
            if (c->fsal) {
                cb_sb_dedent(sb);
                cb_sb_line(sb, "}");
            }
        } else {
            cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
            cb_sb_indent(sb);
            cb_sb_line(sb, "stage_accumulator[%d + i] = state[i] + dt * "
                           "stage_accumulator[%d + i];", (k - 1) * n,
                       (k - 1) * n);
            cb_sb_dedent(sb);
            cb_sb_line(sb, "}");
            cb_sb_printf(sb, "cb_dxdt(stage_accumulator + %d, parameters, "
                             "drivers, stage_rhs, t", (k - 1) * n);
            if (T->c[k] != 0.0) {
                cb_sb_puts(sb, " + ");
                real_lit(c, sb, T->c[k]);
                cb_sb_puts(sb, " * dt");
            }
            cb_sb_puts(sb, ");\n");
        }
        /* Does anything still need this stage's derivative? (The last
         * stage of an FSAL method only feeds the next step.) */
        bool used = k == 0 || (b_row < 0 && T->b[k] != 0.0) ||
                    (c->n_error && d[k] != 0.0);
        for (int j = k + 1; j < s; j++) {
            used = used || T->a[j * s + k] != 0.0;
        }
        if (!used) {
            continue;
        }
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_indent(sb);
        cb_sb_line(sb, "const real k_i = stage_rhs[i];");
        if (b_row < 0) {
            cb_emit_term(c, sb, "proposed_state[i]", k == 0, T->b[k], "k_i");
        }
        if (c->n_error) {
            cb_emit_term(c, sb, "error[i]", k == 0, d[k], "k_i");
        }
        for (int j = k + 1; j < s; j++) {
            snprintf(tgt, sizeof(tgt), "stage_accumulator[%d + i]",
                     (j - 1) * n);
            snprintf(src, sizeof(src), "k_i");
            cb_emit_term(c, sb, tgt, k == 0, T->a[j * s + k], src);
        }
        cb_sb_dedent(sb);
        cb_sb_line(sb, "}");
    }
    cb_sb_line(sb, "// solution%s", c->n_error ? " and error estimate" : "");
    cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_indent(sb);
    if (b_row >= 1) {
        /* b equals row b_row of A: that stage's state is the solution. */
        cb_sb_line(sb, "proposed_state[i] = stage_accumulator[%d + i];",
                   (b_row - 1) * n);
    } else if (b_row == 0) {
        cb_sb_line(sb, "proposed_state[i] = state[i];");
    } else {
        cb_sb_line(sb, "proposed_state[i] = state[i] + dt * "
                       "proposed_state[i];");
    }
    if (c->n_error) {
        cb_sb_line(sb, "error[i] = dt * error[i];");
    }
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    /* Observables are evaluated where they are saved (none yet). */
    {
        cb_sb_line(sb, "(void)proposed_drivers;");
        cb_sb_line(sb, "(void)proposed_observables;");
    }
    cb_sb_line(sb, "return 0;");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_puts(sb, "\n");
    return CUBIE_OK;
}

const char *const cb_controller_names[] = {"fixed", "i", "pi", "pid",
                                           "gustafsson", NULL};

/* The step controller (cubie-features.md §4): the error norm is the mean
 * square over states of err_i / (atol_i + rtol_i max(|y_new_i|, |y_i|)),
 * with |err_i| floored at 1e-16 and a non-finite norm read as 1e16; the
 * step is accepted when the norm is <= 1. Gains use exponents divided by
 * 2 (p + 1) because the norm is a square. A step the loop truncated to
 * land on a save time and that is accepted freezes dt and the history. */
static cubie_status emit_controller_fn(cb_ctx *c, cb_sb *sb)
{
    const int n = c->sys->n_states;
    cubie_status st;
#define LIT(v) cb_print_real((v), c->dbl, sb)
    cb_sb_line(sb, "// Step controller: %s.", cb_controller_names[c->ctrl]);
    cb_sb_line(sb, "CB_DEVFN int cb_controller(real *dt, "
                   "const real *proposed_state,");
    cb_sb_line(sb, "                           const real *state, "
                   "const real *error, int niters,");
    cb_sb_line(sb, "                           int truncated, int *accept_out,"
                   " const real *settings,");
    cb_sb_line(sb, "                           real *shared, real *persistent)");
    cb_sb_line(sb, "{");
    cb_sb_indent(sb);
    cb_sb_line(sb, "(void)shared;");
    cb_sb_line(sb, "(void)niters;");
    if ((st = cb_get_allocator(c->ctrl_owner, "timestep_buffer", false, sb,
                               c->err)) != CUBIE_OK) {
        return st;
    }
    cb_sb_line(sb, "(void)timestep_buffer;");
    cb_sb_line(sb, "real nrm2 = (real)0;");
    cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_indent(sb);
    cb_sb_line(sb, "real e = %s(error[i]);", c->dbl ? "fabs" : "fabsf");
    cb_sb_puts(sb, "e = e < ");
    LIT(1e-16);
    cb_sb_puts(sb, " ? ");
    LIT(1e-16);
    cb_sb_puts(sb, " : e; // a NaN stays NaN\n");
    cb_sb_line(sb, "const real scale = settings[CB_SET_ATOL + i] + "
                   "settings[CB_SET_RTOL + i] *");
    cb_sb_line(sb, "    %s(%s(proposed_state[i]), %s(state[i]));",
               c->dbl ? "fmax" : "fmaxf", c->dbl ? "fabs" : "fabsf",
               c->dbl ? "fabs" : "fabsf");
    cb_sb_line(sb, "const real r = e / scale;");
    cb_sb_line(sb, "nrm2 += r * r;");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_puts(sb, "nrm2 = nrm2 * ");
    LIT(1.0 / n);
    cb_sb_puts(sb, ";\n");
    cb_sb_puts(sb, "if (!cb_finite(nrm2)) {\n");
    cb_sb_puts(sb, "    nrm2 = ");
    LIT(1e16);
    cb_sb_puts(sb, ";\n}\n");
    cb_sb_line(sb, "const int accept = nrm2 <= (real)1;");
    cb_sb_line(sb, "const real safety = settings[CB_SET_SAFETY];");
    cb_sb_puts(sb, "const real expo = ");
    LIT(-1.0 / (2.0 * (c->order + 1)));
    cb_sb_puts(sb, "; // -1 / (2 (p + 1))\n");
    /* Powers as exp(expo * log(.)): one log per norm instead of a pow
     * each (pow is several times dearer than exp or log). */
    const char *ex = c->dbl ? "exp" : "expf";
    const char *lg = c->dbl ? "log" : "logf";
    const char *mn = c->dbl ? "fmin" : "fminf";
    const char *mx = c->dbl ? "fmax" : "fmaxf";
    switch (c->ctrl) {
    case CB_CTRL_I:
        cb_sb_line(sb, "real gain = safety * %s(expo * %s(nrm2));", ex, lg);
        break;
    case CB_CTRL_PI:
        cb_sb_line(sb, "const real prev = timestep_buffer[0] > (real)0 ? "
                       "timestep_buffer[0] : nrm2;");
        cb_sb_line(sb, "real gain = safety * %s(expo * (settings[CB_SET_KP] * "
                       "%s(nrm2) +", ex, lg);
        cb_sb_line(sb, "                                 settings[CB_SET_KI] * "
                   "%s(prev)));", lg);
        break;
    case CB_CTRL_PID:
        cb_sb_line(sb, "const real prev = timestep_buffer[0] > (real)0 ? "
                       "timestep_buffer[0] : nrm2;");
        cb_sb_line(sb, "const real prev2 = timestep_buffer[1] > (real)0 ? "
                       "timestep_buffer[1] : prev;");
        cb_sb_line(sb, "real gain = safety * %s(expo * (settings[CB_SET_KP] * "
                       "%s(nrm2) +", ex, lg);
        cb_sb_line(sb, "                                 settings[CB_SET_KI] * "
                   "%s(prev) +", lg);
        cb_sb_line(sb, "                                 settings[CB_SET_KD] * "
                   "%s(prev2)));", lg);
        break;
    case CB_CTRL_GUSTAFSSON:
        /* timestep_buffer: [0] previous accepted dt, [1] its norm. */
        cb_sb_line(sb, "const real two_n = (real)2 * "
                       "settings[CB_SET_NEWTON_TARGET_ITERS];");
        cb_sb_line(sb, "const real fac = %s(safety, safety * ((real)1 + "
                       "two_n) /", mn);
        cb_sb_line(sb, "                          ((real)niters + two_n));");
        cb_sb_line(sb, "real gain = fac * %s(expo * %s(nrm2));", ex, lg);
        cb_sb_line(sb, "if (accept && timestep_buffer[0] > (real)0) {");
        cb_sb_line(sb, "    const real gus = safety * (dt[0] / "
                       "timestep_buffer[0]) *");
        cb_sb_line(sb, "        %s(expo * %s(nrm2 * nrm2 / timestep_buffer[1]));",
                   ex, lg);
        cb_sb_line(sb, "    gain = %s(gus, gain);", mn);
        cb_sb_line(sb, "}");
        break;
    case CB_CTRL_FIXED:
        cb_sb_line(sb, "real gain = (real)1;");
        break;
    }
    cb_sb_line(sb, "gain = %s(%s(gain, settings[CB_SET_MIN_GAIN]), "
                   "settings[CB_SET_MAX_GAIN]);", mn, mx);
    cb_sb_line(sb, "if (gain >= settings[CB_SET_DEADBAND_MIN] && "
                   "gain <= settings[CB_SET_DEADBAND_MAX]) {");
    cb_sb_line(sb, "    gain = (real)1;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "if (!accept) {");
    cb_sb_line(sb, "    gain = %s(gain, safety);", mn);
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "*accept_out = accept;");
    cb_sb_line(sb, "if (accept && truncated) {");
    cb_sb_line(sb, "    return 0; // landed on a save time: dt and history "
                   "frozen");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "const real dt_new = dt[0] * gain;");
    /* Only a controller that wants to shrink below dt_min has failed:
     * staying at dt_min (gain 1) is not a failure. */
    cb_sb_line(sb, "const int status = gain < (real)1 && dt_new <= "
                   "settings[CB_SET_DT_MIN] ? CB_RUN_STEP_TOO_SMALL : 0;");
    switch (c->ctrl) {
    case CB_CTRL_PI:
        cb_sb_line(sb, "if (accept) {");
        cb_sb_line(sb, "    timestep_buffer[0] = nrm2;");
        cb_sb_line(sb, "}");
        break;
    case CB_CTRL_PID:
        cb_sb_line(sb, "if (accept) {");
        cb_sb_line(sb, "    timestep_buffer[1] = timestep_buffer[0] > (real)0 "
                       "? timestep_buffer[0] : nrm2;");
        cb_sb_line(sb, "    timestep_buffer[0] = nrm2;");
        cb_sb_line(sb, "}");
        break;
    case CB_CTRL_GUSTAFSSON:
        cb_sb_line(sb, "if (accept) {");
        cb_sb_line(sb, "    timestep_buffer[0] = dt[0];");
        cb_sb_line(sb, "    timestep_buffer[1] = nrm2;");
        cb_sb_line(sb, "}");
        break;
    default:
        break;
    }
    cb_sb_line(sb, "dt[0] = %s(%s(dt_new, settings[CB_SET_DT_MIN]), "
                   "settings[CB_SET_DT_MAX]);", mn, mx);
    cb_sb_line(sb, "return status;");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_puts(sb, "\n");
#undef LIT
    return CUBIE_OK;
}

static const char *const loop_buffers[] = {
    "state", "proposed_state", "parameters", "drivers", "proposed_drivers",
    "observables", "proposed_observables", "error", "counters",
    "state_summary", "observable_summary", "dt", "accept_step",
    "proposed_counters", "algorithm_shared", "algorithm_persistent",
    "algorithm_shared_i", "algorithm_persistent_i", "controller_shared",
    "controller_persistent", "controller_shared_i",
    "controller_persistent_i", NULL};

/* Text for one loop marker. */
static cubie_status emit_marker(cb_ctx *c, const char *marker, cb_sb *sb)
{
    const struct cubie_system *s = c->sys;
    if (strcmp(marker, "LOOP_BUFFERS") == 0) {
        for (int i = 0; loop_buffers[i]; i++) {
            /* Roll-ups are pool slices: nothing to zero. */
            bool zero = strncmp(loop_buffers[i], "algorithm_", 10) != 0 &&
                        strncmp(loop_buffers[i], "controller_", 11) != 0;
            cubie_status st =
                cb_get_allocator(c->loop, loop_buffers[i], zero, sb, c->err);
            if (st != CUBIE_OK) {
                return st;
            }
        }
        cb_sb_line(sb, "(void)controller_shared;");
        cb_sb_line(sb, "(void)controller_persistent;");
        cb_sb_line(sb, "(void)controller_shared_i;");
        cb_sb_line(sb, "(void)controller_persistent_i;");
        cb_sb_line(sb, "(void)counters;");
        cb_sb_line(sb, "(void)state_summary;");
        cb_sb_line(sb, "(void)observable_summary;");
    } else if (strcmp(marker, "LOOP_INIT") == 0) {
        cb_sb_line(sb, "dt[0] = settings[CB_SET_DT];");
        cb_sb_line(sb, "accept_step[0] = 1;");
    } else if (strcmp(marker, "LOOP_CONTROL") == 0) {
        if (c->save_counters) {
            /* Newton and Krylov iterations, attempts, rejections. */
            cb_sb_line(sb, "counters[0] += proposed_counters[0];");
            cb_sb_line(sb, "counters[1] += proposed_counters[1];");
            cb_sb_line(sb, "counters[2] += 1;");
        }
        if (c->ctrl == CB_CTRL_FIXED) {
            /* Every step is accepted; a failing step ends the run
             * (there is no smaller step to retry with). */
            cb_sb_line(sb, "accept_step[0] = 1;");
            cb_sb_line(sb, "if (step_status != 0) {");
            cb_sb_line(sb, "    status |= step_status;");
            cb_sb_line(sb, "    break;");
            cb_sb_line(sb, "}");
        } else {
            /* A failed step forces a rejection; a non-finite proposal
             * is remembered, and all of it is committed only if the run
             * cannot recover. */
            cb_sb_line(sb, "int proposal_finite = 1;");
            cb_sb_line(sb, "for (int i = 0; i < CB_N_STATES; ++i) {");
            cb_sb_line(sb, "    proposal_finite = proposal_finite && "
                           "cb_finite(proposed_state[i]);");
            cb_sb_line(sb, "    if (step_status != 0) {");
            cb_sb_puts(sb, "        error[i] = ");
            cb_print_real(1e16, c->dbl, sb);
            cb_sb_puts(sb, ";\n");
            cb_sb_line(sb, "    }");
            cb_sb_line(sb, "}");
            cb_sb_line(sb, "const int truncated = do_save && dt_eff != dt[0];");
            cb_sb_line(sb, "const int ctrl_status = cb_controller(dt, "
                           "proposed_state, state, error,");
            cb_sb_line(sb, "    proposed_counters[0], truncated, accept_step, "
                           "settings,");
            cb_sb_line(sb, "    controller_shared, controller_persistent);");
            cb_sb_line(sb, "transient |= step_status | ctrl_status |");
            cb_sb_line(sb, "             (proposal_finite ? 0 : "
                           "CB_RUN_NONFINITE_STATE);");
            if (c->save_counters) {
                cb_sb_line(sb, "counters[3] += !accept_step[0];");
            }
            cb_sb_line(sb, "if (ctrl_status & CB_RUN_STEP_TOO_SMALL) {");
            cb_sb_line(sb, "    status |= transient;");
            cb_sb_line(sb, "    break;");
            cb_sb_line(sb, "}");
        }
    } else if (strcmp(marker, "LOOP_SAVE") == 0) {
        const char *t = "cb_time_real(t)";
        if (c->save_obs) {
            cb_sb_line(sb, "cb_observables(state, parameters, drivers, "
                           "observables, %s);", t);
        }
        if (c->save_state) {
            cb_sb_line(sb, "for (int i = 0; i < CB_N_STATES; ++i) {");
            cb_sb_line(sb, "    state_out[((long long)save_idx * CB_N_SAVED + "
                           "i) * n_runs + run] = state[i];");
            cb_sb_line(sb, "}");
        }
        if (c->save_time) {
            cb_sb_line(sb, "state_out[((long long)save_idx * CB_N_SAVED + %d) "
                           "* n_runs + run] = %s;",
                       c->save_state ? s->n_states : 0, t);
        }
        if (c->save_obs) {
            cb_sb_line(sb, "for (int i = 0; i < CB_N_OBS; ++i) {");
            cb_sb_line(sb, "    obs_out[((long long)save_idx * CB_N_OBS + i) * "
                           "n_runs + run] = observables[i];");
            cb_sb_line(sb, "}");
        }
        if (c->save_counters) {
            cb_sb_line(sb, "for (int i = 0; i < 4; ++i) {");
            cb_sb_line(sb, "    counters_out[((long long)save_idx * 4 + i) * "
                           "n_runs + run] = counters[i];");
            cb_sb_line(sb, "    counters[i] = 0;");
            cb_sb_line(sb, "}");
        }
    } else {
        return cb_fail(c->err, CUBIE_E_CODEGEN, NULL, 0,
                       "template marker @%s@ has no emitter", marker);
    }
    return CUBIE_OK;
}

/* Copy a template, replacing each comment marker `/ * @NAME@ * /` by the
 * emitted text, indented like the marker. */
static cubie_status expand_template(cb_ctx *c, const char *name, cb_sb *sb)
{
    const char *p = cb_template(name);
    if (p == NULL) {
        return cb_fail(c->err, CUBIE_E_CODEGEN, NULL, 0,
                       "template %s is not embedded", name);
    }
    while (*p) {
        const char *m = strstr(p, "/* @");
        if (m == NULL) {
            cb_sb_puts(sb, p);
            break;
        }
        const char *line = m;
        while (line > p && line[-1] == ' ') {
            line--;
        }
        cb_sb_putn(sb, p, (size_t)(line - p));
        const char *end = strstr(m + 4, "@ */");
        if (end == NULL) {
            return cb_fail(c->err, CUBIE_E_CODEGEN, NULL, 0,
                           "unterminated marker in template %s", name);
        }
        char marker[64];
        snprintf(marker, sizeof(marker), "%.*s", (int)(end - (m + 4)), m + 4);
        int levels = (int)(m - line) / 4;
        int saved = sb->indent;
        sb->indent = saved + levels;
        cubie_status st = emit_marker(c, marker, sb);
        sb->indent = saved;
        if (st != CUBIE_OK) {
            return st;
        }
        p = end + 4;
        if (*p == '\n') {
            p++;
        }
    }
    return CUBIE_OK;
}

/* Status bits and settings offsets: what every emitted function may use. */
static void emit_common_defines(const cb_ctx *c, cb_sb *sb)
{
    cb_sb_line(sb, "// Run status bits (cubie.h).");
#define CUBIE_X(name, value, msg) \
    cb_sb_line(sb, "#define CB_%s %d", #name + 6, value);
    CUBIE_RUN_STATUS_LIST(CUBIE_X)
#undef CUBIE_X
    cb_sb_line(sb, "// Offsets into the settings argument (gen/settings.def).");
#define CB_SET(id, slots) cb_sb_line(sb, "#define CB_SET_%s %d", #id, CB_SET_##id);
#include "settings.def"
#undef CB_SET
    cb_sb_line(sb, "#define CB_SET_ATOL %d", CB_SET_FIXED_COUNT);
    static const char *const arrays[] = {"ATOL", "RTOL", "NEWTON_ATOL",
                                         "NEWTON_RTOL", "KRYLOV_ATOL",
                                         "KRYLOV_RTOL"};
    for (int i = 1; i < 6; i++) {
        cb_sb_line(sb, "#define CB_SET_%s %d", arrays[i],
                   CB_SET_FIXED_COUNT + i * c->sys->n_states);
    }
}

static size_t odd_stride(size_t n)
{
    /* An odd stride puts neighbouring runs in different banks. */
    return n == 0 ? 0 : (n % 2 == 0 ? n + 1 : n);
}

static cubie_status kernel_emit(cb_ctx *c, cb_sb *sb)
{
    const struct cubie_system *s = c->sys;
    const cb_sizes *z = &c->loop_sizes;
    cubie_status st;
    cb_sb_line(sb, "// Generated by cubie %d.%d.%d. Do not edit: regenerate.",
               CUBIE_VERSION_MAJOR, CUBIE_VERSION_MINOR, CUBIE_VERSION_PATCH);
    cb_sb_line(sb, "// system %s: %d states, %d parameters, %d observables",
               s->name, s->n_states, s->n_params, s->n_obs);
    cb_sb_line(sb, "// algorithm %s, step_controller %s, precision %s",
               c->method, cb_controller_names[c->ctrl],
               c->dbl ? "float64" : "float32");
    cb_sb_line(sb, "#define CB_F32 %d", c->dbl ? 0 : 1);
    cb_sb_puts(sb, cb_template("prelude.cu"));
    cb_sb_puts(sb, "\n");
    cb_sb_line(sb, "// Sizes.");
    cb_sb_line(sb, "#define CB_N_STATES %d", s->n_states);
    cb_sb_line(sb, "#define CB_N_PARAMS %d", s->n_params);
    cb_sb_line(sb, "#define CB_N_OBS %d", s->n_obs);
    cb_sb_line(sb, "#define CB_N_SAVED %d // saved columns: states%s",
               c->n_saved, c->save_time ? ", then t" : "");
    emit_common_defines(c, sb);
    cb_sb_line(sb, "// Fixed steps well before a save run as a counted burst.");
    cb_sb_line(sb, "#define CB_FIXED_BURST %d",
               c->ctrl == CB_CTRL_FIXED && !c->save_counters);
    cb_sb_line(sb, "// A step within this factor of a save time lands on it.");
    cb_sb_line(sb, "#define CB_EVENT_STRETCH %s",
               c->dbl ? "1.000000001" : "1.00000095367431640625f");
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
    cb_sb_puts(sb, "\n");
    if ((st = emit_system(c, sb)) != CUBIE_OK ||
        (st = (c->family == CB_FAM_ERK ? emit_erk(c, sb)
                                       : cb_implicit_emit(c, sb))) !=
            CUBIE_OK ||
        (c->ctrl != CB_CTRL_FIXED &&
         (st = emit_controller_fn(c, sb)) != CUBIE_OK) ||
        (st = expand_template(c, "loop.cu", sb)) != CUBIE_OK) {
        return st;
    }
    cb_sb_puts(sb, "\n");
    cb_sb_puts(sb, cb_template("entry.cu"));
    return CUBIE_OK;
}

cubie_status cb_generate(const struct cubie_system *sys,
                         const struct cubie_options *opt, cb_generated *out,
                         cubie_error *err)
{
    memset(out, 0, sizeof(*out));
    cb_ctx c = {.sys = sys, .opt = opt, .err = err};
    cb_sb src, layout;
    cb_sb_init(&src);
    cb_sb_init(&layout);
    cubie_status st = stack_resolve(&c);
    if (st == CUBIE_OK) {
        st = register_buffers(&c);
    }
    if (st == CUBIE_OK) {
        st = layout_assign(&c, &layout);
    }
    if (st == CUBIE_OK) {
        st = kernel_emit(&c, &src);
    }
    if (st == CUBIE_OK && (src.failed || layout.failed)) {
        st = cb_fail_nomem(err);
    }
    if (st == CUBIE_OK) {
        cb_kernel_info *k = &out->info;
        k->is_double = c.dbl;
        k->n_states = sys->n_states;
        k->n_params = sys->n_params;
        k->n_obs = sys->n_obs;
        k->n_settings = CB_SET_FIXED_COUNT + 6 * sys->n_states;
        k->implicit = c.family != CB_FAM_ERK;
        k->method = c.method;
        k->order = c.order;
        k->tableau = c.tab;
        k->controller = c.ctrl;
        k->save_state = c.save_state;
        k->save_obs = c.save_obs;
        k->save_time = c.save_time;
        k->save_counters = c.save_counters;
        k->n_saved = c.n_saved;
        k->shared_stride = odd_stride(c.loop_sizes.shared);
        k->shared_i_stride = odd_stride(c.loop_sizes.shared_int);
        k->persistent = c.loop_sizes.persistent;
        k->persistent_i = c.loop_sizes.persistent_int;
        k->local = c.loop_sizes.local;
        k->local_i = c.loop_sizes.local_int;
        out->source = cb_sb_take(&src);
        out->layout = cb_sb_take(&layout);
        if (out->source == NULL || out->layout == NULL) {
            cb_generated_free(out);
            st = cb_fail_nomem(err);
        }
    }
    cb_sb_free(&src);
    cb_sb_free(&layout);
    cb_registry_free(c.reg);
    return st;
}

void cb_generated_free(cb_generated *g)
{
    free(g->source);
    free(g->layout);
    g->source = NULL;
    g->layout = NULL;
}

cubie_status cb_controller_unit(cb_controller kind, int order, bool dbl,
                                int n, char **out, cubie_error *err)
{
    struct cubie_system fake;
    memset(&fake, 0, sizeof(fake));
    fake.n_states = n;
    cb_ctx c = {.sys = &fake, .dbl = dbl, .ctrl = kind, .order = order,
                .err = err};
    static const size_t history[] = {0, 0, 1, 2, 2};
    cb_sb sb;
    cb_sb_init(&sb);
    *out = NULL;
    c.reg = cb_registry_new();
    if (c.reg == NULL) {
        return cb_fail_nomem(err);
    }
    const cb_prec p = dbl ? CB_PREC_F64 : CB_PREC_F32;
    cubie_status st =
        cb_registry_owner(c.reg, "controller", p, &c.ctrl_owner, err);
    if (st == CUBIE_OK) {
        st = cb_register(c.ctrl_owner, "timestep_buffer", history[kind],
                         CB_LOC_LOCAL, true, NULL, p, err);
    }
    if (st == CUBIE_OK) {
        cb_sb_line(&sb, "#define CB_F32 %d", dbl ? 0 : 1);
        cb_sb_puts(&sb, cb_template("prelude.cu"));
        emit_common_defines(&c, &sb);
        st = emit_controller_fn(&c, &sb);
    }
    if (st == CUBIE_OK) {
        *out = cb_sb_take(&sb);
        st = *out ? CUBIE_OK : cb_fail_nomem(err);
    }
    cb_sb_free(&sb);
    cb_registry_free(c.reg);
    return st;
}
