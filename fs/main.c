/* SPDX-License-Identifier: MIT */
/* main.c -- fabricd: one node's daemon.  Parses options, takes the state dir, opens the store, mounts,
 * and runs the multi-threaded FUSE loop until unmounted or signalled.
 *
 *   fabricd MOUNTPOINT [--state DIR] [--capacity SIZE] [--node NAME] [-f]
 *
 * DAEMONISING
 * Unless -f, the process forks at once and the parent waits on a pipe: the child does all the work
 * (SQLite must be opened after fork, never before) and writes either "ok" or the one sentence that
 * explains why it could not mount; the parent prints that and exits 0 or 1.  So `fabric mount` returns
 * only when the mount is live, or with the reason.  The child logs to STATE/fabricd.log.
 *
 * THE STATE DIR LOCK
 * STATE/fabricd.pid is held with flock(LOCK_EX) for the daemon's life and says "PID MOUNTPOINT".  A
 * second daemon on the same state dir is refused with that line in its message; a crashed daemon's lock
 * goes with it, so nothing stale needs clearing. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/bulk/checkpoint.h"
#include "core/cluster/cluster.h"
#include "core/text/names.h"
#include "core/text/size.h"
#include "fs/fs.h"

struct options {
	const char *mountpoint;
	const char *state;
	const char *node;
	uint64_t capacity;
	bool foreground;
	bool no_passthrough;
	bool strict_seal;
	bool noexec;
	unsigned max_tasks, task_history, events_keep;
	const char *etcd, *cluster, *listen; /* several nodes: all three, or none */
	const char *secret_file;             /* the cluster's secret, for the bytes between nodes */
};

static int ready_fd = -1; /* write end of the pipe to the waiting parent */

static void usage(FILE *out)
{
	fprintf(out, "usage: fabricd MOUNTPOINT [--state DIR] [--capacity SIZE] [--node NAME] [--no-passthrough]\n"
		     "               [--strict-seal] [--noexec] [--max-tasks K] [--task-history N] [--events N]\n"
		     "               [-f]\n"
		     "               [--etcd URL[,URL...] [--cluster NAME] [--listen ADDR:PORT] [--secret FILE]]\n"
		     "  --state DIR      state dir (yellow pages, log, lock); default /var/lib/fabric for root,\n"
		     "                   else $XDG_STATE_HOME/fabric or ~/.local/state/fabric\n"
		     "  --capacity SIZE  shared memory the node may hold: 4096, 512M, 2G ...; default: the state\n"
		     "                   dir's, or half of /dev/shm on first use\n"
		     "  --node NAME      node name, [A-Za-z0-9_-]{1,64}; default: the state dir's, or the hostname\n"
		     "  --no-passthrough serve every read and write through the daemon (the slow path)\n"
		     "  --strict-seal    writers go through the daemon too: a sealed variable can never change,\n"
		     "                   but writes run at FUSE speed and a writer cannot mmap\n"
		     "  --noexec         no program may be run from the mount (mount(2)'s MS_NOEXEC)\n"
		     "  --max-tasks K    tasks running at once (default: the number of CPUs); the rest queue\n"
		     "  --task-history N finished task records kept (default 1000); the oldest go first\n"
		     "  --events N       events kept for slow readers of the events file (default 65536, at\n"
		     "                   least 16, rounded up to a power of two); one further behind loses the oldest\n"
		     "  --etcd URLS      join a cluster of nodes whose shared metadata is in this etcd\n"
		     "  --cluster NAME   the cluster's name (default: fabric)\n"
		     "  --listen A:P     where the other nodes reach this one (default 127.0.0.1:0: a free port)\n"
		     "  --secret FILE    the cluster's shared secret (first line of FILE): serve and fetch bytes\n"
		     "  -f               stay in the foreground, log to stderr\n");
}

static void log_line(const char *msg)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&now, &tm));
	fprintf(stderr, "%s fabricd[%d]: %s\n", when, (int)getpid(), msg);
}

