/* Kernel generation: resolve the stack from the options, register every
 * component's buffers, lay them out, and emit one .cu translation unit.
 *   stack_resolve -> register_buffers -> layout_assign -> kernel_emit
 */
#ifndef CB_EMIT_H
#define CB_EMIT_H

#include <stdbool.h>

#include "options.h"
#include "registry.h"
#include "spec.h"
#include "tableaus.h"

/* Offsets into the settings array (settings.def). */
enum {
#define CB_SET(id, slots) CB_SET_##id, CB_SET_##id##_END_ = CB_SET_##id + slots - 1,
#include "settings.def"
#undef CB_SET
    CB_SET_FIXED_COUNT
};

typedef enum { CB_CTRL_FIXED, CB_CTRL_I, CB_CTRL_PI, CB_CTRL_PID,
               CB_CTRL_GUSTAFSSON } cb_controller;

/* What the runtime needs to know of a generated kernel. */
typedef struct {
    bool is_double;
    int n_states, n_params, n_obs;
    int n_settings;                /* reals in the settings array */
    const cb_erk_tableau *tableau; /* explicit methods, else NULL */
    const char *method;            /* canonical algorithm name */
    int order;
    bool implicit;
    bool linear_only;              /* Rosenbrock: linear solves only */
    cb_controller controller;
    bool save_state, save_obs, save_time, save_counters;
    int n_saved;                   /* columns of state_out: states (+ t) */
    size_t shared_stride;          /* reals of shared memory per run */
    size_t shared_i_stride;        /* int32s of shared memory per run */
    size_t persistent, persistent_i, local, local_i; /* per run */
} cb_kernel_info;

/* The result of one generation: the source and its layout table.
 * Free with cb_generated_free. */
typedef struct {
    char *source;
    char *layout;   /* every owner's layout table, as text */
    cb_kernel_info info;
} cb_generated;

cubie_status cb_generate(const struct cubie_system *sys,
                         const struct cubie_options *opt, cb_generated *out,
                         cubie_error *err);
void cb_generated_free(cb_generated *g);

/* Canonical name of an implicit method or alias, or NULL. */
const char *cb_implicit_canonical(const char *name);

/* Names of the controllers, indexed by cb_controller. */
extern const char *const cb_controller_names[];

/* A standalone unit holding the prelude and the emitted controller
 * cb_controller() for n states and a method of the given order, for
 * testing the controller on the host. *out is malloc'd. */
cubie_status cb_controller_unit(cb_controller kind, int order, bool dbl,
                                int n, char **out, cubie_error *err);

/* The embedded template called name (e.g. "loop.cu"), or NULL. */
const char *cb_template(const char *name);

#endif
