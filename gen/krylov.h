/* The Krylov solvers of the implicit solve (gen/krylov.c). */
#ifndef CB_KRYLOV_H
#define CB_KRYLOV_H

#include "ctx.h"

/* A weighted mean-square norm, inline: N(v) = mean (v_k / max(atol_i +
 * rtol_i |y_n,i|, 1e-16))^2 into `into`, with the tolerances of `which`
 * ("KRYLOV" or "NEWTON"), i the state of unknown k. */
void cb_krylov_emit_norm(const cb_ctx *c, cb_sb *sb, const char *vec,
                         const char *into, const char *which);

#endif
