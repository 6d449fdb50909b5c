/* SPDX-License-Identifier: MIT */
/* etcd.h -- a client of etcd v3 (3.4), for the metadata that several fabric nodes share.
 *
 * It talks to etcd's JSON gateway (HTTP POSTs to /v3/...) with libcurl and jansson, which keeps gRPC and
 * protobuf out of a C daemon.  The gateway's habits are handled here, once: keys and values travel as
 * base64, 64-bit numbers come back as strings, fields with zero values are left out of answers, and a
 * misspelled request field is silently ignored (so every call here is tested for its effect).
 *
 * What a caller gets:
 *   - struct etcd, from etcd_open to etcd_close: one reused connection (one curl handle) to one endpoint
 *     at a time, moving to the next on connection errors; every request has a deadline (ETCD_TIMEOUT_MS
 *     in etcd_wire.h, 5 s).
 *   - the usual shapes of shared metadata: put and get, create-if-absent, compare-and-replace, paged
 *     listing of a prefix at one revision, leases (a node's keys that vanish when it stops renewing them),
 *     and a watch of a prefix from a revision on (list, then watch from the listing's revision + 1).
 *
 * Ownership: etcd_get's value is malloc'd, the caller frees it.  Keys and values handed to a callback are
 * the library's and live only during that call.  Lease ids are etcd's decimal strings, kept as they came.
 * Keys are C strings (etcd's keys are bytes; a key with a NUL in it, written by somebody else, is seen cut
 * at the NUL).  Values are bytes, NULs and 0 bytes included.
 *
 * Threads: a struct etcd may be used by several threads at once; their requests take turns on its one
 * connection (a mutex), so a thread that needs its requests not to wait behind others opens a client of
 * its own.  etcd_range calls fn between requests, without the lock, so fn may use the same client.  A
 * watch runs a thread and a connection of its own (a stream would hold a shared one forever); its fn runs
 * in that thread.  libcurl is initialised on the first etcd_open or etcd_watch_start, and never cleaned
 * up (curl_global_cleanup is not safe while another library in the process may use curl).
 *
 * Errors: every function returns 0 or a negative errno: -ECONNREFUSED when no endpoint accepts a
 * connection (-EHOSTDOWN when a name does not resolve), -ETIMEDOUT when the deadline passes, -ECONNRESET
 * when a request that is not safe to repeat was sent and its connection broke (it may or may not have
 * been applied), -ENOENT for a missing key or lease, -EEXIST for a create that lost, -ESTALE for a
 * replace that lost or a revision etcd has compacted away, -E2BIG for a request over etcd's limits
 * (1.5 MiB, ETCD_TXN_MAX operations), -EINVAL for a bad argument, -EPROTO for an answer that does not
 * parse, -ENOMEM.  etcd_why() gives a sentence about the last failure in the calling thread. */
#ifndef FABRIC_CORE_ETCD_H
#define FABRIC_CORE_ETCD_H

#include <stddef.h>
#include <stdint.h>

#define ETCD_LEASE_ID_MAX 32 /* bytes of a lease id string, NUL included */
#define ETCD_TXN_MAX 128     /* operations etcd takes in one txn (--max-txn-ops) */
#define ETCD_PAGE 500        /* keys per page of etcd_range unless etcd_set_page says otherwise */

/* Kinds of watch events. */
enum { ETCD_PUT = 1, ETCD_DELETE = 2, ETCD_COMPACTED = 3 };

struct etcd;
struct etcd_watch;

/* urls: "http://host:port" endpoints separated by commas, tried in that order.  Nothing is sent yet: an
 * endpoint that is down shows in the first request. */
int etcd_open(const char *urls, struct etcd **out, char *why, size_t whylen);
void etcd_close(struct etcd *e); /* NULL is fine */
/* Keys per page of etcd_range (0: ETCD_PAGE).  Pages keep each answer small; values are not counted. */
void etcd_set_page(struct etcd *e, unsigned keys);
/* A sentence about the last call of this thread that failed ("" when none did). */
const char *etcd_why(void);

