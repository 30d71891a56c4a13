/* cubie: the command-line front end, over the public API (cubie.h) only.
 *   cubie gen SPEC [-s key=value]... [-o FILE.cu]
 *   cubie run SPEC [-s key=value]... [--runs RUNS.csv]
 *                  [--grid name=start:stop:count]... [--drivers FILE.csv]
 *                  [--out DIR] [-q]
 *   cubie run --from DIR/manifest.json [-s key=value]... [--out DIR] [-q]
 *   cubie compile SPEC --arch ARCH [-s key=value]... [-o FILE]
 *   cubie devices | list WHAT | version | help [COMMAND]
 * Every command takes --help. Arguments are read with getopt_long:
 * `--set k=v`, `--set=k=v`, `-s k=v`, `--` ends the options.
 * Exit codes: 0 success, 1 usage, 2 bad input (spec, option, runs),
 * 3 compile or backend failure, 4 file error (a failed write to standard
 * output included), 5 some runs of the batch failed (run: the outputs are
 * written all the same). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "cubie.h"

enum {
    EXIT_USAGE = 1, /* a bad command line */
    EXIT_INPUT = 2, /* a bad spec, option or runs file */
    EXIT_BUILD = 3, /* compile or backend failure */
    EXIT_FILE = 4,  /* a file (or standard output) cannot be read or written */
    EXIT_RUNS = 5   /* some runs failed (their status bits); outputs written */
};

static const char exit_codes[] =
    "exit codes: 0 ok, 1 usage, 2 bad spec/option/run file,\n"
    "            3 compile or backend failure, 4 file error,\n"
    "            5 some runs failed (outputs still written)\n";

/* ---- standard output, checked ------------------------------------------- */

/* The first error writing standard output, 0 while there is none: every
 * write goes through say() or say_text(), and main reports it (exit 4). */
static int stdout_errno;

static void note_stdout_error(void)
{
    if (stdout_errno == 0) {
        stdout_errno = errno != 0 ? errno : EIO;
    }
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    const int r = vfprintf(stdout, fmt, ap);
    va_end(ap);
    if (r < 0) {
        note_stdout_error();
    }
}

/* say() for standard output, plain fprintf for another stream. */
static void say_to(FILE *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say_to(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    const int r = vfprintf(f, fmt, ap);
    va_end(ap);
    if (r < 0 && f == stdout) {
        note_stdout_error();
    }
}

static void say_text(const char *text)
{
    errno = 0;
    if (fputs(text, stdout) == EOF) {
        note_stdout_error();
    }
}

/* Flush and close standard output; a write that failed on the way (a
 * full disk, a closed descriptor) turns a success into exit 4. */
static int finish_stdout(int rc)
{
    errno = 0;
    if (fflush(stdout) != 0) {
        note_stdout_error();
    }
    if (ferror(stdout) && stdout_errno == 0) {
        stdout_errno = EIO;
    }
    errno = 0;
    if (fclose(stdout) != 0) {
        note_stdout_error();
    }
    if (stdout_errno == 0) {
        return rc;
    }
    fprintf(stderr, "cubie: error: cannot write standard output: %s\n",
            strerror(stdout_errno));
    return rc != 0 ? rc : EXIT_FILE;
}

/* text into path, every step checked; "cannot write PATH: why". */
static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "cubie: error: cannot write %s: %s\n", path,
                strerror(errno));
        return EXIT_FILE;
    }
    errno = 0;
    bool ok = fwrite(data, 1, len, f) == len;
    int e = errno;
    errno = 0;
    if (fclose(f) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        fprintf(stderr, "cubie: error: cannot write %s: %s\n", path,
                strerror(e != 0 ? e : EIO));
        return EXIT_FILE;
    }
    return 0;
}

static int write_text(const char *path, const char *text)
{
    return write_file(path, text, strlen(text));
}

/* ---- commands and their help -------------------------------------------- */

typedef struct command command;
struct command {
    const char *name;
    int (*run)(const command *cmd, int argc, char **argv);
    const char *synopsis; /* the arguments after "cubie NAME" */
    const char *brief;    /* the same in `cubie --help`'s list */
    const char *summary;  /* one line for `cubie --help` */
    const char *details;  /* what `cubie NAME --help` adds */
};

static const command *find_command(const char *name);
static void main_usage(FILE *f);

static void print_help(const command *c)
{
    say("usage: cubie %s%s%s\n\n%s\n%s", c->name, c->synopsis[0] ? " " : "",
        c->synopsis, c->details, exit_codes);
}

/* A usage error: the message, then where the usage is. Exit 1. */
static int usage_error(const command *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(const command *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cubie %s: ", c->name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: cubie %s%s%s\n(`cubie %s --help` says more)\n",
            c->name, c->synopsis[0] ? " " : "", c->synopsis, c->name);
    return EXIT_USAGE;
}

static int exit_code(cubie_status st)
{
    switch (st) {
    case CUBIE_OK:
        return 0;
    case CUBIE_E_JSON:
    case CUBIE_E_SPEC:
    case CUBIE_E_EXPR:
    case CUBIE_E_OPTION:
    case CUBIE_E_BATCH:
    case CUBIE_E_ARG:
        return EXIT_INPUT;
    case CUBIE_E_IO:
        return EXIT_FILE;
    default:
        return EXIT_BUILD;
    }
}

static int report(cubie_status st, cubie_error *err)
{
    fprintf(stderr, "cubie: error: %s\n",
            err->message[0] ? err->message : cubie_status_str(st));
    if (err->log != NULL && err->log[0]) {
        fprintf(stderr, "--- compiler log ---\n%s\n", err->log);
    }
    int code = exit_code(st);
    cubie_error_clear(err);
    return code;
}

/* ---- arguments ---------------------------------------------------------- */

/* Paths cubie composes from --out stay below this. */
#define PATH_LEN 4096
#define MAX_GRID 16

typedef struct {
    const char *pos[2]; /* positional arguments (SPEC, WHAT, COMMAND) */
    int n_pos;
    const char *out; /* -o FILE (gen, compile) or --out DIR (run) */
    const char *runs;
    const char *grid[MAX_GRID];
    int n_grid;
    const char *arch;
    const char *from; /* run --from MANIFEST */
    const char *drivers; /* run --drivers FILE.csv */
    bool quiet;
    cubie_options *opt; /* filled by --set */
    const char **sets;  /* the --set pairs in order, when not NULL */
    int n_sets;
} args;

enum { OPT_OUT = 256, OPT_FROM, OPT_DRIVERS };

/* Every option of every command; a command takes those its short option
 * letters name (and --out for run). */
