/* SPDX-License-Identifier: MIT */
/* store_io.c -- variables' bytes: create, open, read, write, flush, release, and sealing.
 *
 * SEALING
 * RELEASE is the only sign that a writer is done (FLUSH comes at every close of every descriptor, and
 * close(2) does not wait for RELEASE), so:
 *   - every open write handle of a variable is counted (nwriters);
 *   - an open by any other process while nwriters > 0, or while the seal is being taken, waits: the
 *     caller gets STORE_WAITING and a wake() call later (O_NONBLOCK gets -EAGAIN instead);
 *   - the last writer's release hashes the bytes (XXH3-128, outside the lock), commits state 'sealed'
 *     with size and hash in one YP transaction, then wakes the waiting opens.
 * A process that still holds its own write descriptor never waits for itself: its opens go through.
 * A variable is doomed, and dropped instead of sealed, when a write fails (ENOSPC) or when the last close
 * of a writer's open file (the FLUSH just before its RELEASE; FLUSH carries the closing thread's pid) came
 * from a process exiting on a signal or with a non-zero status, read from /proc/PID/stat: a crashed
 * producer leaves no sealed half-variable.  Two processes closing the same open file at the same instant
 * may be seen in either order; that race is accepted.  Opens for writing of a sealed variable get -EROFS. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dtype.h"
#include "core/storeInt.h"
#include "meta/yp.h"

#define PF_EXITING 0x00000004 /* include/linux/sched.h */

