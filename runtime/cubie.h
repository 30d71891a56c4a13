/* cubie: batched ODE integration with generated, fully inlined kernels.
 *
 * Ownership is written beside each function. Every fallible call returns a
 * cubie_status and, when given a cubie_error, fills it with the detail (the
 * JSON path, the column of an expression, the compiler log). The library
 * never prints, exits or aborts on user input.
 */
#ifndef CUBIE_H
#define CUBIE_H

#include <stddef.h>
#include <stdint.h>

#include "cubie_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cubie_system cubie_system;
typedef struct cubie_options cubie_options;
typedef struct cubie_solver cubie_solver;
typedef struct cubie_batch cubie_batch;
typedef struct cubie_result cubie_result;

/* "0.1.0": CUBIE_VERSION_MAJOR.MINOR.PATCH of the library that runs.
 * Static. */
CUBIE_API const char *cubie_version(void);
/* Static string for a status; never NULL. */
CUBIE_API const char *cubie_status_str(cubie_status s);
/* Static string for one run-status bit; "unknown status bit" otherwise. */
CUBIE_API const char *cubie_run_status_str(int bit);
CUBIE_API void cubie_error_clear(cubie_error *err);

/* ---- systems ---------------------------------------------------------- */

/* Parse a JSON spec. *out is caller-owned: cubie_system_free. */
CUBIE_API cubie_status cubie_system_parse(const char *json, size_t len,
                                          cubie_system **out,
                                          cubie_error *err);
CUBIE_API cubie_status cubie_system_load(const char *path, cubie_system **out,
                                         cubie_error *err);
CUBIE_API void cubie_system_free(cubie_system *sys);
/* Borrowed until cubie_system_free. */
CUBIE_API const char *cubie_system_name(const cubie_system *sys);
CUBIE_API size_t cubie_system_n_states(const cubie_system *sys);
CUBIE_API size_t cubie_system_n_parameters(const cubie_system *sys);
CUBIE_API size_t cubie_system_n_observables(const cubie_system *sys);
CUBIE_API const char *cubie_system_state_name(const cubie_system *sys,
                                              size_t i);
CUBIE_API const char *cubie_system_parameter_name(const cubie_system *sys,
                                                  size_t i);
CUBIE_API const char *cubie_system_observable_name(const cubie_system *sys,
                                                   size_t i);
/* The sampled drivers the spec declares ("drivers"). */
CUBIE_API size_t cubie_system_n_drivers(const cubie_system *sys);
CUBIE_API const char *cubie_system_driver_name(const cubie_system *sys,
                                               size_t i);

/* ---- options ---------------------------------------------------------- */

/* Options with the original's names and defaults (see README). Caller
 * owns *out: cubie_options_free. */
CUBIE_API cubie_status cubie_options_new(cubie_options **out);
CUBIE_API void cubie_options_free(cubie_options *opt);
CUBIE_API cubie_status cubie_options_copy(const cubie_options *opt,
                                          cubie_options **out);
/* Set one option from text, as `--set key=value` does. An unknown key or a
 * bad value is CUBIE_E_OPTION with the key in err->path. */
CUBIE_API cubie_status cubie_options_set(cubie_options *opt, const char *key,
                                         const char *value, cubie_error *err);
/* Parse "key=value" and set it. */
CUBIE_API cubie_status cubie_options_set_pair(cubie_options *opt,
                                              const char *pair,
                                              cubie_error *err);
/* The value as text, or NULL for an unknown key. Borrowed until the next
 * set or free. */
CUBIE_API const char *cubie_options_get(const cubie_options *opt,
                                        const char *key);

/* ---- compile ---------------------------------------------------------- */

/* Generate the kernel for sys under opt and build it for the backend the
 * options choose. *out is caller-owned: cubie_solver_free. The solver keeps
 * its own copies of sys and opt. */
CUBIE_API cubie_status cubie_compile(const cubie_system *sys,
                                     const cubie_options *opt,
                                     cubie_solver **out, cubie_error *err);
