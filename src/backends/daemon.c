/*
 * The daemon backend: the domains joulestatd serves over its Unix socket
 * (daemon_proto.h), for a user the direct sources refuse (energy_uj is
 * root-only since Linux 5.10). Each domain keeps the identity and the method
 * of the source the daemon reads, so the core de-duplicates it against a
 * direct reading of the same device and its accuracy is that source's. By
 * default (daemon.mode=auto) it is used only when a backend probed before it
 * was refused access (EACCES/EPERM), see jst_backend_ctx.direct_denied.
 *
 * Protocol 2 carries the whole sensor model: a mean's gap and "nothing new"
 * are made here, per client, from the daemon's running counts (daemon_proto.h),
 * so that any number of clients each get what the backend would have handed
 * them directly. A daemon that speaks only version 1 is still read; its
 * power domains then say that the means model is not available.
 */
#include "daemon_proto.h"

#include <errno.h>
#include <math.h>
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
	uint16_t version; /* the session's */
	struct jst_domain_desc desc[JST_DPROTO_DOMAINS_MAX];
	struct jst_dproto_reading rd[JST_DPROTO_DOMAINS_MAX];
	/* Per domain, the value this client was last handed (v2): its count, and
	 * where its mean ended in the daemon's running total. */
	struct seen {
		uint64_t seq;
		uint32_t epoch;
		int have;
		double end_j;
	} seen[JST_DPROTO_DOMAINS_MAX];
	/* The daemon's shared page (MAP), where it grants one: readings without
	 * a system call. offset turns its clock into ours. */
	const struct jst_dshm *shm;
	int64_t offset_ns, offset_err_ns;
	/* The page's readings as last copied and checked, under the sequence
	 * number page_seq (0: none): read again until the daemon rewrites it, no
	 * copy nor check is needed. Instants on this client's clock. */
	uint64_t page_seq;
	size_t page_n;
	int64_t page_updated_ns;
	int64_t page_t_ns[JST_DPROTO_DOMAINS_MAX], page_err_ns[JST_DPROTO_DOMAINS_MAX];
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
	st->page_seq = 0;
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

/* A version 1 daemon cannot say whether a power reading is a mean over its
 * refresh: it is taken for the power at its instant, and the domain says so. */
