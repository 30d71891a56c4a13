/* Unit tests of the buffer registry (gen/registry.h). The expected layouts
 * are the Python original's (its buffer_registry.py): the worked example
 * of its layout rules and the realistic nesting of a Dormand-Prince loop,
 * recorded as docs/ARCHITECTURE.md "The buffer registry" describes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "registry.h"

/* ---- helpers: each forwards the caller's line to cmocka -------------- */

static cb_registry *registry_of(void **state)
{
    return (cb_registry *)*state;
}

static int setup(void **state)
{
    cb_registry *r = cb_registry_new();
    if (r == NULL) {
        return -1;
    }
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    cb_registry_free(registry_of(state));
    return 0;
}

static cb_owner *owner_at(cb_registry *r, const char *name, cb_prec prec,
                          const char *file, int line)
{
    cubie_error err = {0};
    cb_owner *o = NULL;
    cubie_status st = cb_registry_owner(r, name, prec, &o, &err);
    if (st != CUBIE_OK || o == NULL) {
        print_error("cb_registry_owner(%s): %s\n", name, err.message);
        _fail(file, line);
    }
    return o;
}
#define OWNER(r, name, prec) owner_at((r), (name), (prec), __FILE__, __LINE__)

static void add_at(cb_owner *o, const char *name, size_t size,
                   cb_location loc, bool persistent, const char *aliases,
                   cb_prec prec, const char *file, int line)
{
    cubie_error err = {0};
    cubie_status st = cb_register(o, name, size, loc, persistent, aliases,
                                  prec, &err);
    if (st != CUBIE_OK) {
        print_error("cb_register(%s): %s\n", name, err.message);
        _fail(file, line);
    }
}
#define ADD(o, name, size, loc, pers, alias, prec)                         \
    add_at((o), (name), (size), (loc), (pers), (alias), (prec), __FILE__, \
           __LINE__)
#define SH CB_LOC_SHARED
#define LO CB_LOC_LOCAL

static void expect_error_at(cubie_status got, const cubie_error *err,
                            cubie_status want, const char *fragment,
                            const char *file, int line)
{
    _assert_int_equal((uintmax_t)got, (uintmax_t)want, file, line);
    _assert_int_equal((uintmax_t)err->status, (uintmax_t)want, file, line);
    if (strstr(err->message, fragment) == NULL) {
        print_error("message \"%s\" lacks \"%s\"\n", err->message,
                    fragment);
        _fail(file, line);
    }
}
#define EXPECT_ERROR(got, err, want, fragment)                              \
    expect_error_at((got), (err), (want), (fragment), __FILE__, __LINE__)

static void expect_place_at(cb_owner *o, const char *name, cb_pool pool,
                            bool is_int, size_t offset, size_t size,
                            size_t alloc, bool overlapped, const char *file,
                            int line)
{
    cubie_error err = {0};
    cb_placement p;
    cubie_status st = cb_placement_of(o, name, &p, &err);
    if (st != CUBIE_OK) {
        print_error("cb_placement_of(%s): %s\n", name, err.message);
        _fail(file, line);
    }
    if (p.pool != pool || p.is_int != is_int || p.offset != offset ||
        p.size != size || p.alloc != alloc || p.overlapped != overlapped) {
        print_error("%s: got pool %d int %d offset %zu size %zu alloc %zu "
                    "overlapped %d; want %d %d %zu %zu %zu %d\n",
                    name, (int)p.pool, (int)p.is_int, p.offset, p.size,
                    p.alloc, (int)p.overlapped, (int)pool, (int)is_int,
                    offset, size, alloc, (int)overlapped);
        _fail(file, line);
    }
}
/* Real-pool placements, the common case. */
#define SHARED_AT(o, name, off, size, ovl)                                 \
    expect_place_at((o), (name), CB_POOL_SHARED, false, (off), (size),     \
                    (size), (ovl), __FILE__, __LINE__)
#define PERSISTENT_AT(o, name, off, size)                                  \
    expect_place_at((o), (name), CB_POOL_PERSISTENT, false, (off), (size), \
                    (size), false, __FILE__, __LINE__)
#define LOCAL_AT(o, name, size, alloc)                                     \
    expect_place_at((o), (name), CB_POOL_LOCAL, false, 0, (size), (alloc), \
                    false, __FILE__, __LINE__)
#define PLACE_AT(o, name, pool, is_int, off, size, alloc, ovl)            \
    expect_place_at((o), (name), (pool), (is_int), (off), (size), (alloc), \
                    (ovl), __FILE__, __LINE__)

static void expect_sizes_at(cb_owner *o, size_t shared, size_t persistent,
                            size_t local, size_t shared_int,
                            size_t persistent_int, size_t local_int,
                            const char *file, int line)
{
    cubie_error err = {0};
    cb_sizes s;
    cubie_status st = cb_owner_sizes(o, &s, &err);
    if (st != CUBIE_OK) {
        print_error("cb_owner_sizes: %s\n", err.message);
        _fail(file, line);
    }
    if (s.shared != shared || s.persistent != persistent ||
        s.local != local || s.shared_int != shared_int ||
        s.persistent_int != persistent_int || s.local_int != local_int) {
        print_error("sizes %zu/%zu/%zu int %zu/%zu/%zu; want "
                    "%zu/%zu/%zu int %zu/%zu/%zu\n", s.shared, s.persistent,
                    s.local, s.shared_int, s.persistent_int, s.local_int,
                    shared, persistent, local, shared_int, persistent_int,
                    local_int);
        _fail(file, line);
    }
}
#define EXPECT_SIZES(o, s, p, l, si, pi, li)                               \
    expect_sizes_at((o), (s), (p), (l), (si), (pi), (li), __FILE__,        \
                    __LINE__)

static void expect_alloc_at(cb_owner *o, const char *name, bool zero,
                            const char *want, const char *file, int line)
{
    cubie_error err = {0};
    cb_sb sb;
    cb_sb_init(&sb);
    cubie_status st = cb_get_allocator(o, name, zero, &sb, &err);
    if (st != CUBIE_OK) {
        print_error("cb_get_allocator(%s): %s\n", name, err.message);
        cb_sb_free(&sb);
        _fail(file, line);
    }
    if (strcmp(cb_sb_str(&sb), want) != 0) {
        print_error("allocator of %s:\n%s\nwant:\n%s\n", name,
                    cb_sb_str(&sb), want);
        cb_sb_free(&sb);
        _fail(file, line);
    }
    cb_sb_free(&sb);
}
#define EXPECT_ALLOC(o, name, zero, want)                                  \
    expect_alloc_at((o), (name), (zero), (want), __FILE__, __LINE__)

static void child_at(cb_owner *parent, cb_owner *child, const char *name,
                     const char *file, int line)
{
    cubie_error err = {0};
    if (cb_register_child(parent, child, name, &err) != CUBIE_OK) {
        print_error("cb_register_child(%s): %s\n", name, err.message);
        _fail(file, line);
    }
}
#define CHILD(p, c, name) child_at((p), (c), (name), __FILE__, __LINE__)

/* Registration of the original's worked example (docs/ARCHITECTURE.md). */
static cb_owner *worked_example(cb_registry *r)
{
    cb_owner *o = OWNER(r, "group", CB_PREC_F32);
    ADD(o, "a", 8, SH, false, NULL, CB_PREC_F32);
    ADD(o, "b", 4, LO, true, NULL, CB_PREC_F32);
    ADD(o, "c", 5, LO, false, NULL, CB_PREC_F32);
    ADD(o, "d", 3, SH, false, "a", CB_PREC_F32);
    ADD(o, "e", 6, SH, false, "a", CB_PREC_F32);
    ADD(o, "f", 2, LO, false, "a", CB_PREC_F32);
    ADD(o, "g", 3, LO, true, "b", CB_PREC_F32);
    ADD(o, "h", 0, LO, false, NULL, CB_PREC_F32);
    ADD(o, "i", 2, SH, false, "c", CB_PREC_F32);
    return o;
}

/* ---- the reference examples ------------------------------------------- */

/* The placements and sizes of the worked example, phase by phase. */
static void check_worked_example(cb_owner *o)
{
    SHARED_AT(o, "a", 0, 8, false);           /* phase 1 */
    PERSISTENT_AT(o, "b", 0, 4);              /* phase 2 */
    LOCAL_AT(o, "c", 5, 5);                   /* phase 3 */
    LOCAL_AT(o, "h", 0, 1);                   /* zero-size local gets 1 */
    SHARED_AT(o, "d", 0, 3, true);            /* fits in a: cons(a)=3 */
    SHARED_AT(o, "e", 8, 6, false);           /* 6 > 5 left: own space */
    SHARED_AT(o, "f", 3, 2, true);            /* local alias lands shared */
    PERSISTENT_AT(o, "g", 4, 3);              /* b is not shared */
    SHARED_AT(o, "i", 14, 2, false);          /* c is not shared */
    EXPECT_SIZES(o, 16, 7, 6, 0, 0, 0);
    assert_int_equal(cb_shared_buffer_size(o), 16);
    assert_int_equal(cb_persistent_local_buffer_size(o), 7);
    assert_int_equal(cb_local_buffer_size(o), 6);
}

