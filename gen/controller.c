/* The step controller (the original's adaptive_step_controller.py and its
 * subclasses): the error norm is the mean square over states of
 * err_i / (atol_i + rtol_i max(|y_new_i|, |y_i|)), with |err_i| floored
 * at 1e-16 and a non-finite norm read as 1e16; the step is accepted when
 * the norm is <= 1. Gains use exponents divided by 2 (p + 1) because the
 * norm is a square. A step the loop truncated to land on a save time and
 * that is accepted freezes dt and the history. The controllers' history
 * lengths and default gains are in controllers.def. */
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "template.h"

static cubie_status controller_register(cb_ctx *c)
{
    return cb_register(c->ctrl_owner, "timestep_buffer",
                       (size_t)cb_controllers[c->ctrl].history, CB_LOC_LOCAL,
                       true, NULL, c->prec, c->err);
}

/* gain = safety * E^(expo (kp log E + ki log E_prev + ...)) and the rest
 * of the formula of each controller. Branch-free, as all of the
 * controller: each choice is a select, so the host lanes run it in vector
 * registers (a call of exp or log under a branch would not vectorise). */
static void emit_gain(const cb_ctx *c, cb_sb *b)
{
    /* Powers of two, not of e: the same gain, and exact range reduction
     * in cb_exp2 (templates/prelude.cu). */
    const char *ex = "cb_exp2";
    const char *lg = "cb_log2";
    switch (c->ctrl) {
    case CB_CTRL_I:
        cb_sb_line(b, "real gain = safety * %s(expo * %s(nrm2));", ex, lg);
        break;
    case CB_CTRL_PI:
        cb_sb_line(b, "const real prev = timestep_buffer[0] > (real)0 ? "
                      "timestep_buffer[0] : nrm2;");
        cb_sb_line(b, "real gain = safety * %s(expo * (settings[CB_SET_KP] * "
                      "%s(nrm2) +", ex, lg);
        cb_sb_line(b, "                                 settings[CB_SET_KI] * "
                      "%s(prev)));", lg);
        break;
    case CB_CTRL_PID:
        cb_sb_line(b, "const real prev = timestep_buffer[0] > (real)0 ? "
                      "timestep_buffer[0] : nrm2;");
        cb_sb_line(b, "const real prev2 = timestep_buffer[1] > (real)0 ? "
                      "timestep_buffer[1] : prev;");
        cb_sb_line(b, "real gain = safety * %s(expo * (settings[CB_SET_KP] * "
                      "%s(nrm2) +", ex, lg);
        cb_sb_line(b, "                                 settings[CB_SET_KI] * "
                      "%s(prev) +", lg);
        cb_sb_line(b, "                                 settings[CB_SET_KD] * "
                      "%s(prev2)));", lg);
        break;
    case CB_CTRL_GUSTAFSSON:
        /* timestep_buffer: [0] previous accepted dt, [1] its norm. */
        cb_sb_line(b, "const real two_n = (real)2 * "
                      "settings[CB_SET_NEWTON_TARGET_ITERS];");
        cb_sb_line(b, "const real fac = cb_fmin(safety, safety * ((real)1 + "
                      "two_n) /");
        cb_sb_line(b, "                         ((real)niters + two_n));");
        cb_sb_line(b, "real gain = fac * %s(expo * %s(nrm2));", ex, lg);
        cb_sb_line(b, "// After an accepted step with a history, the "
                      "predictive gain where smaller");
        cb_sb_line(b, "// (computed always, used only then).");
        cb_sb_line(b, "const real gus = safety * (dt[0] / "
                      "timestep_buffer[0]) *");
        cb_sb_line(b, "    %s(expo * %s(nrm2 * nrm2 / timestep_buffer[1]));",
                   ex, lg);
        cb_sb_line(b, "gain = accept & (timestep_buffer[0] > (real)0) ? "
                      "cb_fmin(gus, gain) : gain;");
        break;
    default:
        cb_sb_line(b, "real gain = (real)1;");
        break;
    }
}

