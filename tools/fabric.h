/* SPDX-License-Identifier: MIT */
/* fabric.h -- get_ptr for programs: map a variable of a mounted fabric, read-only and zero-copy.
 *
 * The Data Fabric design's get_ptr(node, shared_id, offset) -> (type, pointer).  A program links
 * tools/libfabric.a (or compiles tools/fabric_map.c in) and asks for a variable by its path in the mount
 * (/fabric/vars/w) or by its name under vars/ with the mount in $FABRIC ("w").  For a variable with a
 * block of its own the mapping is the shm pages themselves: of the shm object named by
 * user.fabric.locations when this process may open it (root; the blocks are mode 0600), else of the file
 * in the mount, which is zero-copy too when the mount uses passthrough (`getfattr -n
 * user.fabric.datapath /fabric`).  A small variable packed into a slab block (under 64 KiB) is mapped
 * through the mount, a page-cache copy, because its slab pages are reused after removal and moved by
 * defragment.  Only sealed variables are mapped.
 *
 * Ownership: the mapping stays valid until fabric_unmap, even after the variable is removed (its pages
 * live while mapped).  *type is malloc'd (NULL when the variable has no type); the caller frees it. */
#ifndef FABRIC_TOOLS_FABRIC_H
#define FABRIC_TOOLS_FABRIC_H

#include <stddef.h>

/* Map a sealed variable.  Returns a pointer to its first byte, or NULL with errno set (ENOENT, EAGAIN
 * while it is being written, ENOTSUP when the path is not in a fabric, ...).  len gets its size. */
const void *fabric_map(const char *path_or_name, size_t *len, char **type);
/* Undo fabric_map (ptr and len as it returned them). */
int fabric_unmap(const void *ptr, size_t len);

#endif
