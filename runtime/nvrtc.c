/* NVRTC: compile a generated kernel to PTX or CUBIN. Used by the codegen
 * tests (every method must compile for sm_90) and, with the driver API,
 * by the cuda backend. Without the toolkit at build time every call says
 * so with CUBIE_E_BACKEND. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CUBIE_HAVE_NVRTC
#include <nvrtc.h>

bool cb_nvrtc_available(void)
{
    return true;
}

cubie_status cb_nvrtc_compile(const char *source, const char *arch,
                              const char *const *extra, char **image,
                              size_t *image_len, char **log,
                              cubie_error *err)
{
    *image = NULL;
    *image_len = 0;
    if (log != NULL) {
        *log = NULL;
    }
    bool cubin = strncmp(arch, "sm_", 3) == 0;
    nvrtcProgram prog;
    nvrtcResult r = nvrtcCreateProgram(&prog, source, "cubie_kernel.cu", 0,
                                       NULL, NULL);
    if (r != NVRTC_SUCCESS) {
        return cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                       "nvrtcCreateProgram: %s", nvrtcGetErrorString(r));
    }
    char arch_opt[64];
    snprintf(arch_opt, sizeof(arch_opt), "--gpu-architecture=%s", arch);
    const char *opts[32];
    int n = 0;
    opts[n++] = arch_opt;
    opts[n++] = "--std=c++17";
    for (int i = 0; extra != NULL && extra[i] != NULL && n < 31; i++) {
        opts[n++] = extra[i];
    }
    r = nvrtcCompileProgram(prog, n, opts);
    size_t log_len = 0;
    char *text = NULL;
    if (nvrtcGetProgramLogSize(prog, &log_len) == NVRTC_SUCCESS &&
        (text = malloc(log_len + 1)) != NULL) {
        nvrtcGetProgramLog(prog, text);
        text[log_len] = '\0';
    }
    cubie_status st = CUBIE_OK;
    if (r != NVRTC_SUCCESS) {
        st = cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                     "NVRTC failed for %s (%s):\n%s", arch,
                     nvrtcGetErrorString(r), text ? text : "(no log)");
        if (err != NULL && err->log == NULL && text != NULL) {
            err->log = strdup(text);
        }
    } else {
        size_t len = 0;
        r = cubin ? nvrtcGetCUBINSize(prog, &len) : nvrtcGetPTXSize(prog, &len);
        if (r != NVRTC_SUCCESS || len == 0 ||
            (*image = malloc(len + 1)) == NULL) {
            st = cb_fail(err, CUBIE_E_COMPILE, NULL, 0,
                         "NVRTC produced no %s for %s",
                         cubin ? "CUBIN" : "PTX", arch);
        } else {
            r = cubin ? nvrtcGetCUBIN(prog, *image) : nvrtcGetPTX(prog, *image);
            (*image)[len] = '\0';
            *image_len = len;
        }
    }
    if (log != NULL) {
        *log = text;
    } else {
        free(text);
    }
    nvrtcDestroyProgram(&prog);
    return st;
}
#else
bool cb_nvrtc_available(void)
{
    return false;
}

cubie_status cb_nvrtc_compile(const char *source, const char *arch,
                              const char *const *extra, char **image,
                              size_t *image_len, char **log,
                              cubie_error *err)
{
    (void)source;
    (void)extra;
    *image = NULL;
    *image_len = 0;
    if (log != NULL) {
        *log = NULL;
    }
    return cb_fail(err, CUBIE_E_BACKEND, NULL, 0,
                   "cannot compile for %s: cubie was built without NVRTC",
                   arch);
}
#endif
