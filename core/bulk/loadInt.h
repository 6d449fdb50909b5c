/* SPDX-License-Identifier: MIT */
/* loadInt.h -- what load.c and checkpoint.c share: acting with a caller's credentials, messages. */
#ifndef FABRIC_CORE_LOADINT_H
#define FABRIC_CORE_LOADINT_H

#include <sys/types.h>

#include "core/bulk/load.h"

#define LOAD_NGROUPS 64

/* groups as the store's permission checks and proc_groups take them; the kernel's gid_t is the same type */
struct load_creds {
	uid_t uid;
	gid_t gid;
	uint32_t groups[LOAD_NGROUPS];
	int ngroups;
};
_Static_assert(sizeof(gid_t) == sizeof(uint32_t) && (gid_t)-1 > 0, "gid_t is a 32-bit unsigned number");

/* Take on who's file-system identity (uid, gid, groups) in this thread, keeping the old one in saved;
 * load_unbecome(saved) gives it back.  load_creds_of reads who's groups once, for load_become_as. */
void load_become(const struct load_caller *who, struct load_creds *saved);
void load_creds_of(const struct load_caller *who, struct load_creds *c);
void load_become_as(const struct load_creds *as, struct load_creds *saved);
void load_unbecome(const struct load_creds *saved);

#endif
