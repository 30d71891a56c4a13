/* Spec parsing and validation. Every error names the JSON path and, inside
 * an equation, the column (docs/ARCHITECTURE.md, "The spec"). */
#include "spec.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

typedef struct cubie_system cb_system;

static bool is_identifier(const char *s)
{
    if (s == NULL || !(isalpha((unsigned char)s[0]) || s[0] == '_')) {
        return false;
    }
    for (const char *p = s + 1; *p; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '_')) {
            return false;
        }
    }
    return true;
}

/* Names the generated code or the expression language reserve. */
static bool is_reserved(const char *s)
{
    static const char *const words[] = {
#define CB_FN(id, name, arity, fname, dname) name,
#include "functions.def"
#undef CB_FN
        "t", "and", "or", "real", "int", "float", "double", "if", "else",
        "for", "while", "return", "const", "static", "void", "char",
        "long", "short", "unsigned", "signed", "struct", "union", "enum",
        "switch", "case", "default", "break", "continue", "do", "goto",
        "sizeof", "typedef", "volatile", "register", "extern", "auto",
        "inline", "restrict", "bool", "true", "false", "inf", "nan", NULL};
    for (int i = 0; words[i]; i++) {
        if (strcmp(s, words[i]) == 0) {
            return true;
        }
    }
    return strncmp(s, "cb_", 3) == 0 || strncmp(s, "CB_", 3) == 0 ||
           strncmp(s, "__", 2) == 0;
}

/* Every name known to the spec, for duplicate checks and resolution. */
typedef struct {
    const char *name;
    cb_sym_role role;
    int index;
    double value;
    const char *path;
} name_entry;

/* The names, and an open-addressing hash of their indices (-1: empty),
 * so that resolving a name costs the same with 60000 names as with 6. */
typedef struct {
    cb_system *sys;
    name_entry *names;
    int n_names, cap;
    int *hash;
    size_t hash_cap; /* a power of two, more than twice n_names */
} parse_ctx;

static size_t name_hash(const char *s)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    }
    return h;
}

/* The slot of name in the hash: its index there, or an empty one. */
static size_t name_slot(const parse_ctx *c, const char *name)
{
    size_t i = name_hash(name) & (c->hash_cap - 1);
    while (c->hash[i] >= 0 && strcmp(c->names[c->hash[i]].name, name) != 0) {
        i = (i + 1) & (c->hash_cap - 1);
    }
    return i;
}

static const name_entry *find_name(const parse_ctx *c, const char *name)
{
    if (c->hash_cap == 0) {
        return NULL;
    }
    int k = c->hash[name_slot(c, name)];
    return k >= 0 ? &c->names[k] : NULL;
}

/* Room in the hash for one more name. */
static bool grow_hash(parse_ctx *c)
{
    if (2 * ((size_t)c->n_names + 1) < c->hash_cap) {
        return true;
    }
    size_t cap = c->hash_cap > 0 ? 2 * c->hash_cap : 64;
    int *h = malloc(cap * sizeof(*h));
    if (h == NULL) {
        return false;
    }
    free(c->hash);
    c->hash = h;
    c->hash_cap = cap;
    for (size_t i = 0; i < cap; i++) {
        h[i] = -1;
    }
    for (int k = 0; k < c->n_names; k++) {
        h[name_slot(c, c->names[k].name)] = k;
    }
    return true;
}

static cubie_status add_name(parse_ctx *c, const char *name, cb_sym_role role,
                             int index, double value, const char *path,
                             cubie_error *err)
{
    if (!is_identifier(name)) {
        return cb_fail(err, CUBIE_E_SPEC, path, 0,
                       "%s: '%s' is not a valid name (letters, digits and _, "
                       "not starting with a digit)", path, name);
    }
    if (is_reserved(name)) {
        return cb_fail(err, CUBIE_E_SPEC, path, 0,
                       "%s: '%s' is a reserved name", path, name);
    }
    const name_entry *prev = find_name(c, name);
    if (prev != NULL && strcmp(prev->path, path) == 0) {
        return cb_fail(err, CUBIE_E_SPEC, path, 0,
                       "%s: '%s' is listed twice", path, name);
    }
    if (prev != NULL) {
        return cb_fail(err, CUBIE_E_SPEC, path, 0,
                       "%s: duplicate name '%s' (already defined at %s)", path,
                       name, prev->path);
    }
    if (c->n_names == c->cap) {
        int cap = c->cap ? c->cap * 2 : 32;
        name_entry *p = realloc(c->names, (size_t)cap * sizeof(*p));
        if (p == NULL) {
            return cb_fail_nomem(err);
        }
        c->names = p;
        c->cap = cap;
    }
    char *pcopy = cb_arena_strdup(&c->sys->arena, path);
    if (pcopy == NULL || !grow_hash(c)) {
        return cb_fail_nomem(err);
    }
    c->names[c->n_names] = (name_entry){name, role, index, value, pcopy};
    c->hash[name_slot(c, name)] = c->n_names;
    c->n_names++;
    return CUBIE_OK;
}

