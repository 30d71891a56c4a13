/* The CUDA driver, devices, modules and launches (see driver.h). The
 * driver API comes through dlopen and the _v2 symbol names. */
#include "driver.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "util.h"

#ifdef CUBIE_HAVE_NVRTC
#include <cuda.h>

/* The driver calls cubie makes: X(field, exported symbol, parameters).
 * The symbols are the versioned names cuda.h maps the API names to. */
#define CB_DRIVER_FUNCS(X) \
    X(cuInit, "cuInit", (unsigned)) \
    X(cuDriverGetVersion, "cuDriverGetVersion", (int *)) \
    X(cuDeviceGetCount, "cuDeviceGetCount", (int *)) \
    X(cuDeviceGet, "cuDeviceGet", (CUdevice *, int)) \
    X(cuDeviceGetName, "cuDeviceGetName", (char *, int, CUdevice)) \
    X(cuDeviceGetAttribute, "cuDeviceGetAttribute", (int *, CUdevice_attribute, CUdevice)) \
    X(cuDeviceTotalMem, "cuDeviceTotalMem_v2", (size_t *, CUdevice)) \
    X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", (CUcontext *, CUdevice)) \
    X(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", (CUdevice)) \
    X(cuCtxSetCurrent, "cuCtxSetCurrent", (CUcontext)) \
    X(cuCtxSynchronize, "cuCtxSynchronize", (void)) \
    X(cuModuleLoadData, "cuModuleLoadData", (CUmodule *, const void *)) \
    X(cuModuleUnload, "cuModuleUnload", (CUmodule)) \
    X(cuModuleGetFunction, "cuModuleGetFunction", (CUfunction *, CUmodule, const char *)) \
    X(cuModuleGetGlobal, "cuModuleGetGlobal_v2", (CUdeviceptr *, size_t *, CUmodule, const char *)) \
    X(cuFuncSetAttribute, "cuFuncSetAttribute", (CUfunction, CUfunction_attribute, int)) \
    X(cuFuncGetAttribute, "cuFuncGetAttribute", (int *, CUfunction_attribute, CUfunction)) \
    X(cuLaunchKernel, "cuLaunchKernel", (CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, void **, void **)) \
    X(cuMemAlloc, "cuMemAlloc_v2", (CUdeviceptr *, size_t)) \
    X(cuMemFree, "cuMemFree_v2", (CUdeviceptr)) \
    X(cuMemHostAlloc, "cuMemHostAlloc", (void **, size_t, unsigned)) \
    X(cuMemFreeHost, "cuMemFreeHost", (void *)) \
    X(cuMemcpyHtoD, "cuMemcpyHtoD_v2", (CUdeviceptr, const void *, size_t)) \
    X(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", (CUdeviceptr, const void *, size_t, CUstream)) \
    X(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", (void *, CUdeviceptr, size_t, CUstream)) \
    X(cuStreamCreate, "cuStreamCreate", (CUstream *, unsigned)) \
    X(cuStreamSynchronize, "cuStreamSynchronize", (CUstream)) \
    X(cuStreamDestroy, "cuStreamDestroy_v2", (CUstream)) \
    X(cuMemGetInfo, "cuMemGetInfo_v2", (size_t *, size_t *)) \
    X(cuEventCreate, "cuEventCreate", (CUevent *, unsigned)) \
    X(cuEventRecord, "cuEventRecord", (CUevent, CUstream)) \
    X(cuEventSynchronize, "cuEventSynchronize", (CUevent)) \
    X(cuEventElapsedTime, "cuEventElapsedTime_v2", (float *, CUevent, CUevent)) \
    X(cuEventDestroy, "cuEventDestroy_v2", (CUevent)) \
    X(cuGetErrorString, "cuGetErrorString", (CUresult, const char **)) \
    X(cuOccupancyMaxActiveBlocksPerMultiprocessor, \
      "cuOccupancyMaxActiveBlocksPerMultiprocessor", \
      (int *, CUfunction, int, size_t))

/* The loaded driver: written once (pthread_once), read-only after. */
typedef struct {
    void *lib;
#define CB_X(field, sym, args) CUresult (*field) args;
    CB_DRIVER_FUNCS(CB_X)
#undef CB_X
    bool ready;
    char why[512];
    int count;
} cb_driver;

