/* Symbolic derivatives of a system's equations, for the implicit methods:
 * a partial derivative of one expression tree, and emitters of the device
 * functions Newton-Krylov, Rosenbrock and a Jacobi preconditioner need.
 *
 * Everything is forward-mode and symbolic: the Jacobian-vector product
 * propagates a tangent through the auxiliaries in dependency order (each
 * auxiliary's value is computed once and shared by the value and tangent
 * code, and a subexpression the two share, like exp(u) in
 * d exp(u) = exp(u) du, is a local cse<N> computed once), so no dense
 * Jacobian is ever formed and nothing is a finite difference. Only the
 * auxiliaries and tangents the outputs read are emitted.
 *
 * The emitted functions follow cb_dxdt's conventions (gen/rhs.c): states
 * print as state[i], parameters as parameters[i], drivers as d_<name>,
 * time as t, auxiliaries as locals a_<name>, their tangents as da_<name>;
 * literals and math names are the precision's own, so a float32 function
 * holds no double arithmetic. Drivers are held fixed in J v and the
 * diagonal; in cb_dfdt they move with t at their rates dd_<name>, so it
 * is df/dt + sum_j df/dd_j d_j'(t). `out`
 * must not alias `state` or `v`. Each emitter appends one function to
 * out; CUBIE_E_NOMEM when memory runs out.
 */
#ifndef CB_DERIV_H
#define CB_DERIV_H

#include <stdbool.h>

#include "expr.h"
#include "spec.h"

/* The partial derivative of e with respect to the symbol (role, index),
 * every other symbol, auxiliaries included, held fixed (the chain rule
 * through auxiliaries is the emitters' job). A CB_SYM_TIME symbol matches
 * whatever its index. The result is simplified as it is built: a
 * structurally zero derivative is the number 0, and x*1, x+0, 0*x are
 * dropped. It may share nodes with e, which is not modified. Piecewise
 * functions (abs, min, max, where, ?:) differentiate branch by branch;
 * floor, ceil, sign, comparisons and logic have derivative 0 (their
 * derivative where they jump is left undefined, as usual). NULL only when
 * the arena is out of memory (or a or e is NULL). */
cb_expr *cb_expr_diff(cb_arena *a, const cb_expr *e, cb_sym_role role,
                      int index);

/* The bodies of the three functions gen/rhs.c wraps (statements, each
 * line indented by the builder's level; the caller writes the signature):
 *   cb_jvp(state, parameters, drivers, t, v, out): out = J(state) v, J the
 *       Jacobian of the derivatives w.r.t. the states;
 *   cb_dfdt(state, parameters, drivers, t, out): out = the partial
 *       derivative of the derivatives w.r.t. t at fixed state (the
 *       Rosenbrock methods' time term);
 *   cb_jac_diag(state, parameters, drivers, t, out): out[i] = d f_i / d y_i
 *       through the auxiliaries, for a Jacobi preconditioner (per state
 *       only the auxiliary tangents f_i needs). */
cubie_status cb_emit_jvp_body(const struct cubie_system *s, bool is_double,
                              cb_sb *out, cubie_error *err);
cubie_status cb_emit_dfdt_body(const struct cubie_system *s, bool is_double,
                               cb_sb *out, cubie_error *err);
cubie_status cb_emit_jac_diag_body(const struct cubie_system *s,
                                   bool is_double, cb_sb *out,
                                   cubie_error *err);

#endif
