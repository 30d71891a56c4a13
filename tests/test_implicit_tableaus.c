/* Implicit methods: names, structure, order conditions, stability, and
 * the implicit solves per step. The methods are the entries of cb_methods
 * (tables.h, methods.def) of the families DIRK, FIRK, Rosenbrock-W and
 * the single-solve BE, BEPC, CN; names, aliases, orders and solves come
 * from there, the coefficients from each entry's tableau (tableaus.h).
 *
 * Runge-Kutta (DIRK, FIRK): for a rooted tree t with subtrees t_1..t_m the
 * stage weights are g_i(t) = prod_k (sum_j a_ij g_j(t_k)), j over ALL
 * stages (the subtrees are smaller, so this is explicit even for a full
 * a), Phi(t) = sum_i b_i g_i(t), and order p means Phi(t) = 1/gamma(t)
 * for every tree of order <= p. The trees are generated as in
 * test_tableaus.c (copied here), up to order 9, so every tableau is
 * checked to its full order (Gauss-Legendre 4 to 8) and shown to fail
 * one order further.
 *
 * Rosenbrock: the tables store the transformed form (see
 * tableaus.h). The tests convert to the classical form of
 * Hairer-Wanner II (7.4): G = (I/gamma - C)^-1 (lower triangular, diagonal
 * gamma), alpha = a G, b_cl = b G. The convention is that of H-W IV.7:
 * beta_ij = alpha_ij + gamma_ij, beta'_i = sum_{j<i} beta_ij, alpha_i =
 * sum_j alpha_ij. Two independent checks:
 *  - on trees: k_i = h f(Y_i) + h J sum_{j<=i} gamma_ij k_j gives the stage
 *    weights Phi_i(tau) = 1, Phi_i([t1]) = sum_{j<=i} beta_ij Phi_j(t1)
 *    (full beta, diagonal gamma included: a root with one child gets the
 *    alpha term of f' and the gamma term of J), and Phi_i([t1..tm]) =
 *    prod_k sum_{j<i} alpha_ij Phi_j(t_k) for m >= 2; order p means
 *    sum_i b_cl_i Phi_i(t) = 1/gamma(t) for every tree of order <= p;
 *  - the conditions of H-W Table IV.7.1 written out (p <= 4):
 *      1: sum b_j = 1
 *      2: sum b_j beta'_j = 1/2 - g
 *      3: sum b_j alpha_j^2 = 1/3,  sum b_j beta_jk beta'_k = 1/6 - g + g^2
 *      4: sum b_j alpha_j^3 = 1/4,  sum b_j alpha_jk beta'_k alpha_j =
 *         1/8 - g/3,  sum b_j beta_jk alpha_k^2 = 1/12 - g/3,
 *         sum b_j beta_jk beta_kl beta'_l = 1/24 - g/2 + 3g^2/2 - g^3.
 * Plus the non-autonomous consistency c_i = alpha_i, gamma_stages_i =
 * sum_{j<=i} gamma_ij, and a convergence run of the step exactly as the
 * header comment writes it.
 *
 * Backward Euler and Crank-Nicolson have tableaus too (a = b = c = 1, the
 * trapezoid), checked to their orders; Crank-Nicolson's error estimate is
 * a second, backward Euler, solve, not an embedded b_hat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <complex.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eig.h"
#include "tables.h"

enum {
    MAX_TREE_ORDER = 9,
    MAX_TREES = 486, /* 1+1+2+4+9+20+48+115+286 */
    MAX_CHILDREN = MAX_TREE_ORDER - 1,
    S_MAX = CB_MAX_STAGES,
};

/* ------------------------------------------------------------------------
 * Rooted trees (as in test_tableaus.c). */

typedef struct {
    int order;
    int n_children;
    int child[MAX_CHILDREN]; /* indices of the subtrees, nondecreasing */
    double gamma;
} rooted_tree;

static rooted_tree trees[MAX_TREES];
static int n_trees;
static int first_of_order[MAX_TREE_ORDER + 2];

static void add_children(int order, int remaining, int min_index,
                         int *child, int n)
{
    if (remaining == 0) {
        assert_true(n_trees < MAX_TREES);
        rooted_tree *t = &trees[n_trees++];
        t->order = order;
        t->n_children = n;
        t->gamma = order;
        for (int k = 0; k < n; k++) {
            t->child[k] = child[k];
            t->gamma *= trees[child[k]].gamma;
        }
        return;
    }
    for (int idx = min_index; idx < first_of_order[order]; idx++) {
        if (trees[idx].order > remaining) {
            break;
        }
        child[n] = idx;
        add_children(order, remaining - trees[idx].order, idx, child,
                     n + 1);
    }
}

static void generate_trees(void)
{
    if (n_trees > 0) {
        return;
    }
    int child[MAX_CHILDREN];
    for (int order = 1; order <= MAX_TREE_ORDER; order++) {
        first_of_order[order] = n_trees;
        add_children(order, order - 1, 0, child, 0);
    }
    first_of_order[MAX_TREE_ORDER + 1] = n_trees;
}

static int setup_trees(void **state)
{
    (void)state;
    generate_trees();
    return 0;
}

/* weights[tree][stage] for the tableau at hand. */
static double weights[MAX_TREES][S_MAX];

/* Runge-Kutta stage weights, full a. */
static void rk_stage_weights(const double *a, int s)
{
    for (int k = 0; k < n_trees; k++) {
        for (int i = 0; i < s; i++) {
            double g = 1.0;
            for (int m = 0; m < trees[k].n_children; m++) {
                const double *gc = weights[trees[k].child[m]];
                double sum = 0.0;
                for (int j = 0; j < s; j++) {
                    sum += a[i * s + j] * gc[j];
                }
                g *= sum;
            }
            weights[k][i] = g;
        }
    }
}

/* Largest |sum_i w_i weights[t][i] - 1/gamma(t)| over trees of `order`. */
static double order_defect(const double *w, int s, int order)
{
    double worst = 0.0;
    for (int k = first_of_order[order]; k < first_of_order[order + 1];
         k++) {
        double phi = 0.0;
        for (int i = 0; i < s; i++) {
            phi += w[i] * weights[k][i];
        }
        worst = fmax(worst, fabs(phi - 1.0 / trees[k].gamma));
    }
    return worst;
}

static const double order_tol = 1e-14;
/* A defect this large is a genuine failure, not rounding. */
static const double defect_floor = 1e-8;

/* w satisfies every condition up to `order` and fails one of order+1. */
static void check_exact_order(const char *name, const double *w, int s,
                              int order, const char *which)
{
    assert_true(order >= 1 && order < MAX_TREE_ORDER);
    for (int p = 1; p <= order; p++) {
        double defect = order_defect(w, s, p);
        if (defect > order_tol) {
            fail_msg("%s: %s violates an order-%d condition by %g", name,
                     which, p, defect);
        }
    }
    double defect = order_defect(w, s, order + 1);
    if (defect < defect_floor) {
        fail_msg("%s: %s satisfies the order-%d conditions too (%g)", name,
                 which, order + 1, defect);
    }
}

/* ------------------------------------------------------------------------
 * Table bookkeeping. */

static bool is_erk(const cb_method *m)
{
    return m->family == CB_FAM_ERK;
}

/* The implicit Runge-Kutta methods: DIRK and FIRK. */
static bool is_irk(const cb_method *m)
{
    return m->family == CB_FAM_DIRK || m->family == CB_FAM_FIRK;
}

static bool is_ros(const cb_method *m)
{
    return m->family == CB_FAM_ROS;
}

/* The original's single-stage special methods, each a family now. */
static bool is_special(const cb_method *m)
{
    return m->family == CB_FAM_BE || m->family == CB_FAM_BEPC
           || m->family == CB_FAM_CN;
}

static int count_of(bool (*in)(const cb_method *))
{
    int n = 0;
    for (int k = 0; k < CB_METHOD_COUNT; k++) {
        n += in(&cb_methods[k]);
    }
    return n;
}

static int count_irk(void)
{
    return count_of(is_irk);
}

static int count_ros(void)
{
    return count_of(is_ros);
}

static int count_special(void)
{
    return count_of(is_special);
}

/* The k-th (zero-based) method of cb_methods that `in` accepts, or NULL. */
static const cb_method *nth_of(bool (*in)(const cb_method *), size_t k)
{
    for (int i = 0; i < CB_METHOD_COUNT; i++) {
        if (in(&cb_methods[i]) && k-- == 0) {
            return &cb_methods[i];
        }
    }
    return NULL;
}

/* cb_method_find, restricted to the methods `in` accepts. */
static const cb_method *find_in(bool (*in)(const cb_method *),
                                const char *name)
{
    const cb_method *m = cb_method_find(name);
    return m != NULL && in(m) ? m : NULL;
}

