/* What a run was given, kept with its result so that the result can be
 * traced back and run again: the batch's inputs (the arrays inits and
 * params), the resolved value of every option (cubie_result_setting) and
 * the spec's text.
 *
 * An option's resolved value is, in this order of rules: the plan's value
 * where a run-time setting of settings.def is read from the option (dt,
 * the gains, the tolerances per state: runtime/plan.c derived them); what
 * the compile resolved for the few options it decides (step_controller,
 * backend, arch: gen/generate.c, runtime/compile.c); the plan's memory
 * cap; the variables selected for saving and summarising; else the
 * option's own value (output_types as the list of its names, as given:
 * summary metrics are names there too). A new option
 * needs no code here unless the value that runs is made somewhere else. */
#include "internal.h"
#include "summary.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key;
    cubie_setting_kind kind;
    double number;
    char *text; /* as cubie_options_set takes it; NULL when unset */
    size_t n_items;
    double *numbers;            /* LIST of numbers */
    char **names;               /* LIST of names */
    const char *origin, *scope; /* static */
} cb_setting_value;

struct cb_record {
    cb_setting_value *settings;
    size_t n_settings;
    char *spec;
    size_t n_runs, n_states, n_params;
    /* n_runs x n_states, n_params: the batch's, shared (cb_inputs) */
    cb_inputs *inputs;
    const double *inits, *params;
    char **state_names, **param_names;
    /* the drivers' samples (n_driver_samples x n_drivers), if any */
    size_t n_drivers, n_driver_samples;
    double *drivers;
    char **driver_names;
};

/* ---- values as text ------------------------------------------------------ */

/* The shortest of %.15g, %.16g, %.17g that reads back as x. */
static void number_text(double x, char out[32])
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, x);
        if (strtod(out, NULL) == x) {
            return;
        }
    }
}

/* A setting's text from its kind and value(s); false when out of memory. */
static bool make_text(cb_setting_value *v)
{
    char num[32];
    switch (v->kind) {
    case CUBIE_SETTING_NUMBER:
        number_text(v->number, num);
        v->text = strdup(num);
        break;
    case CUBIE_SETTING_INTEGER:
        snprintf(num, sizeof(num), "%.0f", v->number);
        v->text = strdup(num);
        break;
    case CUBIE_SETTING_BOOL:
        v->text = strdup(v->number != 0.0 ? "true" : "false");
        break;
    case CUBIE_SETTING_LIST: {
        if (v->n_items == 0) { /* the options read "" as unset */
            v->text = strdup("[]");
            break;
        }
        cb_sb sb;
        cb_sb_init(&sb);
        for (size_t i = 0; i < v->n_items; i++) {
            if (v->numbers != NULL) {
                number_text(v->numbers[i], num);
            }
            cb_sb_printf(&sb, "%s%s", i > 0 ? "," : "",
                         v->numbers != NULL ? num : v->names[i]);
        }
        v->text = cb_sb_take(&sb);
        break;
    }
    case CUBIE_SETTING_UNSET:
        return true;
    case CUBIE_SETTING_CHOICE:
    case CUBIE_SETTING_TEXT:
        return v->text != NULL;
    }
    return v->text != NULL;
}

/* ---- one option's resolved value ----------------------------------------- */

static cubie_setting_kind number_kind(cb_opt_kind k)
{
    return k == CB_KIND_INT    ? CUBIE_SETTING_INTEGER
           : k == CB_KIND_BOOL ? CUBIE_SETTING_BOOL
                               : CUBIE_SETTING_NUMBER;
}

static bool set_numbers(cb_setting_value *v, const double *x, size_t n)
{
    v->kind = CUBIE_SETTING_LIST;
    v->n_items = n;
    v->numbers = malloc(sizeof(double) * (n > 0 ? n : 1));
    if (v->numbers == NULL) {
        return false;
    }
    if (n > 0) {
        memcpy(v->numbers, x, sizeof(double) * n);
    }
    return true;
}

