/* The eigen-decomposition of a small real matrix (gen/eig.h): the
 * characteristic polynomial (Faddeev-LeVerrier), its roots (Durand-
 * Kerner, then Newton), an eigenvector per root by inverse iteration, V^-1
 * by Gauss-Jordan elimination, and a check that V diag(lambda) V^-1
 * gives back A. All in double complex; s is a tableau's stage count. */
#include <complex.h>
#include <math.h>
#include <string.h>

#include "eig.h"

typedef double complex cplx;

/* Solve the n x n complex system m x = b in place (m destroyed, x = b on
 * entry) by Gaussian elimination with partial pivoting; false when a
 * pivot is zero. */
static bool csolve(cplx *m, cplx *x, int n)
{
    for (int k = 0; k < n; k++) {
        int p = k;
        for (int i = k + 1; i < n; i++) {
            if (cabs(m[i * n + k]) > cabs(m[p * n + k])) {
                p = i;
            }
        }
        if (cabs(m[p * n + k]) == 0.0) {
            return false;
        }
        for (int j = 0; j < n; j++) {
            const cplx t = m[k * n + j];
            m[k * n + j] = m[p * n + j];
            m[p * n + j] = t;
        }
        const cplx t = x[k];
        x[k] = x[p];
        x[p] = t;
        for (int i = k + 1; i < n; i++) {
            const cplx f = m[i * n + k] / m[k * n + k];
            for (int j = k; j < n; j++) {
                m[i * n + j] -= f * m[k * n + j];
            }
            x[i] -= f * x[k];
        }
    }
    for (int k = n - 1; k >= 0; k--) {
        cplx sum = x[k];
        for (int j = k + 1; j < n; j++) {
            sum -= m[k * n + j] * x[j];
        }
        x[k] = sum / m[k * n + k];
    }
    return true;
}

/* p(z) = sum_i c[i] z^i (c[s] = 1) and its derivative. */
static cplx poly(const double *c, int s, cplx z, cplx *dp)
{
    cplx p = c[s], d = 0.0;
    for (int i = s - 1; i >= 0; i--) {
        d = d * z + p;
        p = p * z + c[i];
    }
    *dp = d;
    return p;
}

/* The roots of the characteristic polynomial of A. */
static bool roots(const double *A, int s, cplx *z)
{
    double M[CB_EIG_MAX * CB_EIG_MAX] = {0}, AM[CB_EIG_MAX * CB_EIG_MAX];
    double c[CB_EIG_MAX + 1];
    c[s] = 1.0;
    for (int k = 1; k <= s; k++) {
        /* M_k = A M_{k-1} + c_{s-k+1} I, c_{s-k} = -tr(A M_k) / k */
        for (int i = 0; i < s; i++) {
            for (int j = 0; j < s; j++) {
                double sum = 0.0;
                for (int l = 0; l < s; l++) {
                    sum += A[i * s + l] * M[l * s + j];
                }
                AM[i * s + j] = sum + (i == j ? c[s - k + 1] : 0.0);
            }
        }
        memcpy(M, AM, sizeof(M));
        double tr = 0.0;
        for (int i = 0; i < s; i++) {
            for (int l = 0; l < s; l++) {
                tr += A[i * s + l] * M[l * s + i];
            }
        }
        c[s - k] = -tr / k;
    }
    for (int i = 0; i < s; i++) {
        z[i] = cpow(0.4 + 0.9 * I, i);
    }
    for (int it = 0; it < 1000; it++) {
        double change = 0.0;
        for (int i = 0; i < s; i++) {
            cplx d, den = 1.0;
            for (int j = 0; j < s; j++) {
                if (j != i) {
                    den *= z[i] - z[j];
                }
            }
            if (cabs(den) == 0.0) {
                return false;
            }
            const cplx step = poly(c, s, z[i], &d) / den;
            z[i] -= step;
            change = fmax(change, cabs(step));
        }
        if (change < 1e-16) {
            break;
        }
    }
    for (int i = 0; i < s; i++) { /* polish */
        for (int it = 0; it < 3; it++) {
            cplx d;
            const cplx p = poly(c, s, z[i], &d);
            if (cabs(d) > 0.0) {
                z[i] -= p / d;
            }
        }
        if (!isfinite(creal(z[i])) || !isfinite(cimag(z[i]))) {
            return false;
        }
    }
    return true;
}