/* mod_revision, when not NULL, gets the revision the write made (the key's new mod_revision). */
int etcd_put(struct etcd *e, const char *key, const void *val, size_t len, const char *lease,
	     int64_t *mod_revision);
/* val (when not NULL) gets a malloc'd copy with a NUL after its len bytes.  -ENOENT when absent. */
int etcd_get(struct etcd *e, const char *key, char **val, size_t *len, int64_t *mod_revision);
/* -ENOENT when there was no such key. */
int etcd_delete(struct etcd *e, const char *key);
/* Put only when the key does not exist (a txn comparing create_revision with 0): -EEXIST when it does. */
int etcd_create(struct etcd *e, const char *key, const void *val, size_t len, const char *lease,
		int64_t *mod_revision);
/* Put only when the key's mod_revision is still expect (> 0; a read-modify-write that lost shows as
 * -ESTALE, so does a key that was deleted).  The key keeps its lease. */
int etcd_replace(struct etcd *e, const char *key, const void *val, size_t len, int64_t expect,
		 int64_t *mod_revision);

/* Puts (val not NULL; no lease) and deletes (val NULL; a missing key is no failure) applied together, in
 * one txn without compares, at most ETCD_TXN_MAX of them and 1.5 MiB in all (-E2BIG past either). */
struct etcd_op {
	const char *key;
	const void *val;
	size_t len;
};
int etcd_batch(struct etcd *e, const struct etcd_op *ops, size_t n);

/* Called for each key of a listing, in key order; a non-zero return stops the listing and is returned. */
typedef int (*etcd_kv_fn)(void *arg, const char *key, const void *val, size_t len, int64_t mod_rev);
/* Every key that starts with prefix ("" is every key), in pages, all read at the first page's revision:
 * a consistent snapshot, whose revision goes to *revision (NULL is fine).  A watch from *revision + 1
 * then misses nothing.  -ESTALE when etcd compacted that revision away before the last page: list again. */
int etcd_range(struct etcd *e, const char *prefix, etcd_kv_fn fn, void *arg, int64_t *revision);
/* Drop the history before revision (what --auto-compaction-retention does on its own). */
int etcd_compact(struct etcd *e, int64_t revision);

/* A lease of ttl seconds (etcd grants at least its minimum, 2 s with default timings); id gets its id. */
int etcd_lease_grant(struct etcd *e, int ttl_seconds, char id[ETCD_LEASE_ID_MAX]);
/* One renewal.  ttl (NULL is fine) gets the seconds granted again.  -ENOENT when the lease expired. */
int etcd_lease_keepalive(struct etcd *e, const char *id, int *ttl);
/* End the lease now: its keys are deleted.  -ENOENT when it had already ended. */
int etcd_lease_revoke(struct etcd *e, const char *id);

/* A watch event.  ETCD_PUT: key, its new value and mod_rev.  ETCD_DELETE: key, no value (NULL, 0), the
 * revision of the delete.  ETCD_COMPACTED: the revision to watch from was compacted away (mod_rev is the
 * compaction's revision; key and val are NULL); events were missed, so the caller lists again and starts a
 * new watch.  It is the watch's last call. */
typedef void (*etcd_event_fn)(void *arg, int kind, const char *key, const void *val, size_t len,
			      int64_t mod_rev);
/* Watch every key starting with prefix, from start_revision on (0: from now), calling fn for each event
 * in revision order, from the watch's own thread.  Returns once etcd has accepted the watch.  When the
 * stream breaks, the watch reconnects (to the next endpoint) from the revision after the last event it
 * delivered, so fn sees each event once. */
int etcd_watch_start(const char *urls, const char *prefix, int64_t start_revision, etcd_event_fn fn,
		     void *arg, struct etcd_watch **out, char *why, size_t whylen);
/* Stop the watch and join its thread (at once, even in the middle of a reconnect); then fn is not called
 * any more.  Not from inside fn.  NULL is fine. */
void etcd_watch_stop(struct etcd_watch *w);

#endif
