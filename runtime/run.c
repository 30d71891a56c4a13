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

/* Bytes one run's buffers hold: its inputs, outputs, status. */
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

/* Bytes one run needs on the GPU besides (bytes_per_run): the largest
 * output array the device turns into the caller's layout (cb_launch). */
static size_t scratch_per_run(const cb_kernel_info *k, const cb_plan *p)
{
    size_t b = 0;
    for (int a = 0; a < CB_KARG_COUNT; a++) {
        const size_t e = karg_elems(k, p, (cb_karg)a, 1);
        if (cb_kargs[a].dir == CB_DIR_OUT && e > 1 &&
            elem_size(k, (cb_karg)a) * e > b) {
            b = elem_size(k, (cb_karg)a) * e;
        }
    }
    return b;
}

/* Runs per chunk: all of them, unless the memory cap (and on the GPU the
 * free device memory, which the CB_STREAMS streams' buffers share) says
 * fewer. The same rule serves both backends, so the chunking logic is
 * tested on the host. */
static cubie_status chunk_runs(const struct cubie_solver *s,
                               const struct cubie_options *o,
                               const cb_plan *p, size_t n, size_t *out,
                               cubie_error *err)
{
    size_t per = bytes_per_run(&s->out.info, p);
    double cap = p->memory_cap;
    int sets = 1; /* chunks held at once */
    if (s->module != NULL) {
        /* The solver's own buffers from earlier runs count as free: they
         * are reused or grown. */
        size_t free_b = cb_device_free_memory(s->device);
        for (int i = 0; free_b > 0 && i < CB_STREAMS; i++) {
            for (int a = 0; a < CB_KARG_COUNT; a++) {
                free_b += s->dev.slot[i].cap[a];
            }
            free_b += s->dev.slot[i].scratch_cap;
        }
        per += scratch_per_run(&s->out.info, p);
        if (free_b > 0) {
            cap = fmin(cap, 0.8 * (double)free_b);
        }
        sets = CB_STREAMS;
    } else if (!cb_opt_is_set(o, CB_OPT_MEMORY_CAP)) {
        /* The host backend reads and writes in place (in_place), so a
         * chunk allocates nothing a run; chunks stay at 512 MiB's worth
         * of runs, which changes no result. */
        cap = 512.0 * 1024.0 * 1024.0;
    }
    if (cap < (double)per * sets) {
        return cb_fail(err, CUBIE_E_OPTION, "memory_cap", 0,
                       "option memory_cap: %.0f bytes cannot hold one run "
                       "(%zu bytes)%s", cap, per,
                       sets > 1 ? " for each of the GPU's 2 streams" : "");
    }
    double m = floor(cap / ((double)per * sets));
    *out = m >= (double)n ? n : (size_t)m;
    return CUBIE_OK;
}

/* Whether kernel argument a lives in the caller's memory on the host
 * backend (no staging, no copy): the outputs with a row per save or
 * window and the status are the result's own arrays (the kernel writes
 * them in place, CB_AT), the inputs the batch's (read in place, CB_IN,
 * and rounded to a float32 kernel's precision as they load). */
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

/* Input a of kernel_args.def for a chunk of c runs from r0: its buffer
 * or, for a scalar, its value. The host takes the batch's own memory;
 * the GPU its rows in the kernel's precision, staged on the solver's
 * worker threads. */
