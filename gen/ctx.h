/* The generator's compile context and the interface every component of
 * the solver stack implements. Not part of any public interface.
 *
 * A compile is a list of passes over one cb_ctx (gen/generate.c):
 *   resolve  -> the stack: precision, method, controller, outputs, and
 *               each component's own choices (linear solver, ...);
 *   register -> every component registers its buffers with the registry;
 *   freeze   -> the registry fixes every offset (emitters only read);
 *   emit     -> the components write the kernel, callees first;
 *   check    -> every registered buffer with room was declared.
 * The stack is: the loop (gen/loop.c), the step controller
 * (gen/controller.c), the algorithm step of the method's family (gen/erk.c,
 * single.c, dirk.c, firk.c, rosenbrock.c) and, for implicit steps, its
 * solve: Newton (gen/newton.c) over a Krylov solver (gen/krylov.c) with a
 * preconditioner (gen/precond.c). Every right-hand side, Jacobian-vector
 * product, Jacobian diagonal and df/dt is called through one emitter,
 * gen/rhs.c, which takes the stage time. */
#ifndef CB_CTX_H
#define CB_CTX_H

#include <stdbool.h>

#include "eig.h"
#include "fn.h"
#include "options.h"
#include "registry.h"
#include "spec.h"
#include "summary.h"
#include "tables.h"

typedef struct cb_ctx cb_ctx;

/* A component of the stack. Each pass that has nothing to do for a
 * component may leave its entry NULL. */
typedef struct {
    const char *name;
    cubie_status (*resolve)(cb_ctx *c);          /* read options */
    cubie_status (*register_buffers)(cb_ctx *c); /* ask the registry */
    cubie_status (*emit)(cb_ctx *c, cb_sb *sb);  /* write its functions */
} cb_component;

/* The components (one file each). */
/* The runs per host SIMD block (c->lanes) from host_lanes, the precision
 * and the lane variables' size; after the registry is frozen (gen/loop.c). */
cubie_status cb_loop_lanes(cb_ctx *c);
/* Whether fixed steps run as a counted burst (CB_FIXED_BURST): a fixed
 * controller, and no iteration counters to write at every step. */
bool cb_loop_fixed_burst(const cb_ctx *c);
/* Whether the host lanes make an explicit method's attempts on every lane. */
bool cb_loop_lane_explicit(const cb_ctx *c);

extern const cb_component cb_comp_loop, cb_comp_controller, cb_comp_erk,
    cb_comp_single, cb_comp_dirk, cb_comp_firk, cb_comp_rosenbrock,
    cb_comp_newton, cb_comp_krylov, cb_comp_precond;

/* The right-hand-side functions of the system (gen/rhs.c). */
typedef enum {
    CB_RHS_DXDT,        /* cb_dxdt: the derivatives of the states */
    CB_RHS_OBSERVABLES, /* cb_observables: the listed auxiliaries */
    CB_RHS_JVP,         /* cb_jvp: J v */
    CB_RHS_DIAG,        /* cb_jac_diag: diag(J) */
    CB_RHS_DFDT,        /* cb_dfdt: df/dt at fixed state */
    CB_RHS_COUNT
} cb_rhs_kind;

/* The implicit solve of one step: its problem (one stage of n unknowns,
 * or all stages of a FIRK coupled) and its solvers' choices. */
typedef struct {
    const char *prefix;      /* names the functions and owners: "stage_" */
    int n;                   /* states */
    int stages;              /* 1: Y = base + a u; s > 1: coupled (FIRK) */
    const double *A;         /* stages x stages, coupled problems only */
    const double *c;         /* stage nodes, coupled problems only */
    bool newton;             /* false: the linear solver alone */
    bool step_solves;        /* the step calls this linear solver
                              * itself though it is not the step's own
                              * (cb_ctx.step_nk): its pools are the
                              * step's "step_solver" child */
    cb_choice lin;           /* CB_LINEAR_... */
    cb_choice pre;           /* CB_PRECOND_... */
    bool lu_step;            /* lu: factored once per step by the step
                              * (jacobian_update=step, and always
                              * without Newton), else built and factored
                              * in each solve at its iterate */
    bool lu_eig;             /* lu_step of a coupled problem whose A
                              * diagonalises: one n x n system per
                              * eigenvalue (gen/eig.h) */
    cb_eig eig;
    int filter_block;        /* lu_eig: the real block whose matrix is
                              * RADAU5's error filter's (eigenvalue =
                              * the filter's gamma), which the filter
                              * solves with (block_solve); -1: none */
    int pre_order;           /* Neumann terms */
    cb_owner *newton_owner, *linear_owner;
    cb_fn states, residual, operator_, precond, linsolve, newton_fn;
    cb_fn factor;            /* lu: the matrix built and factored (the
                              * linear solver's; Newton's wrapper when
                              * there is Newton) */
    cb_fn lu_factor;         /* lu: the linear solver's own */
    cb_fn block_solve;       /* filter_block's solve */
    cb_fn filter_solve;      /* Newton's wrapper of it, for the step */
} cb_nk;

