/* SPDX-License-Identifier: MIT */
/* notify.c -- telling the kernel about names it did not see change.
 *
 * The kernel caches names (dentries) for as long as a lookup's reply allowed.  Names that change through
 * FUSE requests are changes the kernel made itself; but a control-file verb (load, restore, shard,
 * mutable) makes names, and the store removes some on its own (a variable whose owner processes ended),
 * and the kernel would go on believing its cache.  The store reports every name change (with its lock
 * held, so nothing here may call back into it); the ones made while this thread runs a control command or
 * an open or release (fs_notify_begin/end) are queued, and a thread of their own sends
 * fuse_lowlevel_notify_inval_entry: never from a request handler, where the kernel may hold the very
 * directory lock the notification needs. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"

struct pending_name {
	uint64_t parent;
	struct pending_name *next;
	char name[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct pending_name *head, **tail = &head;
static struct fuse_session *session;
static pthread_t thread;
static bool running, stopping;
static __thread int wanted; /* depth of fs_notify_begin on this thread */

void fs_notify_begin(void)
{
	wanted++;
}

void fs_notify_end(void)
{
	wanted--;
}

void fs_notify_changing(bool begin)
{
	if (begin)
		fs_notify_begin();
	else
		fs_notify_end();
}

void fs_notify_name_changed(void *arg, uint64_t parent, const char *name)
{
	size_t len = strlen(name);
	struct pending_name *p;

	(void)arg;
	if (!wanted || !running)
		return;
	p = malloc(sizeof(*p) + len + 1);
	if (!p)
		return; /* the cache stays stale until it expires: no worse than without notifications */
	p->parent = parent;
	p->next = NULL;
	memcpy(p->name, name, len + 1);
	pthread_mutex_lock(&lock);
	*tail = p;
	tail = &p->next;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

static void *notifier(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (!head && !stopping)
			pthread_cond_wait(&cond, &lock);
		if (!head)
			break;
		struct pending_name *p = head;
		head = p->next;
		if (!head)
			tail = &head;
		pthread_mutex_unlock(&lock);
		/* -ENOENT: the kernel had nothing cached for it, which is fine */
		fuse_lowlevel_notify_inval_entry(session, p->parent, p->name, strlen(p->name));
		free(p);
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int fs_notify_start(struct fuse_session *se)
{
	int rc;

	session = se;
	rc = pthread_create(&thread, NULL, notifier, NULL);
	if (rc)
		return -rc;
	running = true;
	return 0;
}

void fs_notify_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	running = false;
	stopping = true;
	while (head) { /* the mount is going: nothing left to tell */
		struct pending_name *p = head;
		head = p->next;
		free(p);
	}
	tail = &head;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
}
