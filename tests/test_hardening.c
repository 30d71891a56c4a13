/* Regression tests of the runtime's bad-input audit (issue 10): damaged
 * or foreign cache entries are rebuilt, not loaded; the host compiler
 * runs without a shell and its failures say how it ended; the log and
 * .npy helpers stay inside their buffers; a run whose steps cannot
 * advance time is refused; architecture names are read strictly. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cuda_build.h"

static const char decay_json[] =
    "{\"name\": \"decay\", \"states\": {\"x\": 1.0},"
    " \"parameters\": {\"k\": 2.0}, \"equations\": [\"dx = -k * x\"]}";

/* A private folder under the build's temporary space. */
static void make_dir(char *out, size_t n, const char *tag)
{
    snprintf(out, n, "/tmp/cubie-harden-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(out));
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    char path[1200];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            remove_tree(path);
        } else {
            unlink(path);
        }
    }
    closedir(d);
    chmod(dir, 0700);
    rmdir(dir);
}

/* The path of the one file in dir whose name starts with prefix, or "". */
static void find_entry(const char *dir, const char *prefix, char *out,
                       size_t n)
{
    DIR *d = opendir(dir);
    out[0] = '\0';
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(out, n, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
}

static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (d == NULL) {
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    }
    closedir(d);
    return n;
}

/* x(1) of the decay run (k = 2, x0 = 1), compiled under the current
 * environment with the cache on; the solver's notes into notes. */
static double decay_at_1(char *notes, size_t n)
{
    static const char *const pairs[] = {"algorithm=classical-rk4",
                                        "dt=0.01", "cache=true", NULL};
    cubie_system *sys = tu_system(decay_json);
    cubie_solver *s = tu_compile(sys, pairs);
    snprintf(notes, n, "%s", cubie_solver_notes(s));
    cubie_batch *b = NULL;
    cubie_error err = {0};
    tu_ok(cubie_batch_new(sys, 1, &b, &err), &err);
    cubie_result *r = tu_run(s, b, NULL);
    const double x = cubie_result_state(r, 0, 1, 0);
    cubie_result_free(r);
    cubie_batch_free(b);
    cubie_solver_free(s);
    cubie_system_free(sys);
    return x;
}

/* Row 1: a cached host kernel cut short, overwritten with random bytes
 * of the same size, or altered in one byte is found out, rebuilt, and the
 * notes say so; the answer stays right. */
