/* SPDX-License-Identifier: MIT */
/* events.c -- the bounded ring of events and the lines its readers get (events.h).
 *
 * Each event is one allocation (the struct and its strings after it), made and freed outside the ring's
 * lock; the lock covers linking it into its slot (evicting the oldest) and a reader's copy of lines out.
 * Lines are printed at read time, in the reader's format, so a post costs one malloc and a few copies. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/event/events.h"

struct event {
	uint64_t seq;
	int64_t time_ns;
	enum event_kind kind;
	const char *path;
	struct event_access access;
	size_t nf;
	struct event_field f[EVENT_FIELDS_MAX];
	char strings[]; /* path, scope, keys and values, NUL-terminated one after the other */
};

struct events {
	pthread_mutex_t lock;
	struct event **slot; /* slot[seq & mask] */
	size_t mask;
	uint64_t next; /* the next event's seq; events next-keep .. next-1 may be in the ring */
	void (*wake)(void *arg);
	void *wake_arg;
};

static const char *const kind_names[] = {
	[EV_CREATED] = "created", [EV_SEALED] = "sealed", [EV_REMOVED] = "removed", [EV_RENAMED] = "renamed",
	[EV_MOVED] = "moved",     [EV_TASK] = "task",     [EV_NODE] = "node",       [EV_LOST] = "lost",
};

const char *event_kind_name(enum event_kind kind)
{
	return (unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "?";
}

int events_new(size_t keep, struct events **out)
{
	struct events *ev = calloc(1, sizeof(*ev));
	size_t n = 1;

	if (!keep)
		keep = EVENTS_KEEP;
	while (n < keep)
		n <<= 1;
	if (!ev || !(ev->slot = calloc(n, sizeof(*ev->slot)))) {
		free(ev);
		return -ENOMEM;
	}
	pthread_mutex_init(&ev->lock, NULL);
	ev->mask = n - 1;
	ev->next = 1;
	*out = ev;
	return 0;
}

void events_free(struct events *ev)
{
	if (!ev)
		return;
	for (size_t i = 0; i <= ev->mask; i++)
		free(ev->slot[i]);
	free(ev->slot);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}

size_t events_keep(const struct events *ev)
{
	return ev->mask + 1;
}

void events_set_wake(struct events *ev, void (*wake)(void *arg), void *arg)
{
	pthread_mutex_lock(&ev->lock);
	ev->wake = wake;
	ev->wake_arg = arg;
	pthread_mutex_unlock(&ev->lock);
}

/* Copy s to *p and return where it went (NULL stays NULL). */
static const char *put(char **p, const char *s)
{
	char *at = *p;
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	memcpy(at, s, n);
	*p += n;
	return at;
}

void events_post(struct events *ev, enum event_kind kind, const char *path, const struct event_access *acc,
		 const struct event_field *f, size_t nf)
{
	struct event_access open = { .everyone = true };
	size_t len = strlen(path) + 1;
	struct event *e, *old;
	struct timespec now;
	char *p;

	if (!ev)
		return;
	if (!acc)
		acc = &open;
	if (nf > EVENT_FIELDS_MAX)
		nf = EVENT_FIELDS_MAX;
	if (acc->scope)
		len += strlen(acc->scope) + 1;
	for (size_t i = 0; i < nf; i++)
		len += strlen(f[i].key) + strlen(f[i].val) + 2;
	if (!(e = malloc(sizeof(*e) + len)))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	e->time_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	e->kind = kind;
	p = e->strings;
	e->path = put(&p, path);
	e->access = *acc;
	e->access.scope = acc->scope && strcmp(acc->scope, "any") != 0 ? put(&p, acc->scope) : NULL;
	e->nf = nf;
	for (size_t i = 0; i < nf; i++) {
		e->f[i].key = put(&p, f[i].key);
		e->f[i].val = put(&p, f[i].val);
		e->f[i].num = f[i].num;
	}
	pthread_mutex_lock(&ev->lock);
	e->seq = ev->next++;
	old = ev->slot[e->seq & ev->mask];
	ev->slot[e->seq & ev->mask] = e;
	void (*wake)(void *) = ev->wake;
	void *arg = ev->wake_arg;
	pthread_mutex_unlock(&ev->lock);
	free(old);
	if (wake)
		wake(arg);
}

uint64_t events_next(struct events *ev)
{
	uint64_t n;

	pthread_mutex_lock(&ev->lock);
	n = ev->next;
	pthread_mutex_unlock(&ev->lock);
	return n;
}

static uint64_t oldest_of(const struct events *ev)
{
	return ev->next > ev->mask + 1 ? ev->next - (ev->mask + 1) : 1;
}

bool events_ready(struct events *ev, uint64_t *cursor, bool (*may_see)(void *arg, const struct event_view *e),
		  void *arg)
{
	bool ready;

	pthread_mutex_lock(&ev->lock);
	ready = *cursor < oldest_of(ev);
	while (!ready && *cursor < ev->next) {
		const struct event *e = ev->slot[*cursor & ev->mask];
		struct event_view v = { e->seq, e->kind, e->path, e->access };
		if (!may_see || may_see(arg, &v))
			ready = true;
		else
			(*cursor)++;
	}
	pthread_mutex_unlock(&ev->lock);
	return ready;
}

/* s with blanks, control bytes and backslashes as \ooo, the /proc/mounts way. */
static int escaped(struct text *out, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c <= ' ' || *c == '\\' || *c == 0x7f)
			text_printf(out, "\\%03o", *c);
		else
			text_printf(out, "%c", *c);
	}
	return out->rc;
}

