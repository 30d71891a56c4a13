/* The expression language: a recursive-descent parser over a lazy lexer,
 * a folder, a double evaluator and a C printer for either precision.
 *
 * Only the parser recurses, and only into nesting (parentheses, calls,
 * unary operators: MAX_DEPTH levels at most); a chain of binary operators
 * is a loop there. The folder, the evaluator, the printer and the symbol
 * walk use explicit stacks on the heap, because the trees they walk are
 * as deep as the input's chains: x+x+...+x of 50000 terms is a left-deep
 * tree 50000 nodes deep, which recursion would turn into a stack
 * overflow. gen/deriv.c walks the same way.
 *
 * Columns are 1-based byte offsets into the text the caller passed. A
 * node's column is the first character of the text it spans, except that
 * the parentheses around a subexpression belong to no node. */
#include "expr.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the function table ------------------------------------------------ */

typedef struct {
    const char *name;  /* as written in specs */
    int arity;
    const char *fname; /* C text in float code */
    const char *dname; /* C text in double code */
} fn_info;

static const fn_info fn_table[CB_FN_COUNT] = {
#define CB_FN(id, name, arity, fname, dname) {name, arity, fname, dname},
#include "functions.def"
#undef CB_FN
};

const char *cb_func_name(cb_func fn)
{
    return (unsigned)fn < CB_FN_COUNT ? fn_table[fn].name : "?";
}

int cb_func_arity(cb_func fn)
{
    return (unsigned)fn < CB_FN_COUNT ? fn_table[fn].arity : 0;
}

static bool fn_lookup(const char *s, size_t n, cb_func *out)
{
    for (int i = 0; i < CB_FN_COUNT; i++) {
        if (strlen(fn_table[i].name) == n
            && memcmp(fn_table[i].name, s, n) == 0) {
            *out = (cb_func)i;
            return true;
        }
    }
    return false;
}

/* ---- node constructors ------------------------------------------------- */

cb_expr *cb_expr_new(cb_arena *arena, cb_expr_kind kind, int col,
                     cb_expr *a0, cb_expr *a1, cb_expr *a2)
{
    cb_expr *e = cb_arena_alloc(arena, sizeof(*e));
    if (e == NULL) {
        return NULL;
    }
    e->kind = kind;
    e->col = col;
    e->a[0] = a0;
    e->a[1] = a1;
    e->a[2] = a2;
    e->nargs = (a0 != NULL) + (a1 != NULL) + (a2 != NULL);
    return e;
}

cb_expr *cb_expr_new_num(cb_arena *arena, double v, int col)
{
    cb_expr *e = cb_expr_new(arena, CB_EX_NUM, col, NULL, NULL, NULL);
    if (e != NULL) {
        e->num = v;
    }
    return e;
}

static bool is_num(const cb_expr *e, double v)
{
    return e->kind == CB_EX_NUM && e->num == v;
}

static bool all_args_numeric(const cb_expr *e)
{
    if (e->kind == CB_EX_NUM || e->kind == CB_EX_SYM || e->nargs == 0) {
        return false;
    }
    for (int i = 0; i < e->nargs; i++) {
        if (e->a[i]->kind != CB_EX_NUM) {
            return false;
        }
    }
    return true;
}

/* ---- evaluation -------------------------------------------------------- */

static double truth(bool b)
{
    return b ? 1.0 : 0.0;
}

static double eval_call(cb_func fn, const double *v)
{
    switch (fn) {
    case CB_FN_EXP: return exp(v[0]);
    case CB_FN_LOG: return log(v[0]);
    case CB_FN_SQRT: return sqrt(v[0]);
    case CB_FN_POW: return pow(v[0], v[1]);
    case CB_FN_SIN: return sin(v[0]);
    case CB_FN_COS: return cos(v[0]);
    case CB_FN_TAN: return tan(v[0]);
    case CB_FN_ASIN: return asin(v[0]);
    case CB_FN_ACOS: return acos(v[0]);
    case CB_FN_ATAN: return atan(v[0]);
    case CB_FN_ATAN2: return atan2(v[0], v[1]);
    case CB_FN_SINH: return sinh(v[0]);
    case CB_FN_COSH: return cosh(v[0]);
    case CB_FN_TANH: return tanh(v[0]);
    case CB_FN_ERF: return erf(v[0]);
    case CB_FN_ABS: return fabs(v[0]);
    case CB_FN_MIN: return fmin(v[0], v[1]);
    case CB_FN_MAX: return fmax(v[0], v[1]);
    case CB_FN_FLOOR: return floor(v[0]);
    case CB_FN_CEIL: return ceil(v[0]);
    /* NaN compares false both ways, so sign(NaN) is 0, as in the prelude's
     * (x > 0) - (x < 0). */
    case CB_FN_SIGN: return v[0] > 0.0 ? 1.0 : (v[0] < 0.0 ? -1.0 : 0.0);
    case CB_FN_WHERE: return v[0] != 0.0 ? v[1] : v[2];
    case CB_FN_COUNT: break;
    }
    return NAN;
}

/* The value of node e from the values v of its arguments (a conditional
 * takes all three; the walk below evaluates only the branch taken). */
static double apply(const cb_expr *e, const double *v)
{
    switch (e->kind) {
    case CB_EX_NUM: return e->num;
    case CB_EX_NEG: return -v[0];
    case CB_EX_NOT: return truth(v[0] == 0.0);
    case CB_EX_ADD: return v[0] + v[1];
    case CB_EX_SUB: return v[0] - v[1];
    case CB_EX_MUL: return v[0] * v[1];
    case CB_EX_DIV: return v[0] / v[1];
    case CB_EX_POW: return pow(v[0], v[1]);
    case CB_EX_LT: return truth(v[0] < v[1]);
    case CB_EX_LE: return truth(v[0] <= v[1]);
    case CB_EX_GT: return truth(v[0] > v[1]);
    case CB_EX_GE: return truth(v[0] >= v[1]);
    case CB_EX_EQ: return truth(v[0] == v[1]);
    case CB_EX_NE: return truth(v[0] != v[1]);
    case CB_EX_AND: return truth(v[0] != 0.0 && v[1] != 0.0);
    case CB_EX_OR: return truth(v[0] != 0.0 || v[1] != 0.0);
    case CB_EX_COND: return v[0] != 0.0 ? v[1] : v[2];
    case CB_EX_CALL: return eval_call(e->fn, v);
    default: break;
    }
    return NAN;
}

void *cb_expr_grow(void *arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap) {
        return arr;
    }
    size_t c = *cap > 0 ? 2 * *cap : 32;
    if (c > SIZE_MAX / size) {
        return NULL;
    }
    void *p = realloc(arr, c * size);
    if (p != NULL) {
        *cap = c;
    }
    return p;
}

