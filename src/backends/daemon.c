/*
 * The daemon backend: the domains joulestatd serves over its Unix socket
 * (daemon_proto.h), for a user the direct sources refuse (energy_uj is
 * root-only since Linux 5.10). Each domain keeps the identity and the method
 * of the source the daemon reads, so the core de-duplicates it against a
 * direct reading of the same device and its accuracy is that source's. By
 * default (daemon.mode=auto) it is used only when a backend probed before it
 * was refused access (EACCES/EPERM), see jst_backend_ctx.direct_denied.
 */
#include "daemon_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* A daemon that does not answer within this is dead or stalled: a reading
 * fails (and is retried), a meter never hangs on it. */
#define DAEMON_TIMEOUT_MS 500

struct daemon_state {
	int fd;
	uint32_t seq;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t n;
	uint64_t resolution_ns;
	struct jst_domain_desc desc[JST_DPROTO_DOMAINS_MAX];
	struct jst_dproto_reading rd[JST_DPROTO_DOMAINS_MAX];
	/* The daemon's shared page (MAP), where it grants one: readings without
	 * a system call. offset turns its clock into ours. */
	const struct jst_dshm *shm;
	int64_t offset_ns, offset_err_ns;
};

static int daemon_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct timeval tv = {.tv_sec = 0, .tv_usec = (suseconds_t)DAEMON_TIMEOUT_MS * 1000};
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Send a request and receive its reply into buf; the reply's length, or
 * negative (-ETIMEDOUT when the daemon is silent, -EPIPE when it hung up). */
