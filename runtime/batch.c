/* Batches of runs: defaults from the spec, per-run values by name, CSV
 * files and combinatorial grids. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "spec.h"

/* n_inits and n_params values (uninitialised), one reference. */
static cb_inputs *inputs_new(size_t n_inits, size_t n_params)
{
    cb_inputs *in = calloc(1, sizeof(*in));
    if (in == NULL) {
        return NULL;
    }
    in->refs = 1;
    in->n_inits = n_inits;
    in->n_params = n_params;
    in->inits = cb_big_alloc(sizeof(double) * (n_inits > 0 ? n_inits : 1));
    in->params = cb_big_alloc(sizeof(double) * (n_params + 1));
    if (in->inits == NULL || in->params == NULL) {
        cb_inputs_unref(in);
        return NULL;
    }
    return in;
}

cb_inputs *cb_inputs_ref(cb_inputs *in)
{
    __atomic_add_fetch(&in->refs, 1, __ATOMIC_RELAXED);
    return in;
}

void cb_inputs_unref(cb_inputs *in)
{
    if (in == NULL || __atomic_sub_fetch(&in->refs, 1, __ATOMIC_ACQ_REL) > 0) {
        return;
    }
    free(in->inits);
    free(in->params);
    free(in);
}

static void point_at(cubie_batch *b, cb_inputs *in)
{
    b->data = in;
    b->inits = in->inits;
    b->params = in->params;
}

/* Before b's inputs change: its own copy of them if a record shares
 * them (a run's result keeps what it was given). */
static cubie_status writable(cubie_batch *b, cubie_error *err)
{
    if (__atomic_load_n(&b->data->refs, __ATOMIC_ACQUIRE) == 1) {
        return CUBIE_OK;
    }
    cb_inputs *own = inputs_new(b->data->n_inits, b->data->n_params);
    if (own == NULL) {
        return cb_fail_nomem(err);
    }
    memcpy(own->inits, b->inits, sizeof(double) * own->n_inits);
    memcpy(own->params, b->params, sizeof(double) * own->n_params);
    cb_inputs_unref(b->data);
    point_at(b, own);
    return CUBIE_OK;
}

cubie_status cubie_batch_new(const struct cubie_system *sys, size_t n_runs,
                             cubie_batch **out, cubie_error *err)
{
    if (sys == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_batch_new: NULL argument");
    }
    *out = NULL;
    if (n_runs == 0 || n_runs > 2147483647u) {
        return cb_fail(err, CUBIE_E_BATCH, NULL, 0,
                       "a batch needs between 1 and 2147483647 runs, not %zu",
                       n_runs);
    }
    cubie_batch *b = calloc(1, sizeof(*b));
    size_t ns = (size_t)sys->n_states, np = (size_t)sys->n_params;
    cb_inputs *in = b != NULL ? inputs_new(n_runs * ns, n_runs * np) : NULL;
    if (in == NULL) {
        free(b);
        return cb_fail_nomem(err);
    }
    point_at(b, in);
    /* The batch keeps its own copy of the system (names, defaults), so
     * the caller's may be freed before the batch. */
    cubie_status st = cb_spec_parse(sys->json, strlen(sys->json), &b->sys,
                                    err);
    if (st != CUBIE_OK) {
        cubie_batch_free(b);
        return st;
    }
    b->n_runs = n_runs;
    for (size_t r = 0; r < n_runs; r++) {
        memcpy(b->inits + r * ns, sys->state_init, sizeof(double) * ns);
        if (np > 0) {
            memcpy(b->params + r * np, sys->param_vals, sizeof(double) * np);
        }
    }
    *out = b;
    return CUBIE_OK;
}

void cubie_batch_free(cubie_batch *b)
{
    if (b == NULL) {
        return;
    }
    cb_inputs_unref(b->data);
    free(b->driver_samples);
    free(b->driver_set);
    cubie_system_free(b->sys);
    free(b);
}

size_t cubie_batch_n_runs(const cubie_batch *b)
{
    return b ? b->n_runs : 0;
}

