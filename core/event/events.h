/* SPDX-License-Identifier: MIT */
/* events.h -- the event stream: what happened to objects, tasks and nodes, kept in a bounded ring that
 * readers follow with cursors of their own (the mount's `events` file, fs/ops_events.c).
 *
 * core/event/ sits above core/os and below core/store: the store, the cluster and the task runner post,
 * nobody else keeps state here.  An event is posted once, with a sequence number (1, 2, ... per daemon
 * run), the time, its kind, a path relative to the mount (vars/x, tasks/7, nodes/n2) and a few key=value
 * fields, and who may see it (the object's owner, group and mode, its scope): a reader's filter decides
 * from those, so a reader never learns of an object it could not read.  The ring keeps the last `keep`
 * events; a reader that falls further behind loses the oldest and is told how many (one `lost` line).
 *
 * A line is  SEQ TAB TIME TAB EVENT TAB PATH [TAB KEY=VALUE]... NEWLINE,  TIME ISO-8601 UTC with
 * milliseconds, the path and values with blank, control and backslash bytes as \ooo octal (as
 * /proc/mounts does), so a line is always one line; or, for JSON readers, one JSON object a line
 * (jansson) with the same fields and numeric values as numbers.
 *
 * Ownership: the ring owns copies of everything posted.  Threads: every function may be called from any
 * thread; events_post takes the ring's lock only to link the event in, and calls the wake hook after
 * releasing it (the hook must not post). */
#ifndef FABRIC_CORE_EVENT_EVENTS_H
#define FABRIC_CORE_EVENT_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/text/text.h"

#define EVENTS_KEEP 65536 /* the default bound: a reader further behind than this loses the oldest */
#define EVENT_FIELDS_MAX 6

enum event_kind { EV_CREATED, EV_SEALED, EV_REMOVED, EV_RENAMED, EV_MOVED, EV_TASK, EV_NODE, EV_LOST };

/* Who may see an event: everyone, or whoever may read an object of this owner, group, mode and scope. */
struct event_access {
	bool everyone;
	uint32_t uid, gid, mode; /* mode: permission bits */
	const char *scope;       /* NULL or "any": no scope */
};

struct event_field {
	const char *key;
	const char *val;
	bool num; /* a number in JSON */
};

/* An event as a reader's filter sees it (pointers valid during the call only). */
struct event_view {
	uint64_t seq;
	enum event_kind kind;
	const char *path;
	struct event_access access;
};

struct events;

/* A ring keeping the last keep events (rounded up to a power of two; 0: EVENTS_KEEP). */
int events_new(size_t keep, struct events **out);
void events_free(struct events *ev);
size_t events_keep(const struct events *ev);
/* Called after every post, outside the ring's lock; NULL: nothing. */
void events_set_wake(struct events *ev, void (*wake)(void *arg), void *arg);

/* Post one event (ev NULL: nothing; ENOMEM loses the event, never the caller's work).  path relative to
 * the mount; acc NULL: everyone may see it; at most EVENT_FIELDS_MAX fields. */
void events_post(struct events *ev, enum event_kind kind, const char *path, const struct event_access *acc,
		 const struct event_field *f, size_t nf);

/* The sequence number the next event will get: a new reader's cursor. */
uint64_t events_next(struct events *ev);
/* Is there a line for this reader at *cursor (an event may_see lets through, or a `lost` line)?  Moves
 * *cursor past the events filtered out on the way. */
bool events_ready(struct events *ev, uint64_t *cursor, bool (*may_see)(void *arg, const struct event_view *e),
		  void *arg);

/* Append to out the lines (json: JSON lines) of the events from *cursor on that may_see lets through,
 * whole lines and at most max bytes (but always the first line when out is empty, so a reader with a
 * small buffer still moves), and move *cursor past what was taken or filtered out.  When the ring no
 * longer holds *cursor, a `lost` line with count=N comes first.  Returns the bytes appended (0: nothing
 * for this reader now) or -ENOMEM. */
int events_read(struct events *ev, uint64_t *cursor, bool json, size_t max,
		bool (*may_see)(void *arg, const struct event_view *e), void *arg, struct text *out);

/* "created", "sealed", ... */
const char *event_kind_name(enum event_kind kind);

#endif