/* The evaluator's work list: evaluate a node, or combine the values on
 * top of the value stack for one (EV_APPLY), or pick the branch of a
 * conditional whose test is on top (EV_PICK). */
typedef enum { EV_NODE, EV_APPLY, EV_PICK } ev_kind;

typedef struct {
    ev_kind kind;
    const cb_expr *e;
} ev_item;

typedef struct {
    ev_item *work;
    size_t n_work, cap_work;
    double *vals;
    size_t n_vals, cap_vals;
    bool nomem;
} evaluator;

static void ev_push(evaluator *ev, ev_kind kind, const cb_expr *e)
{
    ev_item *w = cb_expr_grow(ev->work, ev->n_work, &ev->cap_work,
                              sizeof(*w));
    if (w == NULL) {
        ev->nomem = true;
        return;
    }
    ev->work = w;
    w[ev->n_work++] = (ev_item){kind, e};
}

static void ev_value(evaluator *ev, double v)
{
    double *p = cb_expr_grow(ev->vals, ev->n_vals, &ev->cap_vals,
                             sizeof(*p));
    if (p == NULL) {
        ev->nomem = true;
        return;
    }
    ev->vals = p;
    p[ev->n_vals++] = v;
}

/* Iterative: the depth of a tree from user input (a sum of 50000 terms
 * is a left-deep chain of 50000 nodes) must not become stack depth. */
double cb_expr_eval(const cb_expr *e, cb_sym_value val, void *ctx)
{
    evaluator ev = {NULL, 0, 0, NULL, 0, 0, false};
    ev_push(&ev, EV_NODE, e);
    while (!ev.nomem && ev.n_work > 0) {
        ev_item it = ev.work[--ev.n_work];
        const cb_expr *x = it.e;
        if (it.kind == EV_PICK) {
            /* The test's value is on top; the branch replaces it. */
            double c = ev.vals[--ev.n_vals];
            ev_push(&ev, EV_NODE, c != 0.0 ? x->a[1] : x->a[2]);
        } else if (it.kind == EV_APPLY) {
            double args[3] = {0.0, 0.0, 0.0};
            for (int i = x->nargs < 3 ? x->nargs : 3; i-- > 0;) {
                args[i] = ev.vals[--ev.n_vals];
            }
            ev_value(&ev, apply(x, args));
        } else if (x == NULL) {
            ev_value(&ev, NAN);
        } else if (x->kind == CB_EX_NUM) {
            ev_value(&ev, x->num);
        } else if (x->kind == CB_EX_SYM) {
            ev_value(&ev, val != NULL ? val(ctx, x) : NAN);
        } else if (x->kind == CB_EX_COND) {
            /* Only the chosen branch is evaluated, as in the generated
             * C. */
            ev_push(&ev, EV_PICK, x);
            ev_push(&ev, EV_NODE, x->a[0]);
        } else {
            /* The arguments left to right, then the node. */
            ev_push(&ev, EV_APPLY, x);
            for (int i = x->nargs < 3 ? x->nargs : 3; i-- > 0;) {
                ev_push(&ev, EV_NODE, x->a[i]);
            }
        }
    }
    double result = !ev.nomem && ev.n_vals == 1 ? ev.vals[0] : NAN;
    free(ev.work);
    free(ev.vals);
    return result;
}

/* ---- folding ----------------------------------------------------------- */

/* The value of an all-numeric node, when folding it is exact: a result
 * that is inf or NaN stays an expression (1/0 keeps its meaning in the
 * kernel, and the printer then never needs a non-finite literal). */
static bool numeric_value(const cb_expr *e, double *out)
{
    if (!all_args_numeric(e)) {
        return false;
    }
    double v[3] = {0.0, 0.0, 0.0};
    for (int i = 0; i < e->nargs && i < 3; i++) {
        v[i] = e->a[i]->num;
    }
    double r = apply(e, v);
    if (!isfinite(r)) {
        return false;
    }
    *out = r;
    return true;
}

/* The identities of cb_expr_fold, given e's (already folded) arguments k.
 * Each one is exact for every value of the other operand, inf and NaN
 * included, with one accepted exception: x + 0 and x - (-0) give +0 for
 * x = -0 in IEEE arithmetic, and x after folding. Returns NULL when none
 * applies. */
static cb_expr *fold_identity(cb_arena *arena, const cb_expr *e,
                              cb_expr *const *k)
{
    switch (e->kind) {
    case CB_EX_NEG:
        if (k[0]->kind == CB_EX_NEG) {
            return k[0]->a[0];
        }
        break;
    case CB_EX_ADD:
        if (is_num(k[1], 0.0)) {
            return k[0];
        }
        if (is_num(k[0], 0.0)) {
            return k[1];
        }
        break;
    case CB_EX_SUB:
        if (is_num(k[1], 0.0)) {
            return k[0];
        }
        break;
    case CB_EX_MUL:
        if (is_num(k[1], 1.0)) {
            return k[0];
        }
        if (is_num(k[0], 1.0)) {
            return k[1];
        }
        break;
    case CB_EX_DIV:
        if (is_num(k[1], 1.0)) {
            return k[0];
        }
        break;
    case CB_EX_POW:
        if (is_num(k[1], 1.0)) {
            return k[0];
        }
        /* C11 F.10.4.4: pow(x, +-0) is 1 for every x, even NaN. */
        if (is_num(k[1], 0.0)) {
            return cb_expr_new_num(arena, 1.0, e->col);
        }
        break;
    case CB_EX_AND:
        /* A zero operand decides the result whatever the other is. */
        if (is_num(k[0], 0.0) || is_num(k[1], 0.0)) {
            return cb_expr_new_num(arena, 0.0, e->col);
        }
        break;
    case CB_EX_OR:
        if ((k[0]->kind == CB_EX_NUM && k[0]->num != 0.0)
            || (k[1]->kind == CB_EX_NUM && k[1]->num != 0.0)) {
            return cb_expr_new_num(arena, 1.0, e->col);
        }
        break;
    case CB_EX_COND:
        /* Only the chosen branch is ever evaluated. */
        if (k[0]->kind == CB_EX_NUM) {
            return k[0]->num != 0.0 ? k[1] : k[2];
        }
        break;
    default:
        break;
    }
    return NULL;
}

