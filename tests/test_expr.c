/* Unit tests of the expression language: parsing, columns, folding,
 * evaluation, printing in both precisions, errors, and a check that the
 * float output compiles without any double arithmetic. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "expr.h"

/* ---- a small system to resolve names against -------------------------- */

typedef struct {
    const char *name;
    cb_sym_role role;
    int index;
    double value; /* constant's value, or the symbol's value in eval */
} test_sym;

static const test_sym syms[] = {
    {"x", CB_SYM_STATE, 0, 2.0},
    {"y", CB_SYM_STATE, 1, 3.0},
    {"z", CB_SYM_STATE, 2, 5.0},
    {"rho", CB_SYM_PARAM, 0, 28.0},
    {"k", CB_SYM_PARAM, 1, 0.5},
    {"sigma", CB_SYM_CONST, 0, 10.0},
    {"beta", CB_SYM_CONST, 1, 8.0 / 3.0},
    {"r2", CB_SYM_AUX, 0, 7.0},
    {"f", CB_SYM_DRIVER, 0, 0.25},
    {"t", CB_SYM_TIME, 0, 1.5},
    /* A state named like a function: usable as a name, not as a call. */
    {"sign", CB_SYM_STATE, 3, -1.0},
};

enum { NSYMS = sizeof(syms) / sizeof(syms[0]) };

static const test_sym *find_sym(const char *name)
{
    for (int i = 0; i < NSYMS; i++) {
        if (strcmp(syms[i].name, name) == 0) {
            return &syms[i];
        }
    }
    return NULL;
}

static bool resolve(void *ctx, const char *name, cb_sym_role *role,
                    int *index, double *value)
{
    (void)ctx;
    const test_sym *s = find_sym(name);
    if (s == NULL) {
        return false;
    }
    *role = s->role;
    *index = s->index;
    *value = s->value;
    return true;
}

static double sym_value(void *ctx, const cb_expr *sym)
{
    (void)ctx;
    const test_sym *s = find_sym(sym->name);
    return s != NULL ? s->value : NAN;
}

/* States as s[i], parameters p[i], auxiliaries aux[i], drivers d[i]. */
static void sym_print(void *ctx, const cb_expr *sym, cb_sb *out)
{
    (void)ctx;
    switch (sym->role) {
    case CB_SYM_STATE: cb_sb_printf(out, "s[%d]", sym->index); return;
    case CB_SYM_PARAM: cb_sb_printf(out, "p[%d]", sym->index); return;
    case CB_SYM_AUX: cb_sb_printf(out, "aux[%d]", sym->index); return;
    case CB_SYM_DRIVER: cb_sb_printf(out, "d[%d]", sym->index); return;
    case CB_SYM_TIME: cb_sb_puts(out, "t"); return;
    default: cb_sb_puts(out, sym->name); return;
    }
}

/* ---- fixture and helpers that report the caller's line ---------------- */

typedef struct {
    cb_arena arena;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    if (fx == NULL) {
        return -1;
    }
    cb_arena_init(&fx->arena);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    cb_arena_free(&fx->arena);
    free(fx);
    return 0;
}

static cb_expr *parse_at(fixture *fx, const char *src, const char *file,
                         int line)
{
    cubie_error err = {0};
    cb_expr *e = NULL;
    cubie_status st = cb_expr_parse(&fx->arena, src, resolve, NULL,
                                    "/equations/0", &e, &err);
    if (st != CUBIE_OK) {
        print_error("parse of \"%s\" failed: %s\n", src, err.message);
        _fail(file, line);
    }
    _assert_true(e != NULL, "tree", file, line);
    return e;
}
#define parse(fx, src) parse_at((fx), (src), __FILE__, __LINE__)

static void check_eval_at(fixture *fx, const char *src, double want,
                          const char *file, int line)
{
    double got = cb_expr_eval(parse_at(fx, src, file, line), sym_value,
                              NULL);
    if (!(fabs(got - want) <= 1e-12 * (1.0 + fabs(want)))) {
        print_error("\"%s\" evaluates to %.17g, expected %.17g\n", src, got,
                    want);
        _fail(file, line);
    }
}
#define check_eval(fx, src, want) \
    check_eval_at((fx), (src), (want), __FILE__, __LINE__)

static void check_tree_text_at(const cb_expr *e, bool dbl, cb_sym_printer p,
                               const char *want, const char *file, int line)
{
    cb_sb sb;
    cb_sb_init(&sb);
    cb_expr_print(e, dbl, p, NULL, &sb);
    _assert_true(!sb.failed, "!sb.failed", file, line);
    _assert_string_equal(cb_sb_str(&sb), want, file, line);
    cb_sb_free(&sb);
}

/* The printed C of the parsed expression, with the s[i] printer. */
static void check_print_at(fixture *fx, const char *src, bool dbl,
                           const char *want, const char *file, int line)
{
    check_tree_text_at(parse_at(fx, src, file, line), dbl, sym_print, want,
                       file, line);
}
#define check_float(fx, src, want) \
    check_print_at((fx), (src), false, (want), __FILE__, __LINE__)
#define check_double(fx, src, want) \
    check_print_at((fx), (src), true, (want), __FILE__, __LINE__)

/* The printed C (names as written) of the folded expression. */
static void check_fold_at(fixture *fx, const char *src, const char *want,
                          const char *file, int line)
{
    cb_expr *e = cb_expr_fold(&fx->arena, parse_at(fx, src, file, line));
    _assert_true(!fx->arena.failed, "!arena.failed", file, line);
    check_tree_text_at(e, false, NULL, want, file, line);
}
#define check_fold(fx, src, want) \
    check_fold_at((fx), (src), (want), __FILE__, __LINE__)

static void check_real_at(double v, bool dbl, const char *want,
                          const char *file, int line)
{
    cb_sb sb;
    cb_sb_init(&sb);
    cb_print_real(v, dbl, &sb);
    _assert_string_equal(cb_sb_str(&sb), want, file, line);
    cb_sb_free(&sb);
}
#define check_real(v, dbl, want) \
    check_real_at((v), (dbl), (want), __FILE__, __LINE__)

/* Parsing src fails with CUBIE_E_EXPR at `col`, and the message contains
 * `fragment` and the path. */
