/* Matrix-free Newton-Krylov emitters (see newton.h). The rules are the
 * original's (cubie-features.md §3.1-3.3):
 *  - Krylov: weighted mean-square norm N(v) = mean (v_i / max(katol_i +
 *    krtol_i |ref_i|, 1e-16))^2 with the step's start state as ref;
 *    tol = floor + reduction sqrt(N(b)); converged when N(r) <= tol^2;
 *    the initial residual is b - A x0. BiCGSTAB breaks down when |rho| or
 *    |omega| falls below 1e-30 (float) / 1e-200 (double).
 *  - Newton: the correction norm scales by natol + nrtol max(|Y|, |y_n|);
 *    contraction theta = max(0.3 theta_prev, ndz / ndz_prev) within a
 *    solve; accept when eta ndz < 0.01 with eta = theta / (1 - theta)
 *    (theta < 1), or on the first iteration when ndz < 1e-5. The first
 *    iteration has no contraction yet: it uses eta_old^0.8 from the
 *    previous solve (persistent; 1 at first and after a failure), as
 *    OrdinaryDiffEq's NLNewton does, so that a run of one-iteration
 *    solves drifts back towards checking the contraction;
 *    divergence when theta > 2 or the norm is not finite; stagnation
 *    (|theta - 1| <= 100 sqrt(eps)) converges when ndz <= 1 and fails
 *    otherwise; the correction is committed only when the linear solve
 *    succeeded. Optional damped backtracking (newton_max_backtracks > 0):
 *    the step is scaled by newton_damping until the residual norm falls.
 */
#include "newton.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define P nk->prefix


static void lit(const cb_nk *nk, double v, char out[48])
{
    cb_real_literal(out, nk->dbl, v);
}

static const char *fn(const cb_nk *nk, const char *name)
{
    return nk->dbl ? name : (strcmp(name, "fabs") == 0   ? "fabsf"
                             : strcmp(name, "fmax") == 0 ? "fmaxf"
                             : strcmp(name, "fmin") == 0 ? "fminf"
                             : strcmp(name, "sqrt") == 0 ? "sqrtf"
                                                         : name);
}

static int N_of(const cb_nk *nk)
{
    return nk->n * nk->stages;
}

cubie_status cb_nk_register(cb_nk *nk, cubie_error *err)
{
    const cb_prec p = nk->dbl ? CB_PREC_F64 : CB_PREC_F32;
    const size_t N = (size_t)N_of(nk), n = (size_t)nk->n;
    char name[96];
    cubie_status st;
#define TRY(call)                        \
    do {                                 \
        if ((st = (call)) != CUBIE_OK) { \
            return st;                   \
        }                                \
    } while (0)
    snprintf(name, sizeof(name), "%slinear_solver", P);
    TRY(cb_registry_owner(nk->reg, name, p, &nk->linear_owner, err));
    cb_owner *L = nk->linear_owner;
    const bool neumann = nk->pre == CB_PRE_NEUMANN || nk->pre == CB_PRE_CHAINED;
    TRY(cb_register(L, "lin_residual", N, CB_LOC_LOCAL, false, NULL, p, err));
    TRY(cb_register(L, "preconditioned_vec", N, CB_LOC_LOCAL, false, NULL, p,
                    err));
    TRY(cb_register(L, "temp", N, CB_LOC_LOCAL, false, NULL, p, err));
    TRY(cb_register(L, "precond_scratch", neumann ? N : 0, CB_LOC_LOCAL,
                    false, NULL, p, err));
    TRY(cb_register(L, "chain_scratch", nk->pre == CB_PRE_CHAINED ? N : 0,
                    CB_LOC_LOCAL, false, NULL, p, err));
    /* The coupled operator's sum over stages, sum_j a_ij v_j. */
    TRY(cb_register(L, "coupling_scratch", nk->stages > 1 ? n : 0,
                    CB_LOC_LOCAL, false, NULL, p, err));
    const size_t bi = nk->lin == CB_LIN_BICGSTAB ? N : 0;
    TRY(cb_register(L, "bicg_r0_hat", bi, CB_LOC_LOCAL, false, NULL, p, err));
    TRY(cb_register(L, "bicg_p", bi, CB_LOC_LOCAL, false, NULL, p, err));
    TRY(cb_register(L, "bicg_v", bi, CB_LOC_LOCAL, false, NULL, p, err));
    if (!nk->newton) {
        return CUBIE_OK;
    }
    snprintf(name, sizeof(name), "%snewton", P);
    TRY(cb_registry_owner(nk->reg, name, p, &nk->newton_owner, err));
    cb_owner *W = nk->newton_owner;
    TRY(cb_register(W, "delta", N, CB_LOC_LOCAL, false, NULL, p, err));
    TRY(cb_register(W, "residual", N, CB_LOC_LOCAL, false, NULL, p, err));
    TRY(cb_register(W, "stage_states", N, CB_LOC_LOCAL, false, NULL, p, err));
    TRY(cb_register(W, "trial", N, CB_LOC_LOCAL, false, NULL, p, err));
    TRY(cb_register(W, "krylov_iters_local", 1, CB_LOC_LOCAL, false, NULL,
                    CB_PREC_I32, err));
    TRY(cb_register(W, "prev_theta", 1, CB_LOC_LOCAL, true, NULL, p, err));
    TRY(cb_register_child(W, L, "linear_solver", err));
#undef TRY
    return CUBIE_OK;
}

