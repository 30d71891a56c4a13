/* A GPU run's chunks between the batch and the result, on the solver's
 * worker threads (workers.c): the inputs staged in (the batch's rows of
 * double, rounded to the kernel's precision), the outputs stored out (the
 * device has already turned them into the caller's layout, cubie_store
 * in templates/entry.cu), both in the caller's layout, so each is one
 * pass over contiguous memory, in tasks of runs. The host backend needs
 * neither: its kernel reads and writes the caller's memory in place. */
#include "internal.h"

#include <stdint.h>
#include <string.h>

/* dst[i] = src[i] rounded to float, for n elements. */
static void round_f32(float *restrict dst, const double *restrict src,
                      size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[i] = (float)src[i];
    }
}

/* Runs a task: enough elements that a wake-up (some microseconds) is
 * small beside it. */
#define CB_TASK_RUNS ((size_t)4096)
/* Below this many elements in all the caller does the job alone. */
#define CB_PARALLEL_MIN ((size_t)1 << 16)

/* How many tasks c runs of elems_per_run elements make. */
static size_t n_tasks(size_t c, size_t elems_per_run)
{
    if (c * elems_per_run < CB_PARALLEL_MIN) {
        return 1;
    }
    return (c + CB_TASK_RUNS - 1) / CB_TASK_RUNS;
}

/* The runs [lo, hi) of task i over c runs, of n tasks. */
static void task_runs(size_t i, size_t n, size_t c, size_t *lo, size_t *hi)
{
    *lo = n == 1 ? 0 : i * CB_TASK_RUNS;
    *hi = n == 1 || *lo + CB_TASK_RUNS > c ? c : *lo + CB_TASK_RUNS;
}

typedef struct {
    void *dst;
    const double *src;
    size_t c, cols, n;
    bool dbl;
} stage_job;

static void stage_task(void *ctx, size_t i)
{
    const stage_job *j = ctx;
    size_t lo, hi;
    task_runs(i, j->n, j->c, &lo, &hi);
    const double *src = j->src + lo * j->cols;
    const size_t n = (hi - lo) * j->cols;
    if (j->dbl) {
        memcpy((double *)j->dst + lo * j->cols, src, n * sizeof(double));
    } else {
        round_f32((float *)j->dst + lo * j->cols, src, n);
    }
}

void cb_layout_stage(cb_workers *workers, void *dst, const double *src,
                     size_t c, size_t cols, bool dbl)
{
    stage_job j = {dst, src, c, cols, n_tasks(c, cols), dbl};
    cb_workers_for(workers, j.n, stage_task, &j);
}

typedef struct {
    struct cubie_result *r;
    size_t r0, c, n;
    void *const *chunk;
} store_job;

static void store_task(void *ctx, size_t i)
{
    const store_job *j = ctx;
    struct cubie_result *r = j->r;
    size_t lo, hi;
    task_runs(i, j->n, j->c, &lo, &hi);
    const int32_t *status = j->chunk[CB_KARG_STATUS_OUT];
    memcpy(r->status + j->r0 + lo, status + lo, (hi - lo) * sizeof(int32_t));
    for (int a = 0; a < CB_KARG_COUNT; a++) {
        if (r->data[a] == NULL || r->cols[a] == 0) {
            continue;
        }
        /* bytes a run has: (saves or windows) x columns elements */
        const size_t run_bytes = r->rows[a] * r->cols[a] *
                                 (cb_kargs[a].elem == CB_ELEM_INT
                                      ? sizeof(int32_t)
                                      : (size_t)r->precision);
        memcpy((char *)r->data[a] + run_bytes * (j->r0 + lo),
               (const char *)j->chunk[a] + run_bytes * lo,
               run_bytes * (hi - lo));
    }
}

/* The kernel has written every element, NaN where a failed run's outputs
 * say so, in the result's precision, and the device has put them in the
 * caller's layout: this is a copy of bytes, never a conversion. */
void cb_layout_store(cb_workers *workers, struct cubie_result *r, size_t r0,
                     size_t c, void *const *chunk)
{
    size_t per_run = 1;
    for (int a = 0; a < CB_KARG_COUNT; a++) {
        per_run += r->data[a] != NULL ? r->rows[a] * r->cols[a] : 0;
    }
    store_job j = {r, r0, c, n_tasks(c, per_run), chunk};
    cb_workers_for(workers, j.n, store_task, &j);
}
