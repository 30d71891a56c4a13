/* cubie._core: the C library (runtime/cubie.h) for Python, with NumPy.
 *
 *   System(json)                     a parsed spec
 *   Solver(system, options)          a compiled kernel (options: a dict
 *                                    of key -> text, as cubie_options_set)
 *   Solver.run(inits, params, options=None, drivers=None,
 *              driver_times=None)    a Result
 *   Result.arrays()                  [(name, ndarray, column_names,
 *                                      axes)], every array of the result
 *
 * inits and params are float64 arrays of shape (variables, runs): one
 * contiguous row per state or parameter, in the system's order. The GIL is
 * released while a kernel compiles and while it runs. A result's arrays
 * are NumPy arrays over the memory the result owns, without a copy: each
 * keeps its Result alive. A failing call raises a subclass of CubieError
 * carrying the library's detail: status, path (a JSON path or an option
 * key), column (in an expression), log (the compiler's) and dump_path. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <stdint.h>
#include <string.h>

#include "cubie.h"

/* ---- errors ------------------------------------------------------------- */

static PyObject *CubieError, *SpecError, *ExpressionError, *OptionError,
    *CompileError, *BackendError, *BatchError, *RunError;

/* The exception class of a status: the nearest the Python user can catch
 * by meaning. */
static PyObject *error_class(cubie_status st)
{
    switch (st) {
    case CUBIE_E_JSON:
    case CUBIE_E_SPEC:
        return SpecError;
    case CUBIE_E_EXPR:
        return ExpressionError;
    case CUBIE_E_OPTION:
        return OptionError;
    case CUBIE_E_CODEGEN:
    case CUBIE_E_COMPILE:
    case CUBIE_E_REGISTRY:
        return CompileError;
    case CUBIE_E_BACKEND:
        return BackendError;
    case CUBIE_E_BATCH:
        return BatchError;
    case CUBIE_E_RUN:
        return RunError;
    default:
        return CubieError;
    }
}

/* Raise the error err describes, its detail as attributes; clears err.
 * Returns NULL. */
static PyObject *raise_error(cubie_status st, cubie_error *err)
{
    PyObject *cls = error_class(st);
    PyObject *exc = PyObject_CallFunction(cls, "s", err->message);
    if (exc != NULL) {
        PyObject *status = PyUnicode_FromString(cubie_status_str(st));
        PyObject *path = PyUnicode_FromString(err->path);
        PyObject *col = PyLong_FromLong(err->column);
        PyObject *log = err->log != NULL
                            ? PyUnicode_DecodeUTF8(err->log,
                                                   (Py_ssize_t)strlen(
                                                       err->log),
                                                   "replace")
                            : (Py_INCREF(Py_None), Py_None);
        PyObject *dump = PyUnicode_FromString(err->dump_path);
        PyObject_SetAttrString(exc, "status", status);
        PyObject_SetAttrString(exc, "path", path);
        PyObject_SetAttrString(exc, "column", col);
        PyObject_SetAttrString(exc, "log", log);
        PyObject_SetAttrString(exc, "dump_path", dump);
        Py_XDECREF(status);
        Py_XDECREF(path);
        Py_XDECREF(col);
        Py_XDECREF(log);
        Py_XDECREF(dump);
        PyErr_SetObject(cls, exc);
        Py_DECREF(exc);
    }
    cubie_error_clear(err);
    return NULL;
}

/* A dict of key -> value (str, or anything str() takes: numbers, bools as
 * "true"/"false") into o. 0 on success, -1 with an exception set. */
static int set_options(cubie_options *o, PyObject *dict)
{
    if (dict == NULL || dict == Py_None) {
        return 0;
    }
    if (!PyDict_Check(dict)) {
        PyErr_SetString(PyExc_TypeError, "options must be a dict");
        return -1;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (!PyUnicode_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "option keys must be str");
            return -1;
        }
        PyObject *text = NULL;
        if (PyBool_Check(value)) {
            text = PyUnicode_FromString(value == Py_True ? "true" : "false");
        } else if (PyFloat_Check(value)) {
            text = PyObject_Repr(value); /* round-trips exactly */
        } else {
            text = PyObject_Str(value);
        }
        if (text == NULL) {
            return -1;
        }
        cubie_error err = {0};
        cubie_status st = cubie_options_set(o, PyUnicode_AsUTF8(key),
                                            PyUnicode_AsUTF8(text), &err);
        Py_DECREF(text);
        if (st != CUBIE_OK) {
            raise_error(st, &err);
            return -1;
        }
    }
    return 0;
}

