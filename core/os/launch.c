/* SPDX-License-Identifier: MIT */
/* launch.c -- starting a task's program as a process tree of its own, telling its members apart, ending it
 * (see launch.h).
 *
 * Design notes:
 *  - The daemon is multi-threaded (libfuse workers, SQLite), so the child is started the way posix_spawn
 *    does it: clone(CLONE_VM | CLONE_VFORK) on a stack of our own.  Nothing is copied, no lock another
 *    thread holds is inherited in a copied address space, and the caller resumes only once the child
 *    has exec'd or given up.  CLONE_PIDFD gives the descriptor that waits for it without pid reuse.
 *  - The child shares our memory (and the calling thread's TLS, errno included) until it execs, so it
 *    runs only async-signal-safe code: no malloc, no stdio.  Everything it needs (the PATH candidates'
 *    buffer, the groups) is prepared by the parent in struct child, and the child writes what failed
 *    back into that same struct before it exits 127; a successful exec leaves it untouched.
 *  - Credentials are changed with raw syscalls: glibc's setresuid() & co. would make every thread of
 *    the daemon change identity (its setxid broadcast), which is not what a child in our memory wants.
 *  - Every signal is blocked, with the raw syscall (glibc will not block its own internal signals),
 *    from before clone to after it: a handler of the daemon's must never run in the child on our
 *    memory.  The child sets every disposition to SIG_DFL before it unblocks them (SIG_IGN would
 *    survive exec: libfuse ignores SIGPIPE).
 *  - The child returns from its function instead of calling _exit(): glibc's clone ends the process
 *    with the returned value, and no noreturn call means no sanitizer bookkeeping of a stack it does not
 *    know (ASan's __asan_handle_no_return warns about the foreign stack and may unpoison at random).
 *  - A program with a PID namespace of its own is its pid 1: when it ends the kernel kills the rest, so
 *    "the tree" is exact.  Without one (no privilege) the tree is its session, which a setsid'd
 *    grandchild escapes; that is the documented weaker mode.
 */
#include "core/os/launch.h"
#include "core/os/proc.h"
#include "core/text/text.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

_Static_assert(sizeof(gid_t) == sizeof(uint32_t), "spec groups are handed to setgroups as they are");

#define STACK_SIZE (256 * 1024)
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
/* The kernel's sigset is 64 bits wherever this runs; glibc's sigset_t is larger and is not what the
 * raw syscalls take. */
#define KSIGSET_SIZE (64 / 8)

enum step { STEP_NONE, STEP_STDIO, STEP_CLOSE, STEP_GROUPS, STEP_GID, STEP_UID, STEP_PDEATH, STEP_SESSION,
	    STEP_CWD, STEP_EXEC };

/* What the child reads and writes (shared memory: CLONE_VM). */
struct child {
	const struct launch_spec *spec;
	int null_fd, out_w, err_w;
	bool new_session;  /* no PID namespace: the session alone names the tree */
	bool groups_same;  /* spec's groups are the ones we have: a refused setgroups changes nothing */
	const char *path;  /* PATH to search, NULL when argv[0] has a '/' */
	char *candidate;   /* room for the longest "dir/argv[0]" */
	volatile int err;  /* errno of the failed step; 0 when the exec happened */
	volatile int step; /* enum step */
};

/* The contract asks for one caller at a time; the lock makes a second one wait instead of sharing the
 * stack with the first one's child. */
static pthread_mutex_t stack_lock = PTHREAD_MUTEX_INITIALIZER;
static char *stack_base; /* lowest usable byte, above a guard page */

/* --- in the child: async-signal-safe only ------------------------------------------------------------ */

__attribute__((no_sanitize_address)) static int fail(struct child *c, enum step step, int err)
{
	c->err = err ? err : EIO;
	c->step = step;
	return 127;
}

/* Not instrumented by ASan: on a stack it does not know, sharing the caller's TLS, its frame bookkeeping
 * (redzones, fake stacks for use-after-return) would be left half done in our memory by the exec. */
