/* SPDX-License-Identifier: MIT */
/* store_life.c -- a store's life: store_init opens a state dir, store_destroy closes it.
 *
 * store_init, in this order: the YP (STATE/yp.db); the node the state dir belongs to (made at its first
 * start: the node's name, a shm prefix with a fresh random instance so that no two state dirs share a block
 * name, a capacity; a state dir of another node than the one asked for is refused); the node's clean flag
 * cleared, then recovery (recover.c), which verifies every sealed variable's xxh3 when the flag was found
 * cleared; shards/ and datasets/ made when missing, the datasets' directories marked.  Only then is the name_changed callback set: what was loaded is no news
 * to anybody.  A failure anywhere gives back all that was taken and says in msg what went wrong.
 *
 * store_destroy records a clean shutdown (the clean flag, and the capacity, which store_allocate and
 * store_deallocate change at run time) and frees everything; it leaves every shm block in place: sealed
 * variables survive the daemon, and what was being written is dropped by the next start's recovery. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/store/storeInt.h"
#include "meta/yp.h"

/* shards/ and datasets/ are directories of the root, made at the first start of a state dir that lacks
 * them (the schema only seeds the root and vars/), with mode; the id to *id. */
static int ensure_top_dir(struct store *st, const char *name, uint32_t mode, uint64_t *id)
{
	struct obj *root = ns_by_id(st, STORE_ROOT_ID), *o = ns_child(st, root, name);
	int64_t now = store_now_ns();
	struct yp_obj row;
	int rc;

	if (o) {
		*id = o->id;
		return 0;
	}
	row = (struct yp_obj){ .id = (int64_t)store_new_id(st), .parent = STORE_ROOT_ID, .name = name, .kind = "dir", .state = "sealed",
			       .scope = "any", .node = st->node_id, .mode = mode, .created_ns = now,
			       .modified_ns = now };
	rc = yp_obj_insert(st->yp, &row);
	if (rc)
		return rc;
	o = ns_new(st, (uint64_t)row.id, OBJ_DIR, name);
	if (!o)
		return -ENOMEM;
	o->state = OBJ_SEALED;
	o->mode = mode;
	o->created_ns = o->modified_ns = now;
	ns_link(st, root, o, NULL);
	root->nsubdirs++;
	*id = o->id;
	return 0;
}

static int setup_node(struct store *st, const struct store_config *cfg, struct yp_node *n, char *msg,
		      size_t msglen)
{
	char inst[9];
	int rc = yp_node_get(st->yp, n);

	if (rc == -ENOENT) {
		memset(n, 0, sizeof(*n));
		if (cfg->node)
			snprintf(n->name, sizeof(n->name), "%s", cfg->node);
		else
			names_default_node(n->name, sizeof(n->name));
		shm_new_instance(inst);
		rc = shm_prefix(n->name, inst, n->shm_prefix, sizeof(n->shm_prefix));
		if (rc)
			return rc;
		n->capacity = cfg->capacity;
		if (!n->capacity && shm_fs_size(&n->capacity) == 0)
			n->capacity /= 2;
		n->clean = 1;
		return yp_node_add(st->yp, n);
	}
	if (rc)
		return rc;
	if (cfg->node && strcmp(cfg->node, n->name) != 0) {
		snprintf(msg, msglen, "state dir %s belongs to node '%s', not '%s'; give --node %s or another --state",
			 cfg->state_dir, n->name, cfg->node, n->name);
		return -EINVAL;
	}
	if (cfg->capacity)
		n->capacity = cfg->capacity;
	return 0;
}