/* Fold one node whose arguments folded to k. */
static cb_expr *fold_node(cb_arena *arena, cb_expr *e, cb_expr *const *k)
{
    bool changed = false;
    for (int i = 0; i < e->nargs && i < 3; i++) {
        changed = changed || k[i] != e->a[i];
    }
    /* Work on a copy so the input tree is never modified. */
    cb_expr tmp = *e;
    for (int i = 0; i < 3; i++) {
        tmp.a[i] = i < e->nargs ? k[i] : NULL;
    }
    double v;
    if (numeric_value(&tmp, &v)) {
        cb_expr *n = cb_expr_new_num(arena, v, e->col);
        return n != NULL ? n : e;
    }
    cb_expr *id = fold_identity(arena, &tmp, tmp.a);
    if (id != NULL) {
        return id;
    }
    if (!changed) {
        return e;
    }
    cb_expr *c = cb_arena_alloc(arena, sizeof(*c));
    if (c == NULL) {
        return e; /* still a valid tree; arena->failed tells the caller */
    }
    *c = tmp;
    return c;
}

/* A frame of a post-order walk: the node and how many of its arguments
 * are done. */
typedef struct {
    cb_expr *e;
    int done;
} fold_frame;

/* Post-order over an explicit stack, for the same reason as eval. */
cb_expr *cb_expr_fold(cb_arena *arena, cb_expr *e)
{
    if (e == NULL || e->kind == CB_EX_NUM || e->kind == CB_EX_SYM) {
        return e;
    }
    fold_frame *st = NULL;
    cb_expr **res = NULL;
    size_t n_st = 0, cap_st = 0, n_res = 0, cap_res = 0;
    cb_expr *out = e;
    st = cb_expr_grow(st, 0, &cap_st, sizeof(*st));
    if (st == NULL) {
        arena->failed = true;
        return e;
    }
    st[n_st++] = (fold_frame){e, 0};
    while (n_st > 0) {
        fold_frame *f = &st[n_st - 1];
        int n = f->e->nargs < 3 ? f->e->nargs : 3;
        cb_expr *r = NULL;
        if (f->done < n) {
            cb_expr *c = f->e->a[f->done++];
            if (c != NULL && c->kind != CB_EX_NUM && c->kind != CB_EX_SYM) {
                fold_frame *g = cb_expr_grow(st, n_st, &cap_st,
                                             sizeof(*st));
                if (g == NULL) {
                    break;
                }
                st = g;
                st[n_st++] = (fold_frame){c, 0};
                continue;
            }
            r = c;
        } else {
            cb_expr *k[3] = {NULL, NULL, NULL};
            for (int i = n; i-- > 0;) {
                k[i] = res[--n_res];
            }
            r = fold_node(arena, f->e, k);
            n_st--;
            if (n_st == 0) {
                out = r;
                break;
            }
        }
        cb_expr **g = cb_expr_grow(res, n_res, &cap_res, sizeof(*res));
        if (g == NULL) {
            break;
        }
        res = g;
        res[n_res++] = r;
    }
    if (n_st > 0) {
        arena->failed = true; /* out of memory: the input, unfolded */
        out = e;
    }
    free(st);
    free(res);
    return out;
}

/* Preorder over an explicit stack: calls visit on every symbol node of
 * e, left to right, until it returns false. False only when out of
 * memory. */
static bool each_sym(const cb_expr *e,
                     bool (*visit)(void *ctx, const cb_expr *sym), void *ctx)
{
    if (e == NULL) {
        return true;
    }
    const cb_expr **st = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    const cb_expr *x = e;
    for (;;) {
        if (x->kind == CB_EX_SYM) {
            if (!visit(ctx, x)) {
                break;
            }
        } else {
            /* The first argument next, the others after it. */
            int na = x->nargs < 3 ? x->nargs : 3;
            for (int i = na; i-- > 1;) {
                if (x->a[i] == NULL) {
                    continue;
                }
                const cb_expr **g = cb_expr_grow(st, n, &cap, sizeof(*st));
                if (g == NULL) {
                    ok = false;
                    break;
                }
                st = g;
                st[n++] = x->a[i];
            }
            if (!ok) {
                break;
            }
            if (na > 0 && x->a[0] != NULL) {
                x = x->a[0];
                continue;
            }
        }
        if (n == 0) {
            break;
        }
        x = st[--n];
    }
    free(st);
    return ok;
}

bool cb_expr_each_sym(const cb_expr *e,
                      bool (*visit)(void *ctx, const cb_expr *sym),
                      void *ctx)
{
    return visit == NULL || each_sym(e, visit, ctx);
}

typedef struct {
    cb_sym_role role;
    int index;
    bool found;
} uses_query;

static bool uses_visit(void *ctx, const cb_expr *sym)
{
    uses_query *q = ctx;
    q->found = sym->role == q->role && (q->index < 0 || sym->index == q->index);
    return !q->found;
}

bool cb_expr_uses(const cb_expr *e, cb_sym_role role, int index)
{
    uses_query q = {role, index, false};
    /* Out of memory: the cautious answer. */
    return !each_sym(e, uses_visit, &q) || q.found;
}

/* ---- lexer ------------------------------------------------------------- */

typedef enum {
    T_END,
    T_NUM,
    T_NAME,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_POW,
    T_LT, T_LE, T_GT, T_GE, T_EQ, T_NE,
    T_AND, T_OR, T_NOT,
    T_QUEST, T_COLON, T_LPAREN, T_RPAREN, T_COMMA,
    /* Lexical errors: reported when the parser reaches them, so the
     * leftmost problem in the text is the one the user sees. */
    T_BAD_CHAR, T_BAD_NUM, T_BIG_NUM
} tok_kind;

/* Deep enough for any hand-written equation, shallow enough that the
 * recursion cannot overflow the stack on hostile input. */
enum { MAX_DEPTH = 200 };

typedef struct {
    cb_arena *arena;
    const char *src;
    size_t len;
    cb_resolver res;
    void *ctx;
    const char *path;
    cubie_error *err;
    cubie_status st;
    int depth;
    /* the current token */
    tok_kind kind;
    size_t pos, n; /* byte offset and length */
    double num;    /* T_NUM */
} parser;

static bool is_ident_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident(char c)
{
    return is_ident_start(c) || is_digit(c);
}

static int tok_col(const parser *p)
{
    return (int)p->pos + 1;
}

static bool tok_is_word(const parser *p, const char *w)
{
    return p->n == strlen(w) && memcmp(p->src + p->pos, w, p->n) == 0;
}

/* Numbers: digits ['.' digits] [exponent] or '.' digits [exponent]. Any
 * letter, digit, '_' or '.' glued to the end makes the whole run a bad
 * number, so "2x" and "1.2.3" are reported as written. */
