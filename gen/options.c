/* Options: the table of options.def and the functions behind the
 * cubie_options API. */
#include "options.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "summary.h"

const cb_opt_info cb_opt_table[CB_OPT_COUNT] = {
#define CB_OPT(id, key, kind, def, scope, values) \
    {key, CB_KIND_##kind, def, CB_SCOPE_##scope, CB_VALUES_##values},
#include "options.def"
#undef CB_OPT
};

/* Keys the original renamed; a user of the old name gets a hint. */
static const char *const renamed[][2] = {
    {"dt_save", "save_every"},
    {"warmup", "settling_time"},
    {"method", "algorithm"},
    {"dt_summarise", "summarise_every"},
    {"dt_update_summaries", "sample_summaries_every"},
    {NULL, NULL}};

/* "sm_" or "compute_", then a number from 50 to 999 written plainly (no
 * sign, blank or leading zero), then nothing or one of the suffixes 'a'
 * (architecture-specific) and 'f' (family-specific). */
static bool valid_arch(const char *value)
{
    const char *p = strncmp(value, "sm_", 3) == 0        ? value + 3
                    : strncmp(value, "compute_", 8) == 0 ? value + 8
                                                         : NULL;
    if (p == NULL || *p < '1' || *p > '9') {
        return false;
    }
    int num = 0, digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 4) {
        num = num * 10 + (*p++ - '0');
        digits++;
    }
    if (*p == 'a' || *p == 'f') {
        p++;
    }
    return *p == '\0' && num >= 50 && num < 1000;
}

const char *cb_opt_choice_list(cb_opt_values v)
{
    switch (v) {
    case CB_VALUES_PRECISION:
        return "PRECISION";
    case CB_VALUES_BACKEND:
        return "BACKEND";
    case CB_VALUES_OPT_LEVEL:
        return "OPT_LEVEL";
    case CB_VALUES_LINEAR:
        return "LINEAR";
    case CB_VALUES_PRECOND:
        return "PRECOND";
    case CB_VALUES_DRIVER_BC:
        return "DRIVER_BC";
    case CB_VALUES_JACOBIAN:
        return "JACOBIAN";
    default:
        return NULL;
    }
}

/* The index in cb_choices of value in the option's list, or -1. */
static int choice_index(cb_opt_values v, const char *value)
{
    const char *list = cb_opt_choice_list(v);
    for (int i = 0; list != NULL && i < CB_CHOICE_COUNT; i++) {
        if (strcmp(cb_choices[i].list, list) == 0 &&
            strcmp(cb_choices[i].text, value) == 0) {
            return i;
        }
    }
    return -1;
}

/* The values an option may take, space-separated, into out. */
static void choices_text(cb_opt_values v, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    if (v == CB_VALUES_CONTROLLERS) {
        for (int i = 0; i < CB_CTRL_COUNT && used < n; i++) {
            used += (size_t)snprintf(out + used, n - used, "%s%s",
                                     i ? " " : "", cb_controllers[i].name);
        }
        return;
    }
    if (v == CB_VALUES_OUTPUTS) {
        cb_output_names(out, n);
        return;
    }
    const char *list = cb_opt_choice_list(v);
    for (int i = 0; list != NULL && i < CB_CHOICE_COUNT && used < n; i++) {
        if (strcmp(cb_choices[i].list, list) == 0) {
            used += (size_t)snprintf(out + used, n - used, "%s%s",
                                     used ? " " : "", cb_choices[i].text);
        }
    }
}

