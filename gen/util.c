#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>

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
    if (sb->indent == 0) {
        if (n > 0 && sb_reserve(sb, n)) {
            memcpy(sb->buf + sb->len, s, n);
            sb->len += n;
            sb->buf[sb->len] = '\0';
        }
        return;
    }
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

/* Appends src (len bytes) padded to width with spaces to out[*n], or
 * says it does not fit in cap (room is kept for nothing else). */
static bool fast_put(char *out, size_t cap, size_t *n, const char *src,
                     size_t len, size_t width, bool left)
{
    const size_t pad = width > len ? width - len : 0;
    if (*n + pad + len >= cap) {
        return false;
    }
    if (!left) {
        memset(out + *n, ' ', pad);
        *n += pad;
    }
    memcpy(out + *n, src, len);
    *n += len;
    if (left) {
        memset(out + *n, ' ', pad);
        *n += pad;
    }
    return true;
}

/* The next argument, an integer of the given size (0 int, 1 long, 2 long
 * long, 3 size_t), in decimal at the end of num; returns its length. */
static size_t fast_int(char num[24], bool is_unsigned, int size,
                       va_list *ap)
{
    unsigned long long mag;
    bool neg = false;
    if (is_unsigned) {
        mag = size == 0   ? va_arg(*ap, unsigned)
              : size == 1 ? va_arg(*ap, unsigned long)
              : size == 2 ? va_arg(*ap, unsigned long long)
                          : va_arg(*ap, size_t);
    } else {
        const long long v = size == 0   ? va_arg(*ap, int)
                            : size == 1 ? va_arg(*ap, long)
                                        : va_arg(*ap, long long);
        neg = v < 0;
        mag = neg ? 0ull - (unsigned long long)v : (unsigned long long)v;
    }
    char *d = num + 24;
    do {
        *--d = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag != 0);
    if (neg) {
        *--d = '-';
    }
    return (size_t)(num + 24 - d);
}

/* vsnprintf for what the emitters write almost always: %s %d %i %u %c
 * %%, the flag '-', widths and precisions (of %s) given or as '*', sizes
 * l, ll and z; the text is the same as vsnprintf's, in a fraction of its
 * time, which is most of the time generation takes. Returns the length,
 * or -1 for a conversion it does not know (%g, %x, flags '0', '+', ' ',
 * a precision of an integer, a NULL string) or a text of cap bytes or
 * more: vsnprintf does those. */
static int fast_format(char *out, size_t cap, const char *fmt, va_list *ap)
{
    size_t n = 0;
    for (const char *p = fmt; *p != '\0'; p++) {
        if (*p != '%') {
            const char *q = strchr(p, '%');
            const size_t run = q != NULL ? (size_t)(q - p) : strlen(p);
            if (!fast_put(out, cap, &n, p, run, 0, false)) {
                return -1;
            }
            p += run - 1;
            continue;
        }
        p++;
        bool left = false;
        if (*p == '-') {
            left = true;
            p++;
        }
        long width = 0;
        if (*p == '*') {
            width = va_arg(*ap, int);
            if (width < 0) {
                left = true;
                width = -width;
            }
            p++;
        } else if (*p == '0') {
            return -1;
        } else {
            while (*p >= '0' && *p <= '9' && width < 4096) {
                width = width * 10 + (*p++ - '0');
            }
        }
        long prec = -1;
        if (*p == '.') {
            p++;
            if (*p == '*') {
                prec = va_arg(*ap, int);
                prec = prec < 0 ? -1 : prec;
                p++;
            } else {
                prec = 0;
                while (*p >= '0' && *p <= '9' && prec < 4096) {
                    prec = prec * 10 + (*p++ - '0');
                }
            }
        }
        int size = 0; /* 1 long, 2 long long, 3 size_t */
        if (p[0] == 'l' && p[1] == 'l') {
            size = 2;
            p += 2;
        } else if (*p == 'l') {
            size = 1;
            p++;
        } else if (*p == 'z') {
            size = 3;
            p++;
        }
        char num[24];
        const char *src = num;
        size_t len = 0;
        if (*p == 's' && size == 0) {
            src = va_arg(*ap, const char *);
            if (src == NULL) {
                return -1;
            }
            len = prec >= 0 ? strnlen(src, (size_t)prec) : strlen(src);
        } else if ((*p == 'd' || *p == 'i' || *p == 'u') && prec < 0 &&
                   !(size == 3 && *p != 'u')) {
            len = fast_int(num, *p == 'u', size, ap);
            src = num + sizeof(num) - len;
        } else if (*p == 'c' && size == 0 && prec < 0) {
            num[0] = (char)va_arg(*ap, int);
            len = 1;
        } else if (*p == '%' && p[-1] == '%') {
            num[0] = '%';
            len = 1;
        } else {
            return -1;
        }
        if (!fast_put(out, cap, &n, src, len, (size_t)width, left)) {
            return -1;
        }
    }
    return (int)n;
}

