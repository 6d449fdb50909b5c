/* SPDX-License-Identifier: MIT */
/* scope.c -- the scope algebra: parse, print, intersect, union, contain (see scope.h for the lattice).
 *
 * Design notes:
 *  - A term is identified by (node, pid, tid): any is ("", 0, 0), node:N is (N, 0, 0), process:N/P is
 *    (N, P, 0), exact:N/P/T is (N, P, T).  Sorting on that triple is the canonical order; the kind field
 *    is redundant but spelled out so callers need not decode zeros.
 *  - Every result is built in a "work" set that is kept canonical at each step: term_add() drops a term
 *    some member already contains, removes the members it contains, and inserts it in sorted place.  So
 *    there is no separate normalisation pass to forget, and the set's size is the canonical size.
 *  - A work set holds 2 * SCOPE_MAX_TERMS terms, because a result may pass through more terms than it
 *    ends with (a union whose later terms absorb earlier ones) and an intersection of two canonical
 *    scopes may legitimately need up to 2 * SCOPE_MAX_TERMS - 2 (each of its terms is a term of one
 *    input).  The limit is applied to the final set only, so no answer depends on term order.
 *  - The parser validates the whole string before it reports -E2BIG, as dtype.c does with overflow: a
 *    string that is both misspelt and too long is reported as misspelt, since that is what to fix first.
 *    It counts terms as written, so whether a long list passes does not depend on what absorbs what.
 *  - Functions taking a struct scope check it (kinds, names, ids, NUL-terminated node) before using it:
 *    it is a plain struct a caller could have filled by hand or read from a corrupt record, and a
 *    malformed scope must allow nothing rather than something.
 *  - No globals but const tables, no allocation: any FUSE worker thread may call any function.
 */
#include "core/text/scope.h"

#include "core/text/names.h"
#include "core/text/chars.h"
#include "core/text/text.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

_Static_assert(SCOPE_NODE_MAX == NAMES_NODE_MAX, "scope node names follow names_check_node()");
_Static_assert(sizeof(pid_t) == sizeof(int), "pids are parsed up to INT_MAX");

/* Longest term: "exact:" + node + "/" + 10 digits + "/" + 10 digits. */
#define TERM_STR_MAX (sizeof("exact:") - 1 + SCOPE_NODE_MAX + 2 * (1 + 10))
/* "union:" + every term + a ',' after each but the last + the NUL (counted as the last ','). */
_Static_assert(sizeof("union:") - 1 + SCOPE_MAX_TERMS * (TERM_STR_MAX + 1) <= SCOPE_STR_MAX,
	       "SCOPE_STR_MAX holds the longest canonical scope");

#define WORK_MAX (2 * SCOPE_MAX_TERMS)
#define QUOTE_MAX 72 /* longest token quoted back in an error message: a whole node name fits */

struct work {
	unsigned n;
	struct scope_term t[WORK_MAX];
};

/* Where a term may end: the end of the string, the ',' before the next term, or whitespace before either. */
static bool is_term_end(char c)
{
	return c == '\0' || c == ',' || chars_is_blank(c);
}

/* Terms */

static bool node_ok(const char *node, size_t n)
{
	if (n == 0 || n > SCOPE_NODE_MAX)
		return false;
	for (size_t k = 0; k < n; k++)
		if (!chars_is_node(node[k]))
			return false;
	return true;
}

static bool term_valid(const struct scope_term *t)
{
	size_t n = strnlen(t->node, sizeof(t->node));

	if (n == sizeof(t->node))
		return false; /* not NUL-terminated */
	switch (t->kind) {
	case SCOPE_ANY:
		return n == 0 && t->pid == 0 && t->tid == 0;
	case SCOPE_NODE:
		return node_ok(t->node, n) && t->pid == 0 && t->tid == 0;
	case SCOPE_PROCESS:
		return node_ok(t->node, n) && t->pid > 0 && t->tid == 0;
	case SCOPE_EXACT:
		return node_ok(t->node, n) && t->pid > 0 && t->tid > 0;
	}
	return false;
}

static bool scope_valid(const struct scope *s)
{
	if (!s || s->nterms > SCOPE_MAX_TERMS)
		return false;
	for (unsigned k = 0; k < s->nterms; k++)
		if (!term_valid(&s->terms[k]))
			return false;
	return true;
}

