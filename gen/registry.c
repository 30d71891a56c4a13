/* The buffer registry (see registry.h for the contract, docs/ARCHITECTURE.md
 * "The buffer registry" for why it exists and the rules of the Python
 * original, which are reproduced exactly).
 *
 * Data model: a registry is a list of owners; an owner is an ordered list
 * of buffers plus the children recorded by cb_register_child. Layout
 * results live in the buffers themselves and are valid while
 * owner->layout_valid is set; any change clears it and the next query
 * rebuilds everything (the original builds all three layouts together, so
 * the result never depends on which query came first).
 */
#include "registry.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;
    size_t size;
    cb_location loc;
    bool persistent;
    char *aliases;  /* NULL when not an alias */
    cb_prec prec;
    bool is_rollup; /* registered by cb_register_child */
    size_t rows;    /* > 1: read through row views (cb_buffer_rows) */
    size_t row_len;
    char **row_names; /* rows names of the views */
    bool declared;  /* some generated code declared it */
    /* Layout results, valid while the owner's layout_valid is set. */
    cb_placement pl;
    bool placed;   /* placed by the current pass */
    size_t consumed; /* elements of this buffer taken by its aliases */
    size_t target; /* index of the alias target, resolved per build */
} cb_buffer;

typedef struct {
    char *name;      /* base name of the roll-ups */
    cb_owner *child; /* borrowed: owned by the same registry */
} cb_child;

struct cb_owner {
    cb_registry *reg;
    char *name;
    cb_prec prec;
    cb_buffer *bufs;
    size_t n_bufs, cap_bufs;
    cb_child *kids;
    size_t n_kids, cap_kids;
    bool layout_valid;
    cb_sizes sizes;
    unsigned long mark; /* visit stamp of recursive walks (cycle guard) */
};

struct cb_registry {
    bool frozen;    /* cb_registry_freeze: layouts fixed, no more changes */
    cb_owner **owners;
    size_t n_owners, cap_owners;
    unsigned long mark_gen; /* last stamp handed out to a walk */
};

/* ---- small helpers --------------------------------------------------- */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p != NULL) {
        memcpy(p, s, n);
    }
    return p;
}

/* Grow *p (of *cap elements of elem bytes) to hold at least need. */
static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return true;
    }
    size_t cap2 = *cap ? *cap : 8;
    while (cap2 < need) {
        if (cap2 > SIZE_MAX / 2) {
            return false;
        }
        cap2 *= 2;
    }
    if (cap2 > SIZE_MAX / elem) {
        return false;
    }
    void *q = realloc(*p, cap2 * elem);
    if (q == NULL) {
        return false;
    }
    *p = q;
    *cap = cap2;
    return true;
}

static const char *prec_name(cb_prec p)
{
    switch (p) {
    case CB_PREC_F32:
        return "float32";
    case CB_PREC_F64:
        return "float64";
    case CB_PREC_I32:
        return "int32";
    }
    return "unknown precision";
}

static bool is_ident(const char *s)
{
    if (s == NULL || s[0] == '\0') {
        return false;
    }
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
          s[0] == '_')) {
        return false;
    }
    for (const char *c = s + 1; *c != '\0'; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || *c == '_')) {
            return false;
        }
    }
    return true;
}

/* Names that would break the emitted declaration: C keywords, the `real`
 * typedef, the pool variables and the zeroing loop's counter. */
