/* cubie_compile as a table of named passes over one solver, each with the
 * CUBIE_DEBUG letter that prints what it made:
 *   parse -> resolve (S) -> register -> freeze (L) -> emit (E) -> check
 *   -> backend (B) -> build -> load
 * The first six are the generator's (gen/generate.h); the last three pick
 * the backend, compile the source (cc or NVRTC) and load the result. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One compile: the solver it fills, the caller's system and options. */
typedef struct {
    struct cubie_solver *s;
    const struct cubie_system *sys;
    const struct cubie_options *opt;
    cubie_error *err;
} cb_compile;

typedef struct {
    const char *name;
    char debug; /* CUBIE_DEBUG letter that dumps after it, or 0 */
    cubie_status (*run)(cb_compile *c);
} cb_pass;

/* ---- the generator's passes ---------------------------------------------- */

/* The solver keeps its own copies of the system (parsed again from its
 * spec) and the options: the caller may free theirs. */
static cubie_status pass_parse(cb_compile *c)
{
    struct cubie_solver *s = c->s;
    CB_TRY(cb_spec_parse(c->sys->json, strlen(c->sys->json), &s->sys,
                         c->err));
    if (cb_options_copy(c->opt, &s->opt) != CUBIE_OK) {
        return cb_fail(c->err, CUBIE_E_NOMEM, NULL, 0,
                       "cannot copy the options");
    }
    return cb_gen_new(s->sys, s->opt, c->err, &s->gen);
}

static cubie_status pass_resolve(cb_compile *c)
{
    return cb_gen_resolve(c->s->gen);
}

static cubie_status pass_register(cb_compile *c)
{
    return cb_gen_register(c->s->gen);
}

static cubie_status pass_freeze(cb_compile *c)
{
    return cb_gen_freeze(c->s->gen);
}

static cubie_status pass_emit(cb_compile *c)
{
    return cb_gen_emit(c->s->gen);
}

/* After the check the generator's work is kept and its state let go. */
static cubie_status pass_check(cb_compile *c)
{
    struct cubie_solver *s = c->s;
    cubie_error *err = c->err;
    CB_TRY(cb_gen_check(s->gen));
    s->out.info = *cb_gen_info(s->gen);
    s->out.source = cb_gen_take_source(s->gen);
    s->out.layout = cb_gen_take_layout(s->gen);
    s->out.stack = cb_gen_take_stack(s->gen);
    s->out.locations = cb_gen_locations(s->gen);
    cb_gen_free(s->gen);
    s->gen = NULL;
    if (s->out.source == NULL || s->out.layout == NULL ||
        s->out.stack == NULL || s->out.locations == NULL) {
        return cb_fail_nomem(err);
    }
    return CUBIE_OK;
}

/* ---- the backend's passes -------------------------------------------------- */

/* auto: cuda when a device is usable, else host; the reason is kept for
 * the result and the manifest. */
static cubie_status pass_backend(cb_compile *c)
{
    struct cubie_solver *s = c->s;
    cubie_error *err = c->err;
    const cb_choice want = cb_opt_choice(s->opt, CB_OPT_BACKEND);
    const char *wanted = cb_opt_text(s->opt, CB_OPT_BACKEND);
    char why[512] = "";
    bool usable = want != CB_BACKEND_HOST && cb_cuda_usable(why, sizeof(why));
    if (want == CB_BACKEND_CUDA && !usable) {
        return cb_fail(err, CUBIE_E_BACKEND, "backend", 0,
                       "backend=cuda: %s", why);
    }
    if (usable) {
        snprintf(s->backend, sizeof(s->backend), "cuda");
        snprintf(s->reason, sizeof(s->reason),
                 "backend=%s: a CUDA device is usable", wanted);
        return cb_device_open(0, &s->device, err);
    }
    snprintf(s->backend, sizeof(s->backend), "host");
    if (want == CB_BACKEND_HOST) {
        snprintf(s->reason, sizeof(s->reason), "backend=host requested");
    } else {
        snprintf(s->reason, sizeof(s->reason),
                 "backend=auto: %s; using the host backend", why);
    }
    return CUBIE_OK;
}

