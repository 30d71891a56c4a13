/* The cuda backend (see gpu.h). The driver API comes through dlopen and
 * the _v2 symbol names, so every binary starts on a machine with no
 * driver; each driver call is checked and a failure names the call and
 * the driver's message. */
#include "gpu.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

void cb_parse_resources(const char *log, cb_resources *out)
{
    memset(out, 0, sizeof(*out));
    if (log == NULL) {
        return;
    }
    const char *p = strstr(log, "Used ");
    if (p != NULL && sscanf(p, "Used %d registers", &out->registers) == 1) {
        out->found = true;
        const char *smem = strstr(p, "bytes smem");
        if (smem != NULL) {
            /* "..., 1024 bytes smem" : read the number before it. */
            const char *q = smem - 1;
            while (q > p && isspace((unsigned char)*q)) {
                q--;
            }
            while (q > p && isdigit((unsigned char)q[-1])) {
                q--;
            }
            out->smem = atoi(q);
        }
    }
    p = strstr(log, "bytes stack frame");
    if (p != NULL) {
        const char *q = p - 1;
        while (q > log && isspace((unsigned char)*q)) {
            q--;
        }
        while (q > log && isdigit((unsigned char)q[-1])) {
            q--;
        }
        out->stack = atoi(q);
        sscanf(p, "bytes stack frame, %d bytes spill stores, %d bytes spill "
                  "loads", &out->spill_stores, &out->spill_loads);
    }
}

/* ELF64 little-endian fields, read with bounds already checked. */
static uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint16_t rd16(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

bool cb_cubin_resources(const void *image, size_t len, cb_resources *out)
{
    const unsigned char *b = image;
    memset(out, 0, sizeof(*out));
    if (b == NULL || len < 64 || memcmp(b, "\177ELF", 4) != 0 || b[4] != 2) {
        return false;
    }
    const uint64_t shoff = rd64(b + 0x28);
    const unsigned shentsize = rd16(b + 0x3A), shnum = rd16(b + 0x3C);
    const unsigned shstrndx = rd16(b + 0x3E);
    if (shentsize < 64 || shstrndx >= shnum || shoff > len ||
        (uint64_t)shnum * shentsize > len - shoff) {
        return false;
    }
    const unsigned char *strtab_sh = b + shoff + (size_t)shstrndx * shentsize;
    const uint64_t stroff = rd64(strtab_sh + 0x18), strsize = rd64(strtab_sh + 0x20);
    if (stroff > len || strsize > len - stroff) {
        return false;
    }
    for (unsigned i = 0; i < shnum; i++) {
        const unsigned char *sh = b + shoff + (size_t)i * shentsize;
        const uint32_t name = rd32(sh);
        const uint64_t off = rd64(sh + 0x18), size = rd64(sh + 0x20);
        if (name >= strsize || off > len || size > len - off ||
            strnlen((const char *)b + stroff + name, strsize - name) !=
                strlen(".nv.info") ||
            memcmp(b + stroff + name, ".nv.info", 8) != 0) {
            continue;
        }
        /* Attribute records: format byte, attribute byte, then 2 bytes
         * of value (formats 1-3: 2 or 4 bytes in all) or a 2-byte size
         * and that many bytes (format 4). REGCOUNT (0x2f) holds a symbol
         * index and the count; the kernel is the function that uses
         * most (device functions it calls count toward it). */
        for (uint64_t p = off; p + 4 <= off + size;) {
            const unsigned fmt = b[p], attr = b[p + 1];
            uint64_t n = fmt == 4 ? 4 + (uint64_t)rd16(b + p + 2)
                                  : fmt == 1 ? 2 : 4;
            if (p + n > off + size) {
                break;
            }
            if (fmt == 4 && attr == 0x2f && n == 12 &&
                (int)rd32(b + p + 8) > out->registers) {
                out->registers = (int)rd32(b + p + 8);
            }
            p += n;
        }
        out->found = out->registers > 0;
        return out->found;
    }
    return false;
}

void cb_artifact_free(cb_artifact *a)
{
    free(a->image);
    free(a->log);
    memset(a, 0, sizeof(*a));
}

#ifdef CUBIE_HAVE_NVRTC
#include <cuda.h>
#include <nvrtc.h>

const char *cb_nvrtc_version(void)
{
    static char v[32];
    int major = 0, minor = 0;
    if (v[0] == '\0') {
        nvrtcVersion(&major, &minor);
        snprintf(v, sizeof(v), "%d.%d", major, minor);
    }
    return v;
}


/* Write to a temporary name, then rename: readers see all or nothing. */
static void write_atomic(const char *path, const void *data, size_t len)
{
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp); /* unique across threads and processes */
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (f == NULL) {
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
    }
}