/* An accepted step's history, kept unless the step was frozen. */
static void emit_history(const cb_ctx *c, cb_sb *b)
{
    switch (c->ctrl) {
    case CB_CTRL_PI:
        cb_sb_line(b, "timestep_buffer[0] = keep ? nrm2 : "
                      "timestep_buffer[0];");
        break;
    case CB_CTRL_PID:
        cb_sb_line(b, "timestep_buffer[1] = keep ? prev : "
                      "timestep_buffer[1];");
        cb_sb_line(b, "timestep_buffer[0] = keep ? nrm2 : "
                      "timestep_buffer[0];");
        break;
    case CB_CTRL_GUSTAFSSON:
        cb_sb_line(b, "timestep_buffer[0] = keep ? dt[0] : "
                      "timestep_buffer[0];");
        cb_sb_line(b, "timestep_buffer[1] = keep ? nrm2 : "
                      "timestep_buffer[1];");
        break;
    default:
        break;
    }
}

static const char *const controller_params[] = {
    "real *dt", "const real *proposed_state", "const real *state",
    "const real *error", "int niters", "int truncated", "int *accept_out",
    "const real *settings", "real *shared", "real *persistent", NULL};

static cubie_status controller_emit(cb_ctx *c, cb_sb *sb)
{
    if (c->ctrl == CB_CTRL_FIXED) {
        return CUBIE_OK; /* the loop does not call one */
    }
    const int n = c->sys->n_states;
    const char *ab = cb_math(c, "fabs");
    cb_sb b;
    cb_sb_init(&b);
    b.indent = 1;
    /* No setting is read under a condition (&&, ?:): that would be a
     * masked load of one address, which the vectoriser refuses. Each is
     * read where it is first used, so few are live at once (GPU
     * registers). */
    cb_sb_line(&b, "real nrm2 = (real)0;");
    cb_sb_line(&b, "for (int i = 0; i < %d; ++i) {", n);
    cb_sb_indent(&b);
    cb_sb_line(&b, "real e = %s(error[i]);", ab);
    char l[48];
    cb_lit(c, 1e-16, l);
    cb_sb_line(&b, "e = e < %s ? %s : e; // a NaN stays NaN", l, l);
    cb_sb_line(&b, "const real scale = settings[CB_SET_ATOL + i] + "
                   "settings[CB_SET_RTOL + i] *");
    cb_sb_line(&b, "    cb_fmax(%s(proposed_state[i]), %s(state[i]));", ab,
               ab);
    cb_sb_line(&b, "const real r = e / scale;");
    cb_sb_line(&b, "nrm2 += r * r;");
    cb_sb_dedent(&b);
    cb_sb_line(&b, "}");
    cb_lit(c, 1.0 / n, l);
    cb_sb_line(&b, "nrm2 = nrm2 * %s;", l);
    /* The norm is >= 0, or NaN or +inf, neither of which is <= 1: so
     * the verdict on the norm as it is equals the verdict on 1e16. */
    cb_sb_line(&b, "const int accept = nrm2 <= (real)1;");
    cb_lit(c, 1e16, l);
    cb_sb_line(&b, "nrm2 = cb_pick(cb_finite(nrm2), nrm2, %s); // NaN, inf: "
                   "1e16", l);
    cb_lit(c, -1.0 / (2.0 * (c->order + 1)), l);
    cb_sb_line(&b, "const real safety = settings[CB_SET_SAFETY];");
    cb_sb_line(&b, "const real expo = %s; // -1 / (2 (p + 1))", l);
    /* Powers as exp2(expo * log2(.)): one log per norm instead of a pow
     * each (pow is several times dearer than exp or log). */
    emit_gain(c, &b);
    cb_sb_line(&b, "gain = cb_fmin(cb_fmax(gain, settings[CB_SET_MIN_GAIN]),");
    cb_sb_line(&b, "               settings[CB_SET_MAX_GAIN]);");
    cb_sb_line(&b, "gain = (gain >= settings[CB_SET_DEADBAND_MIN]) &");
    cb_sb_line(&b, "               (gain <= settings[CB_SET_DEADBAND_MAX])");
    cb_sb_line(&b, "           ? (real)1 : gain;");
    cb_sb_line(&b, "gain = accept ? gain : cb_fmin(gain, safety);");
    cb_sb_line(&b, "*accept_out = accept;");
    cb_sb_line(&b, "// An accepted step that landed on a save time leaves dt "
                   "and the history");
    cb_sb_line(&b, "// as they were.");
    cb_sb_line(&b, "const int frozen = accept & truncated;");
    if (cb_controllers[c->ctrl].history > 0) {
        cb_sb_line(&b, "const int keep = accept & !frozen;");
    }
    cb_sb_line(&b, "const real dt_new = dt[0] * gain;");
    cb_sb_line(&b, "const real dt_min = settings[CB_SET_DT_MIN];");
    cb_sb_line(&b, "const real dt_max = settings[CB_SET_DT_MAX];");
    /* Only a controller that wants to shrink below dt_min has failed:
     * staying at dt_min (gain 1) is not a failure. */
    cb_sb_line(&b, "const int status = !frozen & (gain < (real)1) & "
                   "(dt_new <= dt_min)");
    cb_sb_line(&b, "                       ? CB_RUN_STEP_TOO_SMALL : 0;");
    emit_history(c, &b);
    cb_sb_line(&b, "dt[0] = frozen ? dt[0] : cb_fmin(cb_fmax(dt_new, "
                   "dt_min), dt_max);");
    cb_sb_line(&b, "return status;");
    cb_fn_init(&c->controller, "int", "cb_controller", controller_params);
    cb_sb_line(sb, "// Step controller: %s.", cb_controllers[c->ctrl].name);
    cubie_status st = cb_define(c, &c->controller, c->ctrl_owner,
                                cb_sb_str(&b), sb);
    if (st == CUBIE_OK && b.failed) {
        st = cb_fail_nomem(c->err);
    }
    cb_sb_free(&b);
    return st;
}

