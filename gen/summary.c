/* Output summaries (see summary.h): the metric table, the parsing and
 * fusion of a request, the variable selection, and the expansion of each
 * metric's code (its entry in metrics.def: reset, update, save) into the
 * loop at the start of a window, at a sample and at a window's end.
 *
 * The semantics are the Python original's (summarymetrics/metrics.py),
 * with its quirks not copied (README, "Summaries and variable
 * selection"): a peak right after an exact 0.0 sample counts; peaks are
 * reported as times, not sample indices; the accumulators start from
 * their sentinels (-inf, +inf) with settling_time > 0 too; an unfilled
 * peak slot and a difference metric of a window without a difference read
 * NaN; the std family's shift is the window's first sample. */
#include "summary.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"

const cb_metric_info cb_metric_table[CB_METRIC_COUNT] = {
#define CB_METRIC(id, name, slots, outputs, param, labels, reset, update, \
                  save)                                                    \
    {name, slots, outputs, param, labels, reset, update, save},
#include "metrics.def"
#undef CB_METRIC
};

int cb_metric_slots(const cb_metric_req *r)
{
    return cb_metric_table[r->id].slots + r->param;
}

int cb_metric_outputs(const cb_metric_req *r)
{
    const int n = cb_metric_table[r->id].outputs;
    return n > 0 ? n : r->param;
}

void cb_metric_output_name(const cb_metric_req *r, int k, char *out,
                           size_t n)
{
    const cb_metric_info *m = &cb_metric_table[r->id];
    if (m->param) {
        snprintf(out, n, "%s_%d", m->labels, k + 1);
        return;
    }
    const char *p = m->labels;
    for (int i = 0; i < k && *p; i++) {
        p += strcspn(p, " ");
        p += *p == ' ';
    }
    snprintf(out, n, "%.*s", (int)strcspn(p, " "), p);
}

/* ---- requests ----------------------------------------------------------- */

cubie_status cb_metric_parse(const char *word, size_t len, const char *key,
                             cb_metric_req *req, bool *is_metric,
                             cubie_error *err)
{
    const char *br = memchr(word, '[', len);
    const size_t name_len = br != NULL ? (size_t)(br - word) : len;
    *is_metric = false;
    for (int m = 0; m < CB_METRIC_COUNT; m++) {
        const char *name = cb_metric_table[m].name;
        if (strlen(name) != name_len || strncmp(name, word, name_len) != 0) {
            continue;
        }
        *is_metric = true;
        req->id = (cb_metric)m;
        req->param = 0;
        if (!cb_metric_table[m].param) {
            if (br != NULL) {
                return cb_fail(err, CUBIE_E_OPTION, key, 0,
                               "option %s: metric '%s' takes no parameter "
                               "('%.*s')", key, name, (int)len, word);
            }
            return CUBIE_OK;
        }
        /* name[n]: n a whole number from 1 to CB_MAX_PEAKS, written
         * plainly. */
        int n = 0;
        size_t i = name_len + 1;
        bool ok = br != NULL && i < len && word[i] >= '1' && word[i] <= '9';
        while (ok && i < len && word[i] >= '0' && word[i] <= '9' &&
               n <= CB_MAX_PEAKS) {
            n = n * 10 + (word[i++] - '0');
        }
        ok = ok && i + 1 == len && word[i] == ']' && n <= CB_MAX_PEAKS;
        if (!ok) {
            return cb_fail(err, CUBIE_E_OPTION, key, 0,
                           "option %s: '%.*s': write %s[n] with n a whole "
                           "number from 1 to %d", key, (int)len, word, name,
                           CB_MAX_PEAKS);
        }
        req->param = n;
        return CUBIE_OK;
    }
    return CUBIE_OK;
}

/* The original's fusion rules, larger sets first: when every member is
 * requested, the set becomes the fused metric, at the place of the first
 * member met in the request. */
