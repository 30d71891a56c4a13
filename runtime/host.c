/* The host backend: the generated .cu compiled by the system C compiler
 * ($CC, default cc) with OpenMP into a shared object, dlopen-ed. Two
 * passes: build (find the object in the cache or compile it) and load
 * (dlopen it).
 *
 * The compiler runs through posix_spawnp with an argument vector ($CC
 * split at blanks, no shell), its output in a log the error carries. A
 * cached object is one cache entry (cache.h): checked whole, then loaded
 * from memory (a memfd), so what was checked is what runs. Its key is the
 * source, $CC, the flags and the processor; the compiler's identity (its
 * path, size and time) is recorded in the entry, so a new compiler builds
 * anew, and a machine without the compiler still runs what one built. */
#include "internal.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The source is C in its host branch (templates/prelude.cu). -march is
 * native unless CUBIE_HOST_MARCH names another target (x86-64-v2 for
 * valgrind, which cannot decode AVX-512): the object runs on the machine
 * that builds it. -fno-math-errno (the kernel never reads errno) lets
 * the math calls of the host lanes vectorise (libmvec), and
 * -fno-trapping-math (nor the floating-point flags) their compares. -ffp-contract=off:
 * every operation is rounded as written, so a run's result does not
 * depend on how the compiler laid out or vectorised the code (lanes or
 * one run at a time, any block width); fused multiply-adds are the
 * generator's explicit fma calls. */
static const char *const host_flags[] = {
    "-x", "c", "-std=gnu11", "-O3", "-fopenmp", "-fno-math-errno",
    "-fno-trapping-math", "-ffp-contract=off", "-fPIC", "-shared", NULL};

/* "-march=native", or "-march=$CUBIE_HOST_MARCH" where that is a plain
 * name (letters, digits, '-', '_', '.'). */
static void march_flag(char out[80])
{
    const char *m = getenv("CUBIE_HOST_MARCH");
    bool plain = m != NULL && *m && strlen(m) < 64;
    for (const char *p = m; plain && *p; p++) {
        plain = isalnum((unsigned char)*p) || *p == '-' || *p == '_' ||
                *p == '.';
    }
    snprintf(out, 80, "-march=%s", plain ? m : "native");
}

static const char *host_cc(void)
{
    const char *cc = getenv("CC");
    return cc != NULL && *cc ? cc : "cc";
}

/* ---- the compiler's command line --------------------------------------- */

enum { MAX_ARGS = 64 };

typedef struct {
    char words[1024];     /* $CC with a NUL after each word */
    const char *argv[MAX_ARGS + 1];
    int argc;
} command;

/* $CC split at blanks (no quoting: a shell is never involved), then the
 * extra arguments. false if it does not fit or is empty. */
static bool command_init(command *c, const char *const *extra)
{
    memset(c, 0, sizeof(*c));
    const char *cc = host_cc();
    if (strlen(cc) >= sizeof(c->words)) {
        return false;
    }
    memcpy(c->words, cc, strlen(cc) + 1);
    for (char *p = c->words; *p != '\0';) {
        while (*p == ' ' || *p == '\t') {
            *p++ = '\0';
        }
        if (*p == '\0') {
            break;
        }
        if (c->argc == MAX_ARGS) {
            return false;
        }
        c->argv[c->argc++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t') {
            p++;
        }
    }
    for (int i = 0; extra != NULL && extra[i] != NULL; i++) {
        if (c->argc == MAX_ARGS) {
            return false;
        }
        c->argv[c->argc++] = extra[i];
    }
    c->argv[c->argc] = NULL;
    return c->argc > 0;
}

