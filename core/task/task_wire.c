/* SPDX-License-Identifier: MIT */
/* task_wire.c -- a spawn request as JSON and back (see task_netInt.h): what a node sends when it places a
 * task on another (CALL task.spawn), and what a queued task's record carries so that another node can
 * place it again when its node goes down.
 *   {"argv": [WORD...], "in", "out", "after", "scope", "timeout": strings or absent, "uid", "gid",
 *    "mode", "groups": [GID...], "id": the task's id when it has one}
 * uid and gid must be there (a request without them must not become root's). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/task/task_netInt.h"
#include "core/text/text.h"

json_t *task_wire_request(const struct task_request *r, const uint32_t *groups, size_t ngroups)
{
	json_t *j = json_pack("{s:[], s:s?, s:s?, s:s?, s:s?, s:s?, s:I, s:I, s:I, s:[]}", "argv", "in", r->inputs,
			      "out", r->outputs, "after", r->after, "scope", r->scope, "timeout", r->timeout, "uid",
			      (json_int_t)r->uid, "gid", (json_int_t)r->gid, "mode", (json_int_t)r->out_mode, "groups");
	bool ok = j != NULL; /* json_pack and json_string refuse bytes that are not UTF-8 */

	for (size_t i = 0; ok && i < r->argc; i++)
		ok = json_array_append_new(json_object_get(j, "argv"), json_string(r->argv[i])) == 0;
	for (size_t i = 0; ok && i < ngroups; i++)
		ok = json_array_append_new(json_object_get(j, "groups"), json_integer(groups[i])) == 0;
	if (ok && r->id)
		ok = json_object_set_new(j, "id", json_integer((json_int_t)r->id)) == 0;
	if (!ok) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* A '\n'-separated list of the YP as the comma-separated one of a request (NULL for none). */
static char *commas(const char *list)
{
	char *s = list && *list ? strdup(list) : NULL;

	for (char *p = s; p && *p; p++)
		if (*p == '\n')
			*p = ',';
	return s;
}

json_t *task_wire_task(const struct task *k)
{
	uint32_t groups[TASK_GROUPS_MAX];
	size_t ng = 0;
	char timeout[32];
	char *in = commas(k->inputs), *out = commas(k->outputs), *after = commas(k->after);
	struct task_request r = { .argv = (const char *const *)k->argv, .argc = k->argc, .inputs = in,
				  .outputs = out, .after = after, .scope = k->scope && *k->scope ? k->scope : NULL,
				  .uid = k->uid, .gid = k->gid, .out_mode = k->out_mode, .id = k->id };
	json_t *j;

	if (k->timeout_ms) {
		snprintf(timeout, sizeof(timeout), "%lld.%03lld", (long long)(k->timeout_ms / 1000),
			 (long long)(k->timeout_ms % 1000));
		r.timeout = timeout;
	}
	for (const char *p = k->groups; p && *p && ng < TASK_GROUPS_MAX;) {
		groups[ng++] = (uint32_t)strtoul(p, NULL, 10);
		p += strcspn(p, ",");
		p += *p == ',';
	}
	j = task_wire_request(&r, groups, ng);
	free(in);
	free(out);
	free(after);
	return j;
}

int task_wire_id(json_t *j, uint32_t *v)
{
	json_int_t x = json_integer_value(j);

	if (!json_is_integer(j) || x < 0 || x >= (json_int_t)UINT32_MAX)
		return -EPROTO;
	*v = (uint32_t)x;
	return 0;
}

int task_wire_parse(json_t *j, struct task_request *r, struct task_wire *w, char *why, size_t whylen)
{
	json_t *argv = json_object_get(j, "argv"), *groups = json_object_get(j, "groups");
	size_t argc = json_array_size(argv), ng = json_array_size(groups);
	json_int_t id = json_integer_value(json_object_get(j, "id"));

	*r = (struct task_request){ .argc = argc, .inputs = json_string_value(json_object_get(j, "in")),
				    .outputs = json_string_value(json_object_get(j, "out")),
				    .after = json_string_value(json_object_get(j, "after")),
				    .scope = json_string_value(json_object_get(j, "scope")),
				    .timeout = json_string_value(json_object_get(j, "timeout")),
				    .out_mode = (uint32_t)json_integer_value(json_object_get(j, "mode")) & 0777,
				    .ngroups = ng, .id = id > 0 ? (uint64_t)id : 0 };
	w->words = calloc(argc + 1, sizeof(char *));
	w->groups = calloc(ng + 1, sizeof(uint32_t));
	if (!w->words || !w->groups)
		return text_say(why, whylen, -ENOMEM, "out of memory");
	r->argv = w->words;
	r->groups = w->groups;
	if (task_wire_id(json_object_get(j, "uid"), &r->uid) || task_wire_id(json_object_get(j, "gid"), &r->gid))
		return text_say(why, whylen, -EPROTO, "a spawn without its caller's uid and gid");
	for (size_t i = 0; i < argc; i++)
		if (!(w->words[i] = json_string_value(json_array_get(argv, i))))
			return text_say(why, whylen, -EPROTO, "a word of the program is not a string");
	for (size_t i = 0; i < ng; i++)
		if (task_wire_id(json_array_get(groups, i), &w->groups[i]))
			return text_say(why, whylen, -EPROTO, "a group of the caller's that is not a gid");
	if (ng > TASK_GROUPS_MAX)
		return text_say(why, whylen, -EINVAL, "more than %d groups", TASK_GROUPS_MAX);
	return 0;
}

void task_wire_free(struct task_wire *w)
{
	free(w->words);
	free(w->groups);
	w->words = NULL;
	w->groups = NULL;
}