static const struct option all_options[] = {
    {"set", required_argument, NULL, 's'},
    {"output", required_argument, NULL, 'o'},
    {"out", required_argument, NULL, OPT_OUT},
    {"from", required_argument, NULL, OPT_FROM},
    {"drivers", required_argument, NULL, OPT_DRIVERS},
    {"runs", required_argument, NULL, 'r'},
    {"grid", required_argument, NULL, 'g'},
    {"arch", required_argument, NULL, 'a'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The options a command takes: its short letters, plus --out and --from
 * for run. */
static void command_options(const char *letters, bool out, struct option *opts)
{
    int n = 0;
    for (const struct option *o = all_options; o->name != NULL; o++) {
        if (((o->val == OPT_OUT || o->val == OPT_FROM ||
              o->val == OPT_DRIVERS) &&
             out) ||
            (o->val < 256 && strchr(letters, o->val) != NULL)) {
            opts[n++] = *o;
        }
    }
    memset(&opts[n], 0, sizeof(opts[n]));
}

/* The option getopt stopped at, as the user wrote it ("--outdir",
 * "-x"), for the message. */
static void bad_option_text(char **argv, char *buf, size_t n)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    if (strncmp(arg, "--", 2) == 0) {
        snprintf(buf, n, "%.*s", (int)strcspn(arg, "="), arg);
    } else {
        snprintf(buf, n, "-%c", optopt != 0 ? optopt : '?');
    }
}

/* Parse a command's arguments: letters are its short options ("s:o:h"),
 * out whether it takes --out, max_pos how many positional arguments.
 * Returns -1 to go on, or the exit code (0 after --help). */
static int parse_args(const command *c, int argc, char **argv,
                      const char *letters, bool out, int max_pos, args *a)
{
    struct option opts[sizeof(all_options) / sizeof(all_options[0])];
    command_options(letters, out, opts);
    char shortopts[32];
    snprintf(shortopts, sizeof(shortopts), ":%s", letters);
    opterr = 0;
    optind = 1;
    int ch;
    char bad[64];
    while ((ch = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            print_help(c);
            return 0;
        case 's': {
            cubie_error err = {0};
            cubie_status st = cubie_options_set_pair(a->opt, optarg, &err);
            if (st != CUBIE_OK) {
                return report(st, &err);
            }
            if (a->sets != NULL) {
                a->sets[a->n_sets++] = optarg;
            }
            break;
        }
        case OPT_FROM:
            a->from = optarg;
            break;
        case 'o':
            a->out = optarg;
            break;
        case OPT_OUT: {
            /* "out/" names the folder "out". */
            size_t len = strlen(optarg);
            while (len > 1 && optarg[len - 1] == '/') {
                optarg[--len] = '\0';
            }
            const char *slash = strrchr(optarg, '/');
            const char *base = slash != NULL ? slash + 1 : optarg;
            if (strcmp(base, "") == 0 || strcmp(base, ".") == 0 ||
                strcmp(base, "..") == 0) {
                return usage_error(c,
                                   "--out '%s': name a folder of its "
                                   "own",
                                   optarg);
            }
            if (len > PATH_LEN - 300) {
                return usage_error(c,
                                   "--out: a path of %zu characters is "
                                   "too long",
                                   len);
            }
            a->out = optarg;
            break;
        }
        case 'r':
            a->runs = optarg;
            break;
        case OPT_DRIVERS:
            a->drivers = optarg;
            break;
        case 'g':
            if (a->n_grid == MAX_GRID) {
                return usage_error(c, "at most %d --grid axes", MAX_GRID);
            }
            a->grid[a->n_grid++] = optarg;
            break;
        case 'a':
            a->arch = optarg;
            break;
        case 'q':
            a->quiet = true;
            break;
        case ':':
            bad_option_text(argv, bad, sizeof(bad));
            return usage_error(c, "option '%s' needs a value", bad);
        default:
            bad_option_text(argv, bad, sizeof(bad));
            return usage_error(c, "unrecognized option '%s'", bad);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (a->n_pos == max_pos) {
            return usage_error(c, "unexpected argument '%s'", argv[i]);
        }
        a->pos[a->n_pos++] = argv[i];
    }
    return -1;
}

/* parse_args for a command that needs a SPEC and options. */
static int parse_spec_args(const command *c, int argc, char **argv,
                           const char *letters, bool out, args *a)
{
    if (cubie_options_new(&a->opt) != CUBIE_OK) {
        fprintf(stderr, "cubie: error: out of memory\n");
        return EXIT_BUILD;
    }
    int rc = parse_args(c, argc, argv, letters, out, 1, a);
    if (rc == -1 && a->n_pos == 0) {
        rc = usage_error(c, "missing SPEC");
    }
    return rc;
}

/* ---- gen ---------------------------------------------------------------- */

static int cmd_gen(const command *c, int argc, char **argv)
{
    args a = {0};
    int rc = parse_spec_args(c, argc, argv, "s:o:h", false, &a);
    cubie_error err = {0};
    cubie_system *sys = NULL;
    char *src = NULL;
    if (rc == -1) {
        cubie_status st = cubie_system_load(a.pos[0], &sys, &err);
        if (st == CUBIE_OK) {
            st = cubie_generate(sys, a.opt, &src, &err);
        }
        rc = st == CUBIE_OK ? -1 : report(st, &err);
    }
    if (rc == -1) {
        if (a.out != NULL) {
            rc = write_text(a.out, src);
        } else {
            say_text(src);
            rc = 0;
        }
    }
    free(src);
    cubie_system_free(sys);
    cubie_options_free(a.opt);
    return rc;
}

/* ---- run: the batch ----------------------------------------------------- */

/* name=start:stop:count, each number present and whole. */
static int parse_grid(const char *spec, char *name, size_t n, double *start,
                      double *stop, size_t *count)
{
    const char *eq = strchr(spec, '=');
    if (eq == NULL || (size_t)(eq - spec) >= n || eq == spec) {
        return -1;
    }
    memcpy(name, spec, (size_t)(eq - spec));
    name[eq - spec] = '\0';
    char *end;
    const char *from = eq + 1;
    *start = strtod(from, &end);
    if (end == from || *end != ':') {
        return -1;
    }
    from = end + 1;
    *stop = strtod(from, &end);
    if (end == from || *end != ':') {
        return -1;
    }
    const char *cs = end + 1;
    long cnt = strtol(cs, &end, 10);
    if (*end != '\0' || end == cs || cnt < 1) {
        return -1;
    }
    *count = (size_t)cnt;
    return 0;
}

static int make_batch(const args *a, const cubie_system *sys,
                      cubie_batch **batch, cubie_error *err)
{
    cubie_status st;
    if (a->runs != NULL) {
        st = cubie_batch_from_csv(sys, a->runs, batch, err);
    } else if (a->n_grid > 0) {
        char names[MAX_GRID][128];
        const char *np[MAX_GRID];
        double start[MAX_GRID], stop[MAX_GRID];
        size_t count[MAX_GRID];
        for (int i = 0; i < a->n_grid; i++) {
            if (parse_grid(a->grid[i], names[i], sizeof(names[i]), &start[i],
                           &stop[i], &count[i]) != 0) {
                fprintf(stderr,
                        "cubie: error: --grid '%s': expected "
                        "name=start:stop:count with count >= 1\n",
                        a->grid[i]);
                return EXIT_INPUT;
            }
            np[i] = names[i];
        }
        st = cubie_batch_grid(sys, (size_t)a->n_grid, np, start, stop, count,
                              batch, err);
    } else {
        st = cubie_batch_new(sys, 1, batch, err);
    }
    if (st == CUBIE_OK && a->drivers != NULL) {
        st = cubie_batch_read_drivers(*batch, a->drivers, err);
    }
    return st == CUBIE_OK ? -1 : report(st, err);
}

/* ---- run: the progress line --------------------------------------------- */

typedef struct {
    double start_ms; /* when cubie_run began */
    double after_ms; /* how long a run goes before the line shows */
    int width;       /* the longest line shown, to blank it */
} progress_line;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void format_duration(double s, char *buf, size_t n)
{
    const long t = (long)ceil(s);
    if (s < 1.0) {
        snprintf(buf, n, "under a second");
    } else if (t < 60) {
        snprintf(buf, n, "%ld s", t);
    } else if (t < 3600) {
        snprintf(buf, n, "%ld min %02ld s", t / 60, t % 60);
    } else {
        snprintf(buf, n, "%ld h %02ld min", t / 3600, t / 60 % 60);
    }
}

/* The library's progress callback: "done/total runs (p%), about T left",
 * redrawn in place, once the run has gone on for after_ms. */
static void show_progress(size_t done, size_t total, void *ctx)
{
    progress_line *p = ctx;
    const double elapsed = now_ms() - p->start_ms;
    if (done == 0 || done >= total || elapsed < p->after_ms) {
        return;
    }
    char left[32], line[160];
    format_duration(elapsed / 1e3 * (double)(total - done) / (double)done, left,
                    sizeof(left));
    int w = snprintf(line, sizeof(line),
                     "cubie: %zu/%zu runs (%d%%), "
                     "about %s left",
                     done, total, (int)(100.0 * (double)done / (double)total),
                     left);
    fprintf(stderr, "\r%s%*s", line, p->width > w ? p->width - w : 0, "");
    if (w > p->width) {
        p->width = w;
    }
}

static void end_progress(const progress_line *p)
{
    if (p->width > 0) {
        fprintf(stderr, "\r%*s\r", p->width, "");
    }
}

/* Seconds before the line shows: 1, or CUBIE_PROGRESS_AFTER. */
static double progress_after_ms(void)
{
    const char *e = getenv("CUBIE_PROGRESS_AFTER");
    char *end = NULL;
    double s = e != NULL ? strtod(e, &end) : NAN;
    return end != NULL && end != e && *end == '\0' && s >= 0.0 ? s * 1e3 : 1e3;
}

/* ---- run: the output folder --------------------------------------------- */

/* ---- run: failed runs ---------------------------------------------------- */

/* The run status bits of cubie_status.h, each with its name: the macro's
 * without CUBIE_RUN_, in lower case ("max_steps"). */
static const struct {
    int bit;
    const char *macro;
} run_bits[] = {
#define CUBIE_X(name, value, msg) {value, #name},
    CUBIE_RUN_STATUS_LIST(CUBIE_X)
    CUBIE_RUN_NOTE_LIST(CUBIE_X)
#undef CUBIE_X
};

enum { N_STATUS_BITS = 32 };

/* The name of status bit number b (1 << b), into buf. */
static void status_name(int b, char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    for (size_t i = 0; i < sizeof(run_bits) / sizeof(run_bits[0]); i++) {
        if (run_bits[i].bit == (int)(1u << b)) {
            const char *m = run_bits[i].macro + strlen("CUBIE_RUN_");
            size_t k = 0;
            for (; m[k] != '\0' && k + 1 < n; k++) {
                buf[k] = (char)tolower((unsigned char)m[k]);
            }
            buf[k] = '\0';
        }
    }
}

/* How many runs failed, and how many carry each status bit (a run with
 * several bits counts once under each). */
static size_t count_failures(const cubie_result *r,
                             size_t count[N_STATUS_BITS])
{
    size_t failed = 0;
    memset(count, 0, sizeof(size_t) * N_STATUS_BITS);
    const int32_t *status = cubie_result_status(r);
    for (size_t i = 0; i < cubie_result_n_runs(r); i++) {
        const uint32_t st = (uint32_t)status[i];
        if (!CUBIE_RUN_FAILED(st)) {
            continue;
        }
        failed++;
        for (int b = 0; b < N_STATUS_BITS; b++) {
            count[b] += (st >> b) & 1u;
        }
    }
    return failed;
}

/* "cubie: 12 of 4096 runs failed: max_steps (32) 12, ..." on stderr. */
static void report_failures(const cubie_result *r)
{
    size_t count[N_STATUS_BITS];
    const size_t failed = count_failures(r, count);
    fprintf(stderr, "cubie: %zu of %zu runs failed", failed,
            cubie_result_n_runs(r));
    const char *sep = ": ";
    for (int b = 0; b < N_STATUS_BITS; b++) {
        if (count[b] > 0) {
            char name[64];
            status_name(b, name, sizeof(name));
            fprintf(stderr, "%s%zu run%s: %s (%u)", sep, count[b],
                    count[b] == 1 ? "" : "s", name, 1u << b);
            sep = "; ";
        }
    }
    fprintf(stderr, "\n");
}

/* ---- run: the manifest --------------------------------------------------- */

/* A setting's value as JSON: a number, a boolean, a string, a list, or
 * null where it is unset. */
static cJSON *setting_json(const cubie_setting *v)
{
    switch (v->kind) {
    case CUBIE_SETTING_NUMBER:
    case CUBIE_SETTING_INTEGER:
        return cJSON_CreateNumber(v->number);
    case CUBIE_SETTING_BOOL:
        return cJSON_CreateBool(v->number != 0.0);
    case CUBIE_SETTING_CHOICE:
    case CUBIE_SETTING_TEXT:
        return cJSON_CreateString(v->text);
    case CUBIE_SETTING_LIST:
        if (v->numbers != NULL) {
            return cJSON_CreateDoubleArray(v->numbers, (int)v->n_items);
        }
        return cJSON_CreateStringArray((const char *const *)v->names,
                                       (int)v->n_items);
    case CUBIE_SETTING_UNSET:
        break;
    }
    return cJSON_CreateNull();
}

/* The manifest: what ran (the spec's text, every setting as it was
 * resolved), on what, what it wrote, and how long it took. spec names
 * where the spec came from; from is the manifest a rerun read, or NULL. */
static cJSON *manifest(const cubie_solver *s, const cubie_result *r,
                       const char *spec, const char *from)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "cubie_version", cubie_version());
    cJSON_AddStringToObject(m, "spec", spec);
    if (from != NULL) {
        cJSON_AddStringToObject(m, "rerun_of", from);
    }
    cJSON_AddStringToObject(m, "backend", cubie_result_backend(r));
    cJSON_AddStringToObject(m, "backend_reason",
                            cubie_solver_backend_reason(s));
    cJSON_AddStringToObject(m, "notes", cubie_solver_notes(s));
    cJSON_AddStringToObject(m, "run_notes", cubie_result_notes(r));
    cJSON *vars = cJSON_AddArrayToObject(m, "state_names");
    for (size_t v = 0; v < cubie_result_n_vars(r); v++) {
        cJSON_AddItemToArray(vars,
                             cJSON_CreateString(cubie_result_var_name(r, v)));
    }
    /* Every array of the result alike: its file, type, shape and axes,
     * and the names of its columns (a summary array's: its legend; the
     * others' also as <column>_names at the top, where no other array put
     * them first). */
    cJSON *arrays = cJSON_AddObjectToObject(m, "arrays");
    for (size_t i = 0; i < cubie_result_n_arrays(r); i++) {
        cubie_array ar;
        if (cubie_result_array(r, i, &ar) != CUBIE_OK) {
            continue;
        }
        char file[96], key[96];
        double shape[3];
        for (int d = 0; d < ar.ndim; d++) {
            shape[d] = (double)ar.shape[d];
        }
        snprintf(file, sizeof(file), "%s.npy", ar.name);
        cJSON *a = cJSON_AddObjectToObject(arrays, ar.name);
        cJSON_AddStringToObject(a, "file", file);
        cJSON_AddStringToObject(a, "dtype",
                                strcmp(ar.descr, "<f8") == 0   ? "float64"
                                : strcmp(ar.descr, "<f4") == 0 ? "float32"
                                                               : "int32");
        cJSON_AddItemToObject(a, "shape",
                              cJSON_CreateDoubleArray(shape, ar.ndim));
        cJSON_AddStringToObject(a, "axes", ar.axes);
        if (ar.column_names == NULL) {
            continue;
        }
        /* A summary array's columns are its legend: "x mean". */
        const bool legend = strcmp(ar.column, "summary") == 0;
        cJSON_AddItemToObject(a, legend ? "legend" : "names",
                              cJSON_CreateStringArray(ar.column_names,
                                                      (int)ar.n_columns));
        snprintf(key, sizeof(key), "%s_names", ar.column);
        if (!legend && cJSON_GetObjectItemCaseSensitive(m, key) == NULL) {
            cJSON_AddItemToObject(m, key,
                                  cJSON_CreateStringArray(ar.column_names,
                                                          (int)ar.n_columns));
        }
    }
    /* Every option as it ran, typed: `cubie run --from` sets them all. */
    cJSON *set = cJSON_AddObjectToObject(m, "settings");
    for (size_t i = 0; i < cubie_result_n_settings(r); i++) {
        cubie_setting v;
        if (cubie_result_setting(r, i, &v) == CUBIE_OK) {
            cJSON_AddItemToObject(set, v.key, setting_json(&v));
        }
    }
    cJSON_AddStringToObject(m, "spec_json", cubie_result_spec(r));
    size_t count[N_STATUS_BITS];
    const size_t failed = count_failures(r, count);
    cJSON_AddNumberToObject(m, "failed_runs", (double)failed);
    cJSON *by = cJSON_AddObjectToObject(m, "failed_runs_by_status");
    for (int b = 0; b < N_STATUS_BITS; b++) {
        if (count[b] > 0) {
            char name[64];
            status_name(b, name, sizeof(name));
            cJSON_AddNumberToObject(by, name, (double)count[b]);
        }
    }
    cJSON *t = cJSON_AddObjectToObject(m, "timing_ms");
    cJSON_AddNumberToObject(t, "generate", cubie_solver_generate_ms(s));
    cJSON_AddNumberToObject(t, "build", cubie_solver_build_ms(s));
    cJSON_AddNumberToObject(t, "kernel", cubie_result_kernel_ms(r));
    cJSON_AddNumberToObject(t, "copies", cubie_result_copy_ms(r));
    cJSON_AddNumberToObject(t, "run", cubie_result_wall_ms(r));
    return m;
}

