/* Runtime internals shared by the runtime's files:
 *   api.c      version, status strings, systems, options (the public
 *              wrappers of gen/)
 *   compile.c  cubie_compile as a table of passes; the solver
 *   plan.c     the run's settings from the options and the tables
 *   run.c      cubie_run: chunks over the kernel argument table
 *   result.c   results and their arrays
 *   record.c   what a run was given: inputs, resolved options, spec
 *   batch.c    batches; host.c, nvrtc.c, driver.c the backends;
 *   cache.c    the kernel cache; npy.c the .npy writer. */
#ifndef CB_RUNTIME_INTERNAL_H
#define CB_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "cubie.h"
#include "driver.h"
#include "generate.h"
#include "cuda_build.h"
#include "spline.h"

/* A batch's inputs, shared (by reference count) with the records of the
 * runs made from it, so that a result keeps what its runs were given
 * without copying it; the batch copies them before it next changes them
 * (cb_batch_writable), never the record. */
typedef struct cb_inputs {
    long refs; /* atomic */
    double *inits, *params;
    size_t n_inits, n_params; /* values of each */
} cb_inputs;

/* Another reference to in; dropped by cb_inputs_unref (NULL accepted),
 * which frees the values with the last. */
cb_inputs *cb_inputs_ref(cb_inputs *in);
void cb_inputs_unref(cb_inputs *in);

struct cubie_batch {
    struct cubie_system *sys; /* own copy: the caller may free theirs */
    size_t n_runs;
    cb_inputs *data;  /* inits and params below are its arrays */
    double *inits;  /* n_runs x n_states, one run per row */
    double *params; /* n_runs x n_params */
    /* The drivers' samples, shared by every run: n_samples x n_drivers
     * (NULL until the first is set), which are set, and their times when
     * given (cubie_batch_set_driver_times). */
    double *driver_samples;
    size_t n_driver_samples;
    bool *driver_set;
    bool has_driver_times;
    double driver_t0, driver_period;
};

/* ---- the host backend (host.c) ---- */

/* The host entry of a generated kernel (templates/entry.cu): the kernel's
 * arguments as an array of pointers to them, in kernel_args.def's order. */
typedef void (*cb_host_fn)(void *const *args);

typedef struct {
    void *handle;        /* dlopen handle */
    cb_host_fn run;
    bool cache_hit;
    bool have_cache;
    char *image;         /* the object's bytes, until loaded */
    int fd;              /* the memfd it is loaded from, or -1 */
    size_t image_len;
    char key[33];        /* the cache key */
    char cached[1024];   /* its entry in the cache */
    char note[600];      /* what the build noticed (a bad entry), or "" */
} cb_host_module;

/* Find the compiled source in the cache, or compile it (cached unless
 * use_cache is false). */
cubie_status cb_host_build(const char *source, bool use_cache,
                           cb_host_module *m, cubie_error *err);
/* Load what cb_host_build found or made (a cached object that does not
 * load is compiled again). */
cubie_status cb_host_load(const char *source, cb_host_module *m,
                          cubie_error *err);
void cb_host_unload(cb_host_module *m);

/* ---- solvers (compile.c) ---- */

typedef struct cb_workers cb_workers; /* workers.c */

struct cubie_solver {
    struct cubie_system *sys;   /* own copy */
    struct cubie_options *opt;  /* own copy */
    cb_gen *gen;                /* the passes' state, until compiled */
    cb_generated out;           /* source, layout, stack, kernel info */
    cb_host_module host;        /* backend "host" */
    cb_device *device;          /* backend "cuda" */
    cb_artifact artifact;       /* what NVRTC built, until loaded */
    cb_module *module;
    pthread_mutex_t lock;       /* one run at a time on the device */
    cb_device_buffers dev;      /* the device's buffers and streams,
                                 * grown as chunks need and kept for the
                                 * next run (under lock); freed with the
                                 * solver */
    cb_workers *workers;        /* the host side of its GPU runs (under
                                 * lock), from the first; NULL before */
    char arch[32];              /* what NVRTC built for */
    char backend[8];
    char reason[600];
    char notes[1300];           /* cubie_solver_notes */
    double generate_ms, build_ms;
    cubie_progress_fn progress; /* cubie_solver_set_progress, or NULL */
    void *progress_ctx;
};

/* The NVRTC options a solver's options ask for (arch: "" for the
 * device's own). */
cb_nvrtc_opts cb_solver_nvrtc_opts(const struct cubie_options *o,
                                   const char *arch);

/* ---- the run's plan (plan.c) ---- */

/* Everything one cubie_run needs beyond the batch: the settings array's
 * values (settings.def) and the rest of the run's shape. */
typedef struct {
    double value[CB_SETTING_COUNT];   /* TIME and REAL entries */
    double *states[CB_SETTING_COUNT]; /* STATES entries (n_states each) */
    double t0, duration, settle, save_every, dt_min;
    int n_saves, max_steps, blocksize;
    /* Summaries: the sample interval, samples per window, samples in the
     * run, complete windows written (0 without summaries). */
    double sample_every;
    int per_window, n_samples, n_windows;
    bool nan_mask;
    double memory_cap;                /* bytes; INFINITY when unset */
    int pipeline_chunks;              /* the GPU's chunks; 1: one */
    /* Sampled drivers: their spline, its coefficients' count, and the
     * resolved boundary condition (cb_plan_drivers). */
    cb_spline spline;
    size_t n_driver_coeffs;
    cb_spline_bc driver_bc;
    double driver_t0;  /* the first sample's time */
} cb_plan;