static bool is_reserved(const char *s)
{
    static const char *const words[] = {
        "auto", "break", "case", "char", "const", "continue", "default",
        "do", "double", "else", "enum", "extern", "float", "for", "goto",
        "if", "inline", "int", "long", "register", "restrict", "return",
        "short", "signed", "sizeof", "static", "struct", "switch",
        "typedef", "union", "unsigned", "void", "volatile", "while",
        "_Alignas", "_Alignof", "_Atomic", "_Bool", "_Complex", "_Generic",
        "_Imaginary", "_Noreturn", "_Static_assert", "_Thread_local",
        "real", "shared", "persistent", "shared_i", "persistent_i", "cb_i",
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcmp(s, words[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool prec_is_int(cb_prec p)
{
    return p == CB_PREC_I32;
}

static cb_buffer *find_buf(const cb_owner *o, const char *name)
{
    for (size_t i = 0; i < o->n_bufs; i++) {
        if (strcmp(o->bufs[i].name, name) == 0) {
            return &o->bufs[i];
        }
    }
    return NULL;
}

static void free_rows(cb_buffer *b)
{
    for (size_t i = 0; b->row_names != NULL && i < b->rows; i++) {
        free(b->row_names[i]);
    }
    free(b->row_names);
    b->row_names = NULL;
    b->rows = 0;
    b->row_len = 0;
}

static void free_buf(cb_buffer *b)
{
    free(b->name);
    free(b->aliases);
    free_rows(b);
}

/* Changes after cb_registry_freeze are refused: the layout emitters read
 * must not move under them. */
static cubie_status check_unfrozen(const cb_owner *o, const char *what,
                                   cubie_error *err)
{
    if (o->reg->frozen) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "owner '%s': %s after the layout was frozen", o->name,
                       what);
    }
    return CUBIE_OK;
}

/* Drop buffers and child records, keeping the owner itself (its pointer is
 * borrowed by callers until cb_registry_free). */
static void clear_buffers(cb_owner *o)
{
    for (size_t i = 0; i < o->n_bufs; i++) {
        free_buf(&o->bufs[i]);
    }
    free(o->bufs);
    o->bufs = NULL;
    o->n_bufs = 0;
    o->cap_bufs = 0;
    o->layout_valid = false;
}

static void clear_kids(cb_owner *o)
{
    for (size_t i = 0; i < o->n_kids; i++) {
        free(o->kids[i].name);
    }
    free(o->kids);
    o->kids = NULL;
    o->n_kids = 0;
    o->cap_kids = 0;
}

/* ---- registry and owners ---------------------------------------------- */

cb_registry *cb_registry_new(void)
{
    return calloc(1, sizeof(cb_registry));
}

void cb_registry_free(cb_registry *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n_owners; i++) {
        cb_owner *o = r->owners[i];
        clear_buffers(o);
        clear_kids(o);
        free(o->name);
        free(o);
    }
    free(r->owners);
    free(r);
}

cubie_status cb_registry_owner(cb_registry *r, const char *name, cb_prec prec,
                               cb_owner **out, cubie_error *err)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (r == NULL || name == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cb_registry_owner: NULL argument");
    }
    if (name[0] == '\0') {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "owner name is empty");
    }
    if (prec != CB_PREC_F32 && prec != CB_PREC_F64) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "owner '%s': precision must be float32 or float64, "
                       "got %s", name, prec_name(prec));
    }
    cb_owner *o = cb_registry_find(r, name);
    if (o != NULL) {
        if (o->prec != prec) {
            return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                           "owner '%s' already has precision %s; requested "
                           "%s", name, prec_name(o->prec), prec_name(prec));
        }
        *out = o;
        return CUBIE_OK;
    }
    if (!grow((void **)&r->owners, &r->cap_owners, r->n_owners + 1,
              sizeof(*r->owners))) {
        return cb_fail_nomem(err);
    }
    o = calloc(1, sizeof(*o));
    if (o == NULL) {
        return cb_fail_nomem(err);
    }
    o->name = dup_str(name);
    if (o->name == NULL) {
        free(o);
        return cb_fail_nomem(err);
    }
    o->reg = r;
    o->prec = prec;
    r->owners[r->n_owners++] = o;
    *out = o;
    return CUBIE_OK;
}

cb_owner *cb_registry_find(const cb_registry *r, const char *name)
{
    if (r == NULL || name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < r->n_owners; i++) {
        if (strcmp(r->owners[i]->name, name) == 0) {
            return r->owners[i];
        }
    }
    return NULL;
}

const char *cb_owner_name(const cb_owner *o)
{
    return o != NULL ? o->name : NULL;
}

cb_prec cb_owner_precision(const cb_owner *o)
{
    return o != NULL ? o->prec : CB_PREC_F32;
}

/* ---- registration ----------------------------------------------------- */

static cubie_status check_name(const cb_owner *o, const char *name,
                               cubie_error *err)
{
    if (name == NULL || name[0] == '\0') {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "owner '%s': buffer name is empty", o->name);
    }
    if (!is_ident(name)) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "buffer '%s' of owner '%s': name is not a C "
                       "identifier", name, o->name);
    }
    if (is_reserved(name)) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "buffer '%s' of owner '%s': name is reserved in the "
                       "generated code", name, o->name);
    }
    return CUBIE_OK;
}

static cubie_status check_prec(const cb_owner *o, const char *name,
                               cb_prec prec, cubie_error *err)
{
    if (prec != o->prec && prec != CB_PREC_I32) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "buffer '%s' of owner '%s' has precision %s; the "
                       "owner allows only %s or int32", name, o->name,
                       prec_name(prec), prec_name(o->prec));
    }
    return CUBIE_OK;
}

static cubie_status check_loc(const cb_owner *o, const char *name,
                              cb_location loc, cubie_error *err)
{
    if (loc != CB_LOC_LOCAL && loc != CB_LOC_SHARED) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "buffer '%s' of owner '%s': invalid location %d",
                       name, o->name, (int)loc);
    }
    return CUBIE_OK;
}

static cubie_status kind_mismatch(const cb_owner *o, const char *alias,
                                  cb_prec alias_prec, const cb_buffer *target,
                                  cubie_error *err)
{
    return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                   "buffer '%s' of owner '%s' (%s) cannot alias '%s' (%s): "
                   "int and real buffers live in separate pools",
                   alias, o->name, prec_name(alias_prec), target->name,
                   prec_name(target->prec));
}

/* Append a buffer whose strings are already allocated (ownership moves
 * to the owner). The caller has reserved capacity, so this cannot fail. */
static void append_buf(cb_owner *o, char *name, size_t size, cb_location loc,
                       bool persistent, char *aliases, cb_prec prec,
                       bool is_rollup)
{
    cb_buffer *b = &o->bufs[o->n_bufs++];
    memset(b, 0, sizeof(*b));
    b->name = name;
    b->size = size;
    b->loc = loc;
    b->persistent = persistent;
    b->aliases = aliases;
    b->prec = prec;
    b->is_rollup = is_rollup;
    o->layout_valid = false;
}