static void time_text(int64_t ns, char *buf, size_t len)
{
	time_t sec = (time_t)(ns / 1000000000);
	struct tm tm;

	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(ns % 1000000000 / 1000000));
}

static int line_text(struct text *out, uint64_t seq, int64_t time_ns, enum event_kind kind, const char *path,
		     const struct event_field *f, size_t nf)
{
	char when[40];

	time_text(time_ns, when, sizeof(when));
	text_printf(out, "%llu\t%s\t%s\t", (unsigned long long)seq, when, event_kind_name(kind));
	escaped(out, path);
	for (size_t i = 0; i < nf; i++) {
		text_printf(out, "\t%s=", f[i].key);
		escaped(out, f[i].val);
	}
	return text_printf(out, "\n");
}

static int line_json(struct text *out, uint64_t seq, int64_t time_ns, enum event_kind kind, const char *path,
		     const struct event_field *f, size_t nf)
{
	char when[40], *s;
	json_t *o;
	int rc = -ENOMEM;

	time_text(time_ns, when, sizeof(when));
	o = json_pack("{sIssssss}", "seq", (json_int_t)seq, "time", when, "event", event_kind_name(kind), "path",
		      path);
	for (size_t i = 0; o && i < nf; i++) {
		char *end;
		long long n = strtoll(f[i].val, &end, 10);
		json_t *v = f[i].num && *f[i].val && !*end ? json_integer(n) : json_string(f[i].val);
		if (!v || json_object_set_new(o, f[i].key, v) < 0)
			goto out;
	}
	/* a name that is not UTF-8 keeps its bytes as code points (json_string refuses it) */
	if (o && (s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII)) != NULL) {
		rc = text_printf(out, "%s\n", s);
		free(s);
	}
out:
	json_decref(o);
	return rc;
}

static int line(struct text *out, bool json, uint64_t seq, int64_t time_ns, enum event_kind kind,
		const char *path, const struct event_field *f, size_t nf)
{
	return (json ? line_json : line_text)(out, seq, time_ns, kind, path, f, nf);
}

int events_read(struct events *ev, uint64_t *cursor, bool json, size_t max,
		bool (*may_see)(void *arg, const struct event_view *e), void *arg, struct text *out)
{
	size_t start = out->len;
	int rc = 0;

	pthread_mutex_lock(&ev->lock);
	uint64_t oldest = oldest_of(ev);
	if (*cursor < oldest) {
		char count[24];
		struct timespec now;
		snprintf(count, sizeof(count), "%llu", (unsigned long long)(oldest - *cursor));
		struct event_field f = { "count", count, true };
		clock_gettime(CLOCK_REALTIME, &now);
		rc = line(out, json, oldest - 1, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec, EV_LOST, "-", &f, 1);
		*cursor = oldest;
	}
	while (rc == 0 && *cursor < ev->next) {
		const struct event *e = ev->slot[*cursor & ev->mask];
		struct event_view v = { e->seq, e->kind, e->path, e->access };
		size_t before = out->len;
		if (may_see && !may_see(arg, &v)) {
			(*cursor)++;
			continue;
		}
		rc = line(out, json, e->seq, e->time_ns, e->kind, e->path, e->f, e->nf);
		if (rc == 0 && out->len - start > max && before > start) {
			out->len = before; /* the line does not fit: it is the next read's */
			out->buf[before] = '\0';
			break;
		}
		(*cursor)++;
	}
	pthread_mutex_unlock(&ev->lock);
	if (rc)
		return rc;
	return (int)(out->len - start);
}
