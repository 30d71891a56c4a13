// Start of attempt.cu.
// The attempt of one pass of the loop's general path: cut the step to
// land on the next save (or sample) time, take it, and let the controller
// judge it. cb_loop makes it before each pass (pass.cu); the host lanes
// (lanes.cu) make it in a piece of its own for explicit methods, on every
// lane at once. CB_EXIT ends the run.
/* @LOOP_EVENTS@ */
const int step_status = /* @STEP_CALL dt_eff; cb_time_real(t); accepted@ */;
steps++;
/* @LOOP_CONTROL@ */
// End of attempt.cu.
