/* The generator's compile context, shared by the emitters of gen/emit.c
 * (loop, explicit steps, controllers) and gen/implicit.c (Newton-Krylov,
 * implicit steps). Not part of any public interface. */
#ifndef CB_EMIT_INTERNAL_H
#define CB_EMIT_INTERNAL_H

#include "emit.h"
#include "newton.h"

/* Method families: explicit Runge-Kutta, the single-solve implicit
 * methods, diagonally and fully implicit Runge-Kutta, Rosenbrock-W. */
typedef enum { CB_FAM_ERK, CB_FAM_BE, CB_FAM_BEPC, CB_FAM_CN, CB_FAM_DIRK,
               CB_FAM_FIRK, CB_FAM_ROS } cb_family;

typedef struct {
    const struct cubie_system *sys;
    const struct cubie_options *opt;
    bool dbl;
    const cb_erk_tableau *tab;   /* explicit methods */
    cb_family family;
    const char *method;          /* canonical name */
    bool has_estimate;
    const void *itab;            /* implicit tables (implicit.c) */
    cb_nk nk;                    /* the implicit solve */
    cb_controller ctrl;
    int n_error;          /* error-estimate length (0 for fixed steps) */
    bool fsal;
    bool save_state, save_obs, save_time, save_counters;
    int n_saved;          /* state_out columns: states (+ time) */
    int order;            /* the method's order, for the controller */
    cb_registry *reg;
    cb_owner *loop, *algo, *ctrl_owner;
    cb_sizes loop_sizes;
    cubie_error *err;
} cb_ctx;

/* `target OP coef * src;` (one line; nothing for coef 0 unless assign,
 * then a zero; coef 1 is left out). */
void cb_emit_term(const cb_ctx *c, cb_sb *sb, const char *target,
                  bool assign, double coef, const char *src);

/* The cb_step signature every algorithm shares, the opening brace, and
 * one indent level. */
void cb_emit_step_open(cb_sb *sb);

/* gen/implicit.c: resolve an implicit method by name (false when the name
 * is not one), register its buffers, emit its functions and cb_step. */
bool cb_implicit_resolve(cb_ctx *c, const char *name);
cubie_status cb_implicit_register(cb_ctx *c);
cubie_status cb_implicit_register_children(cb_ctx *c);
cubie_status cb_implicit_emit(cb_ctx *c, cb_sb *sb);

#endif
