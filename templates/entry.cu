// Start of entry.cu.
// Entry points. On the GPU one thread integrates one run, with its slice
// of dynamic shared memory (the stride is odd, so neighbouring runs fall
// in different banks). On the host, one run at a time (CB_LANES 1), an
// OpenMP loop runs them, each with its "shared" pool on its own stack;
// wider, lanes.cu runs them in SIMD blocks. Both take the arguments of
// gen/kernel_args.def in its order: the kernel by value, the host entry
// as an array of pointers to them (as cuLaunchKernel takes them).
#if CB_GPU
CB_KERNEL void __launch_bounds__(CB_BLOCK_SIZE)
cubie_kernel(/* @KERNEL_PARAMS@ */)
{
    const int run = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (run >= n_runs) {
        return;
    }
    /* @KERNEL_SHARED@ */
    cb_run(/* @ARGS cb_run@ */);
}

// A chunk's output array from the kernel's layout (row, column, run) into
// the caller's (run, row, column), on the device after the kernel, so that
// the host takes the caller's rows as they come back. One thread an
// element of dst in dst's order: the writes coalesce, and the reads of a
// warp fall on few lines when a run has few elements (the final state),
// on lines its neighbouring warps read next when it has many. Bits, not
// values: 4-byte elements (float, int32) and 8-byte ones (double).
#define CB_DEF_STORE(name, T)                                              \
    CB_KERNEL void __launch_bounds__(CB_STORE_BLOCK)                      \
    name(const T *__restrict__ src, T *__restrict__ dst, long long runs,   \
         long long per_run)                                                \
    {                                                                      \
        const long long i =                                                \
            (long long)blockIdx.x * CB_STORE_BLOCK + threadIdx.x;          \
        if (i >= runs * per_run) {                                         \
            return;                                                        \
        }                                                                  \
        const long long run = i / per_run;                                 \
        dst[i] = src[(i - run * per_run) * runs + run];                    \
    }
CB_DEF_STORE(cubie_store4, unsigned int)
CB_DEF_STORE(cubie_store8, unsigned long long)
#elif !(CB_LANES > 1)
CB_KERNEL void cubie_host_run(void *const *args)
{
    /* @HOST_ARGS@ */
#pragma omp parallel for schedule(dynamic, 64)
    for (int run = 0; run < n_runs; ++run) {
        /* @HOST_SHARED@ */
        cb_run(/* @ARGS cb_run@ */);
    }
}
#endif
// End of entry.cu.
