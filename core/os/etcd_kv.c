/* SPDX-License-Identifier: MIT */
/* etcd_kv.c -- keys, txns, paged listings and leases over etcd's JSON gateway (etcd.h). */
#include "core/os/etcd.h"
#include "core/os/etcd_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A lease id as etcd prints it: a decimal int64. */
static int lease_check(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > 20 || strspn(id, "0123456789") != n)
		return etcd_say(-EINVAL, "'%s' is not a lease id", id ? id : "(null)");
	return 0;
}

static int key_check(const char *key)
{
	if (!key || !*key)
		return etcd_say(-EINVAL, "an empty key"); /* etcd: "key is not provided" */
	return 0;
}

/* What a put takes: a key, len bytes (val may be NULL for 0 of them), a lease or none. */
static int put_check(const char *key, const void *val, size_t len, const char *lease)
{
	int rc = key_check(key);

	if (rc == 0 && !val && len)
		rc = etcd_say(-EINVAL, "no bytes for a value of %zu", len);
	if (rc == 0 && lease)
		rc = lease_check(lease);
	return rc;
}

/* The fields of a put: {"key", "value", "lease"}. */
static int put_fields(json_t *op, const char *key, const void *val, size_t len, const char *lease)
{
	if (json_object_set_new(op, "key", etcd_b64(key, strlen(key))) ||
	    json_object_set_new(op, "value", etcd_b64(val ? val : "", len)))
		return -ENOMEM;
	if (lease && json_object_set_new(op, "lease", json_string(lease)))
		return -ENOMEM;
	return 0;
}

/* A call whose answer only needs its header's revision; *rev may be NULL. */
static int call_rev(struct etcd *e, const char *path, json_t *req, bool idempotent, int64_t *rev)
{
	json_t *a;
	int64_t r;
	int rc = etcd_call(e, path, req, idempotent, &a);

	json_decref(req);
	if (rc == 0)
		rc = etcd_i64(json_object_get(a, "header"), "revision", &r);
	if (rc == 0 && rev)
		*rev = r;
	json_decref(a);
	return rc;
}

int etcd_put(struct etcd *e, const char *key, const void *val, size_t len, const char *lease,
	     int64_t *mod_revision)
{
	json_t *req;
	int rc;

	if ((rc = put_check(key, val, len, lease)))
		return rc;
	if (!(req = json_object()) || put_fields(req, key, val, len, lease)) {
		json_decref(req);
		return etcd_say(-ENOMEM, "no memory for a put");
	}
	/* a put repeated on another member leaves the same value (one more revision, nothing worse) */
	return call_rev(e, "/v3/kv/put", req, true, mod_revision);
}

int etcd_get(struct etcd *e, const char *key, char **val, size_t *len, int64_t *mod_revision)
{
	json_t *req, *a, *kv;
	unsigned char *v = NULL;
	size_t n = 0;
	int64_t rev = 0;
	int rc;

	if (val)
		*val = NULL;
	if ((rc = key_check(key)))
		return rc;
	req = json_pack("{s:o}", "key", etcd_b64(key, strlen(key)));
	rc = etcd_call(e, "/v3/kv/range", req, true, &a);
	json_decref(req);
	if (rc)
		return rc;
	kv = json_array_get(json_object_get(a, "kvs"), 0); /* "kvs" is left out when there is none */
	if (!kv)
		rc = etcd_say(-ENOENT, "no key '%s'", key);
	if (rc == 0)
		rc = etcd_i64(kv, "mod_revision", &rev);
	if (rc == 0 && val)
		rc = etcd_unb64(kv, "value", &v, &n);
	json_decref(a);
	if (rc)
		return rc;
	if (val)
		*val = (char *)v;
	if (len)
		*len = n;
	if (mod_revision)
		*mod_revision = rev;
	return 0;
}

int etcd_delete(struct etcd *e, const char *key)
{
	json_t *req, *a;
	int64_t deleted = 0;
	int rc;

	if ((rc = key_check(key)))
		return rc;
	req = json_pack("{s:o}", "key", etcd_b64(key, strlen(key)));
	rc = etcd_call(e, "/v3/kv/deleterange", req, true, &a);
	json_decref(req);
	if (rc == 0)
		rc = etcd_i64(a, "deleted", &deleted);
	json_decref(a);
	if (rc == 0 && deleted == 0)
		rc = etcd_say(-ENOENT, "no key '%s'", key);
	return rc;
}

