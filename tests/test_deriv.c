/* Symbolic derivatives: cb_expr_diff against hand-derived derivatives for
 * every operator and function (and the hand formulas against finite
 * differences, so a typo in the table cannot hide a wrong rule), the
 * simplifications, and the emitted cb_jvp, cb_dfdt and cb_jac_diag of
 * every spec in specs/ compiled with cc and compared with Richardson-
 * extrapolated central differences of the compiled derivatives. The float
 * versions must pass gcc's promotion lint and NVRTC (when present). */
#include "testutil.h"

#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "deriv.h"
#include "cuda_build.h"
#include "generate.h"
#include "spec.h"

/* ---- names for hand-built expressions --------------------------------- */

typedef struct {
    const char *name;
    cb_sym_role role;
    int index;
} test_sym;

static const test_sym syms[] = {
    {"x", CB_SYM_STATE, 0},
    {"y", CB_SYM_STATE, 1},
    {"p", CB_SYM_PARAM, 0},
    {"a", CB_SYM_AUX, 0},
    {"u", CB_SYM_DRIVER, 0},
    {"t", CB_SYM_TIME, 0},
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
    *value = 0.0;
    return true;
}

/* A point: the value of each of syms[], in order. */
typedef struct {
    double v[NSYMS];
} point;

static double sym_value(void *ctx, const cb_expr *e)
{
    const point *pt = ctx;
    for (int i = 0; i < NSYMS; i++) {
        if (syms[i].role == e->role && syms[i].index == e->index) {
            return pt->v[i];
        }
    }
    return NAN;
}

static cb_expr *parse(cb_arena *a, const char *src)
{
    cubie_error err = {0};
    cb_expr *e = NULL;
    tu_ok(cb_expr_parse(a, src, resolve, NULL, "test", &e, &err), &err);
    return e;
}

static cb_expr *diff_by_name(cb_arena *a, const cb_expr *e, const char *wrt)
{
    const test_sym *s = find_sym(wrt);
    assert_non_null(s);
    cb_expr *d = cb_expr_diff(a, e, s->role, s->index);
    assert_non_null(d);
    return d;
}

static char *print(const cb_expr *e, bool dbl)
{
    cb_sb sb;
    cb_sb_init(&sb);
    cb_expr_print(e, dbl, NULL, NULL, &sb);
    assert_false(sb.failed);
    char *s = cb_sb_take(&sb);
    assert_non_null(s);
    return s;
}

/* ---- the rule table ------------------------------------------------------
 * expression, symbol, derivative worked out by hand (in the expression
 * language). Points stay clear of the kinks of the piecewise cases. */

typedef struct {
    const char *expr;
    const char *wrt;
    const char *hand;
} rule_case;

static const rule_case rules[] = {
    /* operators */
    {"x + y", "x", "1"},
    {"x - y", "y", "-1"},
    {"-x", "x", "-1"},
    {"-(x * y)", "y", "-x"},
    {"x * y", "x", "y"},
    {"x * x * y", "x", "2 * x * y"},
    {"x / y", "x", "1 / y"},
    {"x / y", "y", "-x / y^2"},
    {"(x + 1) / (x * x + 2)", "x",
     "1 / (x*x + 2) - (x + 1) * 2 * x / (x*x + 2)^2"},
    {"x^3", "x", "3 * x^2"},
    {"x^2", "x", "2 * x"},
    {"x^0.5", "x", "0.5 / sqrt(x)"},
    {"x^-2", "x", "-2 / x^3"},
    {"x^2.5", "x", "2.5 * x^1.5"},
    {"x^y", "x", "y * x^(y - 1)"},
    {"x^y", "y", "x^y * log(x)"},
    {"x^(x*y)", "x", "x^(x*y) * (y * log(x) + y)"},
    {"2^x", "x", "2^x * log(2)"},
    {"x^p", "p", "x^p * log(x)"},
    {"(x*y)^p", "x", "p * (x*y)^(p - 1) * y"},
    {"x < y", "x", "0"},
    {"x <= y", "y", "0"},
    {"x > y", "x", "0"},
    {"x >= y", "x", "0"},
    {"x == y", "x", "0"},
    {"x != y", "x", "0"},
    {"x && y", "x", "0"},
    {"x || y", "y", "0"},
    {"!x", "x", "0"},
    {"x > 0.5 ? x^2 : -x", "x", "x > 0.5 ? 2 * x : -1"},
    {"x > 0.5 ? x * y : y", "y", "x > 0.5 ? x : 1"},
    {"x > 0.5 ? p : y", "x", "0"},
    /* functions */
    {"exp(2 * x)", "x", "2 * exp(2 * x)"},
    {"log(x * y)", "x", "1 / x"},
    {"sqrt(x)", "x", "0.5 / sqrt(x)"},
    {"sqrt(x * y)", "y", "x / (2 * sqrt(x * y))"},
    {"pow(x, 3)", "x", "3 * x^2"},
    {"pow(x, y)", "x", "y * x^(y - 1)"},
    {"pow(x, y)", "y", "x^y * log(x)"},
    {"pow(3, x * y)", "y", "3^(x*y) * log(3) * x"},
    {"sin(x * y)", "x", "y * cos(x * y)"},
    {"cos(x * y)", "x", "-y * sin(x * y)"},
    {"tan(x)", "x", "1 / cos(x)^2"},
    {"asin(x)", "x", "1 / sqrt(1 - x^2)"},
    {"acos(x)", "x", "-1 / sqrt(1 - x^2)"},
    {"atan(x)", "x", "1 / (1 + x^2)"},
    {"atan(x * y)", "y", "x / (1 + x^2 * y^2)"},
    {"atan2(x, y)", "x", "y / (x^2 + y^2)"},
    {"atan2(x, y)", "y", "-x / (x^2 + y^2)"},
    {"atan2(x*x, y)", "x", "2 * x * y / (x^4 + y^2)"},
    {"sinh(x)", "x", "cosh(x)"},
    {"cosh(x)", "x", "sinh(x)"},
    {"tanh(x)", "x", "1 / cosh(x)^2"},
    {"erf(x)", "x", "2 / sqrt(3.14159265358979323846) * exp(-x^2)"},
    {"erf(x * y)", "y", "2 / sqrt(3.14159265358979323846) * exp(-(x*y)^2) * x"},
    {"abs(x)", "x", "x > 0 ? 1 : -1"},
    {"abs(x * y)", "y", "x * y > 0 ? x : -x"},
    {"min(x, y)", "x", "x < y ? 1 : 0"},
    {"min(x, y)", "y", "x < y ? 0 : 1"},
    {"max(x, y)", "x", "x > y ? 1 : 0"},
    {"max(x, y*y)", "y", "x > y*y ? 0 : 2*y"},
    {"floor(5 * x + 0.13)", "x", "0"},
    {"ceil(5 * x + 0.13)", "x", "0"},
    {"sign(x)", "x", "0"},
    {"where(x > 0.5, x^2, -x)", "x", "x > 0.5 ? 2 * x : -1"},
    /* other roles, and chains */
    {"sin(t) * x", "t", "cos(t) * x"},
    {"x * t^2 + t", "t", "2 * x * t + 1"},
    {"a * x + exp(a)", "a", "x + exp(a)"},
    {"a * x + exp(a)", "x", "a"},
    {"p * x^2", "p", "x^2"},
    {"u * x", "u", "x"},
    {"exp(sin(x * y)) / (1 + x^2)", "x",
     "exp(sin(x*y)) * cos(x*y) * y / (1 + x^2)"
     " - exp(sin(x*y)) * 2 * x / (1 + x^2)^2"},
    {"log(1 + exp(-x)) * sqrt(1 + y^2)", "x",
     "-exp(-x) / (1 + exp(-x)) * sqrt(1 + y^2)"},
};

