/*
 * joulestatd's loop: one thread, epoll, every socket non-blocking. A client
 * has one request in flight at most: while its reply waits to be sent (a
 * client that does not read), nothing more is read from it, so its memory is
 * the fixed slot below and no client can make the loop wait. Clients of one
 * unprivileged user share one view of the counters, refreshed at most once
 * per resolution, so that opening more connections buys no finer readings
 * (PLATYPUS, CVE-2020-8694).
 */
#include "joulestatd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define LISTENER UINT32_MAX
#define TIMER (UINT32_MAX - 1)

/* What one user's limited connections see: the last reading taken for them. */
struct user_view {
	uid_t uid;
	unsigned conns; /* 0: the slot is free */
	int have;
	int64_t taken_ns; /* when that reading was taken for them */
	struct jst_dproto_reading rd[JST_DPROTO_DOMAINS_MAX];
	int64_t t_ns[JST_DPROTO_DOMAINS_MAX];
	/* The shared page of its mapped connections (MAP), or -1 / NULL. */
	int memfd;
	struct jst_dshm *shm;
	unsigned mapped;
};

struct client {
	int fd; /* -1: free */
	int hello;
	uint16_t version; /* the session's, from HELLO */
	int closing;      /* close once out is sent */
	int limited;
	int mapped;
	int out_fd;        /* sent beside out (SCM_RIGHTS), or -1 */
	uint32_t watching; /* the epoll events asked for now */
	size_t user;
	size_t out_len;
	uint8_t out[JST_DPROTO_REPLY_MAX];
};

struct server {
	const struct jstd_settings *s;
	struct jstd_sources *src;
	int ep;
	struct client *cl;
	struct user_view *users;
	int timer; /* rewrites the shared pages once per resolution */
	int armed;
	unsigned mapped; /* mapped connections, all users */
	struct jst_dproto_reading rd[JST_DPROTO_DOMAINS_MAX];
	int64_t t_ns[JST_DPROTO_DOMAINS_MAX];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int64_t jstd_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void view_release(struct user_view *u)
{
	if (u->shm)
		munmap(u->shm, sizeof *u->shm);
	if (u->memfd >= 0)
		close(u->memfd);
	u->shm = NULL;
	u->memfd = -1;
}

static void client_drop(struct server *sv, struct client *c)
{
	struct user_view *u = &sv->users[c->user];
	epoll_ctl(sv->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	if (c->mapped) {
		u->mapped--;
		sv->mapped--;
	}
	if (--u->conns == 0)
		view_release(u);
}

/* A system call only when the interest changes: not on every reply. */
static void client_watch(struct server *sv, struct client *c, uint32_t events)
{
	if (c->watching == events)
		return;
	struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)(c - sv->cl)};
	epoll_ctl(sv->ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->watching = events;
}

/* Send the pending reply if the socket takes it now; else wait for EPOLLOUT
 * and read nothing more from this client meanwhile. */
static void client_flush(struct server *sv, struct client *c)
{
	struct iovec iov = {.iov_base = c->out, .iov_len = c->out_len};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (c->out_fd >= 0) {
		memset(&ctl, 0, sizeof ctl);
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof ctl.buf;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &c->out_fd, sizeof(int));
	}
	ssize_t r = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		client_watch(sv, c, EPOLLOUT);
		return;
	}
	c->out_len = 0;
	c->out_fd = -1;
	if (r < 0 || c->closing) {
		/* Requests it queued behind the bad one would, unread at close,
		 * reset the peer and lose the reason just sent. */
		shutdown(c->fd, SHUT_RD);
		while (recv(c->fd, c->out, sizeof c->out, MSG_DONTWAIT) > 0)
			;
		client_drop(sv, c);
		return;
	}
	client_watch(sv, c, EPOLLIN);
}

static void reply_error(struct client *c, uint32_t seq, int code, const char *text)
{
	c->out_len = jst_dproto_error_reply(c->out, seq, code, text);
	c->closing = 1;
}

