/* Emitted device functions whose parameter lists hold only what their
 * bodies use. An emitter writes a function's body first; cb_fn_define
 * then keeps, of the candidate parameters it was given, those whose names
 * occur in the body, and records them, so that every call (cb_fn_call)
 * passes exactly those. Callees are emitted before their callers, so a
 * caller's body, and with it its own parameter list, already reflects what
 * its callees take. Nothing is cast to void, nothing unused is passed. */
#ifndef CB_FN_H
#define CB_FN_H

#include <stdbool.h>

#include "util.h"

enum { CB_FN_MAX_PARAMS = 24 };

typedef struct {
    char name[48];                        /* "cb_dxdt" */
    const char *ret;                      /* "void", "int" */
    int n;
    const char *decl[CB_FN_MAX_PARAMS];   /* "const real *state" */
    char param[CB_FN_MAX_PARAMS][32];     /* "state" */
    bool used[CB_FN_MAX_PARAMS];
    bool defined;
} cb_fn;

/* A function called name returning ret, with the candidate parameters
 * decls (NULL-terminated declarations, each ending in its name); none is
 * used until cb_fn_define or cb_fn_use_all. The strings must outlive f. */
void cb_fn_init(cb_fn *f, const char *ret, const char *name,
                const char *const *decls);
/* Mark the parameters whose names occur in code as used. */
void cb_fn_use(cb_fn *f, const char *code);
/* Whether parameter `name` is used (false for a name f does not have). */
bool cb_fn_uses(const cb_fn *f, const char *name);
/* `CB_DEVFN ret name(<the parameters body uses>)`, wrapped at 80
 * columns, then the body (indented one level already) in braces and a
 * blank line. */
void cb_fn_define(cb_fn *f, cb_sb *sb, const char *body);
/* The declarations of the used parameters, ", "-separated, wrapped
 * under the column `col` (for signatures written by templates). */
void cb_fn_params(const cb_fn *f, cb_sb *sb, int col);
/* The arguments of a call: for each used parameter, the expression bound
 * to its name in bind (NULL-terminated pairs "name", "expression"), else
 * the parameter's own name. */
void cb_fn_args(const cb_fn *f, cb_sb *sb, const char *const *bind);
/* name(arguments) (no semicolon). */
void cb_fn_call(const cb_fn *f, cb_sb *sb, const char *const *bind);

#endif
