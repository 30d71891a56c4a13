/* cubie_run: the batch in chunks that fit the memory cap (and on the GPU
 * the free device memory), each chunk laid out in the kernel's argument
 * table (kernel_args.def), run on the solver's backend, and stored into
 * the result; a progress callback (cubie_solver_set_progress) is told
 * after each chunk. */
#include "internal.h"

#include <stdint.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The run options over the compile options; changing a compile-time
 * option there is an error (it would need another kernel). */
static cubie_status merge_options(const struct cubie_solver *s,
                                  const struct cubie_options *run_opt,
                                  struct cubie_options **out,
                                  cubie_error *err)
{
    cubie_status st = cb_options_copy(s->opt, out);
    if (st != CUBIE_OK || run_opt == NULL) {
        return st == CUBIE_OK ? st : cb_fail_nomem(err);
    }
    for (int i = 0; i < CB_OPT_COUNT && st == CUBIE_OK; i++) {
        if (!cb_opt_is_set(run_opt, (cb_opt_id)i)) {
            continue;
        }
        const char *v = cb_opt_text(run_opt, (cb_opt_id)i);
        if (cb_opt_table[i].scope == CB_SCOPE_COMPILE) {
            if (strcmp(v, cb_opt_text(s->opt, (cb_opt_id)i)) != 0) {
                st = cb_fail(err, CUBIE_E_OPTION, cb_opt_table[i].key, 0,
                             "option %s changes the generated kernel: "
                             "compile a new solver for %s=%s",
                             cb_opt_table[i].key, cb_opt_table[i].key, v);
            }
            continue;
        }
        st = cb_options_set(*out, cb_opt_table[i].key, v, err);
    }
    if (st == CUBIE_OK && run_opt->n_locs > 0) {
        st = cb_fail(err, CUBIE_E_OPTION, run_opt->locs[0].key, 0,
                     "option %s changes the generated kernel: compile a "
                     "new solver", run_opt->locs[0].key);
    }
    if (st != CUBIE_OK) {
        cb_options_free(*out);
        *out = NULL;
    }
    return st;
}

/* Elements of kernel argument a for a chunk of c runs. */
static size_t karg_elems(const cb_kernel_info *k, const cb_plan *p,
                         cb_karg a, size_t c)
{
    const size_t cols = (size_t)k->cols[a];
    switch (cb_kargs[a].rows) {
    case CB_ROWS_RUNS:
        return cols * c;
    case CB_ROWS_SAVES:
        return cols * c * (size_t)p->n_saves;
    case CB_ROWS_WINDOWS:
        return cols * c * (size_t)p->n_windows;
    case CB_ROWS_DRIVERS:
        return p->n_driver_coeffs > 0 ? p->n_driver_coeffs : 1;
    default:
        return cols;
    }
}

static size_t elem_size(const cb_kernel_info *k, cb_karg a)
{
    return cb_kargs[a].elem == CB_ELEM_INT ? sizeof(int32_t)
           : k->is_double                 ? 8
                                          : 4;
}

/* Bytes one run needs in the device layout: its inputs, outputs, status. */
static size_t bytes_per_run(const cb_kernel_info *k, const cb_plan *p)
{
    size_t b = 0;
    for (int a = 0; a < CB_KARG_COUNT; a++) {
        if (cb_kargs[a].dir != CB_DIR_SCALAR &&
            cb_kargs[a].rows != CB_ROWS_ONE &&
            cb_kargs[a].rows != CB_ROWS_DRIVERS) {
            b += elem_size(k, (cb_karg)a) * karg_elems(k, p, (cb_karg)a, 1);
        }
    }
    return b;
}

/* Runs per chunk: all of them, unless the memory cap (and on the GPU the
 * free device memory) says fewer. The same rule serves both backends, so
 * the chunking logic is tested on the host. */
static cubie_status chunk_runs(const struct cubie_solver *s,
                               const struct cubie_options *o,
                               const cb_plan *p, size_t n, size_t *out,
                               cubie_error *err)
{
    const size_t per = bytes_per_run(&s->out.info, p);
    double cap = p->memory_cap;
    if (s->module != NULL) {
        /* The solver's own buffers from earlier runs count as free: they
         * are reused or grown. */
        size_t free_b = cb_device_free_memory(s->device);
        for (int a = 0; free_b > 0 && a < CB_KARG_COUNT; a++) {
            free_b += s->dev.cap[a];
        }
        if (free_b > 0) {
            cap = fmin(cap, 0.8 * (double)free_b);
        }
    } else if (!cb_opt_is_set(o, CB_OPT_MEMORY_CAP)) {
        /* The host's staging buffers (device layout) come on top of the
         * result itself: keep them to 512 MiB a chunk. */
        cap = 512.0 * 1024.0 * 1024.0;
    }
    if (cap < (double)per) {
        return cb_fail(err, CUBIE_E_OPTION, "memory_cap", 0,
                       "option memory_cap: %.0f bytes cannot hold one run "
                       "(%zu bytes)", cap, per);
    }
    double m = floor(cap / (double)per);
    *out = m >= (double)n ? n : (size_t)m;
    return CUBIE_OK;
}

