/* Implicit method tables of the original (cubie's generic_dirk_tableaus.py,
 * generic_firk_tableaus.py, generic_rosenbrockw_tableaus.py and the
 * backwards_euler / backwards_euler_predict_correct / crank_nicolson
 * steps), one entry per method, with the original's names and aliases.
 *
 * Names, families and orders are in methods.def. Same conventions as
 * tableaus.c: rationals whose numerator and denominator are exact in a
 * double are written as quotients; everything else is the exact value (surds, roots of polynomials, integrals of
 * Lagrange polynomials, evaluated in 60-digit arithmetic) rounded to 17
 * significant digits, except where a coefficient is only published to
 * fewer digits (Kvaerno), where the published digits are kept, as the
 * original does. Where the original builds a value in float arithmetic
 * (sqrt(6)/10 and friends) or writes float64 literals (Gauss-Legendre 4),
 * the value here may differ from the original's double by an ulp or a few:
 * each such place says so. AT(s, i, j) is the row-major index of a_ij
 * (zero-based); omitted entries are zero. Every entry is checked in
 * tests/test_implicit_tableaus.c (order conditions on rooted trees,
 * row sums, stability functions, Rosenbrock order conditions). */
#include "tableaus.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#define AT(s, i, j) ((i) * (s) + (j))

/* ======================================================================
 * DIRK
 * ====================================================================== */

/* Implicit midpoint rule: one stage, order 2, symplectic, A-stable,
 * |R(inf)| = 1. */
static const double midpoint_a[1 * 1] = {
    1.0 / 2.0,
};
static const double midpoint_b[1] = {
    1.0,
};
static const double midpoint_c[1] = {
    1.0 / 2.0,
};

/* Trapezoidal rule as a two-stage ESDIRK (explicit first stage): order 2,
 * A-stable, |R(inf)| = 1; FSAL (row 1 = b, c = 0, 1). */
static const double trapezoid_a[2 * 2] = {
    [AT(2, 1, 0)] = 1.0 / 2.0,
    [AT(2, 1, 1)] = 1.0 / 2.0,
};
static const double trapezoid_b[2] = {
    1.0 / 2.0, 1.0 / 2.0,
};
static const double trapezoid_c[2] = {
    0.0, 1.0,
};

/* Alexander's two-stage L-stable SDIRK of order 2, gamma = 1 - sqrt(2)/2
 * (the original writes (2 - sqrt 2)/2). Stiffly accurate (row 1 = b). No
 * embedded estimate in the original (an older version had b_hat =
 * (-1/2, 1/2) with b = (1/2, 1/2); the current one has none). */
static const double sdirk22_a[2 * 2] = {
    [AT(2, 0, 0)] = 0.29289321881345248,
    [AT(2, 1, 0)] = 0.70710678118654757,
    [AT(2, 1, 1)] = 0.29289321881345248,
};
static const double sdirk22_b[2] = {
    0.70710678118654757, 0.29289321881345248,
};
static const double sdirk22_c[2] = {
    0.29289321881345248, 1.0,
};

/* Three-stage L-stable SDIRK of order 3 (Alexander 1977; H-W II,
 * sect. IV.6): gamma = 0.43586652150845900 is the root in (1/6, 1/2) of
 * 6 g^3 - 18 g^2 + 9 g - 1 = 0 (the original evaluates an equivalent
 * trigonometric closed form in float arithmetic: gamma 1 ulp below, the
 * derived coefficients within a few ulp), a21 =
 * (1 - g)/2, c2 = (1 + g)/2, b1 = (-6 g^2 + 16 g - 1)/4, b2 = (6 g^2 -
 * 20 g + 5)/4, b3 = g. Stiffly accurate (row 2 = b). */
static const double lsdirk3_a[3 * 3] = {
    [AT(3, 0, 0)] = 0.435866521508459,
    [AT(3, 1, 0)] = 0.28206673924577053,
    [AT(3, 1, 1)] = 0.435866521508459,
    [AT(3, 2, 0)] = 1.2084966491760101,
    [AT(3, 2, 1)] = -0.64436317068446902,
    [AT(3, 2, 2)] = 0.435866521508459,
};
static const double lsdirk3_b[3] = {
    1.2084966491760101, -0.64436317068446902, 0.435866521508459,
};
static const double lsdirk3_c[3] = {
    0.435866521508459, 0.71793326075422947, 1.0,
};

