// Start of burst.cu.
// A lane's pieces of a counted burst of fixed steps (lanes.cu), emitted
// where cb_loop has its burst (CB_FIXED_BURST): the burst's length, step
// k of it, and the time and finiteness after its k steps, as cb_loop
// computes them.
if (mode == CB_LANE_PLAN) {
    if ((/* @LOOP_MORE@ */) && steps < max_steps) {
        cb_burst = cb_burst_len(cb_time_sub(/* @NEXT_EVENT@ */, t) /
                                    dt[0],
                                max_steps - steps);
    }
    break;
}
if (mode == CB_LANE_BURST) {
    const real h = dt[0];
    const cb_time h_time = cb_time_make(h, (real)0);
    const int burst_status = /* @STEP_CALL h; cb_time_real(cb_time_mul_add(t, (real)k, h_time)); accepted@ */;
    if (burst_status != 0) {
        steps += k + 1;
        t = cb_time_mul_add(t, (real)k, h_time);
        status |= burst_status;
        CB_EXIT;
    }
    accepted = 1;
    for (int i = 0; i < CB_N_STATES; ++i) {
        state[i] = proposed_state[i];
    }
    break;
}
if (mode == CB_LANE_BURST_END) {
    steps += k;
    t = cb_time_mul_add(t, (real)k, cb_time_make(dt[0], (real)0));
    int finite = 1;
    for (int i = 0; i < CB_N_STATES; ++i) {
        finite = finite && cb_finite(state[i]);
    }
    if (!finite) {
        status |= CB_RUN_NONFINITE_STATE;
        CB_EXIT;
    }
    break;
}
// End of burst.cu.
