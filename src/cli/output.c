/* Files named on the command line for --json, --csv and -o; "-" is stdout.
 *
 * A regular file is written to a temporary beside it and renamed over it only
 * once everything is written: a run that fails, is killed, or measures nothing
 * leaves the previous result whole instead of an empty or half-written file.
 * It is still opened before the command starts, so that a path that cannot be
 * written fails before anything runs. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* -errno of the call that just failed, never 0 or positive. */
static int failure(void)
{
	int err = errno;
	return err > 0 ? -err : -EIO;
}

/* How to write path: *target set, through a temporary renamed over *target;
 * *target NULL, in place (FIFOs, devices, and files a replacement would change
 * in ways fopen never does). 0, or -errno when path cannot be written at all. */
static int replaceable(const char *path, char **target, int *keep_mode, mode_t *mode)
{
	struct stat st, lst;
	*target = NULL;
	*keep_mode = 0;
	if (stat(path, &st)) {
		if (errno != ENOENT)
			return failure();
		/* A dangling symlink: fopen creates what it points to. */
		if (lstat(path, &lst) == 0)
			return 0;
		size_t len = strlen(path);
		if (len == 0 || path[len - 1] == '/')
			return 0; /* let fopen say what is wrong with it */
		*target = strdup(path);
		return *target ? 0 : -ENOMEM;
	}
	if (!S_ISREG(st.st_mode))
		return 0;
	/* fopen would fail on a file we may not write, where a rename would not. */
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return failure();
	close(fd);
	/* A replacement would be owned by us and cut other links to the file. */
	if (st.st_uid != geteuid() || st.st_nlink > 1)
		return 0;
	*keep_mode = 1;
	*mode = st.st_mode & (S_IRWXU | S_IRWXG | S_IRWXO);
	/* Replace what a symlink points to, not the link. */
	*target =
	    lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode) ? realpath(path, NULL) : strdup(path);
	return *target ? 0 : failure();
}

/* Create ".NAME.XXXXXX" beside target as fopen would create NAME: 0666 less
 * the umask, which only the kernel applies without a race on the process's
 * umask (mkstemp would give 0600). The descriptor, or -errno. */
static int create_temporary(const char *target, char **tmp)
{
	static const char chars[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	const char *slash = strrchr(target, '/');
	size_t dir_len = slash ? (size_t)(slash - target) + 1 : 0;
	size_t len = strlen(target) + sizeof ".XXXXXX" + 1;
	char *name = malloc(len);
	if (!name)
		return -ENOMEM;
	snprintf(name, len, "%.*s.%s.XXXXXX", (int)dir_len, target, target + dir_len);
	char *x = name + strlen(name) - 6;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t r = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
	             ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)name;
	for (int attempt = 0; attempt < 100; attempt++) {
		for (int i = 0; i < 6; i++) {
			/* xorshift64: the name need not be secret, O_EXCL makes it safe. */
			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			x[i] = chars[r % (sizeof chars - 1)];
		}
		/* O_CLOEXEC: the measured command must not inherit the file. */
		int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
		if (fd >= 0) {
			*tmp = name;
			return fd;
		}
		if (errno != EEXIST)
			break;
	}
	int err = failure();
	free(name);
	return err;
}

/* Whether the reader of a pipe or socket has gone (`| head -1`): what it did
 * not read, nobody wanted, so it is no failure. The write end of a pipe polls
 * POLLERR once no reader is left, whatever errno a stdio write left behind. */
