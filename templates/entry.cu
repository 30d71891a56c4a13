// Start of entry.cu.
// Entry points. On the GPU one thread integrates one run, with its slice
// of dynamic shared memory (the stride is odd, so neighbouring runs fall
// in different banks). On the host, one run at a time (CB_LANES 1), an
// OpenMP loop runs them, each with its "shared" pool on its own stack;
// wider, lanes.cu runs them in SIMD blocks. Both take the arguments of
// gen/kernel_args.def in its order: the kernel by value, the host entry
// as an array of pointers to them (as cuLaunchKernel takes them), the
// host entry then where it copies the inputs for the result's record
// (gen/tables.h, cb_host_arg).
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
