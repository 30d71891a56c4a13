/* The one emitter of right-hand sides: the system's functions (cb_dxdt,
 * cb_observables, and for implicit steps cb_jvp, cb_jac_diag, cb_dfdt)
 * and every call to them. A call names the state it evaluates at and the
 * stage time; each function takes only what its body reads (parameters,
 * the drivers' coefficients, t), so the call passes only that. A function
 * that reads a sampled driver evaluates it first, at its own t: every
 * stage of every step sees the drivers at its time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "deriv.h"
#include "generate.h"
#include "template.h"

/* The candidate parameters of each function, in order. A function that
 * reads a driver evaluates it at its own t from the spline's
 * coefficients (driver_coeffs, the settings' CB_SET_DRIVER_*). */
static const char *const dxdt_params[] = {
    "const real *state", "const real *parameters",
    "const real *__restrict__ driver_coeffs", "const real *settings",
    "real *out", "real t", NULL};
static const char *const obs_params[] = {
    "const real *state", "const real *parameters",
    "const real *__restrict__ driver_coeffs", "const real *settings",
    "real *observables", "real t", NULL};
static const char *const jvp_params[] = {
    "const real *state", "const real *parameters",
    "const real *__restrict__ driver_coeffs", "const real *settings",
    "real t", "const real *v", "real *out", NULL};
static const char *const vec_params[] = {
    "const real *state", "const real *parameters",
    "const real *__restrict__ driver_coeffs", "const real *settings",
    "real t", "real *out", NULL};

static const char *const fn_names[CB_RHS_COUNT] = {
    [CB_RHS_DXDT] = "cb_dxdt",
    [CB_RHS_OBSERVABLES] = "cb_observables",
    [CB_RHS_JVP] = "cb_jvp",
    [CB_RHS_DIAG] = "cb_jac_diag",
    [CB_RHS_DFDT] = "cb_dfdt",
};

/* The C text of e in text (the caller frees it). A local the text reads
 * (a long base of a power) is declared in sb first, so the caller writes
 * the statement holding the text into sb next; *next numbers those
 * locals through one function. */
static void expr_text(const cb_ctx *c, const cb_expr *e, cb_sb *sb,
                      cb_sb *text, int *next)
{
    cb_sb_init(text);
    cb_locals loc = {sb, *next};
    cb_expr_print_locals(e, c->dbl, cb_spec_print_sym, (void *)c->sys, &loc,
                         text);
    *next = loc.next;
    if (text->failed) {
        sb->failed = true;
    }
}

/* The auxiliaries need[] marks, in dependency order, as locals. */
static void emit_aux(const cb_ctx *c, cb_sb *sb, const bool *need,
                     int *next)
{
    const struct cubie_system *s = c->sys;
    for (int o = 0; o < s->n_aux; o++) {
        int k = s->aux_order[o];
        if (!need[k]) {
            continue;
        }
        cb_sb text;
        expr_text(c, s->eqs[s->aux_eq[k]].rhs, sb, &text, next);
        cb_sb_printf(sb, "const real a_%s = ", s->aux_names[k]);
        cb_sb_putn(sb, cb_sb_str(&text), text.len);
        cb_sb_puts(sb, ";\n");
        cb_sb_free(&text);
    }
}

/* The body with the drivers it reads evaluated first at t: d_<name> the
 * value, dd_<name> the time derivative (cb_dfdt's seeds). */
static void driver_locals(const cb_ctx *c, const char *body, cb_sb *out)
{
    const struct cubie_system *s = c->sys;
    for (int d = 0; d < s->n_drivers; d++) {
        char name[300];
        snprintf(name, sizeof(name), "d_%s", s->driver_names[d]);
        if (cb_ident_used(body, name)) {
            cb_sb_printf(out, "    const real %s = cb_driver(driver_coeffs, "
                              "settings, %d, t);\n", name, d);
        }
        snprintf(name, sizeof(name), "dd_%s", s->driver_names[d]);
        if (cb_ident_used(body, name)) {
            cb_sb_printf(out, "    const real %s = cb_driver_dt("
                              "driver_coeffs, settings, %d, t);\n", name, d);
        }
    }
}

