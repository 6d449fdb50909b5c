/* SPDX-License-Identifier: MIT */
/* launch.h -- starting a task's program as a process tree of its own, telling its members apart, ending it.
 *
 * The daemon runs programs for its users (core/task/task.h).  Each starts here:
 *   - in a new PID namespace when the daemon may make one (root): the program is its pid 1, so killing
 *     it ends every process it started, however they detach (setsid, double fork), and it is sent SIGKILL
 *     when the thread that started it dies (PR_SET_PDEATHSIG) -- a daemon killed with -9 takes its tasks'
 *     whole trees with it.  Without that right it starts a session of its own instead (setsid): kill then
 *     signals the process group, and the tree is "the processes of that session".
 *   - with the caller's uid, gid and groups (never the daemon's), its working directory, an environment
 *     given whole, stdin /dev/null, stdout and stderr into pipes whose read ends the caller drains, signal
 *     dispositions and mask reset, and no descriptor of the daemon's other than 0, 1 and 2.
 * The program is found like execvp(3) does, in the PATH of the environment given, by the child under the
 * caller's identity (so a directory the caller cannot search is not searched).
 *
 * Threads: launch_start must be called by one thread at a time (it reuses one child stack), and that
 * thread must live as long as the processes it starts (their parent-death signal is tied to it).  The
 * other functions may be called from any thread.  Functions return 0 or a negative errno. */
#ifndef FABRIC_CORE_LAUNCH_H
#define FABRIC_CORE_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct launch_spec {
	const char *const *argv; /* NULL-terminated; argv[0] is a path (with a '/') or a name looked up in PATH */
	const char *const *envp; /* NULL-terminated, the whole environment */
	const char *cwd;         /* changed into after taking the caller's identity */
	uint32_t uid, gid;
	const uint32_t *groups; /* supplementary groups */
	size_t ngroups;
};

/* Who a started program is, in words that survive a daemon restart (they are kept in the YP). */
struct launch_id {
	pid_t pid;           /* in the daemon's PID namespace */
	uint64_t start_time; /* field 22 of /proc/PID/stat: tells the same pid reused apart */
	uint64_t pidns;      /* inode of its PID namespace; 0: it shares the daemon's (then its session is pid) */
};

struct launch {
	struct launch_id id;
	int pidfd;          /* readable when the program has exited */
	int out_fd, err_fd; /* read ends of its stdout and stderr pipes: O_NONBLOCK, O_CLOEXEC */
};

/* Start the program.  Returns 0 once it has been exec'd; when it cannot be (no such program, not
 * executable, the identity cannot be taken, no such working directory) returns that -errno, nothing is
 * left running, and why gets one sentence naming the program and the reason ("cannot run 'nosuch': No
 * such file or directory (searched PATH=/usr/bin:/bin)"). */
int launch_start(const struct launch_spec *spec, struct launch *out, char *why, size_t whylen);

/* Send SIGKILL to the program's whole tree.  -ESRCH when it is gone already. */
int launch_kill(const struct launch *l);

/* Collect the exit of an exited program (call when pidfd is readable, or to wait): *status as
 * waitpid(2) gives it.  Closes pidfd, out_fd and err_fd are left to the caller. */
int launch_reap(struct launch *l, int *status);

/* Is thread or process pid (in the daemon's PID namespace) one of the program's tree? */
bool launch_member(const struct launch_id *id, pid_t pid);

/* The child of this process that process or thread pid descends from (pid itself when it is one), or 0
 * when pid does not descend from us: which program's tree it is in, before its launch_id is known. */
pid_t launch_our_child_above(pid_t pid);

/* After a restart: end what is left of a program started by an earlier daemon (it was killed with its
 * daemon if it had a PID namespace; in a session of its own, its descendants may survive).  Returns the
 * number of processes signalled (0 when nothing was left), or a negative errno. */
int launch_kill_leftovers(const struct launch_id *id);

#endif
