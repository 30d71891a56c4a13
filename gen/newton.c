/* The implicit solve of a step: its nonlinear problem and Newton's
 * iteration, over the Krylov solver of gen/krylov.c with the
 * preconditioner of gen/precond.c. Matrix-free throughout: J v comes from
 * the symbolic cb_jvp (gen/rhs.c), never a dense Jacobian.
 *
 * For a problem with prefix P and N unknowns (N = n, or s n coupled):
 *   cb_Pstates(p, u, Y)          stage states from the unknowns
 *   cb_Presidual(p, u, Y, out)   F(u) = beta u - gamma h f(t, Y(u))
 *   cb_Poperator(p, Y, v, out)   (beta I - gamma h (A x J(Y))) v
 *   cb_Pnewton(p, u, counters, pools)   returns status bits
 * p is a `const cb_nl *`: the stage base, the step's start state, the
 * parameters, the drivers' coefficients, settings, t, h and the
 * diagonal coefficient a.
 *
 * Newton's rules are the original's (cubie's newton_krylov.py): the
 * correction norm scales by natol + nrtol max(|Y|, |y_n|); contraction
 * theta = max(0.3 theta_prev, ndz / ndz_prev) within a solve; accept
 * when eta ndz < 0.01 with eta = theta / (1 - theta) (theta < 1), or on
 * the first iteration when ndz < 1e-5. The first iteration has no
 * contraction yet: it uses eta_old^0.8 from the previous solve
 * (persistent; 1 at first and after a failure), as OrdinaryDiffEq's
 * NLNewton does, so that a run of one-iteration solves drifts back
 * towards checking the contraction; divergence when theta > 2 or the norm
 * is not finite; stagnation (|theta - 1| <= 100 sqrt(eps)) converges when
 * ndz <= 1 and fails otherwise; the correction is committed only when the
 * linear solve succeeded. Optional damped backtracking
 * (newton_max_backtracks > 0): the step is scaled by newton_damping until
 * the residual norm falls. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ctx.h"
#include "krylov.h"
#include "rk.h"

#define P c->nk.prefix

/* linear_correction_type=auto's rule: the direct solve (lu) where the
 * largest system it factors has at most this many unknowns, where it
 * costs no more than BiCGSTAB's iterations and needs no tolerance or cap
 * (tools/bench/bench_stiff: as fast on HIRES radau_iia_5's 24, faster
 * below); above it bicgstab, whose matrix-free iterations do not grow
 * with N^2 memory and N^3 work. A one-stage problem factors its n
 * states; a coupled (FIRK) one its s n unknowns, or under
 * jacobian_update=step, when A diagonalises, one n x n block per
 * eigenvalue (gen/eig.h): POLLU's 20 states with radau_iia_5 then run
 * 3.75x faster on lu than on bicgstab (bench_stiff problems=pollution). */
#define CB_LU_AUTO_MAX 24

cb_choice cb_nk_linear_for(const cb_ctx *c, int stages, bool blocks)
{
    const cb_choice lin = cb_opt_choice(c->opt,
                                        CB_OPT_LINEAR_CORRECTION_TYPE);
    if (lin != CB_LINEAR_AUTO) {
        return lin;
    }
    const int n = c->sys->n_states;
    const bool split = blocks && cb_nk_jacobian_for(c, n, stages) ==
                                     CB_JACOBIAN_STEP;
    return (split ? n : n * stages) <= CB_LU_AUTO_MAX ? CB_LINEAR_LU
                                                      : CB_LINEAR_BICGSTAB;
}

/* jacobian_update=auto's rule: one Jacobian and one factorisation per
 * step for a coupled (FIRK) problem, whose factorisation then falls
 * apart into one n x n system per eigenvalue of A (gen/eig.h), and for a
 * one-stage problem from this many unknowns on, where the O(n^3)
 * factorisation outweighs the extra iterations of simplified Newton
 * (about 1.65x Newton's on the four stiff problems); below it, Newton's
 * method with the matrix at every iterate. tools/bench/bench_stiff,
 * float64 rtol 1e-6: one-stage kvaerno5 is 1.1x faster that way on HIRES
 * (8 unknowns), 1.2-1.5x slower with 2 and 3 (README "Stiff defaults"). */
#define CB_LU_STEP_MIN 12

