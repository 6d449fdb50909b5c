/* SPDX-License-Identifier: MIT */
/* load_ahead.c -- the reader ahead of a tree's load (load_ahead.h): a ring of LOAD_AHEAD slots, filled in
 * file order by the reader thread and emptied in the same order by the load's thread. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/bulk/load_ahead.h"
#include "core/bulk/loadInt.h"

struct slot {
	int rc;
	enum load_ahead_step step;
	int fd;        /* a big file's, for the caller; -1 otherwise */
	uint64_t len;  /* bytes in buf */
	char *buf;     /* LOAD_BOUNCE bytes */
};

struct load_ahead {
	struct load_many *m;
	int root;
	const struct load_ahead_file *files;
	size_t n;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t filled, emptied;
	/* files filled in by the reader / given back by the load's thread (made - taken <= LOAD_AHEAD); the
	 * slot of file `taken` is the load's while holding, until its next call */
	size_t made, taken;
	bool holding, stop, started;
	struct slot slots[LOAD_AHEAD];
};

static int open_file(const struct load_ahead *a, const struct load_ahead_file *f)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	int fd;

	if (f->direct)
		how.flags |= O_DIRECT;
	fd = (int)syscall(SYS_openat2, a->root, f->path, &how, sizeof(how));
	if (fd < 0 && errno == EINVAL && (how.flags & O_DIRECT)) { /* a file system without O_DIRECT */
		how.flags &= ~(uint64_t)O_DIRECT;
		fd = (int)syscall(SYS_openat2, a->root, f->path, &how, sizeof(how));
	}
	return fd < 0 ? -errno : fd;
}

/* Is fd still the file the walk saw?  O_NONBLOCK was for the open only (a FIFO put in its place must not
 * hold up the control file); io_uring would answer EAGAIN instead of waiting for the disk. */
static bool same_file(int fd, const struct load_ahead_file *f)
{
	struct stat sb;
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	       sb.st_dev == f->dev && sb.st_ino == f->ino && (uint64_t)sb.st_size == f->size;
}

static void fill(struct load_ahead *a, const struct load_ahead_file *f, struct slot *s)
{
	int fd = open_file(a, f);

	s->fd = -1;
	s->len = 0;
	s->rc = fd < 0 ? fd : 0;
	s->step = LOAD_AHEAD_OPEN;
	if (fd < 0)
		return;
	if (!same_file(fd, f)) {
		s->rc = -EIO;
		s->step = LOAD_AHEAD_CHANGED;
	} else if (!load_many_small(a->m, f->size)) {
		s->fd = fd; /* read by the load's thread, straight into the variable's block */
		return;
	} else if ((s->rc = load_read(NULL, fd, 0, s->buf, f->size, &a->m->progress)) != 0) {
		s->step = LOAD_AHEAD_READ;
	} else if (!load_unchanged(fd, f->size, &f->mtime)) {
		s->rc = -EIO;
		s->step = LOAD_AHEAD_CHANGING;
	} else {
		s->len = f->size;
	}
	close(fd);
}

static void *reader(void *arg)
{
	struct load_ahead *a = arg;
	struct load_creds saved;

	load_many_become(a->m, &saved); /* this thread's credentials only, and it ends with them */
	for (size_t i = 0; i < a->n; i++) {
		struct slot *s = &a->slots[i % LOAD_AHEAD];
		bool stop;
		pthread_mutex_lock(&a->lock);
		while (!a->stop && a->made - a->taken == LOAD_AHEAD)
			pthread_cond_wait(&a->emptied, &a->lock);
		stop = a->stop;
		pthread_mutex_unlock(&a->lock);
		if (stop)
			break;
		fill(a, &a->files[i], s);
		pthread_mutex_lock(&a->lock);
		a->made++;
		pthread_cond_signal(&a->filled);
		pthread_mutex_unlock(&a->lock);
	}
	return NULL;
}

int load_ahead_start(struct load_many *m, int root, const struct load_ahead_file *files, size_t n,
		     struct load_ahead **out)
{
	struct load_ahead *a = calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return -ENOMEM;
	a->m = m;
	a->root = root;
	a->files = files;
	a->n = n;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->filled, NULL);
	pthread_cond_init(&a->emptied, NULL);
	for (size_t i = 0; i < LOAD_AHEAD; i++)
		a->slots[i].fd = -1;
	for (size_t i = 0; i < LOAD_AHEAD; i++) {
		if (!(a->slots[i].buf = malloc(LOAD_BOUNCE))) {
			load_ahead_stop(a);
			return -ENOMEM;
		}
	}
	rc = pthread_create(&a->thread, NULL, reader, a);
	if (rc) {
		load_ahead_stop(a);
		return -rc;
	}
	a->started = true;
	*out = a;
	return 0;
}

int load_ahead_next(struct load_ahead *a, const void **buf, int *fd, enum load_ahead_step *step)
{
	struct slot *s;

	pthread_mutex_lock(&a->lock);
	if (a->holding) { /* the previous file's slot (and buffer) is free again */
		a->taken++;
		a->holding = false;
		pthread_cond_signal(&a->emptied);
	}
	while (a->made == a->taken)
		pthread_cond_wait(&a->filled, &a->lock);
	s = &a->slots[a->taken % LOAD_AHEAD];
	a->holding = true;
	pthread_mutex_unlock(&a->lock);
	*buf = NULL;
	*fd = s->fd;
	s->fd = -1;
	*step = s->step;
	if (s->rc == 0 && *fd < 0)
		*buf = s->buf;
	return s->rc;
}

void load_ahead_stop(struct load_ahead *a)
{
	if (!a)
		return;
	if (a->started) {
		pthread_mutex_lock(&a->lock);
		a->stop = true;
		pthread_cond_signal(&a->emptied);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->thread, NULL);
	}
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->filled);
	pthread_cond_destroy(&a->emptied);
	for (size_t i = 0; i < LOAD_AHEAD; i++) {
		if (a->slots[i].fd >= 0)
			close(a->slots[i].fd);
		free(a->slots[i].buf);
	}
	free(a);
}
