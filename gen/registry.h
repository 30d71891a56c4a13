/* The buffer registry: every component asks it for its per-run buffers
 * instead of computing offsets itself (docs/ARCHITECTURE.md, "The buffer
 * registry"; the semantics are the Python original's buffer_registry.py).
 *
 * A registry belongs to one compile. Owners (the loop, the algorithm step,
 * the controller, Newton, the linear solver, ...) are groups of buffers in
 * registration order. Layouts are built lazily and deterministically:
 *   phase 1 plain shared, phase 2 plain persistent-local, phase 3 plain
 *   local (a zero-size local still gets 1 element), phase 4 aliases in
 *   order. An alias overlaps its target only when the target already sits
 *   in shared memory with room left (several aliases pack one after another
 *   inside it); otherwise it falls back to space of its own kind.
 * Real buffers (the owner's precision) and int32 buffers live in separate
 * pools: an int buffer is never a reinterpreted view of a float pool.
 *
 * The allocator is C text for the generated kernel with literal offsets:
 *   real *stage_rhs = shared + 12;      int *counters = persistent_i + 0;
 *   real stage_accumulator[3];          int proposed_counters[2];
 * The pool variables a component's code sees are named shared, persistent,
 * shared_i and persistent_i. A buffer of several rows can be read through
 * named row views (`real *stage_2 = stage_accumulator + 3;`), so that the
 * registry, not the emitter, knows where a row starts.
 *
 * The generator freezes the registry before it emits anything
 * (cb_registry_freeze): every layout is built then, every later change is
 * refused, and emitters declare the buffers their code uses
 * (cb_declare_used); after emission cb_registry_check_declared fails
 * when a registered buffer with room was never declared.
 */
#ifndef CB_REGISTRY_H
#define CB_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

typedef enum { CB_LOC_LOCAL = 0, CB_LOC_SHARED = 1 } cb_location;
typedef enum { CB_PREC_F32 = 0, CB_PREC_F64 = 1, CB_PREC_I32 = 2 } cb_prec;
typedef enum {
    CB_POOL_SHARED = 0,     /* per-run slice of dynamic shared memory */
    CB_POOL_PERSISTENT = 1, /* one local array per run, lives all run */
    CB_POOL_LOCAL = 2       /* declared where used */
} cb_pool;

typedef struct cb_registry cb_registry;
typedef struct cb_owner cb_owner;

/* Where a buffer landed after layout. */
typedef struct {
    cb_pool pool;
    bool is_int;       /* int32 pool rather than the real pool */
    size_t offset;     /* into the pool (0 for local) */
    size_t size;       /* elements requested */
    size_t alloc;      /* elements declared (max(size,1) for local) */
    bool overlapped;   /* an alias placed inside its target */
} cb_placement;

/* Element counts of one owner's pools (real and int separately). */
typedef struct {
    size_t shared, persistent, local;
    size_t shared_int, persistent_int, local_int;
} cb_sizes;

/* Caller frees with cb_registry_free (which frees every owner). NULL when
 * out of memory. */
cb_registry *cb_registry_new(void);
void cb_registry_free(cb_registry *r);

/* Find or create the owner called name whose real buffers have precision
 * prec (CB_PREC_F32 or CB_PREC_F64). Asking again with another precision
 * is an error. *out is borrowed until cb_registry_free. */
cubie_status cb_registry_owner(cb_registry *r, const char *name, cb_prec prec,
                               cb_owner **out, cubie_error *err);
/* NULL when unknown. */
cb_owner *cb_registry_find(const cb_registry *r, const char *name);
const char *cb_owner_name(const cb_owner *o);
cb_prec cb_owner_precision(const cb_owner *o);

/* Register a buffer. Errors (checked in this order): empty or non-C-
 * identifier name, self-alias, alias of an unknown (or later) buffer,
 * duplicate name, precision other than the owner's or CB_PREC_I32, an int
 * alias of a real buffer or the reverse. aliases may be NULL. */
cubie_status cb_register(cb_owner *o, const char *name, size_t size,
                         cb_location loc, bool persistent, const char *aliases,
                         cb_prec prec, cubie_error *err);

/* Change fields of a registered buffer; only the fields flagged in `set`
 * change. *recognized is false for an unknown name (not an error);
 * *changed tells whether anything differed (layouts are invalidated only
 * then). */
enum {
    CB_UPD_SIZE = 1,
    CB_UPD_LOCATION = 2,
    CB_UPD_PERSISTENT = 4,
    CB_UPD_ALIASES = 8,
    CB_UPD_PRECISION = 16
};
typedef struct {
    unsigned set;
    size_t size;
    cb_location loc;
    bool persistent;
    const char *aliases; /* NULL or "" removes the alias */
    cb_prec prec;
} cb_buffer_update;
cubie_status cb_update_buffer(cb_owner *o, const char *name,
                              const cb_buffer_update *u, bool *recognized,
                              bool *changed, cubie_error *err);

