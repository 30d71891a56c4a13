/* The linear solve of the implicit steps: (beta I - gamma h (A x J)) x = b
 * by minimal residual, steepest descent or BiCGSTAB, preconditioned
 * (gen/precond.c), matrix-free (cb_Poperator of gen/newton.c), or by lu:
 * the matrix built from J's columns (a JVP with each unit vector) and
 * factored by Gaussian elimination with partial pivoting, either in each
 * solve at its iterate (Newton's method) or once per step with one J at
 * the step's start for every stage (cb_nk_emit_factor_call; simplified
 * Newton, and always for a Rosenbrock step), each solve then a pair of
 * triangular solves; no preconditioner, no tolerance (cubie's own; the
 * original has only the Krylov solvers; jacobian_update chooses). The rules
 * are the original's (cubie's linear_solver.py): the weighted mean-square
 * norm N(v) = mean (v_i / max(katol_i + krtol_i |ref_i|, 1e-16))^2 with
 * the step's start state as ref; tol = floor + reduction sqrt(N(b));
 * converged when N(r) <= tol^2; the initial residual is b - A x0.
 * BiCGSTAB breaks down when |rho| or |omega| falls below 1e-30 (float) /
 * 1e-200 (double). */
#include <stdio.h>

#include "krylov.h"
#include "rk.h"

#define P c->nk.prefix

static int N_of(const cb_nk *nk)
{
    return nk->n * nk->stages;
}

/* lu's buffers: the factored matrix (column-major, N x N) and its row
 * interchanges (N ints), persistent when the step factors once so that
 * the factorisation serves its later solves; a unit vector and a column
 * of J (n each). */
static cubie_status lu_register(cb_ctx *c)
{
    cb_nk *nk = &c->nk;
    const size_t N = (size_t)N_of(nk), n = (size_t)nk->n;
    const size_t s = (size_t)nk->stages;
    cb_owner *L = nk->linear_owner;
    if (nk->lu_eig) {
        /* one n x n block per eigenvalue (two rows for a pair), a pivot
         * row per block, and the transformed right side */
        const size_t blocks = (size_t)nk->eig.blocks;
        CB_TRY(cb_register(L, "lu_matrix", s * n * n, CB_LOC_LOCAL, true,
                           NULL, c->prec, c->err));
        CB_TRY(cb_buffer_rows(L, "lu_matrix", s, n * n, "lu_block_%d", 0,
                              c->err));
        CB_TRY(cb_register(L, "lu_pivot", blocks * n, CB_LOC_LOCAL, true,
                           NULL, CB_PREC_I32, c->err));
        CB_TRY(cb_buffer_rows(L, "lu_pivot", blocks, n, "lu_piv_%d", 0,
                              c->err));
        CB_TRY(cb_register(L, "lu_work", s * n, CB_LOC_LOCAL, false, NULL,
                           c->prec, c->err));
        CB_TRY(cb_buffer_rows(L, "lu_work", s, n, "lu_w_%d", 0, c->err));
    } else {
        CB_TRY(cb_register(L, "lu_matrix", N * N, CB_LOC_LOCAL, nk->lu_step,
                           NULL, c->prec, c->err));
        /* iteration: one elimination on matrix and right side, no
         * pivots kept */
        CB_TRY(cb_register(L, "lu_pivot", nk->lu_step ? N : 0, CB_LOC_LOCAL,
                           nk->lu_step, NULL, CB_PREC_I32, c->err));
    }
    CB_TRY(cb_register(L, "lu_unit", n, CB_LOC_LOCAL, false, NULL, c->prec,
                       c->err));
    CB_TRY(cb_register(L, "lu_column", n, CB_LOC_LOCAL, false, NULL,
                       c->prec, c->err));
    return CUBIE_OK;
}

static cubie_status krylov_register(cb_ctx *c)
{
    cb_nk *nk = &c->nk;
    const cb_prec p = c->prec;
    const size_t N = (size_t)N_of(nk), n = (size_t)nk->n;
    char name[96];
    snprintf(name, sizeof(name), "%slinear_solver", P);
    CB_TRY(cb_registry_owner(c->reg, name, p, &nk->linear_owner, c->err));
    cb_owner *L = nk->linear_owner;
    if (nk->lin == CB_LINEAR_LU) {
        return lu_register(c);
    }
    CB_TRY(cb_register(L, "lin_residual", N, CB_LOC_LOCAL, false, NULL, p,
                       c->err));
    CB_TRY(cb_register(L, "preconditioned_vec", N, CB_LOC_LOCAL, false, NULL,
                       p, c->err));
    CB_TRY(cb_register(L, "temp", N, CB_LOC_LOCAL, false, NULL, p, c->err));
    CB_TRY(cb_comp_precond.register_buffers(c));
    /* The coupled operator's sum over stages, sum_j a_ij v_j. */
    CB_TRY(cb_register(L, "coupling_scratch", nk->stages > 1 ? n : 0,
                       CB_LOC_LOCAL, false, NULL, p, c->err));
    const size_t bi = nk->lin == CB_LINEAR_BICGSTAB ? N : 0;
    CB_TRY(cb_register(L, "bicg_r0_hat", bi, CB_LOC_LOCAL, false, NULL, p,
                       c->err));
    CB_TRY(cb_register(L, "bicg_p", bi, CB_LOC_LOCAL, false, NULL, p,
                       c->err));
    CB_TRY(cb_register(L, "bicg_v", bi, CB_LOC_LOCAL, false, NULL, p,
                       c->err));
    return CUBIE_OK;
}

