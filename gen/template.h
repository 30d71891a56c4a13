/* The template expander: the .cu files of templates/ are real CUDA C
 * fragments with markers `/ * @NAME argument@ * /` (without the spaces)
 * where generated text goes. A marker alone on its line is replaced by lines indented
 * like it; a marker inside a line by text in place, continued under the
 * marker's column. A deferred marker is filled after the rest of its
 * function has been written, from that text (the scope): a function's
 * parameter list from what its body uses, a declaration block from what
 * follows it. Deferred markers are filled function by function in the
 * order the functions appear, and backwards within a function, so a
 * call's arguments are known when the caller's parameters are. */
#ifndef CB_TEMPLATE_H
#define CB_TEMPLATE_H

#include "ctx.h"

typedef struct {
    const char *name;   /* the marker's first word */
    bool deferred;
    /* arg: the rest of the marker; scope: the text from the marker to the
     * end of its function (deferred markers; "" otherwise); col: the
     * marker's column, for text continued on further lines. */
    cubie_status (*emit)(cb_ctx *c, const char *arg, const char *scope,
                         int col, cb_sb *out);
} cb_marker;

/* The embedded template called name (e.g. "loop.cu"), or NULL. */
const char *cb_template(const char *name);

/* Expand the templates (a NULL-terminated list of names), one after the
 * other, with the markers of the table (terminated by name NULL). */
cubie_status cb_expand_templates(cb_ctx *c, const char *const *names,
                                 const cb_marker *markers, cb_sb *out);

/* The declaration of kernel argument k as device functions write it
 * (restrict_: as the kernel's own signature does). gen/loop.c. */
const char *cb_karg_decl(cb_karg k, bool restrict_);

#endif
