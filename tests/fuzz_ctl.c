/* SPDX-License-Identifier: MIT */
/* fuzz_ctl.c -- a libFuzzer target for the control language: arbitrary bytes as one command line.
 *
 *     make fuzz                      # FUZZ_SECONDS=60 by default; seeds in tests/fuzz/ctl/
 *     tests/fuzz_ctl CRASH-FILE      # replay one input
 *
 * Each input goes to ctl_parse, which must never crash and must keep its contract (ctl.h): rc is 0,
 * -EINVAL, -E2BIG or -ENOMEM; on failure err is a NUL-terminated, non-empty sentence on one line and
 * nothing is left to free; on success the verb exists, the positional words fit its arity, argc and nopts
 * stay within CTL_ARGS_MAX, every word is a NUL-terminated string inside the parser's copy with no control
 * character, every option is a key the verb takes and no key comes twice, the line was at most
 * CTL_LINE_MAX bytes plus one newline and held no control character but tabs.  Parsing is also checked to
 * be a fixed point: the words, quoted back into a line, parse to the same command.
 *
 * The same bytes then go to ctl_run against one small store made once (a temp state dir and a node
 * "fuzzctl<PID>", both removed at exit; leftovers of a crashed run are swept at the next start), but only
 * for the verbs that change nothing (help, list, locate, stat): the answer is NUL-free text ending in a
 * newline (or empty), one sentence on failure with the parser's errno, and one JSON document for `json
 * list|locate|stat`. */
#include "core/ctl/ctlInt.h"
#include "core/os/shm.h"
#include "core/store/store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NODE_PREFIX "fuzzctl"
#define DIR_PREFIX "/tmp/fabric-fuzz_ctl."

static struct store *st;
static char state_dir[256];
static char node[64];

#define FAIL(...)                                                                          \
	do {                                                                               \
		fprintf(stderr, "fuzz_ctl: %s:%d: ", __FILE__, __LINE__);                  \
		fprintf(stderr, __VA_ARGS__);                                              \
		fprintf(stderr, "\n");                                                     \
		abort();                                                                   \
	} while (0)
#define REQUIRE(cond)                                                                      \
	do {                                                                               \
		if (!(cond))                                                               \
			FAIL("invariant broken: %s", #cond);                               \
	} while (0)

#include "tests/json_check.h"

/* ---- the store: made once, removed at exit ---- */

static void quiet(const char *msg)
{
	(void)msg;
}

static void rm_tree(const char *dir)
{
	char cmd[600];

	if (strncmp(dir, DIR_PREFIX, strlen(DIR_PREFIX)) != 0 || strchr(dir, '\''))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_ctl: could not remove %s\n", dir);
}

/* Remove the shm objects of node NODE_PREFIX<pid> (pid 0: of every such node whose process is gone) and,
 * for pid 0, the state dirs of runs whose process is gone. */
static void sweep(pid_t pid)
{
	char path[600];
	struct dirent *de;
	DIR *d = opendir(SHM_DIR);
	const char *pre = "fabric." NODE_PREFIX;

	while (d && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, pre, strlen(pre)) != 0)
			continue;
		long p = strtol(de->d_name + strlen(pre), NULL, 10);
		if (pid ? p != pid : (p <= 0 || kill((pid_t)p, 0) == 0 || errno != ESRCH))
			continue;
		snprintf(path, sizeof(path), "/%s", de->d_name);
		shm_unlink(path);
	}
	if (d)
		closedir(d);
	if (pid)
		return;
	d = opendir("/tmp");
	while (d && (de = readdir(d)) != NULL) {
		const char *dp = &DIR_PREFIX[strlen("/tmp/")];
		if (strncmp(de->d_name, dp, strlen(dp)) != 0)
			continue;
		long p = strtol(de->d_name + strlen(dp), NULL, 10);
		if (p <= 0 || kill((pid_t)p, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "/tmp/%s", de->d_name);
		rm_tree(path);
	}
	if (d)
		closedir(d);
}

static void cleanup(void)
{
	store_destroy(st);
	st = NULL;
	sweep(getpid());
	if (state_dir[0])
		rm_tree(state_dir);
}