enum { NRULES = sizeof(rules) / sizeof(rules[0]) };

/* x, y, p, a, u, t at each point: inside (0, 1) where log, sqrt, asin
 * and powers of x need it, plus points with negative x or y for the
 * functions defined there (non-finite hand values are skipped, and each
 * case must be checked at MIN_POINTS points at least). */
static const point points[] = {
    {{0.3, 0.6, 1.7, 0.9, 0.25, 1.5}},
    {{0.7, 0.2, 0.4, -1.3, -0.5, 0.2}},
    {{0.55, 0.45, 2.5, 0.1, 1.5, -2.0}},
    {{0.83, 0.91, 0.6, 2.2, 0.75, 3.1}},
    {{-0.4, 0.8, 1.2, -0.6, 0.5, 0.7}},
    {{0.8, -0.35, 0.9, 0.3, -1.0, -0.4}},
    {{-0.62, -0.27, 3.0, 1.1, 2.0, 5.0}},
};

enum { NPOINTS = sizeof(points) / sizeof(points[0]), MIN_POINTS = 3 };

/* The derivative in e of symbol `which` at pt by central differences,
 * Richardson-extrapolated (error O(h^4)). */
static double fd_at(const cb_expr *e, const point *pt, int which)
{
    const double h = 1e-3;
    double d[2];
    for (int r = 0; r < 2; r++) {
        double hh = r == 0 ? h : h / 2.0;
        point a = *pt, b = *pt;
        a.v[which] += hh;
        b.v[which] -= hh;
        d[r] = (cb_expr_eval(e, sym_value, &a) - cb_expr_eval(e, sym_value, &b))
               / (2.0 * hh);
    }
    return (4.0 * d[1] - d[0]) / 3.0;
}

static void every_rule_should_match_its_hand_derived_derivative(void **st)
{
    (void)st;
    for (int c = 0; c < NRULES; c++) {
        cb_arena a;
        cb_arena_init(&a);
        cb_expr *e = parse(&a, rules[c].expr);
        cb_expr *hand = parse(&a, rules[c].hand);
        cb_expr *d = diff_by_name(&a, e, rules[c].wrt);
        int which = (int)(find_sym(rules[c].wrt) - syms);
        int checked = 0;
        for (int k = 0; k < NPOINTS; k++) {
            double want = cb_expr_eval(hand, sym_value, (void *)&points[k]);
            double v = cb_expr_eval(e, sym_value, (void *)&points[k]);
            if (!isfinite(want) || !isfinite(v)) {
                continue;
            }
            double got = cb_expr_eval(d, sym_value, (void *)&points[k]);
            double fd = fd_at(e, &points[k], which);
            double scale = fmax(fabs(want), 1.0);
            if (!(fabs(got - want) <= 1e-13 * scale)
                || !(fabs(fd - want) <= 1e-7 * scale)) {
                char *txt = print(d, true);
                print_error("d(%s)/d%s at point %d: symbolic %.17g, hand "
                            "%.17g, finite difference %.17g\n  derivative: "
                            "%s\n", rules[c].expr, rules[c].wrt, k, got,
                            want, fd, txt);
                free(txt);
                fail();
            }
            checked++;
        }
        if (checked < MIN_POINTS) {
            print_error("d(%s)/d%s: only %d points in the domain\n",
                        rules[c].expr, rules[c].wrt, checked);
            fail();
        }
        cb_arena_free(&a);
    }
}

