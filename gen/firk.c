/* The FIRK step: all stage increments U_i = h k_i solved together as one
 * coupled system of s n unknowns, Y_i = y + sum_j a_ij U_j; the solution
 * y + sum b_i U_i (compensated summation, as the original). The error:
 * RADAU5's filtered estimate where the tableau has one (radau_iia_5,
 * emit_filter), else sum (b_i - b_hat_i) U_i. The increments stay for the
 * next step's first guess. */
#include <math.h>

#include "rk.h"

/* Whether the step filters its error estimate (an adaptive step of a
 * tableau with RADAU5's filter). */
static bool filters(const cb_ctx *c)
{
    return c->n_error > 0 && c->tab->filter != NULL;
}

/* The real eigenvalue of A equal to the filter's gamma (RADAU5: 1 /
 * 3.6378), when the coupled solve is the transformed one: that block's
 * matrix is the filter's, at the same J, so the filter solves with its
 * factors instead of building and factoring its own. */
static int filter_block(const cb_ctx *c)
{
    const cb_eig *e = &c->nk.eig;
    const double g = c->tab->filter[0];
    for (int k = 0; c->nk.lu_eig && k < e->blocks; k++) {
        if (!e->pair[k] && fabs(e->lam_re[k] - g) <= 1e-12 * fabs(g)) {
            return k;
        }
    }
    return -1;
}

static cubie_status firk_resolve(cb_ctx *c)
{
    cb_nk_setup(c, "firk_", c->tab->stages, c->tab->a, c->tab->c);
    if (filters(c)) {
        c->nk.filter_block = filter_block(c);
        if (c->nk.filter_block < 0) {
            cb_nk_step_setup(c, "filter_");
        }
    }
    return cb_comp_newton.resolve(c);
}

static cubie_status firk_register(cb_ctx *c)
{
    const size_t n = (size_t)c->sys->n_states;
    const int s = c->tab->stages;
    CB_TRY(cb_nk_register_solver(c));
    /* All stage increments, kept as the next step's first guess. */
    CB_TRY(cb_register(c->algo, "stage_increment", (size_t)s * n,
                       CB_LOC_LOCAL, true, NULL, c->prec, c->err));
    CB_TRY(cb_buffer_rows(c->algo, "stage_increment", (size_t)s, n, "u_%d",
                          0, c->err));
    /* The filter's right side r and its solution e. */
    const size_t f = filters(c) ? n : 0;
    CB_TRY(cb_register(c->algo, "filter_rhs", f, CB_LOC_LOCAL, false, NULL,
                       c->prec, c->err));
    return cb_register(c->algo, "filter_solution", f, CB_LOC_LOCAL, false,
                       NULL, c->prec, c->err);
}

/* RADAU5's error estimate (implicit_tableaus.c, radau5_filter):
 * r = g (h f(t, y) + sum_j e_j U_j), then e = (I - h g J(y))^-1 r: with
 * the factors of the transformed solve's block for the eigenvalue g
 * (cb_nk.filter_block), else by the step's own n-unknown linear problem
 * (cb_ctx.step_nk, "filter_"), from the guess r. The solve's status is
 * not the step's: where it failed (its iteration cap, a breakdown) the
 * error is the unfiltered r, larger for stiff components, so the step is
 * judged more strictly, never less. */
