/* Results: the kernel's per-save output arrays (kernel_args.def) in the
 * user's layout (run, save, column), the save times, the status of every
 * run, and the accessors of cubie.h. */
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "summary.h"

static void free_names(char **names)
{
    for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
        free(names[i]);
    }
    free(names);
}

/* A variable's name: state i, or observable i. */
static const char *var_name(const struct cubie_system *sys, bool obs, int i)
{
    return obs ? sys->aux_names[sys->obs_aux[i]] : sys->state_names[i];
}

/* The legends of a summary array: for each summarised variable, in
 * index order, "<variable> <output>" for each output of each metric. */
static bool summary_names(const struct cubie_solver *s, bool obs,
                          char **names, size_t *n)
{
    cb_metric_list ml;
    cb_selection sel;
    cubie_error err = {0};
    if (cb_summary_metrics(cb_opt_text(s->opt, CB_OPT_OUTPUT_TYPES), &ml,
                           &err) != CUBIE_OK ||
        cb_select_variables(s->sys, s->opt, &sel, &err) != CUBIE_OK) {
        cubie_error_clear(&err);
        return false;
    }
    const cb_index_set *vars = obs ? &sel.summ_obs : &sel.summ_states;
    bool ok = true;
    for (int q = 0; ok && q < vars->n; q++) {
        for (int i = 0; ok && i < ml.n; i++) {
            for (int k = 0; ok && k < cb_metric_outputs(&ml.m[i]); k++) {
                char out[48], name[600];
                cb_metric_output_name(&ml.m[i], k, out, sizeof(out));
                snprintf(name, sizeof(name), "%s %s",
                         var_name(s->sys, obs, vars->idx[q]), out);
                names[*n] = strdup(name);
                ok = names[(*n)++] != NULL;
            }
        }
    }
    cb_selection_free(&sel);
    return ok;
}

/* The column names of an output array: each output written to it, in
 * table order, gives its columns' names (the saved variables only). */
static char **column_names(const struct cubie_solver *s, cb_karg a)
{
    const struct cubie_system *sys = s->sys;
    const cb_kernel_info *k = &s->out.info;
    char **names = calloc((size_t)k->cols[a] + 1, sizeof(char *));
    cb_selection sel;
    cubie_error err = {0};
    if (names == NULL ||
        cb_select_variables(sys, s->opt, &sel, &err) != CUBIE_OK) {
        cubie_error_clear(&err);
        free(names);
        return NULL;
    }
    size_t n = 0;
    bool ok = true;
    for (int o = 0; ok && o < CB_OUT_COUNT; o++) {
        if (!k->out[o] || cb_outputs[o].array != a) {
            continue;
        }
        switch (cb_outputs[o].cols) {
        case CB_COLS_STATES:
        case CB_COLS_OBSERVABLES: {
            const bool obs = cb_outputs[o].cols == CB_COLS_OBSERVABLES;
            const cb_index_set *v = obs ? &sel.saved_obs : &sel.saved_states;
            for (int i = 0; ok && i < v->n; i++) {
                names[n] = strdup(var_name(sys, obs, v->idx[i]));
                ok = names[n++] != NULL;
            }
            break;
        }
        case CB_COLS_COUNTERS:
            for (int i = 0; ok && i < CB_N_COUNTERS; i++) {
                names[n] = strdup(cb_counter_names[i]);
                ok = names[n++] != NULL;
            }
            break;
        case CB_COLS_ONE:
            names[n] = strdup(cb_outputs[o].label);
            ok = names[n++] != NULL;
            break;
        case CB_COLS_STATE_SUMMARIES:
        case CB_COLS_OBSERVABLE_SUMMARIES:
            ok = summary_names(s, cb_outputs[o].cols ==
                                      CB_COLS_OBSERVABLE_SUMMARIES,
                               names, &n);
            break;
        }
    }
    cb_selection_free(&sel);
    if (!ok) {
        free_names(names);
        return NULL;
    }
    return names;
}

/* The caller's buffer for the array called name, checked to be bytes
 * long; NULL when none is given. */
static cubie_status find_buffer(const cubie_output_buffer *buffers,
                                size_t n, bool *used, const char *name,
                                size_t bytes, void **out, cubie_error *err)
{
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (buffers[i].array == NULL || strcmp(buffers[i].array, name) != 0) {
            continue;
        }
        if (used[i] || buffers[i].data == NULL || buffers[i].bytes != bytes) {
            return cb_fail(err, CUBIE_E_ARG, name, 0,
                           "cubie_run_into: the buffer for %s %s (it takes "
                           "%zu bytes, not %zu)", name,
                           used[i] ? "is given twice"
                           : buffers[i].data == NULL ? "is NULL"
                                                     : "has the wrong size",
                           bytes, buffers[i].bytes);
        }
        used[i] = true;
        *out = buffers[i].data;
    }
    return CUBIE_OK;
}

