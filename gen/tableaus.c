/* Explicit Runge-Kutta tableaus of the original (cubie's
 * generic_erk_tableaus.py and explicit_euler.py), one entry per method
 * (names, orders and aliases in methods.def), and the predicates of
 * tableaus.h.
 *
 * Coefficients that are rational with a numerator and denominator exact in
 * a double are written as quotients; the rest are the published values
 * rounded to 17 significant digits. Every entry is checked against the
 * Butcher order conditions in tests/test_tableaus.c. The a matrices use
 * designated initializers: AT(s, i, j) is the row-major index of a_ij
 * (zero-based), and omitted entries are zero. */
#include "tableaus.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#define AT(s, i, j) ((i) * (s) + (j))

/* Explicit (forward) Euler: one stage, order 1, no error estimate. */
static const double euler_a[1 * 1] = {
    0.0,
};
static const double euler_b[1] = {
    1.0,
};
static const double euler_c[1] = {
    0.0,
};

/* Heun's second-order method (explicit trapezoidal rule). */
static const double heun21_a[2 * 2] = {
    [AT(2, 1, 0)] = 1.0,
};
static const double heun21_b[2] = {
    1.0 / 2.0, 1.0 / 2.0,
};
static const double heun21_c[2] = {
    0.0, 1.0,
};

/* Ralston's three-stage third-order method (minimum error bound). */
static const double ralston33_a[3 * 3] = {
    [AT(3, 1, 0)] = 1.0 / 2.0,
    [AT(3, 2, 1)] = 3.0 / 4.0,
};
static const double ralston33_b[3] = {
    2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0,
};
static const double ralston33_c[3] = {
    0.0, 1.0 / 2.0, 3.0 / 4.0,
};

/* Bogacki-Shampine 3(2): b is the third-order solution, b_hat the
 * second-order estimate; FSAL (row 3 of a equals b). */
static const double bs32_a[4 * 4] = {
    [AT(4, 1, 0)] = 1.0 / 2.0,
    [AT(4, 2, 1)] = 3.0 / 4.0,
    [AT(4, 3, 0)] = 2.0 / 9.0,
    [AT(4, 3, 1)] = 1.0 / 3.0,
    [AT(4, 3, 2)] = 4.0 / 9.0,
};
static const double bs32_b[4] = {
    2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0, 0.0,
};
static const double bs32_b_hat[4] = {
    7.0 / 24.0, 1.0 / 4.0, 1.0 / 3.0, 1.0 / 8.0,
};
static const double bs32_c[4] = {
    0.0, 1.0 / 2.0, 3.0 / 4.0, 1.0,
};

/* The classical four-stage fourth-order method of Kutta. */
static const double rk4_a[4 * 4] = {
    [AT(4, 1, 0)] = 1.0 / 2.0,
    [AT(4, 2, 1)] = 1.0 / 2.0,
    [AT(4, 3, 2)] = 1.0,
};
static const double rk4_b[4] = {
    1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0,
};
static const double rk4_c[4] = {
    0.0, 1.0 / 2.0, 1.0 / 2.0, 1.0,
};

/* Dormand-Prince RK5(4)7M: b fifth order, b_hat fourth; FSAL. */
static const double dp54_a[7 * 7] = {
    [AT(7, 1, 0)] = 1.0 / 5.0,
    [AT(7, 2, 0)] = 3.0 / 40.0,
    [AT(7, 2, 1)] = 9.0 / 40.0,
    [AT(7, 3, 0)] = 44.0 / 45.0,
    [AT(7, 3, 1)] = -56.0 / 15.0,
    [AT(7, 3, 2)] = 32.0 / 9.0,
    [AT(7, 4, 0)] = 19372.0 / 6561.0,
    [AT(7, 4, 1)] = -25360.0 / 2187.0,
    [AT(7, 4, 2)] = 64448.0 / 6561.0,
    [AT(7, 4, 3)] = -212.0 / 729.0,
    [AT(7, 5, 0)] = 9017.0 / 3168.0,
    [AT(7, 5, 1)] = -355.0 / 33.0,
    [AT(7, 5, 2)] = 46732.0 / 5247.0,
    [AT(7, 5, 3)] = 49.0 / 176.0,
    [AT(7, 5, 4)] = -5103.0 / 18656.0,
    [AT(7, 6, 0)] = 35.0 / 384.0,
    [AT(7, 6, 2)] = 500.0 / 1113.0,
    [AT(7, 6, 3)] = 125.0 / 192.0,
    [AT(7, 6, 4)] = -2187.0 / 6784.0,
    [AT(7, 6, 5)] = 11.0 / 84.0,
};
static const double dp54_b[7] = {
    35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0,
    11.0 / 84.0, 0.0,
};
static const double dp54_b_hat[7] = {
    5179.0 / 57600.0, 0.0, 7571.0 / 16695.0, 393.0 / 640.0, -92097.0 / 339200.0,
    187.0 / 2100.0, 1.0 / 40.0,
};
static const double dp54_c[7] = {
    0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0,
};

