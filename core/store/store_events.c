/* SPDX-License-Identifier: MIT */
/* store_events.c -- what the store tells the event stream (core/event/events.h): a name made (created),
 * a variable's seal committed (sealed, with its size and xxh3), a name gone (removed), a rename (renamed,
 * to=the new path).  ns.c reports every name that appears or leaves; a rename and an alias's promotion
 * relink names under ev_quiet and say what happened as one event of their own.  All with the lock held;
 * each event carries the object's owner, group, mode and scope, so a reader sees only what it could read. */
#include <stdio.h>
#include <string.h>

#include "core/store/storeInt.h"

struct events *store_events(struct store *st)
{
	return st->events;
}

void store_event_at(struct store *st, struct obj *o, const char *path, enum event_kind kind,
		    const struct event_field *f, size_t nf)
{
	const struct obj *n = store_named(o);
	struct event_access acc = { .uid = n->uid, .gid = n->gid, .mode = n->mode, .scope = n->scope };

	if (st->events && !st->ev_quiet)
		events_post(st->events, kind, path, &acc, f, nf);
}

void store_event(struct store *st, struct obj *o, enum event_kind kind, const struct event_field *f, size_t nf)
{
	char path[4096];

	if (!st->events || st->ev_quiet || o->unlinked)
		return;
	store_path(o, path, sizeof(path));
	store_event_at(st, o, path, kind, f, nf);
}

void store_event_sealed(struct store *st, struct obj *o)
{
	char size[24];

	snprintf(size, sizeof(size), "%llu", (unsigned long long)o->size);
	struct event_field f[] = { { "size", size, true }, { "xxh3", o->xxh3, false }, { "node", st->node, false } };
	store_event(st, o, EV_SEALED, f, 3);
}
