/* SPDX-License-Identifier: MIT */
/* cluster.c -- membership (cluster.h): the keys of this node, the renewal thread, and the table of every
 * node that the listing and the watch keep. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cluster/cluster.h"
#include "core/cluster/busy.h"
#include "core/cluster/catalog.h"
#include "core/cluster/move.h"
#include "core/cluster/transfer.h"
#include "core/event/events.h"
#include "core/os/etcd.h"
#include "core/store/store.h"
#include "core/text/text.h"

struct cluster {
	struct cluster_config cfg;
	char name[CLUSTER_NAME_MAX + 1], node[NAMES_NODE_MAX + 1], addr[CLUSTER_ADDR_MAX + 1];
	char prefix[160];      /* /fabric/CLUSTER/nodes/ */
	int listen_fd;         /* bound and listening at addr, for the transfers between nodes to come */
	struct etcd *etcd;     /* the renewal thread's and cluster_join's */
	struct etcd_watch *watch;
	char lease[ETCD_LEASE_ID_MAX];
	int64_t up_ns;
	uint64_t said_capacity, said_free; /* what the live key says now */

	pthread_mutex_t lock; /* the table, relist */
	struct cluster_node *v;
	size_t n, cap;
	bool relist; /* the watch ended (compacted): the renewal thread lists again and watches anew */

	struct catalog *names;
	struct move_resumer *resumer;
	struct busy *busy; /* the moves under way in this process */
	struct transfer_server *server;
	char secret[TRANSFER_SECRET_MAX + 1]; /* "" without one */
	pthread_t renewer;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stop, renewing;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define logf_(c, ...) text_log((c)->cfg.log, __VA_ARGS__)

static void key_of(const struct cluster *c, const char *node, const char *which, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s/%s", c->prefix, node, which);
}

/* The JSON of this node's live key, malloc'd. */
static char *live_json(struct cluster *c)
{
	uint64_t cap = 0, fr = 0;
	json_t *j;
	char *s;

	if (c->cfg.space)
		c->cfg.space(c->cfg.space_arg, &cap, &fr);
	c->said_capacity = cap;
	c->said_free = fr;
	j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "node", c->node, "addr", c->addr, "capacity",
		      (json_int_t)cap, "free", (json_int_t)fr, "pid", (json_int_t)getpid(), "up_ns",
		      (json_int_t)c->up_ns);
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

static char *member_json(struct cluster *c)
{
	json_t *j = json_pack("{s:s, s:s, s:I}", "node", c->node, "addr", c->addr, "joined_ns",
			      (json_int_t)now_ns());
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

/* ---- the table ---------------------------------------------------------------------------------- */

/* The entry for node, made (down, no address yet) when missing.  Lock held; NULL on ENOMEM. */
static struct cluster_node *entry(struct cluster *c, const char *node, bool *made)
{
	size_t i = 0;

	*made = false;
	while (i < c->n && strcmp(c->v[i].name, node) < 0)
		i++;
	if (i < c->n && strcmp(c->v[i].name, node) == 0)
		return &c->v[i];
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct cluster_node *v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		c->v = v;
		c->cap = cap;
	}
	memmove(&c->v[i + 1], &c->v[i], (c->n - i) * sizeof(*c->v));
	c->n++;
	memset(&c->v[i], 0, sizeof(c->v[i]));
	snprintf(c->v[i].name, sizeof(c->v[i].name), "%s", node);
	c->v[i].self = strcmp(node, c->node) == 0;
	c->v[i].since_ns = now_ns();
	*made = true;
	return &c->v[i];
}

static uint64_t num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

/* A key under the prefix changed: "NODE/member" or "NODE/live".  Returns the node whose up-state or
 * presence changed, into changed (or "" when none did). */