cubie_status cb_result_new(const struct cubie_solver *s, size_t n_runs,
                           const cb_plan *p,
                           const cubie_output_buffer *buffers,
                           size_t n_buffers, struct cubie_result **out,
                           cubie_error *err)
{
    bool *used = calloc(n_buffers + 1, sizeof(bool));
    if (used == NULL) {
        return cb_fail_nomem(err);
    }
    cubie_status st = CUBIE_OK;
    const cb_kernel_info *k = &s->out.info;
    struct cubie_result *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        free(used);
        return cb_fail_nomem(err);
    }
    r->n_runs = n_runs;
    r->n_saves = (size_t)p->n_saves;
    r->n_windows = (size_t)p->n_windows;
    r->precision = k->is_double ? 8 : 4;
    r->time = malloc(sizeof(double) * (r->n_saves + 1));
    r->summary_time = malloc(sizeof(double) * (r->n_windows + 1));
    void *status = NULL;
    st = find_buffer(buffers, n_buffers, used, "status",
                     n_runs * sizeof(int32_t), &status, err);
    r->status_borrowed = status != NULL;
    r->status = status != NULL ? status : calloc(n_runs, sizeof(int32_t));
    bool ok = r->time != NULL && r->summary_time != NULL && r->status != NULL;
    for (int a = 0; ok && st == CUBIE_OK && a < CB_KARG_COUNT; a++) {
        const bool per_save = cb_kargs[a].rows == CB_ROWS_SAVES;
        if (cb_kargs[a].dir != CB_DIR_OUT ||
            (!per_save && cb_kargs[a].rows != CB_ROWS_WINDOWS) ||
            (k->cols[a] == 0 && a != CB_KARG_STATE_OUT)) {
            continue; /* the state array is there even with no column */
        }
        const size_t sz = cb_kargs[a].elem == CB_ELEM_INT ? sizeof(int32_t)
                                                          : (size_t)r->precision;
        r->rows[a] = per_save ? r->n_saves : r->n_windows;
        r->cols[a] = (size_t)k->cols[a];
        const size_t bytes = sz * r->n_runs * r->rows[a] * r->cols[a];
        void *given = NULL;
        st = find_buffer(buffers, n_buffers, used, cb_kargs[a].result, bytes,
                         &given, err);
        r->borrowed[a] = given != NULL;
        r->data[a] = given != NULL ? given : cb_big_alloc(bytes + 8);
        r->names[a] = column_names(s, (cb_karg)a);
        ok = r->data[a] != NULL && r->names[a] != NULL;
    }
    for (size_t i = 0; ok && st == CUBIE_OK && i < n_buffers; i++) {
        if (!used[i]) {
            st = cb_fail(err, CUBIE_E_ARG, buffers[i].array ? buffers[i].array
                                                            : "",
                         0,
                         "cubie_run_into: this run writes no array '%s' "
                         "(a buffer may be given for state, observables, "
                         "iteration_counters, state_summaries, "
                         "observable_summaries and status, of those the run "
                         "writes)",
                         buffers[i].array ? buffers[i].array : "(NULL)");
        }
    }
    free(used);
    if (!ok || st != CUBIE_OK) {
        cubie_result_free(r);
        return st != CUBIE_OK ? st : cb_fail_nomem(err);
    }
    for (size_t i = 0; i < r->n_saves; i++) {
        r->time[i] = p->t0 + p->settle + (double)i * p->save_every;
    }
    /* Window w ends at its last sample, (w + 1) N samples in. */
    for (size_t w = 0; w < r->n_windows; w++) {
        r->summary_time[w] = p->t0 + p->settle +
                             (double)((w + 1) * (size_t)p->per_window) *
                                 p->sample_every;
    }
    snprintf(r->backend, sizeof(r->backend), "%s", s->backend);
    *out = r;
    return CUBIE_OK;
}

void cubie_result_free(struct cubie_result *r)
{
    if (r == NULL) {
        return;
    }
    for (int a = 0; a < CB_KARG_COUNT; a++) {
        if (!r->borrowed[a]) {
            free(r->data[a]);
        }
        free_names(r->names[a]);
    }
    cb_record_free(r->record);
    free(r->time);
    free(r->summary_time);
    if (!r->status_borrowed) {
        free(r->status);
    }
    free(r->notes);
    free(r);
}

/* A setting's value as it ran, or "" (record.c has every option). */
static const char *setting(const struct cubie_result *r, const char *key)
{
    cubie_setting v;
    return cubie_result_find_setting(r, key, &v) == CUBIE_OK && v.text != NULL
               ? v.text
               : "";
}