/* A copy of a valid term with every unused byte zero, so equal terms are equal byte for byte. */
static void term_clean(struct scope_term *dst, const struct scope_term *src)
{
	struct scope_term t;

	memset(&t, 0, sizeof(t));
	t.kind = src->kind;
	t.pid = src->pid;
	t.tid = src->tid;
	memcpy(t.node, src->node, strnlen(src->node, SCOPE_NODE_MAX));
	*dst = t;
}

/* t ⊆ u.  The places form a tree, so this is "u is t or an ancestor of t". */
static bool term_within(const struct scope_term *t, const struct scope_term *u)
{
	if (u->kind == SCOPE_ANY)
		return true;
	if (t->kind == SCOPE_ANY || strcmp(t->node, u->node) != 0)
		return false;
	switch (u->kind) {
	case SCOPE_NODE:
		return true;
	case SCOPE_PROCESS:
		return t->kind != SCOPE_NODE && t->pid == u->pid;
	case SCOPE_EXACT:
		return t->kind == SCOPE_EXACT && t->pid == u->pid && t->tid == u->tid;
	default:
		return false;
	}
}

/* The canonical order: node name in byte order (any's "" first), then pid, then tid (0 first). */
static int term_cmp(const struct scope_term *a, const struct scope_term *b)
{
	int c = strcmp(a->node, b->node);

	if (c)
		return c;
	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	if (a->tid != b->tid)
		return a->tid < b->tid ? -1 : 1;
	return 0;
}

/* Add t to the canonical set w, keeping it canonical (see the design notes).  -E2BIG only if w is full of
 * terms t neither contains nor is contained by, which the callers' sizing rules out. */
static int term_add(struct work *w, const struct scope_term *t)
{
	unsigned k, j;

	for (k = 0; k < w->n; k++)
		if (term_within(t, &w->t[k]))
			return 0;
	for (k = j = 0; k < w->n; k++)
		if (!term_within(&w->t[k], t))
			w->t[j++] = w->t[k];
	w->n = j;
	if (w->n == WORK_MAX)
		return -E2BIG;
	for (k = w->n; k > 0 && term_cmp(&w->t[k - 1], t) > 0; k--)
		w->t[k] = w->t[k - 1];
	term_clean(&w->t[k], t);
	w->n++;
	return 0;
}

/* The canonical set of a valid scope, whatever order or redundancy a hand-filled one has. */
static void work_from(struct work *w, const struct scope *s)
{
	w->n = 0;
	for (unsigned k = 0; k < s->nterms; k++)
		term_add(w, &s->terms[k]); /* at most SCOPE_MAX_TERMS: cannot fill w */
}

static int work_to_scope(const struct work *w, struct scope *out)
{
	if (w->n > SCOPE_MAX_TERMS)
		return -E2BIG;
	memset(out, 0, sizeof(*out));
	out->nterms = w->n;
	memcpy(out->terms, w->t, w->n * sizeof(w->t[0]));
	return 0;
}

/* Is t inside one of the terms of s?  With terms nested or disjoint and ids unbounded, that is the same
 * as t ⊆ s (scope.h, "The lattice"). */
static bool term_in_scope(const struct scope_term *t, const struct scope *s)
{
	for (unsigned k = 0; k < s->nterms; k++)
		if (term_within(t, &s->terms[k]))
			return true;
	return false;
}

/* Printing */

__attribute__((format(printf, 4, 5)))
static void put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	/* vsnprintf counts what it would have written, so *off tracks the full length even once buf is full;
	 * NULL/0 keeps the pointer from running past the end of buf. */
	va_start(ap, fmt);
	n = vsnprintf(*off < len ? buf + *off : NULL, *off < len ? len - *off : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
}

static void term_put(const struct scope_term *t, char *buf, size_t len, size_t *off)
{
	switch (t->kind) {
	case SCOPE_ANY:
		put(buf, len, off, "any");
		break;
	case SCOPE_NODE:
		put(buf, len, off, "node:%s", t->node);
		break;
	case SCOPE_PROCESS:
		put(buf, len, off, "process:%s/%d", t->node, (int)t->pid);
		break;
	case SCOPE_EXACT:
		put(buf, len, off, "exact:%s/%d/%d", t->node, (int)t->pid, (int)t->tid);
		break;
	}
}