static void check_error_at(fixture *fx, const char *src, const char *fragment,
                           int col, const char *file, int line)
{
    cubie_error err = {0};
    cb_expr *e = NULL;
    cubie_status st = cb_expr_parse(&fx->arena, src, resolve, NULL,
                                    "/equations/3", &e, &err);
    _assert_int_equal(st, CUBIE_E_EXPR, file, line);
    _assert_int_equal(err.status, CUBIE_E_EXPR, file, line);
    _assert_true(e == NULL, "e == NULL", file, line);
    _assert_string_equal(err.path, "/equations/3", file, line);
    if (strstr(err.message, fragment) == NULL
        || strstr(err.message, "at /equations/3, column ") == NULL) {
        print_error("message for \"%s\" lacks \"%s\":\n%s\n", src, fragment,
                    err.message);
        _fail(file, line);
    }
    _assert_int_equal(err.column, col, file, line);
}
#define check_error(fx, src, fragment, col) \
    check_error_at((fx), (src), (fragment), (col), __FILE__, __LINE__)

/* ---- parsing and precedence ------------------------------------------- */

static void parser_should_follow_precedence_and_associativity(void **state)
{
    fixture *fx = *state;
    check_eval(fx, "1+2*3", 7.0);
    check_eval(fx, "(1+2)*3", 9.0);
    check_eval(fx, "-2^2", -4.0);
    check_eval(fx, "(-2)^2", 4.0);
    check_eval(fx, "2^3^2", 512.0);
    check_eval(fx, "2**3**2", 512.0);
    check_eval(fx, "2^-1", 0.5);
    check_eval(fx, "7-4-2", 1.0);
    check_eval(fx, "8/4/2", 1.0);
    check_eval(fx, "-3--3", 0.0);
    check_eval(fx, "2*-3", -6.0);
    check_eval(fx, "+x", 2.0);
    check_eval(fx, "-x^2", -4.0);
    check_eval(fx, "-x*y", -6.0);
    check_eval(fx, "x*y+z", 11.0);
    check_eval(fx, "x - y*z / 3", 2.0 - 3.0 * 5.0 / 3.0);
    check_eval(fx, ".5 + 1. + 2.5E+4 + 1e-3", 25001.501);
    check_eval(fx, "3.14159265358979323846264338327950288419716939937510"
                   "58209749445923078164062862089986280348253421170679",
               3.14159265358979323846);
    check_eval(fx, "1e-400", 0.0); /* underflow is no error */
}

static void parser_should_read_comparisons_logic_and_conditionals(
    void **state)
{
    fixture *fx = *state;
    check_eval(fx, "1 < 2", 1.0);
    check_eval(fx, "2 <= 1", 0.0);
    check_eval(fx, "2 > 1", 1.0);
    check_eval(fx, "1 >= 1", 1.0);
    check_eval(fx, "1 == 1", 1.0);
    check_eval(fx, "1 != 1", 0.0);
    check_eval(fx, "1 + 2 < 4", 1.0);
    check_eval(fx, "x < y && y < z", 1.0);
    check_eval(fx, "x < y && z < y", 0.0);
    check_eval(fx, "z < y || x < y", 1.0);
    check_eval(fx, "1 and 0", 0.0);
    check_eval(fx, "0 or 1", 1.0);
    check_eval(fx, "0 or 1 and 0", 0.0);
    check_eval(fx, "!0", 1.0);
    check_eval(fx, "!x", 0.0);
    check_eval(fx, "!(x > y)", 1.0);
    check_eval(fx, "x < y ? 5 : 6", 5.0);
    check_eval(fx, "0 ? 1 : 0 ? 2 : 3", 3.0);
    check_eval(fx, "where(x > 1, 10, 20)", 10.0);
    check_eval(fx, "where(x > y, 10, 20) + 1", 21.0);
}

static void parser_should_call_functions_and_resolve_names(void **state)
{
    fixture *fx = *state;
    check_eval(fx, "sign(-3) + 10*sign(0) + 100*sign(2)", 99.0);
    check_eval(fx, "min(3, 4) + max(3, 4)", 7.0);
    check_eval(fx, "abs(-2)", 2.0);
    check_eval(fx, "atan2(1, 1)", atan(1.0));
    check_eval(fx, "exp(0) + log(1) + sqrt(16)", 5.0);
    check_eval(fx, "pow(2, 10)", 1024.0);
    check_eval(fx, "floor(-1.5) + ceil(1.5)", 0.0);
    check_eval(fx, "sigma * (y - x)", 10.0);
    check_eval(fx, "t * rho + k", 42.5);
    check_eval(fx, "r2 + f", 7.25);
    /* a state named like a function, used as a value */
    check_eval(fx, "sign + sign(2)", 0.0);

    cb_expr *e = parse(fx, "sigma");
    assert_int_equal(e->kind, CB_EX_NUM);
    assert_true(e->num == 10.0);
    e = parse(fx, "rho");
    assert_int_equal(e->kind, CB_EX_SYM);
    assert_int_equal(e->role, CB_SYM_PARAM);
    assert_int_equal(e->index, 0);
    assert_string_equal(e->name, "rho");
    e = parse(fx, "where(x, y, z)");
    assert_int_equal(e->kind, CB_EX_COND);
    assert_int_equal(e->nargs, 3);
    e = parse(fx, "atan2(y, x)");
    assert_int_equal(e->kind, CB_EX_CALL);
    assert_int_equal(e->fn, CB_FN_ATAN2);
    assert_int_equal(e->nargs, 2);
    assert_string_equal(cb_func_name(CB_FN_ATAN2), "atan2");
    assert_int_equal(cb_func_arity(CB_FN_WHERE), 3);
}

static void parser_should_fold_numbers_and_constants(void **state)
{
    fixture *fx = *state;
    cb_expr *e = parse(fx, "2 * sigma - sin(0)");
    assert_int_equal(e->kind, CB_EX_NUM);
    assert_true(e->num == 20.0);
    /* 1/0 is no number to fold: it stays an expression */
    e = parse(fx, "1/0");
    assert_int_equal(e->kind, CB_EX_DIV);
}

static void parser_should_give_every_node_its_column(void **state)
{
    fixture *fx = *state;
    cb_expr *e = parse(fx, "x + y*z");
    assert_int_equal(e->col, 1);
    assert_int_equal(e->a[0]->col, 1);
    assert_int_equal(e->a[1]->col, 5);
    assert_int_equal(e->a[1]->a[0]->col, 5);
    assert_int_equal(e->a[1]->a[1]->col, 7);

    e = parse(fx, "  -(x + y)");
    assert_int_equal(e->kind, CB_EX_NEG);
    assert_int_equal(e->col, 3);
    assert_int_equal(e->a[0]->col, 5);
    assert_int_equal(e->a[0]->a[1]->col, 9);

    e = parse(fx, "(x+y)*2");
    assert_int_equal(e->col, 1);
    assert_int_equal(e->a[0]->col, 2);
    assert_int_equal(e->a[1]->col, 7);

    e = parse(fx, "1 + sin(x) ^ 2");
    assert_int_equal(e->a[1]->kind, CB_EX_POW);
    assert_int_equal(e->a[1]->col, 5);
    assert_int_equal(e->a[1]->a[0]->a[0]->col, 9);
    assert_int_equal(e->a[1]->a[1]->col, 14);

    e = parse(fx, "x > 1 ? sigma : where(y < 2, y, z)");
    assert_int_equal(e->kind, CB_EX_COND);
    assert_int_equal(e->col, 1);
    assert_int_equal(e->a[1]->col, 9); /* the folded constant */
    assert_int_equal(e->a[2]->col, 17);
    assert_int_equal(e->a[2]->a[0]->col, 23);
    assert_int_equal(e->a[2]->a[2]->col, 33);
}