/* A LIST of names from a comma-separated text. */
static bool set_names_from(cb_setting_value *v, const char *text)
{
    v->kind = CUBIE_SETTING_LIST;
    v->names = calloc(strlen(text) / 2 + 2, sizeof(char *));
    for (const char *p = text; v->names != NULL && *p;) {
        p += strspn(p, ", ");
        const size_t len = strcspn(p, ", ");
        if (len == 0) {
            break;
        }
        v->names[v->n_items] = strndup(p, len);
        if (v->names[v->n_items++] == NULL) {
            return false;
        }
        p += len;
    }
    return v->names != NULL;
}

static bool set_text(cb_setting_value *v, cubie_setting_kind kind,
                     const char *text)
{
    if (text == NULL || text[0] == '\0') {
        v->kind = CUBIE_SETTING_UNSET;
        return true;
    }
    v->kind = kind;
    v->text = strdup(text);
    return v->text != NULL;
}

/* The settings.def entry read from option id, or -1. */
static int setting_of(cb_opt_id id)
{
    for (int s = 0; s < CB_SETTING_COUNT; s++) {
        if (cb_settings[s].option == (int)id) {
            return s;
        }
    }
    return -1;
}

/* The variables the kernel saves or summarises (the selection options'
 * union and default rules applied, gen/summary.c): the names options as
 * the list of those names, states first; the index options as the list
 * of those indices. Given back as they are, they select the same. */
static bool resolve_selection(const struct cubie_solver *s, cb_opt_id id,
                              cb_setting_value *v)
{
    cb_selection sel;
    cubie_error err = {0};
    if (cb_select_variables(s->sys, s->opt, &sel, &err) != CUBIE_OK) {
        cubie_error_clear(&err);
        return false;
    }
    const bool summ = id == CB_OPT_SUMMARISE_VARIABLES ||
                      id == CB_OPT_SUMMARISED_STATE_INDICES ||
                      id == CB_OPT_SUMMARISED_OBSERVABLE_INDICES;
    const cb_index_set *st = summ ? &sel.summ_states : &sel.saved_states;
    const cb_index_set *ob = summ ? &sel.summ_obs : &sel.saved_obs;
    bool ok = true;
    v->kind = CUBIE_SETTING_LIST;
    if (id == CB_OPT_SAVE_VARIABLES || id == CB_OPT_SUMMARISE_VARIABLES) {
        v->names = calloc((size_t)(st->n + ob->n) + 1, sizeof(char *));
        ok = v->names != NULL;
        for (int i = 0; ok && i < st->n + ob->n; i++) {
            const char *name =
                i < st->n ? s->sys->state_names[st->idx[i]]
                          : s->sys->aux_names[s->sys->obs_aux[ob->idx[i - st->n]]];
            v->names[v->n_items] = strdup(name);
            ok = v->names[v->n_items++] != NULL;
        }
    } else {
        const bool obs = id == CB_OPT_SAVED_OBSERVABLE_INDICES ||
                         id == CB_OPT_SUMMARISED_OBSERVABLE_INDICES;
        const cb_index_set *set = obs ? ob : st;
        double *x = malloc(sizeof(double) * (size_t)(set->n > 0 ? set->n : 1));
        ok = x != NULL;
        for (int i = 0; ok && i < set->n; i++) {
            x[i] = (double)set->idx[i];
        }
        ok = ok && set_numbers(v, x, (size_t)set->n);
        free(x);
    }
    cb_selection_free(&sel);
    return ok;
}