struct cb_ctx {
    const struct cubie_system *sys;
    const struct cubie_options *opt;
    cubie_error *err;
    bool dbl;
    cb_prec prec;                /* the real buffers' precision */
    /* resolve */
    const cb_method *method;
    const cb_rk_tableau *tab;
    const cb_component *algorithm;
    cb_controller ctrl;
    int order;                   /* the controller's exponent order */
    bool fsal;
    int n_error;                 /* error-estimate length (0: fixed) */
    bool out[CB_OUT_COUNT];      /* the requested outputs */
    int cols[CB_KARG_COUNT];     /* columns of each kernel argument */
    int out_col[CB_OUT_COUNT];   /* first column of each output */
    int block;                   /* threads per block the kernel is bound to */
    int host_lanes;              /* host_lanes as given (0: auto) */
    int lanes;                   /* runs per host SIMD block (1: none) */
    cb_metric_list metrics;      /* the summary metrics, fused */
    cb_selection sel;            /* the saved and summarised variables */
    bool summaries;              /* some variable is summarised */
    bool need_obs;               /* observables are saved or summarised */
    int driver_order;            /* the drivers' spline (driver_order) */
    bool driver_wrap;            /* driver_wrap */
    cb_nk nk;                    /* implicit families */
    cb_nk step_nk;               /* a second linear problem the step
                                  * solves itself (radau_iia_5's error
                                  * filter, n unknowns), or stages 0 */
    /* register, freeze */
    cb_registry *reg;
    cb_owner *loop, *algo, *ctrl_owner;
    cb_sizes loop_sizes;
    /* emit: the functions, for the calls of their callers */
    cb_fn rhs[CB_RHS_COUNT];
    cb_fn step, controller, loop_fn, run_fn, lane_fn;
    /* The literals printed so far, or NULL (a coefficient is printed many
     * times, and its shortest form takes up to 17 conversions to find). */
    struct cb_lit_cache *lits;
};

/* A cache of literal texts by value (gen/generate.c). */
struct cb_lit_cache {
    bool set[256];
    struct {
        double v;
        char text[48];
    } slot[256];
};

/* ---- helpers every component uses (gen/generate.c) ---- */

/* The precision's literal of v into a 48-byte buffer. */
void cb_lit(const cb_ctx *c, double v, char out[48]);
/* The precision's name of a libm function: "fabs" -> "fabsf". */
const char *cb_math(const cb_ctx *c, const char *name);
/* `target = coef * src;` or `target = fma(coef, src, target);` (one line; nothing for
 * coef 0 unless assign, then a zero; a coefficient of 1 is left out). */
void cb_emit_term(const cb_ctx *c, cb_sb *sb, const char *target,
                  bool assign, double coef, const char *src);
/* Define f into sb: the declarations of the buffers of owner o that body
 * uses (o may be NULL), then body (indented one level); its parameters
 * are those the two use. */
cubie_status cb_define(cb_ctx *c, cb_fn *f, cb_owner *o, const char *body,
                       cb_sb *sb);
/* The run status bits and the settings offsets as #defines. */
void cb_emit_common_defines(const cb_ctx *c, cb_sb *sb);
/* Define cb_step from body (the algorithm's buffers it uses declared
 * first), over the one signature every algorithm shares: each step keeps
 * the parameters it uses. Frees body; a body that ran out of memory
 * fails here. */
cubie_status cb_define_step(cb_ctx *c, cb_sb *body, cb_sb *sb);

/* ---- summaries (gen/summary.c) ---- */

/* At the loop's start: every summarised variable's accumulators. */
void cb_summary_emit_init(const cb_ctx *c, cb_sb *sb);
/* At a sample (an accepted step landing on a sample time): each metric's
 * update, then, at a window's end, its values into the summary arrays
 * and the reset; then the next sample time. */
void cb_summary_emit_sample(cb_ctx *c, cb_sb *sb);
/* Whether the code of a requested metric names name (gen/metrics.def):
 * the loop declares the locals it uses (nw, ss, ss2, first). */
bool cb_summary_uses(const cb_ctx *c, const char *name);

/* ---- the right-hand-side emitter (gen/rhs.c) ---- */

/* Emit cb_dxdt (and cb_observables when observables are saved). */
cubie_status cb_rhs_emit_system(cb_ctx *c, cb_sb *sb);
/* Emit the derivative functions an implicit step needs: cb_jvp, and
 * cb_jac_diag / cb_dfdt when asked. */
cubie_status cb_rhs_emit_derivatives(cb_ctx *c, cb_sb *sb, bool diag,
                                     bool dfdt);
/* Whether any emitted right-hand-side function reads `name` (parameters,
 * drivers, t). */
bool cb_rhs_reads(const cb_ctx *c, const char *name);
/* One call statement `cb_dxdt(...);`, passing only what the function
 * uses. y: the state it is evaluated at; v: the vector of a JVP (else
 * NULL); out: the result; t: the stage time (text); solve: inside the
 * implicit solve's functions, where the parameters and drivers are
 * p->parameters and p->drivers. */
