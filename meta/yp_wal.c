/* SPDX-License-Identifier: MIT */
/* yp_wal.c -- WAL checkpoints off the request path, with the WAL kept bounded.
 *
 * DESIGN
 * SQLite's own checkpoint runs inside the commit that pushes the WAL past 1,000 pages: that commit, made
 * by whoever holds the store's lock, then copies every page into the database file and waits for two
 * fsyncs (2-5 ms here), and every request behind that lock waits with it.  So the connection's automatic
 * checkpoint is off (sqlite3_wal_autocheckpoint 0); a WAL hook, called after each commit with the WAL's
 * size, wakes a thread of this file past YP_WAL_CHECKPOINT_PAGES, and that thread checkpoints on a
 * connection of its own.  Its PASSIVE checkpoint never blocks a writer or a reader.
 * Why a WAL checkpointed from another connection can grow without end (what an earlier attempt saw, 37 MB
 * per 1,000 files, and this file's first version, 200 MB for 20,000 commits in tests/test_yp.c): the WAL
 * goes back to its beginning only when a writer starts its transaction while every frame is copied into
 * the database and no other connection is reading it -- the checkpointer, while it runs, is.  A hook that
 * asks for a checkpoint after every commit past the threshold keeps the checkpointer running at every
 * writer's start, and the WAL only grows (each pass completes, and the WAL is longer at the next).  So a
 * pass is due only after YP_WAL_CHECKPOINT_PAGES new pages since the last one (or since the WAL started
 * over): between passes a writer finds the WAL copied and starts it over.  That needs a pause between
 * commits, which group commit leaves; back-to-back commits never leave one, so the bound is kept by the
 * committing thread itself: a commit that leaves the WAL at YP_WAL_MAX_PAGES or more waits in the hook
 * while the thread runs a RESTART checkpoint (the writer lock is free then), which waits (busy timeout)
 * for the readers, copies the rest and makes the next writer start the WAL over; journal_size_limit then
 * truncates the file.  So the WAL never passes YP_WAL_MAX_PAGES and one commit, and a writer waits for a checkpoint
 * only when the background could not keep up.
 * Durability is unchanged: synchronous=NORMAL, commits reach the WAL with write(2) before they return
 * (a kill -9 loses none), checkpoints fsync.
 *
 * Threads: the hook runs in the committing thread with yp->lock held (and none of SQLite's locks); it
 * signals, or waits for the thread, under wal_lock, a leaf lock taken by nothing else.  The thread uses
 * its own connection only, and never takes yp->lock. */
#include <errno.h>
#include <stdio.h>

#include "meta/ypInt.h"

#define YP_WAL_CHECKPOINT_PAGES 1000
#define YP_WAL_MAX_PAGES 8192                /* 32 MiB of 4 KiB pages */
#define YP_WAL_KEEP_BYTES (4 * 1024 * 1024) /* what journal_size_limit leaves of a reset WAL */

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct yp *yp = arg;
	int rc;

	(void)db;
	(void)name;
	pthread_mutex_lock(&yp->wal_lock);
	if (pages >= yp->wal_restart_at && !yp->wal_stop) {
		/* the passes could not keep up: this writer waits while the checkpointer starts the WAL over
		 * (it needs the writer lock, which back-to-back commits never leave it) */
		yp->wal_restart = true;
		pthread_cond_signal(&yp->wal_cond);
		while (yp->wal_restart && !yp->wal_stop)
			pthread_cond_wait(&yp->wal_done, &yp->wal_lock);
		rc = yp->wal_restart_rc;
		/* a reader on an old snapshot (a long sqlite3 query) keeps the WAL: try again only
		 * YP_WAL_MAX_PAGES later, so that commits do not each wait for it */
		yp->wal_restart_at = rc == SQLITE_OK ? YP_WAL_MAX_PAGES : pages + YP_WAL_MAX_PAGES;
	} else if (pages >= YP_WAL_CHECKPOINT_PAGES &&
		   (pages < yp->wal_last || pages - yp->wal_last >= YP_WAL_CHECKPOINT_PAGES)) {
		/* due past every YP_WAL_CHECKPOINT_PAGES new pages: since the last pass, or since the WAL
		 * started over (it is shorter than at the last pass) */
		yp->wal_due = true;
		pthread_cond_signal(&yp->wal_cond);
	}
	if (pages < YP_WAL_MAX_PAGES)
		yp->wal_restart_at = YP_WAL_MAX_PAGES; /* started over since */
	pthread_mutex_unlock(&yp->wal_lock);
	return SQLITE_OK;
}