void cb_krylov_emit_norm(const cb_ctx *c, cb_sb *sb, const char *vec,
                         const char *into, const char *which)
{
    char l[48];
    cb_lit(c, 1e-16, l);
    cb_sb_line(sb, "%s = (real)0;", into);
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N_of(&c->nk));
    cb_sb_indent(sb);
    cb_sb_line(sb, "const int i = k %% %d;", c->nk.n);
    cb_sb_line(sb, "const real sc = %s(p->settings[CB_SET_%s_ATOL + i] + "
                   "p->settings[CB_SET_%s_RTOL + i] * %s(p->y_n[i]), %s);",
               cb_math(c, "fmax"), which, which, cb_math(c, "fabs"), l);
    cb_sb_line(sb, "const real q = %s[k] / sc;", vec);
    cb_sb_line(sb, "%s += q * q;", into);
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_lit(c, 1.0 / N_of(&c->nk), l);
    cb_sb_line(sb, "%s = %s * %s;", into, into, l);
}

static void emit_dot(const cb_ctx *c, cb_sb *sb, const char *a,
                     const char *b, const char *into)
{
    cb_sb_line(sb, "%s = (real)0;", into);
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N_of(&c->nk));
    cb_sb_line(sb, "    %s += %s[k] * %s[k];", into, a, b);
    cb_sb_line(sb, "}");
}

/* `cb_Pprecond(p, Y, v, preconditioned_vec, ...);` and
 * `cb_Poperator(p, Y, v2, out, coupling_scratch);` */
static void precond(const cb_ctx *c, cb_sb *sb, const char *v)
{
    const char *const bind[] = {"v", v, "out", "preconditioned_vec",
                                "scratch", "precond_scratch",
                                "chain", "chain_scratch",
                                "w", "coupling_scratch", NULL};
    cb_fn_call(&c->nk.precond, sb, bind);
    cb_sb_puts(sb, ";\n");
}

static void apply(const cb_ctx *c, cb_sb *sb, const char *v, const char *out)
{
    const char *const bind[] = {"v", v, "out", out, "w", "coupling_scratch",
                                NULL};
    cb_fn_call(&c->nk.operator_, sb, bind);
    cb_sb_puts(sb, ";\n");
}

/* x += coef z, r -= coef <dir> with z the preconditioned direction,
 * then the new residual norm nr. */
static void emit_update(const cb_ctx *c, cb_sb *sb, const char *coef,
                             const char *dir, const char *comment)
{
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N_of(&c->nk));
    cb_sb_line(sb, "    x[k] += %s * preconditioned_vec[k];", coef);
    cb_sb_line(sb, "    r[k] -= %s * %s[k];%s", coef, dir, comment);
    cb_sb_line(sb, "}");
    cb_krylov_emit_norm(c, sb, "r", "nr", "KRYLOV");
}

/* Minimal residual or steepest descent. */
static void emit_descent(const cb_ctx *c, cb_sb *sb)
{
    cb_sb_line(sb, "while (nr > tol2 && it < max_it) {");
    cb_sb_indent(sb);
    cb_sb_line(sb, "++it;");
    precond(c, sb, "r");
    apply(c, sb, "preconditioned_vec", "temp");
    if (c->nk.lin == CB_LINEAR_MINIMAL_RESIDUAL) {
        emit_dot(c, sb, "temp", "r", "dot1");
        emit_dot(c, sb, "temp", "temp", "dot2");
    } else {
        emit_dot(c, sb, "r", "preconditioned_vec", "dot1");
        emit_dot(c, sb, "temp", "preconditioned_vec", "dot2");
    }
    cb_sb_line(sb, "if (!(dot2 != (real)0) || !cb_finite(dot1 / dot2)) {");
    cb_sb_line(sb, "    break; // no progress possible along this "
                   "direction");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "const real alpha = dot1 / dot2;");
    emit_update(c, sb, "alpha", "temp", "");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
}

