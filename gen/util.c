#include "util.h"

#include <ctype.h>
#include <math.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cb_arena_block {
    cb_arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

enum { CB_ARENA_BLOCK = 64 * 1024 };

void cb_arena_init(cb_arena *a)
{
    a->head = NULL;
    a->failed = false;
}

void *cb_arena_alloc(cb_arena *a, size_t size)
{
    size = (size + 15u) & ~(size_t)15u;
    cb_arena_block *b = a->head;
    if (b == NULL || b->cap - b->used < size) {
        size_t cap = size > CB_ARENA_BLOCK ? size : CB_ARENA_BLOCK;
        b = malloc(sizeof(*b) + cap);
        if (b == NULL) {
            a->failed = true;
            return NULL;
        }
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *cb_arena_strndup(cb_arena *a, const char *s, size_t n)
{
    char *p = cb_arena_alloc(a, n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *cb_arena_strdup(cb_arena *a, const char *s)
{
    return cb_arena_strndup(a, s, strlen(s));
}

void cb_arena_free(cb_arena *a)
{
    cb_arena_block *b = a->head;
    while (b != NULL) {
        cb_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

void cb_sb_init(cb_sb *sb)
{
    memset(sb, 0, sizeof(*sb));
}

void cb_sb_free(cb_sb *sb)
{
    free(sb->buf);
    cb_sb_init(sb);
}

static bool sb_reserve(cb_sb *sb, size_t extra)
{
    if (sb->failed) {
        return false;
    }
    if (sb->len + extra + 1 <= sb->cap) {
        return true;
    }
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + extra + 1) {
        cap *= 2;
    }
    char *p = realloc(sb->buf, cap);
    if (p == NULL) {
        sb->failed = true;
        return false;
    }
    sb->buf = p;
    sb->cap = cap;
    return true;
}

static bool sb_at_line_start(const cb_sb *sb)
{
    return sb->len == 0 || sb->buf[sb->len - 1] == '\n';
}

static void sb_apply_indent(cb_sb *sb)
{
    if (sb->indent > 0 && sb_at_line_start(sb)) {
        size_t n = (size_t)sb->indent * 4u;
        if (sb_reserve(sb, n)) {
            memset(sb->buf + sb->len, ' ', n);
            sb->len += n;
            sb->buf[sb->len] = '\0';
        }
    }
}

void cb_sb_putn(cb_sb *sb, const char *s, size_t n)
{
    /* Indent every line that starts inside s. */
    while (n > 0) {
        sb_apply_indent(sb);
        const char *nl = memchr(s, '\n', n);
        size_t chunk = nl ? (size_t)(nl - s) + 1 : n;
        if (!sb_reserve(sb, chunk)) {
            return;
        }
        memcpy(sb->buf + sb->len, s, chunk);
        sb->len += chunk;
        sb->buf[sb->len] = '\0';
        s += chunk;
        n -= chunk;
    }
}

void cb_sb_puts(cb_sb *sb, const char *s)
{
    cb_sb_putn(sb, s, strlen(s));
}

void cb_sb_vprintf(cb_sb *sb, const char *fmt, va_list ap)
{
    char small[512];
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(small, sizeof(small), fmt, aq);
    va_end(aq);
    if (n < 0) {
        sb->failed = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        cb_sb_putn(sb, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        sb->failed = true;
        return;
    }
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    cb_sb_putn(sb, big, (size_t)n);
    free(big);
}

void cb_sb_printf(cb_sb *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cb_sb_vprintf(sb, fmt, ap);
    va_end(ap);
}

void cb_sb_line(cb_sb *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cb_sb_vprintf(sb, fmt, ap);
    va_end(ap);
    cb_sb_putn(sb, "\n", 1);
}

void cb_sb_indent(cb_sb *sb)
{
    sb->indent++;
}

void cb_sb_dedent(cb_sb *sb)
{
    if (sb->indent > 0) {
        sb->indent--;
    }
}

char *cb_sb_take(cb_sb *sb)
{
    if (sb->failed) {
        cb_sb_free(sb);
        return NULL;
    }
    char *p = sb->buf;
    if (p == NULL) {
        p = calloc(1, 1);
    }
    cb_sb_init(sb);
    return p;
}

const char *cb_sb_str(const cb_sb *sb)
{
    return sb->buf ? sb->buf : "";
}

cubie_status cb_fail(cubie_error *err, cubie_status st, const char *path,
                     int column, const char *fmt, ...)
{
    if (err == NULL || err->status != CUBIE_OK) {
        return st; /* the first error wins */
    }
    err->status = st;
    snprintf(err->path, sizeof(err->path), "%s", path ? path : "");
    err->column = column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return st;
}

cubie_status cb_fail_nomem(cubie_error *err)
{
    return cb_fail(err, CUBIE_E_NOMEM, NULL, 0, "out of memory");
}

void cb_format_double(char out[40], double v)
{
    /* Shortest precision that reads back to the same double. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 40, "%.*g", prec, v);
        if (strtod(out, NULL) == v) {
            break;
        }
    }
    /* Whole numbers read better as 10.0 than as 1e+01. */
    if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
        snprintf(out, 40, "%.1f", v);
    }
    if (strpbrk(out, ".eEn") == NULL) { /* n: inf/nan never reach here */
        strcat(out, ".0");
    }
}

/* Case-insensitive equality of a NUL-terminated string and a counted one. */
static bool name_matches(const char *name, const char *word, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '\0' ||
            tolower((unsigned char)name[i]) != tolower((unsigned char)word[i])) {
            return false;
        }
    }
    return name[len] == '\0';
}

bool cb_name_known_as(const char *name, const char *canonical,
                      const char *aliases)
{
    if (name == NULL || name[0] == '\0') {
        return false;
    }
    if (name_matches(name, canonical, strlen(canonical))) {
        return true;
    }
    for (const char *p = aliases ? aliases : ""; *p != '\0';) {
        while (*p == ' ') {
            p++;
        }
        const char *start = p;
        while (*p != '\0' && *p != ' ') {
            p++;
        }
        if (p > start && name_matches(name, start, (size_t)(p - start))) {
            return true;
        }
    }
    return false;
}

char *cb_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
    }
    if (buf != NULL) {
        size_t got = fread(buf, 1, (size_t)n, f);
        buf[got] = '\0';
        if (len != NULL) {
            *len = got;
        }
    }
    fclose(f);
    return buf;
}

void cb_real_literal(char out[48], bool is_double, double v)
{
    char num[40];
    cb_format_double(num, fabs(v));
    snprintf(out, 48, "%s%s%s%s", v < 0 ? "(-" : "", num, is_double ? "" : "f",
             v < 0 ? ")" : "");
}