cubie_status cb_register(cb_owner *o, const char *name, size_t size,
                         cb_location loc, bool persistent, const char *aliases,
                         cb_prec prec, cubie_error *err)
{
    if (o == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cb_register: NULL owner");
    }
    if (aliases != NULL && aliases[0] == '\0') {
        aliases = NULL; /* "" means no alias, as in cb_update_buffer */
    }
    CB_TRY(check_unfrozen(o, "a buffer registered", err));
    /* Checked in the documented order, so a caller sees the first
     * problem a reader of the call would notice. */
    cubie_status st = check_name(o, name, err);
    if (st != CUBIE_OK) {
        return st;
    }
    if (aliases != NULL && strcmp(aliases, name) == 0) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "buffer '%s' of owner '%s' cannot alias itself",
                       name, o->name);
    }
    const cb_buffer *target = NULL;
    if (aliases != NULL) {
        target = find_buf(o, aliases);
        if (target == NULL) {
            return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                           "buffer '%s' of owner '%s' aliases '%s', which "
                           "is not registered; register '%s' before '%s'",
                           name, o->name, aliases, aliases, name);
        }
    }
    if (find_buf(o, name) != NULL) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "buffer '%s' of owner '%s' is already registered "
                       "(change it with cb_update_buffer)", name, o->name);
    }
    st = check_prec(o, name, prec, err);
    if (st != CUBIE_OK) {
        return st;
    }
    if (target != NULL && prec_is_int(prec) != prec_is_int(target->prec)) {
        return kind_mismatch(o, name, prec, target, err);
    }
    st = check_loc(o, name, loc, err);
    if (st != CUBIE_OK) {
        return st;
    }
    if (!grow((void **)&o->bufs, &o->cap_bufs, o->n_bufs + 1,
              sizeof(*o->bufs))) {
        return cb_fail_nomem(err);
    }
    char *n = dup_str(name);
    char *a = aliases != NULL ? dup_str(aliases) : NULL;
    if (n == NULL || (aliases != NULL && a == NULL)) {
        free(n);
        free(a);
        return cb_fail_nomem(err);
    }
    append_buf(o, n, size, loc, persistent, a, prec, false);
    return CUBIE_OK;
}

/* ---- updates ---------------------------------------------------------- */

static bool same_alias(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

cubie_status cb_update_buffer(cb_owner *o, const char *name,
                              const cb_buffer_update *u, bool *recognized,
                              bool *changed, cubie_error *err)
{
    if (recognized != NULL) {
        *recognized = false;
    }
    if (changed != NULL) {
        *changed = false;
    }
    if (o == NULL || name == NULL || u == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cb_update_buffer: NULL argument");
    }
    cb_buffer *b = find_buf(o, name);
    if (b == NULL) {
        return CUBIE_OK; /* not this owner's buffer: the caller moves on */
    }
    if (recognized != NULL) {
        *recognized = true;
    }
    CB_TRY(check_unfrozen(o, "a buffer updated", err));
    const char *alias = NULL;
    if ((u->set & CB_UPD_ALIASES) && u->aliases != NULL &&
        u->aliases[0] != '\0') {
        alias = u->aliases;
    }
    /* Validate everything before touching the entry, so a failed update
     * leaves it as it was. A missing alias target is reported when the
     * layout is built (the target may be registered in between). */
    cubie_status st = CUBIE_OK;
    if (u->set & CB_UPD_PRECISION) {
        st = check_prec(o, name, u->prec, err);
    }
    if (st == CUBIE_OK && (u->set & CB_UPD_LOCATION)) {
        st = check_loc(o, name, u->loc, err);
    }
    if (st == CUBIE_OK && alias != NULL && strcmp(alias, name) == 0) {
        st = cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                     "buffer '%s' of owner '%s' cannot alias itself", name,
                     o->name);
    }
    if (st != CUBIE_OK) {
        return st;
    }

    bool diff = false;
    if ((u->set & CB_UPD_SIZE) && u->size != b->size) {
        diff = true;
    }
    if ((u->set & CB_UPD_LOCATION) && u->loc != b->loc) {
        diff = true;
    }
    if ((u->set & CB_UPD_PERSISTENT) && u->persistent != b->persistent) {
        diff = true;
    }
    if ((u->set & CB_UPD_PRECISION) && u->prec != b->prec) {
        diff = true;
    }
    bool alias_diff = (u->set & CB_UPD_ALIASES) && !same_alias(alias,
                                                             b->aliases);
    if (!diff && !alias_diff) {
        return CUBIE_OK; /* nothing differs: keep the cached layout */
    }
    if (alias_diff) {
        char *a = NULL;
        if (alias != NULL) {
            a = dup_str(alias);
            if (a == NULL) {
                return cb_fail_nomem(err);
            }
        }
        free(b->aliases);
        b->aliases = a;
    }
    if (u->set & CB_UPD_SIZE) {
        b->size = u->size;
    }
    if (u->set & CB_UPD_LOCATION) {
        b->loc = u->loc;
    }
    if (u->set & CB_UPD_PERSISTENT) {
        b->persistent = u->persistent;
    }
    if (u->set & CB_UPD_PRECISION) {
        b->prec = u->prec;
    }
    o->layout_valid = false;
    if (changed != NULL) {
        *changed = true;
    }
    return CUBIE_OK;
}

