/* NVRTC: the generated kernel compiled to PTX or CUBIN, the artifacts
 * cached on disk (keyed by the source, every option and NVRTC's version),
 * and the resources ptxas reports. Everything here works without a GPU
 * or a driver; without the toolkit at build time every call says so with
 * CUBIE_E_BACKEND. */
#include "cuda_build.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "util.h"

/* The number written just before `at` in text ("..., 1024 bytes smem"):
 * skips blanks back from at, then reads the digits; 0 where there are
 * none. Never reads before text. */
static int number_before(const char *text, const char *at)
{
    const char *q = at;
    while (q > text && isspace((unsigned char)q[-1])) {
        q--;
    }
    const char *end = q;
    while (q > text && isdigit((unsigned char)q[-1]) && end - q < 9) {
        q--;
    }
    return q < end ? atoi(q) : 0;
}

/* The resources of cubie_kernel: ptxas reports every entry function (the
 * stores too, in an order that depends on the optimisation level), so
 * only the block that starts at cubie_kernel's "Compiling entry
 * function" and ends at the next one is read; a log without such a line
 * is read whole. */
void cb_parse_resources(const char *log, cb_resources *out)
{
    memset(out, 0, sizeof(*out));
    if (log == NULL) {
        return;
    }
    static const char entry[] = "Compiling entry function";
    const char *from = strstr(log, "Compiling entry function 'cubie_kernel'");
    char *block = NULL;
    if (from != NULL) {
        const char *next = strstr(from + sizeof(entry), entry);
        block = next != NULL ? strndup(from, (size_t)(next - from))
                             : strdup(from);
        if (block == NULL) {
            return;
        }
        log = block;
    }
    const char *p = strstr(log, "Used ");
    if (p != NULL && sscanf(p, "Used %d registers", &out->registers) == 1) {
        out->found = true;
        const char *smem = strstr(p, "bytes smem");
        if (smem != NULL) {
            out->smem = number_before(p, smem);
        }
    }
    p = strstr(log, "bytes stack frame");
    if (p != NULL) {
        out->stack = number_before(log, p);
        sscanf(p, "bytes stack frame, %d bytes spill stores, %d bytes spill "
                  "loads", &out->spill_stores, &out->spill_loads);
    }
    free(block);
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
#include <nvrtc.h>


bool cb_nvrtc_available(void)
{
    return true;
}

cubie_status cb_nvrtc_compile(const char *source, const char *arch,
                              const char *const *extra, char **image,
                              size_t *image_len, char **log,
                              cubie_error *err)
{
    *image = NULL;
    *image_len = 0;
    if (log != NULL) {
        *log = NULL;
    }
    bool cubin = strncmp(arch, "sm_", 3) == 0;
    nvrtcProgram prog;
    nvrtcResult r = nvrtcCreateProgram(&prog, source, "cubie_kernel.cu", 0,
                                       NULL, NULL);
    if (r != NVRTC_SUCCESS) {
        return cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                       "nvrtcCreateProgram: %s", nvrtcGetErrorString(r));
    }
    char arch_opt[64];
    snprintf(arch_opt, sizeof(arch_opt), "--gpu-architecture=%s", arch);
    const char *opts[32];
    int n = 0;
    opts[n++] = arch_opt;
    opts[n++] = "--std=c++17";
    for (int i = 0; extra != NULL && extra[i] != NULL && n < 31; i++) {
        opts[n++] = extra[i];
    }
    r = nvrtcCompileProgram(prog, n, opts);
    size_t log_len = 0;
    char *text = NULL;
    if (nvrtcGetProgramLogSize(prog, &log_len) == NVRTC_SUCCESS &&
        (text = malloc(log_len + 1)) != NULL) {
        nvrtcGetProgramLog(prog, text);
        text[log_len] = '\0';
    }
    cubie_status st = CUBIE_OK;
    if (r != NVRTC_SUCCESS) {
        st = cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                     "NVRTC failed for %s (%s):\n%s", arch,
                     nvrtcGetErrorString(r), text ? text : "(no log)");
        if (err != NULL && err->log == NULL && text != NULL) {
            err->log = strdup(text);
        }
    } else {
        size_t len = 0;
        r = cubin ? nvrtcGetCUBINSize(prog, &len) : nvrtcGetPTXSize(prog, &len);
        if (r != NVRTC_SUCCESS || len == 0 ||
            (*image = malloc(len + 1)) == NULL) {
            st = cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                         "NVRTC produced no %s for %s",
                         cubin ? "CUBIN" : "PTX", arch);
        } else {
            r = cubin ? nvrtcGetCUBIN(prog, *image) : nvrtcGetPTX(prog, *image);
            (*image)[len] = '\0';
            *image_len = len;
        }
    }
    if (log != NULL) {
        *log = text;
    } else {
        free(text);
    }
    nvrtcDestroyProgram(&prog);
    return st;
}

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
    char cache[768], base[900], key[33], why[512];
    const char *parts[] = {source, o->arch, opts, cb_nvrtc_version()};
    cb_hash_hex(parts, 4, key);
    bool have_cache = o->use_cache &&
                      cb_cache_dir(cache, sizeof(cache), why, sizeof(why));
    if (o->use_cache && !have_cache) {
        snprintf(out->note, sizeof(out->note), "%s", why);
    }
    if (have_cache) {
        snprintf(base, sizeof(base), "%s/nvrtc-%s-%s.kernel", cache, key,
                 out->is_cubin ? "cubin" : "ptx");
        /* One entry: the image and its log, checked whole. */
        cb_cache_entry e;
        const cb_cache_state cs = cb_cache_read(base, 2, &e, why,
                                                sizeof(why));
        if (cs == CB_CACHE_BAD) {
            snprintf(out->note, sizeof(out->note), "%s; rebuilt", why);
        }
        if (cs == CB_CACHE_HIT && e.parts[0].len > 0) {
            out->image = malloc(e.parts[0].len + 1);
            out->log = malloc(e.parts[1].len + 1);
            if (out->image != NULL && out->log != NULL) {
                memcpy(out->image, e.parts[0].data, e.parts[0].len);
                out->image[e.parts[0].len] = '\0';
                out->len = e.parts[0].len;
                memcpy(out->log, e.parts[1].data, e.parts[1].len);
                out->log[e.parts[1].len] = '\0';
                cb_cache_entry_free(&e);
                cb_parse_resources(out->log, &out->res);
                if (!out->res.found && out->is_cubin) {
                    cb_cubin_resources(out->image, out->len, &out->res);
                }
                out->cache_hit = true;
                out->ms = cb_now_ms() - t0;
                return CUBIE_OK;
            }
            free(out->image);
            free(out->log);
            out->image = out->log = NULL;
        }
        if (cs == CB_CACHE_HIT) {
            cb_cache_entry_free(&e);
        }
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
        const cb_part entry[2] = {
            {out->image, out->len},
            {out->log != NULL ? out->log : "",
             out->log != NULL ? strlen(out->log) : 0}};
        if (!cb_cache_write(base, cb_nvrtc_version(), entry, 2) &&
            out->note[0] == '\0') {
            snprintf(out->note, sizeof(out->note),
                     "the kernel could not be written to the cache");
        }
    }
    out->ms = cb_now_ms() - t0;
    return CUBIE_OK;
}

int cb_nvrtc_best_arch(int want)
{
    int archs[64], n_archs = 0, best = 0;
    if (nvrtcGetNumSupportedArchs(&n_archs) == NVRTC_SUCCESS && n_archs > 0 &&
        n_archs <= 64 && nvrtcGetSupportedArchs(archs) == NVRTC_SUCCESS) {
        for (int i = 0; i < n_archs; i++) {
            if (archs[i] <= want && archs[i] > best) {
                best = archs[i];
            }
        }
    }
    return best;
}
#else
bool cb_nvrtc_available(void)
{
    return false;
}

cubie_status cb_nvrtc_compile(const char *source, const char *arch,
                              const char *const *extra, char **image,
                              size_t *image_len, char **log,
                              cubie_error *err)
{
    (void)source;
    (void)extra;
    *image = NULL;
    *image_len = 0;
    if (log != NULL) {
        *log = NULL;
    }
    return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                   "cannot compile for %s: cubie was built without NVRTC",
                   arch);
}
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

int cb_nvrtc_best_arch(int want)
{
    (void)want;
    return 0;
}
#endif
