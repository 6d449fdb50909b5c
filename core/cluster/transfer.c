/* SPDX-License-Identifier: MIT */
/* transfer.c -- a sealed variable's bytes between nodes (transfer.h): the server's threads and the
 * client's fetch into a new shm object. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/cluster/busy.h"
#include "core/cluster/transfer.h"
#include "core/cluster/tree.h"
#include "core/os/hash.h"
#include "core/os/shm.h"
#include "core/store/path.h"
#include "core/store/store.h"
#include "core/text/names.h"
#include "core/text/text.h"
#include "meta/yp.h"

#define LINE_MAX_ 1024 /* a request with two names of NAMES_LEAF_MAX bytes fits */

struct transfer_server {
	int listen_fd, stop_pipe[2];
	struct store *st;
	char secret[TRANSFER_SECRET_MAX + 1];
	struct transfer_hooks h;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned conns; /* connections being served */
	struct call_verb {
		char verb[TRANSFER_VERB_MAX + 1];
		transfer_call_fn fn;
		void *arg;
	} calls[TRANSFER_CALLS_MAX];
	unsigned ncalls, calling; /* verbs served; calls running now */
};

struct conn {
	struct transfer_server *s;
	int fd;
};

#define say(s, ...) text_log((s)->h.log, __VA_ARGS__)

static void changing(struct transfer_server *s, bool begin)
{
	if (s->h.changing)
		s->h.changing(begin);
}

