/* Symbolic differentiation of expression trees and the derivative device
 * functions of a system: J*v, df/dt and diag(J).
 *
 * One mechanism serves all three emitters: a tangent is seeded on some
 * base symbols (v[j] on state j for J*v, 1 on t for df/dt, 1 on state i
 * for the diagonal's row i) and pushed forward through the auxiliaries in
 * dependency order. An auxiliary's tangent is the sum over the symbols of
 * its right side of (partial derivative) * (that symbol's tangent), where
 * another auxiliary's tangent is its local da_<name>. Tangents that are
 * structurally zero are never emitted, and a backward pass keeps only the
 * values and tangents the outputs really read.
 */
#include "deriv.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- simplifying constructors ------------------------------------------
 * Every one returns NULL when an argument is NULL or the arena is out of
 * memory, so a failure anywhere comes out at the top as NULL.
 *
 * Zero is folded exactly: 0 * x and 0 / x are 0 even though x could be
 * inf or NaN at run time (then IEEE gives NaN). That is the standard
 * convention of derivative code: a zero partial derivative means "does
 * not depend on", and keeping the product would turn every independent
 * symbol's infinity into a NaN in the Jacobian. */

static bool is_num(const cb_expr *e, double v)
{
    return e->kind == CB_EX_NUM && e->num == v;
}

static bool is_zero(const cb_expr *e)
{
    return is_num(e, 0.0);
}

static cb_expr *num(cb_arena *a, double v)
{
    /* Derivative nodes carry no source column. */
    return cb_expr_new_num(a, v, 0);
}

static cb_expr *node(cb_arena *a, cb_expr_kind kind, cb_expr *x, cb_expr *y,
                     cb_expr *z)
{
    return cb_expr_new(a, kind, 0, x, y, z);
}

/* Whether a constant may be folded: a non-finite value stays an
 * expression, so 1/0 keeps its meaning in the kernel. */
static bool finite_value(double v)
{
    return isfinite(v);
}

static cb_expr *mk_neg(cb_arena *a, cb_expr *x)
{
    if (x == NULL) {
        return NULL;
    }
    if (x->kind == CB_EX_NUM) {
        /* -0 would be a zero that is_zero sees anyway; keep it +0. */
        return is_zero(x) ? x : num(a, -x->num);
    }
    if (x->kind == CB_EX_NEG) {
        return x->a[0];
    }
    return node(a, CB_EX_NEG, x, NULL, NULL);
}

static cb_expr *mk_sub(cb_arena *a, cb_expr *x, cb_expr *y);

static cb_expr *mk_add(cb_arena *a, cb_expr *x, cb_expr *y)
{
    if (x == NULL || y == NULL) {
        return NULL;
    }
    if (is_zero(x)) {
        return y;
    }
    if (is_zero(y)) {
        return x;
    }
    if (x->kind == CB_EX_NUM && y->kind == CB_EX_NUM
        && finite_value(x->num + y->num)) {
        return num(a, x->num + y->num);
    }
    /* x + (-y) is x - y, and (-x) + y is y - x: both exact rewrites. */
    if (y->kind == CB_EX_NEG) {
        return mk_sub(a, x, y->a[0]);
    }
    if (x->kind == CB_EX_NEG) {
        return mk_sub(a, y, x->a[0]);
    }
    return node(a, CB_EX_ADD, x, y, NULL);
}

static cb_expr *mk_sub(cb_arena *a, cb_expr *x, cb_expr *y)
{
    if (x == NULL || y == NULL) {
        return NULL;
    }
    if (is_zero(y)) {
        return x;
    }
    if (is_zero(x)) {
        return mk_neg(a, y);
    }
    if (x->kind == CB_EX_NUM && y->kind == CB_EX_NUM
        && finite_value(x->num - y->num)) {
        return num(a, x->num - y->num);
    }
    if (y->kind == CB_EX_NEG) {
        return mk_add(a, x, y->a[0]);
    }
    return node(a, CB_EX_SUB, x, y, NULL);
}

static cb_expr *mk_mul(cb_arena *a, cb_expr *x, cb_expr *y)
{
    if (x == NULL || y == NULL) {
        return NULL;
    }
    if (is_zero(x)) {
        return x; /* exact zero of a derivative: see the note above */
    }
    if (is_zero(y)) {
        return y;
    }
    if (is_num(x, 1.0)) {
        return y;
    }
    if (is_num(y, 1.0)) {
        return x;
    }
    if (is_num(x, -1.0)) {
        return mk_neg(a, y);
    }
    if (is_num(y, -1.0)) {
        return mk_neg(a, x);
    }
    if (x->kind == CB_EX_NUM && y->kind == CB_EX_NUM
        && finite_value(x->num * y->num)) {
        return num(a, x->num * y->num);
    }
    /* Signs move outwards (exact), so they can cancel or turn a sum into
     * a difference further up. */
    if (x->kind == CB_EX_NEG) {
        return mk_neg(a, mk_mul(a, x->a[0], y));
    }
    if (y->kind == CB_EX_NEG) {
        return mk_neg(a, mk_mul(a, x, y->a[0]));
    }
    if (x->kind == CB_EX_NUM && x->num < 0.0) {
        return mk_neg(a, mk_mul(a, num(a, -x->num), y));
    }
    if (y->kind == CB_EX_NUM && y->num < 0.0) {
        return mk_neg(a, mk_mul(a, x, num(a, -y->num)));
    }
    return node(a, CB_EX_MUL, x, y, NULL);
}

static cb_expr *mk_div(cb_arena *a, cb_expr *x, cb_expr *y)
{
    if (x == NULL || y == NULL) {
        return NULL;
    }
    if (is_zero(x)) {
        return x; /* exact zero of a derivative: see the note above */
    }
    if (is_num(y, 1.0)) {
        return x;
    }
    if (is_num(y, -1.0)) {
        return mk_neg(a, x);
    }
    if (x->kind == CB_EX_NUM && y->kind == CB_EX_NUM
        && finite_value(x->num / y->num)) {
        return num(a, x->num / y->num);
    }
    if (x->kind == CB_EX_NEG) {
        return mk_neg(a, mk_div(a, x->a[0], y));
    }
    if (y->kind == CB_EX_NEG) {
        return mk_neg(a, mk_div(a, x, y->a[0]));
    }
    if (x->kind == CB_EX_NUM && x->num < 0.0) {
        return mk_neg(a, mk_div(a, num(a, -x->num), y));
    }
    return node(a, CB_EX_DIV, x, y, NULL);
}