static const cb_method *irk_find(const char *name)
{
    return find_in(is_irk, name);
}

static const cb_method *ros_find(const char *name)
{
    return find_in(is_ros, name);
}

static const cb_method *special_find(const char *name)
{
    return find_in(is_special, name);
}

/* Case-insensitive equality of a string and a counted word. */
static bool same_word(const char *name, const char *word, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '\0'
            || tolower((unsigned char)name[i])
                   != tolower((unsigned char)word[i])) {
            return false;
        }
    }
    return name[len] == '\0';
}

/* Whether `name` is m's canonical name or one of its aliases, in any
 * case: the table's own data, independent of cb_method_find. */
static bool known_as(const cb_method *m, const char *name)
{
    if (same_word(name, m->name, strlen(m->name))) {
        return true;
    }
    for (const char *p = m->aliases; *p != '\0';) {
        while (*p == ' ') {
            p++;
        }
        const char *start = p;
        while (*p != '\0' && *p != ' ') {
            p++;
        }
        if (p > start && same_word(name, start, (size_t)(p - start))) {
            return true;
        }
    }
    return false;
}

/* How many methods, of every family, are known as `name`. */
static int count_known_as(const char *name)
{
    int n = 0;
    for (int k = 0; k < CB_METHOD_COUNT; k++) {
        n += known_as(&cb_methods[k], name);
    }
    return n;
}

typedef struct {
    const char *name;
    cb_family family;
    int stages;
    int order;
    int error_order;
    bool fsal;
    bool stiffly_accurate;
    bool explicit_first_stage;
    int b_row;
    int b_hat_row;
    bool l_stable;
} expected_irk;

/* From the original cubie's method table and the literature (Hairer and
   Wanner, Solving ODEs II; Kvaerno 2004 for the ESDIRKs). */
static const expected_irk expected_irks[] = {
    {"implicit_midpoint", CB_FAM_DIRK, 1, 2, 0, false, false, false,
     -1, -1, false},
    {"trapezoidal_dirk", CB_FAM_DIRK, 2, 2, 0, true, true, true, 1, -1,
     false},
    {"sdirk_2_2", CB_FAM_DIRK, 2, 2, 0, false, true, false, 1, -1,
     true},
    {"l_stable_dirk_3", CB_FAM_DIRK, 3, 3, 0, false, true, false, 2,
     -1, true},
    {"l_stable_sdirk_4", CB_FAM_DIRK, 5, 4, 3, false, true, false, 4,
     -1, true},
    {"kvaerno3", CB_FAM_DIRK, 4, 3, 2, true, true, true, 3, 2, true},
    {"kvaerno5", CB_FAM_DIRK, 7, 5, 4, true, true, true, 6, 5, true},
    {"firk_gauss_legendre_2", CB_FAM_FIRK, 2, 4, 0, false, false,
     false, -1, -1, false},
    {"firk_gauss_legendre_4", CB_FAM_FIRK, 4, 8, 0, false, false,
     false, -1, -1, false},
    /* error order 3: RADAU5's filtered estimate, not the original's
     * order-2 b_hat (test_radau5_filter_is_hairer_wanners_estimate) */
    {"radau_iia_5", CB_FAM_FIRK, 3, 5, 3, false, true, false, 2, -1,
     true},
};
static const size_t n_expected_irks =
    sizeof expected_irks / sizeof expected_irks[0];

typedef struct {
    const char *name;
    int stages;
    int order;
    int error_order;
    int b_row;
    int b_hat_row;
    bool l_stable;
} expected_ros;

static const expected_ros expected_ross[] = {
    {"ros3p", 3, 3, 2, -1, -1, false},
    {"rodas3p", 5, 3, 2, -1, -1, true},
    {"rosenbrock23", 3, 2, 3, 2, -1, true},
};
static const size_t n_expected_ross =
    sizeof expected_ross / sizeof expected_ross[0];

/* ------------------------------------------------------------------------
 * Small dense complex solve (partial pivoting), for stability functions. */

static double complex solve_sum(double complex *m, double complex *rhs,
                                const double *w, int s)
{
    for (int col = 0; col < s; col++) {
        int piv = col;
        for (int r = col + 1; r < s; r++) {
            if (cabs(m[r * s + col]) > cabs(m[piv * s + col])) {
                piv = r;
            }
        }
        if (piv != col) {
            for (int k = 0; k < s; k++) {
                double complex tmp = m[col * s + k];
                m[col * s + k] = m[piv * s + k];
                m[piv * s + k] = tmp;
            }
            double complex tmp = rhs[col];
            rhs[col] = rhs[piv];
            rhs[piv] = tmp;
        }
        for (int r = col + 1; r < s; r++) {
            double complex f = m[r * s + col] / m[col * s + col];
            for (int k = col; k < s; k++) {
                m[r * s + k] -= f * m[col * s + k];
            }
            rhs[r] -= f * rhs[col];
        }
    }
    double complex x[S_MAX];
    for (int r = s - 1; r >= 0; r--) {
        double complex acc = rhs[r];
        for (int k = r + 1; k < s; k++) {
            acc -= m[r * s + k] * x[k];
        }
        x[r] = acc / m[r * s + r];
    }
    double complex sum = 0.0;
    for (int i = 0; i < s; i++) {
        sum += w[i] * x[i];
    }
    return sum;
}

/* R(z) = 1 + z w^T (I - z M)^-1 1 for an s x s matrix M. */
static double complex stability(const double *mat, const double *w, int s,
                                double complex z)
{
    double complex m[S_MAX * S_MAX];
    double complex rhs[S_MAX];
    for (int i = 0; i < s; i++) {
        for (int j = 0; j < s; j++) {
            m[i * s + j] = (i == j ? 1.0 : 0.0) - z * mat[i * s + j];
        }
        rhs[i] = 1.0;
    }
    return 1.0 + z * solve_sum(m, rhs, w, s);
}

static const double imaginary_axis[] = {
    1e-3, 0.1, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 50.0, 1e3, 1e6,
};
static const double complex left_half_plane[] = {
    -0.5 + 3.0 * I, -1.0 + 0.5 * I, -10.0 + 10.0 * I, -3.0, -100.0,
    -1e4 + 1.0 * I,
};

/* ------------------------------------------------------------------------
 * Rosenbrock: classical form. */

typedef struct {
    int s;
    double gamma;
    double G[S_MAX * S_MAX];     /* gamma_ij, lower, diagonal gamma */
    double alpha[S_MAX * S_MAX]; /* strictly lower */
    double beta[S_MAX * S_MAX];  /* alpha + G, diagonal gamma */
    double b[S_MAX];
    double b_hat[S_MAX];
} classical_ros;

static void to_classical(const cb_rk_tableau *t, classical_ros *out)
{
    const int s = t->stages;
    memset(out, 0, sizeof *out);
    out->s = s;
    out->gamma = t->gamma;
    /* L = I/gamma - C, lower triangular; G = L^-1 by forward substitution,
     * column by column. */
    for (int col = 0; col < s; col++) {
        for (int i = 0; i < s; i++) {
            double acc = i == col ? 1.0 : 0.0;
            for (int j = 0; j < i; j++) {
                acc += t->C[i * s + j] * out->G[j * s + col];
            }
            out->G[i * s + col] = acc * t->gamma;
        }
    }
    for (int i = 0; i < s; i++) {
        for (int j = 0; j < s; j++) {
            double acc = 0.0;
            for (int k = 0; k < s; k++) {
                acc += t->a[i * s + k] * out->G[k * s + j];
            }
            out->alpha[i * s + j] = acc;
            out->beta[i * s + j] = acc + out->G[i * s + j];
        }
    }
    for (int j = 0; j < s; j++) {
        double acc = 0.0;
        double acc_hat = 0.0;
        for (int i = 0; i < s; i++) {
            acc += t->b[i] * out->G[i * s + j];
            if (t->b_hat != NULL) {
                acc_hat += t->b_hat[i] * out->G[i * s + j];
            }
        }
        out->b[j] = acc;
        out->b_hat[j] = acc_hat;
    }
}

/* Rosenbrock stage weights on the trees (see the file comment). */
static void ros_stage_weights(const classical_ros *r)
{
    const int s = r->s;
    for (int k = 0; k < n_trees; k++) {
        for (int i = 0; i < s; i++) {
            double g = 1.0;
            if (trees[k].n_children == 1) {
                const double *gc = weights[trees[k].child[0]];
                double sum = 0.0;
                for (int j = 0; j <= i; j++) {
                    sum += r->beta[i * s + j] * gc[j];
                }
                g = sum;
            } else {
                for (int m = 0; m < trees[k].n_children; m++) {
                    const double *gc = weights[trees[k].child[m]];
                    double sum = 0.0;
                    for (int j = 0; j < i; j++) {
                        sum += r->alpha[i * s + j] * gc[j];
                    }
                    g *= sum;
                }
            }
            weights[k][i] = g;
        }
    }
}