/* Hairer-Wanner's five-stage L-stable SDIRK of order 4, gamma = 1/4
 * (H-W II, Table IV.6.5), with the embedded third-order weights of that
 * table. Stiffly accurate (row 4 = b). */
static const double sdirk4_a[5 * 5] = {
    [AT(5, 0, 0)] = 1.0 / 4.0,
    [AT(5, 1, 0)] = 1.0 / 2.0,
    [AT(5, 1, 1)] = 1.0 / 4.0,
    [AT(5, 2, 0)] = 17.0 / 50.0,
    [AT(5, 2, 1)] = -1.0 / 25.0,
    [AT(5, 2, 2)] = 1.0 / 4.0,
    [AT(5, 3, 0)] = 371.0 / 1360.0,
    [AT(5, 3, 1)] = -137.0 / 2720.0,
    [AT(5, 3, 2)] = 15.0 / 544.0,
    [AT(5, 3, 3)] = 1.0 / 4.0,
    [AT(5, 4, 0)] = 25.0 / 24.0,
    [AT(5, 4, 1)] = -49.0 / 48.0,
    [AT(5, 4, 2)] = 125.0 / 16.0,
    [AT(5, 4, 3)] = -85.0 / 12.0,
    [AT(5, 4, 4)] = 1.0 / 4.0,
};
static const double sdirk4_b[5] = {
    25.0 / 24.0, -49.0 / 48.0, 125.0 / 16.0, -85.0 / 12.0, 1.0 / 4.0,
};
static const double sdirk4_b_hat[5] = {
    59.0 / 48.0, -17.0 / 96.0, 225.0 / 32.0, -85.0 / 12.0, 0.0,
};
static const double sdirk4_c[5] = {
    1.0 / 4.0, 3.0 / 4.0, 11.0 / 20.0, 1.0 / 2.0, 1.0,
};

/* Kvaerno's four-stage ESDIRK 3(2): A- and L-stable, stiffly accurate,
 * FSAL; b_hat is row 2 of a (the second-order solution is the third stage
 * value). The published digits, as the original has them: gamma =
 * 0.4358665215 (ten digits of the root of 6 g^3 - 18 g^2 + 9 g - 1), the
 * other coefficients to 15 decimals. They are the closed forms of
 * Kvaerno's family (a31 = (-4g^2 + 6g - 1)/(4g), a32 = (1 - 2g)/(4g),
 * a41 = (6g - 1)/(12g), a42 = -1/((24g - 12)g), a43 = (-6g^2 + 6g - 1)/
 * (6g - 3)) at that ten-digit gamma to within 2e-15, so the order
 * conditions hold to that level; R(inf) is of order 1e-11. */
static const double kvaerno3_a[4 * 4] = {
    [AT(4, 1, 0)] = 0.4358665215,
    [AT(4, 1, 1)] = 0.4358665215,
    [AT(4, 2, 0)] = 0.490563388419108,
    [AT(4, 2, 1)] = 0.073570090080892,
    [AT(4, 2, 2)] = 0.4358665215,
    [AT(4, 3, 0)] = 0.308809969973036,
    [AT(4, 3, 1)] = 1.490563388254106,
    [AT(4, 3, 2)] = -1.235239879727145,
    [AT(4, 3, 3)] = 0.4358665215,
};
static const double kvaerno3_b[4] = {
    0.308809969973036, 1.490563388254106, -1.235239879727145, 0.4358665215,
};
static const double kvaerno3_b_hat[4] = {
    0.490563388419108, 0.073570090080892, 0.4358665215, 0.0,
};
/* c1 = 2 gamma, written out: 2 * 0.4358665215 is exact in decimal. */
static const double kvaerno3_c[4] = {
    0.0, 0.871733043, 1.0, 1.0,
};