static const struct {
    cb_metric fused;
    cb_metric members[3];
    int n;
} fusions[] = {
    {CB_METRIC_MEAN_STD_RMS, {CB_METRIC_MEAN, CB_METRIC_STD, CB_METRIC_RMS}, 3},
    {CB_METRIC_MEAN_STD, {CB_METRIC_MEAN, CB_METRIC_STD}, 2},
    {CB_METRIC_STD_RMS, {CB_METRIC_STD, CB_METRIC_RMS}, 2},
    {CB_METRIC_EXTREMA, {CB_METRIC_MAX, CB_METRIC_MIN}, 2},
    {CB_METRIC_DXDT_EXTREMA, {CB_METRIC_DXDT_MAX, CB_METRIC_DXDT_MIN}, 2},
    {CB_METRIC_D2XDT2_EXTREMA, {CB_METRIC_D2XDT2_MAX, CB_METRIC_D2XDT2_MIN},
     2},
};

static int find_req(const cb_metric_list *l, cb_metric id)
{
    for (int i = 0; i < l->n; i++) {
        if (l->m[i].id == id) {
            return i;
        }
    }
    return -1;
}

static void fuse(cb_metric_list *l)
{
    for (size_t f = 0; f < sizeof(fusions) / sizeof(fusions[0]); f++) {
        int at[3], first = -1;
        bool all = true;
        for (int k = 0; k < fusions[f].n; k++) {
            at[k] = find_req(l, fusions[f].members[k]);
            all = all && at[k] >= 0;
            if (at[k] >= 0 && (first < 0 || at[k] < first)) {
                first = at[k];
            }
        }
        if (!all) {
            continue;
        }
        l->m[first].id = fusions[f].fused;
        l->m[first].param = 0;
        /* Drop the other members, keeping the order of the rest. */
        int w = 0;
        for (int i = 0; i < l->n; i++) {
            bool drop = false;
            for (int k = 0; k < fusions[f].n; k++) {
                drop = drop || (i == at[k] && i != first);
            }
            if (!drop) {
                l->m[w++] = l->m[i];
            }
        }
        l->n = w;
    }
}

/* The row of fusions for a fused metric, or -1. */
static int fusion_of(cb_metric id)
{
    for (size_t f = 0; f < sizeof(fusions) / sizeof(fusions[0]); f++) {
        if (fusions[f].fused == id) {
            return (int)f;
        }
    }
    return -1;
}

/* A metric with a parameter asked for twice with two values. */
static cubie_status seen_twice(const cb_metric_list *l,
                               const cb_metric_req *r, cubie_error *err)
{
    const int seen = find_req(l, r->id);
    if (seen >= 0 && l->m[seen].param != r->param) {
        return cb_fail(err, CUBIE_E_OPTION, "output_types", 0,
                       "option output_types: %s is asked for twice, with "
                       "[%d] and [%d]", cb_metric_table[r->id].name,
                       l->m[seen].param, r->param);
    }
    return CUBIE_OK;
}

cubie_status cb_summary_metrics(const char *output_types, cb_metric_list *out,
                                cubie_error *err)
{
    memset(out, 0, sizeof(*out));
    for (const char *p = output_types; *p;) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        const size_t len = strcspn(p, ", ");
        if (len == 0) {
            break;
        }
        cb_metric_req r;
        bool is_metric = false;
        CB_TRY(cb_metric_parse(p, len, "output_types", &r, &is_metric, err));
        p += len;
        if (!is_metric) {
            continue;
        }
        CB_TRY(seen_twice(out, &r, err));
        /* A fused metric asked for by name stands for its members, so
         * that "mean_std,rms" or "extrema,max" fuse (or repeat) nothing
         * twice. */
        const int f = fusion_of(r.id);
        for (int k = 0; k < (f >= 0 ? fusions[f].n : 1); k++) {
            const cb_metric_req m = {f >= 0 ? fusions[f].members[k] : r.id,
                                     r.param};
            if (find_req(out, m.id) < 0) {
                out->m[out->n++] = m;
            }
        }
    }
    fuse(out);
    for (int i = 0; i < out->n; i++) {
        out->slot_off[i] = out->slots;
        out->out_off[i] = out->outputs;
        out->slots += cb_metric_slots(&out->m[i]);
        out->outputs += cb_metric_outputs(&out->m[i]);
    }
    return CUBIE_OK;
}

/* ---- variable selection ------------------------------------------------- */

static bool list_is_empty(const char *text)
{
    return strcmp(text, "") == 0 || strcmp(text, "[]") == 0;
}

/* Mark the names of a comma-separated list as states or observables;
 * an unknown name is an error naming the option. */
