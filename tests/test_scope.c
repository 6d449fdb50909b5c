/* SPDX-License-Identifier: MIT */
/* test_scope.c -- unit tests for core/scope: parse/format round trips to the canonical form, every class
 * of refusal (each with a message), the intersection table and its -EXDEV sentences, union absorption,
 * the term limits, and the lattice laws checked exhaustively over a set of representative scopes.
 *
 * The laws are checked two ways.  Algebraically, on the structs (commutativity, associativity,
 * idempotence, absorption, distributivity, contains/narrows agreeing with ∩ and ∪).  And against a model:
 * each scope is also a bit mask over a sample of places (node, pid, tid), where the sample holds a node,
 * a pid and a tid that no representative names.  Those fresh ones stand for "every other place", so two
 * scopes built from the representatives' ids are equal iff their masks are, and ∩, ∪ and ⊆ must be &, |
 * and mask inclusion.  That also checks that the canonical form is unique (equal masks, equal bytes). */
#include "core/text/scope.h"
#include "tests/check.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* A formatted scope for messages; a few rotating buffers so one printf may show several. */
static const char *show(const struct scope *s)
{
	static char bufs[4][SCOPE_STR_MAX];
	static int next;
	char *b = bufs[next++ % 4];

	if (scope_format(s, b, SCOPE_STR_MAX) < 0)
		snprintf(b, SCOPE_STR_MAX, "(unformattable)");
	return b;
}

static void parse_line(const char *s, struct scope *out, int line)
{
	char err[256];
	int rc = scope_parse(s, out, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "line %d: parse '%.80s' gave %d: %s\n", line, s, rc, err);
		check_failures++;
		memset(out, 0, sizeof(*out));
	}
}
#define PARSE(s, out) parse_line(s, out, __LINE__)

/* s parses, prints as canon, and canon parses to the very same bytes and prints the same again. */
static void check_ok(const char *s, const char *canon, int line)
{
	struct scope a, b;
	char err[256], s1[SCOPE_STR_MAX], s2[SCOPE_STR_MAX];
	int rc;

	strcpy(err, "stale");
	rc = scope_parse(s, &a, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "line %d: parse '%.80s' gave %d: %s\n", line, s, rc, err);
		check_failures++;
		return;
	}
	CHECK(err[0] == '\0');
	CHECK(!scope_is_empty(&a));
	CHECK_RC(scope_format(&a, s1, sizeof(s1)), 0);
	if (strcmp(s1, canon) != 0) {
		fprintf(stderr, "line %d: '%s' formats as '%s', want '%s'\n", line, s, s1, canon);
		check_failures++;
	}
	CHECK_RC(scope_parse(s1, &b, NULL, 0), 0);
	CHECK_RC(scope_format(&b, s2, sizeof(s2)), 0);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	CHECK(strcmp(s1, s2) == 0);
	CHECK(scope_equal(&a, &b));
}
#define OK(s, canon) check_ok(s, canon, __LINE__)

/* Refused with want, a non-empty message holding frag (when not NULL), *out untouched. */
static void check_bad(const char *s, int want, const char *frag, int line)
{
	static struct scope t, before;
	char err[512];
	int rc;

	memset(&t, 0xa5, sizeof(t));
	before = t;
	rc = scope_parse(s, &t, err, sizeof(err));
	if (rc != want || err[0] == '\0' || (frag && !strstr(err, frag)) || memcmp(&t, &before, sizeof(t))) {
		fprintf(stderr, "line %d: parse '%.60s' gave %d '%s', want %d with '%s'\n", line, s, rc, err, want,
			frag ? frag : "");
		check_failures++;
	}
	/* err == NULL must give the same answer without touching anything. */
	CHECK_RC(scope_parse(s, &t, NULL, 0), want);
	CHECK_RC(scope_parse(s, &t, NULL, 100), want);
	CHECK(memcmp(&t, &before, sizeof(t)) == 0);
}
#define BAD(s, frag) check_bad(s, -EINVAL, frag, __LINE__)
#define BIG(s, frag) check_bad(s, -E2BIG, frag, __LINE__)

static void test_round_trip(void)
{
	char node64[SCOPE_NODE_MAX + 1], in[256], want[256];

	OK("any", "any");
	OK("node:a", "node:a");
	OK("node:A-b_9", "node:A-b_9");
	OK("node:-", "node:-");
	OK("node:0", "node:0");
	OK("process:a/1", "process:a/1");
	OK("process:host-1/2147483647", "process:host-1/2147483647");
	OK("exact:a/5/5", "exact:a/5/5");
	OK("exact:a/5/6", "exact:a/5/6");
	OK("exact:n/2147483647/2147483647", "exact:n/2147483647/2147483647");

	/* Whitespace: around terms and commas, after "union:", at both ends. */
	OK("  node:a  ", "node:a");
	OK("\tany\t", "any");
	OK("union: node:a", "node:a");
	OK("union:node:b , node:a", "union:node:a,node:b");
	OK(" union:\tnode:b,\t process:a/5 ,exact:c/1/2 ", "union:process:a/5,node:b,exact:c/1/2");

	/* Unions: one term prints bare; duplicates and absorbed terms go; `any` absorbs everything. */
	OK("union:node:a", "node:a");
	OK("union:any", "any");
	OK("union:node:b,node:a", "union:node:a,node:b");
	OK("union:node:a,node:a", "node:a");
	OK("union:node:a,process:a/5", "node:a");
	OK("union:process:a/5,node:a", "node:a");
	OK("union:exact:a/5/6,process:a/5", "process:a/5");
	OK("union:exact:a/5/6,exact:a/5/6,exact:a/5/7", "union:exact:a/5/6,exact:a/5/7");
	OK("union:process:a/6,exact:a/5/6", "union:exact:a/5/6,process:a/6"); /* pid 5 before pid 6 */
	OK("union:process:b/1,node:a,process:a/9", "union:node:a,process:b/1");
	OK("union:any,node:a", "any");
	OK("union:node:a,exact:b/1/2,any", "any");

	/* Order: node names by bytes ('-' < '0' < 'B' < '_' < 'b'), then ids numerically, not as text. */
	OK("union:node:b,node:B,node:_,node:-,node:0", "union:node:-,node:0,node:B,node:_,node:b");
	OK("union:process:a/10,process:a/9", "union:process:a/9,process:a/10");
	OK("union:exact:a/5/7,exact:a/5/60,exact:a/4/9", "union:exact:a/4/9,exact:a/5/7,exact:a/5/60");
	OK("union:node:ab,node:a,node:b", "union:node:a,node:ab,node:b");

	/* A union inside a union is flattened: pasting canonical strings after "union:" works. */
	OK("union:node:a,union:node:b,node:c", "union:node:a,node:b,node:c");
	OK("union:union:node:a", "node:a");
	OK("union:union:node:b,node:a", "union:node:a,node:b");
	OK("union: union: node:c , union:node:a,process:c/4", "union:node:a,node:c");

	/* A node name of exactly 64 bytes. */
	memset(node64, 'n', SCOPE_NODE_MAX);
	node64[SCOPE_NODE_MAX] = '\0';
	snprintf(in, sizeof(in), "exact:%s/2147483647/2147483647", node64);
	OK(in, in);
	snprintf(in, sizeof(in), "union:process:%s/3,node:%s", node64, node64);
	snprintf(want, sizeof(want), "node:%s", node64);
	OK(in, want);
}

