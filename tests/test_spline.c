/* The driver splines (runtime/spline.c) against an independent
 * construction: for cubics the classic second-derivative (moment)
 * formulation, its tridiagonal or cyclic system written and solved here
 * densely, for every boundary condition; for orders 1 to 5, the defining
 * conditions checked directly on the result (interpolation at the
 * samples, continuity of derivatives 1 .. order - 1 at the knots, the
 * boundary rows) and exact reproduction of the polynomials each boundary
 * condition admits; the padding and wrapping outside the data; bad input. */
#include "testutil.h"

#include <math.h>

#include "spline.h"

/* ---- the moment formulation of a cubic, solved densely ------------------ */

/* Gaussian elimination with partial pivoting on an n x n system. */
static void dense(double *A, double *b, int n)
{
    for (int j = 0; j < n; j++) {
        int p = j;
        for (int i = j + 1; i < n; i++) {
            if (fabs(A[i * n + j]) > fabs(A[p * n + j])) {
                p = i;
            }
        }
        for (int c = 0; c < n; c++) {
            const double t = A[j * n + c];
            A[j * n + c] = A[p * n + c];
            A[p * n + c] = t;
        }
        const double t = b[j];
        b[j] = b[p];
        b[p] = t;
        for (int i = j + 1; i < n; i++) {
            const double l = A[i * n + j] / A[j * n + j];
            for (int c = j; c < n; c++) {
                A[i * n + c] -= l * A[j * n + c];
            }
            b[i] -= l * b[j];
        }
    }
    for (int j = n - 1; j >= 0; j--) {
        for (int c = j + 1; c < n; c++) {
            b[j] -= A[j * n + c] * b[c];
        }
        b[j] /= A[j * n + j];
    }
}

/* The cubic through y[0..n-1] (spacing h) by its second derivatives M at
 * the knots: s'' linear on each segment, s continuous through the
 * samples, s' continuous at the interior knots:
 *   M[i-1] + 4 M[i] + M[i+1] = 6 (y[i+1] - 2 y[i] + y[i-1]) / h^2,
 * closed by the boundary condition. Then s on segment i at u in [0, h]:
 *   M[i] (h-u)^3/(6h) + M[i+1] u^3/(6h) + (y[i]/h - M[i] h/6)(h-u)
 *   + (y[i+1]/h - M[i+1] h/6) u. */
static void moments(const double *y, int n, double h, cb_spline_bc bc,
                    double *M)
{
    double *A = calloc((size_t)(n * n), sizeof(double));
    double *b = calloc((size_t)n, sizeof(double));
    for (int i = 1; i < n - 1; i++) {
        A[i * n + i - 1] = 1.0;
        A[i * n + i] = 4.0;
        A[i * n + i + 1] = 1.0;
        b[i] = 6.0 * (y[i + 1] - 2.0 * y[i] + y[i - 1]) / (h * h);
    }
    switch (bc) {
    case CB_BC_NATURAL: /* s'' = 0 at both ends */
        A[0] = 1.0;
        A[(n - 1) * n + n - 1] = 1.0;
        break;
    case CB_BC_CLAMPED: /* s' = 0 at both ends */
        /* s'(0) = (y1 - y0)/h - h (2 M0 + M1) / 6 */
        A[0] = 2.0;
        A[1] = 1.0;
        b[0] = 6.0 * (y[1] - y[0]) / (h * h);
        /* s'(end) = (y[n-1] - y[n-2])/h + h (M[n-2] + 2 M[n-1]) / 6 */
        A[(n - 1) * n + n - 2] = 1.0;
        A[(n - 1) * n + n - 1] = 2.0;
        b[n - 1] = -6.0 * (y[n - 1] - y[n - 2]) / (h * h);
        break;
    case CB_BC_NOT_A_KNOT: /* s''' continuous at knots 1 and n - 2 */
        A[0] = 1.0;
        A[1] = -2.0;
        A[2] = 1.0;
        A[(n - 1) * n + n - 3] = 1.0;
        A[(n - 1) * n + n - 2] = -2.0;
        A[(n - 1) * n + n - 1] = 1.0;
        break;
    case CB_BC_PERIODIC:
        /* y[n-1] = y[0]: knot 0 is interior, M[n-1] = M[0] */
        A[0] = 4.0;
        A[1] = 1.0;
        A[n - 2] = 1.0;
        b[0] = 6.0 * (y[1] - 2.0 * y[0] + y[n - 2]) / (h * h);
        A[(n - 1) * n] = 1.0;
        A[(n - 1) * n + n - 1] = -1.0;
        break;
    }
    dense(A, b, n);
    memcpy(M, b, sizeof(double) * (size_t)n);
    free(A);
    free(b);
}