/* "exited with status 1", "was killed by signal 9 (Killed)". */
static void describe_status(int status, char *out, size_t n)
{
    if (WIFEXITED(status)) {
        snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        snprintf(out, n, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    } else {
        snprintf(out, n, "ended with wait status %d", status);
    }
}

/* Run c with stdout and stderr into out_fd (stdin from /dev/null); *status
 * is its wait status. A command that cannot start is an error saying why
 * (glibc's posix_spawnp reports a failed exec). */
static cubie_status run_command(const command *c, int out_fd, int *status,
                                cubie_error *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, c->argv[0], &fa, NULL,
                                (char *const *)c->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        return cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                       "cannot run the host compiler '%s' ($CC, default "
                       "cc): %s", c->argv[0], strerror(rc));
    }
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR) {
            return cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                           "waiting for the host compiler: %s",
                           strerror(errno));
        }
    }
    return CUBIE_OK;
}

/* ---- the compiler's identity ------------------------------------------- */

/* Where the program of $CC is: a path as given, else the first match on
 * PATH. false if it is nowhere. */
static bool find_program(const char *prog, char *out, size_t n,
                         struct stat *st)
{
    if (strchr(prog, '/') != NULL) {
        snprintf(out, n, "%s", prog);
        return stat(out, st) == 0 && S_ISREG(st->st_mode);
    }
    const char *path = getenv("PATH");
    for (const char *p = path != NULL ? path : "/usr/bin:/bin"; *p;) {
        const size_t len = strcspn(p, ":");
        snprintf(out, n, "%.*s/%s", (int)len, len > 0 ? p : ".", prog);
        if (stat(out, st) == 0 && S_ISREG(st->st_mode) &&
            access(out, X_OK) == 0) {
            return true;
        }
        p += len + (p[len] == ':');
    }
    return false;
}

/* "path size mtime" of the compiler's program (its identity, found
 * without running it), or "" where it cannot be found. */
static void compiler_identity(const command *c, char *out, size_t n)
{
    char path[1024];
    struct stat st;
    out[0] = '\0';
    if (find_program(c->argv[0], path, sizeof(path), &st)) {
        snprintf(out, n, "%.900s %lld %lld", path, (long long)st.st_size,
                 (long long)st.st_mtime);
    }
}

/* First line of `$CC --version`, for the entry's record. */
static void compiler_version(char *out, size_t n)
{
    static const char *const version[] = {"--version", NULL};
    command c;
    out[0] = '\0';
    if (!command_init(&c, version)) {
        return;
    }
    const int fd = memfd_create("cubie-cc-version", MFD_CLOEXEC);
    if (fd < 0) {
        return;
    }
    int status = 0;
    if (run_command(&c, fd, &status, NULL) == CUBIE_OK && status == 0 &&
        lseek(fd, 0, SEEK_SET) == 0) {
        const ssize_t got = read(fd, out, n - 1);
        out[got > 0 ? got : 0] = '\0';
        out[strcspn(out, "\r\n")] = '\0';
    }
    close(fd);
}

/* ---- building ----------------------------------------------------------- */

static void remove_build_dir(const char *dir)
{
    static const char *const files[] = {"kernel.c", "kernel.so", "cc.log",
                                        NULL};
    char path[600];
    for (int i = 0; files[i] != NULL; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static bool write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return false;
    }
    bool ok = fputs(text, f) != EOF;
    return (fclose(f) == 0) && ok;
}

/* The failing source kept where the user can compile it alone, the
 * message saying where and how the compiler ended, its log in err. */
static cubie_status compile_failed(const char *source, const char *key,
                                   const char *dir, const char *how,
                                   cubie_error *err)
{
    char cache[768], why[512], dump[900];
    const char *tmp = getenv("TMPDIR");
    snprintf(dump, sizeof(dump), "%s/cubie-failed-%s.c",
             cb_cache_dir(cache, sizeof(cache), why, sizeof(why))
                 ? cache
                 : (tmp != NULL && *tmp ? tmp : "/tmp"),
             key);
    const bool dumped = write_file(dump, source);
    char log_path[600];
    snprintf(log_path, sizeof(log_path), "%s/cc.log", dir);
    char *log = cb_read_file(log_path, NULL);
    remove_build_dir(dir);
    cubie_status st = cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                              "the host compiler '%s' %s%s%s", host_cc(), how,
                              dumped ? "; source kept at " : "",
                              dumped ? dump : "");
    if (err != NULL && err->log == NULL) {
        err->log = log;
        log = NULL;
        if (dumped) {
            snprintf(err->dump_path, sizeof(err->dump_path), "%.500s", dump);
        }
    }
    free(log);
    return st;
}

