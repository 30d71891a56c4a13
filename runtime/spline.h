/* Interpolating splines of sampled drivers (the Python original's
 * ArrayInterpolator, see ../shared/reference/summaries-drivers.md §2):
 * built on the host in double, evaluated by the kernel from per-segment
 * polynomial coefficients.
 *
 * Segment s covers [start + s period, start + (s + 1) period]; on it a
 * driver is sum_k c[s][driver][k] tau^k with tau in [0, 1]. The spline
 * interpolates every sample, its derivatives 1 .. order - 1 are
 * continuous at the knots, and order - 1 boundary rows close the system:
 *   natural     derivatives 2, 3, ... zero at the ends, alternating start
 *               and end;
 *   clamped     the same from derivative 1 (zero end slopes);
 *   periodic    derivatives 1 .. order - 1 equal at the two ends (the
 *               first sample must equal the last);
 *   not-a-knot  derivative `order` continuous at the knots next to the
 *               ends, alternating start and end (for a cubic: the top
 *               coefficient equal over the first two and the last two
 *               segments).
 * For order 3 these are SciPy's CubicSpline conventions. Without wrap,
 * clamped ends get one zero sample padded before and after, so the driver
 * returns smoothly to 0 outside the data (segments n + 1, start t0 -
 * period); otherwise segments n - 1.
 *
 * The system is solved in the uniform B-spline basis of the given degree,
 * where it is banded (periodic: banded with a border of ceil(order / 2)
 * rows and columns), by a band LU with partial pivoting; the B-spline
 * coefficients are then turned into each segment's power coefficients.
 * Cost O(n order^2) per driver, memory O(n order). */
#ifndef CB_SPLINE_H
#define CB_SPLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "cubie_status.h"
#include "options.h"
#include "tables.h"

#define CB_SPLINE_MAX_ORDER CB_DRIVER_MAX_ORDER

/* In the order of the choices of driver_boundary_condition
 * (gen/choices.def), whose texts name them. */
typedef enum {
    CB_BC_NATURAL,
    CB_BC_PERIODIC,
    CB_BC_CLAMPED,
    CB_BC_NOT_A_KNOT
} cb_spline_bc;

/* The option's value for a boundary condition ("not-a-knot"), and the
 * boundary condition of the option's choice. */
const char *cb_spline_bc_name(cb_spline_bc bc);
cb_spline_bc cb_spline_bc_of(cb_choice choice);

typedef struct {
    int order;          /* degree of each segment's polynomial */
    bool wrap;          /* outside the data: periodic repetition, else 0 */
    size_t n_segments;
    size_t n_drivers;
    double start;       /* where segment 0 begins */
    double period;      /* the sample period: one segment's length */
    double *c;          /* [segment][driver][power], order + 1 powers */
} cb_spline;

/* The spline of n_drivers drivers sampled n_samples times, samples
 * [sample][driver], the first at t0, period apart. An error names the
 * option at fault (driver_order, driver_boundary_condition,
 * driver_sample_period) and, for a driver, its index in names (NULL: by
 * number). */
cubie_status cb_spline_build(const double *samples, size_t n_samples,
                             size_t n_drivers, const char *const *names,
                             double t0, double period, int order, bool wrap,
                             cb_spline_bc bc, cb_spline *out,
                             cubie_error *err);
void cb_spline_free(cb_spline *s);

/* Derivative `deriv` (0: the value) of a driver at t, as the kernel
 * evaluates it (wrapping or 0 outside the data). */
double cb_spline_eval(const cb_spline *s, size_t driver, double t,
                      int deriv);

#endif
