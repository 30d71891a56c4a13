/* The DIRK step: stage by stage, each implicit stage solved for its
 * increment u_k = h k_k with Y_k = base_k + a_kk u_k, base_k = y +
 * sum_{j<k} a_kj u_j; explicit stages (a_kk = 0) evaluate f; the first
 * stage of an FSAL method reuses the last stage of the previous accepted
 * step. The increments stream into the rows of the later stages, the
 * solution and the error through the shared Runge-Kutta emitter. */
#include <stdio.h>

#include "rk.h"

static cubie_status dirk_register(cb_ctx *c)
{
    const size_t n = (size_t)c->sys->n_states;
    const int s = c->tab->stages;
    cb_owner *A = c->algo;
    CB_TRY(cb_nk_register_solver(c));
    /* The buffer plan's DIRK: accumulator rows of sum_k a_jk h k_k, the
     * stage base aliasing them (a row is dead once its stage starts), and
     * the FSAL and warm-start caches aliasing the solver's scratch, idle
     * between the last solve of a step and the first of the next. With
     * the solver local they fall back to their own persistent space.
     * lu's factors, when the step factors once (jacobian_update=step),
     * outlive a solve: the warm start, carried from stage to stage, then
     * has space of its own. */
    CB_TRY(cb_register(A, "accumulator", (size_t)(s - 1) * n, CB_LOC_LOCAL,
                       false, NULL, c->prec, c->err));
    if (s > 1) {
        CB_TRY(cb_buffer_rows(A, "accumulator", (size_t)(s - 1), n,
                              "sum_%d", 1, c->err));
    }
    CB_TRY(cb_register(A, "stage_increment", n, CB_LOC_LOCAL, false, NULL,
                       c->prec, c->err));
    /* Only explicit stages evaluate f into stage_rhs. */
    bool explicit_stage = false;
    for (int k = 0; k < s; k++) {
        explicit_stage = explicit_stage || c->tab->a[k * s + k] == 0.0;
    }
    CB_TRY(cb_register(A, "stage_rhs", explicit_stage ? n : 0, CB_LOC_LOCAL,
                       false, NULL, c->prec, c->err));
    CB_TRY(cb_register(A, "stage_base", n, CB_LOC_LOCAL, false,
                       s > 1 ? "accumulator" : NULL, c->prec, c->err));
    CB_TRY(cb_register(A, "increment_cache", n, CB_LOC_LOCAL, true,
                       c->nk.lu_step ? NULL : "solver_shared",
                       c->prec, c->err));
    CB_TRY(cb_register(A, "rhs_cache", c->fsal ? n : 0, CB_LOC_LOCAL, true,
                       "solver_shared", c->prec, c->err));
    return CUBIE_OK;
}

/* Stage k: its base, then its increment (an explicit evaluation or a
 * Newton solve), then the accumulation of the increment. */