static cubie_status mark_names(const struct cubie_system *sys,
                               const char *key, const char *text,
                               bool *states, bool *obs, cubie_error *err)
{
    if (list_is_empty(text)) {
        return CUBIE_OK;
    }
    for (const char *p = text; *p;) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        const size_t len = strcspn(p, ", ");
        if (len == 0) {
            break;
        }
        bool found = false;
        for (int i = 0; i < sys->n_states && !found; i++) {
            if (strlen(sys->state_names[i]) == len &&
                strncmp(sys->state_names[i], p, len) == 0) {
                states[i] = found = true;
            }
        }
        for (int i = 0; i < sys->n_obs && !found; i++) {
            const char *name = sys->aux_names[sys->obs_aux[i]];
            if (strlen(name) == len && strncmp(name, p, len) == 0) {
                obs[i] = found = true;
            }
        }
        if (!found) {
            return cb_fail(err, CUBIE_E_OPTION, key, 0,
                           "option %s: '%.*s' is neither a state nor an "
                           "observable of system '%s'", key, (int)len, p,
                           sys->name);
        }
        p += len;
    }
    return CUBIE_OK;
}

/* Mark the indices of a comma-separated list (each < n). */
static cubie_status mark_indices(const char *key, const char *text, int n,
                                 const char *what, bool *mark,
                                 cubie_error *err)
{
    if (list_is_empty(text)) {
        return CUBIE_OK;
    }
    for (const char *p = text; *p;) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        char *end = NULL;
        const long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v >= n) {
            return cb_fail(err, CUBIE_E_OPTION, key, 0,
                           "option %s: '%.*s' is not the index of one of "
                           "the %d %s (0 to %d)", key,
                           (int)strcspn(p, ", "), p, n, what, n - 1);
        }
        mark[v] = true;
        p = end;
    }
    return CUBIE_OK;
}

static cubie_status to_set(const bool *mark, int n, cb_index_set *s,
                           cubie_error *err)
{
    s->n = 0;
    s->idx = malloc(sizeof(int) * (size_t)(n + 1));
    if (s->idx == NULL) {
        return cb_fail_nomem(err);
    }
    for (int i = 0; i < n; i++) {
        if (mark[i]) {
            s->idx[s->n++] = i;
        }
    }
    return CUBIE_OK;
}

/* One side (saved or summarised): names unioned with both index lists;
 * none set: fallback (or everything when fallback is NULL). */
static cubie_status select_side(const struct cubie_system *sys,
                                const struct cubie_options *o, cb_opt_id names,
                                cb_opt_id state_idx, cb_opt_id obs_idx,
                                const cb_selection *fallback,
                                cb_index_set *states_out,
                                cb_index_set *obs_out, cubie_error *err)
{
    const int ns = sys->n_states, no = sys->n_obs;
    bool *st = calloc((size_t)ns + 1, sizeof(bool));
    bool *ob = calloc((size_t)no + 1, sizeof(bool));
    cubie_status s = st != NULL && ob != NULL ? CUBIE_OK : cb_fail_nomem(err);
    const bool any = cb_opt_is_set(o, names) || cb_opt_is_set(o, state_idx) ||
                     cb_opt_is_set(o, obs_idx);
    if (s == CUBIE_OK && !any) {
        for (int i = 0; i < ns; i++) {
            st[i] = fallback == NULL;
        }
        for (int i = 0; i < no; i++) {
            ob[i] = fallback == NULL;
        }
        for (int i = 0; fallback != NULL && i < fallback->saved_states.n; i++) {
            st[fallback->saved_states.idx[i]] = true;
        }
        for (int i = 0; fallback != NULL && i < fallback->saved_obs.n; i++) {
            ob[fallback->saved_obs.idx[i]] = true;
        }
    }
    if (s == CUBIE_OK && any) {
        s = mark_names(sys, cb_opt_table[names].key, cb_opt_text(o, names),
                       st, ob, err);
    }
    if (s == CUBIE_OK && any) {
        s = mark_indices(cb_opt_table[state_idx].key,
                         cb_opt_text(o, state_idx), ns, "states", st, err);
    }
    if (s == CUBIE_OK && any) {
        s = mark_indices(cb_opt_table[obs_idx].key, cb_opt_text(o, obs_idx),
                         no, "observables", ob, err);
    }
    if (s == CUBIE_OK) {
        s = to_set(st, ns, states_out, err);
    }
    if (s == CUBIE_OK) {
        s = to_set(ob, no, obs_out, err);
    }
    free(st);
    free(ob);
    return s;
}