/* ---- folding ---------------------------------------------------------- */

static void fold_should_collapse_constants_and_exact_identities(void **state)
{
    fixture *fx = *state;
    check_fold(fx, "2*3+x", "6.0f + x");
    check_fold(fx, "2*3*x*1 + 0", "6.0f * x");
    check_fold(fx, "x*1", "x");
    check_fold(fx, "1*x", "x");
    check_fold(fx, "x+0", "x");
    check_fold(fx, "0+x", "x");
    check_fold(fx, "x-0", "x");
    check_fold(fx, "x/1", "x");
    check_fold(fx, "x^1", "x");
    check_fold(fx, "x^0", "1.0f");
    check_fold(fx, "--x", "x");
    check_fold(fx, "-(-(x + y))", "x + y");
    check_fold(fx, "(x + 0) * (y * (3 - 2))", "x * y");
    check_fold(fx, "where(1, x, y)", "x");
    check_fold(fx, "2 > 3 ? x : y", "y");
    check_fold(fx, "x < y && 0", "0.0f");
    check_fold(fx, "1 || x < y", "1.0f");
    check_fold(fx, "sin(x * 1)", "sinf(x)");
    check_fold(fx, "sin(2 - 2) + x", "x");
}

static void fold_should_keep_what_inf_or_nan_could_change(void **state)
{
    fixture *fx = *state;
    /* 0*x is NaN for x = inf, 0/x is NaN for x = 0, x-x is NaN for inf */
    check_fold(fx, "0*x", "0.0f * x");
    check_fold(fx, "x*0", "x * 0.0f");
    check_fold(fx, "0/x", "0.0f / x");
    check_fold(fx, "x-x", "x - x");
    check_fold(fx, "x/x", "x / x");
    check_fold(fx, "0 - x", "0.0f - x");
    check_fold(fx, "1/0", "1.0f / 0.0f");
    check_fold(fx, "1 && x", "(((1.0f != 0.0f) && (x != 0.0f)) ? 1.0f : 0.0f)");
}

static void fold_should_not_modify_its_input(void **state)
{
    fixture *fx = *state;
    cb_expr *e = parse(fx, "(x * 1) + (y + 0)");
    cb_expr *f = cb_expr_fold(&fx->arena, e);
    check_tree_text_at(f, false, NULL, "x + y", __FILE__, __LINE__);
    check_tree_text_at(e, false, NULL, "x * 1.0f + (y + 0.0f)", __FILE__,
                       __LINE__);
    /* nothing to fold: the same tree comes back */
    e = parse(fx, "x * y");
    assert_ptr_equal(cb_expr_fold(&fx->arena, e), e);
}

/* ---- printing --------------------------------------------------------- */

static void print_should_write_float_literals_with_a_suffix(void **state)
{
    (void)state;
    check_real(0.1, false, "0.1f");
    check_real(0.1, true, "0.1");
    check_real(1e-3, false, "0.001f");
    check_real(1e-3, true, "0.001");
    check_real(1e-5, false, "1e-05f");
    check_real(1.0, false, "1.0f");
    check_real(1.0, true, "1.0");
    check_real(0.0, false, "0.0f");
    check_real(-0.0, false, "(-0.0f)");
    check_real(-2.0, false, "(-2.0f)");
    check_real(-2.0, true, "(-2.0)");
    check_real(25000.0, false, "25000.0f");
    check_real(2.5e20, false, "2.5e+20f");
    check_real(10.0, false, "10.0f");
    check_real(-1200.0, true, "(-1200.0)");
    check_real(1e15, false, "1000000000000000.0f");
    check_real(1e16, true, "1e+16");
    check_real(123456789.0, true, "123456789.0");
    check_real(1.0 / 3.0, false, "0.3333333333333333f");
    check_real(1e39, true, "1e+39");
    check_real(INFINITY, false, "(1.0f / 0.0f)");
    check_real(-INFINITY, true, "(-1.0 / 0.0)");
    check_real(NAN, false, "CB_NAN"); /* the prelude's, C's NAN bits */
    /* beyond float's range: the value the float kernel would hold */
    check_real(1e39, false, "(1.0f / 0.0f)");
    check_real(-1e39, false, "(-1.0f / 0.0f)");
    check_real(1e-50, false, "0.0f");
    check_real(1e-50, true, "1e-50");
    check_real(1e-45, false, "1e-45f"); /* a float subnormal */
}

static void print_should_write_float_code(void **state)
{
    fixture *fx = *state;
    check_float(fx, "sigma * (y - x)", "10.0f * (s[1] - s[0])");
    check_float(fx, "x * (rho - z) - y", "s[0] * (p[0] - s[2]) - s[1]");
    check_float(fx, "0.1 * x + 1e-3", "0.1f * s[0] + 0.001f");
    check_float(fx, "x * -2", "s[0] * (-2.0f)");
    check_float(fx, "-2 * x", "(-2.0f) * s[0]");
    check_float(fx, "x - (y - z)", "s[0] - (s[1] - s[2])");
    check_float(fx, "(x - y) - z", "s[0] - s[1] - s[2]");
    check_float(fx, "x + (y + z)", "s[0] + (s[1] + s[2])");
    check_float(fx, "x / (y * z)", "s[0] / (s[1] * s[2])");
    check_float(fx, "x - -y", "s[0] - -s[1]");
    check_float(fx, "-(-x)", "-(-s[0])");
    check_float(fx, "-(x * y)", "-(s[0] * s[1])");
    check_float(fx, "t * rho + k * r2 + f", "t * p[0] + p[1] * aux[0] + d[0]");
    check_float(fx, "exp(-x) + sin(y) * cos(z)",
                "expf(-s[0]) + sinf(s[1]) * cosf(s[2])");
    check_float(fx, "abs(x) + min(x, y) + max(x, y) + sign(z)",
                "fabsf(s[0]) + fminf(s[0], s[1]) + fmaxf(s[0], s[1])"
                " + cb_sign(s[2])");
    check_float(fx, "atan2(y, x + 1) * tanh(erf(x))",
                "atan2f(s[1], s[0] + 1.0f) * tanhf(erff(s[0]))");
}