cubie_status cb_nvrtc_build(const char *source, const cb_nvrtc_opts *o,
                            cb_artifact *out, cubie_error *err)
{
    memset(out, 0, sizeof(*out));
    double t0 = cb_now_ms();
    out->is_cubin = strncmp(o->arch, "sm_", 3) == 0;
    const char *extra[8];
    int n = 0;
    char maxreg[48];
    extra[n++] = "-Xptxas=-v";
    /* "set but never used" / "declared but never referenced": the
     * generator emits every pool slice, used or not. */
    extra[n++] = "--diag-suppress=550,177";
    if (o->fast_compile) {
        extra[n++] = "--Ofast-compile=max";
    }
    if (o->lineinfo) {
        extra[n++] = "-lineinfo";
    }
    if (o->max_registers > 0) {
        snprintf(maxreg, sizeof(maxreg), "--maxrregcount=%d",
                 o->max_registers);
        extra[n++] = maxreg;
    }
    extra[n] = NULL;
    /* The key covers the source, every option and the compiler. */
    char opts[256] = "";
    for (int i = 0; i < n; i++) {
        strncat(opts, extra[i], sizeof(opts) - strlen(opts) - 2);
        strcat(opts, " ");
    }
    char cache[768], base[900], key[33];
    const char *parts[] = {source, o->arch, opts, cb_nvrtc_version()};
    cb_hash_hex(parts, 4, key);
    bool have_cache = o->use_cache && cb_cache_dir(cache, sizeof(cache));
    if (have_cache) {
        snprintf(base, sizeof(base), "%s/nvrtc-%s.%s", cache, key,
                 out->is_cubin ? "cubin" : "ptx");
        char log_path[1000];
        snprintf(log_path, sizeof(log_path), "%s.log", base);
        out->image = cb_read_file(base, &out->len);
        out->log = out->image ? cb_read_file(log_path, NULL) : NULL;
        if (out->image != NULL && out->log != NULL && out->len > 0) {
            cb_parse_resources(out->log, &out->res);
            if (!out->res.found && out->is_cubin) {
                cb_cubin_resources(out->image, out->len, &out->res);
            }
            out->cache_hit = true;
            out->ms = cb_now_ms() - t0;
            return CUBIE_OK;
        }
        cb_artifact_free(out);
        out->is_cubin = strncmp(o->arch, "sm_", 3) == 0;
    }
    cubie_status st = cb_nvrtc_compile(source, o->arch, extra, &out->image,
                                       &out->len, &out->log, err);
    if (st != CUBIE_OK) {
        /* Keep the failing source where the user can compile it alone. */
        char dump[900];
        const char *tmp = getenv("TMPDIR");
        snprintf(dump, sizeof(dump), "%s/cubie-failed-%s.cu",
                 have_cache ? cache : (tmp && *tmp ? tmp : "/tmp"), key);
        FILE *f = fopen(dump, "wb");
        bool dumped = f != NULL && fputs(source, f) != EOF;
        if (f != NULL) {
            dumped = (fclose(f) == 0) && dumped;
        }
        if (dumped && err != NULL && err->status == st &&
            err->dump_path[0] == '\0') {
            snprintf(err->dump_path, sizeof(err->dump_path), "%.500s", dump);
            size_t used = strlen(err->message);
            snprintf(err->message + used, sizeof(err->message) - used,
                     "\nsource dumped to %s", dump);
        }
        cb_artifact_free(out);
        return st;
    }
    cb_parse_resources(out->log, &out->res);
    if (!out->res.found && out->is_cubin) {
        cb_cubin_resources(out->image, out->len, &out->res);
    }
    if (have_cache) {
        char log_path[1000];
        snprintf(log_path, sizeof(log_path), "%s.log", base);
        /* The log first: an image without its log is not a hit. */
        write_atomic(log_path, out->log ? out->log : "", out->log
                                                           ? strlen(out->log)
                                                           : 0);
        write_atomic(base, out->image, out->len);
    }
    out->ms = cb_now_ms() - t0;
    return CUBIE_OK;
}