cubie_status cb_select_variables(const struct cubie_system *sys,
                                 const struct cubie_options *o,
                                 cb_selection *sel, cubie_error *err)
{
    memset(sel, 0, sizeof(*sel));
    cubie_status st = select_side(sys, o, CB_OPT_SAVE_VARIABLES,
                                  CB_OPT_SAVED_STATE_INDICES,
                                  CB_OPT_SAVED_OBSERVABLE_INDICES, NULL,
                                  &sel->saved_states, &sel->saved_obs, err);
    if (st == CUBIE_OK) {
        st = select_side(sys, o, CB_OPT_SUMMARISE_VARIABLES,
                         CB_OPT_SUMMARISED_STATE_INDICES,
                         CB_OPT_SUMMARISED_OBSERVABLE_INDICES, sel,
                         &sel->summ_states, &sel->summ_obs, err);
    }
    if (st != CUBIE_OK) {
        cb_selection_free(sel);
    }
    return st;
}

void cb_selection_free(cb_selection *sel)
{
    free(sel->saved_states.idx);
    free(sel->saved_obs.idx);
    free(sel->summ_states.idx);
    free(sel->summ_obs.idx);
    memset(sel, 0, sizeof(*sel));
}

/* ---- the metrics' code -------------------------------------------------- */

/* The code of one metric for one variable: b is the variable's slots, o
 * the metric's first slot among them, param its parameter. */
typedef struct {
    const cb_ctx *c;
    cb_sb *sb;
    int o;
    int fixed; /* slots before the parameter slots */
    int param;
} mcode;

/* The index of the bracket, brace or parenthesis closing the one at
 * open, or the end of t. */
static size_t closing(const char *t, size_t open)
{
    int depth = 0;
    for (size_t i = open; t[i]; i++) {
        depth += t[i] == '(' || t[i] == '{' || t[i] == '[';
        depth -= t[i] == ')' || t[i] == '}' || t[i] == ']';
        if (depth == 0) {
            return i;
        }
    }
    return strlen(t);
}

/* ${...} repeated for $ = 0 .. param - 1, into out. */
static void repeat(const char *t, int param, cb_sb *out)
{
    for (size_t i = 0; t[i];) {
        if (t[i] == '$' && t[i + 1] == '{') {
            const size_t end = closing(t, i + 1);
            for (int j = 0; j < param; j++) {
                for (size_t q = i + 2; q < end; q++) {
                    if (t[q] == '$') {
                        cb_sb_printf(out, "%d", j);
                    } else {
                        cb_sb_printf(out, "%c", t[q]);
                    }
                }
            }
            i = end + (t[end] != '\0');
        } else {
            cb_sb_printf(out, "%c", t[i++]);
        }
    }
}

static void expand_names(const mcode *m, const char *t, size_t len,
                         cb_sb *out);

/* One name of a metric's code (metrics.def says what each means); t + i
 * is what follows it, TIME's argument. Returns how much of t it used. */
static size_t expand_name(const mcode *m, const char *name, size_t n,
                          const char *t, cb_sb *out)
{
    char lit[48];
    const bool slot = n >= 2 && (name[0] == 'b' || name[0] == 'p') &&
                      strspn(name + 1, "0123456789") == n - 1;
    if (slot) {
        const int k = atoi(name + 1);
        cb_sb_printf(out, "b[%d]", m->o + k + (name[0] == 'p' ? m->fixed : 0));
    } else if (n == 1 && name[0] == 'k') {
        cb_sb_puts(out, "sample_idx");
    } else if (n == 1 && name[0] == 'n') {
        cb_sb_printf(out, "%d", m->param);
    } else if (n == 3 && strncmp(name, "INF", 3) == 0) {
        cb_lit(m->c, INFINITY, lit);
        cb_sb_puts(out, lit);
    } else if (n == 3 && strncmp(name, "NAN", 3) == 0) {
        cb_lit(m->c, NAN, lit);
        cb_sb_puts(out, lit);
    } else if ((n == 4 && strncmp(name, "sqrt", 4) == 0) ||
               (n == 4 && strncmp(name, "fmax", 4) == 0) ||
               (n == 4 && strncmp(name, "fabs", 4) == 0)) {
        char fn[8];
        snprintf(fn, sizeof(fn), "%.*s", (int)n, name);
        cb_sb_puts(out, cb_math(m->c, fn));
    } else if (n == 6 && strncmp(name, "finite", 6) == 0) {
        cb_sb_puts(out, "cb_finite");
    } else if (n == 4 && strncmp(name, "TIME", 4) == 0 && t[0] == '(') {
        const size_t end = closing(t, 0);
        cb_sb_puts(out, "cb_time_real(cb_time_mul_add(t_save0, ");
        expand_names(m, t + 1, end - 1, out);
        cb_sb_puts(out, " + (real)1, sample_every))");
        return end + (t[end] != '\0');
    } else {
        cb_sb_printf(out, "%.*s", (int)n, name); /* v, first, nw, if, ... */
    }
    return 0;
}