/* Kvaerno's seven-stage ESDIRK 5(4), gamma = 0.26: A- and L-stable,
 * stiffly accurate, FSAL; b_hat is row 5 of a (the fourth-order solution
 * is the sixth stage value). The published 17-digit coefficients, as the
 * original has them; c3 > 1. */
static const double kvaerno5_a[7 * 7] = {
    [AT(7, 1, 0)] = 0.26,
    [AT(7, 1, 1)] = 0.26,
    [AT(7, 2, 0)] = 0.13,
    [AT(7, 2, 1)] = 0.84033320996790809,
    [AT(7, 2, 2)] = 0.26,
    [AT(7, 3, 0)] = 0.22371961478320505,
    [AT(7, 3, 1)] = 0.47675532319799699,
    [AT(7, 3, 2)] = -0.06470895363112615,
    [AT(7, 3, 3)] = 0.26,
    [AT(7, 4, 0)] = 0.16648564323248321,
    [AT(7, 4, 1)] = 0.1045001884159172,
    [AT(7, 4, 2)] = 0.03631482272098715,
    [AT(7, 4, 3)] = -0.13090704451073998,
    [AT(7, 4, 4)] = 0.26,
    [AT(7, 5, 0)] = 0.13855640231268224,
    [AT(7, 5, 2)] = -0.04245337201752043,
    [AT(7, 5, 3)] = 0.02446657898003141,
    [AT(7, 5, 4)] = 0.61943039072480676,
    [AT(7, 5, 5)] = 0.26,
    [AT(7, 6, 0)] = 0.13659751177640291,
    [AT(7, 6, 2)] = -0.05496908796538376,
    [AT(7, 6, 3)] = -0.04118626728321046,
    [AT(7, 6, 4)] = 0.62993304899016403,
    [AT(7, 6, 5)] = 0.06962479448202728,
    [AT(7, 6, 6)] = 0.26,
};
static const double kvaerno5_b[7] = {
    0.13659751177640291, 0.0, -0.05496908796538376, -0.04118626728321046,
    0.62993304899016403, 0.06962479448202728, 0.26,
};
static const double kvaerno5_b_hat[7] = {
    0.13855640231268224, 0.0, -0.04245337201752043, 0.02446657898003141,
    0.61943039072480676, 0.26, 0.0,
};
static const double kvaerno5_c[7] = {
    0.0, 0.52, 1.230333209967908, 0.895765984350076, 0.436393609858648,
    1.0, 1.0,
};

/* ======================================================================
 * FIRK
 * ====================================================================== */

/* Two-stage Gauss-Legendre collocation, order 4 (H-W II, sect. IV.5):
 * a = [[1/4, 1/4 - sqrt3/6], [1/4 + sqrt3/6, 1/4]], c = 1/2 -+ sqrt3/6. */
static const double gl2_a[2 * 2] = {
    [AT(2, 0, 0)] = 1.0 / 4.0,
    [AT(2, 0, 1)] = -0.038675134594812879,
    [AT(2, 1, 0)] = 0.53867513459481287,
    [AT(2, 1, 1)] = 1.0 / 4.0,
};
static const double gl2_b[2] = {
    1.0 / 2.0, 1.0 / 2.0,
};
static const double gl2_c[2] = {
    0.21132486540518711, 0.78867513459481287,
};

/* Four-stage Gauss-Legendre collocation, order 8: c are the zeros of the
 * shifted Legendre polynomial P4(2x - 1), a_ij = int_0^c_i l_j, b_j =
 * int_0^1 l_j with l_j the Lagrange basis on c (H-W II, sect. IV.5).
 * Computed here to 60 digits; the original's float64 literals of the same
 * construction differ from these by up to 9e-16 (its a22 and a33, equal in
 * exact arithmetic, differ in the last digits). */