/* ---- the driver, through dlopen ------------------------------------ */

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
    X(cuCtxSetCurrent, "cuCtxSetCurrent", (CUcontext)) \
    X(cuModuleLoadData, "cuModuleLoadData", (CUmodule *, const void *)) \
    X(cuModuleUnload, "cuModuleUnload", (CUmodule)) \
    X(cuModuleGetFunction, "cuModuleGetFunction", (CUfunction *, CUmodule, const char *)) \
    X(cuFuncSetAttribute, "cuFuncSetAttribute", (CUfunction, CUfunction_attribute, int)) \
    X(cuFuncGetAttribute, "cuFuncGetAttribute", (int *, CUfunction_attribute, CUfunction)) \
    X(cuLaunchKernel, "cuLaunchKernel", (CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, void **, void **)) \
    X(cuMemAlloc, "cuMemAlloc_v2", (CUdeviceptr *, size_t)) \
    X(cuMemFree, "cuMemFree_v2", (CUdeviceptr)) \
    X(cuMemcpyHtoD, "cuMemcpyHtoD_v2", (CUdeviceptr, const void *, size_t)) \
    X(cuMemcpyDtoH, "cuMemcpyDtoH_v2", (void *, CUdeviceptr, size_t)) \
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

typedef struct {
    void *lib;
#define CB_X(field, sym, args) CUresult (*f_##field) args;
    CB_DRIVER_FUNCS(CB_X)
#undef CB_X
    bool ready;
    char why[512];
    CUdevice dev;
    CUcontext ctx;
} cb_driver;

static cb_driver drv;
static pthread_once_t drv_once = PTHREAD_ONCE_INIT;