static void fill_input(cb_karg a, const struct cubie_solver *s,
                       const cb_plan *p, const struct cubie_batch *in,
                       size_t r0, size_t c, cb_launch *l)
{
    const cb_kernel_info *k = &s->out.info;
    switch (a) {
    case CB_KARG_INITS:
    case CB_KARG_PARAMS: {
        const size_t cols = (size_t)k->cols[a];
        const bool inits = a == CB_KARG_INITS;
        const double *src = (inits ? in->inits : in->params) + r0 * cols;
        if (in_place(s->module == NULL, a)) {
            l->host[a] = (void *)(uintptr_t)src;
        } else {
            cb_layout_stage(s->workers, l->host[a], src, c, cols,
                            k->is_double);
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

/* Chunk [r0, r0 + c) into l: each buffer's bytes and each input. */
static void fill_chunk(const struct cubie_solver *s, const cb_plan *p,
                       const struct cubie_batch *in, size_t r0, size_t c,
                       cb_launch *l)
{
    const cb_kernel_info *k = &s->out.info;
    for (int a = 0; a < CB_KARG_COUNT; a++) {
        l->bytes[a] = cb_kargs[a].dir == CB_DIR_SCALAR
                          ? 0
                          : elem_size(k, (cb_karg)a) *
                                karg_elems(k, p, (cb_karg)a, c);
        l->per_run[a] = cb_kargs[a].dir == CB_DIR_OUT
                            ? karg_elems(k, p, (cb_karg)a, 1)
                            : 0;
        if (cb_kargs[a].dir != CB_DIR_OUT) {
            fill_input((cb_karg)a, s, p, in, r0, c, l);
        }
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

/* The buffers of a chunk of m runs: on the GPU in stream slot's
 * page-locked staging (kept for the solver's later runs);
 * on the host only what is not in place, its own (own[a], freed by
 * free_chunk). */
static cubie_status alloc_chunk(struct cubie_solver *s, const cb_plan *p,
                                size_t m, int slot, cb_launch *l, bool *own,
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
            CB_TRY(cb_module_staging(s->module, &s->dev, slot, a, bytes,
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

/* The settings and the drivers' coefficients, the same for every chunk,
 * into l's buffers; the settings say whether the kernel reads the
 * coefficients from constant memory instead (in_constant). */
static void fill_shared(const struct cubie_solver *s, const cb_plan *p,
                        cb_launch *l, bool in_constant)
{
    const cb_kernel_info *k = &s->out.info;
    cb_plan_fill_settings(p, k, l->host[CB_KARG_SETTINGS]);
    /* the drivers' coefficients, rounded to the kernel's precision */
    for (size_t i = 0; i < p->n_driver_coeffs; i++) {
        cb_put_real(l->host[CB_KARG_DRIVER_COEFFS], k->is_double, i,
                    p->spline.c[i]);
    }
    if (p->n_driver_coeffs == 0) {
        cb_put_real(l->host[CB_KARG_DRIVER_COEFFS], k->is_double, 0, 0.0);
    }
    cb_put_real(l->host[CB_KARG_SETTINGS], k->is_double,
                (size_t)cb_setting_offset(CB_SETTING_DRIVER_IN_CONSTANT,
                                          k->n_states),
                in_constant ? 1.0 : 0.0);
}

/* On the GPU, once a run: the drivers' coefficients (as fill_shared put
 * them in l) into the kernel's constant memory while they fit; *used
 * says whether they went. */
static cubie_status drivers_constant(struct cubie_solver *s,
                                     const cb_plan *p, const cb_launch *l,
                                     bool *used, cubie_error *err)
{
    *used = false;
    if (p->n_driver_coeffs == 0) {
        return CUBIE_OK;
    }
    return cb_module_drivers_constant(
        s->module, l->host[CB_KARG_DRIVER_COEFFS],
        p->n_driver_coeffs * elem_size(&s->out.info, CB_KARG_DRIVER_COEFFS),
        used, err);
}

/* One chunk on the host backend: the entry takes pointers to the
 * arguments, as cuLaunchKernel does. */
static void run_host(const struct cubie_solver *s, cb_launch *l)
{
    void *argv[CB_KARG_COUNT];
    for (int a = 0; a < CB_KARG_COUNT; a++) {
        argv[a] = cb_kargs[a].dir == CB_DIR_SCALAR ? (void *)&l->scalar[a]
                                                   : (void *)&l->host[a];
    }
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

/* On the GPU a large batch goes in about pipeline_chunks chunks (8 by
 * default), so that the host's staging and storing of one, and the copies
 * of another, overlap a kernel (the first staging and the last store do
 * not), of at least this many runs each: two of them, one on each stream,
 * fill an H200 (132 SMs x 2048 threads) at full occupancy. */
#define CB_PIPE_MIN_RUNS 65536

static size_t pipeline_piece(size_t n, size_t m, int chunks)
{
    if (chunks <= 1) {
        return m;
    }
    size_t piece = (n + (size_t)chunks - 1) / (size_t)chunks;
    if (piece < CB_PIPE_MIN_RUNS) {
        piece = CB_PIPE_MIN_RUNS;
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

/* The host backend: the batch in chunks of m runs, the kernel writing the
 * result in place. */
static cubie_status run_on_host(struct cubie_solver *s,
                                const struct cubie_batch *in,
                                const cb_plan *p, size_t m,
                                struct cubie_result *r, cubie_error *err)
{
    const size_t n = in->n_runs;
    cb_launch l;
    bool own[CB_KARG_COUNT];
    cubie_status st = alloc_chunk(s, p, m, 0, &l, own, err);
    if (st == CUBIE_OK) {
        fill_shared(s, p, &l, false);
    }
    for (size_t r0 = 0; st == CUBIE_OK && r0 < n; r0 += m) {
        const size_t c = n - r0 < m ? n - r0 : m;
        fill_chunk(s, p, in, r0, c, &l);
        point_outputs(r, r0, &l);
        const double t = cb_now_ms();
        run_host(s, &l);
        r->kernel_ms += cb_now_ms() - t;
        r->n_chunks++;
        if (s->progress != NULL) {
            s->progress(r0 + c, n, s->progress_ctx);
        }
    }
    free_chunk(&l, own);
    return st;
}

static int cmp_start(const void *a, const void *b)
{
    const double x = ((const double *)a)[0], y = ((const double *)b)[0];
    return x < y ? -1 : x > y;
}

/* The length of the union of n intervals [iv[i][0], iv[i][1]) (sorted
 * here): the time at least one of them was running. */
static double covered_ms(double (*iv)[2], size_t n)
{
    qsort(iv, n, sizeof(iv[0]), cmp_start);
    double total = 0.0, lo = 0.0, hi = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || iv[i][0] > hi) {
            total += hi - lo;
            lo = iv[i][0];
            hi = iv[i][1];
        } else if (iv[i][1] > hi) {
            hi = iv[i][1];
        }
    }
    return total + (hi - lo);
}

/* The kernel's and the copies' time from the chunks' events: where
 * chunks overlap on the two streams, the time at least one kernel (one
 * copy) ran, so neither counts the same moment twice. */
static cubie_status device_times(const cb_chunk_times *t, size_t n,
                                 struct cubie_result *r, cubie_error *err)
{
    double (*iv)[2] = malloc(sizeof(*iv) * (2 * n + 1));
    if (iv == NULL) {
        return cb_fail_nomem(err);
    }
    for (size_t j = 0; j < n; j++) {
        iv[j][0] = t[j].k0;
        iv[j][1] = t[j].k1;
    }
    r->kernel_ms = covered_ms(iv, n);
    for (size_t j = 0; j < n; j++) {
        iv[2 * j][0] = t[j].in0;
        iv[2 * j][1] = t[j].k0;
        iv[2 * j + 1][0] = t[j].k1;
        iv[2 * j + 1][1] = t[j].out1;
    }
    r->copy_ms = covered_ms(iv, 2 * n);
    free(iv);
    return CUBIE_OK;
}

/* The GPU: chunks of m runs in turn on the CB_STREAMS streams. Chunk j is
 * staged and queued, then chunk j - 1 (on the other stream) is waited
 * for and stored, so the host's work on one chunk overlaps the device's
 * on the next, and one stream's copies the other's kernel. A stream's
 * staging is refilled only after its chunk has been waited for. */
static cubie_status run_on_device(struct cubie_solver *s,
                                  const struct cubie_batch *in,
                                  const cb_plan *p, size_t m,
                                  struct cubie_result *r, cubie_error *err)
{
    const size_t n = in->n_runs;
    const size_t n_chunks = (n + m - 1) / m;
    const size_t n_slots = n_chunks < CB_STREAMS ? n_chunks : CB_STREAMS;
    if (s->workers == NULL) {
        s->workers = cb_workers_new(); /* NULL: the staging runs on this thread */
    }
    cb_chunk_times *times = calloc(n_chunks, sizeof(*times));
    if (times == NULL) {
        return cb_fail_nomem(err);
    }
    cb_launch l[CB_STREAMS];
    bool own[CB_KARG_COUNT];
    cubie_status st = CUBIE_OK;
    for (size_t i = 0; st == CUBIE_OK && i < n_slots; i++) {
        st = alloc_chunk(s, p, m, (int)i, &l[i], own, err);
    }
    bool in_constant = false;
    if (st == CUBIE_OK) {
        fill_shared(s, p, &l[0], false);
        st = drivers_constant(s, p, &l[0], &in_constant, err);
    }
    for (size_t i = 0; st == CUBIE_OK && i < n_slots; i++) {
        fill_shared(s, p, &l[i], in_constant);
    }
    for (size_t j = 0; st == CUBIE_OK && j <= n_chunks; j++) {
        if (j < n_chunks) {
            const size_t r0 = j * m, c = n - r0 < m ? n - r0 : m;
            cb_launch *lj = &l[j % CB_STREAMS];
            fill_chunk(s, p, in, r0, c, lj);
            st = cb_module_enqueue(s->module, p->blocksize, lj, &s->dev,
                                   (int)(j % CB_STREAMS), j == 0, err);
        }
        if (st == CUBIE_OK && j > 0) {
            const size_t i = j - 1, r0 = i * m, c = n - r0 < m ? n - r0 : m;
            st = cb_module_wait(s->module, &s->dev, (int)(i % CB_STREAMS),
                                &times[i], err);
            if (st == CUBIE_OK) {
                cb_layout_store(s->workers, r, r0, c, l[i % CB_STREAMS].host);
                r->n_chunks++;
                if (s->progress != NULL) {
                    s->progress(r0 + c, n, s->progress_ctx);
                }
            }
        }
    }
    if (st == CUBIE_OK) {
        st = device_times(times, n_chunks, r, err);
    } else {
        /* after a driver failure, start the next run afresh (what is
         * still queued is waited for first) */
        cb_device_buffers_free(s->module, &s->dev);
    }
    free(times);
    return st;
}

static cubie_status run_chunks(struct cubie_solver *s,
                               const struct cubie_batch *in,
                               const cb_plan *p, size_t m,
                               struct cubie_result *r, cubie_error *err)
{
    if (s->progress != NULL) {
        m = progress_piece(in->n_runs, m);
    }
    if (s->module == NULL) {
        return run_on_host(s, in, p, m, r, err);
    }
    return run_on_device(s, in, p,
                         pipeline_piece(in->n_runs, m, p->pipeline_chunks), r,
                         err);
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
    /* every option as it ran, and the inputs (the batch's, shared) */
    if (st == CUBIE_OK) {
        st = cb_record_make(s, o, &p, in, &r->record, err);
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