/* A txn of one compare and one put: 0 when the compare held, lost when it did not. */
static int txn_put(struct etcd *e, json_t *cmp, json_t *put, int lost, int64_t *mod_revision)
{
	json_t *req = json_pack("{s:[o], s:[{s:o}]}", "compare", cmp, "success", "request_put", put), *a;
	int64_t rev = 0;
	int rc;

	if (!req)
		return etcd_say(-ENOMEM, "no memory for a txn");
	/* not repeated elsewhere: a txn that was applied and then retried would lose to itself */
	rc = etcd_call(e, "/v3/kv/txn", req, false, &a);
	json_decref(req);
	if (rc)
		return rc;
	if (!json_is_true(json_object_get(a, "succeeded"))) /* false is left out */
		rc = etcd_say(lost, "the txn's compare failed");
	else
		rc = etcd_i64(json_object_get(a, "header"), "revision", &rev);
	json_decref(a);
	if (rc == 0 && mod_revision)
		*mod_revision = rev;
	return rc;
}

int etcd_create(struct etcd *e, const char *key, const void *val, size_t len, const char *lease,
		int64_t *mod_revision)
{
	json_t *cmp, *put;
	int rc;

	if ((rc = put_check(key, val, len, lease)))
		return rc;
	/* "target" must be spelled out: VERSION is the enum's zero and a missing field means it */
	cmp = json_pack("{s:o, s:s, s:s, s:s}", "key", etcd_b64(key, strlen(key)), "target", "CREATE",
			"result", "EQUAL", "create_revision", "0");
	put = json_object();
	if (!cmp || !put || put_fields(put, key, val, len, lease)) {
		json_decref(cmp);
		json_decref(put);
		return etcd_say(-ENOMEM, "no memory for a txn");
	}
	rc = txn_put(e, cmp, put, -EEXIST, mod_revision);
	if (rc == -EEXIST)
		etcd_say(rc, "key '%s' exists", key);
	return rc;
}

int etcd_replace(struct etcd *e, const char *key, const void *val, size_t len, int64_t expect,
		 int64_t *mod_revision)
{
	json_t *cmp, *put;
	int rc;

	if ((rc = put_check(key, val, len, NULL)))
		return rc;
	if (expect <= 0)
		return etcd_say(-EINVAL, "replace needs the mod_revision read (etcd_create makes new keys)");
	cmp = json_pack("{s:o, s:s, s:s, s:o}", "key", etcd_b64(key, strlen(key)), "target", "MOD",
			"result", "EQUAL", "mod_revision", etcd_i64_json(expect));
	put = json_object();
	if (!cmp || !put || put_fields(put, key, val, len, NULL) ||
	    json_object_set_new(put, "ignore_lease", json_true())) {
		json_decref(cmp);
		json_decref(put);
		return etcd_say(-ENOMEM, "no memory for a txn");
	}
	rc = txn_put(e, cmp, put, -ESTALE, mod_revision);
	if (rc == -ESTALE)
		etcd_say(rc, "key '%s' changed since revision %lld", key, (long long)expect);
	return rc;
}

int etcd_batch(struct etcd *e, const struct etcd_op *ops, size_t n)
{
	json_t *req, *success, *a;
	int rc = 0;

	if (n == 0)
		return 0;
	if (n > ETCD_TXN_MAX)
		return etcd_say(-E2BIG, "a txn of %zu operations (etcd takes %d)", n, ETCD_TXN_MAX);
	success = json_array();
	for (size_t i = 0; rc == 0 && success && i < n; i++) {
		const struct etcd_op *o = &ops[i];
		json_t *kv;
		rc = o->val ? put_check(o->key, o->val, o->len, NULL) : key_check(o->key);
		if (rc)
			break;
		kv = json_object();
		if (!kv || (o->val ? put_fields(kv, o->key, o->val, o->len, NULL)
			    : json_object_set_new(kv, "key", etcd_b64(o->key, strlen(o->key))))) {
			json_decref(kv);
			rc = etcd_say(-ENOMEM, "no memory for a txn");
			break;
		}
		/* the _new calls take their value whether they succeed or not */
		if (json_array_append_new(success, json_pack("{s:o}", o->val ? "request_put" : "request_delete_range",
							     kv)))
			rc = etcd_say(-ENOMEM, "no memory for a txn");
	}
	if (!success)
		return etcd_say(-ENOMEM, "no memory for a txn");
	if (rc) {
		json_decref(success);
		return rc;
	}
	req = json_pack("{s:o}", "success", success);
	if (!req)
		return etcd_say(-ENOMEM, "no memory for a txn");
	/* no compare: applying it twice leaves what applying it once does, so a broken connection may repeat it */
	rc = etcd_call(e, "/v3/kv/txn", req, true, &a);
	json_decref(req);
	json_decref(a);
	return rc;
}

/* ---- listings ---- */

/* One page: the keys from `from` (from_len bytes) up to range_end, at revision rev (0: the current). */
static int range_page(struct etcd *e, json_t *first, const unsigned char *from, size_t from_len, int64_t rev,
		      json_t **answer)
{
	json_t *req = json_deep_copy(first);
	unsigned page;
	int rc = -ENOMEM;

	pthread_mutex_lock(&e->lock);
	page = e->page;
	pthread_mutex_unlock(&e->lock);
	if (req && (!from || json_object_set_new(req, "key", etcd_b64(from, from_len)) == 0) &&
	    json_object_set_new(req, "limit", etcd_i64_json(page)) == 0 &&
	    (!rev || json_object_set_new(req, "revision", etcd_i64_json(rev)) == 0))
		rc = etcd_call(e, "/v3/kv/range", req, true, answer);
	else
		etcd_say(rc, "no memory for a range");
	json_decref(req);
	return rc;
}