static int work_format(const struct work *w, char *buf, size_t len)
{
	size_t off = 0;

	if (w->n == 0)
		put(buf, len, &off, "none");
	else if (w->n > 1)
		put(buf, len, &off, "union:");
	for (unsigned k = 0; k < w->n; k++) {
		if (k)
			put(buf, len, &off, ",");
		term_put(&w->t[k], buf, len, &off);
	}
	if (off >= len) {
		if (len)
			buf[0] = '\0';
		return -ERANGE;
	}
	return 0;
}

int scope_format(const struct scope *s, char *buf, size_t len)
{
	struct work w;

	if (!buf || !scope_valid(s))
		return -EINVAL;
	work_from(&w, s);
	return work_format(&w, buf, len);
}

/* Parsing */

static const struct {
	const char *name;
	enum scope_kind kind; /* 0: not a term kind */
	const char *form;     /* how it is written, for messages */
} kinds[] = {
	{ "any", SCOPE_ANY, "any" },
	{ "node", SCOPE_NODE, "node:N" },
	{ "process", SCOPE_PROCESS, "process:N/PID" },
	{ "exact", SCOPE_EXACT, "exact:N/PID/TID" },
	{ "union", 0, "union:S1,S2,..." },
	{ "none", 0, "none" },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))
#define KNOWN_KINDS "any, node:N, process:N/PID, exact:N/PID/TID, union:S1,S2,..."

static bool word_is(const char *s, size_t start, size_t end, const char *word)
{
	return strlen(word) == end - start && memcmp(s + start, word, end - start) == 0;
}

static int quote_len(size_t n)
{
	return n > QUOTE_MAX ? QUOTE_MAX : (int)n;
}

static const char *quote_more(size_t n)
{
	return n > QUOTE_MAX ? "..." : "";
}

static int unknown_kind(const char *s, size_t start, size_t end, char *err, size_t errlen)
{
	size_t n = end - start;

	/* "Node:a" and "ANY" are common enough that naming the real spelling beats the list. */
	for (size_t k = 0; k < NKINDS; k++)
		if (strlen(kinds[k].name) == n && strncasecmp(kinds[k].name, s + start, n) == 0)
			return text_say(err, errlen, -EINVAL,
				    "unknown scope kind '%.*s' at offset %zu; kinds are lower case: did you mean '%s'?",
				    (int)n, s + start, start, kinds[k].name);
	return text_say(err, errlen, -EINVAL, "unknown scope kind '%.*s%s' at offset %zu; known: " KNOWN_KINDS,
		    quote_len(n), s + start, quote_more(n), start);
}

/* A character that cannot continue a node name where one is being read. */
static int bad_node_char(const char *s, size_t i, char *err, size_t errlen)
{
	char cb[16];

	if (chars_is_blank(s[i]))
		return text_say(err, errlen, -EINVAL,
			    "%s at offset %zu inside a scope term; whitespace is allowed only around ',' and at the ends",
			    chars_show(s[i], cb), i);
	return text_say(err, errlen, -EINVAL,
		    "%s at offset %zu is not allowed in a node name (letters, digits, '_' and '-' only)",
		    chars_show(s[i], cb), i);
}

/* Read a pid or tid (what) at *ip, up to the next '/', ',', whitespace or end, so "5x", "-5" or "0x10"
 * are reported whole rather than as a good number followed by something puzzling. */