__attribute__((no_sanitize_address)) static int child_main(void *arg)
{
	struct child *c = arg;
	const struct launch_spec *s = c->spec;
	static const unsigned long all_clear = 0;
	/* a zeroed struct is SIG_DFL, no flags, empty mask whatever the arch's layout of it is */
	unsigned long dfl[8] = { 0 };
	bool eacces = false;

	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, dfl, NULL, (size_t)KSIGSET_SIZE);

	/* the parent made them all above 2: no dup2 overwrites a later one's source */
	if (dup2(c->null_fd, 0) < 0 || dup2(c->out_w, 1) < 0 || dup2(c->err_w, 2) < 0)
		return fail(c, STEP_STDIO, errno);
	if (close_range(3, ~0U, 0) != 0)
		return fail(c, STEP_CLOSE, errno);
	/* a session of its own in both modes: the daemon's terminal (Ctrl-C on a foreground daemon) is not
	 * the task's; without a PID namespace the session is also what names the tree */
	if (setsid() < 0)
		return fail(c, STEP_SESSION, errno);
	if (syscall(SYS_setgroups, s->ngroups, s->groups) != 0 && !(errno == EPERM && c->groups_same))
		return fail(c, STEP_GROUPS, errno);
	if (syscall(SYS_setresgid, s->gid, s->gid, s->gid) != 0)
		return fail(c, STEP_GID, errno);
	if (syscall(SYS_setresuid, s->uid, s->uid, s->uid) != 0)
		return fail(c, STEP_UID, errno);
	/* after the identity change, which clears it */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		return fail(c, STEP_PDEATH, errno);
	if (s->cwd && chdir(s->cwd) != 0)
		return fail(c, STEP_CWD, errno);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all_clear, NULL, (size_t)KSIGSET_SIZE);

	if (!c->path) {
		execve(s->argv[0], (char *const *)s->argv, (char *const *)s->envp);
		return fail(c, STEP_EXEC, errno);
	}
	/* execvp's search: an empty entry is the working directory; a directory we may not search or a
	 * file we may not run is remembered (EACCES wins over ENOENT), any other failure ends the search */
	size_t nlen = strlen(s->argv[0]);
	for (const char *p = c->path;;) {
		const char *e = strchrnul(p, ':');
		size_t dlen = (size_t)(e - p);
		char *q = c->candidate;

		if (dlen == 0)
			*q++ = '.';
		memcpy(q, p, dlen);
		q += dlen;
		*q++ = '/';
		memcpy(q, s->argv[0], nlen + 1);
		execve(c->candidate, (char *const *)s->argv, (char *const *)s->envp);
		switch (errno) {
		case EACCES:
			eacces = true;
			break;
		case ENOENT:
		case ENOTDIR:
		case ESTALE:
		case ENODEV:
		case ETIMEDOUT:
			break;
		default:
			return fail(c, STEP_EXEC, errno);
		}
		if (!*e)
			break;
		p = e + 1;
	}
	return fail(c, STEP_EXEC, eacces ? EACCES : ENOENT);
}

/* --- in the parent ------------------------------------------------------------------------------------ */

/* The sentence for a child that could not exec. */
static void child_why(const struct child *c, char *why, size_t whylen)
{
	const struct launch_spec *s = c->spec;
	const char *prog = s->argv[0], *err = strerror(c->err);

	switch (c->step) {
	case STEP_GROUPS:
		text_say(why, whylen, 0, "cannot run '%s': cannot take uid %u gid %u with its %zu supplementary groups: %s",
		    prog, s->uid, s->gid, s->ngroups, err);
		break;
	case STEP_GID:
	case STEP_UID:
		text_say(why, whylen, 0, "cannot run '%s': cannot take uid %u gid %u: %s", prog, s->uid, s->gid, err);
		break;
	case STEP_CWD:
		text_say(why, whylen, 0, "cannot run '%s': cannot change into directory '%s': %s", prog, s->cwd, err);
		break;
	case STEP_EXEC:
		if (c->path)
			text_say(why, whylen, 0, "cannot run '%s': %s (searched PATH=%s)", prog, err, c->path);
		else
			text_say(why, whylen, 0, "cannot run '%s': %s", prog, err);
		break;
	case STEP_STDIO:
		text_say(why, whylen, 0, "cannot run '%s': cannot set up its standard input and output: %s", prog, err);
		break;
	case STEP_CLOSE:
		text_say(why, whylen, 0, "cannot run '%s': cannot close the daemon's descriptors: %s", prog, err);
		break;
	case STEP_SESSION:
		text_say(why, whylen, 0, "cannot run '%s': cannot start a session of its own: %s", prog, err);
		break;
	default:
		text_say(why, whylen, 0, "cannot run '%s': cannot tie it to the daemon's life: %s", prog, err);
		break;
	}
}