static void apply(struct cluster *c, bool put, const char *key, const void *val, size_t len, char *changed,
		  size_t clen)
{
	char node[NAMES_NODE_MAX + 1];
	const char *rest = key + strlen(c->prefix), *slash = strchr(rest, '/');
	struct cluster_node *nd;
	json_t *j = NULL;
	bool made, live, up = false;

	changed[0] = '\0';
	if (strncmp(key, c->prefix, strlen(c->prefix)) != 0 || !slash || (size_t)(slash - rest) > NAMES_NODE_MAX)
		return;
	snprintf(node, sizeof(node), "%.*s", (int)(slash - rest), rest);
	if (names_check_node(node) != 0)
		return;
	live = strcmp(slash + 1, "live") == 0;
	if (!live && strcmp(slash + 1, "member") != 0)
		return;
	if (put && !(j = json_loadb(val, len, 0, NULL)))
		return; /* somebody else's key: not ours to read */
	pthread_mutex_lock(&c->lock);
	nd = entry(c, node, &made);
	if (nd) {
		bool was = nd->up;
		json_t *a = j ? json_object_get(j, "addr") : NULL;
		if (json_is_string(a) && (live || !nd->up)) /* a node that is up is where its live key says */
			snprintf(nd->addr, sizeof(nd->addr), "%s", json_string_value(a));
		if (live && put) {
			nd->up = true;
			nd->capacity = num(j, "capacity");
			nd->free = num(j, "free");
			if (!was)
				nd->since_ns = num(j, "up_ns") ? (int64_t)num(j, "up_ns") : now_ns();
		} else if (live) {
			nd->up = false;
			nd->since_ns = now_ns();
		}
		if (made || was != nd->up)
			snprintf(changed, clen, "%s", node);
		up = nd->up;
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(j);
	if (changed[0]) {
		char path[NAMES_NODE_MAX + 8];
		snprintf(path, sizeof(path), "nodes/%s", node);
		struct event_field f = { "state", up ? "up" : "down", false };
		events_post(store_events(c->cfg.st), EV_NODE, path, NULL, &f, 1);
	}
}

static void tell(struct cluster *c, const char *node)
{
	if (node[0]) /* a node up again may end a move it had left open (the resumer comes after the watch) */
		move_resumer_poke(__atomic_load_n(&c->resumer, __ATOMIC_ACQUIRE));
	if (node[0] && c->cfg.changed)
		c->cfg.changed(c->cfg.changed_arg, node);
}

static void on_event(void *arg, int kind, const char *key, const void *val, size_t len, int64_t rev)
{
	struct cluster *c = arg;
	char changed[NAMES_NODE_MAX + 1];

	(void)rev;
	if (kind == ETCD_COMPACTED) {
		pthread_mutex_lock(&c->lock);
		c->relist = true;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	apply(c, kind == ETCD_PUT, key, val, len, changed, sizeof(changed));
	tell(c, changed);
}

static int on_listed(void *arg, const char *key, const void *val, size_t len, int64_t rev)
{
	struct cluster *c = arg;
	char changed[NAMES_NODE_MAX + 1];

	(void)rev;
	apply(c, true, key, val, len, changed, sizeof(changed));
	tell(c, changed);
	return 0;
}

/* List the prefix, then watch it from the listing's revision on.  Nodes the listing no longer has live
 * keys for are marked down first (a relist after a compaction may have missed their deletes). */
static int follow(struct cluster *c, char *why, size_t whylen)
{
	int64_t rev = 0;
	int rc;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++)
		c->v[i].up = false;
	pthread_mutex_unlock(&c->lock);
	rc = etcd_range(c->etcd, c->prefix, on_listed, c, &rev);
	if (rc)
		return text_say(why, whylen, rc, "cannot list the nodes of cluster %s: %s", c->name, etcd_why());
	rc = etcd_watch_start(c->cfg.etcd, c->prefix, rev + 1, on_event, c, &c->watch, why, whylen);
	return rc;
}

/* ---- this node's keys ---------------------------------------------------------------------------- */

/* The live key, under c->lease: create it, waiting for a previous holder's lease to run out. */
static int go_live(struct cluster *c, char *why, size_t whylen)
{
	char key[256], *js = live_json(c), *old = NULL;
	int64_t deadline = now_ns() + (int64_t)(CLUSTER_TTL + 2) * 1000000000;
	size_t oldlen = 0;
	int rc;

	if (!js)
		return text_say(why, whylen, -ENOMEM, "out of memory");
	key_of(c, c->node, "live", key, sizeof(key));
	while ((rc = etcd_create(c->etcd, key, js, strlen(js), c->lease, NULL)) == -EEXIST && now_ns() < deadline) {
		usleep(200 * 1000); /* a node killed and mounted again finds its own key until its lease ends */
		etcd_lease_keepalive(c->etcd, c->lease, NULL); /* ours must outlive that wait (its renewer starts later) */
	}
	free(js);
	if (rc == -EEXIST) {
		json_t *j = NULL;
		if (etcd_get(c->etcd, key, &old, &oldlen, NULL) == 0)
			j = json_loadb(old, oldlen, 0, NULL);
		json_t *a = j ? json_object_get(j, "addr") : NULL;
		text_say(why, whylen, rc, "node %s is already up in cluster %s (at %s, pid %llu): a node name may be "
			 "up once in a cluster", c->node, c->name, json_is_string(a) ? json_string_value(a) : "?",
			 (unsigned long long)(j ? num(j, "pid") : 0));
		json_decref(j);
		free(old);
		return rc;
	}
	if (rc)
		return text_say(why, whylen, rc, "cannot register node %s in cluster %s: %s", c->node, c->name,
				etcd_why());
	return 0;
}

static int new_lease(struct cluster *c, char *why, size_t whylen)
{
	int rc = etcd_lease_grant(c->etcd, CLUSTER_TTL, c->lease);

	if (rc)
		return text_say(why, whylen, rc, "cannot reach etcd at %s for a lease: %s", c->cfg.etcd, etcd_why());
	return 0;
}

/* Wait up to ms for stop; true when stopping. */
static bool nap(struct cluster *c, int ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->stop_lock);
	while (!c->stop && pthread_cond_timedwait(&c->stop_cond, &c->stop_lock, &ts) == 0)
		;
	stop = c->stop;
	pthread_mutex_unlock(&c->stop_lock);
	return stop;
}

