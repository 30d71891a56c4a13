/* The cache helpers (see cache.h). */
#include "cache.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