/* The eight conditions of H-W Table IV.7.1, defects in order. */
static void table_iv71(const classical_ros *r, const double *w,
                       double defect[8])
{
    const int s = r->s;
    const double g = r->gamma;
    double al[S_MAX];
    double bp[S_MAX];
    for (int i = 0; i < s; i++) {
        al[i] = 0.0;
        bp[i] = 0.0;
        for (int j = 0; j < i; j++) {
            al[i] += r->alpha[i * s + j];
            bp[i] += r->beta[i * s + j];
        }
    }
    double sum[8] = {0};
    for (int j = 0; j < s; j++) {
        sum[0] += w[j];
        sum[1] += w[j] * bp[j];
        sum[2] += w[j] * al[j] * al[j];
        sum[4] += w[j] * al[j] * al[j] * al[j];
        for (int k = 0; k < j; k++) {
            double bjk = r->beta[j * s + k];
            sum[3] += w[j] * bjk * bp[k];
            sum[5] += w[j] * r->alpha[j * s + k] * bp[k] * al[j];
            sum[6] += w[j] * bjk * al[k] * al[k];
            for (int l = 0; l < k; l++) {
                sum[7] += w[j] * bjk * r->beta[k * s + l] * bp[l];
            }
        }
    }
    const double rhs[8] = {
        1.0,
        0.5 - g,
        1.0 / 3.0,
        1.0 / 6.0 - g + g * g,
        0.25,
        1.0 / 8.0 - g / 3.0,
        1.0 / 12.0 - g / 3.0,
        1.0 / 24.0 - g / 2.0 + 1.5 * g * g - g * g * g,
    };
    for (int k = 0; k < 8; k++) {
        defect[k] = fabs(sum[k] - rhs[k]);
    }
}

/* Table IV.7.1 conditions index range of each order. */
static const int iv71_first[5] = {0, 0, 1, 2, 4};
static const int iv71_last[5] = {0, 0, 1, 3, 7};

/* ========================================================================
 * Tests
 * ======================================================================== */

static void test_the_tree_generator_counts_every_rooted_tree(void **state)
{
    (void)state;
    static const int expected[MAX_TREE_ORDER + 1] = {
        0, 1, 1, 2, 4, 9, 20, 48, 115, 286,
    };
    for (int order = 1; order <= MAX_TREE_ORDER; order++) {
        assert_int_equal(first_of_order[order + 1] - first_of_order[order],
                         expected[order]);
    }
    assert_int_equal(n_trees, MAX_TREES);
}

static void test_every_table_is_well_formed(void **state)
{
    (void)state;
    assert_int_equal(count_irk(), 10);
    assert_int_equal(count_ros(), 3);
    assert_int_equal(count_special(), 3);
    /* With the 11 explicit ones, that is every method. */
    assert_int_equal(count_of(is_erk) + count_irk() + count_ros()
                         + count_special(),
                     CB_METHOD_COUNT);
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_irk(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        assert_non_null(t);
        assert_true(m->family == CB_FAM_DIRK || m->family == CB_FAM_FIRK);
        assert_true(t->stages >= 1 && t->stages <= CB_MAX_STAGES);
        assert_non_null(m->aliases);
        assert_non_null(t->a);
        assert_non_null(t->b);
        assert_non_null(t->c);
        assert_non_null(t->source);
        assert_true(strlen(t->source) > 20);
        assert_true((t->b_hat != NULL) == (m->error_order > 0));
        assert_true(m->order >= 1);
    }
    /* DIRKs first, then FIRKs (in cb_methods order). */
    const cb_method *prev = NULL;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_irk(m)) {
            continue;
        }
        if (prev != NULL) {
            assert_false(prev->family == CB_FAM_FIRK
                         && m->family == CB_FAM_DIRK);
        }
        prev = m;
    }
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_ros(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        assert_non_null(t);
        assert_true(t->stages >= 1 && t->stages <= CB_MAX_STAGES);
        assert_non_null(m->aliases);
        assert_non_null(t->a);
        assert_non_null(t->C);
        assert_non_null(t->b);
        assert_non_null(t->gamma_stages);
        assert_non_null(t->c);
        assert_non_null(t->source);
        assert_true(strlen(t->source) > 20);
        assert_true((t->b_hat != NULL) == (m->error_order > 0));
        assert_true(t->gamma > 0.0);
    }
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_special(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        assert_non_null(t);
        assert_non_null(m->aliases);
        assert_non_null(t->description);
        assert_non_null(t->source);
        assert_true(m->order >= 1 && m->solves >= 1);
        /* Real tableaus now; no embedded estimate. */
        assert_true(t->stages >= 1 && t->stages <= CB_MAX_STAGES);
        assert_non_null(t->a);
        assert_non_null(t->b);
        assert_non_null(t->c);
        assert_null(t->b_hat);
    }
}

static void test_every_name_is_unique_across_all_tables(void **state)
{
    (void)state;
    const char *names[64];
    int n = 0;
    /* DIRK, FIRK, Rosenbrock and special names: every method that is not
     * explicit. */
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_erk(m)) {
            assert_true(n < 60);
            names[n++] = m->name;
        }
    }
    assert_int_equal(n, count_irk() + count_ros() + count_special());
    static const char *aliases[] = {"ode23t", "radau", "ode23s",
                                    "rosenbrock23_sciml"};
    for (size_t k = 0; k < sizeof aliases / sizeof aliases[0]; k++) {
        names[n++] = aliases[k];
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(names[i], names[j]);
        }
        /* Each names exactly one method, of one family, and never an
         * ERK. */
        int hits = count_known_as(names[i]);
        if (hits != 1) {
            fail_msg("'%s' names %d methods", names[i], hits);
        }
        const cb_method *m = cb_method_find(names[i]);
        assert_non_null(m);
        assert_true(known_as(m, names[i]));
        if (is_erk(m)) {
            fail_msg("'%s' is also an explicit method", names[i]);
        }
    }
    /* Across all methods, explicit ones included, no canonical name or
     * alias names two methods. */
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (count_known_as(m->name) != 1) {
            fail_msg("'%s' names %d methods", m->name,
                     count_known_as(m->name));
        }
        assert_ptr_equal(cb_method_find(m->name), m);
        for (const char *p = m->aliases; *p != '\0';) {
            while (*p == ' ') {
                p++;
            }
            char alias[64];
            size_t len = 0;
            while (*p != '\0' && *p != ' ' && len + 1 < sizeof alias) {
                alias[len++] = *p++;
            }
            alias[len] = '\0';
            if (len > 0) {
                if (count_known_as(alias) != 1) {
                    fail_msg("alias '%s' names %d methods", alias,
                             count_known_as(alias));
                }
                assert_ptr_equal(cb_method_find(alias), m);
            }
        }
    }
    /* The explicit names resolve to explicit methods, none implicit. */
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (is_erk(m)) {
            assert_int_equal(cb_method_find(m->name)->family, CB_FAM_ERK);
        }
    }
}

static void test_stage_nodes_are_the_row_sums_of_a(void **state)
{
    (void)state;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_irk(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        const int s = t->stages;
        for (int i = 0; i < s; i++) {
            long double sum = 0.0L;
            for (int j = 0; j < s; j++) {
                sum += t->a[i * s + j];
            }
            double err = fabs((double)(sum - t->c[i]));
            /* kvaerno3's published 15-decimal row 3 sums to 1 - 3e-15. */
            if (err > 5e-15) {
                fail_msg("%s: row %d sums to c + %g", m->name, i, err);
            }
        }
    }
}

static void test_solution_and_embedded_weights_sum_to_one(void **state)
{
    (void)state;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_irk(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        long double sum = 0.0L;
        long double sum_hat = 0.0L;
        for (int i = 0; i < t->stages; i++) {
            sum += t->b[i];
            sum_hat += t->b_hat != NULL ? t->b_hat[i] : 0.0;
        }
        if (fabsl(sum - 1.0L) > 1e-14L) {
            fail_msg("%s: sum b = 1 + %Lg", m->name, sum - 1.0L);
        }
        if (t->b_hat != NULL && fabsl(sum_hat - 1.0L) > 1e-14L) {
            fail_msg("%s: sum b_hat = 1 + %Lg", m->name, sum_hat - 1.0L);
        }
    }
}