static double moment_eval(const double *y, const double *M, double h,
                          double t0, double t)
{
    int i = (int)floor((t - t0) / h);
    const double u = t - t0 - h * i;
    const double v = h - u;
    return M[i] * v * v * v / (6 * h) + M[i + 1] * u * u * u / (6 * h) +
           (y[i] / h - M[i] * h / 6) * v + (y[i + 1] / h - M[i + 1] * h / 6) *
                                             u;
}

static cb_spline build(const double *y, size_t n, size_t drivers, int order,
                       bool wrap, cb_spline_bc bc, double t0, double h)
{
    cb_spline s;
    cubie_error err = {0};
    tu_ok(cb_spline_build(y, n, drivers, NULL, t0, h, order, wrap, bc, &s,
                          &err),
          &err);
    return s;
}

static double signal(double t)
{
    return sin(1.3 * t) + 0.4 * cos(3.1 * t + 0.2) + 0.1 * t;
}

static void cubics_should_match_the_moment_formulation(void **st)
{
    (void)st;
    enum { n = 41 };
    const double h = 0.125, t0 = -0.7;
    double y[n], M[n];
    for (int i = 0; i < n; i++) {
        y[i] = signal(t0 + h * i);
    }
    const cb_spline_bc bcs[] = {CB_BC_NATURAL, CB_BC_CLAMPED,
                                CB_BC_NOT_A_KNOT, CB_BC_PERIODIC};
    for (int b = 0; b < 4; b++) {
        double yy[n];
        memcpy(yy, y, sizeof(y));
        if (bcs[b] == CB_BC_PERIODIC) {
            yy[n - 1] = yy[0];
        }
        moments(yy, n, h, bcs[b], M);
        /* wrap, so clamped ends are not padded here */
        cb_spline s = build(yy, n, 1, 3, true, bcs[b], t0, h);
        assert_int_equal(s.n_segments, n - 1);
        double worst = 0.0;
        for (int k = 0; k < 997; k++) {
            const double t = t0 + (n - 1) * h * (k + 0.5) / 997.0;
            const double want = moment_eval(yy, M, h, t0, t);
            worst = fmax(worst, fabs(cb_spline_eval(&s, 0, t, 0) - want));
        }
        if (!(worst < 1e-12)) {
            print_error("bc %d: worst difference %g\n", b, worst);
            fail();
        }
        cb_spline_free(&s);
    }
}

/* ---- the defining conditions, orders 1 to 5 ------------------------------ */

static double seg_deriv(const cb_spline *s, size_t seg, int d, double tau)
{
    const double *c = &s->c[seg * (size_t)(s->order + 1)];
    double y = 0.0;
    for (int k = s->order; k >= d; k--) {
        double f = 1.0;
        for (int j = 0; j < d; j++) {
            f *= k - j;
        }
        y = y * tau + f * c[k];
    }
    return y;
}

