/* Runge-Kutta coefficients: one tableau type for every method of
 * methods.def (explicit, diagonally and fully implicit, Rosenbrock-W, and
 * the single-solve implicit methods). The coefficients live in
 * tableaus.c (explicit) and implicit_tableaus.c; names, families and
 * orders live in methods.def, which points at these.
 *
 * Explicit and implicit Runge-Kutta, stage i (zero-based) of a step from
 * (t, y) with size h:
 *     Y_i = y + h * sum_j a_ij f(t + c_j h, Y_j)      (j over all s stages)
 *     y_1 = y + h * sum_i b_i f(t + c_i h, Y_i)
 *     err = h * sum_i (b_i - b_hat_i) f(t + c_i h, Y_i)
 * An explicit tableau is strictly lower triangular; a DIRK solves its
 * stages one at a time (a zero diagonal entry makes that stage explicit);
 * a FIRK solves all stages together.
 *
 * Rosenbrock-W tableaus are in the transformed ("increment") form of
 * Hairer & Wanner, Solving ODEs II, sect. IV.7, eqs. (7.17)-(7.18), which
 * is the form the original's step uses. One step from (t, y) with size h;
 * J = df/dy(t, y) and f_t = df/dt(t, y) are evaluated once, at the start
 * of the step, and frozen. Every stage solves a linear system with the
 * same operator W = I - gamma h J:
 *   for i = 0 .. s-1:
 *     Y_i = y + sum_{j<i} a_ij u_j                     (stage state)
 *     T_i = t + c_i h                                  (stage time)
 *     (I - gamma h J) u_i = gamma h * ( f(T_i, Y_i)
 *                                       + (1/h) sum_{j<i} C_ij u_j
 *                                       + gamma_stages_i * h * f_t )
 *   y_1 = y + sum_i b_i u_i                             (solution)
 *   err = sum_i (b_i - b_hat_i) u_i                     (y_1 - y_hat_1)
 * The u_i are increments of the state (not derivatives). Relation to the
 * classical form of H-W (7.4) with coefficients alpha_ij, gamma_ij (lower
 * triangular, gamma_ii = gamma), b_cl: with G = (gamma_ij),
 * a = alpha G^-1, C = diag(1/gamma) - G^-1, b = b_cl G^-1,
 * b_hat = b_hat_cl G^-1; c_i = sum_j alpha_ij and gamma_stages_i =
 * sum_{j<=i} gamma_ij. Conversely G = (I/gamma - C)^-1, alpha = a G,
 * b_cl = b G: that is how the tests recover the classical coefficients to
 * check the order conditions of H-W Table IV.7.1. */
#ifndef CB_TABLEAUS_H
#define CB_TABLEAUS_H

#include <stdbool.h>

enum { CB_MAX_STAGES = 16 };

typedef struct {
    int stages;               /* s */
    const double *a;          /* s*s row-major */
    const double *b;          /* s */
    const double *b_hat;      /* s, or NULL without an embedded estimate */
    const double *c;          /* s */
    const double *C;          /* Rosenbrock-W: s*s strictly lower; else NULL */
    double gamma;             /* Rosenbrock-W: the diagonal of G */
    const double *gamma_stages; /* Rosenbrock-W: s weights of h f_t */
    /* FIRK: RADAU5's filtered error estimate (implicit_tableaus.c), the
     * s + 1 values g, e[s], or NULL (b_hat). */
    const double *filter;
    const char *description;  /* what the step does where it is not the
                               * generic step of its family, or "" */
    const char *source;       /* where the coefficients come from */
} cb_rk_tableau;

/* First same as last, the original's predicate: c[0] == 0, c[s-1] == 1,
 * row 0 of a all zero, row s-1 of a equal to b (s >= 2). */
bool cb_rk_fsal(const cb_rk_tableau *t);
/* Stiffly accurate: b equals the last row of a. */
bool cb_rk_stiffly_accurate(const cb_rk_tableau *t);
/* Explicit first stage: row 0 of a is all zero. */
bool cb_rk_explicit_first_stage(const cb_rk_tableau *t);
/* Index of the row of a equal to b (resp. b_hat), or -1. Rows equal
 * within 1e-15 relative. */
int cb_rk_b_row(const cb_rk_tableau *t);
int cb_rk_b_hat_row(const cb_rk_tableau *t);
/* Whether any Rosenbrock stage weighs the time derivative f_t. */
bool cb_rk_uses_time_derivative(const cb_rk_tableau *t);

/* The tableaus methods.def names (tableaus.c, implicit_tableaus.c). */
#define CB_TABLEAU_LIST(X)                                                \
    X(euler) X(heun21) X(ralston33) X(bs32) X(rk4) X(dp54) X(ck54)        \
    X(rkf45) X(dop853) X(tsit5) X(vern7) X(backwards_euler)               \
    X(backwards_euler_pc) X(crank_nicolson) X(implicit_midpoint)          \
    X(trapezoidal_dirk) X(sdirk22) X(lsdirk3) X(sdirk4) X(kvaerno3)       \
    X(kvaerno5) X(gl2) X(gl4) X(radau5) X(ros3p) X(rodas3p)               \
    X(rosenbrock23)
#define CB_X(n) extern const cb_rk_tableau cb_tab_##n;
CB_TABLEAU_LIST(CB_X)
#undef CB_X

#endif
