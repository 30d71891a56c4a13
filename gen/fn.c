/* Emitted functions with usage-driven parameter lists (see fn.h). */
#include "fn.h"

#include <stdio.h>
#include <string.h>

void cb_fn_init(cb_fn *f, const char *ret, const char *name,
                const char *const *decls)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->ret = ret;
    for (int i = 0; decls[i] != NULL && f->n < CB_FN_MAX_PARAMS; i++) {
        const char *d = decls[i];
        const char *end = d + strlen(d);
        const char *start = end;
        while (start > d && (start[-1] == '_' ||
                             (start[-1] >= 'a' && start[-1] <= 'z') ||
                             (start[-1] >= 'A' && start[-1] <= 'Z') ||
                             (start[-1] >= '0' && start[-1] <= '9'))) {
            start--;
        }
        f->decl[f->n] = d;
        snprintf(f->param[f->n], sizeof(f->param[0]), "%.*s",
                 (int)(end - start), start);
        f->n++;
    }
}

void cb_fn_use(cb_fn *f, const char *code)
{
    const char *names[CB_FN_MAX_PARAMS];
    for (int i = 0; i < f->n; i++) {
        names[i] = f->param[i];
    }
    cb_idents_used(code, names, (size_t)f->n, f->used);
}

bool cb_fn_uses(const cb_fn *f, const char *name)
{
    for (int i = 0; i < f->n; i++) {
        if (strcmp(f->param[i], name) == 0) {
            return f->used[i];
        }
    }
    return false;
}

void cb_fn_params(const cb_fn *f, cb_sb *sb, int col)
{
    int at = col;
    bool first = true;
    for (int i = 0; i < f->n; i++) {
        if (!f->used[i]) {
            continue;
        }
        const int len = (int)strlen(f->decl[i]);
        if (!first) {
            /* ", " and the declaration, or a new line under col. */
            if (at + 2 + len + 2 > 80) {
                cb_sb_printf(sb, ",\n%*s", col, "");
                at = col;
            } else {
                cb_sb_puts(sb, ", ");
                at += 2;
            }
        }
        cb_sb_puts(sb, f->decl[i]);
        at += len;
        first = false;
    }
    if (first) {
        cb_sb_puts(sb, "void");
    }
}

void cb_fn_define(cb_fn *f, cb_sb *sb, const char *body)
{
    cb_fn_use(f, body);
    f->defined = true;
    /* Signatures start at column 0 whatever the builder's indent. */
    const int saved = sb->indent;
    sb->indent = 0;
    char head[96];
    const int col = snprintf(head, sizeof(head), "CB_DEVFN %s %s(", f->ret,
                             f->name);
    cb_sb_puts(sb, head);
    cb_fn_params(f, sb, col);
    cb_sb_puts(sb, ")\n{\n");
    cb_sb_puts(sb, body);
    cb_sb_puts(sb, "}\n\n");
    sb->indent = saved;
}

/* The column the next character written to sb lands in. */
static int sb_column(const cb_sb *sb)
{
    const char *s = cb_sb_str(sb);
    const char *nl = strrchr(s, '\n');
    const size_t len = strlen(nl != NULL ? nl + 1 : s);
    return len == 0 ? sb->indent * 4 : (int)len;
}

void cb_fn_args(const cb_fn *f, cb_sb *sb, const char *const *bind)
{
    const int col = sb_column(sb);
    int at = col;
    bool first = true;
    for (int i = 0; i < f->n; i++) {
        if (!f->used[i]) {
            continue;
        }
        const char *arg = f->param[i];
        for (int k = 0; bind != NULL && bind[k] != NULL; k += 2) {
            if (strcmp(bind[k], f->param[i]) == 0) {
                arg = bind[k + 1];
                break;
            }
        }
        const int len = (int)strlen(arg);
        if (!first && at + 2 + len + 2 > 80 && col + len + 2 <= 80) {
            /* On a line of its own under the first argument. */
            const int saved = sb->indent;
            sb->indent = 0;
            cb_sb_printf(sb, ",\n%*s", col, "");
            sb->indent = saved;
            at = col;
        } else if (!first) {
            cb_sb_puts(sb, ", ");
            at += 2;
        }
        cb_sb_puts(sb, arg);
        at += len;
        first = false;
    }
}

void cb_fn_call(const cb_fn *f, cb_sb *sb, const char *const *bind)
{
    cb_sb_printf(sb, "%s(", f->name);
    cb_fn_args(f, sb, bind);
    cb_sb_puts(sb, ")");
}