/* Rewrite a user's shared page from its view, under the sequence lock. */
static void view_publish(struct user_view *u, size_t n, uint64_t resolution_ns)
{
	struct jst_dshm *p = u->shm;
	if (!p)
		return;
	uint64_t seq = __atomic_load_n(&p->seq, __ATOMIC_RELAXED);
	__atomic_store_n(&p->seq, seq + 1, __ATOMIC_RELAXED);
	JST_DSHM_FENCE(__ATOMIC_RELEASE);
	p->ndomains = (uint32_t)n;
	p->resolution_ns = (int64_t)resolution_ns;
	p->updated_ns = u->taken_ns;
	for (size_t i = 0; i < n; i++) {
		const struct jst_dproto_reading *r = &u->rd[i];
		p->rd[i] = (struct jst_dshm_reading){
		    .status = r->status,
		    .gap_epoch = r->gap_epoch,
		    .t_ns = u->t_ns[i],
		    .t_err_ns = r->t_err_ns,
		    .counter = r->counter,
		    .power_w = r->power_w,
		    .value_seq = r->value_seq,
		    .refresh_s = r->refresh_s,
		    .unseen_u_j = r->unseen_u_j,
		    .unseen_s = r->unseen_s,
		    .mean_start_j = r->mean_start_j,
		    .mean_end_j = r->mean_end_j,
		    .temperature_c = r->temperature_c,
		    .utilization_pct = r->utilization_pct,
		    .clock_mhz = r->clock_mhz,
		    .power_limit_w = r->power_limit_w,
		    .telemetry_power_w = r->telemetry_power_w,
		};
	}
	__atomic_store_n(&p->seq, seq + 2, __ATOMIC_RELEASE);
}

/* A fresh reading for a limited user, unless it had one within the
 * resolution: the one rule every path (READ, MAP, the timer) goes through. */
static void view_refresh(struct server *sv, struct user_view *u, int64_t now)
{
	if (u->have && now - u->taken_ns < (int64_t)sv->s->resolution_ns)
		return;
	jstd_sources_read(sv->src, u->rd, u->t_ns);
	u->taken_ns = now;
	u->have = 1;
	view_publish(u, jstd_sources_count(sv->src), sv->s->resolution_ns);
}

static void timer_arm(struct server *sv, int64_t at_ns)
{
	struct itimerspec its = {
	    .it_value = {.tv_sec = at_ns / 1000000000LL, .tv_nsec = at_ns % 1000000000LL}};
	timerfd_settime(sv->timer, TFD_TIMER_ABSTIME, &its, NULL);
	sv->armed = 1;
}

/* Once per resolution while any page is mapped: one reading of the sources,
 * shared by every user whose view is due (none sees finer than it may). */
static void timer_event(struct server *sv)
{
	uint64_t expirations;
	(void)!read(sv->timer, &expirations, sizeof expirations);
	sv->armed = 0;
	if (!sv->mapped)
		return;
	int64_t now = jstd_now_ns(), res = (int64_t)sv->s->resolution_ns, next = now + res;
	int fresh = 0;
	for (size_t i = 0; i < sv->s->max_clients; i++) {
		struct user_view *u = &sv->users[i];
		if (!u->conns || !u->mapped)
			continue;
		if (u->have && now - u->taken_ns < res) {
			if (u->taken_ns + res < next)
				next = u->taken_ns + res;
			continue;
		}
		if (!fresh) {
			jstd_sources_read(sv->src, sv->rd, sv->t_ns);
			fresh = 1;
		}
		memcpy(u->rd, sv->rd, sizeof u->rd);
		memcpy(u->t_ns, sv->t_ns, sizeof u->t_ns);
		u->taken_ns = now;
		u->have = 1;
		view_publish(u, jstd_sources_count(sv->src), sv->s->resolution_ns);
	}
	timer_arm(sv, next);
}

