/* SPDX-License-Identifier: MIT */
/* fabric_peek.c -- the C example of fabric.h: map a variable zero-copy and print its size, type and the
 * XXH3-128 of the mapped bytes (which must equal its user.fabric.xxh3).
 *
 *   fabric-peek NAME|PATH...      (NAME is under $FABRIC/vars, default /fabric/vars) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/os/hash.h"
#include "tools/fabric.h"

static void usage(void)
{
	fprintf(stderr, "usage: fabric-peek NAME|PATH...\n"
			"  map each variable with fabric_map() and print: size, type, xxh3 of the mapping\n");
}

int main(int argc, char **argv)
{
	int status = EXIT_SUCCESS;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage();
		return argc < 2 ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	for (int i = 1; i < argc; i++) {
		char hex[HASH_HEX_LEN + 1], *type = NULL;
		size_t len = 0;
		const void *p = fabric_map(argv[i], &len, &type);

		if (!p) {
			fprintf(stderr, "fabric-peek: %s: %s\n", argv[i], strerror(errno));
			status = EXIT_FAILURE;
			continue;
		}
		hash_buf(p, len, hex);
		printf("%s\t%zu\t%s\t%s\n", argv[i], len, type ? type : "-", hex);
		free(type);
		fabric_unmap(p, len);
	}
	return status;
}
