/* Implicit method tables: the DIRK, FIRK and Rosenbrock-W tableaus of the
 * original (cubie's generic_dirk_tableaus.py, generic_firk_tableaus.py,
 * generic_rosenbrockw_tableaus.py) with its names, and the three
 * single-stage special methods (backwards_euler, backwards_euler_pc,
 * crank_nicolson). The coefficients live in implicit_tableaus.c; every
 * entry is checked in tests/test_implicit_tableaus.c.
 *
 * Names are looked up case-insensitively, by canonical name or alias. The
 * implicit names never collide with the explicit ones of tableaus.h. */
#ifndef CB_IMPLICIT_TABLEAUS_H
#define CB_IMPLICIT_TABLEAUS_H

#include <stdbool.h>

#include "tableaus.h" /* CB_MAX_STAGES */

typedef enum {
    CB_IMPLICIT_NONE = -1,   /* not an implicit method name */
    CB_IMPLICIT_DIRK = 0,    /* diagonally implicit RK: a_ij = 0 for j > i */
    CB_IMPLICIT_FIRK,        /* fully implicit RK: one coupled s*n system */
    CB_IMPLICIT_ROSENBROCK,  /* linearly implicit Rosenbrock(-W) */
    CB_IMPLICIT_SPECIAL,     /* backwards_euler, _pc, crank_nicolson */
} cb_implicit_family;

/* ------------------------------------------------------------------------
 * Implicit Runge-Kutta (DIRK and FIRK).
 *
 * Stage i (zero-based) of a step from (t, y) with size h:
 *     Y_i = y + h * sum_j a_ij f(t + c_j h, Y_j)      (j over all s stages)
 *     y_1 = y + h * sum_i b_i f(t + c_i h, Y_i)
 *     err = h * sum_i (b_i - b_hat_i) f(t + c_i h, Y_i)
 * A DIRK solves its stages one at a time (a zero diagonal entry makes that
 * stage explicit); a FIRK solves all stages together. */
typedef struct {
    const char *name;      /* canonical name, e.g. "l_stable_dirk_3" */
    const char *aliases;   /* space-separated other names, "" if none */
    cb_implicit_family family; /* CB_IMPLICIT_DIRK or CB_IMPLICIT_FIRK */
    int stages;            /* s */
    int order;             /* order of the solution weights b */
    int error_order;       /* order of the embedded weights b_hat; 0: none */
    const double *a;       /* s*s row-major, full (zero above the diagonal
                            * for a DIRK) */
    const double *b;       /* s */
    const double *b_hat;   /* s, or NULL without an error estimate */
    const double *c;       /* s */
    const char *source;    /* where the coefficients come from */
} cb_irk_tableau;

/* The DIRK tableaus, then the FIRK ones; terminated by name NULL. */
extern const cb_irk_tableau cb_irk_tableaus[];

/* By canonical name or alias, case-insensitive; NULL if unknown. */
const cb_irk_tableau *cb_irk_find(const char *name);
/* First same as last, the predicate of the original: c[0]==0, c[s-1]==1,
 * row 0 of a all zero, row s-1 of a equal to b (s >= 2). */
bool cb_irk_fsal(const cb_irk_tableau *t);
/* Stiffly accurate: b equals the last row of a, so the solution is the last
 * stage value (the original's b_matches_a_row for the last row). */
bool cb_irk_stiffly_accurate(const cb_irk_tableau *t);
/* Explicit first stage: row 0 of a is all zero (for a DIRK the same as
 * a[0][0] == 0); stage 0 is then f(t, y) and needs no solve. */
bool cb_irk_explicit_first_stage(const cb_irk_tableau *t);
/* Index of the row of a equal to b (resp. b_hat), or -1. Rows equal within
 * 1e-15 relative, as cb_erk_b_row. */
int cb_irk_b_row(const cb_irk_tableau *t);
int cb_irk_b_hat_row(const cb_irk_tableau *t);

