/* SPDX-License-Identifier: MIT */
/* etcd_wire.h -- what etcd.c, etcd_kv.c and etcd_watch.c share, and nothing outside them may use: the
 * endpoint list, curl handles set up alike, and the gateway's JSON (bytes as base64, 64-bit numbers as
 * strings, fields with zero values left out, errors as {"code", "message"} or, on a stream, as
 * {"error": {"grpc_code", "message"}}). */
#ifndef FABRIC_CORE_ETCD_WIRE_H
#define FABRIC_CORE_ETCD_WIRE_H

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/os/etcd.h"

#define ETCD_URLS_MAX 16
#define ETCD_CONNECT_MS 1000   /* a live etcd on a LAN accepts in well under this */
#define ETCD_TIMEOUT_MS 5000   /* a whole request; a leader election takes ~1 s with etcd's defaults */
#define ETCD_ANSWER_MAX (64u << 20) /* more than any page or value etcd sends (requests stop at 1.5 MiB) */

struct etcd_urls {
	char *url[ETCD_URLS_MAX]; /* "http://host:port", no trailing '/' */
	size_t n;
};

/* The growing buffer a curl write callback fills. */
struct etcd_buf {
	char *p;
	size_t len, cap;
};

struct etcd {
	pthread_mutex_t lock; /* one request at a time through curl, headers, answer and cur */
	CURL *curl;
	struct curl_slist *headers;
	struct etcd_urls urls;
	size_t cur; /* the endpoint that answered last: tried first */
	unsigned page;
	struct etcd_buf answer;
	char curl_err[CURL_ERROR_SIZE];
};

int etcd_urls_parse(const char *urls, struct etcd_urls *out, char *why, size_t whylen);
void etcd_urls_free(struct etcd_urls *u);

/* A curl handle for POSTs of JSON to the gateway (headers made once, freed by the caller). */
CURL *etcd_curl_new(struct curl_slist **headers, char *errbuf);
/* The errno of a transfer that failed. */
int etcd_curl_errno(CURLcode c);
/* curl write callback appending to a struct etcd_buf (up to ETCD_ANSWER_MAX). */
size_t etcd_buf_write(char *data, size_t size, size_t n, void *arg);

/* POST body to path, failing over from endpoint to endpoint when one does not answer.  A request that may
 * already have been applied (it was sent, then the connection broke) is retried elsewhere only when
 * idempotent.  *answer: the parsed answer, a stream's {"result": ...} unwrapped; the caller decrefs. */
int etcd_call(struct etcd *e, const char *path, json_t *body, bool idempotent, json_t **answer);
/* 0 when answer is no error, else the errno its code and message stand for (and the sentence). */
int etcd_answer_error(json_t *answer);

/* JSON string of the base64 of n bytes; NULL when out of memory. */
json_t *etcd_b64(const void *p, size_t n);
/* The bytes of a base64 field of obj, malloc'd and NUL-terminated; an absent field is 0 bytes. */
int etcd_unb64(json_t *obj, const char *field, unsigned char **out, size_t *len);
/* A 64-bit field (a string, or a number); an absent field is 0. */
int etcd_i64(json_t *obj, const char *field, int64_t *v);
/* A 64-bit number as the string etcd's JSON wants. */
json_t *etcd_i64_json(int64_t v);
/* Set "key" and "range_end" of req to select every key that starts with prefix ("" selects all). */
int etcd_prefix_range(json_t *req, const char *prefix);

/* Keep a sentence for etcd_why() and return rc. */
int etcd_say(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
