/* An emulated CUDA driver (libcuda.so.1) that runs kernels on the CPU, so
 * that the cuda backend's launch path (runtime/driver.c, the chunked run
 * loop of runtime/run.c and the kernel entry of templates/entry.cu) executes
 * end to end in `meson test` on machines without a GPU. What it checks
 * and how tests drive it: fake_cuda.h.
 *
 * It emulates the driver's contract and the kernel's view of a launch, not
 * a GPU's arithmetic: with both built without fused multiply-adds
 * (CC/CXX with -ffp-contract=off, as test_emulated runs), the kernel's
 * results equal the host backend's bit for bit, and a mismatch means the
 * launch path moved, dropped or mis-sized data. The real device still has to be checked on a lent GPU
 * (tests/test_gpu.c, tools/bench/device-check.sh). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cuda.h>
#include <nvrtc.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fake_cuda.h"

/* The kernel's arguments (gen/kernel_args.def): pointers or ints. */
static const struct {
    const char *type; /* as the kernel declares it */
    bool scalar;
} kargs[] = {
#define REAL_IN "const real *"
#define INPUT_IN "const cb_input *"
#define REAL_OUT "real *"
#define INT_IN "const int *"
#define INT_OUT "int *"
#define INT_SCALAR "int"
#define SCALAR_IN false
#define SCALAR_OUT false
#define SCALAR_SCALAR true
#define CB_KARG(id, name, elem, dir, rows, result, column) \
    {elem##_##dir, SCALAR_##dir},
#include "kernel_args.def"
#undef CB_KARG
#undef REAL_IN
#undef INPUT_IN
#undef REAL_OUT
#undef INT_IN
#undef INT_OUT
#undef INT_SCALAR
#undef SCALAR_IN
#undef SCALAR_OUT
#undef SCALAR_SCALAR
};
enum { N_KARGS = sizeof(kargs) / sizeof(kargs[0]) };
/* The position of n_runs among them. */
static int karg_n_runs(void)
{
    int i = 0;
#define CB_KARG(id, name, elem, dir, rows, result, column) \
    if (strcmp(#name, "n_runs") == 0) {                   \
        return i;                                         \
    }                                                     \
    i++;
#include "kernel_args.def"
#undef CB_KARG
    return -1;
}

/* The project builds with -fvisibility=hidden; a driver exports. */
#pragma GCC visibility push(default)

/* What the emulated device reports: an H100-like sm_90. */
enum {
    DEV_CC_MAJOR = 9,
    DEV_CC_MINOR = 0,
    DEV_SMS = 132,
    DEV_SHARED_OPTIN = 232448,  /* per block, after opting in */
    DEV_SHARED_PER_SM = 233472,
    DEV_THREADS_PER_SM = 2048,
    DEFAULT_DYNAMIC_SHARED = 48 * 1024,
    GUARD = 64,                 /* bytes checked after each allocation */
};
static const size_t DEV_TOTAL = (size_t)80 << 30;

typedef struct alloc {
    unsigned char *base;
    size_t size;
    struct alloc *next;
} alloc;

typedef void (*host_run_fn)(void *const *args);

/* The device branch's launcher (device_shim below): 0, or 1 with why. */
typedef int (*device_launch_fn)(unsigned grid, unsigned block, size_t shared,
                                void **params, char *why, size_t why_n);

/* The device branch's cubie_store4 (wide 0) or cubie_store8 (wide 1)
 * for every thread of the grid (device_shim below). */
typedef void (*device_store_fn)(int wide, unsigned grid, void **params);

/* The functions of a module: cubie_kernel and the two stores. */
enum { FN_KERNEL, FN_STORE4, FN_STORE8, FN_COUNT };
typedef struct module module;
typedef struct {
    int magic;
    int which; /* FN_* */
    module *m;
} function;

struct module {
    void *so;
    host_run_fn run;          /* host branch, or NULL */
    device_launch_fn launch;  /* device branch, or NULL */
    device_store_fn store;    /* device branch, or NULL */
    function fn[FN_COUNT];
    size_t shared_per_run; /* CB_SHARED_STRIDE reals + CB_SHARED_I_STRIDE ints */
    size_t const_bytes;    /* its cb_driver_const (CB_DRIVER_CONST_CAP reals) */
    unsigned char *const_base; /* where cuModuleGetGlobal found it, or NULL */
    int max_dynamic_shared;
    unsigned store_block; /* the source's CB_STORE_BLOCK */
    int magic;
};

/* The __constant__ globals modules handed out (cuModuleGetGlobal): device
 * memory a copy may address besides the allocations. Under the lock. */
enum { MAX_GLOBALS = 64 };
static struct {
    unsigned char *base;
    size_t size;
} globals[MAX_GLOBALS];

typedef struct stream_t stream_t;

typedef struct {
    double t;
    bool recorded;   /* it has happened: t is its time */
    stream_t *queued; /* recorded on a stream, not yet reached */
} event;

static bool queued_use(const unsigned char *base, size_t size, bool device);
static long queued_launches; /* under the lock */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static cubie_fake_cuda_stats stats;
static alloc *allocs;
static size_t held;
static size_t cfg_free;
static int cfg_max_threads;
static int cfg_cc_major = DEV_CC_MAJOR, cfg_cc_minor = DEV_CC_MINOR;
static char fail_sym[64];
static int fail_nth, fail_code;
static bool inited;
static CUresult sticky; /* a fault poisons the context, as on a device */
static int primary_ctx;
static __thread CUcontext current;

static void violation(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(stats.last_violation, sizeof(stats.last_violation), fmt, ap);
    va_end(ap);
    stats.violations++;
    fprintf(stderr, "fake cuda: %s\n", stats.last_violation);
}

/* violation() for callers that do not hold the lock. */
#define violation_unlocked(...)                                            \
    do {                                                                   \
        pthread_mutex_lock(&lock);                                         \
        violation(__VA_ARGS__);                                            \
        pthread_mutex_unlock(&lock);                                       \
    } while (0)

/* The common prologue: injected failures, initialisation, context. */
static CUresult enter(const char *sym, bool needs_ctx)
{
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&lock);
    if (fail_sym[0] != '\0' && strcmp(fail_sym, sym) == 0 && --fail_nth == 0) {
        fail_sym[0] = '\0';
        stats.failures_injected++;
        r = (CUresult)fail_code;
    } else if (!inited && strcmp(sym, "cuInit") != 0) {
        r = CUDA_ERROR_NOT_INITIALIZED;
    } else if (needs_ctx && current == NULL) {
        violation("%s called with no current context", sym);
        r = CUDA_ERROR_INVALID_CONTEXT;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

#define ENTER(sym, needs_ctx)                                              \
    do {                                                                   \
        CUresult e_ = enter(sym, needs_ctx);                               \
        if (e_ != CUDA_SUCCESS) {                                          \
            return e_;                                                     \
        }                                                                  \
    } while (0)

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* ---- controls ------------------------------------------------------- */

void cubie_fake_cuda_stats_get(cubie_fake_cuda_stats *out)
{
    pthread_mutex_lock(&lock);
    *out = stats;
    pthread_mutex_unlock(&lock);
}

void cubie_fake_cuda_fail(const char *sym, int nth, int code)
{
    pthread_mutex_lock(&lock);
    snprintf(fail_sym, sizeof(fail_sym), "%s", sym ? sym : "");
    fail_nth = nth;
    fail_code = code;
    pthread_mutex_unlock(&lock);
}

void cubie_fake_cuda_arch(int major, int minor)
{
    pthread_mutex_lock(&lock);
    cfg_cc_major = major > 0 ? major : DEV_CC_MAJOR;
    cfg_cc_minor = major > 0 ? minor : DEV_CC_MINOR;
    pthread_mutex_unlock(&lock);
}

void cubie_fake_cuda_config(size_t free_bytes, int max_threads)
{
    pthread_mutex_lock(&lock);
    cfg_free = free_bytes;
    cfg_max_threads = max_threads;
    stats.peak_bytes = held;
    stats.max_queued_launches = queued_launches;
    pthread_mutex_unlock(&lock);
}

/* ---- sources behind images: NVRTC seen through LD_PRELOAD ------------- */

static void hash_hex(const unsigned char *p, size_t n, char out[33])
{
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        h1 = (h1 ^ p[i]) * 0x100000001b3ull;
        h2 = (h2 ^ (unsigned char)(p[i] + 0x3d)) * 0x100000001b3ull;
    }
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h1,
             (unsigned long long)h2);
}

static void store_dir(char *out, size_t n)
{
    const char *c = getenv("CUBIE_CACHE_DIR");
    if (c != NULL && *c) {
        snprintf(out, n, "%s/fake-cuda", c);
    } else {
        snprintf(out, n, "/tmp/cubie-fake-cuda-%d", (int)getuid());
    }
    char part[600];
    snprintf(part, sizeof(part), "%s", out);
    for (char *p = part + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(part, 0755);
            *p = '/';
        }
    }
    mkdir(part, 0755);
}

