/* Matrix-free Newton-Krylov for the implicit methods (cubie-features.md
 * §3): one nonlinear problem per solve, its residual and linear operator
 * emitted from the method's data, a Krylov solver (minimal residual,
 * steepest descent or BiCGSTAB) with a preconditioner (Neumann series,
 * Jacobi, or the two chained) working on beta I - gamma h (A x J) without
 * forming it, and Newton's iteration with the original's convergence
 * rules. Newton is a child of the step and the linear solver a child of
 * Newton in the buffer registry.
 *
 * Emitted functions, for a problem with prefix P and N unknowns:
 *   P_states(p, u, Y)          stage states from the unknowns
 *   P_residual(p, u, Y, out)   F(u) = beta u - gamma h f(t, Y(u))
 *   P_operator(p, Y, v, out)   (beta I - gamma h (A x J(Y))) v
 *   P_precond(p, Y, v, out, ...)
 *   P_linsolve(p, Y, b, x, iters, pools)   returns status bits
 *   P_newton(p, u, counters, pools)        returns status bits
 * p is a `const cb_nl *` (templates: see emit_nl_struct): the stage base,
 * the step's start state, parameters, drivers, settings, t, h and the
 * diagonal coefficient a.
 */
#ifndef CB_NEWTON_H
#define CB_NEWTON_H

#include <stdbool.h>

#include "registry.h"
#include "util.h"

typedef enum { CB_LIN_MR, CB_LIN_SD, CB_LIN_BICGSTAB } cb_linear_kind;
typedef enum { CB_PRE_NONE, CB_PRE_NEUMANN, CB_PRE_JACOBI,
               CB_PRE_CHAINED } cb_precond_kind;

typedef struct {
    const char *prefix;      /* names the emitted functions and owners */
    bool dbl;
    int n;                   /* states */
    int stages;              /* 1: Y = base + a u; s > 1: coupled (FIRK) */
    const double *A;         /* stages x stages, coupled problems only */
    const double *c;         /* stage nodes, coupled problems only */
    bool newton;             /* false: the linear solver alone (Rosenbrock) */
    cb_linear_kind lin;
    cb_precond_kind pre;
    int pre_order;           /* Neumann terms */
    cb_registry *reg;
    cb_owner *newton_owner;  /* filled by cb_nk_register */
    cb_owner *linear_owner;
} cb_nk;

/* Register the Newton and linear-solver buffers (owners "<prefix>newton"
 * and "<prefix>linear_solver"); the caller rolls newton_owner (or, for a
 * linear-only problem, linear_owner) up into its own owner. */
cubie_status cb_nk_register(cb_nk *nk, cubie_error *err);

/* Emit the problem's functions, its linear solver and (if any) Newton. */
cubie_status cb_nk_emit(cb_nk *nk, cb_sb *sb, cubie_error *err);

/* The cb_nl struct every implicit function takes (emitted once). */
void cb_emit_nl_struct(cb_sb *sb);

#endif
