/* Output summaries: the metrics of gen/metrics.def, requested in
 * output_types beside the time-domain outputs, and the selection of the
 * variables that are saved and summarised (save_variables, ...). The
 * request and the selection are pure functions of the system and the
 * options, so the runtime (result columns, legends) reads them as the
 * generator does. The loop component emits the metrics' code through
 * cb_summary_emit_* (gen/summary.c). */
#ifndef CB_SUMMARY_H
#define CB_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>

#include "options.h"
#include "spec.h"

typedef enum {
#define CB_METRIC(id, name, slots, outputs, param, labels, reset, update, \
                  save)                                                    \
    CB_METRIC_##id,
#include "metrics.def"
#undef CB_METRIC
    CB_METRIC_COUNT
} cb_metric;

typedef struct {
    const char *name;
    int slots;          /* per variable, plus the parameter for peaks */
    int outputs;        /* per variable; 0: the parameter */
    bool param;         /* takes [n] */
    const char *labels; /* the outputs' names, space-separated */
    const char *reset, *update, *save; /* the code (metrics.def) */
} cb_metric_info;

extern const cb_metric_info cb_metric_table[CB_METRIC_COUNT];

/* One requested metric: which, and its parameter (peaks[n]: n, else 0). */
typedef struct {
    cb_metric id;
    int param;
} cb_metric_req;

#define CB_MAX_METRICS CB_METRIC_COUNT
#define CB_MAX_PEAKS 64

/* The metrics of an output_types list, each once, fused (mean and std
 * requested give mean_std, ...) in request order; a fused metric asked
 * for by name counts as its members (mean_std,rms gives mean_std_rms);
 * n 0 when none. */
typedef struct {
    cb_metric_req m[CB_MAX_METRICS];
    int n;
    int slots;            /* accumulator slots per variable */
    int outputs;          /* values per variable and window */
    int slot_off[CB_MAX_METRICS];
    int out_off[CB_MAX_METRICS];
} cb_metric_list;

/* The metric named by word (len characters), "peaks[3]" with its
 * parameter; *is_metric false when word names no metric (it may name
 * another output). A bad parameter is an error naming the option key. */
cubie_status cb_metric_parse(const char *word, size_t len, const char *key,
                             cb_metric_req *req, bool *is_metric,
                             cubie_error *err);
/* The metrics output_types asks for (see cb_metric_list). */
cubie_status cb_summary_metrics(const char *output_types,
                                cb_metric_list *out, cubie_error *err);
/* The name of output k of a metric: "mean", "max" (of extrema),
 * "peaks_2". */
void cb_metric_output_name(const cb_metric_req *r, int k, char *out,
                           size_t n);
int cb_metric_slots(const cb_metric_req *r);
int cb_metric_outputs(const cb_metric_req *r);

/* A set of variable indices, ascending. */
typedef struct {
    int *idx;
    int n;
} cb_index_set;

/* The saved and summarised states and observables (the original's
 * rules): save_variables (names) unioned with saved_state_indices and
 * saved_observable_indices; none of them set: everything. The summarised
 * ones likewise from summarise_variables and the summarised_*_indices;
 * none of those set: the saved ones. */
typedef struct {
    cb_index_set saved_states, saved_obs, summ_states, summ_obs;
} cb_selection;

cubie_status cb_select_variables(const struct cubie_system *sys,
                                 const struct cubie_options *o,
                                 cb_selection *sel, cubie_error *err);
void cb_selection_free(cb_selection *sel);

#endif
