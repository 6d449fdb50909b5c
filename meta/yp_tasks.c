/* SPDX-License-Identifier: MIT */
/* yp_tasks.c -- the tasks table in the yellow pages (see yp.h, struct yp_task).
 *
 * core/task is its one writer: one row per task the node accepted, written before the task is acted on
 * (a task is recorded running before its program starts), so a restart finds every task as it was.  argv
 * is a BLOB, its words each followed by a NUL; the text columns are NOT NULL, so a NULL string in a struct
 * yp_task is written as "" and read back as "".  An update or delete that finds no row is -ENOENT. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>

#include "meta/ypInt.h"

static const char *const task_sql[ST_COUNT] = {
	[ST_TASK_INSERT] = "INSERT INTO tasks(id, state, argv, inputs, outputs, after, scope, node, placed, why, uid,"
			   " gid, groups, timeout_ms, exit_status, pid, pid_start, pidns, queued_ns, started_ns,"
			   " ended_ns, outputs_sealed)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
			   " ?19, ?20, ?21, ?22)",
	[ST_TASK_UPDATE] = "UPDATE tasks SET state = ?2, inputs = ?4, outputs = ?5, after = ?6, scope = ?7,"
			   " node = ?8, placed = ?9, why = ?10, uid = ?11, gid = ?12, groups = ?13,"
			   " timeout_ms = ?14, exit_status = ?15, pid = ?16, pid_start = ?17, pidns = ?18,"
			   " queued_ns = ?19, started_ns = ?20, ended_ns = ?21, outputs_sealed = ?22 WHERE id = ?1",
	[ST_TASK_DELETE] = "DELETE FROM tasks WHERE id = ?1",
	[ST_TASK_EACH] = "SELECT id, state, argv, inputs, outputs, after, scope, node, placed, why, uid, gid, groups,"
			 " timeout_ms, exit_status, pid, pid_start, pidns, queued_ns, started_ns, ended_ns, outputs_sealed"
			 " FROM tasks ORDER BY id",
};

static sqlite3_stmt *stmt(struct yp *yp, enum yp_stmt id)
{
	return yp_stmt(yp, id, task_sql[id]);
}

/* The columns insert and update share: ?2 and ?4 to ?22 (?1 is the id, ?3 argv). */
static void bind_task(sqlite3_stmt *s, const struct yp_task *t)
{
	sqlite3_bind_text(s, 2, t->state, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, t->inputs ? t->inputs : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, t->outputs ? t->outputs : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 6, t->after ? t->after : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 7, t->scope ? t->scope : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 8, t->node ? t->node : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 9, t->placed ? t->placed : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 10, t->why ? t->why : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 11, t->uid);
	sqlite3_bind_int64(s, 12, t->gid);
	sqlite3_bind_text(s, 13, t->groups ? t->groups : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 14, t->timeout_ms);
	sqlite3_bind_int64(s, 15, t->exit_status);
	sqlite3_bind_int64(s, 16, t->pid);
	sqlite3_bind_int64(s, 17, (int64_t)t->pid_start);
	sqlite3_bind_int64(s, 18, (int64_t)t->pidns);
	sqlite3_bind_int64(s, 19, t->queued_ns);
	sqlite3_bind_int64(s, 20, t->started_ns);
	sqlite3_bind_int64(s, 21, t->ended_ns);
	sqlite3_bind_int(s, 22, t->outputs_sealed ? 1 : 0);
}

