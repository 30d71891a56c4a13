/* Options: validated key=value settings (options.def). */
#ifndef CB_OPTIONS_H
#define CB_OPTIONS_H

#include <stdbool.h>

#include "util.h"

typedef enum { CB_KIND_NUM, CB_KIND_INT, CB_KIND_CHOICE, CB_KIND_BOOL,
               CB_KIND_TEXT } cb_opt_kind;
typedef enum { CB_SCOPE_COMPILE, CB_SCOPE_RUN } cb_opt_scope;

typedef enum {
#define CB_OPT(id, key, kind, def, scope, choices) CB_OPT_##id,
#include "options.def"
#undef CB_OPT
    CB_OPT_COUNT
} cb_opt_id;

typedef struct {
    const char *key;
    cb_opt_kind kind;
    const char *def;
    cb_opt_scope scope;
    const char *choices;
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

/* The effective text of an option: the user's, else the default ("" when
 * it has none). */
const char *cb_opt_text(const struct cubie_options *o, cb_opt_id id);
bool cb_opt_is_set(const struct cubie_options *o, cb_opt_id id);
/* Numeric value (NUM/INT/BOOL); NAN when unset without default. */
double cb_opt_num(const struct cubie_options *o, cb_opt_id id);

/* A comma-separated list of finite numbers >= 0 ("1e-6" or
 * "1e-6,1e-8,1e-6"): the count, and the values into out (up to max). */
int cb_opt_number_list(const char *text, double *out, int max);
/* Whether the comma-separated list `text` holds `name`. */
bool cb_opt_list_has(const char *text, const char *name);

#endif