/* x^c for a number c. */
static cb_expr *mk_pow_num(cb_arena *a, cb_expr *x, double c)
{
    if (x == NULL) {
        return NULL;
    }
    if (c == 0.0) {
        return num(a, 1.0); /* pow(x, 0) is 1 for every x (C11 F.10.4.4) */
    }
    if (c == 1.0) {
        return x;
    }
    return node(a, CB_EX_POW, x, num(a, c), NULL);
}

static cb_expr *mk_call(cb_arena *a, cb_func fn, cb_expr *x, cb_expr *y)
{
    if (x == NULL || (cb_func_arity(fn) == 2 && y == NULL)) {
        return NULL;
    }
    cb_expr *e = node(a, CB_EX_CALL, x, y, NULL);
    if (e == NULL) {
        return NULL;
    }
    e->fn = fn;
    if (x->kind == CB_EX_NUM && (y == NULL || y->kind == CB_EX_NUM)) {
        double v = cb_expr_eval(e, NULL, NULL);
        if (finite_value(v)) {
            return num(a, v);
        }
    }
    return e;
}

static cb_expr *mk_cond(cb_arena *a, cb_expr *c, cb_expr *x, cb_expr *y)
{
    if (c == NULL || x == NULL || y == NULL) {
        return NULL;
    }
    if (c->kind == CB_EX_NUM) {
        return c->num != 0.0 ? x : y;
    }
    /* Both branches zero: the same zero whichever is taken. */
    if (is_zero(x) && is_zero(y)) {
        return x;
    }
    return node(a, CB_EX_COND, c, x, y);
}

/* ---- differentiation ----------------------------------------------------
 * The trees are immutable once built, so derivative trees share subtrees
 * of the input (and the input node itself, e.g. d exp(u) = exp(u) du).
 * The casts below drop const for that sharing only. */

typedef struct {
    cb_arena *a;
    cb_sym_role role;
    int index;
    /* The one zero of this derivative: a subtree free of the symbol
     * differentiates to it without allocating, so the partial derivative
     * of a long sum in one of its many symbols costs no memory per term. */
    cb_expr *zero;
} differ;

/* d(x^y) = y x^(y-1) dx + x^y log(x) dy, each term only when its
 * tangent is non-zero: a constant exponent never needs log(x), so
 * x^2 stays differentiable at x <= 0. */
static cb_expr *diff_pow(const differ *d, const cb_expr *e, cb_expr *x,
                         cb_expr *y, cb_expr *dx, cb_expr *dy)
{
    cb_arena *a = d->a;
    if (dx == NULL || dy == NULL) {
        return NULL;
    }
    cb_expr *t1 = dx;
    if (!is_zero(dx)) {
        if (y->kind == CB_EX_NUM) {
            double c = y->num;
            if (c == 0.0) {
                t1 = num(a, 0.0);
            } else if (c == 0.5) {
                /* dx / (2 sqrt(x)): prints as a sqrt, not pow(x, -0.5) */
                t1 = mk_div(a, dx,
                            mk_mul(a, num(a, 2.0),
                                   mk_call(a, CB_FN_SQRT, x, NULL)));
            } else {
                t1 = mk_mul(a, mk_mul(a, num(a, c), mk_pow_num(a, x, c - 1.0)),
                            dx);
            }
        } else {
            cb_expr *p = node(a, CB_EX_POW, x, mk_sub(a, y, num(a, 1.0)),
                              NULL);
            t1 = mk_mul(a, mk_mul(a, y, p), dx);
        }
    }
    cb_expr *t2 = dy;
    if (!is_zero(dy)) {
        t2 = mk_mul(a, mk_mul(a, (cb_expr *)e,
                              mk_call(a, CB_FN_LOG, x, NULL)),
                    dy);
    }
    return mk_add(a, t1, t2);
}

static cb_expr *diff_call(const differ *d, const cb_expr *e,
                          cb_expr *const *dk)
{
    cb_arena *a = d->a;
    cb_expr *me = (cb_expr *)e;
    cb_expr *x = e->a[0];
    cb_expr *y = e->nargs > 1 ? e->a[1] : NULL;
    switch (e->fn) {
    /* Piecewise constant: derivative 0 wherever it exists. */
    case CB_FN_FLOOR: case CB_FN_CEIL: case CB_FN_SIGN:
        return d->zero;
    case CB_FN_WHERE:
        return mk_cond(a, e->a[0], dk[1], dk[2]);
    default:
        break;
    }
    cb_expr *dx = dk[0];
    cb_expr *dy = y != NULL ? dk[1] : NULL;
    if (dx == NULL || (y != NULL && dy == NULL)) {
        return NULL;
    }
    /* Two-argument functions may depend on the symbol through y only. */
    if (is_zero(dx) && (y == NULL || is_zero(dy))) {
        return dx;
    }
    cb_expr *one = num(a, 1.0);
    switch (e->fn) {
    case CB_FN_EXP:
        return mk_mul(a, me, dx);
    case CB_FN_LOG:
        return mk_div(a, dx, x);
    case CB_FN_SQRT:
        return mk_div(a, dx, mk_mul(a, num(a, 2.0), me));
    case CB_FN_POW:
        return diff_pow(d, e, x, y, dx, dy);
    case CB_FN_SIN:
        return mk_mul(a, mk_call(a, CB_FN_COS, x, NULL), dx);
    case CB_FN_COS:
        return mk_neg(a, mk_mul(a, mk_call(a, CB_FN_SIN, x, NULL), dx));
    case CB_FN_TAN:
        /* 1 + tan^2 reuses the value instead of calling cos. */
        return mk_mul(a, mk_add(a, one, mk_mul(a, me, me)), dx);
    case CB_FN_ASIN:
        return mk_div(a, dx, mk_call(a, CB_FN_SQRT,
                                     mk_sub(a, one, mk_mul(a, x, x)), NULL));
    case CB_FN_ACOS:
        return mk_neg(a, mk_div(a, dx,
                                mk_call(a, CB_FN_SQRT,
                                        mk_sub(a, one, mk_mul(a, x, x)),
                                        NULL)));
    case CB_FN_ATAN:
        return mk_div(a, dx, mk_add(a, one, mk_mul(a, x, x)));
    case CB_FN_ATAN2:
        /* atan2(x, y) = atan(x / y) on y > 0, and the same derivative on
         * every branch: (y dx - x dy) / (x^2 + y^2). */
        return mk_div(a, mk_sub(a, mk_mul(a, y, dx), mk_mul(a, x, dy)),
                      mk_add(a, mk_mul(a, x, x), mk_mul(a, y, y)));
    case CB_FN_SINH:
        return mk_mul(a, mk_call(a, CB_FN_COSH, x, NULL), dx);
    case CB_FN_COSH:
        return mk_mul(a, mk_call(a, CB_FN_SINH, x, NULL), dx);
    case CB_FN_TANH:
        return mk_mul(a, mk_sub(a, one, mk_mul(a, me, me)), dx);
    case CB_FN_ERF:
        /* 2/sqrt(pi) exp(-x^2) */
        return mk_mul(a, mk_mul(a, num(a, 1.1283791670955126),
                                mk_call(a, CB_FN_EXP,
                                        mk_neg(a, mk_mul(a, x, x)), NULL)),
                      dx);
    case CB_FN_ABS:
        return mk_mul(a, mk_call(a, CB_FN_SIGN, x, NULL), dx);
    case CB_FN_MIN:
        /* The branch fmin takes: x when x <= y (also a NaN y falls to
         * dy, the documented edge of a piecewise derivative). */
        return mk_cond(a, node(a, CB_EX_LE, x, y, NULL), dx, dy);
    case CB_FN_MAX:
        return mk_cond(a, node(a, CB_EX_GE, x, y, NULL), dx, dy);
    default:
        break;
    }
    return num(a, NAN); /* unreachable: every function is listed above */
}

