// Start of lanes.cu.
// The host backend runs its runs in blocks of CB_LANES lanes, one run per
// lane, as a GPU warp runs one per thread: each piece of work is one call
// of cb_lane per lane under `omp simd`, so the step's arithmetic runs
// across lanes in vector registers. A lane's variables live in the block
// (cb_lanes) in structure-of-arrays form, element i of lane l at [i][l],
// and each call loads them, does its piece and stores them back. Control
// that differs between lanes runs under the lanes' masks; a lane that
// has ended idles until its block ends. With a fixed controller the
// lanes that run share every step time, so the counted burst is planned
// once per block and run step by step over all of them. A lane computes
// what cb_loop computes for its run, in the same order.
#if !CB_GPU && CB_LANES > 1
#undef CB_EXIT
#define CB_EXIT                                                             \
    {                                                                       \
        cb_done = 1;                                                        \
        break;                                                              \
    }

// The pieces of work of cb_lane.
enum {
    CB_LANE_BEGIN,     // read the run's inputs, the first save
    CB_LANE_PLAN,      // the burst's length (the block's first lane)
    CB_LANE_BURST,     // step k of a burst
    CB_LANE_BURST_END, // after a burst of k steps: time, finiteness
    CB_LANE_CHECK,     // whether a pass is due (explicit methods)
    CB_LANE_ATTEMPT,   // the attempt of a pass (explicit methods)
    CB_LANE_PASS,      // a pass of the general path (after its attempt)
    CB_LANE_SAVE,      // its save and sample (explicit methods)
    CB_LANE_END        // fill and mask the outputs, the status
};

typedef struct {
    int done[CB_LANES];
    /* @LANE_VARS fields@ */
} cb_lanes;

// Lane l (run `run`) of block B does piece `mode`. Returns whether the
// lane has ended (PLAN: the burst's length).
CB_DEVFN int cb_lane(/* @PARAMS cb_lane@ */)
{
    /* @LANE_POOLS@ */
    /* @BUFFERS@ */
    /* @LOOP_CLOCK@ */
    cb_time t = t_start;
    cb_time next_save = t_save0;
    int save_idx = 0;
    /* @LOOP_INIT@ */
    int status = 0;
    int accepted = 0;
    int steps = 0;
    int stalled = 0;
    int cb_done = 0;
    int cb_burst = 0;
#if CB_LANE_EXPLICIT
    int save_due = 0; // the pass landed on a save or a sample time
#endif
    if (mode == CB_LANE_BEGIN) {
        /* @LOAD@ */
        if (cb_time_sub(t_save0, t_start) <= (real)0) {
            /* @LOOP_SAVE@ */
            save_idx = 1;
            next_save = cb_time_mul_add(t_save0, (real)1, save_every);
        }
    } else {
        /* @LANE_VARS load@ */
    }
    do { // once: break ends the piece, and so does continue
        /* @LANE_BURST@ */
        // An explicit method's check, attempt, pass and save are pieces of
        // their own (all but the save without a branch around them); any
        // other method's pass does all four.
        if (mode == CB_LANE_CHECK ||
            (mode == CB_LANE_PASS && !CB_LANE_EXPLICIT)) {
            if (!(/* @LOOP_MORE@ */)) {
                cb_done = 1;
                break;
            }
            if (steps >= max_steps) {
                status |= CB_RUN_MAX_STEPS;
                CB_EXIT;
            }
            if (mode == CB_LANE_CHECK) {
                break;
            }
        }
        if (mode == CB_LANE_ATTEMPT ||
            (mode == CB_LANE_PASS && !CB_LANE_EXPLICIT)) {
            /* @ATTEMPT@ */
            if (mode == CB_LANE_ATTEMPT) {
                break;
            }
        }
        if (mode == CB_LANE_PASS) {
#if CB_LANE_EXPLICIT
            save_due = 0;
#endif
            /* @PASS@ */
#if CB_LANE_EXPLICIT
            save_due = /* @SAVE_DUE@ */;
#endif
        }
        if (mode == CB_LANE_SAVE ||
            (mode == CB_LANE_PASS && !CB_LANE_EXPLICIT)) {
            /* @PASS_SAVE@ */
        }
    } while (0);
    if (mode == CB_LANE_PLAN) {
        return cb_burst;
    }
    if (mode == CB_LANE_END) {
        /* @LOOP_END@ */
        status_out[run] = status;
        return 1;
    }
    // Explicit steps, attempts and passes run on every lane: a lane that
    // has ended keeps what its END piece reads (gen/loop.c,
    // lane_end_reads).
    const int cb_kept = B->done[l];
    /* @LANE_VARS store@ */
    return cb_done;
}