static void define(cb_ctx *c, cb_rhs_kind k, const char *const *params,
                   cb_sb *body, cb_sb *sb)
{
    cb_fn_init(&c->rhs[k], "void", fn_names[k], params);
    if (body->failed) {
        sb->failed = true;
    }
    cb_sb full;
    cb_sb_init(&full);
    driver_locals(c, cb_sb_str(body), &full);
    cb_sb_puts(&full, cb_sb_str(body));
    if (full.failed) {
        sb->failed = true;
    }
    cb_fn_define(&c->rhs[k], sb, cb_sb_str(&full));
    cb_sb_free(&full);
}

/* The drivers' spline at t (runtime/spline.c's layout and rules): the
 * segment of t, tau in it, Horner; with wrap the data repeat, else 0
 * outside them. cb_driver_dt is the time derivative. */
/* The spline's polynomial at tau (deriv: its derivative in tau), each
 * coefficient read as load gives it for k. */
static void emit_horner(cb_sb *sb, int p, bool deriv, const char *load,
                        const char *indent)
{
    char l[64];
    snprintf(l, sizeof(l), load, p);
    if (!deriv) {
        cb_sb_line(sb, "%sreal y = %s;", indent, l);
    } else {
        cb_sb_line(sb, "%sreal y = (real)%d * %s;", indent, p, l);
    }
    for (int k = p - 1; k >= (deriv ? 1 : 0); k--) {
        snprintf(l, sizeof(l), load, k);
        if (!deriv) {
            cb_sb_line(sb, "%sy = y * tau + %s;", indent, l);
        } else {
            cb_sb_line(sb, "%sy = y * tau + (real)%d * %s;", indent, k, l);
        }
    }
}

/* cb_driver (deriv: cb_driver_dt, the time derivative): a driver's
 * spline at t: the segment of t, tau in it, Horner; with wrap the data
 * repeat, else 0 outside them. On the GPU the coefficients come from
 * constant memory when the runtime put them there, else through the
 * read-only cache: one test per call, so each path's loads are plain. */
static void emit_driver_fn(const cb_ctx *c, cb_sb *sb, bool deriv)
{
    const int p = c->driver_order;
    const char *fl = cb_math(c, "floor");
    cb_sb_line(sb, "CB_DEVFN real %s(const real *__restrict__ coeffs, "
                   "const real *settings, int d, real t)",
               deriv ? "cb_driver_dt" : "cb_driver");
    cb_sb_line(sb, "{");
    cb_sb_line(sb, "    const real m = settings[CB_SET_DRIVER_SEGMENTS];");
    cb_sb_line(sb, "    real x = (t - settings[CB_SET_DRIVER_START] - "
                   "settings[CB_SET_DRIVER_START + 1]) /");
    cb_sb_line(sb, "             settings[CB_SET_DRIVER_PERIOD];");
    if (c->driver_wrap) {
        cb_sb_line(sb, "    x -= m * %s(x / m);", fl);
    } else {
        cb_sb_line(sb, "    if (!(x >= (real)0 && x <= m)) {");
        cb_sb_line(sb, "        return (real)0;");
        cb_sb_line(sb, "    }");
    }
    cb_sb_line(sb, "    real seg = %s(x);", fl);
    cb_sb_line(sb, "    seg = seg > m - (real)1 ? m - (real)1 : seg;");
    cb_sb_line(sb, "    seg = seg < (real)0 ? (real)0 : seg;");
    cb_sb_line(sb, "    const real tau = x - seg;");
    cb_sb_line(sb, "    const long long o = ((long long)seg * "
                   "CB_N_DRIVERS + d) * %d;", p + 1);
    const char *ret = deriv ? "return y / settings[CB_SET_DRIVER_PERIOD];"
                            : "return y;";
    cb_sb_line(sb, "#if CB_GPU");
    cb_sb_line(sb, "    if (settings[CB_SET_DRIVER_IN_CONSTANT] != (real)0) {");
    emit_horner(sb, p, deriv, "cb_driver_const[o + %d]", "        ");
    cb_sb_line(sb, "        %s", ret);
    cb_sb_line(sb, "    }");
    emit_horner(sb, p, deriv, "__ldg(&coeffs[o + %d])", "    ");
    cb_sb_line(sb, "#else");
    emit_horner(sb, p, deriv, "coeffs[o + %d]", "    ");
    cb_sb_line(sb, "#endif");
    cb_sb_line(sb, "    %s", ret);
    cb_sb_line(sb, "}");
}

