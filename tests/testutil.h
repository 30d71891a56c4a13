/* Helpers shared by the test programs: compile a spec under a list of
 * options, run a batch, and fail with the library's message. */
#ifndef CB_TESTUTIL_H
#define CB_TESTUTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubie.h"

/* Assert st == CUBIE_OK, printing the error detail at the caller's line. */
#define tu_ok(st, err) tu_ok_at((st), (err), __FILE__, __LINE__)
static inline void tu_ok_at(cubie_status st, cubie_error *err,
                            const char *file, int line)
{
    if (st != CUBIE_OK) {
        print_error("%s:%d: %s: %s\n%s\n", file, line, cubie_status_str(st),
                    err->message, err->log ? err->log : "");
        _fail(file, line);
    }
}

static inline cubie_system *tu_system(const char *json)
{
    cubie_error err = {0};
    cubie_system *sys = NULL;
    tu_ok(cubie_system_parse(json, strlen(json), &sys, &err), &err);
    return sys;
}

/* Options from a NULL-terminated list of "key=value". */
static inline cubie_options *tu_options(const char *const *pairs)
{
    cubie_error err = {0};
    cubie_options *o = NULL;
    assert_int_equal(cubie_options_new(&o), CUBIE_OK);
    for (int i = 0; pairs != NULL && pairs[i] != NULL; i++) {
        tu_ok(cubie_options_set_pair(o, pairs[i], &err), &err);
    }
    return o;
}

/* out = pairs + one more pair (a backend, say), NULL-terminated; out
 * holds 16. */
static inline void tu_with(const char *const *pairs, const char *extra,
                           const char **out)
{
    size_t n = 0;
    for (; pairs[n] != NULL; n++) {
        assert_true(n < 14);
        out[n] = pairs[n];
    }
    out[n] = extra;
    out[n + 1] = NULL;
}

/* Compile under pairs. Without a backend among them: the host backend, or
 * $CUBIE_TEST_BACKEND. The unit suites test the numerics on the host
 * whatever the machine (their tolerances are the host's); the gpu suite
 * and test_emulated name their backends. */
static inline cubie_solver *tu_compile(const cubie_system *sys,
                                       const char *const *pairs)
{
    cubie_error err = {0};
    cubie_options *o = tu_options(pairs);
    bool named = false;
    for (int i = 0; pairs != NULL && pairs[i] != NULL; i++) {
        named = named || strncmp(pairs[i], "backend=", 8) == 0;
    }
    const char *backend = getenv("CUBIE_TEST_BACKEND");
    if (!named) {
        tu_ok(cubie_options_set(o, "backend",
                                backend != NULL && *backend ? backend
                                                            : "host",
                                &err),
              &err);
    }
    cubie_solver *s = NULL;
    tu_ok(cubie_compile(sys, o, &s, &err), &err);
    cubie_options_free(o);
    return s;
}

static inline cubie_result *tu_run(cubie_solver *s, const cubie_batch *b,
                                   const char *const *pairs)
{
    cubie_error err = {0};
    cubie_options *o = pairs ? tu_options(pairs) : NULL;
    cubie_result *r = NULL;
    tu_ok(cubie_run(s, b, o, &r, &err), &err);
    cubie_options_free(o);
    return r;
}

/* Path of a spec in the source tree (CUBIE_SPECS, set by meson). */
static inline const char *tu_spec_path(const char *name, char *buf,
                                       size_t n)
{
    const char *dir = getenv("CUBIE_SPECS");
    snprintf(buf, n, "%s/%s", dir ? dir : "specs", name);
    return buf;
}

#endif