static int parse_id(const char *s, size_t *ip, const char *what, pid_t *out, char *err, size_t errlen)
{
	size_t start = *ip, end = start, n;
	long long v = 0;
	char cb[16];

	while (s[end] != '/' && !is_term_end(s[end]))
		end++;
	n = end - start;
	if (n == 0) {
		if (chars_is_blank(s[start]))
			return text_say(err, errlen, -EINVAL,
				    "%s at offset %zu inside a scope term; whitespace is allowed only around ',' and at the ends",
				    chars_show(s[start], cb), start);
		return text_say(err, errlen, -EINVAL, "missing %s at offset %zu, found %s; a %s is a positive decimal number",
			    what, start, chars_show(s[start], cb), what);
	}
	if (s[start] == '-' || s[start] == '+')
		return text_say(err, errlen, -EINVAL,
			    "%s '%.*s%s' at offset %zu has a sign; a %s is a positive decimal number without one",
			    what, quote_len(n), s + start, quote_more(n), start, what);
	for (size_t k = start; k < end; k++)
		if (!chars_is_digit(s[k]))
			return text_say(err, errlen, -EINVAL, "%s '%.*s%s' at offset %zu is not a decimal number",
				    what, quote_len(n), s + start, quote_more(n), start);
	if (n == 1 && s[start] == '0')
		return text_say(err, errlen, -EINVAL, "%s 0 at offset %zu names no %s; %ss start at 1", what, start,
			    strcmp(what, "pid") == 0 ? "process" : "thread", what);
	if (s[start] == '0')
		return text_say(err, errlen, -EINVAL, "%s '%.*s%s' at offset %zu has a leading zero", what,
			    quote_len(n), s + start, quote_more(n), start);
	for (size_t k = start; k < end; k++) {
		v = v * 10 + (s[k] - '0');
		if (v > INT_MAX)
			return text_say(err, errlen, -EINVAL, "%s '%.*s%s' at offset %zu is too big; pid_t holds at most %d",
				    what, quote_len(n), s + start, quote_more(n), start, INT_MAX);
	}
	*out = (pid_t)v;
	*ip = end;
	return 0;
}

/* Parse one term at *ip into *t, after any "union:" prefixes (which set *in_union and are otherwise
 * transparent: that is the flattening).  On success *ip is just past the term, at a term end. */
static int parse_term(const char *s, size_t *ip, struct scope_term *t, bool *in_union, char *err, size_t errlen)
{
	size_t i = *ip, start, end, k;
	const char *form;
	char cb[16];
	int rc;

	memset(t, 0, sizeof(*t));
	for (;;) {
		start = i;
		end = start;
		while (chars_is_node(s[end]))
			end++;
		if (end == start)
			return text_say(err, errlen, -EINVAL,
				    "unexpected %s at offset %zu; expected a scope (" KNOWN_KINDS ")",
				    chars_show(s[start], cb), start);
		if (!word_is(s, start, end, "union"))
			break;
		if (s[end] != ':')
			return text_say(err, errlen, -EINVAL,
				    "'union' at offset %zu needs ':' and a list of scopes, as union:S1,S2", start);
		*in_union = true;
		i = chars_skip_blanks(s, end + 1);
		if (s[i] == '\0' || s[i] == ',')
			return text_say(err, errlen, -EINVAL, "'union:' at offset %zu lists no scopes", start);
	}

	if (word_is(s, start, end, "none"))
		return text_say(err, errlen, -EINVAL,
			    "'none' at offset %zu is the empty scope, which allows no place: an object or task with it "
			    "could never be used, so it is not accepted; 'any' allows every place",
			    start);
	for (k = 0; k < NKINDS; k++)
		if (kinds[k].kind && word_is(s, start, end, kinds[k].name))
			break;
	if (k == NKINDS)
		return unknown_kind(s, start, end, err, errlen);
	t->kind = kinds[k].kind;
	form = kinds[k].form;

	if (t->kind == SCOPE_ANY) {
		if (!is_term_end(s[end]))
			return text_say(err, errlen, -EINVAL, "'any' at offset %zu takes no argument; found %s after it",
				    start, chars_show(s[end], cb));
		*ip = end;
		return 0;
	}
	if (s[end] != ':')
		return text_say(err, errlen, -EINVAL, "'%s' at offset %zu needs ':' and a node name, as %s",
			    kinds[k].name, start, form);

	i = end + 1;
	end = i;
	while (chars_is_node(s[end]))
		end++;
	if (end == i) {
		if (is_term_end(s[i]) && !chars_is_blank(s[i]))
			return text_say(err, errlen, -EINVAL, "missing node name at offset %zu; %s needs one, as %s", i,
				    kinds[k].name, form);
		if (s[i] == '/')
			return text_say(err, errlen, -EINVAL, "missing node name at offset %zu, before '/'; as %s", i, form);
		return bad_node_char(s, i, err, errlen);
	}
	if (end - i > SCOPE_NODE_MAX)
		return text_say(err, errlen, -EINVAL, "node name '%.*s...' at offset %zu is longer than %d bytes",
			    SCOPE_NODE_MAX, s + i, i, SCOPE_NODE_MAX);
	memcpy(t->node, s + i, end - i);
	i = end;

	if (t->kind == SCOPE_NODE) {
		if (s[i] == '/')
			return text_say(err, errlen, -EINVAL,
				    "'/' at offset %zu after node:%s; a node scope takes no pid (one process is process:%s/PID)",
				    i, t->node, t->node);
	} else {
		if (s[i] != '/') {
			if (is_term_end(s[i]) && !chars_is_blank(s[i]))
				return text_say(err, errlen, -EINVAL, "%s:%s at offset %zu needs '/' and a pid, as %s",
					    kinds[k].name, t->node, start, form);
			return bad_node_char(s, i, err, errlen);
		}
		i++;
		rc = parse_id(s, &i, "pid", &t->pid, err, errlen);
		if (rc)
			return rc;
		if (t->kind == SCOPE_EXACT) {
			if (s[i] != '/')
				return text_say(err, errlen, -EINVAL,
					    "exact:%s/%d at offset %zu needs '/' and a thread id, as %s", t->node,
					    (int)t->pid, start, form);
			i++;
			rc = parse_id(s, &i, "tid", &t->tid, err, errlen);
			if (rc)
				return rc;
			if (s[i] == '/')
				return text_say(err, errlen, -EINVAL,
					    "'/' at offset %zu: %s takes a node, a pid and a tid, no more", i, form);
		} else if (s[i] == '/') {
			return text_say(err, errlen, -EINVAL,
				    "'/' at offset %zu: process:N/PID takes one id; one thread is exact:N/PID/TID", i);
		}
	}
	if (!is_term_end(s[i]))
		return bad_node_char(s, i, err, errlen);
	*ip = i;
	return 0;
}

