/* SPDX-License-Identifier: MIT */
/* proc.c -- the /proc readers (proc.h).  Each opens, reads and closes at once: a pid is a name that can
 * be given to another process, so nothing read here is kept. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/os/proc.h"

int proc_stat(pid_t pid, struct proc_stat *ps)
{
	char path[64], buf[2048];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ESRCH;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	p++;
	memset(ps, 0, sizeof(*ps));
	for (int field = 3; field <= 52; field++) {
		char *end;
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n') /* an older kernel stops before field 52: what was read stands */
			return field > 22 ? 0 : -EIO;
		if (field == 3) {
			ps->state = *p;
			end = p + 1;
		} else {
			long long v = strtoll(p, &end, 10);
			if (end == p)
				return -EIO;
			if (field == 4)
				ps->ppid = (pid_t)v;
			else if (field == 6)
				ps->session = (pid_t)v;
			else if (field == 9)
				ps->flags = (unsigned long)v;
			else if (field == 22)
				ps->start_time = (uint64_t)v;
			else if (field == 52)
				ps->exit_code = (int)v;
		}
		p = end;
	}
	return 0;
}

/* The line of /proc/PID/status that starts with key, into line; false when pid is gone or has none. */
static bool status_line(pid_t pid, const char *key, char *line, size_t len)
{
	char path[64];
	size_t klen = strlen(key);
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, (int)len, f))
		found = strncmp(line, key, klen) == 0;
	fclose(f);
	return found;
}

pid_t proc_tgid(pid_t tid)
{
	char line[256];
	int tgid;

	if (!status_line(tid, "Tgid:", line, sizeof(line)) || sscanf(line, "Tgid: %d", &tgid) != 1)
		return 0;
	return (pid_t)tgid;
}

size_t proc_groups(pid_t pid, uint32_t *groups, size_t max)
{
	char line[4096];
	size_t n = 0;

	if (!status_line(pid, "Groups:", line, sizeof(line)))
		return 0;
	for (char *p = line + 7, *end; n < max; p = end) {
		unsigned long g = strtoul(p, &end, 10);
		if (end == p)
			break;
		groups[n++] = (uint32_t)g;
	}
	return n;
}

int proc_umask(pid_t pid)
{
	char line[256];
	unsigned mask;

	if (!status_line(pid, "Umask:", line, sizeof(line)) || sscanf(line, "Umask: %o", &mask) != 1)
		return -ESRCH;
	return (int)(mask & 0777);
}

bool proc_has_cap(pid_t pid, int cap)
{
	char line[256];
	unsigned long long eff;

	if (cap < 0 || cap > 63 || !status_line(pid, "CapEff:", line, sizeof(line)) ||
	    sscanf(line, "CapEff: %llx", &eff) != 1)
		return false;
	return (eff >> cap) & 1;
}

uint64_t proc_pidns(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}
