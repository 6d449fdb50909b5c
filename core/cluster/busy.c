/* SPDX-License-Identifier: MIT */
/* busy.c -- the moves under way in this process (busy.h): a short list, since a node runs a handful of
 * moves at once; a linear search is all it needs. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cluster/busy.h"

struct busy {
	pthread_mutex_t lock;
	char **keys;
	size_t n, cap;
};

int busy_new(struct busy **out)
{
	struct busy *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	pthread_mutex_init(&b->lock, NULL);
	*out = b;
	return 0;
}

void busy_free(struct busy *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->keys[i]);
	free(b->keys);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static char *key_of(const char *way, const char *name)
{
	char *k = NULL;

	return asprintf(&k, "%s\t%s", way, name) < 0 ? NULL : k;
}

static bool is(const char *key, const char *way, const char *name)
{
	size_t w = strlen(way);

	return strncmp(key, way, w) == 0 && key[w] == '\t' && strcmp(key + w + 1, name) == 0;
}

/* Index of the key, or b->n.  Lock held. */
static size_t find(const struct busy *b, const char *way, const char *name)
{
	size_t i = 0;

	while (i < b->n && !is(b->keys[i], way, name))
		i++;
	return i;
}

bool busy_enter(struct busy *b, const char *way, const char *name)
{
	char *k = b ? key_of(way, name) : NULL;
	bool ok = false;

	if (!b) /* no set: nothing is tracked, so nothing is refused */
		return true;
	if (!k)
		return false;
	pthread_mutex_lock(&b->lock);
	if (find(b, way, name) == b->n) {
		if (b->n == b->cap) {
			size_t cap = b->cap ? 2 * b->cap : 8;
			char **v = realloc(b->keys, cap * sizeof(*v));
			if (v) {
				b->keys = v;
				b->cap = cap;
			}
		}
		if (b->n < b->cap) {
			b->keys[b->n++] = k;
			k = NULL;
			ok = true;
		}
	}
	pthread_mutex_unlock(&b->lock);
	free(k);
	return ok;
}

void busy_leave(struct busy *b, const char *way, const char *name)
{
	size_t i;

	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	if ((i = find(b, way, name)) < b->n) {
		free(b->keys[i]);
		b->keys[i] = b->keys[--b->n];
	}
	pthread_mutex_unlock(&b->lock);
}

bool busy_has(struct busy *b, const char *way, const char *name)
{
	bool has;

	if (!b)
		return false;
	pthread_mutex_lock(&b->lock);
	has = find(b, way, name) < b->n;
	pthread_mutex_unlock(&b->lock);
	return has;
}