void cb_emit_nl_struct(cb_sb *sb)
{
    cb_sb_puts(sb,
               "// One implicit solve: Y = base + a u (coupled: Y_i = base +\n"
               "// sum_j A_ij u_j at t + c_i h), norms against y_n.\n"
               "typedef struct {\n"
               "    const real *base;\n"
               "    const real *y_n;\n"
               "    const real *parameters;\n"
               "    const real *drivers;\n"
               "    const real *settings;\n"
               "    real t;\n"
               "    real h;\n"
               "    real a;\n"
               "} cb_nl;\n\n");
}

/* Y from u: base + a u, or the coupled stage states. */
static void emit_states(const cb_nk *nk, cb_sb *sb)
{
    const int n = nk->n, s = nk->stages;
    char l[48];
    cb_sb_line(sb, "CB_DEVFN void cb_%sstates(const cb_nl *p, const real *u, "
                   "real *Y)", P);
    cb_sb_line(sb, "{");
    cb_sb_indent(sb);
    if (s == 1) {
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(sb, "    Y[i] = p->base[i] + p->a * u[i];");
        cb_sb_line(sb, "}");
    } else {
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_indent(sb);
        for (int r = 0; r < s; r++) {
            cb_sb_printf(sb, "Y[%d + i] = p->base[i]", r * n);
            for (int j = 0; j < s; j++) {
                double a = nk->A[r * s + j];
                if (a != 0.0) {
                    lit(nk, a, l);
                    cb_sb_printf(sb, " + %s * u[%d + i]", l, j * n);
                }
            }
            cb_sb_puts(sb, ";\n");
        }
        cb_sb_dedent(sb);
        cb_sb_line(sb, "}");
    }
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_puts(sb, "\n");
}

static void emit_residual(const cb_nk *nk, cb_sb *sb)
{
    const int n = nk->n, s = nk->stages, N = N_of(nk);
    char l[48];
    cb_sb_line(sb, "// F(u) = beta u - gamma h f(t, Y(u)); Y is left in Y.");
    cb_sb_line(sb, "CB_DEVFN void cb_%sresidual(const cb_nl *p, const real *u, "
                   "real *Y, real *out)", P);
    cb_sb_line(sb, "{");
    cb_sb_indent(sb);
    cb_sb_line(sb, "cb_%sstates(p, u, Y);", P);
    for (int r = 0; r < s; r++) {
        if (s == 1) {
            cb_sb_line(sb, "cb_dxdt(Y, p->parameters, p->drivers, out, p->t);");
        } else {
            lit(nk, nk->c[r], l);
            cb_sb_line(sb, "cb_dxdt(Y + %d, p->parameters, p->drivers, out + "
                           "%d, p->t + %s * p->h);", r * n, r * n, l);
        }
    }
    cb_sb_line(sb, "const real beta = p->settings[CB_SET_BETA];");
    cb_sb_line(sb, "const real gh = p->settings[CB_SET_GAMMA] * p->h;");
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_line(sb, "    out[k] = beta * u[k] - gh * out[k];");
    cb_sb_line(sb, "}");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_puts(sb, "\n");
}