/* Whether kernel argument a lives in the caller's memory on the host
 * backend: the per-save and per-window outputs and the status are the
 * result's own arrays (the kernel writes them in place, CB_AT), the
 * inputs the batch's (read in place, CB_IN, and rounded to a float32
 * kernel's precision as they load). */
static bool in_place(bool host, cb_karg a)
{
    if (!host) {
        return false;
    }
    if (cb_kargs[a].dir == CB_DIR_OUT) {
        return cb_kargs[a].rows == CB_ROWS_SAVES ||
               cb_kargs[a].rows == CB_ROWS_WINDOWS ||
               a == CB_KARG_STATUS_OUT;
    }
    return a == CB_KARG_INITS || a == CB_KARG_PARAMS;
}

/* dst[i * c + run] = src[run * cols + i] for c runs: the batch's rows
 * into the device layout, in the kernel's precision, each column a
 * sequential stream (a column at a time when there are many, so the
 * streams stay few). */
#define CB_DEF_STAGE(name, T)                                              \
    static void name(void *dst_, const double *restrict src, size_t c,    \
                     size_t cols)                                          \
    {                                                                      \
        T *restrict dst = dst_;                                            \
        for (size_t i0 = 0; i0 < cols; i0 += 8) {                          \
            const size_t i1 = i0 + 8 < cols ? i0 + 8 : cols;               \
            for (size_t run = 0; run < c; run++) {                         \
                for (size_t i = i0; i < i1; i++) {                         \
                    dst[i * c + run] = (T)src[run * cols + i];             \
                }                                                          \
            }                                                              \
        }                                                                  \
    }
CB_DEF_STAGE(stage_inputs_f32, float)
CB_DEF_STAGE(stage_inputs_f64, double)

/* The code that fills each input of kernel_args.def for a chunk of c runs
 * from run r0: its buffer or, for a scalar, its value. The GPU takes the
 * inputs run index fastest, the host the batch's own memory. */
static void fill_input(cb_karg a, const cb_kernel_info *k, const cb_plan *p,
                       const struct cubie_batch *in, size_t r0, size_t c,
                       bool host, cb_launch *l)
{
    const bool d = k->is_double;
    switch (a) {
    case CB_KARG_INITS:
    case CB_KARG_PARAMS: {
        const size_t cols = (size_t)k->cols[a];
        const double *src = a == CB_KARG_INITS ? in->inits : in->params;
        if (in_place(host, a)) {
            l->host[a] = (void *)(uintptr_t)(src + r0 * cols);
        } else if (d) {
            stage_inputs_f64(l->host[a], src + r0 * cols, c, cols);
        } else {
            stage_inputs_f32(l->host[a], src + r0 * cols, c, cols);
        }
        break;
    }
    case CB_KARG_N_RUNS:
        l->scalar[a] = (int)c;
        break;
    case CB_KARG_N_SAVES:
        l->scalar[a] = p->n_saves;
        break;
    case CB_KARG_MAX_STEPS:
        l->scalar[a] = p->max_steps;
        break;
    default:
        break; /* the settings: filled once for every chunk */
    }
}

/* On the host the outputs of a chunk are the result's rows of its runs. */
static void point_outputs(struct cubie_result *r, size_t r0, cb_launch *l)
{
    for (int a = 0; a < CB_KARG_COUNT; a++) {
        if (!in_place(true, (cb_karg)a) || cb_kargs[a].dir != CB_DIR_OUT) {
            continue;
        }
        if (a == CB_KARG_STATUS_OUT) {
            l->host[a] = r->status + r0;
            continue;
        }
        const size_t sz = cb_kargs[a].elem == CB_ELEM_INT
                              ? sizeof(int32_t)
                              : (size_t)r->precision;
        l->host[a] = r->data[a] != NULL
                         ? (char *)r->data[a] + sz * r0 * r->rows[a] *
                                                    r->cols[a]
                         : NULL;
    }
}

/* The chunk's buffers, each for m runs: on the GPU the device layout, in
 * the solver's page-locked staging (kept for its later runs); on the host
 * only what is not in place, its own (own[a], freed by free_chunk). */