static void check_conditions(const double *y, size_t n, int p,
                             cb_spline_bc bc, bool wrap)
{
    cb_spline s = build(y, n, 1, p, wrap, bc, 0.0, 1.0);
    const bool pad = !wrap && bc == CB_BC_CLAMPED;
    const size_t m = s.n_segments;
    assert_int_equal(m, n - 1 + (pad ? 2 : 0));
    double big = 1.0;
    for (size_t i = 0; i < n; i++) {
        big = fmax(big, fabs(y[i]));
    }
    const double tol = 1e-12 * big;
    /* interpolation: every sample, from both sides of its knot */
    for (size_t i = 0; i < n; i++) {
        const size_t knot = i + (pad ? 1 : 0);
        if (knot < m) {
            assert_true(fabs(seg_deriv(&s, knot, 0, 0.0) - y[i]) <= tol);
        }
        if (knot > 0) {
            assert_true(fabs(seg_deriv(&s, knot - 1, 0, 1.0) - y[i]) <= tol);
        }
    }
    /* continuity of derivatives 1 .. p - 1 at the interior knots */
    for (size_t q = 1; q < m; q++) {
        for (int d = 1; d < p; d++) {
            const double a = seg_deriv(&s, q - 1, d, 1.0);
            const double b = seg_deriv(&s, q, d, 0.0);
            if (!(fabs(a - b) <= tol * pow(4.0, d))) {
                print_error("order %d bc %d: derivative %d jumps by %g at "
                            "knot %zu\n", p, bc, d, a - b, q);
                fail();
            }
        }
    }
    /* the boundary rows */
    for (int j = 0; j < p - 1; j++) {
        const bool start = j % 2 == 0;
        const int d = j / 2;
        double v = 0.0, ref = 0.0;
        switch (bc) {
        case CB_BC_NATURAL:
        case CB_BC_CLAMPED: {
            const int der = (bc == CB_BC_NATURAL ? 2 : 1) + d;
            v = seg_deriv(&s, start ? 0 : m - 1, der, start ? 0.0 : 1.0);
            break;
        }
        case CB_BC_NOT_A_KNOT: {
            const size_t q = start ? 1 + (size_t)d : m - 1 - (size_t)d;
            v = seg_deriv(&s, q - 1, p, 1.0);
            ref = seg_deriv(&s, q, p, 0.0);
            break;
        }
        case CB_BC_PERIODIC:
            break;
        }
        assert_true(fabs(v - ref) <= tol * 1e3);
    }
    if (bc == CB_BC_PERIODIC) {
        for (int d = 1; d < p; d++) {
            const double a = seg_deriv(&s, m - 1, d, 1.0);
            const double b = seg_deriv(&s, 0, d, 0.0);
            assert_true(fabs(a - b) <= tol * pow(4.0, d));
        }
    }
    cb_spline_free(&s);
}

static void every_order_should_meet_its_conditions(void **st)
{
    (void)st;
    enum { n = 37 };
    double y[n];
    for (size_t i = 0; i < n; i++) {
        y[i] = signal(0.37 * (double)i) * 3.0;
    }
    for (int p = 1; p <= 5; p++) {
        check_conditions(y, n, p, CB_BC_NATURAL, false);
        check_conditions(y, n, p, CB_BC_CLAMPED, false); /* padded */
        check_conditions(y, n, p, CB_BC_CLAMPED, true);
        check_conditions(y, n, p, CB_BC_NOT_A_KNOT, false);
    }
    /* periodic: odd orders for any count, even ones for an odd count of
     * segments (an even count makes the system singular, tested below) */
    double yp[n];
    memcpy(yp, y, sizeof(y));
    yp[n - 1] = yp[0];
    for (int p = 1; p <= 5; p += 2) {
        check_conditions(yp, n, p, CB_BC_PERIODIC, true);
    }
    double yq[n - 1];
    memcpy(yq, y, sizeof(yq));
    yq[n - 2] = yq[0];
    for (int p = 2; p <= 4; p += 2) {
        check_conditions(yq, n - 1, p, CB_BC_PERIODIC, true); /* 35 segs */
    }
}

/* A polynomial the boundary condition admits is reproduced exactly:
 * not-a-knot any of degree <= order, natural a line, clamped (unpadded)
 * and periodic a constant. */
