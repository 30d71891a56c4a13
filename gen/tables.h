/* The generator's tables, expanded from their .def files: methods,
 * method families, step controllers, outputs, iteration counters, kernel
 * arguments, run-time settings and the values of choice options. Each
 * .def file says what its columns mean and what to edit; this header and
 * tables.c expand them into enums, arrays and lookups, so a name, a
 * default or an offset is written once. */
#ifndef CB_TABLES_H
#define CB_TABLES_H

#include <stdbool.h>
#include <stddef.h>

#include "tableaus.h"

/* ---- method families (families.def) ---------------------------------- */

typedef enum {
#define CB_FAMILY(id, name, comp, newton, def, expo, ctrl, sf, mn, mx, dbn, \
                  dbx)                                                      \
    CB_FAM_##id,
#include "families.def"
#undef CB_FAMILY
    CB_FAM_COUNT
} cb_family;

typedef enum { CB_EXPONENT_SOLUTION, CB_EXPONENT_ESTIMATE } cb_exponent;

/* ---- step controllers (controllers.def) ------------------------------ */

typedef enum {
#define CB_CONTROLLER(id, name, history, est, kp, ki, kd) CB_CTRL_##id,
#include "controllers.def"
#undef CB_CONTROLLER
    CB_CTRL_COUNT
} cb_controller;

typedef struct {
    const char *name;
    int history;          /* reals of persistent history */
    bool needs_estimate;
    double kp, ki, kd;    /* default gains */
} cb_controller_info;

extern const cb_controller_info cb_controllers[CB_CTRL_COUNT];
/* By name (exact); -1 when unknown. */
int cb_controller_find(const char *name);

typedef struct {
    const char *name;
    const char *component;  /* "erk", "dirk", ... (gen/<component>.c) */
    bool newton;
    const char *default_method; /* "" for none */
    cb_exponent exponent;
    cb_controller controller;   /* default with an error estimate */
    double safety, min_gain, max_gain, deadband_min, deadband_max;
} cb_family_info;

extern const cb_family_info cb_families[CB_FAM_COUNT];

/* ---- methods (methods.def) ------------------------------------------- */

typedef enum {
#define CB_METHOD(id, name, aliases, fam, tab, order, eorder, solves) \
    CB_METHOD_##id,
#include "methods.def"
#undef CB_METHOD
    CB_METHOD_COUNT
} cb_method_id;

typedef struct {
    const char *name;            /* canonical */
    const char *aliases;         /* space-separated, "" if none */
    cb_family family;
    const cb_rk_tableau *tableau;
    int order;
    int error_order;             /* 0: no error estimate */
    int solves;                  /* implicit solves per step */
} cb_method;

extern const cb_method cb_methods[CB_METHOD_COUNT];

/* By canonical name or alias, case-insensitive, then by the original's
 * bare family name ("dirk", "firk", "rosenbrock"); NULL if unknown. */
const cb_method *cb_method_find(const char *name);
/* The method by its exact canonical name; NULL if unknown. */
const cb_method *cb_method_named(const char *name);
/* Every canonical name, comma-separated, in table order, into out (for
 * the error that lists them). */
void cb_method_names(char *out, size_t n);
/* The order of the controller's exponent for this method. */
int cb_method_exponent_order(const cb_method *m);
/* The step controller the original picks when none is asked for. */
cb_controller cb_method_default_controller(const cb_method *m);

/* ---- iteration counters (counters.def) ------------------------------- */

typedef enum {
#define CB_COUNTER(id, name) CB_COUNTER_##id,
#include "counters.def"
#undef CB_COUNTER
    CB_N_COUNTERS
} cb_counter;

extern const char *const cb_counter_names[CB_N_COUNTERS];

/* ---- kernel arguments (kernel_args.def) ------------------------------ */

/* Threads a block of cubie_store4 / cubie_store8 (templates/entry.cu),
 * the GPU's turning of an output array into the caller's layout: the
 * generated source's CB_STORE_BLOCK and the launch's block (driver.c). */
#define CB_STORE_BLOCK 256

typedef enum {
#define CB_KARG(id, name, elem, dir, rows, result, column) CB_KARG_##id,
#include "kernel_args.def"
#undef CB_KARG
    CB_KARG_COUNT
} cb_karg;

/* REAL: the kernel's precision; INT: int32; INPUT: the batch's values,
 * in the kernel's precision on the GPU (staged, in the caller's layout)
 * and the batch's own float64 on the host (read in place, rounded as
 * they are loaded). */