/* Cash-Karp 5(4): b fifth order, b_hat the embedded fourth order. */
static const double ck54_a[6 * 6] = {
    [AT(6, 1, 0)] = 1.0 / 5.0,
    [AT(6, 2, 0)] = 3.0 / 40.0,
    [AT(6, 2, 1)] = 9.0 / 40.0,
    [AT(6, 3, 0)] = 3.0 / 10.0,
    [AT(6, 3, 1)] = -9.0 / 10.0,
    [AT(6, 3, 2)] = 6.0 / 5.0,
    [AT(6, 4, 0)] = -11.0 / 54.0,
    [AT(6, 4, 1)] = 5.0 / 2.0,
    [AT(6, 4, 2)] = -70.0 / 27.0,
    [AT(6, 4, 3)] = 35.0 / 27.0,
    [AT(6, 5, 0)] = 1631.0 / 55296.0,
    [AT(6, 5, 1)] = 175.0 / 512.0,
    [AT(6, 5, 2)] = 575.0 / 13824.0,
    [AT(6, 5, 3)] = 44275.0 / 110592.0,
    [AT(6, 5, 4)] = 253.0 / 4096.0,
};
static const double ck54_b[6] = {
    37.0 / 378.0, 0.0, 250.0 / 621.0, 125.0 / 594.0, 0.0, 512.0 / 1771.0,
};
static const double ck54_b_hat[6] = {
    2825.0 / 27648.0, 0.0, 18575.0 / 48384.0, 13525.0 / 55296.0,
    277.0 / 14336.0, 1.0 / 4.0,
};
static const double ck54_c[6] = {
    0.0, 1.0 / 5.0, 3.0 / 10.0, 3.0 / 5.0, 1.0, 7.0 / 8.0,
};

/* Runge-Kutta-Fehlberg 4(5). The original lists it as 5 (4) and puts the
 * fifth-order weights in b (local extrapolation), the fourth-order ones in
 * b_hat; order and error_order follow that. */
static const double rkf45_a[6 * 6] = {
    [AT(6, 1, 0)] = 1.0 / 4.0,
    [AT(6, 2, 0)] = 3.0 / 32.0,
    [AT(6, 2, 1)] = 9.0 / 32.0,
    [AT(6, 3, 0)] = 1932.0 / 2197.0,
    [AT(6, 3, 1)] = -7200.0 / 2197.0,
    [AT(6, 3, 2)] = 7296.0 / 2197.0,
    [AT(6, 4, 0)] = 439.0 / 216.0,
    [AT(6, 4, 1)] = -8.0,
    [AT(6, 4, 2)] = 3680.0 / 513.0,
    [AT(6, 4, 3)] = -845.0 / 4104.0,
    [AT(6, 5, 0)] = -8.0 / 27.0,
    [AT(6, 5, 1)] = 2.0,
    [AT(6, 5, 2)] = -3544.0 / 2565.0,
    [AT(6, 5, 3)] = 1859.0 / 4104.0,
    [AT(6, 5, 4)] = -11.0 / 40.0,
};
static const double rkf45_b[6] = {
    16.0 / 135.0, 0.0, 6656.0 / 12825.0, 28561.0 / 56430.0, -9.0 / 50.0,
    2.0 / 55.0,
};
static const double rkf45_b_hat[6] = {
    25.0 / 216.0, 0.0, 1408.0 / 2565.0, 2197.0 / 4104.0, -1.0 / 5.0, 0.0,
};
static const double rkf45_c[6] = {
    0.0, 1.0 / 4.0, 3.0 / 8.0, 12.0 / 13.0, 1.0, 1.0 / 2.0,
};

/* DOP853: Dormand-Prince 8(5,3) as used in Hairer's DOP853 code; the
 * 30-digit constants of that code rounded to double. b is the eighth-order
 * solution. The code forms a fifth-order error estimate with weights ER
 * (and a third-order one it combines with it); here b_hat = b - ER, so
 * b - b_hat are exactly the fifth-order error weights and b_hat is a
 * fifth-order solution. Nodes c2..c5 involve sqrt(6). */