static void admitted_polynomials_should_be_reproduced(void **st)
{
    (void)st;
    enum { n = 23 };
    for (int p = 1; p <= 5; p++) {
        double y[n];
        for (size_t i = 0; i < n; i++) {
            const double x = 0.25 * (double)i - 1.0;
            y[i] = 0.0;
            for (int k = p; k >= 0; k--) {
                y[i] = y[i] * x + (0.3 + 0.1 * k) * (k % 2 ? -1 : 1);
            }
        }
        cb_spline s = build(y, n, 1, p, false, CB_BC_NOT_A_KNOT, -1.0, 0.25);
        for (int k = 0; k < 300; k++) {
            const double x = -1.0 + 0.25 * (n - 1) * k / 299.0;
            double want = 0.0;
            for (int q = p; q >= 0; q--) {
                want = want * x + (0.3 + 0.1 * q) * (q % 2 ? -1 : 1);
            }
            assert_true(fabs(cb_spline_eval(&s, 0, x, 0) - want) < 1e-11);
        }
        cb_spline_free(&s);
        double line[n], one[n];
        for (size_t i = 0; i < n; i++) {
            line[i] = 2.0 - 0.75 * (double)i;
            one[i] = 1.5;
        }
        s = build(line, n, 1, p, false, CB_BC_NATURAL, 0.0, 1.0);
        for (int k = 0; k < 100; k++) {
            const double x = (n - 1) * k / 99.0;
            assert_true(fabs(cb_spline_eval(&s, 0, x, 0) - (2.0 - 0.75 * x)) <
                        1e-11);
        }
        cb_spline_free(&s);
        const cb_spline_bc ends[] = {CB_BC_CLAMPED, CB_BC_PERIODIC};
        for (int e = 0; e < 2; e++) {
            if (ends[e] == CB_BC_PERIODIC && p % 2 == 0) {
                continue; /* n - 1 = 22 segments: singular for even p */
            }
            s = build(one, n, 1, p, true, ends[e], 0.0, 1.0);
            for (int k = 0; k < 100; k++) {
                const double x = (n - 1) * k / 99.0;
                assert_true(fabs(cb_spline_eval(&s, 0, x, 0) - 1.5) < 1e-12);
            }
            cb_spline_free(&s);
        }
    }
}

/* ---- outside the data ---------------------------------------------------- */

static void outside_the_data_should_wrap_or_fall_to_zero(void **st)
{
    (void)st;
    enum { n = 30 };
    double y[2 * n];
    for (size_t i = 0; i < n; i++) { /* two drivers, interleaved */
        y[2 * i] = signal(0.2 * (double)i) + 2.0;
        y[2 * i + 1] = -3.0 * signal(0.1 * (double)i);
    }
    const double t0 = 5.0, h = 0.2, span = (n - 1) * h;
    /* wrap: periodic in (n - 1) periods, before the start too */
    cb_spline w = build(y, n, 2, 3, true, CB_BC_NATURAL, t0, h);
    for (int k = 0; k < 50; k++) { /* (the wrap itself is a jump here) */
        const double t = t0 + span * (k + 0.5) / 50.0;
        for (size_t d = 0; d < 2; d++) {
            const double a = cb_spline_eval(&w, d, t, 0);
            assert_true(fabs(cb_spline_eval(&w, d, t + 3 * span, 0) - a) <
                        1e-9);
            assert_true(fabs(cb_spline_eval(&w, d, t - 2 * span, 0) - a) <
                        1e-9);
        }
    }
    assert_true(fabs(cb_spline_eval(&w, 1, t0 + 3 * h, 0) - y[7]) < 1e-12);
    cb_spline_free(&w);
    /* no wrap, clamped: padded with zeros, back to 0 smoothly; 0 beyond */
    cb_spline c = build(y, n, 2, 3, false, CB_BC_CLAMPED, t0, h);
    assert_int_equal(c.n_segments, n + 1);
    assert_true(c.start == t0 - h);
    for (size_t d = 0; d < 2; d++) {
        assert_true(fabs(cb_spline_eval(&c, d, t0 - h, 0)) < 1e-12);
        assert_true(fabs(cb_spline_eval(&c, d, t0 - h, 1)) < 1e-9);
        assert_true(fabs(cb_spline_eval(&c, d, t0 + span + h, 1)) < 1e-9);
        assert_true(cb_spline_eval(&c, d, t0 - 2 * h, 0) == 0.0);
        assert_true(cb_spline_eval(&c, d, t0 + span + 2 * h, 0) == 0.0);
        assert_true(cb_spline_eval(&c, d, t0 + span + 2 * h, 1) == 0.0);
        assert_true(fabs(cb_spline_eval(&c, d, t0, 0) - y[d]) < 1e-12);
    }
    cb_spline_free(&c);
    /* no wrap, natural: not padded, 0 outside [t0, t0 + span] */
    cb_spline nat = build(y, n, 2, 3, false, CB_BC_NATURAL, t0, h);
    assert_true(cb_spline_eval(&nat, 0, t0 - 0.01, 0) == 0.0);
    assert_true(fabs(cb_spline_eval(&nat, 0, t0 + span, 0) - y[2 * (n - 1)]) <
                1e-12);
    cb_spline_free(&nat);
}