cubie_status cb_result_notes(struct cubie_result *r, cubie_error *err)
{
    size_t capped = 0;
    for (size_t i = 0; i < r->n_runs; i++) {
        capped += (r->status[i] & CUBIE_RUN_LINEAR_CAP_OFTEN) != 0;
    }
    char text[768] = "";
    if (capped > 0) {
        const char *lin = setting(r, "linear_correction_type");
        const char *pre = setting(r, "preconditioner_type");
        char try_[256] = "";
        /* lu has no cap to hit: the direct solve of a small system */
        snprintf(try_, sizeof(try_), "linear_correction_type=lu (a direct "
                 "solve), ");
        if (strcmp(lin, "bicgstab") != 0) {
            const size_t k = strlen(try_);
            snprintf(try_ + k, sizeof(try_) - k,
                     "linear_correction_type=bicgstab, ");
        }
        if (strncmp(pre, "jacobi", 6) != 0) {
            const size_t k = strlen(try_);
            snprintf(try_ + k, sizeof(try_) - k, "preconditioner_type=jacobi, ");
        }
        snprintf(text, sizeof(text),
                 "%zu of %zu runs: linear solves (%s, preconditioner %s) hit "
                 "krylov_max_iters (%s) in one step attempt in ten or more, "
                 "and each such attempt was rejected; try %sor a larger "
                 "krylov_max_iters\n",
                 capped, r->n_runs, lin, pre, setting(r, "krylov_max_iters"),
                 try_);
    }
    free(r->notes);
    r->notes = strdup(text);
    return r->notes != NULL ? CUBIE_OK : cb_fail_nomem(err);
}

const char *cubie_result_notes(const struct cubie_result *r)
{
    return r != NULL && r->notes != NULL ? r->notes : "";
}

/* ---- accessors ------------------------------------------------------------ */

size_t cubie_result_n_runs(const struct cubie_result *r)
{
    return r ? r->n_runs : 0;
}

size_t cubie_result_n_saves(const struct cubie_result *r)
{
    return r ? r->n_saves : 0;
}

size_t cubie_result_n_vars(const struct cubie_result *r)
{
    return r ? r->cols[CB_KARG_STATE_OUT] : 0;
}

int cubie_result_precision(const struct cubie_result *r)
{
    return r ? r->precision : 0;
}

const char *cubie_result_var_name(const struct cubie_result *r, size_t v)
{
    return r && v < r->cols[CB_KARG_STATE_OUT]
               ? r->names[CB_KARG_STATE_OUT][v]
               : NULL;
}

const void *cubie_result_state_data(const struct cubie_result *r)
{
    return r ? r->data[CB_KARG_STATE_OUT] : NULL;
}

/* Value (run, save, column) of a real array, or NaN out of range. */
static double real_at(const struct cubie_result *r, cb_karg a, size_t run,
                      size_t save, size_t col)
{
    if (r == NULL || r->data[a] == NULL || run >= r->n_runs ||
        save >= r->n_saves || col >= r->cols[a]) {
        return NAN;
    }
    return cb_get_real(r->data[a], r->precision == 8,
                       (run * r->n_saves + save) * r->cols[a] + col);
}

double cubie_result_state(const struct cubie_result *r, size_t run,
                          size_t save, size_t var)
{
    return real_at(r, CB_KARG_STATE_OUT, run, save, var);
}

const double *cubie_result_time(const struct cubie_result *r)
{
    return r ? r->time : NULL;
}

const int32_t *cubie_result_status(const struct cubie_result *r)
{
    return r ? r->status : NULL;
}

size_t cubie_result_n_observables(const struct cubie_result *r)
{
    return r ? r->cols[CB_KARG_OBS_OUT] : 0;
}

const char *cubie_result_observable_name(const struct cubie_result *r,
                                         size_t k)
{
    return r && k < r->cols[CB_KARG_OBS_OUT] ? r->names[CB_KARG_OBS_OUT][k]
                                             : NULL;
}

const void *cubie_result_observable_data(const struct cubie_result *r)
{
    return r ? r->data[CB_KARG_OBS_OUT] : NULL;
}

double cubie_result_observable(const struct cubie_result *r, size_t run,
                               size_t save, size_t k)
{
    return real_at(r, CB_KARG_OBS_OUT, run, save, k);
}

const int32_t *cubie_result_counters(const struct cubie_result *r)
{
    return r ? r->data[CB_KARG_COUNTERS_OUT] : NULL;
}

const char *cubie_result_backend(const struct cubie_result *r)
{
    return r ? r->backend : NULL;
}