static void test_refusals(void)
{
	char big[SCOPE_STR_MAX + 8], node65[SCOPE_NODE_MAX + 16];

	/* Empty. */
	BAD("", "empty");
	BAD("   ", "empty");
	BAD("\t", "'any' is the scope");

	/* Unknown kinds: a misspelling, a case slip, a bare word, a name that is no kind. */
	BAD("nod:a", "unknown scope kind 'nod' at offset 0; known: any, node:N");
	BAD("Node:a", "did you mean 'node'");
	BAD("ANY", "did you mean 'any'");
	BAD("UNION:node:a", "did you mean 'union'");
	BAD("a", "unknown scope kind 'a'");
	BAD("thread:a/1/2", "unknown scope kind 'thread'");
	BAD("anyx", "unknown scope kind 'anyx'");
	BAD("node-a:x", "unknown scope kind 'node-a'");
	BAD("union:nod:a", "unknown scope kind 'nod' at offset 6");
	BAD(":a", "unexpected ':' at offset 0");
	BAD("/", "unexpected '/'");
	BAD("\xc3\xa9", "byte 0xc3 at offset 0");

	/* The empty scope is printed, never accepted. */
	BAD("none", "'none' at offset 0 is the empty scope");
	BAD("union:none", "empty scope");
	BAD("union:node:a,none", "'none' at offset 13");

	/* any takes nothing. */
	BAD("any:a", "'any' at offset 0 takes no argument");
	BAD("any/5", "takes no argument");
	BAD("union:node:a,any:", "'any' at offset 13");

	/* Node names. */
	BAD("node", "'node' at offset 0 needs ':' and a node name, as node:N");
	BAD("process", "as process:N/PID");
	BAD("exact a/1/2", "needs ':'");
	BAD("node:", "missing node name at offset 5");
	BAD("union:node:,node:a", "missing node name at offset 11");
	BAD("process:/5", "missing node name at offset 8, before '/'");
	BAD("node:a.b", "'.' at offset 6 is not allowed in a node name");
	BAD("node:a:b", "':' at offset 6 is not allowed");
	BAD("node:.a", "'.' at offset 5");
	BAD("node:a\xc3\xa9", "byte 0xc3 at offset 6");
	BAD("process:a.b/5", "'.' at offset 9");
	BAD("node:a/5", "a node scope takes no pid");
	memset(node65, 'n', SCOPE_NODE_MAX + 1);
	memcpy(node65, "node:", 5);
	memset(node65 + 5, 'n', SCOPE_NODE_MAX + 1);
	node65[5 + SCOPE_NODE_MAX + 1] = '\0';
	BAD(node65, "longer than 64 bytes");

	/* Whitespace inside a term. */
	BAD("node: a", "space at offset 5 inside a scope term");
	BAD("process:a/ 5", "space at offset 10 inside a scope term");
	BAD("process:a\t/5", "tab at offset 9 inside a scope term");
	BAD("node :a", "'node' at offset 0 needs ':'");
	BAD("union :node:a", "'union' at offset 0 needs ':'");
	BAD("node:a b", "unexpected 'b' at offset 7; terms are separated by ','");

	/* pids and tids. */
	BAD("process:a", "process:a at offset 0 needs '/' and a pid");
	BAD("process:a/", "missing pid at offset 10");
	BAD("process:a/,node:b", "missing pid at offset 10");
	BAD("process:a/0", "pid 0 at offset 10 names no process; pids start at 1");
	BAD("process:a/-5", "pid '-5' at offset 10 has a sign");
	BAD("process:a/+5", "has a sign");
	BAD("process:a/abc", "pid 'abc' at offset 10 is not a decimal number");
	BAD("process:a/5x", "pid '5x'");
	BAD("process:a/0x10", "pid '0x10'");
	BAD("process:a/1.5", "pid '1.5'");
	BAD("process:a/007", "leading zero");
	BAD("process:a/2147483648", "pid '2147483648' at offset 10 is too big");
	BAD("process:a/99999999999999999999999999", "too big");
	BAD("process:a/5/6", "process:N/PID takes one id; one thread is exact:N/PID/TID");
	BAD("exact:a", "needs '/' and a pid");
	BAD("exact:a/5", "exact:a/5 at offset 0 needs '/' and a thread id");
	BAD("exact:a/5/", "missing tid at offset 10");
	BAD("exact:a/5/0", "tid 0 at offset 10 names no thread; tids start at 1");
	BAD("exact:a/0/6", "pid 0 at offset 8");
	BAD("exact:a/5/-6", "tid '-6'");
	BAD("exact:a/5/4294967297", "too big");
	BAD("exact:a/5/6/7", "'/' at offset 11: exact:N/PID/TID takes a node, a pid and a tid, no more");
	BAD("exact:a//6", "missing pid at offset 8");

	/* Lists. */
	BAD("node:a,node:b", "',' at offset 6 outside a union; several scopes are written union:S1,S2");
	BAD("node:a,union:node:b", "outside a union");
	BAD("union:", "'union:' at offset 0 lists no scopes");
	BAD("union:  ", "lists no scopes");
	BAD("union", "'union' at offset 0 needs ':'");
	BAD("union:,node:a", "'union:' at offset 0 lists no scopes");
	BAD("union:node:a,union:", "'union:' at offset 13 lists no scopes");
	BAD("union:node:a,", "trailing ',' at offset 12");
	BAD("union:node:a , ", "trailing ',' at offset 13");
	BAD("union:node:a,,node:b", "',' at offset 13 follows the ',' at offset 12");
	BAD("union:node:a, ,node:b", "',' at offset 14 follows");
	BAD(",node:a", "unexpected ',' at offset 0");

	/* Control characters, anywhere, even where whitespace would do. */
	BAD("node:a\n", "control character 0x0a at offset 6");
	BAD("\nnode:a", "control character 0x0a at offset 0");
	BAD("union:node:a,\rnode:b", "control character 0x0d");
	BAD("node:a\x7f", "control character 0x7f");
	BAD("no\x01" "de:a", "control character 0x01 at offset 2");

	/* Length: SCOPE_STR_MAX - 1 bytes is fine, SCOPE_STR_MAX is not, whitespace included. */
	memset(big, ' ', sizeof(big));
	memcpy(big + SCOPE_STR_MAX - 1 - 6, "node:a", 6);
	big[SCOPE_STR_MAX - 1] = '\0';
	OK(big, "node:a");
	memset(big, ' ', sizeof(big));
	memcpy(big + SCOPE_STR_MAX - 6, "node:a", 6);
	big[SCOPE_STR_MAX] = '\0';
	BAD(big, "longer than 4095 bytes");

	/* A very long unknown word is quoted back cut short. */
	memset(big, 'x', 3000);
	big[3000] = '\0';
	BAD(big, "...' at offset 0");
}

