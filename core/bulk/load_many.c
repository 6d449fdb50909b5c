/* SPDX-License-Identifier: MIT */
/* load_many.c -- one load request that makes many objects, all or nothing (see load_many.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bulk/load_many.h"
#include "core/store/alloc.h"
#include "core/text/dtype.h"
#include "core/text/names.h"
#include "core/text/text.h"

#define WHAT_MAX (2 * PATH_MAX_LEN + 32) /* a member named for a sentence: the source, then its path */
/* Variables released between two store_seal_wait, at most: a queued seal of a variable with a block of its
 * own holds the block's fd until its commit, so should the sealer fall behind, the queue would grow by
 * one fd a file towards the daemon's RLIMIT_NOFILE; a wait now and then bounds it. */
#define LOAD_MANY_QUEUE 4096

enum made_kind { MADE_DIR, MADE_VAR, MADE_LINK, MADE_ALIAS };

struct load_made {
	uint64_t dir, id; /* where and what: the object id (an alias's is the object it names) */
	char *member;     /* its path in the source; the leaf is its last component */
	enum made_kind kind;
	bool gone;        /* removed already (a variable dropped where it failed) */
};

static const char *leaf_of(const char *member)
{
	const char *slash = strrchr(member, '/');

	return slash ? slash + 1 : member;
}