// Blocks of CB_LANES runs over the OpenMP threads; in each, the lanes
// do each piece together (omp simd), masked by whether they have ended.
CB_KERNEL void cubie_host_run(void *const *args)
{
    /* @HOST_ARGS@ */
    const int n_blocks = (n_runs + CB_LANES - 1) / CB_LANES;
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < n_blocks; ++b) {
        cb_lanes block;
        cb_lanes *B = &block;
        __builtin_memset(B, 0, sizeof(*B)); // lanes past the last run: zeros
        const int first = b * CB_LANES;
        const int live = n_runs - first < CB_LANES ? n_runs - first
                                                   : CB_LANES;
        for (int l = 0; l < CB_LANES; ++l) {
            B->done[l] = l >= live;
        }
        {
#pragma omp simd
            for (int l = 0; l < CB_LANES; ++l) {
                const int run = first + l;
                if (!B->done[l]) {
                    B->done[l] = cb_lane(/* @ARGS cb_lane mode=CB_LANE_BEGIN; k=0@ */);
                }
            }
        }
        for (;;) {
            int l0 = -1;
            for (int l = 0; l < CB_LANES && l0 < 0; ++l) {
                l0 = B->done[l] ? -1 : l;
            }
            if (l0 < 0) {
                break;
            }
#if CB_FIXED_BURST
            const int burst = cb_lane(/* @ARGS cb_lane mode=CB_LANE_PLAN; k=0; l=l0; run=first + l0@ */);
            if (burst > 0) {
                for (int kb = 0; kb < burst; ++kb) {
#pragma omp simd
                    for (int l = 0; l < CB_LANES; ++l) {
                        const int run = first + l;
#if CB_LANE_EXPLICIT
                        // Every lane steps, so the step has no branch
                        // around it (its math calls vectorise).
                        B->done[l] |= cb_lane(/* @ARGS cb_lane mode=CB_LANE_BURST; k=kb@ */);
#else
                        if (!B->done[l]) {
                            B->done[l] = cb_lane(/* @ARGS cb_lane mode=CB_LANE_BURST; k=kb@ */);
                        }
#endif
                    }
                }
                {
#pragma omp simd
                    for (int l = 0; l < CB_LANES; ++l) {
                        const int run = first + l;
                        if (!B->done[l]) {
                            B->done[l] = cb_lane(/* @ARGS cb_lane mode=CB_LANE_BURST_END; k=burst@ */);
                        }
                    }
                }
                continue;
            }
#endif
#if CB_LANE_EXPLICIT
            // An explicit method's attempt, step and controller, has no
            // branch: it runs on every lane, in vector registers, and the
            // pass that follows takes its verdict.
#pragma omp simd
            for (int l = 0; l < CB_LANES; ++l) {
                const int run = first + l;
                if (!B->done[l]) {
                    B->done[l] = cb_lane(/* @ARGS cb_lane mode=CB_LANE_CHECK; k=0@ */);
                }
            }
#pragma omp simd
            for (int l = 0; l < CB_LANES; ++l) {
                const int run = first + l;
                B->done[l] |= cb_lane(/* @ARGS cb_lane mode=CB_LANE_ATTEMPT; k=0@ */);
            }
#endif
#if CB_LANE_EXPLICIT
            // So is the rest of its pass; the save runs where one is due.
#pragma omp simd
            for (int l = 0; l < CB_LANES; ++l) {
                const int run = first + l;
                B->done[l] |= cb_lane(/* @ARGS cb_lane mode=CB_LANE_PASS; k=0@ */);
            }
            for (int l = 0; l < CB_LANES; ++l) {
                const int run = first + l;
                if (!B->done[l] && B->save_due[l]) {
                    B->done[l] = cb_lane(/* @ARGS cb_lane mode=CB_LANE_SAVE; k=0@ */);
                }
            }
#else
#pragma omp simd
            for (int l = 0; l < CB_LANES; ++l) {
                const int run = first + l;
                if (!B->done[l]) {
                    B->done[l] = cb_lane(/* @ARGS cb_lane mode=CB_LANE_PASS; k=0@ */);
                }
            }
#endif
        }
        for (int l = 0; l < CB_LANES; ++l) {
            B->done[l] = l >= live;
        }
        {
#pragma omp simd
            for (int l = 0; l < CB_LANES; ++l) {
                const int run = first + l;
                if (!B->done[l]) {
                    B->done[l] = cb_lane(/* @ARGS cb_lane mode=CB_LANE_END; k=0@ */);
                }
            }
        }
    }
}
#endif
// End of lanes.cu.