cb_nvrtc_opts cb_solver_nvrtc_opts(const struct cubie_options *o,
                                   const char *arch)
{
    cb_nvrtc_opts n = {
        .arch = arch,
        .fast_compile = cb_opt_choice(o, CB_OPT_OPT_LEVEL) ==
                        CB_OPT_LEVEL_FAST_COMPILE,
        .lineinfo = cb_opt_num(o, CB_OPT_LINEINFO) != 0.0,
        .max_registers = (int)cb_opt_num(o, CB_OPT_MAX_REGISTERS),
        .use_cache = cb_opt_num(o, CB_OPT_CACHE) != 0.0};
    return n;
}

static size_t shared_bytes_per_run(const cb_kernel_info *k)
{
    return k->shared_stride * (k->is_double ? 8 : 4) + k->shared_i_stride * 4;
}

/* NVRTC for the device: its own architecture as CUBIN, or (a device newer
 * than NVRTC) PTX for the newest architecture NVRTC knows. */
static cubie_status build_cuda(struct cubie_solver *s, cubie_error *err)
{
    const size_t per_run = shared_bytes_per_run(&s->out.info);
    const int max_shared = cb_device_max_shared(s->device);
    if (per_run > (size_t)max_shared) {
        return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                       "one run needs %zu bytes of shared memory; the "
                       "device allows %d per block: move buffers to local "
                       "memory (<buffer>_location=local)",
                       per_run, max_shared);
    }
    const int cc = cb_device_arch(s->device);
    const char *want = cb_opt_text(s->opt, CB_OPT_ARCH);
    if (want[0] != '\0') {
        snprintf(s->arch, sizeof(s->arch), "%s", want);
    } else {
        snprintf(s->arch, sizeof(s->arch), "sm_%d", cc);
    }
    cb_nvrtc_opts o = cb_solver_nvrtc_opts(s->opt, s->arch);
    cubie_error tmp = {0};
    cubie_status st = cb_nvrtc_build(s->out.source, &o, &s->artifact, &tmp);
    if (st != CUBIE_OK && strncmp(s->arch, "sm_", 3) == 0) {
        cubie_error_clear(&tmp);
        const int best = cb_nvrtc_best_arch(cc);
        if (best == 0) {
            return cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                           "NVRTC %s cannot build for sm_%d or any older "
                           "architecture", cb_nvrtc_version(), cc);
        }
        snprintf(s->arch, sizeof(s->arch), "compute_%d", best);
        o.arch = s->arch;
        return cb_nvrtc_build(s->out.source, &o, &s->artifact, err);
    }
    if (st != CUBIE_OK) {
        if (err != NULL && err->status == CUBIE_OK) {
            *err = tmp;
        } else {
            cubie_error_clear(&tmp);
        }
    }
    return st;
}

/* What a pass noticed and worked around (a cache entry rebuilt), kept
 * for cubie_solver_notes; one per line. */
static void add_note(struct cubie_solver *s, const char *text)
{
    if (text[0] == '\0' || strstr(s->notes, text) != NULL) {
        return;
    }
    const size_t used = strlen(s->notes);
    snprintf(s->notes + used, sizeof(s->notes) - used, "%s\n", text);
}

static cubie_status pass_build(cb_compile *c)
{
    struct cubie_solver *s = c->s;
    cubie_error *err = c->err;
    cubie_status st;
    if (s->device != NULL) {
        st = build_cuda(s, err);
        add_note(s, s->artifact.note);
    } else {
        st = cb_host_build(s->out.source,
                           cb_opt_num(s->opt, CB_OPT_CACHE) != 0.0,
                           &s->host, err);
        add_note(s, s->host.note);
    }
    return st;
}