size_t cubie_result_n_chunks(const struct cubie_result *r)
{
    return r ? r->n_chunks : 0;
}

double cubie_result_kernel_ms(const struct cubie_result *r)
{
    return r ? r->kernel_ms : 0.0;
}

double cubie_result_copy_ms(const struct cubie_result *r)
{
    return r ? r->copy_ms : 0.0;
}

double cubie_result_wall_ms(const struct cubie_result *r)
{
    return r ? r->wall_ms : 0.0;
}

/* ---- arrays ----------------------------------------------------------------- */

/* The arrays a result holds, in order: state, time, status, then the
 * other per-save outputs of kernel_args.def that were written. */
static int array_karg(const struct cubie_result *r, size_t i)
{
    /* -2: time, -1: status */
    if (i == 0) {
        return CB_KARG_STATE_OUT;
    }
    if (i == 1) {
        return -2;
    }
    if (i == 2) {
        return -1;
    }
    size_t n = 3;
    for (int a = 0; a < CB_KARG_COUNT; a++) {
        if (a != CB_KARG_STATE_OUT && r->data[a] != NULL && n++ == i) {
            return a;
        }
    }
    return r->n_windows > 0 && n == i ? -4 : -3; /* -4: summary_time */
}

size_t cubie_result_n_arrays(const struct cubie_result *r)
{
    if (r == NULL) {
        return 0;
    }
    size_t n = 3 + (r->n_windows > 0);
    for (int a = 0; a < CB_KARG_COUNT; a++) {
        n += a != CB_KARG_STATE_OUT && r->data[a] != NULL;
    }
    return n + cb_record_n_arrays(r->record); /* the inputs come last */
}

cubie_status cubie_result_array(const struct cubie_result *r, size_t i,
                                cubie_array *out)
{
    if (r == NULL || out == NULL || i >= cubie_result_n_arrays(r)) {
        return CUBIE_E_ARG;
    }
    memset(out, 0, sizeof(*out));
    const size_t n_own = cubie_result_n_arrays(r) -
                         cb_record_n_arrays(r->record);
    if (i >= n_own) {
        return cb_record_array(r->record, i - n_own, out);
    }
    const int a = array_karg(r, i);
    if (a == -2) {
        *out = (cubie_array){.name = "time", .data = r->time, .descr = "<f8",
                             .elem_size = 8, .ndim = 1,
                             .shape = {r->n_saves}, .axes = "save",
                             .column = ""};
        return CUBIE_OK;
    }
    if (a == -4) {
        *out = (cubie_array){.name = "summary_time", .data = r->summary_time,
                             .descr = "<f8", .elem_size = 8, .ndim = 1,
                             .shape = {r->n_windows}, .axes = "window",
                             .column = ""};
        return CUBIE_OK;
    }
    if (a == -1) {
        *out = (cubie_array){.name = "status", .data = r->status,
                             .descr = "<i4", .elem_size = 4, .ndim = 1,
                             .shape = {r->n_runs}, .axes = "run",
                             .column = ""};
        return CUBIE_OK;
    }
    const bool is_int = cb_kargs[a].elem == CB_ELEM_INT;
    out->name = cb_kargs[a].result;
    out->data = r->data[a];
    out->descr = is_int ? "<i4" : r->precision == 8 ? "<f8" : "<f4";
    out->elem_size = is_int ? 4 : (size_t)r->precision;
    out->ndim = 3;
    out->shape[0] = r->n_runs;
    out->shape[1] = r->rows[a];
    out->shape[2] = r->cols[a];
    out->column = cb_kargs[a].column;
    out->column_names = (const char *const *)r->names[a];
    out->n_columns = r->cols[a];
    out->axes = cb_karg_axes[a];
    return CUBIE_OK;
}

static const char *array_names[CB_KARG_COUNT + 7];
static pthread_once_t array_names_once = PTHREAD_ONCE_INIT;

static void list_array_names(void)
{
    size_t n = 0;
    array_names[n++] = "state";
    array_names[n++] = "time";
    array_names[n++] = "status";
    for (int a = 0; a < CB_KARG_COUNT; a++) {
        if (a != CB_KARG_STATE_OUT && a != CB_KARG_STATUS_OUT &&
            cb_kargs[a].result[0] != '\0') {
            array_names[n++] = cb_kargs[a].result;
        }
    }
    array_names[n++] = "summary_time";
    array_names[n++] = "inits"; /* the run's inputs (record.c) */
    array_names[n++] = "params";
    array_names[n++] = "drivers";
    array_names[n] = NULL;
}

const char *const *cubie_array_names(void)
{
    pthread_once(&array_names_once, list_array_names);
    return array_names;
}