static void mkvar(uint64_t dir, const char *name, size_t len, const char *type)
{
	static const char data[8192];
	struct store_handle *h = NULL;
	struct store_attr a;

	if (store_create(st, dir, name, 0644, getuid(), getgid(), O_WRONLY | O_CREAT, getpid(), &a, &h))
		FAIL("store_create %s", name);
	if (len && store_write(st, h, data, len, 0) != (ssize_t)len)
		FAIL("store_write %s", name);
	store_release(st, h);
	if (type && store_setxattr(st, a.id, "user.fabric.type", type, strlen(type), 0))
		FAIL("type of %s", name);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct store_config cfg = { .state_dir = state_dir, .node = node, .capacity = 16 << 20, .log = quiet };
	struct store_attr d1, d2;
	char msg[512] = "";

	(void)argc;
	(void)argv;
	sweep(0);
	snprintf(state_dir, sizeof(state_dir), DIR_PREFIX "%d.XXXXXX", (int)getpid());
	if (!mkdtemp(state_dir)) {
		state_dir[0] = '\0';
		FAIL("mkdtemp: %s", strerror(errno));
	}
	snprintf(node, sizeof(node), NODE_PREFIX "%d", (int)getpid());
	atexit(cleanup);
	if (store_init(&cfg, &st, msg, sizeof(msg)))
		FAIL("store_init: %s", msg);
	mkvar(STORE_VARS_ID, "w", 100, NULL);
	mkvar(STORE_VARS_ID, "a b", 7, "7*uint8");
	mkvar(STORE_VARS_ID, "q\"t\\s", 3, NULL);
	mkvar(STORE_VARS_ID, "x=1", 0, NULL);
	if (store_mkdir(st, STORE_VARS_ID, "d1", 0755, getuid(), getgid(), &d1) ||
	    store_mkdir(st, d1.id, "d2", 0755, getuid(), getgid(), &d2))
		FAIL("store_mkdir");
	mkvar(d2.id, "x", 4097, "4097*int8");
	mkvar(d1.id, "caf\xc3\xa9", 1, NULL);
	return 0;
}

/* ---- the checks ---- */

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* s is NUL-terminated inside [lo, hi) and has no control character but tabs and newlines (which only
 * the escapes \t and \n inside quotes make). */
static void check_word(const char *s, const char *lo, const char *hi)
{
	REQUIRE(s >= lo && s < hi);
	const char *end = memchr(s, '\0', (size_t)(hi - s));
	REQUIRE(end != NULL);
	for (const char *p = s; p < end; p++)
		REQUIRE(!is_ctl((unsigned char)*p) || *p == '\t' || *p == '\n');
}

/* An error sentence from the parser: NUL-terminated inside err, non-empty, one line (it may quote a word,
 * and words may hold tabs, but no other control character). */
static void check_err(const char *err, size_t len)
{
	const char *end = memchr(err, '\0', len);

	REQUIRE(end != NULL && end > err);
	for (const char *p = err; p < end; p++)
		REQUIRE(!is_ctl((unsigned char)*p) || *p == '\t');
}

/* Append word w to line, quoted so that it parses back to exactly w. */
static void put_quoted(char *line, size_t *n, size_t cap, const char *w)
{
	if (*n + 1 < cap)
		line[(*n)++] = '"';
	for (; *w && *n + 3 < cap; w++) {
		if (*w == '"' || *w == '\\' || *w == '\n')
			line[(*n)++] = '\\';
		line[(*n)++] = *w == '\n' ? 'n' : *w;
	}
	if (*n + 1 < cap)
		line[(*n)++] = '"';
}

/* The command, quoted back into a line, parses to the same command (when the line fits). */
static void check_roundtrip(const struct ctl_cmd *c)
{
	static char line[4 * CTL_LINE_MAX + 64];
	size_t n = 0, cap = sizeof(line) - 2;
	struct ctl_cmd r;
	char err[512];
	int rc;

	n = (size_t)snprintf(line, cap, "%s%s", c->json ? "json " : "", c->verb);
	int dd = c->dashdash >= 0 ? c->dashdash : c->argc;
	for (int i = 0; i < dd; i++) {
		line[n++] = ' ';
		put_quoted(line, &n, cap, c->argv[i]);
	}
	for (int i = 0; i < c->nopts; i++) {
		n += (size_t)snprintf(line + n, cap - n, " %s=", c->opt_key[i]);
		put_quoted(line, &n, cap, c->opt_val[i]);
	}
	if (c->dashdash >= 0 && n + 3 < cap) { /* bare: it ends the options; the rest are words */
		memcpy(line + n, " --", 3);
		n += 3;
	}
	for (int i = dd; i < c->argc && n + 1 < cap; i++) {
		line[n++] = ' ';
		put_quoted(line, &n, cap, c->argv[i]);
	}
	if (n >= cap - 4 || n > CTL_LINE_MAX)
		return; /* quoting made it too long to be a line */
	line[n++] = '\n';
	rc = ctl_parse(line, n, &r, err, sizeof(err));
	if (rc != 0)
		FAIL("the quoted form of a parsed line does not parse (%d: %s): %.*s", rc, err, (int)n, line);
	REQUIRE(r.json == c->json && strcmp(r.verb, c->verb) == 0);
	REQUIRE(r.argc == c->argc && r.nopts == c->nopts && r.dashdash == c->dashdash);
	for (int i = 0; i < c->argc; i++)
		REQUIRE(strcmp(r.argv[i], c->argv[i]) == 0);
	for (int i = 0; i < c->nopts; i++)
		REQUIRE(strcmp(r.opt_key[i], c->opt_key[i]) == 0 && strcmp(r.opt_val[i], c->opt_val[i]) == 0);
	ctl_cmd_free(&r);
}