/* Every function of the language has a rule in the table. */
static void every_function_should_have_a_tested_rule(void **st)
{
    (void)st;
    for (int f = 0; f < CB_FN_COUNT; f++) {
        char call[32];
        snprintf(call, sizeof(call), "%s(", cb_func_name((cb_func)f));
        bool found = false;
        for (int c = 0; c < NRULES && !found; c++) {
            found = strncmp(rules[c].expr, call, strlen(call)) == 0;
        }
        if (!found) {
            print_error("no rule case starts with %s\n", call);
        }
        assert_true(found);
    }
}

static void a_symbol_that_does_not_occur_should_give_the_number_zero(
    void **st)
{
    (void)st;
    static const char *const exprs[] = {
        "p * y + sin(p)", "floor(x)", "x < y", "sign(x * y)",
        "x > 0 ? p : 2 * p", "p * floor(x)", "exp(y) ^ 2",
    };
    for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
        cb_arena a;
        cb_arena_init(&a);
        cb_expr *d = diff_by_name(&a, parse(&a, exprs[i]), "x");
        if (!(d->kind == CB_EX_NUM && d->num == 0.0)) {
            char *txt = print(d, true);
            print_error("d(%s)/dx = %s, not the number 0\n", exprs[i], txt);
            free(txt);
            fail();
        }
        cb_arena_free(&a);
    }
}

/* x*1, x+0, 0*x never appear: the derivative prints as written here. */
static void derivatives_should_be_simplified_as_they_are_built(void **st)
{
    (void)st;
    static const struct {
        const char *expr, *wrt, *printed;
    } cases[] = {
        {"x", "x", "1.0"},
        {"3 * x + y", "x", "3.0"},
        {"x * y", "x", "y"},
        {"x * y * p", "x", "y * p"},
        {"x - 2 * y", "y", "(-2.0)"},
        {"exp(x)", "x", "exp(x)"},
        {"x^2", "x", "2.0 * x"},
        {"x^3", "x", "3.0 * (x * x)"},
        {"p / y", "y", "-(p / y / y)"},
        {"sin(2 * x)", "x", "cos(2.0 * x) * 2.0"},
        {"p * t", "t", "p"},
        {"x^p", "x", "p * pow(x, p - 1.0)"},
        {"min(x, y)", "x", "((x <= y) ? 1.0 : 0.0)"},
        {"abs(x)", "x", "cb_sign(x)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cb_arena a;
        cb_arena_init(&a);
        cb_expr *d = diff_by_name(&a, parse(&a, cases[i].expr),
                                  cases[i].wrt);
        char *txt = print(d, true);
        if (strcmp(txt, cases[i].printed) != 0) {
            print_error("d(%s)/d%s printed '%s', expected '%s'\n",
                        cases[i].expr, cases[i].wrt, txt, cases[i].printed);
            fail();
        }
        free(txt);
        cb_arena_free(&a);
    }
}

/* A constant exponent never brings in log(x): x^2 is differentiable at
 * x <= 0 and its derivative must stay finite there. */
static void a_constant_power_should_not_take_a_logarithm(void **st)
{
    (void)st;
    cb_arena a;
    cb_arena_init(&a);
    cb_expr *d = diff_by_name(&a, parse(&a, "x^3 + pow(x, 2) + y^p"), "x");
    char *txt = print(d, true);
    assert_null(strstr(txt, "log"));
    point pt = {{-2.0, 0.5, 1.5, 0.0, 0.0, 0.0}};
    assert_true(fabs(cb_expr_eval(d, sym_value, &pt) - (12.0 - 4.0)) < 1e-14);
    free(txt);
    cb_arena_free(&a);
}

static void differentiation_should_leave_the_input_tree_unchanged(
    void **st)
{
    (void)st;
    cb_arena a;
    cb_arena_init(&a);
    cb_expr *e = parse(&a, "exp(x * y) / (1 + x^2) + atan2(x, y) * x^y");
    char *before = print(e, true);
    for (int s = 0; s < NSYMS; s++) {
        assert_non_null(cb_expr_diff(&a, e, syms[s].role, syms[s].index));
    }
    char *after = print(e, true);
    assert_string_equal(before, after);
    free(before);
    free(after);
    cb_arena_free(&a);
}

/* Float derivative text holds float literals and float math only. */
static void float_derivatives_should_print_float_literals(void **st)
{
    (void)st;
    cb_arena a;
    cb_arena_init(&a);
    cb_expr *d = diff_by_name(&a, parse(&a, "erf(x) + sqrt(x) + x^2.5"), "x");
    char *txt = print(d, false);
    assert_non_null(strstr(txt, "1.1283791670955126f * expf("));
    assert_non_null(strstr(txt, "sqrtf("));
    assert_non_null(strstr(txt, "powf(x, 1.5f)"));
    free(txt);
    cb_arena_free(&a);
}

/* ---- the generated functions of every spec ------------------------------ */

typedef void (*f_fn)(const double *, const double *, const double *, double,
                     double *);
typedef void (*jvp_fn)(const double *, const double *, const double *,
                       double, const double *, double *);

typedef struct {
    char name[128];
    cubie_system *sys;
    void *so;
    f_fn f, dfdt, diag;
    jvp_fn jvp;
} spec_unit;

enum { MAX_SPECS = 64 };

typedef struct {
    bool have_cc;
    int n;
    spec_unit u[MAX_SPECS];
    char dir[256];
} fixture;

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

/* The prelude and the system's right-hand-side functions as gen/rhs.c
 * writes them (cb_dxdt, the three derivatives), each with a wrapper
 * cb_<name>_all(state, parameters, drivers, t, v, out) that passes on
 * what the function takes. */
static void emit_unit(const struct cubie_system *s, bool dbl, cb_sb *sb)
{
    cubie_error err = {0};
    char *unit = NULL;
    tu_ok(cb_rhs_unit(s, dbl, &unit, &err), &err);
    cb_sb_puts(sb, unit);
    free(unit);
}

static const char harness[] =
    "CB_KERNEL void h_f(const real *y, const real *p, const real *d,\n"
    "                   real t, real *out)\n"
    "{\n"
    "    cb_dxdt_all(y, p, d, t, y, out);\n"
    "}\n"
    "CB_KERNEL void h_jvp(const real *y, const real *p, const real *d,\n"
    "                     real t, const real *v, real *out)\n"
    "{\n"
    "    cb_jvp_all(y, p, d, t, v, out);\n"
    "}\n"
    "CB_KERNEL void h_dfdt(const real *y, const real *p, const real *d,\n"
    "                      real t, real *out)\n"
    "{\n"
    "    cb_dfdt_all(y, p, d, t, y, out);\n"
    "}\n"
    "CB_KERNEL void h_diag(const real *y, const real *p, const real *d,\n"
    "                      real t, real *out)\n"
    "{\n"
    "    cb_jac_diag_all(y, p, d, t, y, out);\n"
    "}\n";

static bool write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return false;
    }
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* Every function and operator of the language in one system, with
 * auxiliaries of auxiliaries and time inside the auxiliaries; the
 * defaults and perturbations stay clear of every kink and domain edge. */
