/* Interpolating splines of sampled drivers (see spline.h). */
#include "spline.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum { MAXP = CB_SPLINE_MAX_ORDER + 1 };

/* ---- the uniform B-spline of degree p ------------------------------------ */

/* P[q][k]: the cardinal B-spline of degree p (support [0, p + 1]) on its
 * unit interval q, as a polynomial in tau = x - q, powers ascending (the
 * Cox-de Boor recursion carried out on polynomials). */
static void bspline_pieces(int p, double P[MAXP][MAXP])
{
    /* N[i][q][k]: N_{i,d} on interval q (x = q + tau), for the current d */
    static double N[MAXP + 1][MAXP][MAXP], M[MAXP + 1][MAXP][MAXP];
    memset(N, 0, sizeof(N));
    for (int i = 0; i <= p; i++) {
        N[i][i][0] = 1.0; /* degree 0: the indicator of [i, i + 1) */
    }
    for (int d = 1; d <= p; d++) {
        memset(M, 0, sizeof(M));
        for (int i = 0; i + d <= p; i++) {
            for (int q = 0; q <= p; q++) {
                /* (x - i) / d N_{i,d-1} + (i + d + 1 - x) / d N_{i+1,d-1},
                 * x - i = (q - i) + tau */
                for (int k = 0; k < d; k++) {
                    const double a = N[i][q][k] / d, b = N[i + 1][q][k] / d;
                    M[i][q][k] += (double)(q - i) * a + (double)(i + d + 1 - q) * b;
                    M[i][q][k + 1] += a - b;
                }
            }
        }
        memcpy(N, M, sizeof(N));
    }
    for (int q = 0; q <= p; q++) {
        for (int k = 0; k <= p; k++) {
            P[q][k] = N[0][q][k];
        }
    }
}

/* Derivative d of the polynomial c (degree p) at tau. */
static double poly_deriv(const double *c, int p, int d, double tau)
{
    double y = 0.0;
    for (int k = p; k >= d; k--) {
        double f = 1.0;
        for (int j = 0; j < d; j++) {
            f *= (double)(k - j);
        }
        y = y * tau + f * c[k];
    }
    return y;
}

/* ---- a banded system with a border --------------------------------------- */

/* n unknowns; the leading n1 = n - k rows and columns are banded (kl
 * below, ku above the diagonal), the last k rows and columns are a dense
 * border (a periodic spline's wrap-around). */
typedef struct {
    size_t n, n1, k;
    int kl, ku, w;  /* w = 2 kl + ku + 1: the band with room for pivoting */
    double *band;   /* n1 x w */
    double *a12;    /* n1 x k */
    double *a21;    /* k x n1 */
    double *a22;    /* k x k */
    size_t *piv;    /* n1 */
} bsys;

static bool bsys_alloc(bsys *s, size_t n, size_t k, int kl, int ku)
{
    memset(s, 0, sizeof(*s));
    s->n = n;
    s->k = k;
    s->n1 = n - k;
    s->kl = kl;
    s->ku = ku;
    s->w = 2 * kl + ku + 1;
    const size_t n1 = s->n1 > 0 ? s->n1 : 1, kk = k > 0 ? k : 1;
    s->band = calloc(n1 * (size_t)s->w, sizeof(double));
    s->a12 = calloc(n1 * kk, sizeof(double));
    s->a21 = calloc(kk * n1, sizeof(double));
    s->a22 = calloc(kk * kk, sizeof(double));
    s->piv = calloc(n1, sizeof(size_t));
    return s->band && s->a12 && s->a21 && s->a22 && s->piv;
}

static void bsys_free(bsys *s)
{
    free(s->band);
    free(s->a12);
    free(s->a21);
    free(s->a22);
    free(s->piv);
}

static double *band_at(const bsys *s, size_t i, size_t j)
{
    return &s->band[i * (size_t)s->w + (size_t)((long)j - (long)i + s->kl)];
}

static void bsys_add(bsys *s, size_t i, size_t j, double v)
{
    if (i < s->n1 && j < s->n1) {
        *band_at(s, i, j) += v;
    } else if (i < s->n1) {
        s->a12[i * s->k + (j - s->n1)] += v;
    } else if (j < s->n1) {
        s->a21[(i - s->n1) * s->n1 + j] += v;
    } else {
        s->a22[(i - s->n1) * s->k + (j - s->n1)] += v;
    }
}

/* LU of the band with partial pivoting (LAPACK's dgbtf2 order: the
 * multipliers of column j stay where step j put them). False when a pivot
 * is below tiny. */