static void emit_bicgstab(const cb_ctx *c, cb_sb *sb)
{
    const int N = N_of(&c->nk);
    char tiny[48];
    cb_lit(c, c->dbl ? 1e-200 : 1e-30, tiny);
    const char *fabs_ = cb_math(c, "fabs");
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
    emit_dot(c, sb, "bicg_r0_hat", "r", "dot1");
    cb_sb_line(sb, "const real rho = dot1;");
    /* Written so that a NaN also counts as a breakdown. */
    cb_sb_line(sb, "if (!(%s(rho) >= %s) || !(%s(omega) >= %s)) {", fabs_,
               tiny, fabs_, tiny);
    cb_sb_line(sb, "    status |= CB_RUN_BICGSTAB_BREAKDOWN;");
    cb_sb_line(sb, "    break;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "const real bb = (rho / rho_prev) * (alpha / omega);");
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_line(sb, "    bicg_p[k] = r[k] + bb * (bicg_p[k] - omega * "
                   "bicg_v[k]);");
    cb_sb_line(sb, "}");
    precond(c, sb, "bicg_p");
    apply(c, sb, "preconditioned_vec", "bicg_v");
    emit_dot(c, sb, "bicg_r0_hat", "bicg_v", "dot2");
    cb_sb_line(sb, "if (!(%s(dot2) >= %s)) {", fabs_, tiny);
    cb_sb_line(sb, "    status |= CB_RUN_BICGSTAB_BREAKDOWN;");
    cb_sb_line(sb, "    break;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "alpha = rho / dot2;");
    emit_update(c, sb, "alpha", "bicg_v", " // r is s now");
    cb_sb_line(sb, "if (nr <= tol2) {");
    cb_sb_line(sb, "    break;");
    cb_sb_line(sb, "}");
    precond(c, sb, "r");
    apply(c, sb, "preconditioned_vec", "temp");
    emit_dot(c, sb, "temp", "r", "dot1");
    emit_dot(c, sb, "temp", "temp", "dot2");
    cb_sb_line(sb, "omega = dot2 != (real)0 ? dot1 / dot2 : (real)0;");
    cb_sb_line(sb, "if (!(%s(omega) >= %s)) {", fabs_, tiny);
    cb_sb_line(sb, "    status |= CB_RUN_BICGSTAB_BREAKDOWN;");
    cb_sb_line(sb, "    break;");
    cb_sb_line(sb, "}");
    emit_update(c, sb, "omega", "temp", "");
    cb_sb_line(sb, "rho_prev = rho;");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
}

/* The matrix M = beta I - gamma h (A x J) into lu_matrix, column-major
 * (M[i + j N] is row i, column j), from J's columns: J e_k into lu_column
 * fills column k of every block (r, j) with -gamma h a_rj J e_k (single
 * stage: a = p->a), beta on the diagonal. frozen: one J = J(tJ, Y) for
 * every stage (simplified Newton); else stage r's rows from J(Y_r) at
 * its own time. */
static void emit_lu_columns(const cb_ctx *c, cb_sb *sb, int r)
{
    const cb_nk *nk = &c->nk;
    const int n = nk->n, s = nk->stages, N = N_of(nk);
    char l[48];
    for (int j = 0; j < s; j++) {
        /* -gamma h a_rj J e_k, and beta where the diagonal is */
        char g[96] = "";
        if (s == 1) {
            snprintf(g, sizeof(g), " - gh * p->a * lu_column[i]");
        } else if (nk->A[r * s + j] != 0.0) {
            cb_lit(c, nk->A[r * s + j], l);
            snprintf(g, sizeof(g), " - gh * %s * lu_column[i]", l);
        }
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(sb, "    lu_matrix[%d + i + (%d + k) * %d] = %s%s;",
                   r * n, j * n, N,
                   r == j ? "(i == k ? beta : (real)0)" : "(real)0", g);
        cb_sb_line(sb, "}");
    }
}

static void emit_lu_matrix(const cb_ctx *c, cb_sb *sb, bool frozen)
{
    const cb_nk *nk = &c->nk;
    const int n = nk->n, s = nk->stages;
    char l[48], t[64];
    cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_line(sb, "    lu_unit[i] = (real)0;");
    cb_sb_line(sb, "}");
    for (int r = 0; r < (frozen ? 1 : s); r++) {
        cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", n);
        cb_sb_indent(sb);
        cb_sb_line(sb, "lu_unit[k] = (real)1;");
        if (frozen) {
            cb_rhs_call(c, sb, CB_RHS_JVP, "Y", "lu_unit", "lu_column", "tJ",
                        true);
        } else if (s == 1) {
            cb_rhs_call(c, sb, CB_RHS_JVP, "Y", "lu_unit", "lu_column",
                        "p->t", true);
        } else {
            cb_lit(c, nk->c[r], l);
            snprintf(t, sizeof(t), "p->t + %s * p->h", l);
            cb_rhs_call(c, sb, CB_RHS_JVP, cb_rk_row("Y", r, n).ptr,
                        "lu_unit", "lu_column", t, true);
        }
        cb_sb_line(sb, "lu_unit[k] = (real)0;");
        for (int q = frozen ? 0 : r; q < (frozen ? s : r + 1); q++) {
            emit_lu_columns(c, sb, q);
        }
        cb_sb_dedent(sb);
        cb_sb_line(sb, "}");
    }
}

/* CB_ROLLED before an elimination loop over n >= 8 rows: unrolled, such
 * loops multiply NVRTC's compile time and spill (radau_iia_5 on HIRES,
 * float64, sm_90: 1940 bytes of spill stores unrolled, 344 rolled);
 * smaller ones unroll into registers. */
static void rolled(cb_sb *sb, int n)
{
    if (n >= 8) {
        cb_sb_line(sb, "CB_ROLLED");
    }
}

/* Gaussian elimination with partial pivoting of the N x N column-major m
 * in place: U on and above the diagonal, step k's multipliers below it in
 * column k, its pivot row in piv[k]; rows are exchanged from column k on
 * only, so that the solve replays the elimination's operations on b in
 * their order. A zero or non-finite pivot fails: kept factors are marked
 * unusable (piv[0] = -1), so every solve from them fails
 * (CB_RUN_SINGULAR_MATRIX); else the solve returns that at once. With x
 * (factors not kept: one solve), the elimination works on x as it goes,
 * and neither pivots nor multipliers are stored. */
static void emit_lu_factor(const cb_ctx *c, cb_sb *sb, const char *m,
                           const char *pv, int N, bool kept, const char *x)
{
    const char *fabs_ = cb_math(c, "fabs");
    rolled(sb, N);
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_indent(sb);
    cb_sb_line(sb, "int piv = k;");
    cb_sb_line(sb, "real big = %s(%s[k + k * %d]);", fabs_, m, N);
    cb_sb_line(sb, "for (int i = k + 1; i < %d; ++i) {", N);
    cb_sb_line(sb, "    const real v = %s(%s[i + k * %d]);", fabs_, m, N);
    cb_sb_line(sb, "    if (v > big) {");
    cb_sb_line(sb, "        big = v;");
    cb_sb_line(sb, "        piv = i;");
    cb_sb_line(sb, "    }");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "if (!(big > (real)0) || !cb_finite(big)) {");
    if (kept) {
        cb_sb_line(sb, "    %s[0] = -1;", pv);
        cb_sb_line(sb, "    return;");
    } else {
        cb_sb_line(sb, "    return CB_RUN_SINGULAR_MATRIX;");
    }
    cb_sb_line(sb, "}");
    if (x == NULL) {
        cb_sb_line(sb, "%s[k] = piv;", pv);
    }
    cb_sb_line(sb, "if (piv != k) {");
    cb_sb_line(sb, "    for (int j = k; j < %d; ++j) {", N);
    cb_sb_line(sb, "        const real t = %s[k + j * %d];", m, N);
    cb_sb_line(sb, "        %s[k + j * %d] = %s[piv + j * %d];", m, N, m, N);
    cb_sb_line(sb, "        %s[piv + j * %d] = t;", m, N);
    cb_sb_line(sb, "    }");
    if (x != NULL) {
        cb_sb_line(sb, "    const real t = %s[k];", x);
        cb_sb_line(sb, "    %s[k] = %s[piv];", x, x);
        cb_sb_line(sb, "    %s[piv] = t;", x);
    }
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "const real inv = (real)1 / %s[k + k * %d];", m, N);
    cb_sb_line(sb, "for (int i = k + 1; i < %d; ++i) {", N);
    cb_sb_line(sb, "    const real f = %s[i + k * %d] * inv;", m, N);
    if (x == NULL) {
        cb_sb_line(sb, "    %s[i + k * %d] = f;", m, N);
    }
    cb_sb_line(sb, "    for (int j = k + 1; j < %d; ++j) {", N);
    cb_sb_line(sb, "        %s[i + j * %d] -= f * %s[k + j * %d];", m, N, m,
               N);
    cb_sb_line(sb, "    }");
    if (x != NULL) {
        cb_sb_line(sb, "    %s[i] -= f * %s[k];", x, x);
    }
    cb_sb_line(sb, "}");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
}

