/* A solver's worker threads for the host side of a GPU run: staging a
 * chunk's inputs in the kernel's precision and storing its results into
 * the result (runtime/layout.c). They are started once, at the solver's first GPU
 * run, so a chunk's host work costs a wake-up, not a thread start per
 * array and chunk (15 pthread_create + pthread_join: 0.45 ms at best on
 * the 2-core EPYC VM), and they sleep between jobs. One job at a time:
 * the solver's lock serialises its runs. */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

/* At most this many threads, the caller included: the host side is bound
 * by memory bandwidth well before that. */
#define CB_WORKERS_MAX 16

struct cb_workers {
    pthread_mutex_t lock;
    pthread_cond_t work; /* a new job (generation moved) or stop */
    pthread_cond_t done; /* the last worker has left the job */
    pthread_t tid[CB_WORKERS_MAX];
    size_t n_workers;
    /* the job: fn(ctx, i) for i < n; next is taken with an atomic add */
    void (*fn)(void *ctx, size_t i);
    void *ctx;
    size_t n, next;
    unsigned long generation;
    size_t active; /* workers still in the current job */
    bool stop;
};

/* Tasks of the current job until none is left. */
static void drain(cb_workers *p)
{
    for (;;) {
        const size_t i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
        if (i >= p->n) {
            return;
        }
        p->fn(p->ctx, i);
    }
}

static void *worker(void *arg)
{
    cb_workers *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->generation == seen) {
            pthread_cond_wait(&p->work, &p->lock);
        }
        if (p->stop) {
            break;
        }
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);
        drain(p);
        pthread_mutex_lock(&p->lock);
        if (--p->active == 0) {
            pthread_cond_signal(&p->done);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

cb_workers *cb_workers_new(void)
{
    cb_workers *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = ncpu < 1 ? 0 : (size_t)ncpu - 1;
    want = want > CB_WORKERS_MAX - 1 ? CB_WORKERS_MAX - 1 : want;
    /* Fewer workers where threads cannot start: the caller does the
     * rest. */
    while (p->n_workers < want &&
           pthread_create(&p->tid[p->n_workers], NULL, worker, p) == 0) {
        p->n_workers++;
    }
    return p;
}

void cb_workers_free(cb_workers *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (size_t t = 0; t < p->n_workers; t++) {
        pthread_join(p->tid[t], NULL);
    }
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void cb_workers_for(cb_workers *p, size_t n, void (*fn)(void *ctx, size_t i),
                 void *ctx)
{
    if (p == NULL || p->n_workers == 0 || n < 2) {
        for (size_t i = 0; i < n; i++) {
            fn(ctx, i);
        }
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->next = 0;
    p->active = p->n_workers;
    p->generation++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    drain(p);
    /* Every worker leaves the job before the next can be set up. */
    pthread_mutex_lock(&p->lock);
    while (p->active > 0) {
        pthread_cond_wait(&p->done, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
}