/* dir/name into buf; false (and "") when it does not fit. */
static bool path_join(char *buf, size_t n, const char *dir, const char *name)
{
    const int len = snprintf(buf, n, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= n) {
        buf[0] = '\0';
        return false;
    }
    return true;
}

/* Whether name is a file cubie writes into an output folder. */
static bool is_ours(const char *name)
{
    if (strcmp(name, "manifest.json") == 0 || strcmp(name, "kernel.cu") == 0) {
        return true;
    }
    for (const char *const *a = cubie_array_names(); *a != NULL; a++) {
        size_t n = strlen(*a);
        if (strncmp(name, *a, n) == 0 && strcmp(name + n, ".npy") == 0) {
            return true;
        }
    }
    return false;
}

/* Remove cubie's files from dir, then dir if that emptied it. */
static void remove_dir(const char *dir)
{
    char p[PATH_LEN];
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (is_ours(e->d_name) && path_join(p, sizeof(p), dir, e->d_name)) {
            unlink(p);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(dir);
}

/* Whether dir is a folder (not a link to one) holding only files cubie
 * writes. */
static bool holds_only_ours(const char *dir)
{
    struct stat sb;
    if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        return false;
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        return false;
    }
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        ok = is_ours(e->d_name);
    }
    closedir(d);
    return ok;
}

/* An earlier output of cubie: a manifest, and only files cubie writes. */
static bool is_cubie_output(const char *dir)
{
    char p[PATH_LEN];
    return path_join(p, sizeof(p), dir, "manifest.json") &&
           access(p, F_OK) == 0 && holds_only_ours(dir);
}

/* The folder dir is in ("." for a bare name) and its own name. */
static const char *split_dir(const char *dir, char *parent, size_t n)
{
    const char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        snprintf(parent, n, ".");
        return dir;
    }
    snprintf(parent, n, "%.*s", slash == dir ? 1 : (int)(slash - dir), dir);
    return slash + 1;
}

/* Whether name is one write_outputs gives the temporaries of an output
 * called base: "<base>.tmp-<pid>-XXXXXX" (being written; after the swap,
 * the old folder on its way out) or "<base>.old-<pid>-XXXXXX" (the old
 * folder, where a filesystem cannot swap). *pid is the writer's. */
static bool temp_name(const char *name, const char *base, pid_t *pid)
{
    const size_t n = strlen(base);
    if (strncmp(name, base, n) != 0 ||
        (strncmp(name + n, ".tmp-", 5) != 0 &&
         strncmp(name + n, ".old-", 5) != 0) ||
        !isdigit((unsigned char)name[n + 5])) {
        return false;
    }
    char *end = NULL;
    errno = 0;
    const long v = strtol(name + n + 5, &end, 10);
    if (errno != 0 || v <= 0 || v > INT_MAX || *end != '-' ||
        strlen(end + 1) != 6) {
        return false;
    }
    for (const char *c = end + 1; *c; c++) {
        if (!isalnum((unsigned char)*c)) {
            return false;
        }
    }
    *pid = (pid_t)v;
    return true;
}

/* Whether a temporary's writer is gone: no process has its pid here, and
 * no one (a writer elsewhere on a shared filesystem) holds its lock. It
 * must be our own folder of cubie's files only: a user's folder that
 * happens to be named so is never touched. */
static bool is_stale(const char *path, pid_t pid)
{
    struct stat sb;
    if (lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode) ||
        sb.st_uid != geteuid()) {
        return false;
    }
    if (pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH) {
        return false; /* its writer may be at work */
    }
    if (!holds_only_ours(path)) {
        return false;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    const bool unlocked = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return unlocked;
}

/* Remove what killed runs into dir left beside it, saying so in one line
 * (unless quiet). */