static void lex_number(parser *p, size_t i)
{
    const char *s = p->src;
    size_t digits = 0;
    while (i < p->len && is_digit(s[i])) {
        i++;
        digits++;
    }
    if (i < p->len && s[i] == '.') {
        i++;
        while (i < p->len && is_digit(s[i])) {
            i++;
            digits++;
        }
    }
    bool ok = digits > 0;
    if (ok && i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < p->len && (s[j] == '+' || s[j] == '-')) {
            j++;
        }
        if (j < p->len && is_digit(s[j])) {
            while (j < p->len && is_digit(s[j])) {
                j++;
            }
        } else {
            ok = false;
        }
        i = j;
    }
    if (i < p->len && (is_ident(s[i]) || s[i] == '.')) {
        ok = false;
        while (i < p->len && (is_ident(s[i]) || s[i] == '.')) {
            i++;
        }
    }
    p->n = i - p->pos;
    if (!ok) {
        p->kind = T_BAD_NUM;
        return;
    }
    /* strtod needs a terminated copy; the number may be long (pi to 80
     * digits), so the copy lives in the arena. */
    char *buf = cb_arena_strndup(p->arena, s + p->pos, p->n);
    if (buf == NULL) {
        p->st = cb_fail_nomem(p->err); /* every later step sees st */
        p->kind = T_END;
        return;
    }
    p->num = strtod(buf, NULL);
    p->kind = isfinite(p->num) ? T_NUM : T_BIG_NUM;
}

/* Make the token after the current one current. */
static void lex(parser *p)
{
    const char *s = p->src;
    size_t i = p->pos + p->n;
    while (i < p->len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n'
                          || s[i] == '\r')) {
        i++;
    }
    p->pos = i;
    p->n = 1;
    if (i >= p->len) {
        p->kind = T_END;
        p->n = 0;
        return;
    }
    char c = s[i];
    char d = i + 1 < p->len ? s[i + 1] : '\0';
    if (is_digit(c) || (c == '.' && is_digit(d))) {
        lex_number(p, i);
        return;
    }
    if (is_ident_start(c)) {
        size_t j = i;
        while (j < p->len && is_ident(s[j])) {
            j++;
        }
        p->n = j - i;
        p->kind = T_NAME;
        if (tok_is_word(p, "and")) {
            p->kind = T_AND;
        } else if (tok_is_word(p, "or")) {
            p->kind = T_OR;
        }
        return;
    }
    /* Two-character operators first. */
    static const struct {
        char s[3];
        tok_kind kind;
    } ops[] = {
        {"**", T_POW}, {"<=", T_LE}, {">=", T_GE}, {"==", T_EQ},
        {"!=", T_NE},  {"&&", T_AND}, {"||", T_OR}, {"+", T_PLUS},
        {"-", T_MINUS}, {"*", T_STAR}, {"/", T_SLASH}, {"^", T_POW},
        {"<", T_LT},   {">", T_GT},  {"!", T_NOT},  {"?", T_QUEST},
        {":", T_COLON}, {"(", T_LPAREN}, {")", T_RPAREN}, {",", T_COMMA},
    };
    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
        size_t n = strlen(ops[k].s);
        if (i + n <= p->len && memcmp(s + i, ops[k].s, n) == 0) {
            p->kind = ops[k].kind;
            p->n = n;
            return;
        }
    }
    p->kind = T_BAD_CHAR;
}

/* ---- errors ------------------------------------------------------------ */

/* Width of the quoted excerpt of a long expression. */
enum { QUOTE_WIDTH = 100 };

static void fail_at(parser *p, int col, const char *fmt, ...) CB_PRINTF(3, 4);

/* Record "<what> at <path>, column N:", the expression and a caret line. */
static void fail_at(parser *p, int col, const char *fmt, ...)
{
    if (p->st != CUBIE_OK) {
        return;
    }
    p->st = CUBIE_E_EXPR;
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);

    /* A window of the text around the column, so the caret stays inside
     * the message buffer for long expressions. */
    size_t at = (size_t)col - 1;
    size_t start = 0;
    size_t end = p->len;
    if (p->len > QUOTE_WIDTH) {
        start = at > QUOTE_WIDTH / 2 ? at - QUOTE_WIDTH / 2 : 0;
        end = start + QUOTE_WIDTH < p->len ? start + QUOTE_WIDTH : p->len;
    }
    char line[QUOTE_WIDTH + 8];
    char caret[QUOTE_WIDTH + 8];
    size_t nl = 0;
    size_t nc = 0;
    if (start > 0) {
        memcpy(line, "...", 3);
        memcpy(caret, "   ", 3);
        nl = nc = 3;
    }
    for (size_t i = start; i < end; i++) {
        unsigned char c = (unsigned char)p->src[i];
        /* Control characters would break the two-line picture. */
        line[nl++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
        /* UTF-8 continuation bytes take no room on screen. */
        if (i < at && (c & 0xC0) != 0x80) {
            caret[nc++] = ' ';
        }
    }
    if (end < p->len) {
        memcpy(line + nl, "...", 3);
        nl += 3;
    }
    line[nl] = '\0';
    caret[nc] = '\0';
    const char *path = p->path != NULL ? p->path : "";
    cb_fail(p->err, CUBIE_E_EXPR, path, col,
            "%s at %s%scolumn %d:\n  %s\n  %s^", what, path,
            path[0] != '\0' ? ", " : "", col, line, caret);
}

static int tok_len(const parser *p)
{
    return p->n > 40 ? 40 : (int)p->n;
}

static const char *tok_text(const parser *p)
{
    return p->src + p->pos;
}

/* Report the current token as unexpected; `expected` says what would have
 * fit. A lexical error token is reported as itself. */
static void unexpected(parser *p, const char *expected)
{
    int col = tok_col(p);
    switch (p->kind) {
    case T_BAD_NUM:
        fail_at(p, col, "malformed number '%.*s'", tok_len(p), tok_text(p));
        return;
    case T_BIG_NUM:
        fail_at(p, col, "number '%.*s' is out of range", tok_len(p),
                tok_text(p));
        return;
    case T_BAD_CHAR: {
        unsigned char c = (unsigned char)p->src[p->pos];
        const char *hint = "";
        if (c == '=') {
            hint = " (compare with '==')";
        } else if (c == '&') {
            hint = " (did you mean '&&'?)";
        } else if (c == '|') {
            hint = " (did you mean '||'?)";
        }
        if (c > 0x20 && c < 0x7f) {
            fail_at(p, col, "unexpected character '%c'%s", c, hint);
        } else {
            fail_at(p, col, "unexpected character 0x%02x", c);
        }
        return;
    }
    case T_END:
        if (p->pos == 0 || strspn(p->src, " \t\r\n") == p->len) {
            fail_at(p, 1, "empty expression");
        } else {
            fail_at(p, col, "unexpected end of expression (expected %s)",
                    expected);
        }
        return;
    default:
        fail_at(p, col, "unexpected '%.*s' (expected %s)", tok_len(p),
                tok_text(p), expected);
        return;
    }
}