/* Verbs that change nothing, so arbitrary input may run them; and those with a JSON form among them. */
static bool read_only(const char *verb)
{
	return strcmp(verb, "help") == 0 || strcmp(verb, "list") == 0 || strcmp(verb, "locate") == 0 ||
	       strcmp(verb, "stat") == 0;
}

static bool has_json(const char *verb)
{
	return strcmp(verb, "list") == 0 || strcmp(verb, "locate") == 0 || strcmp(verb, "stat") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	size_t body = size && data[size - 1] == '\n' ? size - 1 : size;
	char err[512];
	struct ctl_cmd c;
	int rc;

	memset(err, 0x55, sizeof(err));
	rc = ctl_parse(line, size, &c, err, sizeof(err));
	REQUIRE(rc == 0 || rc == -EINVAL || rc == -E2BIG || rc == -ENOMEM);
	if (body > CTL_LINE_MAX)
		REQUIRE(rc == -E2BIG);
	if (rc) {
		check_err(err, sizeof(err));
		REQUIRE(c.copy == NULL);
		ctl_cmd_free(&c);
	} else {
		const struct ctl_verb *v = c.verb ? ctl_verb_find(c.verb) : NULL;
		const char *lo = c.copy, *hi = c.copy ? c.copy + body + 1 : NULL;

		REQUIRE(body <= CTL_LINE_MAX);
		for (size_t i = 0; i < body; i++)
			REQUIRE(!is_ctl(data[i]) || data[i] == '\t');
		REQUIRE(v != NULL && strcmp(v->g.name, c.verb) == 0);
		REQUIRE(c.copy != NULL);
		REQUIRE(c.argc >= v->g.min_args && c.argc <= v->g.max_args);
		REQUIRE(c.argc >= 0 && c.nopts >= 0 && c.argc + c.nopts <= CTL_ARGS_MAX);
		for (int i = 0; i < c.argc; i++)
			check_word(c.argv[i], lo, hi);
		for (int i = 0; i < c.nopts; i++) {
			check_word(c.opt_key[i], lo, hi);
			check_word(c.opt_val[i], lo, hi);
			REQUIRE(ctl_grammar_takes(&v->g, c.opt_key[i], strlen(c.opt_key[i])));
			for (int j = 0; j < i; j++)
				REQUIRE(strcmp(c.opt_key[i], c.opt_key[j]) != 0);
		}
		check_roundtrip(&c);
	}

	/* ctl_run: a refused line answers its sentence; a verb that changes nothing runs on the store */
	if (rc || read_only(c.verb)) {
		struct ctl_env env = { .st = st, .state_dir = state_dir, .who = { getuid(), getgid(), getpid() } };
		struct text a = { 0 };
		bool json = rc == 0 && c.json && has_json(c.verb);
		int r = ctl_run(&env, line, size, &a);

		if (rc)
			REQUIRE(r == rc);
		REQUIRE(r <= 0 && r > -4096);
		REQUIRE(a.len == 0 || (a.buf && strlen(a.buf) == a.len && a.buf[a.len - 1] == '\n'));
		if (r) {
			REQUIRE(a.len >= 2 && memchr(a.buf, '\n', a.len) == a.buf + a.len - 1);
		} else if (json && !json_ok(a.buf, a.len)) {
			FAIL("json answer is not one JSON document: %s", a.buf ? a.buf : "(null)");
		}
		text_free(&a);
	}
	if (rc == 0)
		ctl_cmd_free(&c);
	return 0;
}