/* Apply an option `<buffer>_location` = "shared" | "local". A key that
 * does not end in _location, or names no buffer of this owner, leaves
 * *recognized false; a bad value is CUBIE_E_OPTION. */
cubie_status cb_update_location(cb_owner *o, const char *key,
                                const char *value, bool *recognized,
                                cubie_error *err);

/* Roll the child's current shared and persistent totals up into the
 * parent as {name}_shared / {name}_persistent (and, for int pools,
 * {name}_shared_i / {name}_persistent_i), so the child receives slices of
 * the parent's pools as its own. Sizes are snapshots: call again after the
 * child grows (a repeated call refreshes the roll-ups). */
cubie_status cb_register_child(cb_owner *parent, cb_owner *child,
                               const char *name, cubie_error *err);

void cb_clear_layout(cb_owner *o);
/* Drop the owner's own buffers; its children keep theirs. */
void cb_clear_own(cb_owner *o);
/* Drop the owner's buffers and, recursively, its children's. */
void cb_clear_parent(cb_owner *o);
/* Clear every owner. */
void cb_registry_reset(cb_registry *r);

/* Build (if needed) and return the owner's pool sizes. Fails when an alias
 * target disappeared through an update or clear. */
cubie_status cb_owner_sizes(cb_owner *o, cb_sizes *out, cubie_error *err);
/* The three size queries of the original (real pools; 0 on error). */
size_t cb_shared_buffer_size(cb_owner *o);
size_t cb_persistent_local_buffer_size(cb_owner *o);
size_t cb_local_buffer_size(cb_owner *o);
/* Sum of the sizes of the named non-aliased buffers (unknown names: 0). */
size_t cb_nonaliased_elements(cb_owner *o, const char *const *names,
                              size_t n_names);
/* Plain-local elements of the owner and all its children (recursive) plus
 * the owner's persistent elements. */
size_t cb_declared_local_elements(cb_owner *o);
/* Number of own buffers that are not child roll-ups, and the i-th name. */
size_t cb_relocatable_count(const cb_owner *o);
const char *cb_relocatable_name(const cb_owner *o, size_t i);
/* The location the i-th of them asks for (its registration's, or the
 * last `<buffer>_location` applied), which is not always the pool it
 * lands in (an alias may overlap a shared target); local out of range. */
cb_location cb_relocatable_location(const cb_owner *o, size_t i);

cubie_status cb_placement_of(cb_owner *o, const char *name, cb_placement *out,
                             cubie_error *err);

/* Append the declaration of buffer `name` to out (one line, indented by
 * the builder). With zero, also emit a loop that zeroes it. */
cubie_status cb_get_allocator(cb_owner *o, const char *name, bool zero,
                              cb_sb *out, cubie_error *err);

/* ---- rows, freezing, declarations ---- */
enum { CB_MAX_ROWS = 64 };

/* Give buffer `name` (rows * row_len elements) rows with views named by
 * the printf format (one %d, numbered from first): "stage_%d", 1 gives
 * stage_1, stage_2, ... Emitters then write stage_2[i], never an offset. */
cubie_status cb_buffer_rows(cb_owner *o, const char *name, size_t rows,
                            size_t row_len, const char *format, int first,
                            cubie_error *err);
/* The view of row i of buffer name, or NULL. Borrowed. */
const char *cb_row_name(const cb_owner *o, const char *name, size_t i);

/* Build every owner's layout and freeze it: afterwards registrations,
 * updates and roll-ups fail, clears are ignored, and queries read the
 * frozen layout. */
cubie_status cb_registry_freeze(cb_registry *r, cubie_error *err);
bool cb_registry_frozen(const cb_registry *r);

/* Append, in registration order, the declaration of every buffer of o
 * whose name (or one of whose row views) occurs in code, and of the views
 * that occur; with zero, plain buffers are zeroed (roll-ups, which are
 * slices of pools, never). Requires a frozen registry. */
cubie_status cb_declare_used(cb_owner *o, const char *code, bool zero,
                             cb_sb *out, cubie_error *err);
/* Visit each plain buffer of o placed in local memory with room, in
 * registration order: its name, elements and whether it is int. The host
 * lanes (templates/lanes.cu) keep these per lane between passes. Requires
 * a frozen registry. */
typedef void (*cb_local_visit)(void *ctx, const char *name, size_t size,
                               bool is_int);
cubie_status cb_owner_locals(cb_owner *o, cb_local_visit visit, void *ctx,
                             cubie_error *err);
/* CUBIE_E_CODEGEN naming the first registered buffer with room that no
 * code declared (cb_declare_used or cb_get_allocator). */
cubie_status cb_registry_check_declared(const cb_registry *r,
                                        cubie_error *err);

/* Append a human-readable layout table of the owner to out. */
cubie_status cb_owner_describe(cb_owner *o, cb_sb *out, cubie_error *err);

#endif