static void print_should_turn_small_powers_into_products(void **state)
{
    fixture *fx = *state;
    check_float(fx, "x^2", "s[0] * s[0]");
    check_float(fx, "x**3", "s[0] * s[0] * s[0]");
    check_float(fx, "x^8", "s[0] * s[0] * s[0] * s[0] * s[0] * s[0] * s[0]"
                           " * s[0]");
    check_float(fx, "(x + y)^2", "(s[0] + s[1]) * (s[0] + s[1])");
    check_float(fx, "(-x)^2", "(-s[0]) * (-s[0])");
    check_float(fx, "sin(x)^2", "sinf(s[0]) * sinf(s[0])");
    check_float(fx, "x^0.5", "sqrtf(s[0])");
    check_float(fx, "(x + 1)^0.5", "sqrtf(s[0] + 1.0f)");
    check_float(fx, "x^-1", "1.0f / s[0]");
    check_float(fx, "(x * y)^-1", "1.0f / (s[0] * s[1])");
    check_float(fx, "x^-2", "1.0f / (s[0] * s[0])");
    check_float(fx, "x^2.5", "powf(s[0], 2.5f)");
    check_float(fx, "x^9", "powf(s[0], 9.0f)");
    check_float(fx, "x^y", "powf(s[0], s[1])");
    check_float(fx, "x^(y + 1)", "powf(s[0], s[1] + 1.0f)");
    check_float(fx, "y / x^2", "s[1] / (s[0] * s[0])");
    check_float(fx, "2 * x^2", "2.0f * (s[0] * s[0])");
    check_float(fx, "x^2 * 2", "s[0] * s[0] * 2.0f");
    check_float(fx, "-x^2", "-(s[0] * s[0])");
    check_float(fx, "y - x^-1", "s[1] - 1.0f / s[0]");
    check_float(fx, "2^x", "powf(2.0f, s[0])");
}

static void print_should_write_comparisons_as_real_conditionals(void **state)
{
    fixture *fx = *state;
    check_float(fx, "x < y", "((s[0] < s[1]) ? 1.0f : 0.0f)");
    check_float(fx, "x + 1 >= y * 2", "((s[0] + 1.0f >= s[1] * 2.0f) ? 1.0f"
                                      " : 0.0f)");
    check_float(fx, "x < y && y < z",
                "(((s[0] < s[1]) && (s[1] < s[2])) ? 1.0f : 0.0f)");
    check_float(fx, "x or y",
                "(((s[0] != 0.0f) || (s[1] != 0.0f)) ? 1.0f : 0.0f)");
    check_float(fx, "!x", "((s[0] == 0.0f) ? 1.0f : 0.0f)");
    check_float(fx, "!(x + y)", "(((s[0] + s[1]) == 0.0f) ? 1.0f : 0.0f)");
    check_float(fx, "!(x < y)", "((!(s[0] < s[1])) ? 1.0f : 0.0f)");
    check_float(fx, "where(x < y, x, y)", "((s[0] < s[1]) ? s[0] : s[1])");
    check_float(fx, "where(x, 1, 2)", "(s[0] != 0.0f ? 1.0f : 2.0f)");
    check_float(fx, "x + y ? x - 1 : -y",
                "((s[0] + s[1]) != 0.0f ? s[0] - 1.0f : -s[1])");
    check_float(fx, "2 * where(x > 0 and y > 0, x, 0)",
                "2.0f * (((s[0] > 0.0f) && (s[1] > 0.0f)) ? s[0] : 0.0f)");
    check_float(fx, "(x < y) < z",
                "((((s[0] < s[1]) ? 1.0f : 0.0f) < s[2]) ? 1.0f : 0.0f)");
}

static void print_should_write_double_code(void **state)
{
    fixture *fx = *state;
    check_double(fx, "x^2 + 0.1", "s[0] * s[0] + 0.1");
    check_double(fx, "exp(x) - log(y) + abs(z)",
                 "exp(s[0]) - log(s[1]) + fabs(s[2])");
    check_double(fx, "x^0.5 + x^2.5", "sqrt(s[0]) + pow(s[0], 2.5)");
    check_double(fx, "x^-3", "1.0 / (s[0] * s[0] * s[0])");
    check_double(fx, "-2 * x + 1e-3", "(-2.0) * s[0] + 0.001");
    check_double(fx, "min(x, y) * sign(x)", "fmin(s[0], s[1]) * cb_sign(s[0])");
    check_double(fx, "x < y", "((s[0] < s[1]) ? 1.0 : 0.0)");
    check_double(fx, "where(x, y, z)", "(s[0] != 0.0 ? s[1] : s[2])");
    check_double(fx, "!x", "((s[0] == 0.0) ? 1.0 : 0.0)");
}

static void print_without_a_sym_printer_should_use_names(void **state)
{
    fixture *fx = *state;
    check_tree_text_at(parse(fx, "x * rho"), true, NULL, "x * rho", __FILE__,
                       __LINE__);
}

/* ---- uses ------------------------------------------------------------- */

static void uses_should_find_symbols_by_role_and_index(void **state)
{
    fixture *fx = *state;
    cb_expr *e = parse(fx, "x * rho + t * sigma");
    assert_true(cb_expr_uses(e, CB_SYM_STATE, -1));
    assert_true(cb_expr_uses(e, CB_SYM_STATE, 0));
    assert_false(cb_expr_uses(e, CB_SYM_STATE, 1));
    assert_true(cb_expr_uses(e, CB_SYM_PARAM, 0));
    assert_true(cb_expr_uses(e, CB_SYM_TIME, -1));
    assert_false(cb_expr_uses(e, CB_SYM_AUX, -1));
    assert_false(cb_expr_uses(e, CB_SYM_CONST, -1)); /* folded away */
    assert_true(cb_expr_uses(parse(fx, "where(y > 0, 1, r2)"), CB_SYM_AUX,
                             0));
    assert_false(cb_expr_uses(NULL, CB_SYM_STATE, -1));
}

/* ---- errors ----------------------------------------------------------- */