/* Only the passes that write the source (no compiler run). On success
 * *source is the generated .cu, NUL-terminated; the caller frees it with
 * free(). */
CUBIE_API cubie_status cubie_generate(const cubie_system *sys,
                                      const cubie_options *opt, char **source,
                                      cubie_error *err);
CUBIE_API void cubie_solver_free(cubie_solver *s);
/* The generated .cu. Borrowed until cubie_solver_free. */
CUBIE_API const char *cubie_solver_source(const cubie_solver *s);
/* "host" or "cuda". */
CUBIE_API const char *cubie_solver_backend(const cubie_solver *s);
/* Occupancy of a cuda solver's kernel at a block size: the fraction of
 * the SM's thread slots its resident blocks fill (0..1). CUBIE_E_BACKEND
 * for a host solver. */
CUBIE_API cubie_status cubie_solver_occupancy(const cubie_solver *s,
                                              int blocksize,
                                              double *occupancy,
                                              cubie_error *err);
/* The architecture NVRTC built for ("sm_90", "compute_90"), or "". */
CUBIE_API const char *cubie_solver_arch(const cubie_solver *s);
/* Why that backend was chosen ("backend=host requested", ...). */
CUBIE_API const char *cubie_solver_backend_reason(const cubie_solver *s);
/* What the compile noticed and worked around, one line each, or "": a
 * cached kernel that failed its checks and was rebuilt, a cache folder
 * not used because others can write to it, a cached kernel used where its
 * compiler is not installed. */
CUBIE_API const char *cubie_solver_notes(const cubie_solver *s);
/* Milliseconds spent generating and building (0 for a cache hit build). */
CUBIE_API double cubie_solver_generate_ms(const cubie_solver *s);
CUBIE_API double cubie_solver_build_ms(const cubie_solver *s);
/* The layout table of every buffer owner, as text. Borrowed. */
CUBIE_API const char *cubie_solver_layout(const cubie_solver *s);

/* ---- batches ---------------------------------------------------------- */

/* n_runs runs, every value at the spec's default. Caller frees; the batch
 * keeps its own copy of what it needs of sys. */
CUBIE_API cubie_status cubie_batch_new(const cubie_system *sys, size_t n_runs,
                                       cubie_batch **out, cubie_error *err);
CUBIE_API void cubie_batch_free(cubie_batch *b);
CUBIE_API size_t cubie_batch_n_runs(const cubie_batch *b);
/* Set one initial state or parameter value of one run, by name. */
CUBIE_API cubie_status cubie_batch_set(cubie_batch *b, const char *name,
                                       size_t run, double value,
                                       cubie_error *err);
/* Set one initial state or parameter of every run at once: values[run]
 * for run < n, n the batch's run count. Nothing is set when a value is
 * not finite (the message names the run). */
CUBIE_API cubie_status cubie_batch_set_all(cubie_batch *b, const char *name,
                                           const double *values, size_t n,
                                           cubie_error *err);
/* Sampled drivers (a spec's "drivers"): one set of samples serves every
 * run of the batch. values: the n samples of the driver called name
 * (copied; every driver of the batch has the same n), the first at
 * driver_t0 and then every driver_sample_period (run options), or at the
 * times given by cubie_batch_set_driver_times. The run builds their
 * spline (driver_order, driver_wrap, driver_boundary_condition); changing
 * the samples, their number or their period never recompiles. */
CUBIE_API cubie_status cubie_batch_set_driver(cubie_batch *b,
                                              const char *name,
                                              const double *values,
                                              size_t n, cubie_error *err);
/* The samples' times, shared by every driver: n increasing times,
 * uniform to 1e-6 of their period. They stand for driver_t0 and
 * driver_sample_period (setting those too is an error at the run). */
CUBIE_API cubie_status cubie_batch_set_driver_times(cubie_batch *b,
                                                    const double *t,
                                                    size_t n,
                                                    cubie_error *err);
