// Start of save.cu.
// The end of an accepted pass (pass.cu) that landed on a save or a sample
// time: the save, the sample. cb_loop makes them at the end of each pass;
// the host lanes, for explicit methods, in a piece of their own, on the
// lanes whose pass landed (save_due) only.
if (do_save) {
    /* @LOOP_SAVE@ */
    save_idx++;
    next_save = cb_time_mul_add(t_save0, (real)save_idx, save_every);
}
/* @LOOP_SAMPLE@ */
// End of save.cu.