static void parse_errors_should_quote_the_expression_with_a_caret(
    void **state)
{
    fixture *fx = *state;
    cubie_error err = {0};
    cb_expr *e = NULL;
    cubie_status st = cb_expr_parse(&fx->arena, "sigma * (y - xx)", resolve,
                                    NULL, "/equations/0", &e, &err);
    assert_int_equal(st, CUBIE_E_EXPR);
    assert_int_equal(err.column, 14);
    assert_string_equal(err.path, "/equations/0");
    assert_string_equal(err.message,
                        "unknown name 'xx' at /equations/0, column 14:\n"
                        "  sigma * (y - xx)\n"
                        "               ^");

    /* no path: the message still says where */
    cubie_error err2 = {0};
    st = cb_expr_parse(&fx->arena, "x +", resolve, NULL, NULL, &e, &err2);
    assert_int_equal(st, CUBIE_E_EXPR);
    assert_string_equal(err2.message,
                        "unexpected end of expression (expected a number, a"
                        " name or '(') at column 4:\n"
                        "  x +\n"
                        "     ^");

    /* a tab and a multi-byte character keep the caret aligned */
    cubie_error err3 = {0};
    st = cb_expr_parse(&fx->arena, "\tx + \xc3\xa9 + ?", resolve, NULL, "/e",
                       &e, &err3);
    assert_int_equal(st, CUBIE_E_EXPR);
    assert_int_equal(err3.column, 6);
    assert_string_equal(err3.message, "unexpected character 0xc3 at /e, "
                                      "column 6:\n"
                                      "   x + \xc3\xa9 + ?\n"
                                      "       ^");
}

static void parse_errors_should_name_each_problem(void **state)
{
    fixture *fx = *state;
    check_error(fx, "x + y * sigmaa", "unknown name 'sigmaa'", 9);
    check_error(fx, "1 + foo(x)", "unknown function 'foo'", 5);
    check_error(fx, "sin(x, y)", "function 'sin' takes 1 argument, not 2",
                1);
    check_error(fx, "atan2(x)", "function 'atan2' takes 2 arguments, not 1",
                1);
    check_error(fx, "x + exp()", "function 'exp' takes 1 argument, not 0",
                5);
    check_error(fx, "where(x, y)", "function 'where' takes 3 arguments", 1);
    check_error(fx, "x + 1.2.3", "malformed number '1.2.3'", 5);
    check_error(fx, "2x", "malformed number '2x'", 1);
    check_error(fx, "x * 1e+", "malformed number '1e+'", 5);
    check_error(fx, "x * 1e999", "number '1e999' is out of range", 5);
    check_error(fx, "", "empty expression", 1);
    check_error(fx, "   ", "empty expression", 1);
    check_error(fx, "x @ y", "unexpected character '@'", 3);
    check_error(fx, "x = y", "unexpected character '=' (compare with '==')",
                3);
    check_error(fx, "x & y", "did you mean '&&'?", 3);
    check_error(fx, "x + * y", "unexpected '*' (expected a number, a name"
                               " or '(')", 5);
    check_error(fx, "x +", "unexpected end of expression", 4);
    check_error(fx, "(x + y", "missing ')' to close the '(' at column 1", 7);
    check_error(fx, "((x + y) * 2", "missing ')' to close the '(' at column 1",
                13);
    check_error(fx, "sin(x", "missing ')' to close the '(' of sin() at"
                             " column 4", 6);
    check_error(fx, "max(x y)", "missing ')'", 7);
    check_error(fx, "x y", "trailing input 'y' after a complete expression",
                3);
    check_error(fx, "(x + y))", "unmatched ')'", 8);
    check_error(fx, "sin + 1", "function 'sin' needs arguments: sin(...)",
                1);
    check_error(fx, "2 * x(3)", "'x' is not a function", 5);
    check_error(fx, "x < y < z", "comparisons cannot be chained", 7);
    check_error(fx, "x ? y", "unexpected end of expression (expected ':')",
                6);
    check_error(fx, "x ? y , z", "missing ':' of the '?' at column 3", 7);
    /* the leftmost problem wins */
    check_error(fx, "x + $ + qq", "unexpected character '$'", 5);
}

static void parse_errors_should_survive_hostile_input(void **state)
{
    fixture *fx = *state;
    char deep[1024];
    memset(deep, '(', 600);
    deep[600] = 'x';
    deep[601] = '\0';
    check_error(fx, deep, "nested too deeply", 101);
    memset(deep, '-', 600);
    check_error(fx, deep, "nested too deeply", 200);

    /* a long expression is quoted as a window around the column */
    char lng[1024];
    size_t n = 0;
    for (int i = 0; i < 120; i++) {
        n += (size_t)snprintf(lng + n, sizeof(lng) - n, "x + ");
    }
    snprintf(lng + n, sizeof(lng) - n, "nope + y");
    cubie_error err = {0};
    cb_expr *e = NULL;
    cubie_status st = cb_expr_parse(&fx->arena, lng, resolve, NULL,
                                    "/equations/9", &e, &err);
    assert_int_equal(st, CUBIE_E_EXPR);
    assert_int_equal(err.column, 481);
    assert_non_null(strstr(err.message, "unknown name 'nope'"));
    assert_non_null(strstr(err.message, "\n  ...+ x + x + "));
    const char *caret = strrchr(err.message, '\n');
    assert_non_null(caret);
    /* 2 indent + 3 for "..." + 50 characters before the column */
    assert_string_equal(caret + 1 + 2 + 3 + 50, "^");
    assert_int_equal(strspn(caret + 1, " "), 55);
    const char *quote = strchr(err.message, '\n') + 1;
    assert_memory_equal(quote + 55, "nope", 4);

    /* no resolver: every name is unknown */
    cubie_error err2 = {0};
    st = cb_expr_parse(&fx->arena, "x", NULL, NULL, "/p", &e, &err2);
    assert_int_equal(st, CUBIE_E_EXPR);
    assert_non_null(strstr(err2.message, "unknown name 'x'"));

    /* the first error recorded wins */
    st = cb_expr_parse(&fx->arena, "y +", resolve, NULL, "/q", &e, &err2);
    assert_int_equal(st, CUBIE_E_EXPR);
    assert_string_equal(err2.path, "/p");
}

/* ---- the printed C compiles, and computes what cb_expr_eval does ------ */

static const char *const compile_exprs[] = {
    "sigma * (y - x)",
    "x * (rho - z) - y",
    "0.1 * x^2 + 1e-3 * y^-1 - (x + y)^0.5",
    "exp(-x / k) * sin(t) + cos(y)^3",
    "pow(x, 2.5) + x^y + atan2(y, x) + tanh(z) + erf(0.5 * x)",
    "abs(x - y) + min(x, y) - max(y, z) + sign(y - x)",
    "where(x > y, x, -y) + (x <= z) * 2",
    "x < y && y < z ? floor(x) : ceil(z)",
    "!(x == y) + (x != y) + (x or 0) + !x",
    "-2 * x / (1 + y*y) + log(1 + z) + sqrt(x*x + y*y)",
    "asin(0.5) + acos(0.25 * x / z) + atan(y) + sinh(0.1) + cosh(0.2 * x)",
    "x^-2 + beta * z + tan(t) - -x",
};

