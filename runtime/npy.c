/* A .npy writer (format v1.0): magic, little-endian header length, a
 * Python dict literal padded with spaces to a multiple of 64 bytes, then
 * the raw data in C order. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

cubie_status cubie_write_npy(const char *path, const char *descr,
                          const size_t *shape, int ndim, const void *data,
                          size_t elem_size, cubie_error *err)
{
    char dict[256];
    int len = snprintf(dict, sizeof(dict),
                       "{'descr': '%s', 'fortran_order': False, 'shape': (",
                       descr);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        len += snprintf(dict + len, sizeof(dict) - (size_t)len, "%zu%s",
                        shape[i], (ndim == 1 || i + 1 < ndim) ? ", " : "");
        count *= shape[i];
    }
    if (ndim == 1) {
        len -= 1; /* "(5,)" not "(5, )" */
    }
    len += snprintf(dict + len, sizeof(dict) - (size_t)len, "), }");
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
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        return cb_fail(err, CUBIE_E_IO, path, 0, "cannot write %s: %s", path,
                       strerror(errno));
    }
    return CUBIE_OK;
}
