/* The in-memory tree behind fakefs.h, and the wrapped C library calls. */
#include "fakefs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_NODES 96
#define MAX_PATH 256
#define MAX_DATA 128
#define MAX_OPEN 64
#define FD_BASE 1000000
#define MAX_LINKS 8
/* The root directory, as a node number: below every -errno. */
#define ROOT_NODE (-1000)

struct node {
	enum fakefs_type type;
	char path[MAX_PATH]; /* relative, no leading or trailing '/' */
	char data[MAX_DATA];
	size_t len;
};

static struct node nodes[MAX_NODES];
static size_t nnodes;

/* Open descriptors and directory streams: the node (ROOT_NODE too), -1 free. */
static int fds[MAX_OPEN];
struct fake_dir {
	int node;
	size_t next;
	struct dirent de;
	struct dirent64 de64;
};
static struct fake_dir *dirs[MAX_OPEN];
static int ready;

static void init(void)
{
	if (ready)
		return;
	for (int i = 0; i < MAX_OPEN; i++)
		fds[i] = -1;
	ready = 1;
}

void fakefs_reset(void)
{
	init();
	nnodes = 0;
}

int fakefs_open_count(void)
{
	int n = 0;
	for (int i = 0; i < MAX_OPEN; i++)
		n += (fds[i] != -1) + (dirs[i] != NULL);
	return n;
}

static int find(const char *path, size_t len)
{
	for (size_t i = 0; i < nnodes; i++)
		if (strlen(nodes[i].path) == len && !memcmp(nodes[i].path, path, len))
			return (int)i;
	return -1;
}

int fakefs_add(const char *path, size_t plen, enum fakefs_type type, const char *data, size_t len)
{
	init();
	while (plen && path[plen - 1] == '/')
		plen--;
	while (plen && path[0] == '/')
		path++, plen--;
	if (!plen || plen >= MAX_PATH || len >= MAX_DATA)
		return -1;
	/* Parents first, as directories, unless something is there already. */
	for (size_t i = 1; i < plen; i++)
		if (path[i] == '/' && path[i - 1] != '/' && find(path, i) < 0 &&
		    fakefs_add(path, i, FAKEFS_DIR, NULL, 0))
			return -1;
	if (find(path, plen) >= 0 || nnodes == MAX_NODES)
		return -1;
	struct node *n = &nodes[nnodes++];
	n->type = type;
	memcpy(n->path, path, plen);
	n->path[plen] = 0;
	n->len = len;
	if (len)
		memcpy(n->data, data, len);
	return 0;
}

/* The node path names (ROOT_NODE: the root), or -errno. Symlinks are followed, at
 * most MAX_LINKS of them, relative to the directory they are in. */
static int resolve(const char *abs)
{
	size_t rl = strlen(FAKEFS_ROOT);
	char rest[2 * MAX_PATH], cur[2 * MAX_PATH] = "";
	if (strncmp(abs, FAKEFS_ROOT, rl) != 0 || (abs[rl] && abs[rl] != '/'))
		return -ENOENT;
	snprintf(rest, sizeof rest, "%s", abs + rl);
	int links = 0, node = ROOT_NODE;
	char *p = rest;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, "/");
		if (node >= 0 && nodes[node].type != FAKEFS_DIR)
			return -ENOTDIR;
		if (n == 1 && p[0] == '.') {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(cur, '/');
			if (slash)
				*slash = 0;
			else
				cur[0] = 0;
			node = cur[0] ? find(cur, strlen(cur)) : ROOT_NODE;
			p += n;
			continue;
		}
		size_t cl = strlen(cur);
		if (cl + 1 + n >= MAX_PATH)
			return -ENAMETOOLONG;
		if (cl)
			cur[cl++] = '/';
		memcpy(cur + cl, p, n);
		cur[cl + n] = 0;
		p += n;
		node = find(cur, cl + n);
		if (node < 0)
			return -ENOENT;
		if (nodes[node].type == FAKEFS_LINK) {
			if (++links > MAX_LINKS)
				return -ELOOP;
			/* Go on from the link's directory with its target, then the rest. */
			if (nodes[node].len && nodes[node].data[0] == '/')
				return -ENOENT; /* outside the tree */
			char *slash = strrchr(cur, '/');
			size_t dl = slash ? (size_t)(slash - cur) : 0;
			char next[2 * MAX_PATH];
			snprintf(next, sizeof next, "%.*s/%.*s%s", (int)dl, cur,
			         (int)nodes[node].len, nodes[node].data, p);
			snprintf(rest, sizeof rest, "%s", next);
			cur[0] = 0;
			node = ROOT_NODE;
			p = rest;
		}
	}
	return node;
}

static int slot_fd(int node)
{
	for (int i = 0; i < MAX_OPEN; i++)
		if (fds[i] == -1) {
			fds[i] = node;
			return FD_BASE + i;
		}
	errno = EMFILE;
	return -1;
}

static int fake_fd(int fd)
{
	return fd >= FD_BASE && fd < FD_BASE + MAX_OPEN && fds[fd - FD_BASE] != -1;
}

