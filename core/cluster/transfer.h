/* SPDX-License-Identifier: MIT */
/* transfer.h -- the bytes of a sealed variable from the node that owns it to another, over TCP.
 *
 * The protocol, one request a connection, lines of text then bytes:
 *   client: "FABRIC1 <secret> GET <id>\n"
 *   server: "OK <size> <xxh3>\n" and exactly size bytes, or "ERR <errno> <sentence>\n".
 *   (and DEL and REN, below: another node's rm and mv of a name of this node's; TAKE and TAKETREE: a move
 *   of a variable or a directory here; HAS: does this node hold a name with these bytes (a directory: its
 *   tree's fingerprint, tree.h); MOVE: move a name of this node's elsewhere; DONE and MOVING: the end of
 *   a directory's move, told by the node it left and asked of it)
 * The secret (a cluster's shared token, from a file only root reads: `fabric cluster up` makes it) keeps
 * a local user who can reach the port from reading what the mount's permissions would refuse; a node
 * given no secret neither serves nor fetches.  The server sends from the variable's shm block with
 * sendfile(2) (a packed one through the store), and answers only for sealed variables scoped `any`
 * (node- and process-scoped ones never leave their node: EACCES).  The client receives into a new shm
 * object and proves it with the XXH3-128 before it hands it out: a short or wrong transfer never becomes
 * a copy (EIO, and the object is removed).
 *
 * Who owns what: the server is a thread (and one thread per connection) from transfer_serve_start to
 * transfer_serve_stop, on a listening fd the caller keeps; transfer_fetch's fd is the caller's. */
#ifndef FABRIC_CORE_TRANSFER_H
#define FABRIC_CORE_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRANSFER_SECRET_MAX 128
#define TRANSFER_TIMEOUT_S 10 /* a connection that neither sends nor receives for this long is dropped */

struct busy;
struct store;
struct transfer_server;

/* What the server calls back (each may be NULL). */
struct transfer_hooks {
	void (*log)(const char *msg);
	/* brackets a change another node asks of this one's names (the mount then tells its kernel of them) */
	void (*changing)(bool begin);
	/* MOVE: another node asks this one to move its name (in vars/) to node, for uid (move.h's flags) */
	int (*move)(void *arg, const char *name, const char *node, unsigned flags, uint32_t uid, uint64_t *bytes,
		    char *why, size_t whylen);
	/* DONE: node's move of directory name here ended; kept: node kept its copy (this one goes) */
	void (*done)(void *arg, const char *node, const char *name, bool kept);
	/* MOVING: is this node's move of name to node still under way?  0 yes; -ENOENT: over, and this node
	 * no longer holds name; -EEXIST: over, and this node kept it */
	int (*moving)(void *arg, const char *name, const char *node);
	void *arg;
	/* the moves under way in this process (busy.h): a TAKE or TAKETREE marks its name "in" while it
	 * runs; HAS and DONE of a name being taken answer EINPROGRESS */
	struct busy *busy;
};

/* Serve store st's sealed variables on listen_fd to clients that know secret, and remove its names at
 * their request ("FABRIC1 <secret> DEL <id> <parent> <name>\n": rm or rmdir from another node, of the name
 * it saw as object id under parent; "OK\n" or "ERR ...").  The permission check was the asking node's
 * kernel's (or, for MOVE, its ctl's), on the object's mode and owner as the catalog says: the nodes trust
 * each other's uids. */
/* CALL: a verb the layers above serve to other nodes (tasks: "task.spawn", ...).  req is the request's
 * JSON object (the handler's to read, not to keep); the handler answers 0 with *ans (malloc'd bytes, JSON
 * for most verbs, the caller's to interpret) or -errno with why.  It runs in the connection's thread. */
typedef int (*transfer_call_fn)(void *arg, const char *verb, const char *req_json, size_t req_len, char **ans,
				size_t *anslen, char *why, size_t whylen);
#define TRANSFER_VERB_MAX 32
#define TRANSFER_CALLS_MAX 16

int transfer_serve_start(int listen_fd, struct store *st, const char *secret, const struct transfer_hooks *hooks,
			 struct transfer_server **out);
void transfer_serve_stop(struct transfer_server *s); /* NULL is fine */
/* Serve verb (1-32 of [a-z.]) with fn from now on: -EEXIST, -ENOSPC past TRANSFER_CALLS_MAX.  A verb nobody
 * serves answers ENOSYS.  Registered for the server's life. */
int transfer_handle(struct transfer_server *s, const char *verb, transfer_call_fn fn, void *arg);
/* Serve no verb of arg's any more, and return once no call is running (so arg may go). */
void transfer_unhandle(struct transfer_server *s, void *arg);
/* Ask the node at addr to run verb on body (JSON text): 0 with its answer in *ans (malloc'd, NUL-ended
 * past *anslen), or -errno with why (the other node's sentence when it refused).  wait_s: how long the
 * answer may take. */
int transfer_call(const char *addr, const char *secret, const char *verb, const char *body, int wait_s, char **ans,
		  size_t *anslen, char *why, size_t whylen);