int yp_task_insert(struct yp *yp, struct yp_task *t)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_TASK_INSERT);
	if (s && (!t->state || (t->argv_len && !t->argv))) {
		rc = -EINVAL;
	} else if (s) {
		bind_task(s, t);
		if (t->keep_id) /* given (a cluster's); else NULL, and the table's AUTOINCREMENT picks */
			sqlite3_bind_int64(s, 1, t->id);
		else
			sqlite3_bind_null(s, 1);
		/* a NULL pointer would bind SQL NULL: an empty argv is an empty blob */
		if (t->argv_len)
			sqlite3_bind_blob64(s, 3, t->argv, t->argv_len, SQLITE_TRANSIENT);
		else
			sqlite3_bind_zeroblob(s, 3, 0);
		rc = yp_exec(yp, s, "task insert");
		if (rc == 0)
			t->id = sqlite3_last_insert_rowid(yp->db);
	}
	yp_unlock(yp);
	return rc;
}

int yp_task_update(struct yp *yp, const struct yp_task *t)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_TASK_UPDATE);
	if (s && !t->state) {
		rc = -EINVAL;
	} else if (s) {
		sqlite3_bind_int64(s, 1, t->id);
		bind_task(s, t);
		rc = yp_exec(yp, s, "task update");
		if (rc == 0 && sqlite3_changes(yp->db) == 0)
			rc = -ENOENT;
	}
	yp_unlock(yp);
	return rc;
}

int yp_task_delete(struct yp *yp, int64_t id)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_TASK_DELETE);
	if (s) {
		sqlite3_bind_int64(s, 1, id);
		rc = yp_exec(yp, s, "task delete");
		if (rc == 0 && sqlite3_changes(yp->db) == 0)
			rc = -ENOENT;
	}
	yp_unlock(yp);
	return rc;
}

/* A NOT NULL text column; "" rather than NULL should SQLite fail to convert it (out of memory). */
static const char *col_str(sqlite3_stmt *s, int i)
{
	const char *v = yp_col_text(s, i);

	return v ? v : "";
}

struct task_walk {
	int (*fn)(void *arg, const struct yp_task *t);
	void *arg;
};

static int task_row(struct yp *yp, sqlite3_stmt *s, void *arg)
{
	struct task_walk *w = arg;
	/* blob first, then its length (the order sqlite3_column_bytes asks for); an empty blob is NULL */
	const char *argv = sqlite3_column_blob(s, 2);
	struct yp_task t = {
		.id = sqlite3_column_int64(s, 0),
		.state = col_str(s, 1),
		.argv = argv ? argv : "",
		.argv_len = (size_t)sqlite3_column_bytes(s, 2),
		.inputs = col_str(s, 3),
		.outputs = col_str(s, 4),
		.after = col_str(s, 5),
		.scope = col_str(s, 6),
		.node = col_str(s, 7),
		.placed = col_str(s, 8),
		.why = col_str(s, 9),
		.uid = (uint32_t)sqlite3_column_int64(s, 10),
		.gid = (uint32_t)sqlite3_column_int64(s, 11),
		.groups = col_str(s, 12),
		.timeout_ms = sqlite3_column_int64(s, 13),
		.exit_status = sqlite3_column_int64(s, 14),
		.pid = sqlite3_column_int64(s, 15),
		.pid_start = (uint64_t)sqlite3_column_int64(s, 16),
		.pidns = (uint64_t)sqlite3_column_int64(s, 17),
		.queued_ns = sqlite3_column_int64(s, 18),
		.started_ns = sqlite3_column_int64(s, 19),
		.ended_ns = sqlite3_column_int64(s, 20),
		.outputs_sealed = sqlite3_column_int(s, 21) != 0,
	};

	if (!argv && t.argv_len) /* out of memory reading the blob */
		return yp_errno(yp, sqlite3_errcode(yp->db), "task list");
	return w->fn(w->arg, &t);
}

/* In id order (submission order). */
int yp_each_task(struct yp *yp, int (*fn)(void *arg, const struct yp_task *t), void *arg)
{
	sqlite3_stmt *s;
	struct task_walk w = { fn, arg };
	int rc;

	yp_lock(yp);
	s = stmt(yp, ST_TASK_EACH);
	rc = s ? yp_rows(yp, s, "task list", task_row, &w) : -EIO;
	yp_unlock(yp);
	return rc;
}
