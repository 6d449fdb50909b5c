/* SPDX-License-Identifier: MIT */
/* scope.h -- where an object or a task is valid: the scope algebra behind user.fabric.scope, so the
 * filesystem can refuse an open from outside an object's scope, a move can refuse a node the object cannot
 * live on, and a spawn can refuse inputs that no single place may use together (Dagger's scopes).
 *
 * A scope is a set of places; a place is one thread: (node, process, thread).  Spelling:
 *     any                  every place: may be read anywhere and moved anywhere (the default)
 *     node:N               every place on node N: file paths, mmaps of node-local files; never moved or
 *                          served off N
 *     process:N/PID        one process on node N and all its threads: C pointers, device handles
 *     exact:N/PID/TID      one thread of that process (see "What exact means" below)
 *     union:S1,S2,...      the union of the scopes S1, S2, ...
 *     none                 the empty scope: printed, never accepted as input (see scope_parse)
 * Node names are 1..SCOPE_NODE_MAX of [A-Za-z0-9_-], the rule of names_check_node().  PID and TID are
 * decimal numbers 1..2147483647 (what fits in pid_t) without sign or leading zero.  Kinds are lower case.
 *
 * The lattice.  The places form a tree (a thread is in one process, a process on one node), so every
 * term is a subtree and two terms are either nested or disjoint:
 *     any  ⊇  node:N  ⊇  process:N/P  ⊇  exact:N/P/T
 *     t ∩ u = the smaller of t and u when one contains the other, else empty; so
 *     node:A ∩ node:B = none (A != B),  process:N/P ∩ node:N = process:N/P,  process:N/P ∩ process:N/Q = none
 *     (t1 ∪ ... ∪ tn) ∩ u = (t1 ∩ u) ∪ ... ∪ (tn ∩ u)   (∩ distributes over ∪, and ∪ over ∩)
 * Node names, pids and tids are taken as unbounded: no finite union of process terms is a whole node and
 * no finite union of nodes is `any`.  (A node with every pid listed is still not node:N, which is what a
 * user who listed pids meant.)  With that, a scope is contained in a union iff each of its terms is
 * contained in one term of the union, and the canonical form below is unique: two scopes are equal as
 * sets iff their canonical strings are equal, and then the structs this API produced are equal byte for
 * byte (memcmp, hashing).
 *
 * Canonical form (scope_format): absorbed terms dropped (union:node:a,process:a/5 is node:a; `any`
 * absorbs everything), duplicates dropped, terms sorted by node name (byte order), then pid, then tid,
 * numerically; one term is printed bare, two or more after "union:", none as "none".  No whitespace.
 *
 * What exact means.  Dagger's ExactScope is one processor (a CPU or GPU worker).  The fabric can enforce
 * only what a request proves: every FUSE request carries the calling thread's id (fuse_req_ctx()->pid is
 * the kernel task id, the TID; /proc/TID/status gives its process, Tgid), never the CPU it runs on.  A CPU
 * cannot be checked: the thread can migrate between the check and the use, /proc/TID/stat only says where
 * it last ran, and its affinity mask is its own to change.  So the finest place the daemon can check is
 * one thread, and `exact` names one thread: exact:N/PID/TID.  A thread that must also stay on one CPU pins
 * itself (sched_setaffinity); that is outside what the fabric promises.
 *
 * What enforcement can and cannot see.  Scopes are checked per request (open, move, spawn), with the
 * caller's node, process and thread.  A descriptor or mapping passed on afterwards (fork, SCM_RIGHTS, a
 * sibling thread using a mapping) is beyond the fabric's sight, as with file permissions.  A pid names a
 * process only while it lives: once it exits the kernel may hand the number to another process, which then
 * passes the check.  A caller outside the daemon's pid namespace, and a RELEASE, arrive with pid 0, which
 * only `any` and node scopes allow.
 *
 * Why an empty intersection is -EXDEV.  Spawn and move refuse work whose scopes do not meet, as Dagger
 * refuses to schedule.  That answer must differ from the others a shell shows: EINVAL is a malformed
 * line, EACCES a caller outside an object's scope (scope_allows), ENOENT a missing name (in a filesystem
 * nobody would look for a scope behind it).  EXDEV is what rename(2) answers when source and target are on
 * places that cannot be joined (two filesystems), which is exactly this case: a node:a object moved to b,
 * or process:a/5 data given to a task with process:a/6 data.  The sentence says which two scopes.
 *
 * Values: struct scope is a plain fixed-size value (about 2.5 KiB): copy it with =, keep it on the stack,
 * no constructor or destructor (scope_intersect itself uses about 24 KiB of stack: fine on a FUSE worker's
 * default 8 MiB, too much for a signal handler).  A zeroed struct scope is the empty scope.  Fill it only through these
 * functions; callers may read nterms and terms (canonical order).  Every function is reentrant, keeps no
 * state and never allocates.  Every function that writes a scope also accepts out == an input. */
#ifndef FABRIC_CORE_SCOPE_H
#define FABRIC_CORE_SCOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SCOPE_NODE_MAX 64  /* bytes in a node name (NAMES_NODE_MAX) */
#define SCOPE_MAX_TERMS 32 /* terms in one scope, canonical or as written */
/* Bytes, NUL included, of the longest string scope_parse accepts and of the longest scope_format writes:
 * a buffer of SCOPE_STR_MAX always holds the canonical form (32 terms of the longest kind, 92 bytes each,
 * need 2,981).  Longer input, whitespace included, is refused. */
