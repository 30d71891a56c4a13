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
    cb_owner *L = nk->linear_owner;
    CB_TRY(cb_register(L, "lu_matrix", N * N, CB_LOC_LOCAL, nk->lu_step,
                       NULL, c->prec, c->err));
    CB_TRY(cb_register(L, "lu_pivot", N, CB_LOC_LOCAL, nk->lu_step, NULL,
                       CB_PREC_I32, c->err));
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

/* Gaussian elimination with partial pivoting of lu_matrix in place: U
 * on and above the diagonal, step k's multipliers below it in column k,
 * its pivot row in lu_pivot[k]; rows are exchanged from column k on only,
 * so that the solve replays the elimination's operations on b in their
 * order. A zero or non-finite pivot fails: kept factors are marked
 * unusable (lu_pivot[0] = -1), so every solve from them fails
 * (CB_RUN_SINGULAR_MATRIX); else the solve returns that at once. */
static void emit_lu_factor(const cb_ctx *c, cb_sb *sb, bool kept)
{
    const int N = N_of(&c->nk);
    const char *fabs_ = cb_math(c, "fabs");
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_indent(sb);
    cb_sb_line(sb, "int piv = k;");
    cb_sb_line(sb, "real big = %s(lu_matrix[k + k * %d]);", fabs_, N);
    cb_sb_line(sb, "for (int i = k + 1; i < %d; ++i) {", N);
    cb_sb_line(sb, "    const real v = %s(lu_matrix[i + k * %d]);", fabs_, N);
    cb_sb_line(sb, "    if (v > big) {");
    cb_sb_line(sb, "        big = v;");
    cb_sb_line(sb, "        piv = i;");
    cb_sb_line(sb, "    }");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "if (!(big > (real)0) || !cb_finite(big)) {");
    if (kept) {
        cb_sb_line(sb, "    lu_pivot[0] = -1;");
        cb_sb_line(sb, "    return;");
    } else {
        cb_sb_line(sb, "    return CB_RUN_SINGULAR_MATRIX;");
    }
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "lu_pivot[k] = piv;");
    cb_sb_line(sb, "if (piv != k) {");
    cb_sb_line(sb, "    for (int j = k; j < %d; ++j) {", N);
    cb_sb_line(sb, "        const real m = lu_matrix[k + j * %d];", N);
    cb_sb_line(sb, "        lu_matrix[k + j * %d] = lu_matrix[piv + j * %d];",
               N, N);
    cb_sb_line(sb, "        lu_matrix[piv + j * %d] = m;", N);
    cb_sb_line(sb, "    }");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "const real inv = (real)1 / lu_matrix[k + k * %d];", N);
    cb_sb_line(sb, "for (int i = k + 1; i < %d; ++i) {", N);
    cb_sb_line(sb, "    const real f = lu_matrix[i + k * %d] * inv;", N);
    cb_sb_line(sb, "    lu_matrix[i + k * %d] = f;", N);
    cb_sb_line(sb, "    for (int j = k + 1; j < %d; ++j) {", N);
    cb_sb_line(sb, "        lu_matrix[i + j * %d] -= f * lu_matrix[k + j * "
                   "%d];", N, N);
    cb_sb_line(sb, "    }");
    cb_sb_line(sb, "}");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
}

/* x = M^-1 b from the factors: b's rows exchanged and eliminated as the
 * factorisation's were, then back substitution. */
static void emit_lu_solve(const cb_ctx *c, cb_sb *sb, bool kept)
{
    const int N = N_of(&c->nk);
    if (kept) {
        cb_sb_line(sb, "if (lu_pivot[0] < 0) {");
        cb_sb_line(sb, "    return CB_RUN_SINGULAR_MATRIX;");
        cb_sb_line(sb, "}");
    }
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_line(sb, "    x[k] = b[k];");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_indent(sb);
    cb_sb_line(sb, "const int piv = lu_pivot[k];");
    cb_sb_line(sb, "if (piv != k) {");
    cb_sb_line(sb, "    const real m = x[k];");
    cb_sb_line(sb, "    x[k] = x[piv];");
    cb_sb_line(sb, "    x[piv] = m;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "for (int i = k + 1; i < %d; ++i) {", N);
    cb_sb_line(sb, "    x[i] -= lu_matrix[i + k * %d] * x[k];", N);
    cb_sb_line(sb, "}");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "for (int k = %d; k >= 0; --k) {", N - 1);
    cb_sb_line(sb, "    real sum = x[k];");
    cb_sb_line(sb, "    for (int j = k + 1; j < %d; ++j) {", N);
    cb_sb_line(sb, "        sum -= lu_matrix[k + j * %d] * x[j];", N);
    cb_sb_line(sb, "    }");
    cb_sb_line(sb, "    x[k] = sum / lu_matrix[k + k * %d];", N);
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
    emit_lu_factor(c, &b, false);
    emit_lu_solve(c, &b, false);
    cb_sb_line(&b, "*iters = 1;");
    cb_sb_line(&b, "return 0;");
    return define_linsolve(c, &b, sb,
                           "Solve (beta I - gamma h (A x J(Y))) x = b "
                           "directly: the matrix from J's\n// columns at "
                           "the iterate, Gaussian elimination with partial "
                           "pivoting (lu).");
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
    emit_lu_matrix(c, &b, true);
    emit_lu_factor(c, &b, true);
    static const char *const params[] = {
        "const cb_nl *p", "const real *Y", "real tJ", "real *shared",
        "real *persistent", "int *shared_i", "int *persistent_i", NULL};
    char name[64];
    snprintf(name, sizeof(name), "cb_%slu_factor", P);
    cb_fn_init(&nk->lu_factor, "void", name, params);
    cb_sb_line(sb, "// Build beta I - gamma h (A x J(tJ, Y)) from J's columns "
                   "and factor it\n// (Gaussian elimination, partial "
                   "pivoting) for the solves that follow.");
    cubie_status st = cb_define(c, &nk->lu_factor, nk->linear_owner,
                                cb_sb_str(&b), sb);
    if (st == CUBIE_OK && b.failed) {
        st = cb_fail_nomem(c->err);
    }
    cb_sb_free(&b);
    CB_TRY(st);
    nk->factor = nk->lu_factor;
    cb_sb_init(&b);
    b.indent = 1;
    emit_lu_solve(c, &b, true);
    cb_sb_line(&b, "*iters = 1;");
    cb_sb_line(&b, "return 0;");
    return define_linsolve(c, &b, sb,
                           "Solve (beta I - gamma h (A x J)) x = b with the "
                           "last factor call's\n// factors (lu).");
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
