/* SPDX-License-Identifier: MIT */
/* ctlInt.h -- what the control language's files share: the verb table. */
#ifndef FABRIC_CORE_CTLINT_H
#define FABRIC_CORE_CTLINT_H

#include "core/ctl/ctl.h"

struct ctl_verb {
	const char *name;
	int min_args, max_args;
	const char *opts;  /* option keys it takes, comma-separated ("type,doc"), or "" */
	const char *usage; /* "locate NAME" */
	const char *help;  /* one line */
	int (*run)(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans);
};

const struct ctl_verb *ctl_verb_find(const char *name);
/* Replace the answer with one sentence and return rc. */
int ctl_fail(struct text *ans, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A JSON string literal of s (bytes that are not UTF-8 as Latin-1 code points). */
int ctl_json_str(struct text *ans, const char *s);
/* The value of option key, or NULL. */
const char *ctl_opt(const struct ctl_cmd *cmd, const char *key);

/* ctl_task.c: the task verbs */
int ctl_run_spawn(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans);
int ctl_run_kill(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans);
int ctl_run_forget(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans);
int ctl_run_tasks(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans);
/* Does verb v take the option whose key is key[0..keylen)? */
bool ctl_verb_takes(const struct ctl_verb *v, const char *key, size_t keylen);

#endif