/* Back substitution x = U^-1 x. */
static void emit_lu_back(cb_sb *sb, const char *m, const char *x, int N)
{
    rolled(sb, N);
    cb_sb_line(sb, "for (int k = %d; k >= 0; --k) {", N - 1);
    cb_sb_line(sb, "    real sum = %s[k];", x);
    cb_sb_line(sb, "    for (int j = k + 1; j < %d; ++j) {", N);
    cb_sb_line(sb, "        sum -= %s[k + j * %d] * %s[j];", m, N, x);
    cb_sb_line(sb, "    }");
    cb_sb_line(sb, "    %s[k] = sum / %s[k + k * %d];", x, m, N);
    cb_sb_line(sb, "}");
}

/* x = m^-1 x in place from the factors: x's rows exchanged and
 * eliminated as the factorisation's were, then back substitution. */
static void emit_lu_solve(cb_sb *sb, const char *m, const char *pv,
                          const char *x, int N)
{
    rolled(sb, N);
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_indent(sb);
    cb_sb_line(sb, "const int piv = %s[k];", pv);
    cb_sb_line(sb, "if (piv != k) {");
    cb_sb_line(sb, "    const real t = %s[k];", x);
    cb_sb_line(sb, "    %s[k] = %s[piv];", x, x);
    cb_sb_line(sb, "    %s[piv] = t;", x);
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "for (int i = k + 1; i < %d; ++i) {", N);
    cb_sb_line(sb, "    %s[i] -= %s[i + k * %d] * %s[k];", x, m, N, x);
    cb_sb_line(sb, "}");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    emit_lu_back(sb, m, x, N);
}

/* The same for a complex matrix held as its real and imaginary parts
 * (mr, mi), pivoting on |re| + |im|. */
