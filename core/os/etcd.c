/* SPDX-License-Identifier: MIT */
/* etcd.c -- the client's connection to etcd's JSON gateway: endpoints, failover, answers and their errors,
 * and the wire's base64 and 64-bit numbers.  The calls themselves are in etcd_kv.c, the watch in
 * etcd_watch.c. */
#include "core/os/etcd.h"
#include "core/os/etcd_wire.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char why_buf[256];

int etcd_say(int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
	va_end(ap);
	return rc;
}

const char *etcd_why(void)
{
	return why_buf;
}

/* ---- endpoints ---- */

void etcd_urls_free(struct etcd_urls *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->url[i]);
	u->n = 0;
}

static int urls_add(struct etcd_urls *u, const char *s, size_t len, char *why, size_t whylen)
{
	while (len && (s[len - 1] == '/' || s[len - 1] == ' '))
		len--;
	if (!((len > 7 && strncmp(s, "http://", 7) == 0) || (len > 8 && strncmp(s, "https://", 8) == 0))) {
		snprintf(why, whylen, "endpoint '%.*s' is not http://host:port", (int)len, s);
		return -EINVAL;
	}
	if (u->n == ETCD_URLS_MAX) {
		snprintf(why, whylen, "more than %d endpoints", ETCD_URLS_MAX);
		return -EINVAL;
	}
	u->url[u->n] = strndup(s, len);
	if (!u->url[u->n])
		return -ENOMEM;
	u->n++;
	return 0;
}

int etcd_urls_parse(const char *urls, struct etcd_urls *out, char *why, size_t whylen)
{
	const char *s = urls ? urls : "";
	int rc = 0;

	out->n = 0;
	while (*s && rc == 0) {
		size_t len = strcspn(s, ",");

		while (len && *s == ' ')
			s++, len--;
		if (len)
			rc = urls_add(out, s, len, why, whylen);
		s += len;
		s += *s == ',';
	}
	if (rc == 0 && out->n == 0) {
		snprintf(why, whylen, "no etcd endpoint in '%s'", urls ? urls : "(null)");
		rc = -EINVAL;
	}
	if (rc)
		etcd_urls_free(out);
	return rc;
}

/* ---- curl ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

CURL *etcd_curl_new(struct curl_slist **headers, char *errbuf)
{
	struct curl_slist *h = NULL, *t;
	CURL *c;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK || !(c = curl_easy_init()))
		return NULL;
	/* the gateway wants JSON; "Expect:" off, or curl waits for a 100 Continue before bodies over 1 KiB */
	if (!(t = curl_slist_append(h, "Content-Type: application/json")) || !(h = t) ||
	    !(t = curl_slist_append(h, "Expect:")) || !(h = t)) {
		curl_slist_free_all(h);
		curl_easy_cleanup(c);
		return NULL;
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM for timeouts: we live among threads */
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)ETCD_CONNECT_MS);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L); /* a watch otherwise never learns its peer vanished */
	curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 10L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 5L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, etcd_buf_write);
	*headers = h;
	return c;
}

size_t etcd_buf_write(char *data, size_t size, size_t n, void *arg)
{
	struct etcd_buf *b = arg;
	size_t add = size * n;

	if (add > ETCD_ANSWER_MAX - b->len)
		return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
	if (b->len + add + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + add + 1)
			cap *= 2;
		if (!(p = realloc(b->p, cap)))
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

/* ---- the client ---- */

int etcd_open(const char *urls, struct etcd **out, char *why, size_t whylen)
{
	struct etcd *e = calloc(1, sizeof(*e));
	int rc;

	*out = NULL;
	if (!e)
		return -ENOMEM;
	rc = etcd_urls_parse(urls, &e->urls, why, whylen);
	if (rc) {
		free(e);
		return rc;
	}
	e->curl = etcd_curl_new(&e->headers, e->curl_err);
	if (!e->curl) {
		snprintf(why, whylen, "libcurl could not make a handle");
		etcd_urls_free(&e->urls);
		free(e);
		return -ENOMEM;
	}
	curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, (long)ETCD_TIMEOUT_MS);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &e->answer);
	pthread_mutex_init(&e->lock, NULL);
	e->page = ETCD_PAGE;
	*out = e;
	return 0;
}

void etcd_close(struct etcd *e)
{
	if (!e)
		return;
	curl_easy_cleanup(e->curl);
	curl_slist_free_all(e->headers);
	etcd_urls_free(&e->urls);
	pthread_mutex_destroy(&e->lock);
	free(e->answer.p);
	free(e);
}

