/* Generator utilities: an arena for per-compile temporaries, a string
 * builder for every piece of emitted text, and error recording.
 * Nothing here knows about devices. */
#ifndef CB_UTIL_H
#define CB_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "cubie_status.h"

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
/* Return the status of call from the enclosing function unless it is
 * CUBIE_OK. */
#define CB_TRY(call)                                \
    do {                                            \
        const cubie_status cb_try_st_ = (call);     \
        if (cb_try_st_ != CUBIE_OK) {               \
            return cb_try_st_;                      \
        }                                           \
    } while (0)
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

/* ---- literals: the one printer of real numbers in generated code.
 * Append a literal for v in the precision (e.g. "0.5f", "-2.0", "1e-05f").
 * Negative values are parenthesised: "(-2.0f)". Values that have no
 * literal print as constant expressions: inf "(1.0f / 0.0f)", NaN
 * "(0.0f / 0.0f)"; in float mode a value beyond float's range prints as
 * the inf or zero it rounds to. */
void cb_print_real(double v, bool is_double, cb_sb *out);
/* The same text into a buffer ("0.5f", "(-2.0)"). */
void cb_real_literal(char out[48], bool is_double, double v);

/* ---- generated text: whether the identifier occurs in C code as a
 * whole token, outside comments, string and character literals. */
bool cb_ident_used(const char *code, const char *ident);

/* The same question for n identifiers at once, in one reading of the
 * code: used[i] is set when names[i] occurs (and left alone otherwise). */
void cb_idents_used(const char *code, const char *const *names, size_t n,
                    bool *used);

/* ---- numbers: a shortest round-trip decimal for a double (%.17g that
 * is re-read and shortened), always with a '.' or exponent. */
void cb_format_double(char out[40], double v);

#endif
