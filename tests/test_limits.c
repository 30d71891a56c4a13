/* Hostile sizes and bytes (issue 10, rows 2, 3, 4, 12 and 14): input the
 * library must refuse with a status and a message saying where, or
 * generate, but never crash on, hang on or run out of memory for.
 *   - a flat expression of 50000 terms, generated (implicit methods build
 *     its derivatives) inside a thread with a 1 MiB stack;
 *   - a chain of 60000 auxiliaries, the same, and a cycle through it;
 *   - nested integer powers, whose source must grow linearly;
 *   - NUL characters in a spec (escaped or raw) and in a runs file;
 *   - a directory, /dev/zero, an oversized file and a pipe as spec or
 *     runs file. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- running a generation in a thread with a small stack --------------
 * cmocka's asserts jump (longjmp) and must stay in the main thread: the
 * thread only records what happened. */

enum { SMALL_STACK = 1 << 20, MAX_ALGS = 6 };

typedef struct {
    const char *json;
    const char *const *opts[MAX_ALGS]; /* NULL-terminated pairs, per run */
    int n;
    cubie_status parse_st;
    char parse_msg[1024];
    cubie_status st[MAX_ALGS];
    char msg[MAX_ALGS][1024];
    char *src[MAX_ALGS];
} gen_job;

static void *gen_main(void *arg)
{
    gen_job *j = arg;
    cubie_error err = {0};
    cubie_system *sys = NULL;
    j->parse_st = cubie_system_parse(j->json, strlen(j->json), &sys, &err);
    snprintf(j->parse_msg, sizeof(j->parse_msg), "%s", err.message);
    cubie_error_clear(&err);
    for (int i = 0; j->parse_st == CUBIE_OK && i < j->n; i++) {
        cubie_options *o = NULL;
        j->st[i] = cubie_options_new(&o);
        for (int k = 0; j->st[i] == CUBIE_OK && j->opts[i][k] != NULL; k++) {
            j->st[i] = cubie_options_set_pair(o, j->opts[i][k], &err);
        }
        if (j->st[i] == CUBIE_OK) {
            j->st[i] = cubie_generate(sys, o, &j->src[i], &err);
        }
        snprintf(j->msg[i], sizeof(j->msg[i]), "%s", err.message);
        cubie_error_clear(&err);
        cubie_options_free(o);
    }
    cubie_system_free(sys);
    return NULL;
}

/* Parse j->json and generate under each option list, in a thread whose
 * stack is 1 MiB (a tenth of the usual main thread's). */
static void generate_in_small_stack(gen_job *j)
{
    pthread_attr_t attr;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, SMALL_STACK), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, &attr, gen_main, j), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);
}

static void gen_job_free(gen_job *j)
{
    for (int i = 0; i < j->n; i++) {
        free(j->src[i]);
        j->src[i] = NULL;
    }
}

static void expect_generated(const gen_job *j)
{
    if (j->parse_st != CUBIE_OK) {
        fail_msg("parse: %s: %s", cubie_status_str(j->parse_st),
                 j->parse_msg);
    }
    for (int i = 0; i < j->n; i++) {
        if (j->st[i] != CUBIE_OK || j->src[i] == NULL) {
            fail_msg("%s: %s: %s", j->opts[i][0],
                     cubie_status_str(j->st[i]), j->msg[i]);
        }
    }
}

/* Occurrences of what in text, overlapping ones too. Not by strstr in a
 * loop: a sanitizer's strstr measures the rest of the text every call. */
static size_t count_of(const char *text, const char *what)
{
    size_t n = 0, len = strlen(text), m = strlen(what);
    for (size_t i = 0; i + m <= len; i++) {
        n += memcmp(text + i, what, m) == 0;
    }
    return n;
}

static const char *const opt_euler[] = {"algorithm=euler",
                                        "precision=float64", NULL};
static const char *const opt_be[] = {"algorithm=backwards_euler",
                                     "precision=float64", NULL};
static const char *const opt_be_jacobi[] = {
    "algorithm=backwards_euler", "precision=float64",
    "linear_correction_type=bicgstab", "preconditioner_type=jacobi", NULL};
static const char *const opt_kvaerno5[] = {"algorithm=kvaerno5",
                                           "precision=float64", NULL};
