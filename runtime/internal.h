/* Runtime internals shared by api.c, batch.c, host.c, nvrtc.c, npy.c. */
#ifndef CB_RUNTIME_INTERNAL_H
#define CB_RUNTIME_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "cubie.h"
#include "emit.h"
#include "gpu.h"

struct cubie_batch {
    struct cubie_system *sys; /* own copy: the caller may free theirs */
    size_t n_runs;
    double *inits;  /* n_runs x n_states, one run per row */
    double *params; /* n_runs x n_params */
};

/* The host entry of a generated kernel (templates/entry.cu). */
typedef void (*cb_host_fn)(const void *inits, const void *params,
                           const void *settings, void *state_out,
                           void *obs_out, int *counters_out, int *status_out,
                           int n_runs, int n_saves, int max_steps);

typedef struct {
    void *handle;      /* dlopen handle */
    cb_host_fn run;
    bool cache_hit;
} cb_host_module;

struct cubie_solver {
    struct cubie_system *sys;   /* own copy */
    struct cubie_options *opt;  /* own copy */
    cb_generated gen;
    cb_host_module host;
    cb_cuda_kernel *cuda;       /* backend "cuda" */
    char arch[32];              /* what NVRTC built for */
    char backend[8];
    char reason[600];
    double generate_ms, build_ms;
};

struct cubie_result {
    size_t n_runs, n_saves, n_vars;
    int precision;          /* 4 or 8 */
    void *state;            /* (n_runs, n_saves, n_vars) */
    double *time;           /* n_saves */
    int32_t *status;        /* n_runs */
    char **var_names;
    size_t n_obs;
    void *obs;              /* (n_runs, n_saves, n_obs) or NULL */
    char **obs_names;
    int32_t *counters;      /* (n_runs, n_saves, 4) or NULL */
    char backend[8];
    double kernel_ms;
    double copy_ms;  /* cuda: device allocations and copies */
    double wall_ms;  /* all of cubie_run */
    size_t n_chunks;
};

/* Milliseconds on a monotonic clock. */
double cb_now_ms(void);

/* The cache folder ($CUBIE_CACHE_DIR, else $XDG_CACHE_HOME/cubie, else
 * $HOME/.cache/cubie), created if missing. false if none can be made. */
bool cb_cache_dir(char *out, size_t n);
/* A 128-bit content hash of the parts, as 32 hex digits. */
void cb_hash_hex(const char *const *parts, size_t n_parts, char out[33]);

/* Build the generated source with the system C compiler into a shared
 * object (cached unless use_cache is false) and load it. */
cubie_status cb_host_build(const char *source, bool use_cache,
                           cb_host_module *out, cubie_error *err);
void cb_host_unload(cb_host_module *m);

/* NVRTC: compile source for arch ("sm_90" -> CUBIN, "compute_90" -> PTX).
 * extra options (may be NULL-terminated list or NULL). *image is malloc'd,
 * *log (may be NULL) malloc'd. CUBIE_E_BACKEND when built without NVRTC. */
cubie_status cb_nvrtc_compile(const char *source, const char *arch,
                              const char *const *extra, char **image,
                              size_t *image_len, char **log,
                              cubie_error *err);
bool cb_nvrtc_available(void);

#endif
