/* SPDX-License-Identifier: MIT */
/* test_alloc.c -- capacity accounting: page rounding, ENOSPC at the edge, shrink, release, adopt. */
#include <errno.h>
#include <pthread.h>

#include "core/store/alloc.h"
#include "tests/check.h"

static struct alloc shared;

static void *grab_and_give(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10000; i++) {
		uint64_t c = 0;
		if (alloc_resize(&shared, &c, 5000) == 0)
			alloc_release(&shared, &c);
	}
	return NULL;
}

int main(void)
{
	struct alloc a;
	uint64_t cap, used, c1 = 0, c2 = 0, c3 = 0;

	CHECK(alloc_charge_for(0) == 0);
	CHECK(alloc_charge_for(1) == 4096);
	CHECK(alloc_charge_for(4096) == 4096);
	CHECK(alloc_charge_for(4097) == 8192);
	CHECK(alloc_charge_for(UINT64_MAX) % ALLOC_PAGE == 0);

	alloc_init(&a, 3 * 4096);
	CHECK_RC(alloc_resize(&a, &c1, 1), 0);
	CHECK(c1 == 4096);
	CHECK_RC(alloc_resize(&a, &c1, 8000), 0);
	CHECK(c1 == 8192);
	/* one page left: two more pages must be refused and change nothing */
	CHECK_RC(alloc_resize(&a, &c2, 4097), -ENOSPC);
	CHECK(c2 == 0);
	alloc_totals(&a, &cap, &used);
	CHECK(cap == 3 * 4096 && used == 8192);
	CHECK_RC(alloc_resize(&a, &c2, 4096), 0);
	CHECK_RC(alloc_resize(&a, &c3, 1), -ENOSPC);
	/* shrinking gives pages back */
	CHECK_RC(alloc_resize(&a, &c1, 10), 0);
	CHECK(c1 == 4096);
	CHECK_RC(alloc_resize(&a, &c3, 1), 0);
	alloc_release(&a, &c1);
	CHECK(c1 == 0);
	alloc_totals(&a, &cap, &used);
	CHECK(used == 8192);
	/* adopt charges past the capacity (a remount with a smaller --capacity), then nothing grows */
	alloc_set_capacity(&a, 4096);
	alloc_adopt(&a, &c1, 100000);
	alloc_totals(&a, &cap, &used);
	CHECK(cap == 4096 && used == 8192 + alloc_charge_for(100000));
	CHECK_RC(alloc_resize(&a, &c2, 8192), -ENOSPC);
	alloc_release(&a, &c1);
	alloc_release(&a, &c2);
	alloc_release(&a, &c3);
	alloc_totals(&a, &cap, &used);
	CHECK(used == 0);
	alloc_destroy(&a);

	/* concurrent users never lose a page */
	alloc_init(&shared, 1 << 20);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, grab_and_give, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	alloc_totals(&shared, &cap, &used);
	CHECK(used == 0);
	alloc_destroy(&shared);
	return CHECK_DONE();
}
