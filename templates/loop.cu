// Start of loop.cu.
// The integration loop of one run: read its inputs, step from t0 to
// t0 + settling_time + duration, truncate steps to land exactly on save
// times, write saves (run index fastest, so GPU writes coalesce), and
// return the run's status bits. Markers @...@ are filled by the generator
// (gen/emit.c); each buffer comes from the registry with a literal offset.
CB_DEVFN int cb_loop(int run, int n_runs, const real *inits,
                     const real *params, const real *settings,
                     real *state_out, real *obs_out, int *counters_out,
                     int n_saves, int max_steps, real *shared,
                     real *persistent, int *shared_i, int *persistent_i)
{
    /* @LOOP_BUFFERS@ */
    const cb_time t_start =
        cb_time_make(settings[CB_SET_T0], settings[CB_SET_T0 + 1]);
    const cb_time t_save0 = cb_time_make(settings[CB_SET_SAVE_START],
                                         settings[CB_SET_SAVE_START + 1]);
    const cb_time save_every = cb_time_make(settings[CB_SET_SAVE_EVERY],
                                            settings[CB_SET_SAVE_EVERY + 1]);
    for (int i = 0; i < CB_N_STATES; ++i) {
        state[i] = inits[(long long)i * n_runs + run];
    }
    for (int i = 0; i < CB_N_PARAMS; ++i) {
        parameters[i] = params[(long long)i * n_runs + run];
    }
    (void)obs_out;
    (void)counters_out;
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
    int first_step = 1;
    int accepted = 1;
    int steps = 0;
    int stalled = 0;
    int transient = 0; // status bits of this attempt, kept if it fails
    (void)transient;
    while (save_idx < n_saves) {
        if (steps >= max_steps) {
            status |= CB_RUN_MAX_STEPS;
            break;
        }
#if CB_FIXED_BURST
        // Fixed steps that end at least a step before the next save run
        // as a counted loop: time as t + k dt (no pair sum, no save test
        // each step), finiteness checked once at its end. The last steps
        // before a save take the general path below.
        {
            const real h = dt[0];
            const real n_fit = cb_time_sub(next_save, t) / h;
            const int room = max_steps - steps;
            int burst = 0;
            if (n_fit >= (real)2) {
                burst = n_fit - (real)1 >= (real)room ? room
                                                      : (int)n_fit - 1;
            }
            if (burst > 0) {
                const cb_time t_base = t;
                const cb_time h_time = cb_time_make(h, (real)0);
                int burst_status = 0;
                int k = 0;
                for (; k < burst; ++k) {
                    burst_status = cb_step(
                        state, proposed_state, parameters, drivers,
                        proposed_drivers, observables, proposed_observables,
                        error, h,
                        cb_time_real(cb_time_mul_add(t_base, (real)k,
                                                     h_time)),
                        first_step, 1, algorithm_shared,
                        algorithm_persistent, algorithm_shared_i,
                        algorithm_persistent_i, proposed_counters, settings);
                    first_step = 0;
                    if (burst_status != 0) {
                        break;
                    }
                    for (int i = 0; i < CB_N_STATES; ++i) {
                        state[i] = proposed_state[i];
                    }
                    for (int i = 0; i < CB_N_OBS; ++i) {
                        observables[i] = proposed_observables[i];
                    }
                }
                steps += k + (burst_status != 0);
                t = cb_time_mul_add(t_base, (real)k, h_time);
                if (burst_status != 0) {
                    status |= burst_status;
                    break;
                }
                int finite = 1;
                for (int i = 0; i < CB_N_STATES; ++i) {
                    finite = finite && cb_finite(state[i]);
                }
                if (!finite) {
                    status |= CB_RUN_NONFINITE_STATE;
                    break;
                }
                continue;
            }
        }
#endif
        // Truncate the step to land on the next save time; a step within
        // a hair of it is stretched instead, so no sliver step follows.
        real dt_eff = dt[0];
        int do_save = 0;
        const real to_save = cb_time_sub(next_save, t);
        if (to_save <= dt_eff * CB_EVENT_STRETCH) {
            dt_eff = to_save;
            do_save = 1;
        }
        const int step_status = cb_step(
            state, proposed_state, parameters, drivers, proposed_drivers,
            observables, proposed_observables, error, dt_eff,
            cb_time_real(t), first_step, accepted, algorithm_shared,
            algorithm_persistent, algorithm_shared_i, algorithm_persistent_i,
            proposed_counters, settings);
        steps++;
        first_step = 0;
        /* @LOOP_CONTROL@ */
        accepted = accept_step[0];
        if (!accepted) {
            continue;
        }
        transient = 0;
        const cb_time t_new = do_save ? next_save : cb_time_add(t, dt_eff);
        stalled = cb_time_sub(t_new, t) > (real)0 ? 0 : stalled + 1;
        if (stalled >= 2) {
            status |= CB_RUN_STAGNATION;
            break;
        }
        t = t_new;
        int finite = 1;
        for (int i = 0; i < CB_N_STATES; ++i) {
            state[i] = proposed_state[i];
            finite = finite && cb_finite(state[i]);
        }
        for (int i = 0; i < CB_N_OBS; ++i) {
            observables[i] = proposed_observables[i];
        }
        if (!finite) {
            status |= CB_RUN_NONFINITE_STATE;
            break;
        }
        if (do_save) {
            /* @LOOP_SAVE@ */
            save_idx++;
            next_save = cb_time_mul_add(t_save0, (real)save_idx, save_every);
        }
    }
    return status;
}

// One run: its persistent pools live here for the whole run.
CB_DEVFN void cb_run(int run, int n_runs, const real *inits,
                     const real *params, const real *settings,
                     real *state_out, real *obs_out, int *counters_out,
                     int *status_out, int n_saves, int max_steps,
                     real *shared, int *shared_i)
{
    real persistent[CB_PERSISTENT_ALLOC];
    int persistent_i[CB_PERSISTENT_I_ALLOC];
    for (int i = 0; i < CB_PERSISTENT_ALLOC; ++i) {
        persistent[i] = (real)0;
    }
    for (int i = 0; i < CB_PERSISTENT_I_ALLOC; ++i) {
        persistent_i[i] = 0;
    }
    for (int i = 0; i < CB_SHARED_SIZE; ++i) {
        shared[i] = (real)0;
    }
    for (int i = 0; i < CB_SHARED_I_SIZE; ++i) {
        shared_i[i] = 0;
    }
    status_out[run] = cb_loop(run, n_runs, inits, params, settings,
                              state_out, obs_out, counters_out, n_saves,
                              max_steps, shared, persistent, shared_i,
                              persistent_i);
}
// End of loop.cu.