/* MAP: the user's shared page (made on its first MAP), sent beside the reply. */
static void reply_map(struct server *sv, struct client *c, uint32_t seq)
{
	struct user_view *u = &sv->users[c->user];
	if (!c->limited || sv->s->resolution_ns == 0) {
		reply_error(c, seq, -EOPNOTSUPP,
		            "readings are not limited for this user: READ them");
		c->closing = 0; /* READ still serves it */
		return;
	}
	/* The page is laid out as version 2's readings. */
	if (c->version < 2) {
		reply_error(c, seq, -EOPNOTSUPP, "the shared page needs protocol 2: READ instead");
		c->closing = 0;
		return;
	}
	if (u->memfd < 0) {
		int fd = memfd_create("joulestatd-view", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		void *p = MAP_FAILED;
		if (fd >= 0 && ftruncate(fd, sizeof *u->shm) == 0)
			p = mmap(NULL, sizeof *u->shm, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			if (fd >= 0)
				close(fd);
			reply_error(c, seq, -ENOMEM, "no shared page: READ instead");
			c->closing = 0;
			return;
		}
		/* Clients may map it, never resize it (a SIGBUS in the reader) nor,
		 * where the kernel can say so, write it. */
		int seals = F_SEAL_SHRINK | F_SEAL_GROW;
#ifdef F_SEAL_FUTURE_WRITE
		seals |= F_SEAL_FUTURE_WRITE;
#endif
		fcntl(fd, F_ADD_SEALS, seals | F_SEAL_SEAL);
		u->memfd = fd;
		u->shm = p;
		memset(u->shm, 0, sizeof *u->shm);
		u->shm->magic = JST_DSHM_MAGIC;
		u->shm->ndomains = (uint32_t)jstd_sources_count(sv->src);
		if (u->have)
			view_publish(u, jstd_sources_count(sv->src), sv->s->resolution_ns);
	}
	view_refresh(sv, u, jstd_now_ns());
	if (!c->mapped) {
		c->mapped = 1;
		u->mapped++;
		sv->mapped++;
	}
	if (!sv->armed)
		timer_arm(sv, u->taken_ns + (int64_t)sv->s->resolution_ns);
	struct jst_dproto_map m = {
	    .ndomains = (uint32_t)jstd_sources_count(sv->src),
	    .size = sizeof *u->shm,
	    .daemon_now_ns = jstd_now_ns(),
	};
	c->out_len = jst_dproto_map_reply(c->out, seq, &m);
	c->out_fd = u->memfd;
}

static void reply_read(struct server *sv, struct client *c, uint32_t seq)
{
	size_t n = jstd_sources_count(sv->src);
	const struct jst_dproto_reading *rd = sv->rd;
	const int64_t *t = sv->t_ns;
	int64_t now = jstd_now_ns();
	if (c->limited) {
		struct user_view *u = &sv->users[c->user];
		view_refresh(sv, u, now);
		rd = u->rd;
		t = u->t_ns;
	} else {
		jstd_sources_read(sv->src, sv->rd, sv->t_ns);
	}
	struct jst_dproto_reading out[JST_DPROTO_DOMAINS_MAX];
	now = jstd_now_ns();
	for (size_t i = 0; i < n; i++) {
		out[i] = rd[i];
		out[i].age_ns = now > t[i] ? now - t[i] : 0;
	}
	c->out_len = jst_dproto_read_reply(c->out, seq, c->version, out, n);
}

static void client_request(struct server *sv, struct client *c, const uint8_t *buf, size_t len)
{
	struct jst_dproto_req q;
	int rc = jst_dproto_req_parse(buf, len, &q);
	char text[JST_DPROTO_ERROR_TEXT];
	if (rc == -EPROTONOSUPPORT) {
		snprintf(text, sizeof text, "joulestatd speaks protocol versions %d to %d",
		         JST_DPROTO_VERSION_MIN, JST_DPROTO_VERSION);
		reply_error(c, q.seq, rc, text);
		return;
	}
	if (rc) {
		reply_error(c, q.seq, -EBADMSG, "malformed request");
		return;
	}
	if (!c->hello && q.type != JST_DPROTO_HELLO) {
		reply_error(c, q.seq, -EPROTO, "HELLO first");
		return;
	}
	switch (q.type) {
	case JST_DPROTO_HELLO: {
		uint16_t ver = jst_dproto_version_pick(&q);
		/* Version 1 has no word for a power mean or what a domain covers:
		 * its client would take a mean for the power at an instant and
		 * state the wrong uncertainty. Refused, saying why. */
		const char *need = ver < 2 ? jstd_sources_need_v2(sv->src) : NULL;
		if (need) {
			snprintf(text, sizeof text,
			         "joulestatd serves %.40s, which needs protocol 2; this client "
			         "speaks 1: update libjoulestat",
			         need);
			reply_error(c, q.seq, -EPROTONOSUPPORT, text);
			return;
		}
		c->version = ver;
		struct jst_dproto_hello h = {
		    .version = ver,
		    .ndomains = (uint32_t)jstd_sources_count(sv->src),
		    .resolution_ns = c->limited ? sv->s->resolution_ns : 0,
		};
		c->hello = 1;
		c->out_len = jst_dproto_hello_reply(c->out, q.seq, &h);
		return;
	}
	case JST_DPROTO_DOMAIN: {
		const struct jst_dproto_domain *d = jstd_sources_domain(sv->src, q.index);
		if (!d) {
			reply_error(c, q.seq, -ERANGE, "no such domain");
			return;
		}
		c->out_len = jst_dproto_domain_reply(c->out, q.seq, c->version, d);
		return;
	}
	case JST_DPROTO_MAP:
		reply_map(sv, c, q.seq);
		return;
	default:
		reply_read(sv, c, q.seq);
		return;
	}
}

static void client_event(struct server *sv, struct client *c, uint32_t events)
{
	if (c->out_len) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			client_flush(sv, c);
		return;
	}
	uint8_t buf[JST_DPROTO_REQ_MAX + 1];
	/* MSG_TRUNC: the packet's real length, so an oversized one is refused
	 * rather than read as its first bytes. */
	ssize_t r = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (r <= 0) {
		client_drop(sv, c);
		return;
	}
	if ((size_t)r > JST_DPROTO_REQ_MAX)
		reply_error(c, 0, -EMSGSIZE, "request too long");
	else
		client_request(sv, c, buf, (size_t)r);
	client_flush(sv, c);
}