/* ------------------------------------------------------------------------
 * Rosenbrock-W tableaus, in the transformed ("increment") form of Hairer &
 * Wanner, Solving ODEs II, sect. IV.7, eqs. (7.17)-(7.18), which is the form
 * the original's step uses. Everything below is zero-based; s stages.
 *
 * One step from (t, y) with size h. J = df/dy(t, y) and f_t = df/dt(t, y)
 * are evaluated once, at the start of the step, and frozen (J exact in the
 * original, so the Rosenbrock order conditions apply). Every stage solves a
 * linear system with the same operator W = I - gamma*h*J:
 *
 *   for i = 0 .. s-1:
 *     Y_i = y + sum_{j<i} a_ij u_j                     (stage state)
 *     T_i = t + c_i h                                  (stage time)
 *     (I - gamma h J) u_i = gamma h * ( f(T_i, Y_i)
 *                                       + (1/h) sum_{j<i} C_ij u_j
 *                                       + gamma_stages_i * h * f_t )
 *   y_1 = y + sum_i b_i u_i                             (solution, order)
 *   err = sum_i (b_i - b_hat_i) u_i                     (y_1 - y_hat_1)
 *
 * The u_i are increments of the state (not derivatives): no further
 * factor h appears in y_1 or err. Stage 0 has Y_0 = y and T_0 = t + c_0 h
 * (c_0 = 0 here). Dividing the stage equation by gamma*h gives H-W (7.17):
 * (I/(gamma h) - J) u_i = f(T_i, Y_i) + sum_j (C_ij/h) u_j
 *                          + gamma_stages_i h f_t.
 * When b equals row r of a (cb_ros_b_row), y_1 is the stage state Y_r.
 * f_t includes the drivers' time derivatives. (For M y' = f, H-W VI.4 and
 * SciML use the operator M - gamma h J and the couplings (1/h) M sum_j
 * C_ij u_j; the original's Rosenbrock step has M = I.)
 *
 * Relation to the classical form of H-W (7.4) with coefficients alpha_ij,
 * gamma_ij (lower triangular, gamma_ii = gamma), b_cl:  with
 * G = (gamma_ij), a = alpha G^-1, C = diag(1/gamma) - G^-1 (strictly lower
 * because all gamma_ii are equal), b = b_cl G^-1, b_hat = b_hat_cl G^-1;
 * c_i = sum_j alpha_ij and gamma_stages_i = sum_{j<=i} gamma_ij (the row
 * sums of G). Conversely G = (I/gamma - C)^-1, alpha = a G, b_cl = b G:
 * that is how the tests recover the classical coefficients to check the
 * order conditions of H-W Table IV.7.1. */
typedef struct {
    const char *name;
    const char *aliases;       /* space-separated, "" if none */
    int stages;                /* s */
    int order;                 /* order of b */
    int error_order;           /* order of b_hat; 0: none */
    const double *a;           /* s*s row-major, strictly lower */
    const double *C;           /* s*s row-major, strictly lower */
    const double *b;           /* s */
    const double *b_hat;       /* s, or NULL */
    double gamma;              /* the diagonal of G, shared by all stages */
    const double *gamma_stages;/* s: weights of h*f_t, row sums of G */
    const double *c;           /* s: stage time fractions */
    const char *source;
} cb_ros_tableau;

/* Terminated by name NULL. */
extern const cb_ros_tableau cb_ros_tableaus[];

const cb_ros_tableau *cb_ros_find(const char *name);
/* Index of the row of a equal to b (resp. b_hat): the solution (resp.
 * embedded solution) is that stage state, or -1. */
int cb_ros_b_row(const cb_ros_tableau *t);
int cb_ros_b_hat_row(const cb_ros_tableau *t);

/* ------------------------------------------------------------------------
 * Single-stage special methods, each a family of its own in the original.
 * h: step, u: the unknown increment of a nonlinear (Newton) solve.
 *   backwards_euler     solve u = h f(t+h, y+u); y_1 = y + u.
 *   backwards_euler_pc  the same, Newton started from the explicit-Euler
 *                       predictor u_0 = h f(t, y).
 *   crank_nicolson      y_1 = y + h/2 (f(t, y) + f(t+h, y_1)) by one solve;
 *                       a second, backward Euler, solve from y gives y_BE;
 *                       err = y_1 - y_BE (the estimate is first order). */
typedef struct {
    const char *name;
    const char *aliases;
    int order;
    int error_order;       /* order of the comparison solution; 0: none */
    int solves;            /* nonlinear solves per step */
    const char *description;
    const char *source;
} cb_special_method;

extern const cb_special_method cb_special_methods[];

const cb_special_method *cb_special_find(const char *name);
bool cb_special_has_error_estimate(const cb_special_method *m);

/* ------------------------------------------------------------------------
 * Families. */
/* The family of an implicit method name or alias; CB_IMPLICIT_NONE for
 * anything else (explicit names, bare family names, NULL). */
cb_implicit_family cb_implicit_family_of(const char *name);
/* The original's default method of a family ("l_stable_dirk_3",
 * "firk_gauss_legendre_2", "ros3p"); NULL for SPECIAL and NONE. */
const char *cb_implicit_default(cb_implicit_family family);
/* "dirk", "firk", "rosenbrock", "special"; NULL for NONE. */
const char *cb_implicit_family_name(cb_implicit_family family);

#endif