/* One round of the renewal thread: the lease renewed (or, expired, a new one and the live key again), the
 * free bytes said when they changed, the watch started anew after a compaction. */
static void renew_once(struct cluster *c)
{
	char why[512], key[256];
	uint64_t cap = 0, fr = 0;
	bool relist;
	int rc = etcd_lease_keepalive(c->etcd, c->lease, NULL);

	if (rc == -ENOENT) {
		logf_(c, "cluster %s: the lease of node %s had expired (the daemon was stopped or cut off from etcd "
		      "for more than %d s); registering again", c->name, c->node, CLUSTER_TTL);
		if (new_lease(c, why, sizeof(why)) != 0 || go_live(c, why, sizeof(why)) != 0)
			logf_(c, "cluster %s: %s", c->name, why);
	} else if (rc) {
		logf_(c, "cluster %s: renewing the lease of node %s failed (%s); trying again", c->name, c->node,
		      etcd_why());
	}
	if (c->cfg.space)
		c->cfg.space(c->cfg.space_arg, &cap, &fr);
	if (rc == 0 && (cap != c->said_capacity || fr != c->said_free)) {
		char *js = live_json(c);
		key_of(c, c->node, "live", key, sizeof(key));
		if (js && etcd_put(c->etcd, key, js, strlen(js), c->lease, NULL) != 0)
			logf_(c, "cluster %s: cannot say node %s's free space: %s", c->name, c->node, etcd_why());
		free(js);
	}
	pthread_mutex_lock(&c->lock);
	relist = c->relist;
	c->relist = false;
	pthread_mutex_unlock(&c->lock);
	if (relist) {
		etcd_watch_stop(c->watch);
		c->watch = NULL;
		if (follow(c, why, sizeof(why)) != 0)
			logf_(c, "cluster %s: %s", c->name, why);
	}
}

static void *renewer(void *arg)
{
	struct cluster *c = arg;

	while (!nap(c, CLUSTER_TTL * 1000 / 3))
		renew_once(c);
	return NULL;
}

/* ---- the address ---------------------------------------------------------------------------------- */

/* Bind and listen at spec ("HOST:PORT", numeric; port 0 takes a free one), so that two nodes cannot
 * claim one address; actual gets the address bound ("127.0.0.1:41234"). */
