/* Preconditioners of the Krylov solve, of A = beta I - gamma h (A_rk x J):
 *  - jacobi divides by A's diagonal, beta - gamma h a_rr J_ii(Y_r);
 *  - neumann: the series S_k = v + (gamma h / beta) (A_rk x J) S_{k-1},
 *    out = S_m / beta (converges only while gamma h ||J|| is small);
 *  - jacobi,neumann: the Neumann series of the Jacobi splitting A = D - R,
 *    i.e. m Jacobi sweeps z += D^-1 (v - A z) from z = D^-1 v, which
 *    approximates A^-1 (not A^-1 D^-1);
 *  - none: v / beta.
 * Its scratch lives in the linear solver's owner, as in the original. */
#include <stdio.h>

#include "rk.h"

#define P c->nk.prefix

static int N_of(const cb_nk *nk)
{
    return nk->n * nk->stages;
}

static bool uses_neumann(const cb_nk *nk)
{
    return nk->pre == CB_PRECOND_NEUMANN ||
           nk->pre == CB_PRECOND_JACOBI_NEUMANN;
}

static cubie_status precond_resolve(cb_ctx *c)
{
    const double order = cb_opt_num(c->opt, CB_OPT_PRECONDITIONER_ORDER);
    if (order < 1 || order > 32) {
        return cb_fail(c->err, CUBIE_E_OPTION, "preconditioner_order", 0,
                       "option preconditioner_order: %g is not in 1..32",
                       order);
    }
    return CUBIE_OK;
}

static cubie_status precond_register(cb_ctx *c)
{
    cb_nk *nk = &c->nk;
    const size_t N = (size_t)N_of(nk);
    cb_owner *L = nk->linear_owner;
    CB_TRY(cb_register(L, "precond_scratch", uses_neumann(nk) ? N : 0,
                       CB_LOC_LOCAL, false, NULL, c->prec, c->err));
    CB_TRY(cb_register(L, "chain_scratch",
                       nk->pre == CB_PRECOND_JACOBI_NEUMANN ? N : 0,
                       CB_LOC_LOCAL, false, NULL, c->prec, c->err));
    return CUBIE_OK;
}

/* Whether the preconditioner needs the Jacobian's diagonal. */
bool cb_precond_needs_diag(const cb_ctx *c)
{
    return c->nk.pre == CB_PRECOND_JACOBI ||
           c->nk.pre == CB_PRECOND_JACOBI_NEUMANN;
}

static void emit_diag_inverse(const cb_ctx *c, cb_sb *sb, const char *dst)
{
    const cb_nk *nk = &c->nk;
    const int n = nk->n, s = nk->stages;
    char l[48], t[64];
    for (int r = 0; r < s; r++) {
        if (s == 1) {
            cb_rhs_call(c, sb, CB_RHS_DIAG, "Y", NULL, dst, "p->t", true);
            cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
            cb_sb_line(sb, "    %s[i] = (real)1 / (beta - gh * p->a * %s[i]);",
                       dst, dst);
            cb_sb_line(sb, "}");
        } else {
            const cb_row d = cb_rk_row(dst, r, n);
            cb_lit(c, nk->c[r], l);
            snprintf(t, sizeof(t), "p->t + %s * p->h", l);
            cb_rhs_call(c, sb, CB_RHS_DIAG, cb_rk_row("Y", r, n).ptr, NULL,
                        d.ptr, t, true);
            cb_lit(c, nk->A[r * s + r], l);
            cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
            cb_sb_line(sb, "    %s = (real)1 / (beta - gh * %s * %s);", d.at,
                       l, d.at);
            cb_sb_line(sb, "}");
        }
    }
}

