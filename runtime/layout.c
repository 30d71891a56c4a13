/* Between the user's layout (run, save, column: a run's values together)
 * and the device's (save, column, run: run index fastest, so a warp's
 * loads and stores coalesce), for a GPU run's chunks: its inputs staged
 * in, its results stored out. Both are transposes, split into tasks of
 * whole tiles of runs on the solver's worker threads (workers.c). The host backend
 * needs neither: its kernel reads and writes the user's layout. */
#include "internal.h"

#include <stdint.h>
#include <string.h>

/* dst[run * rc + j] = src[j * c + run] for the runs [r_lo, r_hi) of c and
 * the rc rows (save, column) of a run, in the arrays' types (the
 * kernel's precision, int32): tiles of CB_TILE runs x CB_TILE_ROWS
 * rows, so that both sides are read and written a cache line at a time,
 * not an element per line on one of them. A chunk's run count is often a
 * power of two, which puts the rows of src in the same cache sets: few
 * rows at a time keep them from evicting each other (256 x 16: 1.2 ns an
 * element on the 2-core EPYC VM, against 2.5 for 32 x 32 and 13 for the
 * loop over elements this replaced). */
#define CB_TILE 256
#define CB_TILE_ROWS 16
#define CB_DEF_TRANSPOSE(name, T)                                          \
    static void name(T *restrict dst, const T *restrict src, size_t c,   \
                     size_t rc, size_t r_lo, size_t r_hi)                \
    {                                                                      \
        for (size_t r0 = r_lo; r0 < r_hi; r0 += CB_TILE) {                 \
            const size_t r1 = r0 + CB_TILE < r_hi ? r0 + CB_TILE : r_hi;   \
            for (size_t j0 = 0; j0 < rc; j0 += CB_TILE_ROWS) {             \
                const size_t j1 =                                          \
                    j0 + CB_TILE_ROWS < rc ? j0 + CB_TILE_ROWS : rc;       \
                for (size_t run = r0; run < r1; run++) {                   \
                    for (size_t j = j0; j < j1; j++) {                     \
                        dst[run * rc + j] = src[j * c + run];              \
                    }                                                      \
                }                                                          \
            }                                                              \
        }                                                                  \
    }
/* In the arrays' own types, so no store goes through another type. */
CB_DEF_TRANSPOSE(transpose_f32, float)
CB_DEF_TRANSPOSE(transpose_f64, double)
CB_DEF_TRANSPOSE(transpose_i32, int32_t)

/* dst[i * c + run] = src[run * cols + i] for the runs [r_lo, r_hi) of c:
 * the batch's rows into the device layout, rounded to the kernel's
 * precision, a few columns at a time so the write streams stay few. */
#define CB_DEF_STAGE(name, T)                                              \
    static void name(T *restrict dst, const double *restrict src,          \
                     size_t c, size_t cols, size_t r_lo, size_t r_hi)      \
    {                                                                      \
        for (size_t i0 = 0; i0 < cols; i0 += 8) {                          \
            const size_t i1 = i0 + 8 < cols ? i0 + 8 : cols;               \
            for (size_t run = r_lo; run < r_hi; run++) {                   \
                for (size_t i = i0; i < i1; i++) {                         \
                    dst[i * c + run] = (T)src[run * cols + i];             \
                }                                                          \
            }                                                              \
        }                                                                  \
    }
CB_DEF_STAGE(stage_f32, float)
CB_DEF_STAGE(stage_f64, double)

/* Runs a task: whole tiles, and enough elements that a wake-up (some
 * microseconds) is small beside it. */
#define CB_TASK_RUNS ((size_t)16 * CB_TILE)
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
    if (j->dbl) {
        stage_f64(j->dst, j->src, j->c, j->cols, lo, hi);
    } else {
        stage_f32(j->dst, j->src, j->c, j->cols, lo, hi);
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
        const size_t rc = r->rows[a] * r->cols[a]; /* (saves or windows) x
                                                    * columns */
        const size_t elem = cb_kargs[a].elem == CB_ELEM_INT
                                ? sizeof(int32_t)
                                : (size_t)r->precision;
        void *dst = (char *)r->data[a] + elem * j->r0 * rc;
        if (cb_kargs[a].elem == CB_ELEM_INT) {
            transpose_i32(dst, j->chunk[a], j->c, rc, lo, hi);
        } else if (elem == 8) {
            transpose_f64(dst, j->chunk[a], j->c, rc, lo, hi);
        } else {
            transpose_f32(dst, j->chunk[a], j->c, rc, lo, hi);
        }
    }
}

/* The kernel has written every element, NaN where a failed run's outputs
 * say so, in the result's precision, so this is a transpose of values,
 * never a conversion. */
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
