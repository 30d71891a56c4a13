/* Implicit steps: backward Euler (plain and with an explicit predictor),
 * Crank-Nicolson, DIRK, FIRK and Rosenbrock-W (cubie-features.md §2).
 * Each registers its buffers with the registry, rolls up its solver as a
 * child called "solver", and emits cb_step on top of the Newton-Krylov
 * functions of gen/newton.c. Every implicit stage is solved for its
 * increment u = h k (so a stiff stage's derivative is u / h, never
 * f(Y) re-evaluated: that would amplify the Newton error by the
 * stiffness). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "deriv.h"
#include "emit_internal.h"
#include "implicit_tableaus.h"

const char *cb_implicit_canonical(const char *name)
{
    const cb_special_method *sm = cb_special_find(name);
    if (sm != NULL) {
        return sm->name;
    }
    const cb_irk_tableau *t = cb_irk_find(name);
    if (t != NULL) {
        return t->name;
    }
    const cb_ros_tableau *r = cb_ros_find(name);
    if (r != NULL) {
        return r->name;
    }
    /* The original's bare family names pick its default method. */
    static const struct {
        const char *family, *method;
    } bare[] = {{"dirk", "l_stable_dirk_3"},
                {"firk", "firk_gauss_legendre_2"},
                {"rosenbrock", "ros3p"}};
    for (size_t i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
        if (strcasecmp(name, bare[i].family) == 0) {
            return bare[i].method;
        }
    }
    return NULL;
}

static cb_linear_kind linear_kind(const struct cubie_options *o)
{
    const char *t = cb_opt_text(o, CB_OPT_LINEAR_CORRECTION_TYPE);
    return strcmp(t, "bicgstab") == 0           ? CB_LIN_BICGSTAB
           : strcmp(t, "steepest_descent") == 0 ? CB_LIN_SD
                                                : CB_LIN_MR;
}

static cb_precond_kind precond_kind(const struct cubie_options *o)
{
    const char *t = cb_opt_text(o, CB_OPT_PRECONDITIONER_TYPE);
    return strcmp(t, "jacobi") == 0           ? CB_PRE_JACOBI
           : strcmp(t, "jacobi,neumann") == 0 ? CB_PRE_CHAINED
           : strcmp(t, "none") == 0           ? CB_PRE_NONE
                                              : CB_PRE_NEUMANN;
}

bool cb_implicit_resolve(cb_ctx *c, const char *name)
{
    const cb_special_method *sm = cb_special_find(name);
    if (sm != NULL) {
        c->family = strcmp(sm->name, "backwards_euler") == 0 ? CB_FAM_BE
                    : strcmp(sm->name, "backwards_euler_pc") == 0
                        ? CB_FAM_BEPC
                        : CB_FAM_CN;
        c->method = sm->name;
        c->has_estimate = cb_special_has_error_estimate(sm);
        /* Crank-Nicolson's estimate is its difference from backward
         * Euler: first order, like the other implicit estimates' orders. */
        c->order = c->has_estimate ? sm->error_order : sm->order;
        return true;
    }
    const char *canon = cb_implicit_canonical(name);
    const cb_irk_tableau *t = canon ? cb_irk_find(canon) : NULL;
    if (t != NULL) {
        c->family = t->family == CB_IMPLICIT_FIRK ? CB_FAM_FIRK : CB_FAM_DIRK;
        c->method = t->name;
        /* The controller's exponent follows the embedded estimate's order
         * where there is one: radau's estimate is second order, and its
         * error scales as h^3, not as the solution's h^6. */
        c->order = t->b_hat != NULL ? t->error_order : t->order;
        c->has_estimate = t->b_hat != NULL;
        c->itab = t;
        return true;
    }
    const cb_ros_tableau *r = canon ? cb_ros_find(canon) : NULL;
    if (r != NULL) {
        c->family = CB_FAM_ROS;
        c->method = r->name;
        c->order = r->b_hat != NULL ? r->error_order : r->order;
        c->has_estimate = r->b_hat != NULL;
        c->itab = r;
        return true;
    }
    return false;
}

