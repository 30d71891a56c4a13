/* What the library offers, read from the tables it is built from
 * (gen/methods.def, families.def, controllers.def, outputs.def,
 * options.def, choices.def): the public listing API of cubie.h. Nothing
 * here is a list of its own; `cubie list` and the Python package print
 * these rows. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cubie.h"
#include "options.h"
#include "summary.h"
#include "tables.h"

/* ---- algorithms --------------------------------------------------------- */

/* A method's aliases followed by the bare family names that pick it
 * (families.def, default_method): built once, read-only after. */
static char alias_text[CB_METHOD_COUNT][160];
static pthread_once_t alias_once = PTHREAD_ONCE_INIT;

static void build_aliases(void)
{
    for (int i = 0; i < CB_METHOD_COUNT; i++) {
        char *out = alias_text[i];
        size_t n = sizeof(alias_text[i]);
        int used = snprintf(out, n, "%s", cb_methods[i].aliases);
        for (int f = 0; f < CB_FAM_COUNT && used >= 0 && (size_t)used < n;
             f++) {
            if (strcmp(cb_families[f].default_method, cb_methods[i].name) ==
                0) {
                used += snprintf(out + used, n - (size_t)used, "%s%s",
                                 used > 0 ? " " : "", cb_families[f].name);
            }
        }
    }
}

static const cb_method *method_at(size_t i)
{
    return i < (size_t)CB_METHOD_COUNT ? &cb_methods[i] : NULL;
}

size_t cubie_n_algorithms(void)
{
    return (size_t)CB_METHOD_COUNT;
}

const char *cubie_algorithm_name(size_t i)
{
    const cb_method *m = method_at(i);
    return m != NULL ? m->name : NULL;
}

const char *cubie_algorithm_aliases(size_t i)
{
    if (method_at(i) == NULL) {
        return NULL;
    }
    pthread_once(&alias_once, build_aliases);
    return alias_text[i];
}

const char *cubie_algorithm_family(size_t i)
{
    const cb_method *m = method_at(i);
    return m != NULL ? cb_families[m->family].name : NULL;
}

int cubie_algorithm_is_implicit(size_t i)
{
    const cb_method *m = method_at(i);
    return m != NULL ? m->solves > 0 : -1;
}

int cubie_algorithm_order(size_t i)
{
    const cb_method *m = method_at(i);
    return m != NULL ? m->order : -1;
}

int cubie_algorithm_error_order(size_t i)
{
    const cb_method *m = method_at(i);
    return m != NULL ? m->error_order : -1;
}

const char *cubie_algorithm_default_controller(size_t i)
{
    const cb_method *m = method_at(i);
    return m != NULL ? cb_controllers[cb_method_default_controller(m)].name
                     : NULL;
}

cubie_status cubie_algorithm_find(const char *name, size_t *i)
{
    if (name == NULL || i == NULL) {
        return CUBIE_E_ARG;
    }
    const cb_method *m = cb_method_find(name);
    if (m == NULL) {
        return CUBIE_E_OPTION;
    }
    *i = (size_t)(m - cb_methods);
    return CUBIE_OK;
}

/* ---- options ------------------------------------------------------------ */

static const cb_opt_info *option_at(size_t i)
{
    return i < (size_t)CB_OPT_COUNT ? &cb_opt_table[i] : NULL;
}

size_t cubie_n_options(void)
{
    return (size_t)CB_OPT_COUNT;
}

const char *cubie_option_key(size_t i)
{
    const cb_opt_info *o = option_at(i);
    return o != NULL ? o->key : NULL;
}

const char *cubie_option_default(size_t i)
{
    const cb_opt_info *o = option_at(i);
    return o != NULL ? o->def : NULL;
}

const char *cubie_option_scope(size_t i)
{
    const cb_opt_info *o = option_at(i);
    if (o == NULL) {
        return NULL;
    }
    return o->scope == CB_SCOPE_COMPILE ? "compile" : "run";
}

const char *cubie_option_kind(size_t i)
{
    const cb_opt_info *o = option_at(i);
    if (o == NULL) {
        return NULL;
    }
    switch (o->values) {
    case CB_VALUES_OUTPUTS:
        return "list";
    case CB_VALUES_TOLERANCES:
        return "tolerance";
    case CB_VALUES_ARCH:
        return "arch";
    case CB_VALUES_VARIABLES:
        return "names";
    case CB_VALUES_INDICES:
        return "indices";
    default:
        break;
    }
    switch (o->kind) {
    case CB_KIND_NUM:
        return "number";
    case CB_KIND_INT:
        return "integer";
    case CB_KIND_BOOL:
        return "bool";
    case CB_KIND_CHOICE:
        return "choice";
    case CB_KIND_TEXT:
        break;
    }
    return "text";
}

