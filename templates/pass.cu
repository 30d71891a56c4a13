// Start of pass.cu.
// One pass of the loop's general path: truncate the step to the next
// event, attempt it, let the controller judge it, and on acceptance
// advance time, save and sample. cb_loop runs it in its while loop; the
// host's lanes (lanes.cu) run it once per lane and call. CB_EXIT ends the
// run; continue goes on to the next pass.
// Truncate the step to land on the next save (or sample) time; a
// step within a hair of it is stretched instead, so no sliver
// step follows.
/* @LOOP_EVENTS@ */
const int step_status = /* @PASS_STEP dt_eff; cb_time_real(t); accepted@ */;
steps++;
/* @LOOP_CONTROL@ */
accepted = accept_step[0];
if (!accepted) {
    continue;
}
/* @LOOP_ACCEPTED@ */
/* @NEW_TIME@ */
stalled = cb_time_sub(t_new, t) > (real)0 ? 0 : stalled + 1;
if (stalled >= 2) {
    status |= CB_RUN_STAGNATION;
    CB_EXIT;
}
t = t_new;
int finite = 1;
for (int i = 0; i < CB_N_STATES; ++i) {
    state[i] = proposed_state[i];
    finite = finite && cb_finite(state[i]);
}
if (!finite) {
    status |= CB_RUN_NONFINITE_STATE;
    CB_EXIT;
}
if (do_save) {
    /* @LOOP_SAVE@ */
    save_idx++;
    next_save = cb_time_mul_add(t_save0, (real)save_idx, save_every);
}
/* @LOOP_SAMPLE@ */
// End of pass.cu.
