/* SPDX-License-Identifier: MIT */
/* ctlInt.h -- what the files of the control language share, and which file does what.
 *
 *   ctl.c         the verb table and dispatch: ctl_verb_find, ctl_parse against the table, ctl_run, help
 *   ctl_store.c   the store's verbs: list, locate, stat, allocate, deallocate, defragment, mutable, shard
 *   ctl_bulk.c    load, checkpoint, restore (core/bulk/load.h)
 *   ctl_task.c    spawn, kill, forget, tasks (core/task/task.h)
 *   ctl_dataset.c dataset make|tree (core/dataset/dataset.h)
 *   ctl_answer.c  answers: the one-sentence refusal, JSON strings, flat answers as lines or one object
 *   ctl_parse.c   a line into a struct ctl_cmd, and reading its words back
 *
 * Calls go one way, down that list: dispatch calls the verbs and the parser, the verbs call the answer
 * helpers and read their command.  The parser knows no verb and calls nothing of this room: it is handed
 * a lookup of the verbs' grammars (ctl.c hands it the table's), so it can be tested and fuzzed alone. */
#ifndef FABRIC_CORE_CTLINT_H
#define FABRIC_CORE_CTLINT_H

#include <jansson.h>
#include <stdint.h>

#include "core/ctl/ctl.h"

/* ---- ctl_parse.c ---- */

/* What the parser needs of a verb. */
struct ctl_grammar {
	const char *name;
	int min_args, max_args; /* positional words */
	const char *opts;       /* option keys it takes, comma-separated ("type,doc"), or "" */
	const char *usage;      /* "locate NAME": the answer to a wrong number of words */
};
/* The grammar of the verb called name, or NULL when there is no such verb. */
typedef const struct ctl_grammar *ctl_grammar_find(const char *name);

/* ctl_parse (ctl.h), with the verbs looked up through find. */
int ctl_parse_with(ctl_grammar_find *find, const char *line, size_t len, struct ctl_cmd *cmd, char *err,
		   size_t errlen);
/* Does the verb take the option whose key is key[0..keylen)? */
bool ctl_grammar_takes(const struct ctl_grammar *g, const char *key, size_t keylen);
/* The value of option key, or NULL. */
const char *ctl_opt(const struct ctl_cmd *cmd, const char *key);
/* A word that is a decimal number (no sign): 0, or -EINVAL for anything else (the caller says why). */
int ctl_word_u64(const char *word, uint64_t *n);
/* A word that is permission bits in octal, 0 to 0777: 0, or -EINVAL. */
int ctl_word_mode(const char *word, uint32_t *mode);

/* ---- ctl_answer.c ---- */

/* Replace the answer with one sentence (one line, whatever the words it quotes hold) and return rc. */
int ctl_fail(struct text *ans, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* JSON values (jansson): a string of s (bytes that are not UTF-8 as Latin-1 code points; NULL: null), a
 * number; ctl_jset/ctl_jpush add a new value to an object/array and take it (-ENOMEM, the value freed,
 * when it or the container is NULL); ctl_json_done writes doc, compact, and a newline, and frees it. */
json_t *ctl_jstr(const char *s);
json_t *ctl_jnum(uint64_t n);
int ctl_jset(json_t *obj, const char *key, json_t *v);
int ctl_jpush(json_t *arr, json_t *v);
int ctl_json_done(struct text *ans, json_t *doc);

/* One named value of a flat answer: the string str, or the number num when str is NULL. */
struct ctl_field {
	const char *key;
	const char *str;
	uint64_t num;
};
/* A flat answer: a "key<TAB>value" line per field, or (json) one object {"key":value,...} and a newline;
 * ctl_fields_obj is that object, for an answer that adds members of its own (NULL on ENOMEM). */
int ctl_fields(struct text *ans, bool json, const struct ctl_field *f, size_t n);
json_t *ctl_fields_obj(const struct ctl_field *f, size_t n);

/* ---- ctl.c: the table ---- */

typedef int ctl_handler(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans);

/* Who may run a verb (README, "Who may do what"): anyone (the verb itself then acts only on what the
 * caller may reach), or only root or a caller holding CAP_SYS_ADMIN, for verbs that change the node
 * itself (its capacity, its blocks). */
enum ctl_right { CTL_ANYONE, CTL_ADMIN };

struct ctl_verb {
	struct ctl_grammar g; /* checked by the parser before run is called, so run only checks meanings */
	const char *help;     /* one line */
	ctl_handler *run;
	enum ctl_right right;
};

const struct ctl_verb *ctl_verb_find(const char *name);

/* ctl_store.c */
/* The mode of an object a verb makes for its caller: the verb's mode= (octal, exactly that), else base
 * less the caller's umask, as open(2) and mkdir(2) give.  A bad mode= fails the answer with -EINVAL. */
int ctl_new_mode(const struct ctl_env *env, const struct ctl_cmd *cmd, uint32_t base, uint32_t *mode,
		 struct text *ans);
ctl_handler ctl_run_list, ctl_run_locate, ctl_run_stat, ctl_run_allocate, ctl_run_deallocate, ctl_run_defragment,
	ctl_run_mutable, ctl_run_shard;
/* ctl_bulk.c */
ctl_handler ctl_run_load, ctl_run_checkpoint, ctl_run_restore;
/* ctl_task.c */
ctl_handler ctl_run_spawn, ctl_run_kill, ctl_run_forget, ctl_run_tasks;
/* ctl_dataset.c */
ctl_handler ctl_run_dataset;
/* ctl_cluster.c */
ctl_handler ctl_run_move;
ctl_handler ctl_run_drain;

#endif