/* The solve's problem: one stage of n unknowns for these families. */
static void setup_nk(cb_ctx *c)
{
    cb_nk *nk = &c->nk;
    nk->prefix = "stage_";
    nk->dbl = c->dbl;
    nk->n = c->sys->n_states;
    nk->stages = 1;
    nk->newton = c->family != CB_FAM_ROS;
    if (c->family == CB_FAM_FIRK) {
        const cb_irk_tableau *t = c->itab;
        nk->prefix = "firk_";
        nk->stages = t->stages;
        nk->A = t->a;
        nk->c = t->c;
    }
    nk->lin = linear_kind(c->opt);
    nk->pre = precond_kind(c->opt);
    nk->pre_order = (int)cb_opt_num(c->opt, CB_OPT_PRECONDITIONER_ORDER);
    nk->reg = c->reg;
}

cubie_status cb_implicit_register(cb_ctx *c)
{
    const cb_prec p = c->dbl ? CB_PREC_F64 : CB_PREC_F32;
    const size_t n = (size_t)c->sys->n_states;
    cubie_status st;
    if (cb_opt_num(c->opt, CB_OPT_PRECONDITIONER_ORDER) < 1 ||
        cb_opt_num(c->opt, CB_OPT_PRECONDITIONER_ORDER) > 32) {
        return cb_fail(c->err, CUBIE_E_OPTION, "preconditioner_order", 0,
                       "option preconditioner_order: %g is not in 1..32",
                       cb_opt_num(c->opt, CB_OPT_PRECONDITIONER_ORDER));
    }
    setup_nk(c);
    if ((st = cb_nk_register(&c->nk, c->err)) != CUBIE_OK) {
        return st;
    }
#define TRY(call)                        \
    do {                                 \
        if ((st = (call)) != CUBIE_OK) { \
            return st;                   \
        }                                \
    } while (0)
    cb_owner *A = c->algo;
    TRY(cb_register_child(A, c->nk.newton ? c->nk.newton_owner
                                          : c->nk.linear_owner,
                          "solver", c->err));
    if (c->family == CB_FAM_DIRK) {
        /* The buffer plan's DIRK: accumulator rows of sum_k a_jk h k_k, the
         * stage base aliasing them (a row is dead once its stage starts),
         * and the FSAL and warm-start caches aliasing the solver's
         * scratch, idle between the last solve of a step and the first
         * of the next. With the solver local they fall back to their own
         * persistent space. */
        const cb_irk_tableau *t = c->itab;
        TRY(cb_register(A, "accumulator", (size_t)(t->stages - 1) * n,
                        CB_LOC_LOCAL, false, NULL, p, c->err));
        TRY(cb_register(A, "stage_increment", n, CB_LOC_LOCAL, false, NULL, p,
                        c->err));
        TRY(cb_register(A, "stage_rhs", n, CB_LOC_LOCAL, false, NULL, p,
                        c->err));
        TRY(cb_register(A, "stage_base", n, CB_LOC_LOCAL, false,
                        t->stages > 1 ? "accumulator" : NULL, p, c->err));
        TRY(cb_register(A, "increment_cache", n, CB_LOC_LOCAL, true,
                        "solver_shared", p, c->err));
        TRY(cb_register(A, "rhs_cache", cb_irk_fsal(t) ? n : 0, CB_LOC_LOCAL,
                        true, "solver_shared", p, c->err));
        return CUBIE_OK;
    }
    if (c->family == CB_FAM_FIRK) {
        /* All stage increments, kept as the next step's first guess. */
        const cb_irk_tableau *t = c->itab;
        TRY(cb_register(A, "stage_increment", (size_t)t->stages * n,
                        CB_LOC_LOCAL, true, NULL, p, c->err));
        return CUBIE_OK;
    }
    if (c->family == CB_FAM_ROS) {
        const cb_ros_tableau *t = c->itab;
        bool has_ft = false;
        for (int i = 0; i < t->stages; i++) {
            has_ft = has_ft || t->gamma_stages[i] != 0.0;
        }
        TRY(cb_register(A, "stage_store", (size_t)t->stages * n, CB_LOC_LOCAL,
                        false, NULL, p, c->err));
        TRY(cb_register(A, "stage_state", n, CB_LOC_LOCAL, false, NULL, p,
                        c->err));
        TRY(cb_register(A, "stage_rhs", n, CB_LOC_LOCAL, false, NULL, p,
                        c->err));
        TRY(cb_register(A, "time_derivative", has_ft ? n : 0, CB_LOC_LOCAL,
                        false, NULL, p, c->err));
        /* Last step's first increment: the first Krylov guess. */
        TRY(cb_register(A, "stage_increment", n, CB_LOC_LOCAL, true,
                        "stage_store", p, c->err));
        return CUBIE_OK;
    }
    /* The unknown of the solve, and the last solve's increment: the next
     * solve's first guess (a warm start). */
    TRY(cb_register(A, "stage_increment", n, CB_LOC_LOCAL, false, NULL, p,
                    c->err));
    TRY(cb_register(A, "increment_cache", n, CB_LOC_LOCAL, true, NULL, p,
                    c->err));
    if (c->family == CB_FAM_CN) {
        /* f(y_n) is needed only to form the base: it may share the
         * solver's scratch, which is idle until the solve starts. */
        TRY(cb_register(A, "cn_base", n, CB_LOC_LOCAL, false, NULL, p,
                        c->err));
        TRY(cb_register(A, "cn_dxdt", n, CB_LOC_LOCAL, false, "solver_shared",
                        p, c->err));
        TRY(cb_register(A, "be_increment", n, CB_LOC_LOCAL, false, NULL, p,
                        c->err));
    }
#undef TRY
    return CUBIE_OK;
}