size_t cubie_option_n_choices(size_t i)
{
    const cb_opt_info *o = option_at(i);
    if (o == NULL) {
        return 0;
    }
    switch (o->values) {
    case CB_VALUES_METHODS:
        return (size_t)CB_METHOD_COUNT;
    case CB_VALUES_CONTROLLERS:
        return (size_t)CB_CTRL_COUNT;
    case CB_VALUES_OUTPUTS:
        return cubie_n_outputs(); /* and the metrics: cubie_metric_name */
    default:
        break;
    }
    const char *list = cb_opt_choice_list(o->values);
    size_t n = 0;
    for (int c = 0; list != NULL && c < CB_CHOICE_COUNT; c++) {
        n += strcmp(cb_choices[c].list, list) == 0;
    }
    return n;
}

const char *cubie_option_choice(size_t i, size_t j)
{
    if (j >= cubie_option_n_choices(i)) {
        return NULL;
    }
    const cb_opt_info *o = option_at(i);
    switch (o->values) {
    case CB_VALUES_METHODS:
        return cb_methods[j].name;
    case CB_VALUES_CONTROLLERS:
        return cb_controllers[j].name;
    case CB_VALUES_OUTPUTS:
        return cb_outputs[j].name;
    default:
        break;
    }
    const char *list = cb_opt_choice_list(o->values);
    for (int c = 0; c < CB_CHOICE_COUNT; c++) {
        if (strcmp(cb_choices[c].list, list) == 0 && j-- == 0) {
            return cb_choices[c].text;
        }
    }
    return NULL;
}

cubie_status cubie_option_find(const char *key, size_t *i)
{
    if (key == NULL || i == NULL) {
        return CUBIE_E_ARG;
    }
    for (int k = 0; k < CB_OPT_COUNT; k++) {
        if (strcmp(cb_opt_table[k].key, key) == 0) {
            *i = (size_t)k;
            return CUBIE_OK;
        }
    }
    return CUBIE_E_OPTION;
}

/* ---- outputs ------------------------------------------------------------ */

/* The values of output_types: the outputs with a row per save (they come
 * first in outputs.def; the summary arrays follow, turned on by the
 * metrics). */
size_t cubie_n_outputs(void)
{
    size_t n = 0;
    while (n < (size_t)CB_OUT_COUNT &&
           cb_outputs[n].cadence == CB_CADENCE_SAVE) {
        n++;
    }
    return n;
}

static const cb_output_info *output_at(size_t i)
{
    return i < cubie_n_outputs() ? &cb_outputs[i] : NULL;
}

const char *cubie_output_name(size_t i)
{
    const cb_output_info *o = output_at(i);
    return o != NULL ? o->name : NULL;
}

const char *cubie_output_array(size_t i)
{
    const cb_output_info *o = output_at(i);
    return o != NULL ? cb_kargs[o->array].result : NULL;
}

const char *cubie_output_columns(size_t i)
{
    const cb_output_info *o = output_at(i);
    if (o == NULL) {
        return NULL;
    }
    switch (o->cols) {
    case CB_COLS_STATES:
        return "states";
    case CB_COLS_OBSERVABLES:
        return "observables";
    case CB_COLS_COUNTERS:
        return "counters";
    case CB_COLS_ONE:
    case CB_COLS_STATE_SUMMARIES:
    case CB_COLS_OBSERVABLE_SUMMARIES:
        break;
    }
    return o->label;
}

int cubie_output_nan_masked(size_t i)
{
    const cb_output_info *o = output_at(i);
    return o != NULL ? o->masked : -1;
}

/* ---- summary metrics ---------------------------------------------------- */

size_t cubie_n_metrics(void)
{
    return (size_t)CB_METRIC_COUNT;
}

static const cb_metric_info *metric_at(size_t i)
{
    return i < (size_t)CB_METRIC_COUNT ? &cb_metric_table[i] : NULL;
}

const char *cubie_metric_name(size_t i)
{
    const cb_metric_info *m = metric_at(i);
    return m != NULL ? m->name : NULL;
}

int cubie_metric_has_parameter(size_t i)
{
    const cb_metric_info *m = metric_at(i);
    return m != NULL ? m->param : -1;
}

int cubie_metric_n_outputs(size_t i)
{
    const cb_metric_info *m = metric_at(i);
    return m != NULL ? m->outputs : -1;
}

const char *cubie_metric_outputs(size_t i)
{
    const cb_metric_info *m = metric_at(i);
    return m != NULL ? m->labels : NULL;
}

cubie_status cubie_metric_find(const char *name, size_t *i)
{
    if (name == NULL || i == NULL) {
        return CUBIE_E_ARG;
    }
    for (size_t k = 0; k < (size_t)CB_METRIC_COUNT; k++) {
        if (strcmp(cb_metric_table[k].name, name) == 0) {
            *i = k;
            return CUBIE_OK;
        }
    }
    return CUBIE_E_OPTION;
}
