/* cubie: the command-line front end.
 *   cubie gen SPEC [--set key=value]... [-o FILE.cu]
 *   cubie run SPEC [--set key=value]... [--runs RUNS.csv]
 *                  [--grid name=start:stop:count]... [--out DIR]
 *   cubie version
 * Exit codes: 0 success, 1 usage, 2 bad input (spec, option, runs),
 * 3 compile or backend failure, 4 file error. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "cubie.h"

static void usage(FILE *f)
{
    fputs("usage:\n"
          "  cubie gen SPEC [--set key=value]... [-o FILE.cu]\n"
          "  cubie run SPEC [--set key=value]... [--runs RUNS.csv]\n"
          "                 [--grid name=start:stop:count]... [--out DIR]\n"
          "  cubie compile SPEC [--set key=value]... --arch sm_XX|compute_XX "
          "[-o FILE]\n"
          "  cubie devices\n"
          "  cubie version\n",
          f);
}

static int exit_code(cubie_status st)
{
    switch (st) {
    case CUBIE_OK:
        return 0;
    case CUBIE_E_JSON:
    case CUBIE_E_SPEC:
    case CUBIE_E_EXPR:
    case CUBIE_E_OPTION:
    case CUBIE_E_BATCH:
    case CUBIE_E_ARG:
        return 2;
    case CUBIE_E_IO:
        return 4;
    default:
        return 3;
    }
}

static int report(cubie_status st, cubie_error *err)
{
    fprintf(stderr, "cubie: error: %s\n", err->message[0] ? err->message
                                                          : cubie_status_str(st));
    if (err->log != NULL && err->log[0]) {
        fprintf(stderr, "--- compiler log ---\n%s\n", err->log);
    }
    int code = exit_code(st);
    cubie_error_clear(err);
    return code;
}

typedef struct {
    const char *spec;
    const char *out;
    const char *runs;
    const char *grid[16];
    int n_grid;
    cubie_options *opt;
} args;

static int parse_args(int argc, char **argv, bool is_run, args *a,
                      cubie_error *err)
{
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(s, "--set") == 0 && next) {
            cubie_status st = cubie_options_set_pair(a->opt, next, err);
            if (st != CUBIE_OK) {
                return report(st, err);
            }
            i++;
        } else if (!is_run && strcmp(s, "-o") == 0 && next) {
            a->out = next;
            i++;
        } else if (is_run && strcmp(s, "--out") == 0 && next) {
            /* "out/" names the folder "out". */
            size_t len = strlen(next);
            while (len > 1 && argv[i + 1][len - 1] == '/') {
                argv[i + 1][--len] = '\0';
            }
            a->out = next;
            i++;
        } else if (is_run && strcmp(s, "--runs") == 0 && next) {
            a->runs = next;
            i++;
        } else if (is_run && strcmp(s, "--grid") == 0 && next) {
            if (a->n_grid == 16) {
                fprintf(stderr, "cubie: at most 16 --grid axes\n");
                return 1;
            }
            a->grid[a->n_grid++] = next;
            i++;
        } else if (s[0] == '-') {
            fprintf(stderr, "cubie: unknown or incomplete argument '%s'\n", s);
            usage(stderr);
            return 1;
        } else if (a->spec == NULL) {
            a->spec = s;
        } else {
            fprintf(stderr, "cubie: unexpected argument '%s'\n", s);
            usage(stderr);
            return 1;
        }
    }
    if (a->spec == NULL) {
        fprintf(stderr, "cubie: missing SPEC\n");
        usage(stderr);
        return 1;
    }
    if (is_run && a->runs != NULL && a->n_grid > 0) {
        fprintf(stderr, "cubie: --runs and --grid cannot be combined\n");
        return 1;
    }
    return 0;
}

static int write_text(const char *path, const char *text, cubie_error *err)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fputs(text, f) == EOF) {
        if (f) {
            fclose(f);
        }
        fprintf(stderr, "cubie: error: cannot write %s: %s\n", path,
                strerror(errno));
        cubie_error_clear(err);
        return 4;
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "cubie: error: cannot write %s\n", path);
        return 4;
    }
    return 0;
}

