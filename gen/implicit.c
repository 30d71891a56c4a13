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

/* The single-solve methods, with the original's names. */
static const struct {
    const char *name;
    cb_family family;
    int order;
    bool has_estimate;
} special[] = {
    {"backwards_euler", CB_FAM_BE, 1, false},
    {"backwards_euler_pc", CB_FAM_BEPC, 1, false},
    {"crank_nicolson", CB_FAM_CN, 2, true},
};

const char *cb_implicit_canonical(const char *name)
{
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
        if (strcasecmp(name, special[i].name) == 0) {
            return special[i].name;
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
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
        if (strcasecmp(name, special[i].name) == 0) {
            c->family = special[i].family;
            c->method = special[i].name;
            c->order = special[i].order;
            c->has_estimate = special[i].has_estimate;
            return true;
        }
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
    nk->newton = true;
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
    TRY(cb_register_child(A, c->nk.newton_owner, "solver", c->err));
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
    char num[40];
    cb_format_double(num, fabs(v));
    snprintf(out, 48, "%s%s%s%s", v < 0 ? "(-" : "", num, c->dbl ? "" : "f",
             v < 0 ? ")" : "");
}

static cubie_status emit_step_head(cb_ctx *c, cb_sb *sb, const char *what,
                                   const char *const *bufs)
{
    cb_sb_line(sb, "// Algorithm step: %s.", what);
    cb_sb_line(sb, "CB_DEVFN int cb_step(const real *state, "
                   "real *proposed_state,");
    cb_sb_line(sb, "                     const real *parameters, "
                   "const real *drivers,");
    cb_sb_line(sb, "                     real *proposed_drivers, "
                   "real *observables,");
    cb_sb_line(sb, "                     real *proposed_observables, "
                   "real *error, real dt,");
    cb_sb_line(sb, "                     real t, int first_step, "
                   "int accepted, real *shared,");
    cb_sb_line(sb, "                     real *persistent, int *shared_i, "
                   "int *persistent_i,");
    cb_sb_line(sb, "                     int *counters, const real *settings)");
    cb_sb_line(sb, "{");
    cb_sb_indent(sb);
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

cubie_status cb_implicit_emit(cb_ctx *c, cb_sb *sb)
{
    cubie_status st;
    if ((st = cb_emit_jvp(c->sys, c->dbl, sb, c->err)) != CUBIE_OK ||
        (st = cb_emit_jac_diag(c->sys, c->dbl, sb, c->err)) != CUBIE_OK) {
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
    default:
        return cb_fail(c->err, CUBIE_E_CODEGEN, "algorithm", 0,
                       "no emitter for algorithm '%s'", c->method);
    }
}