static void damaged_cache_entries_should_be_rebuilt(void **state)
{
    (void)state;
    char dir[256], entry[1200], notes[2000];
    make_dir(dir, sizeof(dir), "cache");
    setenv("CUBIE_CACHE_DIR", dir, 1);
    const double want = exp(-2.0);
    const double first = decay_at_1(notes, sizeof(notes));
    assert_true(fabs(first - want) < 1e-7);
    assert_string_equal(notes, "");
    find_entry(dir, "host-", entry, sizeof(entry));
    assert_true(entry[0] != '\0');
    struct stat st;
    assert_int_equal(stat(entry, &st), 0);
    /* A hit is silent and gives the same number. */
    assert_true(decay_at_1(notes, sizeof(notes)) == first);
    assert_string_equal(notes, "");
    const off_t cuts[] = {1024, 4096, 12288, st.st_size - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        assert_true(cuts[i] < st.st_size);
        assert_int_equal(truncate(entry, cuts[i]), 0);
        assert_true(decay_at_1(notes, sizeof(notes)) == first);
        assert_non_null(strstr(notes, "truncated"));
        assert_non_null(strstr(notes, "rebuilt"));
        /* The rebuilt entry is whole again and is a silent hit. */
        assert_true(decay_at_1(notes, sizeof(notes)) == first);
        assert_string_equal(notes, "");
    }
    /* Random bytes, then one byte flipped in the middle. */
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(stat(entry, &st), 0);
        const int fd = open(entry, O_RDWR);
        assert_true(fd >= 0);
        unsigned char *junk = malloc((size_t)st.st_size);
        assert_non_null(junk);
        if (pass == 0) {
            unsigned v = 12345u;
            for (off_t k = 0; k < st.st_size; k++) {
                v = v * 1103515245u + 12345u;
                junk[k] = (unsigned char)(v >> 16);
            }
            assert_int_equal(pwrite(fd, junk, (size_t)st.st_size, 0),
                             st.st_size);
        } else {
            unsigned char c;
            assert_int_equal(pread(fd, &c, 1, st.st_size / 2), 1);
            c ^= 0x40;
            assert_int_equal(pwrite(fd, &c, 1, st.st_size / 2), 1);
        }
        free(junk);
        close(fd);
        assert_true(decay_at_1(notes, sizeof(notes)) == first);
        assert_non_null(strstr(notes, "rebuilt"));
        assert_non_null(strstr(notes, pass == 0 ? "header" : "checksum"));
    }
    /* A link in place of the entry is not followed. */
    assert_int_equal(unlink(entry), 0);
    assert_int_equal(symlink("/dev/zero", entry), 0);
    assert_true(decay_at_1(notes, sizeof(notes)) == first);
    assert_non_null(strstr(notes, "rebuilt"));
    assert_int_equal(lstat(entry, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unsetenv("CUBIE_CACHE_DIR");
    remove_tree(dir);
}

/* Row 1 for NVRTC images: a damaged entry is rebuilt, the same image
 * comes back, and the note says why. */
static void damaged_nvrtc_entries_should_be_rebuilt(void **state)
{
    (void)state;
    if (!cb_nvrtc_available()) {
        skip();
    }
    char dir[256], entry[1200];
    make_dir(dir, sizeof(dir), "nvrtc");
    setenv("CUBIE_CACHE_DIR", dir, 1);
    static const char *const pairs[] = {"algorithm=classical-rk4",
                                        "opt_level=fast-compile", NULL};
    cubie_system *sys = tu_system(decay_json);
    cubie_options *o = tu_options(pairs);
    cubie_error err = {0};
    char *src = NULL;
    tu_ok(cubie_generate(sys, o, &src, &err), &err);
    const cb_nvrtc_opts no = {.arch = "sm_90", .fast_compile = true,
                              .use_cache = true};
    cb_artifact first, again;
    tu_ok(cb_nvrtc_build(src, &no, &first, &err), &err);
    assert_false(first.cache_hit);
    find_entry(dir, "nvrtc-", entry, sizeof(entry));
    assert_true(entry[0] != '\0');
    struct stat st;
    assert_int_equal(stat(entry, &st), 0);
    assert_int_equal(truncate(entry, st.st_size / 2), 0);
    tu_ok(cb_nvrtc_build(src, &no, &again, &err), &err);
    assert_false(again.cache_hit);
    assert_non_null(strstr(again.note, "truncated"));
    assert_int_equal(again.len, first.len);
    assert_memory_equal(again.image, first.image, first.len);
    cb_artifact_free(&again);
    tu_ok(cb_nvrtc_build(src, &no, &again, &err), &err);
    assert_true(again.cache_hit);
    assert_string_equal(again.note, "");
    assert_memory_equal(again.image, first.image, first.len);
    assert_int_equal(again.res.registers, first.res.registers);
    cb_artifact_free(&again);
    cb_artifact_free(&first);
    free(src);
    cubie_options_free(o);
    cubie_system_free(sys);
    unsetenv("CUBIE_CACHE_DIR");
    remove_tree(dir);
}

/* Row 15: a cache folder other users can write to is not used. */
static void a_cache_folder_others_can_write_should_not_be_used(void **state)
{
    (void)state;
    char dir[256], notes[2000];
    make_dir(dir, sizeof(dir), "shared");
    assert_int_equal(chmod(dir, 0777), 0);
    setenv("CUBIE_CACHE_DIR", dir, 1);
    assert_true(fabs(decay_at_1(notes, sizeof(notes)) - exp(-2.0)) < 1e-7);
    assert_non_null(strstr(notes, "writable by other users"));
    assert_non_null(strstr(notes, dir));
    assert_int_equal(count_entries(dir, "host-"), 0);
    /* An entry someone put there is not loaded either. */
    assert_int_equal(chmod(dir, 0700), 0);
    assert_true(fabs(decay_at_1(notes, sizeof(notes)) - exp(-2.0)) < 1e-7);
    char entry[1200];
    find_entry(dir, "host-", entry, sizeof(entry));
    assert_int_equal(chmod(entry, 0666), 0);
    decay_at_1(notes, sizeof(notes));
    assert_non_null(strstr(notes, "not yours alone"));
    unsetenv("CUBIE_CACHE_DIR");
    remove_tree(dir);
}

/* Row 17: a kernel cached by a compiler runs where no compiler is. */
static void a_cached_kernel_should_run_without_the_compiler(void **state)
{
    (void)state;
    char dir[256], empty[256], notes[2000];
    make_dir(dir, sizeof(dir), "nocc");
    make_dir(empty, sizeof(empty), "path");
    setenv("CUBIE_CACHE_DIR", dir, 1);
    const double first = decay_at_1(notes, sizeof(notes));
    char *path = strdup(getenv("PATH"));
    const char *cc = getenv("CC");
    char *saved_cc = cc != NULL ? strdup(cc) : NULL;
    unsetenv("CC");
    setenv("PATH", empty, 1); /* no cc anywhere */
    assert_true(decay_at_1(notes, sizeof(notes)) == first);
    assert_non_null(strstr(notes, "not installed"));
    /* Nothing cached: the error says the compiler cannot run. */
    static const char *const other[] = {"algorithm=heun-21", "dt=0.01",
                                        "backend=host", NULL};
    cubie_system *sys = tu_system(decay_json);
    cubie_options *o = tu_options(other);
    cubie_solver *s = NULL;
    cubie_error err = {0};
    assert_int_equal(cubie_compile(sys, o, &s, &err), CUBIE_E_COMPILE);
    assert_non_null(strstr(err.message, "cannot run the host compiler 'cc'"));
    assert_non_null(strstr(err.message, "No such file or directory"));
    cubie_error_clear(&err);
    cubie_options_free(o);
    cubie_system_free(sys);
    setenv("PATH", path, 1);
    if (saved_cc != NULL) {
        setenv("CC", saved_cc, 1);
    }
    free(path);
    free(saved_cc);
    unsetenv("CUBIE_CACHE_DIR");
    remove_tree(dir);
    remove_tree(empty);
}

/* Rows 5 and 16: a TMPDIR holding quotes and a command runs nothing; a
 * compiler that fails is reported by how it ended, and leaves no build
 * folder behind. */
static void the_host_compiler_should_run_without_a_shell(void **state)
{
    (void)state;
    char base[256], tmp[600];
    /* The commands name a file in the current folder: a folder name
     * cannot hold a slash. */
    const char *marker = "cubie-pwned-marker";
    unlink(marker);
    make_dir(base, sizeof(base), "inject");
    snprintf(tmp, sizeof(tmp), "%s/a'; touch %s; '$(touch %s)`touch %s`",
             base, marker, marker, marker);
    assert_int_equal(mkdir(tmp, 0700), 0);
    setenv("TMPDIR", tmp, 1);
    static const char *const nocache[] = {"algorithm=classical-rk4",
                                          "dt=0.01", "cache=false", NULL};
    cubie_system *sys = tu_system(decay_json);
    cubie_solver *s = tu_compile(sys, nocache);
    cubie_solver_free(s);
    assert_int_equal(access(marker, F_OK), -1);
    assert_int_equal(count_entries(tmp, "cubie-build-"), 0);

    /* A compiler that exits 1, and one killed by a signal. */
    char script[700];
    snprintf(script, sizeof(script), "%s/killed-cc", base);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\nkill -9 $$\n", f);
    fclose(f);
    assert_int_equal(chmod(script, 0700), 0);
    const char *ccs[] = {"false", script};
    const char *how[] = {"exited with status 1", "killed by signal 9"};
    for (int i = 0; i < 2; i++) {
        setenv("CC", ccs[i], 1);
        cubie_options *o = tu_options(nocache);
        cubie_error err = {0};
        assert_int_equal(cubie_options_set(o, "backend", "host", &err),
                         CUBIE_OK);
        assert_int_equal(cubie_compile(sys, o, &s, &err), CUBIE_E_COMPILE);
        assert_non_null(strstr(err.message, how[i]));
        assert_null(strstr(err.message, "exit 256"));
        assert_non_null(strstr(err.message, "source kept at"));
        assert_int_equal(access(err.dump_path, R_OK), 0);
        unlink(err.dump_path);
        cubie_error_clear(&err);
        cubie_options_free(o);
        assert_int_equal(count_entries(tmp, "cubie-build-"), 0);
    }
    unsetenv("CC");
    unsetenv("TMPDIR");
    cubie_system_free(sys);
    assert_int_equal(access(marker, F_OK), -1);
    remove_tree(base);
}

/* Row 6: a log that starts with the phrase the parser looks for is read
 * inside its buffer (placed right after an unreadable page). */
static void the_resource_parser_should_not_read_before_its_log(void **state)
{
    (void)state;
    const long page = sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);
    assert_int_equal(mprotect(map, (size_t)page, PROT_NONE), 0);
    char *log = map + page;
    const char *cases[] = {
        "bytes stack frame, 8 bytes spill stores, 4 bytes spill loads",
        "bytes smem Used 12 registers, bytes smem",
        "Used 40 registers, 1024 bytes smem\n16 bytes stack frame, 0 bytes "
        "spill stores, 0 bytes spill loads"};
    const int stack[] = {0, 0, 16}, smem[] = {0, 0, 1024};
    for (int i = 0; i < 3; i++) {
        memcpy(log, cases[i], strlen(cases[i]) + 1);
        cb_resources r;
        cb_parse_resources(log, &r);
        assert_int_equal(r.stack, stack[i]);
        assert_int_equal(r.smem, smem[i]);
    }
    cb_resources r;
    memcpy(log, "  7 bytes stack frame", 22);
    cb_parse_resources(log, &r);
    assert_int_equal(r.stack, 7);
    munmap(map, (size_t)page * 2);
}