/* ---- parser ------------------------------------------------------------ */

static cb_expr *parse_expr(parser *p);
static cb_expr *parse_unary(parser *p);

/* A new node; an all-numeric one is folded to its value right away
 * (cb_expr_parse promises folded constants). */
static cb_expr *node(parser *p, cb_expr_kind kind, int col, cb_expr *a0,
                     cb_expr *a1, cb_expr *a2)
{
    if (p->st != CUBIE_OK) {
        return NULL;
    }
    cb_expr *e = cb_expr_new(p->arena, kind, col, a0, a1, a2);
    if (e == NULL) {
        p->st = cb_fail_nomem(p->err);
        return NULL;
    }
    double v;
    if (numeric_value(e, &v)) {
        cb_expr *n = cb_expr_new_num(p->arena, v, col);
        if (n == NULL) {
            p->st = cb_fail_nomem(p->err);
        }
        return n;
    }
    return e;
}

static bool enter(parser *p)
{
    if (++p->depth > MAX_DEPTH) {
        fail_at(p, tok_col(p), "expression nested too deeply (over %d levels)",
                MAX_DEPTH);
        return false;
    }
    return true;
}

/* name '(' args ')' after the name; fn is known. */
static cb_expr *parse_call(parser *p, cb_func fn, int col)
{
    const char *name = fn_table[fn].name;
    int arity = fn_table[fn].arity;
    cb_expr *args[3] = {NULL, NULL, NULL};
    int n = 0;
    int open_col = tok_col(p);
    lex(p); /* '(' */
    if (p->kind != T_RPAREN) {
        for (;;) {
            cb_expr *a = parse_expr(p);
            if (a == NULL) {
                return NULL;
            }
            if (n < 3) {
                args[n] = a;
            }
            n++;
            if (p->kind != T_COMMA) {
                break;
            }
            lex(p);
        }
    }
    if (p->kind != T_RPAREN) {
        if (p->kind == T_BAD_CHAR || p->kind == T_BAD_NUM
            || p->kind == T_BIG_NUM) {
            unexpected(p, "',' or ')'");
        } else {
            fail_at(p, tok_col(p),
                    "missing ')' to close the '(' of %s() at column %d",
                    name, open_col);
        }
        return NULL;
    }
    if (n != arity) {
        fail_at(p, col, "function '%s' takes %d argument%s, not %d", name,
                arity, arity == 1 ? "" : "s", n);
        return NULL;
    }
    lex(p); /* ')' */
    if (fn == CB_FN_WHERE) {
        return node(p, CB_EX_COND, col, args[0], args[1], args[2]);
    }
    cb_expr *e = cb_expr_new(p->arena, CB_EX_CALL, col, args[0], args[1],
                             args[2]);
    if (e == NULL) {
        p->st = cb_fail_nomem(p->err);
        return NULL;
    }
    e->fn = fn;
    double v;
    if (numeric_value(e, &v)) {
        e->kind = CB_EX_NUM;
        e->num = v;
        e->nargs = 0;
        memset(e->a, 0, sizeof(e->a));
    }
    return e;
}

static cb_expr *parse_name(parser *p)
{
    int col = tok_col(p);
    const char *s = tok_text(p);
    size_t n = p->n;
    int nlen = n > 64 ? 64 : (int)n;
    lex(p);
    bool called = p->kind == T_LPAREN;
    cb_func fn;
    bool is_fn = fn_lookup(s, n, &fn);
    if (called && is_fn) {
        return parse_call(p, fn, col);
    }
    char *name = cb_arena_strndup(p->arena, s, n);
    if (name == NULL) {
        p->st = cb_fail_nomem(p->err);
        return NULL;
    }
    cb_sym_role role = CB_SYM_OTHER;
    int index = 0;
    double value = 0.0;
    bool known = p->res != NULL && p->res(p->ctx, name, &role, &index, &value);
    if (called) {
        if (known) {
            fail_at(p, col, "'%.*s' is not a function", nlen, s);
        } else {
            fail_at(p, col, "unknown function '%.*s'", nlen, s);
        }
        return NULL;
    }
    if (!known) {
        if (is_fn) {
            fail_at(p, col, "function '%.*s' needs arguments: %.*s(...)", nlen,
                    s, nlen, s);
        } else {
            fail_at(p, col, "unknown name '%.*s'", nlen, s);
        }
        return NULL;
    }
    if (role == CB_SYM_CONST) {
        cb_expr *e = cb_expr_new_num(p->arena, value, col);
        if (e == NULL) {
            p->st = cb_fail_nomem(p->err);
        }
        return e;
    }
    cb_expr *e = node(p, CB_EX_SYM, col, NULL, NULL, NULL);
    if (e != NULL) {
        e->role = role;
        e->index = index;
        e->name = name;
    }
    return e;
}

static cb_expr *parse_atom(parser *p)
{
    switch (p->kind) {
    case T_NUM: {
        cb_expr *e = node(p, CB_EX_NUM, tok_col(p), NULL, NULL, NULL);
        if (e != NULL) {
            e->num = p->num;
        }
        lex(p);
        return e;
    }
    case T_NAME:
        return parse_name(p);
    case T_LPAREN: {
        int open_col = tok_col(p);
        lex(p);
        cb_expr *e = parse_expr(p);
        if (e == NULL) {
            return NULL;
        }
        if (p->kind != T_RPAREN) {
            if (p->kind == T_BAD_CHAR || p->kind == T_BAD_NUM
                || p->kind == T_BIG_NUM) {
                unexpected(p, "')'");
            } else {
                fail_at(p, tok_col(p),
                        "missing ')' to close the '(' at column %d",
                        open_col);
            }
            return NULL;
        }
        lex(p);
        return e;
    }
    default:
        unexpected(p, "a number, a name or '('");
        return NULL;
    }
}

/* power := atom ( ('^'|'**') unary )? -- right-assoc through unary. */
static cb_expr *parse_power(parser *p)
{
    int col = tok_col(p);
    cb_expr *base = parse_atom(p);
    if (base == NULL || p->kind != T_POW) {
        return base;
    }
    lex(p);
    cb_expr *ex = parse_unary(p);
    if (ex == NULL) {
        return NULL;
    }
    return node(p, CB_EX_POW, col, base, ex, NULL);
}

static cb_expr *parse_unary(parser *p)
{
    if (!enter(p)) {
        return NULL;
    }
    cb_expr *e;
    int col = tok_col(p);
    tok_kind k = p->kind;
    if (k == T_MINUS || k == T_PLUS || k == T_NOT) {
        lex(p);
        e = parse_unary(p);
        if (e != NULL && k != T_PLUS) {
            e = node(p, k == T_MINUS ? CB_EX_NEG : CB_EX_NOT, col, e, NULL,
                     NULL);
        }
    } else {
        e = parse_power(p);
    }
    p->depth--;
    return e;
}