/* Refuse a connection with a reason it can read, holding nothing for it. */
static void refuse(int fd, int code, const char *text)
{
	uint8_t out[JST_DPROTO_REPLY_MAX];
	size_t n = jst_dproto_error_reply(out, 0, code, text);
	(void)!send(fd, out, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	/* A socket closed with requests unread resets the peer, which then
	 * loses the reason too: stop its sends, drop what came, then close. */
	shutdown(fd, SHUT_RD);
	while (recv(fd, out, sizeof out, MSG_DONTWAIT) > 0)
		;
	close(fd);
}

/* The user's view. A user who closed every connection keeps its view until
 * its last reading is a resolution old: reconnecting must not buy a fresh
 * reading sooner than staying connected would. */
static size_t user_slot(struct server *sv, uid_t uid)
{
	size_t max = sv->s->max_clients, free_slot = max;
	int64_t now = jstd_now_ns(), res = (int64_t)sv->s->resolution_ns;
	for (size_t i = 0; i < max; i++) {
		const struct user_view *u = &sv->users[i];
		if ((u->conns || u->have) && u->uid == uid)
			return i;
		if (!u->conns && free_slot == max && (!u->have || now - u->taken_ns >= res))
			free_slot = i;
	}
	if (free_slot < max)
		sv->users[free_slot] = (struct user_view){.uid = uid, .memfd = -1};
	return free_slot;
}

static void accept_all(struct server *sv, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or a connection that died before it was taken */
		uid_t uid = (uid_t)-1;
		char text[JST_DPROTO_ERROR_TEXT];
		int ok = jstd_peer_allowed(sv->s, fd, &uid);
		if (ok <= 0) {
			snprintf(text, sizeof text,
			         "uid %u may not read through joulestatd: join its group "
			         "(joulestat) or see docs/daemon.md",
			         (unsigned)uid);
			refuse(fd, -EACCES, text);
			continue;
		}
		size_t ci = 0;
		while (ci < sv->s->max_clients && sv->cl[ci].fd >= 0)
			ci++;
		size_t ui = ci < sv->s->max_clients ? user_slot(sv, uid) : sv->s->max_clients;
		if (ci == sv->s->max_clients || ui == sv->s->max_clients ||
		    sv->users[ui].conns >= sv->s->max_per_user) {
			snprintf(text, sizeof text,
			         "too many connections (at most %u, %u per user)",
			         sv->s->max_clients, sv->s->max_per_user);
			refuse(fd, -EUSERS, text);
			continue;
		}
		struct client *c = &sv->cl[ci];
		*c = (struct client){
		    .fd = fd, .user = ui, .limited = uid != 0, .out_fd = -1, .watching = EPOLLIN};
		sv->users[ui].conns++;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)ci};
		if (epoll_ctl(sv->ep, EPOLL_CTL_ADD, fd, &ev))
			client_drop(sv, c);
	}
}

int jstd_serve(const struct jstd_settings *s, struct jstd_sources *src, int lfd)
{
	struct server sv = {.s = s, .src = src};
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: epoll_wait returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	sv.cl = calloc(s->max_clients, sizeof *sv.cl);
	sv.users = calloc(s->max_clients, sizeof *sv.users);
	for (size_t i = 0; sv.users && i < s->max_clients; i++)
		sv.users[i].memfd = -1;
	sv.ep = epoll_create1(EPOLL_CLOEXEC);
	sv.timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct epoll_event lev = {.events = EPOLLIN, .data.u32 = LISTENER};
	struct epoll_event tev = {.events = EPOLLIN, .data.u32 = TIMER};
	int rc = 0;
	if (!sv.cl || !sv.users || sv.ep < 0 || sv.timer < 0 ||
	    epoll_ctl(sv.ep, EPOLL_CTL_ADD, lfd, &lev) ||
	    epoll_ctl(sv.ep, EPOLL_CTL_ADD, sv.timer, &tev)) {
		rc = -ENOMEM;
		goto out;
	}

	for (size_t i = 0; i < s->max_clients; i++)
		sv.cl[i].fd = -1;
	while (!stop) {
		struct epoll_event ev[64];
		int n = epoll_wait(sv.ep, ev, 64, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u32 == LISTENER)
				accept_all(&sv, lfd);
			else if (ev[i].data.u32 == TIMER)
				timer_event(&sv);
			else if (sv.cl[ev[i].data.u32].fd >= 0)
				client_event(&sv, &sv.cl[ev[i].data.u32], ev[i].events);
		}
	}
out:
	for (size_t i = 0; sv.cl && i < s->max_clients; i++)
		if (sv.cl[i].fd >= 0)
			close(sv.cl[i].fd);
	for (size_t i = 0; sv.users && i < s->max_clients; i++)
		view_release(&sv.users[i]);
	if (sv.ep >= 0)
		close(sv.ep);
	if (sv.timer >= 0)
		close(sv.timer);
	free(sv.cl);
	free(sv.users);
	return rc;
}