static int find_key(const char *key)
{
    for (int i = 0; i < CB_OPT_COUNT; i++) {
        if (strcmp(cb_opt_table[i].key, key) == 0) {
            return i;
        }
    }
    return -1;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

cubie_status cb_options_new(struct cubie_options **out)
{
    if (out == NULL) {
        return CUBIE_E_ARG;
    }
    *out = calloc(1, sizeof(**out));
    if (*out == NULL) {
        return CUBIE_E_NOMEM;
    }
    for (int i = 0; i < CB_OPT_COUNT; i++) {
        const char *d = cb_opt_table[i].def;
        (*out)->num[i] = *d ? strtod(d, NULL) : NAN;
        if (strcmp(d, "true") == 0) {
            (*out)->num[i] = 1.0;
        }
    }
    return CUBIE_OK;
}

void cb_options_free(struct cubie_options *o)
{
    if (o == NULL) {
        return;
    }
    for (int i = 0; i < CB_OPT_COUNT; i++) {
        free(o->text[i]);
    }
    for (int i = 0; i < o->n_locs; i++) {
        free(o->locs[i].key);
        free(o->locs[i].value);
    }
    free(o->locs);
    free(o->get_buf);
    free(o);
}

cubie_status cb_options_copy(const struct cubie_options *o,
                             struct cubie_options **out)
{
    if (o == NULL || out == NULL) {
        return CUBIE_E_ARG;
    }
    cubie_status st = cb_options_new(out);
    if (st != CUBIE_OK) {
        return st;
    }
    for (int i = 0; i < CB_OPT_COUNT && st == CUBIE_OK; i++) {
        if (o->text[i] != NULL) {
            st = cb_options_set(*out, cb_opt_table[i].key, o->text[i], NULL);
        }
    }
    for (int i = 0; i < o->n_locs && st == CUBIE_OK; i++) {
        st = cb_options_set(*out, o->locs[i].key, o->locs[i].value, NULL);
    }
    if (st != CUBIE_OK) {
        cb_options_free(*out);
        *out = NULL;
    }
    return st;
}

int cb_opt_number_list(const char *text, double *out, int max)
{
    int n = 0;
    const char *p = text;
    for (;;) {
        char *end = NULL;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || v < 0.0) {
            return -1;
        }
        if (n < max) {
            out[n] = v;
        }
        n++;
        while (*end == ' ') {
            end++;
        }
        if (*end == '\0') {
            return n;
        }
        if (*end != ',') {
            return -1;
        }
        p = end + 1;
    }
}

bool cb_opt_list_has(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; *p;) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        const char *e = p;
        while (*e && *e != ',' && *e != ' ') {
            e++;
        }
        if ((size_t)(e - p) == n && strncmp(p, name, n) == 0) {
            return true;
        }
        p = e;
    }
    return false;
}

/* output_types: time-domain outputs (outputs.def, SAVE cadence) and
 * summary metrics (metrics.def, "peaks[3]"), at least one. */
static cubie_status check_outputs(const char *key, const char *value,
                                  cubie_error *err)
{
    int n = 0;
    for (const char *p = value; *p;) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        const size_t len = strcspn(p, ", ");
        if (len == 0) {
            break;
        }
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)len, p);
        const int o = cb_output_find(name);
        cb_metric_req req;
        bool is_metric = false;
        CB_TRY(cb_metric_parse(p, len, key, &req, &is_metric, err));
        if (!is_metric && (o < 0 || cb_outputs[o].cadence != CB_CADENCE_SAVE)) {
            char outs[256] = "", metrics[512] = "";
            size_t used = 0;
            for (int i = 0; i < CB_OUT_COUNT; i++) {
                if (cb_outputs[i].cadence == CB_CADENCE_SAVE) {
                    used += (size_t)snprintf(outs + used, sizeof(outs) - used,
                                             "%s%s", used ? " " : "",
                                             cb_outputs[i].name);
                }
            }
            used = 0;
            for (int m = 0; m < CB_METRIC_COUNT && used < sizeof(metrics);
                 m++) {
                used += (size_t)snprintf(
                    metrics + used, sizeof(metrics) - used, "%s%s%s",
                    used ? " " : "", cb_metric_table[m].name,
                    cb_metric_table[m].param ? "[n]" : "");
            }
            return cb_fail(err, CUBIE_E_OPTION, key, 0,
                           "option %s: unknown output '%s' (outputs: %s; "
                           "summary metrics: %s)", key, name, outs,
                           metrics);
        }
        n++;
        p += len;
    }
    if (n == 0) {
        return cb_fail(err, CUBIE_E_OPTION, key, 0,
                       "option %s: at least one output is needed", key);
    }
    return CUBIE_OK;
}

/* save_variables, summarise_variables: identifiers, comma-separated, or
 * "[]" for none (whether each names a state or an observable is checked
 * against the system when the kernel is generated). */
static cubie_status check_names(const char *key, const char *value,
                                cubie_error *err)
{
    if (strcmp(value, "[]") == 0) {
        return CUBIE_OK;
    }
    for (const char *p = value; *p; p++) {
        const bool ok = *p == ',' || *p == ' ' || *p == '_' ||
                        isalnum((unsigned char)*p);
        if (!ok) {
            return cb_fail(err, CUBIE_E_OPTION, key, 0,
                           "option %s: '%s' is not a comma-separated list "
                           "of variable names (\"[]\" for none)", key,
                           value);
        }
    }
    return CUBIE_OK;
}

