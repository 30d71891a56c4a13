/* Generator utilities: an arena for per-compile temporaries, a string
 * builder for every piece of emitted text, and error recording.
 * Nothing here knows about devices. */
#ifndef CB_UTIL_H
#define CB_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "cubie.h"

#if defined(__GNUC__)
#define CB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CB_PRINTF(f, a)
#endif

/* ---- arena: temporaries of one compile, freed in one call ------------ */
typedef struct cb_arena_block cb_arena_block;
typedef struct {
    cb_arena_block *head; /* newest block first */
    bool failed;          /* an allocation failed (sticky) */
} cb_arena;

void cb_arena_init(cb_arena *a);
/* Zeroed memory, or NULL (and a->failed) when out of memory. */
void *cb_arena_alloc(cb_arena *a, size_t size);
char *cb_arena_strdup(cb_arena *a, const char *s);
char *cb_arena_strndup(cb_arena *a, const char *s, size_t n);
void cb_arena_free(cb_arena *a);

/* ---- string builder: the first allocation failure is sticky, so
 * emitters are straight-line code that checks sb->failed once. Text is
 * indented by `indent` levels of four spaces at each line start. */
typedef struct {
    char *buf;
    size_t len, cap;
    int indent;
    bool failed;
} cb_sb;

void cb_sb_init(cb_sb *sb);
void cb_sb_free(cb_sb *sb);
void cb_sb_printf(cb_sb *sb, const char *fmt, ...) CB_PRINTF(2, 3);
void cb_sb_vprintf(cb_sb *sb, const char *fmt, va_list ap);
void cb_sb_puts(cb_sb *sb, const char *s);
void cb_sb_putn(cb_sb *sb, const char *s, size_t n);
/* One line: indentation, the formatted text, a newline. */
void cb_sb_line(cb_sb *sb, const char *fmt, ...) CB_PRINTF(2, 3);
void cb_sb_indent(cb_sb *sb);
void cb_sb_dedent(cb_sb *sb);
/* Hand the text to the caller (malloc-owned, NUL-terminated) and reset. */
char *cb_sb_take(cb_sb *sb);
/* The text so far (borrowed, NUL-terminated, "" when empty). */
const char *cb_sb_str(const cb_sb *sb);

/* ---- errors: record the first failure in err (may be NULL) and return
 * its status, so a call site reads `return cb_fail(err, ...);`. */
cubie_status cb_fail(cubie_error *err, cubie_status st, const char *path,
                     int column, const char *fmt, ...) CB_PRINTF(5, 6);
cubie_status cb_fail_nomem(cubie_error *err);

/* ---- names: whether `name` is `canonical` or one of the space-separated
 * `aliases` (may be NULL), ignoring case. */
bool cb_name_known_as(const char *name, const char *canonical,
                      const char *aliases);

/* ---- files: the whole file, NUL-terminated (malloc), its length in
 * *len (may be NULL); NULL when it cannot be read. */
char *cb_read_file(const char *path, size_t *len);

/* ---- a C literal of v for the precision ("0.5f", "(-2.0)"). */
void cb_real_literal(char out[48], bool is_double, double v);

/* ---- numbers: a shortest round-trip decimal for a double (%.17g that
 * is re-read and shortened), always with a '.' or exponent. */
void cb_format_double(char out[40], double v);

#endif