#define SCOPE_STR_MAX 4096

enum scope_kind {
	SCOPE_ANY = 1,
	SCOPE_NODE,
	SCOPE_PROCESS,
	SCOPE_EXACT,
};

struct scope_term {
	enum scope_kind kind;
	pid_t pid;                      /* SCOPE_PROCESS, SCOPE_EXACT: the process (a tgid); else 0 */
	pid_t tid;                      /* SCOPE_EXACT: the thread; else 0 */
	char node[SCOPE_NODE_MAX + 1];  /* all but SCOPE_ANY; NUL-padded to the end, "" for SCOPE_ANY */
};

struct scope {
	unsigned nterms;                /* 0: the empty scope, "none" */
	struct scope_term terms[SCOPE_MAX_TERMS]; /* canonical order; unused entries all zero */
};

/* Strings */

/* Parse s into *out.  Returns 0, -EINVAL (malformed; err gets one sentence naming what is wrong and at
 * which byte offset) or -E2BIG (well-formed, but more than SCOPE_MAX_TERMS terms as written, duplicates
 * and absorbed ones included, so the answer does not depend on their order).  err may be NULL; errlen
 * bounds it (always NUL-terminated when errlen > 0; "" on success).  *out is written only on success, and
 * is then canonical and never empty.
 * Accepted beyond the canonical form: spaces and tabs before and after each term (so around ',', after
 * "union:" and at both ends), never inside a term; terms in any order, duplicated or absorbed; a union
 * of one term; a union inside a union, which is flattened (union is associative and the syntax has no
 * grouping, so union:A,union:B,C can only mean A ∪ B ∪ C, and a script can build a union by pasting
 * canonical strings after "union:").
 * Refused: NULL, "", only whitespace, SCOPE_STR_MAX bytes or more, control characters (tab aside),
 * unknown or mis-cased kinds, `none` (an object or task that may be used nowhere is a mistake, so the one
 * spelling that yields the empty scope is refused here, once, instead of by every caller), an argument
 * to `any`, a bad or missing node name, a missing, signed, zero, non-decimal, zero-padded or overflowing
 * pid or tid, too many or too few ids for the kind, ',' outside a union, an empty union, and empty,
 * leading or trailing terms (",,", "union:,a", "a,"). */
int scope_parse(const char *s, struct scope *out, char *err, size_t errlen);

/* The canonical string of s (see above) into buf.  Returns 0, -ERANGE if len is too small (buf then ""
 * when len > 0; SCOPE_STR_MAX always suffices), or -EINVAL for a NULL or malformed s or a NULL buf.
 * The empty scope prints as "none". */
int scope_format(const struct scope *s, char *buf, size_t len);

/* Building */

/* The scope of one known place, as precise as what is known: node NULL gives `any`; pid 0 gives node:N;
 * tid 0 gives process:N/PID; else exact:N/PID/TID.  Returns 0, or -EINVAL for a bad node name, a negative
 * pid or tid, a pid without a node or a tid without a pid. */
int scope_place(struct scope *out, const char *node, pid_t pid, pid_t tid);

/* The places in both a and b.  Returns 0; -EXDEV when no place is in both (see above: spawn and move
 * refuse with it), err then getting "scope 'A' and scope 'B' do not intersect: ..." with both in
 * canonical form and *out the empty scope; -E2BIG when the result needs more than SCOPE_MAX_TERMS terms
 * (each result term is a term of a or of b, so up to 2 * SCOPE_MAX_TERMS - 2:
 * union:node:x,process:y/1,...,process:y/31 ∩ union:node:y,process:x/1,...,process:x/31 has 62), *out
 * untouched; -EINVAL for NULL or malformed arguments.  err as for
 * scope_parse. */
int scope_intersect(const struct scope *a, const struct scope *b, struct scope *out, char *err,
		    size_t errlen);

/* The places in a or b.  Returns 0, -E2BIG when the canonical result has more than SCOPE_MAX_TERMS terms
 * (*out untouched; terms of a absorbed by b do not count), or -EINVAL for NULL or malformed arguments. */
int scope_union(const struct scope *a, const struct scope *b, struct scope *out);

/* Predicates.  A NULL or malformed scope allows nothing, so these fail closed: every predicate is then
 * false, except scope_is_empty, which is true. */

/* Every place inner allows, outer allows (inner ⊆ outer); the empty scope is inside every scope. */
bool scope_contains(const struct scope *outer, const struct scope *inner);
/* The same set of places.  For scopes this API produced, the same as memcmp() == 0. */
bool scope_equal(const struct scope *a, const struct scope *b);
/* No place at all. */
bool scope_is_empty(const struct scope *s);
/* May a caller at this place use an object of scope s?  The same as scope_contains(s, place) with place
 * from scope_place(node, pid, tid), so what is not known is not assumed: pid 0 (unknown process, as in a
 * RELEASE) is allowed only by scopes holding the whole node, tid 0 only by scopes holding the whole
 * process, node NULL only by `any`.  The daemon passes its node name, the request's Tgid and its TID.
 * Arguments scope_place refuses give false. */
bool scope_allows(const struct scope *s, const char *node, pid_t pid, pid_t tid);
/* May a sealed object's scope change from old to new_?  Only to a non-empty subset: narrowing never lets
 * in a place that was refused before, while widening would hand data to places its producer ruled out.
 * An unchanged scope narrows; the empty scope never does (the object could no longer be used). */
bool scope_narrows(const struct scope *old, const struct scope *new_);

#endif
