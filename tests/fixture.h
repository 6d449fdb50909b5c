/* SPDX-License-Identifier: MIT */
/* fixture.h -- the temp dir and the clean /dev/shm around a unit-test program that drives real stores.
 *
 * fixture_main(name, prefix, seconds, run_all) makes `base` (a temp dir for the cases' state dirs) and
 * `tag` (prefix + this process's pid: the cases name their nodes "TAG-something"), runs run_all in a
 * forked child under an alarm (so a crash or a hang still ends in the cleanup), turns SIGTERM, SIGINT and
 * SIGHUP into a SIGKILL of the child, and then removes every /dev/shm/fabric.TAG-* object (sealed
 * variables outlive their store by design) and base.  It returns run_all's exit status, or 1 when the
 * child died, or 77 (skip) when /dev/shm is not writable. */
#ifndef FABRIC_TESTS_FIXTURE_H
#define FABRIC_TESTS_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/os/shm.h"
#include "tests/check.h"

static char base[96];
static char tag[32];
static volatile sig_atomic_t fixture_stop;

static void fixture_on_signal(int sig)
{
	fixture_stop = sig;
}

static void fixture_remove_shm(void)
{
	char prefix[64], path[300];
	struct dirent *de;
	DIR *d = opendir(SHM_DIR);

	if (!d)
		return;
	snprintf(prefix, sizeof(prefix), "fabric.%s-", tag);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof(path), "/%s", de->d_name);
		shm_unlink(path);
	}
	closedir(d);
}

static int fixture_main(const char *name, const char *prefix, unsigned seconds, int (*run_all)(void))
{
	struct sigaction sa = { .sa_handler = fixture_on_signal };
	char cmd[256];
	int status = 0, rc;
	pid_t child;

	if (access(SHM_DIR, W_OK) != 0) {
		printf("skip: %s is not writable\n", SHM_DIR);
		return T_EXIT_SKIP;
	}
	snprintf(base, sizeof(base), "/tmp/fabric-%s.XXXXXX", name);
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return T_EXIT_FAIL;
	}
	snprintf(tag, sizeof(tag), "%s%d", prefix, (int)getpid());
	fflush(NULL);
	child = fork();
	if (child == 0) {
		alarm(seconds);
		exit(run_all());
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	while (child > 0 && waitpid(child, &status, 0) < 0) {
		if (errno != EINTR)
			break;
		if (fixture_stop)
			kill(child, SIGKILL);
	}
	if (child < 0)
		perror("fork");
	rc = child < 0 || fixture_stop ? T_EXIT_FAIL : WIFEXITED(status) ? WEXITSTATUS(status) : T_EXIT_FAIL;
	if (child > 0 && WIFSIGNALED(status))
		fprintf(stderr, "%s: killed by signal %d\n", name, WTERMSIG(status));
	fixture_remove_shm();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", base);
	return rc;
}

#endif