/* The plan for kernel k under the merged options o. */
cubie_status cb_plan_make(const struct cubie_options *o,
                          const cb_kernel_info *k, cb_plan *p,
                          cubie_error *err);
void cb_plan_free(cb_plan *p);
/* The drivers' spline from the batch's samples and the options (after
 * cb_plan_make); nothing for a system without drivers. */
cubie_status cb_plan_drivers(const struct cubie_options *o,
                             const cb_kernel_info *k,
                             const struct cubie_batch *in, cb_plan *p,
                             cubie_error *err);
/* The settings array in the kernel's precision (cb_settings_length
 * reals). */
void cb_plan_fill_settings(const cb_plan *p, const cb_kernel_info *k,
                           void *settings);

/* ---- results (result.c) ---- */

struct cubie_result {
    size_t n_runs, n_saves;
    size_t n_windows;           /* summary windows (0: no summaries) */
    int precision;              /* 4 or 8 */
    double *time;               /* n_saves */
    double *summary_time;       /* n_windows: each window's end */
    int32_t *status;            /* n_runs */
    /* The OUT arrays of kernel_args.def with a row per save, in the
     * user's layout (run, save, column); NULL where not written. */
    void *data[CB_KARG_COUNT];
    size_t cols[CB_KARG_COUNT];
    size_t rows[CB_KARG_COUNT];  /* n_saves or n_windows */
    char **names[CB_KARG_COUNT]; /* column names, NULL-terminated */
    char backend[8];
    double kernel_ms;
    double copy_ms;  /* cuda: the device's time in copies */
    double wall_ms;  /* all of cubie_run */
    size_t n_chunks;
    struct cb_record *record; /* what the run was given (record.c) */
    bool borrowed[CB_KARG_COUNT]; /* data[a] is the caller's (run_into) */
    bool status_borrowed;
    char *notes; /* cubie_result_notes: "" or lines, each ending in \n */
};

/* A result for n_runs runs of solver s under plan p; its outputs in the
 * caller's buffers where given (cubie_run_into; checked here). */
cubie_status cb_result_new(const struct cubie_solver *s, size_t n_runs,
                           const cb_plan *p,
                           const cubie_output_buffer *buffers,
                           size_t n_buffers, struct cubie_result **out,
                           cubie_error *err);
/* After the last chunk: what the runs' note bits say, as text
 * (cubie_result_notes). */
cubie_status cb_result_notes(struct cubie_result *r, cubie_error *err);

/* ---- a solver's worker threads (workers.c) ---- */

/* Up to the machine's processors (16 in all, the caller included); NULL
 * when they cannot even be allocated, which cb_workers_for takes as
 * "the caller alone". */
cb_workers *cb_workers_new(void);
/* Accepts NULL. */
void cb_workers_free(cb_workers *p);
/* fn(ctx, i) for every i < n, on the workers and the caller, in no
 * order; returns when all are done. One job at a time. */
void cb_workers_for(cb_workers *p, size_t n,
                    void (*fn)(void *ctx, size_t i), void *ctx);

/* ---- a GPU chunk's staging and storing (layout.c) ---- */

/* A chunk of c runs' input of cols columns from the batch's rows src into
 * dst, in the same layout, as float (rounded) or double (dbl). */
void cb_layout_stage(cb_workers *workers, void *dst, const double *src,
                     size_t c, size_t cols, bool dbl);
/* A chunk's outputs as they came back from the GPU (the caller's layout:
 * the device turned them, cb_launch) into the result at run r0. The host
 * backend's kernel writes the result in place instead. */
void cb_layout_store(cb_workers *workers, struct cubie_result *r, size_t r0,
                     size_t c, void *const *chunk);

/* ---- what a run was given (record.c) ---- */

/* The batch's inputs, every option's resolved value and the spec, kept
 * with the result (cubie.h: cubie_result_setting, the inits and params
 * arrays, cubie_result_spec). */
typedef struct cb_record cb_record;

/* The record of a run of solver s on batch in, under the merged options o
 * and their plan p. It shares the batch's inputs (cb_inputs) instead of
 * copying them. *out is freed with cb_record_free. */
cubie_status cb_record_make(const struct cubie_solver *s,
                            const struct cubie_options *o, const cb_plan *p,
                            const struct cubie_batch *in, cb_record **out,
                            cubie_error *err);
void cb_record_free(cb_record *rec);
/* Its arrays (inits, params), after the result's own: how many, and
 * array i of them. */
size_t cb_record_n_arrays(const cb_record *rec);
cubie_status cb_record_array(const cb_record *rec, size_t i,
                             cubie_array *out);

/* Values in a buffer of the kernel's precision. */
void cb_put_real(void *buf, bool dbl, size_t at, double x);
double cb_get_real(const void *buf, bool dbl, size_t at);

#endif
