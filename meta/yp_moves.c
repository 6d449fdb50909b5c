/* SPDX-License-Identifier: MIT */
/* yp_moves.c -- the moves under way (table moves, see yp.h): a row from before a move's bytes leave (or,
 * on the node taking a directory, arrive) until its end is known, so a crash in between is finished at
 * the next start (core/cluster/move.c). */
#include <errno.h>
#include <sqlite3.h>

#include "meta/ypInt.h"

static const char *const moves_sql[ST_COUNT] = {
	[ST_MOVE_BEGIN] = "INSERT OR REPLACE INTO moves(object, name, node, xxh3, begun_ns, way)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_MOVE_END] = "DELETE FROM moves WHERE way = ?1 AND node = ?2 AND name = ?3",
	[ST_MOVE_EACH] = "SELECT object, name, node, xxh3, begun_ns, way = 'in' FROM moves ORDER BY begun_ns",
	[ST_MOVE_BETWEEN] = "SELECT count(*) FROM moves WHERE name = ?1 AND node = ?2",
};

static sqlite3_stmt *stmt(struct yp *yp, enum yp_stmt id)
{
	return yp_stmt(yp, id, moves_sql[id]);
}

int yp_move_begin(struct yp *yp, const struct yp_move *m)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_MOVE_BEGIN);
	if (s) {
		sqlite3_bind_int64(s, 1, m->object);
		sqlite3_bind_text(s, 2, m->name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 3, m->node, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 4, m->xxh3, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 5, m->begun_ns);
		sqlite3_bind_text(s, 6, m->in ? "in" : "out", -1, SQLITE_STATIC);
		rc = yp_exec(yp, s, "move begin");
	}
	yp_unlock(yp);
	return rc;
}

int yp_move_end(struct yp *yp, bool in, const char *node, const char *name)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_MOVE_END);
	if (s) {
		sqlite3_bind_text(s, 1, in ? "in" : "out", -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, node, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 3, name, -1, SQLITE_TRANSIENT);
		rc = yp_exec(yp, s, "move end");
	}
	yp_unlock(yp);
	return rc;
}

int yp_move_between(struct yp *yp, const char *name, const char *node)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_MOVE_BETWEEN);
	if (s) {
		sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, node, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(s);
		rc = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) > 0 : yp_errno(yp, rc, "move between");
		yp_done(s);
	}
	yp_unlock(yp);
	return rc;
}

struct move_walk {
	int (*fn)(void *arg, const struct yp_move *m);
	void *arg;
};

static int move_row(struct yp *yp, sqlite3_stmt *s, void *arg)
{
	struct move_walk *w = arg;
	struct yp_move m = {
		.object = sqlite3_column_int64(s, 0),
		.name = yp_col_text(s, 1),
		.node = yp_col_text(s, 2),
		.xxh3 = yp_col_text(s, 3),
		.begun_ns = sqlite3_column_int64(s, 4),
		.in = sqlite3_column_int(s, 5) != 0,
	};

	(void)yp;
	return w->fn(w->arg, &m);
}

int yp_each_move(struct yp *yp, int (*fn)(void *arg, const struct yp_move *m), void *arg)
{
	struct move_walk w = { fn, arg };
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_MOVE_EACH);
	if (s)
		rc = yp_rows(yp, s, "moves", move_row, &w);
	yp_unlock(yp);
	return rc;
}
