/* SPDX-License-Identifier: MIT */
/* task_place.c -- where a task runs, from what the store knows (see taskInt.h, task_place): each input's
 * scope (user.fabric.scope) and size, handed to the placement rule (core/task/place.h) with this node as
 * the one candidate.  A spawn asks it so that a task no place can satisfy is refused at once; the start
 * asks again, now that the inputs are whole, and keeps where and why. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/store/path.h"
#include "core/task/place.h"
#include "core/task/taskInt.h"
#include "core/text/scope.h"
#include "core/text/text.h"

int task_resolve_input(struct store *st, const char *name, uint64_t *id, struct store_attr *a)
{
	if (strncmp(name, "shards/", 7) == 0)
		return path_resolve_at(st, STORE_ROOT_ID, name, id, a);
	return path_resolve(st, name, id, a);
}

int task_place(struct tasks *t, const struct task *k, const char **node, char *why, size_t whylen)
{
	const char *cand[1] = { store_node_name(t->st) };
	struct place_input in[TASK_INPUTS_MAX];
	struct place_location loc[TASK_INPUTS_MAX];
	struct input_text {
		char name[PATH_MAX_LEN + 1];
		char scope[SCOPE_STR_MAX];
	} *txt = malloc(TASK_INPUTS_MAX * sizeof(*txt));
	size_t nin = 0, chosen = 0;
	int rc;

	if (!txt)
		return text_say(why, whylen, -ENOMEM, "out of memory placing the task");
	for (const char *p = k->inputs; nin < TASK_INPUTS_MAX && (p = task_item(p, txt[nin].name, PATH_MAX_LEN + 1));) {
		struct store_attr a;
		uint64_t id;
		ssize_t n;
		if (task_resolve_input(t->st, txt[nin].name, &id, &a) != 0)
			continue; /* gone since the spawn: readiness cancels the task for that */
		n = store_getxattr(t->st, id, "user.fabric.scope", txt[nin].scope, SCOPE_STR_MAX - 1);
		txt[nin].scope[n > 0 ? n : 0] = '\0';
		loc[nin] = (struct place_location){ cand[0], a.size };
		in[nin] = (struct place_input){ txt[nin].name, n > 0 ? txt[nin].scope : NULL, &loc[nin], 1 };
		nin++;
	}
	rc = place_task(cand, 1, *k->scope ? k->scope : NULL, in, nin, &chosen, why, whylen);
	free(txt);
	if (rc == -EXDEV) /* a user's mistake, not a device's: said as EINVAL */
		rc = -EINVAL;
	if (rc == 0)
		*node = cand[chosen];
	return rc;
}