/* Tell the user why we stop: the waiting parent prints it, or stderr when in the foreground. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_line(msg);
	if (ready_fd >= 0) {
		if (write(ready_fd, msg, strlen(msg)) < 0)
			perror("fabricd: pipe");
		close(ready_fd);
		ready_fd = -1;
	}
	return EXIT_FAILURE;
}

void fs_log(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_line(msg);
}

/* core/cluster's `space`: what this node says of itself at every renewal. */
static void node_space(void *arg, uint64_t *capacity, uint64_t *free_bytes)
{
	uint64_t used = 0, objects = 0;

	store_statfs(arg, capacity, &used, &objects);
	*free_bytes = *capacity > used ? *capacity - used : 0;
}

static void default_state(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (geteuid() == 0)
		snprintf(buf, len, "/var/lib/fabric");
	else if (xdg && *xdg)
		snprintf(buf, len, "%s/fabric", xdg);
	else
		snprintf(buf, len, "%s/.local/state/fabric", home ? home : "/tmp");
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' }, { "capacity", required_argument, NULL, 'c' },
		{ "node", required_argument, NULL, 'n' },  { "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },        { "no-passthrough", no_argument, NULL, 'P' },
		{ "strict-seal", no_argument, NULL, 'S' }, { "max-tasks", required_argument, NULL, 'K' },
		{ "task-history", required_argument, NULL, 'H' }, { "etcd", required_argument, NULL, 'E' },
		{ "cluster", required_argument, NULL, 'C' },       { "listen", required_argument, NULL, 'L' },
		{ "secret", required_argument, NULL, 'X' },        { "events", required_argument, NULL, 'V' },
		{ "noexec", no_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	while ((c = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->state = optarg;
			break;
		case 'c':
			rc = size_parse(optarg, &o->capacity);
			if (rc || o->capacity < 4096) {
				fprintf(stderr, "fabricd: --capacity '%s': %s\n", optarg,
					rc == -EOVERFLOW ? "too large" :
					rc ? "not a size (use 4096, 512M, 2G ...)" : "below one page (4096)");
				return -EINVAL;
			}
			break;
		case 'n':
		case 'C':
			if (names_check_node(optarg)) {
				fprintf(stderr, "fabricd: --%s '%s': a %s name is 1-64 of [A-Za-z0-9_-]\n",
					c == 'n' ? "node" : "cluster", optarg, c == 'n' ? "node" : "cluster");
				return -EINVAL;
			}
			*(c == 'n' ? &o->node : &o->cluster) = optarg;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'P':
			o->no_passthrough = true;
			break;
		case 'S':
			o->strict_seal = true;
			break;
		case 'x':
			o->noexec = true;
			break;
		case 'K':
		case 'H': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (end == optarg || *end || v < 1 || v > 100000 || optarg[0] == '-') {
				fprintf(stderr, "fabricd: --%s '%s': give a number from 1 to 100000\n",
					c == 'K' ? "max-tasks" : "task-history", optarg);
				return -EINVAL;
			}
			*(c == 'K' ? &o->max_tasks : &o->task_history) = (unsigned)v;
			break;
		}
		case 'V': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (end == optarg || *end || v < 16 || v > (1ul << 24) || optarg[0] == '-') {
				fprintf(stderr, "fabricd: --events '%s': give a number from 16 to 16777216\n", optarg);
				return -EINVAL;
			}
			o->events_keep = (unsigned)v;
			break;
		}
		case 'E':
			o->etcd = optarg;
			break;
		case 'L':
			o->listen = optarg;
			break;
		case 'X':
			o->secret_file = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return -EINVAL;
	}
	if (!o->etcd && (o->cluster || o->listen || o->secret_file)) {
		fprintf(stderr, "fabricd: --cluster, --listen and --secret join a cluster: give its etcd too (--etcd URL)\n");
		return -EINVAL;
	}
	o->mountpoint = argv[optind];
	return 0;
}

/* Fork; the parent waits for the child's "ok:LINE" (LINE goes to stdout) or reason, and exits with it.
 * Returns in the child. */
static void daemonise(const char *logpath)
{
	int pfd[2], logfd, nul;
	char msg[1024];
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		perror("fabricd: fork");
		exit(EXIT_FAILURE);
	}
	if (pid > 0) {
		close(pfd[1]);
		n = read(pfd[0], msg, sizeof(msg) - 1);
		msg[n > 0 ? n : 0] = '\0';
		if (n >= 3 && memcmp(msg, "ok:", 3) == 0) {
			printf("fabric: %s\n", msg + 3);
			exit(EXIT_SUCCESS);
		}
		fprintf(stderr, "fabricd: %s\n", n > 0 ? msg : "the daemon died while starting; see its log");
		exit(EXIT_FAILURE);
	}
	close(pfd[0]);
	ready_fd = pfd[1];
	setsid();
	nul = open("/dev/null", O_RDWR);
	logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (nul >= 0)
		dup2(nul, STDIN_FILENO);
	if (logfd >= 0) {
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		close(logfd);
	}
	if (nul > STDERR_FILENO)
		close(nul);
}

