/* SPDX-License-Identifier: MIT */
/* task_text.c -- what the files of tasks/ID/ say, and the `tasks` table.
 *
 *   cmd      the program's words, quoted for a POSIX shell so the line can be pasted back
 *   status   "STATE queued=TIME [started=TIME] [ended=TIME] [exit=N | signal=N]", then, once placed,
 *            "placed NODE: WHY", then for a task that did not exit 0, "reason: SENTENCE"
 *   exit     empty until it ends; then the code `fabric wait` exits with: the exit status, 128+N for a
 *            task ended by signal N (killed, timed-out), 127 when the program could not be started, 1
 *            for one that exited 0 but failed (an output not written, or not kept),
 *            125 when it never ran or its end was not seen (cancelled, killed while queued, lost)
 *   node     where it was placed; empty while queued
 * Times are UTC, ISO 8601 with milliseconds. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "core/task/taskInt.h"
#include "core/text/text.h"

void task_output_path(const struct tasks *t, uint64_t id, int which, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%llu.%s", t->task_dir, (unsigned long long)id, which ? "err" : "out");
}

int task_exit_code(const struct task *k)
{
	if (k->exit_status < 0)
		return 125;
	if (WIFSIGNALED((int)k->exit_status))
		return 128 + WTERMSIG((int)k->exit_status);
	if (k->state == T_FAILED && WEXITSTATUS((int)k->exit_status) == 0)
		return 1; /* exited 0, but an output was not written or not kept */
	return WEXITSTATUS((int)k->exit_status);
}

static void iso(int64_t ns, char *buf, size_t len)
{
	time_t s = (time_t)(ns / 1000000000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ns % 1000000000 / 1000000));
}

/* A word as a POSIX shell reads it back: bare when it is plain, else in single quotes. */
static void put_word(struct text *x, const char *w)
{
	bool plain = *w != '\0';

	for (const char *p = w; *p && plain; p++)
		plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=:,+-@%", *p) != NULL;
	if (plain) {
		text_printf(x, "%s", w);
		return;
	}
	text_printf(x, "'");
	for (const char *p = w; *p; p++) {
		if (*p == '\'')
			text_printf(x, "'\\''");
		else
			text_printf(x, "%c", *p);
	}
	text_printf(x, "'");
}

/* What a group runs instead of a program: its tasks, comma-separated, between head and tail. */
static void group_text(struct text *x, const struct task *k, const char *head, const char *tail)
{
	text_printf(x, "%s", head);
	for (const char *p = k->after; p && *p; p++)
		text_printf(x, "%c", *p == '\n' ? ',' : *p);
	text_printf(x, "%s", tail);
}

int task_text(struct tasks *t, const struct task *k, enum task_file f, char **buf, size_t *len)
{
	struct text x = { 0 };
	char a[64], b[64], c[64];

	(void)t;
	switch (f) {
	case TASK_CMD:
		if (k->argc == 0) /* a comment: pasted back it does nothing */
			group_text(&x, k, "# a group of tasks ", "");
		for (size_t i = 0; i < k->argc; i++) {
			if (i)
				text_printf(&x, " ");
			put_word(&x, k->argv[i]);
		}
		text_printf(&x, "\n");
		break;
	case TASK_STATUS:
		iso(k->queued_ns, a, sizeof(a));
		text_printf(&x, "%s queued=%s", task_state_names[k->state], a);
		if (k->started_ns) {
			iso(k->started_ns, b, sizeof(b));
			text_printf(&x, " started=%s", b);
		}
		if (k->ended_ns) {
			iso(k->ended_ns, c, sizeof(c));
			text_printf(&x, " ended=%s", c);
		}
		if (k->exit_status >= 0 && WIFSIGNALED((int)k->exit_status))
			text_printf(&x, " signal=%d", WTERMSIG((int)k->exit_status));
		else if (k->exit_status >= 0)
			text_printf(&x, " exit=%d", WEXITSTATUS((int)k->exit_status));
		text_printf(&x, "\n");
		if (*k->node)
			text_printf(&x, "placed %s: %s\n", k->node, k->placed);
		if (*k->why)
			text_printf(&x, "reason: %s\n", k->why);
		break;
	case TASK_EXIT:
		if (k->state != T_QUEUED && k->state != T_RUNNING)
			text_printf(&x, "%d\n", task_exit_code(k));
		break;
	case TASK_NODE:
		if (*k->node)
			text_printf(&x, "%s\n", k->node);
		break;
	default:
		return -EINVAL;
	}
	return text_take(&x, buf, len);
}

int task_row(struct text *x, const struct task *k)
{
	text_printf(x, "%llu\t%s\t%s\t", (unsigned long long)k->id, task_state_names[k->state], *k->node ? k->node : "-");
	if (k->state != T_QUEUED && k->state != T_RUNNING)
		text_printf(x, "%d\t", task_exit_code(k));
	else
		text_printf(x, "-\t");
	if (k->argc == 0)
		group_text(x, k, "(group of tasks ", ")");
	for (size_t i = 0; i < k->argc; i++) {
		if (i)
			text_printf(x, " ");
		for (const char *p = k->argv[i]; *p; p++)
			text_printf(x, "%c", *p == '\t' || *p == '\n' ? ' ' : *p);
	}
	return text_printf(x, "\n");
}

static int by_id(const void *a, const void *b)
{
	unsigned long long x = strtoull(*(char *const *)a, NULL, 10), y = strtoull(*(char *const *)b, NULL, 10);

	return x < y ? -1 : x > y;
}

/* The rows of text x in id order (another node's come after this one's). */
static int sort_rows(struct text *x, char **out, size_t *len)
{
	char *all = NULL, **rows = NULL;
	size_t alllen = 0, n = 0;
	struct text y = { 0 };
	int rc = text_take(x, &all, &alllen);

	for (size_t i = 0; rc == 0 && i < alllen; i++)
		n += all[i] == '\n';
	if (rc == 0 && !(rows = calloc(n + 1, sizeof(*rows))))
		rc = -ENOMEM;
	n = 0;
	for (char *p = all, *e; rc == 0 && p < all + alllen && (e = memchr(p, '\n', (size_t)(all + alllen - p))); p = e + 1) {
		*e = '\0';
		rows[n++] = p;
	}
	if (rc == 0)
		qsort(rows, n, sizeof(*rows), by_id);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = text_printf(&y, "%s\n", rows[i]);
	if (rc == 0)
		rc = text_take(&y, out, len);
	text_free(&y);
	free(rows);
	free(all);
	return rc;
}

int tasks_table(struct tasks *t, char **out, size_t *len)
{
	struct text x = { 0 };

	pthread_mutex_lock(&t->lock);
	for (struct task *k = t->first; k; k = k->next)
		task_row(&x, k);
	pthread_mutex_unlock(&t->lock);
	if (!t->net)
		return text_take(&x, out, len);
	task_net_rows(t, &x);
	return sort_rows(&x, out, len);
}
