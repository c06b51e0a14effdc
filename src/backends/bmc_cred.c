/* Reading BMC credentials from a private file (bmc_cred.h). */
#include "bmc_cred.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void jst_bmc_cred_clear(struct jst_bmc_cred *c)
{
	/* A store the compiler may not drop as dead. */
	volatile char *p = (volatile char *)c;
	for (size_t i = 0; i < sizeof *c; i++)
		p[i] = 0;
}

static void strip_eol(char *s)
{
	s[strcspn(s, "\r\n")] = 0;
}

int jst_bmc_cred_read(const char *path, const char *key, struct jst_bmc_cred *out, char *reason,
                      size_t len)
{
	jst_bmc_cred_clear(out);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		snprintf(reason, len, "%s: cannot open %s: %s", key, path,
		         e == ELOOP ? "a symbolic link (give the file itself)" : strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(reason, len, "%s: %s is not a regular file", key, path);
		close(fd);
		return -EPERM;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077)) {
		snprintf(reason, len,
		         "%s: %s can be read by others (owner uid %u, mode %04o): refused; "
		         "make it yours and private (chmod 600)",
		         key, path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	char buf[512];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0 || (size_t)n >= sizeof buf - 1) {
		snprintf(reason, len, "%s: %s: %s", key, path,
		         n < 0 ? strerror(errno) : "too long for user and password");
		jst_bmc_cred_clear((struct jst_bmc_cred *)(void *)out);
		return n < 0 ? -EIO : -EINVAL;
	}
	buf[n] = 0;
	char *nl = strchr(buf, '\n');
	char *second = nl ? nl + 1 : NULL;
	strip_eol(buf);
	int rc = 0;
	if (second && *second && *second != '\n' && *second != '\r') {
		strip_eol(second);
		if (strlen(buf) >= sizeof out->user || strlen(second) >= sizeof out->password)
			rc = -EINVAL;
		else {
			memcpy(out->user, buf, strlen(buf) + 1);
			memcpy(out->password, second, strlen(second) + 1);
		}
	} else {
		char *colon = strchr(buf, ':');
		if (!colon)
			rc = -EINVAL;
		else {
			*colon = 0;
			if (strlen(buf) >= sizeof out->user ||
			    strlen(colon + 1) >= sizeof out->password)
				rc = -EINVAL;
			else {
				memcpy(out->user, buf, strlen(buf) + 1);
				memcpy(out->password, colon + 1, strlen(colon + 1) + 1);
			}
		}
	}
	volatile char *wipe = buf;
	for (size_t i = 0; i < sizeof buf; i++)
		wipe[i] = 0;
	if (rc == 0 && !out->user[0])
		rc = -EINVAL;
	if (rc) {
		jst_bmc_cred_clear(out);
		snprintf(reason, len,
		         "%s: %s: want \"user:password\" on one line, or the user on the first "
		         "line and the password on the second",
		         key, path);
	}
	return rc;
}