enum { NCOMPILE = sizeof(compile_exprs) / sizeof(compile_exprs[0]) };

/* Writes a file with one function computing every expression in the
 * precision, and (for a runnable check) a main printing the results. */
static bool write_program(fixture *fx, const char *path, bool dbl,
                          bool with_main)
{
    const char *real = dbl ? "double" : "float";
    cb_sb sb;
    cb_sb_init(&sb);
    cb_sb_line(&sb, "#include <math.h>");
    cb_sb_line(&sb, "#include <stdio.h>");
    cb_sb_line(&sb, "static %s cb_sign(%s v)", real, real);
    cb_sb_line(&sb, "{");
    cb_sb_line(&sb, "    return v > 0 ? 1 : (v < 0 ? -1 : 0);");
    cb_sb_line(&sb, "}");
    cb_sb_line(&sb, "void f(const %s *s, const %s *p, const %s *aux,", real,
               real, real);
    cb_sb_line(&sb, "       const %s *d, %s t, %s *out);", real, real, real);
    cb_sb_line(&sb, "void f(const %s *s, const %s *p, const %s *aux,", real,
               real, real);
    cb_sb_line(&sb, "       const %s *d, %s t, %s *out)", real, real, real);
    cb_sb_line(&sb, "{");
    cb_sb_indent(&sb);
    cb_sb_line(&sb, "(void)aux;");
    cb_sb_line(&sb, "(void)d;");
    for (int i = 0; i < NCOMPILE; i++) {
        cb_sb_printf(&sb, "out[%d] = ", i);
        cb_expr_print(parse(fx, compile_exprs[i]), dbl, sym_print, NULL, &sb);
        cb_sb_puts(&sb, ";\n");
    }
    cb_sb_dedent(&sb);
    cb_sb_line(&sb, "}");
    if (with_main) {
        cb_sb_line(&sb, "int main(void)");
        cb_sb_line(&sb, "{");
        cb_sb_line(&sb, "    %s s[3] = {2.0, 3.0, 5.0}, p[2] = {28.0, 0.5};",
                   real);
        cb_sb_line(&sb, "    %s aux[1] = {7.0}, d[1] = {0.25}, out[%d];",
                   real, NCOMPILE);
        cb_sb_line(&sb, "    f(s, p, aux, d, 1.5, out);");
        cb_sb_line(&sb, "    for (int i = 0; i < %d; i++) {", NCOMPILE);
        cb_sb_line(&sb, "        printf(\"%%.17g\\n\", out[i]);");
        cb_sb_line(&sb, "    }");
        cb_sb_line(&sb, "    return 0;");
        cb_sb_line(&sb, "}");
    }
    assert_false(sb.failed);
    FILE *fp = fopen(path, "w");
    if (fp == NULL) {
        cb_sb_free(&sb);
        return false;
    }
    bool ok = fputs(cb_sb_str(&sb), fp) >= 0;
    ok = fclose(fp) == 0 && ok;
    cb_sb_free(&sb);
    return ok;
}

static bool have_program(const char *name)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

static int run(const char *fmt, ...) CB_PRINTF(1, 2);

static int run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0) {
        print_error("command failed (%d): %s\n", rc, cmd);
    }
    return rc;
}

static void make_tmpdir(char dir[256])
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, 256, "%s/cubie_expr_XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
}

static void remove_tmpdir(const char *dir)
{
    static const char *const names[] = {"f.c", "d.c", "f.o", "d.o", "run.c",
                                        "run", "run.out"};
    char path[512];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void float_code_should_compile_without_double_arithmetic(
    void **state)
{
    fixture *fx = *state;
    if (!have_program("cc")) {
        skip();
    }
    char dir[256];
    make_tmpdir(dir);
    char src[512];
    snprintf(src, sizeof(src), "%s/f.c", dir);
    assert_true(write_program(fx, src, false, false));
    /* gcc flags exactly the double promotions NVRTC would compile
     * silently (toolchain notes, pitfall 5). */
    int rc = run("cc -std=c11 -Wall -Wextra -Wpedantic -Wdouble-promotion "
                 "-Wfloat-conversion -Werror -c '%s' -o '%s/f.o'", src, dir);
    if (rc == 0 && have_program("c++")) {
        /* The common C / C++ subset is what NVRTC needs. */
        rc = run("c++ -x c++ -std=c++17 -Wall -Wextra -Wdouble-promotion "
                 "-Werror -fsyntax-only '%s'", src);
    }
    snprintf(src, sizeof(src), "%s/d.c", dir);
    if (rc == 0) {
        assert_true(write_program(fx, src, true, false));
        rc = run("cc -std=c11 -Wall -Wextra -Wpedantic -Werror -c '%s' "
                 "-o '%s/d.o'", src, dir);
    }
    remove_tmpdir(dir);
    assert_int_equal(rc, 0);
}

static void double_code_should_compute_what_eval_computes(void **state)
{
    fixture *fx = *state;
    if (!have_program("cc")) {
        skip();
    }
    char dir[256];
    make_tmpdir(dir);
    char src[512];
    snprintf(src, sizeof(src), "%s/run.c", dir);
    assert_true(write_program(fx, src, true, true));
    int rc = run("cc -std=c11 -Wall -Werror '%s' -o '%s/run' -lm && "
                 "'%s/run' > '%s/run.out'", src, dir, dir, dir);
    double got[NCOMPILE];
    int n = 0;
    if (rc == 0) {
        char path[512];
        snprintf(path, sizeof(path), "%s/run.out", dir);
        FILE *fp = fopen(path, "r");
        assert_non_null(fp);
        while (n < NCOMPILE && fscanf(fp, "%lf", &got[n]) == 1) {
            n++;
        }
        fclose(fp);
    }
    remove_tmpdir(dir);
    assert_int_equal(rc, 0);
    assert_int_equal(n, NCOMPILE);
    for (int i = 0; i < NCOMPILE; i++) {
        double want = cb_expr_eval(parse(fx, compile_exprs[i]), sym_value,
                                   NULL);
        /* Products for small powers round differently from pow(). */
        if (!(fabs(got[i] - want) <= 1e-13 * (1.0 + fabs(want)))) {
            print_error("\"%s\": C gives %.17g, eval %.17g\n",
                        compile_exprs[i], got[i], want);
            fail();
        }
    }
}

/* ---- trees from hostile input (issue 10, rows 2 and 4) ------------------ */

/* The walks over a tree are iterative: a sum of 50000 terms (a left-deep
 * chain 50000 nodes deep), a long product and a long conjunction parse,
 * fold, evaluate and print inside a thread with a 1 MiB stack. cmocka's
 * asserts stay in the main thread; the thread records. */
typedef struct {
    const char *src[3];
    cubie_status st[3];
    double value[3];
    size_t printed[3], printed_locals[3];
    bool uses_y[3], uses_aux[3];
} deep_job;

static void *deep_main(void *arg)
{
    deep_job *j = arg;
    for (int i = 0; i < 3; i++) {
        cb_arena arena;
        cb_arena_init(&arena);
        cubie_error err = {0};
        cb_expr *e = NULL;
        j->st[i] = cb_expr_parse(&arena, j->src[i], resolve, NULL,
                                 "/equations/0", &e, &err);
        if (j->st[i] == CUBIE_OK) {
            e = cb_expr_fold(&arena, e);
            j->value[i] = cb_expr_eval(e, sym_value, NULL);
            cb_sb sb, pre;
            cb_sb_init(&sb);
            cb_sb_init(&pre);
            cb_expr_print(e, true, sym_print, NULL, &sb);
            j->printed[i] = sb.failed ? 0 : sb.len;
            cb_sb_free(&sb);
            cb_sb_init(&sb);
            cb_locals loc = {&pre, 0};
            cb_expr_print_locals(e, false, sym_print, NULL, &loc, &sb);
            j->printed_locals[i] = sb.failed || pre.failed ? 0 : sb.len;
            cb_sb_free(&sb);
            cb_sb_free(&pre);
            j->uses_y[i] = cb_expr_uses(e, CB_SYM_STATE, 1);
            j->uses_aux[i] = cb_expr_uses(e, CB_SYM_AUX, -1);
        }
        cb_arena_free(&arena);
    }
    return NULL;
}

/* "term op term op ... term", n terms (malloc). */
static char *chain_of(const char *term, const char *op, int n)
{
    size_t len = (size_t)n * (strlen(term) + strlen(op)) + 1;
    char *s = malloc(len);
    assert_non_null(s);
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        at += (size_t)snprintf(s + at, len - at, "%s%s", i > 0 ? op : "",
                               term);
    }
    return s;
}

