// Start of pass.cu.
// The rest of one pass of the loop's general path, after its attempt
// (attempt.cu): on acceptance advance time and state; the save and the
// sample follow (save.cu). cb_loop runs it in its while loop; the host's
// lanes (lanes.cu) once per lane and call. CB_EXIT ends the run; continue
// goes on to the next pass.
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
// End of pass.cu.