static void test_b_has_exactly_the_stated_order(void **state)
{
    (void)state;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_irk(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        rk_stage_weights(t->a, t->stages);
        check_exact_order(m->name, t->b, t->stages, m->order, "b");
    }
}

static void test_b_hat_has_exactly_the_stated_error_order(void **state)
{
    (void)state;
    int checked = 0;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_irk(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        if (t->b_hat == NULL) {
            continue;
        }
        assert_true(m->error_order < m->order);
        rk_stage_weights(t->a, t->stages);
        /* radau_iia_5 estimates with RADAU5's filter; its b_hat is the
         * original's, of order 2 */
        check_exact_order(m->name, t->b_hat, t->stages,
                          t->filter != NULL ? 2 : m->error_order, "b_hat");
        checked++;
    }
    /* l_stable_sdirk_4, kvaerno3, kvaerno5, radau_iia_5. */
    assert_int_equal(checked, 4);
}

/* radau_iia_5's error estimate (gen/implicit_tableaus.c, radau5_filter):
 * g is 1 / gamma_hat of RADAU5, a real eigenvalue of A (det(A - g I) =
 * 0); e = A^T dd with RADAU5's dd (Hairer & Wanner II, IV.8); and the
 * estimate r = g (h f(y0) + sum e_j U_j) is the difference of the
 * solution and an embedded method of exactly order 3 (the method's
 * error_order): the stages (y0, Y_1..Y_3) with weights (-g, b - g e). */
static void test_radau5_filter_is_hairer_wanners_estimate(void **state)
{
    (void)state;
    const cb_method *m = irk_find("radau_iia_5");
    assert_non_null(m);
    const cb_rk_tableau *t = m->tableau;
    assert_non_null(t->filter);
    const int s = t->stages;
    const double g = t->filter[0], *e = t->filter + 1;
    const double r6 = sqrt(6.0);
    assert_true(fabs(g - (6.0 + cbrt(81.0) - cbrt(9.0)) / 30.0) < 1e-15);
    const double dd[3] = {-(13.0 + 7.0 * r6) / 3.0, (-13.0 + 7.0 * r6) / 3.0,
                          -1.0 / 3.0};
    double am[9];
    for (int i = 0; i < s; i++) {
        double atdd = 0.0;
        for (int j = 0; j < s; j++) {
            atdd += t->a[j * s + i] * dd[j];
            am[i * 3 + j] = t->a[i * s + j] - (i == j ? g : 0.0);
        }
        assert_true(fabs(atdd - e[i]) < 1e-14);
    }
    const double det = am[0] * (am[4] * am[8] - am[5] * am[7]) -
                       am[1] * (am[3] * am[8] - am[5] * am[6]) +
                       am[2] * (am[3] * am[7] - am[4] * am[6]);
    assert_true(fabs(det) < 1e-16);
    /* the embedded method: an explicit stage at y0, then A's */
    double a4[4 * 4] = {0.0}, w[4];
    w[0] = -g;
    for (int i = 0; i < s; i++) {
        w[i + 1] = t->b[i] - g * e[i];
        for (int j = 0; j < s; j++) {
            a4[(i + 1) * 4 + j + 1] = t->a[i * s + j];
        }
    }
    rk_stage_weights(a4, 4);
    check_exact_order(m->name, w, 4, m->error_order, "the filter's weights");
}

/* The eigen-decomposition behind the transformed direct solve (gen/eig.c)
 * against the published values: Radau IIA 5's eigenvalues (6 + 81^(1/3)
 * - 9^(1/3)) / 30 and (12 - 81^(1/3) + 9^(1/3)) / 60 +- i (81^(1/3) +
 * 9^(1/3)) sqrt(3) / 60 (RADAU5's U1, ALPH, BETA before it inverts them;
 * Hairer & Wanner's radau5.f), Gauss-Legendre 2's 1/4 +- i / sqrt(48);
 * for every FIRK, V diag(lambda) V^-1 == A entry by entry. */
static void test_firk_tableaus_diagonalise(void **state)
{
    (void)state;
    const double c81 = cbrt(81.0), c9 = cbrt(9.0);
    const double complex want_radau[2] = {
        (6.0 + c81 - c9) / 30.0,
        (12.0 - c81 + c9) / 60.0 + I * (c81 + c9) * sqrt(3.0) / 60.0};
    const double complex want_gl2 = 0.25 + I / sqrt(48.0);
    static const char *const firks[] = {"radau_iia_5",
                                        "firk_gauss_legendre_2",
                                        "firk_gauss_legendre_4"};
    for (size_t f = 0; f < 3; f++) {
        const cb_method *m = irk_find(firks[f]);
        assert_non_null(m);
        const cb_rk_tableau *t = m->tableau;
        const int s = t->stages;
        cb_eig e;
        assert_true(cb_eig_decompose(t->a, s, &e));
        int count = 0;
        for (int b = 0; b < e.blocks; b++) {
            count += e.pair[b] ? 2 : 1;
            if (e.pair[b]) {
                assert_true(e.lam_im[b] > 0.0);
            }
        }
        assert_int_equal(count, s);
        /* A = sum over blocks of v lambda w (a pair: 2 Re) */
        for (int i = 0; i < s; i++) {
            for (int j = 0; j < s; j++) {
                double sum = 0.0;
                for (int b = 0; b < e.blocks; b++) {
                    const double complex v = e.v_re[i][b] + I * e.v_im[i][b];
                    const double complex w =
                        e.vinv_re[b][j] + I * e.vinv_im[b][j];
                    const double complex l = e.lam_re[b] + I * e.lam_im[b];
                    sum += e.pair[b] ? 2.0 * creal(v * l * w)
                                     : creal(v * l * w);
                }
                assert_true(fabs(sum - t->a[i * s + j]) < 1e-13);
            }
        }
        if (f == 0) {
            assert_int_equal(e.blocks, 2);
            const int r = e.pair[0] ? 1 : 0; /* the real one */
            assert_false(e.pair[r]);
            assert_true(e.pair[1 - r]);
            assert_true(fabs(e.lam_re[r] - creal(want_radau[0])) < 1e-15);
            assert_true(fabs(e.lam_im[r]) == 0.0);
            assert_true(fabs(e.lam_re[1 - r] - creal(want_radau[1])) < 1e-15);
            assert_true(fabs(e.lam_im[1 - r] - cimag(want_radau[1])) < 1e-15);
        } else if (f == 1) {
            assert_int_equal(e.blocks, 1);
            assert_true(fabs(e.lam_re[0] - creal(want_gl2)) < 1e-15);
            assert_true(fabs(e.lam_im[0] - cimag(want_gl2)) < 1e-15);
        } else {
            assert_int_equal(e.blocks, 2); /* two pairs */
        }
    }
    /* a defective matrix is refused: nothing to transform */
    const double jordan[4] = {0.5, 1.0, 0.0, 0.5};
    cb_eig e;
    assert_false(cb_eig_decompose(jordan, 2, &e));
}

static void test_dirks_are_lower_triangular_and_firks_are_not(void **state)
{
    (void)state;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_irk(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        const int s = t->stages;
        bool upper_nonzero = false;
        for (int i = 0; i < s; i++) {
            for (int j = i + 1; j < s; j++) {
                upper_nonzero |= t->a[i * s + j] != 0.0;
            }
        }
        if (m->family == CB_FAM_DIRK && upper_nonzero) {
            fail_msg("%s: DIRK with a_ij != 0 above the diagonal", m->name);
        }
        if (m->family == CB_FAM_FIRK && !upper_nonzero) {
            fail_msg("%s: FIRK with a lower-triangular a", m->name);
        }
    }
}