static const double gl4_a[4 * 4] = {
    [AT(4, 0, 0)] = 0.086963711284363462,
    [AT(4, 0, 1)] = -0.026604180084998794,
    [AT(4, 0, 2)] = 0.012627462689404725,
    [AT(4, 0, 3)] = -0.0035551496857956833,
    [AT(4, 1, 0)] = 0.18811811749986806,
    [AT(4, 1, 1)] = 0.16303628871563652,
    [AT(4, 1, 2)] = -0.027880428602470895,
    [AT(4, 1, 3)] = 0.0067355005945381559,
    [AT(4, 2, 0)] = 0.16719192197418878,
    [AT(4, 2, 1)] = 0.35395300603374397,
    [AT(4, 2, 2)] = 0.16303628871563652,
    [AT(4, 2, 3)] = -0.014190694931141144,
    [AT(4, 3, 0)] = 0.1774825722545226,
    [AT(4, 3, 1)] = 0.31344511474186837,
    [AT(4, 3, 2)] = 0.35267675751627187,
    [AT(4, 3, 3)] = 0.086963711284363462,
};
static const double gl4_b[4] = {
    0.17392742256872692, 0.32607257743127305, 0.32607257743127305,
    0.17392742256872692,
};
static const double gl4_c[4] = {
    0.069431844202973714, 0.33000947820757187, 0.66999052179242813,
    0.93056815579702634,
};

/* Three-stage Radau IIA, order 5 (Ehle 1969; H-W II, sect. IV.5):
 *   a = [[(88 - 7r)/360,    (296 - 169r)/1800, (-2 + 3r)/225],
 *        [(296 + 169r)/1800, (88 + 7r)/360,    (-2 - 3r)/225],
 *        [(16 - r)/36,       (16 + r)/36,       1/9]],  r = sqrt(6),
 *   c = ((4 - r)/10, (4 + r)/10, 1), b = last row (stiffly accurate).
 *
 * b_hat is what the original's compute_embedded_weights_radauIIA(c,
 * order=2) returns: the minimum-norm solution of the two moment
 * conditions sum_i b_hat_i c_i^(k-1) = 1/k, k = 1, 2, i.e.
 *     b_hat = M^T (M M^T)^-1 (1, 1/2)^T,  M = [[1, 1, 1], [c1, c2, c3]],
 * (numpy lstsq in older versions, exact rationals on the float nodes in
 * the current one). Minimum norm puts b_hat in the row space of M, so
 * b_hat_i = l1 + l2 c_i; with sum c = 9/5 and sum c^2 = 36/25 the 2x2
 * system [[3, 9/5], [9/5, 36/25]] (l1, l2) = (1, 1/2) gives l1 = 1/2,
 * l2 = -5/18, so b_hat = ((14 + r)/36, (14 - r)/36, 2/9), order exactly 2.
 * Rounded to double these equal the original's values bit for bit. */
static const double radau5_a[3 * 3] = {
    [AT(3, 0, 0)] = 0.19681547722366041,
    [AT(3, 0, 1)] = -0.065535425850198392,
    [AT(3, 0, 2)] = 0.023770974348220151,
    [AT(3, 1, 0)] = 0.39442431473908729,
    [AT(3, 1, 1)] = 0.29207341166522849,
    [AT(3, 1, 2)] = -0.041548752125997929,
    [AT(3, 2, 0)] = 0.37640306270046725,
    [AT(3, 2, 1)] = 0.51248582618842164,
    [AT(3, 2, 2)] = 1.0 / 9.0,
};
static const double radau5_b[3] = {
    0.37640306270046725, 0.51248582618842164, 1.0 / 9.0,
};
static const double radau5_b_hat[3] = {
    0.45693027063286606, 0.32084750714491173, 2.0 / 9.0,
};
static const double radau5_c[3] = {
    0.1550510257216822, 0.64494897427831777, 1.0,
};
/* RADAU5's error estimate (Hairer & Wanner II, sect. IV.8, (8.19)-(8.20),
 * and the code's ESTRAD), in the increments U_j = h k_j of this step:
 *   err = (I - h g J)^-1 g (h f(t0, y0) + sum_j e_j U_j),
 * g = 1 / gamma_hat = (6 + 81^(1/3) - 9^(1/3)) / 30, the real eigenvalue
 * of A; e = A^T dd with RADAU5's dd = (-(13 + 7r)/3, (-13 + 7r)/3, -1/3)
 * on z_i = Y_i - y0 = sum_j a_ij U_j. The bracket is the difference of
 * the solution and an embedded one of order 3 (tests/
 * test_implicit_tableaus.c), so the controller's exponent takes error
 * order 3. Values to 40 digits with mpmath, rounded: {g, e}. */