cb_choice cb_nk_jacobian_for(const cb_ctx *c, int n, int stages)
{
    const cb_choice j = cb_opt_choice(c->opt, CB_OPT_JACOBIAN_UPDATE);
    if (j != CB_JACOBIAN_AUTO) {
        return j;
    }
    return stages > 1 || n >= CB_LU_STEP_MIN ? CB_JACOBIAN_STEP
                                             : CB_JACOBIAN_ITERATION;
}

void cb_nk_setup(cb_ctx *c, const char *prefix, int stages,
                 const double *A, const double *cnodes)
{
    cb_nk *nk = &c->nk;
    nk->prefix = prefix;
    nk->n = c->sys->n_states;
    nk->stages = stages;
    nk->A = A;
    nk->c = cnodes;
    nk->newton = cb_families[c->method->family].newton;
    const bool blocks = stages > 1 && cb_eig_decompose(A, stages, &nk->eig);
    nk->lin = cb_nk_linear_for(c, stages, blocks);
    nk->pre = cb_opt_choice(c->opt, CB_OPT_PRECONDITIONER_TYPE);
    if (nk->lin == CB_LINEAR_LU) {
        nk->pre = CB_PRECOND_NONE; /* a direct solve needs none */
    }
    nk->lu_step = nk->lin == CB_LINEAR_LU &&
                  (!nk->newton || cb_nk_jacobian_for(c, nk->n, stages) ==
                                      CB_JACOBIAN_STEP);
    nk->lu_eig = nk->lu_step && blocks;
    nk->filter_block = -1;
    nk->pre_order = (int)cb_opt_num(c->opt, CB_OPT_PRECONDITIONER_ORDER);
}

static int N_of(const cb_nk *nk)
{
    return nk->n * nk->stages;
}

/* ---- the problem's struct and the step's lines that fill it ---- */

void cb_nk_emit_struct(const cb_ctx *c, cb_sb *sb)
{
    cb_sb_line(sb, "// One implicit solve: Y = base + a u (coupled: Y_i = "
                   "base +");
    cb_sb_line(sb, "// sum_j A_ij u_j at t + c_i h), norms against y_n.");
    cb_sb_line(sb, "typedef struct {");
    cb_sb_line(sb, "    const real *base;");
    cb_sb_line(sb, "    const real *y_n;");
    if (cb_rhs_reads(c, "parameters")) {
        cb_sb_line(sb, "    const real *parameters;");
    }
    if (cb_rhs_reads(c, "driver_coeffs")) {
        cb_sb_line(sb, "    const real *driver_coeffs;");
    }
    cb_sb_line(sb, "    const real *settings;");
    if (cb_rhs_reads(c, "t")) {
        cb_sb_line(sb, "    real t;");
    }
    cb_sb_line(sb, "    real h;");
    cb_sb_line(sb, "    real a;");
    cb_sb_line(sb, "} cb_nl;");
    cb_sb_puts(sb, "\n");
}

void cb_nk_emit_setup(const cb_ctx *c, cb_sb *sb)
{
    cb_sb_line(sb, "counters[%d] = 0;", CB_COUNTER_NEWTON);
    cb_sb_line(sb, "counters[%d] = 0;", CB_COUNTER_KRYLOV);
    cb_sb_line(sb, "int status = 0;");
    cb_sb_line(sb, "cb_nl p;");
    cb_sb_line(sb, "p.y_n = state;");
    if (cb_rhs_reads(c, "parameters")) {
        cb_sb_line(sb, "p.parameters = parameters;");
    }
    if (cb_rhs_reads(c, "driver_coeffs")) {
        cb_sb_line(sb, "p.driver_coeffs = driver_coeffs;");
    }
    cb_sb_line(sb, "p.settings = settings;");
    cb_sb_line(sb, "p.h = dt;");
}

/* `p.t = <t>;` when the solve reads time. */
void cb_nk_emit_time(const cb_ctx *c, cb_sb *sb, const char *t)
{
    if (cb_rhs_reads(c, "t")) {
        cb_sb_line(sb, "p.t = %s;", t);
    }
}

static const char *const pools_bind[] = {
    "p",        "&p",
    "shared",   "solver_shared",
    "persistent", "solver_persistent",
    "shared_i", "solver_shared_i",
    "persistent_i", "solver_persistent_i",
};

void cb_nk_emit_newton_call(const cb_ctx *c, cb_sb *sb, const char *u)
{
    const char *bind[16];
    memcpy(bind, pools_bind, sizeof(pools_bind));
    int n = (int)(sizeof(pools_bind) / sizeof(pools_bind[0]));
    bind[n++] = "u";
    bind[n++] = u;
    bind[n] = NULL;
    cb_sb_puts(sb, "status |= ");
    cb_fn_call(&c->nk.newton_fn, sb, bind);
    cb_sb_puts(sb, ";\n");
}

