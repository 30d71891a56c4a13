/* cubie's status codes, run-status bits and error record: the part of the
 * public interface the generator (gen/) and the runtime (runtime/) share.
 * Installed beside cubie.h, which includes it; include cubie.h. */
#ifndef CUBIE_STATUS_H
#define CUBIE_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CUBIE_BUILDING) && defined(__GNUC__)
#define CUBIE_API __attribute__((visibility("default")))
#else
#define CUBIE_API
#endif

#define CUBIE_VERSION_MAJOR 0
#define CUBIE_VERSION_MINOR 1
#define CUBIE_VERSION_PATCH 0

/* Status codes of the API: one list, expanded into the enum and the
 * messages. Add an entry here and nowhere else. */
#define CUBIE_STATUS_LIST(X)                                            \
    X(CUBIE_OK, "success")                                              \
    X(CUBIE_E_ARG, "invalid argument")                                  \
    X(CUBIE_E_NOMEM, "out of memory")                                   \
    X(CUBIE_E_IO, "file input/output error")                            \
    X(CUBIE_E_JSON, "malformed JSON")                                   \
    X(CUBIE_E_SPEC, "invalid system spec")                              \
    X(CUBIE_E_EXPR, "invalid expression")                               \
    X(CUBIE_E_OPTION, "invalid option")                                 \
    X(CUBIE_E_REGISTRY, "buffer registry error")                        \
    X(CUBIE_E_CODEGEN, "code generation failed")                        \
    X(CUBIE_E_COMPILE, "kernel compilation failed")                     \
    X(CUBIE_E_BACKEND, "backend unavailable")                           \
    X(CUBIE_E_BATCH, "invalid batch input")                             \
    X(CUBIE_E_RUN, "run failed")

typedef enum {
#define CUBIE_X(name, msg) name,
    CUBIE_STATUS_LIST(CUBIE_X)
#undef CUBIE_X
    CUBIE_STATUS_COUNT
} cubie_status;

/* Per-run status bits, OR-ed into one int32 per run. Values follow the
 * Python original's result codes; NONFINITE_STATE and SINGULAR_MATRIX
 * (linear_correction_type=lu) are new here. */
#define CUBIE_RUN_STATUS_LIST(X)                                        \
    X(CUBIE_RUN_MAX_NEWTON_ITERS, 2, "Newton iterations exceeded")      \
    X(CUBIE_RUN_MAX_LINEAR_ITERS, 4, "linear iterations exceeded")      \
    X(CUBIE_RUN_STEP_TOO_SMALL, 8, "step size too small")               \
    X(CUBIE_RUN_DT_EFF_ZERO, 16, "effective step is zero")              \
    X(CUBIE_RUN_MAX_STEPS, 32, "maximum number of steps exceeded")      \
    X(CUBIE_RUN_STAGNATION, 64, "time stagnated")                       \
    X(CUBIE_RUN_BICGSTAB_BREAKDOWN, 128, "BiCGSTAB breakdown")          \
    X(CUBIE_RUN_NEWTON_DIVERGENCE, 256, "Newton iteration diverged")    \
    X(CUBIE_RUN_NONFINITE_STATE, 512, "non-finite state")               \
    X(CUBIE_RUN_SINGULAR_MATRIX, 1024, "singular linear system")

/* Per-run notes, OR-ed into the same int32 from bit 16 up: a run with
 * only these bits completed and its outputs stand (nan_error_trajectories
 * does not touch them); they say it ran worse than it could have, and
 * cubie_result_notes says what to try. A run failed when a bit of
 * CUBIE_RUN_FAILED_MASK is set: test CUBIE_RUN_FAILED(status), not
 * status != 0. The original has no notes. */
#define CUBIE_RUN_NOTE_LIST(X)                                          \
    X(CUBIE_RUN_LINEAR_CAP_OFTEN, 65536,                                \
      "linear solves often hit krylov_max_iters")

enum {
#define CUBIE_X(name, value, msg) name = value,
    CUBIE_RUN_STATUS_LIST(CUBIE_X)
    CUBIE_RUN_NOTE_LIST(CUBIE_X)
#undef CUBIE_X
    CUBIE_RUN_OK = 0,
    CUBIE_RUN_FAILED_MASK = 0xFFFF
};
#define CUBIE_RUN_FAILED(status) (((status) & CUBIE_RUN_FAILED_MASK) != 0)

/* Error detail. Caller-owned, usually on the stack and zeroed
 * (`cubie_error err = {0};`); cubie_error_clear releases `log`. The first
 * error recorded wins: a later failure does not overwrite it.
 *
 * The struct is fixed: these fields, these sizes, in this order, for the
 * whole of soversion 0 (a longer message is cut at 1023 bytes, the whole
 * text stays in `log` where there is one). A change to it changes the
 * soversion. */
typedef struct {
    cubie_status status;
    char message[1024];  /* what is wrong, where, with the offending value */
    char path[256];      /* JSON path (/equations/2) or option key, or "" */
    int column;          /* 1-based column inside an expression, or 0 */
    char *log;           /* compiler log, or NULL (heap, freed by clear) */
    char dump_path[512]; /* where the failing source was dumped, or "" */
} cubie_error;

#ifdef __cplusplus
}
#endif

#endif