int scope_parse(const char *s, struct scope *out, char *err, size_t errlen)
{
	struct work w = { .n = 0 };
	bool in_union = false;
	size_t n, i, comma, nterms = 0;
	char cb[16];
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!s || !out)
		return text_say(err, errlen, -EINVAL, "no scope string or no result to parse it into");

	n = strnlen(s, SCOPE_STR_MAX);
	if (n >= SCOPE_STR_MAX)
		return text_say(err, errlen, -EINVAL, "scope string is longer than %d bytes", SCOPE_STR_MAX - 1);
	if ((i = chars_find_control(s, n)) < n)
		return text_say(err, errlen, -EINVAL, "control character 0x%02x at offset %zu", (unsigned char)s[i], i);

	i = chars_skip_blanks(s, 0);
	if (s[i] == '\0')
		return text_say(err, errlen, -EINVAL,
			    "scope string is empty or only whitespace; 'any' is the scope that allows every place");

	for (;;) {
		struct scope_term t;

		rc = parse_term(s, &i, &t, &in_union, err, errlen);
		if (rc)
			return rc;
		if (++nterms <= SCOPE_MAX_TERMS)
			term_add(&w, &t); /* at most SCOPE_MAX_TERMS: cannot fill w */
		i = chars_skip_blanks(s, i);
		if (s[i] == '\0')
			break;
		if (s[i] != ',')
			return text_say(err, errlen, -EINVAL, "unexpected %s at offset %zu; terms are separated by ','",
				    chars_show(s[i], cb), i);
		if (!in_union)
			return text_say(err, errlen, -EINVAL,
				    "',' at offset %zu outside a union; several scopes are written union:S1,S2", i);
		comma = i;
		i = chars_skip_blanks(s, i + 1);
		if (s[i] == '\0')
			return text_say(err, errlen, -EINVAL, "trailing ',' at offset %zu; a scope must follow it", comma);
		if (s[i] == ',')
			return text_say(err, errlen, -EINVAL,
				    "',' at offset %zu follows the ',' at offset %zu with no scope between them", i, comma);
	}
	if (nterms > SCOPE_MAX_TERMS)
		return text_say(err, errlen, -E2BIG, "scope lists %zu terms; at most %d are allowed", nterms,
			    SCOPE_MAX_TERMS);
	return work_to_scope(&w, out);
}

/* Building */