static void clean_stale(const char *dir, bool quiet)
{
    char parent[PATH_LEN], names[32][256];
    const char *base = split_dir(dir, parent, sizeof(parent));
    int n = 0;
    DIR *d = opendir(parent);
    struct dirent *e;
    pid_t pid;
    while (d != NULL && n < 32 && (e = readdir(d)) != NULL) {
        if (temp_name(e->d_name, base, &pid) && strlen(e->d_name) < 256) {
            snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    int removed = 0;
    const char *first = NULL;
    for (int i = 0; i < n; i++) {
        char p[PATH_LEN];
        if (path_join(p, sizeof(p), parent, names[i]) &&
            temp_name(names[i], base, &pid) && is_stale(p, pid)) {
            remove_dir(p);
            struct stat sb;
            if (lstat(p, &sb) != 0) {
                removed++;
                first = first != NULL ? first : names[i];
            }
        }
    }
    if (removed == 1 && !quiet) {
        fprintf(stderr,
                "cubie: removed %s%s%s, left by an interrupted "
                "run\n",
                strcmp(parent, ".") == 0 ? "" : parent,
                strcmp(parent, ".") == 0 || strcmp(parent, "/") == 0 ? "" : "/",
                first);
    } else if (removed > 1 && !quiet) {
        fprintf(stderr,
                "cubie: removed %d folders left by interrupted runs "
                "beside %s (%s, ...)\n",
                removed, dir, first);
    }
}

/* Put the finished folder tmp in dir's place. A reader sees the complete
 * old folder or the complete new one, never neither: the two are swapped
 * in one step (renameat2 RENAME_EXCHANGE), then the old one is removed.
 * Where the filesystem cannot swap, the old folder is moved aside first
 * (to a name the next run recognises), so for a moment dir is missing. */
static int move_into_place(const char *tmp, const char *dir)
{
    if (rename(tmp, dir) == 0) {
        return 0; /* dir did not exist, or was an empty folder */
    }
    if (errno != EEXIST && errno != ENOTEMPTY && errno != ENOTDIR &&
        errno != EISDIR) {
        fprintf(stderr, "cubie: error: cannot move %s to %s: %s\n", tmp, dir,
                strerror(errno));
        return EXIT_FILE;
    }
    struct stat sb;
    if (lstat(dir, &sb) == 0 && S_ISLNK(sb.st_mode)) {
        fprintf(stderr,
                "cubie: error: %s is a symbolic link; give the "
                "folder it points to as --out\n",
                dir);
        return EXIT_FILE;
    }
    if (!is_cubie_output(dir)) {
        fprintf(stderr,
                "cubie: error: %s exists and is not a cubie output "
                "folder (or holds other files); choose another "
                "--out\n",
                dir);
        return EXIT_FILE;
    }
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
        remove_dir(tmp); /* now the old folder */
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
        fprintf(stderr, "cubie: error: cannot replace %s: %s\n", dir,
                strerror(errno));
        return EXIT_FILE;
    }
    char old[PATH_LEN];
    snprintf(old, sizeof(old), "%s.old-%ld-XXXXXX", dir, (long)getpid());
    if (mkdtemp(old) == NULL || rmdir(old) != 0 || rename(dir, old) != 0) {
        fprintf(stderr, "cubie: error: cannot replace %s: %s\n", dir,
                strerror(errno));
        return EXIT_FILE;
    }
    if (rename(tmp, dir) != 0) {
        fprintf(stderr, "cubie: error: cannot move %s to %s: %s\n", tmp, dir,
                strerror(errno));
        if (rename(old, dir) != 0) { /* put the old results back */
            fprintf(stderr, "cubie: the previous results are in %s\n", old);
        }
        return EXIT_FILE;
    }
    remove_dir(old);
    return 0;
}

/* Whether dir is a folder with nothing in it. */
static bool is_empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return false;
    }
    bool empty = true;
    struct dirent *e;
    while (empty && (e = readdir(d)) != NULL) {
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    }
    closedir(d);
    return empty;
}

/* The output folder of a run, opened before the compile and the run so
 * that a folder that cannot be written fails at once, not after hours:
 * a fresh sibling "<dir>.tmp-<pid>-XXXXXX", locked while it is written,
 * moved into place at the end. dir is never half-written, and a killed
 * run's folder is recognised and removed by the next run into dir. */
typedef struct {
    const char *dir;
    char tmp[PATH_LEN]; /* "" when not open */
    int lock;           /* its flock, or -1 */
} out_folder;

/* Refuse now what the move into place would refuse at the end (a link,
 * a file, a folder that is not cubie's), then create the temporary. */
static int out_open(const char *dir, bool quiet, out_folder *o)
{
    o->dir = dir;
    o->tmp[0] = '\0';
    o->lock = -1;
    clean_stale(dir, quiet);
    struct stat sb;
    if (lstat(dir, &sb) == 0 && S_ISLNK(sb.st_mode)) {
        fprintf(stderr,
                "cubie: error: %s is a symbolic link; give the "
                "folder it points to as --out\n",
                dir);
        return EXIT_FILE;
    }
    if (lstat(dir, &sb) == 0 &&
        (!S_ISDIR(sb.st_mode) || (!is_empty_dir(dir) && !is_cubie_output(dir)))) {
        fprintf(stderr,
                "cubie: error: %s exists and is not a cubie output "
                "folder (or holds other files); choose another "
                "--out\n",
                dir);
        return EXIT_FILE;
    }
    /* parse_args keeps --out below PATH_LEN - 300: these paths fit. */
    snprintf(o->tmp, sizeof(o->tmp), "%s.tmp-%ld-XXXXXX", dir,
             (long)getpid());
    if (mkdtemp(o->tmp) == NULL) {
        fprintf(stderr, "cubie: error: --out %s: cannot create %s: %s\n",
                dir, o->tmp, strerror(errno));
        o->tmp[0] = '\0';
        return EXIT_FILE;
    }
    o->lock = open(o->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (o->lock >= 0 && flock(o->lock, LOCK_EX | LOCK_NB) != 0) {
        close(o->lock); /* no locks here: the pid in the name still guards */
        o->lock = -1;
    }
    return 0;
}

/* Remove the temporary (unless it was moved into place) and its lock. */
static void out_close(out_folder *o)
{
    if (o->tmp[0] != '\0') {
        remove_dir(o->tmp);
        o->tmp[0] = '\0';
    }
    if (o->lock >= 0) {
        close(o->lock);
        o->lock = -1;
    }
}

/* Write every output into the open folder, the manifest last, then move
 * it into place. */
static int out_write(out_folder *o, const cubie_solver *s,
                     const cubie_result *r, const char *spec,
                     const char *from)
{
    cubie_error err = {0};
    char p[PATH_LEN];
    cubie_status st = CUBIE_OK;
    for (size_t i = 0; st == CUBIE_OK && i < cubie_result_n_arrays(r); i++) {
        cubie_array ar;
        st = cubie_result_array(r, i, &ar);
        char file[128];
        if (st == CUBIE_OK) {
            snprintf(file, sizeof(file), "%s.npy", ar.name);
            path_join(p, sizeof(p), o->tmp, file);
            st = cubie_write_npy(p, ar.descr, ar.shape, ar.ndim, ar.data,
                                 ar.elem_size, &err);
        }
    }
    int rc = st == CUBIE_OK ? 0 : report(st, &err);
    if (rc == 0) {
        path_join(p, sizeof(p), o->tmp, "kernel.cu");
        rc = write_text(p, cubie_solver_source(s));
    }
    if (rc == 0) { /* last: a folder with a manifest is complete */
        cJSON *m = manifest(s, r, spec, from);
        char *text = m ? cJSON_Print(m) : NULL;
        path_join(p, sizeof(p), o->tmp, "manifest.json");
        if (text == NULL) {
            fprintf(stderr, "cubie: error: out of memory\n");
            rc = EXIT_BUILD;
        } else {
            rc = write_text(p, text);
        }
        cJSON_free(text);
        cJSON_Delete(m);
    }
    if (rc == 0) {
        rc = move_into_place(o->tmp, o->dir);
    }
    if (rc == 0) {
        o->tmp[0] = '\0'; /* in place now: nothing to remove */
    }
    out_close(o);
    return rc;
}

/* ---- run --from: a manifest's run again ---------------------------------- */

/* The whole of a file of at most max bytes, NUL-terminated; NULL with a
 * message (errno's, or "larger than") in why. */
static char *read_whole(const char *path, size_t max, size_t *len,
                        char *why, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, n, "%s", strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        snprintf(why, n, "%s", strerror(errno));
        fclose(f);
        return NULL;
    }
    if (!S_ISREG(sb.st_mode) || (uintmax_t)sb.st_size > max) {
        snprintf(why, n, "%s",
                 S_ISDIR(sb.st_mode)    ? "is a directory"
                 : !S_ISREG(sb.st_mode) ? "not a regular file"
                                        : "too large");
        fclose(f);
        return NULL;
    }
    const size_t size = (size_t)sb.st_size;
    char *buf = malloc(size + 1);
    errno = 0;
    if (buf == NULL || fread(buf, 1, size, f) != size) {
        snprintf(why, n, "%s", buf == NULL ? "out of memory"
                               : errno != 0 ? strerror(errno)
                                            : "shorter than its size");
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[size] = '\0';
    *len = size;
    return buf;
}

/* A (rows, cols) array of float64 from a .npy file as cubie writes them
 * (format 1.0, '<f8', C order, two dimensions); anything else is refused
 * with what was expected. *data is malloc'd. */
static int read_npy_f8(const char *path, size_t *rows, size_t *cols,
                       double **data)
{
    char why[128];
    size_t len = 0;
    char *file = read_whole(path, (size_t)1 << 40, &len, why, sizeof(why));
    if (file == NULL) {
        fprintf(stderr, "cubie: error: cannot read %s: %s\n", path, why);
        return EXIT_FILE;
    }
    static const char head[] =
        "{'descr': '<f8', 'fortran_order': False, 'shape': (";
    const unsigned char *b = (const unsigned char *)file;
    const size_t hlen = len >= 10 ? (size_t)b[8] | ((size_t)b[9] << 8) : 0;
    bool ok = len >= 10 && memcmp(b, "\x93NUMPY\x01\x00", 8) == 0 &&
              10 + hlen <= len && hlen > sizeof(head) &&
              file[10 + hlen - 1] == '\n' &&
              strncmp(file + 10, head, sizeof(head) - 1) == 0;
    char *p = file + 10 + sizeof(head) - 1, *end = NULL;
    unsigned long long r = 0, c = 0;
    if (ok) {
        errno = 0;
        r = strtoull(p, &end, 10);
        ok = end != p && errno == 0 && strncmp(end, ", ", 2) == 0 &&
             isdigit((unsigned char)end[2]);
    }
    if (ok) {
        p = end + 2;
        errno = 0;
        c = strtoull(p, &end, 10);
        ok = end != p && errno == 0 && strncmp(end, "), }", 4) == 0;
    }
    for (const char *q = ok ? end + 4 : NULL;
         ok && q < file + 10 + hlen - 1; q++) {
        ok = *q == ' '; /* the padding up to the newline */
    }
    ok = ok && (c == 0 || r <= SIZE_MAX / 8 / c) &&
         len - 10 - hlen == (size_t)(r * c * 8);
    if (!ok) {
        fprintf(stderr,
                "cubie: error: %s: not an array as cubie writes them "
                "(.npy format 1.0, float64 '<f8', C order, two "
                "dimensions, the data's length as its shape says)\n",
                path);
        free(file);
        return EXIT_INPUT;
    }
    *rows = (size_t)r;
    *cols = (size_t)c;
    *data = malloc(r * c * 8 + 8);
    if (*data == NULL) {
        free(file);
        fprintf(stderr, "cubie: error: out of memory\n");
        return EXIT_BUILD;
    }
    memcpy(*data, file + 10 + hlen, r * c * 8);
    free(file);
    return 0;
}

/* A number as the shortest of %.15g, %.16g, %.17g that reads back. */
static void number_text(double x, char out[32])
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, x);
        if (strtod(out, NULL) == x) {
            return;
        }
    }
}

