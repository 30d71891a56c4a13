/* The eigen-decomposition of a FIRK tableau's A, at generation time, for
 * the transformed direct solve (gen/krylov.c): with one Jacobian J for
 * every stage, the coupled matrix beta I - gamma h (A x J) is
 * (V x I) diag(beta I - gamma h lambda_k J) (V^-1 x I), so the s n
 * system falls apart into one n x n system per eigenvalue, real or one
 * complex system per conjugate pair (Hairer & Wanner, Solving ODEs II,
 * sect. IV.8, as RADAU5 does). */
#ifndef CB_EIG_H
#define CB_EIG_H

#include <stdbool.h>

#include "tableaus.h"

enum { CB_EIG_MAX = 8 };

/* The blocks, real eigenvalues and pairs (one block for lambda and its
 * conjugate, lambda with Im > 0), each with its row of V^-1 (w_k = sum_j
 * vinv[k][j] b_j) and its column of V (x_r = sum over real k of
 * v[r][k] w_k + sum over pairs of 2 Re(v[r][k] z_k)). */
typedef struct {
    int blocks;
    bool pair[CB_EIG_MAX];
    double lam_re[CB_EIG_MAX], lam_im[CB_EIG_MAX];
    double v_re[CB_EIG_MAX][CB_EIG_MAX], v_im[CB_EIG_MAX][CB_EIG_MAX];
    double vinv_re[CB_EIG_MAX][CB_EIG_MAX], vinv_im[CB_EIG_MAX][CB_EIG_MAX];
} cb_eig;

/* Decompose the s x s row-major A (s <= CB_EIG_MAX). False (nothing to
 * transform: the caller keeps the full matrix) when A is not
 * diagonalisable to 1e-12 of its largest entry, has a zero eigenvalue or
 * repeated ones. */
bool cb_eig_decompose(const double *A, int s, cb_eig *out);

#endif
