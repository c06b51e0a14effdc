/*
 * A PTDaemon connection (see ptd_conn.h): non-blocking socket, poll() for every
 * wait, one deadline per command.
 */
#include "ptd_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until the deadline, or until wake_fd (when >= 0) is
 * readable: 1 ready, -ETIMEDOUT, -ECANCELED (woken), or -errno. */
static int wait_fd(int fd, short events, int64_t deadline, int wake_fd)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p[2] = {{.fd = fd, .events = events},
		                      {.fd = wake_fd, .events = POLLIN}};
		int r = poll(p, wake_fd >= 0 ? 2 : 1, (int)left);
		if (r > 0 && wake_fd >= 0 && p[1].revents)
			return -ECANCELED;
		if (r > 0)
			return 1;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

void jst_ptd_conn_init(struct jst_ptd_conn *c, int timeout_ms, int wake_fd)
{
	c->fd = -1;
	c->wake_fd = wake_fd;
	c->timeout_ms = timeout_ms;
	c->have = 0;
}

void jst_ptd_conn_close(struct jst_ptd_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->have = 0;
}

static int try_connect(const struct addrinfo *ai, int64_t deadline, int wake_fd)
{
	int fd =
	    socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			int e = -errno;
			close(fd);
			return e;
		}
		int r = wait_fd(fd, POLLOUT, deadline, wake_fd);
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			close(fd);
			return r < 0 ? r : soerr ? -soerr : -EIO;
		}
	}
	int one = 1; /* one short line each way: no Nagle delay */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

int jst_ptd_conn_open(struct jst_ptd_conn *c, const char *host, unsigned port, char *err,
                      size_t errlen)
{
	jst_ptd_conn_close(c);
	char ps[8];
	snprintf(ps, sizeof ps, "%u", port);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res;
	int g = getaddrinfo(host, ps, &hints, &res);
	if (g) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(g));
		return -EHOSTUNREACH;
	}
	int64_t deadline = now_ms() + c->timeout_ms;
	int fd = -ENOENT;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = try_connect(ai, deadline, c->wake_fd);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s:%u: %s", host, port,
		         fd == -ETIMEDOUT ? "no answer within the timeout" : strerror(-fd));
		return fd;
	}
	c->fd = fd;
	c->have = 0;
	return 0;
}

static int fail(struct jst_ptd_conn *c, int e)
{
	jst_ptd_conn_close(c);
	return e;
}

/* Take one line out of the buffer into reply; 1 when there was one. */
static int take_line(struct jst_ptd_conn *c, char *reply, size_t len)
{
	char *nl = memchr(c->buf, '\n', c->have);
	if (!nl)
		return 0;
	size_t n = (size_t)(nl - c->buf);
	size_t keep = n;
	if (keep && c->buf[keep - 1] == '\r')
		keep--;
	if (keep >= len)
		keep = len - 1;
	memcpy(reply, c->buf, keep);
	reply[keep] = 0;
	c->have -= n + 1;
	memmove(c->buf, nl + 1, c->have);
	return 1;
}

int jst_ptd_conn_cmd(struct jst_ptd_conn *c, const char *cmd, char *reply, size_t len)
{
	if (c->fd < 0)
		return -ENOTCONN;
	/* A reply not asked for (a server speaking out of turn) is dropped. */
	c->have = 0;
	int64_t deadline = now_ms() + c->timeout_ms;
	char line[JST_PTD_LINE_MAX];
	int n = snprintf(line, sizeof line, "%s\r\n", cmd);
	if (n < 0 || (size_t)n >= sizeof line)
		return -EINVAL;
	size_t off = 0;
	while (off < (size_t)n) {
		ssize_t w = send(c->fd, line + off, (size_t)n - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int r = wait_fd(c->fd, POLLOUT, deadline, c->wake_fd);
			if (r < 0)
				return fail(c, r);
			continue;
		}
		return fail(c, w < 0 ? -errno : -EIO);
	}
	int overlong = 0;
	for (;;) {
		if (take_line(c, reply, len))
			return overlong ? -EMSGSIZE : 0;
		if (c->have == sizeof c->buf) {
			/* A line longer than any reply: discard up to its end. */
			overlong = 1;
			c->have = 0;
		}
		int r = wait_fd(c->fd, POLLIN, deadline, c->wake_fd);
		if (r < 0)
			return fail(c, r);
		ssize_t got = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
		if (got == 0)
			return fail(c, -ECONNRESET);
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return fail(c, -errno);
		}
		c->have += (size_t)got;
	}
}
