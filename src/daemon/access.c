/*
 * Who may read through joulestatd: root, and the users and
 * members of the groups its settings name (the group joulestat by default,
 * where it exists). The kernel vouches for the peer (SO_PEERCRED for its uid,
 * SO_PEERGROUPS for every group it is in), so nothing the client says counts.
 */
#include "joulestatd.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int parse_id(const char *s, unsigned long *out)
{
	char *end;
	if (!*s || *s == '-')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out >= (unsigned long)(uid_t)-1 ? -1 : 0;
}

int jstd_allow_user(struct jstd_settings *s, const char *who)
{
	unsigned long id;
	if (s->nusers == JSTD_IDS_MAX)
		return -ENOSPC;
	if (parse_id(who, &id) == 0) {
		s->users[s->nusers++] = (uid_t)id;
		return 0;
	}
	struct passwd *pw = getpwnam(who);
	if (!pw)
		return -ENOENT;
	s->users[s->nusers++] = pw->pw_uid;
	return 0;
}

int jstd_allow_group(struct jstd_settings *s, const char *who)
{
	unsigned long id;
	if (s->ngroups == JSTD_IDS_MAX)
		return -ENOSPC;
	if (parse_id(who, &id) == 0) {
		s->groups[s->ngroups++] = (gid_t)id;
		return 0;
	}
	struct group *gr = getgrnam(who);
	if (!gr)
		return -ENOENT;
	s->groups[s->ngroups++] = gr->gr_gid;
	return 0;
}

int jstd_config_load(struct jstd_settings *s, const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "joulestatd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char line[512];
	int lineno = 0, rc = 0;
	while (rc == 0 && fgets(line, sizeof line, f)) {
		lineno++;
		char key[64], val[256], extra[2];
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		int n = sscanf(line, "%63s %255s %1s", key, val, extra);
		if (n <= 0)
			continue;
		int r = -EINVAL;
		unsigned long ms;
		if (n == 2 && !strcmp(key, "user"))
			r = jstd_allow_user(s, val);
		else if (n == 2 && !strcmp(key, "group"))
			r = jstd_allow_group(s, val);
		else if (n == 2 && !strcmp(key, "resolution-ms") && parse_id(val, &ms) == 0 &&
		         ms <= 60000) {
			s->resolution_ns = (uint64_t)ms * 1000000u;
			r = 0;
		}
		if (r) {
			fprintf(stderr,
			        "joulestatd: %s:%d: %s: want 'user NAME|UID', 'group NAME|GID' or "
			        "'resolution-ms N' (0 to 60000)\n",
			        path, lineno,
			        r == -ENOENT ? "no such user or group" : "not understood");
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}

int jstd_peer_allowed(const struct jstd_settings *s, int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || len != sizeof cred)
		return -errno;
	*uid = cred.uid;
	/* Not its own user: that is often nobody, whom no one vouches for. */
	if (cred.uid == 0)
		return 1;
	for (size_t i = 0; i < s->nusers; i++)
		if (s->users[i] == cred.uid)
			return 1;
	if (s->ngroups == 0)
		return 0;
	gid_t groups[256];
	len = sizeof groups;
	/* A peer in more groups than fit here (ERANGE) is judged on its uid and
	 * its primary group only. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) || len > sizeof groups)
		len = 0;
	size_t ng = len / sizeof groups[0];
	for (size_t i = 0; i < s->ngroups; i++) {
		if (s->groups[i] == cred.gid)
			return 1;
		for (size_t j = 0; j < ng; j++)
			if (groups[j] == s->groups[i])
				return 1;
	}
	return 0;
}