void cb_rhs_call(const cb_ctx *c, cb_sb *sb, cb_rhs_kind k, const char *y,
                 const char *v, const char *out, const char *t, bool solve);

/* ---- the implicit solve (gen/newton.c) ---- */

/* The cb_nl struct the solve's functions take, with the fields they
 * read, and the step's lines that fill it (p.y_n = state; ...). */
void cb_nk_emit_struct(const cb_ctx *c, cb_sb *sb);
/* The start of an implicit step: its Newton and Krylov counters zeroed,
 * `int status = 0;`, and p filled. */
void cb_nk_emit_setup(const cb_ctx *c, cb_sb *sb);
/* linear_correction_type for a problem of n_states x stages unknowns
 * (blocks: a coupled problem whose A diagonalises, gen/eig.h): the
 * option's choice, auto resolved (lu where the largest system it
 * factors, the s n unknowns or one n x n block of the transformed solve,
 * has at most CB_LU_AUTO_MAX unknowns, else bicgstab). */
cb_choice cb_nk_linear_for(const cb_ctx *c, int stages, bool blocks);
/* jacobian_update for a problem of n states x stages, auto resolved
 * (step for a coupled problem or from CB_LU_STEP_MIN states, else
 * iteration). */
cb_choice cb_nk_jacobian_for(const cb_ctx *c, int n, int stages);
/* `<lhs>cb_Pfilter_solve(b, x, iters, ...)`: b solved with the factors
 * of c->nk.filter_block alone. */
void cb_nk_emit_block_solve_call(const cb_ctx *c, cb_sb *sb,
                                 const char *lhs, const char *b,
                                 const char *x, const char *iters);
/* Set up c->nk for a one-stage or coupled problem. */
void cb_nk_setup(cb_ctx *c, const char *prefix, int stages,
                 const double *A, const double *cnodes);
/* The resolve of a step that solves one stage at a time (DIRK,
 * Rosenbrock, the single-stage methods): c->nk for one stage, then the
 * solver's own resolve. */
cubie_status cb_nk_resolve_one_stage(cb_ctx *c);
/* Register the solve's buffers (Newton over the linear solver, or the
 * linear solver alone) and roll it up into the step as "solver"; after
 * relocations, refresh the roll-ups from the innermost child out. */
cubie_status cb_nk_register_solver(cb_ctx *c);
cubie_status cb_nk_refresh(cb_ctx *c);
/* Emit everything the step's solve needs before the step: cb_jvp (and
 * cb_jac_diag for a Jacobi preconditioner, cb_dfdt when asked), the
 * cb_nl struct, the problem, the preconditioner, the linear solver and
 * Newton. */
cubie_status cb_nk_emit_solver(cb_ctx *c, cb_sb *sb, bool dfdt);
/* `p.t = <t>;` when the solve reads time. */
void cb_nk_emit_time(const cb_ctx *c, cb_sb *sb, const char *t);
/* Whether the preconditioner needs the Jacobian's diagonal. */
bool cb_precond_needs_diag(const cb_ctx *c);
/* The step's own second linear problem (cb_ctx.step_nk): (beta I - gamma
 * h a J(Y)) x = b in n unknowns, with functions and owners named by
 * prefix. Each call works on step_nk as the current problem. */
void cb_nk_step_setup(cb_ctx *c, const char *prefix);
cubie_status cb_nk_step_register(cb_ctx *c);
cubie_status cb_nk_step_emit(cb_ctx *c, cb_sb *sb);
void cb_nk_step_linsolve_call(cb_ctx *c, cb_sb *sb, const char *lhs,
                              const char *Y, const char *b, const char *x,
                              const char *iters);
/* lu only (nothing otherwise): `cb_<prefix>factor(&p, Y, t, ...);`, the
 * matrix beta I - gamma h (A x J(t, Y)) built with the current p.h and
 * p.a and factored, for every linear solve of the problem until the next
 * call (simplified Newton: one Jacobian per step, or per change of a
 * DIRK's diagonal). The step calls it before the solves it serves. */
void cb_nk_emit_factor_call(const cb_ctx *c, cb_sb *sb, const char *Y,
                            const char *t);
void cb_nk_step_factor_call(cb_ctx *c, cb_sb *sb, const char *Y,
                            const char *t);
/* `status |= cb_<prefix>newton(&p, u, ...);` with the step's pools. */
void cb_nk_emit_newton_call(const cb_ctx *c, cb_sb *sb, const char *u);
/* `<lhs>cb_<prefix>linsolve(&p, Y, b, x, iters, ...);` from the step: a
 * Rosenbrock stage's solve (lhs "status |= ") or RADAU5's error filter;
 * the operator's Jacobian is taken at Y (lu: at the last factor call's). */
void cb_nk_emit_linsolve_call(const cb_ctx *c, cb_sb *sb, const char *lhs,
                              const char *Y, const char *b, const char *x,
                              const char *iters);

#endif