cubie_status cb_update_location(cb_owner *o, const char *key,
                                const char *value, bool *recognized,
                                cubie_error *err)
{
    static const char suffix[] = "_location";
    const size_t n_suffix = sizeof(suffix) - 1;
    if (recognized != NULL) {
        *recognized = false;
    }
    if (o == NULL || key == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cb_update_location: NULL argument");
    }
    size_t n = strlen(key);
    if (n <= n_suffix || strcmp(key + n - n_suffix, suffix) != 0) {
        return CUBIE_OK; /* not a location option */
    }
    /* As in the original, the value is checked before the buffer name, so
     * a bad value is reported even when this owner lacks the buffer. */
    cb_location loc;
    if (value != NULL && strcmp(value, "shared") == 0) {
        loc = CB_LOC_SHARED;
    } else if (value != NULL && strcmp(value, "local") == 0) {
        loc = CB_LOC_LOCAL;
    } else {
        return cb_fail(err, CUBIE_E_OPTION, key, 0,
                       "option '%s' of owner '%s': invalid location '%s' "
                       "(expected 'shared' or 'local')", key, o->name,
                       value != NULL ? value : "(null)");
    }
    char *name = malloc(n - n_suffix + 1);
    if (name == NULL) {
        return cb_fail_nomem(err);
    }
    memcpy(name, key, n - n_suffix);
    name[n - n_suffix] = '\0';
    cb_buffer_update u = {.set = CB_UPD_LOCATION, .loc = loc};
    cubie_status st = cb_update_buffer(o, name, &u, recognized, NULL, err);
    free(name);
    return st;
}

/* ---- layout ----------------------------------------------------------- */

static void place(cb_buffer *b, cb_pool pool, size_t offset)
{
    b->pl.pool = pool;
    b->pl.is_int = prec_is_int(b->prec);
    b->pl.offset = offset;
    b->pl.size = b->size;
    b->pl.alloc = b->size;
    b->pl.overlapped = false;
    b->placed = true;
}

static void place_local(cb_buffer *b, size_t *local_total)
{
    place(b, CB_POOL_LOCAL, 0);
    /* A local array needs at least one element to be declared. */
    b->pl.alloc = b->size > 0 ? b->size : 1;
    *local_total += b->pl.alloc;
}

static bool is_plain_persistent(const cb_buffer *b)
{
    return b->loc == CB_LOC_LOCAL && b->persistent;
}

static bool is_plain_local(const cb_buffer *b)
{
    return b->loc == CB_LOC_LOCAL && !b->persistent;
}

/* The four phases of the layout for the buffers of one kind (real or int);
 * alias targets are always of the same kind, so the kinds are
 * independent. */
static void layout_kind(cb_owner *o, bool want_int, size_t *shared,
                        size_t *persistent, size_t *local)
{
    size_t off_s = 0, off_p = 0, total_l = 0;
    for (size_t i = 0; i < o->n_bufs; i++) {
        cb_buffer *b = &o->bufs[i];
        if (prec_is_int(b->prec) == want_int) {
            b->placed = false;
            b->consumed = 0;
        }
    }
    /* Phases 1 to 3: the non-aliased buffers, one pool per phase. */
    for (int phase = 1; phase <= 3; phase++) {
        for (size_t i = 0; i < o->n_bufs; i++) {
            cb_buffer *b = &o->bufs[i];
            if (prec_is_int(b->prec) != want_int || b->aliases != NULL) {
                continue;
            }
            if (phase == 1 && b->loc == CB_LOC_SHARED) {
                place(b, CB_POOL_SHARED, off_s);
                off_s += b->size;
            } else if (phase == 2 && is_plain_persistent(b)) {
                place(b, CB_POOL_PERSISTENT, off_p);
                off_p += b->size;
            } else if (phase == 3 && is_plain_local(b)) {
                place_local(b, &total_l);
            }
        }
    }
    /* Phase 4: aliases in registration order. A target that is itself an
     * alias counts as shared only once it has landed there, which is why
     * the walk is in order and `placed` is checked. */
    for (size_t i = 0; i < o->n_bufs; i++) {
        cb_buffer *b = &o->bufs[i];
        if (prec_is_int(b->prec) != want_int || b->aliases == NULL) {
            continue;
        }
        cb_buffer *t = &o->bufs[b->target];
        if (t->placed && t->pl.pool == CB_POOL_SHARED &&
            b->size <= t->size - t->consumed) {
            /* Overlap: the alias's own location is ignored, even a
             * persistent local one lands in shared (as in the original). */
            place(b, CB_POOL_SHARED, t->pl.offset + t->consumed);
            b->pl.overlapped = true;
            t->consumed += b->size;
        } else if (b->loc == CB_LOC_SHARED) {
            place(b, CB_POOL_SHARED, off_s);
            off_s += b->size;
        } else if (b->persistent) {
            place(b, CB_POOL_PERSISTENT, off_p);
            off_p += b->size;
        }
    }
    /* Plain-local aliases that did not overlap come after all aliases;
     * their offsets are 0, so only the total depends on this. */
    for (size_t i = 0; i < o->n_bufs; i++) {
        cb_buffer *b = &o->bufs[i];
        if (prec_is_int(b->prec) == want_int && b->aliases != NULL &&
            !b->placed) {
            place_local(b, &total_l);
        }
    }
    *shared = off_s;
    *persistent = off_p;
    *local = total_l;
}