typedef enum { CB_ELEM_REAL, CB_ELEM_INT, CB_ELEM_INPUT } cb_elem;
typedef enum { CB_DIR_IN, CB_DIR_OUT, CB_DIR_SCALAR } cb_dir;
typedef enum {
    CB_ROWS_ONE,
    CB_ROWS_RUNS,
    CB_ROWS_SAVES,
    CB_ROWS_WINDOWS,
    CB_ROWS_DRIVERS
} cb_rows;

typedef struct {
    const char *id;       /* "STATE_OUT" */
    const char *name;     /* the parameter's name in the kernel */
    cb_elem elem;
    cb_dir dir;
    cb_rows rows;
    const char *result;   /* the result array of an OUT argument, or "" */
    const char *column;   /* what that array's last axis counts, or "" */
} cb_karg_info;

extern const cb_karg_info cb_kargs[CB_KARG_COUNT];
/* The C type of an element in the generated code: "real", "int" or
 * "cb_input". */
const char *cb_elem_type(cb_elem e);

/* "run, save, <column>" (or "run, window, <column>"): the axes of each
 * per-save (per-window) result array. */
extern const char *const cb_karg_axes[CB_KARG_COUNT];

/* ---- outputs (outputs.def) ------------------------------------------- */

typedef enum {
#define CB_OUTPUT(id, name, array, cols, masked, cadence, label) CB_OUT_##id,
#include "outputs.def"
#undef CB_OUTPUT
    CB_OUT_COUNT
} cb_output;

typedef enum { CB_COLS_STATES, CB_COLS_OBSERVABLES, CB_COLS_ONE,
               CB_COLS_COUNTERS, CB_COLS_STATE_SUMMARIES,
               CB_COLS_OBSERVABLE_SUMMARIES } cb_cols;
typedef enum { CB_CADENCE_SAVE, CB_CADENCE_WINDOW } cb_cadence;

typedef struct {
    const char *name;     /* as output_types says it (a WINDOW output:
                           * as its result array is called) */
    cb_karg array;        /* the kernel argument it is written to */
    cb_cols cols;
    bool masked;          /* NaN for failed runs (nan_error_trajectories) */
    cb_cadence cadence;
    const char *label;    /* the column of a ONE-column output, or "" */
} cb_output_info;

extern const cb_output_info cb_outputs[CB_OUT_COUNT];
/* By name (exact); -1 when unknown. WINDOW outputs are not requested by
 * name: the metrics in output_types turn them on. */
int cb_output_find(const char *name);
/* Every output name, space-separated, into out. */
void cb_output_names(char *out, size_t n);

/* ---- run-time settings (settings.def) -------------------------------- */

typedef enum { CB_SETK_TIME, CB_SETK_REAL, CB_SETK_STATES } cb_set_kind;

/* Offsets of the entries before the per-state arrays: CB_SET_<id> is
 * the slot of a TIME or REAL entry (hi at CB_SET_<id>, lo at the next),
 * CB_SET_FIXED_COUNT where the first per-state array starts. */
#define CB_SET_SLOTS_TIME(id) CB_SET_##id, CB_SET_##id##_LO_,
#define CB_SET_SLOTS_REAL(id) CB_SET_##id,
#define CB_SET_SLOTS_STATES(id)
enum {
#define CB_SET(id, kind, opt) CB_SET_SLOTS_##kind(id)
#include "settings.def"
#undef CB_SET
    CB_SET_FIXED_COUNT
};
#undef CB_SET_SLOTS_TIME
#undef CB_SET_SLOTS_REAL
#undef CB_SET_SLOTS_STATES

/* The entries, indexed by position in the table. */
typedef enum {
#define CB_SET(id, kind, opt) CB_SETTING_##id,
#include "settings.def"
#undef CB_SET
    CB_SETTING_COUNT
} cb_setting;

typedef struct {
    const char *id;       /* "ATOL": the generated define is CB_SET_ATOL */
    cb_set_kind kind;
    int option;           /* cb_opt_id, or -1 for NONE */
} cb_setting_info;

extern const cb_setting_info cb_settings[CB_SETTING_COUNT];
/* Offset of an entry in the settings array of a system of n states, and
 * the array's length. */
int cb_setting_offset(cb_setting s, int n_states);
int cb_settings_length(int n_states);

/* ---- values of choice options (choices.def) -------------------------- */

typedef enum {
#define CB_CHOICE(list, id, text) CB_##list##_##id,
#include "choices.def"
#undef CB_CHOICE
    CB_CHOICE_COUNT
} cb_choice;

typedef struct {
    const char *list;     /* "LINEAR" */
    const char *text;     /* "bicgstab" */
} cb_choice_info;

extern const cb_choice_info cb_choices[CB_CHOICE_COUNT];

#endif
