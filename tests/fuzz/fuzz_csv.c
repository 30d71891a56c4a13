/* libFuzzer target: a runs file (CSV) read against a system of two
 * states and two parameters. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cubie.h"

static cubie_system *sys;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const char json[] =
        "{\"states\": {\"x\": 1, \"y\": 2}, \"parameters\": {\"k\": 3, "
        "\"rho\": 4}, \"equations\": [\"dx = -k * x\", \"dy = rho - y\"]}";
    cubie_error err = {0};
    if (cubie_system_parse(json, strlen(json), &sys, &err) != CUBIE_OK) {
        abort();
    }
    snprintf(path, sizeof(path), "/tmp/cubie-fuzz-csv-%d.csv", (int)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return 0;
    }
    fwrite(data, 1, size, f);
    fclose(f);
    cubie_batch *b = NULL;
    cubie_error err = {0};
    if (cubie_batch_from_csv(sys, path, &b, &err) == CUBIE_OK) {
        cubie_batch_free(b);
    }
    cubie_error_clear(&err);
    unlink(path);
    return 0;
}