static cubie_status build_layout(cb_owner *o, cubie_error *err)
{
    if (o->layout_valid) {
        return CUBIE_OK;
    }
    /* Resolve alias targets first: an update or clear may have left one
     * dangling, or made an int buffer alias a real one. */
    for (size_t i = 0; i < o->n_bufs; i++) {
        cb_buffer *b = &o->bufs[i];
        if (b->aliases == NULL) {
            continue;
        }
        const cb_buffer *t = find_buf(o, b->aliases);
        if (t == NULL) {
            return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                           "buffer '%s' of owner '%s' aliases '%s', which "
                           "is not registered", b->name, o->name,
                           b->aliases);
        }
        if (prec_is_int(b->prec) != prec_is_int(t->prec)) {
            return kind_mismatch(o, b->name, b->prec, t, err);
        }
        b->target = (size_t)(t - o->bufs);
    }
    cb_sizes s;
    layout_kind(o, false, &s.shared, &s.persistent, &s.local);
    layout_kind(o, true, &s.shared_int, &s.persistent_int, &s.local_int);
    o->sizes = s;
    o->layout_valid = true;
    return CUBIE_OK;
}

/* ---- children --------------------------------------------------------- */

static const char *const rollup_suffixes[4] = {"_shared", "_persistent",
                                               "_shared_i", "_persistent_i"};

/* Whether child may be registered under name in parent. */
static cubie_status check_child(const cb_owner *parent, const cb_owner *child,
                                const char *name, cubie_error *err)
{
    if (parent == NULL || child == NULL || name == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cb_register_child: NULL argument");
    }
    if (!is_ident(name)) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "owner '%s': child name '%s' is not a C identifier",
                       parent->name, name);
    }
    CB_TRY(check_unfrozen(parent, "a child registered", err));
    if (child->reg != parent->reg) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "owner '%s': child '%s' (owner '%s') belongs to "
                       "another registry", parent->name, name, child->name);
    }
    /* One `real` per kernel: a child of another precision would get a
     * slice of the parent's pool typed as something it is not. */
    if (child->prec != parent->prec) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "owner '%s': child '%s' (owner '%s') has precision "
                       "%s, the owner %s", parent->name, name, child->name,
                       prec_name(child->prec), prec_name(parent->prec));
    }
    return CUBIE_OK;
}

static void free_names(char **names, int n)
{
    for (int k = 0; k < n; k++) {
        free(names[k]);
    }
}

/* The four roll-up names of child `name` (malloc'd into names), and how
 * many of them parent does not have yet; a name taken by a buffer that is
 * not a roll-up is an error. */
static cubie_status rollup_names(const cb_owner *parent, const char *name,
                                 char *names[4], size_t *n_new,
                                 cubie_error *err)
{
    const size_t n_name = strlen(name);
    *n_new = 0;
    for (int k = 0; k < 4; k++) {
        const size_t n_suffix = strlen(rollup_suffixes[k]);
        names[k] = malloc(n_name + n_suffix + 1);
        if (names[k] == NULL) {
            free_names(names, k);
            return cb_fail_nomem(err);
        }
        memcpy(names[k], name, n_name);
        memcpy(names[k] + n_name, rollup_suffixes[k], n_suffix + 1);
        const cb_buffer *b = find_buf(parent, names[k]);
        if (b != NULL && !b->is_rollup) {
            cubie_status st = cb_fail(
                err, CUBIE_E_REGISTRY, NULL, 0,
                "owner '%s': child roll-up '%s' clashes with a buffer "
                "registered under that name", parent->name, names[k]);
            free_names(names, k + 1);
            return st;
        }
        *n_new += b == NULL;
    }
    return CUBIE_OK;
}

cubie_status cb_register_child(cb_owner *parent, cb_owner *child,
                               const char *name, cubie_error *err)
{
    CB_TRY(check_child(parent, child, name, err));
    cb_sizes cs;
    CB_TRY(cb_owner_sizes(child, &cs, err));
    const size_t sizes[4] = {cs.shared, cs.persistent, cs.shared_int,
                             cs.persistent_int};
    const cb_location locs[4] = {CB_LOC_SHARED, CB_LOC_LOCAL, CB_LOC_SHARED,
                                 CB_LOC_LOCAL};
    const bool pers[4] = {false, true, false, true};
    const cb_prec precs[4] = {parent->prec, parent->prec, CB_PREC_I32,
                              CB_PREC_I32};

    /* Allocate everything first so that the changes below cannot fail
     * halfway (a failed call leaves the parent as it was). */
    char *names[4];
    size_t n_new = 0;
    CB_TRY(rollup_names(parent, name, names, &n_new, err));
    size_t kid = parent->n_kids;
    for (size_t i = 0; i < parent->n_kids; i++) {
        if (strcmp(parent->kids[i].name, name) == 0) {
            kid = i;
        }
    }
    char *kid_name = NULL;
    bool ok = grow((void **)&parent->bufs, &parent->cap_bufs,
                   parent->n_bufs + n_new, sizeof(*parent->bufs));
    if (ok && kid == parent->n_kids) {
        kid_name = dup_str(name);
        ok = kid_name != NULL &&
             grow((void **)&parent->kids, &parent->cap_kids,
                  parent->n_kids + 1, sizeof(*parent->kids));
    }
    if (!ok) {
        free(kid_name);
        free_names(names, 4);
        return cb_fail_nomem(err);
    }

    for (int k = 0; k < 4; k++) {
        cb_buffer *b = find_buf(parent, names[k]);
        if (b == NULL) {
            append_buf(parent, names[k], sizes[k], locs[k], pers[k], NULL,
                       precs[k], true);
            continue;
        }
        /* A refresh goes through the update path, so an unchanged child
         * keeps the parent's cached layout. It also undoes any relocation
         * or alias a caller put on the roll-up. The entries are valid, so
         * this update cannot fail. */
        cb_buffer_update u = {
            .set = CB_UPD_SIZE | CB_UPD_LOCATION | CB_UPD_PERSISTENT |
                   CB_UPD_ALIASES | CB_UPD_PRECISION,
            .size = sizes[k], .loc = locs[k], .persistent = pers[k],
            .aliases = NULL, .prec = precs[k]};
        cubie_status st = cb_update_buffer(parent, names[k], &u, NULL, NULL,
                                           err);
        free(names[k]);
        if (st != CUBIE_OK) {
            free_names(names + k + 1, 3 - k);
            free(kid_name);
            return st;
        }
    }
    if (kid == parent->n_kids) {
        parent->kids[kid].name = kid_name;
        parent->n_kids++;
    }
    parent->kids[kid].child = child;
    return CUBIE_OK;
}