void cb_sb_vprintf(cb_sb *sb, const char *fmt, va_list ap)
{
    if (strchr(fmt, '%') == NULL) { /* most lines have nothing to format */
        cb_sb_puts(sb, fmt);
        return;
    }
    char small[512];
    va_list aq;
    va_copy(aq, ap);
    int n = fast_format(small, sizeof(small), fmt, &aq);
    va_end(aq);
    if (n >= 0) {
        cb_sb_putn(sb, small, (size_t)n);
        return;
    }
    va_copy(aq, ap);
    n = vsnprintf(small, sizeof(small), fmt, aq);
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

static bool reads_back(char out[40], int prec, double v)
{
    snprintf(out, 40, "%.*g", prec, v);
    return strtod(out, NULL) == v;
}

void cb_format_double(char out[40], double v)
{
    /* Whole numbers read better as 10.0 than as 1e+01, and need no
     * search. */
    if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
        snprintf(out, 40, "%.1f", v);
        return;
    }
    /* Otherwise the shortest precision that reads back to the same double.
     * Short constants (0.5, 1e-3) are found by trying one to three digits;
     * beyond that reading back is monotonic in the precision (a correctly
     * rounded decimal of more digits is at least as close), since the
     * values that read back to v lie symmetrically around it, except for a
     * power of two: its lower neighbour is half as far. So a binary search
     * over 4..17 finds the first precision a linear search would, in four
     * conversions instead of up to fourteen; powers of two stay linear. */
    int prec = 1;
    while (prec <= 3 && !reads_back(out, prec, v)) {
        prec++;
    }
    int m = 0;
    if (prec <= 3) {
        /* one of the short ones */
    } else if (frexp(fabs(v), &m) == 0.5 || !isfinite(v)) {
        while (!reads_back(out, prec, v) && prec < 17) {
            prec++;
        }
    } else {
        int lo = 4, hi = 17; /* 17 digits always read back */
        while (lo < hi) {
            const int mid = (lo + hi) / 2;
            if (reads_back(out, mid, v)) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        reads_back(out, lo, v);
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

/* Rounding of a double to the nearest float (ties to even) gives inf from
 * half an ulp above FLT_MAX on, and zero up to half the smallest
 * subnormal. gcc rejects such float literals (-Woverflow), so they are
 * printed as the value the float kernel would hold. */
#define CB_FLOAT_INF_FROM 0x1.ffffffp+127
#define CB_FLOAT_ZERO_UPTO 0x1p-150

void cb_print_real(double v, bool is_double, cb_sb *out)
{
    const char *f = is_double ? "" : "f";
    if (!is_double && isfinite(v)) {
        if (fabs(v) >= CB_FLOAT_INF_FROM) {
            v = copysign(INFINITY, v);
        } else if (fabs(v) <= CB_FLOAT_ZERO_UPTO) {
            v = copysign(0.0, v);
        }
    }
    /* Non-finite values have no literal in C or CUDA: NaN is the
     * prelude's CB_NAN (the quiet NaN of C's NAN, bit for bit), the
     * infinities these constant expressions, valid in both. */
    if (isnan(v)) {
        cb_sb_puts(out, "CB_NAN");
        return;
    }
    if (isinf(v)) {
        cb_sb_printf(out, "(%s1.0%s / 0.0%s)", v < 0 ? "-" : "", f, f);
        return;
    }
    char buf[40];
    cb_format_double(buf, v);
    /* The shortest %g form of 10 is "1e+01"; a whole number below 1e16
     * reads better as "10.0" and still reads back as the same value. */
    const char *ex = strchr(buf, 'e');
    if (ex != NULL && ex[1] == '+' && fabs(v) < 1e16) {
        char plain[40];
        snprintf(plain, sizeof(plain), "%.0f.0", v);
        if (strtod(plain, NULL) == v) {
            memcpy(buf, plain, sizeof(buf));
        }
    }
    const bool neg = signbit(v);
    if (neg) {
        cb_sb_putn(out, "(", 1);
    }
    cb_sb_puts(out, buf);
    cb_sb_puts(out, f);
    if (neg) {
        cb_sb_putn(out, ")", 1);
    }
}

void cb_real_literal(char out[48], bool is_double, double v)
{
    cb_sb sb;
    cb_sb_init(&sb);
    cb_print_real(v, is_double, &sb);
    snprintf(out, 48, "%s", sb.failed ? "(0.0 / 0.0)" : cb_sb_str(&sb));
    cb_sb_free(&sb);
}

/* Character classes for the identifier scan: 1 starts or continues an
 * identifier, 2 continues one (a digit), 4 may open a comment or a
 * literal; 0 is skipped. */
static const unsigned char ident_class[256] = {
    ['_'] = 1, ['/'] = 4, ['"'] = 4, ['\''] = 4, ['0'] = 2, ['1'] = 2,
    ['2'] = 2, ['3'] = 2, ['4'] = 2, ['5'] = 2, ['6'] = 2, ['7'] = 2,
    ['8'] = 2, ['9'] = 2, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,
    ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
    ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1,
    ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['A'] = 1, ['B'] = 1,
    ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
};

/* Calls f(start, len, ctx) for every identifier token of code outside
 * comments and literals; stops when f returns true, and returns that. A
 * number's digits and suffix letters (1.0f, 2e5) are not identifiers. */
static bool each_ident(const char *code,
                       bool (*f)(const char *, size_t, void *), void *ctx)
{
    const unsigned char *cls = ident_class;
    const unsigned char *p = (const unsigned char *)code;
    while (*p != '\0') {
        const unsigned char k = cls[*p];
        if (k == 0) {
            p++;
        } else if (k & 3) {
            const unsigned char *start = p;
            while (cls[*p] & 3) {
                p++;
            }
            if (k == 1 && f((const char *)start, (size_t)(p - start), ctx)) {
                return true;
            }
        } else if (p[0] == '/' && p[1] == '/') {
            p += strcspn((const char *)p, "\n");
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr((const char *)p + 2, "*/");
            p = e != NULL ? (const unsigned char *)e + 2
                          : p + strlen((const char *)p);
        } else if (*p == '"' || *p == '\'') {
            const unsigned char q = *p++;
            while (*p != '\0' && *p != q) {
                p += p[0] == '\\' && p[1] != '\0' ? 2 : 1;
            }
            p += *p != '\0';
        } else {
            p++;
        }
    }
    return false;
}

/* n names to look for: a token is dismissed by its first character and
 * length when no name could match, and otherwise looked up in a small
 * open-addressed hash table of the names (equal names take a slot each,
 * so all of them are marked). */
typedef struct {
    const char *const *names;
    bool *used;
    int *slot; /* index into names, -1 when empty; mask + 1 entries */
    size_t mask;
    uint64_t first[128]; /* bit L: some name starting so has length L */
} ident_search;

static size_t ident_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    return h;
}

static bool ident_match(const char *start, size_t len, void *ctx)
{
    ident_search *q = ctx;
    const unsigned char c0 = (unsigned char)start[0]; /* ASCII: a letter */
    if (len >= 64 || !(q->first[c0] >> len & 1u)) {
        return false;
    }
    for (size_t h = ident_hash(start, len) & q->mask; q->slot[h] >= 0;
         h = (h + 1) & q->mask) {
        const char *name = q->names[q->slot[h]];
        /* strncmp: a colliding name may be shorter than len. */
        if (strncmp(name, start, len) == 0 && name[len] == '\0') {
            q->used[q->slot[h]] = true;
        }
    }
    return false;
}

void cb_idents_used(const char *code, const char *const *names, size_t n,
                    bool *used)
{
    ident_search q;
    memset(q.first, 0, sizeof(q.first));
    q.names = names;
    q.used = used;
    q.mask = 63;
    while (q.mask + 1 < 2 * n) {
        q.mask = 2 * q.mask + 1;
    }
    int small[64];
    q.slot = q.mask < 64 ? small : malloc((q.mask + 1) * sizeof(int));
    if (q.slot == NULL) { /* no memory for the table: one scan per name */
        for (size_t i = 0; i < n; i++) {
            used[i] = used[i] || cb_ident_used(code, names[i]);
        }
        return;
    }
    for (size_t h = 0; h <= q.mask; h++) {
        q.slot[h] = -1;
    }
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        const size_t len = strlen(names[i]);
        if (len >= 64) {
            used[i] = used[i] || cb_ident_used(code, names[i]);
        } else if (len > 0 && (unsigned char)names[i][0] < 128) {
            q.first[(unsigned char)names[i][0]] |= (uint64_t)1 << len;
            size_t h = ident_hash(names[i], len) & q.mask;
            while (q.slot[h] >= 0) {
                h = (h + 1) & q.mask;
            }
            q.slot[h] = (int)i;
            any = true;
        }
    }
    if (any) {
        each_ident(code, ident_match, &q);
    }
    if (q.slot != small) {
        free(q.slot);
    }
}

typedef struct {
    const char *ident;
    size_t n;
} ident_query;

static bool ident_is(const char *start, size_t len, void *ctx)
{
    const ident_query *q = ctx;
    return len == q->n && memcmp(start, q->ident, len) == 0;
}

bool cb_ident_used(const char *code, const char *ident)
{
    ident_query q = {ident, strlen(ident)};
    return each_ident(code, ident_is, &q);
}
