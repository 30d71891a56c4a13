/* NVRTC builds of the generated kernel (runtime/cuda_build.c): PTX or CUBIN,
 * cached on disk, with the resources ptxas reports. No device needed. */
#ifndef CB_CUDA_BUILD_H
#define CB_CUDA_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "cubie_status.h"

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
    char note[600];  /* what the build noticed (a bad entry), or "" */
} cb_artifact;

/* Build source under o (cached); a failure dumps the source and says
 * where in err. */
cubie_status cb_nvrtc_build(const char *source, const cb_nvrtc_opts *o,
                            cb_artifact *out, cubie_error *err);
void cb_artifact_free(cb_artifact *a);
/* NVRTC's version, "13.0", or "none". */
const char *cb_nvrtc_version(void);
/* The newest architecture NVRTC knows at or below compute capability
 * want (90 for sm_90), for PTX the driver can JIT; 0 if none. */
int cb_nvrtc_best_arch(int want);

/* One compile, uncached: source for arch ("sm_90" -> CUBIN,
 * "compute_90" -> PTX) with the extra options (NULL-terminated list, or
 * NULL). *image is malloc'd, *log (may be NULL) malloc'd.
 * CUBIE_E_BACKEND when built without NVRTC. */
cubie_status cb_nvrtc_compile(const char *source, const char *arch,
                              const char *const *extra, char **image,
                              size_t *image_len, char **log,
                              cubie_error *err);
bool cb_nvrtc_available(void);

#endif