static void worked_example_should_match_reference_layout(void **state)
{
    check_worked_example(worked_example(registry_of(state)));
}

static void worked_example_allocators_should_use_literal_offsets(void **state)
{
    cb_owner *o = worked_example(registry_of(state));
    EXPECT_ALLOC(o, "a", false, "real *a = shared + 0;\n");
    EXPECT_ALLOC(o, "b", false, "real *b = persistent + 0;\n");
    EXPECT_ALLOC(o, "c", false, "real c[5];\n");
    EXPECT_ALLOC(o, "d", false, "real *d = shared + 0;\n");
    EXPECT_ALLOC(o, "e", false, "real *e = shared + 8;\n");
    EXPECT_ALLOC(o, "f", false, "real *f = shared + 3;\n");
    EXPECT_ALLOC(o, "g", false, "real *g = persistent + 4;\n");
    EXPECT_ALLOC(o, "h", false, "real h[1];\n");
    EXPECT_ALLOC(o, "i", false, "real *i = shared + 14;\n");
}

/* The original's "realistic nesting": n=4, dormand-prince-54 (7 stages), PI
 * controller, with the state pair and the stage accumulator in shared. */
static void realistic_nesting_should_match_reference_loop_layout(void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *erk = OWNER(r, "algorithm_step", CB_PREC_F32);
    ADD(erk, "stage_rhs", 4, LO, true, NULL, CB_PREC_F32);
    ADD(erk, "stage_accumulator", (7 - 1) * 4, SH, false, NULL, CB_PREC_F32);
    cb_owner *ctrl = OWNER(r, "controller", CB_PREC_F32);
    ADD(ctrl, "timestep_buffer", 1, LO, true, NULL, CB_PREC_F32);

    cb_owner *loop = OWNER(r, "loop", CB_PREC_F32);
    ADD(loop, "state", 4, SH, false, NULL, CB_PREC_F32);
    ADD(loop, "proposed_state", 4, SH, false, NULL, CB_PREC_F32);
    ADD(loop, "parameters", 2, LO, false, NULL, CB_PREC_F32);
    ADD(loop, "drivers", 0, LO, false, NULL, CB_PREC_F32);
    ADD(loop, "proposed_drivers", 0, LO, false, NULL, CB_PREC_F32);
    ADD(loop, "observables", 0, LO, false, NULL, CB_PREC_F32);
    ADD(loop, "proposed_observables", 0, LO, false, NULL, CB_PREC_F32);
    ADD(loop, "error", 4, LO, false, NULL, CB_PREC_F32);
    ADD(loop, "counters", 0, LO, false, NULL, CB_PREC_F32);
    ADD(loop, "state_summary", 0, LO, false, NULL, CB_PREC_F32);
    ADD(loop, "observable_summary", 0, LO, false, NULL, CB_PREC_F32);
    ADD(loop, "dt", 1, LO, false, NULL, CB_PREC_F32);
    ADD(loop, "accept_step", 1, LO, false, NULL, CB_PREC_F32);
    ADD(loop, "proposed_counters", 2, LO, false, NULL, CB_PREC_I32);
    CHILD(loop, erk, "algorithm");
    CHILD(loop, ctrl, "controller");

    EXPECT_SIZES(erk, 24, 4, 0, 0, 0, 0);
    PERSISTENT_AT(erk, "stage_rhs", 0, 4);
    SHARED_AT(erk, "stage_accumulator", 0, 24, false);
    EXPECT_SIZES(ctrl, 0, 1, 0, 0, 0, 0);

    SHARED_AT(loop, "state", 0, 4, false);
    SHARED_AT(loop, "proposed_state", 4, 4, false);
    SHARED_AT(loop, "algorithm_shared", 8, 24, false);
    SHARED_AT(loop, "controller_shared", 32, 0, false);
    PERSISTENT_AT(loop, "algorithm_persistent", 0, 4);
    PERSISTENT_AT(loop, "controller_persistent", 4, 1);
    LOCAL_AT(loop, "parameters", 2, 2);
    LOCAL_AT(loop, "drivers", 0, 1);
    LOCAL_AT(loop, "error", 4, 4);
    PLACE_AT(loop, "proposed_counters", CB_POOL_LOCAL, true, 0, 2, 2, false);
    /* The original's 17 local elements: 15 real + the int32 counters,
     * which live in their own pool here. */
    EXPECT_SIZES(loop, 32, 5, 15, 0, 0, 2);
    assert_int_equal(cb_shared_buffer_size(loop), 32);
    assert_int_equal(cb_persistent_local_buffer_size(loop), 5);
    assert_int_equal(cb_local_buffer_size(loop), 15);

    /* The child receives shared + 8 and persistent + 0 as its pools. */
    EXPECT_ALLOC(loop, "algorithm_shared", false,
                 "real *algorithm_shared = shared + 8;\n");
    EXPECT_ALLOC(loop, "algorithm_persistent", false,
                 "real *algorithm_persistent = persistent + 0;\n");
    EXPECT_ALLOC(loop, "algorithm_shared_i", false,
                 "int *algorithm_shared_i = shared_i + 0;\n");
    EXPECT_ALLOC(loop, "controller_persistent", false,
                 "real *controller_persistent = persistent + 4;\n");
    EXPECT_ALLOC(erk, "stage_accumulator", false,
                 "real *stage_accumulator = shared + 0;\n");
    EXPECT_ALLOC(erk, "stage_rhs", false,
                 "real *stage_rhs = persistent + 0;\n");

    assert_int_equal(cb_relocatable_count(loop), 14);
    assert_string_equal(cb_relocatable_name(loop, 13), "proposed_counters");
    assert_null(cb_relocatable_name(loop, 14));
    /* loop local 15 + 2, children none, plus the loop's persistent 5 */
    assert_int_equal(cb_declared_local_elements(loop), 22);
}

/* ---- allocators ------------------------------------------------------- */

static void allocator_should_emit_every_pool_kind(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "step", CB_PREC_F64);
    ADD(o, "pad", 3, SH, false, NULL, CB_PREC_F64);
    ADD(o, "rs", 2, SH, false, NULL, CB_PREC_F64);
    ADD(o, "ppad", 5, LO, true, NULL, CB_PREC_F64);
    ADD(o, "rp", 2, LO, true, NULL, CB_PREC_F64);
    ADD(o, "rl", 3, LO, false, NULL, CB_PREC_F64);
    ADD(o, "ipad", 1, SH, false, NULL, CB_PREC_I32);
    ADD(o, "is", 2, SH, false, NULL, CB_PREC_I32);
    ADD(o, "ip", 4, LO, true, NULL, CB_PREC_I32);
    ADD(o, "il", 2, LO, false, NULL, CB_PREC_I32);
    ADD(o, "empty", 0, LO, false, NULL, CB_PREC_F64);
    EXPECT_ALLOC(o, "rs", false, "real *rs = shared + 3;\n");
    EXPECT_ALLOC(o, "rp", false, "real *rp = persistent + 5;\n");
    EXPECT_ALLOC(o, "rl", false, "real rl[3];\n");
    EXPECT_ALLOC(o, "is", false, "int *is = shared_i + 1;\n");
    EXPECT_ALLOC(o, "ip", false, "int *ip = persistent_i + 0;\n");
    EXPECT_ALLOC(o, "il", false, "int il[2];\n");
    EXPECT_ALLOC(o, "empty", false, "real empty[1];\n");
}

static void allocator_with_zero_should_append_a_zeroing_loop(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "step", CB_PREC_F32);
    ADD(o, "s", 3, SH, false, NULL, CB_PREC_F32);
    ADD(o, "l", 2, LO, false, NULL, CB_PREC_F32);
    ADD(o, "n", 4, LO, true, NULL, CB_PREC_I32);
    ADD(o, "z", 0, LO, false, NULL, CB_PREC_F32);
    ADD(o, "zs", 0, SH, false, NULL, CB_PREC_F32);
    EXPECT_ALLOC(o, "s", true,
                 "real *s = shared + 0;\n"
                 "for (int cb_i = 0; cb_i < 3; ++cb_i) { s[cb_i] = 0; }\n");
    EXPECT_ALLOC(o, "l", true,
                 "real l[2];\n"
                 "for (int cb_i = 0; cb_i < 2; ++cb_i) { l[cb_i] = 0; }\n");
    EXPECT_ALLOC(o, "n", true,
                 "int *n = persistent_i + 0;\n"
                 "for (int cb_i = 0; cb_i < 4; ++cb_i) { n[cb_i] = 0; }\n");
    /* Nothing to zero in a zero-size buffer. */
    EXPECT_ALLOC(o, "z", true, "real z[1];\n");
    EXPECT_ALLOC(o, "zs", true, "real *zs = shared + 3;\n");
}

static void allocator_should_follow_the_builder_indentation(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "step", CB_PREC_F32);
    ADD(o, "l", 2, LO, false, NULL, CB_PREC_F32);
    cubie_error err = {0};
    cb_sb sb;
    cb_sb_init(&sb);
    cb_sb_line(&sb, "{");
    cb_sb_indent(&sb);
    assert_int_equal(cb_get_allocator(o, "l", true, &sb, &err), CUBIE_OK);
    cb_sb_dedent(&sb);
    cb_sb_line(&sb, "}");
    assert_string_equal(cb_sb_str(&sb),
                        "{\n"
                        "    real l[2];\n"
                        "    for (int cb_i = 0; cb_i < 2; ++cb_i) "
                        "{ l[cb_i] = 0; }\n"
                        "}\n");
    cb_sb_free(&sb);
}