/* The same with a body of bodylen bytes, any bytes (1 to TRANSFER_CALL_MAX: -EFBIG otherwise). */
#define TRANSFER_CALL_MAX (16 << 20)
int transfer_call_n(const char *addr, const char *secret, const char *verb, const void *body, size_t bodylen,
		    int wait_s, char **ans, size_t *anslen, char *why, size_t whylen);

/* Ask the node at addr to remove its name `name` under parent, which must still be object id (a directory
 * must be empty).  0 or -errno with why. */
int transfer_delete(const char *addr, const char *secret, int64_t id, int64_t parent, const char *name, char *why,
		    size_t whylen);
/* Ask the node at addr to rename its name under parent, which must still be object id, to newname under
 * newparent (one of its own directories), with rename(2)'s flags.  0 or -errno with why. */
int transfer_rename(const char *addr, const char *secret, int64_t id, int64_t parent, const char *name,
		    int64_t newparent, const char *newname, unsigned flags, char *why, size_t whylen);
/* Ask the node at addr to take variable id of this node (at from), named name in its vars/, with these
 * attributes (type, doc, refs may be NULL): it fetches the bytes straight into a variable of its own,
 * proves them by xxh3 as they come, and answers once it is sealed there (a `move`; waits up to 600 s).
 * 0 or -errno with why. */
int transfer_give(const char *addr, const char *secret, const char *from, int64_t id, const char *name,
		  const char *xxh3, const char *type, const char *doc, const char *refs, uint32_t mode, uint32_t uid,
		  uint32_t gid, char *why, size_t whylen);
/* Ask the node at addr to take the directory name of this node (node, at from; object id here) whole:
 * entries is a JSON array of the tree (tree.h's entries, parents first: path, kind, id, xxh3, type, doc,
 * refs, target, mode, uid, gid), fingerprint its tree's.  It makes the tree as its own, each variable
 * fetched and proved as TAKE does, records the move as one coming in (yp.h) and answers once all of it
 * is there; anything short of that, and nothing of it stays.  0 or -errno with why. */
int transfer_give_tree(const char *addr, const char *secret, const char *node, const char *from, int64_t id,
		       const char *name, const char *fingerprint, const char *entries, char *why, size_t whylen);
/* Ask the node at addr to make its piece of shard name (store_shard: size, mode, dir_mode, uid, gid), or
 * (drop) to remove its piece and the shard's directory there.  0 or -errno with why. */
int transfer_shard(const char *addr, const char *secret, const char *name, bool drop, uint64_t size, uint32_t mode,
		   uint32_t dir_mode, uint32_t uid, uint32_t gid, char *why, size_t whylen);
/* Tell the node at addr that this node's move of directory name there ended (kept: this node kept its
 * copy).  0 or -errno (the node asks MOVING later when this is lost). */
int transfer_done(const char *addr, const char *secret, const char *node, const char *name, bool kept, char *why,
		  size_t whylen);
/* Ask the node at addr whether its move of name to node (this one) is still under way: its moving
 * hook's answer, or another -errno (with why) when it cannot tell. */
int transfer_moving(const char *addr, const char *secret, const char *node, const char *name, char *why,
		    size_t whylen);
/* Does the node at addr hold name (in its vars/) as a sealed variable of these bytes?  0 yes, -ENOENT no,
 * another -errno (with why) when it cannot tell: unreachable, refused. */
int transfer_has(const char *addr, const char *secret, const char *name, const char *xxh3, char *why,
		 size_t whylen);
/* Ask the node at addr to move its name (in vars/) to node, with move.h's flags, for uid: 0 with the bytes
 * it moved (NULL is fine), or -errno with why (waits up to 600 s). */
int transfer_ask_move(const char *addr, const char *secret, const char *name, const char *node, unsigned flags,
		      uint32_t uid, uint64_t *bytes, char *why, size_t whylen);
/* For the crash tests alone: with FABRIC_TEST_MOVE_PAUSE_MS=N in the daemon's environment (send false), a
 * move waits N ms at its two points of no return (the new owner between its seal and its answer, the old
 * one between that answer and the removal of its copy; and a directory coming in after its first entry);
 * with FABRIC_TEST_SEND_PAUSE_MS=N (send true), a variable's bytes stop for N ms after their first piece,
 * so a test can kill -9 a node there.  Unset: no wait. */
void transfer_test_pause(bool send, const char *where);

/* Fetch variable id from the node at addr ("HOST:PORT") into a new shm object shm_name (its fd, read-only,
 * in *fd, its size in *size), checked against want_xxh3 (NULL: the server's alone).  0, or -errno with
 * why: -EHOSTUNREACH/-ECONNREFUSED/-ETIMEDOUT when the node does not answer, the server's errno when it
 * refuses, -EIO when the bytes are short or their xxh3 is not the one promised. */
int transfer_fetch(const char *addr, const char *secret, int64_t id, const char *want_xxh3,
		   const char *shm_name, int *fd, uint64_t *size, char *why, size_t whylen);

#endif