static bool resolve(void *ctx, const char *name, cb_sym_role *role,
                    int *index, double *value)
{
    const parse_ctx *c = ctx;
    if (strcmp(name, "t") == 0) {
        *role = CB_SYM_TIME;
        *index = 0;
        return true;
    }
    const name_entry *e = find_name(c, name);
    if (e == NULL) {
        return false;
    }
    *role = e->role;
    *index = e->index;
    *value = e->value;
    return true;
}

/* Read {"name": number, ...} into names/values. */
static cubie_status read_number_map(parse_ctx *c, const cJSON *obj,
                                    const char *key, cb_sym_role role,
                                    int *count, const char ***names,
                                    double **values, cubie_error *err)
{
    char path[256];
    snprintf(path, sizeof(path), "/%s", key);
    *count = 0;
    if (obj == NULL) {
        return CUBIE_OK;
    }
    if (!cJSON_IsObject(obj)) {
        return cb_fail(err, CUBIE_E_SPEC, path, 0,
                       "%s: expected an object of name: number pairs", path);
    }
    int n = cJSON_GetArraySize(obj);
    *names = cb_arena_alloc(&c->sys->arena, sizeof(char *) * (size_t)(n + 1));
    *values = cb_arena_alloc(&c->sys->arena, sizeof(double) * (size_t)(n + 1));
    if (*names == NULL || *values == NULL) {
        return cb_fail_nomem(err);
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, obj)
    {
        snprintf(path, sizeof(path), "/%s/%s", key, item->string);
        if (!cJSON_IsNumber(item)) {
            return cb_fail(err, CUBIE_E_SPEC, path, 0,
                           "%s: expected a number", path);
        }
        if (!isfinite(item->valuedouble)) {
            return cb_fail(err, CUBIE_E_SPEC, path, 0,
                           "%s: value is not finite", path);
        }
        const char *name = cb_arena_strdup(&c->sys->arena, item->string);
        if (name == NULL) {
            return cb_fail_nomem(err);
        }
        cubie_status st = add_name(c, name, role, *count, item->valuedouble,
                                   path, err);
        if (st != CUBIE_OK) {
            return st;
        }
        (*names)[*count] = name;
        (*values)[*count] = item->valuedouble;
        (*count)++;
    }
    return CUBIE_OK;
}

/* "drivers": ["I_stim", ...]: names the equations read like variables,
 * sampled at run time. */
static cubie_status read_drivers(parse_ctx *c, const cJSON *arr,
                                 cubie_error *err)
{
    cb_system *s = c->sys;
    s->n_drivers = 0;
    if (arr == NULL) {
        return CUBIE_OK;
    }
    if (!cJSON_IsArray(arr)) {
        return cb_fail(err, CUBIE_E_SPEC, "/drivers", 0,
                       "/drivers: expected an array of names");
    }
    const int n = cJSON_GetArraySize(arr);
    s->driver_names = cb_arena_alloc(&s->arena,
                                     sizeof(char *) * (size_t)(n + 1));
    if (s->driver_names == NULL) {
        return cb_fail_nomem(err);
    }
    char path[64];
    const cJSON *item = arr->child;
    for (int i = 0; i < n; i++, item = item->next) {
        snprintf(path, sizeof(path), "/drivers/%d", i);
        if (!cJSON_IsString(item)) {
            return cb_fail(err, CUBIE_E_SPEC, path, 0,
                           "%s: expected a name (a string)", path);
        }
        const char *name = cb_arena_strdup(&s->arena, item->valuestring);
        if (name == NULL) {
            return cb_fail_nomem(err);
        }
        CB_TRY(add_name(c, name, CB_SYM_DRIVER, i, 0.0, path, err));
        s->driver_names[s->n_drivers++] = name;
    }
    return CUBIE_OK;
}

/* Replace the blanked copy of an equation in a parser message by the
 * equation itself (same length, so the caret stays aligned). */