static void walks_should_survive_a_sum_of_50000_terms_in_a_1_mib_stack(
    void **state)
{
    (void)state;
    deep_job j = {{chain_of("x + y", " + ", 25000),
                   chain_of("k", " * ", 1000),
                   chain_of("x < y", " && ", 5000)},
                  {CUBIE_OK, CUBIE_OK, CUBIE_OK}, {0, 0, 0}, {0, 0, 0},
                  {0, 0, 0}, {false, false, false}, {false, false, false}};
    pthread_attr_t attr;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, 1 << 20), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, &attr, deep_main, &j), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(j.st[i], CUBIE_OK);
    }
    /* x = 2, y = 3, k = 0.5: every value exact. */
    assert_true(j.value[0] == 25000.0 * 5.0);
    assert_true(j.value[1] == ldexp(1.0, -1000));
    assert_true(j.value[2] == 1.0);
    /* "s[0] + s[1] + " per pair; "p[1] * " per factor. */
    assert_int_equal(j.printed[0], 25000 * strlen("s[0] + s[1] + ") - 3);
    assert_int_equal(j.printed_locals[0], j.printed[0]);
    assert_int_equal(j.printed[1], 1000 * strlen("p[1] * ") - 3);
    assert_true(j.printed[2] > 5000 * strlen("(s[0] < s[1]) && "));
    assert_true(j.uses_y[0] && !j.uses_aux[0]);
    assert_true(!j.uses_y[1] && !j.uses_aux[1]);
    assert_true(j.uses_y[2]);
    for (int i = 0; i < 3; i++) {
        free((char *)j.src[i]);
    }
}

/* -((((x+1)^8+1)^8 ... +1)^8 with `levels` powers (malloc). */
static char *nested_powers(int levels)
{
    char *s = malloc((size_t)levels * 8 + 8);
    assert_non_null(s);
    size_t at = (size_t)sprintf(s, "-");
    for (int i = 0; i < levels; i++) {
        s[at++] = '(';
    }
    s[at++] = 'x';
    for (int i = 0; i < levels; i++) {
        at += (size_t)sprintf(s + at, "+1)^8");
    }
    s[at] = '\0';
    return s;
}

/* Each base is printed once: the text is linear in the levels. Without
 * locals the base of level L is printed 8^(L-1) times (357 MB at 8). */
static void print_with_locals_should_grow_linearly_with_nested_powers(
    void **state)
{
    fixture *fx = *state;
    const int levels[] = {8, 9, 12};
    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
        char *src = nested_powers(levels[l]);
        cb_expr *e = parse(fx, src);
        cb_sb pre, out;
        cb_sb_init(&pre);
        cb_sb_init(&out);
        pre.indent = 1;
        cb_locals loc = {&pre, 0};
        cb_expr_print_locals(e, true, sym_print, NULL, &loc, &out);
        assert_false(pre.failed || out.failed);
        assert_true(pre.len + out.len < 200000);
        /* (s[0] + 1.0) is short and repeated; every wider base is one
         * local, pw0 .. pw<levels - 2>, the last reading the one before. */
        assert_int_equal(loc.next, levels[l] - 1);
        char want[256];
        snprintf(want, sizeof(want),
                 "    const real pw%d = pw%d * pw%d * pw%d * pw%d * pw%d * "
                 "pw%d * pw%d * pw%d + 1.0;\n", levels[l] - 2,
                 levels[l] - 3, levels[l] - 3, levels[l] - 3, levels[l] - 3,
                 levels[l] - 3, levels[l] - 3, levels[l] - 3, levels[l] - 3);
        assert_non_null(strstr(cb_sb_str(&pre), want));
        snprintf(want, sizeof(want), "-(pw%d * pw%d", levels[l] - 2,
                 levels[l] - 2);
        assert_int_equal(strncmp(cb_sb_str(&out), want, strlen(want)), 0);
        cb_sb_free(&pre);
        cb_sb_free(&out);
        free(src);
    }
}

/* Expressions whose powers have wide bases, some under a condition or in
 * a reciprocal, some products that the host compiler may fuse into the
 * sums around them. */