/* Row 7: cubie_write_npy checks its descr and dimensions. */
static void npy_should_refuse_what_does_not_fit_its_header(void **state)
{
    (void)state;
    char dir[256], path[600];
    make_dir(dir, sizeof(dir), "npy");
    snprintf(path, sizeof(path), "%s/a.npy", dir);
    char descr[300];
    memset(descr, 'f', sizeof(descr) - 1);
    descr[sizeof(descr) - 1] = '\0';
    size_t shape[40];
    for (int i = 0; i < 40; i++) {
        shape[i] = 1;
    }
    const double one = 1.0;
    cubie_error err = {0};
    assert_int_equal(cubie_write_npy(path, descr, shape, 1, &one, 8, &err),
                     CUBIE_E_ARG);
    assert_non_null(strstr(err.message, "not a NumPy type string"));
    cubie_error_clear(&err);
    assert_int_equal(cubie_write_npy(path, "<f8", shape, 40, &one, 8, &err),
                     CUBIE_E_ARG);
    assert_non_null(strstr(err.message, "40 dimensions"));
    cubie_error_clear(&err);
    assert_int_equal(cubie_write_npy(path, "<f8'}), evil", shape, 1, &one,
                                     8, &err),
                     CUBIE_E_ARG);
    cubie_error_clear(&err);
    assert_int_equal(access(path, F_OK), -1);
    /* 32 dimensions of 20-digit sizes fit; the header is whole. */
    size_t big[32];
    for (int i = 0; i < 32; i++) {
        big[i] = i == 0 ? 0 : (size_t)-1;
    }
    tu_ok(cubie_write_npy(path, "<f8", big, 32, NULL, 8, &err), &err);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char head[10];
    assert_int_equal(fread(head, 1, 10, f), 10);
    const size_t hlen = head[8] | (size_t)head[9] << 8;
    char *dict = calloc(1, hlen + 1);
    assert_int_equal(fread(dict, 1, hlen, f), hlen);
    fclose(f);
    assert_int_equal((10 + hlen) % 64, 0);
    assert_non_null(strstr(dict, "'shape': (0, 18446744073709551615, "));
    assert_true(dict[hlen - 1] == '\n');
    free(dict);
    remove_tree(dir);
}