/* ---- clearing --------------------------------------------------------- */

void cb_clear_layout(cb_owner *o)
{
    if (o != NULL && !o->reg->frozen) {
        o->layout_valid = false;
    }
}

void cb_clear_own(cb_owner *o)
{
    if (o == NULL || o->reg->frozen) {
        return;
    }
    /* The original drops the whole group, child records included; the
     * children's own groups stay. */
    clear_buffers(o);
    clear_kids(o);
}

void cb_clear_parent(cb_owner *o)
{
    if (o == NULL || o->reg->frozen) {
        return;
    }
    /* Detach the child records before recursing (the original's
     * pop-before-recurse): a cycle that comes back here finds no children
     * and ends. */
    cb_child *kids = o->kids;
    size_t n = o->n_kids;
    o->kids = NULL;
    o->n_kids = 0;
    o->cap_kids = 0;
    clear_buffers(o);
    for (size_t i = 0; i < n; i++) {
        cb_clear_parent(kids[i].child);
        free(kids[i].name);
    }
    free(kids);
}

void cb_registry_reset(cb_registry *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n_owners; i++) {
        cb_clear_parent(r->owners[i]);
    }
}

/* ---- queries ---------------------------------------------------------- */

cubie_status cb_owner_sizes(cb_owner *o, cb_sizes *out, cubie_error *err)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (o == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cb_owner_sizes: NULL argument");
    }
    cubie_status st = build_layout(o, err);
    if (st == CUBIE_OK) {
        *out = o->sizes;
    }
    return st;
}

size_t cb_shared_buffer_size(cb_owner *o)
{
    cb_sizes s;
    return cb_owner_sizes(o, &s, NULL) == CUBIE_OK ? s.shared : 0;
}

size_t cb_persistent_local_buffer_size(cb_owner *o)
{
    cb_sizes s;
    return cb_owner_sizes(o, &s, NULL) == CUBIE_OK ? s.persistent : 0;
}

size_t cb_local_buffer_size(cb_owner *o)
{
    cb_sizes s;
    return cb_owner_sizes(o, &s, NULL) == CUBIE_OK ? s.local : 0;
}

size_t cb_nonaliased_elements(cb_owner *o, const char *const *names,
                              size_t n_names)
{
    if (o == NULL || names == NULL) {
        return 0;
    }
    size_t total = 0;
    for (size_t i = 0; i < n_names; i++) {
        const cb_buffer *b = names[i] != NULL ? find_buf(o, names[i]) : NULL;
        if (b != NULL && b->aliases == NULL) {
            total += b->size;
        }
    }
    return total;
}

/* Plain-local elements (real and int: the original counted its int32
 * buffers in the same pools) of o and every child reachable from it, each
 * owner once, so a cycle of children ends. */
static size_t local_walk(cb_owner *o, unsigned long mark)
{
    if (o->mark == mark) {
        return 0;
    }
    o->mark = mark;
    cb_sizes s;
    size_t total = 0;
    if (cb_owner_sizes(o, &s, NULL) == CUBIE_OK) {
        total = s.local + s.local_int;
    }
    for (size_t i = 0; i < o->n_kids; i++) {
        total += local_walk(o->kids[i].child, mark);
    }
    return total;
}

size_t cb_declared_local_elements(cb_owner *o)
{
    if (o == NULL) {
        return 0;
    }
    unsigned long mark = ++o->reg->mark_gen;
    size_t total = local_walk(o, mark);
    cb_sizes s;
    if (cb_owner_sizes(o, &s, NULL) == CUBIE_OK) {
        total += s.persistent + s.persistent_int;
    }
    return total;
}

size_t cb_relocatable_count(const cb_owner *o)
{
    if (o == NULL) {
        return 0;
    }
    size_t n = 0;
    for (size_t i = 0; i < o->n_bufs; i++) {
        if (!o->bufs[i].is_rollup) {
            n++;
        }
    }
    return n;
}

const char *cb_relocatable_name(const cb_owner *o, size_t i)
{
    if (o == NULL) {
        return NULL;
    }
    for (size_t k = 0; k < o->n_bufs; k++) {
        if (o->bufs[k].is_rollup) {
            continue;
        }
        if (i == 0) {
            return o->bufs[k].name;
        }
        i--;
    }
    return NULL;
}

cb_location cb_relocatable_location(const cb_owner *o, size_t i)
{
    for (size_t k = 0; o != NULL && k < o->n_bufs; k++) {
        if (o->bufs[k].is_rollup) {
            continue;
        }
        if (i == 0) {
            return o->bufs[k].loc;
        }
        i--;
    }
    return CB_LOC_LOCAL;
}