/* Whether the derivative of e needs that of its argument i. */
static bool diff_needs(const cb_expr *e, int i)
{
    switch (e->kind) {
    case CB_EX_NUM: case CB_EX_SYM:
    case CB_EX_NOT: case CB_EX_LT: case CB_EX_LE: case CB_EX_GT:
    case CB_EX_GE: case CB_EX_EQ: case CB_EX_NE: case CB_EX_AND:
    case CB_EX_OR:
        return false;
    case CB_EX_COND:
        return i >= 1; /* not the test */
    case CB_EX_CALL:
        switch (e->fn) {
        case CB_FN_FLOOR: case CB_FN_CEIL: case CB_FN_SIGN:
            return false;
        case CB_FN_WHERE:
            return i >= 1;
        default:
            return true;
        }
    default:
        return true;
    }
}

/* The derivative of e from those of its arguments (dk[i], where
 * diff_needs says so). */
static cb_expr *diff_node(const differ *d, const cb_expr *e,
                          cb_expr *const *dk)
{
    cb_arena *a = d->a;
    switch (e->kind) {
    case CB_EX_NUM:
        return d->zero;
    case CB_EX_SYM: {
        bool hit = e->role == d->role
                   && (e->role == CB_SYM_TIME || e->index == d->index);
        return hit ? num(a, 1.0) : d->zero;
    }
    case CB_EX_NEG:
        return mk_neg(a, dk[0]);
    case CB_EX_NOT: case CB_EX_LT: case CB_EX_LE: case CB_EX_GT:
    case CB_EX_GE: case CB_EX_EQ: case CB_EX_NE: case CB_EX_AND:
    case CB_EX_OR:
        return d->zero;
    case CB_EX_ADD:
        return mk_add(a, dk[0], dk[1]);
    case CB_EX_SUB:
        return mk_sub(a, dk[0], dk[1]);
    case CB_EX_MUL:
        return mk_add(a, mk_mul(a, dk[0], e->a[1]),
                      mk_mul(a, e->a[0], dk[1]));
    case CB_EX_DIV: {
        /* d(x/y) = (dx - (x/y) dy) / y: reuses the quotient and never
         * squares y (which could overflow where x/y does not). */
        cb_expr *dx = dk[0];
        cb_expr *dy = dk[1];
        if (dx == NULL || dy == NULL) {
            return NULL;
        }
        if (is_zero(dy)) {
            return mk_div(a, dx, e->a[1]);
        }
        return mk_div(a, mk_sub(a, dx, mk_mul(a, (cb_expr *)e, dy)),
                      e->a[1]);
    }
    case CB_EX_POW:
        return diff_pow(d, e, e->a[0], e->a[1], dk[0], dk[1]);
    case CB_EX_COND:
        return mk_cond(a, e->a[0], dk[1], dk[2]);
    case CB_EX_CALL:
        return diff_call(d, e, dk);
    }
    return NULL;
}

/* A node whose argument derivatives are being built. */
typedef struct {
    const cb_expr *e;
    int next;        /* the next argument to visit */
    cb_expr *dk[3];  /* their derivatives */
} diff_frame;

/* Post-order over an explicit stack: a tree from a spec may be a chain
 * tens of thousands of nodes deep. */
static cb_expr *diff(const differ *d, const cb_expr *root)
{
    diff_frame *st = NULL;
    size_t n = 0, cap = 0;
    cb_expr *result = NULL;
    st = cb_expr_grow(st, n, &cap, sizeof(*st));
    if (st == NULL) {
        return NULL;
    }
    st[n++] = (diff_frame){root, 0, {NULL, NULL, NULL}};
    while (n > 0) {
        diff_frame *f = &st[n - 1];
        int na = f->e->nargs < 3 ? f->e->nargs : 3;
        while (f->next < na && !diff_needs(f->e, f->next)) {
            f->next++;
        }
        if (f->next < na) {
            const cb_expr *c = f->e->a[f->next++];
            if (c == NULL) {
                continue; /* its dk stays NULL: the node fails below */
            }
            diff_frame *g = cb_expr_grow(st, n, &cap, sizeof(*st));
            if (g == NULL) {
                break;
            }
            st = g;
            st[n++] = (diff_frame){c, 0, {NULL, NULL, NULL}};
            continue;
        }
        cb_expr *r = diff_node(d, f->e, f->dk);
        n--;
        if (r == NULL || n == 0) {
            result = r;
            break;
        }
        st[n - 1].dk[st[n - 1].next - 1] = r;
    }
    free(st);
    return result;
}

cb_expr *cb_expr_diff(cb_arena *a, const cb_expr *e, cb_sym_role role,
                      int index)
{
    if (a == NULL || e == NULL) {
        return NULL;
    }
    differ d = {a, role, index, num(a, 0.0)};
    return d.zero != NULL ? diff(&d, e) : NULL;
}

/* ---- a map keyed by node identity ----------------------------------------
 * Derivative trees are DAGs: they share the equations' nodes, often more
 * than once (d tan(u) = (1 + tan(u)^2) du), so every walk over them
 * visits a node once through this map, never once per path. */

