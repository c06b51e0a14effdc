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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LISTENER UINT32_MAX

/* What one user's limited connections see: the last reading taken for them. */
struct user_view {
	uid_t uid;
	unsigned conns; /* 0: the slot is free */
	int have;
	int64_t taken_ns; /* when that reading was taken for them */
	struct jst_dproto_reading rd[JST_DPROTO_DOMAINS_MAX];
	int64_t t_ns[JST_DPROTO_DOMAINS_MAX];
};

struct client {
	int fd; /* -1: free */
	int hello;
	int closing; /* close once out is sent */
	int limited;
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

static void client_drop(struct server *sv, struct client *c)
{
	epoll_ctl(sv->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	sv->users[c->user].conns--;
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
	ssize_t r = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		client_watch(sv, c, EPOLLOUT);
		return;
	}
	c->out_len = 0;
	if (r < 0 || c->closing) {
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

static void reply_read(struct server *sv, struct client *c, uint32_t seq)
{
	size_t n = jstd_sources_count(sv->src);
	const struct jst_dproto_reading *rd = sv->rd;
	const int64_t *t = sv->t_ns;
	int64_t now = jstd_now_ns();
	if (c->limited) {
		struct user_view *u = &sv->users[c->user];
		if (!u->have || now - u->taken_ns >= (int64_t)sv->s->resolution_ns) {
			jstd_sources_read(sv->src, u->rd, u->t_ns);
			u->taken_ns = now;
			u->have = 1;
		}
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
	c->out_len = jst_dproto_read_reply(c->out, seq, out, n);
}

static void client_request(struct server *sv, struct client *c, const uint8_t *buf, size_t len)
{
	struct jst_dproto_req q;
	int rc = jst_dproto_req_parse(buf, len, &q);
	char text[JST_DPROTO_ERROR_TEXT];
	if (rc == -EPROTONOSUPPORT) {
		snprintf(text, sizeof text, "joulestatd speaks protocol versions 1 to %d",
		         JST_DPROTO_VERSION);
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
		struct jst_dproto_hello h = {
		    .version = JST_DPROTO_VERSION,
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
		c->out_len = jst_dproto_domain_reply(c->out, q.seq, d);
		return;
	}
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

static size_t user_slot(struct server *sv, uid_t uid)
{
	size_t free_slot = sv->s->max_clients;
	for (size_t i = 0; i < sv->s->max_clients; i++) {
		if (sv->users[i].conns && sv->users[i].uid == uid)
			return i;
		if (!sv->users[i].conns && free_slot == sv->s->max_clients)
			free_slot = i;
	}
	if (free_slot < sv->s->max_clients)
		sv->users[free_slot] = (struct user_view){.uid = uid};
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
		*c =
		    (struct client){.fd = fd, .user = ui, .limited = uid != 0, .watching = EPOLLIN};
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
	sv.ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = {.events = EPOLLIN, .data.u32 = LISTENER};
	int rc = 0;
	if (!sv.cl || !sv.users || sv.ep < 0 || epoll_ctl(sv.ep, EPOLL_CTL_ADD, lfd, &lev)) {
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
			else if (sv.cl[ev[i].data.u32].fd >= 0)
				client_event(&sv, &sv.cl[ev[i].data.u32], ev[i].events);
		}
	}
out:
	for (size_t i = 0; sv.cl && i < s->max_clients; i++)
		if (sv.cl[i].fd >= 0)
			close(sv.cl[i].fd);
	if (sv.ep >= 0)
		close(sv.ep);
	free(sv.cl);
	free(sv.users);
	return rc;
}