/* (beta I - gamma h (A x J)) v: per stage r, beta v_r - gamma h J(Y_r)
 * sum_j a_rj v_j (single stage: a v). */
static void emit_operator(const cb_nk *nk, cb_sb *sb)
{
    const int n = nk->n, s = nk->stages;
    char l[48];
    cb_sb_line(sb, "CB_DEVFN void cb_%soperator(const cb_nl *p, const real *Y, "
                   "const real *v, real *out,", P);
    cb_sb_line(sb, "                            real *w)");
    cb_sb_line(sb, "{");
    cb_sb_indent(sb);
    cb_sb_line(sb, "const real beta = p->settings[CB_SET_BETA];");
    cb_sb_line(sb, "const real gh = p->settings[CB_SET_GAMMA] * p->h;");
    if (s == 1) {
        cb_sb_line(sb, "(void)w;");
        cb_sb_line(sb, "cb_jvp(Y, p->parameters, p->drivers, p->t, v, out);");
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(sb, "    out[i] = beta * v[i] - gh * p->a * out[i];");
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
                    lit(nk, a, l);
                    cb_sb_printf(sb, "%s%s * v[%d + i]", any ? " + " : "", l,
                                 j * n);
                    any = true;
                }
            }
            cb_sb_puts(sb, any ? ";\n" : "(real)0;\n");
            cb_sb_dedent(sb);
            cb_sb_line(sb, "}");
            lit(nk, nk->c[r], l);
            cb_sb_line(sb, "cb_jvp(Y + %d, p->parameters, p->drivers, p->t + "
                           "%s * p->h, w, out + %d);", r * n, l, r * n);
            cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
            cb_sb_line(sb, "    out[%d + i] = beta * v[%d + i] - gh * "
                           "out[%d + i];", r * n, r * n, r * n);
            cb_sb_line(sb, "}");
        }
    }
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_puts(sb, "\n");
}

/* Preconditioners of A = beta I - gamma h (A_rk x J):
 *  - jacobi divides by A's diagonal, beta - gamma h a_rr J_ii(Y_r);
 *  - neumann: the series S_k = v + (gamma h / beta) (A_rk x J) S_{k-1},
 *    out = S_m / beta (converges only while gamma h ||J|| is small);
 *  - jacobi,neumann: the Neumann series of the Jacobi splitting A = D - R,
 *    i.e. m Jacobi sweeps z += D^-1 (v - A z) from z = D^-1 v, which
 *    approximates A^-1 (not A^-1 D^-1);
 *  - none: v / beta. */
static void emit_diag_inverse(const cb_nk *nk, cb_sb *sb, const char *dst)
{
    const int n = nk->n, s = nk->stages;
    char l[48];
    for (int r = 0; r < s; r++) {
        if (s == 1) {
            cb_sb_line(sb, "cb_jac_diag(Y, p->parameters, p->drivers, p->t, "
                           "%s);", dst);
            cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
            cb_sb_line(sb, "    %s[i] = (real)1 / (beta - gh * p->a * %s[i]);",
                       dst, dst);
            cb_sb_line(sb, "}");
        } else {
            lit(nk, nk->c[r], l);
            cb_sb_line(sb, "cb_jac_diag(Y + %d, p->parameters, p->drivers, "
                           "p->t + %s * p->h, %s + %d);", r * n, l, dst,
                       r * n);
            lit(nk, nk->A[r * s + r], l);
            cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
            cb_sb_line(sb, "    %s[%d + i] = (real)1 / (beta - gh * %s * "
                           "%s[%d + i]);", dst, r * n, l, dst, r * n);
            cb_sb_line(sb, "}");
        }
    }
}