static cubie_status run_with(const char *const *compile_pairs,
                             const char *const *run_pairs, cubie_error *err)
{
    cubie_system *sys = tu_system(decay_json);
    cubie_solver *s = tu_compile(sys, compile_pairs);
    cubie_batch *b = NULL;
    tu_ok(cubie_batch_new(sys, 1, &b, err), err);
    cubie_options *o = tu_options(run_pairs);
    cubie_result *r = NULL;
    const cubie_status st = cubie_run(s, b, o, &r, err);
    cubie_result_free(r);
    cubie_options_free(o);
    cubie_batch_free(b);
    cubie_solver_free(s);
    cubie_system_free(sys);
    return st;
}

/* Row 10: t0 so large that t0 + duration == t0, or that the steps are
 * below the spacing of times there, is an option error, not a run that
 * "succeeds" without integrating. */
static void a_run_whose_steps_cannot_advance_time_should_be_refused(
    void **state)
{
    (void)state;
    static const char *const f64[] = {"algorithm=classical-rk4",
                                      "precision=float64", NULL};
    static const char *const f32[] = {"algorithm=classical-rk4",
                                      "precision=float32", NULL};
    static const char *const adaptive[] = {"algorithm=tsit5",
                                           "precision=float64", NULL};
    const struct {
        const char *const *compile;
        const char *run[4];
        const char *why;
    } bad[] = {
        {f64, {"t0=1e17", "duration=1", "dt=0.001", NULL}, "span"},
        {f32, {"t0=1e30", "duration=1", "dt=0.001", NULL}, "span"},
        {f64, {"t0=1e13", "duration=100", "dt=1e-3", NULL}, "the step dt"},
        {adaptive, {"t0=1e14", "duration=1000", "dt_max=1e-3", NULL},
         "dt_max"},
        {f32, {"t0=1e39", "duration=1", NULL, NULL}, "do not fit float32"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cubie_error err = {0};
        assert_int_equal(run_with(bad[i].compile, bad[i].run, &err),
                         CUBIE_E_OPTION);
        if (strstr(err.message, bad[i].why) == NULL) {
            print_error("case %zu: %s\n", i, err.message);
            fail();
        }
        cubie_error_clear(&err);
    }
    /* Large but resolvable origins still run. */
    cubie_error err = {0};
    static const char *const ok64[] = {"t0=1e9", "duration=1", "dt=0.001",
                                       NULL};
    static const char *const ok32[] = {"t0=1e5", "duration=1", "dt=0.001",
                                       NULL};
    tu_ok(run_with(f64, ok64, &err), &err);
    tu_ok(run_with(f32, ok32, &err), &err);
}

/* Row 13: architecture names are read strictly. */
static void arch_names_should_be_read_strictly(void **state)
{
    (void)state;
    const char *bad[] = {"sm_ 90", "sm_+90", "sm_-90", "sm_090", "sm_9",
                         "sm_90x", "sm_90aa", "compute_", "sm90", "SM_90",
                         "sm_1000", "sm_49", "sm_90 "};
    const char *good[] = {"sm_90", "sm_80", "sm_90a", "compute_90",
                          "compute_100f", "sm_120"};
    cubie_options *o = NULL;
    assert_int_equal(cubie_options_new(&o), CUBIE_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cubie_error err = {0};
        assert_int_equal(cubie_options_set(o, "arch", bad[i], &err),
                         CUBIE_E_OPTION);
        assert_non_null(strstr(err.message, "is not an architecture"));
        cubie_error_clear(&err);
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cubie_error err = {0};
        tu_ok(cubie_options_set(o, "arch", good[i], &err), &err);
    }
    cubie_options_free(o);
}

/* Several host kernels loaded at once each run their own code: a kernel
 * is loaded from a memfd by a /proc/self/fd name, and glibc's dlopen
 * hands back an object already loaded under the same name, so a second
 * solver once ran the first one's kernel when the first memfd's number
 * came round again. Three solvers, compiled and alive together, with
 * kernels freed and reloaded in between. */
static double final_x(cubie_solver *s, const cubie_system *sys)
{
    cubie_batch *b = NULL;
    cubie_error err = {0};
    tu_ok(cubie_batch_new(sys, 1, &b, &err), &err);
    cubie_result *r = tu_run(s, b, NULL);
    const double x = cubie_result_state(r, 0, cubie_result_n_saves(r) - 1,
                                        0);
    cubie_result_free(r);
    cubie_batch_free(b);
    return x;
}

static void live_solvers_should_each_run_their_own_kernel(void **state)
{
    (void)state;
    static const char *const json[] = {
        "{\"states\": {\"x\": 1.0}, \"equations\": [\"dx = -x\"]}",
        "{\"states\": {\"x\": 1.0}, \"equations\": [\"dx = x\"]}",
        "{\"states\": {\"x\": 1.0}, \"equations\": [\"dx = 2\"]}"};
    const double want[] = {exp(-1.0), exp(1.0), 3.0};
    static const char *const pairs[] = {"algorithm=classical-rk4",
                                        "dt=0.001", "precision=float64",
                                        "duration=1", NULL};
    cubie_system *sys[3];
    cubie_solver *s[3];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 3; i++) {
            sys[i] = tu_system(json[i]);
            s[i] = tu_compile(sys[i], pairs);
        }
        for (int i = 2; i >= 0; i--) {
            assert_true(fabs(final_x(s[i], sys[i]) - want[i]) < 1e-10);
        }
        /* Free the middle one, load it again: the others still right. */
        cubie_solver_free(s[1]);
        s[1] = tu_compile(sys[1], pairs);
        for (int i = 0; i < 3; i++) {
            assert_true(fabs(final_x(s[i], sys[i]) - want[i]) < 1e-10);
        }
        for (int i = 0; i < 3; i++) {
            cubie_solver_free(s[i]);
            cubie_system_free(sys[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(damaged_cache_entries_should_be_rebuilt),
        cmocka_unit_test(damaged_nvrtc_entries_should_be_rebuilt),
        cmocka_unit_test(a_cache_folder_others_can_write_should_not_be_used),
        cmocka_unit_test(a_cached_kernel_should_run_without_the_compiler),
        cmocka_unit_test(the_host_compiler_should_run_without_a_shell),
        cmocka_unit_test(the_resource_parser_should_not_read_before_its_log),
        cmocka_unit_test(npy_should_refuse_what_does_not_fit_its_header),
        cmocka_unit_test(
            a_run_whose_steps_cannot_advance_time_should_be_refused),
        cmocka_unit_test(arch_names_should_be_read_strictly),
        cmocka_unit_test(live_solvers_should_each_run_their_own_kernel),
    };
    return cmocka_run_group_tests_name("hardening", tests, NULL, NULL);
}
