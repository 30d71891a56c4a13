/* The shared Runge-Kutta stage emitter (see rk.h). */
#include <math.h>
#include <stdio.h>

#include "rk.h"

void cb_rk_error_weights(const cb_ctx *c, double d[CB_MAX_STAGES])
{
    const cb_rk_tableau *T = c->tab;
    for (int k = 0; k < T->stages; k++) {
        d[k] = T->b_hat && c->n_error ? T->b[k] - T->b_hat[k] : 0.0;
    }
}

bool cb_rk_stage_feeds(const cb_ctx *c, int k, int b_row, const double *d)
{
    const cb_rk_tableau *T = c->tab;
    const int s = T->stages;
    bool used = k == 0 || (b_row < 0 && T->b[k] != 0.0) ||
                (c->n_error && d[k] != 0.0);
    for (int j = k + 1; j < s; j++) {
        used = used || T->a[j * s + k] != 0.0;
    }
    return used;
}

void cb_rk_fold_rows(const cb_rk_tableau *T, bool folded[CB_MAX_STAGES])
{
    const int s = T->stages;
    for (int j = 0; j < s; j++) {
        int nonzero = 0;
        double a = 0.0;
        for (int k = 0; k < j; k++) {
            if (T->a[j * s + k] != 0.0) {
                nonzero++;
                a = T->a[j * s + k];
            }
        }
        int e = 0;
        const double m = frexp(a, &e); /* a = m 2^e, m in [0.5, 1) */
        folded[j] = j > 0 && nonzero == 1 && m == 0.5 && a <= 1.0;
    }
}

void cb_rk_accumulate(const cb_ctx *c, cb_sb *sb, int k, const char *var,
                      const char *src, int b_row, const double *d,
                      const char *const *rows, const char *extra,
                      const bool *folded)
{
    const cb_rk_tableau *T = c->tab;
    const int s = T->stages;
    char tgt[64];
    bool any = b_row < 0 || c->n_error || extra != NULL;
    for (int j = k + 1; j < s; j++) {
        any = any || k == 0 || T->a[j * s + k] != 0.0;
    }
    if (!any) {
        return; /* nothing reads this stage's quantity */
    }
    cb_sb body;
    cb_sb_init(&body);
    if (b_row < 0) {
        cb_emit_term(c, &body, "proposed_state[i]", k == 0, T->b[k], var);
    }
    if (c->n_error) {
        cb_emit_term(c, &body, "error[i]", k == 0, d[k], var);
    }
    for (int j = k + 1; j < s; j++) {
        const double a = T->a[j * s + k];
        snprintf(tgt, sizeof(tgt), "%s[i]", rows[j]);
        if (folded != NULL && folded[j]) {
            if (a == 1.0) {
                cb_sb_printf(&body, "%s = %s(dt, %s, state[i]);\n", tgt,
                             cb_math(c, "fma"), var);
            } else if (a != 0.0) {
                char l[48];
                cb_lit(c, a, l);
                cb_sb_printf(&body, "%s = %s(%s * dt, %s, state[i]);\n", tgt,
                             cb_math(c, "fma"), l, var);
            }
            continue;
        }
        cb_emit_term(c, &body, tgt, k == 0, a, var);
    }
    if (extra != NULL) {
        cb_sb_line(&body, "%s", extra);
    }
    cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", c->sys->n_states);
    cb_sb_indent(sb);
    if (cb_ident_used(cb_sb_str(&body), var)) {
        cb_sb_line(sb, "const real %s = %s[i];", var, src);
    }
    cb_sb_puts(sb, cb_sb_str(&body));
    sb->failed = sb->failed || body.failed;
    cb_sb_free(&body);
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
}

void cb_rk_weighted_sum(const cb_ctx *c, cb_sb *sb, const char *head,
                        const double *w, int s, const char *const *rows)
{
    char l[48];
    cb_sb_puts(sb, head);
    for (int k = 0; k < s; k++) {
        if (w[k] != 0.0) {
            cb_lit(c, w[k], l);
            cb_sb_printf(sb, " + %s * %s[i]", l, rows[k]);
        }
    }
    cb_sb_puts(sb, ";\n");
}

void cb_rk_rows(const cb_ctx *c, const char *buffer, int first, int n,
                const char **rows)
{
    for (int k = 0; k < n; k++) {
        rows[k] = k < first ? NULL
                            : cb_row_name(c->algo, buffer, (size_t)(k - first));
    }
}

cb_row cb_rk_row(const char *vec, int r, int n)
{
    cb_row row;
    if (r == 0) {
        snprintf(row.ptr, sizeof(row.ptr), "%s", vec);
        snprintf(row.at, sizeof(row.at), "%s[i]", vec);
    } else {
        snprintf(row.ptr, sizeof(row.ptr), "%s + %d", vec, r * n);
        snprintf(row.at, sizeof(row.at), "%s[%d + i]", vec, r * n);
    }
    return row;
}
