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
    if (b != NULL) {
        b->inits = malloc(sizeof(double) * n_runs * ns);
        b->params = malloc(sizeof(double) * (n_runs * np + 1));
    }
    if (b == NULL || b->inits == NULL || b->params == NULL) {
        cubie_batch_free(b);
        return cb_fail_nomem(err);
    }
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
    free(b->inits);
    free(b->params);
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
    double *p = slot(b, name, &stride);
    if (p == NULL) {
        return unknown_name(b->sys, name, name, err);
    }
    p[run * stride] = value;
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
        for (int j = 0; j < i; j++) {
            if (strcmp(names[i], names[j]) == 0) {
                return cb_fail(err, CUBIE_E_BATCH, where, i + 1,
                               "%s: column '%s' appears twice", where,
                               names[i]);
            }
        }
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

cubie_status cubie_batch_from_csv(const struct cubie_system *sys,
                                  const char *path, cubie_batch **out,
                                  cubie_error *err)
{
    if (sys == NULL || path == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_batch_from_csv: NULL argument");
    }
    *out = NULL;
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
    char *line = NULL, *header = NULL;
    size_t cap = 0;
    char **fields = malloc(sizeof(char *) * MAX_COLS);
    char **names = malloc(sizeof(char *) * MAX_COLS);
    double *rows = NULL;
    size_t n_rows = 0, rows_cap = 0;
    int n_cols = 0;
    long lineno = 0;
    char where[640];
    cubie_status st = CUBIE_OK;
    if (fields == NULL || names == NULL) {
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
                         "a runs file's line", where, CSV_MAX_LINE >> 20);
            goto done;
        }
        if (ls == LINE_NUL) {
            snprintf(where, sizeof(where), "%s:%ld:%zu", path, lineno,
                     len + 1);
            st = cb_fail(err, CUBIE_E_BATCH, where, (int)len + 1,
                         "%s: a NUL byte: a runs file is text", where);
            goto done;
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (blank_line(line) || line[0] == '#') {
            continue;
        }
        if (header == NULL) {
            header = strdup(line);
            if (header == NULL) {
                st = cb_fail_nomem(err);
                goto done;
            }
            n_cols = split_csv(header, names, MAX_COLS);
            if (n_cols < 0) {
                snprintf(where, sizeof(where), "%s:%ld", path, lineno);
                st = cb_fail(err, CUBIE_E_BATCH, where, 0,
                             "%s: more than %d columns", where, MAX_COLS);
                goto done;
            }
            st = check_header(sys, names, n_cols, path, lineno, err);
            if (st != CUBIE_OK) {
                goto done;
            }
            continue;
        }
        int n = split_csv(line, fields, MAX_COLS);
        if (n != n_cols) { /* also n < 0: too many fields */
            snprintf(where, sizeof(where), "%s:%ld", path, lineno);
            st = cb_fail(err, CUBIE_E_BATCH, where, 0,
                         "%s: %d fields, the header has %d", where, n,
                         n_cols);
            goto done;
        }
        if (n_rows == 2147483647u) {
            snprintf(where, sizeof(where), "%s:%ld", path, lineno);
            st = cb_fail(err, CUBIE_E_BATCH, where, 0,
                         "%s: more than 2147483647 runs", where);
            goto done;
        }
        if (n_rows == rows_cap) {
            rows_cap = rows_cap ? rows_cap * 2 : 64;
            double *p = realloc(rows, sizeof(double) * rows_cap *
                                          (size_t)n_cols);
            if (p == NULL) {
                st = cb_fail_nomem(err);
                goto done;
            }
            rows = p;
        }
        st = parse_row(fields, names, n, path, lineno,
                       rows + n_rows * (size_t)n_cols, err);
        if (st != CUBIE_OK) {
            goto done;
        }
        n_rows++;
    }
    if (header == NULL || n_rows == 0) {
        st = cb_fail(err, CUBIE_E_BATCH, path, 0,
                     "%s: no %s (expected a header of state/parameter "
                     "names and one row per run)", path,
                     header == NULL ? "header" : "rows");
        goto done;
    }
    st = cubie_batch_new(sys, n_rows, out, err);
    /* Each column's place found once, not once per cell (the header
     * check has named every column; parse_row has checked every value). */
    for (int i = 0; i < n_cols && st == CUBIE_OK; i++) {
        size_t stride = 0;
        double *col = slot(*out, names[i], &stride);
        if (col == NULL) {
            st = unknown_name(sys, names[i], names[i], err);
            break;
        }
        for (size_t r = 0; r < n_rows; r++) {
            col[r * stride] = rows[r * (size_t)n_cols + (size_t)i];
        }
    }
    if (st != CUBIE_OK) {
        cubie_batch_free(*out);
        *out = NULL;
    }
done:
    fclose(f);
    free(line);
    free(header);
    free(fields);
    free(names);
    free(rows);
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
