// Start of entry.cu.
// Entry points. On the GPU one thread integrates one run, with its slice
// of dynamic shared memory (the stride is odd, so neighbouring runs fall
// in different banks). On the host an OpenMP loop runs them, each with
// its "shared" pool on its own stack.
#if CB_GPU
CB_KERNEL void cubie_kernel(const real *__restrict__ inits,
                            const real *__restrict__ params,
                            const real *__restrict__ settings,
                            real *__restrict__ state_out,
                            real *__restrict__ obs_out,
                            int *__restrict__ counters_out,
                            int *__restrict__ status_out, int n_runs,
                            int n_saves, int max_steps)
{
    extern __shared__ __align__(16) unsigned char cb_smem[];
    const int run = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (run >= n_runs) {
        return;
    }
    real *shared = (real *)cb_smem + threadIdx.x * CB_SHARED_STRIDE;
    int *shared_i = (int *)((real *)cb_smem + blockDim.x * CB_SHARED_STRIDE) +
                    threadIdx.x * CB_SHARED_I_STRIDE;
    cb_run(run, n_runs, inits, params, settings, state_out, obs_out,
           counters_out, status_out, n_saves, max_steps, shared, shared_i);
}
#else
CB_KERNEL void cubie_host_run(const real *inits, const real *params,
                              const real *settings, real *state_out,
                              real *obs_out, int *counters_out,
                              int *status_out, int n_runs, int n_saves,
                              int max_steps)
{
#pragma omp parallel for schedule(dynamic, 64)
    for (int run = 0; run < n_runs; ++run) {
        real shared[CB_SHARED_ALLOC];
        int shared_i[CB_SHARED_I_ALLOC];
        cb_run(run, n_runs, inits, params, settings, state_out, obs_out,
               counters_out, status_out, n_saves, max_steps, shared,
               shared_i);
    }
}
#endif
// End of entry.cu.