static void test_metadata_matches_the_feature_table(void **state)
{
    (void)state;
    assert_int_equal((int)n_expected_irks, count_irk());
    for (size_t k = 0; k < n_expected_irks; k++) {
        const expected_irk *e = &expected_irks[k];
        const cb_method *m = irk_find(e->name);
        assert_non_null(m);
        /* In the order of cb_methods: the DIRKs, then the FIRKs. */
        assert_ptr_equal(m, nth_of(is_irk, k));
        const cb_rk_tableau *t = m->tableau;
        assert_string_equal(m->name, e->name);
        assert_int_equal(m->family, e->family);
        assert_int_equal(t->stages, e->stages);
        assert_int_equal(m->order, e->order);
        assert_int_equal(m->error_order, e->error_order);
        if (cb_rk_fsal(t) != e->fsal) {
            fail_msg("%s: FSAL expected %d", e->name, (int)e->fsal);
        }
        if (cb_rk_stiffly_accurate(t) != e->stiffly_accurate) {
            fail_msg("%s: stiffly accurate expected %d", e->name,
                     (int)e->stiffly_accurate);
        }
        if (cb_rk_explicit_first_stage(t) != e->explicit_first_stage) {
            fail_msg("%s: explicit first stage expected %d", e->name,
                     (int)e->explicit_first_stage);
        }
        /* For a DIRK, an explicit first stage is exactly a00 == 0. */
        if (m->family == CB_FAM_DIRK) {
            assert_true(cb_rk_explicit_first_stage(t) == (t->a[0] == 0.0));
        }
        assert_int_equal(cb_rk_b_row(t), e->b_row);
        assert_int_equal(cb_rk_b_hat_row(t), e->b_hat_row);
    }
    assert_int_equal((int)n_expected_ross, count_ros());
    for (size_t k = 0; k < n_expected_ross; k++) {
        const expected_ros *e = &expected_ross[k];
        const cb_method *m = ros_find(e->name);
        assert_non_null(m);
        assert_ptr_equal(m, nth_of(is_ros, k));
        const cb_rk_tableau *t = m->tableau;
        assert_int_equal(t->stages, e->stages);
        assert_int_equal(m->order, e->order);
        assert_int_equal(m->error_order, e->error_order);
        assert_int_equal(cb_rk_b_row(t), e->b_row);
        assert_int_equal(cb_rk_b_hat_row(t), e->b_hat_row);
    }
    /* One set of predicates serves both tables now. */
    assert_false(cb_rk_fsal(NULL));
    assert_false(cb_rk_stiffly_accurate(NULL));
    assert_false(cb_rk_explicit_first_stage(NULL));
    assert_int_equal(cb_rk_b_row(NULL), -1);
    assert_int_equal(cb_rk_b_hat_row(NULL), -1);
}

static void test_lookup_accepts_names_and_aliases_in_any_case(void **state)
{
    (void)state;
    static const struct {
        const char *query;
        const char *name;
        cb_family family;
    } cases[] = {
        {"implicit_midpoint", "implicit_midpoint", CB_FAM_DIRK},
        {"trapezoidal_dirk", "trapezoidal_dirk", CB_FAM_DIRK},
        {"ode23t", "trapezoidal_dirk", CB_FAM_DIRK},
        {"ODE23T", "trapezoidal_dirk", CB_FAM_DIRK},
        {"sdirk_2_2", "sdirk_2_2", CB_FAM_DIRK},
        {"l_stable_dirk_3", "l_stable_dirk_3", CB_FAM_DIRK},
        {"L_Stable_DIRK_3", "l_stable_dirk_3", CB_FAM_DIRK},
        {"l_stable_sdirk_4", "l_stable_sdirk_4", CB_FAM_DIRK},
        {"kvaerno3", "kvaerno3", CB_FAM_DIRK},
        {"Kvaerno5", "kvaerno5", CB_FAM_DIRK},
        {"firk_gauss_legendre_2", "firk_gauss_legendre_2", CB_FAM_FIRK},
        {"FIRK_Gauss_Legendre_4", "firk_gauss_legendre_4", CB_FAM_FIRK},
        {"radau_iia_5", "radau_iia_5", CB_FAM_FIRK},
        {"radau", "radau_iia_5", CB_FAM_FIRK},
        {"RADAU", "radau_iia_5", CB_FAM_FIRK},
        {"ros3p", "ros3p", CB_FAM_ROS},
        {"ROS3P", "ros3p", CB_FAM_ROS},
        {"rodas3p", "rodas3p", CB_FAM_ROS},
        {"Rodas3P", "rodas3p", CB_FAM_ROS},
        {"rosenbrock23", "rosenbrock23", CB_FAM_ROS},
        {"ode23s", "rosenbrock23", CB_FAM_ROS},
        {"ODE23S", "rosenbrock23", CB_FAM_ROS},
        {"rosenbrock23_sciml", "rosenbrock23", CB_FAM_ROS},
        {"Rosenbrock23_SciML", "rosenbrock23", CB_FAM_ROS},
        {"backwards_euler", "backwards_euler", CB_FAM_BE},
        {"Backwards_Euler", "backwards_euler", CB_FAM_BE},
        {"backwards_euler_pc", "backwards_euler_pc", CB_FAM_BEPC},
        {"crank_nicolson", "crank_nicolson", CB_FAM_CN},
        {"CRANK_NICOLSON", "crank_nicolson", CB_FAM_CN},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *q = cases[k].query;
        const cb_method *m = cb_method_find(q);
        if (m == NULL) {
            fail_msg("'%s' not found", q);
        }
        if (m->family != cases[k].family) {
            fail_msg("'%s': family %d, expected %d", q, (int)m->family,
                     (int)cases[k].family);
        }
        const cb_method *found = NULL;
        switch (m->family) {
        case CB_FAM_DIRK:
        case CB_FAM_FIRK:
            found = irk_find(q);
            assert_null(ros_find(q));
            assert_null(special_find(q));
            break;
        case CB_FAM_ROS:
            found = ros_find(q);
            assert_null(irk_find(q));
            break;
        case CB_FAM_BE:
        case CB_FAM_BEPC:
        case CB_FAM_CN:
            found = special_find(q);
            assert_null(irk_find(q));
            break;
        default:
            break;
        }
        assert_non_null(found);
        assert_ptr_equal(found, m);
        assert_string_equal(found->name, cases[k].name);
    }
    /* The original's bare family names are no method's name or alias; the
     * lookup maps each to its family's default method. */
    static const struct {
        const char *query;
        const char *method;
    } bare[] = {
        {"dirk", "l_stable_dirk_3"},
        {"firk", "firk_gauss_legendre_2"},
        {"rosenbrock", "ros3p"},
    };
    for (size_t k = 0; k < sizeof bare / sizeof bare[0]; k++) {
        const char *q = bare[k].query;
        if (count_known_as(q) != 0) {
            fail_msg("'%s' should not be a method name", q);
        }
        assert_null(cb_method_named(q));
        const cb_method *d = cb_method_named(bare[k].method);
        assert_non_null(d);
        assert_ptr_equal(cb_method_find(q), d);
    }
    /* Explicit names are no implicit methods. */
    static const char *explicit_names[] = {
        "ode23", "euler", "dormand-prince-54", "rk45",
    };
    for (size_t k = 0;
         k < sizeof explicit_names / sizeof explicit_names[0]; k++) {
        const char *q = explicit_names[k];
        const cb_method *m = cb_method_find(q);
        assert_non_null(m);
        if (m->family != CB_FAM_ERK || irk_find(q) != NULL
            || ros_find(q) != NULL || special_find(q) != NULL) {
            fail_msg("'%s' should not be an implicit method", q);
        }
    }
    static const char *unknown[] = {
        "", "erk", "special", "radau_iia", "radau_iia_3", "radau_iia_9",
        "radau ", " radau", "radau_iia_5x", "kvaerno", "kvaerno4",
        "ode23t ode23s", "lobatto_iiic_3", "rodas4p", "rodas5p", "rodas3",
        "ros3", "backwards", "crank-nicolson", "gauss_legendre_2",
    };
    for (size_t k = 0; k < sizeof unknown / sizeof unknown[0]; k++) {
        const char *q = unknown[k];
        if (cb_method_find(q) != NULL) {
            fail_msg("'%s' should not be found", q);
        }
    }
    assert_null(cb_method_find(NULL));
}

static void test_each_family_has_the_original_default(void **state)
{
    (void)state;
    assert_string_equal(cb_families[CB_FAM_DIRK].default_method,
                        "l_stable_dirk_3");
    assert_string_equal(cb_families[CB_FAM_FIRK].default_method,
                        "firk_gauss_legendre_2");
    assert_string_equal(cb_families[CB_FAM_ROS].default_method, "ros3p");
    /* The special methods (each a family of its own) and the explicit
     * family have none. */
    assert_string_equal(cb_families[CB_FAM_BE].default_method, "");
    assert_string_equal(cb_families[CB_FAM_BEPC].default_method, "");
    assert_string_equal(cb_families[CB_FAM_CN].default_method, "");
    assert_string_equal(cb_families[CB_FAM_ERK].default_method, "");
    static const cb_family with_default[] = {CB_FAM_DIRK, CB_FAM_FIRK,
                                             CB_FAM_ROS};
    for (size_t k = 0; k < sizeof with_default / sizeof with_default[0];
         k++) {
        const cb_family f = with_default[k];
        const cb_method *d = cb_method_named(cb_families[f].default_method);
        assert_non_null(d);
        assert_int_equal(d->family, f);
        /* The bare family name picks it. */
        assert_ptr_equal(cb_method_find(cb_families[f].name), d);
    }
    assert_string_equal(cb_families[CB_FAM_DIRK].name, "dirk");
    assert_string_equal(cb_families[CB_FAM_FIRK].name, "firk");
    assert_string_equal(cb_families[CB_FAM_ROS].name, "rosenbrock");
    /* What was the one family "special" is three, named as their
     * methods. */
    assert_string_equal(cb_families[CB_FAM_BE].name, "backwards_euler");
    assert_string_equal(cb_families[CB_FAM_BEPC].name, "backwards_euler_pc");
    assert_string_equal(cb_families[CB_FAM_CN].name, "crank_nicolson");
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (is_special(m)) {
            assert_string_equal(cb_families[m->family].name, m->name);
        }
    }
    for (int f = 0; f < CB_FAM_COUNT; f++) {
        assert_string_not_equal(cb_families[f].name, "special");
    }
    /* Explicit methods are the family "erk", with no default. */
    assert_string_equal(cb_families[CB_FAM_ERK].name, "erk");
    assert_null(cb_method_find(cb_families[CB_FAM_ERK].name));
}

