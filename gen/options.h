/* Options: validated key=value settings (options.def). The public
 * cubie_options_* functions (runtime/api.c) are thin wrappers over these. */
#ifndef CB_OPTIONS_H
#define CB_OPTIONS_H

#include <stdbool.h>

#include "tables.h"
#include "util.h"

typedef enum { CB_KIND_NUM, CB_KIND_INT, CB_KIND_CHOICE, CB_KIND_BOOL,
               CB_KIND_TEXT } cb_opt_kind;
typedef enum { CB_SCOPE_COMPILE, CB_SCOPE_RUN } cb_opt_scope;
/* The highest driver_order (the drivers' spline, runtime/spline.c). */
#define CB_DRIVER_MAX_ORDER 9

/* What a value may be (options.def, the last column). */
typedef enum {
    CB_VALUES_NONE, CB_VALUES_PRECISION, CB_VALUES_BACKEND,
    CB_VALUES_OPT_LEVEL, CB_VALUES_LINEAR, CB_VALUES_PRECOND,
    CB_VALUES_METHODS, CB_VALUES_CONTROLLERS, CB_VALUES_OUTPUTS,
    CB_VALUES_TOLERANCES, CB_VALUES_ARCH, CB_VALUES_VARIABLES,
    CB_VALUES_INDICES, CB_VALUES_DRIVER_BC, CB_VALUES_JACOBIAN
} cb_opt_values;

typedef enum {
#define CB_OPT(id, key, kind, def, scope, values) CB_OPT_##id,
#include "options.def"
#undef CB_OPT
    CB_OPT_COUNT
} cb_opt_id;

typedef struct {
    const char *key;
    cb_opt_kind kind;
    const char *def;
    cb_opt_scope scope;
    cb_opt_values values;
} cb_opt_info;

extern const cb_opt_info cb_opt_table[CB_OPT_COUNT];

typedef struct {
    char *key;   /* "<buffer>_location" */
    char *value; /* "shared" | "local" */
} cb_location_opt;

struct cubie_options {
    char *text[CB_OPT_COUNT]; /* NULL: not set by the user (default) */
    double num[CB_OPT_COUNT]; /* parsed value of NUM/INT/BOOL keys */
    cb_location_opt *locs;
    int n_locs;
    char *get_buf;            /* cubie_options_get's last answer */
};

/* The cubie_options_* functions of cubie.h, same contracts. */
cubie_status cb_options_new(struct cubie_options **out);
void cb_options_free(struct cubie_options *opt);
cubie_status cb_options_copy(const struct cubie_options *opt,
                             struct cubie_options **out);
cubie_status cb_options_set(struct cubie_options *opt, const char *key,
                            const char *value, cubie_error *err);
cubie_status cb_options_set_pair(struct cubie_options *opt, const char *pair,
                                 cubie_error *err);
const char *cb_options_get(const struct cubie_options *opt, const char *key);

/* The effective text of an option: the user's, else the default ("" when
 * it has none). */
const char *cb_opt_text(const struct cubie_options *o, cb_opt_id id);
bool cb_opt_is_set(const struct cubie_options *o, cb_opt_id id);
/* Numeric value (NUM/INT/BOOL); NAN when unset without default. */
double cb_opt_num(const struct cubie_options *o, cb_opt_id id);
/* The value of a choice option of choices.def (PRECISION, BACKEND,
 * OPT_LEVEL, LINEAR, PRECOND). */
cb_choice cb_opt_choice(const struct cubie_options *o, cb_opt_id id);
/* The list of gen/choices.def whose rows are the values of options with
 * these values ("PRECISION", "LINEAR", ...), or NULL where the values are
 * not a choice list. */
const char *cb_opt_choice_list(cb_opt_values v);

/* A comma-separated list of finite numbers >= 0 ("1e-6" or
 * "1e-6,1e-8,1e-6"): the count, and the values into out (up to max). */
int cb_opt_number_list(const char *text, double *out, int max);
/* Whether the comma-separated list `text` holds `name`. */
bool cb_opt_list_has(const char *text, const char *name);

#endif