static int cmd_gen(int argc, char **argv)
{
    cubie_error err = {0};
    args a = {0};
    if (cubie_options_new(&a.opt) != CUBIE_OK) {
        return 3;
    }
    int rc = parse_args(argc, argv, false, &a, &err);
    cubie_system *sys = NULL;
    char *src = NULL;
    if (rc == 0) {
        cubie_status st = cubie_system_load(a.spec, &sys, &err);
        if (st == CUBIE_OK) {
            st = cubie_generate(sys, a.opt, &src, &err);
        }
        rc = st == CUBIE_OK ? 0 : report(st, &err);
    }
    if (rc == 0) {
        if (a.out != NULL) {
            rc = write_text(a.out, src, &err);
        } else {
            fputs(src, stdout);
        }
    }
    free(src);
    cubie_system_free(sys);
    cubie_options_free(a.opt);
    return rc;
}

/* name=start:stop:count */
static int parse_grid(const char *spec, char *name, size_t n, double *start,
                      double *stop, size_t *count)
{
    const char *eq = strchr(spec, '=');
    if (eq == NULL || (size_t)(eq - spec) >= n || eq == spec) {
        return -1;
    }
    memcpy(name, spec, (size_t)(eq - spec));
    name[eq - spec] = '\0';
    char *end;
    const char *from = eq + 1;
    *start = strtod(from, &end);
    if (end == from || *end != ':') {
        return -1;
    }
    from = end + 1;
    *stop = strtod(from, &end);
    if (end == from || *end != ':') {
        return -1;
    }
    const char *cs = end + 1;
    long c = strtol(cs, &end, 10);
    if (*end != '\0' || end == cs || c < 1) {
        return -1;
    }
    *count = (size_t)c;
    return 0;
}

static const char *const option_keys[] = {
    "algorithm", "precision", "step_controller", "backend", "output_types",
    "t0", "duration", "settling_time", "save_every", "dt", "dt_min",
    "dt_max", "atol", "rtol", "kp", "ki", "kd", "safety", "min_gain",
    "max_gain", "deadband_min", "deadband_max", "max_steps",
    "nan_error_trajectories", NULL};

static cJSON *manifest(const cubie_solver *s, const cubie_result *r,
                       const cubie_options *opt, const char *spec)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "cubie_version", cubie_version());
    cJSON_AddStringToObject(m, "spec", spec);
    cJSON_AddStringToObject(m, "backend", cubie_result_backend(r));
    cJSON_AddStringToObject(m, "backend_reason",
                            cubie_solver_backend_reason(s));
    cJSON *vars = cJSON_AddArrayToObject(m, "state_names");
    for (size_t v = 0; v < cubie_result_n_vars(r); v++) {
        cJSON_AddItemToArray(vars,
                             cJSON_CreateString(cubie_result_var_name(r, v)));
    }
    /* Every array of the result alike: its file, type, shape and axes,
     * and the names of its columns. */
    cJSON *arrays = cJSON_AddObjectToObject(m, "arrays");
    for (size_t i = 0; i < cubie_result_n_arrays(r); i++) {
        cubie_array ar;
        if (cubie_result_array(r, i, &ar) != CUBIE_OK) {
            continue;
        }
        char file[96], key[96];
        double shape[3];
        for (int d = 0; d < ar.ndim; d++) {
            shape[d] = (double)ar.shape[d];
        }
        snprintf(file, sizeof(file), "%s.npy", ar.name);
        cJSON *a = cJSON_AddObjectToObject(arrays, ar.name);
        cJSON_AddStringToObject(a, "file", file);
        cJSON_AddStringToObject(a, "dtype",
                                strcmp(ar.descr, "<f8") == 0   ? "float64"
                                : strcmp(ar.descr, "<f4") == 0 ? "float32"
                                                               : "int32");
        cJSON_AddItemToObject(a, "shape",
                              cJSON_CreateDoubleArray(shape, ar.ndim));
        cJSON_AddStringToObject(a, "axes", ar.axes);
        if (ar.column_names != NULL && strcmp(ar.name, "state") != 0) {
            snprintf(key, sizeof(key), "%s_names", ar.column);
            cJSON *names = cJSON_AddArrayToObject(m, key);
            for (size_t k = 0; k < ar.n_columns; k++) {
                cJSON_AddItemToArray(names,
                                     cJSON_CreateString(ar.column_names[k]));
            }
        }
    }
    cJSON *set = cJSON_AddObjectToObject(m, "settings");
    for (int i = 0; option_keys[i]; i++) {
        const char *v = cubie_options_get(opt, option_keys[i]);
        cJSON_AddStringToObject(set, option_keys[i], v && *v ? v : "default");
    }
    size_t failed = 0;
    for (size_t i = 0; i < cubie_result_n_runs(r); i++) {
        failed += cubie_result_status(r)[i] != 0;
    }
    cJSON_AddNumberToObject(m, "failed_runs", (double)failed);
    cJSON *t = cJSON_AddObjectToObject(m, "timing_ms");
    cJSON_AddNumberToObject(t, "generate", cubie_solver_generate_ms(s));
    cJSON_AddNumberToObject(t, "build", cubie_solver_build_ms(s));
    cJSON_AddNumberToObject(t, "kernel", cubie_result_kernel_ms(r));
    cJSON_AddNumberToObject(t, "copies", cubie_result_copy_ms(r));
    cJSON_AddNumberToObject(t, "run", cubie_result_wall_ms(r));
    return m;
}

