/* libFuzzer target: the expression language, reached as the right-hand
 * side of one equation of a small system (states x, y; parameter k;
 * constant c; an observable), then generated for an implicit method in
 * both precisions, so parsing, folding, differentiation and printing all
 * see the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cubie.h"

static void generate(const cubie_system *sys, const char *precision)
{
    cubie_options *o = NULL;
    cubie_error err = {0};
    if (cubie_options_new(&o) != CUBIE_OK) {
        return;
    }
    char *src = NULL;
    if (cubie_options_set(o, "algorithm", "rodas3p", &err) == CUBIE_OK &&
        cubie_options_set(o, "precision", precision, &err) == CUBIE_OK &&
        cubie_generate(sys, o, &src, &err) == CUBIE_OK) {
        free(src);
    }
    cubie_error_clear(&err);
    cubie_options_free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *rhs = malloc(size + 1);
    if (rhs == NULL) {
        return 0;
    }
    memcpy(rhs, data, size);
    rhs[size] = '\0';
    /* cJSON escapes the input, so it reaches the expression parser as
     * written. */
    cJSON *spec = cJSON_CreateObject();
    cJSON *states = cJSON_AddObjectToObject(spec, "states");
    cJSON_AddNumberToObject(states, "x", 1.0);
    cJSON_AddNumberToObject(states, "y", 0.5);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(spec, "parameters"),
                            "k", 2.0);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(spec, "constants"),
                            "c", 3.0);
    cJSON *eqs = cJSON_AddArrayToObject(spec, "equations");
    size_t n = size + 16;
    char *eq = malloc(n);
    if (eq != NULL) {
        snprintf(eq, n, "dx = %s", rhs);
        cJSON_AddItemToArray(eqs, cJSON_CreateString(eq));
        cJSON_AddItemToArray(eqs, cJSON_CreateString("a = x * y"));
        cJSON_AddItemToArray(eqs, cJSON_CreateString("dy = -k * y + a"));
        cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "observables"),
                             cJSON_CreateString("a"));
    }
    char *json = cJSON_PrintUnformatted(spec);
    cJSON_Delete(spec);
    free(eq);
    free(rhs);
    if (json == NULL) {
        return 0;
    }
    cubie_system *sys = NULL;
    cubie_error err = {0};
    if (cubie_system_parse(json, strlen(json), &sys, &err) == CUBIE_OK) {
        generate(sys, "float32");
        generate(sys, "float64");
        cubie_system_free(sys);
    }
    cubie_error_clear(&err);
    cJSON_free(json);
    return 0;
}