typedef struct {
    const cb_expr *key;
    int refs;       /* edges that reach the node */
    bool tangent;   /* reads a tangent symbol */
    bool done;      /* visited by the hoisting walk */
    cb_expr *temp;  /* the local that holds it, once emitted */
} cse_slot;

typedef struct {
    cse_slot *slots;
    size_t cap, n;
    int next;       /* number of the next cse local, per function */
    bool nomem;
} cse_map;

static size_t ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static cse_slot *cse_lookup(const cse_map *m, const cb_expr *e)
{
    if (m->cap == 0) {
        return NULL;
    }
    size_t i = ptr_hash(e) & (m->cap - 1);
    while (m->slots[i].key != NULL) {
        if (m->slots[i].key == e) {
            return &m->slots[i];
        }
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

/* The slot of e, inserted when new. Growing moves the slots, so a
 * pointer from here is good until the next insertion. */
static cse_slot *cse_get(cse_map *m, const cb_expr *e)
{
    if (2 * (m->n + 1) > m->cap) {
        size_t cap = m->cap > 0 ? 2 * m->cap : 64;
        cse_slot *ns = calloc(cap, sizeof(*ns));
        if (ns == NULL) {
            m->nomem = true;
            return NULL;
        }
        for (size_t j = 0; j < m->cap; j++) {
            if (m->slots[j].key != NULL) {
                size_t i = ptr_hash(m->slots[j].key) & (cap - 1);
                while (ns[i].key != NULL) {
                    i = (i + 1) & (cap - 1);
                }
                ns[i] = m->slots[j];
            }
        }
        free(m->slots);
        m->slots = ns;
        m->cap = cap;
    }
    size_t i = ptr_hash(e) & (m->cap - 1);
    while (m->slots[i].key != NULL && m->slots[i].key != e) {
        i = (i + 1) & (m->cap - 1);
    }
    if (m->slots[i].key == NULL) {
        m->slots[i].key = e;
        m->n++;
    }
    return &m->slots[i];
}

/* Empty the map. A map that one large group grew is given back rather
 * than wiped for every small group after it: clearing costs what the last
 * group did, not the largest one's size each time (many auxiliaries after
 * one long equation). */
static void cse_clear(cse_map *m)
{
    if (m->cap > 64 && m->cap > 8 * m->n) {
        free(m->slots);
        m->slots = NULL;
        m->cap = 0;
    } else if (m->cap > 0) {
        memset(m->slots, 0, m->cap * sizeof(*m->slots));
    }
    m->n = 0;
}

/* ---- tangent propagation ------------------------------------------------ */


/* Tangent symbols are CB_SYM_OTHER: index k >= 0 is auxiliary k's
 * da_<name>, index -1 - j is v[j]. */
static cb_expr *mk_sym(cb_arena *a, cb_sym_role role, int index,
                       const char *name)
{
    cb_expr *e = node(a, CB_EX_SYM, NULL, NULL, NULL);
    if (e == NULL) {
        return NULL;
    }
    e->role = role;
    e->index = index;
    e->name = cb_arena_strdup(a, name);
    return e->name != NULL ? e : NULL;
}

typedef struct {
    cb_sym_role role;
    int index;
} sym_key;

typedef struct {
    const struct cubie_system *s;
    cb_arena *a;
    bool *in_closure;    /* auxiliaries the derivatives need */
    cb_expr **aux_sym;   /* a_<name> as a symbol, per auxiliary */
    cb_expr **tan_sym;   /* da_<name>, per auxiliary */
    cb_expr **state_seed; /* tangent of each state (NULL: zero) */
    cb_expr *time_seed;  /* tangent of t (NULL: zero) */
    cb_expr **driver_seed; /* tangent of each driver (NULL: all zero) */
    sym_key *keys;       /* scratch for distinct symbols */
    int n_keys, cap_keys;
    cse_map seen;        /* nodes mark_reads has visited */
    bool nomem;
} prop;

/* Append a base symbol unless it is there already. */
static bool collect_sym(void *ctx, const cb_expr *e)
{
    prop *p = ctx;
    for (int i = 0; i < p->n_keys; i++) {
        if (p->keys[i].role == e->role
            && (e->role == CB_SYM_TIME || p->keys[i].index == e->index)) {
            return true;
        }
    }
    if (p->n_keys == p->cap_keys) {
        int cap = p->cap_keys > 0 ? 2 * p->cap_keys : 16;
        sym_key *k = realloc(p->keys, (size_t)cap * sizeof(*k));
        if (k == NULL) {
            p->nomem = true;
            return false;
        }
        p->keys = k;
        p->cap_keys = cap;
    }
    p->keys[p->n_keys++] = (sym_key){e->role, e->index};
    return true;
}

/* Append the distinct base symbols of e, in order of first appearance. */
static void collect_syms(prop *p, const cb_expr *e)
{
    if (e != NULL && !p->nomem && !cb_expr_each_sym(e, collect_sym, p)) {
        p->nomem = true;
    }
}

/* The tangent seeded on a base symbol; NULL when it is zero. */
static cb_expr *seed_of(const prop *p, sym_key k, cb_expr *const *tan)
{
    switch (k.role) {
    case CB_SYM_STATE:
        return p->state_seed[k.index];
    case CB_SYM_TIME:
        return p->time_seed;
    case CB_SYM_DRIVER: /* their time derivatives in df/dt, else fixed */
        return p->driver_seed != NULL ? p->driver_seed[k.index] : NULL;
    case CB_SYM_AUX:
        return tan[k.index] != NULL ? p->tan_sym[k.index] : NULL;
    default:
        return NULL; /* parameters are held fixed */
    }
}

/* The tangent of expression e: sum over its symbols of the partial
 * derivative times the symbol's tangent. *out is NULL when the tangent
 * is structurally zero. False when out of memory. */
static bool tangent(prop *p, const cb_expr *e, cb_expr *const *tan,
                    cb_expr **out)
{
    *out = NULL;
    p->n_keys = 0;
    collect_syms(p, e);
    if (p->nomem) {
        return false;
    }
    /* Partials are built after collecting: collect_syms reuses keys. */
    int n = p->n_keys;
    cb_expr *sum = NULL;
    for (int i = 0; i < n; i++) {
        cb_expr *seed = seed_of(p, p->keys[i], tan);
        if (seed == NULL) {
            continue;
        }
        cb_expr *d = cb_expr_diff(p->a, e, p->keys[i].role,
                                  p->keys[i].index);
        if (d == NULL) {
            return false;
        }
        if (is_zero(d)) {
            continue;
        }
        cb_expr *term = mk_mul(p->a, d, seed);
        sum = sum == NULL ? term : mk_add(p->a, sum, term);
        if (sum == NULL) {
            return false;
        }
    }
    /* A sum of non-zero terms can still fold to zero (x - x is not
     * folded, but 1 + (-1) is). */
    *out = sum != NULL && is_zero(sum) ? NULL : sum;
    return true;
}

/* Mark what an expression reads: auxiliary values and tangents. Each
 * node once (p->seen), as the marks only ever grow; an explicit stack, as
 * everywhere a tree from a spec is walked. */
static void mark_reads(prop *p, const cb_expr *root, bool *need_val,
                       bool *need_tan)
{
    const cb_expr **st = NULL;
    size_t n = 0, cap = 0;
    const cb_expr *e = root;
    while (e != NULL && !p->nomem) {
        if (e->kind == CB_EX_SYM) {
            if (e->role == CB_SYM_AUX) {
                need_val[e->index] = true;
            } else if (e->role == CB_SYM_OTHER && e->index >= 0) {
                need_tan[e->index] = true;
            }
        } else if (e->kind != CB_EX_NUM) {
            cse_slot *sl = cse_get(&p->seen, e);
            bool first = sl != NULL && sl->refs++ == 0;
            if (sl == NULL) {
                p->nomem = true;
            }
            for (int i = 0; first && i < e->nargs && i < 3; i++) {
                const cb_expr **g = cb_expr_grow(st, n, &cap, sizeof(*st));
                if (g == NULL) {
                    p->nomem = true;
                    break;
                }
                st = g;
                if (e->a[i] != NULL) {
                    st[n++] = e->a[i];
                }
            }
        }
        e = n > 0 ? st[--n] : NULL;
    }
    free(st);
}

/* One propagation: the tangent of every auxiliary in the closure and of
 * each selected state derivative, then which auxiliary values and
 * tangents those outputs read. need_val is OR-ed into (the diagonal
 * shares values between rows); need_tan is set afresh. */
typedef struct {
    cb_expr **tan;      /* per auxiliary, NULL: zero or not needed */
    cb_expr **out;      /* per state derivative, NULL: zero */
    bool *need_tan;
} prop_result;

static bool propagate(prop *p, const bool *rows, prop_result *r,
                      bool *need_val)
{
    const struct cubie_system *s = p->s;
    for (int o = 0; o < s->n_aux; o++) {
        int k = s->aux_order[o];
        r->tan[k] = NULL;
        r->need_tan[k] = false;
        if (!p->in_closure[k]) {
            continue;
        }
        if (!tangent(p, s->eqs[s->aux_eq[k]].rhs, r->tan, &r->tan[k])) {
            return false;
        }
    }
    for (int i = 0; i < s->n_states; i++) {
        r->out[i] = NULL;
        if (rows[i]
            && !tangent(p, s->eqs[s->deriv_eq[i]].rhs, r->tan,
                        &r->out[i])) {
            return false;
        }
    }
    /* Backward: auxiliaries only read earlier ones in aux_order. */
    cse_clear(&p->seen);
    for (int i = 0; i < s->n_states; i++) {
        mark_reads(p, r->out[i], need_val, r->need_tan);
    }
    for (int o = s->n_aux - 1; o >= 0; o--) {
        int k = s->aux_order[o];
        if (r->need_tan[k]) {
            mark_reads(p, r->tan[k], need_val, r->need_tan);
        }
    }
    /* Values read by values: a separate sweep, because a tangent marked
     * late in the first sweep can still read an earlier value. */
    for (int o = s->n_aux - 1; o >= 0; o--) {
        int k = s->aux_order[o];
        if (need_val[k]) {
            mark_reads(p, s->eqs[s->aux_eq[k]].rhs, need_val, r->need_tan);
        }
    }
    return !p->nomem;
}

/* ---- common subexpressions ----------------------------------------------
 * Derivative trees share nodes with the equations (d exp(u) = exp(u) du
 * holds the very node exp(u), d(x/y) the quotient and y), so the value
 * and the tangents of one auxiliary hold the same subtrees by identity.
 * Each node reached along two or more edges of one group of statements
 * becomes a local cse<N>, computed once: exact, since it is one tree. A
 * node that reads a tangent (v[j], da_<name>) is never hoisted: it is a
 * cheap sum of products, and cb_jac_diag's temporaries live outside the
 * rows' blocks that declare the da_ locals. */

static bool is_leaf(const cb_expr *e)
{
    return e->kind == CB_EX_NUM || e->kind == CB_EX_SYM;
}

/* The walks below use explicit stacks: a derivative tree is as deep as
 * the equation it comes from, and that may be a chain tens of thousands
 * of nodes long. */

/* cse_count's step into e: 1 or 0, whether it reads a tangent, when that
 * is known without visiting its children; -1 when they must be visited. */
static int count_enter(cse_map *m, const cb_expr *e)
{
    if (e->kind == CB_EX_SYM) {
        return e->role == CB_SYM_OTHER;
    }
    if (e->kind == CB_EX_NUM) {
        return 0;
    }
    cse_slot *sl = cse_get(m, e);
    if (sl == NULL) {
        return 0;
    }
    if (sl->refs++ > 0) {
        return sl->tangent;
    }
    return -1;
}

typedef struct {
    const cb_expr *e;
    int next;  /* the next argument to visit */
    bool tan;  /* whether a visited argument reads a tangent */
} count_frame;

/* Count the edges into each node; children only on the first visit, so
 * a node used only inside a hoisted one keeps one reference. Returns
 * whether e reads a tangent. */
static bool cse_count(cse_map *m, const cb_expr *root)
{
    int r = count_enter(m, root);
    if (r >= 0) {
        return r != 0;
    }
    count_frame *st = NULL;
    size_t n = 0, cap = 0;
    bool result = false;
    st = cb_expr_grow(st, n, &cap, sizeof(*st));
    if (st == NULL) {
        m->nomem = true;
        return false;
    }
    st[n++] = (count_frame){root, 0, false};
    while (n > 0) {
        count_frame *f = &st[n - 1];
        if (f->next < f->e->nargs && f->next < 3) {
            const cb_expr *c = f->e->a[f->next++];
            r = count_enter(m, c);
            if (r >= 0) {
                f->tan = f->tan || r != 0;
                continue;
            }
            count_frame *g = cb_expr_grow(st, n, &cap, sizeof(*st));
            if (g == NULL) {
                m->nomem = true;
                break;
            }
            st = g;
            st[n++] = (count_frame){c, 0, false};
            continue;
        }
        bool tan = f->tan;
        cse_slot *sl = cse_lookup(m, f->e);
        if (sl != NULL) {
            sl->tangent = tan;
        }
        if (--n == 0) {
            result = tan;
            break;
        }
        st[n - 1].tan = st[n - 1].tan || tan;
    }
    free(st);
    return result;
}

typedef struct {
    cb_expr *e;
    int next;      /* the next argument to rewrite */
    bool changed;  /* an argument was rewritten */
    cb_expr *k[3]; /* the rewritten arguments */
} rewrite_frame;

/* cse_rewrite's step into e: its rewrite when that is known without
 * visiting its children (a leaf, a hoisted node), else NULL. */
static cb_expr *rewrite_enter(const cse_map *m, cb_expr *e)
{
    if (is_leaf(e)) {
        return e;
    }
    const cse_slot *sl = cse_lookup(m, e);
    return sl != NULL ? sl->temp : NULL;
}

/* e with every hoisted node replaced by its local; NULL when out of
 * memory. */
static cb_expr *cse_rewrite(cb_arena *a, const cse_map *m, cb_expr *root)
{
    if (root == NULL) {
        return NULL;
    }
    cb_expr *r = rewrite_enter(m, root);
    if (r != NULL) {
        return r;
    }
    rewrite_frame *st = NULL;
    size_t n = 0, cap = 0;
    cb_expr *result = NULL;
    st = cb_expr_grow(st, n, &cap, sizeof(*st));
    if (st == NULL) {
        return NULL;
    }
    st[n++] = (rewrite_frame){root, 0, false, {NULL, NULL, NULL}};
    while (n > 0) {
        rewrite_frame *f = &st[n - 1];
        if (f->next < f->e->nargs && f->next < 3) {
            cb_expr *c = f->e->a[f->next];
            r = c != NULL ? rewrite_enter(m, c) : NULL;
            if (r != NULL || c == NULL) {
                f->k[f->next] = r;
                f->changed = f->changed || r != c;
                f->next++;
                continue;
            }
            rewrite_frame *g = cb_expr_grow(st, n, &cap, sizeof(*st));
            if (g == NULL) {
                break;
            }
            st = g;
            st[n++] = (rewrite_frame){c, 0, false, {NULL, NULL, NULL}};
            continue;
        }
        cb_expr *e = f->e;
        r = e;
        if (f->changed) {
            r = cb_arena_alloc(a, sizeof(*r));
            if (r == NULL) {
                break;
            }
            *r = *e;
            for (int i = 0; i < 3; i++) {
                r->a[i] = f->k[i];
            }
        }
        if (--n == 0) {
            result = r;
            break;
        }
        f = &st[n - 1];
        f->k[f->next] = r;
        f->changed = f->changed || r != f->e->a[f->next];
        f->next++;
    }
    free(st);
    return result;
}

typedef struct {
    const struct cubie_system *s;
    bool dbl;
    cb_arena *a;
    cb_expr **aux_sym; /* a_<name> as a symbol, per auxiliary */
    cse_map cse;
    int next_local;    /* the number of the next pw<N> of this function */
} emitter;

/* The C text of e (0 for NULL) in text, which the caller frees; a local
 * that the text reads (a long base of a power) is declared in sb first,
 * so the caller writes the statement holding the text into sb next. */
static void expr_text(emitter *em, const cb_expr *e, cb_sb *sb, cb_sb *text)
{
    cb_sb_init(text);
    if (e == NULL) {
        cb_print_real(0.0, em->dbl, text);
        return;
    }
    cb_locals loc = {sb, em->next_local};
    cb_expr_print_locals(e, em->dbl, cb_spec_print_sym, (void *)em->s, &loc,
                         text);
    em->next_local = loc.next;
}

/* Write text (and free it), then tail. */
static void put_text(cb_sb *sb, cb_sb *text, const char *tail)
{
    if (text->failed) {
        sb->failed = true;
    }
    cb_sb_putn(sb, cb_sb_str(text), text->len);
    cb_sb_puts(sb, tail);
    cb_sb_free(text);
}

/* cse_hoist's step into e: whether e's children must be visited (then e
 * is marked done). */
static bool hoist_enter(emitter *em, const cb_expr *e)
{
    if (is_leaf(e)) {
        return false;
    }
    cse_slot *sl = cse_lookup(&em->cse, e);
    if (sl == NULL || sl->done) {
        return false;
    }
    sl->done = true;
    return true;
}

/* After e's children: declare e when it is shared. */
static bool hoist_leave(emitter *em, cb_expr *e, cb_sb *sb)
{
    cse_slot *sl = cse_lookup(&em->cse, e);
    bool trivial = e->kind == CB_EX_NEG && is_leaf(e->a[0]);
    if (sl->refs < 2 || sl->tangent || trivial) {
        return true;
    }
    cb_expr *body = cse_rewrite(em->a, &em->cse, e);
    char name[32];
    snprintf(name, sizeof(name), "cse%d", em->cse.next++);
    /* A negative index far below -1 - n_states: no tangent's index. */
    cb_expr *temp = mk_sym(em->a, CB_SYM_OTHER, -1 - (1 << 30), name);
    if (body == NULL || temp == NULL) {
        return false;
    }
    cb_sb text;
    expr_text(em, body, sb, &text);
    cb_sb_printf(sb, "const real %s = ", name);
    put_text(sb, &text, ";\n");
    cse_lookup(&em->cse, e)->temp = temp;
    return true;
}

typedef struct {
    cb_expr *e;
    int next; /* the next argument to visit */
} hoist_frame;

/* Declare the shared nodes below e, innermost first. */
static bool cse_hoist(emitter *em, cb_expr *root, cb_sb *sb)
{
    if (!hoist_enter(em, root)) {
        return true;
    }
    hoist_frame *st = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    st = cb_expr_grow(st, n, &cap, sizeof(*st));
    if (st == NULL) {
        return false;
    }
    st[n++] = (hoist_frame){root, 0};
    while (n > 0 && ok) {
        hoist_frame *f = &st[n - 1];
        if (f->next < f->e->nargs && f->next < 3) {
            cb_expr *c = f->e->a[f->next++];
            if (!hoist_enter(em, c)) {
                continue;
            }
            hoist_frame *g = cb_expr_grow(st, n, &cap, sizeof(*st));
            if (g == NULL) {
                ok = false;
                break;
            }
            st = g;
            st[n++] = (hoist_frame){c, 0};
            continue;
        }
        ok = hoist_leave(em, f->e, sb);
        n--;
    }
    free(st);
    return ok;
}

/* One group of statements: declare the nodes the roots share and
 * rewrite the roots (NULL roots are skipped) to read them. When `self`
 * is not NULL, roots[0] is the right side of that auxiliary and is
 * being declared: the other roots read the whole of it (d exp(u) holds
 * exp(u)) as the auxiliary's local, not as a cse<N>. */
static bool emit_group(emitter *em, cb_expr **roots, int n, cb_expr *self,
                       cb_sb *sb)
{
    cse_map *m = &em->cse;
    cse_clear(m);
    for (int i = 0; i < n; i++) {
        if (roots[i] != NULL) {
            cse_count(m, roots[i]);
        }
    }
    if (m->nomem) {
        return false;
    }
    cse_slot *value = NULL;
    if (self != NULL && roots[0] != NULL && !is_leaf(roots[0])) {
        value = cse_lookup(m, roots[0]);
        value->done = true; /* its children are hoisted below */
        for (int i = 0; i < roots[0]->nargs && i < 3; i++) {
            if (!cse_hoist(em, roots[0]->a[i], sb)) {
                return false;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        if (roots[i] != NULL && !cse_hoist(em, roots[i], sb)) {
            return false;
        }
    }
    for (int i = 0; i < n; i++) {
        if (roots[i] != NULL) {
            const cb_expr *orig = roots[i];
            roots[i] = cse_rewrite(em->a, m, roots[i]);
            if (roots[i] == NULL) {
                return false;
            }
            /* After the value's own text: later roots read the local.
             * (No insertion since the lookup, so the slot is valid.) */
            if (i == 0 && value != NULL) {
                cse_lookup(m, orig)->temp = self;
            }
        }
    }
    return true;
}

/* ---- emission ----------------------------------------------------------- */

typedef enum { MODE_JVP, MODE_DFDT, MODE_DIAG } emit_mode;

static void emit_decl(emitter *em, const char *prefix, int k,
                      const cb_expr *e, cb_sb *sb)
{
    cb_sb text;
    expr_text(em, e, sb, &text);
    cb_sb_printf(sb, "const real %s%s = ", prefix, em->s->aux_names[k]);
    put_text(sb, &text, ";\n");
}

typedef struct {
    prop p;
    cb_arena arena;
    bool *rows;
    bool *need_val;
    prop_result *res; /* one per diagonal row; one otherwise */
    int n_res;
} emit_state;

static void emit_state_free(emit_state *st)
{
    free(st->p.keys);
    free(st->p.seen.slots);
    cb_arena_free(&st->arena);
}

/* Allocate everything one emitter needs from the arena. */
static bool emit_state_init(emit_state *st, const struct cubie_system *s,
                            emit_mode mode)
{
    memset(st, 0, sizeof(*st));
    cb_arena_init(&st->arena);
    cb_arena *a = &st->arena;
    size_t na = (size_t)s->n_aux + 1;
    size_t ns = (size_t)s->n_states + 1;
    prop *p = &st->p;
    p->s = s;
    p->a = a;
    p->in_closure = cb_arena_alloc(a, na * sizeof(bool));
    p->aux_sym = cb_arena_alloc(a, na * sizeof(cb_expr *));
    p->tan_sym = cb_arena_alloc(a, na * sizeof(cb_expr *));
    p->state_seed = cb_arena_alloc(a, ns * sizeof(cb_expr *));
    st->rows = cb_arena_alloc(a, ns * sizeof(bool));
    st->need_val = cb_arena_alloc(a, na * sizeof(bool));
    st->n_res = mode == MODE_DIAG ? s->n_states : 1;
    st->res = cb_arena_alloc(a, (size_t)st->n_res * sizeof(prop_result));
    if (a->failed) {
        return false;
    }
    for (int r = 0; r < st->n_res; r++) {
        st->res[r].tan = cb_arena_alloc(a, na * sizeof(cb_expr *));
        st->res[r].out = cb_arena_alloc(a, ns * sizeof(cb_expr *));
        st->res[r].need_tan = cb_arena_alloc(a, na * sizeof(bool));
    }
    for (int k = 0; k < s->n_aux && !a->failed; k++) {
        p->aux_sym[k] = mk_sym(a, CB_SYM_AUX, k, s->aux_names[k]);
        cb_sb tmp;
        cb_sb_init(&tmp);
        cb_sb_printf(&tmp, "da_%s", s->aux_names[k]);
        p->tan_sym[k] = tmp.failed ? NULL
                                   : mk_sym(a, CB_SYM_OTHER, k,
                                            cb_sb_str(&tmp));
        cb_sb_free(&tmp);
        if (p->aux_sym[k] == NULL || p->tan_sym[k] == NULL) {
            a->failed = true;
        }
    }
    if (a->failed) {
        return false;
    }
    bool *roots = cb_arena_alloc(a, ((size_t)s->n_eqs + 1) * sizeof(bool));
    if (roots == NULL) {
        return false;
    }
    for (int i = 0; i < s->n_states; i++) {
        roots[s->deriv_eq[i]] = true;
    }
    cb_spec_aux_closure(s, roots, p->in_closure);
    return true;
}

/* Seed and propagate: one result for J*v and df/dt, one per row for the
 * diagonal. */
static bool run_propagation(emit_state *st, emit_mode mode)
{
    const struct cubie_system *s = st->p.s;
    prop *p = &st->p;
    cb_arena *a = &st->arena;
    if (mode == MODE_JVP) {
        for (int j = 0; j < s->n_states; j++) {
            char name[32];
            snprintf(name, sizeof(name), "v[%d]", j);
            p->state_seed[j] = mk_sym(a, CB_SYM_OTHER, -1 - j, name);
            if (p->state_seed[j] == NULL) {
                return false;
            }
        }
    } else if (mode == MODE_DFDT) {
        p->time_seed = num(a, 1.0);
        if (p->time_seed == NULL) {
            return false;
        }
        /* A driver d moves with t at its rate dd_<name> (gen/rhs.c
         * evaluates it): df/dt + sum_j df/dd_j d_j'(t). */
        if (s->n_drivers > 0) {
            p->driver_seed = cb_arena_alloc(
                a, (size_t)s->n_drivers * sizeof(cb_expr *));
            if (p->driver_seed == NULL) {
                return false;
            }
        }
        for (int j = 0; j < s->n_drivers; j++) {
            char name[300];
            snprintf(name, sizeof(name), "dd_%s", s->driver_names[j]);
            p->driver_seed[j] = mk_sym(a, CB_SYM_OTHER, -(1 << 28) - j, name);
            if (p->driver_seed[j] == NULL) {
                return false;
            }
        }
    }
    for (int r = 0; r < st->n_res; r++) {
        for (int i = 0; i < s->n_states; i++) {
            st->rows[i] = mode != MODE_DIAG || i == r;
        }
        if (mode == MODE_DIAG) {
            for (int j = 0; j < s->n_states; j++) {
                p->state_seed[j] = NULL;
            }
            p->state_seed[r] = num(a, 1.0);
            if (p->state_seed[r] == NULL) {
                return false;
            }
        }
        if (!propagate(p, st->rows, &st->res[r], st->need_val)) {
            return false;
        }
    }
    return !p->nomem && !a->failed;
}

/* J*v and df/dt: each auxiliary's value right before its tangent, the
 * dependency order serving both. */
static bool emit_body(emitter *em, const emit_state *st, cb_sb *sb)
{
    const struct cubie_system *s = em->s;
    const prop_result *r = &st->res[0];
    for (int o = 0; o < s->n_aux; o++) {
        int k = s->aux_order[o];
        cb_expr *roots[2] = {
            st->need_val[k] ? s->eqs[s->aux_eq[k]].rhs : NULL,
            r->need_tan[k] ? r->tan[k] : NULL,
        };
        if (!emit_group(em, roots, 2, em->aux_sym[k], sb)) {
            return false;
        }
        if (roots[0] != NULL) {
            emit_decl(em, "a_", k, roots[0], sb);
        }
        if (roots[1] != NULL) {
            emit_decl(em, "da_", k, roots[1], sb);
        }
    }
    for (int i = 0; i < s->n_states; i++) {
        cb_expr *root = r->out[i];
        if (!emit_group(em, &root, 1, NULL, sb)) {
            return false;
        }
        cb_sb text;
        expr_text(em, root, sb, &text);
        cb_sb_printf(sb, "out[%d] = ", i);
        put_text(sb, &text, "; // d");
        cb_sb_printf(sb, "%s\n", s->state_names[i]);
    }
    return true;
}

/* The diagonal: the values once, with the subexpressions they share
 * with any row's tangents; then each row in a block of its own, so the
 * da_ names can repeat. */
static bool emit_diag_body(emitter *em, emit_state *st, cb_sb *sb)
{
    const struct cubie_system *s = em->s;
    int n = s->n_states;
    cb_expr **roots = cb_arena_alloc(em->a, ((size_t)n + 1)
                                                * sizeof(cb_expr *));
    if (roots == NULL) {
        return false;
    }
    for (int o = 0; o < s->n_aux; o++) {
        int k = s->aux_order[o];
        roots[0] = st->need_val[k] ? s->eqs[s->aux_eq[k]].rhs : NULL;
        for (int r = 0; r < n; r++) {
            roots[r + 1] = st->res[r].need_tan[k] ? st->res[r].tan[k] : NULL;
        }
        if (!emit_group(em, roots, n + 1, em->aux_sym[k], sb)) {
            return false;
        }
        if (roots[0] != NULL) {
            emit_decl(em, "a_", k, roots[0], sb);
        }
        for (int r = 0; r < n; r++) {
            if (roots[r + 1] != NULL) {
                st->res[r].tan[k] = roots[r + 1];
            }
        }
    }
    for (int i = 0; i < n; i++) {
        const prop_result *r = &st->res[i];
        cb_sb body;
        cb_sb_init(&body);
        for (int o = 0; o < s->n_aux; o++) {
            int k = s->aux_order[o];
            if (r->need_tan[k]) {
                emit_decl(em, "da_", k, r->tan[k], &body);
            }
        }
        cb_expr *root = r->out[i];
        bool ok = emit_group(em, &root, 1, NULL, &body);
        bool block = body.len > 0;
        cb_sb_line(sb, "// d(d%s)/d%s", s->state_names[i],
                   s->state_names[i]);
        if (block) {
            cb_sb_line(sb, "{");
            cb_sb_indent(sb);
            cb_sb_puts(sb, cb_sb_str(&body));
        }
        if (body.failed) {
            sb->failed = true;
        }
        cb_sb_free(&body);
        if (!ok) {
            return false;
        }
        cb_sb text;
        expr_text(em, root, sb, &text);
        cb_sb_printf(sb, "out[%d] = ", i);
        put_text(sb, &text, ";\n");
        if (block) {
            cb_sb_dedent(sb);
            cb_sb_line(sb, "}");
        }
    }
    return true;
}

static cubie_status emit(const struct cubie_system *s, bool dbl,
                         emit_mode mode, cb_sb *sb, cubie_error *err)
{
    if (s == NULL || sb == NULL) {
        return cb_fail(err, CUBIE_E_ARG, "", 0,
                       "derivative emitter: NULL argument");
    }
    emit_state st;
    bool ok = emit_state_init(&st, s, mode) && run_propagation(&st, mode);
    emitter em = {s, dbl, &st.arena, st.p.aux_sym, {NULL, 0, 0, 0, false},
                  0};
    if (ok) {
        ok = mode == MODE_DIAG ? emit_diag_body(&em, &st, sb)
                               : emit_body(&em, &st, sb);
    }
    ok = ok && !em.cse.nomem && !st.arena.failed && !sb->failed;
    free(em.cse.slots);
    emit_state_free(&st);
    return ok ? CUBIE_OK : cb_fail_nomem(err);
}

cubie_status cb_emit_jvp_body(const struct cubie_system *s, bool is_double,
                              cb_sb *out, cubie_error *err)
{
    return emit(s, is_double, MODE_JVP, out, err);
}

cubie_status cb_emit_dfdt_body(const struct cubie_system *s, bool is_double,
                               cb_sb *out, cubie_error *err)
{
    return emit(s, is_double, MODE_DFDT, out, err);
}

cubie_status cb_emit_jac_diag_body(const struct cubie_system *s,
                                   bool is_double, cb_sb *out,
                                   cubie_error *err)
{
    return emit(s, is_double, MODE_DIAG, out, err);
}