/* Compile source into m->image (malloc'd object bytes). */
static cubie_status compile(const char *source, const char *key,
                            cb_host_module *m, cubie_error *err)
{
    const char *tmp = getenv("TMPDIR");
    char dir[400];
    if (snprintf(dir, sizeof(dir), "%s/cubie-build-XXXXXX",
                 tmp != NULL && *tmp ? tmp : "/tmp") >= (int)sizeof(dir)) {
        return cb_fail(err, CUBIE_E_IO, NULL, 0,
                       "TMPDIR is longer than %zu characters",
                       sizeof(dir) - 24);
    }
    if (mkdtemp(dir) == NULL) {
        return cb_fail(err, CUBIE_E_IO, dir, 0,
                       "cannot create a build folder %s: %s", dir,
                       strerror(errno));
    }
    char src_path[600], log_path[600], obj[600];
    snprintf(src_path, sizeof(src_path), "%s/kernel.c", dir);
    snprintf(log_path, sizeof(log_path), "%s/cc.log", dir);
    snprintf(obj, sizeof(obj), "%s/kernel.so", dir);
    if (!write_file(src_path, source)) {
        remove_build_dir(dir);
        return cb_fail(err, CUBIE_E_IO, src_path, 0, "cannot write %s",
                       src_path);
    }
    const char *extra[16];
    char march[80];
    march_flag(march);
    int n = 0;
    for (int i = 0; host_flags[i] != NULL; i++) {
        extra[n++] = host_flags[i];
    }
    extra[n++] = march;
    extra[n++] = "-o";
    extra[n++] = obj;
    extra[n++] = src_path;
    extra[n++] = "-lm";
    extra[n] = NULL;
    command c;
    if (!command_init(&c, extra)) {
        remove_build_dir(dir);
        return cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                       "$CC ('%.200s') is empty or has too many words",
                       host_cc());
    }
    const int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC |
                                          O_CLOEXEC, 0600);
    if (log_fd < 0) {
        remove_build_dir(dir);
        return cb_fail(err, CUBIE_E_IO, log_path, 0, "cannot write %s: %s",
                       log_path, strerror(errno));
    }
    int status = 0;
    cubie_error spawn_err = {0};
    cubie_status st = run_command(&c, log_fd, &status, &spawn_err);
    close(log_fd);
    if (st != CUBIE_OK) {
        remove_build_dir(dir);
        return cb_fail(err, st, NULL, 0, "%s", spawn_err.message);
    }
    if (status != 0) {
        char how[96];
        describe_status(status, how, sizeof(how));
        return compile_failed(source, key, dir, how, err);
    }
    m->image = cb_read_file(obj, &m->image_len);
    remove_build_dir(dir);
    if (m->image == NULL || m->image_len == 0) {
        return cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                       "the host compiler '%s' wrote no object", host_cc());
    }
    return CUBIE_OK;
}

static void note(cb_host_module *m, const char *text)
{
    if (m->note[0] == '\0') {
        snprintf(m->note, sizeof(m->note), "%s", text);
    }
}

/* The compiled object into the cache, recording the compiler. */
static void store(cb_host_module *m, const char *identity)
{
    char version[256], meta[1400];
    compiler_version(version, sizeof(version));
    snprintf(meta, sizeof(meta), "%s|%s", identity, version);
    const cb_part part = {m->image, m->image_len};
    if (!cb_cache_write(m->cached, meta, &part, 1)) {
        note(m, "the kernel could not be written to the cache");
    }
}