static void emit_filter(cb_ctx *c, cb_sb *b, const char *const *rows)
{
    const int s = c->tab->stages, n = c->sys->n_states;
    const double *g = c->tab->filter, *e = g + 1;
    char l[48];
    cb_sb_line(b, "// RADAU5's error estimate, filtered: (I - h g J) e = r "
                  "(firk.c)");
    cb_rhs_call(c, b, CB_RHS_DXDT, "state", NULL, "filter_solution", "t",
                false);
    cb_sb_line(b, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_indent(b);
    cb_sb_puts(b, "filter_rhs[i] = ");
    cb_lit(c, g[0], l);
    cb_sb_printf(b, "%s * (dt * filter_solution[i]", l);
    for (int j = 0; j < s; j++) {
        cb_lit(c, e[j], l);
        cb_sb_printf(b, " + %s * %s[i]", l, rows[j]);
    }
    cb_sb_puts(b, ");\n");
    cb_sb_line(b, "filter_solution[i] = filter_rhs[i];");
    cb_sb_dedent(b);
    cb_sb_line(b, "}");
    cb_sb_line(b, "int filter_iters = 0;");
    if (c->nk.filter_block >= 0) {
        cb_sb_line(b, "// the factors of the step's block for lambda = g");
        cb_nk_emit_block_solve_call(c, b, "const int filter_status = ",
                                    "filter_rhs", "filter_solution",
                                    "&filter_iters");
    } else {
        cb_lit(c, g[0], l);
        cb_sb_line(b, "p.a = %s;", l);
        cb_nk_step_factor_call(c, b, "state", "t");
        cb_nk_step_linsolve_call(c, b, "const int filter_status = ",
                                 "state", "filter_rhs", "filter_solution",
                                 "&filter_iters");
    }
    cb_sb_line(b, "counters[%d] += filter_iters;", CB_COUNTER_KRYLOV);
    cb_sb_line(b, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_line(b, "    error[i] = filter_status == 0 ? filter_solution[i] "
                  ": filter_rhs[i];");
    cb_sb_line(b, "}");
}

static cubie_status firk_emit(cb_ctx *c, cb_sb *sb)
{
    const cb_rk_tableau *T = c->tab;
    const int s = T->stages, n = c->sys->n_states;
    const char *rows[CB_MAX_STAGES];
    double d[CB_MAX_STAGES];
    char l[48];
    CB_TRY(cb_nk_emit_solver(c, sb, false));
    if (filters(c)) {
        CB_TRY(cb_nk_step_emit(c, sb));
    }
    cb_rk_rows(c, "stage_increment", 0, s, rows);
    cb_rk_error_weights(c, d);
    cb_sb b;
    cb_sb_init(&b);
    b.indent = 1;
    cb_nk_emit_setup(c, &b);
    cb_sb_line(&b, "p.base = state;");
    cb_sb_line(&b, "p.a = (real)1;");
    cb_nk_emit_time(c, &b, "t");
    cb_nk_emit_factor_call(c, &b, "state", "t");
    cb_sb_line(&b, "// the previous step's increments are the first guess");
    cb_nk_emit_newton_call(c, &b, "stage_increment");
    cb_sb_line(&b, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_indent(&b);
    /* Compensated (Kahan) summation of y + sum b_k U_k, as the original:
     * the increments are small against y. */
    cb_sb_line(&b, "real sum = state[i], comp = (real)0;");
    for (int k = 0; k < s; k++) {
        if (T->b[k] != 0.0) {
            cb_lit(c, T->b[k], l);
            cb_sb_line(&b, "{");
            cb_sb_line(&b, "    const real y_k = %s * %s[i] - comp;", l,
                       rows[k]);
            cb_sb_line(&b, "    const real t_k = sum + y_k;");
            cb_sb_line(&b, "    comp = (t_k - sum) - y_k;");
            cb_sb_line(&b, "    sum = t_k;");
            cb_sb_line(&b, "}");
        }
    }
    cb_sb_line(&b, "proposed_state[i] = sum;");
    if (c->n_error && !filters(c)) {
        cb_rk_weighted_sum(c, &b, "error[i] = (real)0", d, s, rows);
    }
    cb_sb_dedent(&b);
    cb_sb_line(&b, "}");
    if (filters(c)) {
        emit_filter(c, &b, rows);
    }
    cb_sb_line(&b, "return status;");
    cb_sb_line(sb, "// Algorithm step: %s, %d coupled stages, order %d (%s).",
               c->method->name, s, c->method->order, T->source);
    return cb_define_step(c, &b, sb);
}

const cb_component cb_comp_firk = {
    .name = "firk",
    .resolve = firk_resolve,
    .register_buffers = firk_register,
    .emit = firk_emit,
};