/* Whether name is a file cubie writes into an output folder. */
static bool is_ours(const char *name)
{
    if (strcmp(name, "manifest.json") == 0 || strcmp(name, "kernel.cu") == 0) {
        return true;
    }
    for (const char *const *a = cubie_array_names(); *a != NULL; a++) {
        size_t n = strlen(*a);
        if (strncmp(name, *a, n) == 0 && strcmp(name + n, ".npy") == 0) {
            return true;
        }
    }
    return false;
}

static void remove_dir(const char *dir)
{
    char p[1200];
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (is_ours(e->d_name)) {
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(dir);
}

/* An earlier output of cubie: a manifest, and only files cubie writes. */
static bool is_cubie_output(const char *dir)
{
    char p[1200];
    snprintf(p, sizeof(p), "%s/manifest.json", dir);
    if (access(p, F_OK) != 0) {
        return false;
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        return false;
    }
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        ok = is_ours(e->d_name);
    }
    closedir(d);
    return ok;
}

/* Write every output into a fresh sibling folder, then move it into
 * place, so DIR is never left half-written. */
static int write_outputs(const char *dir, const cubie_solver *s,
                         const cubie_result *r, const cubie_options *opt,
                         const char *spec)
{
    cubie_error err = {0};
    char tmp[1100], p[1200];
    snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", dir);
    if (mkdtemp(tmp) == NULL) {
        fprintf(stderr, "cubie: error: cannot create %s: %s\n", tmp,
                strerror(errno));
        return 4;
    }
    cubie_status st = CUBIE_OK;
    for (size_t i = 0; st == CUBIE_OK && i < cubie_result_n_arrays(r); i++) {
        cubie_array ar;
        st = cubie_result_array(r, i, &ar);
        if (st == CUBIE_OK) {
            snprintf(p, sizeof(p), "%s/%s.npy", tmp, ar.name);
            st = cubie_write_npy(p, ar.descr, ar.shape, ar.ndim, ar.data,
                                 ar.elem_size, &err);
        }
    }
    int rc = st == CUBIE_OK ? 0 : report(st, &err);
    if (rc == 0) {
        snprintf(p, sizeof(p), "%s/kernel.cu", tmp);
        rc = write_text(p, cubie_solver_source(s), &err);
    }
    if (rc == 0) {
        cJSON *m = manifest(s, r, opt, spec);
        char *text = m ? cJSON_Print(m) : NULL;
        snprintf(p, sizeof(p), "%s/manifest.json", tmp);
        rc = text ? write_text(p, text, &err) : 3;
        cJSON_free(text);
        cJSON_Delete(m);
    }
    if (rc == 0 && rename(tmp, dir) != 0) {
        /* DIR exists: replace it only if it is an earlier cubie output
         * holding nothing of the user's; park it, move the new one in,
         * then delete the old one. */
        if (!is_cubie_output(dir)) {
            fprintf(stderr, "cubie: error: %s exists and is not a cubie "
                            "output folder (or holds other files); choose "
                            "another --out\n", dir);
            rc = 4;
        } else {
            char old[1100];
            snprintf(old, sizeof(old), "%s.old-XXXXXX", dir);
            if (mkdtemp(old) == NULL || rmdir(old) != 0 ||
                rename(dir, old) != 0) {
                fprintf(stderr, "cubie: error: cannot replace %s: %s\n",
                        dir, strerror(errno));
                rc = 4;
            } else if (rename(tmp, dir) != 0) {
                fprintf(stderr, "cubie: error: cannot move %s to %s: %s\n",
                        tmp, dir, strerror(errno));
                rename(old, dir); /* put the old results back */
                rc = 4;
            } else {
                remove_dir(old);
            }
        }
    }
    if (rc != 0) {
        remove_dir(tmp);
    }
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    cubie_error err = {0};
    args a = {0};
    if (cubie_options_new(&a.opt) != CUBIE_OK) {
        return 3;
    }
    int rc = parse_args(argc, argv, true, &a, &err);
    cubie_system *sys = NULL;
    cubie_batch *batch = NULL;
    cubie_solver *s = NULL;
    cubie_result *r = NULL;
    cubie_status st = CUBIE_OK;
    if (rc != 0) {
        goto done;
    }
    st = cubie_system_load(a.spec, &sys, &err);
    if (st == CUBIE_OK) {
        if (a.runs != NULL) {
            st = cubie_batch_from_csv(sys, a.runs, &batch, &err);
        } else if (a.n_grid > 0) {
            char names[16][128];
            const char *np[16];
            double start[16], stop[16];
            size_t count[16];
            for (int i = 0; i < a.n_grid; i++) {
                if (parse_grid(a.grid[i], names[i], sizeof(names[i]),
                               &start[i], &stop[i], &count[i]) != 0) {
                    fprintf(stderr, "cubie: error: --grid '%s': expected "
                                    "name=start:stop:count with count >= 1\n",
                            a.grid[i]);
                    rc = 2;
                    goto done;
                }
                np[i] = names[i];
            }
            st = cubie_batch_grid(sys, (size_t)a.n_grid, np, start, stop,
                                  count, &batch, &err);
        } else {
            st = cubie_batch_new(sys, 1, &batch, &err);
        }
    }
    if (st == CUBIE_OK) {
        st = cubie_compile(sys, a.opt, &s, &err);
    }
    if (st == CUBIE_OK) {
        st = cubie_run(s, batch, NULL, &r, &err);
    }
    if (st != CUBIE_OK) {
        rc = report(st, &err);
        goto done;
    }
    size_t failed = 0;
    for (size_t i = 0; i < cubie_result_n_runs(r); i++) {
        failed += cubie_result_status(r)[i] != 0;
    }
    printf("%s: %zu runs x %zu saves x %zu states on %s, kernel %.1f ms "
           "(generate %.1f ms, build %.1f ms), %zu failed\n",
           cubie_system_name(sys), cubie_result_n_runs(r),
           cubie_result_n_saves(r), cubie_result_n_vars(r),
           cubie_result_backend(r), cubie_result_kernel_ms(r),
           cubie_solver_generate_ms(s), cubie_solver_build_ms(s), failed);
    /* The final row at a glance: each variable's range over the runs. */
    size_t last = cubie_result_n_saves(r) - 1;
    printf("at t = %g over %zu runs:", cubie_result_time(r)[last],
           cubie_result_n_runs(r));
    for (size_t v = 0; v < cubie_result_n_vars(r); v++) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t run = 0; run < cubie_result_n_runs(r); run++) {
            double x = cubie_result_state(r, run, last, v);
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
        printf(" %s in [%.6g, %.6g]%s", cubie_result_var_name(r, v), lo, hi,
               v + 1 < cubie_result_n_vars(r) ? "," : "\n");
    }
    if (a.out != NULL) {
        rc = write_outputs(a.out, s, r, a.opt, a.spec);
        if (rc == 0) {
            printf("wrote %s:", a.out);
            for (size_t i = 0; i < cubie_result_n_arrays(r); i++) {
                cubie_array ar;
                if (cubie_result_array(r, i, &ar) == CUBIE_OK) {
                    printf(" %s.npy,", ar.name);
                }
            }
            printf(" manifest.json, kernel.cu\n");
        }
    } else {
        printf("run 0 at t = %g:", cubie_result_time(r)[last]);
        for (size_t v = 0; v < cubie_result_n_vars(r); v++) {
            printf(" %s = %.9g", cubie_result_var_name(r, v),
                   cubie_result_state(r, 0, last, v));
        }
        printf("\n");
    }