/* Bytes of an ELF64 image: the furthest end of its headers and sections. */
static size_t elf_size(const unsigned char *p)
{
    if (p[4] != 2) {
        return 0;
    }
    uint64_t shoff, phoff, off, sz;
    uint16_t shentsize, shnum, phentsize, phnum;
    uint32_t type;
    memcpy(&phoff, p + 0x20, 8);
    memcpy(&shoff, p + 0x28, 8);
    memcpy(&phentsize, p + 0x36, 2);
    memcpy(&phnum, p + 0x38, 2);
    memcpy(&shentsize, p + 0x3A, 2);
    memcpy(&shnum, p + 0x3C, 2);
    size_t end = 64;
    if (shoff + (uint64_t)shnum * shentsize > end) {
        end = shoff + (uint64_t)shnum * shentsize;
    }
    if (phoff + (uint64_t)phnum * phentsize > end) {
        end = phoff + (uint64_t)phnum * phentsize;
    }
    for (unsigned i = 0; i < shnum; i++) {
        const unsigned char *sh = p + shoff + (size_t)i * shentsize;
        memcpy(&type, sh + 4, 4);
        memcpy(&off, sh + 0x18, 8);
        memcpy(&sz, sh + 0x20, 8);
        if (type != 8 /* SHT_NOBITS */ && off + sz > end) {
            end = off + sz;
        }
    }
    for (unsigned i = 0; i < phnum; i++) {
        const unsigned char *ph = p + phoff + (size_t)i * phentsize;
        memcpy(&off, ph + 8, 8);
        memcpy(&sz, ph + 0x20, 8);
        if (off + sz > end) {
            end = off + sz;
        }
    }
    return end;
}

static bool image_key(const void *image, char key[33])
{
    const unsigned char *p = image;
    size_t n;
    if (memcmp(p, "\x7f" "ELF", 4) == 0) {
        uint16_t machine;
        memcpy(&machine, p + 18, 2);
        if (machine != 190 /* EM_CUDA */) {
            return false;
        }
        n = elf_size(p);
    } else {
        n = strlen(image); /* PTX */
    }
    if (n == 0) {
        return false;
    }
    hash_hex(p, n, key);
    return true;
}

typedef struct {
    nvrtcProgram prog;
    char *source;
} program;
static program programs[64];

static void remember(const void *image, const char *source)
{
    char key[33], dir[600], path[700], tmp[720];
    if (source == NULL || !image_key(image, key)) {
        return;
    }
    store_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/%s.cu", dir, key);
    if (access(path, R_OK) == 0) {
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (f != NULL) {
        bool ok = fputs(source, f) != EOF;
        if (fclose(f) == 0 && ok) {
            rename(tmp, path);
        }
        unlink(tmp);
    }
}

static const char *program_source(nvrtcProgram prog)
{
    for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
        if (programs[i].prog == prog && prog != NULL) {
            return programs[i].source;
        }
    }
    return NULL;
}

/* The real NVRTC entry, through the object pointer dlsym returns. */
#define REAL(var, name) (*(void **)&(var) = dlsym(RTLD_NEXT, #name))

nvrtcResult nvrtcCreateProgram(nvrtcProgram *prog, const char *src,
                               const char *name, int n_headers,
                               const char *const *headers,
                               const char *const *include_names)
{
    __typeof__(&nvrtcCreateProgram) real;
    REAL(real, nvrtcCreateProgram);
    if (real == NULL) {
        return NVRTC_ERROR_INTERNAL_ERROR;
    }
    nvrtcResult r = real(prog, src, name, n_headers, headers, include_names);
    if (r == NVRTC_SUCCESS) {
        pthread_mutex_lock(&lock);
        size_t i = 0;
        for (; i < sizeof(programs) / sizeof(programs[0]); i++) {
            if (programs[i].prog == NULL) {
                programs[i].prog = *prog;
                programs[i].source = strdup(src);
                break;
            }
        }
        if (i == sizeof(programs) / sizeof(programs[0])) {
            violation("more than %zu NVRTC programs alive: a source not "
                      "remembered", i);
        }
        pthread_mutex_unlock(&lock);
    }
    return r;
}

nvrtcResult nvrtcDestroyProgram(nvrtcProgram *prog)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
        if (prog != NULL && programs[i].prog == *prog) {
            free(programs[i].source);
            programs[i].prog = NULL;
            programs[i].source = NULL;
        }
    }
    pthread_mutex_unlock(&lock);
    __typeof__(&nvrtcDestroyProgram) real;
    REAL(real, nvrtcDestroyProgram);
    return real != NULL ? real(prog) : NVRTC_ERROR_INTERNAL_ERROR;
}

nvrtcResult nvrtcGetCUBIN(nvrtcProgram prog, char *cubin)
{
    __typeof__(&nvrtcGetCUBIN) real;
    REAL(real, nvrtcGetCUBIN);
    nvrtcResult r = real != NULL ? real(prog, cubin)
                                 : NVRTC_ERROR_INTERNAL_ERROR;
    if (r == NVRTC_SUCCESS) {
        pthread_mutex_lock(&lock);
        remember(cubin, program_source(prog));
        pthread_mutex_unlock(&lock);
    }
    return r;
}

nvrtcResult nvrtcGetPTX(nvrtcProgram prog, char *ptx)
{
    __typeof__(&nvrtcGetPTX) real;
    REAL(real, nvrtcGetPTX);
    nvrtcResult r = real != NULL ? real(prog, ptx)
                                 : NVRTC_ERROR_INTERNAL_ERROR;
    if (r == NVRTC_SUCCESS) {
        pthread_mutex_lock(&lock);
        remember(ptx, program_source(prog));
        pthread_mutex_unlock(&lock);
    }
    return r;
}

/* ---- device, context ------------------------------------------------- */