static void expand_names(const mcode *m, const char *t, size_t len,
                         cb_sb *out)
{
    for (size_t i = 0; i < len;) {
        if (isalpha((unsigned char)t[i]) || t[i] == '_') {
            size_t n = 1;
            while (i + n < len &&
                   (isalnum((unsigned char)t[i + n]) || t[i + n] == '_')) {
                n++;
            }
            i += n;
            i += expand_name(m, t + i - n, n, t + i, out);
        } else {
            cb_sb_printf(out, "%c", t[i++]);
        }
    }
}

/* A metric's code, its names and repetitions expanded. */
static char *expand(const mcode *m, const char *code)
{
    cb_sb rep, out;
    cb_sb_init(&rep);
    cb_sb_init(&out);
    repeat(code, m->param, &rep);
    char *r = cb_sb_take(&rep);
    if (r != NULL) {
        expand_names(m, r, strlen(r), &out);
    }
    free(r);
    return cb_sb_take(&out);
}

/* The pieces of t that end at a ';' or a '}' outside any bracket: each
 * to fn, terminator included, blanks trimmed. */
static void pieces(const char *t, void (*fn)(void *, const char *, size_t),
                   void *ctx)
{
    int depth = 0;
    size_t start = 0;
    for (size_t i = 0; t[i]; i++) {
        depth += t[i] == '(' || t[i] == '{' || t[i] == '[';
        depth -= t[i] == ')' || t[i] == '}' || t[i] == ']';
        if (depth != 0 || (t[i] != ';' && t[i] != '}')) {
            continue;
        }
        size_t a = start;
        while (t[a] == ' ') {
            a++;
        }
        if (a <= i) {
            fn(ctx, t + a, i + 1 - a);
        }
        start = i + 1;
    }
    size_t a = start, b = strlen(t); /* a last piece without ';' */
    while (t[a] == ' ') {
        a++;
    }
    while (b > a && t[b - 1] == ' ') {
        b--;
    }
    if (b > a) {
        fn(ctx, t + a, b - a);
    }
}

static void put_line(void *sb, const char *s, size_t n)
{
    cb_sb_line(sb, "%.*s", (int)n, s);
}

/* Statements (a reset or an update), one line each. */
static void emit_code(const mcode *m, const char *code)
{
    char *e = expand(m, code);
    if (e == NULL) {
        return; /* out of memory: the source's check fails the compile */
    }
    pieces(e, put_line, m->sb);
    free(e);
}

static void emit_reset(const mcode *m, cb_metric id)
{
    emit_code(m, cb_metric_table[id].reset);
}

static void emit_update(const mcode *m, cb_metric id)
{
    emit_code(m, cb_metric_table[id].update);
}

/* The outputs of a save, each written to its column. */
typedef struct {
    const mcode *m;
    const char *array, *cols;
    int col;
} save_ctx;

static void put_output(void *ctx, const char *s, size_t n)
{
    save_ctx *x = ctx;
    if (n > 0 && s[n - 1] == ';') {
        n--;
    }
    cb_sb_line(x->m->sb, "%s[CB_AT(run, n_runs, n_windows, window, "
                         "CB_COLS_%s, %d)] = %.*s;",
               x->array, x->cols, x->col++, (int)n, s);
}

/* Write the window's values, then reset for the next window. */
static void emit_save(const mcode *m, cb_metric id, const char *array,
                      const char *cols, int col)
{
    char *e = expand(m, cb_metric_table[id].save);
    if (e != NULL) {
        save_ctx x = {m, array, cols, col};
        pieces(e, put_output, &x);
    }
    free(e);
    emit_reset(m, id);
}

