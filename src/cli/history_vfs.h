/* SQLite's unix VFS with the wal-index mapped in one call (history_vfs.c). */
#ifndef JST_HISTORY_VFS_H
#define JST_HISTORY_VFS_H

/* The VFS name for sqlite3_open_v2, registered on the first call; NULL (the
 * default VFS) when it could not be. */
const char *jst_history_vfs(void);

#endif
