/* The cache helpers (see cache.h). */
#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double cb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void *cb_big_alloc(size_t bytes)
{
    enum { HUGE = 2u << 20 };
    if (bytes < 2 * (size_t)HUGE) {
        return malloc(bytes > 0 ? bytes : 1);
    }
    void *p = NULL;
    if (posix_memalign(&p, HUGE, bytes) != 0) {
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes & ~(size_t)(HUGE - 1), MADV_HUGEPAGE);
#endif
    return p;
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
    return mkdir(buf, 0700) == 0 || errno == EEXIST; /* the cache: its owner's */
}

bool cb_cache_dir(char *out, size_t n, char *why, size_t why_n)
{
    const char *env = getenv("CUBIE_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (why_n > 0) {
        why[0] = '\0';
    }
    if (env != NULL && *env) {
        snprintf(out, n, "%s", env);
    } else if (xdg != NULL && *xdg) {
        snprintf(out, n, "%s/cubie", xdg);
    } else if (home != NULL && *home) {
        snprintf(out, n, "%s/.cache/cubie", home);
    } else {
        snprintf(why, why_n, "no cache folder: none of CUBIE_CACHE_DIR, "
                             "XDG_CACHE_HOME and HOME is set");
        return false;
    }
    if (!make_dirs(out)) {
        snprintf(why, why_n, "cache folder %.400s cannot be made: %s", out,
                 strerror(errno));
        return false;
    }
    /* What another user can write into, cubie does not load from: a
     * shared object there would run as this user. */
    struct stat st;
    if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, why_n, "cache folder %.400s is not a folder", out);
        return false;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
        snprintf(why, why_n,
                 "cache folder %.400s is %s (mode %03o): not used, since "
                 "kernels loaded from it would run as you; give cubie a "
                 "folder of your own (CUBIE_CACHE_DIR)", out,
                 st.st_uid != geteuid() ? "owned by another user"
                                        : "writable by other users",
                 (unsigned)(st.st_mode & 0777));
        return false;
    }
    return true;
}

/* ---- entries ---------------------------------------------------------- */

/* A checksum of the entry's bytes, to find corruption (a truncated or
 * overwritten file), 8 bytes at a time in two lanes: a check, not a
 * defence against someone who may write the file (cb_cache_dir refuses a
 * folder others can write). */
static void checksum(const cb_part *parts, int n, const char *meta,
                     char out[33])
{
    uint64_t h1 = 0x9e3779b97f4a7c15ull, h2 = 0xc2b2ae3d27d4eb4full;
    for (int k = -1; k < n; k++) {
        const unsigned char *p = k < 0 ? (const unsigned char *)meta
                                       : parts[k].data;
        const size_t len = k < 0 ? strlen(meta) : parts[k].len;
        size_t i = 0;
        for (; i + 8 <= len; i += 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            h1 = (h1 ^ w) * 0xff51afd7ed558ccdull;
            h1 ^= h1 >> 29;
            h2 = (h2 + w) * 0xc4ceb9fe1a85ec53ull;
            h2 ^= h2 >> 31;
        }
        for (; i < len; i++) {
            h1 = (h1 ^ p[i]) * 0x100000001b3ull;
            h2 = (h2 + p[i]) * 0xff51afd7ed558ccdull;
        }
        h1 = (h1 ^ len) * 0xff51afd7ed558ccdull; /* part boundary */
        h2 = (h2 ^ (h2 >> 33) ^ len) * 0xc4ceb9fe1a85ec53ull;
    }
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h1,
             (unsigned long long)h2);
}

bool cb_cache_write(const char *path, const char *meta, const cb_part *parts,
                    int n)
{
    char head[64 + CB_CACHE_MAX_PARTS * 24 + 40];
    char sum[33];
    if (n < 1 || n > CB_CACHE_MAX_PARTS || strchr(meta, '\n') != NULL) {
        return false;
    }
    checksum(parts, n, meta, sum);
    int len = snprintf(head, sizeof(head), "cubie-cache 1 %d", n);
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        len += snprintf(head + len, sizeof(head) - (size_t)len, " %zu",
                        parts[k].len);
        total += parts[k].len;
    }
    len += snprintf(head + len, sizeof(head) - (size_t)len, " %s\n", sum);
    const size_t meta_len = strlen(meta);
    char *buf = malloc((size_t)len + meta_len + 1 + total);
    if (buf == NULL) {
        return false;
    }
    size_t at = 0;
    memcpy(buf, head, (size_t)len);
    at += (size_t)len;
    memcpy(buf + at, meta, meta_len);
    at += meta_len;
    buf[at++] = '\n';
    for (int k = 0; k < n; k++) {
        if (parts[k].len > 0) {
            memcpy(buf + at, parts[k].data, parts[k].len);
        }
        at += parts[k].len;
    }
    const bool ok = cb_write_atomic(path, buf, at);
    free(buf);
    return ok;
}