static const double dop853_a[12 * 12] = {
    [AT(12, 1, 0)] = 0.05260015195876773,
    [AT(12, 2, 0)] = 0.0197250569845379,
    [AT(12, 2, 1)] = 0.059175170953613701,
    [AT(12, 3, 0)] = 0.029587585476806851,
    [AT(12, 3, 2)] = 0.088762756430420545,
    [AT(12, 4, 0)] = 0.24136513415926669,
    [AT(12, 4, 2)] = -0.88454947932828609,
    [AT(12, 4, 3)] = 0.92483400326179199,
    [AT(12, 5, 0)] = 1.0 / 27.0,
    [AT(12, 5, 3)] = 0.17082860872947386,
    [AT(12, 5, 4)] = 0.12546768756682242,
    [AT(12, 6, 0)] = 19.0 / 512.0,
    [AT(12, 6, 3)] = 0.17025221101954405,
    [AT(12, 6, 4)] = 0.060216538980455959,
    [AT(12, 6, 5)] = -9.0 / 512.0,
    [AT(12, 7, 0)] = 0.037092000118504789,
    [AT(12, 7, 3)] = 0.17038392571223998,
    [AT(12, 7, 4)] = 0.10726203044637328,
    [AT(12, 7, 5)] = -0.015319437748624402,
    [AT(12, 7, 6)] = 0.0082737891638140233,
    [AT(12, 8, 0)] = 0.62411095871607569,
    [AT(12, 8, 3)] = -3.3608926294469414,
    [AT(12, 8, 4)] = -0.86821934684172597,
    [AT(12, 8, 5)] = 27.59209969944671,
    [AT(12, 8, 6)] = 20.154067550477894,
    [AT(12, 8, 7)] = -43.489884181069961,
    [AT(12, 9, 0)] = 0.47766253643826434,
    [AT(12, 9, 3)] = -2.4881146199716677,
    [AT(12, 9, 4)] = -0.59029082683684297,
    [AT(12, 9, 5)] = 21.230051448181193,
    [AT(12, 9, 6)] = 15.279233632882423,
    [AT(12, 9, 7)] = -33.288210968984863,
    [AT(12, 9, 8)] = -0.020331201708508627,
    [AT(12, 10, 0)] = -0.9371424300859873,
    [AT(12, 10, 3)] = 5.1863724288440638,
    [AT(12, 10, 4)] = 1.0914373489967295,
    [AT(12, 10, 5)] = -8.1497870107469268,
    [AT(12, 10, 6)] = -18.520065659996959,
    [AT(12, 10, 7)] = 22.739487099350505,
    [AT(12, 10, 8)] = 2.4936055526796523,
    [AT(12, 10, 9)] = -3.0467644718982196,
    [AT(12, 11, 0)] = 2.273310147516538,
    [AT(12, 11, 3)] = -10.534495466737249,
    [AT(12, 11, 4)] = -2.0008720582248625,
    [AT(12, 11, 5)] = -17.958931863118799,
    [AT(12, 11, 6)] = 27.94888452941996,
    [AT(12, 11, 7)] = -2.8589982771350235,
    [AT(12, 11, 8)] = -8.8728569335306293,
    [AT(12, 11, 9)] = 12.360567175794303,
    [AT(12, 11, 10)] = 0.64339274601576357,
};
static const double dop853_b[12] = {
    0.054293734116568765, 0.0, 0.0, 0.0, 0.0, 4.4503128927524092,
    1.8915178993145003, -5.8012039600105849, 0.3111643669578199,
    -0.15216094966251609, 0.20136540080403034, 0.044710615727772587,
};
static const double dop853_b_hat[12] = {
    0.041173689122373881, 0.0, 0.0, 0.0, 0.0, 5.6754693391286137,
    2.3872768489717506, -7.4655811424655711, 0.66149321570779362,
    -0.48634006837553356, 0.11944219431891463, 0.067065923591658888,
};
static const double dop853_c[12] = {
    0.0, 0.05260015195876773, 0.078900227938151601, 0.1183503419072274,
    0.28164965809277259, 1.0 / 3.0, 1.0 / 4.0, 4.0 / 13.0, 127.0 / 195.0,
    3.0 / 5.0, 6.0 / 7.0, 1.0,
};

