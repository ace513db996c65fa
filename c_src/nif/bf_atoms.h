/* bf_atoms: the atoms of the NIF library, one list for every file of it (an X-macro:
 * BF_ATOMS(X) calls X(name) for each; the C name of atom `foo` is am_foo). Made once, at
 * load and upgrade (atoms are permanent, so a term made by an older load stays valid). */
#ifndef BF_ATOMS_H
#define BF_ATOMS_H

#include <erl_nif.h>

#define BF_ATOMS(X) \
    X(type) X(unit) X(count_credits) X(weight_type) X(weight_unit) \
    X(period_type) X(period_unit) X(period) X(time_nanos) X(duration_nanos) \
    X(root_label) \
    X(activate) X(active) X(asked) X(badarg) X(badopts) \
    X(beam) X(beamflame_trace) X(bytes) X(call) X(caps) \
    X(captured) X(captures) X(count_name) X(deactivate) X(deadline_ms) \
    X(depth_capped) X(discard) X(done) X(dropped) X(dropped_by_bytes) \
    X(dropped_by_stacks) X(dropped_samples) X(dropped_weight) X(eflambe) X(empty) \
    X(enomem) X(error) X(errors) X(events) X(exception_from) \
    X(exit) X(false) X(flamechart) X(font_size) X(format) \
    X(frame_height) X(frames) X(frames_drawn) X(frames_pruned) X(hot) \
    X(html) X(in) X(interactive) X(inverted) X(keep) \
    X(levels_dropped) X(lines) X(malformed) X(match_spec_result) X(max_bytes) \
    X(max_depth) X(max_events) X(max_frames) X(max_procs) X(max_stacks) \
    X(min_width) X(min_width_pct) X(names) X(no_such_capture) X(nodes_dropped) \
    X(none) X(normalize) X(null) X(ok) X(out) \
    X(palette) X(procs) X(procs_dropped) X(procs_lost) X(recursion) \
    X(remove) X(return_from) X(return_to) X(reverse) X(samples) \
    X(speedscope) X(stacks) X(stop) X(stopped) X(subtitle) \
    X(svg) X(tail_calls) X(timeout) X(title) X(trace) \
    X(trace_status) X(true) X(truncated) X(undefined) X(weight) \
    X(width)

#define BF_ATOM_DECLARE(name) extern ERL_NIF_TERM am_##name;
BF_ATOMS(BF_ATOM_DECLARE)
#undef BF_ATOM_DECLARE

/* Makes every atom of the list. */
void bf_atoms_load(ErlNifEnv *env);

#endif