static void allocator_of_unknown_buffer_should_fail(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    ADD(o, "x", 1, LO, false, NULL, CB_PREC_F32);
    cubie_error err = {0};
    cb_sb sb;
    cb_sb_init(&sb);
    EXPECT_ERROR(cb_get_allocator(o, "y", false, &sb, &err), &err,
                 CUBIE_E_REGISTRY,
                 "buffer 'y' is not registered with owner 'loop'");
    assert_string_equal(cb_sb_str(&sb), "");
    cb_sb_free(&sb);
    cubie_error err2 = {0};
    cb_placement p;
    EXPECT_ERROR(cb_placement_of(o, "y", &p, &err2), &err2,
                 CUBIE_E_REGISTRY, "buffer 'y' is not registered");
    cubie_error err3 = {0};
    EXPECT_ERROR(cb_get_allocator(o, "x", false, NULL, &err3), &err3,
                 CUBIE_E_ARG, "NULL");
}

/* ---- the layout rules ------------------------------------------------- */

static void int_buffers_should_use_pools_of_their_own(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "newton", CB_PREC_F32);
    ADD(o, "delta", 4, SH, false, NULL, CB_PREC_F32);
    ADD(o, "iters", 2, SH, false, NULL, CB_PREC_I32);
    ADD(o, "residual", 4, SH, false, NULL, CB_PREC_F32);
    ADD(o, "hist", 3, LO, true, NULL, CB_PREC_I32);
    ADD(o, "theta", 1, LO, true, NULL, CB_PREC_F32);
    ADD(o, "flags", 0, LO, false, NULL, CB_PREC_I32);
    ADD(o, "iters_view", 1, LO, false, "iters", CB_PREC_I32);
    ADD(o, "iters_more", 2, SH, false, "iters", CB_PREC_I32);
    ADD(o, "hist_alias", 1, LO, true, "hist", CB_PREC_I32);
    SHARED_AT(o, "delta", 0, 4, false);
    SHARED_AT(o, "residual", 4, 4, false);
    PLACE_AT(o, "iters", CB_POOL_SHARED, true, 0, 2, 2, false);
    PLACE_AT(o, "hist", CB_POOL_PERSISTENT, true, 0, 3, 3, false);
    PERSISTENT_AT(o, "theta", 0, 1);
    PLACE_AT(o, "flags", CB_POOL_LOCAL, true, 0, 0, 1, false);
    /* An int alias overlaps an int target by the same rules. */
    PLACE_AT(o, "iters_view", CB_POOL_SHARED, true, 0, 1, 1, true);
    PLACE_AT(o, "iters_more", CB_POOL_SHARED, true, 2, 2, 2, false);
    PLACE_AT(o, "hist_alias", CB_POOL_PERSISTENT, true, 3, 1, 1, false);
    EXPECT_SIZES(o, 8, 1, 0, 4, 4, 1);
    EXPECT_ALLOC(o, "iters_more", false, "int *iters_more = shared_i + 2;\n");
}

static void int_alias_of_real_buffer_should_fail(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    ADD(o, "acc", 4, SH, false, NULL, CB_PREC_F32);
    ADD(o, "cnt", 4, SH, false, NULL, CB_PREC_I32);
    cubie_error err = {0};
    EXPECT_ERROR(cb_register(o, "view", 2, SH, false, "acc", CB_PREC_I32,
                             &err),
                 &err, CUBIE_E_REGISTRY,
                 "buffer 'view' of owner 'loop' (int32) cannot alias 'acc' "
                 "(float32)");
    cubie_error err2 = {0};
    EXPECT_ERROR(cb_register(o, "rview", 2, SH, false, "cnt", CB_PREC_F32,
                             &err2),
                 &err2, CUBIE_E_REGISTRY,
                 "buffer 'rview' of owner 'loop' (float32) cannot alias "
                 "'cnt' (int32)");
    assert_int_equal(cb_relocatable_count(o), 2);
}

static void aliases_should_pack_one_after_another_inside_target(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "dirk", CB_PREC_F32);
    ADD(o, "acc", 10, SH, false, NULL, CB_PREC_F32);
    ADD(o, "p", 4, SH, false, "acc", CB_PREC_F32);
    ADD(o, "q", 4, LO, true, "acc", CB_PREC_F32); /* lands in shared */
    ADD(o, "r", 3, SH, false, "acc", CB_PREC_F32); /* 2 left: own space */
    ADD(o, "s", 2, LO, false, "acc", CB_PREC_F32); /* the last 2 */
    ADD(o, "t", 0, SH, false, "acc", CB_PREC_F32); /* 0 fits in 0 */
    SHARED_AT(o, "p", 0, 4, true);
    SHARED_AT(o, "q", 4, 4, true);
    SHARED_AT(o, "r", 10, 3, false);
    SHARED_AT(o, "s", 8, 2, true);
    SHARED_AT(o, "t", 10, 0, true);
    EXPECT_SIZES(o, 13, 0, 0, 0, 0, 0);
}

static void alias_of_alias_should_pack_inside_the_alias(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "firk", CB_PREC_F64);
    ADD(o, "base", 4, SH, false, NULL, CB_PREC_F64);
    ADD(o, "pad", 2, SH, false, NULL, CB_PREC_F64);
    ADD(o, "mid", 3, SH, false, "base", CB_PREC_F64);  /* [0,3) in base */
    ADD(o, "leaf", 2, LO, false, "mid", CB_PREC_F64);  /* [0,2) in mid */
    ADD(o, "leaf2", 1, SH, false, "mid", CB_PREC_F64); /* [2,3) */
    ADD(o, "leaf3", 1, SH, false, "mid", CB_PREC_F64); /* mid full */
    ADD(o, "big", 5, SH, false, "base", CB_PREC_F64);  /* own [7,12) */
    ADD(o, "in_big", 5, LO, true, "big", CB_PREC_F64); /* inside big */
    SHARED_AT(o, "mid", 0, 3, true);
    SHARED_AT(o, "leaf", 0, 2, true);
    SHARED_AT(o, "leaf2", 2, 1, true);
    SHARED_AT(o, "leaf3", 6, 1, false);
    SHARED_AT(o, "big", 7, 5, false);
    SHARED_AT(o, "in_big", 7, 5, true);
    EXPECT_SIZES(o, 12, 0, 0, 0, 0, 0);
}

static void alias_of_local_or_persistent_should_never_overlap(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "rosenbrock", CB_PREC_F32);
    ADD(o, "store", 8, LO, false, NULL, CB_PREC_F32);
    ADD(o, "hist", 8, LO, true, NULL, CB_PREC_F32);
    ADD(o, "inc", 2, LO, true, "store", CB_PREC_F32);  /* persistent */
    ADD(o, "tmp", 2, LO, false, "hist", CB_PREC_F32);  /* local */
    ADD(o, "zero", 0, LO, false, "store", CB_PREC_F32); /* local, 1 */
    ADD(o, "sh", 3, SH, false, "hist", CB_PREC_F32);   /* shared */
    PERSISTENT_AT(o, "inc", 8, 2);
    LOCAL_AT(o, "tmp", 2, 2);
    LOCAL_AT(o, "zero", 0, 1);
    SHARED_AT(o, "sh", 0, 3, false);
    EXPECT_SIZES(o, 3, 10, 11, 0, 0, 0);
}

static void zero_size_shared_buffer_should_take_no_space(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    ADD(o, "z", 0, SH, false, NULL, CB_PREC_F32);
    ADD(o, "x", 2, SH, false, NULL, CB_PREC_F32);
    ADD(o, "zp", 0, LO, true, NULL, CB_PREC_F32);
    SHARED_AT(o, "z", 0, 0, false);
    SHARED_AT(o, "x", 0, 2, false);
    PERSISTENT_AT(o, "zp", 0, 0);
    EXPECT_SIZES(o, 2, 0, 0, 0, 0, 0);
}

static void layout_should_not_depend_on_query_order(void **state)
{
    cb_registry *r = registry_of(state);
    cb_registry *r2 = cb_registry_new();
    assert_non_null(r2);
    cb_owner *o1 = worked_example(r);
    cb_owner *o2 = worked_example(r2);
    static const char *const names[] = {"a", "b", "c", "d", "e",
                                        "f", "g", "h", "i"};
    /* o1: sizes first, in reverse; o2: placements first, backwards. */
    assert_int_equal(cb_local_buffer_size(o1), 6);
    assert_int_equal(cb_persistent_local_buffer_size(o1), 7);
    assert_int_equal(cb_shared_buffer_size(o1), 16);
    cb_placement p1[9], p2[9];
    cubie_error err = {0};
    for (size_t k = 9; k-- > 0;) {
        assert_int_equal(cb_placement_of(o2, names[k], &p2[k], &err),
                         CUBIE_OK);
    }
    for (size_t k = 0; k < 9; k++) {
        assert_int_equal(cb_placement_of(o1, names[k], &p1[k], &err),
                         CUBIE_OK);
        assert_int_equal(p1[k].pool, p2[k].pool);
        assert_int_equal(p1[k].offset, p2[k].offset);
        assert_int_equal(p1[k].alloc, p2[k].alloc);
        assert_int_equal(p1[k].overlapped, p2[k].overlapped);
    }
    assert_int_equal(cb_shared_buffer_size(o2), 16);
    /* A rebuild after invalidation gives the same layout again. */
    cb_clear_layout(o1);
    check_worked_example(o1);
    cb_registry_free(r2);
}