static void emit_neumann(const cb_ctx *c, cb_sb *sb)
{
    const cb_nk *nk = &c->nk;
    const int n = nk->n, s = nk->stages, N = N_of(nk);
    char l[48], t[64];
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_line(sb, "    out[k] = v[k];");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "for (int m = 0; m < %d; ++m) {", nk->pre_order);
    cb_sb_indent(sb);
    if (s == 1) {
        cb_rhs_call(c, sb, CB_RHS_JVP, "Y", "out", "scratch", "p->t", true);
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(sb, "    out[i] = v[i] + gh * p->a / beta * scratch[i];");
        cb_sb_line(sb, "}");
    } else {
        for (int r = 0; r < s; r++) {
            cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
            cb_sb_indent(sb);
            cb_sb_puts(sb, "w[i] = ");
            bool any = false;
            for (int j = 0; j < s; j++) {
                double a = nk->A[r * s + j];
                if (a != 0.0) {
                    cb_lit(c, a, l);
                    cb_sb_printf(sb, "%s%s * %s", any ? " + " : "", l,
                                 cb_rk_row("out", j, n).at);
                    any = true;
                }
            }
            cb_sb_puts(sb, any ? ";\n" : "(real)0;\n");
            cb_sb_dedent(sb);
            cb_sb_line(sb, "}");
            cb_lit(c, nk->c[r], l);
            snprintf(t, sizeof(t), "p->t + %s * p->h", l);
            cb_rhs_call(c, sb, CB_RHS_JVP, cb_rk_row("Y", r, n).ptr, "w",
                        cb_rk_row("scratch", r, n).ptr, t, true);
        }
        cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
        cb_sb_line(sb, "    out[k] = v[k] + gh / beta * scratch[k];");
        cb_sb_line(sb, "}");
    }
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_line(sb, "    out[k] = out[k] / beta;");
    cb_sb_line(sb, "}");
}

static cubie_status precond_emit(cb_ctx *c, cb_sb *sb)
{
    const cb_nk *nk = &c->nk;
    const int N = N_of(nk);
    char name[64];
    const char *const op_bind[] = {"v", "out", "out", "scratch", "w", "w",
                                   NULL};
    cb_sb b;
    cb_sb_init(&b);
    b.indent = 1;
    cb_sb_line(&b, "const real beta = p->settings[CB_SET_BETA];");
    if (nk->pre != CB_PRECOND_NONE) {
        cb_sb_line(&b, "const real gh = p->settings[CB_SET_GAMMA] * p->h;");
    }
    switch (nk->pre) {
    case CB_PRECOND_NONE:
        cb_sb_line(&b, "for (int k = 0; k < %d; ++k) {", N);
        cb_sb_line(&b, "    out[k] = v[k] / beta;");
        cb_sb_line(&b, "}");
        break;
    case CB_PRECOND_JACOBI:
        emit_diag_inverse(c, &b, "out");
        cb_sb_line(&b, "for (int k = 0; k < %d; ++k) {", N);
        cb_sb_line(&b, "    out[k] = v[k] * out[k];");
        cb_sb_line(&b, "}");
        break;
    case CB_PRECOND_JACOBI_NEUMANN:
        emit_diag_inverse(c, &b, "chain");
        cb_sb_line(&b, "for (int k = 0; k < %d; ++k) {", N);
        cb_sb_line(&b, "    out[k] = chain[k] * v[k];");
        cb_sb_line(&b, "}");
        cb_sb_line(&b, "for (int m = 0; m < %d; ++m) {", nk->pre_order);
        cb_sb_indent(&b);
        cb_fn_call(&c->nk.operator_, &b, op_bind);
        cb_sb_puts(&b, ";\n");
        cb_sb_line(&b, "for (int k = 0; k < %d; ++k) {", N);
        cb_sb_line(&b, "    out[k] += chain[k] * (v[k] - scratch[k]);");
        cb_sb_line(&b, "}");
        cb_sb_dedent(&b);
        cb_sb_line(&b, "}");
        break;
    default:
        emit_neumann(c, &b);
        break;
    }
    static const char *const params[] = {
        "const cb_nl *p", "const real *Y", "const real *v", "real *out",
        "real *scratch", "real *chain", "real *w", NULL};
    snprintf(name, sizeof(name), "cb_%sprecond", P);
    cb_fn_init(&c->nk.precond, "void", name, params);
    cb_fn_define(&c->nk.precond, sb, cb_sb_str(&b));
    sb->failed = sb->failed || b.failed;
    cb_sb_free(&b);
    return sb->failed ? cb_fail_nomem(c->err) : CUBIE_OK;
}

const cb_component cb_comp_precond = {
    .name = "precond",
    .resolve = precond_resolve,
    .register_buffers = precond_register,
    .emit = precond_emit,
};