/* Read the drivers' samples from a CSV: a header of driver names, with
 * an optional column t of the sample times (uniform; without it,
 * driver_t0 and driver_sample_period place them), one row per sample. */
CUBIE_API cubie_status cubie_batch_read_drivers(cubie_batch *b,
                                                const char *path,
                                                cubie_error *err);
/* Read a CSV whose header names states and/or parameters, one row a run. */
CUBIE_API cubie_status cubie_batch_from_csv(const cubie_system *sys,
                                            const char *path,
                                            cubie_batch **out,
                                            cubie_error *err);
/* A combinatorial grid: every combination of the axes, each linearly spaced
 * from start to stop with count points (both ends included); the first axis
 * varies slowest. */
CUBIE_API cubie_status cubie_batch_grid(const cubie_system *sys,
                                        size_t n_axes, const char *const *names,
                                        const double *start, const double *stop,
                                        const size_t *count, cubie_batch **out,
                                        cubie_error *err);

/* ---- run -------------------------------------------------------------- */

/* Integrate every run of the batch. run_opt may be NULL (the compile
 * options), or options that change only run-time settings (t0, duration,
 * dt, ...); changing a compile-time option there is CUBIE_E_OPTION.
 * *out is caller-owned: cubie_result_free. */
CUBIE_API cubie_status cubie_run(cubie_solver *s, const cubie_batch *in,
                                 const cubie_options *run_opt,
                                 cubie_result **out, cubie_error *err);
CUBIE_API void cubie_result_free(cubie_result *r);

/* A run's output written into the caller's memory: the array called
 * array ("state", "observables", "iteration_counters", "state_summaries",
 * "observable_summaries" or "status"), exactly bytes long, in the layout
 * cubie_result_array gives it (C order: run, row, column; the status
 * int32 per run). */
typedef struct {
    const char *array;
    void *data;
    size_t bytes;
} cubie_output_buffer;

/* cubie_run, its outputs written into the buffers given (the others
 * allocated as cubie_run does): the host backend's kernel writes them in
 * place, so a binding can hand them out without a copy. The result's
 * arrays then point into the buffers, which cubie_result_free leaves to
 * the caller; they must outlive the result. A buffer for an array the
 * run does not write, or of another size (the message gives the size
 * expected), is CUBIE_E_ARG before anything runs. */
CUBIE_API cubie_status cubie_run_into(cubie_solver *s, const cubie_batch *in,
                                      const cubie_options *run_opt,
                                      const cubie_output_buffer *buffers,
                                      size_t n_buffers, cubie_result **out,
                                      cubie_error *err);

CUBIE_API size_t cubie_result_n_runs(const cubie_result *r);
CUBIE_API size_t cubie_result_n_saves(const cubie_result *r);
CUBIE_API size_t cubie_result_n_vars(const cubie_result *r);
/* 4 for float32 results, 8 for float64. */
CUBIE_API int cubie_result_precision(const cubie_result *r);
/* Saved variables: the states in spec order, then "t" when output_types
 * holds time (the time each row was saved at, from the kernel). */
CUBIE_API const char *cubie_result_var_name(const cubie_result *r, size_t v);
/* What the runs' note bits (CUBIE_RUN_NOTE_LIST) say and what to try,
 * one line each ending in a newline, or "": runs whose linear solves
 * often hit krylov_max_iters, with the options that would help. Borrowed
 * until cubie_result_free. */
CUBIE_API const char *cubie_result_notes(const cubie_result *r);
/* Raw state array, C order (n_runs, n_saves, n_vars), float or double as
 * cubie_result_precision says. Borrowed. */
CUBIE_API const void *cubie_result_state_data(const cubie_result *r);
/* One value, converted to double. */
CUBIE_API double cubie_result_state(const cubie_result *r, size_t run,
                                    size_t save, size_t var);
/* Save times, n_saves doubles. Borrowed. */
CUBIE_API const double *cubie_result_time(const cubie_result *r);
/* Status bits per run (n_runs int32): failure bits (a run failed when
 * CUBIE_RUN_FAILED(status)) and note bits (cubie_result_notes). Borrowed. */