static const double radau5_filter[4] = {
    0.27488882959567737,
    -1.5580782047249224, 0.89141153805825572, -1.0 / 3.0,
};

const cb_rk_tableau cb_tab_implicit_midpoint = {
    .stages = 1,
    .a = midpoint_a,
    .b = midpoint_b,
    .b_hat = NULL,
    .c = midpoint_c,
    .source = "Implicit midpoint rule (the one-stage Gauss method); "
              "Sanz-Serna, J. M. (1988). Runge-Kutta schemes for "
              "Hamiltonian systems. BIT 28, 877-883.",
};

const cb_rk_tableau cb_tab_trapezoidal_dirk = {
    .stages = 2,
    .a = trapezoid_a,
    .b = trapezoid_b,
    .b_hat = NULL,
    .c = trapezoid_c,
    .source = "Trapezoidal rule (Crank, J. & Nicolson, P. (1947), "
              "Proc. Camb. Phil. Soc. 43, 50-67) as an ESDIRK.",
};

const cb_rk_tableau cb_tab_sdirk22 = {
    .stages = 2,
    .a = sdirk22_a,
    .b = sdirk22_b,
    .b_hat = NULL,
    .c = sdirk22_c,
    .source = "Alexander, R. (1977). Diagonally implicit Runge-Kutta "
              "methods for stiff ODEs. SIAM J. Numer. Anal. 14(6), "
              "1006-1021 (two stages, gamma = 1 - 1/sqrt 2).",
};

const cb_rk_tableau cb_tab_lsdirk3 = {
    .stages = 3,
    .a = lsdirk3_a,
    .b = lsdirk3_b,
    .b_hat = NULL,
    .c = lsdirk3_c,
    .source = "Alexander, R. (1977), SIAM J. Numer. Anal. 14(6), "
              "1006-1021 (three stages, order 3); Hairer & Wanner, "
              "Solving ODEs II, sect. IV.6; MOOSE LStableDirk3.",
};

const cb_rk_tableau cb_tab_sdirk4 = {
    .stages = 5,
    .a = sdirk4_a,
    .b = sdirk4_b,
    .b_hat = sdirk4_b_hat,
    .c = sdirk4_c,
    .source = "Hairer, E. & Wanner, G. (1996). Solving ODEs II, 2nd "
              "ed., Springer, Table IV.6.5 (SDIRK4, gamma = 1/4).",
};

const cb_rk_tableau cb_tab_kvaerno3 = {
    .stages = 4,
    .a = kvaerno3_a,
    .b = kvaerno3_b,
    .b_hat = kvaerno3_b_hat,
    .c = kvaerno3_c,
    .source = "Kvaerno, A. (2004). Singly diagonally implicit "
              "Runge-Kutta methods with an explicit first stage. BIT "
              "44, 489-502 (ESDIRK 3(2), four stages).",
};

const cb_rk_tableau cb_tab_kvaerno5 = {
    .stages = 7,
    .a = kvaerno5_a,
    .b = kvaerno5_b,
    .b_hat = kvaerno5_b_hat,
    .c = kvaerno5_c,
    .source = "Kvaerno, A. (2004). Singly diagonally implicit "
              "Runge-Kutta methods with an explicit first stage. BIT "
              "44, 489-502 (ESDIRK 5(4), seven stages).",
};

const cb_rk_tableau cb_tab_gl2 = {
    .stages = 2,
    .a = gl2_a,
    .b = gl2_b,
    .b_hat = NULL,
    .c = gl2_c,
    .source = "Gauss-Legendre collocation (Butcher, J. C. (1964), Math. "
              "Comp. 18, 50-64); Hairer & Wanner, Solving ODEs II, "
              "sect. IV.5.",
};

const cb_rk_tableau cb_tab_gl4 = {
    .stages = 4,
    .a = gl4_a,
    .b = gl4_b,
    .b_hat = NULL,
    .c = gl4_c,
    .source = "Gauss-Legendre collocation at the four zeros of P4(2x-1) "
              "(Butcher 1964; Hairer & Wanner, Solving ODEs II, "
              "sect. IV.5), evaluated to 60 digits.",
};

