/* joulestatd's parts: its settings, the sources it opens (sources.c), who may
 * connect (access.c) and the loop that serves them (server.c). */
#ifndef JST_JOULESTATD_H
#define JST_JOULESTATD_H

#include "daemon_proto.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JSTD_IDS_MAX 64

struct jstd_settings {
	const char *socket_path;
	char options[4096]; /* the backends' options, "key=value\0...\0\0" */
	size_t options_len;
	const char *backends;   /* tried in order; the first that declares domains is served */
	const char *user;       /* dropped to after opening the sources; "" keeps the caller's */
	const char *config;     /* access file, or NULL */
	const char *pidfile;    /* written once the socket listens, or NULL */
	uint64_t resolution_ns; /* for clients other than root */
	unsigned max_clients;
	unsigned max_per_user;
	int foreground;
	/* Who may connect, beside root and the daemon's own user. */
	uid_t users[JSTD_IDS_MAX];
	size_t nusers;
	gid_t groups[JSTD_IDS_MAX];
	size_t ngroups;
};

/* ---- sources.c ---- */
struct jstd_sources;
/* Probe the backends named in s->backends, in order, and keep the first that
 * declares domains. 0, or negative with what each said written to stderr. */
int jstd_sources_open(const struct jstd_settings *s, struct jstd_sources **out);
size_t jstd_sources_count(const struct jstd_sources *src);
const struct jst_dproto_domain *jstd_sources_domain(const struct jstd_sources *src, size_t i);
/* What a protocol 1 client could not be told (power means, a domain that
 * covers others): a phrase naming it, or NULL when version 1 says it all. */
const char *jstd_sources_need_v2(const struct jstd_sources *src);
/* Read every domain now: each one's latest value (the one before where its
 * backend had nothing new), with the counts and running totals a version 2
 * reading carries (daemon_proto.h); its instant (CLOCK_MONOTONIC) in t_ns[i]. */
void jstd_sources_read(struct jstd_sources *src, struct jst_dproto_reading *out, int64_t *t_ns);
void jstd_sources_close(struct jstd_sources *src);

/* ---- access.c ---- */
/* Add "user NAME|UID" / "group NAME|GID" / "resolution-ms N" lines of a
 * config file to s. 0, or -1 with the line at fault on stderr. */
int jstd_config_load(struct jstd_settings *s, const char *path);
int jstd_allow_user(struct jstd_settings *s, const char *who);
int jstd_allow_group(struct jstd_settings *s, const char *who);
/* May the peer on fd connect? Fills its uid; 1 yes, 0 no, negative when its
 * credentials cannot be read. */
int jstd_peer_allowed(const struct jstd_settings *s, int fd, uid_t *uid);

/* ---- server.c ---- */
/* Serve on the listening socket lfd until SIGTERM or SIGINT. 0, or negative. */
int jstd_serve(const struct jstd_settings *s, struct jstd_sources *src, int lfd);

int64_t jstd_now_ns(void);

#endif