static const char *cu_message(CUresult r)
{
    const char *s = NULL;
    if (drv.f_cuGetErrorString == NULL || drv.f_cuGetErrorString(r, &s) != 0 ||
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
#define CB_X(field, sym, args)                                             \
    *(void **)&drv.f_##field = dlsym(drv.lib, sym);                        \
    if (drv.f_##field == NULL && strcmp(sym, "cuEventElapsedTime_v2") == 0) {\
        /* Drivers before CUDA 12.8 export only the unversioned name. */   \
        *(void **)&drv.f_##field = dlsym(drv.lib, "cuEventElapsedTime");   \
    }                                                                      \
    if (drv.f_##field == NULL) {                                               \
        snprintf(drv.why, sizeof(drv.why),                                 \
                 "the CUDA driver lacks %s (too old?)", sym);              \
        return;                                                            \
    }
    CB_DRIVER_FUNCS(CB_X)
#undef CB_X
    CUresult r = drv.f_cuInit(0);
    if (r != CUDA_SUCCESS) {
        snprintf(drv.why, sizeof(drv.why), "cuInit failed: %s (%d)",
                 cu_message(r), (int)r);
        return;
    }
    int count = 0;
    r = drv.f_cuDeviceGetCount(&count);
    if (r != CUDA_SUCCESS || count == 0) {
        snprintf(drv.why, sizeof(drv.why), "no CUDA device (%s)",
                 r != CUDA_SUCCESS ? cu_message(r) : "count is 0");
        return;
    }
    if ((r = drv.f_cuDeviceGet(&drv.dev, 0)) != CUDA_SUCCESS ||
        (r = drv.f_cuDevicePrimaryCtxRetain(&drv.ctx, drv.dev)) !=
            CUDA_SUCCESS) {
        snprintf(drv.why, sizeof(drv.why), "cannot open device 0: %s",
                 cu_message(r));
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

/* A checked call's text as the user knows it: "cuMemAlloc(...)". */
static const char *call_name(const char *text)
{
    return strncmp(text, "drv.f_", 6) == 0 ? text + 6 : text;
}

/* Check a driver call: on failure record which call and why. */
#define CU_TRY(call)                                                       \
    do {                                                                   \
        CUresult cb_r_ = (call);                                           \
        if (cb_r_ != CUDA_SUCCESS) {                                       \
            return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,                  \
                           "%s failed: %s (%d) at %s:%d",                  \
                           call_name(#call), cu_message(cb_r_),            \
                           (int)cb_r_, __FILE__, __LINE__);                \
        }                                                                  \
    } while (0)

cubie_status cb_cuda_describe(char *out, size_t n, cubie_error *err)
{
    char why[512];
    if (!cb_cuda_usable(why, sizeof(why))) {
        return cb_fail(err, CUBIE_E_BACKEND, NULL, 0, "%s", why);
    }
    int count = 0, version = 0;
    CU_TRY(drv.f_cuDeviceGetCount(&count));
    CU_TRY(drv.f_cuDriverGetVersion(&version));
    size_t used = (size_t)snprintf(out, n, "driver %d.%d, %d device%s\n",
                                   version / 1000, (version % 1000) / 10,
                                   count, count == 1 ? "" : "s");
    for (int i = 0; i < count && used < n; i++) {
        CUdevice d;
        char name[256];
        int major = 0, minor = 0, sms = 0;
        size_t mem = 0;
        CU_TRY(drv.f_cuDeviceGet(&d, i));
        CU_TRY(drv.f_cuDeviceGetName(name, sizeof(name), d));
        CU_TRY(drv.f_cuDeviceGetAttribute(
            &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d));
        CU_TRY(drv.f_cuDeviceGetAttribute(
            &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d));
        CU_TRY(drv.f_cuDeviceGetAttribute(
            &sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d));
        CU_TRY(drv.f_cuDeviceTotalMem(&mem, d));
        used += (size_t)snprintf(out + used, n - used,
                                 "device %d: %s, sm_%d%d, %d SMs, %.1f GiB\n",
                                 i, name, major, minor, sms,
                                 (double)mem / (1024.0 * 1024.0 * 1024.0));
    }
    return CUBIE_OK;
}

struct cb_cuda_kernel {
    CUmodule module;
    CUfunction fn;
    size_t shared_per_run;  /* bytes of dynamic shared memory per run */
    int max_shared;         /* opt-in limit per block */
    int max_threads;        /* per block, given the kernel's registers */
};

cubie_status cb_cuda_load(const char *source, const cb_nvrtc_opts *base,
                          size_t shared_bytes_per_run, cb_cuda_kernel **out,
                          char *arch_used, size_t arch_n, cubie_error *err)
{
    *out = NULL;
    char why[512];
    if (!cb_cuda_usable(why, sizeof(why))) {
        return cb_fail(err, CUBIE_E_BACKEND, "backend", 0,
                       "backend=cuda: %s", why);
    }
    CU_TRY(drv.f_cuCtxSetCurrent(drv.ctx));
    int major = 0, minor = 0, max_shared = 0;
    CU_TRY(drv.f_cuDeviceGetAttribute(
        &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, drv.dev));
    CU_TRY(drv.f_cuDeviceGetAttribute(
        &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, drv.dev));
    CU_TRY(drv.f_cuDeviceGetAttribute(
        &max_shared, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
        drv.dev));
    if (shared_bytes_per_run > (size_t)max_shared) {
        return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                       "one run needs %zu bytes of shared memory; the "
                       "device allows %d per block: move buffers to local "
                       "memory (<buffer>_location=local)",
                       shared_bytes_per_run, max_shared);
    }
    /* The device's own architecture as CUBIN, or (say the device is newer
     * than NVRTC) PTX for the newest architecture NVRTC knows. */
    char arch[32];
    cb_nvrtc_opts o = *base;
    if (o.arch == NULL || o.arch[0] == '\0') {
        snprintf(arch, sizeof(arch), "sm_%d%d", major, minor);
        o.arch = arch;
    }
    cb_artifact art;
    cubie_error tmp = {0};
    cubie_status st = cb_nvrtc_build(source, &o, &art, &tmp);
    if (st != CUBIE_OK && strncmp(o.arch, "sm_", 3) == 0) {
        cubie_error_clear(&tmp);
        int archs[64], n_archs = 0, best = 0;
        const int want = major * 10 + minor;
        if (nvrtcGetNumSupportedArchs(&n_archs) == NVRTC_SUCCESS &&
            n_archs > 0 && n_archs <= 64 &&
            nvrtcGetSupportedArchs(archs) == NVRTC_SUCCESS) {
            for (int i = 0; i < n_archs; i++) {
                if (archs[i] <= want && archs[i] > best) {
                    best = archs[i];
                }
            }
        }
        if (best == 0) {
            return cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                           "NVRTC %s cannot build for sm_%d%d or any older "
                           "architecture", cb_nvrtc_version(), major, minor);
        }
        snprintf(arch, sizeof(arch), "compute_%d", best);
        o.arch = arch;
        st = cb_nvrtc_build(source, &o, &art, err);
    } else if (st != CUBIE_OK) {
        if (err != NULL && err->status == CUBIE_OK) {
            *err = tmp;
        } else {
            cubie_error_clear(&tmp);
        }
    }
    if (st != CUBIE_OK) {
        return st;
    }
    snprintf(arch_used, arch_n, "%s", o.arch);
    cb_cuda_kernel *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        cb_artifact_free(&art);
        return cb_fail_nomem(err);
    }
    CUresult r = drv.f_cuModuleLoadData(&k->module, art.image);
    cb_artifact_free(&art);
    if (r != CUDA_SUCCESS) {
        free(k);
        return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                       "cuModuleLoadData failed: %s (%d)", cu_message(r),
                       (int)r);
    }
    r = drv.f_cuModuleGetFunction(&k->fn, k->module, "cubie_kernel");
    if (r != CUDA_SUCCESS) {
        drv.f_cuModuleUnload(k->module);
        free(k);
        return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                       "cuModuleGetFunction(cubie_kernel) failed: %s",
                       cu_message(r));
    }
    k->shared_per_run = shared_bytes_per_run;
    k->max_shared = max_shared;
    k->max_threads = 1024;
    r = drv.f_cuFuncGetAttribute(&k->max_threads,
                                 CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, k->fn);
    if (r != CUDA_SUCCESS || k->max_threads <= 0) {
        k->max_threads = 1024;
    }
    if (max_shared > 48 * 1024) {
        /* Opt in once to the device's limit, so launches and occupancy
         * queries may use more than the 48 KiB default. */
        r = drv.f_cuFuncSetAttribute(
            k->fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            max_shared);
        if (r != CUDA_SUCCESS) {
            drv.f_cuModuleUnload(k->module);
            free(k);
            return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                           "cuFuncSetAttribute(max dynamic shared = %d) "
                           "failed: %s", max_shared, cu_message(r));
        }
    }
    *out = k;
    return CUBIE_OK;
}