/* The *_indices options: whole numbers >= 0, comma-separated, or "[]"
 * (their range is checked against the system at generation). */
static cubie_status check_indices(const char *key, const char *value,
                                  cubie_error *err)
{
    if (strcmp(value, "[]") == 0) {
        return CUBIE_OK;
    }
    for (const char *p = value; *p; p++) {
        if (!(*p == ',' || *p == ' ' || (*p >= '0' && *p <= '9'))) {
            return cb_fail(err, CUBIE_E_OPTION, key, 0,
                           "option %s: '%s' is not a comma-separated list "
                           "of indices (\"[]\" for none)", key, value);
        }
    }
    return CUBIE_OK;
}

/* TEXT options: a tolerance list, an architecture, a list of outputs,
 * names or indices. */
static cubie_status check_text(int id, const char *key, const char *value,
                               cubie_error *err)
{
    const cb_opt_values v = cb_opt_table[id].values;
    if (v == CB_VALUES_TOLERANCES) {
        double tmp[1];
        if (cb_opt_number_list(value, tmp, 1) < 1) {
            return cb_fail(err, CUBIE_E_OPTION, key, 0,
                           "option %s: '%s' is not a number >= 0 or a "
                           "comma-separated list of them (one per state)",
                           key, value);
        }
    } else if (v == CB_VALUES_ARCH) {
        if (!valid_arch(value) && *value != '\0') {
            return cb_fail(err, CUBIE_E_OPTION, key, 0,
                           "option %s: '%s' is not an architecture like "
                           "sm_90 (CUBIN) or compute_90 (PTX)", key, value);
        }
    } else if (v == CB_VALUES_OUTPUTS) {
        return check_outputs(key, value, err);
    } else if (v == CB_VALUES_VARIABLES) {
        return check_names(key, value, err);
    } else if (v == CB_VALUES_INDICES) {
        return check_indices(key, value, err);
    }
    return CUBIE_OK;
}

static cubie_status parse_value(int id, const char *key, const char *value,
                                double *num, char **norm, cubie_error *err)
{
    const cb_opt_info *info = &cb_opt_table[id];
    char *end = NULL;
    *norm = NULL;
    switch (info->kind) {
    case CB_KIND_NUM:
        *num = strtod(value, &end);
        if (end == value || *end != '\0' || !isfinite(*num)) {
            return cb_fail(err, CUBIE_E_OPTION, key, 0,
                           "option %s: '%s' is not a finite number", key,
                           value);
        }
        break;
    case CB_KIND_INT:
        *num = strtod(value, &end);
        if (end == value || *end != '\0' || !isfinite(*num) ||
            *num != floor(*num) || *num < 0 || *num > 2147483647.0) {
            return cb_fail(err, CUBIE_E_OPTION, key, 0,
                           "option %s: '%s' is not a whole number in "
                           "[0, 2147483647]", key, value);
        }
        break;
    case CB_KIND_BOOL:
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0) {
            *num = 1.0;
        } else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0) {
            *num = 0.0;
        } else {
            return cb_fail(err, CUBIE_E_OPTION, key, 0,
                           "option %s: '%s' is not true or false", key,
                           value);
        }
        break;
    case CB_KIND_CHOICE:
        if (info->values == CB_VALUES_METHODS) {
            const cb_method *m = cb_method_find(value);
            if (m == NULL) {
                char names[1024];
                cb_method_names(names, sizeof(names));
                return cb_fail(err, CUBIE_E_OPTION, key, 0,
                               "option algorithm: unknown algorithm '%s' "
                               "(the algorithms: %s; or a family name: "
                               "dirk, firk, rosenbrock)", value, names);
            }
            /* Store the canonical name, so aliases share one kernel. */
            *norm = strdup(m->name);
            return *norm ? CUBIE_OK : cb_fail_nomem(err);
        }
        if (info->values == CB_VALUES_CONTROLLERS
                ? cb_controller_find(value) < 0
                : choice_index(info->values, value) < 0) {
            char choices[256];
            choices_text(info->values, choices, sizeof(choices));
            return cb_fail(err, CUBIE_E_OPTION, key, 0,
                           "option %s: '%s' is not one of: %s", key, value,
                           choices);
        }
        break;
    case CB_KIND_TEXT: {
        cubie_status st = check_text(id, key, value, err);
        if (st != CUBIE_OK) {
            return st;
        }
        break;
    }
    }
    *norm = strdup(value);
    return *norm ? CUBIE_OK : cb_fail_nomem(err);
}