static void emit_clu_factor(const cb_ctx *c, cb_sb *sb, const char *mr,
                            const char *mi, const char *pv, int n)
{
    const char *fabs_ = cb_math(c, "fabs");
    rolled(sb, n);
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", n);
    cb_sb_indent(sb);
    cb_sb_line(sb, "int piv = k;");
    cb_sb_line(sb, "real big = %s(%s[k + k * %d]) + %s(%s[k + k * %d]);",
               fabs_, mr, n, fabs_, mi, n);
    cb_sb_line(sb, "for (int i = k + 1; i < %d; ++i) {", n);
    cb_sb_line(sb, "    const real v = %s(%s[i + k * %d]) + %s(%s[i + k * "
                   "%d]);", fabs_, mr, n, fabs_, mi, n);
    cb_sb_line(sb, "    if (v > big) {");
    cb_sb_line(sb, "        big = v;");
    cb_sb_line(sb, "        piv = i;");
    cb_sb_line(sb, "    }");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "if (!(big > (real)0) || !cb_finite(big)) {");
    cb_sb_line(sb, "    %s[0] = -1;", pv);
    cb_sb_line(sb, "    return;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "%s[k] = piv;", pv);
    cb_sb_line(sb, "if (piv != k) {");
    cb_sb_line(sb, "    for (int j = k; j < %d; ++j) {", n);
    cb_sb_line(sb, "        const real tr = %s[k + j * %d], ti = %s[k + j * "
                   "%d];", mr, n, mi, n);
    cb_sb_line(sb, "        %s[k + j * %d] = %s[piv + j * %d];", mr, n, mr, n);
    cb_sb_line(sb, "        %s[k + j * %d] = %s[piv + j * %d];", mi, n, mi, n);
    cb_sb_line(sb, "        %s[piv + j * %d] = tr;", mr, n);
    cb_sb_line(sb, "        %s[piv + j * %d] = ti;", mi, n);
    cb_sb_line(sb, "    }");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "// 1 / d, scaled by |re| + |im| against over- and "
                   "underflow");
    cb_sb_line(sb, "const real dr = %s[k + k * %d] / big, di = %s[k + k * "
                   "%d] / big;", mr, n, mi, n);
    cb_sb_line(sb, "const real dd = (dr * dr + di * di) * big;");
    cb_sb_line(sb, "const real ir = dr / dd, ii = -di / dd;");
    cb_sb_line(sb, "for (int i = k + 1; i < %d; ++i) {", n);
    cb_sb_indent(sb);
    cb_sb_line(sb, "const real ar = %s[i + k * %d], ai = %s[i + k * %d];", mr,
               n, mi, n);
    cb_sb_line(sb, "const real fr = ar * ir - ai * ii, fi = ar * ii + ai * "
                   "ir;");
    cb_sb_line(sb, "%s[i + k * %d] = fr;", mr, n);
    cb_sb_line(sb, "%s[i + k * %d] = fi;", mi, n);
    cb_sb_line(sb, "for (int j = k + 1; j < %d; ++j) {", n);
    cb_sb_line(sb, "    const real br = %s[k + j * %d], bi = %s[k + j * %d];",
               mr, n, mi, n);
    cb_sb_line(sb, "    %s[i + j * %d] -= fr * br - fi * bi;", mr, n);
    cb_sb_line(sb, "    %s[i + j * %d] -= fr * bi + fi * br;", mi, n);
    cb_sb_line(sb, "}");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
}

static void emit_clu_solve(const cb_ctx *c, cb_sb *sb, const char *mr,
                           const char *mi, const char *pv, const char *xr,
                           const char *xi, int n)
{
    const char *fabs_ = cb_math(c, "fabs");
    rolled(sb, n);
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", n);
    cb_sb_indent(sb);
    cb_sb_line(sb, "const int piv = %s[k];", pv);
    cb_sb_line(sb, "if (piv != k) {");
    cb_sb_line(sb, "    const real tr = %s[k], ti = %s[k];", xr, xi);
    cb_sb_line(sb, "    %s[k] = %s[piv];", xr, xr);
    cb_sb_line(sb, "    %s[k] = %s[piv];", xi, xi);
    cb_sb_line(sb, "    %s[piv] = tr;", xr);
    cb_sb_line(sb, "    %s[piv] = ti;", xi);
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "for (int i = k + 1; i < %d; ++i) {", n);
    cb_sb_line(sb, "    const real fr = %s[i + k * %d], fi = %s[i + k * %d];",
               mr, n, mi, n);
    cb_sb_line(sb, "    %s[i] -= fr * %s[k] - fi * %s[k];", xr, xr, xi);
    cb_sb_line(sb, "    %s[i] -= fr * %s[k] + fi * %s[k];", xi, xi, xr);
    cb_sb_line(sb, "}");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    rolled(sb, n);
    cb_sb_line(sb, "for (int k = %d; k >= 0; --k) {", n - 1);
    cb_sb_indent(sb);
    cb_sb_line(sb, "real sr = %s[k], si = %s[k];", xr, xi);
    cb_sb_line(sb, "for (int j = k + 1; j < %d; ++j) {", n);
    cb_sb_line(sb, "    const real ur = %s[k + j * %d], ui = %s[k + j * %d];",
               mr, n, mi, n);
    cb_sb_line(sb, "    sr -= ur * %s[j] - ui * %s[j];", xr, xi);
    cb_sb_line(sb, "    si -= ur * %s[j] + ui * %s[j];", xi, xr);
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "const real big = %s(%s[k + k * %d]) + %s(%s[k + k * "
                   "%d]);", fabs_, mr, n, fabs_, mi, n);
    cb_sb_line(sb, "const real dr = %s[k + k * %d] / big, di = %s[k + k * "
                   "%d] / big;", mr, n, mi, n);
    cb_sb_line(sb, "const real dd = (dr * dr + di * di) * big;");
    cb_sb_line(sb, "%s[k] = (sr * dr + si * di) / dd;", xr);
    cb_sb_line(sb, "%s[k] = (si * dr - sr * di) / dd;", xi);
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
}