static int remember(struct load_many *m, uint64_t dir, uint64_t id, const char *member, enum made_kind kind)
{
	struct load_made *e;

	if (m->nmade == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		struct load_made *v = realloc(m->made, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		m->made = v;
		m->cap = cap;
	}
	e = &m->made[m->nmade];
	e->member = strdup(member);
	if (!e->member)
		return -ENOMEM;
	e->dir = dir;
	e->id = id;
	e->kind = kind;
	e->gone = false;
	m->nmade++;
	return 0;
}

/* Remove object e if its name still gives it: store_lookup answers with the object (for an alias too),
 * after its seal's commit if one is queued. */
static int remove_made(struct load_many *m, struct load_made *e)
{
	const char *leaf = e->kind == MADE_DIR && e->id == m->top ? e->member : leaf_of(e->member);
	struct store_attr a;
	int rc = store_lookup(m->st, e->dir, leaf, &a);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	store_forget(m->st, a.id, 1);
	if (a.id != e->id)
		return 0; /* somebody else's now: not ours to remove */
	return e->kind == MADE_DIR ? store_rmdir(m->st, e->dir, leaf) : store_unlink(m->st, e->dir, leaf);
}

/* What comes before m->name in a path of the mount: vars/NAME is made, an existing directory (a dataset's,
 * datasets/P) is named whole. */
static const char *top_word(const struct load_many *m)
{
	return m->into ? "" : "vars/";
}

static void undo(struct load_many *m)
{
	size_t left = 0;

	for (size_t i = m->nmade; i-- > 0;)
		if (!m->made[i].gone && remove_made(m, &m->made[i]) != 0)
			left++;
	/* the seals still queued commit now, so the blocks of the variables unlinked above are gone before the
	 * answer (the caller may count /dev/shm) */
	store_seal_wait(m->st);
	if (left) {
		size_t n = strlen(m->why);
		snprintf(m->why + n, m->whylen - n, "; %zu object(s) of %s%s could not be removed (something "
			 "was put there meanwhile?)", left, top_word(m), m->name);
	}
}

void load_many_init(struct load_many *m, struct store *st, const struct load_caller *who, const char *name,
		    uint64_t into, const char *src, bool archive, const char *doc, int mode, struct load_result *res,
		    char *why, size_t whylen)
{
	memset(m, 0, sizeof(*m));
	memset(res, 0, sizeof(*res));
	m->st = st;
	m->who = who;
	m->name = name;
	m->into = into;
	m->src = src;
	m->archive = archive;
	m->doc = doc;
	m->mode = mode;
	m->res = res;
	m->why = why;
	m->whylen = whylen;
	m->mask = load_caller_mode(who, 0777);
	load_creds_of(who, &m->caller);
}

uint64_t load_many_own(uint64_t size)
{
	return size >= STORE_SLAB_THRESHOLD ? alloc_charge_for(size) : 0;
}

const char *load_many_what(const struct load_many *m, const char *member, char *buf, size_t len)
{
	if (m->archive)
		snprintf(buf, len, "%s, %s %s", m->src, m->lines ? "key" : "member", member);
	else
		snprintf(buf, len, "%s/%s", m->src, member);
	return buf;
}

int load_many_begin(struct load_many *m, uint32_t top_mode, uint64_t total, uint64_t own_bytes)
{
	char leaf[NAMES_LEAF_MAX + 1], *why = m->why;
	uint64_t parent, capacity, used, objects, free_bytes;
	struct store *st = m->st;
	const char *name = m->name;
	size_t whylen = m->whylen;
	struct store_attr a;
	int rc;

	if (m->doc && strlen(m->doc) > STORE_DOC_MAX)
		return text_say(why, whylen, -E2BIG, "doc is longer than %d bytes", STORE_DOC_MAX);
	if (m->into) {
		parent = m->into;
		if (!load_caller_may_create(st, m->who, parent))
			return text_say(why, whylen, -EACCES, "cannot put into %s: uid %u may not create names there",
					name, m->who->uid);
	} else {
		rc = path_parent(st, name, &parent, leaf, sizeof(leaf));
		if (rc)
			return text_say(why, whylen, rc, "cannot make vars/%s: its directory %s", name,
					rc == -ENOENT ? "does not exist; mkdir it first" : path_error(rc));
		if (!load_caller_may_create(st, m->who, parent))
			return text_say(why, whylen, -EACCES, "cannot make vars/%s: uid %u may not create names in "
					"its directory", name, m->who->uid);
	}
	store_statfs(st, &capacity, &used, &objects);
	free_bytes = capacity > used ? capacity - used : 0;
	if (own_bytes > free_bytes)
		return text_say(why, whylen, -ENOSPC, "not enough capacity: the variables of %u bytes or more in %s "
				"need %llu bytes, and %llu are free; see: stat", STORE_SLAB_THRESHOLD, m->src,
				(unsigned long long)own_bytes, (unsigned long long)free_bytes);
	m->bounce = malloc(LOAD_BOUNCE);
	if (!m->bounce)
		return text_say(why, whylen, -ENOMEM, "out of memory");
	rc = uring_reader_new(&m->ring);
	if (rc) {
		free(m->bounce);
		return text_say(why, whylen, rc, "cannot set up io_uring: %s", strerror(-rc));
	}
	if (m->into) {
		m->top = m->into;
		m->res->many = true;
		load_inflight_begin(&m->progress, name, total);
		return 0;
	}
	rc = store_mkdir(st, parent, leaf, top_mode & m->mask, m->who->uid, m->who->gid, &a);
	if (rc == 0) {
		store_forget(st, a.id, 1);
		m->top = a.id;
		if ((rc = remember(m, parent, a.id, leaf, MADE_DIR)))
			store_rmdir(st, parent, leaf);
	}
	if (rc) {
		uring_reader_free(m->ring);
		m->ring = NULL;
		free(m->bounce);
		m->bounce = NULL;
		return text_say(why, whylen, rc, rc == -EEXIST ? "vars/%s exists; remove it first or choose another name"
				: "cannot make vars/%s: %s", name, strerror(-rc));
	}
	m->res->many = true;
	m->res->dirs = 1;
	load_inflight_begin(&m->progress, name, total);
	return 0;
}

uint32_t load_many_mode(const struct load_many *m, uint32_t bits, bool var)
{
	return var && m->mode >= 0 ? (uint32_t)m->mode : bits & m->mask;
}

void load_many_become(struct load_many *m, struct load_creds *saved)
{
	load_become_as(&m->caller, saved);
}

/* A refusal of the store for member: the sentence, with what the name rules say when they said no. */
static int refused(struct load_many *m, int rc, const char *member, const char *what)
{
	char why[160] = "", w[WHAT_MAX];

	load_many_what(m, member, w, sizeof(w));
	if (rc == -EEXIST)
		return text_say(m->why, m->whylen, rc, "%s: cannot make %s%s/%s: it exists already%s%s%s", w,
				top_word(m), m->name, member, m->into ? "" : " (does ", m->into ? "" : m->src,
				m->into ? "" : " hold it twice?)");
	if ((rc == -EINVAL || rc == -ENAMETOOLONG) && names_check_leaf(leaf_of(member), why, sizeof(why)))
		return text_say(m->why, m->whylen, rc, "%s: its name is refused: %s", w, why);
	return text_say(m->why, m->whylen, rc, "%s: cannot make %s %s%s/%s: %s", w, what, top_word(m), m->name, member,
			strerror(-rc));
}

int load_many_mkdir(struct load_many *m, uint64_t dir, const char *leaf, uint32_t mode, const char *member,
		    uint64_t *id)
{
	struct store_attr a;
	int rc = store_mkdir(m->st, dir, leaf, mode, m->who->uid, m->who->gid, &a);

	if (rc)
		return refused(m, rc, member, "directory");
	store_forget(m->st, a.id, 1);
	rc = remember(m, dir, a.id, member, MADE_DIR);
	if (rc) {
		store_rmdir(m->st, dir, leaf);
		return text_say(m->why, m->whylen, rc, "out of memory");
	}
	m->res->dirs++;
	if (id)
		*id = a.id;
	return 0;
}

/* type and doc on variable id, being written; 0 or -errno with the answer's sentence said. */
static int describe(struct load_many *m, uint64_t id, const char *type, const char *doc, const char *member)
{
	char w[WHAT_MAX];
	int rc = 0;

	doc = doc ? doc : m->doc;
	if (type && (rc = store_setxattr(m->st, id, "user.fabric.type", type, strlen(type), 0)))
		return text_say(m->why, m->whylen, rc, "%s: type '%s' refused: %s",
				load_many_what(m, member, w, sizeof(w)), type, strerror(-rc));
	if (doc && (rc = store_setxattr(m->st, id, "user.fabric.doc", doc, strlen(doc), 0)))
		return text_say(m->why, m->whylen, rc, "%s: doc refused: %s", load_many_what(m, member, w, sizeof(w)),
				strerror(-rc));
	return 0;
}

/* A seal queued: counted, and now and then waited for (see LOAD_MANY_QUEUE). */
static void queued(struct load_many *m, uint64_t len)
{
	m->res->count++;
	m->res->bytes += len;
	if (m->res->count % LOAD_MANY_QUEUE == 0)
		store_seal_wait(m->st);
}

bool load_many_small(const struct load_many *m, uint64_t len)
{
	return len < store_put_max(m->st) && len <= LOAD_BOUNCE;
}

/* In a typed dataset, the type an item of len bytes takes (*type, or the dataset's own into canon), or the
 * answer's refusal before anything is made. */
static int fit_item(struct load_many *m, uint64_t dir, const char **type, uint64_t len, const char *member,
		    char *canon)
{
	char why[512], w[WHAT_MAX];
	int rc = store_item_type(m->st, dir, *type, len, canon, why, sizeof(why));

	if (rc < 0)
		return text_say(m->why, m->whylen, rc, "%s: %s", load_many_what(m, member, w, sizeof(w)), why);
	if (rc == 1)
		*type = canon;
	return 0;
}

int load_many_put(struct load_many *m, uint64_t dir, const char *leaf, uint32_t mode, const void *buf, uint64_t len,
		  const char *type, const char *doc, const char *member, uint64_t *id)
{
	struct store_put *p;
	char w[WHAT_MAX], canon[DTYPE_STR_MAX];
	uint64_t made;
	int rc = fit_item(m, dir, &type, len, member, canon);

	if (rc)
		return rc;
	rc = store_put_begin(m->st, dir, leaf, mode, m->who->uid, m->who->gid, len, &made, &p);

	if (rc == -ENOSPC) /* its pages, or a new slab for them, do not fit */
		return text_say(m->why, m->whylen, rc, "%s: not enough capacity for its %llu bytes; see: stat",
				load_many_what(m, member, w, sizeof(w)), (unsigned long long)len);
	if (rc)
		return refused(m, rc, member, "variable");
	rc = remember(m, dir, made, member, MADE_VAR);
	if (rc)
		text_say(m->why, m->whylen, rc, "out of memory");
	if (rc == 0 && (rc = store_put_bytes(m->st, p, buf)))
		text_say(m->why, m->whylen, rc, "%s: cannot write it into shared memory: %s",
			 load_many_what(m, member, w, sizeof(w)), strerror(-rc));
	if (rc == 0)
		rc = describe(m, made, type, doc, member);
	store_put_end(m->st, p, rc == 0);
	if (rc) {
		if (m->nmade && m->made[m->nmade - 1].id == made)
			m->made[m->nmade - 1].gone = true;
		return rc;
	}
	queued(m, len);
	if (id)
		*id = made;
	return 0;
}

int load_many_var(struct load_many *m, uint64_t dir, const char *leaf, uint32_t mode, int fd, uint64_t off,
		  uint64_t len, const char *type, const char *doc, const char *member, uint64_t *id)
{
	struct store_setattr sa = { .set = STORE_SET_SIZE, .size = len };
	struct store_handle *h;
	struct store_attr a, ignored;
	char w[WHAT_MAX], canon[DTYPE_STR_MAX];
	int rc;

	if (load_many_small(m, len)) {
		rc = load_read(m->ring, fd, off, m->bounce, len, &m->progress);
		if (rc)
			return text_say(m->why, m->whylen, rc, "%s: reading it failed: %s",
					load_many_what(m, member, w, sizeof(w)), strerror(-rc));
		return load_many_put(m, dir, leaf, mode, m->bounce, len, type, doc, member, id);
	}
	rc = fit_item(m, dir, &type, len, member, canon);
	if (rc)
		return rc;
	rc = store_create(m->st, dir, leaf, mode, m->who->uid, m->who->gid, O_WRONLY, getpid(), &a, &h);
	if (rc)
		return refused(m, rc, member, "variable");
	rc = remember(m, dir, a.id, member, MADE_VAR);
	if (rc)
		text_say(m->why, m->whylen, rc, "out of memory");
	if (rc == 0 && (rc = store_setattr(m->st, a.id, &sa, &ignored)))
		text_say(m->why, m->whylen, rc, rc == -ENOSPC ? "%s: not enough capacity for its %llu bytes; see: stat"
			 : "%s: cannot size it to %llu bytes: %s", load_many_what(m, member, w, sizeof(w)),
			 (unsigned long long)len, strerror(-rc));
	if (rc == 0 && (rc = load_fill(h, m->ring, m->bounce, fd, off, len, &m->progress)))
		text_say(m->why, m->whylen, rc, "%s: reading it failed: %s", load_many_what(m, member, w, sizeof(w)),
			 strerror(-rc));
	if (rc == 0)
		rc = describe(m, a.id, type, doc, member);
	if (rc) {
		store_unlink(m->st, dir, leaf); /* before the release: it drops instead of sealing */
		if (m->nmade && m->made[m->nmade - 1].id == a.id)
			m->made[m->nmade - 1].gone = true;
		store_release(m->st, h);
	} else {
		store_release_async(m->st, h); /* sealed with others in one commit; load_many_end waits */
		queued(m, len);
	}
	store_forget(m->st, a.id, 1);
	if (rc == 0 && id)
		*id = a.id;
	return rc;
}

int load_many_symlink(struct load_many *m, uint64_t dir, const char *leaf, const char *target, const char *member)
{
	struct store_attr a;
	int rc = store_symlink(m->st, dir, leaf, target, m->who->uid, m->who->gid, &a);

	if (rc)
		return refused(m, rc, member, "symbolic link");
	store_forget(m->st, a.id, 1);
	rc = remember(m, dir, a.id, member, MADE_LINK);
	if (rc) {
		store_unlink(m->st, dir, leaf);
		return text_say(m->why, m->whylen, rc, "out of memory");
	}
	m->res->links++;
	return 0;
}

int load_many_link(struct load_many *m, uint64_t id, uint64_t dir, const char *leaf, const char *member)
{
	struct store_attr a;
	int rc = store_link(m->st, id, dir, leaf, &a);

	if (rc)
		return refused(m, rc, member, "hard link");
	store_forget(m->st, a.id, 1);
	rc = remember(m, dir, a.id, member, MADE_ALIAS);
	if (rc) {
		store_unlink(m->st, dir, leaf);
		return text_say(m->why, m->whylen, rc, "out of memory");
	}
	m->res->hard_links++;
	return 0;
}

int load_many_link_ok(struct load_many *m, const char *member, const char *target)
{
	unsigned depth = 0, ups = 0;
	bool down = false;
	const char *p = target;
	char w[WHAT_MAX];

	load_many_what(m, member, w, sizeof(w));
	if (!*target)
		return text_say(m->why, m->whylen, -EINVAL, "%s: a symbolic link with an empty target", w);
	if (*target == '/')
		return text_say(m->why, m->whylen, -EINVAL, "%s: a symbolic link to the absolute path '%s'; load takes "
				"only links that stay inside %s (relative, no way out by '..')", w, target, m->src);
	for (const char *c = member; *c; c++)
		depth += *c == '/';
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (down)
				return text_say(m->why, m->whylen, -EINVAL, "%s: a symbolic link to '%s', whose '..' "
						"comes after a name; load takes only links whose '..' come first, so that "
						"no link in the tree can lead them out of it", w, target);
			ups++;
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			down = true;
		}
		p += n;
		p += *p == '/';
	}
	if (ups > depth)
		return text_say(m->why, m->whylen, -EINVAL, "%s: a symbolic link to '%s', which leads out of %s; load "
				"takes only links that stay inside it", w, target, m->src);
	return 0;
}

