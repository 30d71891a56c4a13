/* Explicit Runge-Kutta tableaus: structure, names, FSAL, and the Butcher
 * order conditions for every rooted tree, generated here.
 *
 * For a rooted tree t with subtrees t_1..t_m, the stage weights are
 * g_i(t) = prod_k (sum_j a_ij g_j(t_k)) (g_i = 1 for the single node), the
 * elementary weight is Phi(t) = sum_i b_i g_i(t), and a method has order p
 * when Phi(t) = 1 / gamma(t) for every tree of order <= p, with
 * gamma(t) = |t| prod_k gamma(t_k). Trees are generated up to order 9, so
 * every tableau is checked to its full order (dormand-prince-853 to 8,
 * vern7 to 7; order 6 would have been enough to catch transcription slips,
 * but all 486 trees are cheap) and, one order further, shown NOT to
 * satisfy the conditions, which pins the order fields exactly.
 *
 * The explicit methods are the entries of cb_methods (tables.h,
 * methods.def) of family CB_FAM_ERK: names, aliases and orders come from
 * there, the coefficients from each entry's tableau. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rk.h"
#include "tables.h"

enum {
    MAX_TREE_ORDER = 9,
    MAX_TREES = 486,  /* 1+1+2+4+9+20+48+115+286 */
    MAX_CHILDREN = MAX_TREE_ORDER - 1,
};

typedef struct {
    int order;
    int n_children;
    int child[MAX_CHILDREN];  /* indices of the subtrees, nondecreasing */
    double gamma;
} rooted_tree;

static rooted_tree trees[MAX_TREES];
static int n_trees;
static int first_of_order[MAX_TREE_ORDER + 2];

/* Append every tree of order `order` whose root has the subtrees in
 * `child[0..n)` plus a nondecreasing run of indices >= `min_index` whose
 * orders sum to `remaining`. Trees of smaller order are already listed. */
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

/* Stage weights g(t) for every tree, for one tableau: g[tree][stage]. */
static double weights[MAX_TREES][CB_MAX_STAGES];

static void stage_weights(const cb_rk_tableau *t)
{
    const int s = t->stages;
    for (int k = 0; k < n_trees; k++) {
        for (int i = 0; i < s; i++) {
            double g = 1.0;
            for (int m = 0; m < trees[k].n_children; m++) {
                const double *gc = weights[trees[k].child[m]];
                double sum = 0.0;
                for (int j = 0; j < i; j++) {
                    sum += t->a[i * s + j] * gc[j];
                }
                g *= sum;
            }
            weights[k][i] = g;
        }
    }
}

/* Largest |Phi(t) - 1/gamma(t)| over the trees of exactly `order`. */
static double order_defect(const cb_rk_tableau *t, const double *w,
                           int order)
{
    double worst = 0.0;
    for (int k = first_of_order[order]; k < first_of_order[order + 1];
         k++) {
        double phi = 0.0;
        for (int i = 0; i < t->stages; i++) {
            phi += w[i] * weights[k][i];
        }
        double defect = fabs(phi - 1.0 / trees[k].gamma);
        if (defect > worst) {
            worst = defect;
        }
    }
    return worst;
}

static const double order_tol = 1e-12;
/* A defect this large is a genuine failure of an order condition, not
 * rounding: the weights are really of lower order. */
static const double defect_floor = 1e-8;

static bool is_erk(const cb_method *m)
{
    return m->family == CB_FAM_ERK;
}

/* The explicit method of that name or alias (cb_method_find), or NULL
 * when the name is unknown or names a method of another family. */
static const cb_method *erk_find(const char *name)
{
    const cb_method *m = cb_method_find(name);
    return m != NULL && is_erk(m) ? m : NULL;
}

static int count_tableaus(void)
{
    int n = 0;
    for (int k = 0; k < CB_METHOD_COUNT; k++) {
        n += is_erk(&cb_methods[k]);
    }
    return n;
}

static void test_tree_counts(void **state)
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
    /* Spot checks: the bushy tree [tau^3] has gamma 4, the tall tree of
     * order 4 has gamma 24. */
    assert_true(trees[0].order == 1 && trees[0].gamma == 1.0);
    double max_gamma = 0.0;
    for (int k = first_of_order[4]; k < first_of_order[5]; k++) {
        max_gamma = fmax(max_gamma, trees[k].gamma);
    }
    assert_true(max_gamma == 24.0);
}

