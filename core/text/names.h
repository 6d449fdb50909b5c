/* SPDX-License-Identifier: MIT */
/* names.h -- which names the fabric accepts, for objects and for nodes.
 *
 * One place decides, so the filesystem, the control file and the tools refuse the same names with the
 * same errno.  Object names are single path components; node names also become part of shm names, so
 * they are restricted to characters that cannot collide with the '.' separators there. */
#ifndef FABRIC_CORE_NAMES_H
#define FABRIC_CORE_NAMES_H

#include <stddef.h>

#define NAMES_LEAF_MAX 255 /* bytes in one path component, as NAME_MAX */
#define NAMES_NODE_MAX 64  /* bytes in a node name */

/* A leaf name for vars/ and its directories.  Returns 0, -ENAMETOOLONG past NAMES_LEAF_MAX, or -EINVAL
 * for "", ".", "..", a '/', a control character (they break line-oriented answers) or '@' (reserved for
 * versions, NAME@V).  why, if not NULL, gets a sentence on what is wrong. */
int names_check_leaf(const char *name, char *why, size_t whylen);
/* A node name: 1..NAMES_NODE_MAX of [A-Za-z0-9_-].  Returns 0 or -EINVAL. */
int names_check_node(const char *name);
/* A node name made from this machine's hostname (first label, other characters turned into '-'), or
 * "local" when there is none.  buf holds NAMES_NODE_MAX + 1 bytes. */
void names_default_node(char *buf, size_t len);

#endif