static int listen_on(const char *spec, int *fd, char *actual, size_t alen, char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	char host[CLUSTER_ADDR_MAX + 1], ip[INET6_ADDRSTRLEN];
	const char *port;
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	struct addrinfo *ai = NULL;
	int one = 1, rc;

	if (text_hostport(spec, host, sizeof(host), &port) != 0)
		return text_say(why, whylen, -EINVAL, "--listen '%s': give ADDR:PORT (a numeric address)", spec);
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc)
		return text_say(why, whylen, -EINVAL, "--listen '%s': %s", spec, gai_strerror(rc));
	*fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rc = *fd < 0 ? -errno : 0;
	if (rc == 0)
		setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (rc == 0 && (bind(*fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(*fd, 64) < 0 ||
			getsockname(*fd, (struct sockaddr *)&sa, &salen) < 0))
		rc = -errno;
	freeaddrinfo(ai);
	if (rc) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return text_say(why, whylen, rc, "--listen '%s': %s", spec, strerror(-rc));
	}
	if (sa.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(actual, alen, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(actual, alen, "%s:%u", ip, ntohs(s4->sin_port));
	}
	return 0;
}

/* ---- the calls ----------------------------------------------------------------------------------- */

int cluster_join(const struct cluster_config *cfg, struct cluster **out, char *why, size_t whylen)
{
	struct cluster *c;
	char key[256], *js;
	int rc;

	if (names_check_node(cfg->name) != 0)
		return text_say(why, whylen, -EINVAL, "cluster name '%s': 1-64 of [A-Za-z0-9_-]", cfg->name);
	if (!cfg->addr || !*cfg->addr || strlen(cfg->addr) > CLUSTER_ADDR_MAX)
		return text_say(why, whylen, -EINVAL, "node address '%s': give ADDR:PORT", cfg->addr ? cfg->addr : "");
	c = calloc(1, sizeof(*c));
	if (!c)
		return text_say(why, whylen, -ENOMEM, "out of memory");
	c->cfg = *cfg;
	snprintf(c->name, sizeof(c->name), "%s", cfg->name);
	snprintf(c->node, sizeof(c->node), "%s", cfg->node);
	snprintf(c->prefix, sizeof(c->prefix), "/fabric/%s/nodes/", c->name);
	c->up_ns = now_ns();
	c->listen_fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->stop_lock, NULL);
	pthread_cond_init(&c->stop_cond, NULL);
	rc = busy_new(&c->busy);
	if (rc == 0)
		rc = listen_on(cfg->addr, &c->listen_fd, c->addr, sizeof(c->addr), why, whylen);
	if (rc == 0)
		rc = etcd_open(cfg->etcd, &c->etcd, why, whylen);
	if (rc == 0)
		rc = new_lease(c, why, whylen);
	if (rc == 0)
		rc = go_live(c, why, whylen);
	if (rc == 0) { /* only once the name is ours: a refused twin must not leave its address behind */
		key_of(c, c->node, "member", key, sizeof(key));
		js = member_json(c);
		rc = js ? etcd_put(c->etcd, key, js, strlen(js), NULL, NULL) : -ENOMEM;
		free(js);
		if (rc)
			text_say(why, whylen, rc, "cannot write the member key of node %s: %s", c->node, etcd_why());
	}
	if (rc == 0)
		rc = follow(c, why, whylen);
	if (rc == 0) { /* at once: the lease is CLUSTER_TTL long */
		rc = -pthread_create(&c->renewer, NULL, renewer, c);
		if (rc)
			text_say(why, whylen, rc, "cannot start the lease's renewal: %s", strerror(-rc));
		c->renewing = rc == 0;
	}
	if (rc == 0 && cfg->st && cfg->secret) {
		snprintf(c->secret, sizeof(c->secret), "%s", cfg->secret);
		struct transfer_hooks th = { .log = cfg->log, .changing = cfg->changing, .move = move_asked,
					     .done = move_done, .moving = move_moving, .arg = c, .busy = c->busy };
		rc = transfer_serve_start(c->listen_fd, cfg->st, cfg->secret, &th, &c->server);
		if (rc)
			text_say(why, whylen, rc, "cannot serve at %s: %s", c->addr,
				 rc == -EINVAL ? "the secret must be 1-128 bytes without blanks" : strerror(-rc));
	}
	if (rc == 0 && cfg->st) {
		struct catalog_config nc = { .etcd = cfg->etcd, .cluster = c->name, .node = c->node, .st = cfg->st,
					     .log = cfg->log, .changed = cfg->names_changed,
					     .changed_arg = cfg->names_arg, .changing = cfg->changing };
		rc = catalog_start(&nc, &c->names, why, whylen);
	}
	if (rc == 0 && cfg->st && cfg->secret) {
		struct move_resumer *r = NULL;
		if ((rc = move_resumer_start(c, cfg->st, &r)) != 0)
			text_say(why, whylen, rc, "cannot start the end of open moves: %s", strerror(-rc));
		__atomic_store_n(&c->resumer, r, __ATOMIC_RELEASE);
	}
	if (rc) {
		cluster_leave(c);
		return rc;
	}
	*out = c;
	return 0;
}

