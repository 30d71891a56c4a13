/* libFuzzer target: what cubie reads back from its cache folder. The
 * first byte picks the reader: a cache entry (header, lengths, checksum)
 * of one or two parts, the ptxas log parser, or the CUBIN resource
 * reader (ELF sections and .nv.info records). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "cuda_build.h"

static char dir[64], path[96];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "/tmp/cubie-fuzz-cache-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        abort();
    }
    snprintf(path, sizeof(path), "%s/entry", dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    const uint8_t pick = data[0] % 4;
    data++;
    size--;
    if (pick <= 1) {
        FILE *f = fopen(path, "wb");
        if (f == NULL) {
            return 0;
        }
        fwrite(data, 1, size, f);
        fclose(f);
        cb_cache_entry e;
        char why[512];
        if (cb_cache_read(path, pick + 1, &e, why, sizeof(why)) ==
            CB_CACHE_HIT) {
            cb_cache_entry_free(&e);
        }
        unlink(path);
    } else if (pick == 2) {
        char *log = malloc(size + 1);
        if (log != NULL) {
            memcpy(log, data, size);
            log[size] = '\0';
            cb_resources r;
            cb_parse_resources(log, &r);
            free(log);
        }
    } else {
        /* An exact-size copy, so a read past the end is caught. */
        void *img = malloc(size ? size : 1);
        if (img != NULL) {
            memcpy(img, data, size);
            cb_resources r;
            cb_cubin_resources(img, size, &r);
            free(img);
        }
    }
    return 0;
}
