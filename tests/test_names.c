/* SPDX-License-Identifier: MIT */
/* test_names.c -- which object and node names are accepted, and with which errno they are refused. */
#include <errno.h>
#include <string.h>

#include "core/text/names.h"
#include "tests/check.h"

int main(void)
{
	char longname[300], why[128], node[NAMES_NODE_MAX + 1];

	CHECK_RC(names_check_leaf("w", NULL, 0), 0);
	CHECK_RC(names_check_leaf("weights.bin", NULL, 0), 0);
	CHECK_RC(names_check_leaf("with space and ünïcode", NULL, 0), 0);
	memset(longname, 'a', 255);
	longname[255] = '\0';
	CHECK_RC(names_check_leaf(longname, NULL, 0), 0);
	longname[255] = 'a';
	longname[256] = '\0';
	CHECK_RC(names_check_leaf(longname, why, sizeof(why)), -ENAMETOOLONG);
	CHECK(why[0] != '\0');
	CHECK_RC(names_check_leaf("", NULL, 0), -EINVAL);
	CHECK_RC(names_check_leaf(".", NULL, 0), -EINVAL);
	CHECK_RC(names_check_leaf("..", NULL, 0), -EINVAL);
	CHECK_RC(names_check_leaf("a/b", NULL, 0), -EINVAL);
	CHECK_RC(names_check_leaf("x@3", why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "@") != NULL);
	CHECK_RC(names_check_leaf("line\nbreak", NULL, 0), -EINVAL);
	CHECK_RC(names_check_leaf("tab\there", NULL, 0), -EINVAL);
	CHECK_RC(names_check_leaf("del\x7f", NULL, 0), -EINVAL);

	CHECK_RC(names_check_node("node-1_a"), 0);
	CHECK_RC(names_check_node(""), -EINVAL);
	CHECK_RC(names_check_node("a.b"), -EINVAL); /* '.' separates the parts of shm names */
	CHECK_RC(names_check_node("a b"), -EINVAL);
	memset(longname, 'n', 65);
	longname[65] = '\0';
	CHECK_RC(names_check_node(longname), -EINVAL);
	longname[64] = '\0';
	CHECK_RC(names_check_node(longname), 0);

	names_default_node(node, sizeof(node));
	CHECK_RC(names_check_node(node), 0);
	return CHECK_DONE();
}