CUBIE_API const int32_t *cubie_result_status(const cubie_result *r);
/* Observables (output_types=observables): (n_runs, n_saves, n_obs) in
 * the run's precision, or NULL. Borrowed. */
CUBIE_API size_t cubie_result_n_observables(const cubie_result *r);
CUBIE_API const char *cubie_result_observable_name(const cubie_result *r,
                                                   size_t k);
CUBIE_API const void *cubie_result_observable_data(const cubie_result *r);
CUBIE_API double cubie_result_observable(const cubie_result *r, size_t run,
                                         size_t save, size_t k);
/* Iteration counters (output_types=iteration_counters): int32
 * (n_runs, n_saves, 4) = Newton iterations, Krylov iterations, step
 * attempts, rejected steps, each since the previous save; or NULL. */
CUBIE_API const int32_t *cubie_result_counters(const cubie_result *r);
CUBIE_API const char *cubie_result_backend(const cubie_result *r);
/* How many chunks the batch was split into (memory_cap, device memory). */
CUBIE_API size_t cubie_result_n_chunks(const cubie_result *r);
/* Milliseconds spent in the kernel (host: in the OpenMP loop, summed over
 * chunks; cuda: CUDA events around each launch, the time at least one
 * chunk's kernel ran, since chunks overlap on two streams). */
CUBIE_API double cubie_result_kernel_ms(const cubie_result *r);
/* cuda: milliseconds of the device's copies in and out (CUDA events; the
 * time at least one ran), the turning of the outputs into the caller's
 * layout on the device before they come back included; 0 on the host. On
 * a device they overlap the kernels, so kernel_ms + copy_ms may pass
 * wall_ms. */
CUBIE_API double cubie_result_copy_ms(const cubie_result *r);
/* Milliseconds of the whole cubie_run: staging, chunks, storing. */
CUBIE_API double cubie_result_wall_ms(const cubie_result *r);

/* ---- result arrays, alike ------------------------------------------------ */

/* One array of a result, described so that a writer can take every array
 * alike (the CLI writes each to <name>.npy and lists it in the manifest).
 * Everything is borrowed until cubie_result_free. */
typedef struct {
    const char *name;      /* "state", "time", "status", "observables",
                            * "iteration_counters", "state_summaries",
                            * "observable_summaries", "summary_time",
                            * "inits", "params", "drivers" */
    const void *data;      /* C order */
    const char *descr;     /* NumPy's type: "<f4", "<f8" or "<i4" */
    size_t elem_size;      /* bytes */
    int ndim;              /* 1, 2 or 3 */
    size_t shape[3];       /* (run, save, column), (run, window,
                            * column), (run, column), (save,), (window,)
                            * or (run,) */
    const char *axes;      /* "run, save, state", "run, window, summary",
                            * "run, state", "save", "window", "run" */
    const char *column;    /* what the last axis counts ("state",
                            * "observable", "counter", "summary",
                            * "parameter"), or "" */
    const char *const *column_names; /* n_columns names, or NULL */
    size_t n_columns;
} cubie_array;

/* How many arrays the result holds: state, time and status always, then
 * observables and iteration_counters when output_types asked for them,
 * state_summaries and observable_summaries (run, window, column; the
 * columns' legends "x mean" as column_names) with summary_time (window,)
 * when it asked for summary metrics and variables are summarised, then
 * the run's inputs inits and params (always; see below) and, for a
 * system with sampled drivers, their samples "drivers" (sample, driver;
 * float64). */
CUBIE_API size_t cubie_result_n_arrays(const cubie_result *r);
/* Array i (0 <= i < cubie_result_n_arrays); CUBIE_E_ARG otherwise. */
CUBIE_API cubie_status cubie_result_array(const cubie_result *r, size_t i,
                                          cubie_array *out);
/* The name of every array any result can hold, NULL-terminated. Static. */
CUBIE_API const char *const *cubie_array_names(void);

