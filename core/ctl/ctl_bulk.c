/* SPDX-License-Identifier: MIT */
/* ctl_bulk.c -- the control verbs that move variables between disk and the fabric (core/bulk/load.h):
 * load, checkpoint, restore.
 *
 * Every file is opened by core/bulk with the caller's identity (env->who), never the daemon's; its
 * refusals come with a sentence of their own, which is the answer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/bulk/checkpoint.h"
#include "core/ctl/ctlInt.h"
#include "core/dataset/dataset.h"
#include "core/store/path.h"
#include "core/text/text.h"

/* core/bulk's sentence, or the errno's when it had none to give. */
static int refused(struct text *ans, int rc, const char *why)
{
	return ctl_fail(ans, rc, "%s", why[0] ? why : strerror(-rc));
}

int ctl_run_load(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct load_result res;
	char why[1024] = "";
	const char *given = ctl_opt(cmd, "mode"); /* without it, each file keeps its own bits less the umask */
	uint32_t mode = 0;
	int rc = given ? ctl_new_mode(env, cmd, 0, &mode, ans) : 0;

	if (rc)
		return rc;
	rc = load_any(env->st, &env->who, cmd->argv[0], cmd->argv[1], ctl_opt(cmd, "type"), ctl_opt(cmd, "doc"),
		      given ? (int)mode : -1, &res, why, sizeof(why));
	if (rc)
		return refused(ans, rc, why);
	if (res.many) { /* a directory or an archive: what was made */
		const struct ctl_field f[] = { { "variables", NULL, res.count }, { "directories", NULL, res.dirs },
					       { "links", NULL, res.links }, { "hard_links", NULL, res.hard_links },
					       { "bytes", NULL, res.bytes } };
		return ctl_fields(ans, cmd->json, f, sizeof(f) / sizeof(f[0]));
	}
	const struct ctl_field f[] = { { "size", NULL, res.size }, { "xxh3", res.xxh3, 0 } };
	return ctl_fields(ans, cmd->json, f, sizeof(f) / sizeof(f[0]));
}

/* DIR of checkpoint/restore: the argument, or STATE/checkpoint. */
static void ck_dir(const struct ctl_env *env, const struct ctl_cmd *cmd, char *dir, size_t len)
{
	if (cmd->argc)
		snprintf(dir, len, "%s", cmd->argv[0]);
	else
		snprintf(dir, len, "%s/checkpoint", env->state_dir ? env->state_dir : ".");
}

int ctl_run_checkpoint(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct load_result res;
	char dir[PATH_MAX_LEN + 1], why[1024] = "";
	int rc;

	ck_dir(env, cmd, dir, sizeof(dir));
	rc = load_checkpoint(env->st, &env->who, dir, &res, why, sizeof(why));
	if (rc)
		return refused(ans, rc, why);
	const struct ctl_field f[] = { { "dir", dir, 0 }, { "variables", NULL, res.count },
				       { "bytes_written", NULL, res.bytes }, { "unchanged", NULL, res.skipped },
				       { "unreadable", NULL, res.unreadable } };
	return ctl_fields(ans, cmd->json, f, sizeof(f) / sizeof(f[0]));
}

/* restore's way to make a missing dataset again: as `dataset make` does, with the checkpoint's type, doc,
 * limits, mode and owner (restore gives those of the caller unless it is root). */
static int make_dataset(void *arg, const struct load_dataset *d, char *why, size_t whylen)
{
	const struct ctl_env *env = arg;
	const struct dataset_spec spec = { d->type, d->doc, d->limits };
	uint64_t id;

	if (!env->datasets)
		return text_say(why, whylen, -ENOTSUP, "this daemon keeps no datasets");
	return datasets_make(env->datasets, d->name, &spec, d->mode & 07777, d->uid, d->gid, &id, why, whylen);
}

int ctl_run_restore(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct load_result res;
	char dir[PATH_MAX_LEN + 1], why[1024] = "", report[8192];
	int rc;

	ck_dir(env, cmd, dir, sizeof(dir));
	rc = load_restore(env->st, &env->who, dir, make_dataset, (void *)env, &res, report, sizeof(report), why,
			  sizeof(why));
	if (rc)
		return refused(ans, rc, why);
	const struct ctl_field f[] = { { "dir", dir, 0 }, { "restored", NULL, res.count },
				       { "bytes", NULL, res.bytes }, { "present", NULL, res.skipped } };
	if (!cmd->json) {
		rc = ctl_fields(ans, false, f, sizeof(f) / sizeof(f[0]));
		return rc ? rc : text_printf(ans, "%s", report);
	}
	/* the report's lines are "what<TAB>name<TAB>why": in JSON, one string each */
	json_t *doc = ctl_fields_obj(f, sizeof(f) / sizeof(f[0])), *problems = json_array();
	char *save = NULL;
	rc = doc && problems ? 0 : -ENOMEM;
	for (char *l = strtok_r(report, "\n", &save); rc == 0 && l; l = strtok_r(NULL, "\n", &save))
		rc = ctl_jpush(problems, ctl_jstr(l));
	if (rc) {
		json_decref(problems);
		json_decref(doc);
		return rc;
	}
	rc = ctl_jset(doc, "problems", problems); /* takes problems, also when it fails */
	if (rc) {
		json_decref(doc);
		return rc;
	}
	return ctl_json_done(ans, doc);
}