/* ---- the transformed solve of a coupled problem (cb_nk.lu_eig) ----
 * With A = V diag(lambda) V^-1 (gen/eig.h) and one J for every stage,
 * M = (V x I) diag(beta I - gamma h lambda_k J) (V^-1 x I): block k is
 * an n x n real matrix (a real lambda_k) or a complex one (a pair, for
 * lambda_k with Im > 0; its conjugate's solution is the conjugate).
 * lu_matrix's rows lu_block_r: a real block one row, a pair two (real
 * and imaginary parts); lu_pivot's rows lu_piv_k; lu_work's rows lu_w_r
 * as lu_matrix's. */

/* The first row of block k in lu_matrix and lu_work. */
static int eig_row(const cb_eig *e, int k)
{
    int r = 0;
    for (int j = 0; j < k; j++) {
        r += e->pair[j] ? 2 : 1;
    }
    return r;
}

static void emit_eig_matrix(const cb_ctx *c, cb_sb *sb)
{
    const cb_nk *nk = &c->nk;
    const cb_eig *e = &nk->eig;
    const int n = nk->n;
    char l[48];
    cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_line(sb, "    lu_unit[i] = (real)0;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", n);
    cb_sb_indent(sb);
    cb_sb_line(sb, "lu_unit[k] = (real)1;");
    cb_rhs_call(c, sb, CB_RHS_JVP, "Y", "lu_unit", "lu_column", "tJ", true);
    cb_sb_line(sb, "lu_unit[k] = (real)0;");
    cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_indent(sb);
    for (int k = 0; k < e->blocks; k++) {
        const int r = eig_row(e, k);
        cb_lit(c, e->lam_re[k], l);
        cb_sb_line(sb, "lu_block_%d[i + k * %d] = (i == k ? beta : (real)0) "
                       "- gh * %s * lu_column[i];", r, n, l);
        if (e->pair[k]) {
            cb_lit(c, -e->lam_im[k], l);
            cb_sb_line(sb, "lu_block_%d[i + k * %d] = gh * %s * "
                           "lu_column[i];", r + 1, n, l);
        }
    }
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    for (int k = 0; k < e->blocks; k++) {
        char m[32], mi[32], pv[32];
        const int r = eig_row(e, k);
        snprintf(m, sizeof(m), "lu_block_%d", r);
        snprintf(mi, sizeof(mi), "lu_block_%d", r + 1);
        snprintf(pv, sizeof(pv), "lu_piv_%d", k);
        cb_sb_line(sb, "// block %d: lambda = %.17g%+.17gi", k, e->lam_re[k],
                   e->lam_im[k]);
        if (e->pair[k]) {
            emit_clu_factor(c, sb, m, mi, pv, n);
        } else {
            emit_lu_factor(c, sb, m, pv, n, true, NULL);
        }
    }
}

/* sum_j coef[j] b_j[i] into `lhs` (b_j = stage j's rows of vec). */
static void emit_stage_sum(const cb_ctx *c, cb_sb *sb, const char *lhs,
                           const double *coef, const char *vec)
{
    const int n = c->nk.n, s = c->nk.stages;
    char l[48];
    bool any = false;
    cb_sb_printf(sb, "%s", lhs);
    for (int j = 0; j < s; j++) {
        if (coef[j] != 0.0) {
            cb_lit(c, coef[j], l);
            cb_sb_printf(sb, "%s%s * %s[%d + i]", any ? " + " : "", l, vec,
                         j * n);
            any = true;
        }
    }
    cb_sb_puts(sb, any ? ";\n" : "(real)0;\n");
}

static void emit_eig_solve(const cb_ctx *c, cb_sb *sb)
{
    const cb_nk *nk = &c->nk;
    const cb_eig *e = &nk->eig;
    const int n = nk->n, s = nk->stages;
    char lhs[64];
    double col[CB_EIG_MAX];
    for (int k = 0; k < e->blocks; k++) {
        cb_sb_line(sb, "if (lu_piv_%d[0] < 0) {", k);
        cb_sb_line(sb, "    return CB_RUN_SINGULAR_MATRIX;");
        cb_sb_line(sb, "}");
    }
    cb_sb_line(sb, "// w = (V^-1 x I) b");
    cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_indent(sb);
    for (int k = 0; k < e->blocks; k++) {
        const int r = eig_row(e, k);
        snprintf(lhs, sizeof(lhs), "lu_w_%d[i] = ", r);
        emit_stage_sum(c, sb, lhs, e->vinv_re[k], "b");
        if (e->pair[k]) {
            snprintf(lhs, sizeof(lhs), "lu_w_%d[i] = ", r + 1);
            emit_stage_sum(c, sb, lhs, e->vinv_im[k], "b");
        }
    }
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    for (int k = 0; k < e->blocks; k++) {
        char m[32], mi[32], pv[32], w[32], wi[32];
        const int r = eig_row(e, k);
        snprintf(m, sizeof(m), "lu_block_%d", r);
        snprintf(mi, sizeof(mi), "lu_block_%d", r + 1);
        snprintf(pv, sizeof(pv), "lu_piv_%d", k);
        snprintf(w, sizeof(w), "lu_w_%d", r);
        snprintf(wi, sizeof(wi), "lu_w_%d", r + 1);
        if (e->pair[k]) {
            emit_clu_solve(c, sb, m, mi, pv, w, wi, n);
        } else {
            emit_lu_solve(sb, m, pv, w, n);
        }
    }
    cb_sb_line(sb, "// x = (V x I) z; a pair's z and its conjugate's add to "
                   "2 Re(v z)");
    cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_indent(sb);
    for (int r = 0; r < s; r++) {
        /* the terms as a sum over lu_work's rows */
        for (int k = 0, q = 0; k < e->blocks; k++) {
            col[q++] = e->pair[k] ? 2.0 * e->v_re[r][k] : e->v_re[r][k];
            if (e->pair[k]) {
                col[q++] = -2.0 * e->v_im[r][k];
            }
        }
        cb_sb_printf(sb, "x[%d + i] = ", r * n);
        bool any = false;
        char l[48];
        for (int q = 0; q < s; q++) {
            if (col[q] != 0.0) {
                cb_lit(c, col[q], l);
                cb_sb_printf(sb, "%s%s * lu_w_%d[i]", any ? " + " : "", l,
                             q);
                any = true;
            }
        }
        cb_sb_puts(sb, any ? ";\n" : "(real)0;\n");
    }
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
}

