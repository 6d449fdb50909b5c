/* SPDX-License-Identifier: MIT */
/* fabric_wait.c -- fabric-wait MOUNT ID: block until task ID of the fabric at MOUNT has ended, print its
 * status line, and exit with the task's exit code (tasks/ID/exit).
 *
 * It sleeps in poll(2) on tasks/ID/status, which the daemon wakes when the task changes state (FUSE poll
 * notifications): no busy loop, no fixed sleeps.  A status is re-read with pread at offset 0 after every
 * wakeup, since the file's bytes are made afresh at each read.  In a cluster, a task this node has not
 * heard of yet is looked for for up to 10 s. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const unfinished[] = { "queued", "running" };

/* The file's bytes from offset 0 (they are made afresh at each read) into buf, NUL-terminated. */
static int read_all(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* How many other nodes MOUNT/nodes/ lists (0 on a single node, which has no nodes/). */
static int peers(const char *mount)
{
	char dir[4096];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/nodes", mount);
	d = opendir(dir);
	while (d && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n > 1 ? n - 1 : 0;
}

int main(int argc, char **argv)
{
	char path[4096], exitpath[4096], buf[8192];
	int fd, rc;

	if (argc != 3) {
		fprintf(stderr, "usage: fabric-wait MOUNT ID\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/tasks/%s/status", argv[1], argv[2]);
	snprintf(exitpath, sizeof(exitpath), "%s/tasks/%s/exit", argv[1], argv[2]);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	/* a task spawned from another node of a cluster is heard of here a moment after that spawn answered
	 * (its record comes through etcd): look for it for a while before saying there is none */
	for (int tries = 0; fd < 0 && errno == ENOENT && tries < 200 && peers(argv[1]) > 0; tries++) {
		usleep(50 * 1000);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		fprintf(stderr, "fabric wait: no task %s at %s (%s)\n", argv[2], argv[1], strerror(errno));
		return 2;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		bool done = true;

		rc = read_all(fd, buf, sizeof(buf));
		if (rc) {
			fprintf(stderr, "fabric wait: reading %s: %s\n", path, strerror(-rc));
			return 2;
		}
		for (size_t i = 0; i < 2; i++) {
			size_t n = strlen(unfinished[i]);
			if (strncmp(buf, unfinished[i], n) == 0 && (buf[n] == ' ' || buf[n] == '\n'))
				done = false;
		}
		if (done)
			break;
		if (poll(&p, 1, -1) < 0 && errno != EINTR) {
			fprintf(stderr, "fabric wait: poll: %s\n", strerror(errno));
			return 2;
		}
		if (p.revents & POLLERR) {
			fprintf(stderr, "fabric wait: task %s is gone (forgotten)\n", argv[2]);
			return 2;
		}
	}
	close(fd);
	buf[strcspn(buf, "\n")] = '\0';
	printf("%s\n", buf);
	fflush(stdout);
	fd = open(exitpath, O_RDONLY | O_CLOEXEC);
	rc = fd < 0 ? -errno : read_all(fd, buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	if (rc) {
		fprintf(stderr, "fabric wait: reading %s: %s\n", exitpath, strerror(-rc));
		return 2;
	}
	return atoi(buf);
}