/* union:node:n0,...,node:n<count-1> written into buf, with extra after it (may be ""). */
static void many_nodes(char *buf, size_t len, int count, const char *extra)
{
	size_t off = (size_t)snprintf(buf, len, "union:");

	for (int k = 0; k < count; k++)
		off += (size_t)snprintf(buf + off, len - off, "%snode:n%d", k ? "," : "", k);
	snprintf(buf + off, len - off, "%s", extra);
}

static void test_term_limit(void)
{
	char s[SCOPE_STR_MAX], node64[SCOPE_NODE_MAX + 1];
	struct scope a, b;
	size_t off;

	/* 32 terms are fine, 33 are not, even when they absorb down to one: the count is as written. */
	many_nodes(s, sizeof(s), SCOPE_MAX_TERMS, "");
	PARSE(s, &a);
	CHECK(a.nterms == SCOPE_MAX_TERMS);
	many_nodes(s, sizeof(s), SCOPE_MAX_TERMS + 1, "");
	BIG(s, "scope lists 33 terms; at most 32 are allowed");
	many_nodes(s, sizeof(s), SCOPE_MAX_TERMS, ",any");
	BIG(s, "33 terms");
	off = (size_t)snprintf(s, sizeof(s), "union:node:a");
	for (int k = 0; k < SCOPE_MAX_TERMS; k++)
		off += (size_t)snprintf(s + off, sizeof(s) - off, ",node:a");
	BIG(s, "33 terms");
	/* A syntax error is reported before the count. */
	many_nodes(s, sizeof(s), SCOPE_MAX_TERMS + 5, ",nod:x");
	BAD(s, "unknown scope kind 'nod'");
	many_nodes(s, sizeof(s), SCOPE_MAX_TERMS + 5, ",");
	BAD(s, "trailing ','");

	/* The longest canonical scope: 32 threads on 64-byte node names with 10-digit ids.  It fits in
	 * SCOPE_STR_MAX and round-trips. */
	memset(node64, 'm', SCOPE_NODE_MAX);
	node64[SCOPE_NODE_MAX] = '\0';
	off = (size_t)snprintf(s, sizeof(s), "union:");
	for (int k = 0; k < SCOPE_MAX_TERMS; k++)
		off += (size_t)snprintf(s + off, sizeof(s) - off, "%sexact:%s/%d/%d", k ? "," : "", node64,
					2147483647 - k, 2147483600 + k);
	CHECK(off < SCOPE_STR_MAX);
	PARSE(s, &a);
	CHECK(a.nterms == SCOPE_MAX_TERMS);
	{
		char out[SCOPE_STR_MAX];

		CHECK_RC(scope_format(&a, out, sizeof(out)), 0);
		CHECK(strlen(out) == off);
		PARSE(out, &b);
		CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	}
}

/* a ∩ b: want is the canonical result, or NULL for an empty one whose message must name both scopes in
 * canonical form (ca, cb).  Checked both ways round. */
static void check_meet(const char *a, const char *b, const char *want, const char *ca, const char *cb, int line)
{
	struct scope sa, sb, o;
	char err[SCOPE_STR_MAX * 2 + 200], buf[SCOPE_STR_MAX], qa[SCOPE_STR_MAX + 2], qb[SCOPE_STR_MAX + 2];

	PARSE(a, &sa);
	PARSE(b, &sb);
	for (int round = 0; round < 2; round++) {
		const struct scope *x = round ? &sb : &sa, *y = round ? &sa : &sb;
		int rc;

		memset(&o, 0xa5, sizeof(o));
		strcpy(err, "stale");
		rc = scope_intersect(x, y, &o, err, sizeof(err));
		if (want) {
			if (rc != 0 || err[0] || scope_format(&o, buf, sizeof(buf)) || strcmp(buf, want)) {
				fprintf(stderr, "line %d: '%s' ∩ '%s' gave %d '%s' ('%s'), want '%s'\n", line, show(x),
					show(y), rc, show(&o), err, want);
				check_failures++;
			}
			continue;
		}
		snprintf(qa, sizeof(qa), "'%s'", ca);
		snprintf(qb, sizeof(qb), "'%s'", cb);
		if (rc != -EXDEV || !scope_is_empty(&o) || !strstr(err, qa) || !strstr(err, qb) ||
		    !strstr(err, "do not intersect")) {
			fprintf(stderr, "line %d: '%s' ∩ '%s' gave %d '%s', want -EXDEV naming %s and %s\n", line, a,
				b, rc, err, qa, qb);
			check_failures++;
		}
		CHECK(o.nterms == 0);
		/* The empty result is a zeroed struct, the documented empty scope. */
		{
			static const struct scope zero;

			CHECK(memcmp(&o, &zero, sizeof(o)) == 0);
		}
		CHECK_RC(scope_intersect(x, y, &o, NULL, 0), -EXDEV);
	}
}
#define MEET(a, b, want) check_meet(a, b, want, NULL, NULL, __LINE__)
#define DISJOINT(a, b, ca, cb) check_meet(a, b, NULL, ca, cb, __LINE__)