/* A setting of a manifest as the text cubie_options_set takes (malloc),
 * "" for null (a setting that was unset); NULL for a value no setting
 * has (or no memory). */
static char *setting_text(const cJSON *v)
{
    char num[32];
    if (cJSON_IsNull(v)) {
        return strdup("");
    }
    if (cJSON_IsBool(v)) {
        return strdup(cJSON_IsTrue(v) ? "true" : "false");
    }
    if (cJSON_IsString(v)) {
        return v->valuestring[0] != '\0' ? strdup(v->valuestring) : NULL;
    }
    if (cJSON_IsNumber(v)) {
        number_text(v->valuedouble, num);
        return strdup(num);
    }
    if (!cJSON_IsArray(v)) {
        return NULL;
    }
    if (cJSON_GetArraySize(v) == 0) {
        return strdup("[]"); /* an empty list: none (a selection) */
    }
    size_t cap = 1;
    const cJSON *item;
    cJSON_ArrayForEach(item, v)
    {
        if (!cJSON_IsNumber(item) &&
            !(cJSON_IsString(item) && item->valuestring[0] != '\0')) {
            return NULL; /* a list holds numbers or names */
        }
        cap += (cJSON_IsString(item) ? strlen(item->valuestring) : 32) + 1;
    }
    char *text = malloc(cap);
    size_t used = 0;
    cJSON_ArrayForEach(item, v)
    {
        if (text == NULL) {
            break;
        }
        if (cJSON_IsNumber(item)) {
            number_text(item->valuedouble, num);
        }
        used += (size_t)snprintf(text + used, cap - used, "%s%s",
                                 used > 0 ? "," : "",
                                 cJSON_IsString(item) ? item->valuestring
                                                      : num);
    }
    return text;
}

/* What a rerun needs: the system, the options and the batch of the
 * manifest, and where its spec came from. */
typedef struct {
    cubie_system *sys;
    cubie_options *opt;
    cubie_batch *batch;
    char spec[PATH_LEN];
} rerun;

static int manifest_error(const char *path, const char *what)
{
    fprintf(stderr, "cubie: error: %s: %s\n", path, what);
    return EXIT_INPUT;
}

/* Every setting of the manifest, then the command line's --set pairs
 * over them. */
static int rerun_options(const char *path, const cJSON *m, const args *a,
                         rerun *w)
{
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(m, "settings");
    if (!cJSON_IsObject(set)) {
        return manifest_error(path, "no settings object");
    }
    if (cubie_options_new(&w->opt) != CUBIE_OK) {
        fprintf(stderr, "cubie: error: out of memory\n");
        return EXIT_BUILD;
    }
    cubie_error err = {0};
    const cJSON *v;
    cJSON_ArrayForEach(v, set)
    {
        char *text = setting_text(v);
        if (text == NULL) {
            char what[600];
            snprintf(what, sizeof(what),
                     "settings.%.200s: not a setting's value (a number, "
                     "true or false, a name, or a list of them)",
                     v->string);
            return manifest_error(path, what);
        }
        cubie_status st = text[0] == '\0' /* null: unset when it ran */
                              ? CUBIE_OK
                              : cubie_options_set(w->opt, v->string, text,
                                                  &err);
        free(text);
        if (st != CUBIE_OK) {
            fprintf(stderr, "cubie: error: %s: settings.%s: %s\n", path,
                    v->string, err.message);
            cubie_error_clear(&err);
            return EXIT_INPUT;
        }
    }
    for (int i = 0; i < a->n_sets; i++) {
        cubie_status st = cubie_options_set_pair(w->opt, a->sets[i], &err);
        if (st != CUBIE_OK) {
            return report(st, &err);
        }
    }
    return -1;
}

/* The names a manifest's array lists against the system's: the columns
 * of the files must be the system's, in its order. */
static int check_names(const char *path, const cJSON *m, const char *array,
                       const cubie_system *sys, bool states)
{
    const cJSON *arrays = cJSON_GetObjectItemCaseSensitive(m, "arrays");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(arrays, array), "names");
    const size_t n = states ? cubie_system_n_states(sys)
                            : cubie_system_n_parameters(sys);
    bool ok = cJSON_IsArray(names) && (size_t)cJSON_GetArraySize(names) == n;
    for (size_t i = 0; ok && i < n; i++) {
        const cJSON *s = cJSON_GetArrayItem(names, (int)i);
        ok = cJSON_IsString(s) &&
             strcmp(s->valuestring,
                    states ? cubie_system_state_name(sys, i)
                           : cubie_system_parameter_name(sys, i)) == 0;
    }
    if (!ok) {
        char what[200];
        snprintf(what, sizeof(what),
                 "arrays.%s.names does not list the spec's %s in order",
                 array, states ? "states" : "parameters");
        return manifest_error(path, what);
    }
    return -1;
}

/* The drivers' samples of drivers.npy beside the manifest (their times
 * are the settings driver_t0 and driver_sample_period). */
static int rerun_drivers(const char *path, const char *dir, const cJSON *m,
                         rerun *w)
{
    const size_t nd = cubie_system_n_drivers(w->sys);
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(m, "arrays"), "drivers"),
        "names");
    bool ok = cJSON_IsArray(names) && (size_t)cJSON_GetArraySize(names) == nd;
    for (size_t i = 0; ok && i < nd; i++) {
        const cJSON *s = cJSON_GetArrayItem(names, (int)i);
        ok = cJSON_IsString(s) &&
             strcmp(s->valuestring, cubie_system_driver_name(w->sys, i)) == 0;
    }
    if (!ok) {
        return manifest_error(path, "arrays.drivers.names does not list the "
                                    "spec's drivers in order");
    }
    char file[PATH_LEN];
    if (!path_join(file, sizeof(file), dir, "drivers.npy")) {
        return manifest_error(path, "the path is too long");
    }
    double *data = NULL;
    size_t rows = 0, cols = 0;
    int rc = read_npy_f8(file, &rows, &cols, &data);
    rc = rc == 0 ? -1 : rc;
    if (rc == -1 && (cols != nd || rows < 2)) {
        fprintf(stderr,
                "cubie: error: %s: shape (%zu, %zu), expected (samples >= "
                "2, %zu): one row per sample, one column per driver\n",
                file, rows, cols, nd);
        rc = EXIT_INPUT;
    }
    double *col = rc == -1 ? malloc(sizeof(double) * rows) : NULL;
    cubie_error err = {0};
    cubie_status st = CUBIE_OK;
    for (size_t j = 0; rc == -1 && j < nd && st == CUBIE_OK; j++) {
        if (col == NULL) {
            fprintf(stderr, "cubie: error: out of memory\n");
            rc = EXIT_BUILD;
            break;
        }
        for (size_t i = 0; i < rows; i++) {
            col[i] = data[i * cols + j];
        }
        st = cubie_batch_set_driver(w->batch, cubie_system_driver_name(w->sys,
                                                                       j),
                                    col, rows, &err);
    }
    if (rc == -1 && st != CUBIE_OK) {
        rc = report(st, &err);
    }
    free(col);
    free(data);
    return rc;
}

/* The batch of inits.npy and params.npy beside the manifest (and the
 * drivers' drivers.npy). */