/* Every variable is sealed (after store_seal_wait): 0, or -EIO naming the first that is not. */
static int all_sealed(struct load_many *m)
{
	for (size_t i = 0; i < m->nmade; i++) {
		struct load_made *e = &m->made[i];
		struct store_attr a;
		char w[WHAT_MAX];
		if (e->kind != MADE_VAR || e->gone)
			continue;
		if (store_getattr(m->st, e->id, &a) != 0 || !a.sealed)
			return text_say(m->why, m->whylen, -EIO, "%s: %s%s/%s could not be sealed; see the daemon log",
					load_many_what(m, e->member, w, sizeof(w)), top_word(m), m->name, e->member);
	}
	return 0;
}

int load_many_end(struct load_many *m, int rc)
{
	if (rc == 0) {
		store_seal_wait(m->st);
		rc = all_sealed(m);
	}
	load_inflight_end(&m->progress);
	if (rc)
		undo(m);
	for (size_t i = 0; i < m->nmade; i++)
		free(m->made[i].member);
	free(m->made);
	uring_reader_free(m->ring);
	free(m->bounce);
	m->bounce = NULL;
	if (rc) {
		struct load_result *res = m->res;
		memset(res, 0, sizeof(*res));
	}
	m->made = NULL;
	m->nmade = m->cap = 0;
	m->ring = NULL;
	return rc;
}