/* ---- children --------------------------------------------------------- */

static void register_child_should_roll_up_child_totals(void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *newton = OWNER(r, "newton", CB_PREC_F64);
    ADD(newton, "delta", 6, SH, false, NULL, CB_PREC_F64);
    ADD(newton, "theta", 2, LO, true, NULL, CB_PREC_F64);
    ADD(newton, "scratch", 9, LO, false, NULL, CB_PREC_F64); /* not rolled */
    ADD(newton, "iters", 1, SH, false, NULL, CB_PREC_I32);
    ADD(newton, "hist", 3, LO, true, NULL, CB_PREC_I32);
    cb_owner *dirk = OWNER(r, "dirk", CB_PREC_F64);
    ADD(dirk, "acc", 5, SH, false, NULL, CB_PREC_F64);
    CHILD(dirk, newton, "solver");
    ADD(dirk, "after", 1, LO, true, NULL, CB_PREC_F64);

    SHARED_AT(dirk, "acc", 0, 5, false);
    SHARED_AT(dirk, "solver_shared", 5, 6, false);
    PERSISTENT_AT(dirk, "solver_persistent", 0, 2);
    PERSISTENT_AT(dirk, "after", 2, 1);
    PLACE_AT(dirk, "solver_shared_i", CB_POOL_SHARED, true, 0, 1, 1, false);
    PLACE_AT(dirk, "solver_persistent_i", CB_POOL_PERSISTENT, true, 0, 3, 3,
             false);
    EXPECT_SIZES(dirk, 11, 3, 0, 1, 3, 0);
    EXPECT_ALLOC(dirk, "solver_shared_i", false,
                 "int *solver_shared_i = shared_i + 0;\n");
    EXPECT_ALLOC(dirk, "solver_persistent_i", false,
                 "int *solver_persistent_i = persistent_i + 0;\n");

    /* Roll-ups are not relocatable. */
    assert_int_equal(cb_relocatable_count(dirk), 2);
    assert_string_equal(cb_relocatable_name(dirk, 0), "acc");
    assert_string_equal(cb_relocatable_name(dirk, 1), "after");
    assert_null(cb_relocatable_name(dirk, 2));
    /* dirk local 0 + newton local 9 + dirk persistent 3 + int 3 */
    assert_int_equal(cb_declared_local_elements(dirk), 15);
}

static void register_child_again_should_refresh_after_child_grows(
    void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *lin = OWNER(r, "linear", CB_PREC_F32);
    ADD(lin, "v", 4, SH, false, NULL, CB_PREC_F32);
    cb_owner *newton = OWNER(r, "newton", CB_PREC_F32);
    CHILD(newton, lin, "linear_solver");
    ADD(newton, "delta", 4, SH, false, NULL, CB_PREC_F32);
    cb_owner *step = OWNER(r, "step", CB_PREC_F32);
    CHILD(step, newton, "solver");
    assert_int_equal(cb_shared_buffer_size(step), 8);

    /* The grandchild grows: the chain follows only when re-registered
     * (sizes are snapshots, issue #520 of the original). */
    ADD(lin, "w", 4, SH, false, NULL, CB_PREC_F32);
    assert_int_equal(cb_shared_buffer_size(newton), 8);
    CHILD(newton, lin, "linear_solver");
    assert_int_equal(cb_shared_buffer_size(newton), 12);
    assert_int_equal(cb_shared_buffer_size(step), 8);
    CHILD(step, newton, "solver");
    assert_int_equal(cb_shared_buffer_size(step), 12);

    /* The refreshed roll-up keeps its position in the order. */
    SHARED_AT(newton, "linear_solver_shared", 0, 8, false);
    SHARED_AT(newton, "delta", 8, 4, false);
    assert_int_equal(cb_relocatable_count(newton), 1);
}

static void register_child_should_replace_the_recorded_child(void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *a = OWNER(r, "a", CB_PREC_F32);
    ADD(a, "la", 7, LO, false, NULL, CB_PREC_F32);
    cb_owner *b = OWNER(r, "b", CB_PREC_F32);
    ADD(b, "lb", 3, LO, false, NULL, CB_PREC_F32);
    ADD(b, "sb", 2, SH, false, NULL, CB_PREC_F32);
    cb_owner *p = OWNER(r, "p", CB_PREC_F32);
    CHILD(p, a, "solver");
    assert_int_equal(cb_declared_local_elements(p), 7);
    CHILD(p, b, "solver");
    assert_int_equal(cb_declared_local_elements(p), 3);
    assert_int_equal(cb_shared_buffer_size(p), 2);
    /* Clearing p's family no longer reaches a. */
    cb_clear_parent(p);
    assert_int_equal(cb_local_buffer_size(a), 7);
    assert_int_equal(cb_local_buffer_size(b), 0);
}

static void register_child_should_undo_relocation_of_rollups(void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *c = OWNER(r, "child", CB_PREC_F32);
    ADD(c, "x", 3, SH, false, NULL, CB_PREC_F32);
    cb_owner *p = OWNER(r, "parent", CB_PREC_F32);
    CHILD(p, c, "kid");
    bool rec = false;
    cubie_error err = {0};
    assert_int_equal(cb_update_location(p, "kid_shared_location", "local",
                                        &rec, &err), CUBIE_OK);
    assert_true(rec);
    LOCAL_AT(p, "kid_shared", 3, 3);
    CHILD(p, c, "kid");
    SHARED_AT(p, "kid_shared", 0, 3, false);
}

static void register_child_should_reject_bad_children(void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *c = OWNER(r, "child", CB_PREC_F32);
    cb_owner *c64 = OWNER(r, "child64", CB_PREC_F64);
    cb_owner *p = OWNER(r, "parent", CB_PREC_F32);
    ADD(p, "kid_persistent", 1, LO, true, NULL, CB_PREC_F32);

    cubie_error e1 = {0};
    EXPECT_ERROR(cb_register_child(p, c, "kid", &e1), &e1, CUBIE_E_REGISTRY,
                 "child roll-up 'kid_persistent' clashes");
    assert_int_equal(cb_relocatable_count(p), 1);
    assert_int_equal(cb_declared_local_elements(p), 1); /* no child */

    cubie_error e2 = {0};
    EXPECT_ERROR(cb_register_child(p, c64, "wide", &e2), &e2,
                 CUBIE_E_REGISTRY, "has precision float64, the owner "
                                   "float32");
    cubie_error e3 = {0};
    EXPECT_ERROR(cb_register_child(p, c, "2kid", &e3), &e3,
                 CUBIE_E_REGISTRY, "child name '2kid' is not a C identifier");
    cubie_error e4 = {0};
    EXPECT_ERROR(cb_register_child(p, c, "", &e4), &e4, CUBIE_E_REGISTRY,
                 "is not a C identifier");

    cb_registry *other = cb_registry_new();
    assert_non_null(other);
    cb_owner *alien = OWNER(other, "alien", CB_PREC_F32);
    cubie_error e5 = {0};
    EXPECT_ERROR(cb_register_child(p, alien, "alien", &e5), &e5,
                 CUBIE_E_REGISTRY, "belongs to another registry");
    cb_registry_free(other);

    /* A child whose layout fails passes its error on. */
    ADD(c, "t", 2, SH, false, NULL, CB_PREC_F32);
    ADD(c, "u", 1, SH, false, "t", CB_PREC_F32);
    cb_buffer_update u = {.set = CB_UPD_ALIASES, .aliases = "gone"};
    cubie_error e6 = {0};
    assert_int_equal(cb_update_buffer(c, "u", &u, NULL, NULL, &e6), CUBIE_OK);
    EXPECT_ERROR(cb_register_child(p, c, "ok", &e6), &e6, CUBIE_E_REGISTRY,
                 "aliases 'gone', which is not registered");
    assert_null(cb_relocatable_name(p, 1));

    cubie_error e7 = {0};
    EXPECT_ERROR(cb_register_child(p, NULL, "x", &e7), &e7, CUBIE_E_ARG,
                 "NULL");
}

static void aliasing_a_child_rollup_should_overlap_it(void **state)
{
    /* Crank-Nicolson's cn_dxdt aliases solver_shared. */
    cb_registry *r = registry_of(state);
    cb_owner *newton = OWNER(r, "newton", CB_PREC_F32);
    ADD(newton, "delta", 4, SH, false, NULL, CB_PREC_F32);
    ADD(newton, "residual", 4, SH, false, NULL, CB_PREC_F32);
    cb_owner *cn = OWNER(r, "cn", CB_PREC_F32);
    CHILD(cn, newton, "solver");
    ADD(cn, "cn_dxdt", 4, LO, false, "solver_shared", CB_PREC_F32);
    SHARED_AT(cn, "cn_dxdt", 0, 4, true);
    assert_int_equal(cb_shared_buffer_size(cn), 8);
    assert_int_equal(cb_relocatable_count(cn), 1);
}