/* x = b, where a solve starts. */
static void copy_b(cb_sb *sb, int N)
{
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_line(sb, "    x[k] = b[k];");
    cb_sb_line(sb, "}");
}

/* Define cb_Plinsolve from body b (freed here) under the comment line
 * `// <what>`, over the one signature every linear solver shares. */
static cubie_status define_linsolve(cb_ctx *c, cb_sb *b, cb_sb *sb,
                                    const char *what)
{
    char name[64];
    static const char *const params[] = {
        "const cb_nl *p", "const real *Y", "const real *b", "real *x",
        "int *iters", "real *shared", "real *persistent", "int *shared_i",
        "int *persistent_i", NULL};
    snprintf(name, sizeof(name), "cb_%slinsolve", P);
    cb_fn_init(&c->nk.linsolve, "int", name, params);
    cb_sb_line(sb, "// %s", what);
    cubie_status st = cb_define(c, &c->nk.linsolve, c->nk.linear_owner,
                                cb_sb_str(b), sb);
    if (st == CUBIE_OK && b->failed) {
        st = cb_fail_nomem(c->err);
    }
    cb_sb_free(b);
    return st;
}

/* jacobian_update=iteration: build, factor and solve in each solve. */
static cubie_status lu_emit_newton(cb_ctx *c, cb_sb *sb)
{
    cb_sb b;
    cb_sb_init(&b);
    b.indent = 1;
    cb_sb_line(&b, "const real beta = p->settings[CB_SET_BETA];");
    cb_sb_line(&b, "const real gh = p->settings[CB_SET_GAMMA] * p->h;");
    emit_lu_matrix(c, &b, false);
    copy_b(&b, N_of(&c->nk));
    emit_lu_factor(c, &b, "lu_matrix", NULL, N_of(&c->nk), false, "x");
    emit_lu_back(&b, "lu_matrix", "x", N_of(&c->nk));
    cb_sb_line(&b, "*iters = 1;");
    cb_sb_line(&b, "return 0;");
    return define_linsolve(c, &b, sb,
                           "Solve (beta I - gamma h (A x J(Y))) x = b "
                           "directly: the matrix from J's\n// columns at "
                           "the iterate, Gaussian elimination with partial "
                           "pivoting (lu).");
}

/* Define cb_P<suffix> of the linear solver from body b (freed here). */
static cubie_status define_lu_fn(cb_ctx *c, cb_sb *sb, cb_fn *f,
                                 const char *ret, const char *suffix,
                                 const char *const *params, cb_sb *b)
{
    char name[64];
    snprintf(name, sizeof(name), "cb_%s%s", P, suffix);
    cb_fn_init(f, ret, name, params);
    cubie_status st = cb_define(c, f, c->nk.linear_owner, cb_sb_str(b), sb);
    if (st == CUBIE_OK && b->failed) {
        st = cb_fail_nomem(c->err);
    }
    cb_sb_free(b);
    return st;
}

/* The solve with one real block's factors, (beta I - gamma h lambda_k J)
 * x = b: RADAU5's error filter, whose matrix that block is
 * (cb_nk.filter_block). */
static cubie_status define_block_solve(cb_ctx *c, cb_sb *sb)
{
    cb_nk *nk = &c->nk;
    const int k = nk->filter_block, r = eig_row(&nk->eig, k);
    char m[32], pv[32];
    snprintf(m, sizeof(m), "lu_block_%d", r);
    snprintf(pv, sizeof(pv), "lu_piv_%d", k);
    cb_sb b;
    cb_sb_init(&b);
    b.indent = 1;
    cb_sb_line(&b, "if (%s[0] < 0) {", pv);
    cb_sb_line(&b, "    return CB_RUN_SINGULAR_MATRIX;");
    cb_sb_line(&b, "}");
    copy_b(&b, nk->n);
    emit_lu_solve(&b, m, pv, "x", nk->n);
    cb_sb_line(&b, "*iters = 1;");
    cb_sb_line(&b, "return 0;");
    static const char *const params[] = {
        "const real *b", "real *x", "int *iters", "real *shared",
        "real *persistent", "int *shared_i", "int *persistent_i", NULL};
    char l[48];
    cb_lit(c, nk->eig.lam_re[k], l);
    cb_sb_line(sb, "// Solve (beta I - gamma h %s J) x = b with block %d's "
                   "factors alone\n// (lu; RADAU5's error filter).", l, k);
    return define_lu_fn(c, sb, &nk->block_solve, "int", "block_solve",
                        params, &b);
}