/* ---- what a run was given: inputs, settings, spec ------------------------ */

/* A result records what produced it, so that it can be traced back and
 * run again:
 *  - its inputs, as the arrays "inits" (n_runs, n_states; axes "run,
 *    state") and "params" (n_runs, n_parameters; axes "run, parameter"),
 *    float64 as the batch held them, columns named after the spec's
 *    states and parameters. They come last among cubie_result_array's
 *    arrays. A system without parameters has a params array of shape
 *    (n_runs, 0), so every result holds both;
 *  - the resolved value of every option (cubie_result_setting);
 *  - the spec's JSON text (cubie_result_spec).
 * Compiling cubie_result_spec with every setting's text set by
 * cubie_options_set, and running the inits and params as a batch,
 * reproduces the result bit for bit on the same backend and machine. */

/* What a setting's value is. */
typedef enum {
    CUBIE_SETTING_NUMBER = 0,  /* a real, in number */
    CUBIE_SETTING_INTEGER = 1, /* a whole number, in number */
    CUBIE_SETTING_BOOL = 2,    /* number is 1 (true) or 0 (false) */
    CUBIE_SETTING_CHOICE = 3,  /* one of the option's values, in text */
    CUBIE_SETTING_LIST = 4,    /* n_items numbers (a tolerance, one per
                                * state; the selected indices) or n_items
                                * names (output_types, the selected
                                * variables); n_items 0 and text "[]" for
                                * an empty selection */
    CUBIE_SETTING_TEXT = 5,    /* free text (arch), in text */
    CUBIE_SETTING_UNSET = 6    /* no value, which is itself the setting:
                                * memory_cap without a cap of its own, arch
                                * on the host backend */
} cubie_setting_kind;

/* One option as the run used it: never "default" or "auto", but the
 * value that ran (step_controller the controller the method's family
 * chose, backend the one picked, dt and the gains as runtime/plan.c
 * derived them, a tolerance expanded to one value per state). Everything
 * is borrowed until cubie_result_free. */
typedef struct {
    const char *key;          /* an option key of cubie_options_set ("dt",
                               * "step_controller", "state_location") */
    cubie_setting_kind kind;
    double number;            /* NUMBER, INTEGER, BOOL; else 0 */
    const char *text;         /* the value as cubie_options_set takes it
                               * (numbers written to round-trip exactly,
                               * lists comma-separated); NULL for UNSET */
    size_t n_items;           /* LIST: how many; else 0 */
    const double *numbers;    /* LIST of numbers, else NULL */
    const char *const *names; /* LIST of names, else NULL */
    const char *origin;       /* "user" (set in the options, at compile or
                               * run), "default" (the option's default) or
                               * "derived" (no default: resolved from the
                               * method, the controller, the backend or
                               * other options) */
    const char *scope;        /* "compile" or "run", as cubie_option_scope */
} cubie_setting;

/* How many settings the result holds: every option of cubie_n_options in
 * table order, then one `<buffer>_location` per buffer of the kernel that
 * can be moved (shared or local), in the order CUBIE_DEBUG=L lists the
 * owners. 0 for NULL. */
CUBIE_API size_t cubie_result_n_settings(const cubie_result *r);
/* Setting i (0 <= i < cubie_result_n_settings) into *out; CUBIE_E_ARG
 * otherwise. */
CUBIE_API cubie_status cubie_result_setting(const cubie_result *r, size_t i,
                                            cubie_setting *out);
/* The setting of a key into *out; CUBIE_E_OPTION when the result has none
 * of that name, CUBIE_E_ARG for NULL. */
CUBIE_API cubie_status cubie_result_find_setting(const cubie_result *r,
                                                 const char *key,
                                                 cubie_setting *out);
/* The JSON text of the spec the solver was compiled from, NUL-terminated,
 * as cubie_system_parse was given it. Borrowed until cubie_result_free. */
CUBIE_API const char *cubie_result_spec(const cubie_result *r);

/* ---- CUDA without a device -------------------------------------------- */

