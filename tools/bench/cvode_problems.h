/* The stiff test problems written out by hand for SUNDIALS CVODE, from
 * the equations of the Test Set for IVP Solvers (F. Mazzia, C. Magherini,
 * Univ. Bari: rober.f, vdpolm.f, hires.f, orego.f), the same sources the
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

#endif