/* ---- clearing --------------------------------------------------------- */

static void clear_own_should_keep_the_children_buffers(void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *c = OWNER(r, "child", CB_PREC_F32);
    ADD(c, "x", 3, LO, false, NULL, CB_PREC_F32);
    cb_owner *p = OWNER(r, "parent", CB_PREC_F32);
    ADD(p, "y", 2, SH, false, NULL, CB_PREC_F32);
    CHILD(p, c, "kid");
    assert_int_equal(cb_declared_local_elements(p), 3);
    cb_clear_own(p);
    assert_int_equal(cb_relocatable_count(p), 0);
    EXPECT_SIZES(p, 0, 0, 0, 0, 0, 0);
    assert_int_equal(cb_local_buffer_size(c), 3);
    assert_int_equal(cb_declared_local_elements(p), 0); /* record gone */
    /* The owner stays usable and its names are free again. */
    assert_ptr_equal(cb_registry_find(r, "parent"), p);
    ADD(p, "y", 5, SH, false, NULL, CB_PREC_F32);
    CHILD(p, c, "kid");
    assert_int_equal(cb_shared_buffer_size(p), 5);
}

static void clear_parent_should_recurse_through_children(void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *g = OWNER(r, "grandchild", CB_PREC_F32);
    ADD(g, "gx", 3, SH, false, NULL, CB_PREC_F32);
    cb_owner *c = OWNER(r, "child", CB_PREC_F32);
    ADD(c, "cx", 3, LO, false, NULL, CB_PREC_F32);
    CHILD(c, g, "g");
    cb_owner *p = OWNER(r, "parent", CB_PREC_F32);
    CHILD(p, c, "c");
    cb_owner *bystander = OWNER(r, "bystander", CB_PREC_F32);
    ADD(bystander, "bx", 1, LO, false, NULL, CB_PREC_F32);
    cb_clear_parent(p);
    assert_int_equal(cb_relocatable_count(p), 0);
    assert_int_equal(cb_relocatable_count(c), 0);
    assert_int_equal(cb_relocatable_count(g), 0);
    assert_int_equal(cb_shared_buffer_size(p), 0);
    assert_int_equal(cb_shared_buffer_size(g), 0);
    assert_int_equal(cb_relocatable_count(bystander), 1);
}

static void clear_parent_should_end_on_cycles(void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *a = OWNER(r, "a", CB_PREC_F32);
    cb_owner *b = OWNER(r, "b", CB_PREC_F32);
    ADD(a, "ax", 2, LO, false, NULL, CB_PREC_F32);
    ADD(b, "bx", 3, LO, false, NULL, CB_PREC_F32);
    CHILD(a, b, "b");
    CHILD(b, a, "a");
    CHILD(a, a, "self");
    /* The recursive walks visit each owner once. */
    assert_int_equal(cb_declared_local_elements(a), 5);
    assert_int_equal(cb_declared_local_elements(b), 5);
    cb_clear_parent(a);
    assert_int_equal(cb_relocatable_count(a), 0);
    assert_int_equal(cb_relocatable_count(b), 0);
    assert_int_equal(cb_declared_local_elements(a), 0);
}

static void reset_should_clear_every_owner(void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *o = worked_example(r);
    cb_owner *q = OWNER(r, "other", CB_PREC_F64);
    ADD(q, "x", 1, SH, false, NULL, CB_PREC_F64);
    cb_registry_reset(r);
    EXPECT_SIZES(o, 0, 0, 0, 0, 0, 0);
    EXPECT_SIZES(q, 0, 0, 0, 0, 0, 0);
    /* Owners survive with their precision. */
    assert_ptr_equal(cb_registry_find(r, "other"), q);
    assert_int_equal(cb_owner_precision(q), CB_PREC_F64);
    assert_string_equal(cb_owner_name(q), "other");
    check_worked_example(worked_example(r));
}

/* ---- updates ---------------------------------------------------------- */

static void update_buffer_should_report_recognized_and_changed(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    ADD(o, "x", 3, SH, false, NULL, CB_PREC_F32);
    ADD(o, "y", 2, SH, false, NULL, CB_PREC_F32);
    cubie_error err = {0};
    bool rec = true, chg = true;

    cb_buffer_update u = {.set = CB_UPD_SIZE, .size = 3};
    assert_int_equal(cb_update_buffer(o, "ghost", &u, &rec, &chg, &err),
                     CUBIE_OK);
    assert_false(rec);
    assert_false(chg);

    assert_int_equal(cb_update_buffer(o, "x", &u, &rec, &chg, &err),
                     CUBIE_OK);
    assert_true(rec);
    assert_false(chg);

    /* Only flagged fields count: loc is ignored without its flag. */
    u.size = 6;
    u.loc = CB_LOC_LOCAL;
    assert_int_equal(cb_update_buffer(o, "x", &u, &rec, &chg, &err),
                     CUBIE_OK);
    assert_true(rec);
    assert_true(chg);
    SHARED_AT(o, "x", 0, 6, false);
    SHARED_AT(o, "y", 6, 2, false);

    cb_buffer_update all = {
        .set = CB_UPD_LOCATION | CB_UPD_PERSISTENT | CB_UPD_PRECISION,
        .loc = CB_LOC_LOCAL, .persistent = true, .prec = CB_PREC_I32};
    assert_int_equal(cb_update_buffer(o, "y", &all, &rec, &chg, &err),
                     CUBIE_OK);
    assert_true(chg);
    PLACE_AT(o, "y", CB_POOL_PERSISTENT, true, 0, 2, 2, false);
    assert_int_equal(cb_update_buffer(o, "y", &all, &rec, &chg, &err),
                     CUBIE_OK);
    assert_false(chg);
    assert_int_equal(err.status, CUBIE_OK);
}

static void update_buffer_aliases_should_change_the_layout(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "dirk", CB_PREC_F32);
    ADD(o, "acc", 4, SH, false, NULL, CB_PREC_F32);
    ADD(o, "base", 4, SH, false, "acc", CB_PREC_F32);
    ADD(o, "late", 2, SH, false, NULL, CB_PREC_F32);
    SHARED_AT(o, "base", 0, 4, true);
    cubie_error err = {0};
    bool rec, chg;

    cb_buffer_update u = {.set = CB_UPD_ALIASES, .aliases = ""};
    assert_int_equal(cb_update_buffer(o, "base", &u, &rec, &chg, &err),
                     CUBIE_OK);
    assert_true(chg);
    SHARED_AT(o, "base", 4, 4, false);
    u.aliases = NULL;
    assert_int_equal(cb_update_buffer(o, "base", &u, &rec, &chg, &err),
                     CUBIE_OK);
    assert_false(chg);

    /* Aliasing a later buffer is allowed through an update: the layout
     * rule decides (a plain shared target is placed in phase 1). */
    u.aliases = "late";
    assert_int_equal(cb_update_buffer(o, "acc", &u, &rec, &chg, &err),
                     CUBIE_OK);
    assert_true(chg);
    SHARED_AT(o, "base", 0, 4, false);
    SHARED_AT(o, "late", 4, 2, false);
    SHARED_AT(o, "acc", 6, 4, false); /* 4 > 2: own space */
    u.aliases = "late";
    assert_int_equal(cb_update_buffer(o, "acc", &u, &rec, &chg, &err),
                     CUBIE_OK);
    assert_false(chg);
}

static void update_to_unknown_alias_should_fail_at_layout(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    ADD(o, "x", 4, SH, false, NULL, CB_PREC_F32);
    ADD(o, "y", 2, SH, false, NULL, CB_PREC_F32);
    cubie_error err = {0};
    bool rec, chg;
    cb_buffer_update u = {.set = CB_UPD_ALIASES, .aliases = "ghost"};
    assert_int_equal(cb_update_buffer(o, "y", &u, &rec, &chg, &err),
                     CUBIE_OK);
    assert_true(chg);

    cb_sizes s;
    EXPECT_ERROR(cb_owner_sizes(o, &s, &err), &err, CUBIE_E_REGISTRY,
                 "buffer 'y' of owner 'loop' aliases 'ghost', which is not "
                 "registered");
    cubie_error err2 = {0};
    cb_sb sb;
    cb_sb_init(&sb);
    EXPECT_ERROR(cb_get_allocator(o, "x", false, &sb, &err2), &err2,
                 CUBIE_E_REGISTRY, "'ghost'");
    cb_sb_free(&sb);
    cubie_error err3 = {0};
    EXPECT_ERROR(cb_owner_describe(o, &sb, &err3), &err3, CUBIE_E_REGISTRY,
                 "'ghost'");
    cb_sb_free(&sb);
    assert_int_equal(cb_shared_buffer_size(o), 0);
    assert_int_equal(cb_persistent_local_buffer_size(o), 0);
    assert_int_equal(cb_local_buffer_size(o), 0);

    /* Registering the target repairs the layout. */
    ADD(o, "ghost", 2, SH, false, NULL, CB_PREC_F32);
    SHARED_AT(o, "y", 4, 2, true);
    assert_int_equal(cb_shared_buffer_size(o), 6);
}