static cb_driver drv;
static pthread_once_t drv_once = PTHREAD_ONCE_INIT;

static const char *cu_message(CUresult r)
{
    const char *s = NULL;
    if (drv.cuGetErrorString == NULL || drv.cuGetErrorString(r, &s) != 0 ||
        s == NULL) {
        return r == 34 ? "CUDA_ERROR_STUB_LIBRARY (the stub libcuda, no "
                         "real driver)"
                       : "unknown CUDA error";
    }
    return s;
}

static void driver_init(void)
{
    drv.lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (drv.lib == NULL) {
        snprintf(drv.why, sizeof(drv.why), "no CUDA driver (%s)", dlerror());
        return;
    }
#define CB_X(field, sym, args)                                              \
    *(void **)&drv.field = dlsym(drv.lib, sym);                             \
    if (drv.field == NULL && strcmp(sym, "cuEventElapsedTime_v2") == 0) {   \
        /* Drivers before CUDA 12.8 export only the unversioned name. */    \
        *(void **)&drv.field = dlsym(drv.lib, "cuEventElapsedTime");        \
    }                                                                       \
    if (drv.field == NULL) {                                                \
        snprintf(drv.why, sizeof(drv.why),                                  \
                 "the CUDA driver lacks %s (too old?)", sym);               \
        return;                                                             \
    }
    CB_DRIVER_FUNCS(CB_X)
#undef CB_X
    CUresult r = drv.cuInit(0);
    if (r != CUDA_SUCCESS) {
        snprintf(drv.why, sizeof(drv.why), "cuInit failed: %s (%d)",
                 cu_message(r), (int)r);
        return;
    }
    r = drv.cuDeviceGetCount(&drv.count);
    if (r != CUDA_SUCCESS || drv.count == 0) {
        snprintf(drv.why, sizeof(drv.why), "no CUDA device (%s)",
                 r != CUDA_SUCCESS ? cu_message(r) : "count is 0");
        return;
    }
    drv.ready = true;
}

bool cb_cuda_usable(char *why, size_t n)
{
    pthread_once(&drv_once, driver_init);
    if (!drv.ready && why != NULL) {
        snprintf(why, n, "%s", drv.why);
    }
    return drv.ready;
}

/* A driver call's result: on failure, which call and why. */
static cubie_status cu_check(CUresult r, const char *call, cubie_error *err)
{
    if (r == CUDA_SUCCESS) {
        return CUBIE_OK;
    }
    return cb_fail(err, CUBIE_E_BACKEND, NULL, 0, "%s failed: %s (%d)", call,
                   cu_message(r), (int)r);
}

/* Return from the caller on a failed call. */
#define CU_TRY(call) CB_TRY(cu_check(drv.call, #call, err))

cubie_status cb_cuda_describe(char *out, size_t n, cubie_error *err)
{
    char why[512];
    if (!cb_cuda_usable(why, sizeof(why))) {
        return cb_fail(err, CUBIE_E_BACKEND, NULL, 0, "%s", why);
    }
    int count = 0, version = 0;
    CU_TRY(cuDeviceGetCount(&count));
    CU_TRY(cuDriverGetVersion(&version));
    size_t used = (size_t)snprintf(out, n, "driver %d.%d, %d device%s\n",
                                   version / 1000, (version % 1000) / 10,
                                   count, count == 1 ? "" : "s");
    for (int i = 0; i < count && used < n; i++) {
        CUdevice d;
        char name[256];
        int major = 0, minor = 0, sms = 0;
        size_t mem = 0;
        CU_TRY(cuDeviceGet(&d, i));
        CU_TRY(cuDeviceGetName(name, sizeof(name), d));
        CU_TRY(cuDeviceGetAttribute(
            &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d));
        CU_TRY(cuDeviceGetAttribute(
            &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d));
        CU_TRY(cuDeviceGetAttribute(
            &sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d));
        CU_TRY(cuDeviceTotalMem(&mem, d));
        used += (size_t)snprintf(out + used, n - used,
                                 "device %d: %s, sm_%d%d, %d SMs, %.1f GiB\n",
                                 i, name, major, minor, sms,
                                 (double)mem / (1024.0 * 1024.0 * 1024.0));
    }
    return CUBIE_OK;
}

/* ---- devices ---------------------------------------------------------- */