void etcd_set_page(struct etcd *e, unsigned keys)
{
	pthread_mutex_lock(&e->lock);
	e->page = keys ? keys : ETCD_PAGE;
	pthread_mutex_unlock(&e->lock);
}

int etcd_curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTDOWN;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_WRITE_ERROR:
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	default:
		return -ECONNRESET;
	}
}

/* One POST to one endpoint.  *sent: some of the request went out (so it may have been applied). */
static int post_once(struct etcd *e, const char *base, const char *path, const char *body, long *http,
		     bool *sent)
{
	char url[512];
	long req_bytes = 0;
	CURLcode c;

	snprintf(url, sizeof(url), "%s%s", base, path);
	e->answer.len = 0;
	e->curl_err[0] = '\0';
	curl_easy_setopt(e->curl, CURLOPT_URL, url);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	c = curl_easy_perform(e->curl);
	curl_easy_getinfo(e->curl, CURLINFO_REQUEST_SIZE, &req_bytes);
	*sent = req_bytes > 0;
	*http = 0;
	if (c != CURLE_OK)
		return etcd_say(etcd_curl_errno(c), "%s: %s", url, e->curl_err[0] ? e->curl_err : curl_easy_strerror(c));
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, http);
	return 0;
}

/* The parsed answer of a transfer that worked; a stream's one {"result": ...} is unwrapped. */
static int parse_answer(struct etcd *e, const char *path, long http, json_t **answer)
{
	json_error_t err;
	json_t *a, *r;
	int rc;

	/* a stream (lease keepalive) may send more after its first object: only that one is ours */
	a = json_loadb(e->answer.p ? e->answer.p : "", e->answer.len, JSON_DISABLE_EOF_CHECK, &err);
	if (!a || !json_is_object(a)) {
		json_decref(a);
		return etcd_say(-EPROTO, "%s: HTTP %ld, an answer that is no JSON object: %.80s", path, http,
				e->answer.p ? e->answer.p : "");
	}
	if ((rc = etcd_answer_error(a)) != 0) {
		json_decref(a);
		return rc;
	}
	if (http != 200) {
		json_decref(a);
		return etcd_say(-EPROTO, "%s: HTTP %ld without an error in the answer", path, http);
	}
	if ((r = json_object_get(a, "result")) && json_is_object(r)) {
		json_incref(r);
		json_decref(a);
		a = r;
	}
	*answer = a;
	return 0;
}

/* Try each endpoint once, from the last one that answered. */
static int call_locked(struct etcd *e, const char *path, const char *body, bool idempotent, json_t **answer)
{
	int rc = -ECONNREFUSED;

	for (size_t i = 0; i < e->urls.n; i++) {
		size_t at = (e->cur + i) % e->urls.n;
		long http;
		bool sent;

		rc = post_once(e, e->urls.url[at], path, body, &http, &sent);
		if (rc == 0) {
			rc = parse_answer(e, path, http, answer);
			/* a member without a leader answers Unavailable: another one may have one */
			if (rc == -EAGAIN && idempotent)
				continue;
			e->cur = at;
			return rc;
		}
		if (rc == -ENOMEM || rc == -EINVAL)
			return rc; /* ours, not the endpoint's */
		if (sent && !idempotent)
			return rc == -ETIMEDOUT ? rc : -ECONNRESET;
	}
	return rc;
}

int etcd_call(struct etcd *e, const char *path, json_t *body, bool idempotent, json_t **answer)
{
	char *text;
	int rc;

	*answer = NULL;
	if (!body)
		return etcd_say(-ENOMEM, "no memory for a request");
	text = json_dumps(body, JSON_COMPACT);
	if (!text)
		return etcd_say(-ENOMEM, "no memory for a request");
	pthread_mutex_lock(&e->lock);
	rc = call_locked(e, path, text, idempotent, answer);
	if (e->answer.cap > (1u << 20)) { /* one big value read should not keep its buffer for good */
		free(e->answer.p);
		e->answer = (struct etcd_buf){ 0 };
	}
	pthread_mutex_unlock(&e->lock);
	free(text);
	return rc;
}

/* ---- errors in answers ---- */

/* etcd's gRPC status as an errno; some messages say more than their code. */
static int grpc_errno(int code, const char *msg)
{
	/* over --max-request-bytes: etcd's own words, or (far over) those of the gateway's gRPC client */
	if (strstr(msg, "request is too large") || strstr(msg, "too many operations") ||
	    strstr(msg, "larger than max"))
		return -E2BIG;
	if (strstr(msg, "has been compacted"))
		return -ESTALE;
	switch (code) {
	case 1: return -ECANCELED;
	case 3: return -EINVAL;
	case 4: return -ETIMEDOUT;
	case 5: return -ENOENT;
	case 6: return -EEXIST;
	case 7: return -EACCES;
	case 8: return -ENOSPC; /* "database space exceeded" */
	case 11: return -EINVAL; /* a future revision */
	case 14: return -EAGAIN; /* no leader, or a member stopping */
	case 16: return -EACCES;
	default: return -EPROTO; /* 2: the gateway could not read our JSON */
	}
}