static bool band_factor(bsys *s, double tiny)
{
    const size_t n = s->n1, reach = (size_t)(s->kl + s->ku);
    for (size_t j = 0; j < n; j++) {
        const size_t last = j + (size_t)s->kl < n ? j + (size_t)s->kl : n - 1;
        size_t p = j;
        for (size_t i = j + 1; i <= last; i++) {
            if (fabs(*band_at(s, i, j)) > fabs(*band_at(s, p, j))) {
                p = i;
            }
        }
        s->piv[j] = p;
        const double pivot = *band_at(s, p, j);
        if (!(fabs(pivot) > tiny)) {
            return false;
        }
        const size_t end = j + reach < n ? j + reach : n - 1;
        if (p != j) {
            for (size_t c = j; c <= end; c++) {
                const double t = *band_at(s, j, c);
                *band_at(s, j, c) = *band_at(s, p, c);
                *band_at(s, p, c) = t;
            }
        }
        for (size_t i = j + 1; i <= last; i++) {
            const double l = *band_at(s, i, j) / pivot;
            *band_at(s, i, j) = l;
            if (l != 0.0) {
                for (size_t c = j + 1; c <= end; c++) {
                    *band_at(s, i, c) -= l * *band_at(s, j, c);
                }
            }
        }
    }
    return true;
}

/* x (n1 x r, row-major) := A11^-1 x, after band_factor. */
static void band_solve(const bsys *s, double *x, size_t r)
{
    const size_t n = s->n1, reach = (size_t)(s->kl + s->ku);
    for (size_t j = 0; j < n; j++) {
        const size_t p = s->piv[j];
        if (p != j) {
            for (size_t q = 0; q < r; q++) {
                const double t = x[j * r + q];
                x[j * r + q] = x[p * r + q];
                x[p * r + q] = t;
            }
        }
        const size_t last = j + (size_t)s->kl < n ? j + (size_t)s->kl : n - 1;
        for (size_t i = j + 1; i <= last; i++) {
            const double l = *band_at(s, i, j);
            for (size_t q = 0; l != 0.0 && q < r; q++) {
                x[i * r + q] -= l * x[j * r + q];
            }
        }
    }
    for (size_t j = n; j-- > 0;) {
        const size_t end = j + reach < n ? j + reach : n - 1;
        for (size_t q = 0; q < r; q++) {
            double v = x[j * r + q];
            for (size_t c = j + 1; c <= end; c++) {
                v -= *band_at(s, j, c) * x[c * r + q];
            }
            x[j * r + q] = v / *band_at(s, j, j);
        }
    }
}

/* Dense k x k solve of S X = T (T k x r), Gaussian elimination with
 * partial pivoting, in place. False when singular. */
static bool dense_solve(double *S, size_t k, double *T, size_t r,
                        double tiny)
{
    for (size_t j = 0; j < k; j++) {
        size_t p = j;
        for (size_t i = j + 1; i < k; i++) {
            if (fabs(S[i * k + j]) > fabs(S[p * k + j])) {
                p = i;
            }
        }
        if (!(fabs(S[p * k + j]) > tiny)) {
            return false;
        }
        for (size_t c = 0; p != j && c < k; c++) {
            const double t = S[j * k + c];
            S[j * k + c] = S[p * k + c];
            S[p * k + c] = t;
        }
        for (size_t q = 0; p != j && q < r; q++) {
            const double t = T[j * r + q];
            T[j * r + q] = T[p * r + q];
            T[p * r + q] = t;
        }
        for (size_t i = j + 1; i < k; i++) {
            const double l = S[i * k + j] / S[j * k + j];
            for (size_t c = j; c < k; c++) {
                S[i * k + c] -= l * S[j * k + c];
            }
            for (size_t q = 0; q < r; q++) {
                T[i * r + q] -= l * T[j * r + q];
            }
        }
    }
    for (size_t j = k; j-- > 0;) {
        for (size_t q = 0; q < r; q++) {
            double v = T[j * r + q];
            for (size_t c = j + 1; c < k; c++) {
                v -= S[j * k + c] * T[c * r + q];
            }
            T[j * r + q] = v / S[j * k + j];
        }
    }
    return true;
}