/* ---- System --------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD cubie_system *sys;
} SystemObject;

static void System_dealloc(SystemObject *self)
{
    cubie_system_free(self->sys);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int System_init(SystemObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"json", NULL};
    const char *json;
    Py_ssize_t len;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s#", kwlist, &json, &len)) {
        return -1;
    }
    cubie_error err = {0};
    cubie_system *sys = NULL;
    cubie_status st = cubie_system_parse(json, (size_t)len, &sys, &err);
    if (st != CUBIE_OK) {
        raise_error(st, &err);
        return -1;
    }
    cubie_system_free(self->sys);
    self->sys = sys;
    return 0;
}

static PyObject *names(const cubie_system *sys, size_t n,
                       const char *(*name)(const cubie_system *, size_t))
{
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    for (size_t i = 0; t != NULL && i < n; i++) {
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, PyUnicode_FromString(name(sys, i)));
    }
    return t;
}

static PyObject *System_get(SystemObject *self, void *which)
{
    const cubie_system *sys = self->sys;
    if (sys == NULL) {
        PyErr_SetString(PyExc_ValueError, "System was not initialised");
        return NULL;
    }
    switch ((int)(intptr_t)which) {
    case 0:
        return PyUnicode_FromString(cubie_system_name(sys));
    case 1:
        return names(sys, cubie_system_n_states(sys), cubie_system_state_name);
    case 2:
        return names(sys, cubie_system_n_parameters(sys),
                     cubie_system_parameter_name);
    case 3:
        return names(sys, cubie_system_n_observables(sys),
                     cubie_system_observable_name);
    default:
        return names(sys, cubie_system_n_drivers(sys),
                     cubie_system_driver_name);
    }
}

static PyGetSetDef System_getset[] = {
    {"name", (getter)System_get, NULL, "the spec's name", (void *)0},
    {"states", (getter)System_get, NULL, "state names", (void *)1},
    {"parameters", (getter)System_get, NULL, "parameter names", (void *)2},
    {"observables", (getter)System_get, NULL, "observable names", (void *)3},
    {"drivers", (getter)System_get, NULL, "driver names", (void *)4},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject SystemType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cubie._core.System",
    .tp_basicsize = sizeof(SystemObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "System(json): a parsed cubie spec",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)System_init,
    .tp_dealloc = (destructor)System_dealloc,
    .tp_getset = System_getset,
};

/* ---- Result --------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD cubie_result *r;
} ResultObject;

static void Result_dealloc(ResultObject *self)
{
    cubie_result_free(self->r);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int npy_type(const char *descr)
{
    if (strcmp(descr, "<f4") == 0) {
        return NPY_FLOAT32;
    }
    if (strcmp(descr, "<f8") == 0) {
        return NPY_FLOAT64;
    }
    return NPY_INT32;
}

/* [(name, array, column_names or None, axes)] over the result's memory:
 * read-only views that keep the Result alive. */
static PyObject *Result_arrays(ResultObject *self, PyObject *unused)
{
    (void)unused;
    const size_t n = cubie_result_n_arrays(self->r);
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list != NULL && i < n; i++) {
        cubie_array a;
        if (cubie_result_array(self->r, i, &a) != CUBIE_OK) {
            continue;
        }
        npy_intp dims[3];
        for (int d = 0; d < a.ndim; d++) {
            dims[d] = (npy_intp)a.shape[d];
        }
        PyObject *arr = PyArray_New(&PyArray_Type, a.ndim, dims,
                                    npy_type(a.descr), NULL, (void *)a.data,
                                    0, NPY_ARRAY_C_CONTIGUOUS |
                                           NPY_ARRAY_ALIGNED,
                                    NULL);
        if (arr == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        Py_INCREF(self);
        if (PyArray_SetBaseObject((PyArrayObject *)arr, (PyObject *)self) <
            0) {
            Py_DECREF(arr);
            Py_DECREF(list);
            return NULL;
        }
        PyObject *cols = Py_None;
        if (a.column_names == NULL) {
            Py_INCREF(Py_None);
        } else {
            cols = PyTuple_New((Py_ssize_t)a.n_columns);
            for (size_t c = 0; c < a.n_columns; c++) {
                PyTuple_SET_ITEM(cols, (Py_ssize_t)c,
                                 PyUnicode_FromString(a.column_names[c]));
            }
        }
        PyObject *item = Py_BuildValue("(sNNs)", a.name, arr, cols, a.axes);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
    }
    return list;
}

