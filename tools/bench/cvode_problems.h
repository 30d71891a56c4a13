/* The stiff test problems written out by hand for SUNDIALS CVODE, from
 * the equations of the Test Set for IVP Solvers (F. Mazzia, C. Magherini,
 * Univ. Bari: rober.f, vdpolm.f, hires.f, orego.f,
 * pollu.f), the same sources the
 * specs in specs/ cite. They do not go through cubie's spec parser, so a
 * wrong spec or a wrong generated right-hand side shows up as a
 * disagreement with CVODE. */
#ifndef CB_CVODE_PROBLEMS_H
#define CB_CVODE_PROBLEMS_H

static void rober_f(const double *y, double *f)
{
    const double k1 = 0.04, k2 = 3.0e7, k3 = 1.0e4;
    f[0] = -k1 * y[0] + k3 * y[1] * y[2];
    f[1] = k1 * y[0] - k3 * y[1] * y[2] - k2 * y[1] * y[1];
    f[2] = k2 * y[1] * y[1];
}

static void vdpolm_f(const double *y, double *f)
{
    const double mu = 1000.0;
    f[0] = y[1];
    f[1] = mu * (1.0 - y[0] * y[0]) * y[1] - y[0];
}

static void hires_f(const double *y, double *f)
{
    f[0] = -1.71 * y[0] + 0.43 * y[1] + 8.32 * y[2] + 0.0007;
    f[1] = 1.71 * y[0] - 8.75 * y[1];
    f[2] = -10.03 * y[2] + 0.43 * y[3] + 0.035 * y[4];
    f[3] = 8.32 * y[1] + 1.71 * y[2] - 1.12 * y[3];
    f[4] = -1.745 * y[4] + 0.43 * y[5] + 0.43 * y[6];
    f[5] = -280.0 * y[5] * y[7] + 0.69 * y[3] + 1.71 * y[4] - 0.43 * y[5] +
           0.69 * y[6];
    f[6] = 280.0 * y[5] * y[7] - 1.81 * y[6];
    f[7] = -f[6];
}

static void orego_f(const double *y, double *f)
{
    const double s = 77.27, q = 8.375e-6, w = 0.161;
    f[0] = s * (y[1] + y[0] * (1.0 - q * y[0] - y[1]));
    f[1] = (y[2] - (1.0 + y[0]) * y[1]) / s;
    f[2] = w * (y[0] - y[2]);
}

static void pollu_f(const double *y, double *f)
{
    static const double k[25] = {
        0.35,   26.6,   1.23e4, 8.6e-4, 8.2e-4, 1.5e4,   1.3e-4,
        2.4e4,  1.65e4, 9.0e3,  2.2e-2, 1.2e4,  1.88,    1.63e4,
        4.8e6,  3.5e-4, 1.75e-2, 1.0e8, 4.44e11, 1.24e3, 2.1,
        5.78,   4.74e-2, 1.78e3, 3.12};
    /* y[i - 1] is the test set's y(i), r[j - 1] its r(j). */
    double r[25];
    r[0] = k[0] * y[0];
    r[1] = k[1] * y[1] * y[3];
    r[2] = k[2] * y[4] * y[1];
    r[3] = k[3] * y[6];
    r[4] = k[4] * y[6];
    r[5] = k[5] * y[6] * y[5];
    r[6] = k[6] * y[8];
    r[7] = k[7] * y[8] * y[5];
    r[8] = k[8] * y[10] * y[1];
    r[9] = k[9] * y[10] * y[0];
    r[10] = k[10] * y[12];
    r[11] = k[11] * y[9] * y[1];
    r[12] = k[12] * y[13];
    r[13] = k[13] * y[0] * y[5];
    r[14] = k[14] * y[2];
    r[15] = k[15] * y[3];
    r[16] = k[16] * y[3];
    r[17] = k[17] * y[15];
    r[18] = k[18] * y[15];
    r[19] = k[19] * y[16] * y[5];
    r[20] = k[20] * y[18];
    r[21] = k[21] * y[18];
    r[22] = k[22] * y[0] * y[3];
    r[23] = k[23] * y[18] * y[0];
    r[24] = k[24] * y[19];
    f[0] = -r[0] - r[9] - r[13] - r[22] - r[23] + r[1] + r[2] + r[8] +
           r[10] + r[11] + r[21] + r[24];
    f[1] = -r[1] - r[2] - r[8] - r[11] + r[0] + r[20];
    f[2] = -r[14] + r[0] + r[16] + r[18] + r[21];
    f[3] = -r[1] - r[15] - r[16] - r[22] + r[14];
    f[4] = -r[2] + 2.0 * r[3] + r[5] + r[6] + r[12] + r[19];
    f[5] = -r[5] - r[7] - r[13] - r[19] + r[2] + 2.0 * r[17];
    f[6] = -r[3] - r[4] - r[5] + r[12];
    f[7] = r[3] + r[4] + r[5] + r[6];
    f[8] = -r[6] - r[7];
    f[9] = -r[11] + r[6] + r[8];
    f[10] = -r[8] - r[9] + r[7] + r[10];
    f[11] = r[8];
    f[12] = -r[10] + r[9];
    f[13] = -r[12] + r[11];
    f[14] = r[13];
    f[15] = -r[17] - r[18] + r[15];
    f[16] = -r[19];
    f[17] = r[19];
    f[18] = -r[20] - r[21] - r[23] + r[22] + r[24];
    f[19] = -r[24] + r[23];
}

#endif