static int rerun_batch(const char *path, const char *dir, const cJSON *m,
                       rerun *w)
{
    const bool states[2] = {true, false};
    const char *const names[2] = {"inits", "params"};
    double *data[2] = {NULL, NULL};
    size_t rows[2] = {0, 0}, cols[2] = {0, 0};
    int rc = -1;
    for (int k = 0; k < 2 && rc == -1; k++) {
        char file[PATH_LEN], npy[32];
        snprintf(npy, sizeof(npy), "%s.npy", names[k]);
        rc = check_names(path, m, names[k], w->sys, states[k]);
        if (rc == -1 && !path_join(file, sizeof(file), dir, npy)) {
            rc = manifest_error(path, "the path is too long");
        }
        if (rc == -1) {
            const int got = read_npy_f8(file, &rows[k], &cols[k], &data[k]);
            rc = got == 0 ? -1 : got;
        }
        const size_t want = states[k] ? cubie_system_n_states(w->sys)
                                      : cubie_system_n_parameters(w->sys);
        if (rc == -1 && (cols[k] != want || rows[k] != rows[0] ||
                         rows[k] == 0)) {
            fprintf(stderr,
                    "cubie: error: %s: shape (%zu, %zu), expected (%zu, %zu): "
                    "one row per run of the manifest, one column per %s\n",
                    file, rows[k], cols[k], rows[0] > 0 ? rows[0] : 1, want,
                    states[k] ? "state" : "parameter");
            rc = EXIT_INPUT;
        }
    }
    cubie_error err = {0};
    if (rc == -1) {
        cubie_status st = cubie_batch_new(w->sys, rows[0], &w->batch, &err);
        for (int k = 0; k < 2 && st == CUBIE_OK; k++) {
            for (size_t j = 0; j < cols[k] && st == CUBIE_OK; j++) {
                const char *name = states[k]
                                       ? cubie_system_state_name(w->sys, j)
                                       : cubie_system_parameter_name(w->sys,
                                                                     j);
                for (size_t i = 0; i < rows[k] && st == CUBIE_OK; i++) {
                    st = cubie_batch_set(w->batch, name, i,
                                         data[k][i * cols[k] + j], &err);
                }
            }
        }
        rc = st == CUBIE_OK ? -1 : report(st, &err);
    }
    free(data[0]);
    free(data[1]);
    if (rc == -1 && cubie_system_n_drivers(w->sys) > 0) {
        rc = rerun_drivers(path, dir, m, w);
    }
    return rc;
}

/* The spec, options and batch of the run a manifest (or the folder
 * holding it) records: its spec's text, its settings (the command line's
 * --set pairs over them) and the inits.npy and params.npy beside it. */