static cb_expr *parse_prod(parser *p)
{
    int col = tok_col(p);
    cb_expr *e = parse_unary(p);
    while (e != NULL && (p->kind == T_STAR || p->kind == T_SLASH)) {
        cb_expr_kind k = p->kind == T_STAR ? CB_EX_MUL : CB_EX_DIV;
        lex(p);
        cb_expr *r = parse_unary(p);
        e = r != NULL ? node(p, k, col, e, r, NULL) : NULL;
    }
    return e;
}

static cb_expr *parse_sum(parser *p)
{
    int col = tok_col(p);
    cb_expr *e = parse_prod(p);
    while (e != NULL && (p->kind == T_PLUS || p->kind == T_MINUS)) {
        cb_expr_kind k = p->kind == T_PLUS ? CB_EX_ADD : CB_EX_SUB;
        lex(p);
        cb_expr *r = parse_prod(p);
        e = r != NULL ? node(p, k, col, e, r, NULL) : NULL;
    }
    return e;
}

static bool cmp_kind(tok_kind t, cb_expr_kind *out)
{
    switch (t) {
    case T_LT: *out = CB_EX_LT; return true;
    case T_LE: *out = CB_EX_LE; return true;
    case T_GT: *out = CB_EX_GT; return true;
    case T_GE: *out = CB_EX_GE; return true;
    case T_EQ: *out = CB_EX_EQ; return true;
    case T_NE: *out = CB_EX_NE; return true;
    default: return false;
    }
}

static cb_expr *parse_cmp(parser *p)
{
    int col = tok_col(p);
    cb_expr *e = parse_sum(p);
    cb_expr_kind k;
    if (e == NULL || !cmp_kind(p->kind, &k)) {
        return e;
    }
    lex(p);
    cb_expr *r = parse_sum(p);
    if (r == NULL) {
        return NULL;
    }
    cb_expr_kind again;
    if (cmp_kind(p->kind, &again)) {
        /* a < b < c means something else in C than in mathematics. */
        fail_at(p, tok_col(p),
                "comparisons cannot be chained; combine them with '&&'");
        return NULL;
    }
    return node(p, k, col, e, r, NULL);
}

static cb_expr *parse_and(parser *p)
{
    int col = tok_col(p);
    cb_expr *e = parse_cmp(p);
    while (e != NULL && p->kind == T_AND) {
        lex(p);
        cb_expr *r = parse_cmp(p);
        e = r != NULL ? node(p, CB_EX_AND, col, e, r, NULL) : NULL;
    }
    return e;
}

static cb_expr *parse_or(parser *p)
{
    int col = tok_col(p);
    cb_expr *e = parse_and(p);
    while (e != NULL && p->kind == T_OR) {
        lex(p);
        cb_expr *r = parse_and(p);
        e = r != NULL ? node(p, CB_EX_OR, col, e, r, NULL) : NULL;
    }
    return e;
}

/* expr := or ( '?' expr ':' expr )? */
static cb_expr *parse_expr(parser *p)
{
    if (!enter(p)) {
        return NULL;
    }
    int col = tok_col(p);
    cb_expr *e = parse_or(p);
    if (e != NULL && p->kind == T_QUEST) {
        int q_col = tok_col(p);
        lex(p);
        cb_expr *a = parse_expr(p);
        cb_expr *b = NULL;
        if (a != NULL && p->kind != T_COLON) {
            if (p->kind == T_BAD_CHAR || p->kind == T_BAD_NUM
                || p->kind == T_BIG_NUM || p->kind == T_END) {
                unexpected(p, "':'");
            } else {
                fail_at(p, tok_col(p),
                        "missing ':' of the '?' at column %d", q_col);
            }
        } else if (a != NULL) {
            lex(p);
            b = parse_expr(p);
        }
        e = b != NULL ? node(p, CB_EX_COND, col, e, a, b) : NULL;
    }
    p->depth--;
    return e;
}

cubie_status cb_expr_parse(cb_arena *arena, const char *src, cb_resolver res,
                           void *ctx, const char *path, cb_expr **out,
                           cubie_error *err)
{
    if (arena == NULL || src == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, path, 0,
                       "cb_expr_parse: NULL argument");
    }
    *out = NULL;
    parser p = {
        .arena = arena,
        .src = src,
        .len = strlen(src),
        .res = res,
        .ctx = ctx,
        .path = path,
        .err = err,
        .st = CUBIE_OK,
    };
    lex(&p);
    cb_expr *e = parse_expr(&p);
    if (e != NULL && p.kind != T_END) {
        if (p.kind == T_RPAREN) {
            fail_at(&p, tok_col(&p), "unmatched ')'");
        } else if (p.kind == T_BAD_CHAR || p.kind == T_BAD_NUM
                   || p.kind == T_BIG_NUM) {
            unexpected(&p, "an operator");
        } else {
            fail_at(&p, tok_col(&p),
                    "trailing input '%.*s' after a complete expression",
                    tok_len(&p), tok_text(&p));
        }
        e = NULL;
    }
    if (e == NULL) {
        /* Every path that yields NULL has recorded why. */
        return p.st != CUBIE_OK ? p.st : cb_fail_nomem(err);
    }
    *out = e;
    return CUBIE_OK;
}

/* ---- printing -----------------------------------------------------------
 * Over an explicit work list, not by recursion: the depth of a tree from
 * user input (a left-deep sum of 50000 terms) must not become stack
 * depth. Each handler writes the text that comes first at once and pushes
 * the rest, last part first. */

/* C precedence of the printed forms we produce, loosest first. Everything
 * that prints as a call, a literal, a symbol or a parenthesised
 * conditional is an atom. */
enum { LV_SUM = 1, LV_PROD = 2, LV_UNARY = 3, LV_ATOM = 4 };

/* A base of a power printed as a product whose text (parenthesised) is
 * longer than this is declared once as a local when the caller takes
 * locals, so that nested powers print in linear, not exponential, size
 * (((x+1)^8+1)^8 would repeat x 64 times). Shorter bases are repeated as
 * written: x * x reads better than a local. */
enum { POW_INLINE_MAX = 40 };

typedef enum {
    PI_NODE,    /* the node as an expression */
    PI_AT,      /* the node, parenthesised where it binds looser than level */
    PI_TEST,    /* the node as a parenthesised C condition */
    PI_TEXT,    /* a static text */
    PI_FACTORS  /* the base of power e has been captured: its factors */
} pi_kind;

typedef struct {
    pi_kind kind;
    int level;         /* PI_AT */
    const cb_expr *e;
    const char *text;  /* PI_TEXT */
} pi_item;

