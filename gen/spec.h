/* A parsed system: names, defaults and equations as expression trees. */
#ifndef CB_SPEC_H
#define CB_SPEC_H

#include <stdbool.h>

#include "expr.h"

typedef struct {
    bool is_deriv;     /* dX = ... (else an auxiliary) */
    int target;        /* state index, or auxiliary index */
    cb_expr *rhs;
    const char *text;  /* the equation as written */
} cb_equation;

struct cubie_system {
    cb_arena arena;    /* every string and tree below */
    char *json;        /* the spec text (malloc), for copies and hashing */
    const char *name;
    int n_states, n_params, n_consts, n_aux, n_obs;
    const char **state_names;
    double *state_init;
    const char **param_names;
    double *param_vals;
    const char **const_names;
    double *const_vals;
    int n_drivers;     /* sampled drivers: names in equations, values
                        * interpolated at run time (runtime/spline.c) */
    const char **driver_names;
    const char **aux_names;
    int *obs_aux;      /* auxiliary index of each observable */
    int n_eqs;
    cb_equation *eqs;  /* as written: eqs[i] is /equations/i */
    int *deriv_eq;     /* equation index of each state's derivative */
    int *aux_eq;       /* equation index of each auxiliary */
    int *aux_order;    /* auxiliaries in dependency order */
    /* The auxiliaries equation i's right side reads, each once, ascending:
     * eq_aux[eq_aux_start[i]] .. eq_aux[eq_aux_start[i + 1] - 1]. */
    int *eq_aux_start;
    int *eq_aux;
};

/* The largest spec read or parsed, in bytes. */
#define CB_SPEC_MAX_BYTES ((size_t)64 << 20)

/* Parse and validate; *out caller-owned (cb_system_free). The text is
 * len bytes (more than CB_SPEC_MAX_BYTES is refused); a NUL byte in it,
 * or a string holding U+0000 (\u0000), is an error that says where. */
cubie_status cb_spec_parse(const char *json, size_t len,
                           struct cubie_system **out, cubie_error *err);
/* Accepts NULL. */
void cb_system_free(struct cubie_system *s);

/* Index of a state or parameter by name, or -1. */
int cb_spec_state_index(const struct cubie_system *s, const char *name);
int cb_spec_param_index(const struct cubie_system *s, const char *name);

/* Which auxiliaries an expression set needs, transitively: sets need[k]
 * for every auxiliary reachable from the equations marked in roots. In
 * time linear in the equations' auxiliary references. */
void cb_spec_aux_closure(const struct cubie_system *s, const bool *eq_roots,
                         bool *need_aux);

/* The C text of a symbol in generated code (a cb_sym_printer; ctx is the
 * system): state[i], parameters[i], t, auxiliaries as locals a_<name>,
 * drivers as locals d_<name> (each function evaluates them at its t,
 * gen/rhs.c), anything else (generated symbols) by its name. */
void cb_spec_print_sym(void *ctx, const cb_expr *e, cb_sb *out);

#endif
