/* SPDX-License-Identifier: MIT */
/* etcd_watch.c -- a watch of a prefix on the gateway's streaming /v3/watch, in a thread of its own.
 *
 * The answer to one POST of {"create_request": ...} is a stream of JSON objects that never ends while the
 * watch lives.  curl hands it over in pieces that need not end at an object's end, so the bytes are
 * gathered here and each object is cut out when its closing brace comes (a small scanner that knows
 * strings), then parsed whole by jansson.  The thread drives its handle through a curl multi handle so
 * that etcd_watch_stop can wake it (curl_multi_wakeup) however long etcd stays silent. */
#include "core/os/etcd.h"
#include "core/os/etcd_wire.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WATCH_BACKOFF_MS 100 /* first pause before a reconnect, doubled up to WATCH_BACKOFF_MAX_MS */
#define WATCH_BACKOFF_MAX_MS 1000

/* Where the scanner is in the stream's bytes. */
struct scan {
	struct etcd_buf buf;
	size_t at;    /* bytes of buf scanned */
	size_t start; /* where the object being scanned starts */
	int depth;    /* 0: between objects */
	bool in_str, esc;
};

struct etcd_watch {
	pthread_t thread;
	CURLM *multi;
	CURL *curl;
	struct curl_slist *headers;
	char curl_err[CURL_ERROR_SIZE];
	struct etcd_urls urls;
	char *prefix;
	etcd_event_fn fn;
	void *arg;
	atomic_bool stop;
	int64_t next_rev; /* where a reconnect starts: after the last event delivered */
	bool created;     /* etcd accepted the watch on this stream */
	bool over;        /* compacted: the watch ends */
	int fail;         /* why the stream was given up (an errno) */
	struct scan scan;
	/* etcd_watch_start waits for the first stream's answer */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool answered;
	int start_rc;
	char start_why[256];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Tell etcd_watch_start how the first stream went (once). */
static void answer_start(struct etcd_watch *w, int rc)
{
	pthread_mutex_lock(&w->lock);
	if (!w->answered) {
		w->answered = true;
		w->start_rc = rc;
		snprintf(w->start_why, sizeof(w->start_why), "%s", rc ? etcd_why() : "");
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
}

/* ---- one message of the stream ---- */

static int deliver(struct etcd_watch *w, json_t *ev, int64_t from)
{
	json_t *kv = json_object_get(ev, "kv");
	const char *type = json_string_value(json_object_get(ev, "type"));
	int kind = type && strcmp(type, "DELETE") == 0 ? ETCD_DELETE : ETCD_PUT; /* PUT, the zero, is left out */
	unsigned char *key, *val = NULL;
	size_t klen, vlen = 0;
	int64_t rev;
	int rc;

	if (!kv)
		return etcd_say(-EPROTO, "etcd: a watch event without kv");
	if ((rc = etcd_i64(kv, "mod_revision", &rev)) || (rc = etcd_unb64(kv, "key", &key, &klen)))
		return rc;
	if (kind == ETCD_PUT && (rc = etcd_unb64(kv, "value", &val, &vlen))) {
		free(key);
		return rc;
	}
	if (rev < from) { /* already delivered before a reconnect */
		free(key);
		free(val);
		return 0;
	}
	w->fn(w->arg, kind, (const char *)key, val, vlen, rev);
	w->next_rev = rev + 1;
	free(key);
	free(val);
	return 0;
}

static int on_canceled(struct etcd_watch *w, json_t *r)
{
	int64_t compact = 0;
	const char *reason = json_string_value(json_object_get(r, "cancel_reason"));
	int rc = etcd_i64(r, "compact_revision", &compact);

	if (rc)
		return rc;
	if (compact > 0) {
		w->over = true;
		w->fn(w->arg, ETCD_COMPACTED, NULL, NULL, 0, compact);
		return etcd_say(-ESTALE, "etcd compacted the watch's revision %lld away (now %lld)",
				(long long)w->next_rev, (long long)compact);
	}
	return etcd_say(-ECANCELED, "etcd canceled the watch: %s", reason ? reason : "no reason given");
}

/* A {"result": {...}}: created, canceled, events, or (none of them) a progress notification. */
static int on_message(struct etcd_watch *w, json_t *m)
{
	json_t *r = json_object_get(m, "result"), *events, *ev;
	int64_t hrev = 0;
	size_t i;
	int rc;

	if ((rc = etcd_answer_error(m)) != 0)
		return rc;
	if (!json_is_object(r))
		return etcd_say(-EPROTO, "etcd: a watch answer without a result");
	if ((rc = etcd_i64(json_object_get(r, "header"), "revision", &hrev)))
		return rc;
	if (json_is_true(json_object_get(r, "created"))) {
		w->created = true;
		if (w->next_rev == 0) /* "from now": a reconnect must not skip what came after now */
			w->next_rev = hrev + 1;
		answer_start(w, 0);
	}
	if (json_is_true(json_object_get(r, "canceled")))
		return on_canceled(w, r);
	events = json_object_get(r, "events");
	/* a txn's events share one revision and come in one answer: only revisions before this answer's first
	 * are the ones a reconnect may send again */
	int64_t from = w->next_rev;
	json_array_foreach(events, i, ev) {
		if ((rc = deliver(w, ev, from)) != 0 || atomic_load(&w->stop))
			return rc;
	}
	/* a progress notification: nothing up to hrev is left to come, so a reconnect may start after it */
	if (!json_array_size(events) && !json_is_true(json_object_get(r, "created")) && hrev >= w->next_rev)
		w->next_rev = hrev + 1;
	return 0;
}

/* ---- cutting the stream into objects ---- */

/* Scan the bytes not scanned yet; parse and handle each object that ends in them. */
static int scan_more(struct etcd_watch *w)
{
	struct scan *s = &w->scan;

	for (; s->at < s->buf.len; s->at++) {
		char c = s->buf.p[s->at];

		if (s->in_str) {
			if (s->esc)
				s->esc = false;
			else if (c == '\\')
				s->esc = true;
			else if (c == '"')
				s->in_str = false;
			continue;
		}
		if (s->depth == 0 && (c == ' ' || c == '\n' || c == '\r' || c == '\t'))
			continue;
		if (s->depth == 0 && c != '{')
			return etcd_say(-EPROTO, "etcd: the watch stream has '%c' between objects", c);
		if (c == '"') {
			s->in_str = true;
		} else if (c == '{' || c == '[') {
			if (s->depth++ == 0)
				s->start = s->at;
		} else if ((c == '}' || c == ']') && --s->depth == 0) {
			json_error_t err;
			json_t *m = json_loadb(s->buf.p + s->start, s->at + 1 - s->start, 0, &err);
			int rc = m ? on_message(w, m) : etcd_say(-EPROTO, "etcd: a watch answer: %s", err.text);

			json_decref(m);
			if (rc)
				return rc;
		}
	}
	if (s->depth == 0) { /* everything scanned was whole objects: forget it */
		s->buf.len = s->at = 0;
	} else if (s->start > 0) { /* keep only the object still coming */
		memmove(s->buf.p, s->buf.p + s->start, s->buf.len - s->start);
		s->buf.len -= s->start;
		s->at -= s->start;
		s->start = 0;
	}
	return 0;
}

static size_t on_bytes(char *data, size_t size, size_t n, void *arg)
{
	struct etcd_watch *w = arg;
	int rc;

	if (atomic_load(&w->stop) || etcd_buf_write(data, size, n, &w->scan.buf) != size * n)
		return 0; /* ends the transfer */
	if ((rc = scan_more(w)) != 0) {
		w->fail = rc;
		return 0;
	}
	return size * n;
}

/* ---- the thread ---- */

static char *create_body(struct etcd_watch *w)
{
	json_t *cr = json_object(), *req;
	char *text = NULL;

	/* progress notifications move next_rev on while nothing happens under the prefix, so that a reconnect
	 * after a quiet hour does not ask for a compacted revision */
	if (!cr || etcd_prefix_range(cr, w->prefix) ||
	    (w->next_rev && json_object_set_new(cr, "start_revision", etcd_i64_json(w->next_rev))) ||
	    json_object_set_new(cr, "progress_notify", json_true())) {
		json_decref(cr);
		return NULL;
	}
	if ((req = json_pack("{s:o}", "create_request", cr)))
		text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return text;
}

/* The result of the finished transfer on the multi handle. */
static CURLcode transfer_result(struct etcd_watch *w)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(w->multi, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == w->curl)
			return msg->data.result;
	return CURLE_OK;
}

/* Follow one stream on one endpoint until it ends, breaks or the watch stops. */
static int stream(struct etcd_watch *w, const char *base)
{
	char url[512], *body = create_body(w);
	int64_t deadline = now_ms() + ETCD_TIMEOUT_MS;
	int running = 1, rc = 0;
	CURLcode c;

	if (!body)
		return etcd_say(-ENOMEM, "no memory for a watch");
	snprintf(url, sizeof(url), "%s/v3/watch", base);
	w->created = false;
	w->fail = 0;
	w->scan = (struct scan){ .buf = { w->scan.buf.p, 0, w->scan.buf.cap } };
	curl_easy_setopt(w->curl, CURLOPT_URL, url);
	curl_easy_setopt(w->curl, CURLOPT_COPYPOSTFIELDS, body);
	free(body);
	w->curl_err[0] = '\0';
	curl_multi_add_handle(w->multi, w->curl);
	while (running && !atomic_load(&w->stop)) {
		if (curl_multi_perform(w->multi, &running) != CURLM_OK)
			break;
		if (!w->created && now_ms() > deadline) {
			rc = etcd_say(-ETIMEDOUT, "%s: no answer to the watch in %d ms", url, ETCD_TIMEOUT_MS);
			break;
		}
		if (running)
			curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
	}
	c = running ? CURLE_OK : transfer_result(w);
	curl_multi_remove_handle(w->multi, w->curl);
	if (rc || atomic_load(&w->stop))
		return rc;
	if (w->fail)
		return w->fail;
	if (c != CURLE_OK)
		return etcd_say(etcd_curl_errno(c), "%s: %s", url, w->curl_err[0] ? w->curl_err : curl_easy_strerror(c));
	/* a whole error answer (the watch refused at once) was handled as a message; anything else: */
	return etcd_say(-ECONNRESET, "%s: the watch stream ended", url);
}

/* Wait ms, or less when the watch is stopped. */
static void pause_ms(struct etcd_watch *w, int ms)
{
	int64_t until = now_ms() + ms;

	while (!atomic_load(&w->stop) && now_ms() < until)
		curl_multi_poll(w->multi, NULL, 0, (int)(until - now_ms()), NULL);
}

static void *watch_main(void *arg)
{
	struct etcd_watch *w = arg;
	bool ever = false;
	int backoff = WATCH_BACKOFF_MS, rc = -ECONNREFUSED;

	for (size_t at = 0, tries = 0; !atomic_load(&w->stop) && !w->over; at = (at + 1) % w->urls.n) {
		rc = stream(w, w->urls.url[at]);
		ever |= w->created;
		if (w->created)
			backoff = WATCH_BACKOFF_MS; /* it worked for a while: reconnect soon */
		if (atomic_load(&w->stop) || w->over)
			break;
		if (!ever && ++tries == w->urls.n)
			break; /* no endpoint took the watch at all: etcd_watch_start says so */
		/* the next endpoint; a full round without success pauses first */
		if (ever && (at + 1) % w->urls.n == 0) {
			pause_ms(w, backoff);
			backoff = backoff * 2 > WATCH_BACKOFF_MAX_MS ? WATCH_BACKOFF_MAX_MS : backoff * 2;
		}
	}
	answer_start(w, ever ? 0 : rc);
	return NULL;
}

/* ---- start and stop ---- */

static void watch_free(struct etcd_watch *w)
{
	if (w->multi)
		curl_multi_cleanup(w->multi);
	curl_easy_cleanup(w->curl);
	curl_slist_free_all(w->headers);
	etcd_urls_free(&w->urls);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->scan.buf.p);
	free(w->prefix);
	free(w);
}

