/* An in-memory directory tree for the rapl_tree fuzz target. open, pread,
 * close, opendir, readdir and closedir are wrapped at link time (ld --wrap):
 * paths under FAKEFS_ROOT and the descriptors and directory streams they give
 * are served from memory, everything else goes to the C library. A tree on a
 * real file system costs some 400 system calls an input (300 inputs a second
 * under libFuzzer); this one costs none. */
#ifndef JST_FAKEFS_H
#define JST_FAKEFS_H

#include <stddef.h>

#define FAKEFS_ROOT "/jst-fakefs"

enum fakefs_type { FAKEFS_FILE, FAKEFS_DIR, FAKEFS_LINK };

/* Empty the tree (only the root directory is left); closes nothing. */
void fakefs_reset(void);
/* Add path (relative to the root, '/'-separated) with its missing parent
 * directories. data: a file's content or a link's target (len bytes). 0, or -1
 * when the tree is full or path is there already. */
int fakefs_add(const char *path, size_t plen, enum fakefs_type type, const char *data, size_t len);
/* Descriptors and directory streams still open: a leak when not 0 after an input. */
int fakefs_open_count(void);

#endif
