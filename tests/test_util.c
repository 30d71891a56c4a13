/* Unit tests of gen/util.c where it is faster than the obvious code and
 * must still give the obvious code's answer: the shortest round-trip
 * printing of doubles (against a linear search over the precisions), the
 * string builder's formatter (against vsnprintf), and the identifier scan
 * (against a scan per name written here). */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

/* A small deterministic generator (xorshift64*), so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* ---- cb_format_double ---------------------------------------------------- */

/* The definition: the first precision of 1..17 whose %g text reads back,
 * whole numbers below 1e15 as %.1f, ".0" added to a bare integer. */
static void format_linear(char out[40], double v)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 40, "%.*g", prec, v);
        if (strtod(out, NULL) == v) {
            break;
        }
    }
    if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
        snprintf(out, 40, "%.1f", v);
    }
    if (strpbrk(out, ".eEn") == NULL) {
        strcat(out, ".0");
    }
}

static void expect_same_format(double v)
{
    char got[40], want[40];
    cb_format_double(got, v);
    format_linear(want, v);
    if (strcmp(got, want) != 0) {
        print_error("%a: cb_format_double gives %s, the linear search %s\n",
                    v, got, want);
        fail();
    }
    if (isfinite(v)) {
        assert_true(strtod(got, NULL) == v);
    }
}

static void format_double_should_match_the_linear_search(void **state)
{
    (void)state;
    static const double fixed[] = {
        0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 0.2, 0.3, 1e-3, 2.5e-7, 10.0,
        123456789.0, 1e15, 1e16, 1e22, 1e300, 5e-324, DBL_MIN, DBL_MAX,
        DBL_EPSILON, 1.0 / 3.0, 2.0 / 3.0, M_PI, M_E, 0.1 + 0.2,
        0x1p-1074, 0x1p-1022, 0x1p1023, 0x1.fffffffffffffp1023, 0x1p52,
        0x1p53, 0x1p53 + 2.0, 9007199254740993.0, 1e15 - 0.5, 1e15 + 0.5,
        /* Kvaerno's and Radau's coefficients: long expansions */
        0.4358665215, 0.2820667392, -0.0475694143, 0.1550510257216822,
        0.6449489742783178, 0.26, 0.13, 0.84, 0.5529291479,
        INFINITY, -INFINITY, NAN};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        expect_same_format(fixed[i]);
    }
    /* Every power of two (their lower neighbour is half as far) and its
     * neighbours. */
    for (int e = -1074; e <= 1023; e++) {
        const double p = ldexp(1.0, e);
        expect_same_format(p);
        expect_same_format(-p);
        expect_same_format(nextafter(p, 0.0));
        expect_same_format(nextafter(p, INFINITY));
    }
    /* Random bit patterns over the whole range, random short decimals,
     * and random values of moderate size. */
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = rng();
        double v;
        memcpy(&v, &bits, sizeof(v));
        expect_same_format(v);
        char dec[32];
        snprintf(dec, sizeof(dec), "%d.%de%d", (int)(rng() % 1000),
                 (int)(rng() % 1000), (int)(rng() % 40) - 20);
        expect_same_format(strtod(dec, NULL));
        expect_same_format((double)(rng() >> 11) * 0x1p-53 * 100.0);
    }
}

/* ---- cb_sb_printf -------------------------------------------------------- */

#define EXPECT_PRINTF(...)                                                   \
    do {                                                                     \
        char want_[1024];                                                    \
        snprintf(want_, sizeof(want_), __VA_ARGS__);                         \
        cb_sb sb_;                                                           \
        cb_sb_init(&sb_);                                                    \
        cb_sb_printf(&sb_, __VA_ARGS__);                                     \
        assert_false(sb_.failed);                                            \
        assert_string_equal(cb_sb_str(&sb_), want_);                         \
        cb_sb_free(&sb_);                                                    \
    } while (0)