/* One pass: PASSIVE, or RESTART when a writer waits for it.  wal_lock held, given up meanwhile. */
static void checkpoint(struct yp *yp)
{
	bool restart = yp->wal_restart;
	int log = 0, done = 0, rc;

	yp->wal_due = false;
	pthread_mutex_unlock(&yp->wal_lock);
	rc = sqlite3_wal_checkpoint_v2(yp->wal_db, NULL, restart ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE,
				       &log, &done);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) /* busy: a reader held on; a later pass goes on */
		fprintf(stderr, "yp: checkpoint: %s\n", sqlite3_errmsg(yp->wal_db));
	pthread_mutex_lock(&yp->wal_lock);
	yp->wal_last = log > 0 ? log : 0;
	if (restart) {
		yp->wal_restart_rc = rc;
		yp->wal_restart = false;
		pthread_cond_broadcast(&yp->wal_done);
	}
}

static void *checkpointer(void *arg)
{
	struct yp *yp = arg;

	pthread_mutex_lock(&yp->wal_lock);
	for (;;) {
		while (!yp->wal_due && !yp->wal_restart && !yp->wal_stop)
			pthread_cond_wait(&yp->wal_cond, &yp->wal_lock);
		if (yp->wal_stop)
			break;
		checkpoint(yp);
	}
	yp->wal_restart = false;
	pthread_cond_broadcast(&yp->wal_done);
	pthread_mutex_unlock(&yp->wal_lock);
	return NULL;
}

int yp_wal_start(struct yp *yp, const char *path)
{
	char sql[64];
	int rc;

	rc = sqlite3_open_v2(path, &yp->wal_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "yp: a second connection to %s for checkpoints: %s\n", path,
			yp->wal_db ? sqlite3_errmsg(yp->wal_db) : sqlite3_errstr(rc));
		sqlite3_close(yp->wal_db);
		yp->wal_db = NULL;
		return -EIO; /* the caller keeps SQLite's own checkpoints */
	}
	sqlite3_busy_timeout(yp->wal_db, YP_BUSY_MS);
	/* a connection that has read nothing is not in WAL mode yet, and its checkpoints do nothing */
	sqlite3_exec(yp->wal_db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
	snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit = %d", YP_WAL_KEEP_BYTES);
	sqlite3_exec(yp->db, sql, NULL, NULL, NULL);
	if (pthread_mutex_init(&yp->wal_lock, NULL) != 0 || pthread_cond_init(&yp->wal_cond, NULL) != 0 ||
	    pthread_cond_init(&yp->wal_done, NULL) != 0 ||
	    pthread_create(&yp->wal_thread, NULL, checkpointer, yp) != 0) {
		sqlite3_close(yp->wal_db);
		yp->wal_db = NULL;
		return -EAGAIN;
	}
	yp->wal_restart_at = YP_WAL_MAX_PAGES;
	sqlite3_wal_autocheckpoint(yp->db, 0); /* replaced by the hook (it also replaces SQLite's own) */
	sqlite3_wal_hook(yp->db, wal_hook, yp);
	return 0;
}

void yp_wal_stop(struct yp *yp)
{
	if (!yp->wal_db)
		return;
	sqlite3_wal_hook(yp->db, NULL, NULL);
	pthread_mutex_lock(&yp->wal_lock);
	yp->wal_stop = true;
	pthread_cond_signal(&yp->wal_cond);
	pthread_mutex_unlock(&yp->wal_lock);
	pthread_join(yp->wal_thread, NULL);
	sqlite3_close(yp->wal_db);
	yp->wal_db = NULL;
	pthread_cond_destroy(&yp->wal_cond);
	pthread_cond_destroy(&yp->wal_done);
	pthread_mutex_destroy(&yp->wal_lock);
}
