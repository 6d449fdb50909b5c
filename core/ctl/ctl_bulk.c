/* SPDX-License-Identifier: MIT */
/* ctl_bulk.c -- the control verbs that move variables between disk and the fabric (core/bulk/load.h):
 * load, checkpoint, restore.
 *
 * Every file is opened by core/bulk with the caller's identity (env->who), never the daemon's. */
#include <stdio.h>
#include <string.h>

#include "core/ctl/ctlInt.h"
#include "core/store/path.h"

int ctl_run_load(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct load_result res;
	char why[1024] = "";
	int rc = load_file(env->st, &env->who, cmd->argv[0], cmd->argv[1], ctl_opt(cmd, "type"), ctl_opt(cmd, "doc"), &res,
			   why, sizeof(why));

	if (rc)
		return ctl_fail(ans, rc, "%s", why[0] ? why : strerror(-rc));
	if (cmd->json)
		return text_printf(ans, "{\"size\":%llu,\"xxh3\":\"%s\"}\n", (unsigned long long)res.size,
					 res.xxh3);
	return text_printf(ans, "size\t%llu\nxxh3\t%s\n", (unsigned long long)res.size, res.xxh3);
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
		return ctl_fail(ans, rc, "%s", why[0] ? why : strerror(-rc));
	if (cmd->json) {
		rc = text_printf(ans, "{\"dir\":");
		if (rc == 0)
			rc = ctl_json_str(ans, dir);
		return rc ? rc : text_printf(ans, ",\"variables\":%llu,\"bytes_written\":%llu,\"unchanged\":%llu}\n",
						   (unsigned long long)res.count, (unsigned long long)res.bytes,
						   (unsigned long long)res.skipped);
	}
	return text_printf(ans, "dir\t%s\nvariables\t%llu\nbytes_written\t%llu\nunchanged\t%llu\n", dir,
				 (unsigned long long)res.count, (unsigned long long)res.bytes,
				 (unsigned long long)res.skipped);
}

int ctl_run_restore(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct load_result res;
	char dir[PATH_MAX_LEN + 1], why[1024] = "", report[8192];
	int rc;

	ck_dir(env, cmd, dir, sizeof(dir));
	rc = load_restore(env->st, &env->who, dir, &res, report, sizeof(report), why, sizeof(why));
	if (rc)
		return ctl_fail(ans, rc, "%s", why[0] ? why : strerror(-rc));
	if (cmd->json) {
		char *save = NULL, *first = strtok_r(report, "\n", &save);
		rc = text_printf(ans, "{\"dir\":");
		if (rc == 0)
			rc = ctl_json_str(ans, dir);
		if (rc == 0)
			rc = text_printf(ans, ",\"restored\":%llu,\"bytes\":%llu,\"present\":%llu,\"problems\":[",
					       (unsigned long long)res.count, (unsigned long long)res.bytes,
					       (unsigned long long)res.skipped);
		/* the report's lines are "what<TAB>name<TAB>why" */
		for (char *l = first; rc == 0 && l; l = strtok_r(NULL, "\n", &save)) {
			rc = text_printf(ans, "%s", l == first ? "" : ",");
			if (rc == 0)
				rc = ctl_json_str(ans, l);
		}
		return rc ? rc : text_printf(ans, "]}\n");
	}
	return text_printf(ans, "dir\t%s\nrestored\t%llu\nbytes\t%llu\npresent\t%llu\n%s", dir,
				 (unsigned long long)res.count, (unsigned long long)res.bytes,
				 (unsigned long long)res.skipped, report);
}
