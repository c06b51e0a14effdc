/* The history's VFS: SQLite's own unix VFS, but for one thing. The first
 * process to open a WAL database rebuilds its wal-index, the -shm file, which
 * SQLite maps in 32 KiB regions; the rebuild then writes every page of the
 * region, one page fault each. In a virtual machine a fault costs 30 to
 * 100 us, against some 2 us a page when the kernel maps the range in one
 * call, and every `joulestat run` is such a first process (BENCHMARKS.md,
 * section 9). So each region the main database maps for writing is mapped in
 * at once (MADV_POPULATE_WRITE, Linux 5.14; refused elsewhere, with no other
 * effect). Everything else is the unix VFS itself: the same file objects,
 * locks and files, so that any other SQLite client shares the database as
 * before. */
#include "history_vfs.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* The unix VFS has a few kinds of file (its locking styles): each kind's
 * methods, with xShmMap replaced. */
enum { KINDS = 4 };

static sqlite3_vfs vfs;
static sqlite3_vfs *unix_vfs;
static struct {
	const sqlite3_io_methods *unix;
	sqlite3_io_methods own;
} kinds[KINDS];
static int nkinds;
static pthread_mutex_t kinds_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registered;

static const sqlite3_io_methods *unix_methods(const sqlite3_io_methods *own)
{
	for (int i = 0; i < KINDS; i++)
		if (own == &kinds[i].own)
			return kinds[i].unix;
	return NULL;
}

static int shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **p)
{
	const sqlite3_io_methods *m = unix_methods(f->pMethods);
	int rc = m->xShmMap(f, region, size, extend, p);
	if (rc == SQLITE_OK && extend && *p) {
		/* Regions are whole pages of a mapping (32 KiB, page-aligned). */
		uintptr_t a = (uintptr_t)*p & ~(uintptr_t)4095;
		(void)madvise((void *)a, (size_t)size, // NOLINT(performance-no-int-to-ptr)
		              MADV_POPULATE_WRITE);
	}
	return rc;
}

/* This kind's methods with shm_map, made the first time it is met; NULL when
 * there is no room (the file keeps the unix VFS's own). */
static const sqlite3_io_methods *own_methods(const sqlite3_io_methods *m)
{
	const sqlite3_io_methods *own = NULL;
	pthread_mutex_lock(&kinds_lock);
	for (int i = 0; i < nkinds && !own; i++)
		if (kinds[i].unix == m)
			own = &kinds[i].own;
	if (!own && nkinds < KINDS) {
		kinds[nkinds].unix = m;
		kinds[nkinds].own = *m;
		kinds[nkinds].own.xShmMap = shm_map;
		own = &kinds[nkinds++].own;
	}
	pthread_mutex_unlock(&kinds_lock);
	return own;
}

static int vfs_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out)
{
	(void)v;
	int rc = unix_vfs->xOpen(unix_vfs, name, f, flags, out);
	const sqlite3_io_methods *m = f->pMethods;
	if (rc == SQLITE_OK && (flags & SQLITE_OPEN_MAIN_DB) && m && m->iVersion >= 2 &&
	    m->xShmMap) {
		const sqlite3_io_methods *own = own_methods(m);
		if (own)
			f->pMethods = own;
	}
	return rc;
}

static void vfs_register(void)
{
	unix_vfs = sqlite3_vfs_find("unix");
	if (!unix_vfs || unix_vfs->iVersion < 1)
		return;
	vfs = *unix_vfs;
	vfs.pNext = NULL;
	vfs.zName = "joulestat-unix";
	vfs.xOpen = vfs_open;
	registered = sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
}

const char *jst_history_vfs(void)
{
	pthread_once(&once, vfs_register);
	return registered ? vfs.zName : NULL;
}