static const char every_function_spec[] =
    "{\"name\": \"every_function\","
    " \"states\": {\"x\": 0.6, \"y\": -0.4, \"z\": 1.3},"
    " \"parameters\": {\"p\": 1.7, \"q\": 0.8},"
    " \"equations\": ["
    "  \"s1 = x * y + sin(z) * p\","
    "  \"s2 = exp(-0.5 * s1^2) + log(1 + x^2) / sqrt(2 + y^2)\","
    "  \"s3 = pow(1 + x*x, q) + (1 + z*z)^(y/3) + z^3 - 2^y + x^-2\","
    "  \"s4 = atan2(s1, 1 + z*z) + atan(x - y) + asin(0.5 * tanh(x))"
    " + acos(0.3 * sin(y))\","
    "  \"s5 = sinh(0.3*x) * cosh(0.2*y) + tan(0.4 * z) + erf(x + y)"
    " - s4 / s3\","
    "  \"s6 = abs(x - y) + min(x, z * y) + max(s1, y) + floor(2 * z)"
    " + ceil(z) + sign(x - 0.1) * x\","
    "  \"s7 = where(x > y, s2 * s3, s4 - s5)"
    " + (z > 1 && x < 2 ? s6 : -s6) + (x != y) * s1 + !(x == y) * t\","
    "  \"dx = s7 * cos(t) - q * x\","
    "  \"dy = s4 * s5 + p * sin(2 * t) * y\","
    "  \"dz = s6 / (1 + s3^2) - s2 * z + exp(-t) * s1 + (t - z)^2\""
    "]}";

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every *.json in CUBIE_SPECS, sorted, and the built-in every_function
 * system; each is built with cc into a shared object of double-precision
 * derivatives on first use. */
