/* The cuda backend: NVRTC builds of the generated kernel (CUBIN for the
 * device's own architecture, PTX as the fallback), cached on disk; the
 * driver API loaded with dlopen("libcuda.so.1") so nothing links libcuda;
 * launches with the right dynamic shared memory. Everything here works
 * without a driver except loading and launching, which then say why. */
#ifndef CB_GPU_H
#define CB_GPU_H

#include <stdbool.h>
#include <stddef.h>

#include "cubie.h"

/* ptxas' resource line for one kernel. */
typedef struct {
    bool found;
    int registers;
    int spill_stores, spill_loads; /* bytes */
    int stack;                     /* bytes of stack frame */
    int smem;                      /* static shared bytes */
} cb_resources;

/* Read "Used N registers", "N bytes spill stores" ... out of a log. */
void cb_parse_resources(const char *log, cb_resources *out);
/* The register count from a CUBIN's .nv.info (spills and stack are not
 * read), for an NVRTC whose log holds no ptxas lines (seen with NVRTC
 * 13.0.88 on a device). false when the image has no such record. */
bool cb_cubin_resources(const void *image, size_t len, cb_resources *out);

/* Compile options derived from the solver options. */
typedef struct {
    const char *arch;      /* "sm_90" (CUBIN) or "compute_90" (PTX) */
    bool fast_compile;     /* --Ofast-compile=max */
    bool lineinfo;         /* -lineinfo */
    int max_registers;     /* --maxrregcount, 0 for none */
    bool use_cache;
} cb_nvrtc_opts;

/* An NVRTC artifact: the image (CUBIN or PTX, NUL-terminated), its
 * resource line, the compile log, and whether it came from the cache. */
typedef struct {
    char *image;
    size_t len;
    bool is_cubin;
    char *log;
    cb_resources res;
    bool cache_hit;
    double ms;
} cb_artifact;

cubie_status cb_nvrtc_build(const char *source, const cb_nvrtc_opts *o,
                            cb_artifact *out, cubie_error *err);
void cb_artifact_free(cb_artifact *a);
/* NVRTC's version, "13.0", or "none". */
const char *cb_nvrtc_version(void);

/* ---- the driver ---------------------------------------------------- */

/* Whether a CUDA device is usable; when not, why (no driver, no device,
 * a stub library ...). Loads the driver once per process. */
bool cb_cuda_usable(char *why, size_t n);
/* One line per device into out (name, compute capability, memory), or
 * the reason there is none. */
cubie_status cb_cuda_describe(char *out, size_t n, cubie_error *err);

typedef struct cb_cuda_kernel cb_cuda_kernel;

/* Build for device 0's architecture and load the module. */
cubie_status cb_cuda_load(const char *source, const cb_nvrtc_opts *base,
                          size_t shared_bytes_per_run, cb_cuda_kernel **out,
                          char *arch_used, size_t arch_n, cubie_error *err);
void cb_cuda_unload(cb_cuda_kernel *k);
/* Resident blocks per SM at this block size, and the SM's thread limit. */
cubie_status cb_cuda_occupancy(cb_cuda_kernel *k, int blocksize,
                               int *blocks_per_sm, int *max_threads_per_sm,
                               cubie_error *err);
/* Free device memory in bytes (0 when unknown). */
size_t cb_cuda_free_memory(cb_cuda_kernel *k);

/* Run one chunk: host arrays in device layout (run index fastest);
 * copies in, launches, copies out. *ms is the kernel time from CUDA
 * events; *copy_ms the wall time of the allocations and copies in and
 * the copies out. */
cubie_status cb_cuda_run(cb_cuda_kernel *k, int blocksize, size_t real_size,
                         const void *inits, size_t inits_bytes,
                         const void *params, size_t params_bytes,
                         const void *settings, size_t settings_bytes,
                         void *state_out, size_t state_bytes, void *obs_out,
                         size_t obs_bytes, int *counters_out,
                         size_t counters_bytes, int *status_out, int n_runs,
                         int n_saves, int max_steps, double *ms,
                         double *copy_ms, cubie_error *err);

#endif