static void sb_printf_should_write_what_snprintf_writes(void **state)
{
    (void)state;
    EXPECT_PRINTF("plain text, nothing to format");
    EXPECT_PRINTF("%s", "");
    EXPECT_PRINTF("%s and %s", "state", "proposed_state");
    EXPECT_PRINTF("[%d] [%d] [%d]", 0, -7, 2147483647);
    EXPECT_PRINTF("%d", -2147483647 - 1);
    EXPECT_PRINTF("%i %u %u", 42, 0u, 4294967295u);
    EXPECT_PRINTF("%ld %ld", -1234567890123L, 9223372036854775807L);
    EXPECT_PRINTF("%lld", -9223372036854775807LL - 1);
    EXPECT_PRINTF("%lu %llu", 18446744073709551615UL,
                  18446744073709551615ULL);
    EXPECT_PRINTF("%zu %6zu|%-6zu|", (size_t)0, (size_t)42, (size_t)42);
    EXPECT_PRINTF("|%6s|%-6s|%2s|", "ab", "ab", "abcdef");
    EXPECT_PRINTF("|%*s|%-*s|%*s|", 5, "x", 5, "x", -5, "x");
    EXPECT_PRINTF("|%.*s|%.3s|%.0s|%.10s|", 2, "abcdef", "abcdef", "abc",
                  "ab");
    EXPECT_PRINTF("|%*d|%-4d|%4d|", 6, -12, 3, 12345);
    EXPECT_PRINTF("%c%c%c", 'a', '{', '\n');
    EXPECT_PRINTF("100%% of %d%%", 7);
    /* What the fast path leaves to vsnprintf gives the same text. */
    EXPECT_PRINTF("%g %.17g %.1f %e", 0.1, 1.0 / 3.0, 2.25, 1e-300);
    EXPECT_PRINTF("%02x %016llx %x", 10u, 0xdeadbeefULL, 255u);
    EXPECT_PRINTF("%+d % d %05d %.3d", 5, 5, 5, 5);
    EXPECT_PRINTF("%p", (void *)0);
    EXPECT_PRINTF("%zd %hd", (ptrdiff_t)-3, (short)4);
    /* Longer than the builder's stack buffer, each way. */
    char big[2000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cb_sb sb;
    cb_sb_init(&sb);
    cb_sb_printf(&sb, "<%s|%d>", big, 12);
    assert_int_equal(strlen(cb_sb_str(&sb)), sizeof(big) - 1 + 5);
    assert_memory_equal(cb_sb_str(&sb) + sizeof(big) + 1, "12>", 3);
    cb_sb_free(&sb);
    cb_sb_init(&sb);
    cb_sb_printf(&sb, "<%s|%g>", big, 0.5);
    assert_int_equal(strlen(cb_sb_str(&sb)), sizeof(big) - 1 + 6);
    cb_sb_free(&sb);
}

static void sb_should_indent_every_line_start(void **state)
{
    (void)state;
    cb_sb sb;
    cb_sb_init(&sb);
    cb_sb_line(&sb, "a %d", 1);
    cb_sb_indent(&sb);
    cb_sb_line(&sb, "b %s", "x");
    cb_sb_puts(&sb, "c\nd\n");
    cb_sb_indent(&sb);
    cb_sb_printf(&sb, "e%s", "\nf\n");
    cb_sb_dedent(&sb);
    cb_sb_dedent(&sb);
    cb_sb_line(&sb, "g");
    assert_false(sb.failed);
    assert_string_equal(cb_sb_str(&sb), "a 1\n    b x\n    c\n    d\n"
                                        "        e\n        f\ng\n");
    cb_sb_free(&sb);
}

/* ---- cb_idents_used ------------------------------------------------------ */

/* The definition: name occurs as a whole identifier outside comments,
 * string and character literals, and numbers. */
static bool is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

static bool used_slowly(const char *code, const char *name)
{
    const size_t n = strlen(name);
    const char *p = code;
    while (*p) {
        if (p[0] == '/' && p[1] == '/') {
            while (*p && *p != '\n') {
                p++;
            }
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
        } else if (*p == '"' || *p == '\'') {
            const char q = *p++;
            while (*p && *p != q) {
                p += (p[0] == '\\' && p[1]) ? 2 : 1;
            }
            if (*p) {
                p++;
            }
        } else if (is_ident_char(*p)) {
            const char *s = p;
            while (is_ident_char(*p)) {
                p++;
            }
            if (!(*s >= '0' && *s <= '9') && (size_t)(p - s) == n &&
                strncmp(s, name, n) == 0) {
                return true;
            }
        } else {
            p++;
        }
    }
    return false;
}

static void idents_used_should_match_a_scan_per_name(void **state)
{
    (void)state;
    static const char code[] =
        "real *stage_2 = shared + 12; // stage_3 in a comment\n"
        "/* state_0 in a block\n comment */ x1 = 2e5f + 1.0e-3;\n"
        "s = \"err in a string \\\" still_string\"; c = 'k';\n"
        "error[i] = dt * k_1[i] + fsal; done";
    static const char *const names[] = {
        "stage_2", "stage_3", "state_0", "x1", "e5f", "err", "still_string",
        "k", "c", "error", "dt", "k_1", "k_", "fsal", "done", "don",
        "shared", "stage_2", /* twice: both marked */
        "real", "i", "s", "a_name_that_is_longer_than_sixty_four_characters_"
                          "so_it_takes_the_other_path",
        ""};
    const size_t n = sizeof(names) / sizeof(names[0]);
    bool used[sizeof(names) / sizeof(names[0])] = {false};
    cb_idents_used(code, names, n, used);
    for (size_t i = 0; i < n; i++) {
        if (used[i] != used_slowly(code, names[i])) {
            print_error("'%s': cb_idents_used says %d\n", names[i], used[i]);
            fail();
        }
        assert_true(used[i] == cb_ident_used(code, names[i]));
    }
    assert_true(used[0] && used[17] && !used[1] && !used[2] && used[3]);
    /* Already-set flags stay set; many names fill a larger table. */
    enum { MANY = 300 };
    char store[MANY][16];
    const char *many[MANY];
    bool mused[MANY];
    cb_sb text;
    cb_sb_init(&text);
    for (int i = 0; i < MANY; i++) {
        snprintf(store[i], sizeof(store[i]), "u_%d", i);
        many[i] = store[i];
        mused[i] = i == 1;
        if (i % 3 == 0) {
            cb_sb_printf(&text, "%s[j] += u_%d_not;\n", store[i], i + 1);
        }
    }
    cb_idents_used(cb_sb_str(&text), many, MANY, mused);
    for (int i = 0; i < MANY; i++) {
        assert_true(mused[i] == (i % 3 == 0 || i == 1));
    }
    cb_sb_free(&text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_double_should_match_the_linear_search),
        cmocka_unit_test(sb_printf_should_write_what_snprintf_writes),
        cmocka_unit_test(sb_should_indent_every_line_start),
        cmocka_unit_test(idents_used_should_match_a_scan_per_name),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