static void update_making_alias_kinds_differ_should_fail_at_layout(
    void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    ADD(o, "x", 4, SH, false, NULL, CB_PREC_F32);
    ADD(o, "y", 2, SH, false, "x", CB_PREC_F32);
    cubie_error err = {0};
    cb_buffer_update u = {.set = CB_UPD_PRECISION, .prec = CB_PREC_I32};
    assert_int_equal(cb_update_buffer(o, "x", &u, NULL, NULL, &err),
                     CUBIE_OK);
    cb_sizes s;
    EXPECT_ERROR(cb_owner_sizes(o, &s, &err), &err, CUBIE_E_REGISTRY,
                 "buffer 'y' of owner 'loop' (float32) cannot alias 'x' "
                 "(int32)");
}

static void update_buffer_should_reject_bad_values(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    ADD(o, "x", 4, SH, false, NULL, CB_PREC_F32);
    bool rec = false, chg = true;

    cubie_error e1 = {0};
    cb_buffer_update u1 = {.set = CB_UPD_PRECISION | CB_UPD_SIZE,
                           .prec = CB_PREC_F64, .size = 9};
    EXPECT_ERROR(cb_update_buffer(o, "x", &u1, &rec, &chg, &e1), &e1,
                 CUBIE_E_REGISTRY,
                 "buffer 'x' of owner 'loop' has precision float64");
    assert_true(rec);
    assert_false(chg);

    cubie_error e2 = {0};
    cb_buffer_update u2 = {.set = CB_UPD_ALIASES | CB_UPD_SIZE,
                           .aliases = "x", .size = 9};
    EXPECT_ERROR(cb_update_buffer(o, "x", &u2, &rec, &chg, &e2), &e2,
                 CUBIE_E_REGISTRY,
                 "buffer 'x' of owner 'loop' cannot alias itself");

    cubie_error e3 = {0};
    cb_buffer_update u3 = {.set = CB_UPD_LOCATION, .loc = (cb_location)7};
    EXPECT_ERROR(cb_update_buffer(o, "x", &u3, &rec, &chg, &e3), &e3,
                 CUBIE_E_REGISTRY, "invalid location 7");

    /* A failed update leaves the entry as it was. */
    SHARED_AT(o, "x", 0, 4, false);

    cubie_error e4 = {0};
    EXPECT_ERROR(cb_update_buffer(o, "x", NULL, &rec, &chg, &e4), &e4,
                 CUBIE_E_ARG, "NULL");
}

static void update_location_should_apply_location_options(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    ADD(o, "state", 4, LO, false, NULL, CB_PREC_F32);
    ADD(o, "hist", 2, LO, true, NULL, CB_PREC_F32);
    cubie_error err = {0};
    bool rec = false;

    assert_int_equal(cb_update_location(o, "state_location", "shared", &rec,
                                        &err), CUBIE_OK);
    assert_true(rec);
    SHARED_AT(o, "state", 0, 4, false);
    /* A persistent buffer moved to shared is simply shared, and moving it
     * back restores its persistence. */
    assert_int_equal(cb_update_location(o, "hist_location", "shared", &rec,
                                        &err), CUBIE_OK);
    SHARED_AT(o, "hist", 4, 2, false);
    assert_int_equal(cb_update_location(o, "hist_location", "local", &rec,
                                        &err), CUBIE_OK);
    PERSISTENT_AT(o, "hist", 0, 2);

    rec = true;
    assert_int_equal(cb_update_location(o, "ghost_location", "local", &rec,
                                        &err), CUBIE_OK);
    assert_false(rec);
    rec = true;
    /* Not a location key: ignored, even with a value that is no location. */
    assert_int_equal(cb_update_location(o, "state_size", "huge", &rec,
                                        &err), CUBIE_OK);
    assert_false(rec);
    rec = true;
    assert_int_equal(cb_update_location(o, "_location", "local", &rec,
                                        &err), CUBIE_OK);
    assert_false(rec);
    assert_int_equal(err.status, CUBIE_OK);
}

static void update_location_with_bad_value_should_fail(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    ADD(o, "state", 4, LO, false, NULL, CB_PREC_F32);
    bool rec = true;
    cubie_error err = {0};
    EXPECT_ERROR(cb_update_location(o, "state_location", "global", &rec,
                                    &err), &err, CUBIE_E_OPTION,
                 "invalid location 'global'");
    assert_false(rec);
    assert_string_equal(err.path, "state_location");
    LOCAL_AT(o, "state", 4, 4);

    /* As in the original, the value is checked even for a name this owner
     * does not know. */
    cubie_error err2 = {0};
    EXPECT_ERROR(cb_update_location(o, "ghost_location", "Shared", &rec,
                                    &err2), &err2, CUBIE_E_OPTION,
                 "option 'ghost_location' of owner 'loop'");
    cubie_error err3 = {0};
    EXPECT_ERROR(cb_update_location(o, "state_location", NULL, &rec, &err3),
                 &err3, CUBIE_E_OPTION, "invalid location");
}

/* ---- size queries ----------------------------------------------------- */

static void size_queries_should_be_zero_for_empty_or_null_owners(
    void **state)
{
    cb_owner *o = OWNER(registry_of(state), "empty", CB_PREC_F32);
    assert_int_equal(cb_shared_buffer_size(o), 0);
    assert_int_equal(cb_persistent_local_buffer_size(o), 0);
    assert_int_equal(cb_local_buffer_size(o), 0);
    assert_int_equal(cb_shared_buffer_size(NULL), 0);
    assert_int_equal(cb_persistent_local_buffer_size(NULL), 0);
    assert_int_equal(cb_local_buffer_size(NULL), 0);
    assert_int_equal(cb_declared_local_elements(NULL), 0);
    assert_int_equal(cb_relocatable_count(NULL), 0);
    assert_null(cb_relocatable_name(NULL, 0));
    assert_null(cb_registry_find(registry_of(state), "nobody"));
    cubie_error err = {0};
    EXPECT_ERROR(cb_owner_sizes(NULL, NULL, &err), &err, CUBIE_E_ARG,
                 "NULL");
}

static void size_queries_should_cover_real_pools_only(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    ADD(o, "s", 3, SH, false, NULL, CB_PREC_F32);
    ADD(o, "si", 5, SH, false, NULL, CB_PREC_I32);
    ADD(o, "p", 2, LO, true, NULL, CB_PREC_F32);
    ADD(o, "pi", 7, LO, true, NULL, CB_PREC_I32);
    ADD(o, "l", 4, LO, false, NULL, CB_PREC_F32);
    ADD(o, "li", 6, LO, false, NULL, CB_PREC_I32);
    assert_int_equal(cb_shared_buffer_size(o), 3);
    assert_int_equal(cb_persistent_local_buffer_size(o), 2);
    assert_int_equal(cb_local_buffer_size(o), 4);
    EXPECT_SIZES(o, 3, 2, 4, 5, 7, 6);
    /* Declared local counts every local element: (4 + 6) + (2 + 7). */
    assert_int_equal(cb_declared_local_elements(o), 19);
}

static void nonaliased_elements_should_sum_named_plain_buffers(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    ADD(o, "state", 4, SH, false, NULL, CB_PREC_F32);
    ADD(o, "proposed_state", 4, LO, false, NULL, CB_PREC_F32);
    ADD(o, "view", 2, SH, false, "state", CB_PREC_F32);
    ADD(o, "params", 3, LO, true, NULL, CB_PREC_F32);
    static const char *const names[] = {"state", "proposed_state", "view",
                                        "ghost", "params"};
    assert_int_equal(cb_nonaliased_elements(o, names, 5), 11);
    assert_int_equal(cb_nonaliased_elements(o, names, 1), 4);
    assert_int_equal(cb_nonaliased_elements(o, names, 0), 0);
    assert_int_equal(cb_nonaliased_elements(o, NULL, 3), 0);
}

static void declared_local_should_recurse_through_children(void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *lin = OWNER(r, "linear", CB_PREC_F32);
    ADD(lin, "tmp", 5, LO, false, NULL, CB_PREC_F32);
    ADD(lin, "lp", 100, LO, true, NULL, CB_PREC_F32); /* rolled up */
    cb_owner *newton = OWNER(r, "newton", CB_PREC_F32);
    ADD(newton, "delta", 0, LO, false, NULL, CB_PREC_F32); /* counts 1 */
    CHILD(newton, lin, "linear_solver");
    cb_owner *step = OWNER(r, "step", CB_PREC_F32);
    ADD(step, "acc", 2, LO, false, NULL, CB_PREC_F32);
    ADD(step, "sp", 3, LO, true, NULL, CB_PREC_F32);
    CHILD(step, newton, "solver");
    /* local: step 2 + newton 1 + linear 5; persistent of step: 3 + 100 */
    assert_int_equal(cb_declared_local_elements(step), 111);
    assert_int_equal(cb_declared_local_elements(newton), 106);
}

/* ---- register errors -------------------------------------------------- */

