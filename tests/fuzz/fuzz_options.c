/* libFuzzer target: option pairs, one "key=value" per line, then (when
 * all are accepted) generation of the Lorenz system under them, so the
 * resolution of methods, controllers, solvers and outputs sees them. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cubie.h"

static cubie_system *sys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const char json[] =
        "{\"states\": {\"x\": 1, \"y\": 1, \"z\": 1}, \"parameters\": "
        "{\"rho\": 28}, \"observables\": [\"r\"], \"equations\": [\"dx = "
        "10 * (y - x)\", \"dy = x * (rho - z) - y\", \"dz = x * y - 8/3 * "
        "z\", \"r = x * x + y * y\"]}";
    cubie_error err = {0};
    if (cubie_system_parse(json, strlen(json), &sys, &err) != CUBIE_OK) {
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    cubie_options *o = NULL;
    if (text == NULL || cubie_options_new(&o) != CUBIE_OK) {
        free(text);
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    bool all = true;
    for (char *line = text, *next; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        cubie_error err = {0};
        all = cubie_options_set_pair(o, line, &err) == CUBIE_OK && all;
        cubie_error_clear(&err);
    }
    char *src = NULL;
    cubie_error err = {0};
    if (all && cubie_generate(sys, o, &src, &err) == CUBIE_OK) {
        free(src);
    }
    cubie_error_clear(&err);
    cubie_options_free(o);
    free(text);
    return 0;
}