/* Look the key up: a hit sets m->image from the entry. */
static void lookup(cb_host_module *m, const char *identity)
{
    cb_cache_entry e;
    char why[512];
    const cb_cache_state cs = cb_cache_read(m->cached, 1, &e, why,
                                            sizeof(why));
    if (cs == CB_CACHE_BAD) {
        char text[600];
        snprintf(text, sizeof(text), "%s; rebuilt", why);
        note(m, text);
        return;
    }
    if (cs == CB_CACHE_MISS) {
        return;
    }
    const char *bar = strchr(e.meta, '|');
    const size_t id_len = bar != NULL ? (size_t)(bar - e.meta) : 0;
    const bool same = bar != NULL && strlen(identity) == id_len &&
                      strncmp(e.meta, identity, id_len) == 0;
    if (identity[0] != '\0' && !same) {
        cb_cache_entry_free(&e); /* another compiler now: build anew */
        return;
    }
    if (identity[0] == '\0') {
        char text[600];
        snprintf(text, sizeof(text),
                 "the host compiler '%.100s' is not installed here; using "
                 "the cached kernel built by %.300s", host_cc(),
                 bar != NULL && bar[1] ? bar + 1 : "another compiler");
        note(m, text);
    }
    m->image = malloc(e.parts[0].len);
    if (m->image != NULL) {
        memcpy(m->image, e.parts[0].data, e.parts[0].len);
        m->image_len = e.parts[0].len;
        m->cache_hit = true;
    }
    cb_cache_entry_free(&e);
}

cubie_status cb_host_build(const char *source, bool use_cache,
                           cb_host_module *m, cubie_error *err)
{
    memset(m, 0, sizeof(*m));
    m->fd = -1;
    char cache[768], why[512], cpu[33], key[33], identity[1024];
    m->have_cache = use_cache && cb_cache_dir(cache, sizeof(cache), why,
                                              sizeof(why));
    if (use_cache && !m->have_cache) {
        note(m, why);
    }
    command c;
    if (command_init(&c, NULL)) {
        compiler_identity(&c, identity, sizeof(identity));
    } else {
        identity[0] = '\0';
    }
    /* -march=native: an object built on one processor may not run on
     * another sharing the cache folder, so the processor is in the key. */
    cb_cpu_signature(cpu);
    char flags[256] = "";
    for (int i = 0; host_flags[i] != NULL; i++) {
        strcat(flags, host_flags[i]);
        strcat(flags, " ");
    }
    march_flag(flags + strlen(flags));
    const char *parts[] = {source, host_cc(), flags, cpu};
    cb_hash_hex(parts, 4, key);
    snprintf(m->key, sizeof(m->key), "%s", key);
    if (m->have_cache) {
        snprintf(m->cached, sizeof(m->cached), "%s/host-%s.kernel", cache,
                 key);
        lookup(m, identity);
        if (m->cache_hit) {
            return CUBIE_OK;
        }
    }
    CB_TRY(compile(source, key, m, err));
    if (m->have_cache) {
        store(m, identity);
    }
    return CUBIE_OK;
}

/* ---- loading ------------------------------------------------------------ */

/* A path to dlopen fd by: /proc/self/fd/N. glibc's dlopen returns an
 * object already loaded under the same name instead of opening the file,
 * so the memfd stays open while its kernel is loaded (no other file gets
 * its number meanwhile), and a name still held by an object that a
 * dlclose did not unload is skipped ("/proc/self/./fd/N", ...). */
static bool free_name(const char *path)
{
    void *old = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (old != NULL) {
        dlclose(old); /* the reference RTLD_NOLOAD took */
    }
    return old == NULL;
}

static bool fd_path(int fd, char *path, size_t n)
{
    for (int dots = 0; dots < 32; dots++) {
        int len = snprintf(path, n, "/proc/self/");
        for (int k = 0; k < dots && len < (int)n; k++) {
            len += snprintf(path + len, n - (size_t)len, "./");
        }
        snprintf(path + len, n - (size_t)len, "fd/%d", fd);
        if (free_name(path)) {
            return true;
        }
    }
    return false;
}

static bool write_all(int fd, const char *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        const ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        done += (size_t)w;
    }
    return true;
}

/* dlopen the object bytes: from a memfd (what was checked is what is
 * mapped; m->fd keeps it), else from a private temporary file of a name
 * no loaded object has. */
