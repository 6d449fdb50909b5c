/* SPDX-License-Identifier: MIT */
/* test_place.c -- the placement rule for tasks: scopes intersected (refusals name the two scopes), process
 * scopes refused, and among the nodes inside the scope the one holding most input bytes, ties to the first. */
#include <errno.h>
#include <string.h>

#include "core/task/place.h"
#include "tests/check.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

int main(void)
{
	static const char *const one[] = { "here" }, *const ab[] = { "a", "b" }, *const ba[] = { "b", "a" };
	static const struct place_location on_a[] = { { "a", 1000 } }, on_b[] = { { "b", 3000 } },
					   split[] = { { "a", 500 }, { "b", 500 } };
	char why[1024];
	size_t c = 99;

	/* one node, inputs anywhere: that node */
	{
		struct place_input in[] = { { "x", NULL, NULL, 0 } };
		CHECK_RC(place_task(one, N(one), NULL, in, N(in), &c, why, sizeof(why)), 0);
		CHECK(c == 0 && strstr(why, "here") != NULL);
	}
	/* most bytes win */
	{
		struct place_input in[] = { { "x", "any", on_a, 1 }, { "y", "any", on_b, 1 } };
		CHECK_RC(place_task(ab, N(ab), NULL, in, N(in), &c, why, sizeof(why)), 0);
		CHECK(c == 1);
		CHECK(strstr(why, "b holds") != NULL);
	}
	/* a tie goes to the first candidate */
	{
		struct place_input in[] = { { "x", NULL, split, 2 } };
		CHECK_RC(place_task(ab, N(ab), NULL, in, N(in), &c, why, sizeof(why)), 0);
		CHECK(c == 0);
		CHECK_RC(place_task(ba, N(ba), NULL, in, N(in), &c, why, sizeof(why)), 0);
		CHECK(c == 0);
	}
	/* the scope beats the bytes: node:a input, most bytes on b */
	{
		struct place_input in[] = { { "x", "node:a", on_a, 1 }, { "y", NULL, on_b, 1 } };
		CHECK_RC(place_task(ba, N(ba), NULL, in, N(in), &c, why, sizeof(why)), 0);
		CHECK(c == 1); /* "a" is second in ba */
		CHECK(strstr(why, "node:a") != NULL);
	}
	/* the task's own scope too */
	{
		struct place_input in[] = { { "y", NULL, on_b, 1 } };
		CHECK_RC(place_task(ab, N(ab), "node:a", in, N(in), &c, why, sizeof(why)), 0);
		CHECK(c == 0);
	}
	/* scopes that do not meet: refused, naming both */
	{
		struct place_input in[] = { { "x", "node:a", on_a, 1 }, { "y", "node:b", on_b, 1 } };
		c = 99;
		CHECK_RC(place_task(ab, N(ab), NULL, in, N(in), &c, why, sizeof(why)), -EXDEV);
		CHECK(c == 99);
		CHECK(strstr(why, "node:a") && strstr(why, "node:b") && strstr(why, "input y"));
	}
	/* a process-scoped input can never go to a new process */
	{
		struct place_input in[] = { { "ptr", "process:a/5", on_a, 1 } };
		CHECK_RC(place_task(ab, N(ab), NULL, in, N(in), &c, why, sizeof(why)), -EACCES);
		CHECK(strstr(why, "ptr") && strstr(why, "process:a/5"));
		struct place_input mixed[] = { { "m", "union:node:b,process:a/5", on_b, 1 } };
		CHECK_RC(place_task(ab, N(ab), NULL, mixed, N(mixed), &c, why, sizeof(why)), 0);
		CHECK(c == 1);
	}
	/* no candidate inside the scope */
	{
		struct place_input in[] = { { "x", "node:c", NULL, 0 } };
		CHECK_RC(place_task(ab, N(ab), NULL, in, N(in), &c, why, sizeof(why)), -EXDEV);
		CHECK(strstr(why, "node:c") != NULL);
	}
	/* malformed scopes, no candidates */
	{
		struct place_input in[] = { { "x", "nod:a", NULL, 0 } };
		CHECK_RC(place_task(ab, N(ab), NULL, in, N(in), &c, why, sizeof(why)), -EINVAL);
		CHECK(strstr(why, "input x") != NULL);
		CHECK_RC(place_task(ab, N(ab), "bogus", NULL, 0, &c, why, sizeof(why)), -EINVAL);
		CHECK_RC(place_task(ab, 0, NULL, NULL, 0, &c, why, sizeof(why)), -EINVAL);
	}
	return CHECK_DONE();
}