static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    if (fx == NULL) {
        return -1;
    }
    *state = fx;
    const char *dir = getenv("CUBIE_SPECS");
    dir = dir != NULL ? dir : "specs";
    DIR *d = opendir(dir);
    if (d == NULL) {
        print_error("cannot open the spec folder %s\n", dir);
        return -1;
    }
    char *names[MAX_SPECS];
    int n = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL && n < MAX_SPECS) {
        size_t len = strlen(ent->d_name);
        if (len > 5 && strcmp(ent->d_name + len - 5, ".json") == 0) {
            names[n] = strdup(ent->d_name);
            if (names[n] == NULL) {
                closedir(d);
                return -1;
            }
            n++;
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
    fx->have_cc = have_program("cc");
    const char *tmp = getenv("TMPDIR");
    snprintf(fx->dir, sizeof(fx->dir), "%s/cubie_deriv_XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(fx->dir) == NULL) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        spec_unit *u = &fx->u[fx->n++];
        snprintf(u->name, sizeof(u->name), "%s", names[i]);
        free(names[i]);
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, u->name);
        cubie_error err = {0};
        if (cubie_system_load(path, &u->sys, &err) != CUBIE_OK) {
            print_error("%s: %s\n", path, err.message);
            return -1;
        }
        /* A driven spec's functions read the drivers' spline, which this
         * harness does not build; tests/test_drivers.c covers them (J v
         * holds drivers as it holds parameters). */
        if (cubie_system_n_drivers(u->sys) > 0) {
            cubie_system_free(u->sys);
            fx->n--;
        }
    }
    if (fx->n < MAX_SPECS) {
        spec_unit *u = &fx->u[fx->n++];
        snprintf(u->name, sizeof(u->name), "(every function)");
        cubie_error err = {0};
        if (cubie_system_parse(every_function_spec,
                               strlen(every_function_spec), &u->sys, &err)
            != CUBIE_OK) {
            print_error("every_function_spec: %s\n", err.message);
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    for (int i = 0; i < fx->n; i++) {
        if (fx->u[i].so != NULL) {
            dlclose(fx->u[i].so);
        }
        cubie_system_free(fx->u[i].sys);
    }
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* Build a spec's double-precision unit on first use. */
static spec_unit *built(fixture *fx, int i)
{
    spec_unit *u = &fx->u[i];
    if (u->so != NULL) {
        return u;
    }
    cb_sb sb;
    cb_sb_init(&sb);
    emit_unit(u->sys, true, &sb);
    cb_sb_puts(&sb, harness);
    assert_false(sb.failed);
    char c_path[512], so_path[512];
    snprintf(c_path, sizeof(c_path), "%s/d%d.c", fx->dir, i);
    snprintf(so_path, sizeof(so_path), "%s/d%d.so", fx->dir, i);
    assert_true(write_file(c_path, cb_sb_str(&sb)));
    cb_sb_free(&sb);
    /* -Werror: an unused auxiliary value or tangent would be a warning. */
    int rc = run("cc -std=c11 -O0 -Wall -Wextra -Werror -shared -fPIC "
                 "-o '%s' '%s' -lm", so_path, c_path);
    if (rc != 0) {
        print_error("%s: the derivative unit does not compile (%s kept)\n",
                    u->name, c_path);
    }
    assert_int_equal(rc, 0);
    u->so = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(u->so);
    *(void **)&u->f = dlsym(u->so, "h_f");
    *(void **)&u->jvp = dlsym(u->so, "h_jvp");
    *(void **)&u->dfdt = dlsym(u->so, "h_dfdt");
    *(void **)&u->diag = dlsym(u->so, "h_diag");
    assert_non_null(u->f);
    assert_non_null(u->jvp);
    assert_non_null(u->dfdt);
    assert_non_null(u->diag);
    unlink(c_path);
    unlink(so_path);
    return u;
}

/* A deterministic generator (splitmix64) for the perturbations. */
static double uniform(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-53 * 2.0 - 1.0; /* [-1, 1) */
}

enum { MAXN = 64, NPTS = 6, NDRIVERS = 8 };

/* One evaluation point: the defaults (k = 0) or a perturbation of them
 * (states by up to 10%, or 0.2 absolute below 1; parameters by up to
 * 20%), and a time. */
static void make_point(const struct cubie_system *s, int k, double *y,
                       double *p, double *t)
{
    uint64_t seed = 0x5eed0000ULL + (uint64_t)k;
    for (int j = 0; j < s->n_states; j++) {
        y[j] = s->state_init[j];
        if (k > 0) {
            double r = uniform(&seed);
            y[j] += fabs(y[j]) >= 1.0 ? 0.1 * r * fabs(y[j]) : 0.2 * r;
        }
    }
    for (int j = 0; j < s->n_params; j++) {
        p[j] = s->param_vals[j];
        if (k > 0) {
            p[j] *= 1.0 + 0.2 * uniform(&seed);
        }
    }
    *t = k == 0 ? 0.5 : 5.0 * (1.0 + uniform(&seed));
}

static double inf_norm(const double *x, int n)
{
    double m = 0.0;
    for (int i = 0; i < n; i++) {
        m = fmax(m, fabs(x[i]));
    }
    return m;
}

/* The worst component of |got - want| / max(|got_i|, 1e-5 |f|_inf,
 * 1e-9 |got|_inf): relative per component, except components far below
 * f or the other components, where the differences of f have no
 * relative accuracy left (their rounding is about eps |f| / h = 1e-13
 * |f|; FitzHugh-Nagumo's d(dv)/dv = 1 - v^2 is exactly 0 at its default
 * v = -1). */
static double scaled_error(const double *got, const double *want,
                           const double *f, int n)
{
    double floor_ = fmax(1e-5 * inf_norm(f, n), 1e-9 * inf_norm(got, n));
    double worst = 0.0;
    for (int i = 0; i < n; i++) {
        double diff = fabs(got[i] - want[i]);
        if (diff == 0.0) {
            continue;
        }
        double e = diff / fmax(fabs(got[i]), floor_);
        worst = isnan(e) ? INFINITY : fmax(worst, e);
    }
    return worst;
}

typedef enum { CHECK_JVP, CHECK_DFDT, CHECK_DIAG } check_kind;

/* Central differences of f along a direction (y + h dy, t + h dt),
 * Richardson-extrapolated. */
static void fd_dir(const spec_unit *u, const double *y, const double *p,
                   double t, const double *dy, double dt, double h,
                   double *out)
{
    int n = u->sys->n_states;
    double drv[NDRIVERS] = {0};
    double yp[MAXN], ym[MAXN], fp[MAXN], fm[MAXN], d[2][MAXN];
    for (int r = 0; r < 2; r++) {
        double hh = r == 0 ? h : h / 2.0;
        for (int j = 0; j < n; j++) {
            yp[j] = y[j] + hh * dy[j];
            ym[j] = y[j] - hh * dy[j];
        }
        u->f(yp, p, drv, t + hh * dt, fp);
        u->f(ym, p, drv, t - hh * dt, fm);
        for (int j = 0; j < n; j++) {
            d[r][j] = (fp[j] - fm[j]) / (2.0 * hh);
        }
    }
    for (int j = 0; j < n; j++) {
        out[j] = (4.0 * d[1][j] - d[0][j]) / 3.0;
    }
}

/* Worst scaled error of one kind over the points of one spec. */
static double check_spec(const spec_unit *u, check_kind kind)
{
    const struct cubie_system *s = u->sys;
    int n = s->n_states;
    assert_true(n <= MAXN);
    double drv[NDRIVERS] = {0};
    double worst = 0.0;
    for (int k = 0; k < NPTS; k++) {
        double y[MAXN], p[MAXN + 1], t;
        assert_true(s->n_params <= MAXN);
        make_point(s, k, y, p, &t);
        double f[MAXN], got[MAXN], want[MAXN], dy[MAXN];
        u->f(y, p, drv, t, f);
        /* Steps: 1e-3 of each state's size (at least 1e-4 absolute). */
        const double h = 1e-3;
        uint64_t seed = 0xd1ec7ULL + (uint64_t)k;
        switch (kind) {
        case CHECK_JVP:
            for (int j = 0; j < n; j++) {
                dy[j] = uniform(&seed) * fmax(fabs(y[j]), 0.1);
            }
            u->jvp(y, p, drv, t, dy, got);
            fd_dir(u, y, p, t, dy, 0.0, h, want);
            break;
        case CHECK_DFDT:
            for (int j = 0; j < n; j++) {
                dy[j] = 0.0;
            }
            u->dfdt(y, p, drv, t, got);
            fd_dir(u, y, p, t, dy, fmax(fabs(t), 1.0), h, want);
            for (int j = 0; j < n; j++) {
                want[j] /= fmax(fabs(t), 1.0);
            }
            break;
        case CHECK_DIAG:
            /* Compared as J_ii s_i, s_i the step's scale, which has the
             * units of f, like J*v and the floor. */
            u->diag(y, p, drv, t, got);
            for (int i = 0; i < n; i++) {
                double col[MAXN];
                for (int j = 0; j < n; j++) {
                    dy[j] = j == i ? fmax(fabs(y[i]), 0.1) : 0.0;
                }
                fd_dir(u, y, p, t, dy, 0.0, h, col);
                want[i] = col[i];
                got[i] *= dy[i];
            }
            break;
        }
        double e = scaled_error(got, want, f, n);
        worst = fmax(worst, e);
    }
    return worst;
}

static void check_all(void **state, check_kind kind, const char *what)
{
    fixture *fx = *state;
    if (!fx->have_cc) {
        skip();
    }
    assert_true(fx->n > 0);
    bool ok = true;
    for (int i = 0; i < fx->n; i++) {
        spec_unit *u = built(fx, i);
        double e = check_spec(u, kind);
        print_message("    %-28s %-9s worst scaled error %.2e\n", u->name,
                      what, e);
        if (!(e <= 1e-7)) {
            print_error("%s: %s differs from finite differences by %.3e\n",
                        u->name, what, e);
            ok = false;
        }
    }
    assert_true(ok);
}

static void jvp_should_match_finite_differences_on_every_spec(void **state)
{
    check_all(state, CHECK_JVP, "J*v");
}

static void dfdt_should_match_finite_differences_on_every_spec(void **state)
{
    check_all(state, CHECK_DFDT, "df/dt");
}

static void jacobian_diagonal_should_match_finite_differences_on_every_spec(
    void **state)
{
    check_all(state, CHECK_DIAG, "diag(J)");
}

/* A time-dependent spec really exercises cb_dfdt: its output is not 0. */
static void dfdt_of_a_driven_system_should_be_nonzero(void **state)
{
    fixture *fx = *state;
    if (!fx->have_cc) {
        skip();
    }
    bool any = false;
    for (int i = 0; i < fx->n; i++) {
        const struct cubie_system *s = fx->u[i].sys;
        bool uses_t = false;
        for (int k = 0; k < s->n_eqs; k++) {
            uses_t = uses_t || cb_expr_uses(s->eqs[k].rhs, CB_SYM_TIME, -1);
        }
        if (!uses_t) {
            continue;
        }
        spec_unit *u = built(fx, i);
        double y[MAXN], p[MAXN + 1], t, out[MAXN];
        double drv[NDRIVERS] = {0};
        make_point(s, 0, y, p, &t);
        u->dfdt(y, p, drv, t, out);
        assert_true(inf_norm(out, s->n_states) > 0.0);
        any = true;
    }
    if (!any) {
        skip();
    }
}

/* The float versions pass gcc's promotion lint (what NVRTC would compile
 * silently into f64 instructions) and compile as C++ (NVRTC's
 * language). */
static void float_derivative_code_should_hold_no_double_arithmetic(
    void **state)
{
    fixture *fx = *state;
    if (!fx->have_cc) {
        skip();
    }
    bool cxx = have_program("c++");
    for (int i = 0; i < fx->n; i++) {
        cb_sb sb;
        cb_sb_init(&sb);
        emit_unit(fx->u[i].sys, false, &sb);
        assert_false(sb.failed);
        char c_path[512];
        snprintf(c_path, sizeof(c_path), "%s/f%d.c", fx->dir, i);
        assert_true(write_file(c_path, cb_sb_str(&sb)));
        cb_sb_free(&sb);
        int rc = run("cc -std=c11 -Wall -Wextra -Wdouble-promotion "
                     "-Wfloat-conversion -Werror -fsyntax-only -x c '%s'",
                     c_path);
        if (rc == 0 && cxx) {
            rc = run("c++ -x c++ -std=c++17 -Wall -Wextra "
                     "-Wdouble-promotion -Wfloat-conversion -Werror "
                     "-fsyntax-only '%s'", c_path);
        }
        if (rc != 0) {
            print_error("%s: float derivative code fails the lint (%s "
                        "kept)\n", fx->u[i].name, c_path);
        }
        assert_int_equal(rc, 0);
        unlink(c_path);
    }
}

/* The first f64 PTX line that is not CUDA's own: sinf, cosf and tanf
 * reduce huge arguments (Payne-Hanek, libdevice) with one f64 multiply,
 * in every float kernel that calls them; those three instructions (and
 * their register declaration) are allowed, any other .f64 is ours. */
static const char *find_own_f64(const char *ptx)
{
    static const char *const allowed[] = {
        ".reg .f64", "cvt.rn.f64.s64", "cvt.rn.f32.f64",
    };
    /* The multiply is by 2^-64 pi/2 (whatever its registers). */
    const char *reduce = "0d3BF921FB54442D19";
    for (const char *hit = strstr(ptx, ".f64"); hit != NULL;
         hit = strstr(hit + 1, ".f64")) {
        const char *line = hit;
        while (line > ptx && line[-1] != '\n') {
            line--;
        }
        while (*line == '\t' || *line == ' ') {
            line++;
        }
        bool ok = false;
        for (size_t k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++) {
            ok = ok || strncmp(line, allowed[k], strlen(allowed[k])) == 0;
        }
        const char *eol = strchr(line, '\n');
        const char *c = strstr(line, reduce);
        ok = ok || (strncmp(line, "mul.f64", 7) == 0 && c != NULL
                    && (eol == NULL || c < eol));
        if (!ok) {
            return line;
        }
    }
    return NULL;
}

/* Under NVRTC, with a kernel that calls all three so none is dropped:
 * the float PTX holds no f64 instruction. */
static void derivative_code_should_compile_under_nvrtc(void **state)
{
    fixture *fx = *state;
    if (!cb_nvrtc_available()) {
        skip();
    }
    const char *fast[] = {"--Ofast-compile=max", NULL};
    for (int i = 0; i < fx->n; i++) {
        for (int dbl = 0; dbl < 2; dbl++) {
            const struct cubie_system *s = fx->u[i].sys;
            cb_sb sb;
            cb_sb_init(&sb);
            emit_unit(s, dbl != 0, &sb);
            cb_sb_printf(&sb,
                         "CB_KERNEL void cubie_deriv_probe(const real *y, "
                         "const real *p,\n    const real *d, real t, "
                         "const real *v, real *o)\n{\n"
                         "    cb_jvp_all(y, p, d, t, v, o);\n"
                         "    cb_dfdt_all(y, p, d, t, v, o + %d);\n"
                         "    cb_jac_diag_all(y, p, d, t, v, o + %d);\n}\n",
                         s->n_states, 2 * s->n_states);
            assert_false(sb.failed);
            cubie_error err = {0};
            char *img = NULL;
            size_t len = 0;
            tu_ok(cb_nvrtc_compile(cb_sb_str(&sb), "compute_90", fast, &img,
                                   &len, NULL, &err), &err);
            assert_non_null(strstr(img, "cubie_deriv_probe"));
            if (!dbl) {
                const char *hit = find_own_f64(img);
                if (hit != NULL) {
                    print_error("%s: float PTX has an f64 instruction: "
                                "%.60s\n", fx->u[i].name, hit);
                }
                assert_null(hit);
            }
            free(img);
            cb_sb_free(&sb);
        }
    }
}

/* The emitted text follows cb_dxdt's conventions and forms no Jacobian:
 * values and tangents in dependency order, only what the outputs read,
 * and a subexpression shared by a value and its tangent computed once. */
static void emitted_jvp_should_propagate_tangents_through_auxiliaries(
    void **state)
{
    (void)state;
    cubie_system *sys = tu_system(
        "{\"name\": \"chain\", \"states\": {\"x\": 1.0, \"y\": 2.0},"
        " \"parameters\": {\"k\": 3.0},"
        " \"equations\": [\"s = x * y\", \"e = exp(s)\", \"unused = k * 2\","
        " \"lin = k * x\", \"g = 2 * exp(x * y)\","
        " \"dx = e * x + lin\", \"dy = k * y - t + g\"]}");
    cb_sb sb;
    cb_sb_init(&sb);
    cubie_error err = {0};
    tu_ok(cb_emit_jvp_body(sys, false, &sb, &err), &err);
    const char *src = cb_sb_str(&sb);
    /* Value then tangent, in dependency order; exp's derivative reads
     * the value a_e instead of calling expf again. */
    const char *s_val = strstr(src, "const real a_s = state[0] * state[1];");
    const char *s_tan = strstr(src, "const real da_s = ");
    const char *e_tan = strstr(src, "const real da_e = a_e * da_s;");
    assert_non_null(s_val);
    assert_non_null(s_tan);
    assert_non_null(e_tan);
    assert_true(s_val < s_tan && s_tan < e_tan);
    assert_non_null(strstr(src, "v[0]"));
    /* Not needed by any derivative, and lin's value is dead in J*v. */
    assert_null(strstr(src, "a_unused"));
    assert_null(strstr(src, "const real a_lin"));
    /* g's exp is computed once, for its value and its tangent. */
    int n_exp = 0;
    for (const char *c = strstr(src, "expf("); c != NULL;
         c = strstr(c + 1, "expf(")) {
        n_exp++;
    }
    assert_int_equal(n_exp, 2);
    assert_non_null(strstr(src, "const real cse0 = expf(state[0] * "
                                "state[1]);"));
    assert_non_null(strstr(src, "out[1] = parameters[0] * v[1] + da_g;"));
    cb_sb_free(&sb);

    cb_sb_init(&sb);
    tu_ok(cb_emit_dfdt_body(sys, false, &sb, &err), &err);
    src = cb_sb_str(&sb);
    assert_non_null(strstr(src, "out[0] = 0.0f;"));
    assert_non_null(strstr(src, "out[1] = (-1.0f);"));
    assert_null(strstr(src, "a_s")); /* nothing depends on t through s */
    assert_null(strstr(src, "a_g"));
    cb_sb_free(&sb);

    cb_sb_init(&sb);
    tu_ok(cb_emit_jac_diag_body(sys, false, &sb, &err), &err);
    src = cb_sb_str(&sb);
    assert_non_null(strstr(src, "out[1] = parameters[0] + da_g;"));
    assert_null(strstr(src, "v["));
    cb_sb_free(&sb);
    cubie_system_free(sys);
}

/* d tan(u) = (1 + tan(u)^2) du reads tan(u) twice: 40 nested tans are a
 * derivative DAG with 2^40 paths. Every walk and the printed code must
 * stay linear in the depth. */
static void deeply_nested_functions_should_give_code_of_linear_size(
    void **state)
{
    (void)state;
    enum { DEPTH = 40 };
    char eq[DEPTH * 8 + 64] = "h = ";
    for (int i = 0; i < DEPTH; i++) {
        strcat(eq, "tan(");
    }
    strcat(eq, "0.01 * x");
    for (int i = 0; i < DEPTH; i++) {
        strcat(eq, ")");
    }
    char json[sizeof(eq) + 128];
    snprintf(json, sizeof(json),
             "{\"name\": \"deep\", \"states\": {\"x\": 0.5},"
             " \"equations\": [\"%s\", \"dx = h * x\"]}", eq);
    cubie_system *sys = tu_system(json);
    cubie_error err = {0};
    cb_sb sb;
    cb_sb_init(&sb);
    tu_ok(cb_emit_jvp_body(sys, true, &sb, &err), &err);
    tu_ok(cb_emit_jac_diag_body(sys, true, &sb, &err), &err);
    assert_true(sb.len < 40000);
    /* Each level's tan once per function: 2 * DEPTH in all. */
    int n_tan = 0;
    for (const char *c = strstr(cb_sb_str(&sb), "tan("); c != NULL;
         c = strstr(c + 1, "tan(")) {
        n_tan++;
    }
    assert_int_equal(n_tan, 2 * DEPTH);
    cb_sb_free(&sb);
    cubie_system_free(sys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_rule_should_match_its_hand_derived_derivative),
        cmocka_unit_test(every_function_should_have_a_tested_rule),
        cmocka_unit_test(
            a_symbol_that_does_not_occur_should_give_the_number_zero),
        cmocka_unit_test(derivatives_should_be_simplified_as_they_are_built),
        cmocka_unit_test(a_constant_power_should_not_take_a_logarithm),
        cmocka_unit_test(
            differentiation_should_leave_the_input_tree_unchanged),
        cmocka_unit_test(float_derivatives_should_print_float_literals),
        cmocka_unit_test(
            emitted_jvp_should_propagate_tangents_through_auxiliaries),
        cmocka_unit_test(
            deeply_nested_functions_should_give_code_of_linear_size),
        cmocka_unit_test(jvp_should_match_finite_differences_on_every_spec),
        cmocka_unit_test(dfdt_should_match_finite_differences_on_every_spec),
        cmocka_unit_test(
            jacobian_diagonal_should_match_finite_differences_on_every_spec),
        cmocka_unit_test(dfdt_of_a_driven_system_should_be_nonzero),
        cmocka_unit_test(
            float_derivative_code_should_hold_no_double_arithmetic),
        cmocka_unit_test(derivative_code_should_compile_under_nvrtc),
    };
    return cmocka_run_group_tests_name("deriv", tests, setup, teardown);
}