void cb_cuda_unload(cb_cuda_kernel *k)
{
    if (k == NULL) {
        return;
    }
    /* The caller's thread may not have the context current. */
    drv.f_cuCtxSetCurrent(drv.ctx);
    drv.f_cuModuleUnload(k->module);
    free(k);
}

cubie_status cb_cuda_occupancy(cb_cuda_kernel *k, int blocksize,
                               int *blocks_per_sm, int *max_threads_per_sm,
                               cubie_error *err)
{
    CU_TRY(drv.f_cuCtxSetCurrent(drv.ctx));
    CU_TRY(drv.f_cuOccupancyMaxActiveBlocksPerMultiprocessor(
        blocks_per_sm, k->fn, blocksize,
        (size_t)blocksize * k->shared_per_run));
    CU_TRY(drv.f_cuDeviceGetAttribute(
        max_threads_per_sm,
        CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, drv.dev));
    return CUBIE_OK;
}

size_t cb_cuda_free_memory(cb_cuda_kernel *k)
{
    size_t free_b = 0, total = 0;
    (void)k;
    if (drv.ready && drv.f_cuCtxSetCurrent(drv.ctx) == CUDA_SUCCESS &&
        drv.f_cuMemGetInfo(&free_b, &total) == CUDA_SUCCESS) {
        return free_b;
    }
    return 0;
}

