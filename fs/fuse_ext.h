/* SPDX-License-Identifier: MIT */
/* fuse_ext.h -- the parts of the FUSE kernel protocol that Debian 12's <linux/fuse.h> (7.38) lacks and
 * the passthrough data path needs (kernel 6.9+, protocol 7.40).  Offsets are pinned by assertions, since
 * a wrong one makes the kernel silently turn passthrough off. */
#ifndef FABRIC_FS_FUSE_EXT_H
#define FABRIC_FS_FUSE_EXT_H

#include <linux/fuse.h>
#include <stddef.h>
#include <stdint.h>

#define FABRIC_FUSE_INIT_EXT (1u << 30)       /* fuse_init_{in,out}.flags: flags2 is meaningful */
#define FABRIC_FUSE_PASSTHROUGH2 (1u << 5)    /* flags2 bit of FUSE_PASSTHROUGH (1ULL << 37) */
#define FABRIC_FOPEN_PASSTHROUGH (1u << 7)    /* fuse_open_out.open_flags */

/* fuse_init_out of protocol 7.40: unused[0] became max_stack_depth. */
struct fabric_init_out {
	uint32_t major, minor, max_readahead, flags;
	uint16_t max_background, congestion_threshold;
	uint32_t max_write, time_gran;
	uint16_t max_pages, map_alignment;
	uint32_t flags2;
	uint32_t max_stack_depth;
	uint32_t unused[6];
};

/* fuse_open_out of protocol 7.40: padding became backing_id. */
struct fabric_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

/* FUSE_DEV_IOC_BACKING_OPEN's argument. */
struct fabric_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

#define FABRIC_DEV_IOC_BACKING_OPEN 0x4010e501u  /* _IOW(229, 1, struct fuse_backing_map) */
#define FABRIC_DEV_IOC_BACKING_CLOSE 0x4004e502u /* _IOW(229, 2, uint32_t) */

_Static_assert(sizeof(struct fabric_init_out) == sizeof(struct fuse_init_out), "init_out size");
_Static_assert(offsetof(struct fabric_init_out, flags2) == 32, "init_out.flags2 at byte 32");
_Static_assert(offsetof(struct fabric_init_out, max_stack_depth) == 36, "max_stack_depth at byte 36");
_Static_assert(sizeof(struct fabric_open_out) == sizeof(struct fuse_open_out), "open_out size");
_Static_assert(offsetof(struct fabric_open_out, backing_id) == 12, "open_out.backing_id at byte 12");
_Static_assert(sizeof(struct fabric_backing_map) == 16, "backing map size");
_Static_assert(offsetof(struct fuse_init_in, flags2) == 16, "init_in.flags2 at byte 16");

#endif