static void emit_precond(const cb_nk *nk, cb_sb *sb)
{
    const int n = nk->n, s = nk->stages, N = N_of(nk);
    char l[48];
    cb_sb_line(sb, "CB_DEVFN void cb_%sprecond(const cb_nl *p, const real *Y, "
                   "const real *v, real *out,", P);
    cb_sb_line(sb, "                           real *scratch, real *chain, "
                   "real *w)");
    cb_sb_line(sb, "{");
    cb_sb_indent(sb);
    cb_sb_line(sb, "(void)scratch;");
    cb_sb_line(sb, "(void)chain;");
    cb_sb_line(sb, "(void)w;");
    cb_sb_line(sb, "(void)Y;");
    cb_sb_line(sb, "const real beta = p->settings[CB_SET_BETA];");
    cb_sb_line(sb, "const real gh = p->settings[CB_SET_GAMMA] * p->h;");
    cb_sb_line(sb, "(void)gh;");
    switch (nk->pre) {
    case CB_PRE_NONE:
        cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
        cb_sb_line(sb, "    out[k] = v[k] / beta;");
        cb_sb_line(sb, "}");
        break;
    case CB_PRE_JACOBI:
        emit_diag_inverse(nk, sb, "out");
        cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
        cb_sb_line(sb, "    out[k] = v[k] * out[k];");
        cb_sb_line(sb, "}");
        break;
    case CB_PRE_CHAINED:
        emit_diag_inverse(nk, sb, "chain");
        cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
        cb_sb_line(sb, "    out[k] = chain[k] * v[k];");
        cb_sb_line(sb, "}");
        cb_sb_line(sb, "for (int m = 0; m < %d; ++m) {", nk->pre_order);
        cb_sb_line(sb, "    cb_%soperator(p, Y, out, scratch, w);", P);
        cb_sb_line(sb, "    for (int k = 0; k < %d; ++k) {", N);
        cb_sb_line(sb, "        out[k] += chain[k] * (v[k] - scratch[k]);");
        cb_sb_line(sb, "    }");
        cb_sb_line(sb, "}");
        break;
    case CB_PRE_NEUMANN:
        cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
        cb_sb_line(sb, "    out[k] = v[k];");
        cb_sb_line(sb, "}");
        cb_sb_line(sb, "for (int m = 0; m < %d; ++m) {", nk->pre_order);
        cb_sb_indent(sb);
        if (s == 1) {
            cb_sb_line(sb, "cb_jvp(Y, p->parameters, p->drivers, p->t, out, "
                           "scratch);");
            cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
            cb_sb_line(sb, "    out[i] = v[i] + gh * p->a / beta * "
                           "scratch[i];");
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
                        lit(nk, a, l);
                        cb_sb_printf(sb, "%s%s * out[%d + i]", any ? " + " : "",
                                     l, j * n);
                        any = true;
                    }
                }
                cb_sb_puts(sb, any ? ";\n" : "(real)0;\n");
                cb_sb_dedent(sb);
                cb_sb_line(sb, "}");
                lit(nk, nk->c[r], l);
                cb_sb_line(sb, "cb_jvp(Y + %d, p->parameters, p->drivers, "
                               "p->t + %s * p->h, w, scratch + %d);", r * n, l,
                           r * n);
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
        break;
    }
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_puts(sb, "\n");
}

/* A weighted mean-square norm, inline: N(v) = mean (v_k / max(atol_i +
 * rtol_i |y_n,i|, 1e-16))^2 into `into`, with the tolerances of `which`
 * ("KRYLOV" or "NEWTON"), i the state of unknown k. */
static void emit_wnorm(const cb_nk *nk, cb_sb *sb, const char *vec,
                       const char *into, const char *which)
{
    char l[48];
    lit(nk, 1e-16, l);
    cb_sb_line(sb, "%s = (real)0;", into);
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N_of(nk));
    cb_sb_indent(sb);
    cb_sb_line(sb, "const int i = k %% %d;", nk->n);
    cb_sb_line(sb, "const real sc = %s(p->settings[CB_SET_%s_ATOL + i] + "
                   "p->settings[CB_SET_%s_RTOL + i] * %s(p->y_n[i]), %s);",
               fn(nk, "fmax"), which, which, fn(nk, "fabs"), l);
    cb_sb_line(sb, "const real q = %s[k] / sc;", vec);
    cb_sb_line(sb, "%s += q * q;", into);
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    lit(nk, 1.0 / N_of(nk), l);
    cb_sb_line(sb, "%s = %s * %s;", into, into, l);
}

static void emit_knorm(const cb_nk *nk, cb_sb *sb, const char *vec,
                       const char *into)
{
    emit_wnorm(nk, sb, vec, into, "KRYLOV");
}

static void emit_dot(const cb_nk *nk, cb_sb *sb, const char *a,
                     const char *b, const char *into)
{
    cb_sb_line(sb, "%s = (real)0;", into);
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N_of(nk));
    cb_sb_line(sb, "    %s += %s[k] * %s[k];", into, a, b);
    cb_sb_line(sb, "}");
}