const cb_component cb_comp_controller = {
    .name = "controller",
    .register_buffers = controller_register,
    .emit = controller_emit,
};

cubie_status cb_controller_unit(cb_controller kind, int order, bool dbl,
                                int n, char **out, cubie_error *err)
{
    struct cubie_system fake;
    memset(&fake, 0, sizeof(fake));
    fake.n_states = n;
    cb_ctx c = {.sys = &fake, .dbl = dbl, .ctrl = kind, .order = order,
                .err = err, .prec = dbl ? CB_PREC_F64 : CB_PREC_F32};
    cb_sb sb;
    cb_sb_init(&sb);
    *out = NULL;
    c.reg = cb_registry_new();
    if (c.reg == NULL) {
        return cb_fail_nomem(err);
    }
    cubie_status st =
        cb_registry_owner(c.reg, "controller", c.prec, &c.ctrl_owner, err);
    if (st == CUBIE_OK) {
        st = controller_register(&c);
    }
    if (st == CUBIE_OK) {
        st = cb_registry_freeze(c.reg, err);
    }
    if (st == CUBIE_OK) {
        cb_sb_line(&sb, "#define CB_F32 %d", dbl ? 0 : 1);
        cb_sb_puts(&sb, cb_template("prelude.cu"));
        cb_emit_common_defines(&c, &sb);
        st = controller_emit(&c, &sb);
    }
    if (st == CUBIE_OK) {
        /* Every parameter, in order, whatever this controller uses. */
        cb_fn all;
        cb_fn_init(&all, "int", "cb_controller_all", controller_params);
        for (int i = 0; i < all.n; i++) {
            all.used[i] = true;
        }
        cb_sb body;
        cb_sb_init(&body);
        body.indent = 1;
        cb_sb_puts(&body, "return ");
        cb_fn_call(&c.controller, &body, NULL);
        cb_sb_puts(&body, ";\n");
        const int saved = sb.indent;
        cb_sb_puts(&sb, "CB_KERNEL int cb_controller_all(");
        cb_fn_params(&all, &sb, 32);
        cb_sb_puts(&sb, ")\n{\n");
        cb_sb_puts(&sb, cb_sb_str(&body));
        cb_sb_puts(&sb, "}\n");
        sb.indent = saved;
        sb.failed = sb.failed || body.failed;
        cb_sb_free(&body);
    }
    if (st == CUBIE_OK) {
        *out = cb_sb_take(&sb);
        st = *out ? CUBIE_OK : cb_fail_nomem(err);
    }
    cb_sb_free(&sb);
    cb_registry_free(c.reg);
    return st;
}