/* The thread group (process) of a thread id, or 0 when it is gone. */
static pid_t tgid_of(pid_t pid)
{
	char path[64], line[256];
	pid_t tgid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

static pid_t handle_tgid(struct store_handle *h)
{
	if (!h->tgid)
		h->tgid = tgid_of(h->pid);
	return h->tgid;
}

/* Does pid belong to a process that holds a write handle of o? */
static bool is_writer_process(struct obj *o, pid_t pid)
{
	pid_t tgid = 0;

	for (struct store_handle *h = o->handles; h; h = h->next) {
		if (!h->writer)
			continue;
		if (h->pid == pid)
			return true;
		if (!tgid)
			tgid = tgid_of(pid);
		if (tgid && handle_tgid(h) == tgid)
			return true;
	}
	return false;
}

static int new_handle(struct obj *o, bool writer, pid_t pid, struct store_handle **out)
{
	struct store_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->o = o;
	h->writer = writer;
	h->pid = pid;
	h->next = o->handles;
	o->handles = h;
	o->nopen++;
	if (writer)
		o->nwriters++;
	*out = h;
	return 0;
}

int store_create(struct store *st, uint64_t parent, const char *name, uint32_t mode, uint32_t uid,
		 uint32_t gid, int flags, pid_t pid, struct store_attr *out, struct store_handle **h)
{
	struct yp_obj row;
	struct obj *dir, *o;
	char shm_name[SHM_NAME_MAX], why[128];
	int64_t now = store_now_ns();
	uint64_t block;
	int fd = -1, rc;

	(void)flags;
	rc = names_check_leaf(name, why, sizeof(why));
	if (rc) {
		if (rc == -EINVAL)
			store_logf(st, "refused name \"%.64s\": %s", name, why);
		return rc;
	}
	pthread_mutex_lock(&st->lock);
	dir = ns_by_id(st, parent);
	if (!dir || dir->unlinked)
		rc = -ENOENT;
	else if (dir->kind != OBJ_DIR)
		rc = -ENOTDIR;
	else if (dir->id == STORE_ROOT_ID)
		rc = -EPERM;
	else if (ns_child(st, dir, name))
		rc = -EEXIST;
	if (rc)
		goto out_unlock;
	block = st->next_block;
	rc = shm_block_name(st->prefix, block, shm_name, sizeof(shm_name));
	if (rc)
		goto out_unlock;
	rc = yp_begin(st->yp);
	if (rc)
		goto out_unlock;
	row = (struct yp_obj){ .parent = (int64_t)dir->id, .name = name, .kind = "var", .state = "writing",
			       .scope = "any", .node = st->node_id, .mode = mode & 07777, .uid = uid, .gid = gid,
			       .created_ns = now, .modified_ns = now };
	rc = yp_block_insert(st->yp, (int64_t)block, st->node_id, shm_name, 0, "dedicated");
	if (rc == 0)
		rc = yp_obj_insert(st->yp, &row);
	if (rc == 0)
		rc = yp_extent_set(st->yp, row.id, (int64_t)block, 0, 0);
	if (rc == 0)
		rc = shm_create(shm_name, &fd);
	if (rc) {
		yp_rollback(st->yp);
		goto out_unlock;
	}
	rc = yp_commit(st->yp);
	if (rc)
		goto out_remove_shm;
	st->next_block++;
	o = ns_new(st, (uint64_t)row.id, OBJ_VAR, name);
	if (!o) {
		rc = -ENOMEM;
		goto out_drop_rows;
	}
	o->state = OBJ_WRITING;
	o->mode = mode & 07777;
	o->uid = uid;
	o->gid = gid;
	o->created_ns = o->modified_ns = now;
	o->block_id = block;
	snprintf(o->shm_name, sizeof(o->shm_name), "%s", shm_name);
	o->fd = fd;
	rc = new_handle(o, true, pid, h);
	if (rc) {
		o->unlinked = true;
		ns_free(st, o);
		goto out_drop_rows;
	}
	ns_link(st, dir, o, NULL);
	dir->modified_ns = now;
	o->nlookup++;
	store_attr_of(o, out);
	pthread_mutex_unlock(&st->lock);
	return 0;

out_drop_rows:
	yp_obj_delete(st->yp, row.id);
	yp_block_delete(st->yp, (int64_t)block);
out_remove_shm:
	close(fd);
	shm_remove(shm_name);
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int store_open(struct store *st, uint64_t id, int flags, pid_t pid,
	       void (*wake)(void *arg, int rc, struct store_handle *h), void *arg, struct store_handle **h)
{
	bool writer = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	struct waiter *w;
	struct obj *o;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	if (!o || o->data_gone) {
		rc = -ENOENT;
		goto out_unlock;
	}
	if (o->kind == OBJ_DIR) {
		rc = -EISDIR;
		goto out_unlock;
	}
	if (o->state == OBJ_WRITING && (o->sealing || !is_writer_process(o, pid))) {
		if (flags & O_NONBLOCK) {
			rc = -EAGAIN;
			goto out_unlock;
		}
		w = malloc(sizeof(*w));
		if (!w) {
			rc = -ENOMEM;
			goto out_unlock;
		}
		*w = (struct waiter){ .wake = wake, .arg = arg, .flags = flags, .pid = pid, .next = o->waiters };
		o->waiters = w;
		rc = STORE_WAITING;
		goto out_unlock;
	}
	if (writer && o->state == OBJ_SEALED) {
		rc = -EROFS;
		goto out_unlock;
	}
	if (o->fd < 0) {
		rc = shm_open_block(o->shm_name, &o->fd);
		if (rc) {
			store_logf(st, "cannot open block %s of object %llu: %s", o->shm_name,
				   (unsigned long long)o->id, strerror(-rc));
			rc = -EIO;
			goto out_unlock;
		}
	}
	if (writer && (flags & O_TRUNC))
		rc = store_truncate_locked(st, o, 0);
	if (rc == 0)
		rc = new_handle(o, writer, pid, h);
	if (rc && o->nopen == 0) {
		close(o->fd);
		o->fd = -1;
	}
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

bool store_cancel_wait(struct store *st, uint64_t id, void *arg)
{
	bool found = false;
	struct obj *o;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	for (struct waiter **pp = o ? &o->waiters : NULL; pp && *pp; pp = &(*pp)->next) {
		if ((*pp)->arg == arg) {
			struct waiter *w = *pp;
			*pp = w->next;
			free(w);
			found = true;
			break;
		}
	}
	if (o)
		store_maybe_free(st, o);
	pthread_mutex_unlock(&st->lock);
	return found;
}

ssize_t store_read(struct store *st, struct store_handle *h, void *buf, size_t size, uint64_t off)
{
	ssize_t n;

	(void)st;
	n = pread(h->o->fd, buf, size, (off_t)off);
	return n < 0 ? -errno : n;
}

int store_handle_fd(const struct store_handle *h)
{
	return h->o->fd;
}

ssize_t store_write(struct store *st, struct store_handle *h, const void *buf, size_t size, uint64_t off)
{
	struct obj *o = h->o;
	char path[512];
	ssize_t n;
	int rc = 0;

	if (!h->writer)
		return -EBADF;
	if (off > (uint64_t)INT64_MAX - size)
		return -EFBIG;
	pthread_mutex_lock(&st->lock);
	if (o->state != OBJ_WRITING || o->sealing)
		rc = -EROFS;
	else if (o->doomed)
		rc = -EIO;
	else if (off + size > o->charge)
		rc = alloc_resize(&st->alloc, &o->charge, off + size);
	if (rc == -ENOSPC) {
		o->doomed = true;
		store_path(o, path, sizeof(path));
		store_logf(st, "%s: the fabric's capacity is spent; the variable will be dropped at close", path);
	}
	pthread_mutex_unlock(&st->lock);
	if (rc)
		return rc;
	n = pwrite(o->fd, buf, size, (off_t)off);
	pthread_mutex_lock(&st->lock);
	if (n < 0) {
		rc = -errno;
		o->doomed = true;
		store_path(o, path, sizeof(path));
		store_logf(st, "%s: write failed (%s); the variable will be dropped at close", path, strerror(-rc));
	} else if (off + (uint64_t)n > o->size) {
		o->size = off + (uint64_t)n;
	}
	o->modified_ns = store_now_ns();
	pthread_mutex_unlock(&st->lock);
	return rc ? rc : n;
}

/* Is thread pid exiting with a failure right now?  Field 9 of /proc/PID/stat holds the task flags
 * (PF_EXITING), field 52 the exit code (set before the process's files are closed). */
static bool dying_badly(pid_t pid, int *code)
{
	char path[64], buf[2048];
	unsigned long flags = 0;
	long exit_code = 0;
	ssize_t n;
	char *p;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	if (!p)
		return false;
	for (field = 2, p++; *p && field < 52; p++) {
		if (*p != ' ')
			continue;
		field++;
		if (field == 9)
			flags = strtoul(p + 1, NULL, 10);
		else if (field == 52)
			exit_code = strtol(p + 1, NULL, 10);
	}
	*code = (int)exit_code;
	return (flags & PF_EXITING) && exit_code != 0;
}

/* Only the last close before RELEASE counts: a child that inherited the descriptor and exits 1 (a grep
 * that found nothing) is not the writer giving up, as long as somebody closes after it.
 * Writes through passthrough never reach the daemon, so each close of a writer is also where the
 * capacity is charged for what the block holds now: close(2) then fails with ENOSPC, which cp and dd
 * report, and the variable is doomed. */
int store_flush(struct store *st, struct store_handle *h, pid_t pid)
{
	struct obj *o = h->o;
	struct stat sb;
	char path[512];
	int code = 0, rc = 0;
	bool bad;

	if (!h->writer)
		return 0;
	bad = pid && dying_badly(pid, &code);
	pthread_mutex_lock(&st->lock);
	h->bad_closer = bad ? pid : 0;
	h->bad_code = code;
	if (o->state == OBJ_WRITING && !o->sealing && fstat(o->fd, &sb) == 0) {
		if ((uint64_t)sb.st_size > o->charge)
			rc = alloc_resize(&st->alloc, &o->charge, (uint64_t)sb.st_size);
		if (rc == 0 && (uint64_t)sb.st_size > o->size)
			o->size = (uint64_t)sb.st_size;
		if (rc && !o->doomed) {
			o->doomed = true;
			store_path(o, path, sizeof(path));
			store_logf(st, "%s: the fabric's capacity is spent; the variable will be dropped at close",
				   path);
		}
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Called with the lock held at a writer's release: did its last close come from a dying process? */
static void doom_if_bad_closer(struct store *st, struct store_handle *h)
{
	struct obj *o = h->o;
	char path[512];

	if (!h->bad_closer || o->state != OBJ_WRITING || o->doomed)
		return;
	o->doomed = true;
	store_path(o, path, sizeof(path));
	if (h->bad_code & 0x7f)
		store_logf(st, "%s: writer pid %d died of signal %d holding it open; dropping it", path,
			   (int)h->bad_closer, h->bad_code & 0x7f);
	else
		store_logf(st, "%s: writer pid %d exited with status %d holding it open; dropping it", path,
			   (int)h->bad_closer, (h->bad_code >> 8) & 0xff);
}

/* The type set while writing must fit the final size; if it does not, the seal goes ahead without it. */
static void check_type_at_seal(struct store *st, struct obj *o)
{
	struct dtype t;
	char path[512];

	if (!o->type)
		return;
	if (dtype_parse(o->type, &t, NULL, 0) == 0 && t.nbytes == o->size)
		return;
	store_path(o, path, sizeof(path));
	store_logf(st, "%s: type '%s' does not fit its %llu bytes; sealed without a type", path, o->type,
		   (unsigned long long)o->size);
	free(o->type);
	o->type = NULL;
}

/* Drop a doomed variable at its last writer's release: name and row go now, bytes at the last close. */
static void drop_locked(struct store *st, struct obj *o)
{
	char path[512];
	int rc = 0;

	store_path(o, path, sizeof(path));
	if (!o->unlinked) {
		struct yp_obj row;
		store_fill_yp(o, &row);
		row.parent = 0;
		row.state = "deleted";
		rc = yp_obj_update(st->yp, &row);
		if (o->parent)
			o->parent->modified_ns = store_now_ns();
		store_mark_unlinked(st, o);
	}
	store_logf(st, "%s: dropped, not sealed%s", path, rc ? " (its row is left for the next start)" : "");
}

/* Hash and commit the seal.  Called without the lock; o->sealing keeps everybody else off o's bytes. */
static int seal(struct store *st, struct obj *o)
{
	char hex[HASH_HEX_LEN + 1];
	struct stat sb;
	int rc;

	if (fstat(o->fd, &sb) < 0)
		return -errno;
	rc = hash_fd(o->fd, 0, (uint64_t)sb.st_size, hex);
	if (rc)
		return rc;
	pthread_mutex_lock(&st->lock);
	rc = alloc_resize(&st->alloc, &o->charge, (uint64_t)sb.st_size);
	if (rc == 0) {
		o->size = (uint64_t)sb.st_size;
		memcpy(o->xxh3, hex, sizeof(hex));
		o->sealed_ns = store_now_ns();
		check_type_at_seal(st, o);
		o->state = OBJ_SEALED;
		if (!o->unlinked) {
			rc = yp_begin(st->yp);
			if (rc == 0) {
				rc = store_persist(st, o);
				if (rc == 0)
					rc = yp_extent_set(st->yp, (int64_t)o->id, (int64_t)o->block_id, 0, o->size);
				if (rc == 0)
					rc = yp_block_set_size(st->yp, (int64_t)o->block_id, o->size);
				if (rc == 0)
					rc = yp_commit(st->yp);
				else
					yp_rollback(st->yp);
			}
		}
		if (rc) {
			o->state = OBJ_WRITING;
			o->xxh3[0] = '\0';
		}
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Answer the opens that waited for o's seal: each gets its own handle, opened here under the lock so
 * that o's bytes cannot go between the seal and their open. */
static struct waiter *take_waiters(struct obj *o, int rc)
{
	struct waiter *ws = o->waiters;

	o->waiters = NULL;
	for (struct waiter *w = ws; w; w = w->next) {
		w->h = NULL;
		if (rc)
			w->rc = rc;
		else if ((w->flags & O_ACCMODE) != O_RDONLY || (w->flags & O_TRUNC))
			w->rc = -EROFS;
		else
			w->rc = new_handle(o, false, w->pid, &w->h);
	}
	return ws;
}

void store_release(struct store *st, struct store_handle *h)
{
	struct obj *o = h->o;
	struct waiter *ws = NULL;
	bool last_writer;
	char path[512];
	int rc;

	pthread_mutex_lock(&st->lock);
	if (h->writer)
		doom_if_bad_closer(st, h);
	last_writer = h->writer && --o->nwriters == 0 && o->state == OBJ_WRITING;
	if (last_writer && !o->doomed) {
		o->sealing = true;
		pthread_mutex_unlock(&st->lock);
		rc = seal(st, o);
		pthread_mutex_lock(&st->lock);
		o->sealing = false;
		if (rc) {
			store_path(o, path, sizeof(path));
			store_logf(st, "%s: sealing failed (%s)", path, strerror(-rc));
			o->doomed = true;
		}
	}
	if (last_writer && o->doomed)
		drop_locked(st, o);
	if (last_writer)
		ws = take_waiters(o, o->doomed ? -ENOENT : 0);
	for (struct store_handle **pp = &o->handles; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	free(h);
	if (--o->nopen == 0) {
		close(o->fd);
		o->fd = -1;
		if (o->unlinked)
			store_release_data(st, o);
	}
	store_maybe_free(st, o);
	pthread_mutex_unlock(&st->lock);

	while (ws) {
		struct waiter *next = ws->next;
		ws->wake(ws->arg, ws->rc, ws->h);
		free(ws);
		ws = next;
	}
}