struct cb_device {
    int index;
    CUdevice dev;
    CUcontext ctx;          /* the primary context, retained */
    int major, minor;
    int max_shared;         /* opt-in dynamic shared bytes per block */
    int max_threads_per_sm;
};

cubie_status cb_device_open(int index, cb_device **out, cubie_error *err)
{
    *out = NULL;
    char why[512];
    if (!cb_cuda_usable(why, sizeof(why))) {
        return cb_fail(err, CUBIE_E_BACKEND, "backend", 0,
                       "backend=cuda: %s", why);
    }
    if (index < 0 || index >= drv.count) {
        return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                       "no CUDA device %d (there are %d)", index, drv.count);
    }
    cb_device *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return cb_fail_nomem(err);
    }
    d->index = index;
    CUresult r = drv.cuDeviceGet(&d->dev, index);
    if (r == CUDA_SUCCESS) {
        r = drv.cuDevicePrimaryCtxRetain(&d->ctx, d->dev);
    }
    if (r != CUDA_SUCCESS) {
        free(d);
        return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                       "cannot open device %d: %s", index, cu_message(r));
    }
    cubie_status st = CUBIE_OK;
    const struct {
        int *into;
        CUdevice_attribute a;
    } attrs[] = {
        {&d->major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR},
        {&d->minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR},
        {&d->max_shared,
         CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN},
        {&d->max_threads_per_sm,
         CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR},
    };
    for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        r = drv.cuDeviceGetAttribute(attrs[i].into, attrs[i].a, d->dev);
        if (r != CUDA_SUCCESS) {
            st = cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                         "cuDeviceGetAttribute(%d) failed: %s (%d)",
                         (int)attrs[i].a, cu_message(r), (int)r);
            break;
        }
    }
    if (st != CUBIE_OK) {
        cb_device_close(d);
        return st;
    }
    *out = d;
    return CUBIE_OK;
}

void cb_device_close(cb_device *d)
{
    if (d == NULL) {
        return;
    }
    drv.cuDevicePrimaryCtxRelease(d->dev);
    free(d);
}

int cb_device_arch(const cb_device *d)
{
    return d->major * 10 + d->minor;
}

int cb_device_max_shared(const cb_device *d)
{
    return d->max_shared;
}

size_t cb_device_free_memory(cb_device *d)
{
    size_t free_b = 0, total = 0;
    if (d != NULL && drv.cuCtxSetCurrent(d->ctx) == CUDA_SUCCESS &&
        drv.cuMemGetInfo(&free_b, &total) == CUDA_SUCCESS) {
        return free_b;
    }
    return 0;
}

/* ---- modules ------------------------------------------------------------ */

struct cb_module {
    cb_device *dev;          /* borrowed */
    CUmodule module;
    CUfunction fn;
    CUfunction store[2];     /* cubie_store4, cubie_store8 */
    size_t shared_per_run;   /* bytes of dynamic shared memory per run */
    int max_threads;         /* per block, given the kernel's registers */
    CUdeviceptr drivers_const; /* its __constant__ cb_driver_const, or 0 */
    size_t drivers_const_bytes;
};