static cubie_status alloc_chunk(struct cubie_solver *s, const cb_plan *p,
                                size_t m, cb_launch *l, bool *own,
                                cubie_error *err)
{
    const cb_kernel_info *k = &s->out.info;
    const bool host = s->module == NULL;
    memset(l, 0, sizeof(*l));
    for (int a = 0; a < CB_KARG_COUNT; a++) {
        own[a] = cb_kargs[a].dir != CB_DIR_SCALAR &&
                 !in_place(host, (cb_karg)a);
        if (!own[a]) {
            continue;
        }
        const size_t bytes = elem_size(k, (cb_karg)a) *
                             (karg_elems(k, p, (cb_karg)a, m) + 1);
        if (!host) {
            own[a] = false;
            CB_TRY(cb_module_staging(s->module, &s->dev, a, bytes,
                                     &l->host[a], err));
            continue;
        }
        l->host[a] = cb_big_alloc(bytes);
        if (l->host[a] == NULL) {
            return cb_fail_nomem(err);
        }
    }
    return CUBIE_OK;
}

static void free_chunk(cb_launch *l, const bool *own)
{
    for (int a = 0; a < CB_KARG_COUNT; a++) {
        if (own[a]) {
            free(l->host[a]);
        }
        l->host[a] = NULL;
    }
}

/* One chunk of runs from r0 on the host backend: the entry takes
 * pointers to the arguments, as cuLaunchKernel does, then to where it
 * copies the chunk's inputs: the record's rows of them. */
static void run_host(const struct cubie_solver *s, cb_launch *l,
                     cb_record *rec, size_t r0)
{
    void *argv[CB_HOST_ARG_COUNT];
    for (int a = 0; a < CB_KARG_COUNT; a++) {
        argv[a] = cb_kargs[a].dir == CB_DIR_SCALAR ? (void *)&l->scalar[a]
                                                   : (void *)&l->host[a];
    }
    double *copy[2];
    cb_record_inputs(rec, r0, &copy[0], &copy[1]);
    argv[CB_HOST_ARG_RECORD_INITS] = &copy[0];
    argv[CB_HOST_ARG_RECORD_PARAMS] = &copy[1];
    s->host.run(argv);
}

/* With a progress callback, the batch runs in about this many pieces... */
#define CB_PROGRESS_PIECES 100
/* ... of at least this many runs each, so that a device stays full
 * between reports. */
#define CB_PROGRESS_MIN_PIECE 4096

/* Runs per piece for a progress callback over n runs: n / 100 rounded
 * up, at least CB_PROGRESS_MIN_PIECE, at most m (what memory allows).
 * Runs are independent, so the pieces change no result. */
static size_t progress_piece(size_t n, size_t m)
{
    size_t piece = (n + CB_PROGRESS_PIECES - 1) / CB_PROGRESS_PIECES;
    if (piece < CB_PROGRESS_MIN_PIECE) {
        piece = CB_PROGRESS_MIN_PIECE;
    }
    return piece < m ? piece : m;
}

void cubie_solver_set_progress(struct cubie_solver *s, cubie_progress_fn fn,
                               void *ctx)
{
    if (s != NULL) {
        s->progress = fn;
        s->progress_ctx = ctx;
    }
}

/* The batch in chunks of m runs (fewer for a progress callback, which is
 * told after each chunk is stored). */
