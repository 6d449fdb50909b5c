/* SPDX-License-Identifier: MIT */
/* proc.h -- what the daemon reads of other processes from /proc: one parser for each file it reads.
 *
 * core/os/ is the room of core that touches the kernel and C libraries directly: shm objects (shm.h),
 * xxHash (hash.h), io_uring (uring_copy.h), starting programs (launch.h) and this.  It uses core/text/
 * and nothing else of core; nothing in it knows objects, tasks or the control file.
 *
 * Every reader here takes a pid (or a thread id: /proc/TID/ works for threads) that may be gone by the
 * time it is read; each says what it gives back then.  Nothing is cached: a pid can change hands. */
#ifndef FABRIC_CORE_OS_PROC_H
#define FABRIC_CORE_OS_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Fields of /proc/PID/stat, counted after the command name's last ')' (the name may hold anything). */
struct proc_stat {
	char state;          /* field 3: R, S, D, Z (zombie), X (dead), ... */
	pid_t ppid;          /* field 4 */
	pid_t session;       /* field 6 */
	unsigned long flags; /* field 9: the kernel's PF_* task flags (PF_EXITING while it exits) */
	uint64_t start_time; /* field 22: clock ticks after boot; with the pid, names one process for good */
	int exit_code;       /* field 52: the wait status it is exiting with (set before its files close) */
};
#define PROC_PF_EXITING 0x00000004 /* include/linux/sched.h */

/* Read pid's stat: 0, -ENOENT/-ESRCH when it is gone, -EIO when the line cannot be parsed. */
int proc_stat(pid_t pid, struct proc_stat *ps);
/* The thread group (process) that thread tid belongs to, from the Tgid: line; 0 when it is gone. */
pid_t proc_tgid(pid_t tid);
/* pid's supplementary groups from the Groups: line: how many were stored (at most max); 0 when gone. */
size_t proc_groups(pid_t pid, uint32_t *groups, size_t max);
/* pid's file mode creation mask (the Umask: line); -ESRCH when it is gone. */
int proc_umask(pid_t pid);
/* Does pid hold capability cap (CAP_SYS_ADMIN, ...) in its effective set (the CapEff: line)?  false when
 * it is gone. */
bool proc_has_cap(pid_t pid, int cap);
/* The inode of pid's PID namespace (/proc/PID/ns/pid), 0 when it cannot be seen. */
uint64_t proc_pidns(pid_t pid);

#endif