static void emit_stage(cb_ctx *c, cb_sb *b, int k, const char *const *rows,
                       int b_row, const double *d)
{
    const cb_rk_tableau *T = c->tab;
    const int s = T->stages, n = c->sys->n_states;
    const double akk = T->a[k * s + k];
    char l[48], t[96], extra[96];
    cb_sb_line(b, "// stage %d%s", k, akk == 0.0 ? " (explicit)" : "");
    /* base_k into stage_base (in place over a dead row). */
    cb_sb_line(b, "for (int i = 0; i < %d; ++i) {", n);
    if (k == 0) {
        cb_sb_line(b, "    stage_base[i] = state[i];");
    } else {
        cb_sb_line(b, "    stage_base[i] = state[i] + %s[i];", rows[k]);
    }
    cb_sb_line(b, "}");
    if (akk == 0.0) {
        /* Explicit: h k_k = h f(t + c_k h, base_k). */
        if (k == 0 && c->fsal) {
            cb_sb_line(b, "if (!accepted) {");
            cb_sb_indent(b);
            cb_rhs_call(c, b, CB_RHS_DXDT, "stage_base", NULL, "stage_rhs",
                        "t", false);
            cb_sb_dedent(b);
            cb_sb_line(b, "} else {");
            cb_sb_line(b, "    for (int i = 0; i < %d; ++i) {", n);
            cb_sb_line(b, "        stage_rhs[i] = rhs_cache[i];");
            cb_sb_line(b, "    }");
            cb_sb_line(b, "}");
        } else {
            cb_lit(c, T->c[k], l);
            snprintf(t, sizeof(t), "t + %s * dt", l);
            cb_rhs_call(c, b, CB_RHS_DXDT, "stage_base", NULL, "stage_rhs", t,
                        false);
        }
        cb_sb_line(b, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(b, "    stage_increment[i] = dt * stage_rhs[i];");
        cb_sb_line(b, "}");
    } else {
        cb_lit(c, akk, l);
        cb_sb_line(b, "p.base = stage_base;");
        cb_sb_line(b, "p.a = %s;", l);
        /* lu: factor for the first implicit stage and where the diagonal
         * changes; J is taken once, at the step's start. */
        double prev = 0.0;
        for (int j = 0; j < k; j++) {
            if (T->a[j * s + j] != 0.0) {
                prev = T->a[j * s + j];
            }
        }
        if (prev != akk) {
            cb_nk_emit_factor_call(c, b, "state", "t");
        }
        cb_lit(c, T->c[k], l);
        snprintf(t, sizeof(t), "t + %s * dt", l);
        cb_nk_emit_time(c, b, t);
        cb_sb_line(b, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(b, "    stage_increment[i] = increment_cache[i];");
        cb_sb_line(b, "}");
        cb_nk_emit_newton_call(c, b, "stage_increment");
        cb_sb_line(b, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(b, "    increment_cache[i] = stage_increment[i];");
        cb_sb_line(b, "}");
    }
    /* Accumulate u_k = h k_k into the later rows, the solution and the
     * error; a stiffly accurate method's solution is its last stage's
     * state. */
    cb_lit(c, akk, l);
    snprintf(extra, sizeof(extra), "proposed_state[i] = stage_base[i] + %s "
                                   "* u_i;", l);
    cb_rk_accumulate(c, b, k, "u_i", "stage_increment", b_row, d, rows,
                     k == b_row ? extra : NULL, NULL);
}

static cubie_status dirk_emit(cb_ctx *c, cb_sb *sb)
{
    const cb_rk_tableau *T = c->tab;
    const int s = T->stages, n = c->sys->n_states;
    const int b_row = cb_rk_b_row(T);
    const char *rows[CB_MAX_STAGES];
    double d[CB_MAX_STAGES];
    CB_TRY(cb_nk_emit_solver(c, sb, false));
    cb_rk_rows(c, "accumulator", 1, s, rows);
    cb_rk_error_weights(c, d);
    cb_sb b;
    cb_sb_init(&b);
    b.indent = 1;
    cb_nk_emit_setup(c, &b);
    for (int k = 0; k < s; k++) {
        emit_stage(c, &b, k, rows, b_row, d);
    }
    if (b_row < 0) {
        cb_sb_line(&b, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(&b, "    proposed_state[i] = state[i] + "
                       "proposed_state[i];");
        cb_sb_line(&b, "}");
    }
    if (c->fsal) {
        /* The last stage's derivative u/h is the next step's first. */
        cb_sb_line(&b, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(&b, "    rhs_cache[i] = stage_increment[i] / dt;");
        cb_sb_line(&b, "}");
    }
    cb_sb_line(&b, "return status;");
    cb_sb_line(sb, "// Algorithm step: %s, %d stage%s, order %d (%s).",
               c->method->name, s, s == 1 ? "" : "s", c->method->order,
               T->source);
    return cb_define_step(c, &b, sb);
}

const cb_component cb_comp_dirk = {
    .name = "dirk",
    .resolve = cb_nk_resolve_one_stage,
    .register_buffers = dirk_register,
    .emit = dirk_emit,
};