cubie_status cb_module_load(cb_device *d, const void *image,
                            size_t shared_bytes_per_run, cb_module **out,
                            cubie_error *err)
{
    *out = NULL;
    CU_TRY(cuCtxSetCurrent(d->ctx));
    cb_module *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return cb_fail_nomem(err);
    }
    m->dev = d;
    CUresult r = drv.cuModuleLoadData(&m->module, image);
    if (r != CUDA_SUCCESS) {
        free(m);
        return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                       "cuModuleLoadData failed: %s (%d)", cu_message(r),
                       (int)r);
    }
    r = drv.cuModuleGetFunction(&m->fn, m->module, "cubie_kernel");
    if (r != CUDA_SUCCESS) {
        drv.cuModuleUnload(m->module);
        free(m);
        return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                       "cuModuleGetFunction(cubie_kernel) failed: %s",
                       cu_message(r));
    }
    static const char *const store[2] = {"cubie_store4", "cubie_store8"};
    for (int i = 0; i < 2; i++) {
        r = drv.cuModuleGetFunction(&m->store[i], m->module, store[i]);
        if (r != CUDA_SUCCESS) {
            drv.cuModuleUnload(m->module);
            free(m);
            return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                           "cuModuleGetFunction(%s) failed: %s", store[i],
                           cu_message(r));
        }
    }
    /* A driven kernel's constant memory for the drivers' coefficients;
     * a kernel without drivers has none (not found). */
    if (drv.cuModuleGetGlobal(&m->drivers_const, &m->drivers_const_bytes,
                              m->module, "cb_driver_const") != CUDA_SUCCESS) {
        m->drivers_const = 0;
        m->drivers_const_bytes = 0;
    }
    m->shared_per_run = shared_bytes_per_run;
    m->max_threads = 1024;
    r = drv.cuFuncGetAttribute(&m->max_threads,
                               CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
                               m->fn);
    if (r != CUDA_SUCCESS || m->max_threads <= 0) {
        m->max_threads = 1024;
    }
    if (d->max_shared > 48 * 1024) {
        /* Opt in once to the device's limit, so launches and occupancy
         * queries may use more than the 48 KiB default. */
        r = drv.cuFuncSetAttribute(
            m->fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            d->max_shared);
        if (r != CUDA_SUCCESS) {
            drv.cuModuleUnload(m->module);
            free(m);
            return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                           "cuFuncSetAttribute(max dynamic shared = %d) "
                           "failed: %s", d->max_shared, cu_message(r));
        }
    }
    *out = m;
    return CUBIE_OK;
}

void cb_module_unload(cb_module *m)
{
    if (m == NULL) {
        return;
    }
    /* The caller's thread may not have the context current. */
    drv.cuCtxSetCurrent(m->dev->ctx);
    drv.cuModuleUnload(m->module);
    free(m);
}

cubie_status cb_module_occupancy(cb_module *m, int blocksize,
                                 int *blocks_per_sm, int *max_threads_per_sm,
                                 cubie_error *err)
{
    CU_TRY(cuCtxSetCurrent(m->dev->ctx));
    CU_TRY(cuOccupancyMaxActiveBlocksPerMultiprocessor(
        blocks_per_sm, m->fn, blocksize,
        (size_t)blocksize * m->shared_per_run));
    *max_threads_per_sm = m->dev->max_threads_per_sm;
    return CUBIE_OK;
}

/* ---- launches ----------------------------------------------------------- */

/* Staging k of a slot back to the driver (page-locked) or the heap. */
static void free_staging(cb_device_slot *b, int k)
{
    if (b->host_pinned[k]) {
        drv.cuMemFreeHost(b->host[k]);
    } else {
        free(b->host[k]);
    }
    b->host[k] = NULL;
    b->host_cap[k] = 0;
    b->host_pinned[k] = false;
}

void cb_device_buffers_free(cb_module *m, cb_device_buffers *b)
{
    if (m != NULL) {
        drv.cuCtxSetCurrent(m->dev->ctx);
    }
    for (int i = 0; i < CB_STREAMS; i++) {
        cb_device_slot *sl = &b->slot[i];
        /* Nothing is freed under queued work (a failed run may leave
         * some); its errors were reported where they arose. */
        if (sl->stream != NULL) {
            drv.cuStreamSynchronize((CUstream)sl->stream);
            drv.cuStreamDestroy((CUstream)sl->stream);
        }
        for (int e = 0; e < CB_EV_COUNT; e++) {
            if (sl->event[e] != NULL) {
                drv.cuEventDestroy((CUevent)sl->event[e]);
            }
        }
        for (int k = 0; k < CB_KARG_COUNT; k++) {
            if (sl->ptr[k] != 0) {
                drv.cuMemFree((CUdeviceptr)sl->ptr[k]);
            }
            free_staging(sl, k);
        }
        if (sl->scratch != 0) {
            drv.cuMemFree((CUdeviceptr)sl->scratch);
        }
    }
    if (b->origin != NULL) {
        drv.cuEventDestroy((CUevent)b->origin);
    }
    memset(b, 0, sizeof(*b));
}

