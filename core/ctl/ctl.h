/* SPDX-License-Identifier: MIT */
/* ctl.h -- the control file's language and its verbs: one command line in, one answer out.
 *
 * core/ctl/ is the top room of core: the language a user speaks to /fabric/ctl, and the verbs it names
 * (store verbs, load/checkpoint/restore, tasks), each run through the rooms below it that it drives
 * (store, bulk, task; text for its words and answers).  Nothing in core uses it; fs/ only moves lines in
 * and answers out.
 *
 * A user writes one line to /fabric/ctl ("locate run1/w") and reads back that command's answer on the
 * same open file.  Lines are words separated by blanks; a word may be quoted with "..." (with \" \\ \n \t
 * inside) to hold blanks, newlines and tabs; a word "key=value" whose key the verb knows is an option;
 * after a bare word "--" every word is positional (a task's program and its arguments).  A first word
 * "json" asks for the answer as one JSON document instead of lines.
 *
 * Answers: on success, text, one item a line (fields separated by tabs where a field may hold blanks);
 * on failure, run returns a negative errno and the answer is one sentence saying what was wrong and how
 * to fix it.  Ownership: the answer (a struct text, core/text/text.h) belongs to the caller (text_free). */
#ifndef FABRIC_CORE_CTL_H
#define FABRIC_CORE_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/bulk/load.h"
#include "core/store/store.h"
#include "core/task/task.h"
#include "core/text/text.h"

#define CTL_LINE_MAX 65536 /* bytes in one command line, newline excluded */
#define CTL_LINE_MAX_TEXT "65536"
#define CTL_ARGS_MAX 300 /* words in one command line (a task's program takes up to TASK_ARGV_MAX) */
#define CTL_ARGS_MAX_TEXT "300"

/* A parsed line: words point into the parser's own copy of the line (valid until ctl_cmd_free). */
struct ctl_cmd {
	bool json;
	const char *verb;
	int argc;                    /* positional words after the verb */
	int dashdash;                /* argv[dashdash..] came after a bare "--" (no options there); -1: none */
	const char *argv[CTL_ARGS_MAX];
	int nopts;
	const char *opt_key[CTL_ARGS_MAX], *opt_val[CTL_ARGS_MAX];
	char *copy;
};

/* Split a line into a command: -EINVAL with a sentence in err for an unknown verb, a wrong number of
 * words, an option the verb does not take, bad quoting, a NUL or control character, or too many words;
 * -E2BIG past CTL_LINE_MAX.  A trailing "\n" is allowed.  On success free the command with ctl_cmd_free. */
int ctl_parse(const char *line, size_t len, struct ctl_cmd *cmd, char *err, size_t errlen);
void ctl_cmd_free(struct ctl_cmd *cmd);

/* What a command runs against, and for whom (files are opened with the caller's credentials). */
struct ctl_env {
	struct store *st;
	const char *state_dir; /* default place of checkpoints: STATE/checkpoint */
	struct load_caller who;
	struct tasks *tasks; /* NULL: this daemon runs no tasks (spawn, kill, forget, tasks refuse) */
	struct cluster *cluster; /* NULL: a single node (move refuses) */
	struct datasets *datasets; /* NULL: no keeper of datasets (dataset refuses) */
};

/* Parse and run one line; the answer (or the error sentence) replaces ans's contents. */
int ctl_run(const struct ctl_env *env, const char *line, size_t len, struct text *ans);

/* In a cluster, answer other nodes' `dataset tree` of this node's datasets (DATASET_TREE_VERB) and take
 * the items their writers make in them (DATASET_ITEM_VERB), with base (its store and datasets; kept by the
 * caller for the cluster's life; who is each request's). */
#define DATASET_TREE_VERB "dataset.tree"
#define DATASET_ITEM_VERB "dataset.item"
int ctl_dataset_serve(struct cluster *c, const struct ctl_env *base);
/* The other end: send the bytes of fd (all of them, at most TRANSFER_CALL_MAX less 4 KiB) as a new item
 * of another node's dataset, with their xxh3, and put the item the node made (its id into *id) in this
 * node's index of the other nodes' objects ahead of the catalog.  0, or that node's errno with why. */
struct dataset_item_out {
	const char *node;  /* the dataset's node */
	int64_t dir;       /* its directory's id there */
	const char *dataset, *key;
	uint32_t mode, uid, gid;
	int64_t made_ns;
};
int ctl_dataset_send_item(struct cluster *c, const struct dataset_item_out *it, int fd, int64_t *id, char *why,
			  size_t whylen);

#endif
