/* SPDX-License-Identifier: MIT */
/* ctlInt.h -- what the control language's files share: the verb table. */
#ifndef FABRIC_CORE_CTLINT_H
#define FABRIC_CORE_CTLINT_H

#include "core/ctl.h"

struct ctl_verb {
	const char *name;
	int min_args, max_args;
	const char *opts;  /* option keys it takes, comma-separated ("type,doc"), or "" */
	const char *usage; /* "locate NAME" */
	const char *help;  /* one line */
	int (*run)(const struct ctl_env *env, const struct ctl_cmd *cmd, struct ctl_answer *ans);
};

const struct ctl_verb *ctl_verb_find(const char *name);
/* Does verb v take the option whose key is key[0..keylen)? */
bool ctl_verb_takes(const struct ctl_verb *v, const char *key, size_t keylen);

#endif