int store_init(const struct store_config *cfg, struct store **out, char *msg, size_t msglen)
{
	struct yp_node node;
	struct store *st;
	char path[4096];
	int64_t maxblock = 0, maxobj = 0;
	bool was_clean;
	int rc;

	snprintf(msg, msglen, "cannot open the store");
	if (cfg->node && names_check_node(cfg->node)) {
		snprintf(msg, msglen, "node name '%s' is not 1-64 of [A-Za-z0-9_-]", cfg->node);
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	pthread_mutex_init(&st->lock, NULL);
	{
		pthread_rwlockattr_t ra;
		pthread_rwlockattr_init(&ra);
		/* a steady stream of readers must not keep a defragment move waiting forever */
		pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&st->slab_lock, &ra);
		pthread_rwlockattr_destroy(&ra);
	}
	slab_set_init(&st->slabs);
	st->slab_threshold = cfg->no_slabs ? 0 : STORE_SLAB_THRESHOLD;
	st->log = cfg->log;
	rc = ns_init(st);
	if (rc)
		goto out_free;
	snprintf(path, sizeof(path), "%s/yp.db", cfg->state_dir);
	rc = yp_open(path, &st->yp);
	if (rc) {
		snprintf(msg, msglen, "cannot open the yellow pages %s (%s); see the log", path, strerror(-rc));
		goto out_ns;
	}
	rc = setup_node(st, cfg, &node, msg, msglen);
	if (rc)
		goto out_yp;
	snprintf(st->node, sizeof(st->node), "%s", node.name);
	snprintf(st->prefix, sizeof(st->prefix), "%s", node.shm_prefix);
	st->node_id = node.id;
	alloc_init(&st->alloc, node.capacity);
	was_clean = node.clean;
	node.clean = 0;
	rc = yp_node_update(st->yp, &node);
	if (rc == 0)
		rc = store_recover(st, !was_clean, cfg->lost, cfg->lost_arg);
	if (rc == 0)
		rc = yp_block_max_id(st->yp, &maxblock);
	if (rc == 0)
		rc = yp_obj_max_id(st->yp, &maxobj);
	if (rc) {
		snprintf(msg, msglen, "recovery of %s failed (%s); see the log", cfg->state_dir, strerror(-rc));
		goto out_alloc;
	}
	st->next_block = (uint64_t)maxblock + 1;
	st->next_id = (uint64_t)maxobj + 1;
	if (!ns_by_id(st, STORE_ROOT_ID) || !ns_by_id(st, STORE_VARS_ID)) {
		snprintf(msg, msglen, "the yellow pages in %s have no root or vars/ row", cfg->state_dir);
		rc = -EPROTO;
		goto out_alloc;
	}
	rc = ensure_top_dir(st, "shards", 0555, &st->shards_id);
	if (rc == 0) /* anyone makes datasets there (mkdir), only its owner removes one: as /tmp */
		rc = ensure_top_dir(st, "datasets", 01777, &st->datasets_id);
	if (rc == 0)
		rc = store_datasets_load(st);
	if (rc) {
		snprintf(msg, msglen, "cannot make shards/ and datasets/ in %s (%s)", cfg->state_dir, strerror(-rc));
		goto out_alloc;
	}
	if (!was_clean)
		store_logf(st, "the last stop was not clean: every sealed variable was verified by its xxh3");
	if (store_sealer_start(st) != 0)
		store_logf(st, "cannot start the thread that commits seals together; each seal commits alone");
	/* from now on: the namespace loaded above was no news to anybody */
	st->name_changed = cfg->name_changed;
	st->name_changed_arg = cfg->name_changed_arg;
	if (events_new(cfg->events_keep, &st->events) != 0)
		store_logf(st, "no memory for the event stream: the events file stays empty");
	*out = st;
	return 0;

out_alloc:
	slab_set_destroy(&st->slabs);
	alloc_destroy(&st->alloc);
out_yp:
	yp_close(st->yp);
out_ns:
	ns_destroy(st);
out_free:
	pthread_rwlock_destroy(&st->slab_lock);
	pthread_mutex_destroy(&st->lock);
	free(st);
	return rc;
}

void store_destroy(struct store *st)
{
	struct yp_node node;

	if (!st)
		return;
	store_sealer_stop(st); /* after it has committed what was queued */
	pthread_mutex_lock(&st->lock);
	for (size_t b = 0; b < st->nbuckets; b++)
		for (struct obj *o = st->by_id[b]; o; o = o->by_id_next)
			if (o->fd >= 0)
				close(o->fd);
	/* Unlinked-but-open variables and ones still being written are cleaned at the next start; the
	 * sealed ones are intact, which is what the clean flag vouches for. */
	if (yp_node_get(st->yp, &node) == 0) {
		node.clean = 1;
		node.capacity = st->alloc.capacity;
		yp_node_update(st->yp, &node);
	}
	pthread_mutex_unlock(&st->lock);
	yp_close(st->yp);
	events_free(st->events);
	st->events = NULL; /* what ns_destroy frees is no event */
	ns_destroy(st);
	slab_set_destroy(&st->slabs);
	alloc_destroy(&st->alloc);
	pthread_rwlock_destroy(&st->slab_lock);
	pthread_mutex_destroy(&st->lock);
	free(st);
}