/* Hand each key of a page to fn; *last gets the last key (malloc'd, its length in *last_len). */
static int range_emit(json_t *kvs, etcd_kv_fn fn, void *arg, unsigned char **last, size_t *last_len)
{
	size_t i;
	json_t *kv;

	json_array_foreach(kvs, i, kv) {
		unsigned char *k, *v;
		size_t klen, vlen;
		int64_t rev;
		int rc = etcd_unb64(kv, "key", &k, &klen);

		if (rc)
			return rc;
		if ((rc = etcd_i64(kv, "mod_revision", &rev)) || (rc = etcd_unb64(kv, "value", &v, &vlen))) {
			free(k);
			return rc;
		}
		rc = fn(arg, (const char *)k, v, vlen, rev);
		free(v);
		free(*last);
		*last = k;
		*last_len = klen;
		if (rc)
			return rc;
	}
	return 0;
}

int etcd_range(struct etcd *e, const char *prefix, etcd_kv_fn fn, void *arg, int64_t *revision)
{
	json_t *first = json_object(), *a = NULL;
	unsigned char *last = NULL, *from = NULL;
	size_t last_len = 0;
	int64_t rev = 0;
	int rc = first ? etcd_prefix_range(first, prefix ? prefix : "") : -ENOMEM;

	while (rc == 0) {
		rc = range_page(e, first, from, last_len + 1, rev, &a);
		if (rc == 0 && rev == 0) /* the first page's revision pins the rest */
			rc = etcd_i64(json_object_get(a, "header"), "revision", &rev);
		if (rc == 0)
			rc = range_emit(json_object_get(a, "kvs"), fn, arg, &last, &last_len);
		if (rc || !json_is_true(json_object_get(a, "more")) || !last)
			break;
		/* the next page starts right after the last key: that key with a NUL byte appended */
		free(from);
		if (!(from = malloc(last_len + 1))) {
			rc = -ENOMEM;
			break;
		}
		memcpy(from, last, last_len);
		from[last_len] = '\0';
		json_decref(a);
		a = NULL;
	}
	json_decref(a);
	json_decref(first);
	free(last);
	free(from);
	if (rc == 0 && revision)
		*revision = rev;
	return rc;
}

int etcd_compact(struct etcd *e, int64_t revision)
{
	json_t *req = json_pack("{s:o}", "revision", etcd_i64_json(revision));

	/* repeated after it was applied, it would fail as compacted already */
	return call_rev(e, "/v3/kv/compaction", req, false, NULL);
}

/* ---- leases ---- */

int etcd_lease_grant(struct etcd *e, int ttl_seconds, char id[ETCD_LEASE_ID_MAX])
{
	json_t *req, *a;
	const char *s;
	int rc;

	id[0] = '\0';
	if (ttl_seconds <= 0)
		return etcd_say(-EINVAL, "a lease of %d s", ttl_seconds);
	req = json_pack("{s:I}", "TTL", (json_int_t)ttl_seconds);
	rc = etcd_call(e, "/v3/lease/grant", req, false, &a);
	json_decref(req);
	if (rc)
		return rc;
	s = json_string_value(json_object_get(a, "ID"));
	if (!s || lease_check(s) != 0)
		rc = etcd_say(-EPROTO, "etcd granted a lease without an id");
	else
		strcpy(id, s);
	json_decref(a);
	return rc;
}

int etcd_lease_keepalive(struct etcd *e, const char *id, int *ttl)
{
	json_t *req, *a;
	int64_t t = 0;
	int rc;

	if ((rc = lease_check(id)))
		return rc;
	req = json_pack("{s:s}", "ID", id);
	rc = etcd_call(e, "/v3/lease/keepalive", req, true, &a);
	json_decref(req);
	if (rc)
		return rc;
	/* a lease that is gone is not an error to the stream: its answer just has no TTL (or 0) */
	rc = etcd_i64(a, "TTL", &t);
	json_decref(a);
	if (rc == 0 && t <= 0)
		rc = etcd_say(-ENOENT, "lease %s has expired", id);
	if (rc == 0 && ttl)
		*ttl = (int)t;
	return rc;
}

int etcd_lease_revoke(struct etcd *e, const char *id)
{
	json_t *req;
	int rc;

	if ((rc = lease_check(id)))
		return rc;
	req = json_pack("{s:s}", "ID", id);
	return call_rev(e, "/v3/lease/revoke", req, false, NULL);
}
