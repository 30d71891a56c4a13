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

/* The cache folder ($CUBIE_CACHE_DIR, else $XDG_CACHE_HOME/cubie, else
 * $HOME/.cache/cubie), created if missing. false if none can be made. */
bool cb_cache_dir(char *out, size_t n);

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