static void test_table_well_formed(void **state)
{
    (void)state;
    int n = count_tableaus();
    assert_int_equal(n, 11);
    /* methods.def lists the explicit methods first. */
    for (int k = 0; k < n; k++) {
        assert_true(is_erk(&cb_methods[k]));
    }
    for (int k = 0; k < n; k++) {
        const cb_method *m = &cb_methods[k];
        const cb_rk_tableau *t = m->tableau;
        assert_non_null(t);
        assert_non_null(m->aliases);
        assert_non_null(t->source);
        assert_true(strlen(t->source) > 20);
        assert_true(t->stages >= 1 && t->stages <= CB_MAX_STAGES);
        assert_non_null(t->a);
        assert_non_null(t->b);
        assert_non_null(t->c);
        assert_true(m->order >= 1);
        if (t->b_hat == NULL) {
            assert_int_equal(m->error_order, 0);
        } else {
            assert_true(m->error_order >= 1);
            assert_true(m->error_order != m->order);
        }
        for (int j = 0; j < k; j++) {
            assert_string_not_equal(m->name, cb_methods[j].name);
        }
    }
}

static void test_row_sums(void **state)
{
    (void)state;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_erk(m)) {
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
            if (err > 1e-14) {
                fail_msg("%s: row %d sums to c + %g", m->name, i, err);
            }
        }
    }
}

static void test_strictly_lower(void **state)
{
    (void)state;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_erk(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        const int s = t->stages;
        for (int i = 0; i < s; i++) {
            for (int j = i; j < s; j++) {
                if (t->a[i * s + j] != 0.0) {
                    fail_msg("%s: a[%d][%d] is not zero", m->name, i, j);
                }
            }
        }
        assert_true(t->c[0] == 0.0);
    }
}

static void test_weight_sums(void **state)
{
    (void)state;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_erk(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        double sum_b = 0.0;
        double sum_b_hat = 0.0;
        for (int i = 0; i < t->stages; i++) {
            sum_b += t->b[i];
            sum_b_hat += t->b_hat != NULL ? t->b_hat[i] : 0.0;
        }
        if (fabs(sum_b - 1.0) > 1e-14) {
            fail_msg("%s: sum b = 1 + %g", m->name, sum_b - 1.0);
        }
        if (t->b_hat != NULL && fabs(sum_b_hat - 1.0) > 1e-14) {
            fail_msg("%s: sum b_hat = 1 + %g", m->name, sum_b_hat - 1.0);
        }
    }
}

/* Weights w satisfy every condition up to `order` and, where checkable,
 * fail some condition of order + 1. */
static void check_exact_order(const cb_method *m, const double *w,
                              int order, const char *which)
{
    const cb_rk_tableau *t = m->tableau;
    assert_true(order <= MAX_TREE_ORDER);
    for (int p = 1; p <= order; p++) {
        double defect = order_defect(t, w, p);
        if (defect > order_tol) {
            fail_msg("%s: %s violates an order-%d condition by %g",
                     m->name, which, p, defect);
        }
    }
    if (order + 1 <= MAX_TREE_ORDER) {
        double defect = order_defect(t, w, order + 1);
        if (defect < defect_floor) {
            fail_msg("%s: %s satisfies the order-%d conditions too (%g)",
                     m->name, which, order + 1, defect);
        }
    }
}

static void test_order_conditions_b(void **state)
{
    (void)state;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_erk(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        stage_weights(t);
        check_exact_order(m, t->b, m->order, "b");
    }
}

static void test_order_conditions_b_hat(void **state)
{
    (void)state;
    int n_checked = 0;
    for (const cb_method *m = cb_methods; m < cb_methods + CB_METHOD_COUNT;
         m++) {
        if (!is_erk(m)) {
            continue;
        }
        const cb_rk_tableau *t = m->tableau;
        if (t->b_hat == NULL) {
            continue;
        }
        stage_weights(t);
        /* The estimate is really of the lower order error_order. */
        assert_true(m->error_order < m->order);
        check_exact_order(m, t->b_hat, m->error_order, "b_hat");
        n_checked++;
    }
    assert_int_equal(n_checked, 7);
}

typedef struct {
    const char *name;
    int stages;
    int order;
    int error_order;
    bool fsal;
    int b_row;
} expected_method;

static const expected_method expected_methods[] = {
    {"euler", 1, 1, 0, false, -1},
    {"heun-21", 2, 2, 0, false, -1},
    {"ralston-33", 3, 3, 0, false, -1},
    {"bogacki-shampine-32", 4, 3, 2, true, 3},
    {"classical-rk4", 4, 4, 0, false, -1},
    {"dormand-prince-54", 7, 5, 4, true, 6},
    {"cash-karp-54", 6, 5, 4, false, -1},
    {"fehlberg-45", 6, 5, 4, false, -1},
    {"dormand-prince-853", 12, 8, 5, false, -1},
    {"tsit5", 7, 5, 4, true, 6},
    {"vern7", 10, 7, 6, false, -1},
};