/* Whether a requested metric's code uses name (a whole word). */
bool cb_summary_uses(const cb_ctx *c, const char *name)
{
    for (int i = 0; i < c->metrics.n; i++) {
        const cb_metric_info *mi = &cb_metric_table[c->metrics.m[i].id];
        if (cb_ident_used(mi->reset, name) || cb_ident_used(mi->update, name) ||
            cb_ident_used(mi->save, name)) {
            return true;
        }
    }
    return false;
}

/* ---- the loop's summary code -------------------------------------------- */

/* The summarised variables of one kind: states (the state buffer) or
 * observables (the observables buffer, computed at the sample). */
typedef struct {
    const cb_index_set *vars;
    const char *value;   /* "state" | "observables" */
    const char *buffer;  /* "state_summary" | "observable_summary" */
    const char *array;   /* the output kernel argument */
    const char *cols;    /* its CB_COLS_ suffix */
} summ_kind;

static void kinds(const cb_ctx *c, summ_kind k[2])
{
    k[0] = (summ_kind){&c->sel.summ_states, "state", "state_summary",
                       cb_kargs[CB_KARG_STATE_SUMMARIES_OUT].name,
                       cb_kargs[CB_KARG_STATE_SUMMARIES_OUT].id};
    k[1] = (summ_kind){&c->sel.summ_obs, "observables", "observable_summary",
                       cb_kargs[CB_KARG_OBS_SUMMARIES_OUT].name,
                       cb_kargs[CB_KARG_OBS_SUMMARIES_OUT].id};
}

typedef enum { PHASE_RESET, PHASE_UPDATE, PHASE_SAVE } summ_phase;

/* One phase of every requested metric for every summarised variable,
 * each variable in a block of its own with b its slots (and v its sample
 * for an update). */
static void emit_phase(const cb_ctx *c, cb_sb *sb, summ_phase ph)
{
    summ_kind k[2];
    kinds(c, k);
    for (int s = 0; s < 2; s++) {
        for (int q = 0; q < k[s].vars->n; q++) {
            cb_sb_line(sb, "{");
            cb_sb_indent(sb);
            if (ph == PHASE_UPDATE) {
                cb_sb_line(sb, "const real v = %s[%d];", k[s].value,
                           k[s].vars->idx[q]);
            }
            cb_sb_line(sb, "real *b = %s + %d;", k[s].buffer,
                       q * c->metrics.slots);
            for (int i = 0; i < c->metrics.n; i++) {
                const cb_metric id = c->metrics.m[i].id;
                const mcode m = {c, sb, c->metrics.slot_off[i],
                                 cb_metric_table[id].slots,
                                 c->metrics.m[i].param};
                if (ph == PHASE_RESET) {
                    emit_reset(&m, id);
                } else if (ph == PHASE_UPDATE) {
                    emit_update(&m, id);
                } else {
                    emit_save(&m, id, k[s].array, k[s].cols,
                              q * c->metrics.outputs + c->metrics.out_off[i]);
                }
            }
            cb_sb_dedent(sb);
            cb_sb_line(sb, "}");
        }
    }
}

void cb_summary_emit_init(const cb_ctx *c, cb_sb *sb)
{
    emit_phase(c, sb, PHASE_RESET);
}

void cb_summary_emit_sample(cb_ctx *c, cb_sb *sb)
{
    if (c->sel.summ_obs.n > 0) {
        cb_rhs_call(c, sb, CB_RHS_OBSERVABLES, "state", NULL, "observables",
                    "cb_time_real(t)", false);
    }
    if (cb_summary_uses(c, "first")) {
        cb_sb_line(sb, "const int first = sample_idx %% per_window == 0;");
    }
    emit_phase(c, sb, PHASE_UPDATE);
    cb_sb_line(sb, "sample_idx++;");
    cb_sb_line(sb, "if (sample_idx %% per_window == 0) {");
    cb_sb_indent(sb);
    cb_sb_line(sb, "const int window = sample_idx / per_window - 1;");
    emit_phase(c, sb, PHASE_SAVE);
    cb_sb_dedent(sb);
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "next_sample = cb_time_mul_add(t_save0, "
                   "(real)(sample_idx + 1), sample_every);");
}