static cubie_status run_chunks(struct cubie_solver *s,
                               const struct cubie_batch *in,
                               const cb_plan *p, size_t m,
                               struct cubie_result *r, cubie_error *err)
{
    const cb_kernel_info *k = &s->out.info;
    const size_t n = in->n_runs;
    if (s->progress != NULL) {
        m = progress_piece(n, m);
    }
    cb_launch l;
    bool own[CB_KARG_COUNT];
    const bool host = s->module == NULL;
    cubie_status st = alloc_chunk(s, p, m, &l, own, err);
    if (st == CUBIE_OK) {
        cb_plan_fill_settings(p, k, l.host[CB_KARG_SETTINGS]);
        /* the drivers' coefficients, rounded to the kernel's precision */
        for (size_t i = 0; i < p->n_driver_coeffs; i++) {
            cb_put_real(l.host[CB_KARG_DRIVER_COEFFS], k->is_double, i,
                        p->spline.c[i]);
        }
        if (p->n_driver_coeffs == 0) {
            cb_put_real(l.host[CB_KARG_DRIVER_COEFFS], k->is_double, 0, 0.0);
        }
        /* On the GPU: in constant memory too, while they fit. */
        bool in_constant = false;
        if (s->module != NULL && p->n_driver_coeffs > 0) {
            st = cb_module_drivers_constant(
                s->module, l.host[CB_KARG_DRIVER_COEFFS],
                p->n_driver_coeffs * elem_size(k, CB_KARG_DRIVER_COEFFS),
                &in_constant, err);
        }
        cb_put_real(l.host[CB_KARG_SETTINGS], k->is_double,
                    (size_t)cb_setting_offset(CB_SETTING_DRIVER_IN_CONSTANT,
                                              k->n_states),
                    in_constant ? 1.0 : 0.0);
    }
    for (size_t r0 = 0; st == CUBIE_OK && r0 < n; r0 += m) {
        const size_t c = n - r0 < m ? n - r0 : m;
        for (int a = 0; a < CB_KARG_COUNT; a++) {
            const size_t elems = karg_elems(k, p, (cb_karg)a, c);
            l.bytes[a] = cb_kargs[a].dir == CB_DIR_SCALAR
                             ? 0
                             : elem_size(k, (cb_karg)a) * elems;
            if (cb_kargs[a].dir != CB_DIR_OUT) {
                fill_input((cb_karg)a, k, p, in, r0, c, host, &l);
            }
        }
        if (host) {
            point_outputs(r, r0, &l);
        }
        double ms = 0.0, copy_ms = 0.0;
        if (s->module != NULL) {
            st = cb_module_launch(s->module, p->blocksize, &l, &s->dev, &ms,
                                  &copy_ms, err);
        } else {
            const double t = cb_now_ms();
            run_host(s, &l, r->record, r0);
            ms = cb_now_ms() - t;
        }
        if (st == CUBIE_OK) {
            r->kernel_ms += ms;
            r->copy_ms += copy_ms;
            r->n_chunks++;
            if (!host) {
                cb_result_store(r, k, r0, c, l.host);
            }
            if (s->progress != NULL) {
                s->progress(r0 + c, n, s->progress_ctx);
            }
        }
    }
    if (st != CUBIE_OK && s->module != NULL) {
        /* after a driver failure, start the next run afresh */
        cb_device_buffers_free(s->module, &s->dev);
    }
    free_chunk(&l, own);
    return st;
}

static cubie_status run(struct cubie_solver *s, const cubie_batch *in,
                        const struct cubie_options *run_opt,
                        const cubie_output_buffer *buffers, size_t n_buffers,
                        struct cubie_result **out, cubie_error *err)
{
    if (s == NULL || in == NULL || out == NULL ||
        (buffers == NULL && n_buffers > 0)) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0, "cubie_run: NULL argument");
    }
    *out = NULL;
    const double t_start = cb_now_ms();
    const cb_kernel_info *k = &s->out.info;
    if (in->sys->n_states != k->n_states || in->sys->n_params != k->n_params) {
        return cb_fail(err, CUBIE_E_BATCH, NULL, 0,
                       "the batch was made for another system (%d states, "
                       "%d parameters; the solver has %d and %d)",
                       in->sys->n_states, in->sys->n_params, k->n_states,
                       k->n_params);
    }
    struct cubie_options *o = NULL;
    CB_TRY(merge_options(s, run_opt, &o, err));
    cb_plan p;
    size_t m = 0;
    /* One run at a time on a device: the solver's buffers are shared. */
    if (s->module != NULL) {
        pthread_mutex_lock(&s->lock);
    }
    cubie_status st = cb_plan_make(o, k, &p, err);
    if (st == CUBIE_OK) {
        st = cb_plan_drivers(o, k, in, &p, err);
    }
    if (st == CUBIE_OK) {
        st = chunk_runs(s, o, &p, in->n_runs, &m, err);
    }
    struct cubie_result *r = NULL;
    if (st == CUBIE_OK) {
        st = cb_result_new(s, in->n_runs, &p, buffers, n_buffers, &r, err);
    }
    /* the inputs (the host kernel copies them as it reads them) and every
     * option as they ran */
    if (st == CUBIE_OK) {
        st = cb_record_make(s, o, &p, in, s->module == NULL, &r->record,
                            err);
    }
    cb_options_free(o);
    if (st == CUBIE_OK) {
        st = run_chunks(s, in, &p, m, r, err);
    }
    if (st == CUBIE_OK) {
        st = cb_result_notes(r, err);
    }
    cb_plan_free(&p);
    if (s->module != NULL) {
        pthread_mutex_unlock(&s->lock);
    }
    if (st != CUBIE_OK) {
        cubie_result_free(r);
        return st;
    }
    r->wall_ms = cb_now_ms() - t_start;
    *out = r;
    return CUBIE_OK;
}

cubie_status cubie_run(struct cubie_solver *s, const cubie_batch *in,
                       const struct cubie_options *run_opt,
                       struct cubie_result **out, cubie_error *err)
{
    return run(s, in, run_opt, NULL, 0, out, err);
}

cubie_status cubie_run_into(struct cubie_solver *s, const cubie_batch *in,
                            const struct cubie_options *run_opt,
                            const cubie_output_buffer *buffers,
                            size_t n_buffers, struct cubie_result **out,
                            cubie_error *err)
{
    return run(s, in, run_opt, buffers, n_buffers, out, err);
}