/* A long recording: a million samples, in one pass. */
static void a_long_recording_should_build(void **st)
{
    (void)st;
    const size_t n = 1000001;
    double *y = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) {
        y[i] = signal(1e-3 * (double)i);
    }
    y[n - 1] = y[0];
    cb_spline s = build(y, n, 1, 3, true, CB_BC_PERIODIC, 0.0, 1e-3);
    for (size_t i = 0; i < n; i += 99991) {
        assert_true(fabs(cb_spline_eval(&s, 0, 1e-3 * (double)i, 0) - y[i]) <
                    1e-12);
    }
    cb_spline_free(&s);
    free(y);
}

/* ---- bad input ----------------------------------------------------------- */

static void bad_splines_should_name_the_option(void **st)
{
    (void)st;
    double y[12];
    for (int i = 0; i < 12; i++) {
        y[i] = (double)(i % 5);
    }
    const char *names[] = {"I_stim"};
    const struct {
        size_t n;
        int order;
        bool wrap;
        cb_spline_bc bc;
        double period;
        const char *key, *text;
    } bad[] = {
        {12, 0, true, CB_BC_NATURAL, 1.0, "driver_order", "not from 1 to"},
        {12, 10, true, CB_BC_NATURAL, 1.0, "driver_order", "not from 1 to"},
        {3, 3, true, CB_BC_NATURAL, 1.0, "driver_order", "at least 4"},
        {12, 3, true, CB_BC_NATURAL, 0.0, "driver_sample_period", "> 0"},
        {12, 3, false, CB_BC_PERIODIC, 1.0, "driver_boundary_condition",
         "needs driver_wrap=true"},
        {12, 3, true, CB_BC_PERIODIC, 1.0, "driver_boundary_condition",
         "driver I_stim starts at 0"},
        {11, 2, true, CB_BC_PERIODIC, 1.0, "driver_boundary_condition",
         "singular"},
    };
    y[10] = 0.0; /* the 11-sample one is periodic: 0 ... 0 */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cb_spline s;
        cubie_error err = {0};
        const cubie_status st_ =
            cb_spline_build(y, bad[i].n, 1, names, 0.0, bad[i].period,
                            bad[i].order, bad[i].wrap, bad[i].bc, &s, &err);
        if (st_ != CUBIE_E_OPTION || strcmp(err.path, bad[i].key) != 0 ||
            strstr(err.message, bad[i].text) == NULL) {
            print_error("case %zu: %s (%s): %s\n", i, cubie_status_str(st_),
                        err.path, err.message);
            fail();
        }
        assert_null(s.c);
    }
    double nan_y[6] = {0, 1, NAN, 3, 4, 5};
    cb_spline s;
    cubie_error err = {0};
    assert_int_equal(cb_spline_build(nan_y, 6, 1, names, 0.0, 1.0, 3, false,
                                     CB_BC_CLAMPED, &s, &err),
                     CUBIE_E_OPTION);
    assert_non_null(strstr(err.message, "I_stim: sample 2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cubics_should_match_the_moment_formulation),
        cmocka_unit_test(every_order_should_meet_its_conditions),
        cmocka_unit_test(admitted_polynomials_should_be_reproduced),
        cmocka_unit_test(outside_the_data_should_wrap_or_fall_to_zero),
        cmocka_unit_test(a_long_recording_should_build),
        cmocka_unit_test(bad_splines_should_name_the_option),
    };
    return cmocka_run_group_tests_name("spline", tests, NULL, NULL);
}
