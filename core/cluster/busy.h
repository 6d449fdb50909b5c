/* SPDX-License-Identifier: MIT */
/* busy.h -- the moves this daemon is running right now, in memory: the records of moves (meta's moves
 * table) say which moves are open, this says which of them a thread of this process is still working on,
 * so that the resumer and another node's questions (HAS, DONE) never settle a move that is merely slow.
 *
 * A key is a short text: "out\tNAME" while this node gives NAME away (move_local), "in\tNAME" while it
 * takes NAME (TAKE, TAKETREE).  A name moves one way at a time, so a second move of a busy name is
 * refused (busy_enter false).
 *
 * Who owns what: the cluster owns one struct busy from cluster_join to cluster_leave; every thread may
 * call these; the lock inside is innermost (nothing is called while it is held). */
#ifndef FABRIC_CORE_BUSY_H
#define FABRIC_CORE_BUSY_H

#include <stdbool.h>

struct busy;

int busy_new(struct busy **out);
void busy_free(struct busy *b); /* NULL is fine */
/* Mark key busy: false when it is busy already (or memory ran out), and then nothing changed.  b NULL
 * (no set): true, and leave and has do nothing. */
bool busy_enter(struct busy *b, const char *way, const char *name);
void busy_leave(struct busy *b, const char *way, const char *name);
bool busy_has(struct busy *b, const char *way, const char *name); /* b NULL: false */

#endif