static void test_intersect(void)
{
	MEET("any", "any", "any");
	MEET("any", "node:a", "node:a");
	MEET("any", "exact:a/1/2", "exact:a/1/2");
	MEET("node:a", "node:a", "node:a");
	MEET("node:a", "process:a/5", "process:a/5");
	MEET("node:a", "exact:a/5/6", "exact:a/5/6");
	MEET("process:a/5", "exact:a/5/6", "exact:a/5/6");
	MEET("union:node:a,node:b", "union:node:b,node:c", "node:b");
	MEET("union:node:a,node:b", "node:a", "node:a");
	MEET("union:node:a,process:b/5", "union:process:a/1,node:b", "union:process:a/1,process:b/5");
	MEET("union:node:a,node:b", "union:process:a/1,exact:b/2/3,process:c/4", "union:process:a/1,exact:b/2/3");
	MEET("union:exact:a/1/1,exact:a/1/2", "process:a/1", "union:exact:a/1/1,exact:a/1/2");
	MEET("union:process:a/1,process:a/2", "union:exact:a/1/7,process:a/2,process:a/3",
	     "union:exact:a/1/7,process:a/2");

	DISJOINT("node:a", "node:b", "node:a", "node:b");
	DISJOINT("process:a/5", "node:b", "process:a/5", "node:b");
	DISJOINT("process:a/5", "process:a/6", "process:a/5", "process:a/6");
	DISJOINT("process:a/5", "process:b/5", "process:a/5", "process:b/5");
	DISJOINT("exact:a/5/6", "exact:a/5/7", "exact:a/5/6", "exact:a/5/7");
	DISJOINT("exact:a/5/6", "process:a/6", "exact:a/5/6", "process:a/6");
	DISJOINT("exact:a/5/6", "exact:b/5/6", "exact:a/5/6", "exact:b/5/6");
	DISJOINT("union:node:a,node:b", "node:c", "union:node:a,node:b", "node:c");
	/* The message uses canonical forms, not the spelling given. */
	DISJOINT(" union: node:b, node:a,process:a/3 ", "union:process:c/1,exact:d/1/1", "union:node:a,node:b",
		 "union:process:c/1,exact:d/1/1");
}

static void test_intersect_edges(void)
{
	struct scope a, b, o, before, empty;
	char s[SCOPE_STR_MAX], err[SCOPE_STR_MAX * 3];
	size_t off;

	/* out may be an input. */
	PARSE("union:node:a,node:b", &a);
	PARSE("union:process:a/1,node:c", &b);
	CHECK_RC(scope_intersect(&a, &b, &a, NULL, 0), 0);
	CHECK(strcmp(show(&a), "process:a/1") == 0);
	PARSE("node:a", &a);
	PARSE("node:b", &b);
	CHECK_RC(scope_intersect(&a, &b, &b, err, sizeof(err)), -EXDEV);
	CHECK(strstr(err, "'node:a'") && strstr(err, "'node:b'"));
	CHECK(scope_is_empty(&b));

	/* With the empty scope: always empty, and the message calls it 'none'. */
	memset(&empty, 0, sizeof(empty));
	PARSE("any", &a);
	CHECK_RC(scope_intersect(&a, &empty, &o, err, sizeof(err)), -EXDEV);
	CHECK(strstr(err, "'any'") && strstr(err, "'none'"));
	CHECK_RC(scope_intersect(&empty, &empty, &o, err, sizeof(err)), -EXDEV);

	/* More than SCOPE_MAX_TERMS terms: union:node:x,process:y/1..31 ∩ union:node:y,process:x/1..31 is
	 * the 62 process terms. */
	off = (size_t)snprintf(s, sizeof(s), "union:node:x");
	for (int k = 1; k < SCOPE_MAX_TERMS; k++)
		off += (size_t)snprintf(s + off, sizeof(s) - off, ",process:y/%d", k);
	PARSE(s, &a);
	off = (size_t)snprintf(s, sizeof(s), "union:node:y");
	for (int k = 1; k < SCOPE_MAX_TERMS; k++)
		off += (size_t)snprintf(s + off, sizeof(s) - off, ",process:x/%d", k);
	PARSE(s, &b);
	memset(&o, 0x5a, sizeof(o));
	before = o;
	CHECK_RC(scope_intersect(&a, &b, &o, err, sizeof(err)), -E2BIG);
	CHECK(strstr(err, "has 62 or more terms; at most 32") != NULL);
	CHECK(strstr(err, "'union:node:x,process:y/1,") != NULL);
	CHECK(memcmp(&o, &before, sizeof(o)) == 0);
	/* With 16 processes on each side the result is 16 + 16 = 32 terms, which fits. */
	off = (size_t)snprintf(s, sizeof(s), "union:node:x");
	for (int k = 1; k <= 16; k++)
		off += (size_t)snprintf(s + off, sizeof(s) - off, ",process:y/%d", k);
	PARSE(s, &a);
	off = (size_t)snprintf(s, sizeof(s), "union:node:y");
	for (int k = 1; k <= 16; k++)
		off += (size_t)snprintf(s + off, sizeof(s) - off, ",process:x/%d", k);
	PARSE(s, &b);
	CHECK_RC(scope_intersect(&a, &b, &o, NULL, 0), 0);
	CHECK(o.nterms == 32);

	/* Error buffer: cut to errlen and NUL-terminated; errlen 0 leaves it alone; success clears it. */
	PARSE("node:a", &a);
	PARSE("node:b", &b);
	memset(err, 'z', 64);
	CHECK_RC(scope_intersect(&a, &b, &o, err, 8), -EXDEV);
	CHECK(strlen(err) == 7 && err[8] == 'z');
	memset(err, 'z', 64);
	CHECK_RC(scope_intersect(&a, &b, &o, err, 0), -EXDEV);
	CHECK(err[0] == 'z');
	strcpy(err, "stale");
	CHECK_RC(scope_intersect(&a, &a, &o, err, sizeof(err)), 0);
	CHECK(err[0] == '\0');
}

static void check_join(const char *a, const char *b, const char *want, int line)
{
	struct scope sa, sb, o;
	char buf[SCOPE_STR_MAX];

	PARSE(a, &sa);
	PARSE(b, &sb);
	for (int round = 0; round < 2; round++) {
		int rc = round ? scope_union(&sb, &sa, &o) : scope_union(&sa, &sb, &o);

		if (rc || scope_format(&o, buf, sizeof(buf)) || strcmp(buf, want)) {
			fprintf(stderr, "line %d: '%s' ∪ '%s' gave %d '%s', want '%s'\n", line, a, b, rc, buf, want);
			check_failures++;
		}
	}
}
#define JOIN(a, b, want) check_join(a, b, want, __LINE__)

