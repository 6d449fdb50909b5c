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
#include <unistd.h>

#include "core/bulk/load.h"
#include "core/cluster/transfer.h"
#include "core/os/hash.h"
#include "core/os/shm.h"
#include "core/store/path.h"
#include "core/store/store.h"
#include "core/text/names.h"
#include "core/text/text.h"

#define LINE_MAX_ 1024 /* a request with two names of NAMES_LEAF_MAX bytes fits */

struct transfer_server {
	int listen_fd, stop_pipe[2];
	struct store *st;
	char secret[TRANSFER_SECRET_MAX + 1];
	void (*log)(const char *msg);
	void (*changing)(bool begin);
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned conns; /* connections being served */
};

struct conn {
	struct transfer_server *s;
	int fd;
};

#define say(s, ...) text_log((s)->log, __VA_ARGS__)

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
	off_t off = 0;

	while ((uint64_t)off < size) {
		ssize_t n;
		if (bfd >= 0) {
			n = sendfile(fd, bfd, &off, (size_t)(size - (uint64_t)off));
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
	if ((long long)a->id != id) {
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
	if (s->changing)
		s->changing(true);
	rc = a.dir ? store_rmdir(s->st, (uint64_t)parent, name) : store_unlink(s->st, (uint64_t)parent, name);
	if (s->changing)
		s->changing(false);
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
	if (s->changing)
		s->changing(true);
	rc = store_rename(s->st, (uint64_t)parent, name, (uint64_t)newparent, newname, flags);
	if (s->changing)
		s->changing(false);
	if (rc) {
		refuse(fd, rc, "cannot rename '%s' to '%s': %s", name, newname, strerror(-rc));
		return;
	}
	say(s, "transfer: '%s' (object %lld) renamed '%s' at another node's request", name, id, newname);
	send_all(fd, "OK\n", 3);
}

/* "TAKE <len>" then len bytes of JSON {from, id, name, xxh3, type, doc, mode, uid, gid}: another node moves
 * its variable here (its `move`): fetched from `from` into a temporary object, loaded as vars/NAME with
 * its attributes and proved by its xxh3, the temporary object removed.  "OK" once it is sealed here. */
static void serve_take(struct transfer_server *s, int fd, long long len)
{
	char tmp[SHM_NAME_MAX], path[SHM_NAME_MAX + 16], why[512] = "";
	static unsigned long long serial;
	struct load_caller root = { 0, 0, getpid() };
	struct store_setattr sa = { .set = STORE_SET_UID | STORE_SET_GID };
	struct load_result res;
	struct store_attr a, ignored;
	const char *from, *name, *xxh3, *type, *doc;
	uint64_t size, vid;
	bool made = false;
	char *body;
	json_t *j;
	int tfd = -1, rc;

	if (len <= 0 || len > 200000 || !(body = malloc((size_t)len))) {
		refuse(fd, -EPROTO, "a request this node does not understand");
		return;
	}
	for (long long got = 0; got < len;) {
		ssize_t n = recv(fd, body + got, (size_t)(len - got), 0);
		if (n <= 0) {
			free(body);
			return;
		}
		got += n;
	}
	j = json_loadb(body, (size_t)len, 0, NULL);
	free(body);
	from = json_string_value(json_object_get(j, "from"));
	name = json_string_value(json_object_get(j, "name"));
	xxh3 = json_string_value(json_object_get(j, "xxh3"));
	type = json_string_value(json_object_get(j, "type"));
	doc = json_string_value(json_object_get(j, "doc"));
	if (!from || !name || !xxh3 || names_check_leaf(name, NULL, 0) != 0) {
		json_decref(j);
		refuse(fd, -EPROTO, "a request this node does not understand");
		return;
	}
	snprintf(tmp, sizeof(tmp), "%sm%llu", store_shm_prefix(s->st), __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED));
	rc = transfer_fetch(from, s->secret, json_integer_value(json_object_get(j, "id")), xxh3, tmp, &tfd, &size, why,
			    sizeof(why));
	if (rc == 0) {
		close(tfd);
		snprintf(path, sizeof(path), "/dev/shm/%s", tmp);
		if (s->changing)
			s->changing(true);
		rc = load_file(s->st, &root, name, path, type, doc, (int)json_integer_value(json_object_get(j, "mode")),
			       &res, why, sizeof(why));
		made = rc == 0;
		if (rc == 0 && strcmp(res.xxh3, xxh3) != 0)
			rc = text_say(why, sizeof(why), -EIO, "its copy here has xxh3 %s, not %s", res.xxh3, xxh3);
		if (rc == 0 && (rc = path_resolve(s->st, name, &vid, &a)) == 0) {
			sa.uid = (uint32_t)json_integer_value(json_object_get(j, "uid"));
			sa.gid = (uint32_t)json_integer_value(json_object_get(j, "gid"));
			rc = store_setattr(s->st, vid, &sa, &ignored);
			if (rc)
				text_say(why, sizeof(why), rc, "cannot give it its owner: %s", strerror(-rc));
		}
		if (rc && made)
			store_unlink(s->st, STORE_VARS_ID, name); /* half a move: nothing of it stays here */
		if (s->changing)
			s->changing(false);
		shm_remove(tmp);
	}
	if (rc) {
		say(s, "transfer: a move of '%s' here failed: %s", name, why);
		refuse(fd, rc, "%s", why);
	} else {
		say(s, "transfer: '%s' moved here from %s (%llu bytes)", name, from, (unsigned long long)size);
		send_all(fd, "OK\n", 3);
	}
	json_decref(j); /* name and from are its strings */
}

static void serve(struct transfer_server *s, int fd)
{
	char line[LINE_MAX_], secret[TRANSFER_SECRET_MAX + 2], op[8], xxh3[64] = "", scope[256] = "", hdr[128];
	struct store_handle *h = NULL;
	struct store_attr a;
	long long id = 0;
	int at = 0;
	ssize_t n;
	int rc;

	timeouts(fd);
	if (read_line(fd, line) != 0)
		return;
	if (sscanf(line, "FABRIC1 %129s %7s %lld %n", secret, op, &id, &at) != 3 || strlen(secret) > TRANSFER_SECRET_MAX ||
	    (strcmp(op, "GET") != 0 && strcmp(op, "DEL") != 0 && strcmp(op, "REN") != 0 && strcmp(op, "TAKE") != 0)) {
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
	if (strcmp(op, "TAKE") == 0) { /* id is the length of the JSON that follows */
		struct timeval tv = { .tv_sec = 600 }; /* the fetch of a big variable and its load take a while */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		serve_take(s, fd, id);
		return;
	}
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

int transfer_serve_start(int listen_fd, struct store *st, const char *secret, void (*log)(const char *msg),
			 void (*changing)(bool begin), struct transfer_server **out)
{
	struct transfer_server *s;

	if (!secret || !*secret || strlen(secret) > TRANSFER_SECRET_MAX || strpbrk(secret, " \t\n"))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->listen_fd = listen_fd;
	s->st = st;
	s->log = log;
	s->changing = changing;
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

/* Receive size bytes into the new object fd (through a mapping: no copy in between) and prove them. */
static int receive(int sock, int fd, uint64_t size, const char *xxh3, char *why, size_t whylen)
{
	char hex[HASH_HEX_LEN + 1];
	char *map;
	int rc = 0;

	if (ftruncate(fd, (off_t)size) < 0)
		return text_say(why, whylen, -errno, "cannot size a replica of %llu bytes: %s",
				(unsigned long long)size, strerror(errno));
	map = size ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : NULL;
	if (map == MAP_FAILED)
		return text_say(why, whylen, -errno, "cannot map a replica: %s", strerror(errno));
	for (uint64_t got = 0; rc == 0 && got < size;) {
		ssize_t n = recv(sock, map + got, size - got, MSG_WAITALL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = text_say(why, whylen, -EIO, "the transfer stopped after %llu of %llu bytes",
				      (unsigned long long)got, (unsigned long long)size);
		else
			got += (uint64_t)n;
	}
	if (map)
		munmap(map, size);
	if (rc == 0 && (rc = hash_fd(fd, 0, size, hex)) != 0)
		text_say(why, whylen, rc, "cannot hash the replica: %s", strerror(-rc));
	if (rc == 0 && strcmp(hex, xxh3) != 0)
		rc = text_say(why, whylen, -EIO, "the bytes received have xxh3 %s, not the %s promised", hex, xxh3);
	return rc;
}

/* One request line (and a body, when not NULL) whose answer is "OK" or "ERR ..." within wait_s. */
static int ask_with(const char *addr, const char *line_in, const char *body, int wait_s, char *why, size_t whylen);

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

int transfer_give(const char *addr, const char *secret, const char *from, int64_t id, const char *name,
		  const char *xxh3, const char *type, const char *doc, uint32_t mode, uint32_t uid, uint32_t gid,
		  char *why, size_t whylen)
{
	json_t *j = json_pack("{s:s, s:I, s:s, s:s, s:s?, s:s?, s:i, s:I, s:I}", "from", from, "id", (json_int_t)id,
			      "name", name, "xxh3", xxh3, "type", type, "doc", doc, "mode", (int)mode, "uid",
			      (json_int_t)uid, "gid", (json_int_t)gid);
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

static int ask_with(const char *addr, const char *line_in, const char *body, int wait_s, char *why, size_t whylen)
{
	char line[LINE_MAX_];
	int sock, rc;

	if ((rc = dial(addr, &sock, why, whylen)) != 0)
		return rc;
	rc = send_all(sock, line_in, strlen(line_in));
	if (rc == 0 && body)
		rc = send_all(sock, body, strlen(body));
	if (rc == 0 && wait_s != TRANSFER_TIMEOUT_S) {
		struct timeval tv = { .tv_sec = wait_s };
		setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	if (rc == 0)
		rc = read_line(sock, line);
	close(sock);
	if (rc)
		return text_say(why, whylen, rc, "the node at %s did not answer: %s", addr, strerror(-rc));
	if (strcmp(line, "OK") == 0)
		return 0;
	if (strncmp(line, "ERR ", 4) == 0) {
		int e = atoi(line + 4);
		const char *msg = strchr(line + 4, ' ');
		return text_say(why, whylen, e > 0 ? -e : -EIO, "the node at %s refused: %s", addr, msg ? msg + 1 : line);
	}
	return text_say(why, whylen, -EPROTO, "the node at %s answered '%.80s'", addr, line);
}

int transfer_fetch(const char *addr, const char *secret, int64_t id, const char *want_xxh3,
		   const char *shm_name, int *fd, uint64_t *size, char *why, size_t whylen)
{
	char line[LINE_MAX_], xxh3[64], path[SHM_NAME_MAX + 1];
	unsigned long long len;
	int sock, wfd = -1, rc;

	*fd = -1;
	if ((rc = dial(addr, &sock, why, whylen)) != 0)
		return rc;
	snprintf(line, sizeof(line), "FABRIC1 %s GET %lld\n", secret, (long long)id);
	rc = send_all(sock, line, strlen(line));
	if (rc == 0)
		rc = read_line(sock, line);
	if (rc) {
		close(sock);
		return text_say(why, whylen, rc, "the node at %s did not answer: %s", addr, strerror(-rc));
	}
	if (strncmp(line, "ERR ", 4) == 0) {
		int e = atoi(line + 4);
		const char *msg = strchr(line + 4, ' ');
		close(sock);
		return text_say(why, whylen, e > 0 ? -e : -EIO, "the node at %s refused: %s", addr, msg ? msg + 1 : line);
	}
	if (sscanf(line, "OK %llu %63s", &len, xxh3) != 2 || (want_xxh3 && strcmp(xxh3, want_xxh3) != 0)) {
		close(sock);
		return text_say(why, whylen, -EIO, "the node at %s answered '%.80s' (wanted xxh3 %s)", addr, line,
				want_xxh3 ? want_xxh3 : "any");
	}
	rc = shm_create(shm_name, &wfd);
	if (rc == 0)
		rc = receive(sock, wfd, len, xxh3, why, whylen);
	else
		text_say(why, whylen, rc, "cannot make the replica %s: %s", shm_name, strerror(-rc));
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