const cb_rk_tableau cb_tab_radau5 = {
    .stages = 3,
    .a = radau5_a,
    .b = radau5_b,
    .b_hat = radau5_b_hat,
    .c = radau5_c,
    .filter = radau5_filter,
    .source = "Radau IIA (Ehle, B. L. (1969), Univ. Waterloo report "
              "CSRR 2010); Hairer & Wanner, Solving ODEs II, sect. "
              "IV.5; error estimate: RADAU5's (sect. IV.8), not the "
              "original's order-2 b_hat.",
};

/* ======================================================================
 * Rosenbrock-W (transformed form; see implicit_tableaus.h for the step)
 * ====================================================================== */

/* ROS3P (Lang & Verwer 2001): three stages, order 3, embedded order 2,
 * A-stable with R(inf) = sqrt(3) - 1 (not L-stable), c = (0, 1, 1).
 * Classical coefficients: gamma = 1/2 + sqrt(3)/6, alpha21 = alpha31 = 1,
 * alpha32 = 0, gamma21 = -1, gamma31 = -gamma, gamma32 = 1/2 - 2 gamma =
 * -1/2 - sqrt(3)/3, b = (2/3, 0, 1/3), b_hat = (1/3, 1/3, 1/3).
 * Transformed (the original, as SciML ROS3PTableau; q = 1/gamma =
 * 3 - sqrt 3): a21 = a31 = q, C21 = -q^2, C31 = -q(1 + q(2 - q/2)) =
 * -2 sqrt 3, C32 = -q(2 - q/2) = -sqrt 3, b = (2, sqrt(3)/3,
 * 1 - sqrt(3)/3), b_hat = (5q/3, 1, q/3), gamma_stages = (gamma,
 * gamma - 1, 1/2 - 2 gamma). The original writes b_hat and
 * gamma_stages[1] as 16-digit literals (2.113248654051871,
 * 0.4226497308103742, -0.2113248654051871); the exact values used here
 * agree with them within 1 ulp. (The original's comment attributes ROS3P
 * to Rang & Angermann 2005; it is Lang & Verwer 2001.) */
static const double ros3p_a[3 * 3] = {
    [AT(3, 1, 0)] = 1.2679491924311228,
    [AT(3, 2, 0)] = 1.2679491924311228,
};
static const double ros3p_C[3 * 3] = {
    [AT(3, 1, 0)] = -1.6076951545867362,
    [AT(3, 2, 0)] = -3.4641016151377544,
    [AT(3, 2, 1)] = -1.7320508075688772,
};
static const double ros3p_b[3] = {
    2.0, 0.57735026918962573, 0.42264973081037421,
};
static const double ros3p_b_hat[3] = {
    2.1132486540518713, 1.0, 0.42264973081037421,
};
static const double ros3p_gamma_stages[3] = {
    0.78867513459481287, -0.21132486540518711, -1.0773502691896257,
};
static const double ros3p_c[3] = {
    0.0, 1.0, 1.0,
};

/* RODAS3P (Steinebach; SciML Rodas3PTableau): five stages, order 3,
 * embedded order 2, gamma = 1/3, all coefficients dyadic or thirds. Stage
 * 2 is at Y = y, t (c = 0, gamma_stages = 1); stages 3 and 4 share the
 * state Y_3 = Y_4 = y + a30 u0 + a31 u1 + a32 u2 at t + h (so f is needed
 * once for both), and y_1 = Y_3 + u4 (order 3), y_hat = Y_3 + u3
 * (order 2): b and b_hat are that row plus a unit weight, so neither
 * equals a row of a. L-stable (R(inf) = 0, computed). */
