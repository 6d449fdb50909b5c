/* SPDX-License-Identifier: MIT */
/* store_sealer.c -- group commit: the seals of many releases committed in one YP transaction.
 *
 * DESIGN
 * A seal's cost in the daemon is mostly its commit: ~6 pages written to the WAL and SQLite's file locks,
 * whatever the variable's size.  Committed together, N seals share their pages (their rows sit side by
 * side: ids and names are new), so a burst of small files costs a fraction of a commit each.
 * store_release_async (the kernel's RELEASE, for which nobody waits) does a seal's first half at once, in
 * the releasing thread: the hash, the copy of a small variable into a slab (store_seal_prepare); then the
 * variable joins the queue, still being sealed (o->sealing: opens wait, writes and truncates are
 * refused), held open by the queue (one count in o->nopen) so that its bytes and struct stay.  One thread
 * commits the queue: it waits for more to come for at most SEALER_WINDOW_NS after the oldest, or until
 * SEALER_BATCH_MAX are queued, or until somebody waits for one of them (an open of a queued variable, a
 * store_seal_wait), then writes every job's rows in one transaction and only after its commit makes each
 * variable sealed and answers its waiting opens.  So "a crash loses no sealed variable" holds word for
 * word: nothing counts as sealed before its commit, and a crash before it loses a variable whose writer
 * had closed it but which nobody had seen sealed (the next start removes its block).  When the batch's
 * transaction fails, each job is committed alone (store_seal_end), so one bad row drops one variable.
 * The commit runs under store->lock, as every YP change of the store does, but there is one per batch
 * instead of one per file; the window costs nobody a wait (a waiter hurries it), only the moment at
 * which `getfattr user.fabric.state` says sealed moves by up to the window.
 *
 * Lock order as everywhere in the store: store->lock, then meta's.  The queue and the flags below are
 * store->lock's; the thread sleeps on seal_cond with it, store_seal_wait on seal_idle. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "core/store/storeInt.h"
#include "meta/yp.h"

#define SEALER_WINDOW_NS 5000000 /* 5 ms */
#define SEALER_BATCH_MAX 256

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Lock held: wait for the batch to fill, for at most the window after its oldest job. */
static void wait_window(struct store *st)
{
	int64_t deadline = st->seal_head->queued_ns + SEALER_WINDOW_NS;
	struct timespec ts = { .tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000 };

	while (st->seal_n < SEALER_BATCH_MAX && !st->seal_hurry && !st->sealer_stop)
		if (pthread_cond_timedwait(&st->seal_cond, &st->lock, &ts) == ETIMEDOUT)
			break;
	st->seal_hurry = false;
}

/* Lock held: every job's rows in one transaction, then each job's end (alone where that failed). */
static void commit_batch(struct store *st, struct seal_job *jobs)
{
	int rc = yp_begin(st->yp);

	if (rc == 0) {
		for (struct seal_job *j = jobs; rc == 0 && j; j = j->next) {
			/* a slab made for this batch gets its row once: the first job moving into it writes it */
			for (struct seal_job *e = jobs; j->p.s && !j->p.s->in_yp && e != j; e = e->next)
				if (e->p.s == j->p.s && e->wrote)
					j->slab_row_done = true;
			rc = store_seal_write(st, j);
		}
		if (rc == 0)
			rc = yp_commit(st->yp);
		else
			yp_rollback(st->yp);
	}
	for (struct seal_job *j = jobs; j; j = j->next) {
		store_seal_end(st, j, rc == 0);
		store_release_tail(st, j->o, NULL, j->ws != NULL); /* the queue's hold */
	}
}

static void *sealer_main(void *arg)
{
	struct store *st = arg;

	pthread_mutex_lock(&st->lock);
	for (;;) {
		struct seal_job *jobs;

		while (!st->seal_head && !st->sealer_stop)
			pthread_cond_wait(&st->seal_cond, &st->lock);
		if (!st->seal_head)
			break; /* stopping, and nothing left to commit */
		wait_window(st);
		jobs = st->seal_head;
		st->seal_head = st->seal_tail = NULL;
		st->seal_n = 0;
		st->seal_busy = true;
		commit_batch(st, jobs);
		pthread_mutex_unlock(&st->lock);
		while (jobs) {
			struct seal_job *next = jobs->next;
			store_seal_after(jobs);
			free(jobs);
			jobs = next;
		}
		pthread_mutex_lock(&st->lock);
		st->seal_busy = false;
		pthread_cond_broadcast(&st->seal_idle);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

int store_sealer_start(struct store *st)
{
	pthread_condattr_t ca;
	int rc = pthread_condattr_init(&ca);

	if (rc == 0)
		rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&st->seal_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (rc)
		return -rc;
	rc = pthread_cond_init(&st->seal_idle, NULL);
	if (rc == 0)
		rc = pthread_create(&st->sealer, NULL, sealer_main, st);
	if (rc) {
		pthread_cond_destroy(&st->seal_cond);
		pthread_cond_destroy(&st->seal_idle);
		return -rc;
	}
	st->sealer_on = true;
	return 0;
}

void store_sealer_stop(struct store *st)
{
	if (!st->sealer_on)
		return;
	pthread_mutex_lock(&st->lock);
	st->sealer_stop = true;
	pthread_cond_signal(&st->seal_cond);
	pthread_mutex_unlock(&st->lock);
	pthread_join(st->sealer, NULL); /* it commits what is queued first */
	st->sealer_on = false;
	pthread_cond_destroy(&st->seal_cond);
	pthread_cond_destroy(&st->seal_idle);
}

bool store_seal_enqueue(struct store *st, struct seal_job *j)
{
	struct obj *o = j->o;

	if (!st->sealer_on || st->sealer_stop)
		return false;
	o->nopen++; /* the queue's hold, given back by commit_batch */
	o->seal_queued = true;
	j->next = NULL;
	j->queued_ns = mono_ns();
	if (st->seal_tail)
		st->seal_tail->next = j;
	else
		st->seal_head = j;
	st->seal_tail = j;
	st->seal_n++;
	if (o->waiters) /* somebody waits for it already */
		st->seal_hurry = true;
	/* the thread waits for the window's end by itself: it needs waking only for a first job, a full batch
	 * or a hurry */
	if (st->seal_n == 1 || st->seal_n >= SEALER_BATCH_MAX || st->seal_hurry)
		pthread_cond_signal(&st->seal_cond);
	return true;
}

void store_release_async(struct store *st, struct store_handle *h)
{
	struct seal_job *j = malloc(sizeof(*j));
	struct obj *o = h->o;

	if (!j || !st->sealer_on) {
		free(j);
		store_release(st, h);
		return;
	}
	pthread_mutex_lock(&st->lock);
	if (store_seal_prepare(st, h, j)) {
		if (j->rc == 0 && store_seal_enqueue(st, j)) {
			store_release_tail(st, o, h, false);
			pthread_mutex_unlock(&st->lock);
			return;
		}
		store_seal_end(st, j, false);
	}
	store_release_tail(st, o, h, j->ws != NULL);
	pthread_mutex_unlock(&st->lock);
	store_seal_after(j);
	free(j);
}

void store_seal_wait(struct store *st)
{
	if (!st->sealer_on)
		return;
	pthread_mutex_lock(&st->lock);
	st->seal_hurry = true;
	pthread_cond_signal(&st->seal_cond);
	while (st->seal_head || st->seal_busy)
		pthread_cond_wait(&st->seal_idle, &st->lock);
	pthread_mutex_unlock(&st->lock);
}
