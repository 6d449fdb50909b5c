/* SPDX-License-Identifier: MIT */
/* place.h -- where a task runs: the intersection of its inputs' scopes, and among the candidate nodes in
 * it, the one that already holds most of its input bytes (Dagger's scheduling over Chunks).
 *
 * A pure function of its arguments, so the single-node daemon of today and a cluster tomorrow use the same
 * rule: the cluster only feeds it more candidate nodes and more locations.  Nothing here allocates or
 * keeps state.
 *
 * The rule:
 *   1. scope = the task's own scope (NULL: any) intersected with every input's scope; an empty result
 *      refuses the task with -EXDEV and a sentence naming the two scopes that do not meet (core/text/scope.h);
 *   2. an input scoped to a process (process: or exact: terms only) refuses the task with -EACCES: a new
 *      process can never be inside it;
 *   3. candidates outside the scope are out; none left: -EXDEV, saying which scope;
 *   4. each remaining candidate scores the input bytes located on it; the highest wins, ties going to the
 *      first candidate in the order given (the caller lists its own node first).
 * why gets one sentence: the refusal, or on success why the node was chosen ("holds 3.0 MiB of 4.0 MiB"). */
#ifndef FABRIC_CORE_PLACE_H
#define FABRIC_CORE_PLACE_H

#include <stddef.h>
#include <stdint.h>

struct place_location {
	const char *node;
	uint64_t bytes;
};

struct place_input {
	const char *name;  /* for sentences */
	const char *scope; /* canonical or not; NULL: any */
	const struct place_location *locations;
	size_t nlocations;
};

/* Choose among candidates[0..ncand) for a task of scope task_scope over inputs[0..ninputs); *chosen gets
 * the index of the node.  Returns 0, -EXDEV, -EACCES, or -EINVAL (a malformed scope, no candidates). */
int place_task(const char *const *candidates, size_t ncand, const char *task_scope,
	       const struct place_input *inputs, size_t ninputs, size_t *chosen, char *why, size_t whylen);

#endif
