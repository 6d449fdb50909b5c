/* SPDX-License-Identifier: MIT */
/* loadInt.h -- what load.c and checkpoint.c share: acting with a caller's credentials, messages. */
#ifndef FABRIC_CORE_LOADINT_H
#define FABRIC_CORE_LOADINT_H

#include <sys/types.h>

#include "core/bulk/load.h"

#define LOAD_NGROUPS 64

struct load_creds {
	uid_t uid;
	gid_t gid;
	gid_t groups[LOAD_NGROUPS];
	int ngroups;
};

void load_become(const struct load_caller *who, struct load_creds *saved);
void load_unbecome(const struct load_creds *saved);

#endif