static const char *const opt_rodas3p[] = {"algorithm=rodas3p",
                                          "precision=float64", NULL};

/* ---- row 2: long flat expressions -------------------------------------- */

/* A growable text for building specs. */
typedef struct {
    char *s;
    size_t n, cap;
} text;

static void put(text *t, const char *s)
{
    size_t k = strlen(s);
    if (t->n + k + 1 > t->cap) {
        t->cap = 2 * (t->n + k + 1);
        t->s = realloc(t->s, t->cap);
        assert_non_null(t->s);
    }
    memcpy(t->s + t->n, s, k + 1);
    t->n += k;
}

/* "first op first op ... first", n terms. */
static void put_chain(text *t, const char *term, const char *op, int n)
{
    for (int i = 0; i < n; i++) {
        put(t, i > 0 ? op : "");
        put(t, term);
    }
}

static void a_flat_sum_of_50000_terms_should_generate_in_a_1_mib_stack(
    void **state)
{
    (void)state;
    /* The case (100 kB of x+x+...+x), and beside it the other
     * left-deep chains: a product (its derivative shares every partial
     * product, so the common-subexpression walks go as deep) and a
     * conjunction (a chain of tests). */
    text t = {0};
    put(&t, "{\"states\": {\"x\": 1, \"y\": 1, \"z\": 0, \"w\": 0}, "
            "\"equations\": [\"dx = ");
    put_chain(&t, "x", "+", 50000);
    put(&t, "\", \"dy = ");
    put_chain(&t, "y", "*", 20000);
    put(&t, "\", \"dz = ");
    put_chain(&t, "x > z", " && ", 5000);
    /* And the deepest nesting the parser takes (99 parentheses), of
     * powers whose derivatives nest as deep. */
    put(&t, "\", \"dw = ");
    put_chain(&t, "(", "", 99);
    put(&t, "w");
    put_chain(&t, "+1)^2", "", 99);
    put(&t, "\"]}");
    gen_job j = {.json = t.s,
                 .opts = {opt_euler, opt_be, opt_be_jacobi, opt_kvaerno5,
                          opt_rodas3p},
                 .n = 5};
    generate_in_small_stack(&j);
    expect_generated(&j);
    for (int i = 0; i < j.n; i++) {
        /* cb_dxdt writes the sum term by term. */
        assert_int_equal(count_of(j.src[i], "state[0] + state[0]"), 49999);
    }
    for (int i = 1; i < j.n; i++) {
        /* J v: the derivative of the sum folds to 50000 dx. */
        assert_non_null(strstr(j.src[i], "out[0] = 50000.0 * v[0];"));
    }
    /* A base up to 40 characters is repeated, a wider one is a local:
     * (w + 1), pw0 * pw0 + 1 ... are short, their squares plus one are
     * not, so every second level, 2 to 98, is a local pw0 .. pw48. */
    assert_non_null(strstr(j.src[0], "const real pw48 = (pw47 * pw47 + 1.0) "
                                     "* (pw47 * pw47 + 1.0) + 1.0;"));
    assert_non_null(strstr(j.src[0], "out[3] = (pw48 * pw48 + 1.0) * "
                                     "(pw48 * pw48 + 1.0);"));
    assert_null(strstr(j.src[0], "pw49"));
    /* The Jacobi diagonal: d(dx)/dx. */
    assert_non_null(strstr(j.src[2], "out[0] = 50000.0;"));
    gen_job_free(&j);
    free(t.s);
}

/* ---- row 3: long chains of auxiliaries ---------------------------------- */

enum { CHAIN = 60000 };

/* a1 = x, a2 = a1 + 1, ..., dx = -a60000; `first` replaces a1's right
 * side. The equations are written last to first, so the order is the
 * dependency sort's work. */
static char *aux_chain(const char *first)
{
    text t = {0};
    char eq[96];
    put(&t, "{\"states\": {\"x\": 1}, \"equations\": [");
    snprintf(eq, sizeof(eq), "\"dx = -a%d\"", CHAIN);
    put(&t, eq);
    for (int i = CHAIN; i >= 2; i--) {
        snprintf(eq, sizeof(eq), ", \"a%d = a%d + 1\"", i, i - 1);
        put(&t, eq);
    }
    snprintf(eq, sizeof(eq), ", \"a1 = %s\"]}", first);
    put(&t, eq);
    return t.s;
}

