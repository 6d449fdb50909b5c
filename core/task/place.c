/* SPDX-License-Identifier: MIT */
/* place.c -- the placement rule for tasks (see place.h).
 *
 * Scopes are combined one input at a time so that a refusal can name exactly the two scopes that do not
 * meet: the task's scope so far and the input that empties it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/task/place.h"
#include "core/text/scope.h"
#include "core/text/size.h"

/* Only process: and exact: terms: a place no new process can be in. */
static int process_only(const struct scope *s)
{
	for (unsigned i = 0; i < s->nterms; i++)
		if (s->terms[i].kind != SCOPE_PROCESS && s->terms[i].kind != SCOPE_EXACT)
			return 0;
	return s->nterms > 0;
}

int place_task(const char *const *candidates, size_t ncand, const char *task_scope,
	       const struct place_input *inputs, size_t ninputs, size_t *chosen, char *why, size_t whylen)
{
	struct scope acc, in;
	char err[512], canon[SCOPE_STR_MAX];
	uint64_t best_bytes = 0, total = 0;
	size_t best = ncand;

	if (ncand == 0) {
		snprintf(why, whylen, "there is no node to run the task on");
		return -EINVAL;
	}
	if (scope_parse(task_scope ? task_scope : "any", &acc, err, sizeof(err)) != 0) {
		snprintf(why, whylen, "the task's scope is malformed: %s", err);
		return -EINVAL;
	}
	for (size_t i = 0; i < ninputs; i++) {
		if (scope_parse(inputs[i].scope ? inputs[i].scope : "any", &in, err, sizeof(err)) != 0) {
			snprintf(why, whylen, "input %s has a malformed scope: %s", inputs[i].name, err);
			return -EINVAL;
		}
		if (process_only(&in)) {
			scope_format(&in, canon, sizeof(canon));
			snprintf(why, whylen, "input %s is scoped to a process (%s): a new process can never use it",
				 inputs[i].name, canon);
			return -EACCES;
		}
		if (scope_intersect(&acc, &in, &acc, err, sizeof(err)) != 0) {
			snprintf(why, whylen, "input %s cannot be used with the others: %s", inputs[i].name, err);
			return -EXDEV;
		}
		for (size_t l = 0; l < inputs[i].nlocations; l++)
			total += inputs[i].locations[l].bytes;
	}
	for (size_t c = 0; c < ncand; c++) {
		uint64_t bytes = 0;
		if (!scope_allows(&acc, candidates[c], 0, 0))
			continue;
		for (size_t i = 0; i < ninputs; i++)
			for (size_t l = 0; l < inputs[i].nlocations; l++)
				if (strcmp(inputs[i].locations[l].node, candidates[c]) == 0)
					bytes += inputs[i].locations[l].bytes;
		if (best == ncand || bytes > best_bytes) {
			best = c;
			best_bytes = bytes;
		}
	}
	scope_format(&acc, canon, sizeof(canon));
	if (best == ncand) {
		snprintf(why, whylen, "no candidate node is inside the task's scope %s", canon);
		return -EXDEV;
	}
	{
		char have[32], all[32];
		size_format(best_bytes, have, sizeof(have));
		size_format(total, all, sizeof(all));
		snprintf(why, whylen, "%s holds %s of the %s of input, inside scope %s", candidates[best], have, all,
			 canon);
	}
	*chosen = best;
	return 0;
}