/* What every driven kernel has: the drivers' count, the GPU's constant
 * memory for their coefficients (the runtime copies them there while
 * they fit and sets CB_SET_DRIVER_IN_CONSTANT), and cb_driver. */
static void emit_driver_fns(const cb_ctx *c, cb_sb *sb)
{
    cb_sb_line(sb, "// Sampled drivers: a spline of order %d, %s outside "
                   "the data.", c->driver_order,
               c->driver_wrap ? "repeating" : "zero");
    cb_sb_line(sb, "#define CB_N_DRIVERS %d", c->sys->n_drivers);
    cb_sb_line(sb, "#define CB_DRIVER_CONST_CAP %d",
               (60 * 1024) / (c->dbl ? 8 : 4));
    cb_sb_line(sb, "#if CB_GPU");
    cb_sb_line(sb, "extern \"C\" {");
    cb_sb_line(sb, "__constant__ real cb_driver_const[CB_DRIVER_CONST_CAP];");
    cb_sb_line(sb, "}");
    cb_sb_line(sb, "#endif");
    emit_driver_fn(c, sb, false);
    cb_sb_puts(sb, "\n");
}

cubie_status cb_rhs_emit_system(cb_ctx *c, cb_sb *sb)
{
    const struct cubie_system *s = c->sys;
    bool *roots = calloc((size_t)s->n_eqs + 1, sizeof(bool));
    bool *need = calloc((size_t)s->n_aux + 1, sizeof(bool));
    cb_sb body;
    cb_sb_init(&body);
    if (roots == NULL || need == NULL) {
        free(roots);
        free(need);
        return cb_fail_nomem(c->err);
    }
    body.indent = 1;
    if (s->n_drivers > 0) {
        emit_driver_fns(c, sb);
    }
    for (int k = 0; k < s->n_states; k++) {
        roots[s->deriv_eq[k]] = true;
    }
    cb_spec_aux_closure(s, roots, need);
    int next = 0;
    emit_aux(c, &body, need, &next);
    for (int k = 0; k < s->n_states; k++) {
        cb_sb text;
        expr_text(c, s->eqs[s->deriv_eq[k]].rhs, &body, &text, &next);
        cb_sb_printf(&body, "out[%d] = ", k);
        cb_sb_putn(&body, cb_sb_str(&text), text.len);
        cb_sb_printf(&body, "; // d%s\n", s->state_names[k]);
        cb_sb_free(&text);
    }
    cb_sb_line(sb, "// The system '%s': derivatives of the states.", s->name);
    define(c, CB_RHS_DXDT, dxdt_params, &body, sb);
    cb_sb_free(&body);
    if (c->need_obs) {
        cb_sb_init(&body);
        body.indent = 1;
        memset(roots, 0, sizeof(bool) * (size_t)s->n_eqs);
        for (int k = 0; k < s->n_obs; k++) {
            roots[s->aux_eq[s->obs_aux[k]]] = true;
        }
        cb_spec_aux_closure(s, roots, need);
        next = 0;
        emit_aux(c, &body, need, &next);
        for (int k = 0; k < s->n_obs; k++) {
            cb_sb_line(&body, "observables[%d] = a_%s;", k,
                       s->aux_names[s->obs_aux[k]]);
        }
        cb_sb_line(sb, "// Observables: the auxiliaries listed as "
                       "observables.");
        define(c, CB_RHS_OBSERVABLES, obs_params, &body, sb);
        cb_sb_free(&body);
    }
    free(roots);
    free(need);
    return sb->failed ? cb_fail_nomem(c->err) : CUBIE_OK;
}

static cubie_status emit_derivative(cb_ctx *c, cb_sb *sb, cb_rhs_kind k,
                                    const char *what)
{
    cb_sb body;
    cb_sb_init(&body);
    body.indent = 1;
    cubie_status st =
        k == CB_RHS_JVP    ? cb_emit_jvp_body(c->sys, c->dbl, &body, c->err)
        : k == CB_RHS_DIAG ? cb_emit_jac_diag_body(c->sys, c->dbl, &body,
                                                   c->err)
                           : cb_emit_dfdt_body(c->sys, c->dbl, &body,
                                               c->err);
    if (st == CUBIE_OK) {
        cb_sb_line(sb, "// The system '%s': %s", c->sys->name, what);
        cb_sb_line(sb, "// (symbolic, forward mode through the "
                       "auxiliaries).");
        define(c, k, k == CB_RHS_JVP ? jvp_params : vec_params, &body, sb);
    }
    cb_sb_free(&body);
    return st;
}

