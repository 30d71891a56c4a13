/* The host backend: the generated .cu compiled by the system C compiler
 * ($CC, default cc) with OpenMP into a shared object, dlopen-ed. Objects
 * are cached by a hash of the source, the command line and the compiler's
 * version; a new object is written to a temporary file and renamed into
 * place, so concurrent processes never load a half-written one. */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* -march=native: the object runs on the machine that builds it. The source
 * is C in its host branch (templates/prelude.cu). */
static const char host_flags[] =
    "-x c -std=gnu11 -O3 -march=native -fopenmp -fPIC -shared";

double cb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static bool make_dirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return false;
            }
            *p = '/';
        }
    }
    return mkdir(buf, 0755) == 0 || errno == EEXIST;
}

bool cb_cache_dir(char *out, size_t n)
{
    const char *env = getenv("CUBIE_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (env != NULL && *env) {
        snprintf(out, n, "%s", env);
    } else if (xdg != NULL && *xdg) {
        snprintf(out, n, "%s/cubie", xdg);
    } else if (home != NULL && *home) {
        snprintf(out, n, "%s/.cache/cubie", home);
    } else {
        return false;
    }
    return make_dirs(out);
}

/* Two independent 64-bit FNV-1a streams (different offset bases). A
 * cache key, not a security boundary. */
void cb_hash_hex(const char *const *parts, size_t n_parts, char out[33])
{
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
    for (size_t i = 0; i < n_parts; i++) {
        const unsigned char *p = (const unsigned char *)parts[i];
        for (; *p; p++) {
            h1 = (h1 ^ *p) * 0x100000001b3ull;
            h2 = (h2 ^ (unsigned char)(*p + 0x5b)) * 0x100000001b3ull;
        }
        h1 = (h1 ^ 0xff) * 0x100000001b3ull; /* part separator */
        h2 = (h2 ^ 0x7f) * 0x100000001b3ull;
    }
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h1,
             (unsigned long long)h2);
}

static const char *host_cc(void)
{
    const char *cc = getenv("CC");
    return cc != NULL && *cc ? cc : "cc";
}

/* First line of `$CC --version`, for the cache key; asked once per
 * compiler per process (a cache hit should not pay for a fork). */
static void compiler_version_uncached(char *out, size_t n)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s --version 2>/dev/null", host_cc());
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return;
    }
    if (fgets(out, (int)n, p) == NULL) {
        out[0] = '\0';
    }
    pclose(p);
}

static pthread_mutex_t version_lock = PTHREAD_MUTEX_INITIALIZER;

static void compiler_version(char *out, size_t n)
{
    static char cc[256], version[256];
    pthread_mutex_lock(&version_lock);
    if (strcmp(cc, host_cc()) != 0) {
        snprintf(cc, sizeof(cc), "%s", host_cc());
        compiler_version_uncached(version, sizeof(version));
    }
    snprintf(out, n, "%s", version);
    pthread_mutex_unlock(&version_lock);
}


/* A hash of the processor's model and feature flags (/proc/cpuinfo's
 * first "model name" and "flags" lines), or zeros where unreadable. */
static void cpu_signature(char out[33])
{
    char model[256] = "", flags[4096] = "", line[4096];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (model[0] == '\0' && strncmp(line, "model name", 10) == 0) {
            snprintf(model, sizeof(model), "%.255s", line);
        } else if (flags[0] == '\0' && strncmp(line, "flags", 5) == 0) {
            snprintf(flags, sizeof(flags), "%s", line);
        }
        if (model[0] != '\0' && flags[0] != '\0') {
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    const char *parts[] = {model, flags};
    cb_hash_hex(parts, 2, out);
}

static cubie_status load(const char *so, cb_host_module *out,
                         cubie_error *err)
{
    /* Pin the OpenMP runtime: were it unloaded with the last kernel that
     * needs it, its idle worker threads would run unmapped code. */
    static void *gomp = NULL;
    if (gomp == NULL) {
        gomp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    }
    out->handle = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (out->handle == NULL) {
        return cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                       "cannot load the host kernel %s: %s", so, dlerror());
    }
    *(void **)&out->run = dlsym(out->handle, "cubie_host_run");
    if (out->run == NULL) {
        dlclose(out->handle);
        out->handle = NULL;
        return cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                       "the host kernel %s has no cubie_host_run", so);
    }
    return CUBIE_OK;
}

cubie_status cb_host_build(const char *source, bool use_cache,
                           cb_host_module *out, cubie_error *err)
{
    memset(out, 0, sizeof(*out));
    char cache[768], so[1024], version[256];
    bool have_cache = use_cache && cb_cache_dir(cache, sizeof(cache));
    compiler_version(version, sizeof(version));
    /* -march=native: an object built on one processor may not run on
     * another sharing the cache folder, so the processor is in the key. */
    char cpu[33];
    cpu_signature(cpu);
    const char *parts[] = {source, host_cc(), host_flags, version, cpu};
    char key[33];
    cb_hash_hex(parts, 5, key);
    if (have_cache) {
        snprintf(so, sizeof(so), "%s/host-%s.so", cache, key);
        if (access(so, R_OK) == 0 && load(so, out, NULL) == CUBIE_OK) {
            out->cache_hit = true;
            return CUBIE_OK;
        }
    }
    /* A private folder for this build: the source, the log, the object. */
    const char *tmp = getenv("TMPDIR");
    char dir[400];
    snprintf(dir, sizeof(dir), "%.300s/cubie-build-XXXXXX",
             tmp != NULL && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        return cb_fail(err, CUBIE_E_IO, dir, 0,
                       "cannot create a build folder %s: %s", dir,
                       strerror(errno));
    }
    char src_path[600], log_path[600], obj[600], cmd[2400];
    snprintf(src_path, sizeof(src_path), "%s/kernel.c", dir);
    snprintf(log_path, sizeof(log_path), "%s/cc.log", dir);
    snprintf(obj, sizeof(obj), "%s/kernel.so", dir);
    FILE *f = fopen(src_path, "wb");
    if (f == NULL || fputs(source, f) == EOF) {
        if (f != NULL) {
            fclose(f);
        }
        return cb_fail(err, CUBIE_E_IO, src_path, 0, "cannot write %s",
                       src_path);
    }
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s %s -o '%s' '%s' -lm > '%s' 2>&1",
             host_cc(), host_flags, obj, src_path, log_path);
    int rc = system(cmd);
    cubie_status st = CUBIE_OK;
    if (rc != 0) {
        st = cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                     "the host compiler failed (exit %d): %s; source kept "
                     "at %s", rc, cmd, src_path);
        if (err != NULL && err->log == NULL) {
            err->log = cb_read_file(log_path, NULL);
            snprintf(err->dump_path, sizeof(err->dump_path), "%.500s", src_path);
        }
        return st; /* keep the folder for the user to inspect */
    }
    if (have_cache) {
        /* Rename into place: atomic, so a reader sees all or nothing. */
        if (rename(obj, so) != 0) {
            snprintf(so, sizeof(so), "%s", obj);
        }
    } else {
        snprintf(so, sizeof(so), "%s", obj);
    }
    st = load(so, out, err);
    /* dlopen keeps its mapping: the build folder can go. */
    unlink(src_path);
    unlink(log_path);
    unlink(obj);
    rmdir(dir);
    return st;
}

void cb_host_unload(cb_host_module *m)
{
    if (m->handle != NULL) {
        dlclose(m->handle);
    }
    memset(m, 0, sizeof(*m));
}