static int watch_new(const char *urls, const char *prefix, struct etcd_watch **out, char *why, size_t whylen)
{
	struct etcd_watch *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if ((rc = etcd_urls_parse(urls, &w->urls, why, whylen))) {
		watch_free(w);
		return rc;
	}
	w->prefix = strdup(prefix ? prefix : "");
	w->curl = etcd_curl_new(&w->headers, w->curl_err);
	w->multi = curl_multi_init();
	if (!w->prefix || !w->curl || !w->multi) {
		snprintf(why, whylen, "no memory for a watch");
		watch_free(w);
		return -ENOMEM;
	}
	curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, on_bytes);
	curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, w);
	*out = w;
	return 0;
}

int etcd_watch_start(const char *urls, const char *prefix, int64_t start_revision, etcd_event_fn fn,
		     void *arg, struct etcd_watch **out, char *why, size_t whylen)
{
	struct etcd_watch *w;
	int rc;

	*out = NULL;
	if (start_revision < 0 || !fn) {
		snprintf(why, whylen, "a watch from revision %lld%s", (long long)start_revision, fn ? "" : " without fn");
		return -EINVAL;
	}
	if ((rc = watch_new(urls, prefix, &w, why, whylen)))
		return rc;
	w->fn = fn;
	w->arg = arg;
	w->next_rev = start_revision;
	if ((rc = -pthread_create(&w->thread, NULL, watch_main, w))) {
		snprintf(why, whylen, "no thread for a watch: %s", strerror(-rc));
		watch_free(w);
		return rc;
	}
	/* each endpoint has ETCD_TIMEOUT_MS to answer: the thread always answers */
	pthread_mutex_lock(&w->lock);
	while (!w->answered)
		pthread_cond_wait(&w->cond, &w->lock);
	rc = w->start_rc;
	pthread_mutex_unlock(&w->lock);
	if (rc) {
		snprintf(why, whylen, "%s", w->start_why);
		etcd_say(rc, "%s", w->start_why);
		etcd_watch_stop(w);
		return rc;
	}
	*out = w;
	return 0;
}

void etcd_watch_stop(struct etcd_watch *w)
{
	if (!w)
		return;
	atomic_store(&w->stop, true);
	curl_multi_wakeup(w->multi);
	pthread_join(w->thread, NULL);
	watch_free(w);
}