static int reader_gone(FILE *f)
{
	struct pollfd p = {.fd = fileno(f), .events = POLLOUT};
	return p.fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

static void output_free(struct jst_cli_output *o)
{
	free(o->tmp);
	free(o->target);
	o->tmp = o->target = NULL;
	o->f = NULL;
}

int jst_cli_output_open(struct jst_cli_output *o, const char *path, int live)
{
	*o = (struct jst_cli_output){.path = path};
	if (!strcmp(path, "-")) {
		o->f = stdout;
		return 0;
	}
	int keep_mode = 0;
	mode_t mode = 0;
	int rc = live ? 0 : replaceable(path, &o->target, &keep_mode, &mode);
	if (!rc && o->target) {
		int fd = create_temporary(o->target, &o->tmp);
		/* A file we may write in a directory we may not: in place, as before. */
		if (fd < 0 && keep_mode && (fd == -EACCES || fd == -EPERM || fd == -EROFS)) {
			free(o->target);
			o->target = NULL;
		} else if (fd < 0) {
			rc = fd;
		} else {
			if (keep_mode)
				(void)fchmod(fd, mode);
			if (!(o->f = fdopen(fd, "w"))) {
				rc = failure();
				close(fd);
				unlink(o->tmp);
			}
		}
	}
	if (!rc && !o->target) {
		if (!(o->f = fopen(path, "we")))
			rc = failure();
	}
	if (rc < 0) {
		output_free(o);
		jst_cli_error("cannot write '%s': %s", path, strerror(-rc));
		return -1;
	}
	return 0;
}

int jst_cli_output_commit(struct jst_cli_output *o)
{
	if (!o->f)
		return 0;
	errno = 0;
	int bad = fflush(o->f) != 0 || ferror(o->f);
	int err = errno;
	if (bad && !o->tmp && (err == EPIPE || reader_gone(o->f)))
		bad = 0; /* nothing was written in place of what it held */
	if (o->f != stdout && fclose(o->f))
		bad = 1, err = errno;
	if (!bad && o->tmp && rename(o->tmp, o->target))
		bad = 1, err = errno;
	if (bad && o->tmp)
		unlink(o->tmp);
	output_free(o);
	if (bad) {
		jst_cli_error("cannot write '%s': %s", o->path, strerror(err ? err : EIO));
		return -1;
	}
	return 0;
}

void jst_cli_output_discard(struct jst_cli_output *o)
{
	if (!o->f)
		return;
	if (o->f == stdout)
		fflush(stdout);
	else
		fclose(o->f);
	if (o->tmp)
		unlink(o->tmp);
	output_free(o);
}

int jst_cli_output_finish(struct jst_cli_output *o, int write_rc)
{
	if (!write_rc)
		return jst_cli_output_commit(o);
	if (!o->tmp && (write_rc == -EPIPE || reader_gone(o->f))) {
		jst_cli_output_discard(o);
		return 0;
	}
	jst_cli_error("cannot write '%s': %s", o->path, strerror(-write_rc));
	jst_cli_output_discard(o);
	return -1;
}

/* What a path will be written to: the file it names now, or for one not yet
 * there, its directory and name. 0, or -1 when that cannot be told. */
struct identity {
	dev_t dev;
	ino_t ino;
	int exists;
	mode_t mode;
	char name[256];
};

/* The path a dangling symlink (or a chain of them) would create, relative
 * ones taken from the link's directory; NULL when path is no link. */
static char *dangling_target(const char *path)
{
	char *cur = strdup(path);
	struct stat lst;
	for (int hops = 0; cur && hops < 40 && lstat(cur, &lst) == 0 && S_ISLNK(lst.st_mode);
	     hops++) {
		char buf[PATH_MAX];
		ssize_t n = readlink(cur, buf, sizeof buf - 1);
		if (n < 0)
			break;
		buf[n] = '\0';
		const char *slash = strrchr(cur, '/');
		size_t dir = buf[0] == '/' || !slash ? 0 : (size_t)(slash - cur) + 1;
		char *next = malloc(dir + (size_t)n + 1);
		if (next)
			snprintf(next, dir + (size_t)n + 1, "%.*s%s", (int)dir, cur, buf);
		free(cur);
		cur = next;
	}
	if (cur && !strcmp(cur, path)) {
		free(cur);
		return NULL;
	}
	return cur;
}

static int identity_of(const char *path, struct identity *id)
{
	struct stat st;
	*id = (struct identity){0};
	int rc = strcmp(path, "-") ? stat(path, &st) : fstat(STDOUT_FILENO, &st);
	if (rc == 0) {
		*id = (struct identity){
		    .dev = st.st_dev, .ino = st.st_ino, .exists = 1, .mode = st.st_mode};
		return 0;
	}
	/* A dangling link will be written through: to the file it names. */
	char *real = dangling_target(path);
	if (real)
		path = real;
	char *a = strdup(path), *b = strdup(path);
	const char *base = b ? basename(b) : NULL;
	rc = -1;
	if (a && base && strlen(base) < sizeof id->name && stat(dirname(a), &st) == 0) {
		*id = (struct identity){.dev = st.st_dev, .ino = st.st_ino};
		snprintf(id->name, sizeof id->name, "%s", base);
		rc = 0;
	}
	free(a);
	free(b);
	free(real);
	return rc;
}

int jst_cli_output_same(const char *a, const char *b)
{
	struct identity x, y;
	if (identity_of(a, &x) || identity_of(b, &y))
		return !strcmp(a, b);
	/* Two outputs may share a device (/dev/null, a terminal) as they share stderr. */
	if (x.exists && y.exists)
		return x.dev == y.dev && x.ino == y.ino && !S_ISCHR(x.mode);
	return !x.exists && !y.exists && x.dev == y.dev && x.ino == y.ino &&
	       !strcmp(x.name, y.name);
}
