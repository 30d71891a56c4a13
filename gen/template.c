/* The template expander (see template.h). */
#include "template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct {
    const char *name;
    const char *text;
} cb_templates[];

const char *cb_template(const char *name)
{
    for (int i = 0; cb_templates[i].name != NULL; i++) {
        if (strcmp(cb_templates[i].name, name) == 0) {
            return cb_templates[i].text;
        }
    }
    return NULL;
}

/* A piece of the expansion: text, or a marker's (once filled). */
typedef struct {
    char *text;              /* malloc'd; NULL until a marker is filled */
    const cb_marker *m;      /* NULL for plain text */
    char arg[128];
    int level;               /* indent levels of a marker on its own line */
    int col;                 /* column of an inline marker */
    bool own_line;
    int fn;                  /* which function (closing braces before) */
} piece;

typedef struct {
    piece *p;
    size_t n, cap;
    bool nomem;
} pieces;

static piece *add(pieces *ps)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? 2 * ps->cap : 64;
        piece *q = realloc(ps->p, cap * sizeof(*q));
        if (q == NULL) {
            ps->nomem = true;
            return NULL;
        }
        ps->p = q;
        ps->cap = cap;
    }
    piece *pc = &ps->p[ps->n++];
    memset(pc, 0, sizeof(*pc));
    return pc;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Closing braces of functions (a "}" alone at column 0) in s. */
static int closings(const char *s, bool at_line_start)
{
    int n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '}' && (p == s ? at_line_start : p[-1] == '\n') &&
            (p[1] == '\n' || p[1] == '\0')) {
            n++;
        }
    }
    return n;
}

static cubie_status fill(cb_ctx *c, piece *pc, const char *scope)
{
    cb_sb sb;
    cb_sb_init(&sb);
    sb.indent = pc->own_line ? pc->level : 0;
    /* Inline text starts at the marker's column: a call that wraps its
     * arguments lines them up under its first one. */
    const size_t lead = pc->own_line ? 0 : (size_t)pc->col;
    cb_sb_printf(&sb, "%*s", (int)lead, "");
    cubie_status st = pc->m->emit(c, pc->arg, scope, pc->col, &sb);
    if (st == CUBIE_OK && sb.failed) {
        st = cb_fail_nomem(c->err);
    }
    if (st == CUBIE_OK) {
        pc->text = cb_sb_take(&sb);
        if (pc->text == NULL) {
            st = cb_fail_nomem(c->err);
        } else {
            memmove(pc->text, pc->text + lead, strlen(pc->text + lead) + 1);
        }
    }
    cb_sb_free(&sb);
    return st;
}

/* The column where piece i starts: the length of the line before it. */
static int line_column(const pieces *ps, size_t i)
{
    int col = 0;
    for (size_t k = i; k-- > 0;) {
        const char *t = ps->p[k].text != NULL ? ps->p[k].text : "";
        const char *nl = strrchr(t, '\n');
        col += (int)strlen(nl != NULL ? nl + 1 : t);
        if (nl != NULL) {
            break;
        }
    }
    return col;
}