/* A descriptor above 2 (a daemon started with 0, 1 or 2 closed gets them back from open/pipe), so the
 * child's dup2s onto 0, 1 and 2 never overwrite one another's source. */
static int above_stdio(int fd)
{
	int n;

	if (fd < 0 || fd > 2)
		return fd;
	n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return n;
}

static const char *env_path(const char *const *envp)
{
	for (; envp && *envp; envp++)
		if (strncmp(*envp, "PATH=", 5) == 0)
			return *envp + 5;
	return DEFAULT_PATH;
}

static int cmp_gid(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;

	return x < y ? -1 : x > y;
}

/* Are the spec's groups (as a set) the ones this process has?  Then an unprivileged daemon running a
 * program as itself need not (and could not) call setgroups. */
static bool groups_same(const struct launch_spec *s)
{
	int n = getgroups(0, NULL);
	gid_t *have, *want;
	bool same = false;

	if (n < 0)
		return false;
	have = malloc(((size_t)n + 1) * sizeof(gid_t));
	want = malloc((s->ngroups + 1) * sizeof(gid_t));
	if (have && want && (n = getgroups(n, have)) >= 0) {
		size_t nh = (size_t)n, nw = s->ngroups, i, j;

		if (nw)
			memcpy(want, s->groups, nw * sizeof(gid_t));
		qsort(have, nh, sizeof(gid_t), cmp_gid);
		qsort(want, nw, sizeof(gid_t), cmp_gid);
		/* compare without duplicates */
		for (i = j = 0; i < nh || j < nw;) {
			if (i == nh || j == nw || have[i] != want[j])
				break;
			gid_t g = have[i];
			while (i < nh && have[i] == g)
				i++;
			while (j < nw && want[j] == g)
				j++;
		}
		same = i == nh && j == nw;
	}
	free(have);
	free(want);
	return same;
}

/* A pidfd for pid if it is alive (not a zombie) and started at start_time, else -ESRCH.  Checked after
 * the pidfd is open, so what it is checked against cannot be replaced by a reused pid meanwhile. */