/* Resources of a kernel built for one architecture, from ptxas. */
typedef struct {
    int registers;
    int spill_stores, spill_loads; /* bytes */
    int stack;                     /* bytes of stack frame per thread */
    int static_smem;               /* bytes */
    size_t shared_per_run;         /* dynamic shared bytes per run */
    int found;                     /* whether ptxas reported them */
    int cache_hit;
    double compile_ms;
} cubie_kernel_resources;

/* Generate the kernel for sys/opt and compile it with NVRTC for arch
 * ("sm_90": CUBIN; "compute_90": PTX), no device needed. *image (malloc,
 * NUL-terminated) and *len receive the artifact, *res its resources.
 * image may be NULL when only the resources are wanted. */
CUBIE_API cubie_status cubie_build_cuda(const cubie_system *sys,
                                        const cubie_options *opt,
                                        const char *arch, char **image,
                                        size_t *len,
                                        cubie_kernel_resources *res,
                                        cubie_error *err);
/* A description of the CUDA devices, one per line (malloc), or
 * CUBIE_E_BACKEND saying why there are none (no driver, no device). */
CUBIE_API cubie_status cubie_devices(char **text, cubie_error *err);

/* Write a .npy file (format 1.0) of the C-order array data with the given
 * shape (0 to 32 dimensions); descr is a NumPy type string such as "<f4",
 * "<f8" or "<i4". Bad arguments are CUBIE_E_ARG; a failed write removes
 * the file. */
CUBIE_API cubie_status cubie_write_npy(const char *path, const char *descr,
                                       const size_t *shape, int ndim,
                                       const void *data, size_t elem_size,
                                       cubie_error *err);

/* ---- what the library offers: algorithms, options, outputs, metrics ---- */

/* The tables the library is built from, one row at a time: a count, and
 * accessors taking a row 0 <= i < count, in table order. Every string is
 * static (valid for the life of the process, never freed). A row out of
 * range gives NULL, or -1 where the answer is a number. These are the
 * tables options are checked against; `cubie list` prints them. */

/* Algorithms: the values of the `algorithm` option. */
CUBIE_API size_t cubie_n_algorithms(void);
/* The canonical name ("dormand-prince-54"), as a solver reports it. */
CUBIE_API const char *cubie_algorithm_name(size_t i);
/* The other names that select it, space-separated ("dopri54 rk45 ode45"),
 * "" if none; a family name that picks it by default ("dirk" for
 * l_stable_dirk_3) is among them. Names match case-insensitively. */
CUBIE_API const char *cubie_algorithm_aliases(size_t i);
/* Its family ("erk", "backwards_euler", "dirk", "firk", "rosenbrock",
 * ...), which decides its step and its adaptive defaults. */
CUBIE_API const char *cubie_algorithm_family(size_t i);
/* 1 when a step solves for its stages (Newton, or a linear solve for
 * Rosenbrock-W), 0 for an explicit method. */
CUBIE_API int cubie_algorithm_is_implicit(size_t i);
/* The order of the solution. */
CUBIE_API int cubie_algorithm_order(size_t i);
/* The order of the embedded solution the error estimate compares with; 0
 * when there is no estimate (fixed steps only). */
CUBIE_API int cubie_algorithm_error_order(size_t i);
/* The step controller it runs when step_controller is not set ("fixed"
 * without an error estimate). */
CUBIE_API const char *cubie_algorithm_default_controller(size_t i);
/* The row of a name or alias, read as the algorithm option reads it, into
 * *i. CUBIE_E_OPTION when no algorithm is called so, CUBIE_E_ARG for
 * NULL. */
CUBIE_API cubie_status cubie_algorithm_find(const char *name, size_t *i);

/* Options: the keys of cubie_options_set (the `<buffer>_location` keys,
 * which name a buffer of the generated kernel, are not rows). */
CUBIE_API size_t cubie_n_options(void);
CUBIE_API const char *cubie_option_key(size_t i);
/* The default as text; "" where there is none: derived from other options
 * at compile or run time (step_controller from the algorithm, dt from the
 * controller, ...) or unset (save_every: the first and last state only). */