cubie_status cb_implicit_register_children(cb_ctx *c)
{
    cubie_status st = CUBIE_OK;
    if (c->nk.newton_owner != NULL) {
        st = cb_register_child(c->nk.newton_owner, c->nk.linear_owner,
                               "linear_solver", c->err);
        if (st == CUBIE_OK) {
            st = cb_register_child(c->algo, c->nk.newton_owner, "solver",
                                   c->err);
        }
    } else if (c->nk.linear_owner != NULL) {
        st = cb_register_child(c->algo, c->nk.linear_owner, "solver",
                               c->err);
    }
    return st;
}


static void lit(const cb_ctx *c, double v, char out[48])
{
    cb_real_literal(out, c->dbl, v);
}

static cubie_status emit_step_head(cb_ctx *c, cb_sb *sb, const char *what,
                                   const char *const *bufs)
{
    cb_sb_line(sb, "// Algorithm step: %s.", what);
    cb_emit_step_open(sb);
    static const char *const unused[] = {
        "shared", "persistent", "shared_i", "persistent_i", "observables",
        "error", "first_step", "accepted", "proposed_drivers",
        "proposed_observables", NULL};
    for (int i = 0; unused[i]; i++) {
        cb_sb_line(sb, "(void)%s;", unused[i]);
    }
    for (int i = 0; bufs[i]; i++) {
        cubie_status st = cb_get_allocator(c->algo, bufs[i], false, sb, c->err);
        if (st != CUBIE_OK) {
            return st;
        }
    }
    cb_sb_line(sb, "counters[0] = 0;");
    cb_sb_line(sb, "counters[1] = 0;");
    cb_sb_line(sb, "int status = 0;");
    cb_sb_line(sb, "cb_nl p;");
    cb_sb_line(sb, "p.y_n = state;");
    cb_sb_line(sb, "p.parameters = parameters;");
    cb_sb_line(sb, "p.drivers = drivers;");
    cb_sb_line(sb, "p.settings = settings;");
    cb_sb_line(sb, "p.h = dt;");
    return CUBIE_OK;
}

static void emit_solve(cb_sb *sb, const char *u)
{
    cb_sb_line(sb, "status |= cb_stage_newton(&p, %s, counters, solver_shared,"
                   " solver_persistent,", u);
    cb_sb_line(sb, "                          solver_shared_i, "
                   "solver_persistent_i);");
}

static void emit_firk_solve(cb_sb *sb, const char *u)
{
    cb_sb_line(sb, "status |= cb_firk_newton(&p, %s, counters, solver_shared,"
                   " solver_persistent,", u);
    cb_sb_line(sb, "                          solver_shared_i, "
                   "solver_persistent_i);");
}

static const char *const solver_pools[] = {
    "solver_shared", "solver_persistent", "solver_shared_i",
    "solver_persistent_i"};

static cubie_status emit_single(cb_ctx *c, cb_sb *sb)
{
    const int n = c->sys->n_states;
    char half[48];
    lit(c, 0.5, half);
    const char *bufs_be[] = {"stage_increment", "increment_cache",
                             solver_pools[0], solver_pools[1],
                             solver_pools[2], solver_pools[3], NULL};
    const char *bufs_cn[] = {"stage_increment", "increment_cache", "cn_base",
                             "cn_dxdt", "be_increment", solver_pools[0],
                             solver_pools[1], solver_pools[2],
                             solver_pools[3], NULL};
    cubie_status st;
    if (c->family == CB_FAM_CN) {
        st = emit_step_head(c, sb,
                            "crank_nicolson, order 2; the error is its "
                            "difference from a backward Euler step",
                            bufs_cn);
    } else {
        st = emit_step_head(c, sb,
                            c->family == CB_FAM_BE
                                ? "backwards_euler, order 1"
                                : "backwards_euler_pc, order 1, explicit "
                                  "Euler predictor",
                            bufs_be);
    }
    if (st != CUBIE_OK) {
        return st;
    }
    cb_sb_line(sb, "p.t = t + dt;");
    if (c->family == CB_FAM_BE) {
        /* y_{n+1} = y_n + u, u = h f(t + h, y_n + u); guess: the last u */
        cb_sb_line(sb, "p.base = state;");
        cb_sb_line(sb, "p.a = (real)1;");
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(sb, "    stage_increment[i] = increment_cache[i];");
        cb_sb_line(sb, "}");
        emit_solve(sb, "stage_increment");
    } else if (c->family == CB_FAM_BEPC) {
        /* Predictor: the explicit Euler increment h f(t, y_n). */
        cb_sb_line(sb, "p.base = state;");
        cb_sb_line(sb, "p.a = (real)1;");
        cb_sb_line(sb, "(void)increment_cache;");
        cb_sb_line(sb, "cb_dxdt(state, parameters, drivers, stage_increment, "
                       "t);");
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(sb, "    stage_increment[i] = dt * stage_increment[i];");
        cb_sb_line(sb, "}");
        emit_solve(sb, "stage_increment");
    } else {
        /* Crank-Nicolson: base = y + h/2 f(y), Y = base + u/2, u = h f(Y);
         * then backward Euler from y_n for the error estimate. */
        cb_sb_line(sb, "cb_dxdt(state, parameters, drivers, cn_dxdt, t);");
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(sb, "    cn_base[i] = state[i] + %s * dt * cn_dxdt[i];",
                   half);
        cb_sb_line(sb, "    stage_increment[i] = increment_cache[i];");
        cb_sb_line(sb, "}");
        cb_sb_line(sb, "p.base = cn_base;");
        cb_sb_line(sb, "p.a = %s;", half);
        emit_solve(sb, "stage_increment");
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(sb, "    proposed_state[i] = cn_base[i] + %s * "
                       "stage_increment[i];", half);
        cb_sb_line(sb, "    be_increment[i] = proposed_state[i] - state[i];");
        cb_sb_line(sb, "}");
        cb_sb_line(sb, "p.base = state;");
        cb_sb_line(sb, "p.a = (real)1;");
        emit_solve(sb, "be_increment");
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        if (c->n_error) {
            cb_sb_line(sb, "    error[i] = proposed_state[i] - (state[i] + "
                           "be_increment[i]);");
        }
        cb_sb_line(sb, "    increment_cache[i] = stage_increment[i];");
        cb_sb_line(sb, "}");
        cb_sb_line(sb, "return status;");
        cb_sb_dedent(sb);
        cb_sb_line(sb, "}");
        cb_sb_puts(sb, "\n");
        return CUBIE_OK;
    }
    cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_line(sb, "    proposed_state[i] = state[i] + stage_increment[i];");
    cb_sb_line(sb, "    increment_cache[i] = stage_increment[i];");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "return status;");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_puts(sb, "\n");
    return CUBIE_OK;
}


/* DIRK: stage by stage, each implicit stage solved for u_k = h k_k with
 * Y_k = base_k + a_kk u_k, base_k = y + sum_{j<k} a_kj u_j; explicit
 * stages (a_kk = 0) evaluate f; the first stage of an FSAL method reuses
 * the last stage of the previous accepted step. */
static cubie_status emit_dirk(cb_ctx *c, cb_sb *sb)
{
    const cb_irk_tableau *T = c->itab;
    const int s = T->stages, n = c->sys->n_states;
    const bool fsal = cb_irk_fsal(T);
    const int b_row = cb_irk_b_row(T);
    char what[160], l[48], tgt[64];
    snprintf(what, sizeof(what), "%s, %d stage%s, order %d (%s)", T->name, s,
             s == 1 ? "" : "s", T->order, T->source);
    const char *bufs[] = {"accumulator", "stage_increment", "stage_rhs",
                          "stage_base", "increment_cache", "rhs_cache",
                          solver_pools[0], solver_pools[1], solver_pools[2],
                          solver_pools[3], NULL};
    cubie_status st = emit_step_head(c, sb, what, bufs);
    if (st != CUBIE_OK) {
        return st;
    }
    cb_sb_line(sb, "(void)accumulator;");
    cb_sb_line(sb, "(void)rhs_cache;");
    double d[CB_MAX_STAGES];
    for (int k = 0; k < s; k++) {
        d[k] = T->b_hat && c->n_error ? T->b[k] - T->b_hat[k] : 0.0;
    }
    for (int k = 0; k < s; k++) {
        const double akk = T->a[k * s + k];
        cb_sb_line(sb, "// stage %d%s", k, akk == 0.0 ? " (explicit)" : "");
        /* base_k into stage_base (in place over a dead row). */
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        if (k == 0) {
            cb_sb_line(sb, "    stage_base[i] = state[i];");
        } else {
            cb_sb_line(sb, "    stage_base[i] = state[i] + accumulator[%d + i];",
                       (k - 1) * n);
        }
        cb_sb_line(sb, "}");
        if (akk == 0.0) {
            /* Explicit: h k_k = h f(t + c_k h, base_k). */
            if (k == 0 && fsal) {
                cb_sb_line(sb, "if (first_step || !accepted) {");
                cb_sb_line(sb, "    cb_dxdt(stage_base, parameters, drivers, "
                               "stage_rhs, t);");
                cb_sb_line(sb, "} else {");
                cb_sb_line(sb, "    for (int i = 0; i < %d; ++i) {", n);
                cb_sb_line(sb, "        stage_rhs[i] = rhs_cache[i];");
                cb_sb_line(sb, "    }");
                cb_sb_line(sb, "}");
            } else {
                lit(c, T->c[k], l);
                cb_sb_line(sb, "cb_dxdt(stage_base, parameters, drivers, "
                               "stage_rhs, t + %s * dt);", l);
            }
            cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
            cb_sb_line(sb, "    stage_increment[i] = dt * stage_rhs[i];");
            cb_sb_line(sb, "}");
        } else {
            lit(c, akk, l);
            cb_sb_line(sb, "p.base = stage_base;");
            cb_sb_line(sb, "p.a = %s;", l);
            lit(c, T->c[k], l);
            cb_sb_line(sb, "p.t = t + %s * dt;", l);
            cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
            cb_sb_line(sb, "    stage_increment[i] = increment_cache[i];");
            cb_sb_line(sb, "}");
            emit_solve(sb, "stage_increment");
            cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
            cb_sb_line(sb, "    increment_cache[i] = stage_increment[i];");
            cb_sb_line(sb, "}");
        }
        /* Accumulate u_k = h k_k into the later rows, the solution and the
         * error. */
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_indent(sb);
        cb_sb_line(sb, "const real u_i = stage_increment[i];");
        cb_sb_line(sb, "(void)u_i;");
        if (b_row < 0) {
            cb_emit_term(c, sb, "proposed_state[i]", k == 0, T->b[k], "u_i");
        }
        if (c->n_error) {
            cb_emit_term(c, sb, "error[i]", k == 0, d[k], "u_i");
        }
        for (int j = k + 1; j < s; j++) {
            snprintf(tgt, sizeof(tgt), "accumulator[%d + i]", (j - 1) * n);
            cb_emit_term(c, sb, tgt, k == 0, T->a[j * s + k], "u_i");
        }
        if (k == b_row) {
            /* Stiffly accurate: the solution is this stage's state. */
            lit(c, akk, l);
            cb_sb_line(sb, "proposed_state[i] = stage_base[i] + %s * u_i;", l);
        }
        cb_sb_dedent(sb);
        cb_sb_line(sb, "}");
    }
    if (b_row < 0 || c->n_error) {
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        if (b_row < 0) {
            cb_sb_line(sb, "    proposed_state[i] = state[i] + "
                           "proposed_state[i];");
        }
        cb_sb_line(sb, "}");
    }
    if (fsal) {
        /* The last stage's derivative u/h is the next step's first. */
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_line(sb, "    rhs_cache[i] = stage_increment[i] / dt;");
        cb_sb_line(sb, "}");
    }
    cb_sb_line(sb, "return status;");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_puts(sb, "\n");
    return CUBIE_OK;
}