cubie_status cb_options_set(struct cubie_options *o, const char *key,
                            const char *value, cubie_error *err)
{
    if (o == NULL || key == NULL || value == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_options_set: NULL argument");
    }
    int id = find_key(key);
    if (id < 0) {
        if (has_suffix(key, "_location")) {
            if (strcmp(value, "shared") != 0 && strcmp(value, "local") != 0) {
                return cb_fail(err, CUBIE_E_OPTION, key, 0,
                               "option %s: '%s' is not shared or local",
                               key, value);
            }
            for (int i = 0; i < o->n_locs; i++) {
                if (strcmp(o->locs[i].key, key) == 0) {
                    char *v = strdup(value);
                    if (v == NULL) {
                        return cb_fail_nomem(err);
                    }
                    free(o->locs[i].value);
                    o->locs[i].value = v;
                    return CUBIE_OK;
                }
            }
            cb_location_opt *p =
                realloc(o->locs, sizeof(*p) * (size_t)(o->n_locs + 1));
            if (p == NULL) {
                return cb_fail_nomem(err);
            }
            o->locs = p;
            p[o->n_locs].key = strdup(key);
            p[o->n_locs].value = strdup(value);
            if (p[o->n_locs].key == NULL || p[o->n_locs].value == NULL) {
                free(p[o->n_locs].key);
                free(p[o->n_locs].value);
                return cb_fail_nomem(err);
            }
            o->n_locs++;
            return CUBIE_OK;
        }
        for (int i = 0; renamed[i][0]; i++) {
            if (strcmp(renamed[i][0], key) == 0) {
                return cb_fail(err, CUBIE_E_OPTION, key, 0,
                               "unknown option '%s': it is called '%s' now",
                               key, renamed[i][1]);
            }
        }
        return cb_fail(err, CUBIE_E_OPTION, key, 0,
                       "unknown option '%s' (`cubie list options` lists them)",
                       key);
    }
    double num = NAN;
    char *norm = NULL;
    cubie_status st = parse_value(id, key, value, &num, &norm, err);
    if (st != CUBIE_OK) {
        return st;
    }
    free(o->text[id]);
    o->text[id] = norm;
    o->num[id] = num;
    return CUBIE_OK;
}

cubie_status cb_options_set_pair(struct cubie_options *o, const char *pair,
                                 cubie_error *err)
{
    if (o == NULL || pair == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_options_set_pair: NULL argument");
    }
    const char *eq = strchr(pair, '=');
    if (eq == NULL || eq == pair) {
        return cb_fail(err, CUBIE_E_OPTION, pair, 0,
                       "expected key=value, got '%s'", pair);
    }
    char key[128];
    size_t n = (size_t)(eq - pair);
    if (n >= sizeof(key)) {
        return cb_fail(err, CUBIE_E_OPTION, pair, 0, "option key too long");
    }
    memcpy(key, pair, n);
    key[n] = '\0';
    return cb_options_set(o, key, eq + 1, err);
}

const char *cb_options_get(const struct cubie_options *o, const char *key)
{
    if (o == NULL || key == NULL) {
        return NULL;
    }
    int id = find_key(key);
    if (id >= 0) {
        return cb_opt_text(o, (cb_opt_id)id);
    }
    for (int i = 0; i < o->n_locs; i++) {
        if (strcmp(o->locs[i].key, key) == 0) {
            return o->locs[i].value;
        }
    }
    return NULL;
}

const char *cb_opt_text(const struct cubie_options *o, cb_opt_id id)
{
    return o->text[id] ? o->text[id] : cb_opt_table[id].def;
}

bool cb_opt_is_set(const struct cubie_options *o, cb_opt_id id)
{
    return o->text[id] != NULL;
}

double cb_opt_num(const struct cubie_options *o, cb_opt_id id)
{
    return o->num[id];
}

cb_choice cb_opt_choice(const struct cubie_options *o, cb_opt_id id)
{
    /* Values are checked when set, and defaults are valid (a test checks
     * every default), so this finds one. */
    const int i = choice_index(cb_opt_table[id].values, cb_opt_text(o, id));
    return i >= 0 ? (cb_choice)i : (cb_choice)0;
}