static ssize_t daemon_call(struct daemon_state *st, const uint8_t *req, size_t len, uint8_t *buf)
{
	int flags = MSG_TRUNC;
	if (send(st->fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
		if (errno != EPIPE && errno != ECONNRESET)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		/* Refused at once: the reason may wait in the queue. */
		flags |= MSG_DONTWAIT;
	}
	for (;;) {
		ssize_t r = recv(st->fd, buf, JST_DPROTO_REPLY_MAX, flags);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (r == 0)
			return -EPIPE;
		return r > JST_DPROTO_REPLY_MAX ? -EBADMSG : r;
	}
}

static void daemon_unmap(struct daemon_state *st)
{
	if (st->shm)
		munmap((void *)st->shm, sizeof *st->shm);
	st->shm = NULL;
}

/* Ask for the shared page; without one (an older daemon, root, a page that
 * is not what it should be) readings go over the socket, as correct. */
static void daemon_map(struct daemon_state *st)
{
	uint8_t req[JST_DPROTO_REQ_MAX], buf[JST_DPROTO_REPLY_MAX];
	char err[JST_DPROTO_ERROR_TEXT];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	size_t len = jst_dproto_map_req(req, ++st->seq);
	int64_t t0 = jst_backend_now_ns();
	if (send(st->fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		return;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = ctl.buf,
	                    .msg_controllen = sizeof ctl.buf};
	ssize_t r = recvmsg(st->fd, &mh, MSG_CMSG_CLOEXEC);
	int64_t t1 = jst_backend_now_ns();
	int fd = -1;
	struct cmsghdr *cm = r > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	struct jst_dproto_map m;
	struct stat sb;
	void *p = MAP_FAILED;
	if (fd >= 0 && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) &&
	    jst_dproto_map_parse(buf, (size_t)r, st->seq, (uint32_t)st->n, &m, err) == 0 &&
	    fstat(fd, &sb) == 0 && (uint64_t)sb.st_size >= sizeof *st->shm)
		p = mmap(NULL, sizeof *st->shm, PROT_READ, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		return;
	const struct jst_dshm *shm = p;
	if (shm->magic != JST_DSHM_MAGIC || shm->ndomains != st->n) {
		munmap(p, sizeof *shm);
		return;
	}
	st->shm = shm;
	st->offset_ns = t0 + (t1 - t0) / 2 - m.daemon_now_ns;
	st->offset_err_ns = (t1 - t0) / 2;
}

/* HELLO and the domains, on a fresh connection. */
static int daemon_handshake(struct daemon_state *st, char *reason, size_t reason_len)
{
	uint8_t req[JST_DPROTO_REQ_MAX], buf[JST_DPROTO_REPLY_MAX];
	char err[JST_DPROTO_ERROR_TEXT] = "";
	struct jst_dproto_hello h;
	ssize_t n = daemon_call(st, req, jst_dproto_hello_req(req, ++st->seq), buf);
	int rc = n < 0 ? (int)n : jst_dproto_hello_parse(buf, (size_t)n, st->seq, &h, err);
	if (rc) {
		snprintf(reason, reason_len, "joulestatd at %s: hello: %s%s%s", st->path,
		         jst_strerror(rc), err[0] && n >= 0 ? ": " : "", n >= 0 ? err : "");
		return rc;
	}
	st->n = h.ndomains;
	st->resolution_ns = h.resolution_ns;
	double res_s = (double)h.resolution_ns * 1e-9;
	for (uint32_t i = 0; i < h.ndomains; i++) {
		struct jst_dproto_domain d;
		n = daemon_call(st, req, jst_dproto_domain_req(req, ++st->seq, i), buf);
		rc = n < 0 ? (int)n
		           : jst_dproto_domain_parse(buf, (size_t)n, st->seq, h.ndomains, &d, err);
		if (rc) {
			snprintf(reason, reason_len, "joulestatd at %s: domain %u: %s%s%s",
			         st->path, i, jst_strerror(rc), err[0] && n >= 0 ? ": " : "",
			         n >= 0 ? err : "");
			return rc;
		}
		/* What this client sees changes no faster than the daemon lets it:
		 * the sensor model must know, or it would trust finer edges. */
		if (d.desc.refresh_s < res_s)
			d.desc.refresh_s = res_s;
		st->desc[i] = d.desc;
	}
	return 0;
}

static void daemon_close(void *state)
{
	struct daemon_state *st = state;
	if (!st)
		return;
	if (st->fd >= 0)
		close(st->fd);
	daemon_unmap(st);
	free(st);
}

static int daemon_probe(const struct jst_backend_ctx *ctx, void **state, char *reason,
                        size_t reason_len)
{
	const char *mode = jst_backend_option(ctx, "daemon.mode", "auto");
	const char *path =
	    jst_backend_option(ctx, "daemon.socket", "/run/joulestat/joulestat.sock");
	if (!strcmp(mode, "never")) {
		snprintf(reason, reason_len, "disabled by configuration (daemon.mode=never)");
		return -ENODEV;
	}
	if (strcmp(mode, "auto") != 0 && strcmp(mode, "always") != 0) {
		snprintf(reason, reason_len, "daemon.mode is '%s': want auto, always or never",
		         mode);
		return -EINVAL;
	}
	if (!strcmp(mode, "auto") && !(ctx && ctx->direct_denied)) {
		snprintf(reason, reason_len,
		         "not needed: no direct source refused access (daemon.mode=auto)");
		return -ENODEV;
	}
	struct daemon_state *st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	snprintf(st->path, sizeof st->path, "%s", path);
	if (strlen(path) >= sizeof st->path) {
		snprintf(reason, reason_len, "daemon.socket is too long for a socket path: %s",
		         path);
		daemon_close(st);
		return -ENAMETOOLONG;
	}
	st->fd = daemon_connect(path);
	if (st->fd < 0) {
		int rc = st->fd;
		snprintf(reason, reason_len,
		         "joulestatd does not answer at %s: %s. Start it (contrib/"
		         "joulestatd.socket), join its group (joulestat), or set "
		         "daemon.socket; see docs/daemon.md",
		         path, strerror(-rc));
		daemon_close(st);
		return rc;
	}
	int rc = daemon_handshake(st, reason, reason_len);
	if (rc) {
		daemon_close(st);
		return rc;
	}
	if (st->resolution_ns)
		daemon_map(st);
	*state = st;
	return 0;
}

static size_t daemon_domains(void *state, const struct jst_domain_desc **out)
{
	struct daemon_state *st = state;
	*out = st->desc;
	return st->n;
}

/* Every reading failed with status; why, in words: the cause itself (the
 * connection refused, a timeout, the daemon's own text), not the status. */
static void daemon_fail_all(struct daemon_state *st, struct jst_raw *out, size_t n, int status,
                            const char *why)
{
	for (size_t i = 0; i < n; i++) {
		out[i].status = status;
		snprintf(out[i].error, sizeof out[i].error, "%s: joulestatd: %s", st->desc[i].name,
		         why[0] ? why : jst_strerror(status));
	}
}

/* The shared page's readings, consistent (the daemon rewrites it under a
 * sequence lock). 0, or -EAGAIN when it is not being rewritten any more (the
 * daemon stopped): then the socket says why. */
static int daemon_read_shm(struct daemon_state *st, struct jst_raw *out, size_t n)
{
	static const int tries = 64;
	struct jst_dshm_reading rd[JST_DPROTO_DOMAINS_MAX];
	int64_t updated = 0;
	int ok = 0;
	for (int k = 0; k < tries && !ok; k++) {
		uint64_t s1 = __atomic_load_n(&st->shm->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1)
			continue;
		memcpy(rd, (const void *)st->shm->rd, n * sizeof rd[0]);
		updated = st->shm->updated_ns;
		JST_DSHM_FENCE(__ATOMIC_ACQUIRE);
		ok = __atomic_load_n(&st->shm->seq, __ATOMIC_RELAXED) == s1;
	}
	/* Rewritten once per resolution: many missed rewrites mean no daemon. */
	int64_t stale = 4 * (int64_t)st->resolution_ns + 250000000LL;
	if (!ok || jst_backend_now_ns() - (updated + st->offset_ns) > stale)
		return -EAGAIN;
	for (size_t i = 0; i < n; i++) {
		out[i].status = rd[i].status > 0 || rd[i].status < -4095 ? -EIO : rd[i].status;
		out[i].counter = rd[i].counter;
		out[i].power_w = rd[i].power_w;
		out[i].t_ns = rd[i].t_ns + st->offset_ns;
		out[i].t_err_ns = (rd[i].t_err_ns > 0 ? rd[i].t_err_ns : 0) + st->offset_err_ns;
		if (out[i].status)
			snprintf(out[i].error, sizeof out[i].error, "%s: joulestatd: %s",
			         st->desc[i].name, jst_strerror(out[i].status));
	}
	return 0;
}

/* One request, one reply, whatever the number of domains. A daemon that hung
 * up is reconnected on the next reading; until then readings fail transiently
 * and the core bridges the gap as it would any missed reading. */
static int daemon_read(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	struct daemon_state *st = state;
	uint8_t req[JST_DPROTO_REQ_MAX], buf[JST_DPROTO_REPLY_MAX];
	char err[JST_DPROTO_ERROR_TEXT] = "";
	(void)flags;
	if (n > st->n)
		n = st->n;
	if (st->shm && st->fd >= 0 && daemon_read_shm(st, out, n) == 0)
		return 0;
	if (st->fd < 0) {
		size_t was = st->n;
		char reason[JST_REASON_MAX];
		st->fd = daemon_connect(st->path);
		int rc = st->fd < 0 ? st->fd : daemon_handshake(st, reason, sizeof reason);
		if (rc == 0 && st->n != was)
			rc = -ENODEV; /* another set of domains: not the devices counted so far */
		if (rc) {
			if (st->fd >= 0)
				close(st->fd);
			st->fd = -1;
			st->n = was;
			daemon_fail_all(st, out, n, rc == -ENODEV ? rc : -EAGAIN,
			                rc == -ENODEV ? "came back with other domains"
			                              : jst_strerror(rc));
			return 0;
		}
		daemon_unmap(st);
		if (st->resolution_ns)
			daemon_map(st);
		if (st->shm && daemon_read_shm(st, out, n) == 0)
			return 0;
	}
	int64_t t0 = jst_backend_now_ns();
	ssize_t got = daemon_call(st, req, jst_dproto_read_req(req, ++st->seq), buf);
	int64_t t1 = jst_backend_now_ns();
	int rc = got < 0 ? (int)got
	                 : jst_dproto_read_parse(buf, (size_t)got, st->seq, st->rd, st->n, err);
	if (rc) {
		close(st->fd);
		st->fd = -1;
		daemon_unmap(st);
		daemon_fail_all(st, out, n, -EAGAIN, got < 0 ? jst_strerror(rc) : err);
		return 0;
	}
	/* The daemon says how old each value was when it replied, not its clock:
	 * a client in another time namespace reads the same instants. */
	int64_t mid = t0 + (t1 - t0) / 2;
	for (size_t i = 0; i < n; i++) {
		const struct jst_dproto_reading *r = &st->rd[i];
		out[i].status = r->status;
		out[i].counter = r->counter;
		out[i].power_w = r->power_w;
		out[i].t_ns = mid - r->age_ns;
		out[i].t_err_ns = r->t_err_ns + (t1 - t0) / 2;
		if (r->status)
			snprintf(out[i].error, sizeof out[i].error, "%s: joulestatd: %s",
			         st->desc[i].name, jst_strerror(r->status));
	}
	return 0;
}

static const struct jst_option_desc daemon_options[] = {
    {"daemon.socket", "JOULESTAT_DAEMON_SOCKET", "/run/joulestat/joulestat.sock",
     "the path of joulestatd's socket"},
    {"daemon.mode", NULL, "auto", "auto (when a direct source refuses access), always or never"},
    {0},
};

const struct jst_backend_ops jst_backend_daemon = {
    .name = "daemon",
    .options = daemon_options,
    .description = "what joulestatd reads for this user (RAPL without root), over its socket",
    .accuracy = 0.05,
    .probe = daemon_probe,
    .domains = daemon_domains,
    .read = daemon_read,
    .close = daemon_close,
};
