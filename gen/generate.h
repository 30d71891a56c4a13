/* Kernel generation as a list of passes over one compile (the runtime's
 * cubie_compile calls them by name, gen/ctx.h says what each does):
 *   cb_gen_resolve -> cb_gen_register -> cb_gen_freeze -> cb_gen_emit
 *   -> cb_gen_check
 * The source, the layout table and the stack description are read after
 * the pass that makes them. The library's interface to gen/; nothing here
 * knows about devices. */
#ifndef CB_GENERATE_H
#define CB_GENERATE_H

#include <stdbool.h>
#include <stddef.h>

#include "options.h"
#include "spec.h"
#include "tables.h"

/* What the runtime needs to know of a generated kernel. */
typedef struct {
    bool is_double;
    int n_states, n_params, n_obs;
    int n_drivers, driver_order;  /* sampled drivers, their spline's order */
    bool driver_wrap;             /* periodic outside the data, else 0 */
    const cb_method *method;
    cb_controller controller;
    /* the linear solver (cb_choice, CB_LINEAR_*) of the implicit solve,
     * linear_correction_type=auto resolved by its rule (for an explicit
     * method, the rule's answer for one stage) */
    int linear;
    /* where the implicit solve's Jacobian is taken (CB_JACOBIAN_STEP or
     * _ITERATION), jacobian_update=auto resolved (explicit: the rule's
     * answer for one stage) */
    int jacobian;
    bool implicit;                /* solves stage equations */
    bool out[CB_OUT_COUNT];       /* the outputs it writes */
    bool saves;                   /* some output has a row per save */
    bool summaries;               /* summary windows are written */
    int cols[CB_KARG_COUNT];      /* columns of each kernel argument */
    int out_col[CB_OUT_COUNT];    /* first column of each output there */
    int block;                    /* threads per block it is bound to */
    size_t shared_stride;         /* reals of shared memory per run */
    size_t shared_i_stride;       /* int32s of shared memory per run */
    size_t persistent, persistent_i, local, local_i; /* per run */
} cb_kernel_info;

typedef struct cb_gen cb_gen;

/* A generation of sys under opt (both borrowed until cb_gen_free). The
 * error record err receives the first failure of any pass. */
cubie_status cb_gen_new(const struct cubie_system *sys,
                        const struct cubie_options *opt, cubie_error *err,
                        cb_gen **out);
void cb_gen_free(cb_gen *g);

cubie_status cb_gen_resolve(cb_gen *g);
cubie_status cb_gen_register(cb_gen *g);
cubie_status cb_gen_freeze(cb_gen *g);
cubie_status cb_gen_emit(cb_gen *g);
cubie_status cb_gen_check(cb_gen *g);

/* After resolve: the stack, one line per component. After freeze: every
 * owner's layout table. After emit: the source. Borrowed. */
const char *cb_gen_stack(const cb_gen *g);
const char *cb_gen_layout(const cb_gen *g);
const char *cb_gen_source(const cb_gen *g);
/* Hand the text to the caller (malloc-owned); NULL when not made. */
char *cb_gen_take_source(cb_gen *g);
char *cb_gen_take_layout(cb_gen *g);
char *cb_gen_take_stack(cb_gen *g);
/* Filled by the passes: complete after check. */
const cb_kernel_info *cb_gen_info(const cb_gen *g);
/* After register: every buffer a `<buffer>_location` option can move, as
 * "name=shared" or "name=local" lines (the location it asks for, the
 * option's or its registration's), each name once, in the order the
 * relocations visit the owners. malloc'd; NULL when out of memory. */
char *cb_gen_locations(const cb_gen *g);

/* Every pass at once. Free with cb_generated_free. */
typedef struct {
    char *source;
    char *layout;
    char *stack;
    char *locations; /* cb_gen_locations */
    cb_kernel_info info;
} cb_generated;

cubie_status cb_generate(const struct cubie_system *sys,
                         const struct cubie_options *opt, cb_generated *out,
                         cubie_error *err);
void cb_generated_free(cb_generated *g);

/* A standalone unit holding the prelude and the emitted controller
 * cb_controller() for n states and a method of the given order, and
 * cb_controller_all(), which takes every candidate parameter of
 * cb_controller in order and passes on what this one uses; for testing
 * the controller on the host. *out is malloc'd. */
cubie_status cb_controller_unit(cb_controller kind, int order, bool dbl,
                                int n, char **out, cubie_error *err);

/* The right-hand-side functions of a system as a standalone unit (the
 * prelude, cb_dxdt, cb_observables, cb_jvp, cb_jac_diag, cb_dfdt), and
 * for each a wrapper cb_<name>_all taking (state, parameters, drivers, t,
 * v, out) that passes on what the function uses; for testing them on the
 * host. *out is malloc'd. */
cubie_status cb_rhs_unit(const struct cubie_system *sys, bool dbl,
                         char **out, cubie_error *err);

#endif