/* Tsitouras 5(4), Tsit5: b fifth order (FSAL, row 6 of a equals b).
 * As in the original, b_hat = b - d, where d are the error weights with
 * the corrected last entry d7 = +1/66 (the value OrdinaryDiffEq and
 * torchdiffeq use). d equals b_T - b for the fourth-order weights b_T, so
 * this b_hat = 2 b - b_T: also fourth order, with b - b_hat = d exactly.
 * Irrational coefficients are the 80-digit values rounded to double. */
static const double tsit5_a[7 * 7] = {
    [AT(7, 1, 0)] = 161.0 / 1000.0,
    [AT(7, 2, 0)] = -0.0084806554923569887,
    [AT(7, 2, 1)] = 0.335480655492357,
    [AT(7, 3, 0)] = 2.8971530571054935,
    [AT(7, 3, 1)] = -6.3594484899750752,
    [AT(7, 3, 2)] = 4.3622954328695815,
    [AT(7, 4, 0)] = 5.3258648284392569,
    [AT(7, 4, 1)] = -11.748883564062828,
    [AT(7, 4, 2)] = 7.4955393428898365,
    [AT(7, 4, 3)] = -0.092495066361755252,
    [AT(7, 5, 0)] = 5.8614554429464203,
    [AT(7, 5, 1)] = -12.92096931784711,
    [AT(7, 5, 2)] = 8.1593678985761589,
    [AT(7, 5, 3)] = -0.071584973281400996,
    [AT(7, 5, 4)] = -0.028269050394068383,
    [AT(7, 6, 0)] = 0.09646076681806523,
    [AT(7, 6, 1)] = 1.0 / 100.0,
    [AT(7, 6, 2)] = 0.4798896504144996,
    [AT(7, 6, 3)] = 1.3790085741037419,
    [AT(7, 6, 4)] = -3.2900695154360808,
    [AT(7, 6, 5)] = 2.3247105240997739,
};
static const double tsit5_b[7] = {
    0.09646076681806523, 1.0 / 100.0, 0.4798896504144996, 1.3790085741037419,
    -3.2900695154360808, 2.3247105240997739, 0.0,
};
static const double tsit5_b_hat[7] = {
    0.098240777870291007, 0.010816434459656746, 0.47200877240423755,
    1.5237195812770048, -3.8724266808886361, 2.7827926300289607, -1.0 / 66.0,
};
static const double tsit5_c[7] = {
    0.0, 161.0 / 1000.0, 327.0 / 1000.0, 9.0 / 10.0, 0.98002554090450966, 1.0,
    1.0,
};

/* Verner's "most efficient" 7(6) pair (RKV76.IIa): b seventh order,
 * b_hat sixth. The rational coefficients have up to 72-digit numerators;
 * those that do not fit a double exactly are rounded to 17 digits. */