typedef struct {
    bool dbl;
    cb_sym_printer sym;
    void *ctx;
    cb_locals *loc;    /* may be NULL: bases are repeated */
    cb_sb *out;        /* the caller's */
    cb_sb *caps;       /* the bases being captured, innermost last */
    size_t n_caps, cap_caps;
    pi_item *work;
    size_t n_work, cap_work;
    bool failed;
} printer;

/* Exponents that print without pow(). */
typedef enum { POW_CALL, POW_SAME, POW_PRODUCT, POW_SQRT, POW_RECIP } pow_form;

static pow_form pow_form_of(const cb_expr *e, int *n)
{
    const cb_expr *x = e->a[1];
    *n = 0;
    if (x->kind != CB_EX_NUM) {
        return POW_CALL;
    }
    double v = x->num;
    if (v == 0.5) {
        return POW_SQRT;
    }
    if (v == 1.0) {
        return POW_SAME;
    }
    if (v == floor(v) && v >= 2.0 && v <= 8.0) {
        *n = (int)v;
        return POW_PRODUCT;
    }
    if (v == floor(v) && v <= -1.0 && v >= -8.0) {
        *n = (int)-v;
        return POW_RECIP;
    }
    return POW_CALL;
}

static bool is_test(const cb_expr *e)
{
    switch (e->kind) {
    case CB_EX_LT: case CB_EX_LE: case CB_EX_GT: case CB_EX_GE:
    case CB_EX_EQ: case CB_EX_NE: case CB_EX_AND: case CB_EX_OR:
    case CB_EX_NOT:
        return true;
    default:
        return false;
    }
}

static int level_of(const cb_expr *e)
{
    int n;
    /* x^1 prints as x. */
    while (e->kind == CB_EX_POW && pow_form_of(e, &n) == POW_SAME) {
        e = e->a[0];
    }
    switch (e->kind) {
    case CB_EX_NEG: return LV_UNARY;
    case CB_EX_ADD: case CB_EX_SUB: return LV_SUM;
    case CB_EX_MUL: case CB_EX_DIV: return LV_PROD;
    case CB_EX_POW:
        switch (pow_form_of(e, &n)) {
        case POW_PRODUCT: case POW_RECIP: return LV_PROD;
        default: return LV_ATOM;
        }
    default: return LV_ATOM;
    }
}

static cb_sb *cur(const printer *pr)
{
    return pr->n_caps > 0 ? &pr->caps[pr->n_caps - 1] : pr->out;
}

static void put(const printer *pr, const char *s)
{
    cb_sb_puts(cur(pr), s);
}

static void push(printer *pr, pi_kind kind, const cb_expr *e, int level,
                 const char *text)
{
    pi_item *w = cb_expr_grow(pr->work, pr->n_work, &pr->cap_work,
                              sizeof(*w));
    if (w == NULL) {
        pr->failed = true;
        return;
    }
    pr->work = w;
    w[pr->n_work++] = (pi_item){kind, level, e, text};
}

static void push_text(printer *pr, const char *text)
{
    push(pr, PI_TEXT, NULL, 0, text);
}

static void push_node(printer *pr, const cb_expr *e)
{
    push(pr, PI_NODE, e, 0, NULL);
}

/* e so that it binds at least as tightly as `level`. */
static void push_at(printer *pr, const cb_expr *e, int level)
{
    push(pr, PI_AT, e, level, NULL);
}

static void push_test(printer *pr, const cb_expr *e)
{
    push(pr, PI_TEST, e, 0, NULL);
}

static const char *zero_text(const printer *pr)
{
    return pr->dbl ? "0.0" : "0.0f";
}

/* Text from here on goes to a capture of its own, until PI_FACTORS. */
static void begin_capture(printer *pr)
{
    cb_sb *c = cb_expr_grow(pr->caps, pr->n_caps, &pr->cap_caps,
                            sizeof(*c));
    if (c == NULL) {
        pr->failed = true;
        return;
    }
    pr->caps = c;
    cb_sb_init(&c[pr->n_caps++]);
}

/* A parenthesised C condition for e: a comparison or logic node as
 * itself, any other value as a test against zero. */
static void do_test(printer *pr, const cb_expr *e)
{
    static const char *const rel[] = {
        [CB_EX_LT] = " < ", [CB_EX_LE] = " <= ", [CB_EX_GT] = " > ",
        [CB_EX_GE] = " >= ", [CB_EX_EQ] = " == ", [CB_EX_NE] = " != ",
        [CB_EX_AND] = " && ", [CB_EX_OR] = " || ",
    };
    switch (e->kind) {
    case CB_EX_LT: case CB_EX_LE: case CB_EX_GT: case CB_EX_GE:
    case CB_EX_EQ: case CB_EX_NE:
        put(pr, "(");
        push_text(pr, ")");
        push_at(pr, e->a[1], LV_SUM);
        push_text(pr, rel[e->kind]);
        push_at(pr, e->a[0], LV_SUM);
        return;
    case CB_EX_AND: case CB_EX_OR:
        put(pr, "(");
        push_text(pr, ")");
        push_test(pr, e->a[1]);
        push_text(pr, rel[e->kind]);
        push_test(pr, e->a[0]);
        return;
    case CB_EX_NOT:
        if (is_test(e->a[0])) {
            put(pr, "(!");
            push_text(pr, ")");
            push_test(pr, e->a[0]);
        } else {
            put(pr, "(");
            push_text(pr, ")");
            push_text(pr, zero_text(pr));
            push_text(pr, " == ");
            push_at(pr, e->a[0], LV_ATOM);
        }
        return;
    default:
        put(pr, "(");
        push_text(pr, ")");
        push_text(pr, zero_text(pr));
        push_text(pr, " != ");
        push_at(pr, e, LV_ATOM);
        return;
    }
}

static void do_cond(printer *pr, const cb_expr *c, const cb_expr *a,
                    const cb_expr *b)
{
    put(pr, "(");
    push_text(pr, ")");
    push_at(pr, b, LV_SUM);
    push_text(pr, " : ");
    push_at(pr, a, LV_SUM);
    push_text(pr, " ? ");
    if (is_test(c)) {
        push_test(pr, c);
    } else {
        /* Not a test: "(c != 0.0f ? a : b)" reads better than
         * "((c != 0.0f) ? a : b)". */
        push_text(pr, zero_text(pr));
        push_text(pr, " != ");
        push_at(pr, c, LV_ATOM);
    }
}

/* The base of power e is in the innermost capture: write its n factors.
 * The base is free of side effects, so repeating its text or reading it
 * from a local computes the same operations in the same order. */