/* Where a name's values live: a column of inits or params. */
static double *slot(cubie_batch *b, const char *name, size_t *stride)
{
    int k = cb_spec_state_index(b->sys, name);
    if (k >= 0) {
        *stride = (size_t)b->sys->n_states;
        return b->inits + k;
    }
    k = cb_spec_param_index(b->sys, name);
    if (k >= 0) {
        *stride = (size_t)b->sys->n_params;
        return b->params + k;
    }
    return NULL;
}

static cubie_status unknown_name(const struct cubie_system *sys,
                                 const char *name, const char *where,
                                 cubie_error *err)
{
    int is_const = 0;
    for (int i = 0; i < sys->n_consts; i++) {
        is_const = is_const || strcmp(sys->const_names[i], name) == 0;
    }
    if (is_const) {
        return cb_fail(err, CUBIE_E_BATCH, where, 0,
                       "%s: '%s' is a constant of '%s' (compiled in); make "
                       "it a parameter to vary it per run", where, name,
                       sys->name);
    }
    return cb_fail(err, CUBIE_E_BATCH, where, 0,
                   "%s: '%s' is neither a state nor a parameter of '%s'",
                   where, name, sys->name);
}

/* A name's column (its first value, *stride apart), ready to change. */
static cubie_status column_to_write(cubie_batch *b, const char *name,
                                    double **p, size_t *stride,
                                    cubie_error *err)
{
    if (slot(b, name, stride) == NULL) {
        return unknown_name(b->sys, name, name, err);
    }
    CB_TRY(writable(b, err));
    *p = slot(b, name, stride);
    return CUBIE_OK;
}

/* ---- sampled drivers ----------------------------------------------------- */