static void test_union(void)
{
	struct scope a, b, o, before, empty;
	char s[SCOPE_STR_MAX];
	size_t off;

	JOIN("node:a", "node:b", "union:node:a,node:b");
	JOIN("node:a", "node:a", "node:a");
	JOIN("node:a", "process:a/5", "node:a");
	JOIN("process:a/5", "exact:a/5/6", "process:a/5");
	JOIN("exact:a/5/6", "exact:a/5/7", "union:exact:a/5/6,exact:a/5/7");
	JOIN("any", "exact:a/5/6", "any");
	JOIN("any", "union:node:a,node:b", "any");
	JOIN("union:process:a/1,process:b/2", "union:node:b,exact:a/1/3", "union:process:a/1,node:b");
	JOIN("union:node:c,node:a", "union:node:b", "union:node:a,node:b,node:c");

	/* The empty scope is the identity; out may be an input. */
	memset(&empty, 0, sizeof(empty));
	PARSE("process:a/5", &a);
	CHECK_RC(scope_union(&a, &empty, &o), 0);
	CHECK(memcmp(&o, &a, sizeof(o)) == 0);
	CHECK_RC(scope_union(&empty, &empty, &o), 0);
	CHECK(scope_is_empty(&o) && strcmp(show(&o), "none") == 0);
	PARSE("node:b", &b);
	CHECK_RC(scope_union(&a, &b, &a), 0);
	CHECK(strcmp(show(&a), "union:process:a/5,node:b") == 0);

	/* Past the limit: 32 nodes and one more. */
	many_nodes(s, sizeof(s), SCOPE_MAX_TERMS, "");
	PARSE(s, &a);
	PARSE("node:extra", &b);
	memset(&o, 0x5a, sizeof(o));
	before = o;
	CHECK_RC(scope_union(&a, &b, &o), -E2BIG);
	CHECK(memcmp(&o, &before, sizeof(o)) == 0);
	/* ...but a node already there, or one that absorbs, is fine. */
	PARSE("process:n7/3", &b);
	CHECK_RC(scope_union(&a, &b, &o), 0);
	CHECK(memcmp(&o, &a, sizeof(o)) == 0);
	PARSE("any", &b);
	CHECK_RC(scope_union(&a, &b, &o), 0);
	CHECK(strcmp(show(&o), "any") == 0);

	/* Only the final size counts: 32 processes on x, joined with b's node:y then node:x, would pass 32
	 * on the way if the limit were checked per step. */
	off = (size_t)snprintf(s, sizeof(s), "union:");
	for (int k = 1; k <= SCOPE_MAX_TERMS; k++)
		off += (size_t)snprintf(s + off, sizeof(s) - off, "%sprocess:x/%d", k > 1 ? "," : "", k);
	PARSE(s, &a);
	CHECK(a.nterms == SCOPE_MAX_TERMS);
	PARSE("union:node:y,node:x", &b);
	CHECK_RC(scope_union(&a, &b, &o), 0);
	CHECK(strcmp(show(&o), "union:node:x,node:y") == 0);
}

static void test_format(void)
{
	struct scope s;
	char buf[SCOPE_STR_MAX];
	const char *want = "union:process:a/5,node:b";
	size_t need = strlen(want) + 1;

	/* The empty scope: a zeroed struct, printed "none". */
	memset(&s, 0, sizeof(s));
	CHECK_RC(scope_format(&s, buf, sizeof(buf)), 0);
	CHECK(strcmp(buf, "none") == 0);
	CHECK_RC(scope_format(&s, buf, 4), -ERANGE);
	CHECK_RC(scope_format(&s, buf, 5), 0);

	/* Every size short of the whole string. */
	PARSE(want, &s);
	CHECK_RC(scope_format(&s, buf, need), 0);
	CHECK(strcmp(buf, want) == 0);
	for (size_t len = 1; len < need; len++) {
		memset(buf, 'z', sizeof(buf));
		CHECK_RC(scope_format(&s, buf, len), -ERANGE);
		CHECK(buf[0] == '\0');
		CHECK(buf[len] == 'z');
	}
	memset(buf, 'z', sizeof(buf));
	CHECK_RC(scope_format(&s, buf, 0), -ERANGE);
	CHECK(buf[0] == 'z');
	CHECK_RC(scope_format(NULL, buf, sizeof(buf)), -EINVAL);
	CHECK_RC(scope_format(&s, NULL, sizeof(buf)), -EINVAL);

	/* A struct filled by hand out of order, with duplicates and absorbed terms, prints canonically and
	 * yields the same set as the canonical parse. */
	{
		struct scope h, c;

		memset(&h, 0, sizeof(h));
		h.nterms = 4;
		h.terms[0] = (struct scope_term){ .kind = SCOPE_PROCESS, .pid = 9, .node = "b" };
		h.terms[1] = (struct scope_term){ .kind = SCOPE_EXACT, .pid = 9, .tid = 1, .node = "b" };
		h.terms[2] = (struct scope_term){ .kind = SCOPE_NODE, .node = "a" };
		h.terms[3] = (struct scope_term){ .kind = SCOPE_PROCESS, .pid = 9, .node = "b" };
		CHECK_RC(scope_format(&h, buf, sizeof(buf)), 0);
		CHECK(strcmp(buf, "union:node:a,process:b/9") == 0);
		PARSE(buf, &c);
		CHECK(scope_equal(&h, &c));
		/* Operations on it give canonical bytes. */
		CHECK_RC(scope_union(&h, &h, &h), 0);
		CHECK(memcmp(&h, &c, sizeof(h)) == 0);
	}
}