static const double vern7_a[10 * 10] = {
    [AT(10, 1, 0)] = 1.0 / 200.0,
    [AT(10, 2, 0)] = -4361.0 / 4050.0,
    [AT(10, 2, 1)] = 2401.0 / 2025.0,
    [AT(10, 3, 0)] = 49.0 / 1200.0,
    [AT(10, 3, 2)] = 49.0 / 400.0,
    [AT(10, 4, 0)] = 2454451729.0 / 3841600000.0,
    [AT(10, 4, 2)] = -9433712007.0 / 3841600000.0,
    [AT(10, 4, 3)] = 4364554539.0 / 1920800000.0,
    [AT(10, 5, 0)] = -2.6615773750187572,
    [AT(10, 5, 2)] = 10.804513886456137,
    [AT(10, 5, 3)] = -8.3539146573961993,
    [AT(10, 5, 4)] = 0.82048759495665702,
    [AT(10, 6, 0)] = 6.0677414346967709,
    [AT(10, 6, 2)] = -24.711273635911084,
    [AT(10, 6, 3)] = 20.427517930788895,
    [AT(10, 6, 4)] = -1.9061579788166472,
    [AT(10, 6, 5)] = 1.0061722492420679,
    [AT(10, 7, 0)] = 12.054670076253203,
    [AT(10, 7, 2)] = -1990261989751005.0 / 40001418792832.0,
    [AT(10, 7, 3)] = 41.142888638604674,
    [AT(10, 7, 4)] = -4.4617601499740038,
    [AT(10, 7, 5)] = 2.0423348222391748,
    [AT(10, 7, 6)] = -0.09834843665406108,
    [AT(10, 8, 0)] = 10.138146522881808,
    [AT(10, 8, 2)] = -42.641136031717501,
    [AT(10, 8, 3)] = 35.76384003992257,
    [AT(10, 8, 4)] = -4.3480228403929075,
    [AT(10, 8, 5)] = 2.0098622683770357,
    [AT(10, 8, 6)] = 0.34874904603382723,
    [AT(10, 8, 7)] = -0.27143900510483127,
    [AT(10, 9, 0)] = -45.030072034298676,
    [AT(10, 9, 2)] = 187.32724376545889,
    [AT(10, 9, 3)] = -154.02882369350186,
    [AT(10, 9, 4)] = 18.564653063475362,
    [AT(10, 9, 5)] = -7.1418096792950791,
    [AT(10, 9, 6)] = 1.3088085781613785,
};
static const double vern7_b[10] = {
    0.04715561848627222, 0.0, 0.0, 0.25750564298434153, 0.26216653977412618,
    0.15216092656738558, 0.49399691700324844, -0.29430311714032503,
    0.081317472324951096, 0.0,
};
static const double vern7_b_hat[10] = {
    117807213929927.0 / 2640907728177740.0, 0.0, 0.0, 0.26716403785713727,
    0.22010183001772929, 0.21884317031431569, 0.22898717054112028, 0.0, 0.0,
    0.020295184663356284,
};
static const double vern7_c[10] = {
    0.0, 1.0 / 200.0, 49.0 / 450.0, 49.0 / 300.0, 911.0 / 2000.0,
    3480084980.0 / 5709648941.0, 221.0 / 250.0, 37.0 / 40.0, 1.0, 1.0,
};

#undef AT

const cb_rk_tableau cb_tab_euler = {
    .stages = 1,
    .a = euler_a,
    .b = euler_b,
    .b_hat = NULL,
    .c = euler_c,
    .source = "Euler, L. (1768). Institutionum calculi integralis, "
              "vol. 1, Petropoli.",
};

const cb_rk_tableau cb_tab_heun21 = {
    .stages = 2,
    .a = heun21_a,
    .b = heun21_b,
    .b_hat = NULL,
    .c = heun21_c,
    .source = "Heun, K. (1900). Neue Methoden zur approximativen "
              "Integration der Differentialgleichungen einer "
              "unabhaengigen Veraenderlichen. Z. Math. Phys. 45, "
              "23-38.",
};

const cb_rk_tableau cb_tab_ralston33 = {
    .stages = 3,
    .a = ralston33_a,
    .b = ralston33_b,
    .b_hat = NULL,
    .c = ralston33_c,
    .source = "Ralston, A. (1962). Runge-Kutta methods with minimum "
              "error bounds. Math. Comp. 16(80), 431-437.",
};

const cb_rk_tableau cb_tab_bs32 = {
    .stages = 4,
    .a = bs32_a,
    .b = bs32_b,
    .b_hat = bs32_b_hat,
    .c = bs32_c,
    .source = "Bogacki, P. and Shampine, L. F. (1989). A 3(2) pair of "
              "Runge-Kutta formulas. Appl. Math. Lett. 2(4), 321-325.",
};

const cb_rk_tableau cb_tab_rk4 = {
    .stages = 4,
    .a = rk4_a,
    .b = rk4_b,
    .b_hat = NULL,
    .c = rk4_c,
    .source = "Kutta, W. (1901). Beitrag zur naeherungsweisen "
              "Integration totaler Differentialgleichungen. Z. Math. "
              "Phys. 46, 435-453.",
};

const cb_rk_tableau cb_tab_dp54 = {
    .stages = 7,
    .a = dp54_a,
    .b = dp54_b,
    .b_hat = dp54_b_hat,
    .c = dp54_c,
    .source = "Dormand, J. R. and Prince, P. J. (1980). A family of "
              "embedded Runge-Kutta formulae. J. Comput. Appl. Math. "
              "6(1), 19-26, Table 2 (RK5(4)7M).",
};

const cb_rk_tableau cb_tab_ck54 = {
    .stages = 6,
    .a = ck54_a,
    .b = ck54_b,
    .b_hat = ck54_b_hat,
    .c = ck54_c,
    .source = "Cash, J. R. and Karp, A. H. (1990). A variable order "
              "Runge-Kutta method for initial value problems with "
              "rapidly varying right-hand sides. ACM Trans. Math. "
              "Softw. 16(3), 201-222.",
};

