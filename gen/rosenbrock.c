/* The Rosenbrock-W step in the increment form of tableaus.h: one linear
 * solve per stage with the operator I - gamma h J(y_n), J frozen over the
 * step (the Krylov solver of gen/krylov.c, no Newton iteration). */
#include <stdio.h>

#include "rk.h"

static cubie_status ros_register(cb_ctx *c)
{
    const size_t n = (size_t)c->sys->n_states;
    const int s = c->tab->stages;
    cb_owner *A = c->algo;
    CB_TRY(cb_nk_register_solver(c));
    CB_TRY(cb_register(A, "stage_store", (size_t)s * n, CB_LOC_LOCAL, false,
                       NULL, c->prec, c->err));
    CB_TRY(cb_buffer_rows(A, "stage_store", (size_t)s, n, "u_%d", 0,
                          c->err));
    CB_TRY(cb_register(A, "stage_state", n, CB_LOC_LOCAL, false, NULL,
                       c->prec, c->err));
    CB_TRY(cb_register(A, "stage_rhs", n, CB_LOC_LOCAL, false, NULL, c->prec,
                       c->err));
    CB_TRY(cb_register(A, "time_derivative",
                       cb_rk_uses_time_derivative(c->tab) ? n : 0,
                       CB_LOC_LOCAL, false, NULL, c->prec, c->err));
    /* Last step's first increment: the first Krylov guess. */
    CB_TRY(cb_register(A, "stage_increment", n, CB_LOC_LOCAL, true,
                       "stage_store", c->prec, c->err));
    return CUBIE_OK;
}

/* Stage k: its state and time, its right-hand side gamma h (f + sum_j
 * C_kj / h u_j + gamma_k h f_t), its linear solve for u_k. */
static void emit_stage(cb_ctx *c, cb_sb *b, int k, const char *const *u)
{
    const cb_rk_tableau *T = c->tab;
    const int s = T->stages, n = c->sys->n_states;
    char l[48], t[96], iters[32];
    cb_sb_line(b, "// stage %d", k);
    cb_sb_line(b, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_indent(b);
    cb_rk_weighted_sum(c, b, "stage_state[i] = state[i]", T->a + k * s, k,
                       u);
    cb_sb_dedent(b);
    cb_sb_line(b, "}");
    cb_lit(c, T->c[k], l);
    snprintf(t, sizeof(t), "t + %s * dt", l);
    cb_rhs_call(c, b, CB_RHS_DXDT, "stage_state", NULL, "stage_rhs", t,
                false);
    cb_sb_line(b, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_indent(b);
    cb_sb_puts(b, "real r = stage_rhs[i]");
    for (int j = 0; j < k; j++) {
        double cc = T->C[k * s + j];
        if (cc != 0.0) {
            cb_lit(c, cc, l);
            cb_sb_printf(b, " + %s / dt * %s[i]", l, u[j]);
        }
    }
    if (T->gamma_stages[k] != 0.0) {
        cb_lit(c, T->gamma_stages[k], l);
        cb_sb_printf(b, " + %s * dt * time_derivative[i]", l);
    }
    cb_sb_puts(b, ";\n");
    cb_sb_line(b, "stage_rhs[i] = gh * r;");
    /* First guess: last step's first increment, else the previous
     * stage's. */
    if (k == 0) {
        cb_sb_line(b, "%s[i] = stage_increment[i];", u[0]);
    } else {
        cb_sb_line(b, "%s[i] = %s[i];", u[k], u[k - 1]);
    }
    cb_sb_dedent(b);
    cb_sb_line(b, "}");
    snprintf(iters, sizeof(iters), "&lin_iters");
    cb_nk_emit_linsolve_call(c, b, "status |= ", "state", "stage_rhs", u[k],
                             iters);
    cb_sb_line(b, "counters[1] += lin_iters;");
}

static cubie_status ros_emit(cb_ctx *c, cb_sb *sb)
{
    const cb_rk_tableau *T = c->tab;
    const int s = T->stages, n = c->sys->n_states;
    const char *u[CB_MAX_STAGES];
    double d[CB_MAX_STAGES];
    char l[48];
    CB_TRY(cb_nk_emit_solver(c, sb, cb_rk_uses_time_derivative(T)));
    cb_rk_rows(c, "stage_store", 0, s, u);
    cb_rk_error_weights(c, d);
    cb_sb b;
    cb_sb_init(&b);
    b.indent = 1;
    cb_nk_emit_setup(c, &b);
    cb_sb_line(&b, "int lin_iters = 0;");
    cb_lit(c, T->gamma, l);
    cb_sb_line(&b, "p.base = state;");
    cb_sb_line(&b, "p.a = %s; // the operator I - gamma h J(y_n)", l);
    cb_nk_emit_time(c, &b, "t");
    if (cb_rk_uses_time_derivative(T)) {
        cb_rhs_call(c, &b, CB_RHS_DFDT, "state", NULL, "time_derivative",
                    "t", false);
    }
    cb_sb_line(&b, "const real gh = %s * dt;", l);
    cb_nk_emit_factor_call(c, &b, "state", "t");
    for (int k = 0; k < s; k++) {
        emit_stage(c, &b, k, u);
    }
    cb_sb_line(&b, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_indent(&b);
    cb_rk_weighted_sum(c, &b, "proposed_state[i] = state[i]", T->b, s,
                       u);
    if (c->n_error) {
        cb_rk_weighted_sum(c, &b, "error[i] = (real)0", d, s, u);
    }
    cb_sb_line(&b, "stage_increment[i] = %s[i];", u[0]);
    cb_sb_dedent(&b);
    cb_sb_line(&b, "}");
    cb_sb_line(&b, "return status;");
    cb_sb_line(sb, "// Algorithm step: %s, %d stages, order %d (%s).",
               c->method->name, s, c->method->order, T->source);
    return cb_define_step(c, &b, sb);
}

const cb_component cb_comp_rosenbrock = {
    .name = "rosenbrock",
    .resolve = cb_nk_resolve_one_stage,
    .register_buffers = ros_register,
    .emit = ros_emit,
};