static int load_rerun(const args *a, rerun *w)
{
    char path[PATH_LEN], dir[PATH_LEN], why[128];
    struct stat sb;
    if (stat(a->from, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(dir, sizeof(dir), "%s", a->from);
        if (!path_join(path, sizeof(path), a->from, "manifest.json")) {
            return manifest_error(a->from, "the path is too long");
        }
    } else {
        snprintf(path, sizeof(path), "%s", a->from);
        split_dir(a->from, dir, sizeof(dir));
    }
    size_t len = 0;
    char *text = read_whole(path, (size_t)256 << 20, &len, why, sizeof(why));
    if (text == NULL) {
        fprintf(stderr, "cubie: error: cannot read %s: %s\n", path, why);
        return EXIT_FILE;
    }
    cJSON *m = cJSON_Parse(text);
    free(text);
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(m, "spec_json");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(m, "spec");
    int rc = -1;
    if (!cJSON_IsObject(m)) {
        rc = manifest_error(path, "not a cubie manifest (not a JSON object)");
    } else if (!cJSON_IsString(spec)) {
        rc = manifest_error(path, "no spec_json: written by a cubie that did "
                                  "not record its spec and inputs; run it "
                                  "from its spec instead");
    }
    cubie_error err = {0};
    if (rc == -1) {
        snprintf(w->spec, sizeof(w->spec), "%s",
                 cJSON_IsString(label) ? label->valuestring : path);
        cubie_status st = cubie_system_parse(
            spec->valuestring, strlen(spec->valuestring), &w->sys, &err);
        if (st != CUBIE_OK) {
            fprintf(stderr, "cubie: error: %s: spec_json: %s\n", path,
                    err.message);
            cubie_error_clear(&err);
            rc = EXIT_INPUT;
        }
    }
    if (rc == -1) {
        rc = rerun_options(path, m, a, w);
    }
    if (rc == -1) {
        rc = rerun_batch(path, dir, m, w);
    }
    cJSON_Delete(m);
    return rc;
}

/* ---- run ---------------------------------------------------------------- */

/* " name in [lo, hi]," (or "." at the end of the line); NaN in every run
 * (failed runs, masked) says so. */
static void print_range(const char *name, double lo, double hi, bool more)
{
    const char *sep = more ? "," : "\n";
    if (lo > hi) {
        say(" %s not a number in any run%s", name, sep);
    } else {
        say(" %s in [%.6g, %.6g]%s", name, lo, hi, sep);
    }
}

static void print_summary(const cubie_system *sys, const cubie_solver *s,
                          const cubie_result *r)
{
    size_t failed = 0;
    for (size_t i = 0; i < cubie_result_n_runs(r); i++) {
        failed += CUBIE_RUN_FAILED(cubie_result_status(r)[i]);
    }
    size_t windows = 0;
    for (size_t i = 0; i < cubie_result_n_arrays(r); i++) {
        cubie_array a;
        if (cubie_result_array(r, i, &a) == CUBIE_OK &&
            strcmp(a.name, "summary_time") == 0) {
            windows = a.shape[0];
        }
    }
    char shape[96];
    if (cubie_result_n_saves(r) > 0 || windows == 0) {
        snprintf(shape, sizeof(shape), "%zu saves x %zu states",
                 cubie_result_n_saves(r), cubie_result_n_vars(r));
    } else {
        snprintf(shape, sizeof(shape), "%zu summary windows", windows);
    }
    say("%s: %zu runs x %s on %s, kernel %.1f ms "
        "(generate %.1f ms, build %.1f ms), %zu failed\n",
        cubie_system_name(sys), cubie_result_n_runs(r), shape,
        cubie_result_backend(r),
        cubie_result_kernel_ms(r), cubie_solver_generate_ms(s),
        cubie_solver_build_ms(s), failed);
    /* The final row at a glance: each variable's range over the runs;
     * without saves (summaries only), each summary of the last window. */
    if (cubie_result_n_saves(r) > 0) {
        size_t last = cubie_result_n_saves(r) - 1;
        say("at t = %g over %zu runs:", cubie_result_time(r)[last],
            cubie_result_n_runs(r));
        for (size_t v = 0; v < cubie_result_n_vars(r); v++) {
            double lo = INFINITY, hi = -INFINITY;
            for (size_t run = 0; run < cubie_result_n_runs(r); run++) {
                double x = cubie_result_state(r, run, last, v);
                lo = x < lo ? x : lo;
                hi = x > hi ? x : hi;
            }
            print_range(cubie_result_var_name(r, v), lo, hi,
                        v + 1 < cubie_result_n_vars(r));
        }
        return;
    }
    for (size_t i = 0; i < cubie_result_n_arrays(r); i++) {
        cubie_array a;
        if (cubie_result_array(r, i, &a) != CUBIE_OK || a.ndim != 3 ||
            strcmp(a.column, "summary") != 0 || a.shape[1] == 0) {
            continue;
        }
        const size_t w = a.shape[1] - 1;
        say("%s, window %zu of %zu, over %zu runs:", a.name, w + 1,
            a.shape[1], a.shape[0]);
        for (size_t c = 0; c < a.n_columns; c++) {
            double lo = INFINITY, hi = -INFINITY;
            for (size_t run = 0; run < a.shape[0]; run++) {
                const size_t k = (run * a.shape[1] + w) * a.shape[2] + c;
                const double x = a.elem_size == 8
                                     ? ((const double *)a.data)[k]
                                     : (double)((const float *)a.data)[k];
                lo = x < lo ? x : lo;
                hi = x > hi ? x : hi;
            }
            print_range(a.column_names[c], lo, hi, c + 1 < a.n_columns);
        }
    }
}

/* What the compile worked around (a damaged cache entry rebuilt, a
 * cache folder not used) or a run noticed (linear solves hitting their
 * cap), one "cubie: note:" line each on stderr. */
static void print_notes(const char *n)
{
    while (n != NULL && *n != '\0') {
        const size_t len = strcspn(n, "\n");
        fprintf(stderr, "cubie: note: %.*s\n", (int)len, n);
        n += len + (n[len] == '\n');
    }
}

/* The spec, options and batch of a run from the command line: SPEC with
 * --set, --runs or --grid; or a manifest's (--from). */
static int run_inputs(const command *c, const args *a, rerun *w)
{
    if (a->from != NULL) {
        if (a->n_pos > 0) {
            return usage_error(c, "--from reruns the manifest's spec: give "
                                  "no SPEC");
        }
        if (a->runs != NULL || a->n_grid > 0 || a->drivers != NULL) {
            return usage_error(c, "--from reruns the manifest's runs: no "
                                  "--runs, --grid or --drivers");
        }
        return load_rerun(a, w);
    }
    if (a->n_pos == 0) {
        return usage_error(c, "missing SPEC (or --from DIR/manifest.json)");
    }
    if (a->runs != NULL && a->n_grid > 0) {
        return usage_error(c, "--runs and --grid cannot be combined");
    }
    snprintf(w->spec, sizeof(w->spec), "%s", a->pos[0]);
    cubie_error err = {0};
    cubie_status st = cubie_system_load(a->pos[0], &w->sys, &err);
    if (st != CUBIE_OK) {
        return report(st, &err);
    }
    if (cubie_options_copy(a->opt, &w->opt) != CUBIE_OK) {
        fprintf(stderr, "cubie: error: out of memory\n");
        return EXIT_BUILD;
    }
    return make_batch(a, w->sys, &w->batch, &err);
}

static int cmd_run(const command *c, int argc, char **argv)
{
    args a = {0};
    rerun w = {0};
    out_folder out = {NULL, "", -1};
    cubie_error err = {0};
    cubie_solver *s = NULL;
    cubie_result *r = NULL;
    progress_line line = {0.0, progress_after_ms(), 0};
    int rc = -1;
    a.sets = calloc((size_t)argc + 1, sizeof(*a.sets));
    if (a.sets == NULL || cubie_options_new(&a.opt) != CUBIE_OK) {
        fprintf(stderr, "cubie: error: out of memory\n");
        rc = EXIT_BUILD;
    }
    if (rc == -1) {
        rc = parse_args(c, argc, argv, "s:r:g:qh", true, 1, &a);
    }
    if (rc == -1) {
        rc = run_inputs(c, &a, &w);
    }
    /* The output folder before the compile and the run: one that cannot
     * be written fails now, not when the results are in. */
    if (rc == -1 && a.out != NULL) {
        rc = out_open(a.out, a.quiet, &out);
        rc = rc == 0 ? -1 : rc;
    }
    if (rc != -1) {
        goto done;
    }
    cubie_status st = cubie_compile(w.sys, w.opt, &s, &err);
    if (st == CUBIE_OK && !a.quiet) {
        print_notes(cubie_solver_notes(s));
    }
    if (st == CUBIE_OK && !a.quiet && isatty(STDERR_FILENO)) {
        cubie_solver_set_progress(s, show_progress, &line);
    }
    if (st == CUBIE_OK) {
        line.start_ms = now_ms();
        st = cubie_run(s, w.batch, NULL, &r, &err);
        end_progress(&line);
    }
    if (st != CUBIE_OK) {
        rc = report(st, &err);
        goto done;
    }
    print_summary(w.sys, s, r);
    rc = 0;
    if (a.out != NULL) {
        rc = out_write(&out, s, r, w.spec, a.from);
        if (rc == 0) {
            say("wrote %s:", a.out);
            for (size_t i = 0; i < cubie_result_n_arrays(r); i++) {
                cubie_array ar;
                if (cubie_result_array(r, i, &ar) == CUBIE_OK) {
                    say(" %s.npy,", ar.name);
                }
            }
            say(" manifest.json, kernel.cu\n");
        }
    } else if (cubie_result_n_saves(r) > 0) {
        size_t last = cubie_result_n_saves(r) - 1;
        say("run 0 at t = %g:", cubie_result_time(r)[last]);
        for (size_t v = 0; v < cubie_result_n_vars(r); v++) {
            say(" %s = %.9g", cubie_result_var_name(r, v),
                cubie_result_state(r, 0, last, v));
        }
        say("\n");
    }
    /* What the runs' note bits say (even with --quiet: it names the
     * options that would have run them better). */
    print_notes(cubie_result_notes(r));
    /* Failed runs: their outputs are written all the same (NaN where the
     * outputs say so), then a count per status bit and exit 5. */
    size_t count[N_STATUS_BITS];
    if (count_failures(r, count) > 0) {
        report_failures(r);
        rc = rc != 0 ? rc : EXIT_RUNS;
    }
done:
    out_close(&out);
    cubie_result_free(r);
    cubie_solver_free(s);
    cubie_batch_free(w.batch);
    cubie_options_free(w.opt);
    cubie_system_free(w.sys);
    cubie_options_free(a.opt);
    free(a.sets);
    return rc;
}

/* ---- compile ------------------------------------------------------------ */

/* NVRTC without a device: build, write the artifact, print resources. */
static int cmd_compile(const command *c, int argc, char **argv)
{
    args a = {0};
    int rc = parse_spec_args(c, argc, argv, "s:a:o:h", false, &a);
    if (rc == -1 && a.arch == NULL) {
        rc = usage_error(c, "needs --arch sm_XX or compute_XX");
    }
    cubie_error err = {0};
    cubie_system *sys = NULL;
    char *image = NULL;
    size_t len = 0;
    cubie_kernel_resources res;
    if (rc == -1) {
        cubie_status st = cubie_options_set(a.opt, "arch", a.arch, &err);
        if (st == CUBIE_OK) {
            st = cubie_system_load(a.pos[0], &sys, &err);
        }
        if (st == CUBIE_OK) {
            st = cubie_build_cuda(sys, a.opt, a.arch, &image, &len, &res, &err);
        }
        rc = st == CUBIE_OK ? -1 : report(st, &err);
    }
    if (rc == -1) {
        say("%s: %s %s, %.1f ms%s: %d registers, %d bytes spill stores, "
            "%d bytes spill loads, %d bytes stack, %d bytes static shared, "
            "%zu bytes dynamic shared per run\n",
            cubie_system_name(sys), a.arch,
            strncmp(a.arch, "sm_", 3) == 0 ? "CUBIN" : "PTX", res.compile_ms,
            res.cache_hit ? " (cached)" : "", res.registers, res.spill_stores,
            res.spill_loads, res.stack, res.static_smem, res.shared_per_run);
        rc = a.out != NULL ? write_file(a.out, image, len) : 0;
    }
    free(image);
    cubie_system_free(sys);
    cubie_options_free(a.opt);
    return rc;
}

/* ---- devices, version --------------------------------------------------- */

static int cmd_devices(const command *c, int argc, char **argv)
{
    args a = {0};
    int rc = parse_args(c, argc, argv, "h", false, 0, &a);
    if (rc != -1) {
        return rc;
    }
    cubie_error err = {0};
    char *text = NULL;
    cubie_status st = cubie_devices(&text, &err);
    if (st != CUBIE_OK) {
        fprintf(stderr, "cubie: no usable CUDA device: %s\n", err.message);
        cubie_error_clear(&err);
        return EXIT_BUILD;
    }
    say_text(text);
    free(text);
    return 0;
}

static int cmd_version(const command *c, int argc, char **argv)
{
    args a = {0};
    int rc = parse_args(c, argc, argv, "h", false, 0, &a);
    if (rc != -1) {
        return rc;
    }
    say("cubie %s\n", cubie_version());
    return 0;
}

/* ---- list --------------------------------------------------------------- */

/* A table's cell: row 0 is the heading, then the rows 1..n. */
typedef void (*cell_fn)(size_t row, int col, char *buf, size_t n);

/* Rows in columns, two spaces apart, the last one unpadded. */
static void print_table(int ncols, size_t nrows, cell_fn cell)
{
    int width[8] = {0};
    char buf[256];
    for (size_t r = 0; r <= nrows; r++) {
        for (int c = 0; c < ncols; c++) {
            cell(r, c, buf, sizeof(buf));
            const int w = (int)strlen(buf);
            width[c] = w > width[c] ? w : width[c];
        }
    }
    for (size_t r = 0; r <= nrows; r++) {
        for (int c = 0; c < ncols; c++) {
            cell(r, c, buf, sizeof(buf));
            if (c + 1 < ncols) {
                say("%-*s  ", width[c], buf);
            } else {
                say("%s\n", buf);
            }
        }
    }
}

static void algorithm_cell(size_t row, int col, char *buf, size_t n)
{
    static const char *const head[] = {"algorithm",   "also called",
                                       "family",      "order",
                                       "error order", "default controller"};
    if (row == 0) {
        snprintf(buf, n, "%s", head[col]);
        return;
    }
    const size_t i = row - 1;
    const char *aliases = cubie_algorithm_aliases(i);
    switch (col) {
    case 0:
        snprintf(buf, n, "%s", cubie_algorithm_name(i));
        break;
    case 1:
        snprintf(buf, n, "%s", aliases[0] ? aliases : "-");
        break;
    case 2:
        snprintf(buf, n, "%s%s", cubie_algorithm_family(i),
                 cubie_algorithm_is_implicit(i) ? " (implicit)" : "");
        break;
    case 3:
        snprintf(buf, n, "%d", cubie_algorithm_order(i));
        break;
    case 4:
        if (cubie_algorithm_error_order(i) > 0) {
            snprintf(buf, n, "%d", cubie_algorithm_error_order(i));
        } else {
            snprintf(buf, n, "-");
        }
        break;
    default:
        snprintf(buf, n, "%s", cubie_algorithm_default_controller(i));
        break;
    }
}

/* What an option's values may be, in words. */
static void option_values(size_t i, char *buf, size_t n)
{
    const char *kind = cubie_option_kind(i);
    const bool list = strcmp(kind, "list") == 0;
    if (strcmp(cubie_option_key(i), "algorithm") == 0) {
        snprintf(buf, n, "one of %zu: `cubie list algorithms`",
                 cubie_option_n_choices(i));
    } else if (strcmp(kind, "choice") == 0 || list) {
        int used = snprintf(buf, n, "%s", list ? "comma-separated: " : "");
        for (size_t j = 0;
             j < cubie_option_n_choices(i) && used >= 0 && (size_t)used < n;
             j++) {
            used += snprintf(buf + used, n - (size_t)used, "%s%s",
                             j == 0 ? "" : (list ? ", " : " | "),
                             cubie_option_choice(i, j));
        }
        if (strcmp(cubie_option_key(i), "output_types") == 0 && used >= 0 &&
            (size_t)used < n) {
            snprintf(buf + used, n - (size_t)used,
                     "; summary metrics: `cubie list metrics`");
        }
    } else if (strcmp(kind, "number") == 0) {
        snprintf(buf, n, "a finite number");
    } else if (strcmp(kind, "integer") == 0) {
        snprintf(buf, n, "a whole number >= 0");
    } else if (strcmp(kind, "bool") == 0) {
        snprintf(buf, n, "true | false");
    } else if (strcmp(kind, "tolerance") == 0) {
        snprintf(buf, n, "a number >= 0, or one per state (comma-separated)");
    } else if (strcmp(kind, "names") == 0) {
        snprintf(buf, n, "states and observables, comma-separated, or []");
    } else if (strcmp(kind, "indices") == 0) {
        snprintf(buf, n, "whole numbers >= 0, comma-separated, or []");
    } else if (strcmp(kind, "arch") == 0) {
        snprintf(buf, n, "sm_XY (CUBIN) or compute_XY (PTX)");
    } else {
        snprintf(buf, n, "text");
    }
}

static void option_cell(size_t row, int col, char *buf, size_t n)
{
    static const char *const head[] = {"option", "default", "scope", "values"};
    if (row == 0) {
        snprintf(buf, n, "%s", head[col]);
        return;
    }
    const size_t i = row - 1;
    switch (col) {
    case 0:
        snprintf(buf, n, "%s", cubie_option_key(i));
        break;
    case 1:
        snprintf(buf, n, "%s",
                 cubie_option_default(i)[0] ? cubie_option_default(i) : "-");
        break;
    case 2:
        snprintf(buf, n, "%s", cubie_option_scope(i));
        break;
    default:
        option_values(i, buf, n);
        break;
    }
}

static void output_cell(size_t row, int col, char *buf, size_t n)
{
    static const char *const head[] = {"output", "array", "columns",
                                       "NaN for failed runs"};
    if (row == 0) {
        snprintf(buf, n, "%s", head[col]);
        return;
    }
    const size_t i = row - 1;
    switch (col) {
    case 0:
        snprintf(buf, n, "%s", cubie_output_name(i));
        break;
    case 1:
        snprintf(buf, n, "%s.npy", cubie_output_array(i));
        break;
    case 2:
        snprintf(buf, n, "%s", cubie_output_columns(i));
        break;
    default:
        snprintf(buf, n, "%s", cubie_output_nan_masked(i) ? "yes" : "no");
        break;
    }
}

static int cmd_list(const command *c, int argc, char **argv)
{
    args a = {0};
    int rc = parse_args(c, argc, argv, "h", false, 1, &a);
    if (rc != -1) {
        return rc;
    }
    const char *what = a.n_pos > 0 ? a.pos[0] : NULL;
    if (what == NULL) {
        return usage_error(c, "say what to list: algorithms, options, "
                              "outputs or metrics");
    }
    if (strcmp(what, "algorithms") == 0) {
        print_table(6, cubie_n_algorithms(), algorithm_cell);
        say("\nNames match in any case. error order -: no error estimate, "
            "so fixed steps\nonly. `--set algorithm=NAME` picks one.\n");
    } else if (strcmp(what, "options") == 0) {
        print_table(4, cubie_n_options(), option_cell);
        say("\ndefault -: derived from other options or unset (see the "
            "README's Options).\nscope compile: changes the kernel; run: "
            "changes a run only.\nAlso <buffer>_location=shared|local "
            "(compile) for a buffer of the kernel\n(CUBIE_DEBUG=L prints "
            "them). `--set KEY=VALUE` sets one.\n");
    } else if (strcmp(what, "outputs") == 0) {
        print_table(4, cubie_n_outputs(), output_cell);
        say("\n`--set output_types=state,time,...` picks them.\n");
    } else if (strcmp(what, "metrics") == 0) {
        say("%-18s %s\n", "metric", "values per variable and window");
        for (size_t i = 0; i < cubie_n_metrics(); i++) {
            char name[64];
            const char *out = cubie_metric_outputs(i);
            if (cubie_metric_has_parameter(i)) {
                snprintf(name, sizeof(name), "%s[n]", cubie_metric_name(i));
                say("%-18s %s_1 .. %s_n (times)\n", name, out, out);
            } else {
                say("%-18s %s\n", cubie_metric_name(i), out);
            }
        }
        say("\n`--set output_types=state,mean,max,peaks[3]` asks for them; "
            "summarise_every\nand sample_summaries_every set the windows.\n");
    } else {
        return usage_error(c,
                           "unknown list '%s' (algorithms, options, "
                           "outputs, metrics)",
                           what);
    }
    return 0;
}

/* ---- help --------------------------------------------------------------- */

static int cmd_help(const command *c, int argc, char **argv)
{
    args a = {0};
    int rc = parse_args(c, argc, argv, "h", false, 1, &a);
    if (rc != -1) {
        return rc;
    }
    if (a.n_pos == 0) {
        main_usage(stdout);
        return 0;
    }
    const command *of = find_command(a.pos[0]);
    if (of == NULL) {
        return usage_error(c, "unknown command '%s'", a.pos[0]);
    }
    print_help(of);
    return 0;
}

#define SET_HELP                                                          \
    "  -s, --set KEY=VALUE   set an option (repeatable); `cubie list\n"     \
    "                        options` lists them\n"

/* clang-format off: each line of text a line of the help */
static const command commands[] = {
    {"gen", cmd_gen, "SPEC [OPTIONS]", "SPEC",
     "write the generated CUDA C kernel",
     "Write the CUDA C kernel generated for the system in SPEC (a JSON\n"
     "file) to standard output, or to FILE. The same inputs give the\n"
     "same source byte for byte.\n"
     "\n"
     "options:\n"
     SET_HELP
     "  -o, --output FILE     write the kernel to FILE\n"
     "  -h, --help            print this help\n"},
    {"run", cmd_run, "SPEC [OPTIONS] | --from DIR/manifest.json [OPTIONS]",
     "SPEC",
     "integrate a batch of runs; --out DIR writes the results",
     "Integrate a batch of runs of the system in SPEC (a JSON file) and\n"
     "print a summary. One run at the spec's values, unless --runs or\n"
     "--grid say otherwise. When runs fail (their status bits), the\n"
     "outputs are written all the same, a count per status goes to\n"
     "standard error and the exit code is 5.\n"
     "\n"
     "options:\n"
     SET_HELP
     "  -r, --runs RUNS.csv   one run per row; the header names states\n"
     "                        and parameters, the others keep the\n"
     "                        spec's values\n"
     "  -g, --grid NAME=START:STOP:COUNT\n"
     "                        an axis of COUNT values from START to\n"
     "                        STOP (repeatable, up to 16): every\n"
     "                        combination runs, the first axis\n"
     "                        varying slowest\n"
     "      --drivers FILE.csv\n"
     "                        the samples of the spec's drivers, one\n"
     "                        row per sample: a header t,<driver>,...\n"
     "                        (uniform times) or <driver>,... with\n"
     "                        --set driver_sample_period=P (and\n"
     "                        driver_t0); one set serves every run\n"
     "      --out DIR         write state.npy, time.npy, status.npy\n"
     "                        (and the outputs asked for), the runs'\n"
     "                        inputs inits.npy and params.npy,\n"
     "                        manifest.json (the spec and every\n"
     "                        setting as it ran) and kernel.cu into\n"
     "                        DIR; checked before the run starts. An\n"
     "                        earlier cubie output there is replaced\n"
     "                        in one step, and folders killed runs\n"
     "                        left beside it (DIR.tmp-*) are removed\n"
     "      --from DIR/manifest.json\n"
     "                        run again what an output folder records:\n"
     "                        its spec, settings, inits.npy, params.npy\n"
     "                        and drivers.npy (no SPEC, --runs, --grid\n"
     "                        or --drivers);\n"
     "                        --set overrides a setting (a value\n"
     "                        derived from it when it ran stays as it\n"
     "                        was)\n"
     "  -q, --quiet           nothing on standard error but errors\n"
     "  -h, --help            print this help\n"
     "\n"
     "On a terminal, a run longer than a second shows its progress on\n"
     "standard error: runs done and the time left.\n"
     "CUBIE_PROGRESS_AFTER=SECONDS changes the delay.\n"},
    {"compile", cmd_compile, "SPEC --arch ARCH [OPTIONS]", "SPEC",
     "build the kernel with NVRTC for an architecture, no GPU needed",
     "Build the kernel for SPEC with NVRTC for ARCH (sm_XY: a CUBIN,\n"
     "compute_XY: PTX), no device needed, and print its resources:\n"
     "registers, spills, stack and shared memory.\n"
     "\n"
     "options:\n"
     "  -a, --arch ARCH       the target (required)\n"
     SET_HELP
     "  -o, --output FILE     write the CUBIN or PTX to FILE\n"
     "  -h, --help            print this help\n"},
    {"devices", cmd_devices, "", "", "list the CUDA devices",
     "List the CUDA devices, or say why there are none (exit 3).\n"},
    {"list", cmd_list, "algorithms|options|outputs|metrics", "WHAT",
     "list the algorithms, options, outputs or summary metrics",
     "Print what this cubie offers, from the library's own tables:\n"
     "  algorithms  every algorithm: the names it also answers to, its\n"
     "              family, order, its error estimate's order and its\n"
     "              default step controller\n"
     "  options     every option: its default, scope (compile or run)\n"
     "              and the values it takes\n"
     "  outputs     the values of output_types, and the arrays they\n"
     "              fill\n"
     "  metrics     the summary metrics\n"},
    {"version", cmd_version, "", "", "print the version (also --version)",
     "Print cubie's version.\n"},
    {"help", cmd_help, "[COMMAND]", "[COMMAND]",
     "print this help, or a command's (also COMMAND --help)",
     "Print the commands, or what COMMAND takes.\n"},
};
/* clang-format on */

enum { N_COMMANDS = sizeof(commands) / sizeof(commands[0]) };

static const command *find_command(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

static void main_usage(FILE *f)
{
    say_to(f, "usage: cubie COMMAND [ARGUMENTS]\n\n"
              "cubie integrates batches of ODE systems described in a JSON "
              "spec, with a\nCUDA C kernel generated for each system (run "
              "on a GPU, or on the CPU).\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) {
        char head[64];
        snprintf(head, sizeof(head), "%s %s", commands[i].name,
                 commands[i].brief);
        say_to(f, "  %-17s %s\n", head, commands[i].summary);
    }
    say_to(f, "\n`cubie COMMAND --help` says what a command takes.\n%s",
           exit_codes);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        main_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    int rc;
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        main_usage(stdout);
        rc = 0;
    } else if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        say("cubie %s\n", cubie_version());
        rc = 0;
    } else if (name[0] == '-') {
        fprintf(stderr,
                "cubie: unrecognized option '%s' (a command comes "
                "first)\n",
                name);
        main_usage(stderr);
        rc = EXIT_USAGE;
    } else {
        const command *c = find_command(name);
        if (c == NULL) {
            fprintf(stderr, "cubie: unknown command '%s'\n", name);
            main_usage(stderr);
            rc = EXIT_USAGE;
        } else {
            rc = c->run(c, argc - 1, argv + 1);
        }
    }
    return finish_stdout(rc);
}