static void timeouts(int fd)
{
	struct timeval tv = { .tv_sec = TRANSFER_TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* connect(2) too */
}

static int send_all(int fd, const void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* One line, up to its newline (not kept), of at most LINE_MAX_ - 1 bytes. */
static int read_line(int fd, char *buf)
{
	size_t n = 0;

	while (n < LINE_MAX_ - 1) {
		ssize_t r = recv(fd, buf + n, 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ECONNRESET;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		n++;
	}
	return -EPROTO;
}

/* ---- serving ------------------------------------------------------------------------------------ */

static void no_wake(void *arg, int rc, struct store_handle *h)
{
	(void)arg;
	(void)rc;
	(void)h;
}

static int refuse(int fd, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(int fd, int rc, const char *fmt, ...)
{
	char line[LINE_MAX_], msg[LINE_MAX_ - 32];
	va_list ap;

	va_start(ap, fmt);
	text_vsay(msg, sizeof(msg), rc, fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "ERR %d %s\n", -rc, msg);
	send_all(fd, line, strlen(line));
	return rc;
}

/* The bytes of an open handle: from its block with sendfile, or (packed in a slab) through the store. */
static int send_bytes(struct store *st, struct store_handle *h, int fd, uint64_t size)
{
	int bfd = store_handle_fd(h);
	char buf[65536];
	bool paused = false;
	off_t off = 0;

	while ((uint64_t)off < size) {
		ssize_t n;
		if (off > 0 && !paused) {
			paused = true;
			transfer_test_pause(true, "part way through sending a variable");
		}
		if (bfd >= 0) {
			uint64_t left = size - (uint64_t)off;
			n = sendfile(fd, bfd, &off, (size_t)(left < (1u << 20) ? left : 1u << 20)); /* 1 MiB a call */
		} else {
			n = store_read(st, h, buf, sizeof(buf), (uint64_t)off);
			if (n > 0 && send_all(fd, buf, (size_t)n) != 0)
				return -EIO;
			off += n > 0 ? n : 0;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
	}
	return 0;
}

/* Is name under parent still object id, as the asking node saw it?  Else it is refused (ENOENT) here. */
static bool still_is(struct transfer_server *s, int fd, long long parent, const char *name, long long id,
		     struct store_attr *a)
{
	if (store_lookup(s->st, (uint64_t)parent, name, a) != 0) {
		refuse(fd, -ENOENT, "no '%s' here any more", name);
		return false;
	}
	store_forget(s->st, a->id, 1);
	if ((long long)a->id != id && a->id != store_object_of(s->st, (uint64_t)id)) { /* a hard link: its object */
		refuse(fd, -ENOENT, "'%s' is another object now", name);
		return false;
	}
	return true;
}

/* "DEL <id> <parent> <name>": another node's rm or rmdir of this node's name, which it saw as id under
 * parent (so a name that has changed since is not the one removed). */
static void serve_delete(struct transfer_server *s, int fd, long long id, const char *rest)
{
	struct store_attr a;
	long long parent;
	int at = 0, rc;

	if (sscanf(rest, "%lld %n", &parent, &at) != 1 || !rest[at]) {
		refuse(fd, -EPROTO, "a request this node does not understand");
		return;
	}
	const char *name = rest + at;
	if (!still_is(s, fd, parent, name, id, &a))
		return;
	changing(s, true);
	rc = a.dir ? store_rmdir(s->st, (uint64_t)parent, name) : store_unlink(s->st, (uint64_t)parent, name);
	changing(s, false);
	if (rc) {
		refuse(fd, rc, "cannot remove '%s': %s", name, strerror(-rc));
		return;
	}
	say(s, "transfer: '%s' (object %lld) removed at another node's request", name, id);
	send_all(fd, "OK\n", 3);
}

/* "REN <id> <parent> <newparent> <flags>\t<name>\t<newname>": another node's mv of this node's name (names
 * hold no control character, so a tab cannot be in one). */
static void serve_rename(struct transfer_server *s, int fd, long long id, const char *rest)
{
	char name[NAMES_LEAF_MAX + 1], newname[NAMES_LEAF_MAX + 1];
	long long parent, newparent;
	unsigned flags;
	struct store_attr b;
	const char *t1, *t2;
	int rc;

	if (sscanf(rest, "%lld %lld %u", &parent, &newparent, &flags) != 3 || !(t1 = strchr(rest, '\t')) ||
	    !(t2 = strchr(t1 + 1, '\t')) || (size_t)(t2 - t1 - 1) > NAMES_LEAF_MAX || strlen(t2 + 1) > NAMES_LEAF_MAX) {
		refuse(fd, -EPROTO, "a request this node does not understand");
		return;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(t2 - t1 - 1), t1 + 1);
	snprintf(newname, sizeof(newname), "%s", t2 + 1);
	if (!still_is(s, fd, parent, name, id, &b))
		return;
	changing(s, true);
	rc = store_rename(s->st, (uint64_t)parent, name, (uint64_t)newparent, newname, flags);
	changing(s, false);
	if (rc) {
		refuse(fd, rc, "cannot rename '%s' to '%s': %s", name, newname, strerror(-rc));
		return;
	}
	say(s, "transfer: '%s' (object %lld) renamed '%s' at another node's request", name, id, newname);
	send_all(fd, "OK\n", 3);
}

static int get_begin(const char *addr, const char *secret, int64_t id, const char *want_xxh3, int *sock,
		     uint64_t *size, char xxh3[64], char *why, size_t whylen);
static int receive(int sock, int fd, uint64_t size, const char *xxh3, char hex[HASH_HEX_LEN + 1], char *why,
		   size_t whylen);

/* What a TAKE asks for: a variable of the node at from, to be made here as name. */
struct take {
	const char *from, *name, *xxh3, *type, *doc, *refs;
	int64_t id;
	uint32_t mode, uid, gid;
};

/* The bytes of t straight from the socket into the block of a new variable t->name, proved as they come
 * (one pass), sealed with that proof.  Nothing of it stays here when anything fails: it is unlinked
 * before its release, so it is dropped, never sealed. */
static int take_var(struct transfer_server *s, const struct take *t, uint64_t *size, char *why, size_t whylen)
{
	char leaf[NAMES_LEAF_MAX + 1], xxh3[64], hex[HASH_HEX_LEN + 1], sealed[64];
	struct store_setattr sa = { .set = STORE_SET_SIZE };
	struct store_handle *h;
	struct store_attr a, ignored;
	uint64_t dir;
	ssize_t n;
	int sock, rc;

	if ((rc = path_parent(s->st, t->name, &dir, leaf, sizeof(leaf))) != 0)
		return text_say(why, whylen, rc, "no directory here for '%s': %s", t->name, path_error(rc));
	if ((rc = get_begin(t->from, s->secret, t->id, t->xxh3, &sock, size, xxh3, why, whylen)) != 0)
		return rc;
	rc = store_create(s->st, dir, leaf, t->mode, t->uid, t->gid, O_WRONLY, getpid(), &a, &h);
	if (rc) {
		close(sock);
		return text_say(why, whylen, rc, rc == -EEXIST ? "this node has a '%s' of its own" : "cannot make '%s': %s",
				t->name, strerror(-rc));
	}
	sa.size = *size;
	if ((rc = store_setattr(s->st, a.id, &sa, &ignored)) != 0)
		text_say(why, whylen, rc, rc == -ENOSPC ? "not enough capacity here for %llu bytes" : "cannot size it to "
			 "%llu bytes", (unsigned long long)*size);
	if (rc == 0 && t->type && (rc = store_setxattr(s->st, a.id, "user.fabric.type", t->type, strlen(t->type), 0)))
		text_say(why, whylen, rc, "its type '%s' is refused here", t->type);
	if (rc == 0 && t->doc && (rc = store_setxattr(s->st, a.id, "user.fabric.doc", t->doc, strlen(t->doc), 0)))
		text_say(why, whylen, rc, "its doc is refused here");
	if (rc == 0 && t->refs && (rc = store_setxattr(s->st, a.id, "user.fabric.refs", t->refs, strlen(t->refs), 0)))
		text_say(why, whylen, rc, "its refs are refused here");
	if (rc == 0 && *size && store_handle_fd(h) < 0)
		rc = text_say(why, whylen, -EIO, "its block here is not its own");
	if (rc == 0)
		rc = receive(sock, store_handle_fd(h), *size, xxh3, hex, why, whylen);
	close(sock);
	if (rc == 0)
		rc = store_handle_hashed(s->st, h, *size, hex);
	if (rc)
		store_unlink(s->st, dir, leaf); /* before the release: it is dropped, not sealed */
	store_release(s->st, h);
	if (rc == 0) {
		n = store_getxattr(s->st, a.id, "user.fabric.xxh3", sealed, sizeof(sealed) - 1);
		sealed[n > 0 ? n : 0] = '\0';
		if (strcmp(sealed, t->xxh3) != 0)
			rc = text_say(why, whylen, -EIO, "it could not be sealed here; see this node's log");
	}
	store_forget(s->st, a.id, 1);
	return rc;
}

/* "TAKE <len>" then len bytes of JSON {from, id, name, xxh3, type, doc, refs, mode, uid, gid}: another node moves
 * its variable here (its `move`), with those attributes.  "OK" once it is sealed here. */
/* The JSON of len bytes that follows a request line (at most max), or NULL (refused, answered). */
/* Exactly len bytes into buf: 0, or -EIO when the peer stops short (or the read times out). */
static int recv_all(int fd, char *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = recv(fd, buf + got, len - got, MSG_WAITALL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		got += (size_t)n;
	}
	return 0;
}

static json_t *read_json(int fd, long long len, long long max)
{
	char *body = len > 0 && len <= max ? malloc((size_t)len) : NULL;
	json_t *j;

	if (!body) {
		refuse(fd, -EPROTO, "a request this node does not understand");
		return NULL;
	}
	if (recv_all(fd, body, (size_t)len) != 0) {
		free(body);
		return NULL;
	}
	j = json_loadb(body, (size_t)len, 0, NULL);
	free(body);
	if (!json_is_object(j)) {
		json_decref(j);
		refuse(fd, -EPROTO, "a request this node does not understand");
		return NULL;
	}
	return j;
}

static void serve_take(struct transfer_server *s, int fd, long long len)
{
	char why[512] = "";
	struct take t;
	uint64_t size = 0;
	json_t *j = read_json(fd, len, 200000);
	int rc;

	if (!j)
		return;
	t = (struct take){
		.from = json_string_value(json_object_get(j, "from")),
		.name = json_string_value(json_object_get(j, "name")),
		.xxh3 = json_string_value(json_object_get(j, "xxh3")),
		.type = json_string_value(json_object_get(j, "type")),
		.doc = json_string_value(json_object_get(j, "doc")),
		.refs = json_string_value(json_object_get(j, "refs")),
		.id = json_integer_value(json_object_get(j, "id")),
		.mode = (uint32_t)json_integer_value(json_object_get(j, "mode")) & 07777,
		.uid = (uint32_t)json_integer_value(json_object_get(j, "uid")),
		.gid = (uint32_t)json_integer_value(json_object_get(j, "gid")),
	};
	if (!t.from || !t.name || !t.xxh3 || names_check_leaf(t.name, NULL, 0) != 0) {
		json_decref(j);
		refuse(fd, -EPROTO, "a request this node does not understand");
		return;
	}
	if (!busy_enter(s->h.busy, "in", t.name)) {
		json_decref(j);
		refuse(fd, -EBUSY, "a move of '%s' here is under way already", t.name);
		return;
	}
	changing(s, true);
	rc = take_var(s, &t, &size, why, sizeof(why));
	changing(s, false);
	busy_leave(s->h.busy, "in", t.name);
	if (rc) {
		say(s, "transfer: a move of '%s' here failed: %s", t.name, why);
		refuse(fd, rc, "%s", why);
	} else {
		say(s, "transfer: '%s' moved here from %s (%llu bytes)", t.name, t.from, (unsigned long long)size);
		transfer_test_pause(false, "after the seal of a move, before its answer");
		send_all(fd, "OK\n", 3);
	}
	json_decref(j); /* t's strings are its */
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* One entry of a tree coming in: a directory, a link, or a variable fetched from its node. */
static int take_entry(struct transfer_server *s, const char *from, json_t *e, char *why, size_t whylen)
{
	char leaf[NAMES_LEAF_MAX + 1];
	const char *path = jstr(e, "path"), *kind = jstr(e, "kind");
	struct store_attr a;
	uint64_t dir, size;
	uint32_t mode = (uint32_t)json_integer_value(json_object_get(e, "mode")) & 07777;
	uint32_t uid = (uint32_t)json_integer_value(json_object_get(e, "uid"));
	uint32_t gid = (uint32_t)json_integer_value(json_object_get(e, "gid"));
	int rc;

	if (!path || !kind)
		return text_say(why, whylen, -EPROTO, "an entry without its path or kind");
	if (strcmp(kind, "var") == 0) {
		struct take t = { .from = from, .name = path, .xxh3 = jstr(e, "xxh3"), .type = jstr(e, "type"),
				  .doc = jstr(e, "doc"), .refs = jstr(e, "refs"),
				  .id = json_integer_value(json_object_get(e, "id")), .mode = mode, .uid = uid, .gid = gid };
		if (!t.xxh3)
			return text_say(why, whylen, -EPROTO, "'%s' without its xxh3", path);
		return take_var(s, &t, &size, why, whylen);
	}
	if ((rc = path_parent(s->st, path, &dir, leaf, sizeof(leaf))) != 0)
		return text_say(why, whylen, rc, "no directory here for '%s': %s", path, path_error(rc));
	if (strcmp(kind, "dir") == 0)
		rc = store_mkdir(s->st, dir, leaf, mode, uid, gid, &a);
	else if (strcmp(kind, "link") == 0 && jstr(e, "target"))
		rc = store_symlink(s->st, dir, leaf, jstr(e, "target"), uid, gid, &a);
	else
		return text_say(why, whylen, -EPROTO, "'%s' is a %s: not something a tree moves", path, kind);
	if (rc)
		return text_say(why, whylen, rc, "cannot make '%s': %s", path, strerror(-rc));
	for (const char *const *x = (const char *const[]){ "doc", "refs", NULL }; rc == 0 && *x; x++) {
		char xa[64];
		const char *v = jstr(e, *x);
		snprintf(xa, sizeof(xa), "user.fabric.%s", *x);
		if (v && (rc = store_setxattr(s->st, a.id, xa, v, strlen(v), 0)) != 0)
			text_say(why, whylen, rc, "its %s of '%s' is refused here", *x, path);
	}
	store_forget(s->st, a.id, 1);
	return rc;
}

/* "TAKETREE <len>" then JSON {node, from, id, name, fingerprint, entries}: another node moves its directory
 * here whole (transfer_give_tree). */
static void serve_taketree(struct transfer_server *s, int fd, long long len)
{
	char why[512] = "";
	json_t *j = read_json(fd, len, 64ll << 20), *entries;
	const char *node, *from, *name, *fp;
	struct store_attr a;
	uint64_t root = 0;
	size_t n;
	int rc = 0;

	if (!j)
		return;
	node = jstr(j, "node");
	from = jstr(j, "from");
	name = jstr(j, "name");
	fp = jstr(j, "fingerprint");
	entries = json_object_get(j, "entries");
	n = json_array_size(entries);
	if (!node || !from || !name || !fp || names_check_leaf(name, NULL, 0) != 0 || names_check_node(node) != 0 ||
	    n == 0 || !jstr(json_array_get(entries, 0), "path") || strcmp(jstr(json_array_get(entries, 0), "path"), name) ||
	    !jstr(json_array_get(entries, 0), "kind") || strcmp(jstr(json_array_get(entries, 0), "kind"), "dir")) {
		json_decref(j);
		refuse(fd, -EPROTO, "a request this node does not understand");
		return;
	}
	for (size_t i = 1; i < n; i++) { /* everything inside name/: nothing of this node's elsewhere is touched */
		const char *p = jstr(json_array_get(entries, i), "path");
		if (!p || strncmp(p, name, strlen(name)) != 0 || p[strlen(name)] != '/') {
			json_decref(j);
			refuse(fd, -EPROTO, "a tree entry outside the tree");
			return;
		}
	}
	if (!busy_enter(s->h.busy, "in", name)) {
		refuse(fd, -EBUSY, "a move of '%s' here is under way already", name);
		json_decref(j);
		return;
	}
	changing(s, true);
	if (store_lookup(s->st, STORE_VARS_ID, name, &a) == 0) {
		store_forget(s->st, a.id, 1);
		rc = text_say(why, sizeof(why), -EEXIST, "this node has a '%s' of its own", name);
	}
	struct yp_move m = { .object = json_integer_value(json_object_get(j, "id")), .name = name, .node = node,
			     .xxh3 = fp, .begun_ns = (int64_t)time(NULL) * 1000000000, .in = true };
	bool recorded = false;
	if (rc == 0 && (rc = yp_move_begin(store_yp(s->st), &m)) != 0)
		text_say(why, sizeof(why), rc, "cannot record the move here: %s", strerror(-rc));
	recorded = rc == 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = take_entry(s, from, json_array_get(entries, i), why, sizeof(why));
		if (rc == 0 && i == 0 && store_lookup(s->st, STORE_VARS_ID, name, &a) == 0) {
			root = a.id;
			store_forget(s->st, a.id, 1);
		}
		if (rc == 0 && i == 0)
			transfer_test_pause(false, "after the first entry of a directory coming in");
	}
	if (rc) {
		if (root)
			tree_remove(s->st, name, root); /* nothing of it stays */
		if (recorded) /* another move's record (a retry's) is not this refusal's to end */
			yp_move_end(store_yp(s->st), true, node, name);
	}
	changing(s, false);
	busy_leave(s->h.busy, "in", name);
	if (rc) {
		say(s, "transfer: a move of directory '%s' here failed: %s", name, why);
		refuse(fd, rc, "%s", why);
	} else {
		say(s, "transfer: directory '%s' moved here from %s (%zu entries)", name, node, n);
		transfer_test_pause(false, "after the last entry of a directory coming in, before its answer");
		send_all(fd, "OK\n", 3);
	}
	json_decref(j);
}

/* "SHARD <drop> <size> <mode> <dirmode> <uid> <gid>\t<name>": this node's piece of a shard, made or (drop)
 * removed with the shard's directory here. */
static void serve_shard(struct transfer_server *s, int fd, unsigned drop, const char *rest)
{
	unsigned long long size;
	unsigned mode, dir_mode, uid, gid;
	const char *tab = strchr(rest, '\t');
	char why[512] = "";
	struct store_attr d;
	int rc = 0;

	if (!tab || sscanf(rest, "%llu %u %u %u %u", &size, &mode, &dir_mode, &uid, &gid) != 5 ||
	    names_check_leaf(tab + 1, NULL, 0) != 0) {
		refuse(fd, -EPROTO, "a request this node does not understand");
		return;
	}
	changing(s, true);
	if (!drop) {
		rc = store_shard(s->st, tab + 1, size, mode, dir_mode, uid, gid, why, sizeof(why));
	} else if (store_lookup(s->st, store_shards_id(s->st), tab + 1, &d) == 0) {
		store_unlink(s->st, d.id, store_node_name(s->st));
		store_forget(s->st, d.id, 1);
		rc = store_rmdir(s->st, store_shards_id(s->st), tab + 1);
		text_say(why, sizeof(why), rc, "cannot remove shards/%s: %s", tab + 1, strerror(-rc));
	}
	changing(s, false);
	if (rc)
		refuse(fd, rc, "%s", why);
	else
		send_all(fd, "OK\n", 3);
}

/* "DONE <kept> <node>\t<name>": node's move of directory name here ended. */
static void serve_done(struct transfer_server *s, int fd, unsigned kept, const char *rest)
{
	char node[NAMES_NODE_MAX + 1];
	const char *tab = strchr(rest, '\t');

	if (!tab || sscanf(rest, "%64s", node) != 1 || !s->h.done) {
		refuse(fd, -EPROTO, "a request this node does not understand");
		return;
	}
	if (busy_has(s->h.busy, "in", tab + 1)) { /* a retry of the move is taking it now: not this end's */
		refuse(fd, -EINPROGRESS, "'%s' is coming in now", tab + 1);
		return;
	}
	s->h.done(s->h.arg, node, tab + 1, kept != 0);
	send_all(fd, "OK\n", 3);
}

/* "MOVING 0 <node>\t<name>": is this node's move of name to node under way? */
static void serve_moving(struct transfer_server *s, int fd, const char *rest)
{
	char node[NAMES_NODE_MAX + 1];
	const char *tab = strchr(rest, '\t');
	int rc;

	if (!tab || sscanf(rest, "%64s", node) != 1 || !s->h.moving) {
		refuse(fd, -EPROTO, "a request this node does not understand");
		return;
	}
	rc = s->h.moving(s->h.arg, tab + 1, node);
	if (rc)
		refuse(fd, rc, "%s", rc == -ENOENT ? "over: the name is not here any more" : "over: this node kept it");
	else
		send_all(fd, "OK\n", 3);
}

/* "HAS 0 <xxh3>\t<name>": is vars/NAME here a sealed variable of these bytes (a move's end, checked by the
 * node it left)?  "OK" or "ERR <ENOENT>". */
static void serve_has(struct transfer_server *s, int fd, const char *rest)
{
	char xxh3[64], have[64];
	const char *tab = strchr(rest, '\t');
	struct store_attr a;
	ssize_t n;

	if (!tab || sscanf(rest, "%63s", xxh3) != 1) {
		refuse(fd, -EPROTO, "a request this node does not understand");
		return;
	}
	if (busy_has(s->h.busy, "in", tab + 1)) { /* slow, not failed: ask again later */
		refuse(fd, -EINPROGRESS, "'%s' is coming in now", tab + 1);
		return;
	}
	if (store_lookup(s->st, STORE_VARS_ID, tab + 1, &a) != 0) {
		refuse(fd, -ENOENT, "no '%s' here", tab + 1);
		return;
	}
	if (a.dir) /* a directory: the fingerprint of its tree */
		n = tree_fingerprint(s->st, tab + 1, have) == 0 ? HASH_HEX_LEN : 0;
	else
		n = store_getxattr(s->st, a.id, "user.fabric.xxh3", have, sizeof(have) - 1);
	have[n > 0 ? n : 0] = '\0';
	store_forget(s->st, a.id, 1);
	if ((!a.dir && !a.sealed) || strcmp(have, xxh3) != 0) {
		refuse(fd, -ENOENT, "'%s' here is not those bytes", tab + 1);
		return;
	}
	send_all(fd, "OK\n", 3);
}

int transfer_handle(struct transfer_server *s, const char *verb, transfer_call_fn fn, void *arg)
{
	int rc = 0;

	if (!s || !fn || !*verb || strlen(verb) > TRANSFER_VERB_MAX || strspn(verb, "abcdefghijklmnopqrstuvwxyz.") != strlen(verb))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->ncalls && rc == 0; i++)
		if (strcmp(s->calls[i].verb, verb) == 0)
			rc = -EEXIST;
	if (rc == 0 && s->ncalls == TRANSFER_CALLS_MAX)
		rc = -ENOSPC;
	if (rc == 0) {
		snprintf(s->calls[s->ncalls].verb, sizeof(s->calls[0].verb), "%s", verb);
		s->calls[s->ncalls].fn = fn;
		s->calls[s->ncalls].arg = arg;
		s->ncalls++;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void transfer_unhandle(struct transfer_server *s, void *arg)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->ncalls;)
		if (s->calls[i].arg == arg)
			s->calls[i] = s->calls[--s->ncalls];
		else
			i++;
	while (s->calling) /* a call of arg's may be running: arg must outlive it */
		pthread_cond_wait(&s->idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

/* "CALL <len> <verb>" then len bytes of JSON: a verb of the layers above (transfer_handle); answered
 * "OK <len>\n" and the answer's bytes. */
static void serve_call(struct transfer_server *s, int fd, long long len, const char *rest)
{
	char verb[TRANSFER_VERB_MAX + 2] = "", why[1024] = "", hdr[64], *body, *ans = NULL;
	struct call_verb cv = { .fn = NULL };
	size_t anslen = 0;
	int rc;

	if (sscanf(rest, "%33s", verb) != 1 || strlen(verb) > TRANSFER_VERB_MAX || len <= 0 || len > TRANSFER_CALL_MAX ||
	    !(body = malloc((size_t)len + 1))) {
		refuse(fd, -EPROTO, "a request this node does not understand");
		return;
	}
	if (recv_all(fd, body, (size_t)len) != 0) {
		free(body);
		return;
	}
	body[len] = '\0';
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->ncalls; i++)
		if (strcmp(s->calls[i].verb, verb) == 0)
			cv = s->calls[i];
	s->calling += cv.fn != NULL;
	pthread_mutex_unlock(&s->lock);
	rc = cv.fn ? cv.fn(cv.arg, verb, body, (size_t)len, &ans, &anslen, why, sizeof(why))
		   : text_say(why, sizeof(why), -ENOSYS, "this node serves no '%s'", verb);
	if (cv.fn) {
		pthread_mutex_lock(&s->lock);
		if (--s->calling == 0)
			pthread_cond_broadcast(&s->idle);
		pthread_mutex_unlock(&s->lock);
	}
	free(body);
	if (rc) {
		refuse(fd, rc, "%s", why);
		free(ans);
		return;
	}
	snprintf(hdr, sizeof(hdr), "OK %zu\n", anslen);
	if (send_all(fd, hdr, strlen(hdr)) == 0 && anslen)
		send_all(fd, ans, anslen);
	free(ans);
}

/* "MOVE <flags> <uid> <node>\t<name>": move this node's name to node, for uid (another node's `move`). */
static void serve_move(struct transfer_server *s, int fd, unsigned flags, const char *rest)
{
	char node[NAMES_NODE_MAX + 1], why[512] = "", ok[40];
	const char *tab = strchr(rest, '\t');
	uint64_t bytes = 0;
	unsigned uid;
	int rc;

	if (!tab || sscanf(rest, "%u %64s", &uid, node) != 2 || !s->h.move) {
		refuse(fd, -EPROTO, "a request this node does not understand");
		return;
	}
	rc = s->h.move(s->h.arg, tab + 1, node, flags, (uint32_t)uid, &bytes, why, sizeof(why));
	if (rc) {
		refuse(fd, rc, "%s", why);
		return;
	}
	snprintf(ok, sizeof(ok), "OK %llu\n", (unsigned long long)bytes);
	send_all(fd, ok, strlen(ok));
}

static void serve(struct transfer_server *s, int fd)
{
	char line[LINE_MAX_], secret[TRANSFER_SECRET_MAX + 2], op[10], xxh3[64] = "", scope[256] = "", hdr[128];
	struct store_handle *h = NULL;
	struct store_attr a;
	long long id = 0;
	int at = 0;
	ssize_t n;
	int rc;

	timeouts(fd);
	if (read_line(fd, line) != 0)
		return;
	if (sscanf(line, "FABRIC1 %129s %9s %lld %n", secret, op, &id, &at) != 3 || strlen(secret) > TRANSFER_SECRET_MAX ||
	    (strcmp(op, "GET") != 0 && strcmp(op, "DEL") != 0 && strcmp(op, "REN") != 0 && strcmp(op, "TAKE") != 0 &&
	     strcmp(op, "HAS") != 0 && strcmp(op, "MOVE") != 0 && strcmp(op, "TAKETREE") != 0 &&
	     strcmp(op, "DONE") != 0 && strcmp(op, "MOVING") != 0 && strcmp(op, "SHARD") != 0 &&
	     strcmp(op, "CALL") != 0)) {
		refuse(fd, -EPROTO, "a request this node does not understand");
		return;
	}
	if (strcmp(secret, s->secret) != 0) {
		say(s, "transfer: a request with a wrong secret refused");
		refuse(fd, -EACCES, "wrong cluster secret");
		return;
	}
	if (strcmp(op, "DEL") == 0) {
		serve_delete(s, fd, id, line + at);
		return;
	}
	if (strcmp(op, "REN") == 0) {
		serve_rename(s, fd, id, line + at);
		return;
	}
	if (strcmp(op, "HAS") == 0) {
		serve_has(s, fd, line + at);
		return;
	}
	if (strcmp(op, "SHARD") == 0) { /* id: drop */
		serve_shard(s, fd, (unsigned)id, line + at);
		return;
	}
	if (strcmp(op, "DONE") == 0) { /* id: kept */
		serve_done(s, fd, (unsigned)id, line + at);
		return;
	}
	if (strcmp(op, "MOVING") == 0) {
		serve_moving(s, fd, line + at);
		return;
	}
	if (strcmp(op, "CALL") == 0) { /* id is the length of the JSON */
		struct timeval tv = { .tv_sec = 600 }; /* a spawn may wait for a block of task ids */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		serve_call(s, fd, id, line + at);
		return;
	}
	if (strcmp(op, "TAKETREE") == 0) { /* id is the length of the JSON */
		struct timeval tv = { .tv_sec = 600 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		serve_taketree(s, fd, id);
		return;
	}
	if (strcmp(op, "MOVE") == 0) { /* id is the flags */
		struct timeval tv = { .tv_sec = 600 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		serve_move(s, fd, (unsigned)id, line + at);
		return;
	}
	if (strcmp(op, "TAKE") == 0) { /* id is the length of the JSON that follows */
		struct timeval tv = { .tv_sec = 600 }; /* the fetch of a big variable and its load take a while */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		serve_take(s, fd, id);
		return;
	}
	uint64_t of = store_object_of(s->st, (uint64_t)id); /* a hard link's name is published by its own id */
	if (of)
		id = (long long)of;
	if (store_getattr(s->st, (uint64_t)id, &a) != 0 || a.dir || a.link) {
		refuse(fd, -ENOENT, "no variable %lld on this node", id);
		return;
	}
	if (!a.sealed || a.mut) {
		refuse(fd, -EAGAIN, "variable %lld is %s", id, a.mut ? "a mutable object" : "being written");
		return;
	}
	n = store_getxattr(s->st, (uint64_t)id, "user.fabric.scope", scope, sizeof(scope) - 1);
	scope[n > 0 ? n : 0] = '\0';
	if (n > 0 && strcmp(scope, "any") != 0) {
		refuse(fd, -EACCES, "variable %lld is scoped %s: it never leaves its node", id, scope);
		return;
	}
	n = store_getxattr(s->st, (uint64_t)id, "user.fabric.xxh3", xxh3, sizeof(xxh3) - 1);
	xxh3[n > 0 ? n : 0] = '\0';
	rc = store_open(s->st, (uint64_t)id, O_RDONLY, getpid(), no_wake, NULL, &h);
	if (rc == STORE_WAITING) {
		if (!store_cancel_wait(s->st, (uint64_t)id, NULL))
			return; /* woken meanwhile: its handle is the waiter's; nothing to answer it with */
		rc = -EAGAIN;
	}
	if (rc) {
		refuse(fd, rc, "cannot open variable %lld: %s", id, strerror(-rc));
		return;
	}
	snprintf(hdr, sizeof(hdr), "OK %llu %s\n", (unsigned long long)a.size, xxh3[0] ? xxh3 : "-");
	if (send_all(fd, hdr, strlen(hdr)) == 0 && (rc = send_bytes(s->st, h, fd, a.size)) != 0)
		say(s, "transfer: sending variable %lld failed: %s", id, strerror(-rc));
	store_release(s->st, h);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct transfer_server *s = c->s;

	serve(s, c->fd);
	close(c->fd);
	free(c);
	pthread_mutex_lock(&s->lock);
	if (--s->conns == 0)
		pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct transfer_server *s = arg;
	struct pollfd p[2] = { { .fd = s->listen_fd, .events = POLLIN }, { .fd = s->stop_pipe[0], .events = POLLIN } };

	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		struct conn *c = malloc(sizeof(*c));
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_mutex_lock(&s->lock);
		s->conns++;
		pthread_mutex_unlock(&s->lock);
		if (c)
			*c = (struct conn){ s, fd };
		if (!c || pthread_create(&t, &at, conn_main, c) != 0) {
			close(fd);
			free(c);
			pthread_mutex_lock(&s->lock);
			s->conns--;
			pthread_mutex_unlock(&s->lock);
		}
		pthread_attr_destroy(&at);
	}
	return NULL;
}

int transfer_serve_start(int listen_fd, struct store *st, const char *secret, const struct transfer_hooks *hooks,
			 struct transfer_server **out)
{
	struct transfer_server *s;

	if (!secret || !*secret || strlen(secret) > TRANSFER_SECRET_MAX || strpbrk(secret, " \t\n"))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->listen_fd = listen_fd;
	s->st = st;
	if (hooks)
		s->h = *hooks;
	snprintf(s->secret, sizeof(s->secret), "%s", secret);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	if (pipe2(s->stop_pipe, O_CLOEXEC) < 0 || pthread_create(&s->thread, NULL, accept_main, s) != 0) {
		int rc = -errno;
		if (s->stop_pipe[0] > 0) {
			close(s->stop_pipe[0]);
			close(s->stop_pipe[1]);
		}
		free(s);
		return rc ? rc : -EAGAIN;
	}
	*out = s;
	return 0;
}

void transfer_serve_stop(struct transfer_server *s)
{
	if (!s)
		return;
	if (write(s->stop_pipe[1], "x", 1) < 0) {
		/* the pipe cannot be full: one byte, once */
	}
	pthread_join(s->thread, NULL);
	pthread_mutex_lock(&s->lock);
	while (s->conns) /* each ends within TRANSFER_TIMEOUT_S at most */
		pthread_cond_wait(&s->idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->idle);
	free(s);
}

/* ---- fetching ----------------------------------------------------------------------------------- */

static int dial(const char *addr, int *fd, char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	char host[80];
	const char *port;
	struct addrinfo *ai = NULL;
	int rc;

	if (text_hostport(addr, host, sizeof(host), &port) != 0)
		return text_say(why, whylen, -EINVAL, "bad node address '%s'", addr);
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0)
		return text_say(why, whylen, -EINVAL, "bad node address '%s': %s", addr, gai_strerror(rc));
	*fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rc = *fd < 0 ? -errno : 0;
	if (rc == 0) {
		timeouts(*fd);
		if (connect(*fd, ai->ai_addr, ai->ai_addrlen) < 0)
			rc = errno == EINPROGRESS || errno == EAGAIN ? -ETIMEDOUT : -errno;
	}
	freeaddrinfo(ai);
	if (rc) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return text_say(why, whylen, rc, "cannot reach the node at %s: %s", addr, strerror(-rc));
	}
	return 0;
}

/* A big transfer: moved by the kernel from the socket into fd through a pipe (one copy of each byte
 * instead of two through a buffer of ours), then hashed through a mapping.  On this VM, 1 GiB over
 * loopback into a new shm object: 0.89-1.03 s against 0.98-1.10 s received, hashed and written piece by
 * piece (a throwaway program, 2026-12-03); what bounds both is shmem allocating the new pages. */
#define SPLICE_MIN (4u << 20)

static int receive_spliced(int sock, int fd, uint64_t size, char *why, size_t whylen)
{
	size_t chunk = 1u << 20;
	loff_t off = 0;
	int pp[2], rc = 0;

	if (pipe2(pp, O_CLOEXEC) < 0)
		return text_say(why, whylen, -errno, "cannot make a pipe: %s", strerror(errno));
	if (fcntl(pp[1], F_SETPIPE_SZ, (int)chunk) < 0)
		chunk = 64u << 10; /* a pipe's default size */
	for (uint64_t got = 0; rc == 0 && got < size;) {
		size_t want = size - got < chunk ? (size_t)(size - got) : chunk;
		ssize_t n = splice(sock, NULL, pp[1], NULL, want, SPLICE_F_MOVE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = text_say(why, whylen, -EIO, "the transfer stopped after %llu of %llu bytes",
				      (unsigned long long)got, (unsigned long long)size);
			break;
		}
		for (ssize_t left = n; rc == 0 && left > 0;) {
			ssize_t w = splice(pp[0], NULL, fd, &off, (size_t)left, SPLICE_F_MOVE);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				rc = text_say(why, whylen, w < 0 ? -errno : -EIO, "cannot write the copy: %s",
					      w < 0 ? strerror(errno) : "short write");
			else
				left -= w;
		}
		got += (uint64_t)n;
	}
	close(pp[0]);
	close(pp[1]);
	return rc;
}

/* Receive size bytes into fd (a new object, or a store block being written: sized by the caller).  A big
 * transfer into a file is spliced, then hashed (receive_spliced); a smaller one is received piece by
 * piece, each piece hashed while it is in the cache, then written: written rather than received through
 * a mapping because shmem zeroes a new page it maps (half the time of a move, by perf) but not one a
 * write fills whole.  0 when they are all there and their XXH3-128 is xxh3 (then in hex), else -EIO
 * with why. */
static int receive(int sock, int fd, uint64_t size, const char *xxh3, char hex[HASH_HEX_LEN + 1], char *why,
		   size_t whylen)
{
	const size_t piece = 256u << 10; /* in the L2 cache from the recv to the write */
	struct hash_stream *hs;
	struct stat sb;
	char *buf;
	int rc;

	if (size >= SPLICE_MIN && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		rc = receive_spliced(sock, fd, size, why, whylen);
		if (rc == 0 && (rc = hash_fd(fd, 0, size, hex)) != 0)
			text_say(why, whylen, rc, "cannot read the copy back to prove it: %s", strerror(-rc));
		if (rc == 0 && strcmp(hex, xxh3) != 0)
			rc = text_say(why, whylen, -EIO, "the bytes received have xxh3 %s, not the %s promised", hex,
				      xxh3);
		return rc;
	}
	buf = malloc(piece);
	rc = buf ? hash_stream_new(&hs) : -ENOMEM;

	if (rc) {
		free(buf);
		return text_say(why, whylen, rc, "out of memory");
	}
	for (uint64_t got = 0; rc == 0 && got < size;) {
		size_t want = size - got < piece ? (size_t)(size - got) : piece;
		ssize_t n = recv(sock, buf, want, MSG_WAITALL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = text_say(why, whylen, -EIO, "the transfer stopped after %llu of %llu bytes",
				      (unsigned long long)got, (unsigned long long)size);
			break;
		}
		hash_stream_add(hs, buf, (size_t)n);
		for (ssize_t done = 0; rc == 0 && done < n;) {
			ssize_t w = pwrite(fd, buf + done, (size_t)(n - done), (off_t)(got + (uint64_t)done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				rc = text_say(why, whylen, w < 0 ? -errno : -EIO, "cannot write the copy: %s",
					      w < 0 ? strerror(errno) : "short write");
			else
				done += w;
		}
		got += (uint64_t)n;
	}
	free(buf);
	hash_stream_end(hs, hex);
	if (rc == 0 && strcmp(hex, xxh3) != 0)
		rc = text_say(why, whylen, -EIO, "the bytes received have xxh3 %s, not the %s promised", hex, xxh3);
	return rc;
}

/* One request line (and a body, when not NULL) whose answer is "OK" or "ERR ..." within wait_s. */
static int ask_with(const char *addr, const char *line_in, const char *body, int wait_s, char *why, size_t whylen);
static int ask_num(const char *addr, const char *line_in, const char *body, int wait_s, uint64_t *num, char *why,
		   size_t whylen);

int transfer_delete(const char *addr, const char *secret, int64_t id, int64_t parent, const char *name, char *why,
		    size_t whylen)
{
	char line[LINE_MAX_];

	if (strchr(name, '\n') || strlen(name) > NAMES_LEAF_MAX)
		return text_say(why, whylen, -EINVAL, "a name the protocol cannot carry");
	snprintf(line, sizeof(line), "FABRIC1 %s DEL %lld %lld %s\n", secret, (long long)id, (long long)parent, name);
	return ask_with(addr, line, NULL, TRANSFER_TIMEOUT_S, why, whylen);
}

int transfer_rename(const char *addr, const char *secret, int64_t id, int64_t parent, const char *name,
		    int64_t newparent, const char *newname, unsigned flags, char *why, size_t whylen)
{
	char line[LINE_MAX_];

	if (strpbrk(name, "\t\n") || strpbrk(newname, "\t\n") || strlen(name) > NAMES_LEAF_MAX ||
	    strlen(newname) > NAMES_LEAF_MAX)
		return text_say(why, whylen, -EINVAL, "a name the protocol cannot carry");
	snprintf(line, sizeof(line), "FABRIC1 %s REN %lld %lld %lld %u\t%s\t%s\n", secret, (long long)id,
		 (long long)parent, (long long)newparent, flags, name, newname);
	return ask_with(addr, line, NULL, TRANSFER_TIMEOUT_S, why, whylen);
}

void transfer_test_pause(bool send, const char *where)
{
	static int once[2] = { -1, -1 };
	int ms = __atomic_load_n(&once[send], __ATOMIC_RELAXED);

	if (ms < 0) { /* the environment does not change under the daemon: any thread may read it first */
		const char *v = getenv(send ? "FABRIC_TEST_SEND_PAUSE_MS" : "FABRIC_TEST_MOVE_PAUSE_MS");
		ms = v && *v ? atoi(v) : 0;
		__atomic_store_n(&once[send], ms, __ATOMIC_RELAXED);
	}
	if (ms > 0) {
		fprintf(stderr, "fabricd: test pause of %d ms %s\n", ms, where);
		usleep((useconds_t)ms * 1000);
	}
}

int transfer_give_tree(const char *addr, const char *secret, const char *node, const char *from, int64_t id,
		       const char *name, const char *fingerprint, const char *entries, char *why, size_t whylen)
{
	json_t *e = json_loads(entries, 0, NULL);
	json_t *j = e ? json_pack("{s:s, s:s, s:I, s:s, s:s, s:o}", "node", node, "from", from, "id", (json_int_t)id,
				  "name", name, "fingerprint", fingerprint, "entries", e) : NULL;
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL, line[LINE_MAX_];
	int rc;

	json_decref(j);
	if (!body)
		return text_say(why, whylen, -ENOMEM, "out of memory");
	snprintf(line, sizeof(line), "FABRIC1 %s TAKETREE %zu\n", secret, strlen(body));
	rc = ask_with(addr, line, body, 600, why, whylen);
	free(body);
	return rc;
}

int transfer_shard(const char *addr, const char *secret, const char *name, bool drop, uint64_t size, uint32_t mode,
		   uint32_t dir_mode, uint32_t uid, uint32_t gid, char *why, size_t whylen)
{
	char line[LINE_MAX_];

	if (names_check_leaf(name, NULL, 0) != 0)
		return text_say(why, whylen, -EINVAL, "a name the protocol cannot carry");
	snprintf(line, sizeof(line), "FABRIC1 %s SHARD %d %llu %u %u %u %u\t%s\n", secret, drop ? 1 : 0,
		 (unsigned long long)size, (unsigned)mode, (unsigned)dir_mode, (unsigned)uid, (unsigned)gid, name);
	return ask_with(addr, line, NULL, TRANSFER_TIMEOUT_S, why, whylen);
}

int transfer_done(const char *addr, const char *secret, const char *node, const char *name, bool kept, char *why,
		  size_t whylen)
{
	char line[LINE_MAX_];

	if (strpbrk(name, "\t\n") || strlen(name) > NAMES_LEAF_MAX || names_check_node(node) != 0)
		return text_say(why, whylen, -EINVAL, "a name the protocol cannot carry");
	snprintf(line, sizeof(line), "FABRIC1 %s DONE %d %s\t%s\n", secret, kept ? 1 : 0, node, name);
	return ask_with(addr, line, NULL, TRANSFER_TIMEOUT_S, why, whylen);
}

int transfer_moving(const char *addr, const char *secret, const char *node, const char *name, char *why,
		    size_t whylen)
{
	char line[LINE_MAX_];

	if (strpbrk(name, "\t\n") || strlen(name) > NAMES_LEAF_MAX || names_check_node(node) != 0)
		return text_say(why, whylen, -EINVAL, "a name the protocol cannot carry");
	snprintf(line, sizeof(line), "FABRIC1 %s MOVING 0 %s\t%s\n", secret, node, name);
	return ask_with(addr, line, NULL, TRANSFER_TIMEOUT_S, why, whylen);
}

int transfer_has(const char *addr, const char *secret, const char *name, const char *xxh3, char *why,
		 size_t whylen)
{
	char line[LINE_MAX_];

	if (strpbrk(name, "\t\n") || strlen(name) > NAMES_LEAF_MAX || strpbrk(xxh3, " \t\n"))
		return text_say(why, whylen, -EINVAL, "a name the protocol cannot carry");
	snprintf(line, sizeof(line), "FABRIC1 %s HAS 0 %s\t%s\n", secret, xxh3, name);
	return ask_with(addr, line, NULL, TRANSFER_TIMEOUT_S, why, whylen);
}

int transfer_ask_move(const char *addr, const char *secret, const char *name, const char *node, unsigned flags,
		      uint32_t uid, uint64_t *bytes, char *why, size_t whylen)
{
	char line[LINE_MAX_];

	if (strpbrk(name, "\t\n") || strlen(name) > NAMES_LEAF_MAX || names_check_node(node) != 0)
		return text_say(why, whylen, -EINVAL, "a name the protocol cannot carry");
	snprintf(line, sizeof(line), "FABRIC1 %s MOVE %u %u %s\t%s\n", secret, flags, (unsigned)uid, node, name);
	return ask_num(addr, line, NULL, 600, bytes, why, whylen);
}

int transfer_give(const char *addr, const char *secret, const char *from, int64_t id, const char *name,
		  const char *xxh3, const char *type, const char *doc, const char *refs, uint32_t mode, uint32_t uid,
		  uint32_t gid, char *why, size_t whylen)
{
	json_t *j = json_pack("{s:s, s:I, s:s, s:s, s:s?, s:s?, s:s?, s:i, s:I, s:I}", "from", from, "id",
			      (json_int_t)id, "name", name, "xxh3", xxh3, "type", type, "doc", doc, "refs", refs, "mode",
			      (int)mode, "uid", (json_int_t)uid, "gid", (json_int_t)gid);
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL, line[LINE_MAX_];
	int rc;

	json_decref(j);
	if (!body)
		return text_say(why, whylen, -ENOMEM, "out of memory");
	snprintf(line, sizeof(line), "FABRIC1 %s TAKE %zu\n", secret, strlen(body));
	rc = ask_with(addr, line, body, 600, why, whylen);
	free(body);
	return rc;
}

/* Send a request (line_in, then body when not NULL) to the node at addr and read its answer's line, waiting
 * up to wait_s: 0 with the connection in *sock (the caller closes it) and an "OK ..." line in line, or the
 * node's refusal (ERR) or silence as -errno with why, the connection closed. */
static int ask_line(const char *addr, const char *line_in, const char *body, size_t bodylen, int wait_s, int *sock,
		    char line[LINE_MAX_], char *why, size_t whylen)
{
	int rc;

	if ((rc = dial(addr, sock, why, whylen)) != 0)
		return rc;
	rc = send_all(*sock, line_in, strlen(line_in));
	if (rc == 0 && body && bodylen)
		rc = send_all(*sock, body, bodylen);
	if (rc == 0 && wait_s != TRANSFER_TIMEOUT_S) {
		struct timeval tv = { .tv_sec = wait_s };
		setsockopt(*sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	if (rc == 0)
		rc = read_line(*sock, line);
	if (rc)
		rc = text_say(why, whylen, rc, "the node at %s did not answer: %s", addr, strerror(-rc));
	else if (strncmp(line, "ERR ", 4) == 0) {
		int e = atoi(line + 4);
		const char *msg = strchr(line + 4, ' ');
		rc = text_say(why, whylen, e > 0 ? -e : -EIO, "the node at %s refused: %s", addr, msg ? msg + 1 : line);
	} else if (strncmp(line, "OK", 2) != 0 || (line[2] && line[2] != ' '))
		rc = text_say(why, whylen, -EPROTO, "the node at %s answered '%.80s'", addr, line);
	if (rc) {
		close(*sock);
		*sock = -1;
	}
	return rc;
}

int transfer_call(const char *addr, const char *secret, const char *verb, const char *body, int wait_s, char **ans,
		  size_t *anslen, char *why, size_t whylen)
{
	return transfer_call_n(addr, secret, verb, body, strlen(body), wait_s, ans, anslen, why, whylen);
}

int transfer_call_n(const char *addr, const char *secret, const char *verb, const void *body, size_t bodylen,
		    int wait_s, char **ans, size_t *anslen, char *why, size_t whylen)
{
	char line[LINE_MAX_];
	unsigned long long len = 0;
	char *buf = NULL;
	int sock, rc;

	*ans = NULL;
	*anslen = 0;
	if (strpbrk(verb, " \t\n") || strlen(verb) > TRANSFER_VERB_MAX)
		return text_say(why, whylen, -EINVAL, "a verb the protocol cannot carry");
	if (bodylen == 0 || bodylen > TRANSFER_CALL_MAX)
		return text_say(why, whylen, -EFBIG, "a call carries 1 to %d bytes, not %zu", TRANSFER_CALL_MAX, bodylen);
	snprintf(line, sizeof(line), "FABRIC1 %s CALL %zu %s\n", secret, bodylen, verb);
	if ((rc = ask_line(addr, line, body, bodylen, wait_s, &sock, line, why, whylen)) != 0)
		return rc;
	if (sscanf(line, "OK %llu", &len) != 1 || len > (64ull << 20) || !(buf = malloc(len + 1)))
		rc = text_say(why, whylen, -EPROTO, "the node at %s answered '%.80s'", addr, line);
	if (rc == 0 && recv_all(sock, buf, (size_t)len) != 0)
		rc = text_say(why, whylen, -EIO, "the node at %s sent less than the %llu bytes it promised", addr, len);
	close(sock);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*ans = buf;
	*anslen = len;
	return 0;
}

/* ask_line, for an answer "OK" or "OK <number>": the number in *num (0 for a bare "OK"). */
static int ask_num(const char *addr, const char *line_in, const char *body, int wait_s, uint64_t *num, char *why,
		   size_t whylen)
{
	char line[LINE_MAX_];
	unsigned long long v = 0;
	int sock, rc = ask_line(addr, line_in, body, body ? strlen(body) : 0, wait_s, &sock, line, why, whylen);

	if (rc)
		return rc;
	close(sock);
	if (strcmp(line, "OK") != 0 && sscanf(line, "OK %llu", &v) != 1)
		return text_say(why, whylen, -EPROTO, "the node at %s answered '%.80s'", addr, line);
	if (num)
		*num = v;
	return 0;
}

static int ask_with(const char *addr, const char *line_in, const char *body, int wait_s, char *why, size_t whylen)
{
	return ask_num(addr, line_in, body, wait_s, NULL, why, whylen);
}

/* Ask the node at addr for variable id: on "OK" the connection in *sock, positioned at the bytes, their
 * count and xxh3 (which must be want_xxh3, when given). */
static int get_begin(const char *addr, const char *secret, int64_t id, const char *want_xxh3, int *sock,
		     uint64_t *size, char xxh3[64], char *why, size_t whylen)
{
	char line[LINE_MAX_];
	unsigned long long len;
	int rc;

	snprintf(line, sizeof(line), "FABRIC1 %s GET %lld\n", secret, (long long)id);
	if ((rc = ask_line(addr, line, NULL, 0, TRANSFER_TIMEOUT_S, sock, line, why, whylen)) != 0)
		return rc;
	if (sscanf(line, "OK %llu %63s", &len, xxh3) != 2 || (want_xxh3 && strcmp(xxh3, want_xxh3) != 0)) {
		rc = text_say(why, whylen, -EIO, "the node at %s answered '%.80s' (wanted xxh3 %s)", addr, line,
			      want_xxh3 ? want_xxh3 : "any");
	}
	if (rc) {
		close(*sock);
		*sock = -1;
		return rc;
	}
	*size = len;
	return 0;
}

int transfer_fetch(const char *addr, const char *secret, int64_t id, const char *want_xxh3,
		   const char *shm_name, int *fd, uint64_t *size, char *why, size_t whylen)
{
	char xxh3[64], hex[HASH_HEX_LEN + 1], path[SHM_NAME_MAX + 1];
	uint64_t len;
	int sock, wfd = -1, rc;

	*fd = -1;
	if ((rc = get_begin(addr, secret, id, want_xxh3, &sock, &len, xxh3, why, whylen)) != 0)
		return rc;
	rc = shm_create(shm_name, &wfd);
	if (rc)
		text_say(why, whylen, rc, "cannot make the replica %s: %s", shm_name, strerror(-rc));
	else if (ftruncate(wfd, (off_t)len) < 0)
		rc = text_say(why, whylen, -errno, "cannot size a replica of %llu bytes: %s", (unsigned long long)len,
			      strerror(errno));
	else
		rc = receive(sock, wfd, len, xxh3, hex, why, whylen);
	close(sock);
	if (wfd >= 0)
		close(wfd);
	if (rc == 0) { /* read-only from here on: the copy never changes */
		snprintf(path, sizeof(path), "/%s", shm_name);
		*fd = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
		rc = *fd < 0 ? text_say(why, whylen, -errno, "cannot reopen the replica: %s", strerror(errno)) : 0;
	}
	if (rc)
		shm_remove(shm_name);
	else
		*size = len;
	return rc;
}