/* x (n x r) := A^-1 x: the band, then the border's Schur complement. */
static bool bsys_solve(bsys *s, double *x, size_t r, double tiny)
{
    if (!band_factor(s, tiny)) {
        return false;
    }
    const size_t n1 = s->n1, k = s->k;
    if (k == 0) {
        band_solve(s, x, r);
        return true;
    }
    band_solve(s, s->a12, k); /* X = A11^-1 A12 */
    band_solve(s, x, r);      /* Z = A11^-1 b1 */
    double *S = s->a22, *T = x + n1 * r;
    for (size_t i = 0; i < k; i++) {
        for (size_t j = 0; j < n1; j++) {
            const double a = s->a21[i * n1 + j];
            if (a == 0.0) {
                continue;
            }
            for (size_t c = 0; c < k; c++) {
                S[i * k + c] -= a * s->a12[j * k + c];
            }
            for (size_t q = 0; q < r; q++) {
                T[i * r + q] -= a * x[j * r + q];
            }
        }
    }
    if (!dense_solve(S, k, T, r, tiny)) {
        return false;
    }
    for (size_t j = 0; j < n1; j++) {
        for (size_t q = 0; q < r; q++) {
            double v = x[j * r + q];
            for (size_t c = 0; c < k; c++) {
                v -= s->a12[j * k + c] * T[c * r + q];
            }
            x[j * r + q] = v;
        }
    }
    return true;
}

/* ---- the interpolation system ------------------------------------------- */

/* One row: coefficients of up to p + 2 unknowns, and its right side:
 * sample `sample` of each driver, or 0 (sample < 0). */
typedef struct {
    int n;
    size_t col[MAXP + 1];
    double v[MAXP + 1];
    long sample;
} row_t;

/* Row: derivative d of segment seg at tau, through the unknowns of the
 * segment's B-spline coefficients, sign times; added to r. Segment seg
 * uses unknowns seg + r' (r' = 0..p) with the piece p - r' (periodic:
 * modulo m, shifted by shift). */
static void add_segment(row_t *r, double P[MAXP][MAXP], int p,
                        size_t seg, int d, double tau, double sign,
                        bool periodic, size_t m, size_t shift)
{
    for (int q = 0; q <= p; q++) {
        const double v = sign * poly_deriv(P[p - q], p, d, tau);
        size_t col = seg + (size_t)q;
        if (periodic) {
            col = (col + m - shift) % m;
        }
        int at = 0;
        while (at < r->n && r->col[at] != col) {
            at++;
        }
        if (at == r->n) {
            r->col[r->n] = col;
            r->v[r->n++] = 0.0;
        }
        r->v[at] += v;
    }
}

_Static_assert(CB_DRIVER_BC_NOT_A_KNOT - CB_DRIVER_BC_NATURAL ==
                   (int)CB_BC_NOT_A_KNOT &&
               CB_DRIVER_BC_CLAMPED - CB_DRIVER_BC_NATURAL ==
                   (int)CB_BC_CLAMPED &&
               CB_DRIVER_BC_PERIODIC - CB_DRIVER_BC_NATURAL ==
                   (int)CB_BC_PERIODIC,
               "cb_spline_bc follows gen/choices.def");

const char *cb_spline_bc_name(cb_spline_bc bc)
{
    return cb_choices[CB_DRIVER_BC_NATURAL + (int)bc].text;
}

cb_spline_bc cb_spline_bc_of(cb_choice choice)
{
    return (cb_spline_bc)(choice - CB_DRIVER_BC_NATURAL);
}

static cubie_status spline_fail(cubie_error *err, const char *key,
                                const char *fmt, int order, int bc, size_t a,
                                size_t b)
{
    return cb_fail(err, CUBIE_E_OPTION, key, 0, fmt, key, order,
                   cb_spline_bc_name((cb_spline_bc)bc), a, b);
}