done:
    cubie_result_free(r);
    cubie_solver_free(s);
    cubie_batch_free(batch);
    cubie_system_free(sys);
    cubie_options_free(a.opt);
    return rc;
}

/* NVRTC without a device: build, write the artifact, print resources. */
static int cmd_compile(int argc, char **argv)
{
    cubie_error err = {0};
    args a = {0};
    const char *arch = NULL;
    /* Take --arch out before the common parser sees the rest. */
    for (int i = 2; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--arch") == 0) {
            arch = argv[i + 1];
            for (int j = i; j + 2 < argc; j++) {
                argv[j] = argv[j + 2];
            }
            argc -= 2;
            break;
        }
    }
    if (arch == NULL) {
        fprintf(stderr, "cubie: compile needs --arch sm_XX or compute_XX\n");
        usage(stderr);
        return 1;
    }
    if (cubie_options_new(&a.opt) != CUBIE_OK) {
        return 3;
    }
    int rc = parse_args(argc, argv, false, &a, &err);
    cubie_system *sys = NULL;
    char *image = NULL;
    size_t len = 0;
    cubie_kernel_resources res;
    if (rc == 0) {
        cubie_status st = cubie_options_set(a.opt, "arch", arch, &err);
        if (st == CUBIE_OK) {
            st = cubie_system_load(a.spec, &sys, &err);
        }
        if (st == CUBIE_OK) {
            st = cubie_build_cuda(sys, a.opt, arch, &image, &len, &res, &err);
        }
        rc = st == CUBIE_OK ? 0 : report(st, &err);
    }
    if (rc == 0) {
        printf("%s: %s %s, %.1f ms%s: %d registers, %d bytes spill stores, "
               "%d bytes spill loads, %d bytes stack, %d bytes static shared, "
               "%zu bytes dynamic shared per run\n",
               cubie_system_name(sys), arch,
               strncmp(arch, "sm_", 3) == 0 ? "CUBIN" : "PTX", res.compile_ms,
               res.cache_hit ? " (cached)" : "", res.registers,
               res.spill_stores, res.spill_loads, res.stack, res.static_smem,
               res.shared_per_run);
        if (a.out != NULL) {
            FILE *f = fopen(a.out, "wb");
            if (f == NULL || fwrite(image, 1, len, f) != len) {
                fprintf(stderr, "cubie: error: cannot write %s\n", a.out);
                rc = 4;
            }
            if (f != NULL && fclose(f) != 0) {
                rc = 4;
            }
        }
    }
    free(image);
    cubie_system_free(sys);
    cubie_options_free(a.opt);
    return rc;
}

static int cmd_devices(void)
{
    cubie_error err = {0};
    char *text = NULL;
    cubie_status st = cubie_devices(&text, &err);
    if (st != CUBIE_OK) {
        printf("no usable CUDA device: %s\n", err.message);
        cubie_error_clear(&err);
        return 3;
    }
    fputs(text, stdout);
    free(text);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (strcmp(argv[1], "gen") == 0) {
        return cmd_gen(argc, argv);
    }
    if (strcmp(argv[1], "run") == 0) {
        return cmd_run(argc, argv);
    }
    if (strcmp(argv[1], "compile") == 0) {
        return cmd_compile(argc, argv);
    }
    if (strcmp(argv[1], "devices") == 0) {
        return cmd_devices();
    }
    if (strcmp(argv[1], "version") == 0) {
        printf("cubie %s\n", cubie_version());
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "cubie: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 1;
}