cubie_status cb_module_staging(cb_module *m, cb_device_buffers *b, int slot,
                               int k, size_t bytes, void **out,
                               cubie_error *err)
{
    cb_device_slot *sl = &b->slot[slot];
    *out = NULL;
    if (sl->host[k] != NULL && sl->host_cap[k] >= bytes) {
        *out = sl->host[k];
        return CUBIE_OK;
    }
    CU_TRY(cuCtxSetCurrent(m->dev->ctx));
    free_staging(sl, k);
    /* Page-locked memory is an optimisation the system may refuse (its
     * limit on locked memory): then ordinary memory, copied more slowly
     * and without overlap. */
    void *p = NULL;
    sl->host_pinned[k] = drv.cuMemHostAlloc(&p, bytes, 0) == CUDA_SUCCESS;
    if (!sl->host_pinned[k]) {
        p = cb_big_alloc(bytes);
        if (p == NULL) {
            return cb_fail_nomem(err);
        }
    }
    sl->host[k] = p;
    sl->host_cap[k] = bytes;
    *out = p;
    return CUBIE_OK;
}

/* Whether output k of a comes back through cubie_store: more than one
 * element a run, of more than one run (else both layouts are one). */
static bool restored(const cb_launch *a, int k)
{
    return cb_kargs[k].dir == CB_DIR_OUT && a->bytes[k] > 0 &&
           a->per_run[k] > 1 && a->scalar[CB_KARG_N_RUNS] > 1;
}

/* A device buffer of at least need bytes at *ptr (*cap bytes), grown by
 * freeing and allocating (nothing queued uses it). */
static cubie_status ensure_buffer(unsigned long long *ptr, size_t *cap,
                                  size_t need, cubie_error *err)
{
    if (*ptr != 0 && *cap >= need) {
        return CUBIE_OK;
    }
    if (*ptr != 0) {
        drv.cuMemFree((CUdeviceptr)*ptr);
        *ptr = 0;
        *cap = 0;
    }
    CUdeviceptr p = 0;
    CUresult r = drv.cuMemAlloc(&p, need);
    if (r != CUDA_SUCCESS) {
        return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                       "cuMemAlloc(%zu bytes) failed: %s (%d)", need,
                       cu_message(r), (int)r);
    }
    *ptr = (unsigned long long)p;
    *cap = need;
    return CUBIE_OK;
}

/* Make every buffer of slot hold at least the chunk's bytes (4 at least:
 * an array the kernel does not write is still a valid pointer), its
 * scratch the largest output that comes back through cubie_store, and
 * its stream and events exist. */
static cubie_status ensure_slot(const cb_launch *a, cb_device_buffers *b,
                                cb_device_slot *sl, cubie_error *err)
{
    if (sl->stream == NULL) {
        CUstream st = NULL;
        CU_TRY(cuStreamCreate(&st, CU_STREAM_NON_BLOCKING));
        sl->stream = st;
    }
    for (int e = 0; e < CB_EV_COUNT; e++) {
        if (sl->event[e] == NULL) {
            CUevent ev = NULL;
            CU_TRY(cuEventCreate(&ev, CU_EVENT_DEFAULT));
            sl->event[e] = ev;
        }
    }
    if (b->origin == NULL) {
        CUevent ev = NULL;
        CU_TRY(cuEventCreate(&ev, CU_EVENT_DEFAULT));
        b->origin = ev;
    }
    size_t scratch = 0;
    for (int k = 0; k < CB_KARG_COUNT; k++) {
        if (cb_kargs[k].dir == CB_DIR_SCALAR) {
            continue;
        }
        CB_TRY(ensure_buffer(&sl->ptr[k], &sl->cap[k],
                             a->bytes[k] > 0 ? a->bytes[k] : 4, err));
        if (restored(a, k) && a->bytes[k] > scratch) {
            scratch = a->bytes[k];
        }
    }
    return scratch > 0
               ? ensure_buffer(&sl->scratch, &sl->scratch_cap, scratch, err)
               : CUBIE_OK;
}

/* Queue output k of a on q: through cubie_store into scratch, then back
 * (stream order keeps the scratch of one array until its copy is done),
 * or back as it is. */