/* Read all of fd (a regular file of at most max bytes) into a malloc'd
 * buffer with a NUL after it. */
static char *read_fd(int fd, size_t size, size_t *len)
{
    char *buf = malloc(size + 1);
    size_t got = 0;
    while (buf != NULL && got < size) {
        const ssize_t r = read(fd, buf + got, size - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) {
                continue;
            }
            break;
        }
        got += (size_t)r;
    }
    if (buf != NULL) {
        buf[got] = '\0';
        *len = got;
    }
    return buf;
}

cb_cache_state cb_cache_read(const char *path, int n, cb_cache_entry *e,
                             char *why, size_t why_n)
{
    memset(e, 0, sizeof(*e));
    why[0] = '\0';
    const int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return CB_CACHE_MISS;
        }
        snprintf(why, why_n, "cannot open %s: %s", path, strerror(errno));
        return CB_CACHE_BAD;
    }
    struct stat st;
    const char *bad = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        bad = "is not a regular file";
    } else if (st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
        bad = "is not yours alone (owner or mode)";
    } else if ((uint64_t)st.st_size > CB_CACHE_MAX_BYTES) {
        bad = "is larger than any kernel cubie writes";
    }
    size_t len = 0;
    char *buf = bad == NULL ? read_fd(fd, (size_t)st.st_size, &len) : NULL;
    close(fd);
    if (bad == NULL && buf == NULL) {
        bad = "cannot be read (out of memory)";
    }
    /* The header: counts, part lengths and the checksum, then meta. */
    char *p = buf;
    int got_n = 0, used = 0;
    if (bad == NULL && (len != (size_t)st.st_size ||
                        sscanf(p, "cubie-cache 1 %d%n", &got_n, &used) != 1 ||
                        got_n != n)) {
        bad = len != (size_t)st.st_size ? "was cut short while read"
                                        : "has no cubie cache header";
    }
    size_t total = 0;
    for (int k = 0; bad == NULL && k < n; k++) {
        p += used;
        unsigned long long l = 0;
        if (sscanf(p, " %llu%n", &l, &used) != 1 || l > CB_CACHE_MAX_BYTES) {
            bad = "has a damaged header";
        } else {
            e->parts[k].len = (size_t)l;
            total += (size_t)l;
        }
    }
    char sum[33] = "", want[33];
    char *meta = NULL, *data = NULL;
    if (bad == NULL) {
        p += used;
        if (sscanf(p, " %32[0-9a-f]%n", sum, &used) != 1 || p[used] != '\n') {
            bad = "has a damaged header";
        } else {
            meta = p + used + 1;
            char *nl = memchr(meta, '\n', len - (size_t)(meta - buf));
            if (nl == NULL) {
                bad = "has a damaged header";
            } else {
                *nl = '\0';
                data = nl + 1;
            }
        }
    }
    if (bad == NULL && (size_t)(buf + len - data) != total) {
        bad = (size_t)(buf + len - data) < total
                  ? "is truncated"
                  : "is longer than its header says";
    }
    if (bad == NULL) {
        for (int k = 0; k < n; k++) {
            e->parts[k].data = data;
            data += e->parts[k].len;
        }
        checksum(e->parts, n, meta, want);
        if (strcmp(sum, want) != 0) {
            bad = "fails its checksum (the file was changed or damaged)";
        }
    }
    if (bad != NULL) {
        snprintf(why, why_n, "cached kernel %.400s %s", path, bad);
        free(buf);
        memset(e, 0, sizeof(*e));
        return CB_CACHE_BAD;
    }
    e->buf = buf;
    e->meta = meta;
    return CB_CACHE_HIT;
}

void cb_cache_entry_free(cb_cache_entry *e)
{
    free(e->buf);
    memset(e, 0, sizeof(*e));
}

/* Two independent 64-bit FNV-1a streams (different offset bases). */
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

bool cb_write_atomic(const char *path, const void *data, size_t len)
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
        return false;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return false;
    }
    return true;
}

void cb_cpu_signature(char out[33])
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