static const double rodas3p_a[5 * 5] = {
    [AT(5, 1, 0)] = 4.0 / 3.0,
    [AT(5, 3, 0)] = 93.0 / 32.0,
    [AT(5, 3, 1)] = 27.0 / 8.0,
    [AT(5, 3, 2)] = 13.0 / 32.0,
    [AT(5, 4, 0)] = 93.0 / 32.0,
    [AT(5, 4, 1)] = 27.0 / 8.0,
    [AT(5, 4, 2)] = 13.0 / 32.0,
};
static const double rodas3p_C[5 * 5] = {
    [AT(5, 1, 0)] = -4.0,
    [AT(5, 2, 0)] = 33.0 / 4.0,
    [AT(5, 2, 1)] = 27.0 / 4.0,
    [AT(5, 3, 0)] = 39.0 / 32.0,
    [AT(5, 3, 1)] = -81.0 / 16.0,
    [AT(5, 3, 2)] = -63.0 / 32.0,
    [AT(5, 4, 0)] = 129.0 / 32.0,
    [AT(5, 4, 1)] = -243.0 / 16.0,
    [AT(5, 4, 2)] = -129.0 / 32.0,
    [AT(5, 4, 3)] = 6.0,
};
static const double rodas3p_b[5] = {
    93.0 / 32.0, 27.0 / 8.0, 13.0 / 32.0, 0.0, 1.0,
};
static const double rodas3p_b_hat[5] = {
    93.0 / 32.0, 27.0 / 8.0, 13.0 / 32.0, 1.0, 0.0,
};
static const double rodas3p_gamma_stages[5] = {
    1.0 / 3.0, -1.0 / 9.0, 1.0, 0.0, 0.0,
};
static const double rodas3p_c[5] = {
    0.0, 4.0 / 9.0, 0.0, 1.0, 1.0,
};

/* Rosenbrock23 as in MATLAB ode23s (Shampine & Reichelt 1997) and SciML
 * Rosenbrock23, transformed as the original does: with d = 1/(2 + sqrt 2)
 * and c32 = 6 + sqrt 2, the derivative-form method W k_i = ... has
 * G = d [[1, 0, 0], [-1, 1, 0], [c32 - 2, -c32, 1]], alpha21 = 1/2,
 * alpha31 = 0, alpha32 = 1, b_k = (0, 1, 0) (order 2) and the third-order
 * weights b_k + e_k = (1/6, 2/3, 1/6), e_k = (1/6, -1/3, 1/6) (the
 * estimate (h/6)(k1 - 2 k2 + k3) of the paper). Transformed (p = 1/d =
 * 2 + sqrt 2): a21 = p/2, a31 = a32 = p, C21 = -p, C31 = -2p, C32 =
 * -(14 + 8 sqrt 2), b = (p, p, 0) = row 2 of a (the solution is the third
 * stage state), gamma_stages = (d, 0, -d), c = (0, 1/2, 1).
 *
 * b_hat here is the third-order formula (b_k + e_k) G^-1 =
 * (7/3 + 7 sqrt(2)/6, 11/3 + 2 sqrt 2, 1/3 + sqrt(2)/6), error order 3.
 * The original stores instead b_hat_orig = (b_k - e_k) G^-1 =
 * (5 sqrt(2)/6 + 5/3, 1/3, -1/3 - sqrt(2)/6) = 2 b - b_hat, which is only
 * a second-order formula, so that b - b_hat_orig = e_k G^-1 reproduces
 * SciML's utilde with its sign. The two give err vectors of opposite sign
 * and equal magnitude, hence identical error norms and step control. */
static const double r23_a[3 * 3] = {
    [AT(3, 1, 0)] = 1.7071067811865475,
    [AT(3, 2, 0)] = 3.4142135623730949,
    [AT(3, 2, 1)] = 3.4142135623730949,
};
static const double r23_C[3 * 3] = {
    [AT(3, 1, 0)] = -3.4142135623730949,
    [AT(3, 2, 0)] = -6.8284271247461898,
    [AT(3, 2, 1)] = -25.313708498984759,
};
static const double r23_b[3] = {
    3.4142135623730949, 3.4142135623730949, 0.0,
};
static const double r23_b_hat[3] = {
    3.9832491561019441, 6.4950937914128568, 0.56903559372884915,
};
static const double r23_gamma_stages[3] = {
    0.29289321881345248, 0.0, -0.29289321881345248,
};
static const double r23_c[3] = {
    0.0, 1.0 / 2.0, 1.0,
};