static cubie_status pass_load(cb_compile *c)
{
    struct cubie_solver *s = c->s;
    cubie_error *err = c->err;
    if (s->device == NULL) {
        cubie_status st = cb_host_load(s->out.source, &s->host, err);
        add_note(s, s->host.note);
        return st;
    }
    cubie_status st = cb_module_load(s->device, s->artifact.image,
                                     shared_bytes_per_run(&s->out.info),
                                     &s->module, err);
    cb_artifact_free(&s->artifact);
    return st;
}

static const cb_pass passes[] = {
    {"parse", 0, pass_parse},
    {"resolve", 'S', pass_resolve},
    {"register", 0, pass_register},
    {"freeze", 'L', pass_freeze},
    {"emit", 'E', pass_emit},
    {"check", 0, pass_check},
    {"backend", 'B', pass_backend},
    {"build", 0, pass_build},
    {"load", 0, pass_load},
};

/* CUBIE_DEBUG=SLEB: after the pass that made it, print the resolved stack
 * (S), the layout table (L), the generated source (E) or the backend (B)
 * to stderr. Only on this explicit request does the library write
 * anywhere. */
static void debug_dump(const struct cubie_solver *s, char letter)
{
    const char *mask = getenv("CUBIE_DEBUG");
    if (mask == NULL || strchr(mask, letter) == NULL) {
        return;
    }
    switch (letter) {
    case 'S':
        fprintf(stderr, "cubie: stack:\n%s", cb_gen_stack(s->gen));
        break;
    case 'L':
        fprintf(stderr, "cubie: layout:\n%s", cb_gen_layout(s->gen));
        break;
    case 'E':
        fprintf(stderr, "cubie: source:\n%s", cb_gen_source(s->gen));
        break;
    case 'B':
        fprintf(stderr, "cubie: backend: %s (%s)\n", s->backend, s->reason);
        break;
    default:
        break;
    }
}

cubie_status cubie_compile(const struct cubie_system *sys,
                           const struct cubie_options *opt,
                           struct cubie_solver **out, cubie_error *err)
{
    if (sys == NULL || opt == NULL || out == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_compile: NULL argument");
    }
    *out = NULL;
    struct cubie_solver *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return cb_fail_nomem(err);
    }
    s->host.fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    cb_compile c = {.s = s, .sys = sys, .opt = opt, .err = err};
    cubie_status st = CUBIE_OK;
    for (size_t i = 0; st == CUBIE_OK && i < sizeof(passes) / sizeof(*passes);
         i++) {
        const double t = cb_now_ms();
        st = passes[i].run(&c);
        const double ms = cb_now_ms() - t;
        if (strcmp(passes[i].name, "build") == 0 ||
            strcmp(passes[i].name, "load") == 0) {
            s->build_ms += ms;
        } else if (strcmp(passes[i].name, "backend") != 0 &&
                   strcmp(passes[i].name, "parse") != 0) {
            s->generate_ms += ms;
        }
        if (st == CUBIE_OK && passes[i].debug != 0) {
            debug_dump(s, passes[i].debug);
        }
    }
    if (st != CUBIE_OK) {
        cubie_solver_free(s);
        return st;
    }
    *out = s;
    return CUBIE_OK;
}

cubie_status cubie_generate(const struct cubie_system *sys,
                            const struct cubie_options *opt, char **source,
                            cubie_error *err)
{
    if (sys == NULL || opt == NULL || source == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_generate: NULL argument");
    }
    cb_generated g;
    CB_TRY(cb_generate(sys, opt, &g, err));
    *source = g.source;
    g.source = NULL;
    cb_generated_free(&g);
    return CUBIE_OK;
}

