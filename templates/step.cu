// Start of step.cu.
// A lane's step of its next pass (lanes.cu), for explicit methods: the
// step truncated to the next event as the pass truncates it, attempted on
// every lane; the pass then takes its proposal, its error and its stage
// caches from the block.
if (mode == CB_LANE_STEP) {
    /* @LOOP_EVENTS dt@ */
    /* @STEP_CALL dt_eff; cb_time_real(t); accepted@ */;
    break;
}
// End of step.cu.