const cb_rk_tableau cb_tab_ros3p = {
    .stages = 3,
    .a = ros3p_a,
    .C = ros3p_C,
    .b = ros3p_b,
    .b_hat = ros3p_b_hat,
    .gamma = 0.78867513459481287,
    .gamma_stages = ros3p_gamma_stages,
    .c = ros3p_c,
    .source = "Lang, J. & Verwer, J. (2001). ROS3P - an accurate "
              "third-order Rosenbrock solver designed for parabolic "
              "problems. BIT 41, 731-738; transformed as in SciML "
              "OrdinaryDiffEq.jl ROS3PTableau.",
};

const cb_rk_tableau cb_tab_rodas3p = {
    .stages = 5,
    .a = rodas3p_a,
    .C = rodas3p_C,
    .b = rodas3p_b,
    .b_hat = rodas3p_b_hat,
    .gamma = 1.0 / 3.0,
    .gamma_stages = rodas3p_gamma_stages,
    .c = rodas3p_c,
    .source = "Steinebach, G. (2024). Rosenbrock methods within "
              "OrdinaryDiffEq.jl - overview, recent developments and "
              "applications. Proc. JuliaCon; SciML Rodas3PTableau.",
};

const cb_rk_tableau cb_tab_rosenbrock23 = {
    .stages = 3,
    .a = r23_a,
    .C = r23_C,
    .b = r23_b,
    .b_hat = r23_b_hat,
    .gamma = 0.29289321881345248,
    .gamma_stages = r23_gamma_stages,
    .c = r23_c,
    .source = "Shampine, L. F. & Reichelt, M. W. (1997). The MATLAB ODE "
              "suite. SIAM J. Sci. Comput. 18(1), 1-22 (ode23s); SciML "
              "Rosenbrock23; transformed per Hairer & Wanner IV.7.",
};

/* ======================================================================
 * Special single-stage methods
 * ====================================================================== */

/* As Runge-Kutta tableaus: backward Euler is the one-stage method
 * a = b = c = 1; Crank-Nicolson the trapezoidal rule (an explicit first
 * stage, then a_11 = 1/2). Their steps (gen/single.c) solve for the
 * increment directly, and Crank-Nicolson's error estimate is its
 * difference from a backward Euler step, not an embedded b_hat. */
static const double be_a[1] = {1.0};
static const double be_b[1] = {1.0};
static const double be_c[1] = {1.0};
static const double cn_a[2 * 2] = {
    [AT(2, 1, 0)] = 1.0 / 2.0,
    [AT(2, 1, 1)] = 1.0 / 2.0,
};
static const double cn_b[2] = {1.0 / 2.0, 1.0 / 2.0};
static const double cn_c[2] = {0.0, 1.0};

const cb_rk_tableau cb_tab_backwards_euler = {
    .stages = 1,
    .a = be_a,
    .b = be_b,
    .c = be_c,
    .description = "implicit Euler: solve u = h f(t + h, y + u), "
                   "y_1 = y + u; Newton warm-started from the previous "
                   "step's increment",
    .source = "Implicit (backward) Euler method; Hairer & Wanner, "
              "Solving ODEs II, 2nd ed., Springer (1996).",
};

const cb_rk_tableau cb_tab_backwards_euler_pc = {
    .stages = 1,
    .a = be_a,
    .b = be_b,
    .c = be_c,
    .description = "implicit Euler corrector started from the "
                   "explicit-Euler predictor u_0 = h f(t, y)",
    .source = "Implicit Euler corrector with an explicit Euler "
              "predictor; Hairer & Wanner, Solving ODEs II (1996).",
};

const cb_rk_tableau cb_tab_crank_nicolson = {
    .stages = 2,
    .a = cn_a,
    .b = cn_b,
    .c = cn_c,
    .description = "trapezoidal rule: base = y + h/2 f(t, y), solve "
                   "u = h f(t + h, base + u/2), y_1 = base + u/2; then "
                   "a backward Euler solve from y; err = y_1 - y_BE",
    .source = "Crank, J. & Nicolson, P. (1947). Proc. Camb. Phil. Soc. "
              "43, 50-67.",
};

#undef AT