/* Take the state dir: flock its pid file, or say who holds it. */
static int lock_state(const char *state, const char *mountpoint, int *lockfd)
{
	char path[PATH_MAX + 16], holder[PATH_MAX + 32] = "";
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/fabricd.pid", state);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail("cannot open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		n = pread(fd, holder, sizeof(holder) - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		holder[strcspn(holder, "\n")] = ' ';
		holder[strcspn(holder, "\n")] = '\0';
		close(fd);
		return fail("state dir %s is already in use by a running fabricd (pid and mount point: %s); "
			    "unmount that one first or give another --state",
			    state, holder);
	}
	if (ftruncate(fd, 0) < 0 || dprintf(fd, "%d\n%s\n", (int)getpid(), mountpoint) < 0)
		return fail("cannot write %s: %s", path, strerror(errno));
	*lockfd = fd;
	return 0;
}

/* Is path a mount point already (its device differs from its parent's)? */
static char started_line[PATH_MAX * 4 + 4096];
static char lost_line[PATH_MAX + 2048]; /* what the start found lost and brought back, for the mount's answer */

/* Variables found lost at start (their shm gone, as after a reboot), by path under vars/. */
struct lost_list {
	char **paths;
	size_t n, cap;
};

static void note_lost(void *arg, const char *path)
{
	struct lost_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **np = realloc(l->paths, cap * sizeof(*np));
		if (!np)
			return;
		l->paths = np;
		l->cap = cap;
	}
	if ((l->paths[l->n] = strdup(path)) != NULL)
		l->n++;
}

/* Bring lost variables back from STATE/checkpoint when there is one; say what is missing otherwise. */
static void restore_lost(struct store *st, const char *state, struct lost_list *l)
{
	struct load_caller root = { 0, 0, getpid() };
	struct load_result res;
	char dir[PATH_MAX + 16], manifest[PATH_MAX + 32], report[4096], why[1024] = "";
	int rc;

	if (!l->n)
		return;
	snprintf(dir, sizeof(dir), "%s/checkpoint", state);
	snprintf(manifest, sizeof(manifest), "%s/manifest.tsv", dir);
	if (access(manifest, R_OK) != 0) {
		snprintf(lost_line, sizeof(lost_line), "; %zu variable(s) lost and no checkpoint in %s to restore "
			 "them from (names in the log)", l->n, dir);
		return;
	}
	rc = load_restore_only(st, &root, dir, (const char *const *)l->paths, l->n, &res, report, sizeof(report),
			       why, sizeof(why));
	if (rc)
		snprintf(lost_line, sizeof(lost_line), "; %zu variable(s) lost; restoring them from %s failed: %s",
			 l->n, dir, why);
	else
		snprintf(lost_line, sizeof(lost_line), "; %zu variable(s) lost, %llu restored from %s%s", l->n,
			 (unsigned long long)res.count, dir, res.count < l->n ? " (the others: see the log)" : "");
	if (report[0] || why[0]) {
		char msg[sizeof(report) + 64];
		snprintf(msg, sizeof(msg), "restore of lost variables: %s%s", why, report);
		log_line(msg);
	}
}

/* Once the kernel's INIT is answered the data path is known: log it, and release the waiting parent
 * (or print it, in the foreground).  Runs beside the session loop, which must answer INIT. */