static int open_same(pid_t pid, uint64_t start_time)
{
	struct proc_stat ps;
	int fd;

	if (pid <= 0)
		return -ESRCH;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -errno;
	if (proc_stat(pid, &ps) != 0 || ps.start_time != start_time || ps.state == 'Z' || ps.state == 'X') {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

static int pidfd_kill(int pidfd)
{
	return syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0 ? 0 : -errno;
}

static int child_stack(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *m;

	if (stack_base)
		return 0;
	m = mmap(NULL, STACK_SIZE + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	/* a guard page, so an overflow faults instead of writing into whatever lies below */
	if (mprotect(m, page, PROT_NONE) != 0) {
		int e = errno;
		munmap(m, STACK_SIZE + page);
		return -e;
	}
	stack_base = m + page;
	return 0;
}

static int sigmask_raw(int how, const void *set, void *old)
{
	return syscall(SYS_rt_sigprocmask, how, set, old, (size_t)KSIGSET_SIZE) == 0 ? 0 : -errno;
}

/* clone with every signal blocked; returns the pid (and *pidfd) or -errno. */
static pid_t start_child(struct child *c, int flags, int *pidfd)
{
	static const unsigned long all = ~0UL;
	unsigned long old;
	pid_t pid;
	int e;

#ifdef __SANITIZE_ADDRESS__
	/* an earlier child exec'd in the middle of its frames: their redzones are still marked */
	ASAN_UNPOISON_MEMORY_REGION(stack_base, STACK_SIZE);
#endif
	e = sigmask_raw(SIG_BLOCK, &all, &old);
	if (e)
		return e;
	c->err = 0;
	c->step = STEP_NONE;
	pid = clone(child_main, stack_base + STACK_SIZE, flags, c, pidfd);
	e = errno;
	sigmask_raw(SIG_SETMASK, &old, NULL);
	return pid < 0 ? -e : pid;
}

int launch_start(const struct launch_spec *spec, struct launch *out, char *why, size_t whylen)
{
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, null_fd = -1, pidfd = -1, rc;
	const char *prog = spec && spec->argv && spec->argv[0] ? spec->argv[0] : "";
	struct child c = { 0 };
	pid_t pid;

	if (why && whylen)
		why[0] = '\0';
	if (!spec || !out || !spec->argv || !spec->argv[0] || !spec->envp || (spec->ngroups && !spec->groups)) {
		text_say(why, whylen, 0, "cannot run '%s': no program was given", prog);
		return -EINVAL;
	}
	if (!spec->argv[0][0]) {
		text_say(why, whylen, 0, "cannot run '': %s", strerror(ENOENT));
		return -ENOENT;
	}
	c.spec = spec;
	c.groups_same = groups_same(spec);
	if (!strchr(prog, '/')) {
		c.path = env_path(spec->envp);
		c.candidate = malloc(strlen(c.path) + strlen(prog) + 3);
		if (!c.candidate) {
			text_say(why, whylen, 0, "cannot run '%s': %s", prog, strerror(ENOMEM));
			return -ENOMEM;
		}
	}
	null_fd = above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC));
	if (null_fd < 0 || pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
		rc = -errno;
		text_say(why, whylen, 0, "cannot run '%s': cannot create its standard input and output: %s", prog,
		    strerror(-rc));
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		outp[i] = above_stdio(outp[i]);
		errp[i] = above_stdio(errp[i]);
	}
	if (outp[0] < 0 || outp[1] < 0 || errp[0] < 0 || errp[1] < 0 ||
	    fcntl(outp[0], F_SETFL, O_NONBLOCK) != 0 || fcntl(errp[0], F_SETFL, O_NONBLOCK) != 0) {
		rc = -errno;
		text_say(why, whylen, 0, "cannot run '%s': cannot create its standard input and output: %s", prog,
		    strerror(-rc));
		goto out;
	}
	c.null_fd = null_fd;
	c.out_w = outp[1];
	c.err_w = errp[1];

	pthread_mutex_lock(&stack_lock);
	rc = child_stack();
	if (rc == 0) {
		int flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD;

		pid = start_child(&c, flags | CLONE_NEWPID, &pidfd);
		/* no right to a namespace (EPERM, EINVAL in some containers), or too many (ENOSPC) */
		if (pid == -EPERM || pid == -EINVAL || pid == -ENOSPC) {
			c.new_session = true;
			pid = start_child(&c, flags, &pidfd);
		}
		rc = pid < 0 ? (int)pid : 0;
	}
	pthread_mutex_unlock(&stack_lock);
	if (rc) {
		text_say(why, whylen, 0, "cannot run '%s': cannot start a process: %s", prog, strerror(-rc));
		goto out;
	}
	if (c.err) {
		siginfo_t info;

		/* it has exited already (CLONE_VFORK): collect it so nothing is left */
		while (waitid(P_PIDFD, pidfd, &info, WEXITED) != 0 && errno == EINTR)
			;
		close(pidfd);
		rc = -c.err;
		child_why(&c, why, whylen);
		goto out;
	}

	/* It has exec'd.  Had it exited already, it is a zombie until reaped, and /proc still shows it. */
	struct proc_stat ps = { 0 };
	out->id.pid = pid;
	out->id.start_time = proc_stat(pid, &ps) == 0 ? ps.start_time : 0;
	out->id.pidns = c.new_session ? 0 : proc_pidns(pid);
	out->pidfd = pidfd;
	out->out_fd = outp[0];
	out->err_fd = errp[0];
	outp[0] = errp[0] = -1;
	rc = 0;
out:
	if (null_fd >= 0)
		close(null_fd);
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	free(c.candidate);
	return rc;
}

int launch_kill(const struct launch *l)
{
	const struct launch_id *id = &l->id;

	if (id->pid <= 0)
		return -ESRCH;
	if (id->pidns) {
		if (l->pidfd >= 0) {
			siginfo_t info = { 0 };

			/* an exited pid 1 has taken its namespace with it: nothing is left to kill */
			if (waitid(P_PIDFD, l->pidfd, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid)
				return -ESRCH;
			return pidfd_kill(l->pidfd);
		}
		/* reaped, or started by an earlier daemon: the pid is only ours if it started when ours did */
		int fd = open_same(id->pid, id->start_time), rc;
		if (fd < 0)
			return fd;
		rc = pidfd_kill(fd);
		close(fd);
		return rc;
	}
	/* its own session and process group: a pgid is not reused while any process has it */
	return kill(-id->pid, SIGKILL) == 0 ? 0 : -errno;
}

int launch_reap(struct launch *l, int *status)
{
	siginfo_t info;
	int rc = 0, st = 0;

	if (l->pidfd < 0)
		return -EBADF;
	memset(&info, 0, sizeof(info));
	while (waitid(P_PIDFD, l->pidfd, &info, WEXITED) != 0) {
		if (errno != EINTR) {
			rc = -errno;
			break;
		}
	}
	if (rc == 0) {
		switch (info.si_code) {
		case CLD_EXITED:
			st = W_EXITCODE(info.si_status, 0);
			break;
		case CLD_DUMPED:
			st = info.si_status | WCOREFLAG;
			break;
		default:
			st = info.si_status;
			break;
		}
		if (status)
			*status = st;
	}
	close(l->pidfd);
	l->pidfd = -1;
	return rc;
}

pid_t launch_our_child_above(pid_t pid)
{
	pid_t self = getpid();
	struct proc_stat ps;

	for (int hops = 0; pid > 1 && hops < 4096; hops++) {
		if (proc_stat(pid, &ps) != 0)
			return 0;
		if (ps.ppid == self)
			return pid;
		pid = ps.ppid;
	}
	return 0;
}

bool launch_member(const struct launch_id *id, pid_t pid)
{
	struct proc_stat ps;

	if (!id || id->pid <= 0 || pid <= 0)
		return false;
	if (id->pidns)
		return proc_pidns(pid) == id->pidns;
	if (proc_stat(pid, &ps) != 0)
		return false;
	if (ps.session == id->pid)
		return true;
	/* a descendant that left the session: its ancestry still leads to the program (while the
	 * intermediate processes live; an orphan is re-parented and lost, the documented weak spot) */
	for (int hops = 0; hops < 4096 && ps.ppid > 1; hops++) {
		pid_t up = ps.ppid;

		if (proc_stat(up, &ps) != 0)
			return false;
		if (up == id->pid)
			return ps.start_time == id->start_time;
	}
	return false;
}

/* Send SIGKILL to every process of /proc that match() accepts, but skip. */
static int kill_matching(bool (*match)(pid_t pid, const struct launch_id *id), const struct launch_id *id,
			 pid_t skip)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char *end;
		long v = strtol(e->d_name, &end, 10);

		if (*end || v <= 0 || v > INT_MAX || (pid_t)v == skip || (pid_t)v == getpid())
			continue;
		if (match((pid_t)v, id) && kill((pid_t)v, SIGKILL) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static bool in_pidns(pid_t pid, const struct launch_id *id)
{
	return proc_pidns(pid) == id->pidns;
}

static bool in_session(pid_t pid, const struct launch_id *id)
{
	struct proc_stat ps;

	return proc_stat(pid, &ps) == 0 && ps.session == id->pid && ps.state != 'Z';
}

int launch_kill_leftovers(const struct launch_id *id)
{
	struct stat st;
	char path[64];
	int n = 0, leader, nsfd;

	if (!id || id->pid <= 0)
		return -EINVAL;
	leader = open_same(id->pid, id->start_time);
	if (id->pidns) {
		/* Only while its pid 1 lives can anything of the namespace be left (its end kills the rest).
		 * A dead namespace's inode number is handed out again, so the namespace is held open while
		 * /proc is searched for it: its number cannot change hands meanwhile. */
		if (leader < 0)
			return 0;
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)id->pid);
		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		/* (still alive after the open: the pid was ours all along, so the namespace is ours) */
		if (nsfd >= 0 && fstat(nsfd, &st) == 0 && (uint64_t)st.st_ino == id->pidns &&
		    syscall(SYS_pidfd_send_signal, leader, 0, NULL, 0) == 0) {
			/* pid 1 first: the kernel then ends the rest itself, and none of them can end pid 1 (a
			 * shell waiting for them) before its own signal came */
			n = pidfd_kill(leader) == 0;
			int more = kill_matching(in_pidns, id, id->pid);
			n = more < 0 ? more : n + more;
		}
		if (nsfd >= 0)
			close(nsfd);
		close(leader);
		return n;
	}
	/* A session id is not reused while a process of that session lives; but a live leader that is not
	 * ours means the number was free, so the session is someone else's. */
	if (leader < 0) {
		struct proc_stat ps;
		if (proc_stat(id->pid, &ps) == 0 && ps.state != 'Z' && ps.state != 'X')
			return 0;
	}
	if (leader >= 0) {
		n = pidfd_kill(leader) == 0;
		close(leader);
	}
	int more = kill_matching(in_session, id, id->pid);
	return more < 0 ? more : n + more;
}