static int driver_index(const struct cubie_system *sys, const char *name)
{
    for (int i = 0; i < sys->n_drivers; i++) {
        if (strcmp(sys->driver_names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

cubie_status cubie_batch_set_driver(cubie_batch *b, const char *name,
                                    const double *values, size_t n,
                                    cubie_error *err)
{
    if (b == NULL || name == NULL || (values == NULL && n > 0)) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_batch_set_driver: NULL argument");
    }
    const struct cubie_system *sys = b->sys;
    const int d = driver_index(sys, name);
    if (d < 0) {
        return cb_fail(err, CUBIE_E_BATCH, name, 0,
                       "'%s' is not a driver of '%s' (it has %d; a spec "
                       "names them in \"drivers\")", name, sys->name,
                       sys->n_drivers);
    }
    if (n < 2 || n > ((size_t)1 << 28)) {
        return cb_fail(err, CUBIE_E_BATCH, name, 0,
                       "driver %s: %zu samples (from 2 to 2^28)", name, n);
    }
    const size_t nd = (size_t)sys->n_drivers;
    if (b->driver_samples != NULL && n != b->n_driver_samples) {
        return cb_fail(err, CUBIE_E_BATCH, name, 0,
                       "driver %s: %zu samples, but the batch's drivers "
                       "have %zu (one set of times serves them all)", name,
                       n, b->n_driver_samples);
    }
    if (b->driver_samples == NULL) {
        b->driver_samples = malloc(sizeof(double) * n * nd);
        b->driver_set = calloc(nd, sizeof(bool));
        if (b->driver_samples == NULL || b->driver_set == NULL) {
            free(b->driver_samples);
            free(b->driver_set);
            b->driver_samples = NULL;
            b->driver_set = NULL;
            return cb_fail_nomem(err);
        }
        b->n_driver_samples = n;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(values[i])) {
            return cb_fail(err, CUBIE_E_BATCH, name, 0,
                           "driver %s: sample %zu is not a finite number",
                           name, i);
        }
    }
    for (size_t i = 0; i < n; i++) {
        b->driver_samples[i * nd + (size_t)d] = values[i];
    }
    b->driver_set[d] = true;
    return CUBIE_OK;
}

cubie_status cubie_batch_set_driver_times(cubie_batch *b, const double *t,
                                          size_t n, cubie_error *err)
{
    if (b == NULL || t == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_batch_set_driver_times: NULL argument");
    }
    if (n < 2) {
        return cb_fail(err, CUBIE_E_BATCH, "t", 0,
                       "driver times: at least 2, not %zu", n);
    }
    if (b->driver_samples != NULL && n != b->n_driver_samples) {
        return cb_fail(err, CUBIE_E_BATCH, "t", 0,
                       "driver times: %zu of them for %zu samples", n,
                       b->n_driver_samples);
    }
    const double period = (t[n - 1] - t[0]) / (double)(n - 1);
    if (!isfinite(t[0]) || !(period > 0.0) || !isfinite(period)) {
        return cb_fail(err, CUBIE_E_BATCH, "t", 0,
                       "driver times: not increasing from a finite start "
                       "(%g to %g)", t[0], t[n - 1]);
    }
    for (size_t i = 0; i < n; i++) {
        const double want = t[0] + period * (double)i;
        if (!(fabs(t[i] - want) <= 1e-6 * period)) {
            return cb_fail(err, CUBIE_E_BATCH, "t", 0,
                           "driver times: not uniform: time %zu is %.17g, "
                           "%.17g on the grid of period %.17g (to 1e-6 of a "
                           "period)", i, t[i], want, period);
        }
    }
    b->has_driver_times = true;
    b->driver_t0 = t[0];
    b->driver_period = period;
    return CUBIE_OK;
}

cubie_status cubie_batch_set(cubie_batch *b, const char *name, size_t run,
                             double value, cubie_error *err)
{
    if (b == NULL || name == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_batch_set: NULL argument");
    }
    if (run >= b->n_runs) {
        return cb_fail(err, CUBIE_E_BATCH, name, 0,
                       "run %zu is out of range (the batch has %zu runs)",
                       run, b->n_runs);
    }
    if (!isfinite(value)) {
        return cb_fail(err, CUBIE_E_BATCH, name, 0,
                       "value of '%s' for run %zu is not finite", name, run);
    }
    size_t stride;
    double *p = NULL;
    CB_TRY(column_to_write(b, name, &p, &stride, err));
    p[run * stride] = value;
    return CUBIE_OK;
}

cubie_status cubie_batch_set_all(cubie_batch *b, const char *name,
                                 const double *values, size_t n,
                                 cubie_error *err)
{
    if (b == NULL || name == NULL || (values == NULL && n > 0)) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_batch_set_all: NULL argument");
    }
    if (n != b->n_runs) {
        return cb_fail(err, CUBIE_E_BATCH, name, 0,
                       "%zu values of '%s' for a batch of %zu runs", n, name,
                       b->n_runs);
    }
    for (size_t run = 0; run < n; run++) {
        if (!isfinite(values[run])) {
            return cb_fail(err, CUBIE_E_BATCH, name, 0,
                           "value of '%s' for run %zu is not finite", name,
                           run);
        }
    }
    size_t stride;
    double *p = NULL;
    CB_TRY(column_to_write(b, name, &p, &stride, err));
    for (size_t run = 0; run < n; run++) {
        p[run * stride] = values[run];
    }
    return CUBIE_OK;
}

/* Split one CSV line in place at commas; trims blanks. */
static int split_csv(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (n == max) {
            return -1;
        }
        fields[n++] = p;
        char *comma = strchr(p, ',');
        char *end = comma ? comma : p + strlen(p);
        char *e = end;
        while (e > p && isspace((unsigned char)e[-1])) {
            e--;
        }
        *e = '\0';
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    return n;
}

static bool blank_line(const char *s)
{
    for (; *s; s++) {
        if (!isspace((unsigned char)*s)) {
            return false;
        }
    }
    return true;
}

/* Column i of a header is not one of the columns before it. */
static cubie_status column_once(char *const *names, int i, const char *where,
                                cubie_error *err)
{
    for (int j = 0; j < i; j++) {
        if (strcmp(names[i], names[j]) == 0) {
            return cb_fail(err, CUBIE_E_BATCH, where, i + 1,
                           "%s: column '%s' appears twice", where, names[i]);
        }
    }
    return CUBIE_OK;
}

/* The header's column names: each a state or parameter, once. */
static cubie_status check_header(const struct cubie_system *sys,
                                 char *const *names, int n_cols,
                                 const char *path, long lineno,
                                 cubie_error *err)
{
    char where[640];
    for (int i = 0; i < n_cols; i++) {
        snprintf(where, sizeof(where), "%s:%ld:%d", path, lineno, i + 1);
        if (*names[i] == '\0') {
            return cb_fail(err, CUBIE_E_BATCH, where, i + 1,
                           "%s: empty column name", where);
        }
        if (cb_spec_state_index(sys, names[i]) < 0 &&
            cb_spec_param_index(sys, names[i]) < 0) {
            return unknown_name(sys, names[i], where, err);
        }
        CB_TRY(column_once(names, i, where, err));
    }
    return CUBIE_OK;
}

/* One row's n fields, each a finite number, into row[0..n). */
static cubie_status parse_row(char *const *fields, char *const *names,
                              int n, const char *path, long lineno,
                              double *row, cubie_error *err)
{
    for (int i = 0; i < n; i++) {
        char *end = NULL;
        errno = 0;
        double v = strtod(fields[i], &end);
        if (end == fields[i] || *end != '\0' || !isfinite(v)) {
            char where[640];
            snprintf(where, sizeof(where), "%s:%ld:%d", path, lineno, i + 1);
            return cb_fail(err, CUBIE_E_BATCH, where, i + 1,
                           "%s: '%s' (column '%s') is not a finite number",
                           where, fields[i], names[i]);
        }
        row[i] = v;
    }
    return CUBIE_OK;
}

/* The longest line of a runs file, in bytes. */
enum { CSV_MAX_LINE = 1 << 20 };

typedef enum {
    LINE_OK,
    LINE_END,     /* no more lines */
    LINE_LONG,    /* longer than CSV_MAX_LINE */
    LINE_NUL,     /* a NUL byte at *len */
    LINE_ERROR,   /* a read error (errno says which) */
    LINE_NOMEM
} line_status;

/* The next line of f in *buf (malloc, grown as needed), without its
 * '\n' and NUL-terminated, its length in *len. Bounded, unlike getline:
 * /dev/zero or a file of one endless line is refused at the limit, and a
 * NUL byte (which would cut the line short in C) where it stands. */
static line_status read_line(FILE *f, char **buf, size_t *cap, size_t *len)
{
    size_t n = 0;
    int ch;
    line_status st = LINE_OK;
    flockfile(f);
    while ((ch = getc_unlocked(f)) != EOF && ch != '\n') {
        if (ch == '\0') {
            st = LINE_NUL;
            break;
        }
        if (n == CSV_MAX_LINE) {
            st = LINE_LONG;
            break;
        }
        if (n + 1 >= *cap) {
            size_t c = *cap ? 2 * *cap : 256;
            char *p = realloc(*buf, c);
            if (p == NULL) {
                st = LINE_NOMEM;
                break;
            }
            *buf = p;
            *cap = c;
        }
        (*buf)[n++] = (char)ch;
    }
    bool error = ch == EOF && ferror(f);
    funlockfile(f);
    *len = n;
    if (st != LINE_OK) {
        return st;
    }
    if (error) {
        return LINE_ERROR;
    }
    if (ch == EOF && n == 0) {
        return LINE_END;
    }
    if (*buf == NULL) {
        *buf = malloc(1);
        *cap = 1;
        if (*buf == NULL) {
            return LINE_NOMEM;
        }
    }
    (*buf)[n] = '\0';
    return LINE_OK;
}

/* A CSV table: a header of names, then rows of finite numbers. */
typedef struct {
    char *header;  /* the header line, split in place into names */
    char **names;
    int n_cols;
    double *rows;  /* n_rows x n_cols */
    size_t n_rows;
} csv_table;

static void table_free(csv_table *t)
{
    free(t->header);
    free(t->names);
    free(t->rows);
    memset(t, 0, sizeof(*t));
}

typedef cubie_status (*header_check)(const void *ctx, char *const *names,
                                     int n_cols, const char *path,
                                     long lineno, cubie_error *err);

/* Read path as a table (what: "runs file", "drivers file", in messages):
 * blank lines and '#' lines skipped, check() on the header, every row as
 * wide as it, at most max_rows rows. */
static cubie_status read_table(const char *path, const char *what,
                               header_check check, const void *ctx,
                               size_t max_rows, csv_table *t,
                               cubie_error *err)
{
    memset(t, 0, sizeof(*t));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return cb_fail(err, CUBIE_E_IO, path, 0, "cannot read %s: %s", path,
                       strerror(errno));
    }
    /* A directory opens, then reads as nothing (EISDIR). */
    struct stat info;
    if (fstat(fileno(f), &info) == 0 && S_ISDIR(info.st_mode)) {
        fclose(f);
        return cb_fail(err, CUBIE_E_IO, path, 0,
                       "cannot read %s: is a directory", path);
    }
    enum { MAX_COLS = 4096 };
    char *line = NULL;
    size_t cap = 0, rows_cap = 0;
    char **fields = malloc(sizeof(char *) * MAX_COLS);
    t->names = malloc(sizeof(char *) * MAX_COLS);
    long lineno = 0;
    char where[640];
    cubie_status st = CUBIE_OK;
    if (fields == NULL || t->names == NULL) {
        st = cb_fail_nomem(err);
        goto done;
    }
    for (;;) {
        size_t len = 0;
        line_status ls = read_line(f, &line, &cap, &len);
        if (ls == LINE_END) {
            break;
        }
        lineno++;
        if (ls == LINE_NOMEM) {
            st = cb_fail_nomem(err);
            goto done;
        }
        if (ls == LINE_ERROR) {
            st = cb_fail(err, CUBIE_E_IO, path, 0, "cannot read %s: %s",
                         path, strerror(errno));
            goto done;
        }
        if (ls == LINE_LONG) {
            snprintf(where, sizeof(where), "%s:%ld", path, lineno);
            st = cb_fail(err, CUBIE_E_BATCH, where, 0,
                         "%s: the line is longer than %d MiB, the limit of "
                         "a %s's line", where, CSV_MAX_LINE >> 20, what);
            goto done;
        }
        if (ls == LINE_NUL) {
            snprintf(where, sizeof(where), "%s:%ld:%zu", path, lineno,
                     len + 1);
            st = cb_fail(err, CUBIE_E_BATCH, where, (int)len + 1,
                         "%s: a NUL byte: a %s is text", where, what);
            goto done;
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (blank_line(line) || line[0] == '#') {
            continue;
        }
        if (t->header == NULL) {
            t->header = strdup(line);
            if (t->header == NULL) {
                st = cb_fail_nomem(err);
                goto done;
            }
            t->n_cols = split_csv(t->header, t->names, MAX_COLS);
            if (t->n_cols < 0) {
                snprintf(where, sizeof(where), "%s:%ld", path, lineno);
                st = cb_fail(err, CUBIE_E_BATCH, where, 0,
                             "%s: more than %d columns", where, MAX_COLS);
                goto done;
            }
            st = check(ctx, t->names, t->n_cols, path, lineno, err);
            if (st != CUBIE_OK) {
                goto done;
            }
            continue;
        }
        int n = split_csv(line, fields, MAX_COLS);
        if (n != t->n_cols) { /* also n < 0: too many fields */
            snprintf(where, sizeof(where), "%s:%ld", path, lineno);
            st = cb_fail(err, CUBIE_E_BATCH, where, 0,
                         "%s: %d fields, the header has %d", where, n,
                         t->n_cols);
            goto done;
        }
        if (t->n_rows == max_rows) {
            snprintf(where, sizeof(where), "%s:%ld", path, lineno);
            st = cb_fail(err, CUBIE_E_BATCH, where, 0,
                         "%s: more than %zu rows", where, max_rows);
            goto done;
        }
        if (t->n_rows == rows_cap) {
            rows_cap = rows_cap ? rows_cap * 2 : 64;
            double *p = realloc(t->rows, sizeof(double) * rows_cap *
                                             (size_t)t->n_cols);
            if (p == NULL) {
                st = cb_fail_nomem(err);
                goto done;
            }
            t->rows = p;
        }
        st = parse_row(fields, t->names, n, path, lineno,
                       t->rows + t->n_rows * (size_t)t->n_cols, err);
        if (st != CUBIE_OK) {
            goto done;
        }
        t->n_rows++;
    }
done:
    fclose(f);
    free(line);
    free(fields);
    if (st != CUBIE_OK) {
        table_free(t);
    }
    return st;
}

static cubie_status runs_header(const void *ctx, char *const *names,
                                int n_cols, const char *path, long lineno,
                                cubie_error *err)
{
    return check_header(ctx, names, n_cols, path, lineno, err);
}

cubie_status cubie_batch_from_csv(const struct cubie_system *sys,
                                  const char *path, cubie_batch **out,
                                  cubie_error *err)
{
    if (sys == NULL || path == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_batch_from_csv: NULL argument");
    }
    *out = NULL;
    csv_table t;
    cubie_status st = read_table(path, "runs file", runs_header, sys,
                                 2147483647u, &t, err);
    if (st != CUBIE_OK) {
        return st;
    }
    if (t.header == NULL || t.n_rows == 0) {
        st = cb_fail(err, CUBIE_E_BATCH, path, 0,
                     "%s: no %s (expected a header of state/parameter "
                     "names and one row per run)", path,
                     t.header == NULL ? "header" : "rows");
        table_free(&t);
        return st;
    }
    st = cubie_batch_new(sys, t.n_rows, out, err);
    /* Each column's place found once, not once per cell (the header
     * check has named every column; parse_row has checked every value). */
    for (int i = 0; i < t.n_cols && st == CUBIE_OK; i++) {
        size_t stride = 0;
        double *col = NULL;
        st = column_to_write(*out, t.names[i], &col, &stride, err);
        if (st != CUBIE_OK) {
            break;
        }
        for (size_t r = 0; r < t.n_rows; r++) {
            col[r * stride] = t.rows[r * (size_t)t.n_cols + (size_t)i];
        }
    }
    if (st != CUBIE_OK) {
        cubie_batch_free(*out);
        *out = NULL;
    }
    table_free(&t);
    return st;
}

/* A drivers file's header: t (optional, once) and drivers, each once. */
static cubie_status drivers_header(const void *ctx, char *const *names,
                                   int n_cols, const char *path, long lineno,
                                   cubie_error *err)
{
    const struct cubie_system *sys = ctx;
    char where[640];
    for (int i = 0; i < n_cols; i++) {
        snprintf(where, sizeof(where), "%s:%ld:%d", path, lineno, i + 1);
        if (strcmp(names[i], "t") != 0 && driver_index(sys, names[i]) < 0) {
            return cb_fail(err, CUBIE_E_BATCH, where, i + 1,
                           "%s: '%s' is not a driver of '%s' (its drivers "
                           "are named in the spec's \"drivers\"; a column t "
                           "holds the sample times)", where, names[i],
                           sys->name);
        }
        CB_TRY(column_once(names, i, where, err));
    }
    return CUBIE_OK;
}

cubie_status cubie_batch_read_drivers(cubie_batch *b, const char *path,
                                      cubie_error *err)
{
    if (b == NULL || path == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_batch_read_drivers: NULL argument");
    }
    csv_table t;
    cubie_status st = read_table(path, "drivers file", drivers_header,
                                 b->sys, (size_t)1 << 28, &t, err);
    if (st != CUBIE_OK) {
        return st;
    }
    if (t.header == NULL || t.n_rows < 2) {
        st = cb_fail(err, CUBIE_E_BATCH, path, 0,
                     "%s: %s (expected a header t,<driver>,... or "
                     "<driver>,... and one row per sample)", path,
                     t.header == NULL ? "no header" : "fewer than 2 rows");
        table_free(&t);
        return st;
    }
    double *col = malloc(sizeof(double) * t.n_rows);
    if (col == NULL) {
        table_free(&t);
        return cb_fail_nomem(err);
    }
    for (int i = 0; i < t.n_cols && st == CUBIE_OK; i++) {
        for (size_t r = 0; r < t.n_rows; r++) {
            col[r] = t.rows[r * (size_t)t.n_cols + (size_t)i];
        }
        st = strcmp(t.names[i], "t") == 0
                 ? cubie_batch_set_driver_times(b, col, t.n_rows, err)
                 : cubie_batch_set_driver(b, t.names[i], col, t.n_rows, err);
        if (st != CUBIE_OK && err != NULL && err->path[0] != '\0') {
            /* say which file it came from */
            char msg[sizeof(err->message)];
            snprintf(msg, sizeof(msg), "%.300s: %.700s", path,
                     err->message);
            snprintf(err->message, sizeof(err->message), "%s", msg);
        }
    }
    free(col);
    table_free(&t);
    return st;
}

cubie_status cubie_batch_grid(const struct cubie_system *sys, size_t n_axes,
                              const char *const *names, const double *start,
                              const double *stop, const size_t *count,
                              cubie_batch **out, cubie_error *err)
{
    if (sys == NULL || out == NULL || (n_axes > 0 && (names == NULL ||
        start == NULL || stop == NULL || count == NULL))) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_batch_grid: NULL argument");
    }
    *out = NULL;
    size_t total = 1;
    for (size_t a = 0; a < n_axes; a++) {
        char where[160];
        if (names[a] == NULL) {
            return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                           "cubie_batch_grid: axis %zu has no name", a);
        }
        snprintf(where, sizeof(where), "--grid %s", names[a]);
        if (cb_spec_state_index(sys, names[a]) < 0 &&
            cb_spec_param_index(sys, names[a]) < 0) {
            return unknown_name(sys, names[a], where, err);
        }
        for (size_t j = 0; j < a; j++) {
            if (strcmp(names[a], names[j]) == 0) {
                return cb_fail(err, CUBIE_E_BATCH, where, 0,
                               "%s: axis given twice", where);
            }
        }
        if (count[a] == 0) {
            return cb_fail(err, CUBIE_E_BATCH, where, 0,
                           "%s: count must be at least 1", where);
        }
        if (!isfinite(start[a]) || !isfinite(stop[a])) {
            return cb_fail(err, CUBIE_E_BATCH, where, 0,
                           "%s: start and stop must be finite", where);
        }
        if (total > 2147483647u / count[a]) {
            return cb_fail(err, CUBIE_E_BATCH, where, 0,
                           "the grid has more than 2147483647 runs");
        }
        total *= count[a];
    }
    cubie_status st = cubie_batch_new(sys, total, out, err);
    for (size_t r = 0; r < total && st == CUBIE_OK; r++) {
        /* The last axis varies fastest. */
        size_t rest = r;
        for (size_t a = n_axes; a-- > 0 && st == CUBIE_OK;) {
            size_t i = rest % count[a];
            rest /= count[a];
            double v = count[a] == 1
                           ? start[a]
                           : start[a] + (stop[a] - start[a]) * (double)i /
                                            (double)(count[a] - 1);
            if (i + 1 == count[a] && count[a] > 1) {
                v = stop[a]; /* both ends exactly */
            }
            st = cubie_batch_set(*out, names[a], r, v, err);
        }
    }
    if (st != CUBIE_OK) {
        cubie_batch_free(*out);
        *out = NULL;
    }
    return st;
}
