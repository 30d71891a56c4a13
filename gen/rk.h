/* The stage and accumulator emitter every Runge-Kutta step shares (ERK,
 * DIRK, FIRK, Rosenbrock-W), over one tableau type (tableaus.h). Rows of
 * a stage buffer are named by the registry (cb_buffer_rows): emitters
 * write stage_2[i], never an offset. */
#ifndef CB_RK_H
#define CB_RK_H

#include "ctx.h"

/* The error weights d_k = b_k - b_hat_k of an adaptive step (all 0 for a
 * fixed one, or a method without b_hat). */
void cb_rk_error_weights(const cb_ctx *c, double d[CB_MAX_STAGES]);

/* Whether anything reads stage k's quantity: the solution (when it is
 * accumulated, b_row < 0), the error, or a later stage. */
bool cb_rk_stage_feeds(const cb_ctx *c, int k, int b_row, const double *d);

/* Streaming accumulation of stage k's quantity `src[i]` (a derivative
 * k_i or an increment u_i, read into the local `var`) into the solution
 * (weights b, unless b_row >= 0), the error (weights d) and the rows of
 * the later stages (a_jk into the view rows[j], j > k); `extra` is a
 * further line in the same loop (or NULL). A row j with folded[j]
 * (folded may be NULL) is written whole by its one contributor: stage
 * j's state, state + (a_jk dt) var (cb_rk_fold_rows). */
void cb_rk_accumulate(const cb_ctx *c, cb_sb *sb, int k, const char *var,
                      const char *src, int b_row, const double *d,
                      const char *const *rows, const char *extra,
                      const bool *folded);

/* The rows j >= 1 of an explicit tableau whose stage state can be written
 * when its one derivative is known, as fma(a_jk dt, k_k, state): a single
 * nonzero a_jk that is a power of two at most 1, so that a_jk dt and
 * a_jk k_k are exact and fma(a_jk dt, k_k, y) equals the unfolded
 * fma(dt, a_jk k_k, y) bit for bit (classical RK4's three rows, Heun's
 * one) for every finite value but two corners: a subnormal a_jk k_k
 * (rounded before, not now) and the sign of a zero stage value (a row
 * that was zeroed, then accumulated, turned -0 into +0). It saves a
 * multiply or an add per state and row. */
void cb_rk_fold_rows(const cb_rk_tableau *T, bool folded[CB_MAX_STAGES]);

/* The statement `<head> + w_k * rows[k][i] ...;` with a term for every
 * nonzero weight, e.g. head "error[i] = (real)0". */
void cb_rk_weighted_sum(const cb_ctx *c, cb_sb *sb, const char *head,
                        const double *w, int s, const char *const *rows);

/* Row r of a vector of rows of n, the layout of a coupled solve's
 * unknowns (FIRK): its start, "Y + 6" ("Y" for row 0), and its element i,
 * "Y[6 + i]" ("Y[i]"). The one place a coupled row's offset is
 * computed; rows of registered buffers are the registry's (cb_rk_rows). */
typedef struct {
    char ptr[48];
    char at[64];
} cb_row;
cb_row cb_rk_row(const char *vec, int r, int n);

/* The views of the rows of a registered stage buffer, into rows[0..n):
 * rows[k] is the view of the buffer's row k - first, NULL below first. */
void cb_rk_rows(const cb_ctx *c, const char *buffer, int first, int n,
                const char **rows);

#endif