static void a_chain_of_60000_auxiliaries_should_generate_in_a_1_mib_stack(
    void **state)
{
    (void)state;
    char *json = aux_chain("x");
    gen_job j = {.json = json, .opts = {opt_euler, opt_be, opt_rodas3p},
                 .n = 3};
    generate_in_small_stack(&j);
    expect_generated(&j);
    char last[64];
    snprintf(last, sizeof(last), "const real a_a%d = a_a%d + 1.0;", CHAIN,
             CHAIN - 1);
    for (int i = 0; i < j.n; i++) {
        /* Each auxiliary after the one it reads. */
        const char *a1 = strstr(j.src[i], "const real a_a1 = state[0];");
        const char *a2 = strstr(j.src[i], "const real a_a2 = a_a1 + 1.0;");
        const char *an = strstr(j.src[i], last);
        assert_non_null(a1);
        assert_non_null(a2);
        assert_non_null(an);
        assert_true(a1 < a2 && a2 < an);
    }
    /* J v through the chain: every tangent is the one before it. */
    char tan[64];
    snprintf(tan, sizeof(tan), "out[0] = -da_a%d;", CHAIN);
    assert_non_null(strstr(j.src[1], tan));
    assert_non_null(strstr(j.src[1], "const real da_a1 = v[0];"));
    gen_job_free(&j);
    free(json);
}

static void a_cycle_through_a_long_chain_should_still_be_reported(
    void **state)
{
    (void)state;
    char first[32];
    snprintf(first, sizeof(first), "a%d + x", CHAIN);
    char *json = aux_chain(first);
    gen_job j = {.json = json, .n = 0};
    generate_in_small_stack(&j);
    assert_int_equal(j.parse_st, CUBIE_E_SPEC);
    /* The walk starts from auxiliary 0, a60000 (/equations/1, the first
     * written), which reads a59999 ... a1, which reads a60000 again. */
    char want[128];
    snprintf(want, sizeof(want),
             "/equations/1: auxiliary 'a%d' depends on itself (circular "
             "definition)", CHAIN);
    if (strstr(j.parse_msg, want) == NULL) {
        fail_msg("got: %s\nwanted: %s", j.parse_msg, want);
    }
    free(json);
}

/* ---- row 4: nested integer powers --------------------------------------- */

/* dx = -((((x+1)^8+1)^8 ... +1)^8 with `levels` powers. */
static char *nested_powers(int levels)
{
    text t = {0};
    put(&t, "{\"states\": {\"x\": 0.01}, \"equations\": [\"dx = -");
    for (int i = 0; i < levels; i++) {
        put(&t, "(");
    }
    put(&t, "x");
    for (int i = 0; i < levels; i++) {
        put(&t, "+1)^8");
    }
    put(&t, "\"]}");
    return t.s;
}

static void nested_powers_should_generate_a_source_of_bounded_size(
    void **state)
{
    (void)state;
    const int levels[] = {8, 9, 12};
    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
        char *json = nested_powers(levels[l]);
        gen_job j = {.json = json, .opts = {opt_euler, opt_be, opt_rodas3p},
                     .n = 3};
        generate_in_small_stack(&j);
        expect_generated(&j);
        for (int i = 0; i < j.n; i++) {
            size_t n = strlen(j.src[i]);
            if (n >= 200000) {
                fail_msg("%d levels, %s: %zu bytes", levels[l],
                         j.opts[i][0], n);
            }
            /* The deepest base is printed once, as a local. */
            assert_non_null(strstr(j.src[i], "const real pw0 = "));
        }
        gen_job_free(&j);
        free(json);
    }
}

/* ---- rows 12 and 14: files ----------------------------------------------- */

static void make_tmpdir(char dir[256])
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, 256, "%s/cubie_limits_XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
}

