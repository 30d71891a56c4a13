/* The emulated CUDA driver's controls, for tests that run under it.
 *
 * libcubie-fakecuda.so (soname libcuda.so.1) built from fake_cuda.c is a
 * CUDA driver that runs on the CPU: it answers the driver calls
 * runtime/driver.c makes, keeps "device" memory in guarded host allocations,
 * and launches a module by compiling the CUDA source NVRTC was given for
 * it as C++, with blockIdx, threadIdx, dynamic shared memory and the
 * __f*_rn intrinsics mapped onto the CPU, and running cubie_kernel itself
 * for every thread of the grid (and cubie_store4 / cubie_store8, which
 * turn the outputs into the caller's layout). It checks what a real driver or device
 * would refuse or corrupt: calls without a current context, copies outside
 * an allocation, writes past one, a launch whose dynamic shared memory is
 * under what its block needs (CB_SHARED_STRIDE etc. in the source) or over
 * the limit its function allows, a thread that writes shared memory
 * outside its own slice, a block over the function's thread limit, a grid
 * that does not cover the runs or launches empty blocks, memory freed
 * while queued work still uses it. Work queued on a stream (copies,
 * launches, event records) runs in order, but only when the host waits
 * for it, as late as a device could: host code that touches a staging
 * buffer or a result before its stream has been waited for reads or
 * writes the wrong data, and the results show it.
 *
 * It is loaded with LD_PRELOAD, so that it also sees nvrtcCreateProgram /
 * nvrtcGetCUBIN and can remember which source each image came from (kept
 * on disk under $CUBIE_CACHE_DIR/fake-cuda, so cached images resolve too).
 * Tests reach the controls below with dlsym(RTLD_DEFAULT, name).
 * $CUBIE_FAKE_CUDA_CFLAGS adds compiler flags for the modules
 * (-ffp-contract=off: a device that rounds otherwise than the host);
 * $CUBIE_FAKE_CUDA_BRANCH=host runs the source's host branch instead. */
#ifndef CUBIE_FAKE_CUDA_H
#define CUBIE_FAKE_CUDA_H

#include <stddef.h>

typedef struct {
    long launches;           /* kernels launched */
    long live_allocations;   /* cuMemAlloc without cuMemFree */
    long live_modules;       /* cuModuleLoadData without cuModuleUnload */
    long violations;         /* faults found; see last_violation */
    long failures_injected;
    unsigned last_grid, last_block;
    size_t last_shared;      /* dynamic shared bytes of the last launch */
    size_t peak_bytes;       /* most device memory held at once */
    int max_dynamic_shared;  /* the last function attribute set */
    char last_violation[256];
    long constant_copies;    /* copies into a module's __constant__ global */
    long live_streams;       /* cuStreamCreate without cuStreamDestroy */
    long live_events;        /* cuEventCreate without cuEventDestroy */
    long async_ops;          /* copies, launches, records queued on streams */
    long max_queued_launches; /* the most launches queued at once */
    long store_launches;     /* cubie_store4 / cubie_store8 run */
} cubie_fake_cuda_stats;

/* The exported controls, by name and type:
 * "cubie_fake_cuda_stats_get": copy the counters out. */
typedef void (*cubie_fake_cuda_stats_fn)(cubie_fake_cuda_stats *out);
/* "cubie_fake_cuda_fail": fail the nth call (1 = the next) of the driver
 * entry named sym (its exported name, e.g. "cuMemAlloc_v2") with code;
 * sym NULL clears. */
typedef void (*cubie_fake_cuda_fail_fn)(const char *sym, int nth, int code);
/* "cubie_fake_cuda_config": device memory the emulated device reports
 * free (0: 80 GiB; also $CUBIE_FAKE_CUDA_FREE at cuInit), and the
 * per-block thread limit of every function (0: 1024); restarts
 * peak_bytes and max_queued_launches. */
typedef void (*cubie_fake_cuda_config_fn)(size_t free_bytes,
                                          int max_threads);
/* "cubie_fake_cuda_arch": the compute capability reported (0: 9.0). */
typedef void (*cubie_fake_cuda_arch_fn)(int major, int minor);

#endif