int scope_place(struct scope *out, const char *node, pid_t pid, pid_t tid)
{
	struct scope_term t;
	size_t n;

	if (!out || pid < 0 || tid < 0 || (!node && pid) || (!pid && tid))
		return -EINVAL;
	memset(&t, 0, sizeof(t));
	if (!node) {
		t.kind = SCOPE_ANY;
	} else {
		n = strnlen(node, SCOPE_NODE_MAX + 1);
		if (!node_ok(node, n))
			return -EINVAL;
		memcpy(t.node, node, n);
		t.pid = pid;
		t.tid = tid;
		t.kind = !pid ? SCOPE_NODE : !tid ? SCOPE_PROCESS : SCOPE_EXACT;
	}
	memset(out, 0, sizeof(*out));
	out->nterms = 1;
	out->terms[0] = t;
	return 0;
}

/* The sentence for a refused intersection, naming both scopes in canonical form so the user sees which
 * inputs clash however they were spelt.  Returns rc. */
static int clash(int rc, const struct work *a, const struct work *b, unsigned n, char *err, size_t errlen)
{
	char sa[SCOPE_STR_MAX], sb[SCOPE_STR_MAX];

	if (!err || !errlen)
		return rc;
	work_format(a, sa, sizeof(sa)); /* SCOPE_STR_MAX holds any canonical scope */
	work_format(b, sb, sizeof(sb));
	if (rc == -EXDEV)
		return text_say(err, errlen, rc, "scope '%s' and scope '%s' do not intersect: no place satisfies both",
			    sa, sb);
	return text_say(err, errlen, rc,
		    "the intersection of scope '%s' and scope '%s' has %u or more terms; at most %d are allowed",
		    sa, sb, n, SCOPE_MAX_TERMS);
}

int scope_intersect(const struct scope *a, const struct scope *b, struct scope *out, char *err,
		    size_t errlen)
{
	struct work wa, wb, w = { .n = 0 };
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!out || !scope_valid(a) || !scope_valid(b))
		return text_say(err, errlen, -EINVAL, "a scope to intersect is missing or malformed");
	work_from(&wa, a);
	work_from(&wb, b);
	/* Terms are nested or disjoint, so a non-empty meet is the smaller of the two.  For canonical inputs
	 * the meets are distinct terms of a or b, so w cannot fill; the check is for the impossible. */
	for (unsigned i = 0; i < wa.n; i++)
		for (unsigned j = 0; j < wb.n; j++) {
			const struct scope_term *m = term_within(&wa.t[i], &wb.t[j]) ? &wa.t[i]
						   : term_within(&wb.t[j], &wa.t[i]) ? &wb.t[j]
										  : NULL;

			if (m && term_add(&w, m) < 0)
				return clash(-E2BIG, &wa, &wb, WORK_MAX, err, errlen);
		}
	if (w.n > SCOPE_MAX_TERMS)
		return clash(-E2BIG, &wa, &wb, w.n, err, errlen);
	if (w.n == 0) {
		rc = clash(-EXDEV, &wa, &wb, 0, err, errlen); /* before out is written: out may be a or b */
		memset(out, 0, sizeof(*out));
		return rc;
	}
	return work_to_scope(&w, out);
}

int scope_union(const struct scope *a, const struct scope *b, struct scope *out)
{
	struct work w;

	if (!out || !scope_valid(a) || !scope_valid(b))
		return -EINVAL;
	/* a and b hold at most SCOPE_MAX_TERMS each, so w (twice that) cannot fill before the final check. */
	work_from(&w, a);
	for (unsigned k = 0; k < b->nterms; k++)
		term_add(&w, &b->terms[k]);
	return work_to_scope(&w, out);
}

/* Predicates */

bool scope_contains(const struct scope *outer, const struct scope *inner)
{
	if (!scope_valid(outer) || !scope_valid(inner))
		return false;
	for (unsigned k = 0; k < inner->nterms; k++)
		if (!term_in_scope(&inner->terms[k], outer))
			return false;
	return true;
}

bool scope_equal(const struct scope *a, const struct scope *b)
{
	return scope_contains(a, b) && scope_contains(b, a);
}

bool scope_is_empty(const struct scope *s)
{
	return !scope_valid(s) || s->nterms == 0;
}

bool scope_allows(const struct scope *s, const char *node, pid_t pid, pid_t tid)
{
	struct scope place;

	if (scope_place(&place, node, pid, tid) < 0)
		return false;
	return scope_contains(s, &place);
}

bool scope_narrows(const struct scope *old, const struct scope *new_)
{
	return !scope_is_empty(new_) && scope_contains(old, new_);
}
