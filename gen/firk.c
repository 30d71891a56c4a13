/* The FIRK step: all stage increments U_i = h k_i solved together as one
 * coupled system of s n unknowns, Y_i = y + sum_j a_ij U_j; the solution
 * y + sum b_i U_i (compensated summation, as the original), the error
 * sum (b_i - b_hat_i) U_i. The increments stay for the next step's first
 * guess. */
#include "rk.h"

static cubie_status firk_resolve(cb_ctx *c)
{
    cb_nk_setup(c, "firk_", c->tab->stages, c->tab->a, c->tab->c);
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
    return cb_buffer_rows(c->algo, "stage_increment", (size_t)s, n, "u_%d",
                          0, c->err);
}

static cubie_status firk_emit(cb_ctx *c, cb_sb *sb)
{
    const cb_rk_tableau *T = c->tab;
    const int s = T->stages, n = c->sys->n_states;
    const char *rows[CB_MAX_STAGES];
    double d[CB_MAX_STAGES];
    char l[48];
    CB_TRY(cb_nk_emit_solver(c, sb, false));
    cb_rk_rows(c, "stage_increment", 0, s, rows);
    cb_rk_error_weights(c, d);
    cb_sb b;
    cb_sb_init(&b);
    b.indent = 1;
    cb_nk_emit_setup(c, &b);
    cb_sb_line(&b, "p.base = state;");
    cb_sb_line(&b, "p.a = (real)1;");
    cb_nk_emit_time(c, &b, "t");
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
    if (c->n_error) {
        cb_rk_weighted_sum(c, &b, "error[i] = (real)0", d, s, rows);
    }
    cb_sb_dedent(&b);
    cb_sb_line(&b, "}");
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
