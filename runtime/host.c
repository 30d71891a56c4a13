/* The host backend: the generated .cu compiled by the system C compiler
 * ($CC, default cc) with OpenMP into a shared object, dlopen-ed. Objects
 * are cached by a hash of the source, the command line, the compiler's
 * version and the processor; a new object is written to a temporary file
 * and renamed into place, so concurrent processes never load a
 * half-written one. Two passes: build (find or make the object) and load
 * (dlopen it). */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* -march=native: the object runs on the machine that builds it. The source
 * is C in its host branch (templates/prelude.cu). */
static const char host_flags[] =
    "-x c -std=gnu11 -O3 -march=native -fopenmp -fPIC -shared";

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

/* Compile source in a private folder (left in m->dir for load to remove)
 * into m->so, or into the cache. */
static cubie_status compile(const char *source, bool have_cache,
                            const char *cached, cb_host_module *m,
                            cubie_error *err)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(m->dir, sizeof(m->dir), "%.300s/cubie-build-XXXXXX",
             tmp != NULL && *tmp ? tmp : "/tmp");
    if (mkdtemp(m->dir) == NULL) {
        return cb_fail(err, CUBIE_E_IO, m->dir, 0,
                       "cannot create a build folder %s: %s", m->dir,
                       strerror(errno));
    }
    char src_path[600], log_path[600], obj[600], cmd[2400];
    snprintf(src_path, sizeof(src_path), "%s/kernel.c", m->dir);
    snprintf(log_path, sizeof(log_path), "%s/cc.log", m->dir);
    snprintf(obj, sizeof(obj), "%s/kernel.so", m->dir);
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
    if (rc != 0) {
        cubie_status st = cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                                  "the host compiler failed (exit %d): %s; "
                                  "source kept at %s", rc, cmd, src_path);
        if (err != NULL && err->log == NULL) {
            err->log = cb_read_file(log_path, NULL);
            snprintf(err->dump_path, sizeof(err->dump_path), "%.500s",
                     src_path);
        }
        m->dir[0] = '\0'; /* keep the folder for the user to inspect */
        return st;
    }
    unlink(src_path);
    unlink(log_path);
    /* Rename into place: atomic, so a reader sees all or nothing. */
    if (have_cache && rename(obj, cached) == 0) {
        snprintf(m->so, sizeof(m->so), "%s", cached);
    } else {
        snprintf(m->so, sizeof(m->so), "%s", obj);
    }
    return CUBIE_OK;
}

cubie_status cb_host_build(const char *source, bool use_cache,
                           cb_host_module *m, cubie_error *err)
{
    memset(m, 0, sizeof(*m));
    char cache[768], version[256], cpu[33], key[33];
    m->have_cache = use_cache && cb_cache_dir(cache, sizeof(cache));
    compiler_version(version, sizeof(version));
    /* -march=native: an object built on one processor may not run on
     * another sharing the cache folder, so the processor is in the key. */
    cb_cpu_signature(cpu);
    const char *parts[] = {source, host_cc(), host_flags, version, cpu};
    cb_hash_hex(parts, 5, key);
    if (m->have_cache) {
        snprintf(m->cached, sizeof(m->cached), "%s/host-%s.so", cache, key);
        if (access(m->cached, R_OK) == 0) {
            snprintf(m->so, sizeof(m->so), "%s", m->cached);
            m->cache_hit = true;
            return CUBIE_OK;
        }
    }
    return compile(source, m->have_cache, m->cached, m, err);
}

static cubie_status open_object(cb_host_module *m, cubie_error *err)
{
    /* Pin the OpenMP runtime: were it unloaded with the last kernel that
     * needs it, its idle worker threads would run unmapped code. */
    static void *gomp = NULL;
    if (gomp == NULL) {
        gomp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    }
    m->handle = dlopen(m->so, RTLD_NOW | RTLD_LOCAL);
    if (m->handle == NULL) {
        return cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                       "cannot load the host kernel %s: %s", m->so,
                       dlerror());
    }
    *(void **)&m->run = dlsym(m->handle, "cubie_host_run");
    if (m->run == NULL) {
        dlclose(m->handle);
        m->handle = NULL;
        return cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                       "the host kernel %s has no cubie_host_run", m->so);
    }
    return CUBIE_OK;
}

cubie_status cb_host_load(const char *source, cb_host_module *m,
                          cubie_error *err)
{
    cubie_status st = open_object(m, m->cache_hit ? NULL : err);
    if (st != CUBIE_OK && m->cache_hit) {
        /* A cached object that does not load is built again. */
        m->cache_hit = false;
        st = compile(source, m->have_cache, m->cached, m, err);
        if (st == CUBIE_OK) {
            st = open_object(m, err);
        }
    }
    if (m->dir[0] != '\0') {
        /* dlopen keeps its mapping: the build folder can go. */
        char obj[600];
        snprintf(obj, sizeof(obj), "%s/kernel.so", m->dir);
        unlink(obj);
        rmdir(m->dir);
        m->dir[0] = '\0';
    }
    return st;
}

void cb_host_unload(cb_host_module *m)
{
    if (m->handle != NULL) {
        dlclose(m->handle);
    }
    memset(m, 0, sizeof(*m));
}