/* The value option id ran with, by the rules at the head of this file. */
static bool resolve_option(const struct cubie_solver *s,
                           const struct cubie_options *o, const cb_plan *p,
                           cb_opt_id id, cb_setting_value *v)
{
    const cb_opt_info *info = &cb_opt_table[id];
    const cb_kernel_info *k = &s->out.info;
    const int set = setting_of(id);
    v->origin = cb_opt_is_set(o, id) ? "user"
                : info->def[0]       ? "default"
                                     : "derived";
    v->scope = info->scope == CB_SCOPE_COMPILE ? "compile" : "run";
    v->key = strdup(info->key);
    if (v->key == NULL) {
        return false;
    }
    if (set >= 0 && cb_settings[set].kind == CB_SETK_STATES) {
        return set_numbers(v, p->states[set], (size_t)k->n_states);
    }
    if (set >= 0) {
        v->kind = number_kind(info->kind);
        v->number = p->value[set];
        return true;
    }
    switch (id) {
    case CB_OPT_STEP_CONTROLLER:
        return set_text(v, CUBIE_SETTING_CHOICE,
                        cb_controllers[k->controller].name);
    case CB_OPT_BACKEND:
        return set_text(v, CUBIE_SETTING_CHOICE, s->backend);
    case CB_OPT_LINEAR_CORRECTION_TYPE: /* auto as the compile resolved it */
        if (cb_opt_choice(o, id) == CB_LINEAR_AUTO) {
            v->origin = "derived";
        }
        return set_text(v, CUBIE_SETTING_CHOICE,
                        cb_choices[k->linear].text);
    case CB_OPT_JACOBIAN_UPDATE: /* auto as the compile resolved it */
        if (cb_opt_choice(o, id) == CB_JACOBIAN_AUTO) {
            v->origin = "derived";
        }
        return set_text(v, CUBIE_SETTING_CHOICE,
                        cb_choices[k->jacobian].text);
    case CB_OPT_ARCH: /* what NVRTC built for; unused on the host */
        return set_text(v, CUBIE_SETTING_TEXT,
                        s->arch[0] ? s->arch : cb_opt_text(o, id));
    case CB_OPT_DRIVER_SAMPLE_PERIOD: /* what the spline was built on */
    case CB_OPT_DRIVER_T0:
        v->kind = k->n_drivers > 0 ? CUBIE_SETTING_NUMBER
                                   : CUBIE_SETTING_UNSET;
        v->number = k->n_drivers == 0           ? 0.0
                    : id == CB_OPT_DRIVER_T0 ? p->driver_t0
                                             : p->spline.period;
        if (k->n_drivers > 0 && !cb_opt_is_set(o, id)) {
            v->origin = "derived";
        }
        return true;
    case CB_OPT_DRIVER_BOUNDARY_CONDITION:
        if (k->n_drivers == 0) {
            v->kind = CUBIE_SETTING_UNSET;
            return true;
        }
        v->origin = cb_opt_is_set(o, id) ? "user" : "derived";
        return set_text(v, CUBIE_SETTING_CHOICE,
                        cb_spline_bc_name(p->driver_bc));
    case CB_OPT_MEMORY_CAP:
        v->kind = isfinite(p->memory_cap) ? CUBIE_SETTING_NUMBER
                                          : CUBIE_SETTING_UNSET;
        v->number = isfinite(p->memory_cap) ? p->memory_cap : 0.0;
        return true;
    default:
        break;
    }
    switch (info->kind) {
    case CB_KIND_NUM:
    case CB_KIND_INT:
    case CB_KIND_BOOL:
        v->number = cb_opt_num(o, id);
        v->kind =
            isnan(v->number) ? CUBIE_SETTING_UNSET : number_kind(info->kind);
        v->number = isnan(v->number) ? 0.0 : v->number;
        return true;
    case CB_KIND_CHOICE:
        return set_text(v, CUBIE_SETTING_CHOICE, cb_opt_text(o, id));
    case CB_KIND_TEXT:
        break;
    }
    if (info->values == CB_VALUES_VARIABLES ||
        info->values == CB_VALUES_INDICES) {
        return resolve_selection(s, id, v);
    }
    const char *text = cb_opt_text(o, id);
    if (text[0] == '\0') {
        v->kind = CUBIE_SETTING_UNSET;
        return true;
    }
    if (info->values == CB_VALUES_TOLERANCES) {
        const int n = cb_opt_number_list(text, NULL, 0);
        double *x = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
        const bool ok = x != NULL && n >= 0 &&
                        cb_opt_number_list(text, x, n) == n &&
                        set_numbers(v, x, (size_t)n);
        free(x);
        return ok;
    }
    if (info->values == CB_VALUES_OUTPUTS) {
        return set_names_from(v, text);
    }
    return set_text(v, CUBIE_SETTING_TEXT, text);
}