static void register_should_reject_bad_names(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    cubie_error e1 = {0};
    EXPECT_ERROR(cb_register(o, "", 1, SH, false, NULL, CB_PREC_F32, &e1),
                 &e1, CUBIE_E_REGISTRY, "owner 'loop': buffer name is empty");
    cubie_error e2 = {0};
    EXPECT_ERROR(cb_register(o, NULL, 1, SH, false, NULL, CB_PREC_F32, &e2),
                 &e2, CUBIE_E_REGISTRY, "buffer name is empty");
    static const char *const bad[] = {"1x", "x-y", "x y", "\xc3\xa9", "a.b"};
    for (size_t k = 0; k < 5; k++) {
        cubie_error e = {0};
        EXPECT_ERROR(cb_register(o, bad[k], 1, SH, false, NULL, CB_PREC_F32,
                                 &e),
                     &e, CUBIE_E_REGISTRY, "is not a C identifier");
    }
    static const char *const reserved[] = {"shared", "persistent_i", "real",
                                           "int", "for", "cb_i"};
    for (size_t k = 0; k < 6; k++) {
        cubie_error e = {0};
        EXPECT_ERROR(cb_register(o, reserved[k], 1, SH, false, NULL,
                                 CB_PREC_F32, &e),
                     &e, CUBIE_E_REGISTRY, "is reserved");
    }
    assert_int_equal(cb_relocatable_count(o), 0);
    ADD(o, "_ok_9", 1, SH, false, NULL, CB_PREC_F32);
}

static void register_should_reject_self_alias(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    cubie_error err = {0};
    EXPECT_ERROR(cb_register(o, "x", 1, SH, false, "x", CB_PREC_F32, &err),
                 &err, CUBIE_E_REGISTRY,
                 "buffer 'x' of owner 'loop' cannot alias itself");
    assert_int_equal(cb_relocatable_count(o), 0);
}

static void register_should_reject_alias_of_unknown_or_later_buffer(
    void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    cubie_error err = {0};
    EXPECT_ERROR(cb_register(o, "x", 1, SH, false, "later", CB_PREC_F32,
                             &err),
                 &err, CUBIE_E_REGISTRY,
                 "buffer 'x' of owner 'loop' aliases 'later', which is not "
                 "registered; register 'later' before 'x'");
    ADD(o, "later", 1, SH, false, NULL, CB_PREC_F32);
    ADD(o, "x", 1, SH, false, "later", CB_PREC_F32);
    /* "" means no alias. */
    ADD(o, "y", 1, SH, false, "", CB_PREC_F32);
    SHARED_AT(o, "y", 1, 1, false);
}

static void register_should_reject_duplicate_names(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    ADD(o, "x", 1, SH, false, NULL, CB_PREC_F32);
    cubie_error err = {0};
    EXPECT_ERROR(cb_register(o, "x", 9, LO, false, NULL, CB_PREC_F32, &err),
                 &err, CUBIE_E_REGISTRY,
                 "buffer 'x' of owner 'loop' is already registered");
    SHARED_AT(o, "x", 0, 1, false);
    /* The same name under another owner is another buffer. */
    cb_owner *q = OWNER(registry_of(state), "other", CB_PREC_F32);
    ADD(q, "x", 2, SH, false, NULL, CB_PREC_F32);
}

static void register_should_reject_foreign_precision(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    cubie_error err = {0};
    EXPECT_ERROR(cb_register(o, "x", 1, SH, false, NULL, CB_PREC_F64, &err),
                 &err, CUBIE_E_REGISTRY,
                 "buffer 'x' of owner 'loop' has precision float64; the "
                 "owner allows only float32 or int32");
    cubie_error err2 = {0};
    EXPECT_ERROR(cb_register(o, "y", 1, SH, false, NULL, (cb_prec)9, &err2),
                 &err2, CUBIE_E_REGISTRY, "has precision unknown precision");
    cubie_error err3 = {0};
    EXPECT_ERROR(cb_register(o, "z", 1, (cb_location)5, false, NULL,
                             CB_PREC_F32, &err3),
                 &err3, CUBIE_E_REGISTRY, "invalid location 5");
    cubie_error err4 = {0};
    EXPECT_ERROR(cb_register(NULL, "z", 1, SH, false, NULL, CB_PREC_F32,
                             &err4),
                 &err4, CUBIE_E_ARG, "NULL");
    assert_int_equal(cb_relocatable_count(o), 0);
}

static void register_checks_should_run_in_documented_order(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    ADD(o, "x", 1, SH, false, NULL, CB_PREC_F32);
    ADD(o, "n", 1, SH, false, NULL, CB_PREC_I32);
    struct {
        const char *name, *alias;
        cb_prec prec;
        const char *fragment;
    } cases[] = {
        {"9", "9", CB_PREC_F64, "not a C identifier"},
        {"y", "y", CB_PREC_F64, "cannot alias itself"},
        {"x", "ghost", CB_PREC_F64, "which is not registered"},
        {"x", "n", CB_PREC_F64, "already registered"},
        {"y", "n", CB_PREC_F64, "has precision float64"},
        {"y", "n", CB_PREC_F32, "cannot alias 'n' (int32)"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        cubie_error err = {0};
        EXPECT_ERROR(cb_register(o, cases[k].name, 1, SH, false,
                                 cases[k].alias, cases[k].prec, &err),
                     &err, CUBIE_E_REGISTRY, cases[k].fragment);
    }
}

static void first_error_should_win(void **state)
{
    cb_owner *o = OWNER(registry_of(state), "loop", CB_PREC_F32);
    cubie_error err = {0};
    EXPECT_ERROR(cb_register(o, "x", 1, SH, false, "x", CB_PREC_F32, &err),
                 &err, CUBIE_E_REGISTRY, "cannot alias itself");
    assert_int_equal(cb_register(o, "", 1, SH, false, NULL, CB_PREC_F32,
                                 &err), CUBIE_E_REGISTRY);
    assert_non_null(strstr(err.message, "cannot alias itself"));
    /* A NULL error pointer is allowed. */
    assert_int_equal(cb_register(o, "", 1, SH, false, NULL, CB_PREC_F32,
                                 NULL), CUBIE_E_REGISTRY);
}

/* ---- owners ----------------------------------------------------------- */

static void owner_should_be_found_again_with_the_same_precision(void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *o = OWNER(r, "loop", CB_PREC_F64);
    assert_ptr_equal(OWNER(r, "loop", CB_PREC_F64), o);
    assert_ptr_equal(cb_registry_find(r, "loop"), o);
    assert_string_equal(cb_owner_name(o), "loop");
    assert_int_equal(cb_owner_precision(o), CB_PREC_F64);
    assert_ptr_not_equal(OWNER(r, "step", CB_PREC_F64), o);
}

static void owner_should_reject_bad_requests(void **state)
{
    cb_registry *r = registry_of(state);
    OWNER(r, "loop", CB_PREC_F32);
    cb_owner *out = (cb_owner *)&out;
    cubie_error e1 = {0};
    EXPECT_ERROR(cb_registry_owner(r, "loop", CB_PREC_F64, &out, &e1), &e1,
                 CUBIE_E_REGISTRY,
                 "owner 'loop' already has precision float32; requested "
                 "float64");
    assert_null(out);
    cubie_error e2 = {0};
    EXPECT_ERROR(cb_registry_owner(r, "counters", CB_PREC_I32, &out, &e2),
                 &e2, CUBIE_E_REGISTRY,
                 "owner 'counters': precision must be float32 or float64");
    assert_null(cb_registry_find(r, "counters"));
    cubie_error e3 = {0};
    EXPECT_ERROR(cb_registry_owner(r, "", CB_PREC_F32, &out, &e3), &e3,
                 CUBIE_E_REGISTRY, "owner name is empty");
    cubie_error e4 = {0};
    EXPECT_ERROR(cb_registry_owner(NULL, "x", CB_PREC_F32, &out, &e4), &e4,
                 CUBIE_E_ARG, "NULL");
}

/* ---- describe --------------------------------------------------------- */

/* The table with every run of blanks squeezed to one and each line
 * trimmed, so the checks do not depend on column widths. Caller frees. */
static char *squeeze(const char *t)
{
    char *out = malloc(strlen(t) + 2);
    assert_non_null(out);
    char *w = out;
    *w++ = '\n';
    bool blank = true; /* at a line start or after a blank */
    for (; *t != '\0'; t++) {
        if (*t == ' ') {
            if (!blank) {
                *w++ = ' ';
            }
            blank = true;
            continue;
        }
        if (*t == '\n' && w[-1] == ' ') {
            w--;
        }
        *w++ = *t;
        blank = *t == '\n';
    }
    *w = '\0';
    return out;
}

static void describe_should_list_every_buffer_and_the_totals(void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *o = worked_example(r);
    cb_owner *c = OWNER(r, "child", CB_PREC_F32);
    ADD(c, "k", 2, SH, false, NULL, CB_PREC_F32);
    CHILD(o, c, "kid");
    ADD(o, "counter", 2, LO, false, NULL, CB_PREC_I32);
    cb_sb sb;
    cb_sb_init(&sb);
    cubie_error err = {0};
    assert_int_equal(cb_owner_describe(o, &sb, &err), CUBIE_OK);
    char *t = squeeze(cb_sb_str(&sb));
    static const char *const rows[] = {
        "\nowner 'group' (float32): 14 buffers\n",
        "\nname pool offset size alloc notes\n",
        "\na shared 0 8 8\n",
        "\nb persistent 0 4 4\n",
        "\nc local - 5 5\n",
        "\nd shared 0 3 3 aliases a (overlapped)\n",
        "\ne shared 10 6 6 aliases a (own space)\n",
        "\nf shared 3 2 2 aliases a (overlapped)\n",
        "\ng persistent 4 3 3 aliases b (own space)\n",
        "\nh local - 0 1\n",
        "\ni shared 16 2 2 aliases c (own space)\n",
        "\nkid_shared shared 8 2 2 child roll-up\n",
        "\nkid_persistent persistent 4 0 0 child roll-up\n",
        "\nkid_shared_i shared int 0 0 0 child roll-up\n",
        "\nkid_persistent_i persistent int 0 0 0 child roll-up\n",
        "\ncounter local int - 2 2\n",
        ("\ntotals: shared 18, persistent 7, local 6; int: shared 0, "
         "persistent 0, local 2\n"),
    };
    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        if (strstr(t, rows[k]) == NULL) {
            print_error("no row \"%s\" in:%s\n", rows[k], t);
            free(t);
            cb_sb_free(&sb);
            fail();
        }
    }
    free(t);
    cb_sb_free(&sb);
}

