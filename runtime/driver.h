/* The CUDA driver API, loaded with dlopen("libcuda.so.1") so nothing links
 * libcuda and every binary starts on a machine without a driver. The
 * driver's function table is loaded once per process and read-only after
 * that; everything else is an object: a device (its primary context and
 * attributes), a module loaded on it, the launches of its kernel. Every
 * driver call is checked, and a failure names the call and the driver's
 * message. */
#ifndef CB_DRIVER_H
#define CB_DRIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "cubie_status.h"
#include "tables.h"

/* Whether a CUDA device is usable; when not, why (no driver, no device,
 * a stub library ...). Loads the driver once per process. */
bool cb_cuda_usable(char *why, size_t n);
/* One line per device into out (name, compute capability, memory), or
 * the reason there is none. */
cubie_status cb_cuda_describe(char *out, size_t n, cubie_error *err);

/* One device: its primary context, retained until cb_device_close. */
typedef struct cb_device cb_device;

cubie_status cb_device_open(int index, cb_device **out, cubie_error *err);
/* Accepts NULL. */
void cb_device_close(cb_device *d);
/* Compute capability as major * 10 + minor (90 for sm_90). */
int cb_device_arch(const cb_device *d);
/* Dynamic shared memory one block may opt in to, in bytes. */
int cb_device_max_shared(const cb_device *d);
/* Free device memory in bytes (0 when unknown). */
size_t cb_device_free_memory(cb_device *d);

/* A kernel image loaded on a device, its cubie_kernel opted in to the
 * device's shared memory limit once. */
typedef struct cb_module cb_module;

cubie_status cb_module_load(cb_device *d, const void *image,
                            size_t shared_bytes_per_run, cb_module **out,
                            cubie_error *err);
/* Accepts NULL. */
void cb_module_unload(cb_module *m);
/* Resident blocks per SM at this block size, and the SM's thread
 * limit. */
cubie_status cb_module_occupancy(cb_module *m, int blocksize,
                                 int *blocks_per_sm, int *max_threads_per_sm,
                                 cubie_error *err);

/* The arguments of one launch, in kernel_args.def's order: for buffers
 * the host memory (in device layout: run index fastest) and its bytes
 * (IN buffers are copied to the device, OUT ones back), for scalars the
 * value. */
typedef struct {
    void *host[CB_KARG_COUNT];
    size_t bytes[CB_KARG_COUNT];
    int scalar[CB_KARG_COUNT];
} cb_launch;

/* Device buffers for the chunks of a solver's runs, each as large as the
 * largest chunk so far needs: allocated at the first launch, reused by
 * every later one (the solver keeps them between runs), freed by
 * cb_device_buffers_free. */
typedef struct {
    unsigned long long ptr[CB_KARG_COUNT];
    size_t cap[CB_KARG_COUNT];
    /* the chunks' host staging, page-locked (cuMemHostAlloc), so copies
     * run at the bus's speed without the driver's own bounce buffer */
    void *host[CB_KARG_COUNT];
    size_t host_cap[CB_KARG_COUNT];
    bool host_pinned[CB_KARG_COUNT]; /* else refused: cb_big_alloc's */
} cb_device_buffers;

void cb_device_buffers_free(cb_module *m, cb_device_buffers *b);
/* The page-locked staging of argument k, at least bytes, into *out: the
 * solver's own, kept for its next chunk and run, grown when short, freed
 * by cb_device_buffers_free; ordinary memory where the driver refuses to
 * lock more. */
cubie_status cb_module_staging(cb_module *m, cb_device_buffers *b, int k,
                               size_t bytes, void **out, cubie_error *err);

/* Launch the kernel on the chunk a describes: copies in, the launch
 * (blocksize threads a block, halved while a block's shared memory does
 * not fit), copies out. *kernel_ms is the kernel time from CUDA events,
 * *copy_ms the wall time of allocations and copies. */
/* Put the drivers' coefficients (bytes of them) in the kernel's constant
 * memory when they fit; *used says whether they went there (else the
 * kernel reads them from its argument, in global memory). */
cubie_status cb_module_drivers_constant(cb_module *m, const void *coeffs,
                                        size_t bytes, bool *used,
                                        cubie_error *err);
cubie_status cb_module_launch(cb_module *m, int blocksize, const cb_launch *a,
                              cb_device_buffers *bufs, double *kernel_ms,
                              double *copy_ms, cubie_error *err);

#endif