/* The location settings: one per line "name=where" of the solver's
 * relocatable buffers (gen/generate.c cb_gen_locations). */
static bool resolve_locations(const struct cubie_solver *s,
                              const struct cubie_options *o, cb_record *rec)
{
    const char *text = s->out.locations != NULL ? s->out.locations : "";
    for (const char *line = text; *line;) {
        const size_t len = strcspn(line, "\n");
        const char *eq = memchr(line, '=', len);
        if (eq != NULL) {
            cb_setting_value *v = &rec->settings[rec->n_settings++];
            const int n = (int)(eq - line);
            v->kind = CUBIE_SETTING_CHOICE;
            v->scope = "compile";
            v->origin = "default";
            v->key = malloc((size_t)n + sizeof("_location"));
            v->text = strndup(eq + 1, len - (size_t)n - 1);
            if (v->key == NULL || v->text == NULL) {
                return false;
            }
            snprintf(v->key, (size_t)n + sizeof("_location"), "%.*s_location",
                     n, line);
            for (int i = 0; i < o->n_locs; i++) {
                if (strcmp(o->locs[i].key, v->key) == 0) {
                    v->origin = "user";
                }
            }
        }
        line += len + (line[len] == '\n');
    }
    return true;
}

/* ---- the record ---------------------------------------------------------- */

static void free_names(char **names)
{
    for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
        free(names[i]);
    }
    free(names);
}

void cb_record_free(cb_record *rec)
{
    if (rec == NULL) {
        return;
    }
    for (size_t i = 0; i < rec->n_settings; i++) {
        cb_setting_value *v = &rec->settings[i];
        free(v->key);
        free(v->text);
        free(v->numbers);
        free_names(v->names);
    }
    free(rec->settings);
    free(rec->spec);
    cb_inputs_unref(rec->inputs);
    free_names(rec->state_names);
    free_names(rec->param_names);
    free(rec->drivers);
    free_names(rec->driver_names);
    free(rec);
}

/* n names copied, NULL-terminated. */
static char **copy_names(const char *const *names, size_t n)
{
    char **out = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; out != NULL && i < n; i++) {
        out[i] = strdup(names[i]);
        if (out[i] == NULL) {
            free_names(out);
            return NULL;
        }
    }
    return out;
}

/* n values of x. */
static double *copy_values(const double *x, size_t n)
{
    double *out = cb_big_alloc(sizeof(double) * (n > 0 ? n : 1));
    if (out != NULL && n > 0) {
        memcpy(out, x, sizeof(double) * n);
    }
    return out;
}

cubie_status cb_record_make(const struct cubie_solver *s,
                            const struct cubie_options *o, const cb_plan *p,
                            const struct cubie_batch *in, cb_record **out,
                            cubie_error *err)
{
    *out = NULL;
    cb_record *rec = calloc(1, sizeof(*rec));
    if (rec == NULL) {
        return cb_fail_nomem(err);
    }
    rec->n_runs = in->n_runs;
    rec->n_states = (size_t)s->sys->n_states;
    rec->n_params = (size_t)s->sys->n_params;
    /* The batch's own values, not a copy: it copies them before it next
     * changes them. */
    rec->inputs = cb_inputs_ref(in->data);
    rec->inits = rec->inputs->inits;
    rec->params = rec->inputs->params;
    rec->state_names = copy_names(s->sys->state_names, rec->n_states);
    rec->param_names = copy_names(s->sys->param_names, rec->n_params);
    rec->spec = strdup(s->sys->json);
    bool drivers_ok = true;
    if (s->sys->n_drivers > 0 && in->driver_samples != NULL) {
        rec->n_drivers = (size_t)s->sys->n_drivers;
        rec->n_driver_samples = in->n_driver_samples;
        rec->drivers = copy_values(in->driver_samples,
                                   rec->n_drivers * rec->n_driver_samples);
        rec->driver_names = copy_names(s->sys->driver_names, rec->n_drivers);
        drivers_ok = rec->drivers != NULL && rec->driver_names != NULL;
    }
    size_t n_locs = 0;
    for (const char *c = s->out.locations; c != NULL && *c; c++) {
        n_locs += *c == '\n';
    }
    rec->settings =
        calloc((size_t)CB_OPT_COUNT + n_locs, sizeof(cb_setting_value));
    bool ok = rec->state_names != NULL && rec->param_names != NULL &&
              rec->spec != NULL && rec->settings != NULL && drivers_ok;
    for (int id = 0; ok && id < CB_OPT_COUNT; id++) {
        cb_setting_value *v = &rec->settings[rec->n_settings++];
        ok = resolve_option(s, o, p, (cb_opt_id)id, v) && make_text(v);
    }
    ok = ok && resolve_locations(s, o, rec);
    if (!ok) {
        cb_record_free(rec);
        return cb_fail_nomem(err);
    }
    *out = rec;
    return CUBIE_OK;
}

