// Start of loop.cu.
// The integration loop of one run: read its inputs, step from t0 to
// t0 + settling_time + duration, truncate steps to land exactly on save
// (and summary sample) times, write saves and summary windows (run index
// fastest, so GPU writes coalesce), and return the run's status bits.
// Markers @...@ are filled by the generator (gen/loop.c): each buffer
// comes from the registry with a literal offset, and each function takes
// only the arguments its body uses.
// Leaves the run's loop (lanes.cu ends a lane's pass instead).
#define CB_EXIT break

#if CB_FIXED_BURST
// Steps of a burst: all that fit before the next event (n_fit of them),
// less one, within the steps left (room); the last ones take the general
// path, which lands on the event.
CB_DEVFN int cb_burst_len(real n_fit, int room)
{
    if (n_fit < (real)2) {
        return 0;
    }
    return n_fit - (real)1 >= (real)room ? room : (int)n_fit - 1;
}
#endif

CB_DEVFN int cb_loop(/* @PARAMS cb_loop@ */)
{
    /* @BUFFERS@ */
    /* @LOOP_CLOCK@ */
    /* @LOAD@ */
    cb_time t = t_start;
    cb_time next_save = t_save0;
    int save_idx = 0;
    /* @LOOP_INIT@ */
    if (cb_time_sub(t_save0, t_start) <= (real)0) {
        /* @LOOP_SAVE@ */
        save_idx = 1;
        next_save = cb_time_mul_add(t_save0, (real)1, save_every);
    }
    int status = 0;
    int accepted = 0; // no accepted step yet: nothing to carry over (FSAL)
    int steps = 0;
    int stalled = 0;
    while (/* @LOOP_MORE@ */) {
        if (steps >= max_steps) {
            status |= CB_RUN_MAX_STEPS;
            CB_EXIT;
        }
#if CB_FIXED_BURST
        // Fixed steps that end at least a step before the next save run
        // as a counted loop: time as t + k dt (no pair sum, no save test
        // each step), finiteness checked once at its end. The last steps
        // before a save take the general path below.
        {
            const real h = dt[0];
            const int burst = cb_burst_len(
                cb_time_sub(/* @NEXT_EVENT@ */, t) / h, max_steps - steps);
            if (burst > 0) {
                const cb_time t_base = t;
                const cb_time h_time = cb_time_make(h, (real)0);
                int burst_status = 0;
                int k = 0;
                for (; k < burst; ++k) {
                    burst_status = /* @STEP_CALL h; cb_time_real(cb_time_mul_add(t_base, (real)k, h_time)); accepted@ */;
                    if (burst_status != 0) {
                        break;
                    }
                    accepted = 1;
                    for (int i = 0; i < CB_N_STATES; ++i) {
                        state[i] = proposed_state[i];
                    }
                }
                steps += k + (burst_status != 0);
                t = cb_time_mul_add(t_base, (real)k, h_time);
                if (burst_status != 0) {
                    status |= burst_status;
                    CB_EXIT;
                }
                int finite = 1;
                for (int i = 0; i < CB_N_STATES; ++i) {
                    finite = finite && cb_finite(state[i]);
                }
                if (!finite) {
                    status |= CB_RUN_NONFINITE_STATE;
                    CB_EXIT;
                }
                continue;
            }
        }
#endif
        /* @ATTEMPT@ */
        /* @PASS@ */
        /* @PASS_SAVE@ */
    }
    /* @LOOP_END@ */
    return status;
}

// One run: its persistent pools live here for the whole run.
CB_DEVFN void cb_run(/* @PARAMS cb_run@ */)
{
    /* @RUN_POOLS@ */
    status_out[run] = cb_loop(/* @ARGS cb_loop@ */);
}
// End of loop.cu.