CUBIE_API const char *cubie_option_default(size_t i);
/* "compile" (changes the generated kernel: set it before cubie_compile)
 * or "run" (a kernel argument: may change per cubie_run). */
CUBIE_API const char *cubie_option_scope(size_t i);
/* What a value is: "number" (a finite real), "integer" (a whole number
 * >= 0), "bool" (true, false, 1 or 0), "choice" (one of the choices),
 * "list" (comma-separated choices), "tolerance" (a number >= 0, or a
 * comma-separated list of them, one per state), "arch" (sm_XY for a
 * CUBIN, compute_XY for PTX), "names" (names of states and observables,
 * comma-separated, or "[]" for none) or "indices" (whole numbers >= 0,
 * comma-separated, or "[]"). */
CUBIE_API const char *cubie_option_kind(size_t i);
/* The values of a "choice" or "list" option: n_choices of them, choice j
 * for 0 <= j < n_choices (for algorithm the canonical names); 0 and NULL
 * for the other kinds. */
CUBIE_API size_t cubie_option_n_choices(size_t i);
CUBIE_API const char *cubie_option_choice(size_t i, size_t j);
/* The row of a key into *i; CUBIE_E_OPTION when there is none,
 * CUBIE_E_ARG for NULL. */
CUBIE_API cubie_status cubie_option_find(const char *key, size_t *i);

/* Outputs: the values of output_types. */
CUBIE_API size_t cubie_n_outputs(void);
CUBIE_API const char *cubie_output_name(size_t i);
/* The result array it is written to (a cubie_array's name; the CLI's
 * <name>.npy): "state" for time, a column of the state array. */
CUBIE_API const char *cubie_output_array(size_t i);
/* Its columns in that array: "states", "observables", "counters", or the
 * name of its one column ("t"). */
CUBIE_API const char *cubie_output_columns(size_t i);
/* 1 when a failed run's values read NaN under nan_error_trajectories. */
CUBIE_API int cubie_output_nan_masked(size_t i);

/* Summary metrics: further values of output_types ("mean", "peaks[3]"),
 * computed per window of summarise_every from samples every
 * sample_summaries_every, written to state_summaries and
 * observable_summaries. */
CUBIE_API size_t cubie_n_metrics(void);
CUBIE_API const char *cubie_metric_name(size_t i);
/* 1 when it takes a parameter, written name[n] (peaks[3]: the first 3
 * peaks); 0 when not. */
CUBIE_API int cubie_metric_has_parameter(size_t i);
/* How many values it writes per variable and window; 0: its parameter n. */
CUBIE_API int cubie_metric_n_outputs(size_t i);
/* The names of those values, space-separated ("max min" for extrema;
 * "peaks" for peaks[n], whose values are peaks_1 .. peaks_n). */
CUBIE_API const char *cubie_metric_outputs(size_t i);
/* The index of the metric called name ("peaks", without "[n]"), or
 * CUBIE_E_OPTION. */
CUBIE_API cubie_status cubie_metric_find(const char *name, size_t *i);

/* ---- progress ------------------------------------------------------------ */

/* Called by cubie_run between pieces of a batch: done of the total runs
 * are finished. Calls come on the thread that called cubie_run, done
 * increasing, the last one done == total when the run succeeds. ctx is
 * what cubie_solver_set_progress was given. It must not use the solver. */
typedef void (*cubie_progress_fn)(size_t done, size_t total, void *ctx);

/* Report the progress of this solver's runs to fn (NULL: no reports).
 * While a callback is set, cubie_run runs a batch in about 100 pieces,
 * none below 4096 runs (so a device stays full) unless memory_cap or the
 * device's memory asks for smaller ones; the results are the same bit for
 * bit. ctx is borrowed. A NULL solver is ignored. */
CUBIE_API void cubie_solver_set_progress(cubie_solver *s,
                                         cubie_progress_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif
