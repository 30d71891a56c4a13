/* The expression language of specs: parse to a tree, fold constants, print
 * C for float or double.
 *
 * Grammar (lowest precedence first; all binary operators left-assoc except
 * ^ which is right-assoc and binds tighter than unary minus, so -x^2 is
 * -(x^2)):
 *   expr    := or ( '?' expr ':' expr )?
 *   or      := and ( '||' and )*         (also the word `or`)
 *   and     := cmp ( '&&' cmp )*         (also the word `and`)
 *   cmp     := sum ( ('<'|'<='|'>'|'>='|'=='|'!=') sum )?
 *   sum     := prod ( ('+'|'-') prod )*
 *   prod    := unary ( ('*'|'/') unary )*
 *   unary   := ('-'|'+'|'!') unary | power
 *   power   := atom ( ('^'|'**') unary )?
 *   atom    := number | name | name '(' args ')' | '(' expr ')'
 * Numbers: 1, 1.5, .5, 1e-3, 2.5E+4. Names: [A-Za-z_][A-Za-z0-9_]*.
 * Functions: functions.def (where(c,a,b) is the ternary).
 * Comparisons and logic give 1 or 0 as a real.
 */
#ifndef CB_EXPR_H
#define CB_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

typedef enum {
#define CB_FN(id, name, arity, fname, dname) CB_FN_##id,
#include "functions.def"
#undef CB_FN
    CB_FN_COUNT
} cb_func;

typedef enum {
    CB_EX_NUM,     /* num */
    CB_EX_SYM,     /* sym: role + index, resolved at parse time */
    CB_EX_NEG,     /* -a[0] */
    CB_EX_NOT,     /* !a[0] */
    CB_EX_ADD, CB_EX_SUB, CB_EX_MUL, CB_EX_DIV, CB_EX_POW,
    CB_EX_LT, CB_EX_LE, CB_EX_GT, CB_EX_GE, CB_EX_EQ, CB_EX_NE,
    CB_EX_AND, CB_EX_OR,
    CB_EX_COND,    /* a[0] ? a[1] : a[2] (also where()) */
    CB_EX_CALL     /* fn(a[0], ...) */
} cb_expr_kind;

/* What a name stands for; the caller's resolver decides. */
typedef enum {
    CB_SYM_STATE,
    CB_SYM_PARAM,
    CB_SYM_CONST,  /* folded to its value by the parser */
    CB_SYM_AUX,    /* an auxiliary (a previous equation's left side) */
    CB_SYM_DRIVER,
    CB_SYM_TIME,
    CB_SYM_OTHER   /* for generated code: printed by the caller */
} cb_sym_role;

typedef struct cb_expr cb_expr;
struct cb_expr {
    cb_expr_kind kind;
    int col;          /* 1-based column of the node's first character */
    double num;       /* CB_EX_NUM */
    cb_sym_role role; /* CB_EX_SYM */
    int index;        /* CB_EX_SYM: index within its role */
    const char *name; /* CB_EX_SYM: the name as written (arena) */
    cb_func fn;       /* CB_EX_CALL */
    int nargs;
    cb_expr *a[3];
};

/* The name of a function as written in specs, and its number of
 * arguments (static strings; "?" and 0 for an invalid id). */
const char *cb_func_name(cb_func fn);
int cb_func_arity(cb_func fn);

/* A node in arena with up to three arguments (nargs counts the non-NULL
 * ones; set fn for a call), or NULL when out of memory. For building trees
 * by hand, e.g. derivatives. No folding happens here. */
cb_expr *cb_expr_new(cb_arena *arena, cb_expr_kind kind, int col,
                     cb_expr *a0, cb_expr *a1, cb_expr *a2);
cb_expr *cb_expr_new_num(cb_arena *arena, double v, int col);

/* Resolve a name: return true and set *role, *index (and *value for a
 * constant); false for an unknown name. */
typedef bool (*cb_resolver)(void *ctx, const char *name, cb_sym_role *role,
                            int *index, double *value);

