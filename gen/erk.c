/* The explicit Runge-Kutta step, one emitter for every explicit tableau.
 * Streaming accumulators as in the original: when stage k's derivative is
 * known it is added, times a_jk, into the row of every later stage j;
 * that row then becomes stage j's state in place. The solution (and the
 * error) accumulate the same way. Zero coefficients are not emitted;
 * stage loops are unrolled here. */
#include <stdio.h>

#include "rk.h"

static cubie_status erk_register(cb_ctx *c)
{
    const size_t n = (size_t)c->sys->n_states;
    const int s = c->tab->stages;
    /* The stage derivative (persistent when it is carried to the next
     * step as its first stage, FSAL) and one row per later stage. */
    CB_TRY(cb_register(c->algo, "stage_rhs", n, CB_LOC_LOCAL, c->fsal, NULL,
                       c->prec, c->err));
    CB_TRY(cb_register(c->algo, "stage_accumulator", (size_t)(s - 1) * n,
                       CB_LOC_LOCAL, false, NULL, c->prec, c->err));
    if (s > 1) {
        CB_TRY(cb_buffer_rows(c->algo, "stage_accumulator", (size_t)(s - 1),
                              n, "stage_%d", 1, c->err));
    }
    return CUBIE_OK;
}

static cubie_status erk_emit(cb_ctx *c, cb_sb *sb)
{
    const cb_rk_tableau *T = c->tab;
    const int s = T->stages, n = c->sys->n_states;
    const int b_row = cb_rk_b_row(T);
    const char *rows[CB_MAX_STAGES];
    double d[CB_MAX_STAGES];
    char t[96], l[48];
    cb_rk_rows(c, "stage_accumulator", 1, s, rows);
    cb_rk_error_weights(c, d);
    bool folded[CB_MAX_STAGES];
    cb_rk_fold_rows(T, folded);
    cb_sb body;
    cb_sb_init(&body);
    body.indent = 1;
    /* Explicit steps do no Newton or Krylov iterations. */
    cb_sb_line(&body, "counters[0] = 0;");
    cb_sb_line(&body, "counters[1] = 0;");
    for (int k = 0; k < s; k++) {
        cb_sb_line(&body, "// stage %d", k);
        if (k == 0) {
            if (c->fsal) {
                /* Decided per run, never by a warp vote: the cached
                 * derivative and a recomputed one differ in rounding, so
                 * a vote would make a run depend on its neighbours. */
                cb_sb_line(&body, "// FSAL: the last stage of an accepted "
                                  "step is this step's first.");
                cb_sb_line(&body, "if (!accepted) {");
                cb_sb_indent(&body);
            }
            cb_rhs_call(c, &body, CB_RHS_DXDT, "state", NULL, "stage_rhs",
                        "t", false);
            if (c->fsal) {
                cb_sb_dedent(&body);
                cb_sb_line(&body, "}");
            }
        } else {
            /* A folded row already holds the stage's state. */
            if (!folded[k]) {
                cb_sb_line(&body, "for (int i = 0; i < %d; ++i) {", n);
                cb_sb_line(&body, "    %s[i] = %s(dt, %s[i], state[i]);",
                           rows[k], cb_math(c, "fma"), rows[k]);
                cb_sb_line(&body, "}");
            }
            if (T->c[k] != 0.0) {
                cb_lit(c, T->c[k], l);
                snprintf(t, sizeof(t), "t + %s * dt", l);
            } else {
                snprintf(t, sizeof(t), "t");
            }
            cb_rhs_call(c, &body, CB_RHS_DXDT, rows[k], NULL, "stage_rhs", t,
                        false);
        }
        /* Does anything still need this stage's derivative? (The last
         * stage of an FSAL method only feeds the next step.) */
        if (cb_rk_stage_feeds(c, k, b_row, d)) {
            cb_rk_accumulate(c, &body, k, "k_i", "stage_rhs", b_row, d, rows,
                             NULL, folded);
        }
    }
    cb_sb_line(&body, "// solution%s", c->n_error ? " and error estimate"
                                                 : "");
    cb_sb_line(&body, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_indent(&body);
    if (b_row >= 1) {
        /* b equals row b_row of A: that stage's state is the solution. */
        cb_sb_line(&body, "proposed_state[i] = %s[i];", rows[b_row]);
    } else if (b_row == 0) {
        cb_sb_line(&body, "proposed_state[i] = state[i];");
    } else {
        cb_sb_line(&body, "proposed_state[i] = %s(dt, proposed_state[i], "
                          "state[i]);", cb_math(c, "fma"));
    }
    if (c->n_error) {
        cb_sb_line(&body, "error[i] = dt * error[i];");
    }
    cb_sb_dedent(&body);
    cb_sb_line(&body, "}");
    cb_sb_line(&body, "return 0;");
    cb_sb_line(sb, "// Algorithm step: %s, %d stage%s, order %d (%s).",
               c->method->name, s, s == 1 ? "" : "s", c->method->order,
               T->source);
    return cb_define_step(c, &body, sb);
}

const cb_component cb_comp_erk = {
    .name = "erk",
    .register_buffers = erk_register,
    .emit = erk_emit,
};