static void *announce_when_ready(void *arg)
{
	struct fs *fs = arg;
	uint64_t capacity, used, objects;
	char why[256], cap[32];

	if (fs_pt_wait_ready(30, why, sizeof(why))) {
		fail("%s", why);
		fuse_session_exit(fs->se);
		raise(SIGTERM); /* wakes the loop out of its read */
		return NULL;
	}
	store_statfs(fs->store, &capacity, &used, &objects);
	size_format(capacity, cap, sizeof(cap));
	snprintf(started_line, sizeof(started_line), "mounted %s: node %s, capacity %s, %llu variables%s; data path: %s",
		 fs->mountpoint, store_node_name(fs->store), cap, (unsigned long long)objects, lost_line,
		 fs_pt_datapath());
	log_line(started_line);
	tasks_go(fs->tasks); /* queued tasks of an earlier run start now, on the settled data path */
	if (ready_fd >= 0) {
		if (dprintf(ready_fd, "ok:%s", started_line) < 0)
			log_line("the starting parent is gone");
		close(ready_fd);
		ready_fd = -1;
	} else {
		printf("fabricd: %s\n", started_line);
		fflush(stdout);
	}
	return NULL;
}

static bool is_mount_point(const char *path)
{
	char parent[PATH_MAX + 4];
	struct stat a, b;

	snprintf(parent, sizeof(parent), "%s/..", path);
	return stat(path, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

/* Many variables may be open at once; each open variable holds one fd on its block. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct options opt = { 0 };
	char state[PATH_MAX], mnt[PATH_MAX], fsname[PATH_MAX + 8], logpath[PATH_MAX + 16], msg[PATH_MAX * 2 + 256];
	struct fuse_loop_config *loop;
	struct store_config cfg = { 0 };
	struct lost_list lost = { 0 };
	pthread_t ready;
	struct fs fs = { 0 };
	int lockfd = -1, rc;

	if (parse_options(argc, argv, &opt))
		return EXIT_FAILURE;
	if (opt.state)
		snprintf(state, sizeof(state), "%s", opt.state);
	else
		default_state(state, sizeof(state));
	rc = mkdir_p(state);
	if (rc || !realpath(state, mnt)) {
		fprintf(stderr, "fabricd: state dir %s: %s\n", state, strerror(rc ? -rc : errno));
		return EXIT_FAILURE;
	}
	memcpy(state, mnt, sizeof(state));
	rc = fs_clear_dead_mount(opt.mountpoint);
	if (rc || !realpath(opt.mountpoint, mnt)) {
		fprintf(stderr, "fabricd: mount point %s: %s\n", opt.mountpoint, strerror(rc ? -rc : errno));
		return EXIT_FAILURE;
	}
	{
		struct stat sb;
		if (stat(mnt, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
			fprintf(stderr, "fabricd: mount point %s is not a directory\n", mnt);
			return EXIT_FAILURE;
		}
	}
	if (is_mount_point(mnt)) {
		fprintf(stderr, "fabricd: %s is already a mount point; unmount it first\n", mnt);
		return EXIT_FAILURE;
	}
	snprintf(logpath, sizeof(logpath), "%s/fabricd.log", state);
	if (!opt.foreground)
		daemonise(logpath);
	raise_fd_limit();
	if (lock_state(state, mnt, &lockfd))
		return EXIT_FAILURE;

	cfg.state_dir = state;
	fs.state_dir = state;
	cfg.node = opt.node;
	cfg.capacity = opt.capacity;
	cfg.log = log_line;
	cfg.lost = note_lost;
	cfg.lost_arg = &lost;
	cfg.name_changed = fs_notify_name_changed;
	cfg.events_keep = opt.events_keep;
	rc = store_init(&cfg, &fs.store, msg, sizeof(msg));
	if (rc)
		return fail("%s", msg);
	restore_lost(fs.store, state, &lost);
	for (size_t i = 0; i < lost.n; i++)
		free(lost.paths[i]);
	free(lost.paths);
	if (opt.etcd) {
		char secret[256] = "";
		if (opt.secret_file) {
			FILE *f = fopen(opt.secret_file, "r");
			if (!f || !fgets(secret, sizeof(secret), f)) {
				if (f)
					fclose(f);
				store_destroy(fs.store);
				return fail("--secret %s: %s", opt.secret_file, f ? "empty" : strerror(errno));
			}
			fclose(f);
			secret[strcspn(secret, "\r\n")] = '\0';
		}
		struct cluster_config cc = { .etcd = opt.etcd, .name = opt.cluster ? opt.cluster : "fabric",
					     .node = store_node_name(fs.store),
					     .addr = opt.listen ? opt.listen : "127.0.0.1:0", .space = node_space,
					     .space_arg = fs.store, .changed = fs_peers_changed, .log = log_line,
					     .st = fs.store, .names_changed = fs_remote_changed, .names_arg = &fs,
					     .secret = secret[0] ? secret : NULL, .changing = fs_notify_changing };
		rc = cluster_join(&cc, &fs.cluster, msg, sizeof(msg));
		if (rc) {
			cluster_leave(fs.cluster);
			store_destroy(fs.store);
			return fail("%s", msg);
		}
		fs_log("joined cluster %s as node %s, listening at %s", cluster_name(fs.cluster),
			   store_node_name(fs.store), cluster_addr(fs.cluster));
	}
	rc = datasets_start(fs.store, log_line, fs_dataset_changed, NULL, &fs.datasets);
	if (rc) {
		cluster_leave(fs.cluster);
		store_destroy(fs.store);
		return fail("cannot start the keeper of the datasets: %s", strerror(-rc));
	}
	if (fs.cluster) { /* other nodes' `dataset tree` of this node's datasets */
		static struct ctl_env served;
		served = (struct ctl_env){ .st = fs.store, .state_dir = state, .datasets = fs.datasets };
		rc = ctl_dataset_serve(fs.cluster, &served);
		if (rc && rc != -ENOTCONN)
			fs_log("cannot serve the datasets' trees to the other nodes: %s", strerror(-rc));
	}
	snprintf(fsname, sizeof(fsname), "fabric:%s", state);
	fs_virt_init();
	rc = fs_files_start();
	if (rc == 0)
		rc = fs_events_start(fs.store);
	if (rc == 0)
		rc = fs_mount(&fs, mnt, fsname, !opt.no_passthrough, opt.strict_seal, opt.noexec);
	if (rc) {
		cluster_leave(fs.cluster);
		datasets_stop(fs.datasets);
		store_destroy(fs.store);
		return fail("cannot mount at %s (%s); see %s", mnt, strerror(-rc), logpath);
	}
	if (fs_notify_start(fs.se) != 0 || fuse_set_signal_handlers(fs.se) != 0) {
		fs_unmount(&fs);
		cluster_leave(fs.cluster);
		datasets_stop(fs.datasets);
		store_destroy(fs.store);
		return fail("cannot install signal handlers");
	}
	{
		struct task_config tc = { .st = fs.store, .state_dir = state, .mountpoint = mnt,
					  .max_running = opt.max_tasks, .history = opt.task_history,
					  .changed = fs_task_changed, .cluster = fs.cluster };
		rc = tasks_init(&tc, &fs.tasks, msg, sizeof(msg));
		if (rc) {
			fs_unmount(&fs);
			cluster_leave(fs.cluster);
			datasets_stop(fs.datasets);
			store_destroy(fs.store);
			return fail("%s", msg);
		}
	}
	rc = pthread_create(&ready, NULL, announce_when_ready, &fs);
	if (rc) {
		tasks_destroy(fs.tasks);
		fs_unmount(&fs);
		cluster_leave(fs.cluster);
		datasets_stop(fs.datasets);
		store_destroy(fs.store);
		return fail("cannot start: %s", strerror(rc));
	}
	loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(loop, 0);
	fuse_loop_cfg_set_idle_threads(loop, 8);
	rc = fuse_session_loop_mt(fs.se, loop);
	fuse_loop_cfg_destroy(loop);
	pthread_join(ready, NULL);

	fs_events_stop();
	fuse_remove_signal_handlers(fs.se);
	tasks_destroy(fs.tasks); /* running tasks are killed and recorded lost; queued ones wait for next time */
	fs.tasks = NULL;
	fs_notify_stop();
	fs_unmount(&fs);
	fs_files_stop();
	cluster_leave(fs.cluster); /* every node sees this one down at once */
	fs_peers_free();
	fs_remote_free();
	datasets_stop(fs.datasets);
	store_destroy(fs.store);
	log_line("unmounted; the state dir is marked clean");
	if (ftruncate(lockfd, 0) < 0)
		log_line("could not clear the pid file");
	close(lockfd);
	return rc < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