/* Hand-made malformed scopes: refused by the int functions, allowing nothing in the predicates. */
static void test_malformed(void)
{
	struct scope bad[8], good, o;
	char buf[SCOPE_STR_MAX];
	int n = 0;

	PARSE("node:a", &good);
	for (int k = 0; k < 8; k++)
		memset(&bad[k], 0, sizeof(bad[k]));
	bad[n].nterms = SCOPE_MAX_TERMS + 1;
	for (int k = 0; k < SCOPE_MAX_TERMS; k++)
		bad[n].terms[k] = good.terms[0];
	n++;
	bad[n].nterms = 1; /* kind 0 */
	n++;
	bad[n].nterms = 1;
	bad[n].terms[0] = (struct scope_term){ .kind = SCOPE_NODE, .node = "a.b" };
	n++;
	bad[n].nterms = 1;
	bad[n].terms[0] = (struct scope_term){ .kind = SCOPE_PROCESS, .pid = 0, .node = "a" };
	n++;
	bad[n].nterms = 1;
	bad[n].terms[0] = (struct scope_term){ .kind = SCOPE_ANY, .node = "a" };
	n++;
	bad[n].nterms = 1;
	bad[n].terms[0] = (struct scope_term){ .kind = SCOPE_NODE, .node = "a" };
	memset(bad[n].terms[0].node, 'a', sizeof(bad[n].terms[0].node)); /* no NUL */
	n++;
	bad[n].nterms = 1;
	bad[n].terms[0] = (struct scope_term){ .kind = SCOPE_EXACT, .pid = 3, .tid = -1, .node = "a" };
	n++;
	bad[n].nterms = 1;
	bad[n].terms[0] = (struct scope_term){ .kind = SCOPE_NODE, .pid = 3, .node = "a" };
	n++;

	for (int k = 0; k < n; k++) {
		CHECK_RC(scope_format(&bad[k], buf, sizeof(buf)), -EINVAL);
		CHECK_RC(scope_intersect(&bad[k], &good, &o, NULL, 0), -EINVAL);
		CHECK_RC(scope_intersect(&good, &bad[k], &o, NULL, 0), -EINVAL);
		CHECK_RC(scope_union(&bad[k], &good, &o), -EINVAL);
		CHECK_RC(scope_union(&good, &bad[k], &o), -EINVAL);
		CHECK(!scope_contains(&bad[k], &good));
		CHECK(!scope_contains(&good, &bad[k]));
		CHECK(!scope_equal(&bad[k], &bad[k]));
		CHECK(scope_is_empty(&bad[k]));
		CHECK(!scope_allows(&bad[k], "a", 3, 4));
		CHECK(!scope_narrows(&bad[k], &good));
		CHECK(!scope_narrows(&good, &bad[k]));
	}

	/* NULL everywhere. */
	CHECK_RC(scope_parse(NULL, &o, buf, sizeof(buf)), -EINVAL);
	CHECK(buf[0] != '\0');
	CHECK_RC(scope_parse("any", NULL, buf, sizeof(buf)), -EINVAL);
	CHECK_RC(scope_intersect(NULL, &good, &o, buf, sizeof(buf)), -EINVAL);
	CHECK(buf[0] != '\0');
	CHECK_RC(scope_intersect(&good, &good, NULL, NULL, 0), -EINVAL);
	CHECK_RC(scope_union(NULL, &good, &o), -EINVAL);
	CHECK_RC(scope_union(&good, &good, NULL), -EINVAL);
	CHECK(!scope_contains(NULL, &good));
	CHECK(!scope_contains(&good, NULL));
	CHECK(!scope_equal(NULL, NULL));
	CHECK(scope_is_empty(NULL));
	CHECK(!scope_allows(NULL, "a", 0, 0));
	CHECK(!scope_narrows(NULL, &good));
	CHECK(!scope_narrows(&good, NULL));
	CHECK_RC(scope_place(NULL, "a", 0, 0), -EINVAL);
}

static void test_parse_err_buffer(void)
{
	struct scope t;
	char err[64];

	memset(err, 'z', sizeof(err));
	CHECK_RC(scope_parse("nod:a", &t, err, 8), -EINVAL);
	CHECK(strlen(err) == 7);
	CHECK(err[8] == 'z');
	memset(err, 'z', sizeof(err));
	CHECK_RC(scope_parse("nod:a", &t, err, 0), -EINVAL);
	CHECK(err[0] == 'z');
	strcpy(err, "stale");
	CHECK_RC(scope_parse("node:a", &t, err, sizeof(err)), 0);
	CHECK(err[0] == '\0');
}

static void check_place(const char *node, pid_t pid, pid_t tid, const char *want, int line)
{
	struct scope s;
	char buf[SCOPE_STR_MAX];
	int rc = scope_place(&s, node, pid, tid);

	if (want ? (rc || scope_format(&s, buf, sizeof(buf)) || strcmp(buf, want)) : rc != -EINVAL) {
		fprintf(stderr, "line %d: scope_place(%s, %d, %d) gave %d, want %s\n", line, node ? node : "NULL",
			(int)pid, (int)tid, rc, want ? want : "-EINVAL");
		check_failures++;
	}
	if (want) {
		struct scope p;

		PARSE(want, &p);
		CHECK(memcmp(&s, &p, sizeof(s)) == 0);
	}
}
#define PLACE(node, pid, tid, want) check_place(node, pid, tid, want, __LINE__)

static void test_place(void)
{
	PLACE(NULL, 0, 0, "any");
	PLACE("a", 0, 0, "node:a");
	PLACE("a", 5, 0, "process:a/5");
	PLACE("a", 5, 6, "exact:a/5/6");
	PLACE("host_1-x", 2147483647, 1, "exact:host_1-x/2147483647/1");
	PLACE("", 0, 0, NULL);
	PLACE("a.b", 0, 0, NULL);
	PLACE("a b", 5, 0, NULL);
	PLACE("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, 0, NULL); /* 65 */
	PLACE("a", -1, 0, NULL);
	PLACE("a", 5, -1, NULL);
	PLACE("a", 0, 6, NULL);   /* a thread without its process */
	PLACE(NULL, 5, 0, NULL);  /* a process without its node */
	PLACE(NULL, 0, 6, NULL);
}

struct allow_case {
	const char *scope, *node;
	pid_t pid, tid;
	bool want;
};

static void test_allows(void)
{
	static const struct allow_case cases[] = {
		{ "any", NULL, 0, 0, true },
		{ "any", "a", 5, 6, true },
		{ "node:a", "a", 5, 6, true },
		{ "node:a", "a", 5, 0, true },
		{ "node:a", "a", 0, 0, true },   /* unknown process (a RELEASE): the node still decides */
		{ "node:a", "b", 5, 6, false },
		{ "node:a", "A", 5, 6, false },  /* node names are case-sensitive */
		{ "node:a", NULL, 0, 0, false }, /* unknown node: only any */
		{ "process:a/5", "a", 5, 6, true },
		{ "process:a/5", "a", 5, 0, true },
		{ "process:a/5", "a", 0, 0, false }, /* unknown process: not assumed to be 5 */
		{ "process:a/5", "a", 6, 6, false },
		{ "process:a/5", "b", 5, 6, false },
		{ "exact:a/5/6", "a", 5, 6, true },
		{ "exact:a/5/6", "a", 5, 7, false },
		{ "exact:a/5/6", "a", 5, 0, false }, /* unknown thread: not assumed to be 6 */
		{ "exact:a/5/6", "a", 6, 6, false },
		{ "union:node:b,process:a/5", "a", 5, 1, true },
		{ "union:node:b,process:a/5", "b", 9, 9, true },
		{ "union:node:b,process:a/5", "a", 4, 1, false },
		{ "union:node:b,process:a/5", "c", 5, 1, false },
		{ "node:a", "a.b", 0, 0, false },   /* a node name scope_place refuses */
		{ "node:a", "a", -1, 0, false },    /* so is a negative pid */
		{ "any", NULL, 5, 0, false },       /* and a pid without a node */
	};
	struct scope empty;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct allow_case *c = &cases[k];
		struct scope s;

		PARSE(c->scope, &s);
		if (scope_allows(&s, c->node, c->pid, c->tid) != c->want) {
			fprintf(stderr, "case %zu: %s allows (%s, %d, %d) should be %s\n", k, c->scope,
				c->node ? c->node : "NULL", (int)c->pid, (int)c->tid, c->want ? "true" : "false");
			check_failures++;
		}
	}
	memset(&empty, 0, sizeof(empty));
	CHECK(!scope_allows(&empty, NULL, 0, 0));
	CHECK(!scope_allows(&empty, "a", 1, 1));
}