/* Build the layout and find `name`, with the error the callers share. */
static cubie_status lookup_placed(cb_owner *o, const char *name,
                                  cb_buffer **out, cubie_error *err)
{
    cubie_status st = build_layout(o, err);
    if (st != CUBIE_OK) {
        return st;
    }
    *out = find_buf(o, name);
    if (*out == NULL) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "buffer '%s' is not registered with owner '%s'",
                       name, o->name);
    }
    return CUBIE_OK;
}

cubie_status cb_placement_of(cb_owner *o, const char *name, cb_placement *out,
                             cubie_error *err)
{
    if (o == NULL || name == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cb_placement_of: NULL argument");
    }
    cb_buffer *b;
    cubie_status st = lookup_placed(o, name, &b, err);
    if (st == CUBIE_OK) {
        *out = b->pl;
    }
    return st;
}

/* One buffer's declaration (and its zeroing loop); then the views of the
 * rows for which want[i] holds (all of them when want is NULL). */
static void emit_decl(cb_buffer *b, bool zero, const bool *want, cb_sb *out)
{
    const cb_placement *p = &b->pl;
    const char *type = p->is_int ? "int" : "real";
    const char *sfx = p->is_int ? "_i" : "";
    b->declared = true;
    switch (p->pool) {
    case CB_POOL_SHARED:
        cb_sb_line(out, "%s *%s = shared%s + %zu;", type, b->name, sfx,
                   p->offset);
        break;
    case CB_POOL_PERSISTENT:
        cb_sb_line(out, "%s *%s = persistent%s + %zu;", type, b->name, sfx,
                   p->offset);
        break;
    case CB_POOL_LOCAL:
        cb_sb_line(out, "%s %s[%zu];", type, b->name, p->alloc);
        break;
    }
    if (zero && p->size > 0) {
        cb_sb_line(out, "for (int cb_i = 0; cb_i < %zu; ++cb_i) { "
                        "%s[cb_i] = 0; }", p->size, b->name);
    }
    for (size_t i = 0; i < b->rows; i++) {
        if (want == NULL || want[i]) {
            cb_sb_line(out, "%s *%s = %s + %zu;", type, b->row_names[i],
                       b->name, i * b->row_len);
        }
    }
}

cubie_status cb_get_allocator(cb_owner *o, const char *name, bool zero,
                              cb_sb *out, cubie_error *err)
{
    if (o == NULL || name == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cb_get_allocator: NULL argument");
    }
    cb_buffer *b;
    cubie_status st = lookup_placed(o, name, &b, err);
    if (st != CUBIE_OK) {
        return st;
    }
    emit_decl(b, zero, NULL, out);
    return out->failed ? cb_fail_nomem(err) : CUBIE_OK;
}

/* ---- rows, freezing, declarations -------------------------------------- */

cubie_status cb_buffer_rows(cb_owner *o, const char *name, size_t rows,
                            size_t row_len, const char *format, int first,
                            cubie_error *err)
{
    if (o == NULL || name == NULL || format == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cb_buffer_rows: NULL argument");
    }
    CB_TRY(check_unfrozen(o, "rows set", err));
    cb_buffer *b = find_buf(o, name);
    if (b == NULL) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "buffer '%s' is not registered with owner '%s'",
                       name, o->name);
    }
    if (rows > CB_MAX_ROWS || rows * row_len != b->size) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "buffer '%s' of owner '%s': %zu rows of %zu are not "
                       "its %zu elements (or more than %d rows)", name,
                       o->name, rows, row_len, b->size, (int)CB_MAX_ROWS);
    }
    char **names = calloc(rows + 1, sizeof(char *));
    if (names == NULL) {
        return cb_fail_nomem(err);
    }
    cubie_status st = CUBIE_OK;
    for (size_t i = 0; i < rows && st == CUBIE_OK; i++) {
        char view[128];
        snprintf(view, sizeof(view), format, first + (int)i);
        names[i] = dup_str(view);
        if (names[i] == NULL) {
            st = cb_fail_nomem(err);
        } else if (!is_ident(view) || is_reserved(view) ||
                   find_buf(o, view) != NULL) {
            st = cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                         "buffer '%s' of owner '%s': row view '%s' is not a "
                         "free C identifier", name, o->name, view);
        }
    }
    if (st != CUBIE_OK) {
        for (size_t i = 0; i < rows; i++) {
            free(names[i]);
        }
        free(names);
        return st;
    }
    free_rows(b);
    b->rows = rows;
    b->row_len = row_len;
    b->row_names = names;
    return CUBIE_OK;
}

const char *cb_row_name(const cb_owner *o, const char *name, size_t i)
{
    const cb_buffer *b = o != NULL && name != NULL ? find_buf(o, name) : NULL;
    return b != NULL && i < b->rows ? b->row_names[i] : NULL;
}

cubie_status cb_registry_freeze(cb_registry *r, cubie_error *err)
{
    if (r == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cb_registry_freeze: NULL argument");
    }
    for (size_t i = 0; i < r->n_owners; i++) {
        CB_TRY(build_layout(r->owners[i], err));
    }
    r->frozen = true;
    return CUBIE_OK;
}

bool cb_registry_frozen(const cb_registry *r)
{
    return r != NULL && r->frozen;
}