/* dir/name holding n bytes of data. */
static void write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void expect_error(cubie_status got, const cubie_error *err,
                         cubie_status want, const char *fragment,
                         const char *fragment2)
{
    if (got != want || err->status != want
        || strstr(err->message, fragment) == NULL
        || (fragment2 != NULL && strstr(err->message, fragment2) == NULL)) {
        fail_msg("got %s: %s\nwanted %s with '%s'%s%s", cubie_status_str(got),
                 err->message, cubie_status_str(want), fragment,
                 fragment2 ? " and " : "", fragment2 ? fragment2 : "");
    }
}

static const char good_spec[] =
    "{\"states\": {\"x\": 1}, \"parameters\": {\"k\": 2},\n"
    " \"equations\": [\"dx = -k * x\"]}\n";

static void a_raw_nul_byte_in_a_spec_should_be_refused_with_its_place(
    void **state)
{
    (void)state;
    /* Line 2, column 28: the NUL after "-k * x". */
    static const char bad[] =
        "{\"states\": {\"x\": 1}, \"parameters\": {\"k\": 2},\n"
        " \"equations\": [\"dx = -k * x\0 garbage\"]}\n";
    cubie_error err = {0};
    cubie_system *sys = NULL;
    cubie_status st = cubie_system_parse(bad, sizeof(bad) - 1, &sys, &err);
    expect_error(st, &err, CUBIE_E_JSON, "a NUL byte at line 2, column 28",
                 NULL);
    assert_null(sys);
    assert_int_equal(err.column, 28);
    cubie_error_clear(&err);
    /* A length that counts the terminator says so. */
    st = cubie_system_parse(good_spec, sizeof(good_spec), &sys, &err);
    expect_error(st, &err, CUBIE_E_JSON, "a NUL byte at line 3, column 1",
                 "terminating NUL");
    cubie_error_clear(&err);
    /* The same through a file: the message names it. */
    char dir[256], path[512];
    make_tmpdir(dir);
    snprintf(path, sizeof(path), "%s/nul.json", dir);
    write_file(path, bad, sizeof(bad) - 1);
    st = cubie_system_load(path, &sys, &err);
    expect_error(st, &err, CUBIE_E_JSON, path, "line 2, column 28");
    assert_null(sys);
    cubie_error_clear(&err);
    unlink(path);
    rmdir(dir);
}

/* A directory, /dev/zero, a file over the size limit: refused by name,
 * without reading without end. */
static void a_spec_that_is_not_a_text_file_should_be_refused_by_name(
    void **state)
{
    (void)state;
    char dir[256], path[512];
    make_tmpdir(dir);
    cubie_error err = {0};
    cubie_system *sys = NULL;
    cubie_status st = cubie_system_load(dir, &sys, &err);
    expect_error(st, &err, CUBIE_E_IO, dir, "is a directory");
    assert_string_equal(err.path, dir);
    assert_null(sys);
    cubie_error_clear(&err);

    /* 65 MiB, sparse: refused from its size, before any reading. */
    snprintf(path, sizeof(path), "%s/big.json", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)65 << 20), 0);
    close(fd);
    st = cubie_system_load(path, &sys, &err);
    expect_error(st, &err, CUBIE_E_IO, path, "size limit of 64 MiB");
    assert_non_null(strstr(err.message, "68157440 bytes"));
    cubie_error_clear(&err);
    unlink(path);
    rmdir(dir);

    /* The same limit on text handed over in memory (calloc: the pages
     * are never touched, the length alone is refused). */
    size_t big = (size_t)65 << 20;
    char *text = calloc(big, 1);
    assert_non_null(text);
    st = cubie_system_parse(text, big, &sys, &err);
    expect_error(st, &err, CUBIE_E_SPEC, "68157440 bytes",
                 "more than the limit of 64 MiB");
    assert_null(sys);
    cubie_error_clear(&err);
    free(text);

    if (access("/dev/zero", R_OK) == 0) {
        st = cubie_system_load("/dev/zero", &sys, &err);
        expect_error(st, &err, CUBIE_E_IO, "/dev/zero",
                     "more than the spec size limit of 64 MiB");
        assert_null(sys);
        cubie_error_clear(&err);
    }
}

/* The spec or runs text written into a named pipe by a thread. */
typedef struct {
    const char *path;
    const char *text;
} pipe_writer;

static void *write_pipe(void *arg)
{
    const pipe_writer *w = arg;
    FILE *f = fopen(w->path, "w"); /* blocks until the reader opens */
    if (f != NULL) {
        fputs(w->text, f);
        fclose(f);
    }
    return NULL;
}