cubie_status cb_cuda_run(cb_cuda_kernel *k, int blocksize, size_t real_size,
                         const void *inits, size_t inits_bytes,
                         const void *params, size_t params_bytes,
                         const void *settings, size_t settings_bytes,
                         void *state_out, size_t state_bytes, void *obs_out,
                         size_t obs_bytes, int *counters_out,
                         size_t counters_bytes, int *status_out, int n_runs,
                         int n_saves, int max_steps, double *ms,
                         double *copy_ms, cubie_error *err)
{
    (void)real_size;
    CU_TRY(drv.f_cuCtxSetCurrent(drv.ctx));
    /* Halve the block while its shared memory passes the device limit
     * (and 32 KiB when that allows full occupancy more easily). */
    int bs = blocksize > 0 ? blocksize : 256;
    if (bs > k->max_threads) {
        bs = k->max_threads; /* registers or the 1024-thread limit */
    }
    while (bs > 1 && (size_t)bs * k->shared_per_run > (size_t)k->max_shared) {
        bs /= 2;
    }
    size_t shared = (size_t)bs * k->shared_per_run;
    if (shared > (size_t)k->max_shared) {
        return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                       "%d runs of %zu shared bytes exceed the device's %d",
                       bs, k->shared_per_run, k->max_shared);
    }
    if (shared > 48 * 1024) {
        CU_TRY(drv.f_cuFuncSetAttribute(
            k->fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            (int)shared));
    }
    const double t_in = cb_now_ms();
    CUdeviceptr d[7] = {0};
    const size_t sizes[7] = {inits_bytes,    params_bytes, settings_bytes,
                             state_bytes,    obs_bytes,    counters_bytes,
                             (size_t)n_runs * sizeof(int)};
    cubie_status st = CUBIE_OK;
    CUevent e0 = NULL, e1 = NULL;
    for (int i = 0; i < 7 && st == CUBIE_OK; i++) {
        CUresult r = drv.f_cuMemAlloc(&d[i], sizes[i] > 0 ? sizes[i] : 4);
        if (r != CUDA_SUCCESS) {
            st = cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                         "cuMemAlloc(%zu bytes) failed: %s (%d)", sizes[i],
                         cu_message(r), (int)r);
        }
    }
/* After the first failure the remaining calls are skipped. */
#define RUN_TRY(call)                                                      \
    do {                                                                   \
        if (st == CUBIE_OK) {                                              \
            CUresult cb_r_ = (call);                                       \
            if (cb_r_ != CUDA_SUCCESS) {                                   \
                st = cb_fail(err, CUBIE_E_BACKEND, NULL, 0,                \
                             "%s failed: %s (%d)", call_name(#call),       \
                             cu_message(cb_r_), (int)cb_r_);               \
            }                                                              \
        }                                                                  \
    } while (0)
    if (st == CUBIE_OK) {
        RUN_TRY(drv.f_cuMemcpyHtoD(d[0], inits, inits_bytes));
        if (params_bytes > 0) {
            RUN_TRY(drv.f_cuMemcpyHtoD(d[1], params, params_bytes));
        }
        RUN_TRY(drv.f_cuMemcpyHtoD(d[2], settings, settings_bytes));
        /* Rows a failed run never reaches come back as NaN. */
        RUN_TRY(drv.f_cuMemcpyHtoD(d[3], state_out, state_bytes));
        if (obs_bytes > 0) {
            RUN_TRY(drv.f_cuMemcpyHtoD(d[4], obs_out, obs_bytes));
        }
        /* Counters rows a failed run never reaches come back as zeros. */
        if (counters_bytes > 0) {
            RUN_TRY(drv.f_cuMemcpyHtoD(d[5], counters_out, counters_bytes));
        }
        RUN_TRY(drv.f_cuEventCreate(&e0, CU_EVENT_DEFAULT));
        RUN_TRY(drv.f_cuEventCreate(&e1, CU_EVENT_DEFAULT));
    }
    double t_out = 0.0, copies = cb_now_ms() - t_in;
    if (st == CUBIE_OK) {
        int nr = n_runs, ns = n_saves, mx = max_steps;
        void *args[] = {&d[0], &d[1], &d[2], &d[3], &d[4], &d[5], &d[6],
                        &nr,   &ns,   &mx};
        unsigned grid = (unsigned)((n_runs + bs - 1) / bs);
        RUN_TRY(drv.f_cuEventRecord(e0, NULL));
        RUN_TRY(drv.f_cuLaunchKernel(k->fn, grid, 1, 1, (unsigned)bs, 1, 1,
                                   (unsigned)shared, NULL, args, NULL));
        RUN_TRY(drv.f_cuEventRecord(e1, NULL));
        RUN_TRY(drv.f_cuEventSynchronize(e1));
        float f = 0.0f;
        RUN_TRY(drv.f_cuEventElapsedTime(&f, e0, e1));
        *ms = f;
        t_out = cb_now_ms();
        RUN_TRY(drv.f_cuMemcpyDtoH(state_out, d[3], state_bytes));
        if (obs_bytes > 0) {
            RUN_TRY(drv.f_cuMemcpyDtoH(obs_out, d[4], obs_bytes));
        }
        if (counters_bytes > 0) {
            RUN_TRY(drv.f_cuMemcpyDtoH(counters_out, d[5], counters_bytes));
        }
        RUN_TRY(drv.f_cuMemcpyDtoH(status_out, d[6],
                                 (size_t)n_runs * sizeof(int)));
        copies += cb_now_ms() - t_out;
    }
    *copy_ms = copies;
#undef RUN_TRY
    if (e0 != NULL) {
        drv.f_cuEventDestroy(e0);
    }
    if (e1 != NULL) {
        drv.f_cuEventDestroy(e1);
    }
    for (int i = 0; i < 7; i++) {
        if (d[i] != 0) {
            drv.f_cuMemFree(d[i]);
        }
    }
    return st;
}
#else
const char *cb_nvrtc_version(void)
{
    return "none";
}