CUresult cuInit(unsigned flags)
{
    ENTER("cuInit", false);
    if (flags != 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    pthread_mutex_lock(&lock);
    inited = true;
    const char *f = getenv("CUBIE_FAKE_CUDA_FREE");
    if (f != NULL && *f) {
        cfg_free = strtoull(f, NULL, 10);
    }
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

/* NVRTC itself opens libcuda.so.1 (that is, this library) and asks for
 * the driver's private tables: there are none here. */
CUresult cuGetExportTable(const void **table, const CUuuid *id)
{
    (void)id;
    if (table != NULL) {
        *table = NULL;
    }
    return CUDA_ERROR_NOT_SUPPORTED;
}

CUresult cuDriverGetVersion(int *v)
{
    ENTER("cuDriverGetVersion", false);
    *v = 13000;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int *n)
{
    ENTER("cuDeviceGetCount", false);
    *n = 1;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *d, int ordinal)
{
    ENTER("cuDeviceGet", false);
    if (ordinal != 0) {
        return CUDA_ERROR_INVALID_DEVICE;
    }
    *d = 0;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice d)
{
    ENTER("cuDeviceGetName", false);
    if (d != 0 || len <= 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    snprintf(name, (size_t)len, "cubie emulated device (host CPU)");
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d)
{
    ENTER("cuDeviceGetAttribute", false);
    if (d != 0) {
        return CUDA_ERROR_INVALID_DEVICE;
    }
    switch (a) {
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = cfg_cc_major; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = cfg_cc_minor; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = DEV_SMS; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
        *v = DEV_SHARED_OPTIN;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR:
        *v = DEV_SHARED_PER_SM;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR:
        *v = DEV_THREADS_PER_SM;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *v = 1024; break;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d)
{
    ENTER("cuDeviceTotalMem_v2", false);
    if (d != 0) {
        return CUDA_ERROR_INVALID_DEVICE;
    }
    *bytes = DEV_TOTAL;
    return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice d)
{
    ENTER("cuDevicePrimaryCtxRetain", false);
    if (d != 0) {
        return CUDA_ERROR_INVALID_DEVICE;
    }
    *ctx = (CUcontext)(void *)&primary_ctx;
    return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d)
{
    ENTER("cuDevicePrimaryCtxRelease_v2", false);
    return d != 0 ? CUDA_ERROR_INVALID_DEVICE : CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext ctx)
{
    ENTER("cuCtxSetCurrent", false);
    if (ctx != NULL && ctx != (CUcontext)(void *)&primary_ctx) {
        return CUDA_ERROR_INVALID_CONTEXT;
    }
    current = ctx;
    return CUDA_SUCCESS;
}

/* ---- memory ----------------------------------------------------------- */

static const unsigned char guard_byte = 0x5a;

/* Under the lock. A broken guard is a write past an allocation: on a
 * device, an illegal address that poisons the context. */
static void check_guards(const char *when)
{
    for (alloc *a = allocs; a != NULL; a = a->next) {
        for (size_t i = 0; i < GUARD; i++) {
            if (a->base[a->size + i] != guard_byte) {
                violation("%s: a write past the end of a %zu-byte "
                          "allocation", when, a->size);
                sticky = CUDA_ERROR_ILLEGAL_ADDRESS;
                memset(a->base + a->size, guard_byte, GUARD);
                break;
            }
        }
    }
}

/* Under the lock: the allocation holding [p, p + n), or NULL. */
static alloc *find(CUdeviceptr p, size_t n)
{
    for (alloc *a = allocs; a != NULL; a = a->next) {
        uintptr_t b = (uintptr_t)a->base;
        if (p >= b && p + n <= b + a->size && p + n >= p) {
            return a;
        }
    }
    return NULL;
}

CUresult cuMemGetInfo_v2(size_t *free_b, size_t *total)
{
    ENTER("cuMemGetInfo_v2", true);
    pthread_mutex_lock(&lock);
    size_t cap = cfg_free != 0 ? cfg_free : DEV_TOTAL;
    *free_b = held < cap ? cap - held : 0;
    *total = DEV_TOTAL;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n)
{
    ENTER("cuMemAlloc_v2", true);
    if (n == 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    pthread_mutex_lock(&lock);
    size_t cap = cfg_free != 0 ? cfg_free : DEV_TOTAL;
    CUresult r = CUDA_SUCCESS;
    alloc *a = NULL;
    if (held + n > cap) {
        r = CUDA_ERROR_OUT_OF_MEMORY;
    } else if ((a = malloc(sizeof(*a))) == NULL ||
               (a->base = malloc(n + GUARD)) == NULL) {
        free(a);
        r = CUDA_ERROR_OUT_OF_MEMORY;
    } else {
        memset(a->base, 0xa5, n); /* device memory starts as garbage */
        memset(a->base + n, guard_byte, GUARD);
        a->size = n;
        a->next = allocs;
        allocs = a;
        held += n;
        stats.live_allocations++;
        if (held > stats.peak_bytes) {
            stats.peak_bytes = held;
        }
        *p = (CUdeviceptr)(uintptr_t)a->base;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

/* Take the allocation at base off list and free it, under the lock: its
 * size, or 0 when list holds none there. */
static size_t unlink_alloc(alloc **list, const void *base)
{
    for (alloc **a = list; *a != NULL; a = &(*a)->next) {
        if ((*a)->base == base) {
            alloc *dead = *a;
            const size_t size = dead->size;
            *a = dead->next;
            stats.live_allocations--;
            free(dead->base);
            free(dead);
            return size;
        }
    }
    return 0;
}

/* Page-locked host memory: plain memory here, kept on a list of its own
 * (a host pointer is never a device allocation) and counted as live. */
static alloc *host_allocs;

CUresult cuMemHostAlloc(void **p, size_t n, unsigned flags)
{
    ENTER("cuMemHostAlloc", true);
    (void)flags;
    if (n == 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    alloc *a = malloc(sizeof(*a));
    if (a == NULL || (a->base = malloc(n)) == NULL) {
        free(a);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    memset(a->base, 0x5a, n);
    a->size = n;
    pthread_mutex_lock(&lock);
    a->next = host_allocs;
    host_allocs = a;
    stats.live_allocations++;
    pthread_mutex_unlock(&lock);
    *p = a->base;
    return CUDA_SUCCESS;
}

CUresult cuMemFreeHost(void *p)
{
    ENTER("cuMemFreeHost", true);
    pthread_mutex_lock(&lock);
    for (alloc *a = host_allocs; a != NULL; a = a->next) {
        if (a->base == p && queued_use(a->base, a->size, false)) {
            violation("cuMemFreeHost of page-locked memory that a queued "
                      "copy still uses");
        }
    }
    const CUresult r = unlink_alloc(&host_allocs, p) > 0
                           ? CUDA_SUCCESS
                           : CUDA_ERROR_INVALID_VALUE;
    if (r != CUDA_SUCCESS) {
        violation("cuMemFreeHost of %p, which is no host allocation", p);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

CUresult cuMemFree_v2(CUdeviceptr p)
{
    ENTER("cuMemFree_v2", true);
    pthread_mutex_lock(&lock);
    check_guards("cuMemFree");
    for (alloc *a = allocs; a != NULL; a = a->next) {
        if ((uintptr_t)a->base == p && queued_use(a->base, a->size, true)) {
            violation("cuMemFree of an allocation that queued work on a "
                      "stream still uses");
            sticky = CUDA_ERROR_ILLEGAL_ADDRESS;
        }
    }
    const size_t size = unlink_alloc(&allocs, (const void *)(uintptr_t)p);
    held -= size;
    const CUresult r = size > 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (r != CUDA_SUCCESS) {
        violation("cuMemFree of %#llx, which is no allocation",
                  (unsigned long long)p);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

static CUresult copy(const char *sym, CUdeviceptr dev, void *host,
                     size_t n, bool to_device)
{
    pthread_mutex_lock(&lock);
    CUresult r = sticky;
    if (r == CUDA_SUCCESS) {
        bool global = false;
        for (int g = 0; g < MAX_GLOBALS && !global; g++) {
            const uintptr_t b = (uintptr_t)globals[g].base;
            global = b != 0 && dev >= b && dev + n <= b + globals[g].size;
        }
        if (find(dev, n) == NULL && !global) {
            violation("%s of %zu bytes at %#llx: outside every allocation",
                      sym, n, (unsigned long long)dev);
            r = CUDA_ERROR_INVALID_VALUE;
        } else if (to_device) {
            memcpy((void *)(uintptr_t)dev, host, n);
            stats.constant_copies += global;
        } else {
            memcpy(host, (const void *)(uintptr_t)dev, n);
        }
    }
    pthread_mutex_unlock(&lock);
    return r;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n)
{
    ENTER("cuMemcpyHtoD_v2", true);
    return copy("cuMemcpyHtoD", dst, (void *)(uintptr_t)src, n, true);
}

CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n)
{
    ENTER("cuMemcpyDtoH_v2", true);
    return copy("cuMemcpyDtoH", src, dst, n, false);
}

/* ---- modules and launches ------------------------------------------- */

static size_t source_define(const char *src, const char *name)
{
    char pat[96];
    snprintf(pat, sizeof(pat), "#define %s ", name);
    const char *p = strstr(src, pat);
    return p != NULL ? (size_t)strtoull(p + strlen(pat), NULL, 10) : 0;
}


/* The device branch: the kernel source compiled as C++ with CUDA's few
 * device constructs mapped onto the CPU, so cubie_kernel itself runs, with
 * its slicing of dynamic shared memory. Blocks run in parallel, the
 * threads of a block one after another (cubie's threads never talk), each
 * on shared memory that holds a pattern everywhere but its own slices:
 * after each thread the launcher checks that it wrote nowhere else. */
static const char device_shim[] =
    "#include <math.h>\n"
    "#include <stdint.h>\n"
    "#include <stdio.h>\n"
    "#include <string.h>\n"
    "#define __CUDACC_RTC__ 1\n"
    "#define __device__\n"
    "#define __global__\n"
    "#define __constant__ __attribute__((visibility(\"default\")))\n"
    "#define __ldg(p) (*(p))\n"
    "static inline float __int_as_float(int i)\n"
    "{ float f; memcpy(&f, &i, sizeof(f)); return f; }\n"
    "static inline double __longlong_as_double(long long i)\n"
    "{ double d; memcpy(&d, &i, sizeof(d)); return d; }\n"
    "static inline int __float_as_int(float f)\n"
    "{ int i; memcpy(&i, &f, sizeof(i)); return i; }\n"
    "static inline long long __double_as_longlong(double d)\n"
    "{ long long i; memcpy(&i, &d, sizeof(i)); return i; }\n"
    "#define __forceinline__ inline __attribute__((always_inline))\n"
    "#define __shared__ thread_local\n"
    "#define __align__(n) __attribute__((aligned(n)))\n"
    "#define __launch_bounds__(n)\n"
    "struct cb_emu_dim3 { unsigned x, y, z; };\n"
    "static thread_local cb_emu_dim3 blockIdx, blockDim, threadIdx;\n"
    "#define CB_EMU_SMEM 232448\n"
    "alignas(16) thread_local unsigned char cb_smem[CB_EMU_SMEM];\n"
    "static unsigned char cb_emu_pattern[CB_EMU_SMEM];\n"
    "__attribute__((constructor)) static void cb_emu_init(void)\n"
    "{ memset(cb_emu_pattern, 0xa5, CB_EMU_SMEM); }\n"
    "static inline float __fadd_rn(float a, float b)\n"
    "{ volatile float va = a, vb = b; return va + vb; }\n"
    "static inline float __fsub_rn(float a, float b)\n"
    "{ volatile float va = a, vb = b; return va - vb; }\n"
    "static inline float __fmul_rn(float a, float b)\n"
    "{ volatile float va = a, vb = b; return va * vb; }\n"
    "#include \"@SOURCE@\"\n"
    "static bool cb_emu_clean(size_t from, size_t to)\n"
    "{\n"
    "    return to <= from ||\n"
    "           memcmp(cb_smem + from, cb_emu_pattern + from, to - from) == 0;\n"
    "}\n"
    "extern \"C\" __attribute__((visibility(\"default\")))\n"
    "int cubie_emu_launch(unsigned grid, unsigned block, size_t shared,\n"
    "                     void **a, char *why, size_t why_n)\n"
    "{\n"
    "    const size_t rs = sizeof(real);\n"
    "    const size_t own = CB_SHARED_SIZE * rs, stride = CB_SHARED_STRIDE * rs;\n"
    "    const size_t own_i = CB_SHARED_I_SIZE * 4, stride_i = CB_SHARED_I_STRIDE * 4;\n"
    "    const bool check = own + own_i > 0;\n"
    "    if (stride < own || stride_i < own_i) {\n"
    "        snprintf(why, why_n, \"shared slices overlap (stride under \"\n"
    "                 \"size)\");\n"
    "        return 1;\n"
    "    }\n"
    "    if ((size_t)block * (stride + stride_i) > CB_EMU_SMEM) {\n"
    "        snprintf(why, why_n, \"block of %u needs more shared memory than \"\n"
    "                 \"a block has\", block);\n"
    "        return 1;\n"
    "    }\n"

    "    int bad = 0;\n"
    "#pragma omp parallel for schedule(dynamic, 1)\n"
    "    for (long b = 0; b < (long)grid; b++) {\n"
    "        blockIdx.x = (unsigned)b; blockIdx.y = blockIdx.z = 0;\n"
    "        blockDim.x = block; blockDim.y = blockDim.z = 1;\n"
    "        memset(cb_smem, 0xa5, CB_EMU_SMEM);\n"
    "        for (unsigned t = 0; t < block; t++) {\n"
    "            threadIdx.x = t; threadIdx.y = threadIdx.z = 0;\n"
    "            cubie_kernel(@CALL@);\n"
    "            if (!check) continue;\n"
    "            const size_t r0 = t * stride, i0 = block * stride + t * stride_i;\n"
    "            if (!cb_emu_clean(0, r0) || !cb_emu_clean(r0 + own, i0) ||\n"
    "                !cb_emu_clean(i0 + own_i, CB_EMU_SMEM) ||\n"
    "                i0 + own_i > shared) {\n"
    "#pragma omp atomic write\n"
    "                bad = 1;\n"
    "            }\n"
    "            memset(cb_smem + r0, 0xa5, own);\n"
    "            memset(cb_smem + i0, 0xa5, own_i);\n"
    "        }\n"
    "    }\n"
    "    if (bad) {\n"
    "        snprintf(why, why_n, \"a thread wrote shared memory outside its \"\n"
    "                 \"slice (or past the launch's %zu bytes)\", shared);\n"
    "    }\n"
    "    return bad;\n"
    "}\n";

/* After device_shim: the stores for every thread of their grid. */
static const char device_shim_store[] =
    "extern \"C\" __attribute__((visibility(\"default\")))\n"
    "void cubie_emu_store(int wide, unsigned grid, void **a)\n"
    "{\n"
    "#pragma omp parallel for schedule(static)\n"
    "    for (long b = 0; b < (long)grid; b++) {\n"
    "        blockIdx.x = (unsigned)b; blockIdx.y = blockIdx.z = 0;\n"
    "        blockDim.x = CB_STORE_BLOCK; blockDim.y = blockDim.z = 1;\n"
    "        for (unsigned t = 0; t < CB_STORE_BLOCK; t++) {\n"
    "            threadIdx.x = t; threadIdx.y = threadIdx.z = 0;\n"
    "            const long long runs = *(long long *)a[2], per = *(long long *)a[3];\n"
    "            if (wide) {\n"
    "                cubie_store8(*(const unsigned long long **)a[0],\n"
    "                             *(unsigned long long **)a[1], runs, per);\n"
    "            } else {\n"
    "                cubie_store4(*(const unsigned int **)a[0],\n"
    "                             *(unsigned int **)a[1], runs, per);\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "}\n";

/* Compile one branch of the source into dir/<key>-<flags>.so. Callers
 * hold build_lock: threads of one process share the temporary names. */
static pthread_mutex_t build_lock = PTHREAD_MUTEX_INITIALIZER;

static bool compile_branch(const char *dir, const char *key, bool device,
                           const char *extra, char *so, size_t so_n)
{
    char src[700], tmp[900], cmd[2600], fkey[33], wrap[900], flags[600];
    const char *cc = getenv(device ? "CXX" : "CC");
    cc = cc != NULL && *cc ? cc : device ? "c++" : "cc";
    /* The object's name holds the compiler, the flags and the shim: a
     * change to any rebuilds. */
    char shim[33];
    char shim_all[sizeof(device_shim) + sizeof(device_shim_store)];
    snprintf(shim_all, sizeof(shim_all), "%s%s", device_shim,
             device_shim_store);
    hash_hex((const unsigned char *)shim_all, strlen(shim_all), shim);
    snprintf(flags, sizeof(flags), "%s|%s|%s", cc, extra, shim);
    hash_hex((const unsigned char *)flags, strlen(flags), fkey);
    snprintf(src, sizeof(src), "%s/%s.cu", dir, key);
    snprintf(so, so_n, "%s/%s-%s%.8s.so", dir, key, device ? "dev-" : "",
             fkey);
    if (access(so, R_OK) == 0) {
        return true;
    }
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", so, (int)getpid());
    if (device) {
        snprintf(wrap, sizeof(wrap), "%s/%s.%d.emu.cpp", dir, key,
                 (int)getpid());
        FILE *w = fopen(wrap, "wb");
        if (w == NULL) {
            return false;
        }
        /* The shim with the source's path and the kernel's arguments,
         * each read through its pointer as cuLaunchKernel passes it. */
        const char *at = strstr(device_shim, "@SOURCE@");
        const char *call = strstr(device_shim, "@CALL@");
        fprintf(w, "%.*s%s", (int)(at - device_shim), device_shim, src);
        at += strlen("@SOURCE@");
        fprintf(w, "%.*s", (int)(call - at), at);
        for (int i = 0; i < N_KARGS; i++) {
            fprintf(w, "%s*(%s%s *)a[%d]", i ? ", " : "", kargs[i].type,
                    kargs[i].scalar ? "" : " const", i);
        }
        fputs(call + strlen("@CALL@"), w);
        fputs(device_shim_store, w);
        fclose(w);
        snprintf(cmd, sizeof(cmd),
                 "%s -x c++ -std=gnu++17 -O3 -march=native -fopenmp -fPIC "
                 "-shared %s -o '%s' '%s' -lm",
                 cc, extra, tmp, wrap);
    } else {
        snprintf(cmd, sizeof(cmd),
                 "%s -x c -std=gnu11 -O3 -march=native -fopenmp "
                 "-fno-math-errno -ffp-contract=off -fPIC "
                 "-shared -DCB_DEVICE_LAYOUT %s -o '%s' '%s' -lm",
                 cc, extra, tmp, src);
    }
    bool ok = system(cmd) == 0 && rename(tmp, so) == 0;
    unlink(tmp);
    if (device) {
        unlink(wrap);
    }
    return ok;
}

/* Build a module from the source behind an image, once per image and
 * flags. $CUBIE_FAKE_CUDA_BRANCH picks what runs: "device" (default) the
 * CUDA branch through device_shim, "host" the host branch compiled as
 * runtime/host.c does (same flags, so the results are the host backend's
 * bit for bit). $CUBIE_FAKE_CUDA_CFLAGS adds flags: -ffp-contract=off
 * makes a device that rounds otherwise than the host (no fused
 * multiply-adds), as a real one does. */
static CUresult build(const char *dir, const char *key, module *m)
{
    char src[700], so[820];
    const char *extra = getenv("CUBIE_FAKE_CUDA_CFLAGS");
    const char *branch = getenv("CUBIE_FAKE_CUDA_BRANCH");
    const bool device = branch == NULL || strcmp(branch, "host") != 0;
    extra = extra != NULL ? extra : "";
    snprintf(src, sizeof(src), "%s/%s.cu", dir, key);
    FILE *f = fopen(src, "rb");
    if (f == NULL) {
        violation_unlocked("cuModuleLoadData: an image NVRTC was not seen "
                           "to make (no %s)", src);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    char chunk[8192];
    size_t got;
    while (mem != NULL && (got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        fwrite(chunk, 1, got, mem);
    }
    fclose(f);
    if (mem == NULL || fclose(mem) != 0) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    bool has_kernel = strstr(text, "cubie_kernel(") != NULL;
    size_t real_size = strstr(text, "#define CB_F32 1") != NULL ? 4 : 8;
    m->shared_per_run = source_define(text, "CB_SHARED_STRIDE") * real_size +
                        source_define(text, "CB_SHARED_I_STRIDE") * 4;
    m->const_bytes = source_define(text, "CB_DRIVER_CONST_CAP") * real_size;
    m->store_block = (unsigned)source_define(text, "CB_STORE_BLOCK");
    free(text);
    if (!has_kernel) {
        return CUDA_ERROR_NOT_FOUND;
    }
    pthread_mutex_lock(&build_lock);
    bool built = compile_branch(dir, key, device, extra, so, sizeof(so));
    pthread_mutex_unlock(&build_lock);
    if (!built) {
        violation_unlocked("cuModuleLoadData: cannot build the %s branch "
                           "of %s", device ? "device" : "host", src);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    dlopen("libgomp.so.1", RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    m->so = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (m->so == NULL) {
        violation_unlocked("cuModuleLoadData: %s", dlerror());
        return CUDA_ERROR_INVALID_IMAGE;
    }
    if (device) {
        *(void **)&m->launch = dlsym(m->so, "cubie_emu_launch");
        *(void **)&m->store = dlsym(m->so, "cubie_emu_store");
    } else {
        *(void **)&m->run = dlsym(m->so, "cubie_host_run");
    }
    if (m->run == NULL && m->launch == NULL) {
        dlclose(m->so);
        return CUDA_ERROR_NOT_FOUND;
    }
    return CUDA_SUCCESS;
}

CUresult cuModuleLoadData(CUmodule *mod, const void *image)
{
    ENTER("cuModuleLoadData", true);
    char key[33], dir[600];
    if (image == NULL || !image_key(image, key)) {
        return CUDA_ERROR_INVALID_IMAGE;
    }
    store_dir(dir, sizeof(dir));
    module *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    CUresult r = build(dir, key, m);
    if (r != CUDA_SUCCESS) {
        free(m);
        return r;
    }
    m->max_dynamic_shared = DEFAULT_DYNAMIC_SHARED;
    m->magic = 0x6375;
    for (int i = 0; i < FN_COUNT; i++) {
        m->fn[i] = (function){0x666e, i, m};
    }
    pthread_mutex_lock(&lock);
    stats.live_modules++;
    pthread_mutex_unlock(&lock);
    *mod = (CUmodule)(void *)m;
    return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule mod)
{
    ENTER("cuModuleUnload", true);
    module *m = (module *)(void *)mod;
    if (m == NULL || m->magic != 0x6375) {
        return CUDA_ERROR_INVALID_HANDLE;
    }
    m->magic = 0;
    pthread_mutex_lock(&lock);
    for (int g = 0; g < MAX_GLOBALS; g++) {
        if (m->const_base != NULL && globals[g].base == m->const_base) {
            globals[g].base = NULL;
        }
    }
    pthread_mutex_unlock(&lock);
    dlclose(m->so);
    free(m);
    pthread_mutex_lock(&lock);
    stats.live_modules--;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

/* The device branch's __constant__ cb_driver_const, the one global a
 * cubie kernel has; its size is the source's CB_DRIVER_CONST_CAP. */
CUresult cuModuleGetGlobal_v2(CUdeviceptr *dptr, size_t *bytes, CUmodule mod,
                              const char *name)
{
    ENTER("cuModuleGetGlobal_v2", false);
    module *m = (module *)(void *)mod;
    if (m == NULL || m->magic != 0x6375 || name == NULL) {
        return CUDA_ERROR_INVALID_HANDLE;
    }
    void *sym = m->launch != NULL && strcmp(name, "cb_driver_const") == 0
                    ? dlsym(m->so, name)
                    : NULL;
    if (sym == NULL || m->const_bytes == 0) {
        return CUDA_ERROR_NOT_FOUND;
    }
    pthread_mutex_lock(&lock);
    int g = 0;
    while (g < MAX_GLOBALS && globals[g].base != NULL &&
           globals[g].base != sym) {
        g++;
    }
    if (g < MAX_GLOBALS) {
        globals[g].base = sym;
        globals[g].size = m->const_bytes;
    }
    pthread_mutex_unlock(&lock);
    m->const_base = sym;
    if (dptr != NULL) {
        *dptr = (CUdeviceptr)(uintptr_t)sym;
    }
    if (bytes != NULL) {
        *bytes = m->const_bytes;
    }
    return g < MAX_GLOBALS ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

/* A module's cubie_kernel, cubie_store4 and cubie_store8. The host
 * branch has no stores of its own (they are CUDA code): there the
 * emulator does what they do (store_now). */
CUresult cuModuleGetFunction(CUfunction *fn, CUmodule mod, const char *name)
{
    ENTER("cuModuleGetFunction", false);
    module *m = (module *)(void *)mod;
    if (m == NULL || m->magic != 0x6375) {
        return CUDA_ERROR_INVALID_HANDLE;
    }
    static const char *const names[FN_COUNT] = {
        "cubie_kernel", "cubie_store4", "cubie_store8"};
    int i = 0;
    while (i < FN_COUNT && strcmp(name, names[i]) != 0) {
        i++;
    }
    if (i == FN_COUNT || (i != FN_KERNEL && m->launch != NULL &&
                          m->store == NULL)) {
        return CUDA_ERROR_NOT_FOUND;
    }
    *fn = (CUfunction)(void *)&m->fn[i];
    return CUDA_SUCCESS;
}

/* The function behind a handle, or NULL; *which its FN_*. */
static function *function_of(CUfunction h)
{
    function *f = (function *)(void *)h;
    if (f == NULL || f->magic != 0x666e || f->m == NULL ||
        f->m->magic != 0x6375) {
        return NULL;
    }
    return f;
}

/* The module whose cubie_kernel h is, or NULL (the attribute and
 * occupancy calls cubie makes are for it alone). */
static module *kernel_of(CUfunction h)
{
    function *f = function_of(h);
    return f != NULL && f->which == FN_KERNEL ? f->m : NULL;
}

static int max_threads(void)
{
    pthread_mutex_lock(&lock);
    int n = cfg_max_threads > 0 ? cfg_max_threads : 1024;
    pthread_mutex_unlock(&lock);
    return n;
}

CUresult cuFuncGetAttribute(int *v, CUfunction_attribute a, CUfunction fn)
{
    ENTER("cuFuncGetAttribute", false);
    module *m = kernel_of(fn);
    if (m == NULL) {
        return CUDA_ERROR_INVALID_HANDLE;
    }
    switch (a) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *v = max_threads(); break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *v = 64; break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES:
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *v = 0; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
        *v = m->max_dynamic_shared;
        break;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

CUresult cuFuncSetAttribute(CUfunction fn, CUfunction_attribute a, int v)
{
    ENTER("cuFuncSetAttribute", false);
    module *m = kernel_of(fn);
    if (m == NULL) {
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (a != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES || v < 0 ||
        v > DEV_SHARED_OPTIN) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    m->max_dynamic_shared = v;
    pthread_mutex_lock(&lock);
    stats.max_dynamic_shared = v;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *n, CUfunction fn,
                                                     int block, size_t shared)
{
    ENTER("cuOccupancyMaxActiveBlocksPerMultiprocessor", true);
    module *m = kernel_of(fn);
    if (m == NULL || block <= 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (block > max_threads() || shared > (size_t)m->max_dynamic_shared) {
        *n = 0;
        return CUDA_SUCCESS;
    }
    int blocks = DEV_THREADS_PER_SM / block;
    int by_regs = 65536 / (64 * block); /* 64 registers a thread */
    blocks = blocks < by_regs ? blocks : by_regs;
    blocks = blocks < 32 ? blocks : 32;
    if (shared > 0) {
        int by_shared = (int)(DEV_SHARED_PER_SM / (shared + 1024));
        blocks = blocks < by_shared ? blocks : by_shared;
    }
    *n = blocks;
    return CUDA_SUCCESS;
}

static CUresult launch_now(module *m, unsigned gx, unsigned bx,
                           unsigned shared, void **params);
static CUresult enqueue_launch(stream_t *s, module *m, unsigned gx,
                               unsigned bx, unsigned shared, void **params);
static CUresult store_now(module *m, bool wide, unsigned gx, CUdeviceptr src,
                          CUdeviceptr dst, long long runs, long long per_run);
static CUresult enqueue_store(stream_t *s, module *m, bool wide, unsigned gx,
                              void **params);

CUresult cuLaunchKernel(CUfunction fn, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned shared,
                        CUstream stream, void **params, void **extra)
{
    ENTER("cuLaunchKernel", true);
    function *f = function_of(fn);
    if (f == NULL) {
        return CUDA_ERROR_INVALID_HANDLE;
    }
    module *m = f->m;
    if (gx == 0 || bx == 0 || gy != 1 || gz != 1 || by != 1 || bz != 1 ||
        params == NULL || extra != NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (f->which != FN_KERNEL) {
        /* __launch_bounds__(CB_STORE_BLOCK), no shared memory */
        if (bx != m->store_block || shared != 0) {
            return CUDA_ERROR_INVALID_VALUE;
        }
        const bool wide = f->which == FN_STORE8;
        if (stream != NULL) {
            return enqueue_store((stream_t *)(void *)stream, m, wide, gx,
                                 params);
        }
        CUdeviceptr src, dst;
        long long runs, per_run;
        memcpy(&src, params[0], sizeof(src));
        memcpy(&dst, params[1], sizeof(dst));
        memcpy(&runs, params[2], sizeof(runs));
        memcpy(&per_run, params[3], sizeof(per_run));
        return store_now(m, wide, gx, src, dst, runs, per_run);
    }
    if (bx > (unsigned)max_threads() || shared > (unsigned)m->max_dynamic_shared) {
        /* What a device answers for a block it cannot hold. */
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (stream != NULL) {
        return enqueue_launch((stream_t *)(void *)stream, m, gx, bx, shared,
                              params);
    }
    return launch_now(m, gx, bx, shared, params);
}

/* The launch itself: its checks, then cubie_kernel for every thread; a
 * fault poisons the context (sticky) for the next synchronising call. */
static CUresult launch_now(module *m, unsigned gx, unsigned bx,
                           unsigned shared, void **params)
{
    CUdeviceptr p[N_KARGS];
    for (int i = 0; i < N_KARGS; i++) {
        p[i] = 0;
        if (!kargs[i].scalar) {
            memcpy(&p[i], params[i], sizeof(CUdeviceptr));
        }
    }
    int n_runs;
    memcpy(&n_runs, params[karg_n_runs()], sizeof(int));
    pthread_mutex_lock(&lock);
    CUresult r = sticky;
    stats.launches++;
    stats.last_grid = gx;
    stats.last_block = bx;
    stats.last_shared = shared;
    /* Faults a device reports later, at the next synchronising call. */
    for (int i = 0; i < N_KARGS && r == CUDA_SUCCESS; i++) {
        if (kargs[i].scalar) {
            continue;
        }
        alloc *a = find(p[i], 1);
        if (a == NULL || (uintptr_t)a->base != p[i]) {
            violation("kernel parameter %d (%#llx) is no allocation", i,
                      (unsigned long long)p[i]);
            sticky = CUDA_ERROR_ILLEGAL_ADDRESS;
        }
    }
    if ((size_t)shared < (size_t)bx * m->shared_per_run) {
        violation("launch with %u bytes of dynamic shared memory for %u "
                  "threads of %zu bytes each", shared, bx, m->shared_per_run);
        sticky = CUDA_ERROR_ILLEGAL_ADDRESS;
    }
    if (n_runs <= 0 || (unsigned long long)gx * bx < (unsigned)n_runs ||
        (unsigned long long)(gx - 1) * bx >= (unsigned)n_runs) {
        violation("grid of %u blocks of %u threads for %d runs", gx, bx,
                  n_runs);
        sticky = CUDA_ERROR_LAUNCH_FAILED;
    }
    bool go = r == CUDA_SUCCESS && sticky == CUDA_SUCCESS;
    pthread_mutex_unlock(&lock);
    if (go) {
        char why[200] = "";
        int fault = 0;
        if (m->launch != NULL) {
            fault = m->launch(gx, bx, shared, params, why, sizeof(why));
        } else {
            /* Device memory is host memory here: the arguments as they
             * came are the host entry's. */
            m->run(params);
        }
        pthread_mutex_lock(&lock);
        if (fault) {
            violation("kernel: %s", why);
            sticky = CUDA_ERROR_ILLEGAL_ADDRESS;
        }
        check_guards("after the kernel");
        pthread_mutex_unlock(&lock);
    }
    return r;
}

/* cubie_store4 / cubie_store8 (wide): dst[run * per_run + j] =
 * src[j * runs + run], elements of 4 or 8 bytes, one thread an element of
 * dst. Checked as a device would fault: both arrays inside allocations,
 * not overlapping (they are __restrict__), a grid of exactly the blocks
 * of CB_STORE_BLOCK that cover them. */
static CUresult store_now(module *m, bool wide, unsigned gx, CUdeviceptr src,
                          CUdeviceptr dst, long long runs, long long per_run)
{
    const size_t elem = wide ? 8 : 4;
    const long long n = runs > 0 && per_run > 0 ? runs * per_run : 0;
    const size_t bytes = (size_t)n * elem;
    pthread_mutex_lock(&lock);
    CUresult r = sticky;
    stats.store_launches++;
    if (n == 0 || find(src, bytes) == NULL || find(dst, bytes) == NULL) {
        violation("store of %lld x %lld elements of %zu bytes from %#llx to "
                  "%#llx: outside every allocation", runs, per_run, elem,
                  (unsigned long long)src, (unsigned long long)dst);
        sticky = CUDA_ERROR_ILLEGAL_ADDRESS;
    } else if (src < dst + bytes && dst < src + bytes) {
        violation("store from %#llx to %#llx: the arrays overlap",
                  (unsigned long long)src, (unsigned long long)dst);
        sticky = CUDA_ERROR_ILLEGAL_ADDRESS;
    } else if ((unsigned long long)gx * m->store_block <
                   (unsigned long long)n ||
               (unsigned long long)(gx - 1) * m->store_block >=
                   (unsigned long long)n) {
        violation("store grid of %u blocks for %lld elements", gx, n);
        sticky = CUDA_ERROR_LAUNCH_FAILED;
    }
    const bool go = r == CUDA_SUCCESS && sticky == CUDA_SUCCESS;
    pthread_mutex_unlock(&lock);
    if (!go) {
        return r;
    }
    if (m->store != NULL) {
        void *params[4] = {&src, &dst, &runs, &per_run};
        m->store(wide, gx, params);
    } else {
        const unsigned char *from = (const unsigned char *)(uintptr_t)src;
        unsigned char *to = (unsigned char *)(uintptr_t)dst;
        for (long long run = 0; run < runs; run++) {
            for (long long j = 0; j < per_run; j++) {
                memcpy(to + (size_t)(run * per_run + j) * elem,
                       from + (size_t)(j * runs + run) * elem, elem);
            }
        }
    }
    pthread_mutex_lock(&lock);
    check_guards("after a store");
    pthread_mutex_unlock(&lock);
    return r;
}

/* ---- streams: work queued until something waits for it ------------- */

/* A stream's copies, launches and event records run in order, and only
 * when the host waits for them (cuEventSynchronize, cuStreamSynchronize,
 * destroying the stream): as late as a device may run them, so host code
 * that refills a staging buffer before its copy has run, or reads a
 * result before its copy back, sees the wrong data and a test finds it.
 * Freeing memory that queued work still uses is a violation. */
typedef enum { OP_HTOD, OP_DTOH, OP_LAUNCH, OP_STORE, OP_EVENT } op_kind;

typedef struct op {
    op_kind kind;
    struct op *next;
    CUdeviceptr dev; /* copies */
    void *host;
    size_t n;
    module *m; /* a launch and its arguments by value */
    unsigned gx, bx, shared;
    CUdeviceptr ptr[N_KARGS];
    int ival[N_KARGS];
    bool wide; /* a store: from dev to dev2, runs x per_run elements */
    CUdeviceptr dev2;
    long long runs, per_run;
    event *ev; /* an event record */
} op;

struct stream_t {
    int magic;
    op *head, *tail;
    stream_t *next;
};

static stream_t *streams; /* under the lock */

/* What a synchronising call answers: the context's first fault. */
static CUresult sticky_fault(void)
{
    pthread_mutex_lock(&lock);
    const CUresult r = sticky;
    pthread_mutex_unlock(&lock);
    return r;
}

static CUresult enqueue(stream_t *s, op *o)
{
    pthread_mutex_lock(&lock);
    bool known = false;
    for (stream_t *t = streams; t != NULL && !known; t = t->next) {
        known = t == s;
    }
    if (!known || s->magic != 0x5354) {
        pthread_mutex_unlock(&lock);
        free(o);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    o->next = NULL;
    if (s->tail != NULL) {
        s->tail->next = o;
    } else {
        s->head = o;
    }
    s->tail = o;
    if (o->kind == OP_LAUNCH &&
        ++queued_launches > stats.max_queued_launches) {
        stats.max_queued_launches = queued_launches;
    }
    stats.async_ops++;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

/* Run s's queue in order, through the record of until (all of it when
 * NULL). A failing copy poisons the context, as an asynchronous error
 * does on a device. */
static void flush(stream_t *s, const event *until)
{
    for (;;) {
        pthread_mutex_lock(&lock);
        op *o = s->head;
        if (o != NULL) {
            s->head = o->next;
            if (s->head == NULL) {
                s->tail = NULL;
            }
            queued_launches -= o->kind == OP_LAUNCH;
        }
        pthread_mutex_unlock(&lock);
        if (o == NULL) {
            return;
        }
        CUresult r = CUDA_SUCCESS;
        bool last = false;
        switch (o->kind) {
        case OP_HTOD:
            r = copy("cuMemcpyHtoDAsync", o->dev, o->host, o->n, true);
            break;
        case OP_DTOH:
            r = copy("cuMemcpyDtoHAsync", o->dev, o->host, o->n, false);
            break;
        case OP_LAUNCH: {
            void *params[N_KARGS];
            for (int i = 0; i < N_KARGS; i++) {
                params[i] = kargs[i].scalar ? (void *)&o->ival[i]
                                            : (void *)&o->ptr[i];
            }
            r = launch_now(o->m, o->gx, o->bx, o->shared, params);
            break;
        }
        case OP_STORE:
            r = store_now(o->m, o->wide, o->gx, o->dev, o->dev2, o->runs,
                          o->per_run);
            break;
        case OP_EVENT:
            pthread_mutex_lock(&lock);
            o->ev->t = now_ms();
            o->ev->recorded = true;
            o->ev->queued = NULL;
            pthread_mutex_unlock(&lock);
            last = o->ev == until;
            break;
        }
        if (r != CUDA_SUCCESS) {
            pthread_mutex_lock(&lock);
            if (sticky == CUDA_SUCCESS) {
                sticky = r;
            }
            pthread_mutex_unlock(&lock);
        }
        free(o);
        if (last) {
            return;
        }
    }
}

/* Under the lock: whether queued work uses [base, base + size). */
static bool queued_use(const unsigned char *base, size_t size, bool device)
{
    const uintptr_t lo = (uintptr_t)base, hi = lo + size;
    for (stream_t *s = streams; s != NULL; s = s->next) {
        for (const op *o = s->head; o != NULL; o = o->next) {
            if (o->kind == OP_LAUNCH && device) {
                for (int i = 0; i < N_KARGS; i++) {
                    if (!kargs[i].scalar && o->ptr[i] >= lo &&
                        o->ptr[i] < hi) {
                        return true;
                    }
                }
            } else if (o->kind == OP_STORE && device) {
                const uintptr_t n = (uintptr_t)(o->runs * o->per_run) *
                                    (o->wide ? 8 : 4);
                if ((o->dev < hi && o->dev + n > lo) ||
                    (o->dev2 < hi && o->dev2 + n > lo)) {
                    return true;
                }
            } else if (o->kind == OP_HTOD || o->kind == OP_DTOH) {
                const uintptr_t p =
                    device ? (uintptr_t)o->dev : (uintptr_t)o->host;
                if (p < hi && p + o->n > lo) {
                    return true;
                }
            }
        }
    }
    return false;
}

CUresult cuStreamCreate(CUstream *out, unsigned flags)
{
    ENTER("cuStreamCreate", true);
    (void)flags;
    stream_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    s->magic = 0x5354;
    pthread_mutex_lock(&lock);
    s->next = streams;
    streams = s;
    stats.live_streams++;
    pthread_mutex_unlock(&lock);
    *out = (CUstream)(void *)s;
    return CUDA_SUCCESS;
}

/* The stream h, all its queued work run; NULL when h is no stream. */
static stream_t *drained(CUstream h)
{
    pthread_mutex_lock(&lock);
    stream_t *s = streams;
    while (s != NULL && s != (stream_t *)(void *)h) {
        s = s->next;
    }
    pthread_mutex_unlock(&lock);
    if (s != NULL) {
        flush(s, NULL);
    }
    return s;
}

CUresult cuStreamSynchronize(CUstream h)
{
    ENTER("cuStreamSynchronize", true);
    if (drained(h) == NULL) {
        return CUDA_ERROR_INVALID_HANDLE;
    }
    return sticky_fault();
}

/* Every stream's queued work, then the context's first fault. */
CUresult cuCtxSynchronize(void)
{
    ENTER("cuCtxSynchronize", true);
    for (;;) {
        pthread_mutex_lock(&lock);
        stream_t *s = streams;
        while (s != NULL && s->head == NULL) {
            s = s->next;
        }
        pthread_mutex_unlock(&lock);
        if (s == NULL) {
            break;
        }
        flush(s, NULL);
    }
    return sticky_fault();
}

/* Its queued work still runs, as on a device; then it is gone. */
CUresult cuStreamDestroy_v2(CUstream h)
{
    ENTER("cuStreamDestroy_v2", true);
    stream_t *s = drained(h);
    if (s == NULL) {
        return CUDA_ERROR_INVALID_HANDLE;
    }
    pthread_mutex_lock(&lock);
    for (stream_t **t = &streams; *t != NULL; t = &(*t)->next) {
        if (*t == s) {
            *t = s->next;
            break;
        }
    }
    stats.live_streams--;
    pthread_mutex_unlock(&lock);
    free(s);
    return CUDA_SUCCESS;
}

static CUresult async_copy(const char *sym, stream_t *s, CUdeviceptr dev,
                           void *host, size_t n, op_kind kind)
{
    pthread_mutex_lock(&lock);
    bool inside = find(dev, n) != NULL;
    pthread_mutex_unlock(&lock);
    if (!inside) {
        violation_unlocked("%s of %zu bytes at %#llx: outside every "
                           "allocation", sym, n, (unsigned long long)dev);
        return CUDA_ERROR_INVALID_VALUE;
    }
    op *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    o->kind = kind;
    o->dev = dev;
    o->host = host;
    o->n = n;
    return enqueue(s, o);
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n,
                              CUstream h)
{
    ENTER("cuMemcpyHtoDAsync_v2", true);
    if (h == NULL) {
        return copy("cuMemcpyHtoDAsync", dst, (void *)(uintptr_t)src, n,
                    true);
    }
    return async_copy("cuMemcpyHtoDAsync", (stream_t *)(void *)h, dst,
                      (void *)(uintptr_t)src, n, OP_HTOD);
}

CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n,
                              CUstream h)
{
    ENTER("cuMemcpyDtoHAsync_v2", true);
    if (h == NULL) {
        return copy("cuMemcpyDtoHAsync", src, dst, n, false);
    }
    return async_copy("cuMemcpyDtoHAsync", (stream_t *)(void *)h, src, dst,
                      n, OP_DTOH);
}

static CUresult enqueue_launch(stream_t *s, module *m, unsigned gx,
                               unsigned bx, unsigned shared, void **params)
{
    op *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    o->kind = OP_LAUNCH;
    o->m = m;
    o->gx = gx;
    o->bx = bx;
    o->shared = shared;
    /* The arguments are read at the call, as cuLaunchKernel does. */
    for (int i = 0; i < N_KARGS; i++) {
        if (kargs[i].scalar) {
            memcpy(&o->ival[i], params[i], sizeof(int));
        } else {
            memcpy(&o->ptr[i], params[i], sizeof(CUdeviceptr));
        }
    }
    return enqueue(s, o);
}

static CUresult enqueue_store(stream_t *s, module *m, bool wide, unsigned gx,
                              void **params)
{
    op *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    o->kind = OP_STORE;
    o->m = m;
    o->wide = wide;
    o->gx = gx;
    memcpy(&o->dev, params[0], sizeof(o->dev));
    memcpy(&o->dev2, params[1], sizeof(o->dev2));
    memcpy(&o->runs, params[2], sizeof(o->runs));
    memcpy(&o->per_run, params[3], sizeof(o->per_run));
    return enqueue(s, o);
}

/* ---- events ----------------------------------------------------------- */

CUresult cuEventCreate(CUevent *e, unsigned flags)
{
    ENTER("cuEventCreate", true);
    (void)flags;
    event *ev = calloc(1, sizeof(*ev));
    if (ev == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    pthread_mutex_lock(&lock);
    stats.live_events++;
    pthread_mutex_unlock(&lock);
    *e = (CUevent)(void *)ev;
    return CUDA_SUCCESS;
}

CUresult cuEventRecord(CUevent e, CUstream h)
{
    ENTER("cuEventRecord", true);
    event *ev = (event *)(void *)e;
    if (ev == NULL) {
        return CUDA_ERROR_INVALID_HANDLE;
    }
    pthread_mutex_lock(&lock);
    if (h == NULL) {
        ev->t = now_ms();
        ev->recorded = true;
        pthread_mutex_unlock(&lock);
        return CUDA_SUCCESS;
    }
    /* Stricter than a device, which lets a record replace one not yet
     * reached: cubie never does that, so here it is a fault. */
    if (ev->queued != NULL) {
        violation("cuEventRecord of an event still queued on a stream");
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_INVALID_VALUE;
    }
    pthread_mutex_unlock(&lock);
    op *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    o->kind = OP_EVENT;
    o->ev = ev;
    pthread_mutex_lock(&lock);
    ev->recorded = false;
    ev->queued = (stream_t *)(void *)h;
    pthread_mutex_unlock(&lock);
    const CUresult r = enqueue((stream_t *)(void *)h, o);
    if (r != CUDA_SUCCESS) {
        pthread_mutex_lock(&lock);
        ev->queued = NULL;
        pthread_mutex_unlock(&lock);
    }
    return r;
}

/* Run the stream ev is queued on, if any, through ev's record. */
static void reach(event *ev)
{
    pthread_mutex_lock(&lock);
    stream_t *s = ev->queued;
    pthread_mutex_unlock(&lock);
    if (s != NULL) {
        flush(s, ev);
    }
}

CUresult cuEventSynchronize(CUevent e)
{
    ENTER("cuEventSynchronize", true);
    event *ev = (event *)(void *)e;
    if (ev == NULL) {
        return CUDA_ERROR_INVALID_HANDLE;
    }
    reach(ev);
    return sticky_fault();
}

/* Both events must have happened (cuda.h: CUDA_ERROR_NOT_READY). */
CUresult cuEventElapsedTime_v2(float *ms, CUevent a, CUevent b)
{
    ENTER("cuEventElapsedTime_v2", true);
    const event *ea = (const event *)(void *)a, *eb = (const event *)(void *)b;
    if (ea == NULL || eb == NULL) {
        return CUDA_ERROR_INVALID_HANDLE;
    }
    pthread_mutex_lock(&lock);
    CUresult r = CUDA_SUCCESS;
    if (!ea->recorded || !eb->recorded) {
        r = ea->queued != NULL || eb->queued != NULL
                ? CUDA_ERROR_NOT_READY
                : CUDA_ERROR_INVALID_HANDLE;
    } else {
        *ms = (float)(eb->t - ea->t);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

/* An event still queued is reached first (its record op points at it). */
CUresult cuEventDestroy_v2(CUevent e)
{
    ENTER("cuEventDestroy_v2", false);
    event *ev = (event *)(void *)e;
    if (ev == NULL) {
        return CUDA_ERROR_INVALID_HANDLE;
    }
    reach(ev);
    pthread_mutex_lock(&lock);
    stats.live_events--;
    pthread_mutex_unlock(&lock);
    free(ev);
    return CUDA_SUCCESS;
}

CUresult cuGetErrorString(CUresult r, const char **s)
{
    switch (r) {
    case CUDA_SUCCESS: *s = "no error"; break;
    case CUDA_ERROR_INVALID_VALUE: *s = "invalid argument"; break;
    case CUDA_ERROR_OUT_OF_MEMORY: *s = "out of memory"; break;
    case CUDA_ERROR_NOT_INITIALIZED: *s = "initialization error"; break;
    case CUDA_ERROR_INVALID_DEVICE: *s = "invalid device ordinal"; break;
    case CUDA_ERROR_INVALID_IMAGE: *s = "device kernel image is invalid"; break;
    case CUDA_ERROR_INVALID_CONTEXT: *s = "invalid device context"; break;
    case CUDA_ERROR_INVALID_HANDLE: *s = "invalid resource handle"; break;
    case CUDA_ERROR_NOT_FOUND: *s = "named symbol not found"; break;
    case CUDA_ERROR_ILLEGAL_ADDRESS:
        *s = "an illegal memory access was encountered";
        break;
    case CUDA_ERROR_LAUNCH_FAILED: *s = "unspecified launch failure"; break;
    default: *s = NULL; return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}