static cubie_status queue_back(const cb_module *m, const cb_launch *a, int k,
                               CUdeviceptr src, CUdeviceptr scratch,
                               CUstream q, cubie_error *err)
{
    if (restored(a, k)) {
        long long runs = a->scalar[CB_KARG_N_RUNS];
        long long per_run = (long long)a->per_run[k];
        const size_t elem = a->bytes[k] / ((size_t)runs * (size_t)per_run);
        CUdeviceptr dst = scratch;
        void *args[4] = {&src, &dst, &runs, &per_run};
        const long long n = runs * per_run;
        CU_TRY(cuLaunchKernel(m->store[elem == 8],
                              (unsigned)((n + CB_STORE_BLOCK - 1) /
                                         CB_STORE_BLOCK),
                              1, 1, CB_STORE_BLOCK, 1, 1, 0, q, args, NULL));
        src = scratch;
    }
    CU_TRY(cuMemcpyDtoHAsync(a->host[k], src, a->bytes[k], q));
    return CUBIE_OK;
}

/* The block: blocksize, at most the function's thread limit (registers),
 * halved while its shared memory passes the device's opt-in limit. */
static cubie_status block_size(const cb_module *m, int blocksize, int *bs,
                               cubie_error *err)
{
    int b = blocksize > 0 ? blocksize : 256;
    if (b > m->max_threads) {
        b = m->max_threads;
    }
    const size_t limit = (size_t)m->dev->max_shared;
    while (b > 1 && (size_t)b * m->shared_per_run > limit) {
        b /= 2;
    }
    if ((size_t)b * m->shared_per_run > limit) {
        return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                       "%d runs of %zu shared bytes exceed the device's %d",
                       b, m->shared_per_run, m->dev->max_shared);
    }
    *bs = b;
    return CUBIE_OK;
}

cubie_status cb_module_enqueue(cb_module *m, int blocksize, const cb_launch *a,
                               cb_device_buffers *b, int slot, bool first,
                               cubie_error *err)
{
    CU_TRY(cuCtxSetCurrent(m->dev->ctx));
    int bs = 0;
    CB_TRY(block_size(m, blocksize, &bs, err));
    cb_device_slot *sl = &b->slot[slot];
    CB_TRY(ensure_slot(a, b, sl, err));
    const CUstream q = (CUstream)sl->stream;
    CUevent *ev = (CUevent *)sl->event;
    void *args[CB_KARG_COUNT];
    CUdeviceptr d[CB_KARG_COUNT];
    int scalar[CB_KARG_COUNT];
    if (first) {
        CU_TRY(cuEventRecord((CUevent)b->origin, q));
    }
    CU_TRY(cuEventRecord(ev[CB_EV_IN], q));
    for (int k = 0; k < CB_KARG_COUNT; k++) {
        d[k] = (CUdeviceptr)sl->ptr[k];
        scalar[k] = a->scalar[k];
        args[k] = cb_kargs[k].dir == CB_DIR_SCALAR ? (void *)&scalar[k]
                                                   : (void *)&d[k];
        /* Inputs in (the kernel writes every element of every output,
         * the rows a failed run never reaches included). */
        const bool in = cb_kargs[k].dir == CB_DIR_IN;
        if (in && a->bytes[k] > 0 && a->host[k] != NULL) {
            CU_TRY(cuMemcpyHtoDAsync(d[k], a->host[k], a->bytes[k], q));
        }
    }
    const int n_runs = a->scalar[CB_KARG_N_RUNS];
    const unsigned grid = (unsigned)((n_runs + bs - 1) / bs);
    const size_t shared = (size_t)bs * m->shared_per_run;
    CU_TRY(cuEventRecord(ev[CB_EV_KERNEL], q));
    CU_TRY(cuLaunchKernel(m->fn, grid, 1, 1, (unsigned)bs, 1, 1,
                          (unsigned)shared, q, args, NULL));
    CU_TRY(cuEventRecord(ev[CB_EV_KERNEL_END], q));
    for (int k = 0; k < CB_KARG_COUNT; k++) {
        if (cb_kargs[k].dir == CB_DIR_OUT && a->bytes[k] > 0) {
            CB_TRY(queue_back(m, a, k, d[k], (CUdeviceptr)sl->scratch, q,
                              err));
        }
    }
    CU_TRY(cuEventRecord(ev[CB_EV_OUT_END], q));
    return CUBIE_OK;
}