static void test_l_stable_methods_damp_infinitely_stiff_modes(void **state)
{
    (void)state;
    for (size_t k = 0; k < n_expected_irks; k++) {
        const cb_method *m = irk_find(expected_irks[k].name);
        const cb_rk_tableau *t = m->tableau;
        double r = cabs(stability(t->a, t->b, t->stages, -1e8));
        if (expected_irks[k].l_stable && r > 1e-6) {
            fail_msg("%s: |R(-1e8)| = %g, not L-stable", m->name, r);
        }
        /* The others (midpoint, trapezoid, Gauss) have |R(inf)| = 1. */
        if (!expected_irks[k].l_stable && fabs(r - 1.0) > 1e-6) {
            fail_msg("%s: |R(-1e8)| = %g, expected 1", m->name, r);
        }
    }
}

static void test_every_implicit_rk_is_a_stable_at_spot_points(void **state)
{
    (void)state;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_irk(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        for (size_t k = 0;
             k < sizeof imaginary_axis / sizeof imaginary_axis[0]; k++) {
            double y = imaginary_axis[k];
            double r = cabs(stability(t->a, t->b, t->stages, I * y));
            if (r > 1.0 + 1e-12) {
                fail_msg("%s: |R(%gi)| = 1 + %g", m->name, y, r - 1.0);
            }
        }
        for (size_t k = 0;
             k < sizeof left_half_plane / sizeof left_half_plane[0]; k++) {
            double complex z = left_half_plane[k];
            double r = cabs(stability(t->a, t->b, t->stages, z));
            if (r > 1.0 + 1e-12) {
                fail_msg("%s: |R(%g%+gi)| = %g", m->name, creal(z),
                         cimag(z), r);
            }
        }
    }
}

/* The original's compute_embedded_weights_radauIIA(c, order=2): the
 * minimum-norm solution of sum b_i = 1, sum b_i c_i = 1/2, recomputed here
 * from the stored nodes, and its closed form. */
static void test_radau_b_hat_is_the_minimum_norm_moment_solution(void **state)
{
    (void)state;
    const cb_method *radau = irk_find("radau");
    assert_non_null(radau);
    const cb_rk_tableau *t = radau->tableau;
    const double *c = t->c;
    double s1 = c[0] + c[1] + c[2];
    double s2 = c[0] * c[0] + c[1] * c[1] + c[2] * c[2];
    double det = 3.0 * s2 - s1 * s1;
    double l1 = (s2 - 0.5 * s1) / det;
    double l2 = (1.5 - s1) / det;
    const double r6 = sqrt(6.0);
    const double closed[3] = {(14.0 + r6) / 36.0, (14.0 - r6) / 36.0,
                              2.0 / 9.0};
    for (int i = 0; i < 3; i++) {
        assert_true(fabs(t->b_hat[i] - (l1 + l2 * c[i])) < 1e-15);
        assert_true(fabs(t->b_hat[i] - closed[i]) < 1e-15);
    }
    assert_true(fabs(l1 - 0.5) < 1e-15);
    assert_true(fabs(l2 + 5.0 / 18.0) < 1e-15);
    /* Moments 1 and 2 hold, moment 3 does not. */
    double m[3] = {0};
    for (int i = 0; i < 3; i++) {
        m[0] += t->b_hat[i];
        m[1] += t->b_hat[i] * c[i];
        m[2] += t->b_hat[i] * c[i] * c[i];
    }
    assert_true(fabs(m[0] - 1.0) < 1e-15);
    assert_true(fabs(m[1] - 0.5) < 1e-15);
    assert_true(fabs(m[2] - 1.0 / 3.0) > 1e-2);
}

/* The published Kvaerno 3(2) digits are the closed forms of the family at
 * the published ten-digit gamma; l_stable_dirk_3's gamma is the root of
 * the L-stability cubic and its weights follow from it. */
static void test_singly_implicit_coefficients_follow_their_gamma(void **state)
{
    (void)state;
    const cb_rk_tableau *k3 = irk_find("kvaerno3")->tableau;
    const double g = 0.4358665215;
    const double form[4][4] = {
        {0.0, 0.0, 0.0, 0.0},
        {g, g, 0.0, 0.0},
        {(-4.0 * g * g + 6.0 * g - 1.0) / (4.0 * g),
         (1.0 - 2.0 * g) / (4.0 * g), g, 0.0},
        {(6.0 * g - 1.0) / (12.0 * g), -1.0 / ((24.0 * g - 12.0) * g),
         (-6.0 * g * g + 6.0 * g - 1.0) / (6.0 * g - 3.0), g},
    };
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            if (fabs(k3->a[i * 4 + j] - form[i][j]) > 3e-15) {
                fail_msg("kvaerno3: a[%d][%d] = %.17g, closed form %.17g",
                         i, j, k3->a[i * 4 + j], form[i][j]);
            }
        }
    }
    /* The L-stability cubic of the three-stage family. */
    assert_true(fabs(6.0 * g * g * g - 18.0 * g * g + 9.0 * g - 1.0) < 1e-9);
    const cb_rk_tableau *d3 = irk_find("l_stable_dirk_3")->tableau;
    const double h = d3->a[0];
    assert_true(fabs(6.0 * h * h * h - 18.0 * h * h + 9.0 * h - 1.0)
                < 1e-15);
    assert_true(fabs(d3->b[0] - (-6.0 * h * h + 16.0 * h - 1.0) / 4.0)
                < 1e-15);
    assert_true(fabs(d3->b[1] - (6.0 * h * h - 20.0 * h + 5.0) / 4.0)
                < 1e-15);
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_irk(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        if (m->family != CB_FAM_DIRK) {
            continue;
        }
        /* Singly diagonal: every nonzero diagonal entry is the same. */
        double diag = 0.0;
        for (int i = 0; i < t->stages; i++) {
            double v = t->a[i * t->stages + i];
            if (v != 0.0) {
                if (diag == 0.0) {
                    diag = v;
                }
                assert_true(v == diag);
            }
        }
    }
}

/* The Gauss-Legendre nodes are the zeros of the shifted Legendre
 * polynomials and symmetric about 1/2. */
static void test_gauss_nodes_are_shifted_legendre_zeros(void **state)
{
    (void)state;
    const cb_rk_tableau *g2 = irk_find("firk_gauss_legendre_2")->tableau;
    const cb_rk_tableau *g4 = irk_find("firk_gauss_legendre_4")->tableau;
    for (int i = 0; i < 2; i++) {
        double x = 2.0 * g2->c[i] - 1.0;
        assert_true(fabs(3.0 * x * x - 1.0) < 1e-15);
    }
    for (int i = 0; i < 4; i++) {
        double x = 2.0 * g4->c[i] - 1.0;
        assert_true(fabs(35.0 * x * x * x * x - 30.0 * x * x + 3.0) < 1e-13);
        assert_true(fabs(g4->c[i] + g4->c[3 - i] - 1.0) < 1e-15);
        assert_true(g4->b[i] == g4->b[3 - i]);
    }
}

/* ---------------------------------------------------------------- Ros */

static void test_rosenbrock_coefficients_are_strictly_lower(void **state)
{
    (void)state;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_ros(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        const int s = t->stages;
        for (int i = 0; i < s; i++) {
            for (int j = i; j < s; j++) {
                if (t->a[i * s + j] != 0.0 || t->C[i * s + j] != 0.0) {
                    fail_msg("%s: a or C [%d][%d] nonzero", m->name, i, j);
                }
            }
        }
        assert_true(t->c[0] == 0.0);
    }
}

/* Non-autonomous consistency: c_i = sum_j alpha_ij, gamma_stages_i =
 * sum_{j<=i} gamma_ij, and the diagonal of G is gamma. */