static cubie_status emit_linsolve(cb_nk *nk, cb_sb *sb, cubie_error *err)
{
    const int N = N_of(nk);
    cb_owner *L = nk->linear_owner;
    char tiny[48];
    lit(nk, nk->dbl ? 1e-200 : 1e-30, tiny);
    static const char *const bufs[] = {
        "lin_residual", "preconditioned_vec", "temp", "precond_scratch",
        "chain_scratch", "coupling_scratch", "bicg_r0_hat", "bicg_p",
        "bicg_v", NULL};
    cb_sb_line(sb, "// Solve (beta I - gamma h (A x J)) x = b from the guess "
                   "in x (%s).", nk->lin == CB_LIN_BICGSTAB ? "BiCGSTAB"
                   : nk->lin == CB_LIN_SD ? "steepest descent"
                                          : "minimal residual");
    cb_sb_line(sb, "CB_DEVFN int cb_%slinsolve(const cb_nl *p, const real *Y, "
                   "const real *b, real *x,", P);
    cb_sb_line(sb, "                            int *iters, real *shared, "
                   "real *persistent,");
    cb_sb_line(sb, "                            int *shared_i, "
                   "int *persistent_i)");
    cb_sb_line(sb, "{");
    cb_sb_indent(sb);
    cb_sb_line(sb, "(void)shared;");
    cb_sb_line(sb, "(void)persistent;");
    cb_sb_line(sb, "(void)shared_i;");
    cb_sb_line(sb, "(void)persistent_i;");
    for (int i = 0; bufs[i]; i++) {
        cubie_status st = cb_get_allocator(L, bufs[i], false, sb, err);
        if (st != CUBIE_OK) {
            return st;
        }
        cb_sb_line(sb, "(void)%s;", bufs[i]);
    }
    cb_sb_line(sb, "real *r = lin_residual;");
    cb_sb_line(sb, "real nb, nr, dot1, dot2;");
    cb_sb_line(sb, "(void)dot2;");
    emit_knorm(nk, sb, "b", "nb");
    cb_sb_line(sb, "const real tol = p->settings[CB_SET_KRYLOV_FLOOR] + "
                   "p->settings[CB_SET_KRYLOV_REDUCTION] * %s(nb);",
               fn(nk, "sqrt"));
    cb_sb_line(sb, "const real tol2 = tol * tol;");
    cb_sb_line(sb, "cb_%soperator(p, Y, x, temp, coupling_scratch);", P);
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_line(sb, "    r[k] = b[k] - temp[k];");
    cb_sb_line(sb, "}");
    emit_knorm(nk, sb, "r", "nr");
    cb_sb_line(sb, "const int max_it = (int)p->settings[CB_SET_KRYLOV_MAX_ITERS];");
    cb_sb_line(sb, "int it = 0;");
    cb_sb_line(sb, "int status = 0;");
    if (nk->lin != CB_LIN_BICGSTAB) {
        cb_sb_line(sb, "while (nr > tol2 && it < max_it) {");
        cb_sb_indent(sb);
        cb_sb_line(sb, "++it;");
        cb_sb_line(sb, "cb_%sprecond(p, Y, r, preconditioned_vec, "
                       "precond_scratch, chain_scratch,", P);
        cb_sb_line(sb, "             coupling_scratch);");
        cb_sb_line(sb, "cb_%soperator(p, Y, preconditioned_vec, temp, "
                       "coupling_scratch);", P);
        if (nk->lin == CB_LIN_MR) {
            emit_dot(nk, sb, "temp", "r", "dot1");
            emit_dot(nk, sb, "temp", "temp", "dot2");
        } else {
            emit_dot(nk, sb, "r", "preconditioned_vec", "dot1");
            emit_dot(nk, sb, "temp", "preconditioned_vec", "dot2");
        }
        cb_sb_line(sb, "if (!(dot2 != (real)0) || !cb_finite(dot1 / dot2)) {");
        cb_sb_line(sb, "    break; // no progress possible along this "
                       "direction");
        cb_sb_line(sb, "}");
        cb_sb_line(sb, "const real alpha = dot1 / dot2;");
        cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
        cb_sb_line(sb, "    x[k] += alpha * preconditioned_vec[k];");
        cb_sb_line(sb, "    r[k] -= alpha * temp[k];");
        cb_sb_line(sb, "}");
        emit_knorm(nk, sb, "r", "nr");
        cb_sb_dedent(sb);
        cb_sb_line(sb, "}");
    } else {
        cb_sb_line(sb, "real rho_prev = (real)1, alpha = (real)1, "
                       "omega = (real)1;");
        cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
        cb_sb_line(sb, "    bicg_r0_hat[k] = r[k];");
        cb_sb_line(sb, "    bicg_p[k] = (real)0;");
        cb_sb_line(sb, "    bicg_v[k] = (real)0;");
        cb_sb_line(sb, "}");
        cb_sb_line(sb, "while (nr > tol2 && it < max_it) {");
        cb_sb_indent(sb);
        cb_sb_line(sb, "++it;");
        emit_dot(nk, sb, "bicg_r0_hat", "r", "dot1");
        cb_sb_line(sb, "const real rho = dot1;");
        /* Written so that a NaN also counts as a breakdown. */
        cb_sb_line(sb, "if (!(%s(rho) >= %s) || !(%s(omega) >= %s)) {",
                   fn(nk, "fabs"), tiny, fn(nk, "fabs"), tiny);
        cb_sb_line(sb, "    status |= CB_RUN_BICGSTAB_BREAKDOWN;");
        cb_sb_line(sb, "    break;");
        cb_sb_line(sb, "}");
        cb_sb_line(sb, "const real bb = (rho / rho_prev) * (alpha / omega);");
        cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
        cb_sb_line(sb, "    bicg_p[k] = r[k] + bb * (bicg_p[k] - omega * "
                       "bicg_v[k]);");
        cb_sb_line(sb, "}");
        cb_sb_line(sb, "cb_%sprecond(p, Y, bicg_p, preconditioned_vec, "
                       "precond_scratch,", P);
        cb_sb_line(sb, "             chain_scratch, coupling_scratch);");
        cb_sb_line(sb, "cb_%soperator(p, Y, preconditioned_vec, bicg_v, "
                       "coupling_scratch);", P);
        emit_dot(nk, sb, "bicg_r0_hat", "bicg_v", "dot2");
        cb_sb_line(sb, "if (!(%s(dot2) >= %s)) {", fn(nk, "fabs"), tiny);
        cb_sb_line(sb, "    status |= CB_RUN_BICGSTAB_BREAKDOWN;");
        cb_sb_line(sb, "    break;");
        cb_sb_line(sb, "}");
        cb_sb_line(sb, "alpha = rho / dot2;");
        cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
        cb_sb_line(sb, "    x[k] += alpha * preconditioned_vec[k];");
        cb_sb_line(sb, "    r[k] -= alpha * bicg_v[k]; // r is s now");
        cb_sb_line(sb, "}");
        emit_knorm(nk, sb, "r", "nr");
        cb_sb_line(sb, "if (nr <= tol2) {");
        cb_sb_line(sb, "    break;");
        cb_sb_line(sb, "}");
        cb_sb_line(sb, "cb_%sprecond(p, Y, r, preconditioned_vec, "
                       "precond_scratch, chain_scratch,", P);
        cb_sb_line(sb, "             coupling_scratch);");
        cb_sb_line(sb, "cb_%soperator(p, Y, preconditioned_vec, temp, "
                       "coupling_scratch);", P);
        emit_dot(nk, sb, "temp", "r", "dot1");
        emit_dot(nk, sb, "temp", "temp", "dot2");
        cb_sb_line(sb, "omega = dot2 != (real)0 ? dot1 / dot2 : (real)0;");
        cb_sb_line(sb, "if (!(%s(omega) >= %s)) {", fn(nk, "fabs"), tiny);
        cb_sb_line(sb, "    status |= CB_RUN_BICGSTAB_BREAKDOWN;");
        cb_sb_line(sb, "    break;");
        cb_sb_line(sb, "}");
        cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
        cb_sb_line(sb, "    x[k] += omega * preconditioned_vec[k];");
        cb_sb_line(sb, "    r[k] -= omega * temp[k];");
        cb_sb_line(sb, "}");
        emit_knorm(nk, sb, "r", "nr");
        cb_sb_line(sb, "rho_prev = rho;");
        cb_sb_dedent(sb);
        cb_sb_line(sb, "}");
    }
    cb_sb_line(sb, "*iters = it;");
    cb_sb_line(sb, "if (!(nr <= tol2) && status == 0) {");
    cb_sb_line(sb, "    status |= CB_RUN_MAX_LINEAR_ITERS;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "return status;");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_puts(sb, "\n");
    return CUBIE_OK;
}

/* The residual norm for backtracking, with Newton's tolerances. */
static void emit_fnorm(const cb_nk *nk, cb_sb *sb, const char *vec,
                       const char *into)
{
    emit_wnorm(nk, sb, vec, into, "NEWTON");
}

static cubie_status emit_newton(cb_nk *nk, cb_sb *sb, cubie_error *err)
{
    const int N = N_of(nk);
    cb_owner *W = nk->newton_owner;
    char l[48], eps_l[48];
    static const char *const bufs[] = {
        "delta", "residual", "stage_states", "trial", "krylov_iters_local",
        "prev_theta", "linear_solver_shared", "linear_solver_persistent",
        "linear_solver_shared_i", "linear_solver_persistent_i", NULL};
    cb_sb_line(sb, "// Newton's iteration on F(u) = 0 from the guess in u.");
    cb_sb_line(sb, "CB_DEVFN int cb_%snewton(const cb_nl *p, real *u, "
                   "int *counters, real *shared,", P);
    cb_sb_line(sb, "                          real *persistent, int *shared_i,"
                   " int *persistent_i)");
    cb_sb_line(sb, "{");
    cb_sb_indent(sb);
    cb_sb_line(sb, "(void)shared;");
    cb_sb_line(sb, "(void)persistent;");
    cb_sb_line(sb, "(void)shared_i;");
    cb_sb_line(sb, "(void)persistent_i;");
    for (int i = 0; bufs[i]; i++) {
        cubie_status st = cb_get_allocator(W, bufs[i], false, sb, err);
        if (st != CUBIE_OK) {
            return st;
        }
    }
    cb_sb_line(sb, "(void)trial;");
    lit(nk, 1e-16, l);
    lit(nk, 100.0 * sqrt(nk->dbl ? 2.220446049250313e-16 : 1.1920929e-7),
        eps_l);
    lit(nk, nk->dbl ? 2.220446049250313e-16 : 1.1920929e-7, l);
    cb_sb_line(sb, "// prev_theta holds the last solve's eta = theta / "
                   "(1 - theta).");
    cb_sb_line(sb, "const real eta_old = prev_theta[0] > (real)0 ? "
                   "prev_theta[0] : (real)1;");
    cb_sb_line(sb, "real eta = %s(%s(eta_old, %s), (real)0.8);",
               nk->dbl ? "pow" : "powf", fn(nk, "fmax"), l);
    cb_sb_line(sb, "real theta = eta / ((real)1 + eta);");
    cb_sb_line(sb, "real ndz_prev = (real)0;");
    cb_sb_line(sb, "int status = 0, converged = 0, it = 0;");
    cb_sb_line(sb, "const int max_it = (int)p->settings[CB_SET_NEWTON_MAX_ITERS];");
    cb_sb_line(sb, "const int max_bt = (int)p->settings[CB_SET_NEWTON_MAX_BACKTRACKS];");
    cb_sb_line(sb, "while (it < max_it) {");
    cb_sb_indent(sb);
    cb_sb_line(sb, "++it;");
    cb_sb_line(sb, "cb_%sresidual(p, u, stage_states, residual);", P);
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_line(sb, "    residual[k] = -residual[k];");
    cb_sb_line(sb, "    delta[k] = (real)0;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "krylov_iters_local[0] = 0;");
    cb_sb_line(sb, "const int lin = cb_%slinsolve(p, stage_states, residual, "
                   "delta, krylov_iters_local,", P);
    cb_sb_line(sb, "    linear_solver_shared, linear_solver_persistent,");
    cb_sb_line(sb, "    linear_solver_shared_i, linear_solver_persistent_i);");
    cb_sb_line(sb, "counters[1] += krylov_iters_local[0];");
    cb_sb_line(sb, "if (lin != 0) {");
    cb_sb_line(sb, "    status |= lin; // commit nothing from a failed solve");
    cb_sb_line(sb, "    break;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "real ndz = (real)0;");
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_indent(sb);
    cb_sb_line(sb, "const int i = k %% %d;", nk->n);
    cb_sb_line(sb, "const real sc = %s(p->settings[CB_SET_NEWTON_ATOL + i] +",
               fn(nk, "fmax"));
    cb_sb_line(sb, "    p->settings[CB_SET_NEWTON_RTOL + i] *");
    cb_sb_line(sb, "    %s(%s(stage_states[k]), %s(p->y_n[i])), %s);",
               fn(nk, "fmax"), fn(nk, "fabs"), fn(nk, "fabs"), l);
    cb_sb_line(sb, "const real q = delta[k] / sc;");
    cb_sb_line(sb, "ndz += q * q;");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    lit(nk, 1.0 / N, l);
    cb_sb_line(sb, "ndz = %s(ndz * %s);", fn(nk, "sqrt"), l);
    cb_sb_line(sb, "if (!cb_finite(ndz)) {");
    cb_sb_line(sb, "    status |= CB_RUN_NEWTON_DIVERGENCE;");
    cb_sb_line(sb, "    break;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "if (it > 1) {");
    lit(nk, 0.3, l);
    cb_sb_line(sb, "    theta = %s(%s * theta, ndz / ndz_prev);", fn(nk, "fmax"),
               l);
    cb_sb_line(sb, "    if (theta > (real)2) {");
    cb_sb_line(sb, "        status |= CB_RUN_NEWTON_DIVERGENCE;");
    cb_sb_line(sb, "        break;");
    cb_sb_line(sb, "    }");
    cb_sb_line(sb, "    eta = theta < (real)1 ? theta / ((real)1 - theta) : "
                   "(real)1e30;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "if (it > 1 && %s(theta - (real)1) <= %s) { // stagnation",
               fn(nk, "fabs"), eps_l);
    cb_sb_line(sb, "    if (ndz <= (real)1) {");
    cb_sb_line(sb, "        converged = 1;");
    cb_sb_line(sb, "    } else {");
    cb_sb_line(sb, "        status |= CB_RUN_NEWTON_DIVERGENCE;");
    cb_sb_line(sb, "    }");
    cb_sb_line(sb, "    break;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "real lambda = (real)1;");
    cb_sb_line(sb, "if (max_bt > 0) {");
    cb_sb_indent(sb);
    cb_sb_line(sb, "// Damped backtracking: shorten the step until the "
                   "residual falls.");
    cb_sb_line(sb, "real f0, f1;");
    emit_fnorm(nk, sb, "residual", "f0");
    cb_sb_line(sb, "for (int b = 0; b <= max_bt; ++b) {");
    cb_sb_indent(sb);
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_line(sb, "    trial[k] = u[k] + lambda * delta[k];");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "cb_%sresidual(p, trial, stage_states, residual);", P);
    emit_fnorm(nk, sb, "residual", "f1");
    cb_sb_line(sb, "if (f1 < f0 || b == max_bt) {");
    cb_sb_line(sb, "    break;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "lambda *= p->settings[CB_SET_NEWTON_DAMPING];");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_line(sb, "    u[k] += lambda * delta[k];");
    cb_sb_line(sb, "}");
    lit(nk, 0.01, l);
    cb_sb_line(sb, "if ((theta < (real)1 && eta * ndz < %s) ||", l);
    lit(nk, 1e-5, l);
    cb_sb_line(sb, "    (it == 1 && ndz < %s)) {", l);
    cb_sb_line(sb, "    converged = 1;");
    cb_sb_line(sb, "    break;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "ndz_prev = ndz;");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "counters[0] += it;");
    cb_sb_line(sb, "if (!converged && status == 0) {");
    cb_sb_line(sb, "    status |= CB_RUN_MAX_NEWTON_ITERS;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "prev_theta[0] = converged ? eta : (real)1;");
    cb_sb_line(sb, "return converged ? 0 : status;");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_puts(sb, "\n");
    return CUBIE_OK;
}

cubie_status cb_nk_emit(cb_nk *nk, cb_sb *sb, cubie_error *err)
{
    emit_states(nk, sb);
    emit_residual(nk, sb);
    emit_operator(nk, sb);
    emit_precond(nk, sb);
    cubie_status st = emit_linsolve(nk, sb, err);
    if (st == CUBIE_OK && nk->newton) {
        st = emit_newton(nk, sb, err);
    }
    return st;
}