static void test_narrows(void)
{
	static const struct {
		const char *old, *new_;
		bool want;
	} cases[] = {
		{ "any", "any", true },
		{ "any", "node:a", true },
		{ "node:a", "process:a/5", true },
		{ "process:a/5", "exact:a/5/6", true },
		{ "node:a", "node:a", true },
		{ "union:node:a,node:b", "node:a", true },
		{ "union:node:a,node:b", "union:process:a/1,node:b", true },
		{ "process:a/5", "node:a", false },
		{ "node:a", "any", false },
		{ "node:a", "node:b", false },
		{ "node:a", "union:node:a,node:b", false },
		{ "union:process:a/1,process:a/2", "node:a", false },
		{ "exact:a/5/6", "exact:a/5/7", false },
	};
	struct scope empty, s;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct scope o, n;

		PARSE(cases[k].old, &o);
		PARSE(cases[k].new_, &n);
		if (scope_narrows(&o, &n) != cases[k].want) {
			fprintf(stderr, "narrows('%s', '%s') should be %s\n", cases[k].old, cases[k].new_,
				cases[k].want ? "true" : "false");
			check_failures++;
		}
	}
	/* Never to the empty scope, though it is inside everything. */
	memset(&empty, 0, sizeof(empty));
	PARSE("node:a", &s);
	CHECK(scope_contains(&s, &empty));
	CHECK(!scope_narrows(&s, &empty));
	CHECK(!scope_narrows(&empty, &empty));
}

/* The laws.  Representatives use nodes a, b, c, pids 1, 2 and tids 1, 2; the sample adds node z, pid 3 and
 * tid 3, which none of them names. */
static const char *const reps[] = {
	"any",
	"node:a",
	"node:b",
	"node:c",
	"process:a/1",
	"process:a/2",
	"process:b/1",
	"exact:a/1/1",
	"exact:a/1/2",
	"exact:a/2/1",
	"exact:b/1/1",
	"union:node:a,node:b",
	"union:node:a,process:b/1",
	"union:process:a/1,process:a/2",
	"union:process:a/1,exact:a/2/1",
	"union:exact:a/1/1,exact:b/1/1",
	"union:node:b,exact:a/1/2",
	"union:process:a/2,process:b/1,exact:a/1/1",
	"union:node:c,process:a/1",
	"union:node:a,node:b,node:c",
	"union:exact:a/1/2,exact:a/2/2,process:b/2",
	NULL, /* the empty scope */
};
#define NREPS (sizeof(reps) / sizeof(reps[0]))

static const char *const sample_nodes[] = { "a", "b", "c", "z" };
#define NS 4 /* nodes */
#define NI 3 /* pids 1..3, tids 1..3 */

/* Which sampled places (node, pid, tid) s allows: one bit each, NS * NI * NI = 36 bits. */
static uint64_t mask(const struct scope *s)
{
	uint64_t m = 0;
	int bit = 0;

	for (int n = 0; n < NS; n++)
		for (int p = 1; p <= NI; p++)
			for (int t = 1; t <= NI; t++, bit++)
				if (scope_allows(s, sample_nodes[n], p, t))
					m |= (uint64_t)1 << bit;
	return m;
}

static int law_failures;

static void law(bool ok, int line, const char *what, int i, int j, int k)
{
	if (ok)
		return;
	check_failures++;
	if (law_failures++ < 30)
		fprintf(stderr, "line %d: law %s fails for a=%s b=%s c=%s\n", line, what,
			i >= 0 ? (reps[i] ? reps[i] : "none") : "-", j >= 0 ? (reps[j] ? reps[j] : "none") : "-",
			k >= 0 ? (reps[k] ? reps[k] : "none") : "-");
}
#define LAW(cond, i, j, k) law((cond), __LINE__, #cond, i, j, k)

static struct scope R[NREPS];
static uint64_t M[NREPS];

/* a ∩ b, checking the return code agrees with emptiness; the empty scope when disjoint. */
static struct scope meet(const struct scope *a, const struct scope *b)
{
	struct scope o;
	int rc = scope_intersect(a, b, &o, NULL, 0);

	if ((rc != 0 && rc != -EXDEV) || (rc == 0) == scope_is_empty(&o)) {
		fprintf(stderr, "intersect '%s' and '%s' gave %d\n", show(a), show(b), rc);
		check_failures++;
		memset(&o, 0, sizeof(o));
	}
	return o;
}

static struct scope join(const struct scope *a, const struct scope *b)
{
	struct scope o;
	int rc = scope_union(a, b, &o);

	if (rc) {
		fprintf(stderr, "union '%s' and '%s' gave %d\n", show(a), show(b), rc);
		check_failures++;
		memset(&o, 0, sizeof(o));
	}
	return o;
}

/* Equal as the API promises: byte for byte, and scope_equal agreeing. */
static bool same(const struct scope *a, const struct scope *b)
{
	bool bytes = memcmp(a, b, sizeof(*a)) == 0;

	if (bytes != scope_equal(a, b)) {
		fprintf(stderr, "memcmp and scope_equal disagree on '%s' and '%s'\n", show(a), show(b));
		check_failures++;
	}
	return bytes;
}

