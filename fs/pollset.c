/* SPDX-License-Identifier: MIT */
/* pollset.c -- the poll(2) handles waiting on made-up files (tasks/ID/status, datasets/NAME/.tree), each
 * under a key (the task's id, the dataset's directory id), until the key's object changes. */
#include <errno.h>
#include <stdlib.h>

#include "fs/fs.h"

struct fs_poller {
	uint64_t key;
	struct fuse_pollhandle *ph;
	struct fs_poller *next;
};

int fs_pollset_add(struct fs_pollset *s, uint64_t key, struct fuse_pollhandle *ph)
{
	struct fs_poller *p = malloc(sizeof(*p));

	if (!p) {
		fuse_pollhandle_destroy(ph);
		return -ENOMEM;
	}
	p->key = key;
	p->ph = ph;
	pthread_mutex_lock(&s->lock);
	p->next = s->head;
	s->head = p;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void fs_pollset_wake(struct fs_pollset *s, uint64_t key)
{
	struct fs_poller *ready = NULL;

	pthread_mutex_lock(&s->lock);
	for (struct fs_poller **pp = &s->head; *pp;) {
		struct fs_poller *p = *pp;
		if (p->key != key) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		p->next = ready;
		ready = p;
	}
	pthread_mutex_unlock(&s->lock);
	while (ready) { /* notified outside the lock: the kernel's answer may come on another thread */
		struct fs_poller *next = ready->next;
		fuse_lowlevel_notify_poll(ready->ph);
		fuse_pollhandle_destroy(ready->ph);
		free(ready);
		ready = next;
	}
}