/* FIRK: all stage increments U_i = h k_i solved together, Y_i = y +
 * sum_j a_ij U_j; the solution y + sum b_i U_i. */
static cubie_status emit_firk(cb_ctx *c, cb_sb *sb)
{
    const cb_irk_tableau *T = c->itab;
    const int s = T->stages, n = c->sys->n_states;
    char what[160];
    snprintf(what, sizeof(what), "%s, %d coupled stages, order %d (%s)",
             T->name, s, T->order, T->source);
    const char *bufs[] = {"stage_increment", solver_pools[0], solver_pools[1],
                          solver_pools[2], solver_pools[3], NULL};
    cubie_status st = emit_step_head(c, sb, what, bufs);
    if (st != CUBIE_OK) {
        return st;
    }
    cb_sb_line(sb, "p.base = state;");
    cb_sb_line(sb, "p.a = (real)1;");
    cb_sb_line(sb, "p.t = t;");
    cb_sb_line(sb, "// the previous step's increments are the first guess");
    emit_firk_solve(sb, "stage_increment");
    cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_indent(sb);
    /* Compensated (Kahan) summation of y + sum b_k U_k, as the original:
     * the increments are small against y. */
    cb_sb_line(sb, "real sum = state[i], comp = (real)0;");
    char l[48];
    for (int k = 0; k < s; k++) {
        if (T->b[k] != 0.0) {
            lit(c, T->b[k], l);
            cb_sb_line(sb, "{");
            cb_sb_line(sb, "    const real y_k = %s * stage_increment[%d + i] - "
                           "comp;", l, k * n);
            cb_sb_line(sb, "    const real t_k = sum + y_k;");
            cb_sb_line(sb, "    comp = (t_k - sum) - y_k;");
            cb_sb_line(sb, "    sum = t_k;");
            cb_sb_line(sb, "}");
        }
    }
    cb_sb_line(sb, "proposed_state[i] = sum;");
    if (c->n_error) {
        cb_sb_puts(sb, "error[i] = (real)0");
        for (int k = 0; k < s; k++) {
            double dk = T->b[k] - T->b_hat[k];
            if (dk != 0.0) {
                lit(c, dk, l);
                cb_sb_printf(sb, " + %s * stage_increment[%d + i]", l, k * n);
            }
        }
        cb_sb_puts(sb, ";\n");
    }
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "return status;");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_puts(sb, "\n");
    return CUBIE_OK;
}

/* Rosenbrock-W in the increment form of implicit_tableaus.h: one linear
 * solve per stage with the operator I - gamma h J(y_n), J frozen over the
 * step. */