cubie_status cb_module_wait(cb_module *m, cb_device_buffers *b, int slot,
                            cb_chunk_times *t, cubie_error *err)
{
    cb_device_slot *sl = &b->slot[slot];
    CUevent *ev = (CUevent *)sl->event;
    CU_TRY(cuCtxSetCurrent(m->dev->ctx));
    CU_TRY(cuEventSynchronize(ev[CB_EV_OUT_END]));
    /* The origin is on the first chunk's stream, before it: done too. */
    CU_TRY(cuEventSynchronize((CUevent)b->origin));
    double *at[CB_EV_COUNT] = {&t->in0, &t->k0, &t->k1, &t->out1};
    for (int e = 0; e < CB_EV_COUNT; e++) {
        float f = 0.0f;
        CU_TRY(cuEventElapsedTime(&f, (CUevent)b->origin, ev[e]));
        *at[e] = f;
    }
    return CUBIE_OK;
}

cubie_status cb_module_drivers_constant(cb_module *m, const void *coeffs,
                                        size_t bytes, bool *used,
                                        cubie_error *err)
{
    *used = false;
    if (m == NULL || m->drivers_const == 0 || bytes > m->drivers_const_bytes) {
        return CUBIE_OK;
    }
    CU_TRY(cuCtxSetCurrent(m->dev->ctx));
    CU_TRY(cuMemcpyHtoD(m->drivers_const, coeffs, bytes));
    /* The copy runs on the legacy stream, which the chunks' non-blocking
     * streams do not wait for, and from pageable memory it may return
     * before the transfer is done: finish it before any launch. */
    CU_TRY(cuCtxSynchronize());
    *used = true;
    return CUBIE_OK;
}

#else
bool cb_cuda_usable(char *why, size_t n)
{
    snprintf(why, n, "cubie was built without the CUDA toolkit");
    return false;
}

static cubie_status no_toolkit(cubie_error *err)
{
    return cb_fail(err, CUBIE_E_BACKEND, "backend", 0,
                   "backend=cuda: cubie was built without the CUDA toolkit");
}

cubie_status cb_cuda_describe(char *out, size_t n, cubie_error *err)
{
    (void)out, (void)n;
    return no_toolkit(err);
}

cubie_status cb_device_open(int index, cb_device **out, cubie_error *err)
{
    (void)index;
    *out = NULL;
    return no_toolkit(err);
}

void cb_device_close(cb_device *d)
{
    (void)d;
}

int cb_device_arch(const cb_device *d)
{
    (void)d;
    return 0;
}

int cb_device_max_shared(const cb_device *d)
{
    (void)d;
    return 0;
}

size_t cb_device_free_memory(cb_device *d)
{
    (void)d;
    return 0;
}

cubie_status cb_module_load(cb_device *d, const void *image,
                            size_t shared_bytes_per_run, cb_module **out,
                            cubie_error *err)
{
    (void)d, (void)image, (void)shared_bytes_per_run;
    *out = NULL;
    return no_toolkit(err);
}

void cb_module_unload(cb_module *m)
{
    (void)m;
}

cubie_status cb_module_occupancy(cb_module *m, int blocksize,
                                 int *blocks_per_sm, int *max_threads_per_sm,
                                 cubie_error *err)
{
    (void)m, (void)blocksize, (void)blocks_per_sm, (void)max_threads_per_sm;
    return no_toolkit(err);
}

void cb_device_buffers_free(cb_module *m, cb_device_buffers *b)
{
    (void)m;
    memset(b, 0, sizeof(*b));
}

cubie_status cb_module_staging(cb_module *m, cb_device_buffers *b, int slot,
                               int k, size_t bytes, void **out,
                               cubie_error *err)
{
    (void)m, (void)b, (void)slot, (void)k, (void)bytes;
    *out = NULL;
    return no_toolkit(err);
}

cubie_status cb_module_drivers_constant(cb_module *m, const void *coeffs,
                                        size_t bytes, bool *used,
                                        cubie_error *err)
{
    (void)m, (void)coeffs, (void)bytes, (void)err;
    *used = false;
    return CUBIE_OK;
}

cubie_status cb_module_enqueue(cb_module *m, int blocksize, const cb_launch *a,
                               cb_device_buffers *b, int slot, bool first,
                               cubie_error *err)
{
    (void)m, (void)blocksize, (void)a, (void)b, (void)slot, (void)first;
    return no_toolkit(err);
}

cubie_status cb_module_wait(cb_module *m, cb_device_buffers *b, int slot,
                            cb_chunk_times *t, cubie_error *err)
{
    (void)m, (void)b, (void)slot, (void)t;
    return no_toolkit(err);
}

#endif