/* Parse src into a tree in arena. On error return CUBIE_E_EXPR with the
 * 1-based column in err->column, err->path set to `path`, and a message
 * that names the problem, the path, the column and quotes the expression
 * with a caret line. Unknown names, unknown functions, wrong arity, bad
 * numbers (also non-finite ones like 1e999), trailing input and unbalanced
 * parentheses are errors. Constants and pure-number subtrees are folded. */
cubie_status cb_expr_parse(cb_arena *arena, const char *src, cb_resolver res,
                           void *ctx, const char *path, cb_expr **out,
                           cubie_error *err);

/* Fold constant subtrees and trivial identities (x*1, x+0, x*0 only where
 * exact: 0*x is kept unless x is a number, since x may be inf/nan). Returns
 * the folded tree (may share nodes with the input, which is not modified).
 * A constant subtree whose value is inf or NaN (1/0) is kept as written.
 * Out of memory: the result is still a valid, partly folded tree, and
 * arena->failed is set. */
cb_expr *cb_expr_fold(cb_arena *arena, cb_expr *e);

/* Every walk below is iterative (an explicit stack on the heap), so a tree
 * of any depth is safe: a left-deep sum of 50000 terms from a spec never
 * becomes 50000 stack frames. */

/* Evaluate in double; sym values come from the callback. NaN when out of
 * memory. */
typedef double (*cb_sym_value)(void *ctx, const cb_expr *sym);
double cb_expr_eval(const cb_expr *e, cb_sym_value val, void *ctx);

/* Print C for the given precision. Numbers carry the precision's literal
 * form (1.5f / 1.5), functions their precision's name (expf / exp), and
 * x^2, x^3 become products, x^0.5 sqrt, x^-1 a reciprocal, other integer
 * powers up to 8 products; other powers pow. The sym callback writes a
 * symbol's C text, which must bind like a postfix expression (a name,
 * s[0], a call); with no callback the name is printed. Parenthesised
 * where precedence needs it (and around the right operand of an operator
 * of equal precedence, keeping the tree's rounding); the output never
 * contains a double literal or double function in float mode. Comparisons
 * and logic print as ((x < y) ? 1.0f : 0.0f), where(c, a, b) as
 * (c != 0.0f ? a : b) or ((x < y) ? a : b). The base of a product is
 * repeated as written, so nested powers ((x+1)^8+1)^8 grow the text
 * exponentially: generated code uses cb_expr_print_locals. */
typedef void (*cb_sym_printer)(void *ctx, const cb_expr *sym, cb_sb *out);
void cb_expr_print(const cb_expr *e, bool is_double, cb_sym_printer p,
                   void *ctx, cb_sb *out);

/* Locals an expression may declare before the statement that holds it. */
typedef struct {
    cb_sb *pre; /* gets the declarations; never the expression's own out */
    int next;   /* the number of the next local, pw<next>: one counter per
                 * C function, so the names stay distinct in it */
} cb_locals;

/* cb_expr_print, except that the base of a power printed as a product
 * (x^2..x^8, x^-2..x^-8) whose text is long is declared once in loc->pre,
 * "const real pw<N> = <base>;", and the product reads the local: the text
 * grows linearly with the tree. The operations and their order are the
 * same as cb_expr_print's, so the value is bit for bit the same; a base
 * under a conditional is then computed whichever branch is taken (it has
 * no side effects). The caller prints into a buffer of its own and writes
 * the statement after loc->pre's new lines. loc NULL: cb_expr_print. */
void cb_expr_print_locals(const cb_expr *e, bool is_double,
                          cb_sym_printer p, void *ctx, cb_locals *loc,
                          cb_sb *out);

/* True when the tree mentions a symbol of this role (index -1: any); also
 * true when out of memory (the cautious answer). */
bool cb_expr_uses(const cb_expr *e, cb_sym_role role, int index);

/* Call visit on every symbol node of e, left to right, until it returns
 * false. False only when out of memory. */
bool cb_expr_each_sym(const cb_expr *e,
                      bool (*visit)(void *ctx, const cb_expr *sym),
                      void *ctx);

/* Room for element n of a growable array (the walks' explicit stacks):
 * the array, moved as realloc moves it, with *cap > n; NULL when out of
 * memory, the old array then still valid and owned by the caller. */
void *cb_expr_grow(void *arr, size_t n, size_t *cap, size_t size);

#endif
