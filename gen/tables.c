/* The tables of tables.h, expanded from their .def files, and their
 * lookups. */
#include "tables.h"

#include <stdio.h>
#include <string.h>

#include "options.h"
#include "util.h"

const cb_family_info cb_families[CB_FAM_COUNT] = {
#define CB_FAMILY(id, name, comp, newton, def, expo, ctrl, sf, mn, mx, dbn, \
                  dbx)                                                      \
    {name, #comp, newton, def, CB_EXPONENT_##expo, CB_CTRL_##ctrl, sf, mn,  \
     mx, dbn, dbx},
#include "families.def"
#undef CB_FAMILY
};

const cb_controller_info cb_controllers[CB_CTRL_COUNT] = {
#define CB_CONTROLLER(id, name, history, est, kp, ki, kd) \
    {name, history, est, kp, ki, kd},
#include "controllers.def"
#undef CB_CONTROLLER
};

const cb_method cb_methods[CB_METHOD_COUNT] = {
#define CB_METHOD(id, name, aliases, fam, tab, order, eorder, solves) \
    {name, aliases, CB_FAM_##fam, &cb_tab_##tab, order, eorder, solves},
#include "methods.def"
#undef CB_METHOD
};

const char *const cb_counter_names[CB_N_COUNTERS] = {
#define CB_COUNTER(id, name) name,
#include "counters.def"
#undef CB_COUNTER
};

const cb_karg_info cb_kargs[CB_KARG_COUNT] = {
#define CB_KARG(id, name, elem, dir, rows, result, column) \
    {#id, #name, CB_ELEM_##elem, CB_DIR_##dir, CB_ROWS_##rows, result, \
     column},
#include "kernel_args.def"
#undef CB_KARG
};

const char *cb_elem_type(cb_elem e)
{
    return e == CB_ELEM_INT ? "int" : e == CB_ELEM_INPUT ? "cb_input" : "real";
}

#define CB_AXES_ONE ""
#define CB_AXES_RUNS "run, "
#define CB_AXES_SAVES "run, save, "
#define CB_AXES_WINDOWS "run, window, "
#define CB_AXES_DRIVERS ""
const char *const cb_karg_axes[CB_KARG_COUNT] = {
#define CB_KARG(id, name, elem, dir, rows, result, column) \
    CB_AXES_##rows column,
#include "kernel_args.def"
#undef CB_KARG
};

const cb_output_info cb_outputs[CB_OUT_COUNT] = {
#define CB_OUTPUT(id, name, array, cols, masked, cadence, label) \
    {name, CB_KARG_##array, CB_COLS_##cols, masked, CB_CADENCE_##cadence, \
     label},
#include "outputs.def"
#undef CB_OUTPUT
};

#define CB_OPT_NONE (-1)
const cb_setting_info cb_settings[CB_SETTING_COUNT] = {
#define CB_SET(id, kind, opt) {#id, CB_SETK_##kind, CB_OPT_##opt},
#include "settings.def"
#undef CB_SET
};
#undef CB_OPT_NONE

const cb_choice_info cb_choices[CB_CHOICE_COUNT] = {
#define CB_CHOICE(list, id, text) {#list, text},
#include "choices.def"
#undef CB_CHOICE
};

int cb_controller_find(const char *name)
{
    for (int i = 0; name != NULL && i < CB_CTRL_COUNT; i++) {
        if (strcmp(cb_controllers[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

const cb_method *cb_method_find(const char *name)
{
    if (name == NULL || name[0] == '\0') {
        return NULL;
    }
    for (int i = 0; i < CB_METHOD_COUNT; i++) {
        if (cb_name_known_as(name, cb_methods[i].name,
                             cb_methods[i].aliases)) {
            return &cb_methods[i];
        }
    }
    for (int f = 0; f < CB_FAM_COUNT; f++) {
        if (cb_families[f].default_method[0] != '\0' &&
            cb_name_known_as(name, cb_families[f].name, NULL)) {
            return cb_method_named(cb_families[f].default_method);
        }
    }
    return NULL;
}

const cb_method *cb_method_named(const char *name)
{
    for (int i = 0; name != NULL && i < CB_METHOD_COUNT; i++) {
        if (strcmp(cb_methods[i].name, name) == 0) {
            return &cb_methods[i];
        }
    }
    return NULL;
}

/* The names of a table's count rows, sep between them, into out (n
 * bytes, cut short if it must be); name(i) is row i's. */
static void join_names(char *out, size_t n, int count,
                       const char *(*name)(int), const char *sep)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < count && used < n; i++) {
        used += (size_t)snprintf(out + used, n - used, "%s%s",
                                 i > 0 ? sep : "", name(i));
    }
}

static const char *method_name(int i)
{
    return cb_methods[i].name;
}

static const char *output_name(int i)
{
    return cb_outputs[i].name;
}

void cb_method_names(char *out, size_t n)
{
    join_names(out, n, CB_METHOD_COUNT, method_name, ", ");
}

int cb_method_exponent_order(const cb_method *m)
{
    const bool estimate = m->error_order > 0 &&
                          cb_families[m->family].exponent ==
                              CB_EXPONENT_ESTIMATE;
    return estimate ? m->error_order : m->order;
}

cb_controller cb_method_default_controller(const cb_method *m)
{
    return m->error_order > 0 ? cb_families[m->family].controller
                              : CB_CTRL_FIXED;
}

int cb_output_find(const char *name)
{
    for (int i = 0; name != NULL && i < CB_OUT_COUNT; i++) {
        if (strcmp(cb_outputs[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

void cb_output_names(char *out, size_t n)
{
    join_names(out, n, CB_OUT_COUNT, output_name, " ");
}

int cb_setting_offset(cb_setting s, int n_states)
{
    int off = 0, arrays = 0;
    for (int i = 0; i < (int)s; i++) {
        switch (cb_settings[i].kind) {
        case CB_SETK_TIME:
            off += 2;
            break;
        case CB_SETK_REAL:
            off += 1;
            break;
        case CB_SETK_STATES:
            arrays++;
            break;
        }
    }
    return cb_settings[s].kind == CB_SETK_STATES
               ? CB_SET_FIXED_COUNT + arrays * n_states
               : off;
}

int cb_settings_length(int n_states)
{
    int arrays = 0;
    for (int i = 0; i < CB_SETTING_COUNT; i++) {
        arrays += cb_settings[i].kind == CB_SETK_STATES;
    }
    return CB_SET_FIXED_COUNT + arrays * n_states;
}