static void test_metadata(void **state)
{
    (void)state;
    const size_t n = sizeof expected_methods / sizeof expected_methods[0];
    assert_int_equal((int)n, count_tableaus());
    for (size_t k = 0; k < n; k++) {
        const expected_method *e = &expected_methods[k];
        const cb_method *m = erk_find(e->name);
        assert_non_null(m);
        const cb_rk_tableau *t = m->tableau;
        assert_string_equal(m->name, e->name);
        assert_int_equal(t->stages, e->stages);
        assert_int_equal(m->order, e->order);
        assert_int_equal(m->error_order, e->error_order);
        assert_true((t->b_hat != NULL) == (e->error_order > 0));
    }
}

static void test_fsal(void **state)
{
    (void)state;
    for (size_t k = 0;
         k < sizeof expected_methods / sizeof expected_methods[0]; k++) {
        const expected_method *e = &expected_methods[k];
        const cb_method *m = erk_find(e->name);
        assert_non_null(m);
        if (cb_rk_fsal(m->tableau) != e->fsal) {
            fail_msg("%s: FSAL expected %d", e->name, (int)e->fsal);
        }
    }
    assert_false(cb_rk_fsal(NULL));
}

static void test_b_row(void **state)
{
    (void)state;
    for (size_t k = 0;
         k < sizeof expected_methods / sizeof expected_methods[0]; k++) {
        const expected_method *e = &expected_methods[k];
        const cb_method *m = erk_find(e->name);
        assert_non_null(m);
        if (cb_rk_b_row(m->tableau) != e->b_row) {
            fail_msg("%s: b row %d, expected %d", e->name,
                     cb_rk_b_row(m->tableau), e->b_row);
        }
    }
    assert_int_equal(cb_rk_b_row(NULL), -1);
    assert_int_equal(cb_rk_b_row(erk_find("bogacki-shampine-32")->tableau),
                     3);
    assert_int_equal(cb_rk_b_row(erk_find("dopri54")->tableau), 6);
    assert_int_equal(cb_rk_b_row(erk_find("tsit5")->tableau), 6);
}

/* The rows whose stage state the ERK emitter writes with one fma as soon
 * as its one derivative is known (cb_rk_fold_rows): those with a single
 * nonzero a_jk that is a power of two at most 1, where the fold changes
 * no bit. From the published tableaus: RK4's 1/2, 1/2, 1; Heun's 1;
 * Ralston's and Bogacki-Shampine's 1/2 (their 3/4 rows are not powers of
 * two); Fehlberg's 1/4; Dormand-Prince's 1/5 is none. */
static void test_fold_rows(void **state)
{
    (void)state;
    const struct {
        const char *name, *rows;
    } want[] = {
        {"classical-rk4", "0111"}, {"heun-21", "01"},
        {"ralston-33", "010"},     {"bogacki-shampine-32", "0100"},
        {"fehlberg-45", "010000"}, {"dormand-prince-54", "0000000"},
        {"euler", "0"},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        const cb_method *m = erk_find(want[k].name);
        assert_non_null(m);
        bool folded[CB_MAX_STAGES];
        cb_rk_fold_rows(m->tableau, folded);
        assert_int_equal(strlen(want[k].rows), m->tableau->stages);
        for (int j = 0; j < m->tableau->stages; j++) {
            if (folded[j] != (want[k].rows[j] == '1')) {
                fail_msg("%s: row %d folded %d", want[k].name, j, folded[j]);
            }
        }
    }
}

/* b_row and fsal tolerate 1e-15 relative differences between a row and
 * b, and no more. */
static void test_b_row_tolerance(void **state)
{
    (void)state;
    const cb_method *m = erk_find("rk23");
    assert_non_null(m);
    const cb_rk_tableau *bs = m->tableau;
    double a[16];
    double b[4];
    memcpy(a, bs->a, sizeof a);
    memcpy(b, bs->b, sizeof b);
    cb_rk_tableau copy = *bs;
    copy.a = a;
    copy.b = b;
    a[3 * 4 + 2] = b[2] * (1.0 + 4e-16);
    assert_int_equal(cb_rk_b_row(&copy), 3);
    assert_true(cb_rk_fsal(&copy));
    a[3 * 4 + 2] = b[2] * (1.0 + 1e-12);
    assert_int_equal(cb_rk_b_row(&copy), -1);
    assert_false(cb_rk_fsal(&copy));
}

