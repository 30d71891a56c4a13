/* The compiled-kernel cache and its helpers: the folder, content hashes,
 * files written atomically, a monotonic clock. Host shared objects
 * (host.c) and NVRTC images (nvrtc.c) are cached here, keyed by a hash of
 * the source, every option and the compiler's version. */
#ifndef CB_CACHE_H
#define CB_CACHE_H

#include <stdbool.h>
#include <stddef.h>

/* Milliseconds on a monotonic clock. */
double cb_now_ms(void);

/* bytes of memory (free() frees it); from 4 MiB up aligned to 2 MiB and
 * advised onto huge pages (Linux's transparent huge pages, "madvise"
 * mode), so that a large result or staging array is touched a page fault
 * per 2 MiB, not per 4 KiB. */
void *cb_big_alloc(size_t bytes);

/* The cache folder ($CUBIE_CACHE_DIR, else $XDG_CACHE_HOME/cubie, else
 * $HOME/.cache/cubie), created if missing. false, with why, if none can
 * be made, or if it is not this user's alone (another user could put a
 * kernel there that cubie would load). */
bool cb_cache_dir(char *out, size_t n, char *why, size_t why_n);

/* ---- entries: one file per kernel, a header line (part lengths and a
 * checksum of everything), a line of metadata, then the parts' bytes.
 * A reader checks it whole before any part is used. */
#define CB_CACHE_MAX_PARTS 4
#define CB_CACHE_MAX_BYTES (1ull << 30)

typedef struct {
    const void *data;
    size_t len;
} cb_part;

typedef struct {
    char *buf;   /* the whole file (malloc), parts and meta point into it */
    const char *meta;
    cb_part parts[CB_CACHE_MAX_PARTS];
} cb_cache_entry;

typedef enum {
    CB_CACHE_MISS, /* no entry */
    CB_CACHE_HIT,  /* read and checked */
    CB_CACHE_BAD   /* an entry that must not be used; why says so */
} cb_cache_state;

/* Write the entry atomically (cb_write_atomic); meta is one line. */
bool cb_cache_write(const char *path, const char *meta, const cb_part *parts,
                    int n);
/* Read and check the entry of n parts at path: a regular file (not a
 * link) owned by this user and not writable by others, of the size and
 * checksum its header gives. */
cb_cache_state cb_cache_read(const char *path, int n, cb_cache_entry *e,
                             char *why, size_t why_n);
void cb_cache_entry_free(cb_cache_entry *e);

/* A 128-bit content hash of the parts, as 32 hex digits. A cache key, not
 * a security boundary. */
void cb_hash_hex(const char *const *parts, size_t n_parts, char out[33]);

/* Write data to path through a temporary sibling and a rename, so that a
 * reader sees all of it or nothing. false (and nothing at path) on
 * failure. */
bool cb_write_atomic(const char *path, const void *data, size_t len);

/* A hash of the processor's model and feature flags (/proc/cpuinfo's
 * first "model name" and "flags" lines), or of nothing where unreadable:
 * for objects built with -march=native. */
void cb_cpu_signature(char out[33]);

#endif