static void *open_image(cb_host_module *m, char *why, size_t why_n)
{
    char path[600];
    m->fd = memfd_create("cubie-kernel", MFD_CLOEXEC);
    if (m->fd >= 0) {
        void *h = NULL;
        if (!write_all(m->fd, m->image, m->image_len)) {
            snprintf(why, why_n, "cannot write the kernel: %s",
                     strerror(errno));
        } else if (!fd_path(m->fd, path, sizeof(path))) {
            snprintf(why, why_n, "no free name to load the kernel by");
        } else if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
            snprintf(why, why_n, "%s", dlerror());
        }
        if (h == NULL) {
            close(m->fd);
            m->fd = -1;
        }
        return h;
    }
    const char *tmp = getenv("TMPDIR");
    for (int attempt = 0; attempt < 8; attempt++) {
        snprintf(path, sizeof(path), "%.500s/cubie-kernel-XXXXXX",
                 tmp != NULL && *tmp ? tmp : "/tmp");
        const int fd = mkstemp(path);
        if (fd < 0) {
            snprintf(why, why_n, "cannot make a file for the kernel: %s",
                     strerror(errno));
            return NULL;
        }
        void *h = NULL;
        if (!free_name(path)) {
            why[0] = '\0'; /* a name still loaded: take another */
        } else if (!write_all(fd, m->image, m->image_len)) {
            snprintf(why, why_n, "cannot write the kernel: %s",
                     strerror(errno));
            attempt = 8;
        } else if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
            snprintf(why, why_n, "%s", dlerror());
            attempt = 8;
        }
        unlink(path);
        close(fd); /* dlopen keeps its mapping */
        if (h != NULL) {
            return h;
        }
    }
    if (why[0] == '\0') {
        snprintf(why, why_n, "no free name to load the kernel by");
    }
    return NULL;
}

/* Pin the OpenMP runtime: were it unloaded with the last kernel that
 * needs it, its idle worker threads would run unmapped code. */
static void pin_gomp(void)
{
    dlopen("libgomp.so.1", RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
}

static pthread_once_t gomp_once = PTHREAD_ONCE_INIT;

static cubie_status open_object(cb_host_module *m, cubie_error *err)
{
    pthread_once(&gomp_once, pin_gomp);
    char why[600];
    m->handle = open_image(m, why, sizeof(why));
    if (m->handle == NULL) {
        return cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                       "cannot load the host kernel: %s", why);
    }
    *(void **)&m->run = dlsym(m->handle, "cubie_host_run");
    if (m->run == NULL) {
        dlclose(m->handle);
        m->handle = NULL;
        return cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                       "the host kernel has no cubie_host_run");
    }
    return CUBIE_OK;
}

cubie_status cb_host_load(const char *source, cb_host_module *m,
                          cubie_error *err)
{
    cubie_status st = open_object(m, m->cache_hit ? NULL : err);
    if (st != CUBIE_OK && m->cache_hit) {
        /* A cached object that passed its checks but does not load (made
         * for another machine) is built again. */
        note(m, "the cached kernel did not load; rebuilt");
        free(m->image);
        m->image = NULL;
        m->cache_hit = false;
        st = compile(source, m->key, m, err);
        if (st == CUBIE_OK) {
            if (m->have_cache) {
                char identity[1024] = "";
                command c;
                if (command_init(&c, NULL)) {
                    compiler_identity(&c, identity, sizeof(identity));
                }
                store(m, identity);
            }
            st = open_object(m, err);
        }
    }
    free(m->image); /* mapped now, or not needed */
    m->image = NULL;
    m->image_len = 0;
    return st;
}

void cb_host_unload(cb_host_module *m)
{
    if (m->handle != NULL) {
        dlclose(m->handle);
    }
    if (m->handle != NULL && m->fd >= 0) {
        close(m->fd); /* after dlclose: the name is free again */
    }
    free(m->image);
    memset(m, 0, sizeof(*m));
    m->fd = -1;
}
