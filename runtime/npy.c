/* A .npy writer (format v1.0): magic, little-endian header length, a
 * Python dict literal padded with spaces to a multiple of 64 bytes, then
 * the raw data in C order. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* NumPy's own limit on dimensions (NPY_MAXDIMS of NumPy 1.x). */
#define NPY_MAX_DIMS 32

/* A type string NumPy reads back: an optional byte order, a kind letter,
 * an item size in digits ("<f8", "|b1", "<i4"). */
static bool valid_descr(const char *d)
{
    size_t i = 0;
    if (d[i] == '<' || d[i] == '>' || d[i] == '|' || d[i] == '=') {
        i++;
    }
    if (!isalpha((unsigned char)d[i])) {
        return false;
    }
    i++;
    const size_t digits = i;
    while (isdigit((unsigned char)d[i])) {
        i++;
    }
    return d[i] == '\0' && i > digits && i <= 8;
}

cubie_status cubie_write_npy(const char *path, const char *descr,
                             const size_t *shape, int ndim, const void *data,
                             size_t elem_size, cubie_error *err)
{
    if (path == NULL || descr == NULL || (ndim > 0 && shape == NULL)) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_write_npy: NULL argument");
    }
    if (!valid_descr(descr)) {
        return cb_fail(err, CUBIE_E_ARG, path, 0,
                       "cubie_write_npy: '%.40s' is not a NumPy type string "
                       "such as \"<f8\" (byte order, kind, item size)",
                       descr);
    }
    if (ndim < 0 || ndim > NPY_MAX_DIMS) {
        return cb_fail(err, CUBIE_E_ARG, path, 0,
                       "cubie_write_npy: %d dimensions (0 to %d)", ndim,
                       NPY_MAX_DIMS);
    }
    /* The longest dict is 56 + 8 + 32 * 22 + 4 = 772 characters. */
    char dict[1024];
    int len = snprintf(dict, sizeof(dict),
                       "{'descr': '%s', 'fortran_order': False, 'shape': (",
                       descr);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        len += snprintf(dict + len, sizeof(dict) - (size_t)len, "%zu%s",
                        shape[i], (ndim == 1 || i + 1 < ndim) ? ", " : "");
        if (shape[i] != 0 && count > SIZE_MAX / shape[i]) {
            return cb_fail(err, CUBIE_E_ARG, path, 0,
                           "cubie_write_npy: the shape's element count "
                           "overflows size_t");
        }
        count *= shape[i];
    }
    if (ndim == 1) {
        len -= 1; /* "(5,)" not "(5, )" */
    }
    len += snprintf(dict + len, sizeof(dict) - (size_t)len, "), }");
    if (count > 0 && (data == NULL || elem_size == 0 ||
                      count > SIZE_MAX / elem_size)) {
        return cb_fail(err, CUBIE_E_ARG, path, 0,
                       data == NULL ? "cubie_write_npy: no data for %zu "
                                      "elements"
                                    : "cubie_write_npy: %zu elements of "
                                      "that size do not fit in memory",
                       count);
    }
    /* 10 bytes of preamble + dict + padding + '\n' = multiple of 64. */
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64;
    unsigned short hlen = (unsigned short)((size_t)len + pad + 1);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return cb_fail(err, CUBIE_E_IO, path, 0, "cannot write %s: %s", path,
                       strerror(errno));
    }
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    bool ok = fwrite(pre, 1, 10, f) == 10 &&
              fwrite(dict, 1, (size_t)len, f) == (size_t)len;
    for (size_t i = 0; ok && i < pad; i++) {
        ok = fputc(' ', f) != EOF;
    }
    ok = ok && fputc('\n', f) != EOF;
    ok = ok && (count == 0 || fwrite(data, elem_size, count, f) == count);
    const int saved = errno;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        const int e = errno != 0 ? errno : saved;
        remove(path); /* nothing half-written left behind */
        return cb_fail(err, CUBIE_E_IO, path, 0, "cannot write %s: %s", path,
                       strerror(e));
    }
    return CUBIE_OK;
}