cubie_status cb_nvrtc_build(const char *source, const cb_nvrtc_opts *o,
                            cb_artifact *out, cubie_error *err)
{
    (void)source;
    memset(out, 0, sizeof(*out));
    return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                   "cannot compile for %s: cubie was built without the CUDA "
                   "toolkit (NVRTC)", o->arch);
}

bool cb_cuda_usable(char *why, size_t n)
{
    snprintf(why, n, "cubie was built without the CUDA toolkit");
    return false;
}

cubie_status cb_cuda_describe(char *out, size_t n, cubie_error *err)
{
    (void)out;
    (void)n;
    return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                   "cubie was built without the CUDA toolkit");
}

cubie_status cb_cuda_load(const char *source, const cb_nvrtc_opts *base,
                          size_t shared_bytes_per_run, cb_cuda_kernel **out,
                          char *arch_used, size_t arch_n, cubie_error *err)
{
    (void)source;
    (void)base;
    (void)shared_bytes_per_run;
    (void)arch_used;
    (void)arch_n;
    *out = NULL;
    return cb_fail(err, CUBIE_E_BACKEND, "backend", 0,
                   "backend=cuda: cubie was built without the CUDA toolkit");
}

void cb_cuda_unload(cb_cuda_kernel *k)
{
    (void)k;
}

size_t cb_cuda_free_memory(cb_cuda_kernel *k)
{
    (void)k;
    return 0;
}

cubie_status cb_cuda_occupancy(cb_cuda_kernel *k, int blocksize,
                               int *blocks_per_sm, int *max_threads_per_sm,
                               cubie_error *err)
{
    (void)k, (void)blocksize, (void)blocks_per_sm, (void)max_threads_per_sm;
    return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                   "cubie was built without the CUDA toolkit");
}

cubie_status cb_cuda_run(cb_cuda_kernel *k, int blocksize, size_t real_size,
                         const void *inits, size_t inits_bytes,
                         const void *params, size_t params_bytes,
                         const void *settings, size_t settings_bytes,
                         void *state_out, size_t state_bytes, void *obs_out,
                         size_t obs_bytes, int *counters_out,
                         size_t counters_bytes, int *status_out, int n_runs,
                         int n_saves, int max_steps, double *ms,
                         double *copy_ms, cubie_error *err)
{
    (void)copy_ms;
    (void)k, (void)blocksize, (void)real_size, (void)inits,
        (void)inits_bytes, (void)params, (void)params_bytes, (void)settings,
        (void)settings_bytes, (void)state_out, (void)state_bytes,
        (void)obs_out, (void)obs_bytes, (void)counters_out,
        (void)counters_bytes, (void)status_out, (void)n_runs, (void)n_saves,
        (void)max_steps, (void)ms;
    return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                   "cubie was built without the CUDA toolkit");
}
#endif