void cluster_leave(struct cluster *c)
{
	if (!c)
		return;
	if (c->renewing) {
		pthread_mutex_lock(&c->stop_lock);
		c->stop = true;
		pthread_cond_signal(&c->stop_cond);
		pthread_mutex_unlock(&c->stop_lock);
		pthread_join(c->renewer, NULL);
	}
	etcd_watch_stop(c->watch); /* first: its events poke the resumer */
	c->watch = NULL;
	move_resumer_stop(c->resumer);
	catalog_stop(c->names); /* what is queued goes out before the lease ends */
	transfer_serve_stop(c->server);
	if (c->etcd && c->lease[0])
		etcd_lease_revoke(c->etcd, c->lease); /* the live key goes now, not a TTL later */
	etcd_close(c->etcd);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->stop_lock);
	pthread_cond_destroy(&c->stop_cond);
	busy_free(c->busy);
	free(c->v);
	free(c);
}

const char *cluster_name(const struct cluster *c)
{
	return c->name;
}

const char *cluster_etcd_urls(const struct cluster *c)
{
	return c->cfg.etcd;
}

int cluster_handle(struct cluster *c, const char *verb, transfer_call_fn fn, void *arg)
{
	return c->server ? transfer_handle(c->server, verb, fn, arg) : -ENOTCONN;
}

void cluster_unhandle(struct cluster *c, void *arg)
{
	transfer_unhandle(c->server, arg);
}

void cluster_changing(struct cluster *c, bool begin)
{
	if (c && c->cfg.changing)
		c->cfg.changing(begin);
}

struct busy *cluster_busy(struct cluster *c)
{
	return c ? c->busy : NULL;
}

struct store *cluster_store(struct cluster *c)
{
	return c ? c->cfg.st : NULL;
}

void cluster_say(struct cluster *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	text_log(c->cfg.log, "%s", msg);
}

const char *cluster_secret(const struct cluster *c)
{
	return c && c->secret[0] ? c->secret : NULL;
}

struct remote_index *cluster_remote(struct cluster *c)
{
	return c ? catalog_remote(c->names) : NULL;
}

const char *cluster_addr(const struct cluster *c)
{
	return c->addr;
}

int cluster_nodes(struct cluster *c, struct cluster_node **v, size_t *n)
{
	pthread_mutex_lock(&c->lock);
	*n = c->n;
	*v = malloc((c->n ? c->n : 1) * sizeof(**v));
	if (*v && c->n)
		memcpy(*v, c->v, c->n * sizeof(**v));
	pthread_mutex_unlock(&c->lock);
	return *v ? 0 : -ENOMEM;
}

int cluster_node(struct cluster *c, const char *name, struct cluster_node *out)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n && rc; i++)
		if (strcmp(c->v[i].name, name) == 0) {
			*out = c->v[i];
			rc = 0;
		}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int cluster_node_text(const struct cluster_node *nd, struct text *out)
{
	return text_printf(out, "node\t%s\nstate\t%s\naddr\t%s\ncapacity\t%llu\nfree\t%llu\nsince_ns\t%lld\n", nd->name,
			   nd->up ? "up" : "down", nd->addr[0] ? nd->addr : "-", (unsigned long long)nd->capacity,
			   (unsigned long long)nd->free, (long long)nd->since_ns);
}