/* Split one template into pieces, filling the eager markers. */
static cubie_status split(cb_ctx *c, const char *name, const char *p,
                          const cb_marker *markers, pieces *ps, int *fn,
                          bool *line_start)
{
    while (*p) {
        const char *m = strstr(p, "/* @");
        const char *text_end = m != NULL ? m : p + strlen(p);
        const char *line = text_end;
        if (m != NULL) {
            while (line > p && line[-1] == ' ') {
                line--;
            }
        }
        const bool own = m != NULL && (line == p ? *line_start
                                                 : line[-1] == '\n');
        const char *keep_end = own ? line : text_end;
        piece *t = add(ps);
        if (t == NULL || (t->text = dup_n(p, (size_t)(keep_end - p))) ==
                             NULL) {
            return cb_fail_nomem(c->err);
        }
        t->fn = *fn;
        *fn += closings(t->text, *line_start);
        if (keep_end > p) {
            *line_start = keep_end[-1] == '\n';
        }
        if (m == NULL) {
            break;
        }
        const char *end = strstr(m + 4, "@ */");
        if (end == NULL) {
            return cb_fail(c->err, CUBIE_E_CODEGEN, NULL, 0,
                           "unterminated marker in template %s", name);
        }
        const char *word = m + 4;
        size_t wlen = strcspn(word, " @");
        const cb_marker *mk = NULL;
        for (int i = 0; markers[i].name != NULL; i++) {
            if (strlen(markers[i].name) == wlen &&
                strncmp(markers[i].name, word, wlen) == 0) {
                mk = &markers[i];
            }
        }
        if (mk == NULL) {
            return cb_fail(c->err, CUBIE_E_CODEGEN, NULL, 0,
                           "template %s: marker @%.*s@ has no emitter", name,
                           (int)wlen, word);
        }
        piece *pc = add(ps);
        if (pc == NULL) {
            return cb_fail_nomem(c->err);
        }
        pc->m = mk;
        const char *a = word + wlen;
        while (*a == ' ') {
            a++;
        }
        if ((size_t)(end - a) >= sizeof(pc->arg)) {
            return cb_fail(c->err, CUBIE_E_CODEGEN, NULL, 0,
                           "template %s: the argument of marker @%.*s@ is "
                           "longer than %zu characters", name, (int)wlen,
                           word, sizeof(pc->arg) - 1);
        }
        memcpy(pc->arg, a, (size_t)(end - a));
        pc->arg[end - a] = '\0';
        pc->own_line = own;
        pc->level = (int)(m - line) / 4;
        pc->col = own ? 0 : line_column(ps, ps->n - 1);
        pc->fn = *fn;
        p = end + 4;
        if (own && *p == '\n') {
            p++;
            *line_start = true;
        } else {
            *line_start = false;
        }
        if (!mk->deferred) {
            CB_TRY(fill(c, pc, ""));
        }
    }
    return CUBIE_OK;
}

/* The text from piece i + 1 to the end of its function (its closing
 * brace at column 0). */
static char *scope_of(const pieces *ps, size_t i)
{
    cb_sb sb;
    cb_sb_init(&sb);
    for (size_t k = i + 1; k < ps->n && ps->p[k].fn == ps->p[i].fn; k++) {
        const char *t = ps->p[k].text != NULL ? ps->p[k].text : "";
        cb_sb_puts(&sb, t);
    }
    char *text = cb_sb_take(&sb);
    if (text != NULL && strncmp(text, "}\n", 2) == 0) {
        text[0] = '\0';
    }
    char *end = text != NULL ? strstr(text, "\n}\n") : NULL;
    if (end != NULL) {
        end[1] = '\0';
    }
    return text;
}

cubie_status cb_expand_templates(cb_ctx *c, const char *const *names,
                                 const cb_marker *markers, cb_sb *out)
{
    pieces ps = {0};
    int fn = 0;
    bool line_start = true;
    cubie_status st = CUBIE_OK;
    for (int t = 0; names[t] != NULL && st == CUBIE_OK; t++) {
        const char *text = cb_template(names[t]);
        if (text == NULL) {
            st = cb_fail(c->err, CUBIE_E_CODEGEN, NULL, 0,
                         "template %s is not embedded", names[t]);
        } else {
            st = split(c, names[t], text, markers, &ps, &fn, &line_start);
        }
    }
    if (st == CUBIE_OK && ps.nomem) {
        st = cb_fail_nomem(c->err);
    }
    /* Deferred markers: function by function, backwards within each. */
    for (int f = 0; st == CUBIE_OK && f <= fn; f++) {
        for (size_t i = ps.n; i-- > 0 && st == CUBIE_OK;) {
            piece *pc = &ps.p[i];
            if (pc->m == NULL || pc->fn != f || pc->text != NULL) {
                continue;
            }
            char *scope = scope_of(&ps, i);
            st = scope != NULL ? fill(c, pc, scope) : cb_fail_nomem(c->err);
            free(scope);
        }
    }
    for (size_t i = 0; i < ps.n; i++) {
        if (st == CUBIE_OK) {
            cb_sb_puts(out, ps.p[i].text != NULL ? ps.p[i].text : "");
        }
        free(ps.p[i].text);
    }
    free(ps.p);
    return st;
}