/* ---- the inputs as arrays ------------------------------------------------ */

size_t cb_record_n_arrays(const cb_record *rec)
{
    return rec == NULL ? 0 : rec->drivers != NULL ? 3 : 2;
}

cubie_status cb_record_array(const cb_record *rec, size_t i, cubie_array *out)
{
    if (rec == NULL || i >= cb_record_n_arrays(rec)) {
        return CUBIE_E_ARG;
    }
    if (i == 2) { /* the drivers' samples, shared by every run */
        *out = (cubie_array){
            .name = "drivers",
            .data = rec->drivers,
            .descr = "<f8",
            .elem_size = 8,
            .ndim = 2,
            .shape = {rec->n_driver_samples, rec->n_drivers},
            .axes = "sample, driver",
            .column = "driver",
            .column_names = (const char *const *)rec->driver_names,
            .n_columns = rec->n_drivers};
        return CUBIE_OK;
    }
    const bool inits = i == 0;
    const size_t cols = inits ? rec->n_states : rec->n_params;
    *out = (cubie_array){
        .name = inits ? "inits" : "params",
        .data = inits ? rec->inits : rec->params,
        .descr = "<f8",
        .elem_size = 8,
        .ndim = 2,
        .shape = {rec->n_runs, cols},
        .axes = inits ? "run, state" : "run, parameter",
        .column = inits ? "state" : "parameter",
        .column_names =
            (const char *const *)(inits ? rec->state_names : rec->param_names),
        .n_columns = cols};
    return CUBIE_OK;
}

/* ---- the accessors of cubie.h -------------------------------------------- */

size_t cubie_result_n_settings(const struct cubie_result *r)
{
    return r != NULL && r->record != NULL ? r->record->n_settings : 0;
}

cubie_status cubie_result_setting(const struct cubie_result *r, size_t i,
                                  cubie_setting *out)
{
    if (out == NULL || i >= cubie_result_n_settings(r)) {
        return CUBIE_E_ARG;
    }
    const cb_setting_value *v = &r->record->settings[i];
    *out = (cubie_setting){.key = v->key,
                           .kind = v->kind,
                           .number = v->number,
                           .text = v->text,
                           .n_items = v->n_items,
                           .numbers = v->numbers,
                           .names = (const char *const *)v->names,
                           .origin = v->origin,
                           .scope = v->scope};
    return CUBIE_OK;
}

cubie_status cubie_result_find_setting(const struct cubie_result *r,
                                       const char *key, cubie_setting *out)
{
    if (r == NULL || key == NULL || out == NULL) {
        return CUBIE_E_ARG;
    }
    for (size_t i = 0; i < cubie_result_n_settings(r); i++) {
        if (strcmp(r->record->settings[i].key, key) == 0) {
            return cubie_result_setting(r, i, out);
        }
    }
    return CUBIE_E_OPTION;
}

const char *cubie_result_spec(const struct cubie_result *r)
{
    return r != NULL && r->record != NULL ? r->record->spec : NULL;
}
