/* The public API's small pieces: the version, status strings, errors,
 * systems and options (over gen/spec.c and gen/options.c). Compiling is in
 * compile.c, running in run.c, results in result.c. */
#include "internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "spec.h"

#define CB_STR_(x) #x
#define CB_STR(x) CB_STR_(x)

const char *cubie_version(void)
{
    return CB_STR(CUBIE_VERSION_MAJOR) "." CB_STR(CUBIE_VERSION_MINOR) "."
        CB_STR(CUBIE_VERSION_PATCH);
}

const char *cubie_status_str(cubie_status s)
{
    switch (s) {
#define CUBIE_X(name, msg) \
    case name:             \
        return msg;
        CUBIE_STATUS_LIST(CUBIE_X)
#undef CUBIE_X
    default:
        return "unknown status";
    }
}

const char *cubie_run_status_str(int bit)
{
    switch (bit) {
#define CUBIE_X(name, value, msg) \
    case value:                   \
        return msg;
        CUBIE_RUN_STATUS_LIST(CUBIE_X)
        CUBIE_RUN_NOTE_LIST(CUBIE_X)
#undef CUBIE_X
    default:
        return "unknown status bit";
    }
}

void cubie_error_clear(cubie_error *err)
{
    if (err == NULL) {
        return;
    }
    free(err->log);
    memset(err, 0, sizeof(*err));
}

/* ---- systems --------------------------------------------------------- */

cubie_status cubie_system_parse(const char *json, size_t len,
                                struct cubie_system **out, cubie_error *err)
{
    if (json == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_system_parse: NULL argument");
    }
    return cb_spec_parse(json, len, out, err);
}

cubie_status cubie_system_load(const char *path, struct cubie_system **out,
                               cubie_error *err)
{
    if (path == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_system_load: NULL argument");
    }
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return cb_fail(err, CUBIE_E_IO, path, 0, "cannot read %s: %s", path,
                       strerror(errno));
    }
    /* A directory opens for reading but reads as nothing (EISDIR); a
     * regular file says its size; anything else (a pipe, a device such
     * as /dev/zero) is read up to the limit and refused beyond it. */
    const size_t limit = CB_SPEC_MAX_BYTES;
    struct stat info;
    if (fstat(fileno(f), &info) == 0) {
        if (S_ISDIR(info.st_mode)) {
            fclose(f);
            return cb_fail(err, CUBIE_E_IO, path, 0,
                           "cannot read %s: is a directory", path);
        }
        if (S_ISREG(info.st_mode) && (uintmax_t)info.st_size > limit) {
            fclose(f);
            return cb_fail(err, CUBIE_E_IO, path, 0,
                           "%s: the file is %jd bytes, more than the spec "
                           "size limit of %zu MiB", path,
                           (intmax_t)info.st_size, limit >> 20);
        }
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap && cap < limit + 1) {
            cap = cap ? cap * 2 : 8192;
            cap = cap < limit + 1 ? cap : limit + 1;
            char *p = realloc(buf, cap);
            if (p == NULL) {
                free(buf);
                fclose(f);
                return cb_fail_nomem(err);
            }
            buf = p;
        }
        /* One byte past the limit tells a spec at the limit from one
         * over it. */
        size_t want = cap - len;
        if (want > limit + 1 - len) {
            want = limit + 1 - len;
        }
        size_t got = fread(buf + len, 1, want, f);
        len += got;
        if (got == 0 || len > limit) {
            break;
        }
    }
    int read_errno = ferror(f) ? errno : 0;
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed || len > limit) {
        free(buf);
        if (failed) {
            return cb_fail(err, CUBIE_E_IO, path, 0, "cannot read %s: %s",
                           path, strerror(read_errno));
        }
        return cb_fail(err, CUBIE_E_IO, path, 0,
                       "%s: more than the spec size limit of %zu MiB read "
                       "(is it a device or an endless stream?)", path,
                       limit >> 20);
    }
    cubie_status st = cb_spec_parse(buf ? buf : "", len, out, err);
    if (st != CUBIE_OK && err != NULL) {
        /* Say which file the path inside the spec refers to. */
        char msg[sizeof(err->message)];
        size_t used = (size_t)snprintf(msg, sizeof(msg), "%.400s: ", path);
        memcpy(msg + used, err->message, sizeof(msg) - used - 1);
        msg[sizeof(msg) - 1] = '\0';
        memcpy(err->message, msg, sizeof(msg));
    }
    free(buf);
    return st;
}

const char *cubie_system_name(const struct cubie_system *s)
{
    return s ? s->name : NULL;
}
size_t cubie_system_n_states(const struct cubie_system *s)
{
    return s ? (size_t)s->n_states : 0;
}
size_t cubie_system_n_parameters(const struct cubie_system *s)
{
    return s ? (size_t)s->n_params : 0;
}
size_t cubie_system_n_observables(const struct cubie_system *s)
{
    return s ? (size_t)s->n_obs : 0;
}
const char *cubie_system_state_name(const struct cubie_system *s, size_t i)
{
    return s && i < (size_t)s->n_states ? s->state_names[i] : NULL;
}
const char *cubie_system_parameter_name(const struct cubie_system *s,
                                        size_t i)
{
    return s && i < (size_t)s->n_params ? s->param_names[i] : NULL;
}
const char *cubie_system_observable_name(const struct cubie_system *s,
                                         size_t i)
{
    return s && i < (size_t)s->n_obs ? s->aux_names[s->obs_aux[i]] : NULL;
}

size_t cubie_system_n_drivers(const struct cubie_system *s)
{
    return s ? (size_t)s->n_drivers : 0;
}
const char *cubie_system_driver_name(const struct cubie_system *s, size_t i)
{
    return s && i < (size_t)s->n_drivers ? s->driver_names[i] : NULL;
}

void cubie_system_free(struct cubie_system *sys)
{
    cb_system_free(sys);
}

/* ---- options ---------------------------------------------------------- */

cubie_status cubie_options_new(struct cubie_options **out)
{
    return cb_options_new(out);
}

void cubie_options_free(struct cubie_options *opt)
{
    cb_options_free(opt);
}

cubie_status cubie_options_copy(const struct cubie_options *opt,
                                struct cubie_options **out)
{
    return cb_options_copy(opt, out);
}

cubie_status cubie_options_set(struct cubie_options *opt, const char *key,
                               const char *value, cubie_error *err)
{
    return cb_options_set(opt, key, value, err);
}

cubie_status cubie_options_set_pair(struct cubie_options *opt,
                                    const char *pair, cubie_error *err)
{
    return cb_options_set_pair(opt, pair, err);
}

const char *cubie_options_get(const struct cubie_options *opt,
                              const char *key)
{
    return cb_options_get(opt, key);
}
