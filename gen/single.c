/* The single-solve implicit steps: backward Euler (plain, and with an
 * explicit Euler predictor) and Crank-Nicolson, each a family of its own
 * in the original. Every implicit stage is solved for its increment
 * u = h k, so a stiff stage's derivative is u / h, never f(Y) evaluated
 * again (that would amplify the Newton error by the stiffness). */
#include "ctx.h"

static cubie_status single_register(cb_ctx *c)
{
    const size_t n = (size_t)c->sys->n_states;
    cb_owner *A = c->algo;
    CB_TRY(cb_nk_register_solver(c));
    /* The unknown of the solve, and the last solve's increment: the next
     * solve's first guess (a warm start). */
    CB_TRY(cb_register(A, "stage_increment", n, CB_LOC_LOCAL, false, NULL,
                       c->prec, c->err));
    CB_TRY(cb_register(A, "increment_cache", n, CB_LOC_LOCAL, true, NULL,
                       c->prec, c->err));
    if (c->method->family == CB_FAM_CN) {
        /* f(y_n) is needed only to form the base: it may share the
         * solver's scratch, which is idle until the solve starts. */
        CB_TRY(cb_register(A, "cn_base", n, CB_LOC_LOCAL, false, NULL,
                           c->prec, c->err));
        CB_TRY(cb_register(A, "cn_dxdt", n, CB_LOC_LOCAL, false,
                           "solver_shared", c->prec, c->err));
        CB_TRY(cb_register(A, "be_increment", n, CB_LOC_LOCAL, false, NULL,
                           c->prec, c->err));
    }
    return CUBIE_OK;
}

/* Crank-Nicolson: base = y + h/2 f(y), Y = base + u/2, u = h f(Y); then
 * backward Euler from y_n for the error estimate. */
static void emit_cn(cb_ctx *c, cb_sb *b)
{
    const int n = c->sys->n_states;
    char half[48];
    cb_lit(c, 0.5, half);
    cb_rhs_call(c, b, CB_RHS_DXDT, "state", NULL, "cn_dxdt", "t", false);
    cb_sb_line(b, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_line(b, "    cn_base[i] = state[i] + %s * dt * cn_dxdt[i];", half);
    cb_sb_line(b, "    stage_increment[i] = increment_cache[i];");
    cb_sb_line(b, "}");
    cb_sb_line(b, "p.base = cn_base;");
    cb_sb_line(b, "p.a = %s;", half);
    cb_nk_emit_factor_call(c, b, "state", "t + dt");
    cb_nk_emit_newton_call(c, b, "stage_increment");
    cb_sb_line(b, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_line(b, "    proposed_state[i] = cn_base[i] + %s * "
                  "stage_increment[i];", half);
    cb_sb_line(b, "    be_increment[i] = proposed_state[i] - state[i];");
    cb_sb_line(b, "}");
    cb_sb_line(b, "p.base = state;");
    cb_sb_line(b, "p.a = (real)1;");
    cb_nk_emit_factor_call(c, b, "state", "t + dt");
    cb_nk_emit_newton_call(c, b, "be_increment");
    cb_sb_line(b, "for (int i = 0; i < %d; ++i) {", n);
    if (c->n_error) {
        cb_sb_line(b, "    error[i] = proposed_state[i] - (state[i] + "
                      "be_increment[i]);");
    }
    cb_sb_line(b, "    increment_cache[i] = stage_increment[i];");
    cb_sb_line(b, "}");
}

static cubie_status single_emit(cb_ctx *c, cb_sb *sb)
{
    const int n = c->sys->n_states;
    const cb_family fam = c->method->family;
    CB_TRY(cb_nk_emit_solver(c, sb, false));
    cb_sb b;
    cb_sb_init(&b);
    b.indent = 1;
    cb_nk_emit_setup(c, &b);
    cb_nk_emit_time(c, &b, "t + dt");
    if (fam == CB_FAM_BE) {
        /* y_{n+1} = y_n + u, u = h f(t + h, y_n + u); guess: the last u */
        cb_sb_line(&b, "p.base = state;");
        cb_sb_line(&b, "p.a = (real)1;");
        cb_nk_emit_factor_call(c, &b, "state", "t + dt");
        cb_sb_line(&b, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(&b, "    stage_increment[i] = increment_cache[i];");
        cb_sb_line(&b, "}");
        cb_nk_emit_newton_call(c, &b, "stage_increment");
    } else if (fam == CB_FAM_BEPC) {
        /* Predictor: the explicit Euler increment h f(t, y_n). */
        cb_sb_line(&b, "p.base = state;");
        cb_sb_line(&b, "p.a = (real)1;");
        cb_nk_emit_factor_call(c, &b, "state", "t + dt");
        cb_rhs_call(c, &b, CB_RHS_DXDT, "state", NULL, "stage_increment",
                    "t", false);
        cb_sb_line(&b, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(&b, "    stage_increment[i] = dt * stage_increment[i];");
        cb_sb_line(&b, "}");
        cb_nk_emit_newton_call(c, &b, "stage_increment");
    } else {
        emit_cn(c, &b);
    }
    if (fam != CB_FAM_CN) {
        cb_sb_line(&b, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(&b, "    proposed_state[i] = state[i] + "
                       "stage_increment[i];");
        cb_sb_line(&b, "    increment_cache[i] = stage_increment[i];");
        cb_sb_line(&b, "}");
    }
    cb_sb_line(&b, "return status;");
    cb_sb_line(sb, "// Algorithm step: %s, order %d: %s.", c->method->name,
               c->method->order, c->tab->description);
    return cb_define_step(c, &b, sb);
}

const cb_component cb_comp_single = {
    .name = "single",
    .resolve = cb_nk_resolve_one_stage,
    .register_buffers = single_register,
    .emit = single_emit,
};
