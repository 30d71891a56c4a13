/* libFuzzer target: a spec (JSON) through parsing and, when it parses,
 * generation for an explicit and an implicit method (the implicit one
 * differentiates every equation). Nothing may crash, leak or hang. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cubie.h"

static void generate(const cubie_system *sys, const char *algorithm)
{
    cubie_options *o = NULL;
    cubie_error err = {0};
    if (cubie_options_new(&o) != CUBIE_OK) {
        return;
    }
    char *src = NULL;
    if (cubie_options_set(o, "algorithm", algorithm, &err) == CUBIE_OK &&
        cubie_generate(sys, o, &src, &err) == CUBIE_OK) {
        free(src);
    }
    cubie_error_clear(&err);
    cubie_options_free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cubie_system *sys = NULL;
    cubie_error err = {0};
    if (cubie_system_parse((const char *)data, size, &sys, &err) ==
        CUBIE_OK) {
        generate(sys, "tsit5");
        generate(sys, "backwards_euler");
        cubie_system_free(sys);
    }
    cubie_error_clear(&err);
    return 0;
}