static void do_factors(printer *pr, const cb_expr *e)
{
    int n;
    pow_form_of(e, &n);
    cb_sb base = pr->caps[--pr->n_caps];
    if (base.failed) {
        pr->failed = true;
    }
    bool paren = level_of(e->a[0]) < LV_ATOM;
    cb_sb *out = cur(pr);
    cb_locals *loc = pr->loc;
    if (loc == NULL || loc->pre == NULL
        || base.len + (paren ? 2 : 0) <= POW_INLINE_MAX) {
        for (int i = 0; i < n; i++) {
            cb_sb_puts(out, i > 0 ? " * " : "");
            cb_sb_puts(out, paren ? "(" : "");
            cb_sb_putn(out, cb_sb_str(&base), base.len);
            cb_sb_puts(out, paren ? ")" : "");
        }
    } else {
        char name[32];
        snprintf(name, sizeof(name), "pw%d", loc->next++);
        cb_sb_printf(loc->pre, "const real %s = ", name);
        cb_sb_putn(loc->pre, cb_sb_str(&base), base.len);
        cb_sb_puts(loc->pre, ";\n");
        for (int i = 0; i < n; i++) {
            cb_sb_puts(out, i > 0 ? " * " : "");
            cb_sb_puts(out, name);
        }
    }
    cb_sb_free(&base);
}

static void do_pow(printer *pr, const cb_expr *e)
{
    int n;
    switch (pow_form_of(e, &n)) {
    case POW_SAME:
        push_node(pr, e->a[0]);
        return;
    case POW_PRODUCT:
        begin_capture(pr);
        push(pr, PI_FACTORS, e, 0, NULL);
        push_node(pr, e->a[0]);
        return;
    case POW_SQRT:
        put(pr, pr->dbl ? fn_table[CB_FN_SQRT].dname
                        : fn_table[CB_FN_SQRT].fname);
        put(pr, "(");
        push_text(pr, ")");
        push_node(pr, e->a[0]);
        return;
    case POW_RECIP:
        put(pr, pr->dbl ? "1.0 / " : "1.0f / ");
        if (n == 1) {
            push_at(pr, e->a[0], LV_ATOM);
            return;
        }
        put(pr, "(");
        push_text(pr, ")");
        begin_capture(pr);
        push(pr, PI_FACTORS, e, 0, NULL);
        push_node(pr, e->a[0]);
        return;
    case POW_CALL:
        put(pr, pr->dbl ? fn_table[CB_FN_POW].dname
                        : fn_table[CB_FN_POW].fname);
        put(pr, "(");
        push_text(pr, ")");
        push_node(pr, e->a[1]);
        push_text(pr, ", ");
        push_node(pr, e->a[0]);
        return;
    }
}

/* Left-assoc: the right operand of an equal-level operator keeps its
 * parentheses, because floating-point a + (b + c) is not (a + b) + c. */
static void do_binary(printer *pr, const cb_expr *e, const char *op,
                      int level)
{
    push_at(pr, e->a[1], level + 1);
    push_text(pr, op);
    push_at(pr, e->a[0], level);
}

static void do_node(printer *pr, const cb_expr *e)
{
    cb_sb *out = cur(pr);
    switch (e->kind) {
    case CB_EX_NUM:
        cb_print_real(e->num, pr->dbl, out);
        return;
    case CB_EX_SYM:
        if (pr->sym != NULL) {
            pr->sym(pr->ctx, e, out);
        } else {
            cb_sb_puts(out, e->name != NULL ? e->name : "?");
        }
        return;
    case CB_EX_NEG:
        /* An atom operand: "-(-x)", never "--x". */
        cb_sb_puts(out, "-");
        push_at(pr, e->a[0], LV_ATOM);
        return;
    case CB_EX_ADD: do_binary(pr, e, " + ", LV_SUM); return;
    case CB_EX_SUB: do_binary(pr, e, " - ", LV_SUM); return;
    case CB_EX_MUL: do_binary(pr, e, " * ", LV_PROD); return;
    case CB_EX_DIV: do_binary(pr, e, " / ", LV_PROD); return;
    case CB_EX_POW: do_pow(pr, e); return;
    case CB_EX_NOT: case CB_EX_LT: case CB_EX_LE: case CB_EX_GT:
    case CB_EX_GE: case CB_EX_EQ: case CB_EX_NE: case CB_EX_AND:
    case CB_EX_OR:
        cb_sb_puts(out, "(");
        push_text(pr, pr->dbl ? " ? 1.0 : 0.0)" : " ? 1.0f : 0.0f)");
        push_test(pr, e);
        return;
    case CB_EX_COND:
        do_cond(pr, e->a[0], e->a[1], e->a[2]);
        return;
    case CB_EX_CALL: {
        if (e->fn == CB_FN_WHERE) { /* built by hand, not by the parser */
            do_cond(pr, e->a[0], e->a[1], e->a[2]);
            return;
        }
        const fn_info *f = &fn_table[e->fn];
        cb_sb_puts(out, pr->dbl ? f->dname : f->fname);
        cb_sb_puts(out, "(");
        push_text(pr, ")");
        for (int i = e->nargs; i-- > 0;) {
            push_node(pr, e->a[i]);
            if (i > 0) {
                push_text(pr, ", ");
            }
        }
        return;
    }
    }
}

void cb_expr_print_locals(const cb_expr *e, bool is_double,
                          cb_sym_printer p, void *ctx, cb_locals *loc,
                          cb_sb *out)
{
    if (e == NULL || out == NULL) {
        return;
    }
    printer pr = {.dbl = is_double, .sym = p, .ctx = ctx, .loc = loc,
                  .out = out};
    push_node(&pr, e);
    while (!pr.failed && pr.n_work > 0) {
        pi_item it = pr.work[--pr.n_work];
        switch (it.kind) {
        case PI_TEXT:
            put(&pr, it.text);
            break;
        case PI_NODE:
            do_node(&pr, it.e);
            break;
        case PI_AT:
            if (level_of(it.e) < it.level) {
                put(&pr, "(");
                push_text(&pr, ")");
            }
            do_node(&pr, it.e);
            break;
        case PI_TEST:
            do_test(&pr, it.e);
            break;
        case PI_FACTORS:
            do_factors(&pr, it.e);
            break;
        }
    }
    while (pr.n_caps > 0) { /* left by a failure */
        cb_sb_free(&pr.caps[--pr.n_caps]);
    }
    if (pr.failed) {
        out->failed = true;
    }
    free(pr.caps);
    free(pr.work);
}

void cb_expr_print(const cb_expr *e, bool is_double, cb_sym_printer p,
                   void *ctx, cb_sb *out)
{
    cb_expr_print_locals(e, is_double, p, ctx, NULL, out);
}