cubie_status cb_rhs_emit_derivatives(cb_ctx *c, cb_sb *sb, bool diag,
                                     bool dfdt)
{
    CB_TRY(emit_derivative(c, sb, CB_RHS_JVP,
                           "the Jacobian of the derivatives times v"));
    if (diag) {
        CB_TRY(emit_derivative(c, sb, CB_RHS_DIAG,
                               "the diagonal of the Jacobian"));
    }
    if (dfdt) {
        if (c->sys->n_drivers > 0) { /* the drivers' rates, dd_<name> */
            emit_driver_fn(c, sb, true);
        }
        CB_TRY(emit_derivative(c, sb, CB_RHS_DFDT,
                               "the partial derivative of the derivatives "
                               "in t"));
    }
    return CUBIE_OK;
}

bool cb_rhs_reads(const cb_ctx *c, const char *name)
{
    for (int k = 0; k < CB_RHS_COUNT; k++) {
        if (c->rhs[k].defined && cb_fn_uses(&c->rhs[k], name)) {
            return true;
        }
    }
    return false;
}

void cb_rhs_call(const cb_ctx *c, cb_sb *sb, cb_rhs_kind k, const char *y,
                 const char *v, const char *out, const char *t, bool solve)
{
    const cb_fn *f = &c->rhs[k];
    const char *const bind[] = {
        "state",       y,
        "parameters",  solve ? "p->parameters" : "parameters",
        "driver_coeffs", solve ? "p->driver_coeffs" : "driver_coeffs",
        "settings",    solve ? "p->settings" : "settings",
        "t",           t,
        "v",           v != NULL ? v : "v",
        "out",         out,
        "observables", out,
        NULL};
    cb_fn_call(f, sb, bind);
    cb_sb_puts(sb, ";\n");
}

cubie_status cb_rhs_unit(const struct cubie_system *sys, bool dbl,
                         char **out, cubie_error *err)
{
    cb_ctx c;
    memset(&c, 0, sizeof(c));
    c.sys = sys;
    c.dbl = dbl;
    c.err = err;
    c.out[CB_OUT_OBSERVABLES] = sys->n_obs > 0;
    c.need_obs = sys->n_obs > 0;
    cb_sb sb;
    cb_sb_init(&sb);
    *out = NULL;
    cb_sb_line(&sb, "#define CB_F32 %d", dbl ? 0 : 1);
    cb_sb_puts(&sb, cb_template("prelude.cu"));
    cb_sb_puts(&sb, "\n");
    cubie_status st = cb_rhs_emit_system(&c, &sb);
    if (st == CUBIE_OK) {
        st = cb_rhs_emit_derivatives(&c, &sb, true, true);
    }
    /* Wrappers with every parameter: (state, parameters, drivers, t, v,
     * out), for a harness that calls all five alike. */
    static const char *const all[] = {"state", "parameters", "drivers", "t",
                                      "v", "out"};
    for (int k = 0; st == CUBIE_OK && k < CB_RHS_COUNT; k++) {
        if (!c.rhs[k].defined) {
            continue;
        }
        cb_sb_line(&sb, "CB_KERNEL void %s_all(const real *state, "
                        "const real *parameters,", fn_names[k]);
        cb_sb_line(&sb, "    const real *drivers, real t, const real *v, "
                        "real *out)");
        cb_sb_line(&sb, "{");
        for (int i = 0; i < 6; i++) {
            const bool used = cb_fn_uses(&c.rhs[k], all[i]) ||
                              (k == CB_RHS_OBSERVABLES && i == 5 &&
                               cb_fn_uses(&c.rhs[k], "observables"));
            if (!used) {
                cb_sb_line(&sb, "    (void)%s;", all[i]);
            }
        }
        cb_sb_puts(&sb, "    ");
        cb_rhs_call(&c, &sb, (cb_rhs_kind)k, "state", "v", "out", "t",
                    false);
        cb_sb_line(&sb, "}");
    }
    if (st == CUBIE_OK) {
        *out = cb_sb_take(&sb);
        st = *out ? CUBIE_OK : cb_fail_nomem(err);
    }
    cb_sb_free(&sb);
    return st;
}