static void daemon_note_v1(struct jst_domain_desc *d)
{
	static const char v1[] = "joulestatd speaks protocol 1: no means model, power taken "
	                         "as instantaneous";
	char note[JST_NOTE_MAX];
	if (d->note[0])
		snprintf(note, sizeof note, "%.80s; %s", d->note, v1);
	else
		snprintf(note, sizeof note, "%s", v1);
	memcpy(d->note, note, sizeof note);
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
	st->version = h.version;
	/* Another daemon (or the same, restarted) counts its values afresh. */
	memset(st->seen, 0, sizeof st->seen);
	double res_s = (double)h.resolution_ns * 1e-9;
	for (uint32_t i = 0; i < h.ndomains; i++) {
		struct jst_dproto_domain d;
		n = daemon_call(st, req, jst_dproto_domain_req(req, ++st->seq, i), buf);
		rc = n < 0 ? (int)n
		           : jst_dproto_domain_parse(buf, (size_t)n, st->seq, h.version, h.ndomains,
		                                     &d, err);
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
		if (h.version < 2 && d.desc.method == JST_METHOD_POWER)
			daemon_note_v1(&d.desc);
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
	if (st->resolution_ns && st->version >= 2)
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

/* Domain i's reading r (at the instant t_ns, give or take t_err_ns) into
 * what the core takes. A v2 value this client was handed before is
 * "unchanged" for a mean (the core must not count it twice); a mean's gap is
 * the running total's difference since the one it was handed, known where
 * the daemon's backend knew every gap between. */
static void daemon_fill(struct daemon_state *st, size_t i, const struct jst_dproto_reading *r,
                        int64_t t_ns, int64_t t_err_ns, struct jst_raw *o)
{
	o->status = r->status;
	/* A transient failure beside a value this client was never handed: that
	 * value came before the failure (the daemon holds only good ones), and
	 * is handed first, as the backend hands its own answers and failures in
	 * the order they came (bmc_poll.c). The failure is said to the client
	 * that reads it again. Else a client whose first read met a failure has
	 * no value at the edge of its first window. */
	if (r->status && r->status != -ENODEV && st->version >= 2 && r->value_seq > 0 &&
	    (!st->seen[i].have || r->value_seq > st->seen[i].seq))
		o->status = 0;
	if (o->status) {
		snprintf(o->error, sizeof o->error, "%s: joulestatd: %s", st->desc[i].name,
		         jst_strerror(r->status));
		return;
	}
	if (st->version >= 2) {
		struct seen *s = &st->seen[i];
		if (r->value_seq == 0 ||
		    (st->desc[i].power_mean && s->have && r->value_seq == s->seq)) {
			o->status = JST_RAW_UNCHANGED; /* nothing new for this client */
			return;
		}
		/* Negative where the backend's gaps were (rounding): the core
		 * ignores such a gap, as it would the backend's own. */
		if (st->desc[i].power_mean && s->have && r->gap_epoch == s->epoch &&
		    r->value_seq > s->seq)
			o->gap_j = r->mean_start_j - s->end_j;
		*s = (struct seen){r->value_seq, r->gap_epoch, 1, r->mean_end_j};
		o->refresh_s = r->refresh_s;
		o->unseen_u_j = r->unseen_u_j;
		o->unseen_s = r->unseen_s;
		o->temperature_c = r->temperature_c;
		o->utilization_pct = r->utilization_pct;
		o->clock_mhz = r->clock_mhz;
		o->power_limit_w = r->power_limit_w;
		o->telemetry_power_w = r->telemetry_power_w;
	}
	o->counter = r->counter;
	o->power_w = r->power_w;
	o->t_ns = t_ns;
	o->t_err_ns = t_err_ns;
}

/* The shared page's readings, consistent (the daemon rewrites it under a
 * sequence lock). 0, or -EAGAIN when it is not being rewritten any more (the
 * daemon stopped): then the socket says why. */
static int daemon_read_shm(struct daemon_state *st, struct jst_raw *out, size_t n)
{
	static const int tries = 64;
	struct jst_dshm_reading rd[JST_DPROTO_DOMAINS_MAX];
	int64_t updated = st->page_updated_ns;
	/* Not rewritten since the last copy: the readings checked then stand. */
	uint64_t now_seq = __atomic_load_n(&st->shm->seq, __ATOMIC_ACQUIRE);
	int ok = now_seq == st->page_seq && n <= st->page_n;
	int fresh = !ok;
	for (int k = 0; k < tries && !ok; k++) {
		uint64_t s1 = __atomic_load_n(&st->shm->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1)
			continue;
		memcpy(rd, (const void *)st->shm->rd, n * sizeof rd[0]);
		updated = st->shm->updated_ns;
		JST_DSHM_FENCE(__ATOMIC_ACQUIRE);
		ok = __atomic_load_n(&st->shm->seq, __ATOMIC_RELAXED) == s1;
		now_seq = s1;
	}
	/* Rewritten once per resolution: many missed rewrites mean no daemon. */
	int64_t stale = 4 * (int64_t)st->resolution_ns + 250000000LL;
	if (!ok || jst_backend_now_ns() - (updated + st->offset_ns) > stale)
		return -EAGAIN;
	for (size_t i = 0; fresh && i < n; i++) {
		const struct jst_dshm_reading *p = &rd[i];
		struct jst_dproto_reading *r = &st->rd[i];
		*r = (struct jst_dproto_reading){
		    .status = p->status,
		    .t_err_ns = p->t_err_ns,
		    .counter = p->counter,
		    .power_w = p->power_w,
		    .value_seq = p->value_seq,
		    .gap_epoch = p->gap_epoch,
		    .refresh_s = p->refresh_s,
		    .unseen_u_j = p->unseen_u_j,
		    .unseen_s = p->unseen_s,
		    .mean_start_j = p->mean_start_j,
		    .mean_end_j = p->mean_end_j,
		    .temperature_c = p->temperature_c,
		    .utilization_pct = p->utilization_pct,
		    .clock_mhz = p->clock_mhz,
		    .power_limit_w = p->power_limit_w,
		    .telemetry_power_w = p->telemetry_power_w,
		};
		/* The page is held to what a READ's parser would accept. */
		if (jst_dproto_reading_check(r))
			*r = (struct jst_dproto_reading){.status = -EBADMSG};
		st->page_t_ns[i] = p->t_ns + st->offset_ns;
		st->page_err_ns[i] = (p->t_err_ns > 0 ? p->t_err_ns : 0) + st->offset_err_ns;
	}
	if (fresh) {
		st->page_seq = now_seq;
		st->page_n = n;
		st->page_updated_ns = updated;
	}
	for (size_t i = 0; i < n; i++)
		daemon_fill(st, i, &st->rd[i], st->page_t_ns[i], st->page_err_ns[i], &out[i]);
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
		if (st->resolution_ns && st->version >= 2)
			daemon_map(st);
		if (st->shm && daemon_read_shm(st, out, n) == 0)
			return 0;
	}
	int64_t t0 = jst_backend_now_ns();
	ssize_t got = daemon_call(st, req, jst_dproto_read_req(req, ++st->seq), buf);
	int64_t t1 = jst_backend_now_ns();
	st->page_seq = 0; /* st->rd is the socket's now */
	int rc = got < 0 ? (int)got
	                 : jst_dproto_read_parse(buf, (size_t)got, st->seq, st->version, st->rd,
	                                         st->n, err);
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
	for (size_t i = 0; i < n; i++)
		daemon_fill(st, i, &st->rd[i], mid - st->rd[i].age_ns,
		            st->rd[i].t_err_ns + (t1 - t0) / 2, &out[i]);
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