static void test_rosenbrock_nodes_and_gamma_stages_are_row_sums(void **state)
{
    (void)state;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_ros(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        classical_ros r;
        to_classical(t, &r);
        const int s = t->stages;
        for (int i = 0; i < s; i++) {
            double sa = 0.0;
            double sg = 0.0;
            for (int j = 0; j <= i; j++) {
                sa += r.alpha[i * s + j];
                sg += r.G[i * s + j];
            }
            if (fabs(sa - t->c[i]) > 1e-14) {
                fail_msg("%s: alpha row %d sums to c + %g", m->name, i,
                         sa - t->c[i]);
            }
            if (fabs(sg - t->gamma_stages[i]) > 1e-14) {
                fail_msg("%s: gamma row %d sums to gamma_stages + %g",
                         m->name, i, sg - t->gamma_stages[i]);
            }
            assert_true(fabs(r.G[i * s + i] - t->gamma) < 1e-15);
        }
    }
}

static void test_rosenbrock_weights_have_exactly_the_stated_orders(
    void **state)
{
    (void)state;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_ros(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        classical_ros r;
        to_classical(t, &r);
        ros_stage_weights(&r);
        check_exact_order(m->name, r.b, t->stages, m->order, "b");
        if (t->b_hat != NULL) {
            check_exact_order(m->name, r.b_hat, t->stages, m->error_order,
                              "b_hat");
        }
    }
}

/* The same orders from the written-out conditions of Table IV.7.1; the
 * failing order is shown too (all stated orders are <= 3). */
static void test_rosenbrock_weights_satisfy_table_iv71(void **state)
{
    (void)state;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_ros(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        classical_ros r;
        to_classical(t, &r);
        const struct {
            const double *w;
            int order;
            const char *which;
        } sets[2] = {
            {r.b, m->order, "b"},
            {r.b_hat, m->error_order, "b_hat"},
        };
        for (int k = 0; k < 2; k++) {
            if (sets[k].order == 0) {
                continue;
            }
            assert_true(sets[k].order <= 3);
            double defect[8];
            table_iv71(&r, sets[k].w, defect);
            for (int p = 1; p <= sets[k].order; p++) {
                for (int c = iv71_first[p]; c <= iv71_last[p]; c++) {
                    if (defect[c] > order_tol) {
                        fail_msg("%s: %s violates IV.7.1 condition %d "
                                 "(order %d) by %g",
                                 m->name, sets[k].which, c, p, defect[c]);
                    }
                }
            }
            int next = sets[k].order + 1;
            double worst = 0.0;
            for (int c = iv71_first[next]; c <= iv71_last[next]; c++) {
                worst = fmax(worst, defect[c]);
            }
            if (worst < defect_floor) {
                fail_msg("%s: %s satisfies the order-%d conditions too",
                         m->name, sets[k].which, next);
            }
        }
    }
}

/* ROS3P recovered in classical form is Lang & Verwer's table. */
static void test_ros3p_is_lang_and_verwers_method(void **state)
{
    (void)state;
    const cb_rk_tableau *t = ros_find("ros3p")->tableau;
    classical_ros r;
    to_classical(t, &r);
    const double g = 0.5 + sqrt(3.0) / 6.0;
    assert_true(fabs(t->gamma - g) < 1e-16);
    const double G[9] = {g, 0, 0, -1.0, g, 0, -g, 0.5 - 2.0 * g, g};
    const double alpha[9] = {0, 0, 0, 1.0, 0, 0, 1.0, 0, 0};
    const double b[3] = {2.0 / 3.0, 0.0, 1.0 / 3.0};
    const double b_hat[3] = {1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0};
    for (int k = 0; k < 9; k++) {
        assert_true(fabs(r.G[k] - G[k]) < 1e-14);
        assert_true(fabs(r.alpha[k] - alpha[k]) < 1e-14);
    }
    for (int k = 0; k < 3; k++) {
        assert_true(fabs(r.b[k] - b[k]) < 1e-14);
        assert_true(fabs(r.b_hat[k] - b_hat[k]) < 1e-14);
    }
    /* The original's 16-digit literals agree to an ulp. */
    assert_true(fabs(t->b_hat[0] - 2.113248654051871) < 5e-16);
    assert_true(fabs(t->b_hat[2] - 0.4226497308103742) < 1e-16);
    assert_true(fabs(t->gamma_stages[1] + 0.2113248654051871) < 1e-16);
}

/* rosenbrock23 recovered in classical form is Shampine & Reichelt's
 * ode23s: G = d[[1,0,0],[-1,1,0],[c32-2,-c32,1]], the second-order b_k =
 * (0,1,0) and the third-order (1/6, 2/3, 1/6); its error vector is the
 * original's with the sign flipped. */
static void test_rosenbrock23_is_shampine_and_reichelts_pair(void **state)
{
    (void)state;
    const cb_rk_tableau *t = ros_find("ode23s")->tableau;
    classical_ros r;
    to_classical(t, &r);
    const double r2 = sqrt(2.0);
    const double d = 1.0 / (2.0 + r2);
    const double c32 = 6.0 + r2;
    const double G[9] = {d, 0, 0, -d, d, 0, d * (c32 - 2.0), -d * c32, d};
    const double alpha[9] = {0, 0, 0, 0.5, 0, 0, 0.0, 1.0, 0};
    const double b[3] = {0.0, 1.0, 0.0};
    const double b_hat[3] = {1.0 / 6.0, 2.0 / 3.0, 1.0 / 6.0};
    for (int k = 0; k < 9; k++) {
        assert_true(fabs(r.G[k] - G[k]) < 1e-14);
        assert_true(fabs(r.alpha[k] - alpha[k]) < 1e-14);
    }
    for (int k = 0; k < 3; k++) {
        assert_true(fabs(r.b[k] - b[k]) < 1e-14);
        assert_true(fabs(r.b_hat[k] - b_hat[k]) < 1e-14);
    }
    const double b_hat_orig[3] = {5.0 * r2 / 6.0 + 5.0 / 3.0, 1.0 / 3.0,
                                  -1.0 / 3.0 - r2 / 6.0};
    for (int k = 0; k < 3; k++) {
        double err_here = t->b[k] - t->b_hat[k];
        double err_orig = t->b[k] - b_hat_orig[k];
        assert_true(fabs(err_here + err_orig) < 1e-14);
    }
}

static void test_rosenbrock_stability_functions(void **state)
{
    (void)state;
    for (size_t k = 0; k < n_expected_ross; k++) {
        const cb_method *meth = ros_find(expected_ross[k].name);
        const cb_rk_tableau *t = meth->tableau;
        classical_ros r;
        to_classical(t, &r);
        const int s = t->stages;
        double r_inf = cabs(stability(r.beta, r.b, s, -1e8));
        if (expected_ross[k].l_stable && r_inf > 1e-6) {
            fail_msg("%s: |R(-1e8)| = %g", meth->name, r_inf);
        }
        for (size_t m = 0;
             m < sizeof imaginary_axis / sizeof imaginary_axis[0]; m++) {
            double y = imaginary_axis[m];
            double v = cabs(stability(r.beta, r.b, s, I * y));
            if (v > 1.0 + 1e-12) {
                fail_msg("%s: |R(%gi)| = 1 + %g", meth->name, y, v - 1.0);
            }
        }
        for (size_t m = 0;
             m < sizeof left_half_plane / sizeof left_half_plane[0]; m++) {
            double v = cabs(stability(r.beta, r.b, s, left_half_plane[m]));
            assert_true(v <= 1.0 + 1e-12);
        }
    }
    /* ROS3P is A-stable but not L-stable: R(inf) = sqrt(3) - 1. */
    const cb_rk_tableau *t = ros_find("ros3p")->tableau;
    classical_ros r;
    to_classical(t, &r);
    double r_inf = cabs(stability(r.beta, r.b, 3, -1e12));
    assert_true(fabs(r_inf - (sqrt(3.0) - 1.0)) < 1e-9);
}

/* One step exactly as tableaus.h writes it, on the scalar
 * problem y' = f(t, y) = -(y - sin t)^2 + cos t, y(0) = 1, whose solution
 * is y = 1/(1 + t) + sin t. `w` is b, or b_hat to propagate the embedded
 * solution; *err receives sum (b - b_hat) u. */
static double ros_f(double t, double y)
{
    double v = y - sin(t);
    return -v * v + cos(t);
}

