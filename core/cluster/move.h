/* SPDX-License-Identifier: MIT */
/* move.h -- `move NAME NODE [recursive] [remotes=yes|no]`: the ownership of sealed variables from the
 * node that holds them to another, and the end of a move that a crash cut short.
 *
 * A directory moves with everything in it (`recursive` says so: a name inside a directory is its
 * node's, so the tree moves whole or not at all): the new owner makes the tree (TAKETREE: directories,
 * links, and each variable fetched and proved), records the move as one coming in and answers once all
 * of it is there; the old owner then removes its tree and tells it (DONE).  While both hold the name
 * their records (either way, yp.h) make the one-winner rule count it as no conflict; a move cut short
 * is settled as below, the tree proved by its fingerprint (tree.h), and a tree that came in part way
 * removed once the old owner says it kept its own.
 *
 * One variable: this node records the move (the YP's moves table: the object, its name, the node, its
 * xxh3), asks NODE to take it (transfer.h TAKE: NODE fetches the bytes, proves them by xxh3 and seals
 * them as its own vars/NAME), and once NODE says so removes its own copy (open readers keep reading it:
 * POSIX) and the record.  So at every moment one node at least holds the variable whole, and the record
 * says what is unfinished: when the answer does not come (either node killed, the network cut), the
 * record stays and this node asks NODE, at its next start and whenever NODE comes up again, whether it
 * holds NAME with those bytes (HAS): yes, and this node removes its copy; no, and it keeps it.  Until
 * then both nodes list the name with the same bytes, which the one-winner rule (catalog.h) counts as no
 * conflict: exactly one owner once both are up.
 *
 * recursive follows user.fabric.refs (names under vars/), from every object reached, here and on other
 * nodes (the catalog mirrors their refs); remotes=yes (the default) moves a referent that lives on a
 * third node too, by asking that node (MOVE), remotes=no leaves it where it is (dataClay's semantics).
 * A NAME that lives on another node is moved by asking that node, whatever the flags.  Everything is
 * checked before anything moves: a refusal (a mutable object, a name in a directory, a variable being
 * written, a scope that is not `any`, another user's object, a reference to a name no node holds, a
 * node that is down) names the object and moves nothing; a failure part way names what moved.
 *
 * Who owns what: move_run is the caller's thread's; the resumer is a thread of its own from
 * move_resumer_start to move_resumer_stop. */
#ifndef FABRIC_CORE_MOVE_H
#define FABRIC_CORE_MOVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/text/names.h"
#include "core/text/text.h"

#define MOVE_RECURSIVE 1u
#define MOVE_REMOTES 2u /* referents on third nodes move too */
#define MOVE_ONE 4u     /* this object alone (a directory with its tree), no references followed: what one
			 * node asks of another for a referent of its move */

struct cluster;
struct store;

struct move_req {
	const char *name; /* directly in vars/ */
	const char *node; /* where to */
	unsigned flags;   /* MOVE_* */
	uint32_t uid;     /* who asks: root (0) or the owner of every object moved */
	bool asked;       /* another node asked (MOVE): a name no longer here is refused, not passed on */
};

struct move_result {
	struct text moved;  /* names moved, one space apart (the caller frees the texts) */
	struct text stayed; /* referents left where they are: remotes=no, or on NODE already */
	uint64_t bytes, count;
	char by[NAMES_NODE_MAX + 1]; /* "" or the node that ran the move, when NAME lives there */
};

/* Run a move (see above).  0, or -errno with why; res says what moved either way. */
int move_run(struct cluster *c, struct store *st, const struct move_req *r, struct move_result *res, char *why,
	     size_t whylen);
void move_result_free(struct move_result *res);
/* drain NODE: every name directly in NODE's vars/ moves (MOVE_ONE: a directory whole) to another node that
 * is up, each to the one with the most room left, counting what this drain sends there.  What cannot go
 * (a mutable object, a shard's piece, a scope other than `any`, a link, a directory holding one of those)
 * stays, and is listed in res->stayed with the reason; then -EBUSY, why naming them.  NODE must be up,
 * and another node too.  As root (uid 0): a drain moves every user's objects. */
int move_drain(struct cluster *c, struct store *st, const char *node, struct move_result *res, char *why,
	       size_t whylen);

/* transfer.h's hooks MOVE, DONE and MOVING: arg is the cluster. */
int move_asked(void *arg, const char *name, const char *node, unsigned flags, uint32_t uid, uint64_t *bytes,
	       char *why, size_t whylen);
void move_done(void *arg, const char *node, const char *name, bool kept);
int move_moving(void *arg, const char *name, const char *node);

/* The thread that ends the moves a crash or a lost answer left open (see above): once at start, and at
 * every move_resumer_poke (a node came up).  0 or -errno. */
struct move_resumer;
int move_resumer_start(struct cluster *c, struct store *st, struct move_resumer **out);
void move_resumer_poke(struct move_resumer *m); /* NULL is fine */
void move_resumer_stop(struct move_resumer *m); /* NULL is fine */

#endif
