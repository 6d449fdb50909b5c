/* SPDX-License-Identifier: MIT */
/* test_ctl.c -- unit tests for the control language (core/ctl/ctl.h), with no FUSE.
 *
 * ctl_parse alone: verbs, `json`, blanks, quoting (whole words, quotes inside a word, \" and \\, an
 * unclosed quote), key=value options (only for keys the verb takes; otherwise positional), a duplicate
 * option, arity, empty lines, control characters (a second newline, a NUL inside len, DEL, CR), the
 * trailing newline, CTL_LINE_MAX (-E2BIG) and CTL_ARGS_MAX; every error has a non-empty one-line sentence.
 * Verb-generic cases (arity, help, options) discover the verbs from `help`, so adding a verb never breaks
 * them and new verbs are covered too.
 *
 * ctl_run against a real store (a state dir under one mkdtemp dir, node "ut<PID>-ctl"): list (tab-separated
 * lines, prefix filter, nested dirs, names with blanks, quotes and backslashes, a type, a variable still
 * being written), locate (the user.fabric.locations xattr; ENOENT, EISDIR, ENOTDIR with a sentence), stat
 * (consistent with store_statfs), help, and every json variant checked as JSON twice: by a strict checker
 * here (grammar and UTF-8) and, when /usr/bin/python3 exists, by python's json module in a child process;
 * also json list over a name that is not UTF-8, and `json help`, which must be JSON or refused.
 *
 * As in test_store.c, the cases run in a child process: the parent removes the temp dir and every shm
 * object of this run's node whatever happens to the child (a failed check, a crash, a timeout's SIGTERM). */
#include "core/ctl/ctlInt.h"
#include "core/os/shm.h"
#include "core/store/store.h"
#include "tests/check.h"
#include "tests/fixture.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


#include "tests/json_check.h"