/* The step's pools for its calls of a linear solver: the solver's
 * (Rosenbrock-W, whose solver it is) or, for the step's own second
 * problem (cb_ctx.step_nk, cb_nk.step_solves), its "step_solver" child's. */
static const char *const step_pools_bind[] = {
    "p",        "&p",
    "shared",   "step_solver_shared",
    "persistent", "step_solver_persistent",
    "shared_i", "step_solver_shared_i",
    "persistent_i", "step_solver_persistent_i",
};

/* `<lhs>f(<the step's pools>, <the pairs in args>);` for a function of
 * the current problem called from the step. */
static void step_call(const cb_ctx *c, cb_sb *sb, const char *lhs,
                      const cb_fn *f, const char *const *args)
{
    const char *bind[24];
    memcpy(bind, c->nk.step_solves ? step_pools_bind : pools_bind,
           sizeof(pools_bind));
    int n = (int)(sizeof(pools_bind) / sizeof(pools_bind[0]));
    while (*args != NULL && n < 22) {
        bind[n++] = *args++;
    }
    bind[n] = NULL;
    cb_sb_puts(sb, lhs);
    cb_fn_call(f, sb, bind);
    cb_sb_puts(sb, ";\n");
}

void cb_nk_emit_linsolve_call(const cb_ctx *c, cb_sb *sb, const char *lhs,
                              const char *Y, const char *b, const char *x,
                              const char *iters)
{
    const char *const args[] = {"Y", Y, "b", b, "x", x, "iters", iters,
                                NULL};
    step_call(c, sb, lhs, &c->nk.linsolve, args);
}

void cb_nk_emit_factor_call(const cb_ctx *c, cb_sb *sb, const char *Y,
                            const char *t)
{
    if (c->nk.lu_step) {
        const char *const args[] = {"Y", Y, "tJ", t, NULL};
        step_call(c, sb, "", &c->nk.factor, args);
    }
}

void cb_nk_emit_block_solve_call(const cb_ctx *c, cb_sb *sb,
                                 const char *lhs, const char *b,
                                 const char *x, const char *iters)
{
    const char *const args[] = {"b", b, "x", x, "iters", iters, NULL};
    step_call(c, sb, lhs, &c->nk.filter_solve, args);
}

/* ---- the problem ---- */