static cubie_status lu_emit(cb_ctx *c, cb_sb *sb)
{
    cb_nk *nk = &c->nk;
    if (!nk->lu_step) {
        return lu_emit_newton(c, sb);
    }
    cb_sb b;
    cb_sb_init(&b);
    b.indent = 1;
    cb_sb_line(&b, "const real beta = p->settings[CB_SET_BETA];");
    cb_sb_line(&b, "const real gh = p->settings[CB_SET_GAMMA] * p->h;");
    if (nk->lu_eig) {
        emit_eig_matrix(c, &b);
    } else {
        emit_lu_matrix(c, &b, true);
        emit_lu_factor(c, &b, "lu_matrix", "lu_pivot", N_of(nk), true,
                       NULL);
    }
    static const char *const params[] = {
        "const cb_nl *p", "const real *Y", "real tJ", "real *shared",
        "real *persistent", "int *shared_i", "int *persistent_i", NULL};
    cb_sb_line(sb, "// Build beta I - gamma h (A x J(tJ, Y)) from J's columns "
                   "and factor it\n// (Gaussian elimination, partial "
                   "pivoting) for the solves that follow.");
    CB_TRY(define_lu_fn(c, sb, &nk->lu_factor, "void", "lu_factor", params,
                        &b));
    nk->factor = nk->lu_factor;
    cb_sb_init(&b);
    b.indent = 1;
    if (nk->lu_eig) {
        emit_eig_solve(c, &b);
    } else {
        cb_sb_line(&b, "if (lu_pivot[0] < 0) {");
        cb_sb_line(&b, "    return CB_RUN_SINGULAR_MATRIX;");
        cb_sb_line(&b, "}");
        copy_b(&b, N_of(nk));
        emit_lu_solve(&b, "lu_matrix", "lu_pivot", "x", N_of(nk));
    }
    cb_sb_line(&b, "*iters = 1;");
    cb_sb_line(&b, "return 0;");
    CB_TRY(define_linsolve(c, &b, sb,
                           "Solve (beta I - gamma h (A x J)) x = b with the "
                           "last factor call's\n// factors (lu)."));
    return nk->filter_block >= 0 ? define_block_solve(c, sb) : CUBIE_OK;
}

static cubie_status krylov_emit(cb_ctx *c, cb_sb *sb)
{
    if (c->nk.lin == CB_LINEAR_LU) {
        return lu_emit(c, sb);
    }
    const int N = N_of(&c->nk);
    const bool bicg = c->nk.lin == CB_LINEAR_BICGSTAB;
    cb_sb b;
    cb_sb_init(&b);
    b.indent = 1;
    cb_sb_line(&b, "real *r = lin_residual;");
    cb_sb_line(&b, "real nb, nr, dot1, dot2;");
    cb_krylov_emit_norm(c, &b, "b", "nb", "KRYLOV");
    cb_sb_line(&b, "const real tol = p->settings[CB_SET_KRYLOV_FLOOR] + "
                   "p->settings[CB_SET_KRYLOV_REDUCTION] * %s(nb);",
               cb_math(c, "sqrt"));
    cb_sb_line(&b, "const real tol2 = tol * tol;");
    apply(c, &b, "x", "temp");
    cb_sb_line(&b, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_line(&b, "    r[k] = b[k] - temp[k];");
    cb_sb_line(&b, "}");
    cb_krylov_emit_norm(c, &b, "r", "nr", "KRYLOV");
    cb_sb_line(&b, "const int max_it = (int)p->settings[CB_SET_KRYLOV_MAX_"
                   "ITERS];");
    cb_sb_line(&b, "int it = 0;");
    cb_sb_line(&b, "int status = 0;");
    if (bicg) {
        emit_bicgstab(c, &b);
    } else {
        emit_descent(c, &b);
    }
    cb_sb_line(&b, "*iters = it;");
    cb_sb_line(&b, "if (!(nr <= tol2) && status == 0) {");
    cb_sb_line(&b, "    status |= CB_RUN_MAX_LINEAR_ITERS;");
    cb_sb_line(&b, "}");
    cb_sb_line(&b, "return status;");
    char what[128];
    snprintf(what, sizeof(what),
             "Solve (beta I - gamma h (A x J)) x = b from the guess in x "
             "(%s).", bicg ? "BiCGSTAB"
             : c->nk.lin == CB_LINEAR_STEEPEST_DESCENT ? "steepest descent"
                                                      : "minimal residual");
    return define_linsolve(c, &b, sb, what);
}

const cb_component cb_comp_krylov = {
    .name = "krylov",
    .register_buffers = krylov_register,
    .emit = krylov_emit,
};