static cubie_status emit_ros(cb_ctx *c, cb_sb *sb)
{
    const cb_ros_tableau *T = c->itab;
    const int s = T->stages, n = c->sys->n_states;
    char what[160], l[48], l2[48];
    snprintf(what, sizeof(what), "%s, %d stages, order %d (%s)", T->name, s,
             T->order, T->source);
    const char *bufs[] = {"stage_store", "stage_state", "stage_rhs",
                          "time_derivative", "stage_increment",
                          solver_pools[0], solver_pools[1], solver_pools[2],
                          solver_pools[3], NULL};
    cubie_status st = emit_step_head(c, sb, what, bufs);
    if (st != CUBIE_OK) {
        return st;
    }
    bool has_ft = false;
    for (int i = 0; i < s; i++) {
        has_ft = has_ft || T->gamma_stages[i] != 0.0;
    }
    cb_sb_line(sb, "(void)time_derivative;");
    cb_sb_line(sb, "int lin_iters = 0;");
    lit(c, T->gamma, l);
    cb_sb_line(sb, "p.base = state;");
    cb_sb_line(sb, "p.a = %s; // the operator I - gamma h J(y_n)", l);
    cb_sb_line(sb, "p.t = t;");
    if (has_ft) {
        cb_sb_line(sb, "cb_dfdt(state, parameters, drivers, t, "
                       "time_derivative);");
    }
    cb_sb_line(sb, "const real gh = %s * dt;", l);
    for (int k = 0; k < s; k++) {
        cb_sb_line(sb, "// stage %d", k);
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_indent(sb);
        cb_sb_puts(sb, "stage_state[i] = state[i]");
        for (int j = 0; j < k; j++) {
            double a = T->a[k * s + j];
            if (a != 0.0) {
                lit(c, a, l);
                cb_sb_printf(sb, " + %s * stage_store[%d + i]", l, j * n);
            }
        }
        cb_sb_puts(sb, ";\n");
        cb_sb_dedent(sb);
        cb_sb_line(sb, "}");
        lit(c, T->c[k], l);
        cb_sb_line(sb, "cb_dxdt(stage_state, parameters, drivers, stage_rhs, "
                       "t + %s * dt);", l);
        cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
        cb_sb_indent(sb);
        cb_sb_puts(sb, "real r = stage_rhs[i]");
        for (int j = 0; j < k; j++) {
            double cc = T->C[k * s + j];
            if (cc != 0.0) {
                lit(c, cc, l);
                cb_sb_printf(sb, " + %s / dt * stage_store[%d + i]", l, j * n);
            }
        }
        if (T->gamma_stages[k] != 0.0) {
            lit(c, T->gamma_stages[k], l2);
            cb_sb_printf(sb, " + %s * dt * time_derivative[i]", l2);
        }
        cb_sb_puts(sb, ";\n");
        cb_sb_line(sb, "stage_rhs[i] = gh * r;");
        /* First guess: last step's first increment, else the previous
         * stage's. */
        if (k == 0) {
            cb_sb_line(sb, "stage_store[i] = stage_increment[i];");
        } else {
            cb_sb_line(sb, "stage_store[%d + i] = stage_store[%d + i];",
                       k * n, (k - 1) * n);
        }
        cb_sb_dedent(sb);
        cb_sb_line(sb, "}");
        cb_sb_line(sb, "status |= cb_stage_linsolve(&p, state, stage_rhs, "
                       "stage_store + %d, &lin_iters,", k * n);
        cb_sb_line(sb, "                            solver_shared, "
                       "solver_persistent, solver_shared_i,");
        cb_sb_line(sb, "                            solver_persistent_i);");
        cb_sb_line(sb, "counters[1] += lin_iters;");
    }
    cb_sb_line(sb, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_indent(sb);
    cb_sb_puts(sb, "proposed_state[i] = state[i]");
    for (int k = 0; k < s; k++) {
        if (T->b[k] != 0.0) {
            lit(c, T->b[k], l);
            cb_sb_printf(sb, " + %s * stage_store[%d + i]", l, k * n);
        }
    }
    cb_sb_puts(sb, ";\n");
    if (c->n_error) {
        cb_sb_puts(sb, "error[i] = (real)0");
        for (int k = 0; k < s; k++) {
            double dk = T->b[k] - T->b_hat[k];
            if (dk != 0.0) {
                lit(c, dk, l);
                cb_sb_printf(sb, " + %s * stage_store[%d + i]", l, k * n);
            }
        }
        cb_sb_puts(sb, ";\n");
    }
    cb_sb_line(sb, "stage_increment[i] = stage_store[i];");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "return status;");
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_puts(sb, "\n");
    return CUBIE_OK;
}

cubie_status cb_implicit_emit(cb_ctx *c, cb_sb *sb)
{
    cubie_status st;
    if ((st = cb_emit_jvp(c->sys, c->dbl, sb, c->err)) != CUBIE_OK ||
        (st = cb_emit_jac_diag(c->sys, c->dbl, sb, c->err)) != CUBIE_OK ||
        (c->family == CB_FAM_ROS &&
         (st = cb_emit_dfdt(c->sys, c->dbl, sb, c->err)) != CUBIE_OK)) {
        return st;
    }
    cb_sb_puts(sb, "\n");
    cb_emit_nl_struct(sb);
    if ((st = cb_nk_emit(&c->nk, sb, c->err)) != CUBIE_OK) {
        return st;
    }
    switch (c->family) {
    case CB_FAM_BE:
    case CB_FAM_BEPC:
    case CB_FAM_CN:
        return emit_single(c, sb);
    case CB_FAM_DIRK:
        return emit_dirk(c, sb);
    case CB_FAM_FIRK:
        return emit_firk(c, sb);
    case CB_FAM_ROS:
        return emit_ros(c, sb);
    default:
        return cb_fail(c->err, CUBIE_E_CODEGEN, "algorithm", 0,
                       "no emitter for algorithm '%s'", c->method);
    }
}