const cb_rk_tableau cb_tab_rkf45 = {
    .stages = 6,
    .a = rkf45_a,
    .b = rkf45_b,
    .b_hat = rkf45_b_hat,
    .c = rkf45_c,
    .source = "Fehlberg, E. (1969). Low-order classical Runge-Kutta "
              "formulas with stepsize control and their application "
              "to some heat transfer problems. NASA Technical Report "
              "R-315, Table III (RK4(5)).",
};

const cb_rk_tableau cb_tab_dop853 = {
    .stages = 12,
    .a = dop853_a,
    .b = dop853_b,
    .b_hat = dop853_b_hat,
    .c = dop853_c,
    .source = "Prince, P. J. and Dormand, J. R. (1981). High order "
              "embedded Runge-Kutta formulae. J. Comput. Appl. Math. "
              "7(1), 67-75; coefficients and the fifth-order error "
              "weights as in Hairer, Norsett and Wanner (1993), "
              "Solving Ordinary Differential Equations I, 2nd ed., "
              "Springer, Sec. II.10 (code DOP853).",
};

const cb_rk_tableau cb_tab_tsit5 = {
    .stages = 7,
    .a = tsit5_a,
    .b = tsit5_b,
    .b_hat = tsit5_b_hat,
    .c = tsit5_c,
    .source = "Tsitouras, Ch. (2011). Runge-Kutta pairs of order 5(4) "
              "satisfying only the first column simplifying "
              "assumption. Comput. Math. Appl. 62(2), 770-775, "
              "Table 1; error weight d7 = +1/66 as corrected in "
              "common implementations.",
};

const cb_rk_tableau cb_tab_vern7 = {
    .stages = 10,
    .a = vern7_a,
    .b = vern7_b,
    .b_hat = vern7_b_hat,
    .c = vern7_c,
    .source = "Verner, J. H. (2010). Numerically optimal Runge-Kutta "
              "pairs with interpolants. Numer. Algorithms 53(2-3), "
              "383-396; coefficients of the 'most efficient' RK7(6) "
              "pair RKV76.IIa from Verner's web page (sfu.ca/~jverner).",
};

/* ---- predicates ----------------------------------------------------- */

/* Equal, or within 1e-15 relative (to the larger magnitude). */
static bool coefficient_equal(double x, double y)
{
    if (x == y) {
        return true;
    }
    double scale = fmax(fabs(x), fabs(y));
    return fabs(x - y) <= 1e-15 * scale;
}

static bool row_equals(const double *a, int s, int row, const double *w)
{
    for (int j = 0; j < s; j++) {
        if (!coefficient_equal(a[row * s + j], w[j])) {
            return false;
        }
    }
    return true;
}

static int matching_row(const double *a, int s, const double *w)
{
    if (a == NULL || w == NULL) {
        return -1;
    }
    for (int i = 0; i < s; i++) {
        if (row_equals(a, s, i, w)) {
            return i;
        }
    }
    return -1;
}

bool cb_rk_explicit_first_stage(const cb_rk_tableau *t)
{
    if (t == NULL || t->a == NULL) {
        return false;
    }
    for (int j = 0; j < t->stages; j++) {
        if (t->a[j] != 0.0) {
            return false;
        }
    }
    return true;
}

bool cb_rk_fsal(const cb_rk_tableau *t)
{
    if (t == NULL || t->stages < 2) {
        return false;
    }
    const int s = t->stages;
    if (t->c[0] != 0.0 || t->c[s - 1] != 1.0) {
        return false;
    }
    return cb_rk_explicit_first_stage(t) && row_equals(t->a, s, s - 1, t->b);
}

bool cb_rk_stiffly_accurate(const cb_rk_tableau *t)
{
    if (t == NULL || t->a == NULL) {
        return false;
    }
    return row_equals(t->a, t->stages, t->stages - 1, t->b);
}

int cb_rk_b_row(const cb_rk_tableau *t)
{
    return t == NULL ? -1 : matching_row(t->a, t->stages, t->b);
}

int cb_rk_b_hat_row(const cb_rk_tableau *t)
{
    return t == NULL ? -1 : matching_row(t->a, t->stages, t->b_hat);
}

bool cb_rk_uses_time_derivative(const cb_rk_tableau *t)
{
    for (int i = 0; t != NULL && t->gamma_stages != NULL && i < t->stages;
         i++) {
        if (t->gamma_stages[i] != 0.0) {
            return true;
        }
    }
    return false;
}