/* python's json.loads agrees (true when there is no /usr/bin/python3 to ask). */
static bool python_json_ok(const char *s, size_t len)
{
	FILE *f;
	int st;

	if (access("/usr/bin/python3", X_OK) != 0)
		return true;
	fflush(NULL);
	f = popen("/usr/bin/python3 -c 'import json, sys; json.loads(sys.stdin.buffer.read().decode(\"utf-8\"))'",
		  "w");
	if (!f)
		return false;
	fwrite(s, 1, len, f);
	st = pclose(f);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void check_json_checker(void)
{
	static const char *good[] = { "{}", "[]\n", "{\"a\":[1,-2.5e3,true,false,null,\"x\\\"\\u00e9\"]}",
				      " [ {\"n\" : 0} , {} ] ", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"" };
	static const char *bad[] = { "", "{", "[1,]", "{\"a\" 1}", "\"a\nb\"", "[01]", "{}{}", "[1 2]",
				     "\"\\x\"", "tru", "\"caf\xe9\"", "\"\xc3\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\"" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(json_ok(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!json_ok(bad[i], strlen(bad[i])));
}

/* ---- helpers ---- */

/* A parser error: a non-empty sentence on one line (no control character at all). */
static bool one_line(const char *s)
{
	if (!s || !*s)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* An answer holding exactly one sentence: non-empty, one line ending in its newline. */
static bool one_sentence(const struct text *a)
{
	return a->buf && a->len >= 2 && strlen(a->buf) == a->len && a->buf[a->len - 1] == '\n' &&
	       memchr(a->buf, '\n', a->len) == a->buf + a->len - 1 && a->buf[0] != ' ';
}

/* A well-formed text answer: NUL-free, empty or ending in a newline. */
static bool text_ok(const struct text *a)
{
	if (a->len == 0)
		return !a->buf || a->buf[0] == '\0';
	return strlen(a->buf) == a->len && a->buf[a->len - 1] == '\n';
}

static int parse(const char *line, struct ctl_cmd *cmd, char *err, size_t errlen)
{
	err[0] = '\0';
	return ctl_parse(line, strlen(line), cmd, err, errlen);
}

/* Parse must fail with want and a one-line sentence that contains hint (when not NULL). */
#define PARSE_FAILS(line, len, want, hint)                                                               \
	do {                                                                                              \
		struct ctl_cmd c_;                                                                        \
		char e_[512] = "";                                                                        \
		const char *h_ = (hint);                                                                  \
		int r_ = ctl_parse((line), (len), &c_, e_, sizeof(e_));                                   \
		if (r_ != (want) || !one_line(e_) || (h_ && !strstr(e_, h_))) {                           \
			fprintf(stderr, "%s:%d: ctl_parse(\"%.60s\"): %d \"%s\", want %d with \"%s\"\n", \
				__FILE__, __LINE__, (line), r_, e_, (int)(want), h_ ? h_ : "");           \
			check_failures++;                                                                 \
		}                                                                                         \
		ctl_cmd_free(&c_); /* safe after a failure: nothing is left to free */                    \
	} while (0)
#define PARSE_FAILS_S(line, want, hint) PARSE_FAILS(line, strlen(line), want, hint)

/* Every word of cmd lies inside its copy of the line. */
static bool words_inside(const struct ctl_cmd *c, size_t len)
{
	const char *lo = c->copy, *hi = c->copy + len + 1;

	for (int i = 0; i < c->argc; i++)
		if (c->argv[i] < lo || c->argv[i] + strlen(c->argv[i]) >= hi)
			return false;
	for (int i = 0; i < c->nopts; i++)
		if (c->opt_key[i] < lo || c->opt_val[i] + strlen(c->opt_val[i]) >= hi)
			return false;
	return c->argc >= 0 && c->argc <= CTL_ARGS_MAX && c->nopts >= 0 && c->nopts <= CTL_ARGS_MAX &&
	       c->argc + c->nopts <= CTL_ARGS_MAX;
}

/* The verbs `help` names: the first word of each line that ctl_verb_find knows. */
static int help_verbs(char names[][64], int max)
{
	struct ctl_env env = { 0 }; /* help needs no store */
	struct text a = { 0 };
	int n = 0;

	CHECK_RC(ctl_run(&env, "help", 4, &a), 0);
	for (char *save = NULL, *l = a.buf ? strtok_r(a.buf, "\n", &save) : NULL; l && n < max;
	     l = strtok_r(NULL, "\n", &save)) {
		size_t w = strcspn(l, " \t");
		if (w == 0 || w >= 64)
			continue;
		snprintf(names[n], 64, "%.*s", (int)w, l);
		if (ctl_verb_find(names[n]))
			n++;
	}
	text_free(&a);
	return n;
}

/* ---- ctl_parse ---- */

static void test_parse_basic(void)
{
	struct ctl_cmd c;
	char err[512];

	CHECK_RC(parse("stat", &c, err, sizeof(err)), 0);
	CHECK(c.verb && strcmp(c.verb, "stat") == 0 && !c.json && c.argc == 0 && c.nopts == 0);
	ctl_cmd_free(&c);
	CHECK(c.copy == NULL);

	CHECK_RC(parse("stat\n", &c, err, sizeof(err)), 0); /* the one trailing newline is allowed */
	CHECK(c.verb && strcmp(c.verb, "stat") == 0);
	ctl_cmd_free(&c);

	CHECK_RC(parse(" \t locate   run1/w \t ", &c, err, sizeof(err)), 0); /* blanks are spaces and tabs */
	CHECK(c.verb && strcmp(c.verb, "locate") == 0 && c.argc == 1 && strcmp(c.argv[0], "run1/w") == 0);
	CHECK(words_inside(&c, strlen(" \t locate   run1/w \t ")));
	ctl_cmd_free(&c);

	CHECK_RC(parse("locate\trun1/w\n", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && strcmp(c.argv[0], "run1/w") == 0);
	ctl_cmd_free(&c);

	CHECK_RC(parse("json stat", &c, err, sizeof(err)), 0);
	CHECK(c.json && strcmp(c.verb, "stat") == 0 && c.argc == 0);
	ctl_cmd_free(&c);

	CHECK_RC(parse("  json\tlist d1/d2\n", &c, err, sizeof(err)), 0);
	CHECK(c.json && strcmp(c.verb, "list") == 0 && c.argc == 1 && strcmp(c.argv[0], "d1/d2") == 0);
	ctl_cmd_free(&c);

	CHECK_RC(parse("help", &c, err, sizeof(err)), 0);
	CHECK(strcmp(c.verb, "help") == 0 && c.argc == 0);
	ctl_cmd_free(&c);
	CHECK_RC(parse("help locate", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && strcmp(c.argv[0], "locate") == 0);
	ctl_cmd_free(&c);
	CHECK_RC(parse("list", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 0);
	ctl_cmd_free(&c);

	/* bytes >= 0x80 (UTF-8 names) are plain characters */
	CHECK_RC(parse("locate caf\xc3\xa9/\xe2\x82\xac", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && strcmp(c.argv[0], "caf\xc3\xa9/\xe2\x82\xac") == 0);
	ctl_cmd_free(&c);

	/* the line need not be NUL-terminated: only len bytes are read */
	{
		char buf[] = "locate abcXYZ";
		CHECK_RC(ctl_parse(buf, 10, &c, err, sizeof(err)), 0);
		CHECK(c.argc == 1 && strcmp(c.argv[0], "abc") == 0);
		ctl_cmd_free(&c);
		CHECK(strcmp(buf, "locate abcXYZ") == 0); /* the caller's line is not touched */
	}
}

static void test_parse_quoting(void)
{
	struct ctl_cmd c;
	char err[512];

	CHECK_RC(parse("locate \"a b\"", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && strcmp(c.argv[0], "a b") == 0);
	ctl_cmd_free(&c);

	CHECK_RC(parse("locate \"  two\tblanks  \"", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && strcmp(c.argv[0], "  two\tblanks  ") == 0);
	ctl_cmd_free(&c);

	/* a quote may open inside a word, as in a shell; locate takes no doc= option: positional */
	CHECK_RC(parse("locate doc=\"x y\"", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && c.nopts == 0 && strcmp(c.argv[0], "doc=x y") == 0);
	ctl_cmd_free(&c);
	CHECK_RC(parse("locate ab\"c d\"e\"\"f", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && strcmp(c.argv[0], "abc def") == 0);
	ctl_cmd_free(&c);

	/* \" and \\ inside quotes */
	CHECK_RC(parse("locate \"say \\\"hi\\\" \\\\ end\"", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && strcmp(c.argv[0], "say \"hi\" \\ end") == 0);
	ctl_cmd_free(&c);
	/* \n and \t inside quotes are a newline and a tab (a task's program may need them) */
	CHECK_RC(parse("locate \"a\\nb\\tc\"", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && strcmp(c.argv[0], "a\nb\tc") == 0);
	ctl_cmd_free(&c);
	/* another backslash inside quotes stays as it is */
	CHECK_RC(parse("locate \"a\\qb\"", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && strcmp(c.argv[0], "a\\qb") == 0);
	ctl_cmd_free(&c);
	/* a bare -- ends the options: what follows is positional, key=value or not; a quoted one is a word */
	CHECK_RC(parse("spawn in=a -- prog in=b --", &c, err, sizeof(err)), 0);
	CHECK(c.dashdash == 0 && c.argc == 3 && c.nopts == 1 && strcmp(c.argv[0], "prog") == 0 &&
	      strcmp(c.argv[1], "in=b") == 0 && strcmp(c.argv[2], "--") == 0);
	ctl_cmd_free(&c);
	CHECK_RC(parse("spawn \"--\" x", &c, err, sizeof(err)), 0);
	CHECK(c.dashdash == -1 && c.argc == 2 && strcmp(c.argv[0], "--") == 0);
	ctl_cmd_free(&c);
	/* outside quotes a backslash is an ordinary character */
	CHECK_RC(parse("locate a\\b", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && strcmp(c.argv[0], "a\\b") == 0);
	ctl_cmd_free(&c);

	/* an empty quoted word is a word */
	CHECK_RC(parse("locate \"\"", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && strcmp(c.argv[0], "") == 0);
	ctl_cmd_free(&c);
	/* a quoted verb is the verb */
	CHECK_RC(parse("\"stat\"", &c, err, sizeof(err)), 0);
	CHECK(c.verb && strcmp(c.verb, "stat") == 0);
	ctl_cmd_free(&c);
	/* words next to each other after quotes */
	CHECK_RC(parse("help \"locate\"\n", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && strcmp(c.argv[0], "locate") == 0);
	ctl_cmd_free(&c);

	/* unclosed quotes, wherever they are */
	PARSE_FAILS_S("locate \"a b", -EINVAL, "quote");
	PARSE_FAILS_S("locate ab\"c", -EINVAL, "quote");
	PARSE_FAILS_S("locate \"a\\\"", -EINVAL, "quote"); /* the \" does not close it */
	PARSE_FAILS_S("locate \"a\\", -EINVAL, "quote");
	PARSE_FAILS_S("\"stat", -EINVAL, "quote");
	PARSE_FAILS_S("json \"", -EINVAL, "quote");
	PARSE_FAILS_S("list x \"", -EINVAL, "quote");
	PARSE_FAILS_S("locate \"a b\n", -EINVAL, "quote");
}

static void test_parse_errors(void)
{
	char line[CTL_LINE_MAX + 64];
	struct ctl_cmd c;
	char err[512];

	/* empty lines, and a json with no verb */
	PARSE_FAILS("", 0, -EINVAL, "help");
	PARSE_FAILS_S("\n", -EINVAL, "help");
	PARSE_FAILS_S("   \t ", -EINVAL, "help");
	PARSE_FAILS_S("json", -EINVAL, NULL);
	PARSE_FAILS_S("json\n", -EINVAL, NULL);
	PARSE_FAILS_S("  json  ", -EINVAL, NULL);

	/* unknown verbs: named in the sentence, which points at help */
	PARSE_FAILS_S("frobnicate", -EINVAL, "frobnicate");
	PARSE_FAILS_S("frobnicate a b c", -EINVAL, "help");
	PARSE_FAILS_S("json frobnicate", -EINVAL, "frobnicate");
	PARSE_FAILS_S("json json stat", -EINVAL, NULL);
	PARSE_FAILS_S("\"\"", -EINVAL, NULL);
	PARSE_FAILS_S("STAT", -EINVAL, NULL);

	/* arity: the sentence gives the usage */
	PARSE_FAILS_S("locate", -EINVAL, "locate NAME");
	PARSE_FAILS_S("locate a b", -EINVAL, "locate NAME");
	PARSE_FAILS_S("json locate", -EINVAL, "locate NAME");
	PARSE_FAILS_S("stat x", -EINVAL, "stat");
	PARSE_FAILS_S("stat json", -EINVAL, "stat");
	PARSE_FAILS_S("list a b", -EINVAL, "list [PREFIX]");
	PARSE_FAILS_S("help a b", -EINVAL, "help [VERB]");

	/* control characters anywhere in the line */
	PARSE_FAILS_S("stat\n\n", -EINVAL, "newline");
	PARSE_FAILS_S("stat\nstat\n", -EINVAL, "newline");
	PARSE_FAILS_S("locate a\nb", -EINVAL, "control");
	PARSE_FAILS("stat\0x", 6, -EINVAL, "control");        /* a NUL inside len */
	PARSE_FAILS("locate a\0\n", 10, -EINVAL, "control");  /* ... also just before the newline */
	PARSE_FAILS_S("locate a\x7f", -EINVAL, "control");    /* DEL */
	PARSE_FAILS_S("stat\r\n", -EINVAL, "control");        /* a CRLF line */
	PARSE_FAILS_S("locate \x1b[1mw", -EINVAL, "control"); /* an escape sequence */
	PARSE_FAILS_S("locate \"a\x01\"", -EINVAL, "control"); /* also inside quotes */
	PARSE_FAILS_S("\x7f", -EINVAL, "control");

	/* too many words */
	snprintf(line, sizeof(line), "list");
	for (int i = 0; i < CTL_ARGS_MAX + 1; i++)
		strcat(line, " w");
	PARSE_FAILS_S(line, -EINVAL, "too many");
	snprintf(line, sizeof(line), "help");
	for (int i = 0; i < 1000; i++)
		strcat(line, " w");
	PARSE_FAILS_S(line, -EINVAL, "too many");
	snprintf(line, sizeof(line), "json help");
	for (int i = 0; i < 3 * CTL_ARGS_MAX; i++)
		strcat(line, " a=b");
	PARSE_FAILS_S(line, -EINVAL, NULL);

	/* the length limit: CTL_LINE_MAX bytes run (with or without their newline), one more is -E2BIG */
	memset(line, 'a', sizeof(line));
	memcpy(line, "locate ", 7);
	CHECK_RC(ctl_parse(line, CTL_LINE_MAX, &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && strlen(c.argv[0]) == CTL_LINE_MAX - 7);
	ctl_cmd_free(&c);
	line[CTL_LINE_MAX] = '\n';
	CHECK_RC(ctl_parse(line, CTL_LINE_MAX + 1, &c, err, sizeof(err)), 0);
	ctl_cmd_free(&c);
	line[CTL_LINE_MAX] = 'a';
	PARSE_FAILS(line, CTL_LINE_MAX + 1, -E2BIG, CTL_LINE_MAX_TEXT);
	line[CTL_LINE_MAX + 1] = '\n';
	PARSE_FAILS(line, CTL_LINE_MAX + 2, -E2BIG, CTL_LINE_MAX_TEXT);
	{
		size_t big = 1 << 20;
		char *huge = malloc(big);
		if (huge) {
			memset(huge, ' ', big);
			memcpy(huge, "stat", 4);
			PARSE_FAILS(huge, big, -E2BIG, NULL); /* blanks count too */
			memset(huge, '\n', big);
			PARSE_FAILS(huge, big, -E2BIG, NULL);
			free(huge);
		}
	}

	/* the error buffer: a short one is cut but terminated; none at all is fine */
	{
		char small[8];
		memset(small, 'X', sizeof(small));
		CHECK_RC(ctl_parse("frobnicate", 10, &c, small, sizeof(small)), -EINVAL);
		CHECK(memchr(small, '\0', sizeof(small)) != NULL);
		ctl_cmd_free(&c);
		CHECK_RC(ctl_parse("frobnicate", 10, &c, NULL, 0), -EINVAL);
		ctl_cmd_free(&c);
		CHECK_RC(ctl_parse("stat x", 6, &c, NULL, 0), -EINVAL);
		ctl_cmd_free(&c);
		CHECK_RC(ctl_parse("stat", 4, &c, NULL, 0), 0);
		ctl_cmd_free(&c);
	}
}

static void test_parse_options(void)
{
	char names[64][64], line[1024], err[512];
	struct ctl_grammar fake = { .name = "fake", .opts = "type,doc" }, none = { .name = "none", .opts = "" };
	struct ctl_cmd c;
	int n, with_opts = 0;

	/* ctl_grammar_takes: whole keys only; key need not be NUL-terminated */
	CHECK(ctl_grammar_takes(&fake, "type", 4));
	CHECK(ctl_grammar_takes(&fake, "doc", 3));
	CHECK(ctl_grammar_takes(&fake, "doc=x y", 3));
	CHECK(!ctl_grammar_takes(&fake, "do", 2));
	CHECK(!ctl_grammar_takes(&fake, "typ", 3));
	CHECK(!ctl_grammar_takes(&fake, "types", 5));
	CHECK(!ctl_grammar_takes(&fake, "type,doc", 8));
	CHECK(!ctl_grammar_takes(&fake, "", 0));
	CHECK(!ctl_grammar_takes(&none, "doc", 3));
	CHECK(!ctl_grammar_takes(&none, "", 0));

	/* key=value words for verbs that take no such key are positional */
	CHECK_RC(parse("list a=b", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && c.nopts == 0 && strcmp(c.argv[0], "a=b") == 0);
	ctl_cmd_free(&c);
	CHECK_RC(parse("locate =x", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && c.nopts == 0 && strcmp(c.argv[0], "=x") == 0);
	ctl_cmd_free(&c);
	CHECK_RC(parse("help type=x", &c, err, sizeof(err)), 0);
	CHECK(c.argc == 1 && c.nopts == 0 && strcmp(c.argv[0], "type=x") == 0);
	ctl_cmd_free(&c);
	PARSE_FAILS_S("stat doc=x", -EINVAL, "usage"); /* not an option of stat: a word too many */
	PARSE_FAILS_S("locate doc=x doc=x", -EINVAL, "usage");

	/* every verb help names: known to ctl_verb_find, its usage starts with its name, its arity is
	 * enforced both ways, and its options (if any) parse as options */
	n = help_verbs(names, 64);
	CHECK(n >= 4);
	for (int i = 0; i < n; i++) {
		const struct ctl_verb *v = ctl_verb_find(names[i]);
		char key[64];
		size_t kl;

		CHECK(v && strcmp(v->g.name, names[i]) == 0);
		if (!v)
			continue;
		CHECK(strncmp(v->g.usage, v->g.name, strlen(v->g.name)) == 0);
		CHECK(v->g.min_args >= 0 && v->g.min_args <= v->g.max_args && v->g.max_args <= CTL_ARGS_MAX);
		CHECK(one_line(v->help));
		/* min_args words: parses (positional words are "p0" "p1" ..., never key=value) */
		snprintf(line, sizeof(line), "%s", v->g.name);
		for (int k = 0; k < v->g.min_args; k++)
			snprintf(line + strlen(line), sizeof(line) - strlen(line), " p%d", k);
		CHECK_RC(parse(line, &c, err, sizeof(err)), 0);
		CHECK(c.argc == v->g.min_args && c.nopts == 0 && strcmp(c.verb, v->g.name) == 0);
		ctl_cmd_free(&c);
		if (v->g.min_args > 0) { /* one missing */
			snprintf(line, sizeof(line), "%s", v->g.name);
			for (int k = 0; k < v->g.min_args - 1; k++)
				snprintf(line + strlen(line), sizeof(line) - strlen(line), " p%d", k);
			PARSE_FAILS_S(line, -EINVAL, v->g.usage);
		}
		if (v->g.max_args < CTL_ARGS_MAX) { /* one too many */
			snprintf(line, sizeof(line), "%s", v->g.name);
			for (int k = 0; k <= v->g.max_args; k++)
				snprintf(line + strlen(line), sizeof(line) - strlen(line), " p%d", k);
			PARSE_FAILS_S(line, -EINVAL, v->g.usage);
		}
		if (!*v->g.opts)
			continue;
		with_opts++;
		kl = strcspn(v->g.opts, ",");
		snprintf(key, sizeof(key), "%.*s", (int)kl, v->g.opts);
		CHECK(ctl_grammar_takes(&v->g, key, kl));
		snprintf(line, sizeof(line), "json %s", v->g.name);
		for (int k = 0; k < v->g.min_args; k++)
			snprintf(line + strlen(line), sizeof(line) - strlen(line), " p%d", k);
		{
			size_t at = strlen(line);
			/* an option, quoted as a shell user would */
			snprintf(line + at, sizeof(line) - at, " %s=\"x y\"", key);
			CHECK_RC(parse(line, &c, err, sizeof(err)), 0);
			CHECK(c.json && c.argc == v->g.min_args && c.nopts == 1 && strcmp(c.opt_key[0], key) == 0 &&
			      strcmp(c.opt_val[0], "x y") == 0);
			ctl_cmd_free(&c);
			/* an empty value is a value */
			snprintf(line + at, sizeof(line) - at, " %s=", key);
			CHECK_RC(parse(line, &c, err, sizeof(err)), 0);
			CHECK(c.nopts == 1 && strcmp(c.opt_val[0], "") == 0);
			ctl_cmd_free(&c);
			/* a value holding '=' keeps it */
			snprintf(line + at, sizeof(line) - at, " %s=a=b", key);
			CHECK_RC(parse(line, &c, err, sizeof(err)), 0);
			CHECK(c.nopts == 1 && strcmp(c.opt_val[0], "a=b") == 0);
			ctl_cmd_free(&c);
			/* given twice: refused, naming the key */
			snprintf(line + at, sizeof(line) - at, " %s=a %s=b", key, key);
			PARSE_FAILS_S(line, -EINVAL, key);
			/* options do not count as positional words */
			if (v->g.max_args == v->g.min_args) {
				snprintf(line + at, sizeof(line) - at, " %s=a", key);
				CHECK_RC(parse(line, &c, err, sizeof(err)), 0);
				ctl_cmd_free(&c);
			}
			/* an unknown key is a positional word */
			if (v->g.max_args > v->g.min_args) {
				snprintf(line + at, sizeof(line) - at, " zz%s=1", key);
				CHECK_RC(parse(line, &c, err, sizeof(err)), 0);
				CHECK(c.argc == v->g.min_args + 1 && c.nopts == 0);
				ctl_cmd_free(&c);
			}
		}
	}
	if (!with_opts)
		fprintf(stderr, "test_ctl: note: no verb takes key=value options yet; option parsing was checked "
				"through ctl_grammar_takes only\n");
}

/* ---- ctl_run against a store ---- */

static struct store *open_store(const char *name)
{
	char dir[512], node[80], msg[512] = "";
	struct store_config cfg = { .state_dir = dir, .node = node, .capacity = 64 << 20 };
	struct store *st = NULL;
	int rc;

	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	mkdir(dir, 0700);
	snprintf(node, sizeof(node), "%s-%s", tag, name);
	rc = store_init(&cfg, &st, msg, sizeof(msg));
	if (rc) {
		fprintf(stderr, "store_init %s: %d: %s\n", dir, rc, msg);
		check_failures++;
		return NULL;
	}
	return st;
}

/* A variable dir/name of len bytes, sealed unless h is given (then it stays open for writing). */
static uint64_t mkvar(struct store *st, uint64_t dir, const char *name, size_t len, struct store_handle **keep)
{
	static char data[8192];
	struct store_handle *h = NULL;
	struct store_attr a;
	int rc = store_create(st, dir, name, 0644, getuid(), getgid(), O_WRONLY | O_CREAT, getpid(), &a, &h);

	if (rc) {
		fprintf(stderr, "store_create %s: %d\n", name, rc);
		check_failures++;
		return 0;
	}
	memset(data, 'd', sizeof(data));
	for (size_t off = 0; off < len;) {
		size_t n = len - off < sizeof(data) ? len - off : sizeof(data);
		if (store_write(st, h, data, n, off) != (ssize_t)n) {
			fprintf(stderr, "store_write %s failed\n", name);
			check_failures++;
			break;
		}
		off += n;
	}
	if (keep)
		*keep = h;
	else
		store_release(st, h);
	return a.id;
}

static uint64_t mkdir_in(struct store *st, uint64_t dir, const char *name)
{
	struct store_attr a;
	int rc = store_mkdir(st, dir, name, 0755, getuid(), getgid(), &a);

	if (rc) {
		fprintf(stderr, "store_mkdir %s: %d\n", name, rc);
		check_failures++;
		return 0;
	}
	return a.id;
}

/* ctl_run of len bytes of line against st, for this process's user. */
static int run_len(struct store *st, const char *line, size_t len, struct text *a)
{
	char dir[512];
	struct ctl_env env = { .st = st, .state_dir = dir, .who = { getuid(), getgid(), getpid() } };

	snprintf(dir, sizeof(dir), "%s/ctl", base);
	return ctl_run(&env, line, len, a);
}

static int run(struct store *st, const char *line, struct text *a)
{
	return run_len(st, line, strlen(line), a);
}

/* ctl_run must fail with want and one sentence (containing hint when given). */
#define RUN_FAILS(st, line, want, hint)                                                                   \
	do {                                                                                              \
		struct text a_ = { 0 };                                                             \
		const char *h_ = (hint);                                                                  \
		int r_ = run((st), (line), &a_);                                                          \
		if (r_ != (want) || !one_sentence(&a_) || (h_ && !strstr(a_.buf, h_))) {                  \
			fprintf(stderr, "%s:%d: ctl_run(\"%.60s\"): %d \"%s\", want %d with \"%s\"\n",   \
				__FILE__, __LINE__, (line), r_, a_.buf ? a_.buf : "(null)", (int)(want),  \
				h_ ? h_ : "");                                                            \
			check_failures++;                                                                 \
		}                                                                                         \
		text_free(&a_);                                                                     \
	} while (0)

/* Sorted copy of an answer's lines joined by '\n' (for order-free comparison). */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *sorted_lines(const char *text)
{
	char *copy = strdup(text ? text : ""), *lines[512], *out, *save = NULL;
	size_t n = 0, total = 1;

	for (char *l = strtok_r(copy, "\n", &save); l && n < 512; l = strtok_r(NULL, "\n", &save)) {
		lines[n++] = l;
		total += strlen(l) + 1;
	}
	qsort(lines, n, sizeof(lines[0]), cmp_str);
	out = calloc(1, total);
	for (size_t i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
	}
	free(copy);
	return out;
}

/* The answer's lines, sorted, are exactly want's lines (sorted). */
static bool same_lines(const char *got, const char *want)
{
	char *g = sorted_lines(got), *w = sorted_lines(want);
	bool same = strcmp(g, w) == 0;

	if (!same)
		fprintf(stderr, "    got lines:\n%s    want lines:\n%s", g, w);
	free(g);
	free(w);
	return same;
}

static bool valid_json_quiet(const struct text *a)
{
	return a->buf && json_ok(a->buf, a->len) && python_json_ok(a->buf, a->len);
}

static bool valid_json(const struct text *a)
{
	bool ok = valid_json_quiet(a);

	if (!ok)
		fprintf(stderr, "    not a JSON document: %s\n", a->buf ? a->buf : "(null)");
	return ok;
}

struct fixture {
	uint64_t w, ab, quote, cafe, typed, empty, d1, d2, x, y, writing;
	char type[256];
	struct store_handle *wh;
};

static void make_fixture(struct store *st, struct fixture *f)
{
	ssize_t n;

	memset(f, 0, sizeof(*f));
	f->w = mkvar(st, STORE_VARS_ID, "w", 100, NULL);
	f->ab = mkvar(st, STORE_VARS_ID, "a b", 7, NULL);
	f->quote = mkvar(st, STORE_VARS_ID, "q\"t\\s", 3, NULL);
	f->cafe = mkvar(st, STORE_VARS_ID, "caf\xc3\xa9", 5000, NULL);
	f->typed = mkvar(st, STORE_VARS_ID, "typed", 80, NULL);
	CHECK_RC(store_setxattr(st, f->typed, "user.fabric.type", "10*float64", 10, 0), 0);
	n = store_getxattr(st, f->typed, "user.fabric.type", f->type, sizeof(f->type) - 1);
	CHECK(n > 0);
	f->type[n > 0 ? n : 0] = '\0';
	f->empty = mkvar(st, STORE_VARS_ID, "empty", 0, NULL);
	f->d1 = mkdir_in(st, STORE_VARS_ID, "d1");
	f->d2 = mkdir_in(st, f->d1, "d2");
	f->x = mkvar(st, f->d2, "x", 4097, NULL);
	f->y = mkvar(st, f->d1, "y", 1, NULL);
	f->writing = mkvar(st, STORE_VARS_ID, "writing", 10, &f->wh); /* still open: state writing */
}

static void locations(struct store *st, uint64_t id, char *buf, size_t len)
{
	ssize_t n = store_getxattr(st, id, "user.fabric.locations", buf, len - 1);

	CHECK(n > 0);
	buf[n > 0 ? n : 0] = '\0';
}

static void test_help(struct store *st)
{
	static const char *usages[] = { "help [VERB]", "list [PREFIX]", "locate NAME", "stat" };
	struct text a = { 0 };
	char want[128];

	CHECK_RC(run(st, "help", &a), 0);
	CHECK(text_ok(&a));
	for (size_t i = 0; i < sizeof(usages) / sizeof(usages[0]); i++) {
		/* each verb on a line of its own: its usage, a tab, what it does */
		snprintf(want, sizeof(want), "\n%s\t", usages[i]);
		if (!a.buf || (strncmp(a.buf, want + 1, strlen(want + 1)) != 0 && !strstr(a.buf, want))) {
			fprintf(stderr, "help does not list \"%s\": %s\n", usages[i], a.buf ? a.buf : "(null)");
			check_failures++;
		}
	}
	CHECK(a.buf && strstr(a.buf, "json")); /* and says json exists */
	for (size_t i = 0; i < sizeof(usages) / sizeof(usages[0]); i++) {
		char line[64], verb[32];
		snprintf(verb, sizeof(verb), "%.*s", (int)strcspn(usages[i], " "), usages[i]);
		snprintf(line, sizeof(line), "help %s\n", verb);
		CHECK_RC(run(st, line, &a), 0);
		snprintf(want, sizeof(want), "%s\t", usages[i]);
		CHECK(text_ok(&a) && strncmp(a.buf, want, strlen(want)) == 0);
		CHECK(a.len > strlen(want) + 1 && memchr(a.buf, '\n', a.len) == a.buf + a.len - 1); /* one line */
	}
	RUN_FAILS(st, "help frobnicate", -EINVAL, "frobnicate");
	RUN_FAILS(st, "help a b", -EINVAL, "help [VERB]");
	/* json help: ctl.h promises one JSON document for a first word json; a verb with no JSON form may
	 * instead refuse json cleanly (EINVAL and a sentence), but must not answer lines as if all went well */
	for (const char *l = "json help\0json help locate\0"; *l; l += strlen(l) + 1) {
		int rc = run(st, l, &a);
		if (!(rc == 0 && valid_json_quiet(&a)) && !(rc == -EINVAL && one_sentence(&a))) {
			fprintf(stderr, "%s:%d: \"%s\" gave %d and an answer that is neither a JSON document nor "
					"a refusal: %s", __FILE__, __LINE__, l, rc, a.buf ? a.buf : "(null)\n");
			check_failures++;
		}
	}
	text_free(&a);
}

static void test_list(struct store *st, const struct fixture *f)
{
	struct text a = { 0 };
	char want[2048];

	snprintf(want, sizeof(want),
		 "w\tvar\t100\t-\n"
		 "a b\tvar\t7\t-\n"
		 "q\"t\\s\tvar\t3\t-\n"
		 "caf\xc3\xa9\tvar\t5000\t-\n"
		 "typed\tvar\t80\t%s\n"
		 "empty\tvar\t0\t-\n"
		 "d1\tdir\t0\t-\n"
		 "d1/d2\tdir\t0\t-\n"
		 "d1/d2/x\tvar\t4097\t-\n"
		 "d1/y\tvar\t1\t-\n"
		 "writing\tvar\t10\t-\n",
		 f->type);
	CHECK_RC(run(st, "list", &a), 0);
	CHECK(text_ok(&a));
	CHECK(same_lines(a.buf, want));
	/* every line has exactly four tab-separated fields */
	for (char *p = a.buf; p && *p;) {
		char *nl = strchr(p, '\n');
		int tabs = 0;
		for (char *q = p; q < nl; q++)
			tabs += *q == '\t';
		CHECK(tabs == 3);
		p = nl + 1;
	}
	/* a directory comes before what it holds */
	CHECK(a.buf && strstr(a.buf, "d1\tdir") < strstr(a.buf, "d1/d2\tdir"));
	CHECK(a.buf && strstr(a.buf, "d1/d2\tdir") < strstr(a.buf, "d1/d2/x\t"));

	/* the prefix filter */
	CHECK_RC(run(st, "list d1", &a), 0);
	CHECK(same_lines(a.buf, "d1\tdir\t0\t-\nd1/d2\tdir\t0\t-\nd1/d2/x\tvar\t4097\t-\nd1/y\tvar\t1\t-\n"));
	CHECK_RC(run(st, "list d1/\n", &a), 0);
	CHECK(same_lines(a.buf, "d1/d2\tdir\t0\t-\nd1/d2/x\tvar\t4097\t-\nd1/y\tvar\t1\t-\n"));
	CHECK_RC(run(st, "list d1/d2/x", &a), 0);
	CHECK(same_lines(a.buf, "d1/d2/x\tvar\t4097\t-\n"));
	CHECK_RC(run(st, "list \"a b\"", &a), 0);
	CHECK(same_lines(a.buf, "a b\tvar\t7\t-\n"));
	CHECK_RC(run(st, "list \"q\\\"t\"", &a), 0);
	CHECK(same_lines(a.buf, "q\"t\\s\tvar\t3\t-\n"));
	CHECK_RC(run(st, "list nothing-here", &a), 0);
	CHECK(a.len == 0);

	/* json: one document; every name in it, escaped */
	CHECK_RC(run(st, "json list", &a), 0);
	CHECK(valid_json(&a));
	CHECK(a.buf && a.buf[0] == '[');
	static const char *names[] = { "\"w\"", "\"a b\"", "\"q\\\"t\\\\s\"", "\"d1/d2/x\"", "\"d1/d2\"",
				       "\"empty\"", "\"writing\"" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char key[64];
		snprintf(key, sizeof(key), "\"name\":%s", names[i]);
		if (!a.buf || !strstr(a.buf, key)) {
			fprintf(stderr, "json list lacks %s\n", key);
			check_failures++;
		}
	}
	CHECK(a.buf && strstr(a.buf, "\"kind\":\"dir\"") && strstr(a.buf, "\"kind\":\"var\""));
	CHECK(a.buf && strstr(a.buf, "\"size\":4097"));
	CHECK(a.buf && strstr(a.buf, "\"type\":null"));
	{
		char t[300];
		snprintf(t, sizeof(t), "\"type\":\"%s\"", f->type);
		CHECK(a.buf && strstr(a.buf, t));
	}
	CHECK_RC(run(st, "json list d1/d2", &a), 0);
	CHECK(valid_json(&a));
	CHECK(a.buf && strstr(a.buf, "\"name\":\"d1/d2/x\"") && !strstr(a.buf, "\"name\":\"w\""));
	CHECK_RC(run(st, "json list nothing-here", &a), 0);
	CHECK(valid_json(&a));
	CHECK(a.buf && strcmp(a.buf, "[]\n") == 0);

	RUN_FAILS(st, "list a b", -EINVAL, "list [PREFIX]");
	text_free(&a);
}

/* locate NAME: the answer is the variable's user.fabric.locations, one extent a line. */
static void check_locate(struct store *st, const char *cmdname, uint64_t id)
{
	struct text a = { 0 };
	char loc[1024], want[1100], line[300], node[128], shm[256], key[400];
	unsigned long long off = 0, len = 0;

	locations(st, id, loc, sizeof(loc));
	snprintf(want, sizeof(want), "%s\n", loc);
	snprintf(line, sizeof(line), "locate %s", cmdname);
	CHECK_RC(run(st, line, &a), 0);
	if (!a.buf || strcmp(a.buf, want) != 0) {
		fprintf(stderr, "%s: got \"%s\", want \"%s\"\n", line, a.buf ? a.buf : "(null)", want);
		check_failures++;
	}
	snprintf(line, sizeof(line), "json locate %s\n", cmdname);
	CHECK_RC(run(st, line, &a), 0);
	CHECK(valid_json(&a));
	CHECK(sscanf(loc, "%127s %255s %llu %llu", node, shm, &off, &len) == 4);
	snprintf(key, sizeof(key), "\"node\":\"%s\"", node);
	CHECK(a.buf && strstr(a.buf, key));
	snprintf(key, sizeof(key), "\"shm\":\"%s\"", shm);
	CHECK(a.buf && strstr(a.buf, key));
	snprintf(key, sizeof(key), "\"offset\":%llu", off);
	CHECK(a.buf && strstr(a.buf, key));
	snprintf(key, sizeof(key), "\"length\":%llu", len);
	if (!a.buf || !strstr(a.buf, key)) {
		fprintf(stderr, "%s: \"%s\" lacks %s (locations \"%s\")\n", line, a.buf ? a.buf : "(null)", key,
			loc);
		check_failures++;
	}
	text_free(&a);
}

static void test_locate(struct store *st, const struct fixture *f)
{
	char loc[1024];

	check_locate(st, "w", f->w);
	check_locate(st, "\"a b\"", f->ab);
	check_locate(st, "\"q\\\"t\\\\s\"", f->quote);
	check_locate(st, "caf\xc3\xa9", f->cafe);
	check_locate(st, "d1/d2/x", f->x);
	check_locate(st, "d1//d2/./x", f->x);
	check_locate(st, "/d1/y", f->y);
	check_locate(st, "writing", f->writing);
	check_locate(st, "typed", f->typed);
	/* the extent of a 100-byte variable is its 100 bytes */
	locations(st, f->w, loc, sizeof(loc));
	CHECK(strstr(loc, " 100") == loc + strlen(loc) - 4);
	/* an empty variable: as for any other, the answer is its locations */
	check_locate(st, "empty", f->empty);

	RUN_FAILS(st, "locate nosuch", -ENOENT, "nosuch");
	RUN_FAILS(st, "json locate nosuch", -ENOENT, "nosuch");
	RUN_FAILS(st, "locate d1/nosuch", -ENOENT, "d1/nosuch");
	RUN_FAILS(st, "locate \"a  b\"", -ENOENT, NULL);
	RUN_FAILS(st, "locate d1", -EISDIR, "d1");
	RUN_FAILS(st, "locate d1/d2/", -EISDIR, NULL);
	RUN_FAILS(st, "json locate d1", -EISDIR, NULL);
	RUN_FAILS(st, "locate .", -EISDIR, NULL); /* vars/ itself */
	RUN_FAILS(st, "locate w/x", -ENOTDIR, NULL);
	RUN_FAILS(st, "locate", -EINVAL, "locate NAME");
	RUN_FAILS(st, "locate a b", -EINVAL, "locate NAME");
	{
		/* a name as long as a line can hold */
		static char line[CTL_LINE_MAX + 1];
		memset(line, 'n', CTL_LINE_MAX);
		memcpy(line, "locate ", 7);
		line[CTL_LINE_MAX] = '\0';
		struct text a = { 0 };
		int rc = run(st, line, &a);
		CHECK(rc == -ENOENT || rc == -ENAMETOOLONG);
		CHECK(one_sentence(&a));
		text_free(&a);
	}
}

/* A name that is not UTF-8 (Latin-1 "latin" with an e-acute, as cp of an old file makes: the fabric takes
 * any bytes but '/', '@' and control characters): json list must still be one JSON document, which
 * RFC 8259 wants in UTF-8 (python's json refuses it otherwise). */
static void test_json_bytes(struct store *st)
{
	struct text a = { 0 };
	uint64_t enc = mkdir_in(st, STORE_VARS_ID, "enc");

	mkvar(st, enc, "lat\xe9n", 2, NULL);
	CHECK_RC(run(st, "list enc/", &a), 0);
	CHECK(a.buf && strcmp(a.buf, "enc/lat\xe9n\tvar\t2\t-\n") == 0); /* text: the name's bytes */
	CHECK_RC(run(st, "json list enc/", &a), 0);
	CHECK(valid_json(&a));
	text_free(&a);
}

static void test_stat(struct store *st)
{
	struct text a = { 0 };
	unsigned long long cap = 0, used = 0, fr = 0, vars = 0;
	uint64_t scap, sused, sobj;
	char node[128] = "", want[256];

	CHECK_RC(run(st, "stat", &a), 0);
	store_statfs(st, &scap, &sused, &sobj);
	CHECK(text_ok(&a));
	CHECK(a.buf && sscanf(a.buf, "node\t%127[^\n]\ncapacity\t%llu\nused\t%llu\nfree\t%llu\nvariables\t%llu\n",
			      node, &cap, &used, &fr, &vars) == 5);
	CHECK(strcmp(node, store_node_name(st)) == 0);
	CHECK(cap == scap && cap == 64 << 20);
	CHECK(used == sused && used > 0);
	CHECK(fr == scap - sused);
	CHECK(vars == sobj);
	/* each line is KEY\tVALUE */
	for (const char *k = "node\0capacity\0used\0free\0variables\0"; *k; k += strlen(k) + 1) {
		snprintf(want, sizeof(want), "%s\t", k);
		CHECK(a.buf && (strncmp(a.buf, want, strlen(want)) == 0 || strstr(a.buf, want)));
	}

	CHECK_RC(run(st, "json stat", &a), 0);
	CHECK(valid_json(&a));
	snprintf(want, sizeof(want), "\"capacity\":%llu", (unsigned long long)scap);
	CHECK(a.buf && strstr(a.buf, want));
	snprintf(want, sizeof(want), "\"used\":%llu", (unsigned long long)sused);
	CHECK(a.buf && strstr(a.buf, want));
	snprintf(want, sizeof(want), "\"free\":%llu", (unsigned long long)(scap - sused));
	CHECK(a.buf && strstr(a.buf, want));
	snprintf(want, sizeof(want), "\"variables\":%llu", (unsigned long long)sobj);
	CHECK(a.buf && strstr(a.buf, want));
	snprintf(want, sizeof(want), "\"node\":\"%s\"", store_node_name(st));
	CHECK(a.buf && strstr(a.buf, want));

	RUN_FAILS(st, "stat x", -EINVAL, "stat");
	RUN_FAILS(st, "json stat x", -EINVAL, "stat");
	text_free(&a);
}

static void test_run_errors(struct store *st)
{
	struct text a = { 0 };
	char line[CTL_LINE_MAX + 16];

	RUN_FAILS(st, "", -EINVAL, NULL);
	RUN_FAILS(st, "\n", -EINVAL, NULL);
	RUN_FAILS(st, "json", -EINVAL, NULL);
	RUN_FAILS(st, "frobnicate now", -EINVAL, "frobnicate");
	RUN_FAILS(st, "stat\n\n", -EINVAL, NULL);
	RUN_FAILS(st, "locate \"w", -EINVAL, "quote");
	memset(line, 'a', sizeof(line));
	memcpy(line, "locate ", 7);
	line[CTL_LINE_MAX + 1] = '\0';
	RUN_FAILS(st, line, -E2BIG, CTL_LINE_MAX_TEXT);

	/* a new command replaces the answer, success or failure */
	CHECK_RC(run(st, "stat", &a), 0);
	CHECK_RC(run(st, "locate nosuch", &a), -ENOENT);
	CHECK(one_sentence(&a) && !strstr(a.buf, "capacity"));
	CHECK_RC(run(st, "help stat", &a), 0);
	CHECK(a.buf && strncmp(a.buf, "stat\t", 5) == 0 && !strstr(a.buf, "nosuch"));
	CHECK_RC(run_len(st, "stat\0", 5, &a), -EINVAL);
	CHECK(one_sentence(&a));
	text_free(&a);
	CHECK(a.buf == NULL && a.len == 0);
	text_free(&a); /* twice is fine */

	/* text_printf grows the buffer as needed */
	for (int i = 0; i < 20000; i++)
		CHECK_RC(text_printf(&a, "%d\n", i % 10), 0);
	CHECK(a.len == 40000 && strlen(a.buf) == 40000 && a.cap > a.len);
	text_reset(&a);
	CHECK(a.len == 0 && a.buf[0] == '\0');
	text_free(&a);
}

static int run_all(void)
{
	struct store *st;
	struct fixture f;

	check_json_checker();
	test_parse_basic();
	test_parse_quoting();
	test_parse_errors();
	test_parse_options();
	st = open_store("ctl");
	if (st) {
		make_fixture(st, &f);
		test_help(st);
		test_list(st, &f);
		test_locate(st, &f);
		test_stat(st);
		test_run_errors(st);
		test_json_bytes(st); /* last: its variable would spoil the other json lists */
		if (f.wh)
			store_release(st, f.wh);
		store_destroy(st);
	}
	if (check_failures)
		fprintf(stderr, "test_ctl: %d check(s) failed\n", check_failures);
	return CHECK_DONE();
}

int main(void)
{
	return fixture_main("test_ctl", "ut", 60, run_all);
}