/* Y from u: base + a u, or the coupled stage states. */
static void emit_states(cb_ctx *c, cb_sb *sb)
{
    const cb_nk *nk = &c->nk;
    const int n = nk->n, s = nk->stages;
    char l[48], name[64];
    cb_sb body;
    cb_sb_init(&body);
    body.indent = 1;
    cb_sb_line(&body, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_indent(&body);
    if (s == 1) {
        cb_sb_line(&body, "Y[i] = p->base[i] + p->a * u[i];");
    } else {
        for (int r = 0; r < s; r++) {
            cb_sb_printf(&body, "%s = p->base[i]", cb_rk_row("Y", r, n).at);
            for (int j = 0; j < s; j++) {
                double a = nk->A[r * s + j];
                if (a != 0.0) {
                    cb_lit(c, a, l);
                    cb_sb_printf(&body, " + %s * %s", l,
                                 cb_rk_row("u", j, n).at);
                }
            }
            cb_sb_puts(&body, ";\n");
        }
    }
    cb_sb_dedent(&body);
    cb_sb_line(&body, "}");
    static const char *const params[] = {"const cb_nl *p", "const real *u",
                                         "real *Y", NULL};
    snprintf(name, sizeof(name), "cb_%sstates", P);
    cb_fn_init(&c->nk.states, "void", name, params);
    cb_fn_define(&c->nk.states, sb, cb_sb_str(&body));
    sb->failed = sb->failed || body.failed;
    cb_sb_free(&body);
}

static void emit_residual(cb_ctx *c, cb_sb *sb)
{
    const cb_nk *nk = &c->nk;
    const int n = nk->n, s = nk->stages, N = N_of(nk);
    char l[48], name[64], t[64];
    cb_sb body;
    cb_sb_init(&body);
    body.indent = 1;
    cb_fn_call(&c->nk.states, &body, NULL);
    cb_sb_puts(&body, ";\n");
    for (int r = 0; r < s; r++) {
        if (s == 1) {
            cb_rhs_call(c, &body, CB_RHS_DXDT, "Y", NULL, "out", "p->t",
                        true);
        } else {
            cb_lit(c, nk->c[r], l);
            snprintf(t, sizeof(t), "p->t + %s * p->h", l);
            cb_rhs_call(c, &body, CB_RHS_DXDT, cb_rk_row("Y", r, n).ptr,
                        NULL, cb_rk_row("out", r, n).ptr, t, true);
        }
    }
    cb_sb_line(&body, "const real beta = p->settings[CB_SET_BETA];");
    cb_sb_line(&body, "const real gh = p->settings[CB_SET_GAMMA] * p->h;");
    cb_sb_line(&body, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_line(&body, "    out[k] = beta * u[k] - gh * out[k];");
    cb_sb_line(&body, "}");
    static const char *const params[] = {"const cb_nl *p", "const real *u",
                                         "real *Y", "real *out", NULL};
    snprintf(name, sizeof(name), "cb_%sresidual", P);
    cb_fn_init(&c->nk.residual, "void", name, params);
    cb_sb_line(sb, "// F(u) = beta u - gamma h f(t, Y(u)); Y is left in Y.");
    cb_fn_define(&c->nk.residual, sb, cb_sb_str(&body));
    sb->failed = sb->failed || body.failed;
    cb_sb_free(&body);
}

/* (beta I - gamma h (A x J)) v: per stage r, beta v_r - gamma h J(Y_r)
 * sum_j a_rj v_j (single stage: a v). */
static void emit_operator(cb_ctx *c, cb_sb *sb)
{
    const cb_nk *nk = &c->nk;
    const int n = nk->n, s = nk->stages;
    char l[48], name[64], t[64];
    cb_sb body;
    cb_sb_init(&body);
    body.indent = 1;
    cb_sb_line(&body, "const real beta = p->settings[CB_SET_BETA];");
    cb_sb_line(&body, "const real gh = p->settings[CB_SET_GAMMA] * p->h;");
    if (s == 1) {
        cb_rhs_call(c, &body, CB_RHS_JVP, "Y", "v", "out", "p->t", true);
        cb_sb_line(&body, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(&body, "    out[i] = beta * v[i] - gh * p->a * out[i];");
        cb_sb_line(&body, "}");
    } else {
        for (int r = 0; r < s; r++) {
            cb_sb_line(&body, "for (int i = 0; i < %d; ++i) {", n);
            cb_sb_indent(&body);
            cb_sb_puts(&body, "w[i] = ");
            bool any = false;
            for (int j = 0; j < s; j++) {
                double a = nk->A[r * s + j];
                if (a != 0.0) {
                    cb_lit(c, a, l);
                    cb_sb_printf(&body, "%s%s * %s", any ? " + " : "", l,
                                 cb_rk_row("v", j, n).at);
                    any = true;
                }
            }
            cb_sb_puts(&body, any ? ";\n" : "(real)0;\n");
            cb_sb_dedent(&body);
            cb_sb_line(&body, "}");
            cb_lit(c, nk->c[r], l);
            snprintf(t, sizeof(t), "p->t + %s * p->h", l);
            cb_rhs_call(c, &body, CB_RHS_JVP, cb_rk_row("Y", r, n).ptr, "w",
                        cb_rk_row("out", r, n).ptr, t, true);
            const cb_row o = cb_rk_row("out", r, n);
            cb_sb_line(&body, "for (int i = 0; i < %d; ++i) {", n);
            cb_sb_line(&body, "    %s = beta * %s - gh * %s;", o.at,
                       cb_rk_row("v", r, n).at, o.at);
            cb_sb_line(&body, "}");
        }
    }
    static const char *const params[] = {"const cb_nl *p", "const real *Y",
                                         "const real *v", "real *out",
                                         "real *w", NULL};
    snprintf(name, sizeof(name), "cb_%soperator", P);
    cb_fn_init(&c->nk.operator_, "void", name, params);
    cb_fn_define(&c->nk.operator_, sb, cb_sb_str(&body));
    sb->failed = sb->failed || body.failed;
    cb_sb_free(&body);
}

/* ---- Newton's iteration ---- */

static cubie_status newton_register(cb_ctx *c)
{
    cb_nk *nk = &c->nk;
    const cb_prec p = c->prec;
    const size_t N = (size_t)N_of(nk);
    char name[96];
    /* The linear solver first: Newton rolls it up. */
    CB_TRY(cb_comp_krylov.register_buffers(c));
    if (!nk->newton) {
        return CUBIE_OK;
    }
    snprintf(name, sizeof(name), "%snewton", P);
    CB_TRY(cb_registry_owner(c->reg, name, p, &nk->newton_owner, c->err));
    cb_owner *W = nk->newton_owner;
    CB_TRY(cb_register(W, "delta", N, CB_LOC_LOCAL, false, NULL, p, c->err));
    CB_TRY(cb_register(W, "residual", N, CB_LOC_LOCAL, false, NULL, p,
                       c->err));
    CB_TRY(cb_register(W, "stage_states", N, CB_LOC_LOCAL, false, NULL, p,
                       c->err));
    /* Only backtracking tries a step before taking it. */
    CB_TRY(cb_register(W, "trial", N, CB_LOC_LOCAL, false, NULL, p, c->err));
    CB_TRY(cb_register(W, "krylov_iters_local", 1, CB_LOC_LOCAL, false, NULL,
                       CB_PREC_I32, c->err));
    CB_TRY(cb_register(W, "prev_theta", 1, CB_LOC_LOCAL, true, NULL, p,
                       c->err));
    CB_TRY(cb_register_child(W, nk->linear_owner, "linear_solver", c->err));
    return CUBIE_OK;
}

/* The correction norm, with Newton's tolerances. Its scale is floored at
 * the precision's epsilon (the Krylov norm's at 1e-16): as it has always
 * been here; with the default newton_atol = atol / 10 = 1e-7 the floor
 * binds for float32 states near zero. */
static void emit_ndz(cb_ctx *c, cb_sb *sb, double eps)
{
    const cb_nk *nk = &c->nk;
    const int N = N_of(nk);
    char l[48];
    cb_lit(c, eps, l);
    cb_sb_line(sb, "real ndz = (real)0;");
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_indent(sb);
    cb_sb_line(sb, "const int i = k %% %d;", nk->n);
    cb_sb_line(sb, "const real sc = %s(p->settings[CB_SET_NEWTON_ATOL + i] +",
               cb_math(c, "fmax"));
    cb_sb_line(sb, "    p->settings[CB_SET_NEWTON_RTOL + i] *");
    cb_sb_line(sb, "    %s(%s(stage_states[k]), %s(p->y_n[i])), %s);",
               cb_math(c, "fmax"), cb_math(c, "fabs"), cb_math(c, "fabs"), l);
    cb_sb_line(sb, "const real q = delta[k] / sc;");
    cb_sb_line(sb, "ndz += q * q;");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_lit(c, 1.0 / N, l);
    cb_sb_line(sb, "ndz = %s(ndz * %s);", cb_math(c, "sqrt"), l);
}

/* Damped backtracking: shorten the step until the residual falls. */
static void emit_backtracking(cb_ctx *c, cb_sb *sb)
{
    const int N = N_of(&c->nk);
    const char *const trial_bind[] = {"u", "trial", "Y", "stage_states",
                                      "out", "residual", NULL};
    cb_sb_line(sb, "real lambda = (real)1;");
    cb_sb_line(sb, "if (max_bt > 0) {");
    cb_sb_indent(sb);
    cb_sb_line(sb, "// Damped backtracking: shorten the step until the "
                   "residual falls.");
    cb_sb_line(sb, "real f0, f1;");
    cb_krylov_emit_norm(c, sb, "residual", "f0", "NEWTON");
    cb_sb_line(sb, "for (int b = 0; b <= max_bt; ++b) {");
    cb_sb_indent(sb);
    cb_sb_line(sb, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_line(sb, "    trial[k] = u[k] + lambda * delta[k];");
    cb_sb_line(sb, "}");
    cb_fn_call(&c->nk.residual, sb, trial_bind);
    cb_sb_puts(sb, ";\n");
    cb_krylov_emit_norm(c, sb, "residual", "f1", "NEWTON");
    cb_sb_line(sb, "if (f1 < f0 || b == max_bt) {");
    cb_sb_line(sb, "    break;");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "lambda *= p->settings[CB_SET_NEWTON_DAMPING];");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
}

static cubie_status emit_newton(cb_ctx *c, cb_sb *sb)
{
    const int N = N_of(&c->nk);
    char l[48], eps_l[48], name[64];
    const double eps = c->dbl ? 2.220446049250313e-16 : 1.1920929e-7;
    const char *const res_bind[] = {"Y", "stage_states", "out", "residual",
                                    NULL};
    const char *const lin_bind[] = {
        "Y", "stage_states", "b", "residual", "x", "delta",
        "iters", "krylov_iters_local", "shared", "linear_solver_shared",
        "persistent", "linear_solver_persistent",
        "shared_i", "linear_solver_shared_i",
        "persistent_i", "linear_solver_persistent_i", NULL};
    cb_sb b;
    cb_sb_init(&b);
    b.indent = 1;
    cb_lit(c, 100.0 * sqrt(eps), eps_l);
    cb_lit(c, eps, l);
    cb_sb_line(&b, "// prev_theta holds the last solve's eta = theta / "
                   "(1 - theta).");
    cb_sb_line(&b, "const real eta_old = prev_theta[0] > (real)0 ? "
                   "prev_theta[0] : (real)1;");
    cb_sb_line(&b, "real eta = %s(%s(eta_old, %s), (real)0.8);",
               c->dbl ? "pow" : "powf", cb_math(c, "fmax"), l);
    cb_sb_line(&b, "real theta = eta / ((real)1 + eta);");
    cb_sb_line(&b, "real ndz_prev = (real)0;");
    cb_sb_line(&b, "int status = 0, converged = 0, it = 0;");
    cb_sb_line(&b, "const int max_it = (int)p->settings[CB_SET_NEWTON_MAX_"
                   "ITERS];");
    cb_sb_line(&b, "const int max_bt = (int)p->settings[CB_SET_NEWTON_MAX_"
                   "BACKTRACKS];");
    cb_sb_line(&b, "while (it < max_it) {");
    cb_sb_indent(&b);
    cb_sb_line(&b, "++it;");
    cb_fn_call(&c->nk.residual, &b, res_bind);
    cb_sb_puts(&b, ";\n");
    cb_sb_line(&b, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_line(&b, "    residual[k] = -residual[k];");
    cb_sb_line(&b, "    delta[k] = (real)0;");
    cb_sb_line(&b, "}");
    cb_sb_line(&b, "krylov_iters_local[0] = 0;");
    cb_sb_puts(&b, "const int lin = ");
    cb_fn_call(&c->nk.linsolve, &b, lin_bind);
    cb_sb_puts(&b, ";\n");
    cb_sb_line(&b, "counters[1] += krylov_iters_local[0];");
    cb_sb_line(&b, "if (lin != 0) {");
    cb_sb_line(&b, "    status |= lin; // commit nothing from a failed solve");
    cb_sb_line(&b, "    break;");
    cb_sb_line(&b, "}");
    emit_ndz(c, &b, eps);
    cb_sb_line(&b, "if (!cb_finite(ndz)) {");
    cb_sb_line(&b, "    status |= CB_RUN_NEWTON_DIVERGENCE;");
    cb_sb_line(&b, "    break;");
    cb_sb_line(&b, "}");
    cb_sb_line(&b, "if (it > 1) {");
    cb_lit(c, 0.3, l);
    cb_sb_line(&b, "    theta = %s(%s * theta, ndz / ndz_prev);",
               cb_math(c, "fmax"), l);
    cb_sb_line(&b, "    if (theta > (real)2) {");
    cb_sb_line(&b, "        status |= CB_RUN_NEWTON_DIVERGENCE;");
    cb_sb_line(&b, "        break;");
    cb_sb_line(&b, "    }");
    cb_sb_line(&b, "    eta = theta < (real)1 ? theta / ((real)1 - theta) : "
                   "(real)1e30;");
    cb_sb_line(&b, "}");
    cb_sb_line(&b, "if (it > 1 && %s(theta - (real)1) <= %s) { // stagnation",
               cb_math(c, "fabs"), eps_l);
    cb_sb_line(&b, "    if (ndz <= (real)1) {");
    cb_sb_line(&b, "        converged = 1;");
    cb_sb_line(&b, "    } else {");
    cb_sb_line(&b, "        status |= CB_RUN_NEWTON_DIVERGENCE;");
    cb_sb_line(&b, "    }");
    cb_sb_line(&b, "    break;");
    cb_sb_line(&b, "}");
    emit_backtracking(c, &b);
    cb_sb_line(&b, "for (int k = 0; k < %d; ++k) {", N);
    cb_sb_line(&b, "    u[k] += lambda * delta[k];");
    cb_sb_line(&b, "}");
    cb_lit(c, 0.01, l);
    cb_sb_line(&b, "if ((theta < (real)1 && eta * ndz < %s) ||", l);
    cb_lit(c, 1e-5, l);
    cb_sb_line(&b, "    (it == 1 && ndz < %s)) {", l);
    cb_sb_line(&b, "    converged = 1;");
    cb_sb_line(&b, "    break;");
    cb_sb_line(&b, "}");
    cb_sb_line(&b, "ndz_prev = ndz;");
    cb_sb_dedent(&b);
    cb_sb_line(&b, "}");
    cb_sb_line(&b, "counters[0] += it;");
    cb_sb_line(&b, "if (!converged && status == 0) {");
    cb_sb_line(&b, "    status |= CB_RUN_MAX_NEWTON_ITERS;");
    cb_sb_line(&b, "}");
    cb_sb_line(&b, "prev_theta[0] = converged ? eta : (real)1;");
    cb_sb_line(&b, "return converged ? 0 : status;");
    static const char *const params[] = {
        "const cb_nl *p", "real *u", "int *counters", "real *shared",
        "real *persistent", "int *shared_i", "int *persistent_i", NULL};
    snprintf(name, sizeof(name), "cb_%snewton", P);
    cb_fn_init(&c->nk.newton_fn, "int", name, params);
    cb_sb_line(sb, "// Newton's iteration on F(u) = 0 from the guess in u.");
    cubie_status st = cb_define(c, &c->nk.newton_fn, c->nk.newton_owner,
                                cb_sb_str(&b), sb);
    if (st == CUBIE_OK && b.failed) {
        st = cb_fail_nomem(c->err);
    }
    cb_sb_free(&b);
    return st;
}

/* lu under Newton: cb_P<name>, which hands the linear solver's function
 * inner its slices of Newton's pools (the other arguments pass through),
 * for the step to call: cb_Pfactor, and cb_Pfilter_solve for RADAU5's
 * error filter (cb_nk.filter_block). */
static cubie_status emit_newton_wrapper(cb_ctx *c, cb_sb *sb,
                                        const cb_fn *inner, cb_fn *outer,
                                        const char *name,
                                        const char *const *params)
{
    cb_nk *nk = &c->nk;
    static const char *const lin_bind[] = {
        "shared", "linear_solver_shared",
        "persistent", "linear_solver_persistent",
        "shared_i", "linear_solver_shared_i",
        "persistent_i", "linear_solver_persistent_i", NULL};
    char full[64];
    const bool value = strcmp(inner->ret, "void") != 0;
    cb_sb b;
    cb_sb_init(&b);
    b.indent = 1;
    cb_sb_puts(&b, value ? "return " : "");
    cb_fn_call(inner, &b, lin_bind);
    cb_sb_puts(&b, ";\n");
    snprintf(full, sizeof(full), "cb_%s%s", P, name);
    cb_fn_init(outer, inner->ret, full, params);
    cubie_status st = cb_define(c, outer, nk->newton_owner, cb_sb_str(&b),
                                sb);
    if (st == CUBIE_OK && b.failed) {
        st = cb_fail_nomem(c->err);
    }
    cb_sb_free(&b);
    return st;
}

static cubie_status emit_newton_factor(cb_ctx *c, cb_sb *sb)
{
    static const char *const params[] = {
        "const cb_nl *p", "const real *Y", "real tJ", "real *shared",
        "real *persistent", "int *shared_i", "int *persistent_i", NULL};
    CB_TRY(emit_newton_wrapper(c, sb, &c->nk.lu_factor, &c->nk.factor,
                               "factor", params));
    if (c->nk.filter_block < 0) {
        return CUBIE_OK;
    }
    static const char *const solve_params[] = {
        "const real *b", "real *x", "int *iters", "real *shared",
        "real *persistent", "int *shared_i", "int *persistent_i", NULL};
    return emit_newton_wrapper(c, sb, &c->nk.block_solve,
                               &c->nk.filter_solve, "filter_solve",
                               solve_params);
}

static cubie_status newton_emit(cb_ctx *c, cb_sb *sb)
{
    emit_states(c, sb);
    emit_residual(c, sb);
    emit_operator(c, sb);
    CB_TRY(cb_comp_precond.emit(c, sb));
    CB_TRY(cb_comp_krylov.emit(c, sb));
    if (c->nk.newton) {
        CB_TRY(emit_newton(c, sb));
        if (c->nk.lu_step) {
            CB_TRY(emit_newton_factor(c, sb));
        }
    }
    return sb->failed ? cb_fail_nomem(c->err) : CUBIE_OK;
}

/* ---- the step's own linear problem (cb_ctx.step_nk) ---- */

/* step_nk as the current problem between enter and leave, which keeps
 * what the emitters wrote into it (its owner, its functions). */
static cb_nk step_enter(cb_ctx *c)
{
    const cb_nk main_nk = c->nk;
    c->nk = c->step_nk;
    return main_nk;
}

static void step_leave(cb_ctx *c, const cb_nk *main_nk)
{
    c->step_nk = c->nk;
    c->nk = *main_nk;
}

void cb_nk_step_setup(cb_ctx *c, const char *prefix)
{
    const cb_nk main_nk = step_enter(c);
    cb_nk_setup(c, prefix, 1, NULL, NULL);
    c->nk.newton = false;
    c->nk.lu_step = c->nk.lin == CB_LINEAR_LU;
    c->nk.step_solves = true;
    step_leave(c, &main_nk);
}

cubie_status cb_nk_step_register(cb_ctx *c)
{
    if (c->step_nk.stages == 0) {
        return CUBIE_OK;
    }
    const cb_nk main_nk = step_enter(c);
    cubie_status st = cb_comp_krylov.register_buffers(c);
    if (st == CUBIE_OK) {
        st = cb_register_child(c->algo, c->nk.linear_owner, "step_solver",
                               c->err);
    }
    step_leave(c, &main_nk);
    return st;
}

cubie_status cb_nk_step_emit(cb_ctx *c, cb_sb *sb)
{
    if (c->step_nk.stages == 0) {
        return CUBIE_OK;
    }
    const cb_nk main_nk = step_enter(c);
    emit_operator(c, sb);
    cubie_status st = cb_comp_precond.emit(c, sb);
    if (st == CUBIE_OK) {
        st = cb_comp_krylov.emit(c, sb);
    }
    step_leave(c, &main_nk);
    return st == CUBIE_OK && sb->failed ? cb_fail_nomem(c->err) : st;
}

void cb_nk_step_linsolve_call(cb_ctx *c, cb_sb *sb, const char *lhs,
                              const char *Y, const char *b, const char *x,
                              const char *iters)
{
    const cb_nk main_nk = step_enter(c);
    cb_nk_emit_linsolve_call(c, sb, lhs, Y, b, x, iters);
    step_leave(c, &main_nk);
}

void cb_nk_step_factor_call(cb_ctx *c, cb_sb *sb, const char *Y,
                            const char *t)
{
    const cb_nk main_nk = step_enter(c);
    cb_nk_emit_factor_call(c, sb, Y, t);
    step_leave(c, &main_nk);
}

cubie_status cb_nk_register_solver(cb_ctx *c)
{
    CB_TRY(cb_comp_newton.register_buffers(c));
    CB_TRY(cb_nk_step_register(c));
    return cb_register_child(c->algo, c->nk.newton ? c->nk.newton_owner
                                                   : c->nk.linear_owner,
                             "solver", c->err);
}

cubie_status cb_nk_refresh(cb_ctx *c)
{
    if (c->step_nk.stages > 0) {
        CB_TRY(cb_register_child(c->algo, c->step_nk.linear_owner,
                                 "step_solver", c->err));
    }
    if (c->nk.newton_owner != NULL) {
        CB_TRY(cb_register_child(c->nk.newton_owner, c->nk.linear_owner,
                                 "linear_solver", c->err));
        return cb_register_child(c->algo, c->nk.newton_owner, "solver",
                                 c->err);
    }
    if (c->nk.linear_owner != NULL) {
        return cb_register_child(c->algo, c->nk.linear_owner, "solver",
                                 c->err);
    }
    return CUBIE_OK;
}

cubie_status cb_nk_emit_solver(cb_ctx *c, cb_sb *sb, bool dfdt)
{
    CB_TRY(cb_rhs_emit_derivatives(c, sb, cb_precond_needs_diag(c), dfdt));
    cb_nk_emit_struct(c, sb);
    return cb_comp_newton.emit(c, sb);
}

static cubie_status newton_resolve(cb_ctx *c)
{
    return cb_comp_precond.resolve(c);
}

cubie_status cb_nk_resolve_one_stage(cb_ctx *c)
{
    cb_nk_setup(c, "stage_", 1, NULL, NULL);
    return newton_resolve(c);
}

const cb_component cb_comp_newton = {
    .name = "newton",
    .resolve = newton_resolve,
    .register_buffers = newton_register,
    .emit = newton_emit,
};
