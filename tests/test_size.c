/* SPDX-License-Identifier: MIT */
/* test_size.c -- byte sizes as people write them, and the mistakes that must be refused. */
#include <errno.h>
#include <string.h>

#include "core/text/size.h"
#include "tests/check.h"

int main(void)
{
	uint64_t v = 0;
	char buf[32];

	CHECK_RC(size_parse("4096", &v), 0);
	CHECK(v == 4096);
	CHECK_RC(size_parse("512M", &v), 0);
	CHECK(v == 512ull << 20);
	CHECK_RC(size_parse("2G", &v), 0);
	CHECK(v == 2ull << 30);
	CHECK_RC(size_parse("3k", &v), 0);
	CHECK(v == 3072);
	CHECK_RC(size_parse("1GiB", &v), 0);
	CHECK(v == 1ull << 30);
	CHECK_RC(size_parse("1T", &v), 0);
	CHECK(v == 1ull << 40);
	CHECK_RC(size_parse("18446744073709551615", &v), 0);
	CHECK(v == UINT64_MAX);

	v = 7;
	CHECK_RC(size_parse("", &v), -EINVAL);
	CHECK_RC(size_parse("-1", &v), -EINVAL);
	CHECK_RC(size_parse("+1", &v), -EINVAL);
	CHECK_RC(size_parse("12Q", &v), -EINVAL);
	CHECK_RC(size_parse("1.5G", &v), -EINVAL);
	CHECK_RC(size_parse("G", &v), -EINVAL);
	CHECK_RC(size_parse(" 1", &v), -EINVAL);
	CHECK_RC(size_parse("1 M", &v), -EINVAL);
	CHECK_RC(size_parse("18446744073709551616", &v), -EOVERFLOW);
	CHECK_RC(size_parse("17179869184G", &v), -EOVERFLOW);
	CHECK(v == 7); /* untouched on failure */

	size_format(512, buf, sizeof(buf));
	CHECK(strcmp(buf, "512 B") == 0);
	size_format(3ull << 30, buf, sizeof(buf));
	CHECK(strcmp(buf, "3.0 GiB") == 0);
	return CHECK_DONE();
}
