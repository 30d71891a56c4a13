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
 * device's shared memory limit once, and its cubie_store4 and
 * cubie_store8 (the outputs into the caller's layout). */
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
 * the host memory and its bytes (IN buffers are copied to the device, OUT
 * ones back), for scalars the value. Inputs and what comes back are in
 * the caller's layout (a run's values together); an output array with
 * per_run > 1 elements a run is written by the kernel in the device's
 * (run index fastest) and turned into the caller's on the device
 * (cubie_store4, cubie_store8) before it comes back. */
typedef struct {
    void *host[CB_KARG_COUNT];
    size_t bytes[CB_KARG_COUNT];
    size_t per_run[CB_KARG_COUNT];
    int scalar[CB_KARG_COUNT];
} cb_launch;

/* A solver's chunks go to the device in turn on this many streams, so
 * that one chunk's copies, and the host's staging and storing of its
 * neighbours, overlap another's kernel. */
#define CB_STREAMS 2

/* The events a chunk records on its stream, in order: before its copies
 * in, before and after its kernel, after its copies out. */
enum { CB_EV_IN, CB_EV_KERNEL, CB_EV_KERNEL_END, CB_EV_OUT_END, CB_EV_COUNT };

/* One stream's share of a solver's device side: device buffers, each as
 * large as the largest chunk so far needs; the chunks' host staging,
 * page-locked (cuMemHostAlloc) so that copies run at the bus's speed and
 * asynchronously; the stream and its events. Made as chunks need them,
 * kept for the solver's later runs, freed by cb_device_buffers_free. */
typedef struct {
    unsigned long long ptr[CB_KARG_COUNT];
    size_t cap[CB_KARG_COUNT];
    /* where an output array is turned into the caller's layout before it
     * comes back: as large as the largest such array so far */
    unsigned long long scratch;
    size_t scratch_cap;
    void *host[CB_KARG_COUNT];
    size_t host_cap[CB_KARG_COUNT];
    bool host_pinned[CB_KARG_COUNT]; /* else refused: cb_big_alloc's */
    void *stream;                    /* CUstream, NULL until the first */
    void *event[CB_EV_COUNT];        /* CUevent */
} cb_device_slot;

typedef struct {
    cb_device_slot slot[CB_STREAMS];
    /* CUevent recorded before a run's first copy: its chunks' times are
     * measured from it */
    void *origin;
} cb_device_buffers;

/* Where a chunk's work lay on the device, in ms from the run's origin:
 * copies in from in0, the kernel from k0 to k1, then the outputs into the
 * caller's layout and their copies out until out1. */
typedef struct {
    double in0, k0, k1, out1;
} cb_chunk_times;

/* Waits for what is queued, then frees everything (b is left empty). */
void cb_device_buffers_free(cb_module *m, cb_device_buffers *b);
/* Stream slot's page-locked staging of argument k, at least bytes, into
 * *out: kept for its next chunk and run, grown when short; ordinary
 * memory where the driver refuses to lock more. */
cubie_status cb_module_staging(cb_module *m, cb_device_buffers *b, int slot,
                               int k, size_t bytes, void **out,
                               cubie_error *err);

/* Put the drivers' coefficients (bytes of them) in the kernel's constant
 * memory when they fit; *used says whether they went there (else the
 * kernel reads them from its argument, in global memory). Call it with
 * nothing queued. */
cubie_status cb_module_drivers_constant(cb_module *m, const void *coeffs,
                                        size_t bytes, bool *used,
                                        cubie_error *err);
/* Queue the chunk a describes on stream slot, which must have nothing
 * queued: copies in, the launch (blocksize threads a block, at most the
 * function's limit, halved while a block's shared memory does not fit),
 * each output array into the caller's layout (cb_launch) and back.
 * first: the run's first chunk (records the origin). It
 * returns once queued; a's host buffers are the device's until
 * cb_module_wait. */
cubie_status cb_module_enqueue(cb_module *m, int blocksize, const cb_launch *a,
                               cb_device_buffers *b, int slot, bool first,
                               cubie_error *err);
/* Wait for slot's chunk; where its work lay (CUDA events). A kernel's
 * fault surfaces here. */
cubie_status cb_module_wait(cb_module *m, cb_device_buffers *b, int slot,
                            cb_chunk_times *t, cubie_error *err);

#endif