static int fake_open(const char *path, int flags)
{
	init();
	int node = resolve(path);
	if (node < 0 && node != ROOT_NODE) {
		errno = -node;
		return -1;
	}
	if ((flags & O_ACCMODE) != O_RDONLY) {
		errno = EACCES;
		return -1;
	}
	return slot_fd(node);
}

static ssize_t fake_pread(int fd, void *buf, size_t n, off_t off)
{
	int node = fds[fd - FD_BASE];
	if (node < 0 || nodes[node].type == FAKEFS_DIR) {
		errno = EISDIR;
		return -1;
	}
	const struct node *f = &nodes[node];
	if (off < 0 || (size_t)off >= f->len)
		return 0;
	size_t k = f->len - (size_t)off < n ? f->len - (size_t)off : n;
	memcpy(buf, f->data + off, k);
	return (ssize_t)k;
}

/* Children of dir (ROOT_NODE too) from index *next on; NULL at the end. */
static const char *next_child(int dir, size_t *next)
{
	const char *base = dir == ROOT_NODE ? "" : nodes[dir].path;
	size_t bl = strlen(base);
	for (; *next < nnodes; (*next)++) {
		const char *p = nodes[*next].path;
		if (bl && (strncmp(p, base, bl) != 0 || p[bl] != '/'))
			continue;
		const char *name = p + (bl ? bl + 1 : 0);
		if (!strchr(name, '/')) {
			(*next)++;
			return name;
		}
	}
	return NULL;
}

/* ---- the wrapped calls ---------------------------------------------------- */

int __real_open(const char *path, int flags, ...);
int __real_open64(const char *path, int flags, ...);
ssize_t __real_pread(int fd, void *buf, size_t n, off_t off);
ssize_t __real_pread64(int fd, void *buf, size_t n, off_t off);
int __real_close(int fd);
DIR *__real_opendir(const char *path);
struct dirent *__real_readdir(DIR *d);
struct dirent64 *__real_readdir64(DIR *d);
int __real_closedir(DIR *d);

static int is_fake_path(const char *path)
{
	size_t rl = strlen(FAKEFS_ROOT);
	return path && strncmp(path, FAKEFS_ROOT, rl) == 0 && (!path[rl] || path[rl] == '/');
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int __wrap_open(const char *path, int flags, ...)
{
	if (is_fake_path(path))
		return fake_open(path, flags);
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return __real_open(path, flags, mode);
}

int __wrap_open64(const char *path, int flags, ...)
{
	if (is_fake_path(path))
		return fake_open(path, flags);
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return __real_open64(path, flags, mode);
}

ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off)
{
	return fake_fd(fd) ? fake_pread(fd, buf, n, off) : __real_pread(fd, buf, n, off);
}

ssize_t __wrap_pread64(int fd, void *buf, size_t n, off_t off)
{
	return fake_fd(fd) ? fake_pread(fd, buf, n, off) : __real_pread64(fd, buf, n, off);
}

int __wrap_close(int fd)
{
	if (!fake_fd(fd))
		return __real_close(fd);
	fds[fd - FD_BASE] = -1;
	return 0;
}

static struct fake_dir *fake_dir(DIR *d)
{
	for (int i = 0; i < MAX_OPEN; i++)
		if (dirs[i] && (DIR *)dirs[i] == d)
			return dirs[i];
	return NULL;
}

DIR *__wrap_opendir(const char *path)
{
	if (!is_fake_path(path))
		return __real_opendir(path);
	init();
	int node = resolve(path);
	if (node < 0 && node != ROOT_NODE) {
		errno = -node;
		return NULL;
	}
	if (node >= 0 && nodes[node].type != FAKEFS_DIR) {
		errno = ENOTDIR;
		return NULL;
	}
	for (int i = 0; i < MAX_OPEN; i++) {
		if (!dirs[i]) {
			dirs[i] = calloc(1, sizeof *dirs[i]);
			if (!dirs[i]) {
				errno = ENOMEM;
				return NULL;
			}
			dirs[i]->node = node;
			return (DIR *)dirs[i];
		}
	}
	errno = EMFILE;
	return NULL;
}

struct dirent *__wrap_readdir(DIR *d)
{
	struct fake_dir *f = fake_dir(d);
	if (!f)
		return __real_readdir(d);
	const char *name = next_child(f->node, &f->next);
	if (!name)
		return NULL;
	snprintf(f->de.d_name, sizeof f->de.d_name, "%s", name);
	return &f->de;
}

struct dirent64 *__wrap_readdir64(DIR *d)
{
	struct fake_dir *f = fake_dir(d);
	if (!f)
		return __real_readdir64(d);
	const char *name = next_child(f->node, &f->next);
	if (!name)
		return NULL;
	snprintf(f->de64.d_name, sizeof f->de64.d_name, "%s", name);
	return &f->de64;
}

int __wrap_closedir(DIR *d)
{
	struct fake_dir *f = fake_dir(d);
	if (!f)
		return __real_closedir(d);
	for (int i = 0; i < MAX_OPEN; i++)
		if (dirs[i] == f)
			dirs[i] = NULL;
	free(f);
	return 0;
}