/* A result prints canonically: parsing its string gives the same bytes (the empty scope prints "none"). */
static bool reparses(const struct scope *s)
{
	char buf[SCOPE_STR_MAX];
	struct scope p;

	if (scope_format(s, buf, sizeof(buf)))
		return false;
	if (scope_is_empty(s))
		return strcmp(buf, "none") == 0;
	return scope_parse(buf, &p, NULL, 0) == 0 && memcmp(&p, s, sizeof(p)) == 0;
}

static void test_laws(void)
{
	struct scope any, empty;
	const char *partial_nodes[] = { NULL, "a", "b", "c", "z" };

	PARSE("any", &any);
	memset(&empty, 0, sizeof(empty));
	for (size_t i = 0; i < NREPS; i++) {
		if (reps[i])
			PARSE(reps[i], &R[i]);
		else
			memset(&R[i], 0, sizeof(R[i]));
		M[i] = mask(&R[i]);
	}

	for (int i = 0; i < (int)NREPS; i++) {
		const struct scope *a = &R[i];
		struct scope x;

		/* Distinct representatives are distinct sets: the sample tells them apart. */
		for (int j = 0; j < i; j++)
			LAW(M[i] != M[j], i, j, -1);
		LAW(reparses(a), i, -1, -1);
		x = meet(a, a);
		LAW(same(&x, a), i, -1, -1); /* idempotence */
		x = join(a, a);
		LAW(same(&x, a), i, -1, -1);
		x = meet(a, &any);
		LAW(same(&x, a), i, -1, -1); /* any is the identity of ∩ */
		x = join(a, &empty);
		LAW(same(&x, a), i, -1, -1); /* none is the identity of ∪ */
		x = meet(a, &empty);
		LAW(same(&x, &empty), i, -1, -1);
		x = join(a, &any);
		LAW(same(&x, &any), i, -1, -1);
		LAW(scope_contains(a, a), i, -1, -1);
		LAW(scope_contains(a, &empty), i, -1, -1);
		LAW(scope_contains(&any, a), i, -1, -1);
		LAW(scope_is_empty(a) == (M[i] == 0), i, -1, -1);
		LAW(scope_narrows(a, a) == !scope_is_empty(a), i, -1, -1);

		/* allows(node, pid, tid) is contains(place), and for partial places the model's inclusion. */
		for (int n = 0; n < 5; n++)
			for (int p = 0; p <= NI; p++)
				for (int t = 0; t <= NI; t++) {
					struct scope place;

					if (scope_place(&place, partial_nodes[n], p, t) < 0)
						continue;
					LAW(scope_allows(a, partial_nodes[n], p, t) == scope_contains(a, &place), i, -1, -1);
					LAW(scope_allows(a, partial_nodes[n], p, t) == !(mask(&place) & ~M[i]), i, -1, -1);
				}
	}

	for (int i = 0; i < (int)NREPS; i++)
		for (int j = 0; j < (int)NREPS; j++) {
			const struct scope *a = &R[i], *b = &R[j];
			struct scope ab = meet(a, b), ba = meet(b, a), uab = join(a, b), uba = join(b, a), x;
			bool sub = (M[j] & ~M[i]) == 0; /* b ⊆ a in the model */
			int rc;

			LAW(same(&ab, &ba), i, j, -1); /* commutativity */
			LAW(same(&uab, &uba), i, j, -1);
			LAW(mask(&ab) == (M[i] & M[j]), i, j, -1); /* agreement with the model */
			LAW(mask(&uab) == (M[i] | M[j]), i, j, -1);
			LAW(reparses(&ab) && reparses(&uab), i, j, -1);
			rc = scope_intersect(a, b, &x, NULL, 0);
			LAW((rc == -EXDEV) == ((M[i] & M[j]) == 0), i, j, -1);
			x = join(a, &ab);
			LAW(same(&x, a), i, j, -1); /* absorption */
			x = meet(a, &uab);
			LAW(same(&x, a), i, j, -1);
			/* contains agrees with ∩, ∪ and the model */
			LAW(scope_contains(a, b) == sub, i, j, -1);
			LAW(scope_contains(a, b) == same(&ab, b), i, j, -1);
			LAW(scope_contains(a, b) == same(&uab, a), i, j, -1);
			LAW(scope_equal(a, b) == (M[i] == M[j]), i, j, -1);
			LAW(!(scope_contains(a, b) && scope_contains(b, a)) || same(a, b), i, j, -1);
			LAW(scope_narrows(a, b) == (sub && M[j] != 0), i, j, -1);
			LAW(scope_contains(a, &ab) && scope_contains(b, &ab), i, j, -1);
			LAW(scope_contains(&uab, a) && scope_contains(&uab, b), i, j, -1);
		}

	for (int i = 0; i < (int)NREPS; i++)
		for (int j = 0; j < (int)NREPS; j++)
			for (int k = 0; k < (int)NREPS; k++) {
				const struct scope *a = &R[i], *b = &R[j], *c = &R[k];
				struct scope ab = meet(a, b), bc = meet(b, c), ac = meet(a, c);
				struct scope uab = join(a, b), ubc = join(b, c), uac = join(a, c);
				struct scope x, y;

				x = meet(&ab, c); /* associativity */
				y = meet(a, &bc);
				LAW(same(&x, &y), i, j, k);
				x = join(&uab, c);
				y = join(a, &ubc);
				LAW(same(&x, &y), i, j, k);
				x = meet(a, &ubc); /* ∩ distributes over ∪ */
				y = join(&ab, &ac);
				LAW(same(&x, &y), i, j, k);
				x = join(a, &bc); /* ∪ distributes over ∩ */
				y = meet(&uab, &uac);
				LAW(same(&x, &y), i, j, k);
				LAW(mask(&x) == (M[i] | (M[j] & M[k])), i, j, k);
				/* contains is transitive */
				LAW(!(scope_contains(a, b) && scope_contains(b, c)) || scope_contains(a, c), i, j, k);
				/* narrowing twice is narrowing */
				LAW(!(scope_narrows(a, b) && scope_narrows(b, c)) || scope_narrows(a, c), i, j, k);
			}
}

int main(void)
{
	test_round_trip();
	test_refusals();
	test_term_limit();
	test_intersect();
	test_intersect_edges();
	test_union();
	test_format();
	test_malformed();
	test_parse_err_buffer();
	test_place();
	test_allows();
	test_narrows();
	test_laws();
	if (!check_failures)
		printf("test_scope: all passed (%zu representative scopes, laws over %zu triples)\n", NREPS,
		       NREPS * NREPS * NREPS);
	return CHECK_DONE();
}