/* ---- freezing, rows, declarations ------------------------------------ */

/* A frozen registry keeps its layout: registrations, updates and roll-ups
 * are refused with the owner's name, clears are ignored, queries read the
 * layout as it was. */
static void a_frozen_registry_should_refuse_changes(void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *o = OWNER(r, "step", CB_PREC_F64);
    cb_owner *kid = OWNER(r, "kid", CB_PREC_F64);
    ADD(o, "a", 4, SH, false, NULL, CB_PREC_F64);
    ADD(o, "b", 3, LO, true, NULL, CB_PREC_F64);
    cubie_error err = {0};
    assert_int_equal(cb_registry_freeze(r, &err), CUBIE_OK);
    assert_true(cb_registry_frozen(r));
    cubie_error e1 = {0}, e2 = {0}, e3 = {0}, e4 = {0};
    EXPECT_ERROR(cb_register(o, "c", 1, LO, false, NULL, CB_PREC_F64, &e1),
                 &e1, CUBIE_E_REGISTRY, "after the layout was frozen");
    cb_buffer_update u = {.set = CB_UPD_SIZE, .size = 9};
    EXPECT_ERROR(cb_update_buffer(o, "a", &u, NULL, NULL, &e2), &e2,
                 CUBIE_E_REGISTRY, "owner 'step': a buffer updated");
    EXPECT_ERROR(cb_register_child(o, kid, "kid", &e3), &e3,
                 CUBIE_E_REGISTRY, "after the layout was frozen");
    EXPECT_ERROR(cb_buffer_rows(o, "a", 2, 2, "a_%d", 0, &e4), &e4,
                 CUBIE_E_REGISTRY, "rows set after");
    cb_clear_own(o);
    cb_registry_reset(r);
    assert_int_equal(cb_shared_buffer_size(o), 4);
    assert_int_equal(cb_persistent_local_buffer_size(o), 3);
}

/* Rows are named views with offsets from the registry; a declaration
 * holds the views the code uses, and only those. */
static void rows_should_be_declared_as_named_views(void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *o = OWNER(r, "erk", CB_PREC_F32);
    ADD(o, "pad", 5, SH, false, NULL, CB_PREC_F32);
    ADD(o, "acc", 9, SH, false, NULL, CB_PREC_F32);
    cubie_error err = {0};
    cubie_error e1 = {0}, e2 = {0};
    EXPECT_ERROR(cb_buffer_rows(o, "acc", 2, 3, "stage_%d", 1, &e1), &e1,
                 CUBIE_E_REGISTRY, "2 rows of 3 are not its 9 elements");
    EXPECT_ERROR(cb_buffer_rows(o, "acc", 3, 3, "pad", 1, &e2), &e2,
                 CUBIE_E_REGISTRY, "row view 'pad' is not a free");
    assert_int_equal(cb_buffer_rows(o, "acc", 3, 3, "stage_%d", 1, &err),
                     CUBIE_OK);
    assert_string_equal(cb_row_name(o, "acc", 1), "stage_2");
    assert_null(cb_row_name(o, "acc", 3));
    cb_sb sb;
    cb_sb_init(&sb);
    /* Not before the freeze. */
    cubie_error e3 = {0};
    EXPECT_ERROR(cb_declare_used(o, "x = stage_2[i];", false, &sb, &e3), &e3,
                 CUBIE_E_REGISTRY, "before the layout was frozen");
    assert_int_equal(cb_registry_freeze(r, &err), CUBIE_OK);
    /* A comment and a longer name are not uses. */
    assert_int_equal(cb_declare_used(o, "// pad\nx = stage_2[i] + "
                                        "stage_22 + stage_3[0];\n",
                                     false, &sb, &err),
                     CUBIE_OK);
    assert_string_equal(cb_sb_str(&sb),
                        "real *acc = shared + 5;\n"
                        "real *stage_2 = acc + 3;\n"
                        "real *stage_3 = acc + 6;\n");
    cb_sb_free(&sb);
}

/* After emission, a registered buffer with room that no code declared is
 * an error naming it; a buffer of no room needs no declaration. */
static void an_undeclared_buffer_should_fail_the_check(void **state)
{
    cb_registry *r = registry_of(state);
    cb_owner *o = OWNER(r, "dirk", CB_PREC_F64);
    ADD(o, "used", 3, LO, false, NULL, CB_PREC_F64);
    ADD(o, "idle", 2, LO, false, NULL, CB_PREC_F64);
    ADD(o, "empty", 0, LO, false, NULL, CB_PREC_F64);
    cubie_error err = {0};
    assert_int_equal(cb_registry_freeze(r, &err), CUBIE_OK);
    cb_sb sb;
    cb_sb_init(&sb);
    assert_int_equal(cb_declare_used(o, "used[0] = 1;", true, &sb, &err),
                     CUBIE_OK);
    assert_string_equal(cb_sb_str(&sb),
                        "real used[3];\n"
                        "for (int cb_i = 0; cb_i < 3; ++cb_i) { used[cb_i] "
                        "= 0; }\n");
    cb_sb_free(&sb);
    cubie_error e1 = {0};
    EXPECT_ERROR(cb_registry_check_declared(r, &e1), &e1, CUBIE_E_CODEGEN,
                 "buffer 'idle' of owner 'dirk' (2 elements) is registered "
                 "but no generated code declares it");
    cb_sb_init(&sb);
    assert_int_equal(cb_get_allocator(o, "idle", false, &sb, &err),
                     CUBIE_OK);
    cb_sb_free(&sb);
    assert_int_equal(cb_registry_check_declared(r, &err), CUBIE_OK);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(worked_example_should_match_reference_layout),
        T(worked_example_allocators_should_use_literal_offsets),
        T(realistic_nesting_should_match_reference_loop_layout),
        T(allocator_should_emit_every_pool_kind),
        T(allocator_with_zero_should_append_a_zeroing_loop),
        T(allocator_should_follow_the_builder_indentation),
        T(allocator_of_unknown_buffer_should_fail),
        T(int_buffers_should_use_pools_of_their_own),
        T(int_alias_of_real_buffer_should_fail),
        T(aliases_should_pack_one_after_another_inside_target),
        T(alias_of_alias_should_pack_inside_the_alias),
        T(alias_of_local_or_persistent_should_never_overlap),
        T(zero_size_shared_buffer_should_take_no_space),
        T(layout_should_not_depend_on_query_order),
        T(register_child_should_roll_up_child_totals),
        T(register_child_again_should_refresh_after_child_grows),
        T(register_child_should_replace_the_recorded_child),
        T(register_child_should_undo_relocation_of_rollups),
        T(register_child_should_reject_bad_children),
        T(aliasing_a_child_rollup_should_overlap_it),
        T(clear_own_should_keep_the_children_buffers),
        T(clear_parent_should_recurse_through_children),
        T(clear_parent_should_end_on_cycles),
        T(reset_should_clear_every_owner),
        T(update_buffer_should_report_recognized_and_changed),
        T(update_buffer_aliases_should_change_the_layout),
        T(update_to_unknown_alias_should_fail_at_layout),
        T(update_making_alias_kinds_differ_should_fail_at_layout),
        T(update_buffer_should_reject_bad_values),
        T(update_location_should_apply_location_options),
        T(update_location_with_bad_value_should_fail),
        T(size_queries_should_be_zero_for_empty_or_null_owners),
        T(size_queries_should_cover_real_pools_only),
        T(nonaliased_elements_should_sum_named_plain_buffers),
        T(declared_local_should_recurse_through_children),
        T(register_should_reject_bad_names),
        T(register_should_reject_self_alias),
        T(register_should_reject_alias_of_unknown_or_later_buffer),
        T(register_should_reject_duplicate_names),
        T(register_should_reject_foreign_precision),
        T(register_checks_should_run_in_documented_order),
        T(first_error_should_win),
        T(owner_should_be_found_again_with_the_same_precision),
        T(owner_should_reject_bad_requests),
        T(describe_should_list_every_buffer_and_the_totals),
        T(a_frozen_registry_should_refuse_changes),
        T(rows_should_be_declared_as_named_views),
        T(an_undeclared_buffer_should_fail_the_check),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