/* An eigenvector for lambda by inverse iteration, normalised. */
static bool eigvec(const double *A, int s, cplx lambda, cplx *v)
{
    const cplx mu = lambda + 1e-9 * (1.0 + cabs(lambda));
    for (int i = 0; i < s; i++) {
        v[i] = 1.0 + 0.25 * i;
    }
    for (int it = 0; it < 4; it++) {
        cplx m[CB_EIG_MAX * CB_EIG_MAX];
        for (int i = 0; i < s; i++) {
            for (int j = 0; j < s; j++) {
                m[i * s + j] = A[i * s + j] - (i == j ? mu : 0.0);
            }
        }
        if (!csolve(m, v, s)) {
            return false;
        }
        double norm = 0.0;
        for (int i = 0; i < s; i++) {
            norm = fmax(norm, cabs(v[i]));
        }
        if (!(norm > 0.0) || !isfinite(norm)) {
            return false;
        }
        for (int i = 0; i < s; i++) {
            v[i] /= norm;
        }
    }
    return true;
}

bool cb_eig_decompose(const double *A, int s, cb_eig *out)
{
    cplx z[CB_EIG_MAX], V[CB_EIG_MAX * CB_EIG_MAX], W[CB_EIG_MAX *
                                                        CB_EIG_MAX];
    double scale = 0.0;
    if (s < 1 || s > CB_EIG_MAX) {
        return false;
    }
    for (int i = 0; i < s * s; i++) {
        scale = fmax(scale, fabs(A[i]));
    }
    if (!(scale > 0.0) || !roots(A, s, z)) {
        return false;
    }
    /* Real roots exactly real; conjugate pairs exactly conjugate, the one
     * with Im > 0 first; no zero or repeated root. */
    bool used[CB_EIG_MAX] = {false};
    cplx order[CB_EIG_MAX];
    int n = 0;
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < s; i++) {
        if (used[i]) {
            continue;
        }
        used[i] = true;
        if (fabs(cimag(z[i])) <= 1e-10 * (1.0 + cabs(z[i]))) {
            out->pair[out->blocks] = false;
            order[n++] = creal(z[i]);
        } else {
            int best = -1;
            for (int j = 0; j < s; j++) {
                if (!used[j] && (best < 0 || cabs(z[j] - conj(z[i])) <
                                                 cabs(z[best] - conj(z[i])))) {
                    best = j;
                }
            }
            if (best < 0 ||
                cabs(z[best] - conj(z[i])) > 1e-9 * (1.0 + cabs(z[i]))) {
                return false;
            }
            used[best] = true;
            const cplx l = 0.5 * (z[i] + conj(z[best]));
            out->pair[out->blocks] = true;
            order[n++] = cimag(l) > 0 ? l : conj(l);
            order[n++] = cimag(l) > 0 ? conj(l) : l;
        }
        out->blocks++;
    }
    for (int i = 0; i < s; i++) {
        if (cabs(order[i]) < 1e-12 * scale) {
            return false;
        }
        for (int j = 0; j < i; j++) {
            if (cabs(order[i] - order[j]) < 1e-8 * scale) {
                return false;
            }
        }
    }
    /* V's columns; a pair's second is the first's conjugate */
    for (int k = 0; k < s; k++) {
        cplx v[CB_EIG_MAX];
        if (k > 0 && cimag(order[k]) < 0.0) {
            for (int i = 0; i < s; i++) {
                V[i * s + k] = conj(V[i * s + k - 1]);
            }
            continue;
        }
        if (!eigvec(A, s, order[k], v)) {
            return false;
        }
        for (int i = 0; i < s; i++) {
            V[i * s + k] = cimag(order[k]) == 0.0 ? creal(v[i]) : v[i];
        }
    }
    /* W = V^-1, a column at a time */
    for (int j = 0; j < s; j++) {
        cplx m[CB_EIG_MAX * CB_EIG_MAX], e[CB_EIG_MAX];
        memcpy(m, V, sizeof(cplx) * (size_t)(s * s));
        for (int i = 0; i < s; i++) {
            e[i] = i == j ? 1.0 : 0.0;
        }
        if (!csolve(m, e, s)) {
            return false;
        }
        for (int i = 0; i < s; i++) {
            W[i * s + j] = e[i];
        }
    }
    for (int i = 0; i < s; i++) { /* V diag(lambda) W == A */
        for (int j = 0; j < s; j++) {
            cplx sum = 0.0;
            for (int k = 0; k < s; k++) {
                sum += V[i * s + k] * order[k] * W[k * s + j];
            }
            if (cabs(sum - A[i * s + j]) > 1e-12 * scale) {
                return false;
            }
        }
    }
    for (int b = 0, k = 0; b < out->blocks; b++) {
        out->lam_re[b] = creal(order[k]);
        out->lam_im[b] = cimag(order[k]);
        for (int i = 0; i < s; i++) {
            out->v_re[i][b] = creal(V[i * s + k]);
            out->v_im[i][b] = cimag(V[i * s + k]);
            out->vinv_re[b][i] = creal(W[k * s + i]);
            out->vinv_im[b][i] = cimag(W[k * s + i]);
        }
        k += out->pair[b] ? 2 : 1;
    }
    return true;
}