static const char *const power_exprs[] = {
    "-((((x * k + 1)^8 + 1)^8 * 1e-30 + 1)^3)",
    "((0.1 * (0.1 * (x * y - z)^3 + k)^5 + rho * x)^2 - y)^-4",
    "where(x > y, ((x * y + z)^2 * 3 + 1)^7, ((y - x * z)^3 + k)^-2)",
    "(sin(x * y + z) * k + cos(z - x * rho))^6 * x + (exp(-k * x) + y)^-5",
    "((x + 1)^2 + (y * z + rho)^2)^4 + ((x + y + z + k)^2 - 1)^-8",
};

enum { NPOWER = sizeof(power_exprs) / sizeof(power_exprs[0]) };

/* rep(): every expression printed by cb_expr_print (bases repeated, as
 * before locals existed); loc(): by cb_expr_print_locals. main() runs
 * both at several points and counts the results that differ in any
 * bit. */
static bool write_power_program(fixture *fx, const char *path, bool dbl)
{
    const char *real = dbl ? "double" : "float";
    cb_sb sb;
    cb_sb_init(&sb);
    cb_sb_line(&sb, "#include <math.h>");
    cb_sb_line(&sb, "#include <stdio.h>");
    cb_sb_line(&sb, "#include <string.h>");
    cb_sb_line(&sb, "typedef %s real;", real);
    for (int form = 0; form < 2; form++) {
        cb_sb_line(&sb, "static void %s(const real *s, const real *p, "
                        "real *out)", form == 0 ? "rep" : "loc");
        cb_sb_line(&sb, "{");
        cb_sb_indent(&sb);
        cb_locals loc = {&sb, 0};
        for (int i = 0; i < NPOWER; i++) {
            cb_sb text;
            cb_sb_init(&text);
            cb_expr *e = parse(fx, power_exprs[i]);
            if (form == 0) {
                cb_expr_print(e, dbl, sym_print, NULL, &text);
            } else {
                int before = loc.next;
                cb_expr_print_locals(e, dbl, sym_print, NULL, &loc, &text);
                assert_true(loc.next > before); /* a base became a local */
            }
            cb_sb_printf(&sb, "out[%d] = %s;\n", i, cb_sb_str(&text));
            assert_false(text.failed);
            cb_sb_free(&text);
        }
        cb_sb_dedent(&sb);
        cb_sb_line(&sb, "}");
    }
    cb_sb_line(&sb, "int main(void)");
    cb_sb_line(&sb, "{");
    cb_sb_line(&sb, "    static const real pts[][3] = {{0.3, -0.7, 0.11}, "
                    "{-1.3, 0.2, 2.5}, {0.01, 0.02, -0.03}, "
                    "{2.0, 3.0, 5.0}, {-0.5, -0.25, 0.75}};");
    cb_sb_line(&sb, "    const real p[2] = {0.9, 0.5};");
    cb_sb_line(&sb, "    int bad = 0;");
    cb_sb_line(&sb, "    for (int k = 0; k < 5; k++) {");
    cb_sb_line(&sb, "        real a[%d], b[%d];", NPOWER, NPOWER);
    cb_sb_line(&sb, "        rep(pts[k], p, a);");
    cb_sb_line(&sb, "        loc(pts[k], p, b);");
    cb_sb_line(&sb, "        for (int i = 0; i < %d; i++) {", NPOWER);
    cb_sb_line(&sb, "            if (memcmp(&a[i], &b[i], sizeof(real)) "
                    "!= 0) {");
    cb_sb_line(&sb, "                printf(\"%%d %%d: %%a %%a\\n\", k, i, "
                    "(double)a[i], (double)b[i]);");
    cb_sb_line(&sb, "                bad++;");
    cb_sb_line(&sb, "            }");
    cb_sb_line(&sb, "        }");
    cb_sb_line(&sb, "    }");
    cb_sb_line(&sb, "    return bad != 0;");
    cb_sb_line(&sb, "}");
    assert_false(sb.failed);
    FILE *fp = fopen(path, "w");
    if (fp == NULL) {
        cb_sb_free(&sb);
        return false;
    }
    bool ok = fputs(cb_sb_str(&sb), fp) >= 0;
    ok = fclose(fp) == 0 && ok;
    cb_sb_free(&sb);
    return ok;
}

static void printing_with_locals_should_compute_what_repeated_text_does(
    void **state)
{
    fixture *fx = *state;
    if (!have_program("cc")) {
        skip();
    }
    char dir[256];
    make_tmpdir(dir);
    char src[512];
    snprintf(src, sizeof(src), "%s/run.c", dir);
    /* The host backend's flags (gnu11 contracts products into fused
     * multiply-adds where the processor has them), then none at all. */
    static const char *const flags[] = {
        "-std=gnu11 -O3 -march=native", "-std=c11 -O0 -ffp-contract=off"};
    int rc = 0;
    for (int dbl = 0; dbl < 2 && rc == 0; dbl++) {
        assert_true(write_power_program(fx, src, dbl != 0));
        for (size_t f = 0; f < 2 && rc == 0; f++) {
            rc = run("cc %s -Wall -Werror '%s' -o '%s/run' -lm && '%s/run'",
                     flags[f], src, dir, dir);
        }
    }
    remove_tmpdir(dir);
    assert_int_equal(rc, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(parser_should_follow_precedence_and_associativity),
        T(parser_should_read_comparisons_logic_and_conditionals),
        T(parser_should_call_functions_and_resolve_names),
        T(parser_should_fold_numbers_and_constants),
        T(parser_should_give_every_node_its_column),
        T(fold_should_collapse_constants_and_exact_identities),
        T(fold_should_keep_what_inf_or_nan_could_change),
        T(fold_should_not_modify_its_input),
        T(print_should_write_float_literals_with_a_suffix),
        T(print_should_write_float_code),
        T(print_should_turn_small_powers_into_products),
        T(print_should_write_comparisons_as_real_conditionals),
        T(print_should_write_double_code),
        T(print_without_a_sym_printer_should_use_names),
        T(uses_should_find_symbols_by_role_and_index),
        T(parse_errors_should_quote_the_expression_with_a_caret),
        T(parse_errors_should_name_each_problem),
        T(parse_errors_should_survive_hostile_input),
        T(float_code_should_compile_without_double_arithmetic),
        T(double_code_should_compute_what_eval_computes),
        T(walks_should_survive_a_sum_of_50000_terms_in_a_1_mib_stack),
        T(print_with_locals_should_grow_linearly_with_nested_powers),
        T(printing_with_locals_should_compute_what_repeated_text_does),
#undef T
    };
    return cmocka_run_group_tests_name("expr", tests, NULL, NULL);
}