cubie_status cb_spline_build(const double *samples, size_t n_samples,
                             size_t n_drivers, const char *const *names,
                             double t0, double period, int order, bool wrap,
                             cb_spline_bc bc, cb_spline *out,
                             cubie_error *err)
{
    memset(out, 0, sizeof(*out));
    const int p = order;
    if (p < 1 || p > CB_SPLINE_MAX_ORDER) {
        return cb_fail(err, CUBIE_E_OPTION, "driver_order", 0,
                       "option driver_order: %d is not from 1 to %d", order,
                       CB_SPLINE_MAX_ORDER);
    }
    if (!(period > 0.0) || !isfinite(period) || !isfinite(t0)) {
        return cb_fail(err, CUBIE_E_OPTION, "driver_sample_period", 0,
                       "option driver_sample_period: the sample period must "
                       "be a finite number > 0 and the start finite (period "
                       "%g, start %g)", period, t0);
    }
    if (n_samples < (size_t)p + 1) {
        return cb_fail(err, CUBIE_E_OPTION, "driver_order", 0,
                       "option driver_order: order %d needs at least %d "
                       "samples of each driver, not %zu", p, p + 1,
                       n_samples);
    }
    const bool periodic = bc == CB_BC_PERIODIC;
    if (periodic && !wrap) {
        return cb_fail(err, CUBIE_E_OPTION, "driver_boundary_condition", 0,
                       "option driver_boundary_condition: periodic needs "
                       "driver_wrap=true");
    }
    for (size_t d = 0; d < n_drivers; d++) {
        const double a = samples[d];
        const double b = samples[(n_samples - 1) * n_drivers + d];
        double big = 0.0;
        for (size_t i = 0; i < n_samples; i++) {
            const double y = samples[i * n_drivers + d];
            if (!isfinite(y)) {
                return cb_fail(err, CUBIE_E_OPTION, "drivers", 0,
                               "driver %s: sample %zu is not a finite "
                               "number", names ? names[d] : "?", i);
            }
            big = fmax(big, fabs(y));
        }
        if (periodic && !(fabs(a - b) <= 1e-12 * big)) {
            return cb_fail(err, CUBIE_E_OPTION, "driver_boundary_condition",
                           0,
                           "option driver_boundary_condition: periodic "
                           "needs the last sample equal to the first; "
                           "driver %s starts at %.17g and ends at %.17g",
                           names ? names[d] : "?", a, b);
        }
    }
    const bool pad = !wrap && bc == CB_BC_CLAMPED;
    const size_t n = n_samples + (pad ? 2 : 0);   /* knots */
    const size_t m = n - 1;                        /* segments */
    const size_t N = periodic ? m : m + (size_t)p; /* unknowns */
    double P[MAXP][MAXP];
    bspline_pieces(p, P);
    /* Periodic: unknown j is coefficient j + shift, which puts the largest
     * value of a knot row on the diagonal. */
    size_t shift = 0;
    for (int q = 0; q <= p; q++) {
        if (P[q][0] > P[p - (int)shift][0]) {
            shift = (size_t)(p - q);
        }
    }
    row_t *rows = calloc(N, sizeof(row_t));
    if (rows == NULL) {
        return cb_fail_nomem(err);
    }
    /* Knot i: segment i at tau 0 (the last knot: segment m - 1 at 1). */
    const size_t n_bc = periodic ? 0 : (size_t)(p - 1);
    const size_t first_knot_row = periodic ? 0 : n_bc / 2 + n_bc % 2;
    const size_t knots = periodic ? m : n;
    for (size_t i = 0; i < knots; i++) {
        row_t *r = &rows[first_knot_row + i];
        r->sample = (long)i - (pad ? 1 : 0); /* the pads read 0 */
        if (pad && (i == 0 || i == n - 1)) {
            r->sample = -1;
        }
        if (i < m) {
            add_segment(r, P, p, i, 0, 0.0, 1.0, periodic, m, shift);
        } else {
            add_segment(r, P, p, m - 1, 0, 1.0, 1.0, periodic, m, shift);
        }
    }
    /* Boundary rows j = 0 .. p - 2, alternating start (even j) and end;
     * the start's rows come first, the end's last (banded order). */
    for (size_t j = 0; j < n_bc; j++) {
        const bool start = j % 2 == 0;
        const size_t at = start ? first_knot_row - 1 - j / 2
                                : first_knot_row + n + j / 2;
        row_t *r = &rows[at];
        r->sample = -1;
        const int d = (int)(j / 2);
        if (bc == CB_BC_NOT_A_KNOT) {
            /* derivative p continuous at knot q */
            const size_t q = start ? 1 + (size_t)d : m - 1 - (size_t)d;
            if (q < 1 || q > m - 1) {
                free(rows);
                return spline_fail(err, "driver_boundary_condition",
                                   "option %s: order %d with %s ends needs "
                                   "more samples (%zu segments, %zu rows)",
                                   p, bc, m, n_bc);
            }
            add_segment(r, P, p, q - 1, p, 1.0, 1.0, false, m, 0);
            add_segment(r, P, p, q, p, 0.0, -1.0, false, m, 0);
        } else {
            const int deriv = (bc == CB_BC_NATURAL ? 2 : 1) + d;
            add_segment(r, P, p, start ? 0 : m - 1, deriv, start ? 0.0 : 1.0,
                        1.0, false, m, 0);
        }
    }
    /* The band and the border. */
    const size_t k = periodic ? (size_t)(p - (int)shift > (int)shift
                                             ? p - (int)shift
                                             : (int)shift)
                              : 0;
    if (periodic && m <= 2 * k + 1) {
        free(rows);
        return spline_fail(err, "driver_boundary_condition",
                           "option %s: order %d with %s ends needs more "
                           "samples (%zu segments, at least %zu)", p, bc, m,
                           2 * k + 2);
    }
    int kl = 0, ku = 0;
    for (size_t i = 0; i < N - k; i++) {
        for (int q = 0; q < rows[i].n; q++) {
            const size_t col = rows[i].col[q];
            if (col < N - k) {
                kl = col < i && (int)(i - col) > kl ? (int)(i - col) : kl;
                ku = col > i && (int)(col - i) > ku ? (int)(col - i) : ku;
            }
        }
    }
    bsys s;
    double *x = malloc(sizeof(double) * N * (n_drivers > 0 ? n_drivers : 1));
    out->c = malloc(sizeof(double) * m * (n_drivers > 0 ? n_drivers : 1) *
                    (size_t)(p + 1));
    if (!bsys_alloc(&s, N, k, kl, ku) || x == NULL || out->c == NULL) {
        bsys_free(&s);
        free(x);
        free(rows);
        cb_spline_free(out);
        return cb_fail_nomem(err);
    }
    double scale = 0.0;
    for (size_t i = 0; i < N; i++) {
        for (int q = 0; q < rows[i].n; q++) {
            bsys_add(&s, i, rows[i].col[q], rows[i].v[q]);
            scale = fmax(scale, fabs(rows[i].v[q]));
        }
        for (size_t d = 0; d < n_drivers; d++) {
            x[i * n_drivers + d] =
                rows[i].sample < 0
                    ? 0.0
                    : samples[(size_t)rows[i].sample * n_drivers + d];
        }
    }
    free(rows);
    const bool ok = bsys_solve(&s, x, n_drivers, 1e-13 * scale);
    bsys_free(&s);
    if (!ok) {
        free(x);
        cb_spline_free(out);
        return spline_fail(err, "driver_boundary_condition",
                           "option %s: order %d with %s ends gives a "
                           "singular system for %zu segments (%zu "
                           "samples); try another order or boundary "
                           "condition", p, bc, m, n_samples);
    }
    /* Each segment's power coefficients. */
    for (size_t seg = 0; seg < m; seg++) {
        for (size_t d = 0; d < n_drivers; d++) {
            double *c = &out->c[(seg * n_drivers + d) * (size_t)(p + 1)];
            for (int kk = 0; kk <= p; kk++) {
                c[kk] = 0.0;
            }
            for (int q = 0; q <= p; q++) {
                size_t col = seg + (size_t)q;
                if (periodic) {
                    col = (col + m - shift) % m;
                }
                const double a = x[col * n_drivers + d];
                for (int kk = 0; kk <= p; kk++) {
                    c[kk] += a * P[p - q][kk];
                }
            }
        }
    }
    free(x);
    out->order = p;
    out->wrap = wrap;
    out->n_segments = m;
    out->n_drivers = n_drivers;
    out->start = pad ? t0 - period : t0;
    out->period = period;
    return CUBIE_OK;
}

void cb_spline_free(cb_spline *s)
{
    free(s->c);
    memset(s, 0, sizeof(*s));
}

double cb_spline_eval(const cb_spline *s, size_t driver, double t, int deriv)
{
    const double m = (double)s->n_segments;
    double scaled = (t - s->start) / s->period;
    if (s->wrap) {
        scaled -= m * floor(scaled / m);
    } else {
        /* The ends belong to the data, with a few roundings' slack (the
         * last sample's time computed as t0 + (n - 1) period may land a
         * hair beyond it). */
        const double slack = 64.0 * DBL_EPSILON * (m + 1.0);
        if (!(scaled >= -slack && scaled <= m + slack)) {
            return 0.0;
        }
        scaled = scaled < 0.0 ? 0.0 : scaled > m ? m : scaled;
    }
    double seg = floor(scaled);
    seg = seg > m - 1.0 ? m - 1.0 : seg;
    const double tau = scaled - seg;
    const double *c =
        &s->c[((size_t)seg * s->n_drivers + driver) * (size_t)(s->order + 1)];
    return poly_deriv(c, s->order, deriv, tau) / pow(s->period, deriv);
}