int etcd_answer_error(json_t *a)
{
	json_t *err = json_object_get(a, "error"), *code = json_object_get(a, "code");
	const char *msg;

	if (json_is_object(err)) { /* on a stream */
		code = json_object_get(err, "grpc_code");
		msg = json_string_value(json_object_get(err, "message"));
	} else if (json_is_integer(code)) {
		msg = json_string_value(json_object_get(a, "message"));
		if (!msg)
			msg = json_string_value(err);
	} else {
		return 0; /* LeaseGrantResponse has an "error" string of its own, always empty */
	}
	msg = msg ? msg : "";
	return etcd_say(grpc_errno((int)json_integer_value(code), msg), "etcd: %s (code %" JSON_INTEGER_FORMAT ")",
			msg, json_integer_value(code));
}

/* ---- the wire's values ---- */

json_t *etcd_b64(const void *p, size_t n)
{
	unsigned char *out;
	json_t *s;
	int len;

	if (n > (size_t)INT_MAX / 4 * 3 - 3)
		return NULL;
	out = malloc((n + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	len = EVP_EncodeBlock(out, p, (int)n);
	s = json_stringn((const char *)out, (size_t)len);
	free(out);
	return s;
}

int etcd_unb64(json_t *obj, const char *field, unsigned char **out, size_t *len)
{
	json_t *f = json_object_get(obj, field);
	const char *s = f ? json_string_value(f) : "";
	size_t slen, pad = 0;
	int n;

	*out = NULL;
	if (!s)
		return etcd_say(-EPROTO, "etcd: \"%s\" is not a string", field);
	slen = strlen(s);
	if (slen % 4 || slen > INT_MAX)
		return etcd_say(-EPROTO, "etcd: \"%s\" is not base64", field);
	*out = malloc(slen / 4 * 3 + 1);
	if (!*out)
		return -ENOMEM;
	/* EVP_DecodeBlock counts the padding as bytes of zeros: take them off again */
	n = EVP_DecodeBlock(*out, (const unsigned char *)s, (int)slen);
	if (slen && s[slen - 1] == '=')
		pad = 1 + (slen > 1 && s[slen - 2] == '=');
	if (n < 0 || (size_t)n < pad) {
		free(*out);
		*out = NULL;
		return etcd_say(-EPROTO, "etcd: \"%s\" is not base64", field);
	}
	*len = (size_t)n - pad;
	(*out)[*len] = '\0';
	return 0;
}

int etcd_i64(json_t *obj, const char *field, int64_t *v)
{
	json_t *f = json_object_get(obj, field);
	const char *s;
	char *end;

	*v = 0;
	if (!f)
		return 0;
	if (json_is_integer(f)) {
		*v = json_integer_value(f);
		return 0;
	}
	if (!(s = json_string_value(f)) || !*s)
		return etcd_say(-EPROTO, "etcd: \"%s\" is not a number", field);
	errno = 0;
	*v = strtoll(s, &end, 10);
	if (errno || *end)
		return etcd_say(-EPROTO, "etcd: \"%s\" is not a number: %.40s", field, s);
	return 0;
}

json_t *etcd_i64_json(int64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRId64, v);
	return json_string(s);
}

int etcd_prefix_range(json_t *req, const char *prefix)
{
	size_t n = strlen(prefix);
	unsigned char *end = malloc(n + 1);
	size_t endlen = 0;
	int rc = 0;

	if (!end)
		return -ENOMEM;
	/* the first key after every key with the prefix: its last byte below 0xff plus one, the rest dropped */
	memcpy(end, prefix, n);
	for (size_t i = n; i-- > 0;) {
		if (end[i] != 0xff) {
			end[i]++;
			endlen = i + 1;
			break;
		}
	}
	if (endlen == 0) { /* "" or all 0xff: to the end of the key space, which etcd spells "\0" */
		end[0] = '\0';
		endlen = 1;
	}
	if (json_object_set_new(req, "key", n ? etcd_b64(prefix, n) : etcd_b64("", 1)) ||
	    json_object_set_new(req, "range_end", etcd_b64(end, endlen)))
		rc = -ENOMEM;
	free(end);
	return rc;
}