static double ros_step(const cb_rk_tableau *tab, const double *w, double t,
                       double y, double h, double *err)
{
    const int s = tab->stages;
    const double v = y - sin(t);
    const double jac = -2.0 * v;
    const double f_t = 2.0 * v * cos(t) - sin(t);
    const double g = tab->gamma;
    double u[S_MAX];
    for (int i = 0; i < s; i++) {
        double stage = y;
        double coupling = 0.0;
        for (int j = 0; j < i; j++) {
            stage += tab->a[i * s + j] * u[j];
            coupling += tab->C[i * s + j] * u[j];
        }
        double rhs = g * h
                     * (ros_f(t + tab->c[i] * h, stage) + coupling / h
                        + tab->gamma_stages[i] * h * f_t);
        u[i] = rhs / (1.0 - g * h * jac);
    }
    double y1 = y;
    double e = 0.0;
    for (int i = 0; i < s; i++) {
        y1 += w[i] * u[i];
        if (tab->b_hat != NULL) {
            e += (tab->b[i] - tab->b_hat[i]) * u[i];
        }
    }
    *err = e;
    return y1;
}

static double ros_global_error(const cb_rk_tableau *tab, const double *w,
                               int n)
{
    double h = 1.0 / n;
    double y = 1.0;
    double e;
    for (int k = 0; k < n; k++) {
        y = ros_step(tab, w, k * h, y, h, &e);
    }
    return fabs(y - (0.5 + sin(1.0)));
}

static void test_the_documented_rosenbrock_step_converges_at_its_order(
    void **state)
{
    (void)state;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_ros(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        const struct {
            const double *w;
            int order;
        } sets[2] = {{t->b, m->order}, {t->b_hat, m->error_order}};
        for (int k = 0; k < 2; k++) {
            double e1 = ros_global_error(t, sets[k].w, 100);
            double e2 = ros_global_error(t, sets[k].w, 200);
            double observed = log2(e1 / e2);
            if (fabs(observed - sets[k].order) > 0.2) {
                fail_msg("%s: %s converges at order %.2f, expected %d",
                         m->name, k == 0 ? "b" : "b_hat", observed,
                         sets[k].order);
            }
        }
        /* The local estimate is O(h^(min(p, p_hat) + 1)). */
        double e_big;
        double e_small;
        ros_step(t, t->b, 0.0, 1.0, 1e-2, &e_big);
        ros_step(t, t->b, 0.0, 1.0, 5e-3, &e_small);
        int q = (m->order < m->error_order ? m->order : m->error_order) + 1;
        double observed = log2(fabs(e_big / e_small));
        if (fabs(observed - q) > 0.2) {
            fail_msg("%s: error estimate scales as h^%.2f, expected h^%d",
                     m->name, observed, q);
        }
    }
}

static void test_special_methods_carry_order_and_error_flags(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int order;
        int error_order;
        int solves;
    } expected[] = {
        {"backwards_euler", 1, 0, 1},
        {"backwards_euler_pc", 1, 0, 1},
        {"crank_nicolson", 2, 1, 2},
    };
    assert_int_equal((int)(sizeof expected / sizeof expected[0]),
                     count_special());
    for (size_t k = 0; k < sizeof expected / sizeof expected[0]; k++) {
        const cb_method *m = special_find(expected[k].name);
        assert_non_null(m);
        assert_ptr_equal(m, nth_of(is_special, k));
        assert_int_equal(m->order, expected[k].order);
        assert_int_equal(m->error_order, expected[k].error_order);
        assert_int_equal(m->solves, expected[k].solves);
        /* With an error estimate the default controller is adaptive. */
        assert_true((cb_method_default_controller(m) != CB_CTRL_FIXED)
                    == (expected[k].error_order > 0));
        /* Crank-Nicolson's estimate is its difference from a backward
         * Euler step, not an embedded b_hat. */
        const cb_rk_tableau *t = m->tableau;
        assert_null(t->b_hat);
        /* The tableau has exactly the method's order. */
        rk_stage_weights(t->a, t->stages);
        check_exact_order(m->name, t->b, t->stages, m->order, "b");
    }
    /* Backward Euler (with or without the predictor): a = b = c = 1. */
    const char *be_names[] = {"backwards_euler", "backwards_euler_pc"};
    for (size_t k = 0; k < 2; k++) {
        const cb_rk_tableau *t = special_find(be_names[k])->tableau;
        assert_int_equal(t->stages, 1);
        assert_true(t->a[0] == 1.0 && t->b[0] == 1.0 && t->c[0] == 1.0);
    }
    /* Crank-Nicolson: the trapezoidal rule. */
    const cb_rk_tableau *cn = special_find("crank_nicolson")->tableau;
    assert_int_equal(cn->stages, 2);
    const double cn_a[4] = {0.0, 0.0, 0.5, 0.5};
    for (int k = 0; k < 4; k++) {
        assert_true(cn->a[k] == cn_a[k]);
    }
    assert_true(cn->b[0] == 0.5 && cn->b[1] == 0.5);
    assert_true(cn->c[0] == 0.0 && cn->c[1] == 1.0);
}

/* solves, the implicit solves per step, follows from each tableau: none
 * for an explicit method; one for backward Euler, with or without its
 * predictor; two for Crank-Nicolson (the step, and the backward Euler
 * step its estimate compares with); one per stage with a nonzero
 * diagonal entry for a DIRK (a zero one makes the stage explicit); one
 * coupled solve for a FIRK; one linear solve per stage for
 * Rosenbrock-W. */
static void test_solves_match_the_tableaus(void **state)
{
    (void)state;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        const cb_rk_tableau *t = m->tableau;
        const int s = t->stages;
        int expected = -1;
        switch (m->family) {
        case CB_FAM_ERK:
            expected = 0;
            break;
        case CB_FAM_BE:
        case CB_FAM_BEPC:
            expected = 1;
            break;
        case CB_FAM_CN:
            expected = 2;
            break;
        case CB_FAM_DIRK:
            expected = 0;
            for (int i = 0; i < s; i++) {
                expected += t->a[i * s + i] != 0.0;
            }
            break;
        case CB_FAM_FIRK:
            expected = 1;
            break;
        case CB_FAM_ROS:
            expected = s;
            break;
        default:
            fail_msg("%s: unexpected family %d", m->name, (int)m->family);
        }
        if (m->solves != expected) {
            fail_msg("%s: %d solves per step, the tableau says %d", m->name,
                     m->solves, expected);
        }
    }
    /* Spot checks: the ESDIRKs skip their explicit first stage. */
    assert_int_equal(irk_find("kvaerno5")->solves, 6);
    assert_int_equal(irk_find("trapezoidal_dirk")->solves, 1);
    assert_int_equal(ros_find("rodas3p")->solves, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_tree_generator_counts_every_rooted_tree),
        cmocka_unit_test(test_every_table_is_well_formed),
        cmocka_unit_test(test_every_name_is_unique_across_all_tables),
        cmocka_unit_test(test_stage_nodes_are_the_row_sums_of_a),
        cmocka_unit_test(test_solution_and_embedded_weights_sum_to_one),
        cmocka_unit_test(test_b_has_exactly_the_stated_order),
        cmocka_unit_test(test_b_hat_has_exactly_the_stated_error_order),
        cmocka_unit_test(test_firk_tableaus_diagonalise),
        cmocka_unit_test(test_radau5_filter_is_hairer_wanners_estimate),
        cmocka_unit_test(test_dirks_are_lower_triangular_and_firks_are_not),
        cmocka_unit_test(test_metadata_matches_the_feature_table),
        cmocka_unit_test(test_lookup_accepts_names_and_aliases_in_any_case),
        cmocka_unit_test(test_each_family_has_the_original_default),
        cmocka_unit_test(test_l_stable_methods_damp_infinitely_stiff_modes),
        cmocka_unit_test(test_every_implicit_rk_is_a_stable_at_spot_points),
        cmocka_unit_test(
            test_radau_b_hat_is_the_minimum_norm_moment_solution),
        cmocka_unit_test(
            test_singly_implicit_coefficients_follow_their_gamma),
        cmocka_unit_test(test_gauss_nodes_are_shifted_legendre_zeros),
        cmocka_unit_test(test_rosenbrock_coefficients_are_strictly_lower),
        cmocka_unit_test(
            test_rosenbrock_nodes_and_gamma_stages_are_row_sums),
        cmocka_unit_test(
            test_rosenbrock_weights_have_exactly_the_stated_orders),
        cmocka_unit_test(test_rosenbrock_weights_satisfy_table_iv71),
        cmocka_unit_test(test_ros3p_is_lang_and_verwers_method),
        cmocka_unit_test(test_rosenbrock23_is_shampine_and_reichelts_pair),
        cmocka_unit_test(test_rosenbrock_stability_functions),
        cmocka_unit_test(
            test_the_documented_rosenbrock_step_converges_at_its_order),
        cmocka_unit_test(test_special_methods_carry_order_and_error_flags),
        cmocka_unit_test(test_solves_match_the_tableaus),
    };
    return cmocka_run_group_tests(tests, setup_trees, NULL);
}
