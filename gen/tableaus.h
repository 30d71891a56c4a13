/* Explicit Runge-Kutta method tables: every explicit tableau of the
 * original with its names. One generic ERK emitter walks these (gen/emit.c);
 * adding a method is one entry in tableaus.c. */
#ifndef CB_TABLEAUS_H
#define CB_TABLEAUS_H

#include <stdbool.h>

enum { CB_MAX_STAGES = 16 };

typedef struct {
    const char *name;      /* canonical name, e.g. "dormand-prince-54" */
    const char *aliases;   /* space-separated other names, "" if none */
    int stages;            /* s */
    int order;             /* order of the solution weights b */
    int error_order;       /* order of the embedded weights b_hat; 0: none */
    const double *a;       /* s*s row-major, strictly lower triangular */
    const double *b;       /* s */
    const double *b_hat;   /* s, or NULL without an error estimate */
    const double *c;       /* s */
    const char *source;    /* where the coefficients come from */
} cb_erk_tableau;

/* The table, terminated by an entry with name NULL. */
extern const cb_erk_tableau cb_erk_tableaus[];

/* Look up by canonical name or alias, case-insensitive; NULL if unknown. */
const cb_erk_tableau *cb_erk_find(const char *name);
/* First same as last: c[0]==0, c[s-1]==1, row s-1 of a equals b, row 0
 * all zero. */
bool cb_erk_fsal(const cb_erk_tableau *t);
/* Index of the row of a that equals b (the last stage state is the
 * solution), or -1. */
int cb_erk_b_row(const cb_erk_tableau *t);

#endif