cubie_status cb_declare_used(cb_owner *o, const char *code, bool zero,
                             cb_sb *out, cubie_error *err)
{
    if (o == NULL || code == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cb_declare_used: NULL argument");
    }
    if (!o->reg->frozen) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "owner '%s': buffers declared before the layout was "
                       "frozen", o->name);
    }
    /* Every name and view of the owner, looked for in one reading. */
    size_t n = 0;
    for (size_t i = 0; i < o->n_bufs; i++) {
        n += 1 + o->bufs[i].rows;
    }
    const char **names = malloc((n + 1) * sizeof(*names));
    bool *used = calloc(n + 1, sizeof(*used));
    if (names == NULL || used == NULL) {
        free(names);
        free(used);
        return cb_fail_nomem(err);
    }
    n = 0;
    for (size_t i = 0; i < o->n_bufs; i++) {
        names[n++] = o->bufs[i].name;
        for (size_t r = 0; r < o->bufs[i].rows; r++) {
            names[n++] = o->bufs[i].row_names[r];
        }
    }
    cb_idents_used(code, names, n, used);
    n = 0;
    for (size_t i = 0; i < o->n_bufs; i++) {
        cb_buffer *b = &o->bufs[i];
        const bool *want = used + n + 1;
        bool any = used[n];
        for (size_t r = 0; r < b->rows; r++) {
            any = any || want[r];
        }
        if (any) {
            emit_decl(b, zero && !b->is_rollup, want, out);
        }
        n += 1 + b->rows;
    }
    free(names);
    free(used);
    return out->failed ? cb_fail_nomem(err) : CUBIE_OK;
}

cubie_status cb_owner_locals(cb_owner *o, cb_local_visit visit, void *ctx,
                             cubie_error *err)
{
    if (o == NULL || visit == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cb_owner_locals: NULL argument");
    }
    if (!o->reg->frozen) {
        return cb_fail(err, CUBIE_E_REGISTRY, NULL, 0,
                       "owner '%s': locals listed before the layout was "
                       "frozen", o->name);
    }
    for (size_t i = 0; i < o->n_bufs; i++) {
        const cb_buffer *b = &o->bufs[i];
        if (!b->is_rollup && b->pl.pool == CB_POOL_LOCAL && b->pl.size > 0) {
            visit(ctx, b->name, b->pl.size, b->pl.is_int);
        }
    }
    return CUBIE_OK;
}

cubie_status cb_registry_check_declared(const cb_registry *r,
                                        cubie_error *err)
{
    for (size_t i = 0; r != NULL && i < r->n_owners; i++) {
        const cb_owner *o = r->owners[i];
        for (size_t k = 0; k < o->n_bufs; k++) {
            const cb_buffer *b = &o->bufs[k];
            if (b->size > 0 && !b->declared) {
                return cb_fail(err, CUBIE_E_CODEGEN, NULL, 0,
                               "buffer '%s' of owner '%s' (%zu elements) is "
                               "registered but no generated code declares "
                               "it", b->name, o->name, b->size);
            }
        }
    }
    return CUBIE_OK;
}

static const char *pool_label(const cb_placement *p)
{
    static const char *const labels[2][3] = {
        {"shared", "persistent", "local"},
        {"shared int", "persistent int", "local int"},
    };
    return labels[p->is_int ? 1 : 0][p->pool];
}

cubie_status cb_owner_describe(cb_owner *o, cb_sb *out, cubie_error *err)
{
    if (o == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cb_owner_describe: NULL argument");
    }
    cubie_status st = build_layout(o, err);
    if (st != CUBIE_OK) {
        return st;
    }
    int w = 4; /* width of the name column, at least "name" */
    for (size_t i = 0; i < o->n_bufs; i++) {
        size_t n = strlen(o->bufs[i].name);
        if (n > (size_t)w) {
            w = n > 64 ? 64 : (int)n;
        }
    }
    cb_sb_line(out, "owner '%s' (%s): %zu buffers", o->name,
               prec_name(o->prec), o->n_bufs);
    cb_sb_line(out, "  %-*s  %-14s  %6s  %6s  %6s  %s", w, "name", "pool",
               "offset", "size", "alloc", "notes");
    for (size_t i = 0; i < o->n_bufs; i++) {
        const cb_buffer *b = &o->bufs[i];
        const cb_placement *p = &b->pl;
        char off[32] = "-";
        if (p->pool != CB_POOL_LOCAL) {
            snprintf(off, sizeof(off), "%zu", p->offset);
        }
        cb_sb_printf(out, "  %-*s  %-14s  %6s  %6zu  %6zu", w, b->name,
                     pool_label(p), off, p->size, p->alloc);
        if (b->aliases != NULL) {
            cb_sb_printf(out, "  aliases %s (%s)", b->aliases,
                         p->overlapped ? "overlapped" : "own space");
        }
        if (b->is_rollup) {
            cb_sb_puts(out, "  child roll-up");
        }
        cb_sb_puts(out, "\n");
    }
    const cb_sizes *s = &o->sizes;
    cb_sb_line(out, "  totals: shared %zu, persistent %zu, local %zu; int: "
                    "shared %zu, persistent %zu, local %zu",
               s->shared, s->persistent, s->local, s->shared_int,
               s->persistent_int, s->local_int);
    return out->failed ? cb_fail_nomem(err) : CUBIE_OK;
}