void cubie_solver_free(struct cubie_solver *s)
{
    if (s == NULL) {
        return;
    }
    cb_host_unload(&s->host);
    cb_device_buffers_free(s->module, &s->dev);
    cb_workers_free(s->workers);
    cb_module_unload(s->module);
    cb_artifact_free(&s->artifact);
    cb_device_close(s->device);
    cb_gen_free(s->gen);
    cb_generated_free(&s->out);
    cb_system_free(s->sys);
    cb_options_free(s->opt);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

const char *cubie_solver_source(const struct cubie_solver *s)
{
    return s ? s->out.source : NULL;
}

const char *cubie_solver_backend(const struct cubie_solver *s)
{
    return s ? s->backend : NULL;
}

cubie_status cubie_solver_occupancy(const struct cubie_solver *s,
                                    int blocksize, double *occupancy,
                                    cubie_error *err)
{
    if (s == NULL || occupancy == NULL || blocksize <= 0) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_solver_occupancy: bad argument");
    }
    if (s->module == NULL) {
        return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                       "occupancy is a property of the cuda backend; this "
                       "solver runs on %s", s->backend);
    }
    int blocks = 0, threads = 0;
    cubie_status st = cb_module_occupancy(s->module, blocksize, &blocks,
                                          &threads, err);
    *occupancy = st == CUBIE_OK && threads > 0
                     ? (double)(blocks * blocksize) / threads
                     : 0.0;
    return st;
}

const char *cubie_solver_arch(const struct cubie_solver *s)
{
    return s ? s->arch : NULL;
}

const char *cubie_solver_backend_reason(const struct cubie_solver *s)
{
    return s ? s->reason : NULL;
}

const char *cubie_solver_notes(const struct cubie_solver *s)
{
    return s ? s->notes : NULL;
}

double cubie_solver_generate_ms(const struct cubie_solver *s)
{
    return s ? s->generate_ms : 0.0;
}

double cubie_solver_build_ms(const struct cubie_solver *s)
{
    return s ? s->build_ms : 0.0;
}

const char *cubie_solver_layout(const struct cubie_solver *s)
{
    return s ? s->out.layout : NULL;
}

/* ---- NVRTC without a device -------------------------------------------- */

cubie_status cubie_build_cuda(const struct cubie_system *sys,
                              const struct cubie_options *opt,
                              const char *arch, char **image, size_t *len,
                              cubie_kernel_resources *res, cubie_error *err)
{
    if (sys == NULL || opt == NULL || arch == NULL || res == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0,
                       "cubie_build_cuda: NULL argument");
    }
    memset(res, 0, sizeof(*res));
    if (image != NULL) {
        *image = NULL;
    }
    cb_generated g;
    CB_TRY(cb_generate(sys, opt, &g, err));
    cb_nvrtc_opts o = cb_solver_nvrtc_opts(opt, arch);
    cb_artifact a;
    cubie_status st = cb_nvrtc_build(g.source, &o, &a, err);
    if (st == CUBIE_OK) {
        res->registers = a.res.registers;
        res->spill_stores = a.res.spill_stores;
        res->spill_loads = a.res.spill_loads;
        res->stack = a.res.stack;
        res->static_smem = a.res.smem;
        res->found = a.res.found;
        res->cache_hit = a.cache_hit;
        res->compile_ms = a.ms;
        res->shared_per_run = shared_bytes_per_run(&g.info);
        if (image != NULL) {
            *image = a.image;
            *len = a.len;
            a.image = NULL;
        }
        cb_artifact_free(&a);
    }
    cb_generated_free(&g);
    return st;
}

cubie_status cubie_devices(char **text, cubie_error *err)
{
    if (text == NULL) {
        return cb_fail(err, CUBIE_E_ARG, NULL, 0, "cubie_devices: NULL");
    }
    *text = malloc(4096);
    if (*text == NULL) {
        return cb_fail_nomem(err);
    }
    cubie_status st = cb_cuda_describe(*text, 4096, err);
    if (st != CUBIE_OK) {
        free(*text);
        *text = NULL;
    }
    return st;
}