static void a_spec_and_a_runs_file_should_still_be_read_from_a_pipe(
    void **state)
{
    (void)state;
    char dir[256], path[512];
    make_tmpdir(dir);
    snprintf(path, sizeof(path), "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    pipe_writer w = {path, good_spec};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_pipe, &w), 0);
    cubie_error err = {0};
    cubie_system *sys = NULL;
    cubie_status st = cubie_system_load(path, &sys, &err);
    assert_int_equal(pthread_join(t, NULL), 0);
    tu_ok(st, &err);
    assert_int_equal(cubie_system_n_parameters(sys), 1);

    w.text = "x,k\n1,2\n3,4\n";
    assert_int_equal(pthread_create(&t, NULL, write_pipe, &w), 0);
    cubie_batch *b = NULL;
    st = cubie_batch_from_csv(sys, path, &b, &err);
    assert_int_equal(pthread_join(t, NULL), 0);
    tu_ok(st, &err);
    assert_int_equal(cubie_batch_n_runs(b), 2);
    cubie_batch_free(b);
    cubie_system_free(sys);
    unlink(path);
    rmdir(dir);
}

static void a_runs_file_with_a_nul_or_an_endless_line_should_be_refused(
    void **state)
{
    (void)state;
    cubie_system *sys = tu_system(good_spec);
    char dir[256], path[512], where[600];
    make_tmpdir(dir);
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    cubie_error err = {0};
    cubie_batch *b = NULL;

    /* Line 3, column 4: "3,4\0 9" would read as "3,4". */
    static const char nul[] = "x,k\n1,2\n3,4\0 9\n";
    write_file(path, nul, sizeof(nul) - 1);
    cubie_status st = cubie_batch_from_csv(sys, path, &b, &err);
    snprintf(where, sizeof(where), "%s:3:4", path);
    expect_error(st, &err, CUBIE_E_BATCH, where, "a NUL byte");
    assert_string_equal(err.path, where);
    assert_int_equal(err.column, 4);
    assert_null(b);
    cubie_error_clear(&err);

    /* One line of 1 MiB + 1 bytes. */
    size_t n = ((size_t)1 << 20) + 1;
    char *lng = malloc(n + 1);
    assert_non_null(lng);
    memset(lng, '1', n);
    lng[n] = '\n';
    write_file(path, lng, n + 1);
    free(lng);
    st = cubie_batch_from_csv(sys, path, &b, &err);
    snprintf(where, sizeof(where), "%s:1", path);
    expect_error(st, &err, CUBIE_E_BATCH, where, "longer than 1 MiB");
    assert_string_equal(err.path, where);
    cubie_error_clear(&err);
    unlink(path);

    st = cubie_batch_from_csv(sys, dir, &b, &err);
    expect_error(st, &err, CUBIE_E_IO, dir, "is a directory");
    cubie_error_clear(&err);
    rmdir(dir);

    if (access("/dev/zero", R_OK) == 0) {
        st = cubie_batch_from_csv(sys, "/dev/zero", &b, &err);
        expect_error(st, &err, CUBIE_E_BATCH, "/dev/zero:1:1", "a NUL byte");
        assert_null(b);
        cubie_error_clear(&err);
    }
    cubie_system_free(sys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            a_flat_sum_of_50000_terms_should_generate_in_a_1_mib_stack),
        cmocka_unit_test(
            a_chain_of_60000_auxiliaries_should_generate_in_a_1_mib_stack),
        cmocka_unit_test(
            a_cycle_through_a_long_chain_should_still_be_reported),
        cmocka_unit_test(
            nested_powers_should_generate_a_source_of_bounded_size),
        cmocka_unit_test(
            a_raw_nul_byte_in_a_spec_should_be_refused_with_its_place),
        cmocka_unit_test(
            a_spec_that_is_not_a_text_file_should_be_refused_by_name),
        cmocka_unit_test(
            a_spec_and_a_runs_file_should_still_be_read_from_a_pipe),
        cmocka_unit_test(
            a_runs_file_with_a_nul_or_an_endless_line_should_be_refused),
    };
    return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