/* {key: value} of every setting as it ran: numbers as float (integers as
 * int), lists as tuples, unset as None, text as str. */
static PyObject *Result_settings(ResultObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *d = PyDict_New();
    const size_t n = cubie_result_n_settings(self->r);
    for (size_t i = 0; d != NULL && i < n; i++) {
        cubie_setting s;
        if (cubie_result_setting(self->r, i, &s) != CUBIE_OK) {
            continue;
        }
        PyObject *v;
        switch (s.kind) {
        case CUBIE_SETTING_UNSET:
            v = Py_None;
            Py_INCREF(v);
            break;
        case CUBIE_SETTING_INTEGER:
            v = PyLong_FromDouble(s.number);
            break;
        case CUBIE_SETTING_NUMBER:
            v = PyFloat_FromDouble(s.number);
            break;
        case CUBIE_SETTING_BOOL:
            v = PyBool_FromLong(s.number != 0.0);
            break;
        case CUBIE_SETTING_LIST:
            v = PyTuple_New((Py_ssize_t)s.n_items);
            for (size_t k = 0; v != NULL && k < s.n_items; k++) {
                PyTuple_SET_ITEM(v, (Py_ssize_t)k,
                                 s.numbers != NULL
                                     ? PyFloat_FromDouble(s.numbers[k])
                                     : PyUnicode_FromString(s.names[k]));
            }
            break;
        default:
            v = PyUnicode_FromString(s.text != NULL ? s.text : "");
            break;
        }
        if (v == NULL || PyDict_SetItemString(d, s.key, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

static PyObject *Result_get(ResultObject *self, void *which)
{
    const cubie_result *r = self->r;
    switch ((int)(intptr_t)which) {
    case 0:
        return PyFloat_FromDouble(cubie_result_kernel_ms(r));
    case 1:
        return PyFloat_FromDouble(cubie_result_wall_ms(r));
    case 2:
        return PyFloat_FromDouble(cubie_result_copy_ms(r));
    case 3:
        return PyUnicode_FromString(cubie_result_backend(r));
    case 4:
        return PyUnicode_FromString(cubie_result_notes(r));
    case 5:
        return PyLong_FromSize_t(cubie_result_n_runs(r));
    case 6:
        return PyLong_FromLong(cubie_result_precision(r));
    default:
        return PyUnicode_FromString(cubie_result_spec(r));
    }
}

static PyMethodDef Result_methods[] = {
    {"arrays", (PyCFunction)Result_arrays, METH_NOARGS,
     "[(name, array, column_names, axes)] of every array, without a copy"},
    {"settings", (PyCFunction)Result_settings, METH_NOARGS,
     "every option as the run used it"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Result_getset[] = {
    {"kernel_ms", (getter)Result_get, NULL, "milliseconds in the kernel",
     (void *)0},
    {"wall_ms", (getter)Result_get, NULL, "milliseconds of the whole run",
     (void *)1},
    {"copy_ms", (getter)Result_get, NULL, "milliseconds of device copies",
     (void *)2},
    {"backend", (getter)Result_get, NULL, "host or cuda", (void *)3},
    {"notes", (getter)Result_get, NULL,
     "what the runs' note bits say, one line each", (void *)4},
    {"n_runs", (getter)Result_get, NULL, "number of runs", (void *)5},
    {"precision", (getter)Result_get, NULL, "4 or 8 (bytes)", (void *)6},
    {"spec", (getter)Result_get, NULL, "the spec's JSON text", (void *)7},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ResultType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cubie._core.Result",
    .tp_basicsize = sizeof(ResultObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "the outputs of one Solver.run",
    .tp_dealloc = (destructor)Result_dealloc,
    .tp_methods = Result_methods,
    .tp_getset = Result_getset,
};

/* ---- Solver --------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD cubie_solver *s;
    PyObject *system; /* the System it was compiled from (kept alive) */
} SolverObject;

static void Solver_dealloc(SolverObject *self)
{
    cubie_solver_free(self->s);
    Py_XDECREF(self->system);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Solver_init(SolverObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"system", "options", NULL};
    PyObject *system, *opts = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|O", kwlist, &SystemType,
                                     &system, &opts)) {
        return -1;
    }
    const cubie_system *sys = ((SystemObject *)system)->sys;
    if (sys == NULL) {
        PyErr_SetString(PyExc_ValueError, "System was not initialised");
        return -1;
    }
    cubie_options *o = NULL;
    cubie_error err = {0};
    cubie_status st = cubie_options_new(&o);
    if (st != CUBIE_OK) {
        PyErr_NoMemory();
        return -1;
    }
    if (set_options(o, opts) < 0) {
        cubie_options_free(o);
        return -1;
    }
    cubie_solver *s = NULL;
    Py_BEGIN_ALLOW_THREADS st = cubie_compile(sys, o, &s, &err);
    Py_END_ALLOW_THREADS cubie_options_free(o);
    if (st != CUBIE_OK) {
        raise_error(st, &err);
        return -1;
    }
    cubie_solver_free(self->s);
    self->s = s;
    Py_INCREF(system);
    Py_XSETREF(self->system, system);
    return 0;
}

/* A float64 array of shape (rows, *n) as C-contiguous, or NULL with an
 * exception naming what; *n == SIZE_MAX takes the array's columns. */
static PyArrayObject *rows_of(PyObject *obj, size_t rows, size_t *n,
                              const char *what)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(
        obj, NPY_FLOAT64, 2, 2, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED);
    if (a == NULL) {
        return NULL;
    }
    if (*n == SIZE_MAX) {
        *n = (size_t)PyArray_DIM(a, 1);
    }
    if ((size_t)PyArray_DIM(a, 0) != rows ||
        (size_t)PyArray_DIM(a, 1) != *n) {
        PyErr_Format(PyExc_ValueError,
                     "%s: shape (%zd, %zd), expected (%zu, %zu): one row per "
                     "variable, one column per run",
                     what, (Py_ssize_t)PyArray_DIM(a, 0),
                     (Py_ssize_t)PyArray_DIM(a, 1), rows, *n);
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

/* The batch of a run: inits (n_states, n) and params (n_params, n), and
 * the drivers' samples. NULL with an exception set. */
static cubie_batch *make_batch(const cubie_system *sys, PyObject *inits,
                               PyObject *params, PyObject *drivers,
                               PyObject *driver_times)
{
    const size_t ns = cubie_system_n_states(sys);
    const size_t np = cubie_system_n_parameters(sys);
    size_t n = SIZE_MAX; /* the run count: inits' second dimension */
    PyArrayObject *y = rows_of(inits, ns, &n, "inits");
    PyArrayObject *p = y != NULL ? rows_of(params, np, &n, "params") : NULL;
    if (p == NULL) {
        Py_XDECREF(y);
        return NULL;
    }
    cubie_error err = {0};
    cubie_batch *b = NULL;
    cubie_status st = cubie_batch_new(sys, n, &b, &err);
    const double *yd = PyArray_DATA(y), *pd = PyArray_DATA(p);
    for (size_t i = 0; st == CUBIE_OK && i < ns; i++) {
        st = cubie_batch_set_all(b, cubie_system_state_name(sys, i),
                                 yd + i * n, n, &err);
    }
    for (size_t i = 0; st == CUBIE_OK && i < np; i++) {
        st = cubie_batch_set_all(b, cubie_system_parameter_name(sys, i),
                                 pd + i * n, n, &err);
    }
    Py_DECREF(y);
    Py_DECREF(p);
    if (st == CUBIE_OK && drivers != NULL && drivers != Py_None) {
        if (!PyDict_Check(drivers)) {
            cubie_batch_free(b);
            PyErr_SetString(PyExc_TypeError,
                            "drivers must be a dict of name -> samples");
            return NULL;
        }
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (st == CUBIE_OK && PyDict_Next(drivers, &pos, &key, &value)) {
            PyArrayObject *v = (PyArrayObject *)PyArray_FROMANY(
                value, NPY_FLOAT64, 1, 1, NPY_ARRAY_C_CONTIGUOUS);
            const char *name = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key)
                                                    : NULL;
            if (v == NULL || name == NULL) {
                Py_XDECREF(v);
                cubie_batch_free(b);
                if (!PyErr_Occurred()) {
                    PyErr_SetString(PyExc_TypeError,
                                    "driver names must be str");
                }
                return NULL;
            }
            st = cubie_batch_set_driver(b, name, PyArray_DATA(v),
                                        (size_t)PyArray_DIM(v, 0), &err);
            Py_DECREF(v);
        }
    }
    if (st == CUBIE_OK && driver_times != NULL && driver_times != Py_None) {
        PyArrayObject *t = (PyArrayObject *)PyArray_FROMANY(
            driver_times, NPY_FLOAT64, 1, 1, NPY_ARRAY_C_CONTIGUOUS);
        if (t == NULL) {
            cubie_batch_free(b);
            return NULL;
        }
        st = cubie_batch_set_driver_times(b, PyArray_DATA(t),
                                          (size_t)PyArray_DIM(t, 0), &err);
        Py_DECREF(t);
    }
    if (st != CUBIE_OK) {
        cubie_batch_free(b);
        raise_error(st, &err);
        return NULL;
    }
    return b;
}

static PyObject *Solver_run(SolverObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"inits", "params", "options", "drivers",
                             "driver_times", NULL};
    PyObject *inits, *params, *opts = NULL, *drivers = NULL, *times = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOO", kwlist, &inits,
                                     &params, &opts, &drivers, &times)) {
        return NULL;
    }
    const cubie_system *sys = ((SystemObject *)self->system)->sys;
    cubie_batch *b = make_batch(sys, inits, params, drivers, times);
    if (b == NULL) {
        return NULL;
    }
    cubie_options *o = NULL;
    if (cubie_options_new(&o) != CUBIE_OK) {
        cubie_batch_free(b);
        return PyErr_NoMemory();
    }
    if (set_options(o, opts) < 0) {
        cubie_options_free(o);
        cubie_batch_free(b);
        return NULL;
    }
    cubie_error err = {0};
    cubie_result *r = NULL;
    cubie_status st;
    Py_BEGIN_ALLOW_THREADS st = cubie_run(self->s, b, o, &r, &err);
    Py_END_ALLOW_THREADS cubie_options_free(o);
    cubie_batch_free(b);
    if (st != CUBIE_OK) {
        return raise_error(st, &err);
    }
    ResultObject *res = PyObject_New(ResultObject, &ResultType);
    if (res == NULL) {
        cubie_result_free(r);
        return NULL;
    }
    res->r = r;
    return (PyObject *)res;
}

static PyObject *Solver_get(SolverObject *self, void *which)
{
    const cubie_solver *s = self->s;
    switch ((int)(intptr_t)which) {
    case 0:
        return PyUnicode_FromString(cubie_solver_backend(s));
    case 1:
        return PyUnicode_FromString(cubie_solver_backend_reason(s));
    case 2:
        return PyUnicode_FromString(cubie_solver_notes(s));
    case 3:
        return PyFloat_FromDouble(cubie_solver_generate_ms(s));
    case 4:
        return PyFloat_FromDouble(cubie_solver_build_ms(s));
    case 5:
        return PyUnicode_FromString(cubie_solver_source(s));
    default:
        Py_INCREF(self->system);
        return self->system;
    }
}

static PyMethodDef Solver_methods[] = {
    {"run", (PyCFunction)(void (*)(void))Solver_run,
     METH_VARARGS | METH_KEYWORDS,
     "run(inits, params, options=None, drivers=None, driver_times=None)"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Solver_getset[] = {
    {"backend", (getter)Solver_get, NULL, "host or cuda", (void *)0},
    {"backend_reason", (getter)Solver_get, NULL, "why that backend",
     (void *)1},
    {"notes", (getter)Solver_get, NULL, "what the compile worked around",
     (void *)2},
    {"generate_ms", (getter)Solver_get, NULL, "milliseconds generating",
     (void *)3},
    {"build_ms", (getter)Solver_get, NULL, "milliseconds compiling",
     (void *)4},
    {"source", (getter)Solver_get, NULL, "the generated CUDA C", (void *)5},
    {"system", (getter)Solver_get, NULL, "the System", (void *)6},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject SolverType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cubie._core.Solver",
    .tp_basicsize = sizeof(SolverObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Solver(system, options): a compiled kernel",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Solver_init,
    .tp_dealloc = (destructor)Solver_dealloc,
    .tp_methods = Solver_methods,
    .tp_getset = Solver_getset,
};

/* ---- the listing API ------------------------------------------------------ */

/* [(key, default, scope)] of every option. */
static PyObject *core_options(PyObject *mod, PyObject *unused)
{
    (void)mod, (void)unused;
    const size_t n = cubie_n_options();
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list != NULL && i < n; i++) {
        PyList_SET_ITEM(list, (Py_ssize_t)i,
                        Py_BuildValue("(sss)", cubie_option_key(i),
                                      cubie_option_default(i),
                                      cubie_option_scope(i)));
    }
    return list;
}

/* {bit: message} of the run status bits, failures and notes. */
static PyObject *core_status_bits(PyObject *mod, PyObject *unused)
{
    (void)mod, (void)unused;
    PyObject *d = PyDict_New();
    for (int b = 0; d != NULL && b < 31; b++) {
        const char *m = cubie_run_status_str(1 << b);
        if (strcmp(m, "unknown status bit") != 0) {
            PyObject *k = PyLong_FromLong(1L << b);
            PyObject *v = PyUnicode_FromString(m);
            PyDict_SetItem(d, k, v);
            Py_XDECREF(k);
            Py_XDECREF(v);
        }
    }
    return d;
}

static PyMethodDef core_methods[] = {
    {"options", core_options, METH_NOARGS,
     "[(key, default, scope)] of every option"},
    {"status_bits", core_status_bits, METH_NOARGS,
     "{bit: message} of the run status bits"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "cubie._core",
    "The cubie C library (runtime/cubie.h) for Python.", -1, core_methods,
    NULL, NULL, NULL, NULL};

static int add_error(PyObject *m, const char *name, PyObject *base,
                     PyObject **out)
{
    char full[64];
    snprintf(full, sizeof(full), "cubie.%s", name);
    *out = PyErr_NewException(full, base, NULL);
    if (*out == NULL) {
        return -1;
    }
    Py_INCREF(*out);
    return PyModule_AddObject(m, name, *out);
}

PyMODINIT_FUNC PyInit__core(void)
{
    import_array();
    if (PyType_Ready(&SystemType) < 0 || PyType_Ready(&ResultType) < 0 ||
        PyType_Ready(&SolverType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&core_module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&SystemType);
    PyModule_AddObject(m, "System", (PyObject *)&SystemType);
    Py_INCREF(&SolverType);
    PyModule_AddObject(m, "Solver", (PyObject *)&SolverType);
    Py_INCREF(&ResultType);
    PyModule_AddObject(m, "Result", (PyObject *)&ResultType);
    if (add_error(m, "CubieError", PyExc_Exception, &CubieError) < 0 ||
        add_error(m, "SpecError", CubieError, &SpecError) < 0 ||
        add_error(m, "ExpressionError", SpecError, &ExpressionError) < 0 ||
        add_error(m, "OptionError", CubieError, &OptionError) < 0 ||
        add_error(m, "CompileError", CubieError, &CompileError) < 0 ||
        add_error(m, "BackendError", CubieError, &BackendError) < 0 ||
        add_error(m, "BatchError", CubieError, &BatchError) < 0 ||
        add_error(m, "RunError", CubieError, &RunError) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddIntConstant(m, "RUN_FAILED_MASK", CUBIE_RUN_FAILED_MASK);
    return m;
}