static void test_lookup(void **state)
{
    (void)state;
    static const struct {
        const char *query;
        const char *name;
    } cases[] = {
        {"euler", "euler"},
        {"heun-21", "heun-21"},
        {"ralston-33", "ralston-33"},
        {"bogacki-shampine-32", "bogacki-shampine-32"},
        {"rk23", "bogacki-shampine-32"},
        {"ode23", "bogacki-shampine-32"},
        {"classical-rk4", "classical-rk4"},
        {"rk4", "classical-rk4"},
        {"dormand-prince-54", "dormand-prince-54"},
        {"dopri54", "dormand-prince-54"},
        {"rk45", "dormand-prince-54"},
        {"ode45", "dormand-prince-54"},
        {"cash-karp-54", "cash-karp-54"},
        {"fehlberg-45", "fehlberg-45"},
        {"dormand-prince-853", "dormand-prince-853"},
        {"dop853", "dormand-prince-853"},
        {"tsit5", "tsit5"},
        {"Tsit5", "tsit5"},
        {"vern7", "vern7"},
        {"Vern7", "vern7"},
        /* case-insensitive */
        {"EULER", "euler"},
        {"Dormand-Prince-54", "dormand-prince-54"},
        {"ODE45", "dormand-prince-54"},
        {"Rk23", "bogacki-shampine-32"},
        {"DOP853", "dormand-prince-853"},
        {"TSIT5", "tsit5"},
        {"VERN7", "vern7"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const cb_method *m = erk_find(cases[k].query);
        if (m == NULL) {
            fail_msg("'%s' not found", cases[k].query);
        }
        assert_string_equal(m->name, cases[k].name);
    }
    /* Not explicit methods: unknown, or (backwards_euler,
     * crank_nicolson) a method of another family, or (erk) the bare name
     * of the explicit family, which has no default method. */
    static const char *unknown[] = {
        "", "rk", "rk2", "ode", "dopri", "dormand-prince", "rk45 ", " rk45",
        "rk23 ode23", "ode4", "tsit", "vern", "vern9", "backwards_euler",
        "eulerx", "crank_nicolson", "erk",
    };
    for (size_t k = 0; k < sizeof unknown / sizeof unknown[0]; k++) {
        if (erk_find(unknown[k]) != NULL) {
            fail_msg("'%s' should not be found", unknown[k]);
        }
    }
    assert_null(cb_method_find("erk"));
    assert_string_equal(cb_families[CB_FAM_ERK].name, "erk");
    assert_string_equal(cb_families[CB_FAM_ERK].default_method, "");
    assert_null(cb_method_find(NULL));
    assert_null(erk_find(NULL));
}

/* b - b_hat of dop853 are the fifth-order error weights ER of Hairer's
 * DOP853 code. */
static void test_dop853_error_weights(void **state)
{
    (void)state;
    static const double er[12] = {
        0.1312004499419488073250102996e-1, 0.0, 0.0, 0.0, 0.0,
        -0.1225156446376204440720569753e1,
        -0.4957589496572501915214079952,
        0.1664377182454986536961530415e1,
        -0.3503288487499736816886487290,
        0.3341791187130174790297318841,
        0.8192320648511571246570742613e-1,
        -0.2235530786388629525884427845e-1,
    };
    const cb_method *m = erk_find("dop853");
    assert_non_null(m);
    const cb_rk_tableau *t = m->tableau;
    for (int i = 0; i < 12; i++) {
        double d = t->b[i] - t->b_hat[i];
        if (fabs(d - er[i]) > 1e-15 * fmax(1.0, fabs(er[i]))) {
            fail_msg("dop853: b - b_hat [%d] = %.17g, ER = %.17g", i, d,
                     er[i]);
        }
    }
}

/* b - b_hat of tsit5 is the corrected d of the original, d7 = +1/66. */
static void test_tsit5_error_weights(void **state)
{
    (void)state;
    static const double d[7] = {
        -1.780011052225771443378550607539534775944678804333659557637e-03,
        -8.164344596567469032236360633546862401862537590159047610940e-04,
        7.880878010261996010314727672526304238628733777103128603258e-03,
        -1.44711007173262907537165147972635116720922712343167677619e-01,
        5.823571654525552250199376106520421794260781239567387797673e-01,
        -4.580821059291869466616365188325542974428047279788398179474e-01,
        1.0 / 66.0,
    };
    const cb_method *m = erk_find("tsit5");
    assert_non_null(m);
    const cb_rk_tableau *t = m->tableau;
    for (int i = 0; i < 7; i++) {
        double diff = t->b[i] - t->b_hat[i];
        if (fabs(diff - d[i]) > 1e-15) {
            fail_msg("tsit5: b - b_hat [%d] = %.17g, d = %.17g", i, diff,
                     d[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_counts),
        cmocka_unit_test(test_table_well_formed),
        cmocka_unit_test(test_row_sums),
        cmocka_unit_test(test_strictly_lower),
        cmocka_unit_test(test_weight_sums),
        cmocka_unit_test(test_order_conditions_b),
        cmocka_unit_test(test_order_conditions_b_hat),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_fsal),
        cmocka_unit_test(test_b_row),
        cmocka_unit_test(test_fold_rows),
        cmocka_unit_test(test_b_row_tolerance),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_dop853_error_weights),
        cmocka_unit_test(test_tsit5_error_weights),
    };
    return cmocka_run_group_tests(tests, setup_trees, NULL);
}