static void restore_quote(cubie_error *err, const char *blanked,
                          const char *text)
{
    if (err == NULL) {
        return;
    }
    /* The parser quotes the expression on its own line after two
     * spaces; look only there (a blank run could match anywhere). */
    char *at = strstr(err->message, ":\n  ");
    at = at != NULL ? at + 4 : NULL;
    if (at != NULL && strncmp(at, blanked, strlen(blanked)) != 0) {
        at = NULL;
    }
    if (at != NULL && strlen(blanked) == strlen(text)) {
        memcpy(at, text, strlen(text));
    }
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

/* Split "lhs = rhs"; returns false when there is no single '='. */
static bool split_equation(const char *text, size_t *lhs_begin,
                           size_t *lhs_end, size_t *rhs_begin)
{
    const char *eq = NULL;
    for (const char *p = text; *p; p++) {
        if (*p == '=' && p[1] != '=' && (p == text || (p[-1] != '=' &&
            p[-1] != '<' && p[-1] != '>' && p[-1] != '!'))) {
            eq = p;
            break;
        }
    }
    if (eq == NULL) {
        return false;
    }
    size_t b = 0, e = (size_t)(eq - text);
    while (isspace((unsigned char)text[b]) && b < e) {
        b++;
    }
    while (e > b && isspace((unsigned char)text[e - 1])) {
        e--;
    }
    *lhs_begin = b;
    *lhs_end = e;
    *rhs_begin = (size_t)(eq - text) + 1;
    return true;
}

/* The auxiliaries equation i's right side reads, each once, ascending. */
static const int *eq_aux_refs(const cb_system *s, int i, int *n)
{
    *n = s->eq_aux_start[i + 1] - s->eq_aux_start[i];
    return s->eq_aux + s->eq_aux_start[i];
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

typedef struct {
    cb_system *s;
    int *stamp; /* per auxiliary: 1 + the equation that last listed it */
    int eq;     /* the equation being read */
    int *list;  /* its auxiliaries so far */
    int n, cap;
    bool nomem;
} ref_reader;

static bool read_aux_ref(void *ctx, const cb_expr *e)
{
    ref_reader *r = ctx;
    if (e->role != CB_SYM_AUX || r->stamp[e->index] == r->eq + 1) {
        return true;
    }
    r->stamp[e->index] = r->eq + 1;
    if (r->n == r->cap) {
        int cap = r->cap > 0 ? 2 * r->cap : 64;
        int *p = realloc(r->list, (size_t)cap * sizeof(*p));
        if (p == NULL) {
            r->nomem = true;
            return false;
        }
        r->list = p;
        r->cap = cap;
    }
    r->list[r->n++] = e->index;
    return true;
}

/* eq_aux_start and eq_aux: each right side read once, so that ordering
 * the auxiliaries and their closures cost the total size of the
 * equations, not the number of auxiliaries squared. */
static cubie_status collect_aux_refs(cb_system *s, cubie_error *err)
{
    ref_reader r = {s, calloc((size_t)s->n_aux + 1, sizeof(int)), 0, NULL,
                    0, 0, false};
    s->eq_aux_start = cb_arena_alloc(&s->arena,
                                     sizeof(int) * ((size_t)s->n_eqs + 1));
    if (r.stamp == NULL || s->eq_aux_start == NULL) {
        free(r.stamp);
        return cb_fail_nomem(err);
    }
    for (int i = 0; i < s->n_eqs && !r.nomem; i++) {
        s->eq_aux_start[i] = r.n;
        r.eq = i;
        int first = r.n;
        if (!cb_expr_each_sym(s->eqs[i].rhs, read_aux_ref, &r)) {
            r.nomem = true;
        }
        if (r.n > first) {
            qsort(r.list + first, (size_t)(r.n - first), sizeof(int),
                  cmp_int);
        }
    }
    s->eq_aux_start[s->n_eqs] = r.n;
    s->eq_aux = cb_arena_alloc(&s->arena, sizeof(int) * ((size_t)r.n + 1));
    if (s->eq_aux != NULL && r.n > 0) {
        memcpy(s->eq_aux, r.list, sizeof(int) * (size_t)r.n);
    }
    free(r.stamp);
    free(r.list);
    return r.nomem || s->eq_aux == NULL ? cb_fail_nomem(err) : CUBIE_OK;
}

/* A frame of the depth-first walk: an auxiliary and how many of the
 * auxiliaries it reads have been visited. */
typedef struct {
    int k, next;
} aux_frame;

/* Depth-first topological order of the auxiliaries from root, over an
 * explicit stack (a chain of 60000 auxiliaries is 60000 deep); a cycle is
 * an error. mark: 0 unseen, 1 on the stack, 2 ordered. */
static cubie_status visit_aux(cb_system *s, int root, int *mark,
                              aux_frame *st, int *order, int *n_order,
                              cubie_error *err)
{
    char path[64];
    if (mark[root] != 0) {
        return CUBIE_OK;
    }
    int n = 0;
    mark[root] = 1;
    st[n++] = (aux_frame){root, 0};
    while (n > 0) {
        aux_frame *f = &st[n - 1];
        int k = f->k, nrefs;
        const int *refs = eq_aux_refs(s, s->aux_eq[k], &nrefs);
        if (f->next < nrefs) {
            int j = refs[f->next++];
            if (j == k || mark[j] == 2) {
                continue;
            }
            if (mark[j] == 1) {
                snprintf(path, sizeof(path), "/equations/%d", s->aux_eq[j]);
                return cb_fail(err, CUBIE_E_SPEC, path, 0,
                               "%s: auxiliary '%s' depends on itself "
                               "(circular definition)", path,
                               s->aux_names[j]);
            }
            mark[j] = 1;
            st[n++] = (aux_frame){j, 0}; /* at most n_aux on the stack */
            continue;
        }
        if (bsearch(&k, refs, (size_t)nrefs, sizeof(int), cmp_int) != NULL) {
            snprintf(path, sizeof(path), "/equations/%d", s->aux_eq[k]);
            return cb_fail(err, CUBIE_E_SPEC, path, 0,
                           "%s: auxiliary '%s' is defined in terms of itself",
                           path, s->aux_names[k]);
        }
        mark[k] = 2;
        order[(*n_order)++] = k;
        n--;
    }
    return CUBIE_OK;
}

/* Equation i's left-hand side: a derivative dX of a state, or a new
 * auxiliary; *rhs_at is where its right-hand side starts. */
static cubie_status parse_lhs(parse_ctx *c, const cJSON *item, int i,
                              size_t *rhs_at, cubie_error *err)
{
    cb_system *s = c->sys;
    char path[64];
    snprintf(path, sizeof(path), "/equations/%d", i);
    if (!cJSON_IsString(item)) {
        return cb_fail(err, CUBIE_E_SPEC, path, 0,
                       "%s: expected a string \"lhs = rhs\"", path);
    }
    const char *text = item->valuestring;
    size_t lb, le, rb;
    if (!split_equation(text, &lb, &le, &rb)) {
        return cb_fail(err, CUBIE_E_SPEC, path, 0,
                       "%s: expected \"lhs = rhs\", got \"%s\"", path, text);
    }
    if (le == lb) {
        return cb_fail(err, CUBIE_E_SPEC, path, 1,
                       "%s: missing left-hand side in \"%s\"", path, text);
    }
    char *lhs = cb_arena_strndup(&s->arena, text + lb, le - lb);
    s->eqs[i].text = cb_arena_strdup(&s->arena, text);
    if (lhs == NULL || s->eqs[i].text == NULL) {
        return cb_fail_nomem(err);
    }
    *rhs_at = rb;
    if (blank_line(text + rb)) {
        return cb_fail(err, CUBIE_E_SPEC, path, (int)rb + 1,
                       "%s: missing right-hand side in \"%s\"", path, text);
    }
    const name_entry *dname = lhs[0] == 'd' ? find_name(c, lhs + 1) : NULL;
    int state = dname != NULL && dname->role == CB_SYM_STATE ? dname->index
                                                              : -1;
    if (state >= 0) {
        if (s->deriv_eq[state] >= 0) {
            return cb_fail(err, CUBIE_E_SPEC, path, (int)lb + 1,
                           "%s: second equation for d%s (first at "
                           "/equations/%d)", path, lhs + 1,
                           s->deriv_eq[state]);
        }
        s->eqs[i].is_deriv = true;
        s->eqs[i].target = state;
        s->deriv_eq[state] = i;
        return CUBIE_OK;
    }
    const name_entry *prev = find_name(c, lhs);
    if (prev != NULL && prev->role == CB_SYM_STATE) {
        return cb_fail(err, CUBIE_E_SPEC, path, (int)lb + 1,
                       "%s: '%s' is a state; write its derivative as "
                       "d%s = ...", path, lhs, lhs);
    }
    if (prev != NULL) {
        return cb_fail(err, CUBIE_E_SPEC, path, (int)lb + 1,
                       "%s: cannot assign to '%s', already defined at %s",
                       path, lhs, prev->path);
    }
    CB_TRY(add_name(c, lhs, CB_SYM_AUX, s->n_aux, 0.0, path, err));
    s->eqs[i].is_deriv = false;
    s->eqs[i].target = s->n_aux;
    s->aux_eq[s->n_aux] = i;
    s->aux_names[s->n_aux] = lhs;
    s->n_aux++;
    return CUBIE_OK;
}

/* Equation i's right-hand side. The parser sees the equation with its
 * left side blanked, so its columns count from the equation's start. */
static cubie_status parse_rhs(parse_ctx *c, int i, size_t rhs_at,
                              cubie_error *err)
{
    cb_system *s = c->sys;
    char path[64];
    snprintf(path, sizeof(path), "/equations/%d", i);
    const char *text = s->eqs[i].text;
    char *blank = cb_arena_strdup(&s->arena, text);
    if (blank == NULL) {
        return cb_fail_nomem(err);
    }
    memset(blank, ' ', rhs_at);
    cubie_status st = cb_expr_parse(&s->arena, blank, resolve, c, path,
                                    &s->eqs[i].rhs, err);
    if (st != CUBIE_OK) {
        restore_quote(err, blank, text);
        return st;
    }
    s->eqs[i].rhs = cb_expr_fold(&s->arena, s->eqs[i].rhs);
    return CUBIE_OK;
}

/* Every state has its equation; the auxiliaries in an order that
 * computes each after those it uses. */
static cubie_status check_equations(cb_system *s, cubie_error *err)
{
    for (int k = 0; k < s->n_states; k++) {
        if (s->deriv_eq[k] < 0) {
            return cb_fail(err, CUBIE_E_SPEC, "/equations", 0,
                           "/equations: state '%s' has no equation "
                           "(add \"d%s = ...\")", s->state_names[k],
                           s->state_names[k]);
        }
    }
    CB_TRY(collect_aux_refs(s, err));
    s->aux_order = cb_arena_alloc(&s->arena,
                                  sizeof(int) * (size_t)(s->n_aux + 1));
    int *mark = calloc((size_t)s->n_aux + 1, sizeof(int));
    aux_frame *stack = malloc(sizeof(aux_frame) * ((size_t)s->n_aux + 1));
    if (s->aux_order == NULL || mark == NULL || stack == NULL) {
        free(mark);
        free(stack);
        return cb_fail_nomem(err);
    }
    int n_order = 0;
    cubie_status st = CUBIE_OK;
    for (int k = 0; k < s->n_aux && st == CUBIE_OK; k++) {
        st = visit_aux(s, k, mark, stack, s->aux_order, &n_order, err);
    }
    free(mark);
    free(stack);
    return st;
}

static cubie_status parse_equations(parse_ctx *c, const cJSON *arr,
                                    cubie_error *err)
{
    cb_system *s = c->sys;
    if (arr == NULL) {
        return cb_fail(err, CUBIE_E_SPEC, "/equations", 0,
                       "/equations: missing (a list of \"lhs = rhs\" "
                       "strings is required)");
    }
    if (!cJSON_IsArray(arr)) {
        return cb_fail(err, CUBIE_E_SPEC, "/equations", 0,
                       "/equations: expected an array of strings");
    }
    int n = cJSON_GetArraySize(arr);
    s->n_eqs = n;
    s->eqs = cb_arena_alloc(&s->arena, sizeof(cb_equation) * (size_t)(n + 1));
    s->deriv_eq = cb_arena_alloc(&s->arena,
                                 sizeof(int) * (size_t)(s->n_states + 1));
    s->aux_eq = cb_arena_alloc(&s->arena, sizeof(int) * (size_t)(n + 1));
    s->aux_names = cb_arena_alloc(&s->arena,
                                  sizeof(char *) * (size_t)(n + 1));
    size_t *rhs_at = calloc((size_t)n + 1, sizeof(size_t));
    if (s->eqs == NULL || s->deriv_eq == NULL || s->aux_eq == NULL ||
        s->aux_names == NULL || rhs_at == NULL) {
        free(rhs_at);
        return cb_fail_nomem(err);
    }
    for (int i = 0; i < s->n_states; i++) {
        s->deriv_eq[i] = -1;
    }
    /* Left-hand sides first, so right-hand sides may use any auxiliary
     * whatever the order they are written in. */
    cubie_status st = CUBIE_OK;
    /* By the list, not cJSON_GetArrayItem: that walks from the start. */
    const cJSON *item = arr->child;
    for (int i = 0; i < n && st == CUBIE_OK; i++, item = item->next) {
        st = parse_lhs(c, item, i, &rhs_at[i], err);
    }
    for (int i = 0; i < n && st == CUBIE_OK; i++) {
        st = parse_rhs(c, i, rhs_at[i], err);
    }
    free(rhs_at);
    return st != CUBIE_OK ? st : check_equations(s, err);
}

static cubie_status parse_observables(parse_ctx *c, const cJSON *arr,
                                      cubie_error *err)
{
    cb_system *s = c->sys;
    if (arr == NULL) {
        return CUBIE_OK;
    }
    if (!cJSON_IsArray(arr)) {
        return cb_fail(err, CUBIE_E_SPEC, "/observables", 0,
                       "/observables: expected an array of auxiliary names");
    }
    int n = cJSON_GetArraySize(arr);
    s->obs_aux = cb_arena_alloc(&s->arena, sizeof(int) * (size_t)(n + 1));
    /* Per auxiliary: 1 + the observable that lists it, 0 for none. */
    int *listed = cb_arena_alloc(&s->arena,
                                 sizeof(int) * ((size_t)s->n_aux + 1));
    if (s->obs_aux == NULL || listed == NULL) {
        return cb_fail_nomem(err);
    }
    char path[64];
    const cJSON *item = arr->child;
    for (int i = 0; i < n; i++, item = item->next) {
        snprintf(path, sizeof(path), "/observables/%d", i);
        if (!cJSON_IsString(item)) {
            return cb_fail(err, CUBIE_E_SPEC, path, 0,
                           "%s: expected a string", path);
        }
        const name_entry *e = find_name(c, item->valuestring);
        if (e != NULL && e->role == CB_SYM_STATE) {
            return cb_fail(err, CUBIE_E_SPEC, path, 0,
                           "%s: '%s' is a state, and states are saved "
                           "already; observables are auxiliaries", path,
                           item->valuestring);
        }
        if (e == NULL || e->role != CB_SYM_AUX) {
            return cb_fail(err, CUBIE_E_SPEC, path, 0,
                           "%s: observable '%s' is not defined by an "
                           "equation (write \"%s = ...\")", path,
                           item->valuestring, item->valuestring);
        }
        if (listed[e->index] != 0) {
            return cb_fail(err, CUBIE_E_SPEC, path, 0,
                           "%s: observable '%s' listed twice", path,
                           item->valuestring);
        }
        listed[e->index] = i + 1;
        s->obs_aux[s->n_obs++] = e->index;
    }
    return CUBIE_OK;
}

static cubie_status check_keys(const cJSON *root, cubie_error *err)
{
    static const char *const known[] = {
        "name", "description", "source", "provenance", "states",
        "parameters", "constants", "observables", "equations", "drivers",
        NULL};
    const cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        bool ok = false;
        for (int i = 0; known[i]; i++) {
            ok = ok || strcmp(item->string, known[i]) == 0;
        }
        char path[256];
        snprintf(path, sizeof(path), "/%s", item->string);
        if (!ok) {
            return cb_fail(err, CUBIE_E_SPEC, path, 0,
                           "%s: unknown key (known: name, description, "
                           "source, states, parameters, constants, "
                           "observables, equations)", path);
        }
        for (const cJSON *o = item->next; o != NULL; o = o->next) {
            if (strcmp(o->string, item->string) == 0) {
                return cb_fail(err, CUBIE_E_SPEC, path, 0,
                               "%s: key appears twice", path);
            }
        }
    }
    return CUBIE_OK;
}

/* Line and column of a byte offset, for JSON syntax errors. */
static void line_col(const char *json, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && json[i]; i++) {
        if (json[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* A frame of find_nul_escape's walk: an object or array being read. */
typedef struct {
    bool is_object;
    bool expect_key; /* an object: the next string is a key */
    int index;       /* an array: the element being read */
    const char *key; /* an object: the member's key as written */
    size_t key_len;
} json_frame;

/* Append "/<text>" to path (cut to fit). */
static void path_add(char *path, size_t cap, const char *text, size_t n)
{
    size_t used = strlen(path);
    if (used + 2 < cap) {
        snprintf(path + used, cap - used, "/%.*s", (int)n, text);
    }
}

/* The first string of json (valid JSON: cJSON read it) that holds U+0000,
 * written \u0000: cJSON decodes it into its C string, which then ends
 * there, so "dx = -x\u0000 garbage" would read as "dx = -x". Sets the
 * JSON path of the string (of the member, for a key; *is_key says which)
 * and the offset of the escape; false when there is none. */
static bool find_nul_escape(const char *json, size_t len, char *path,
                            size_t cap, size_t *at, bool *is_key)
{
    path[0] = '\0';
    if (strstr(json, "\\u0000") == NULL) {
        return false; /* the common case: no walk at all */
    }
    json_frame *st = NULL;
    size_t n = 0, n_cap = 0;
    bool found = false;
    for (size_t i = 0; i < len && !found; i++) {
        char c = json[i];
        json_frame *top = n > 0 ? &st[n - 1] : NULL;
        if (c == '{' || c == '[') {
            json_frame *g = cb_expr_grow(st, n, &n_cap, sizeof(*st));
            if (g == NULL) {
                break; /* out of memory: report none; cJSON's C strings
                        * stay as cut, as before */
            }
            st = g;
            st[n++] = (json_frame){c == '{', c == '{', 0, NULL, 0};
        } else if ((c == '}' || c == ']') && n > 0) {
            n--;
        } else if (c == ',' && top != NULL) {
            top->expect_key = top->is_object;
            top->index += !top->is_object;
        } else if (c == ':' && top != NULL) {
            top->expect_key = false;
        } else if (c == '"') {
            size_t j = i + 1;
            size_t nul = 0;
            bool has_nul = false;
            while (j < len && json[j] != '"') {
                if (json[j] == '\\') {
                    if (!has_nul && strncmp(json + j + 1, "u0000", 5) == 0) {
                        has_nul = true;
                        nul = j;
                    }
                    j++;
                }
                j++;
            }
            bool key = top != NULL && top->is_object && top->expect_key;
            if (key) {
                top->key = json + i + 1;
                top->key_len = j - i - 1;
            }
            if (has_nul) {
                for (size_t f = 0; f < n; f++) {
                    char idx[16];
                    if (st[f].is_object) {
                        path_add(path, cap, st[f].key, st[f].key_len);
                    } else {
                        snprintf(idx, sizeof(idx), "%d", st[f].index);
                        path_add(path, cap, idx, strlen(idx));
                    }
                }
                *at = nul;
                *is_key = key;
                found = true;
            }
            i = j;
        }
    }
    free(st);
    return found;
}

cubie_status cb_spec_parse(const char *json, size_t len, cb_system **out,
                           cubie_error *err)
{
    *out = NULL;
    if (len > CB_SPEC_MAX_BYTES) {
        return cb_fail(err, CUBIE_E_SPEC, "", 0,
                       "the spec is %zu bytes, more than the limit of %d "
                       "MiB", len, (int)(CB_SPEC_MAX_BYTES >> 20));
    }
    const char *zero = memchr(json, '\0', len);
    if (zero != NULL) {
        /* cJSON would stop reading there and ignore the rest. */
        int line, col;
        line_col(json, (size_t)(zero - json), &line, &col);
        return cb_fail(err, CUBIE_E_JSON, "", col,
                       "a NUL byte at line %d, column %d: a spec is text%s",
                       line, col,
                       zero == json + len - 1
                           ? " (does the length count the string's "
                             "terminating NUL?)"
                           : "");
    }
    cb_system *s = calloc(1, sizeof(*s));
    char *text = malloc(len + 1);
    if (s == NULL || text == NULL) {
        free(s);
        free(text);
        return cb_fail_nomem(err);
    }
    memcpy(text, json, len);
    text[len] = '\0';
    cb_arena_init(&s->arena);
    s->json = text;
    parse_ctx c = {s, NULL, 0, 0, NULL, 0};
    cubie_status st = CUBIE_OK;

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (root == NULL) {
        int line, col;
        size_t off = end ? (size_t)(end - text) : 0;
        line_col(text, off, &line, &col);
        st = cb_fail(err, CUBIE_E_JSON, "", col,
                     "malformed JSON at line %d, column %d", line, col);
        goto done;
    }
    char nul_path[256];
    size_t nul_at = 0;
    bool nul_key = false;
    if (find_nul_escape(text, len, nul_path, sizeof(nul_path), &nul_at,
                        &nul_key)) {
        int line, col;
        line_col(text, nul_at, &line, &col);
        st = cb_fail(err, CUBIE_E_SPEC, nul_path, col,
                     "%s%sthe %s holds U+0000 (\\u0000, at line %d, column "
                     "%d): a spec's strings cannot contain NUL characters",
                     nul_path, nul_path[0] != '\0' ? ": " : "",
                     nul_key ? "key" : "string", line, col);
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        st = cb_fail(err, CUBIE_E_SPEC, "", 0,
                     "the spec must be a JSON object");
        goto done;
    }
    if ((st = check_keys(root, err)) != CUBIE_OK) {
        goto done;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (name != NULL && (!cJSON_IsString(name) ||
                         !is_identifier(name->valuestring))) {
        st = cb_fail(err, CUBIE_E_SPEC, "/name", 0,
                     "/name: expected a string usable as an identifier");
        goto done;
    }
    s->name = cb_arena_strdup(&s->arena, name ? name->valuestring : "system");
    const cJSON *states = cJSON_GetObjectItemCaseSensitive(root, "states");
    if (states == NULL) {
        st = cb_fail(err, CUBIE_E_SPEC, "/states", 0,
                     "/states: missing (an object of state: initial value)");
        goto done;
    }
    st = read_number_map(&c, states, "states", CB_SYM_STATE, &s->n_states,
                         &s->state_names, &s->state_init, err);
    if (st == CUBIE_OK && s->n_states == 0) {
        st = cb_fail(err, CUBIE_E_SPEC, "/states", 0,
                     "/states: at least one state is required");
    }
    if (st == CUBIE_OK) {
        st = read_number_map(&c,
                             cJSON_GetObjectItemCaseSensitive(root, "parameters"),
                             "parameters", CB_SYM_PARAM, &s->n_params,
                             &s->param_names, &s->param_vals, err);
    }
    if (st == CUBIE_OK) {
        st = read_number_map(&c,
                             cJSON_GetObjectItemCaseSensitive(root, "constants"),
                             "constants", CB_SYM_CONST, &s->n_consts,
                             &s->const_names, &s->const_vals, err);
    }
    if (st == CUBIE_OK) {
        st = read_drivers(&c, cJSON_GetObjectItemCaseSensitive(root, "drivers"),
                          err);
    }
    if (st == CUBIE_OK) {
        st = parse_equations(
            &c, cJSON_GetObjectItemCaseSensitive(root, "equations"), err);
    }
    if (st == CUBIE_OK) {
        st = parse_observables(
            &c, cJSON_GetObjectItemCaseSensitive(root, "observables"), err);
    }
    if (st == CUBIE_OK && (s->arena.failed || s->name == NULL)) {
        st = cb_fail_nomem(err);
    }
done:
    cJSON_Delete(root);
    free(c.names);
    free(c.hash);
    if (st != CUBIE_OK) {
        cb_system_free(s);
        return st;
    }
    *out = s;
    return CUBIE_OK;
}

void cb_system_free(cb_system *s)
{
    if (s == NULL) {
        return;
    }
    cb_arena_free(&s->arena);
    free(s->json);
    free(s);
}

int cb_spec_state_index(const cb_system *s, const char *name)
{
    for (int i = 0; i < s->n_states; i++) {
        if (strcmp(s->state_names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

int cb_spec_param_index(const cb_system *s, const char *name)
{
    for (int i = 0; i < s->n_params; i++) {
        if (strcmp(s->param_names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

void cb_spec_aux_closure(const cb_system *s, const bool *eq_roots,
                         bool *need_aux)
{
    for (int k = 0; k < s->n_aux; k++) {
        need_aux[k] = false;
    }
    for (int i = 0; i < s->n_eqs; i++) {
        if (!eq_roots[i]) {
            continue;
        }
        if (!s->eqs[i].is_deriv) {
            need_aux[s->eqs[i].target] = true;
        }
        int n;
        const int *refs = eq_aux_refs(s, i, &n);
        for (int r = 0; r < n; r++) {
            need_aux[refs[r]] = true;
        }
    }
    /* Walk the dependency order backwards so needs propagate to what the
     * needed auxiliaries use. */
    for (int o = s->n_aux - 1; o >= 0; o--) {
        int k = s->aux_order[o];
        if (!need_aux[k]) {
            continue;
        }
        int n;
        const int *refs = eq_aux_refs(s, s->aux_eq[k], &n);
        for (int r = 0; r < n; r++) {
            need_aux[refs[r]] = true;
        }
    }
}

void cb_spec_print_sym(void *ctx, const cb_expr *e, cb_sb *out)
{
    const cb_system *s = ctx;
    switch (e->role) {
    case CB_SYM_STATE:
        cb_sb_printf(out, "state[%d]", e->index);
        break;
    case CB_SYM_PARAM:
        cb_sb_printf(out, "parameters[%d]", e->index);
        break;
    case CB_SYM_AUX:
        cb_sb_printf(out, "a_%s", s->aux_names[e->index]);
        break;
    case CB_SYM_DRIVER:
        cb_sb_printf(out, "d_%s", s->driver_names[e->index]);
        break;
    case CB_SYM_TIME:
        cb_sb_puts(out, "t");
        break;
    default:
        cb_sb_puts(out, e->name != NULL ? e->name : "?");
        break;
    }
}
