/*
 * One TCP connection to a PTDaemon: a command line out, one reply line back,
 * each under a deadline, so that a dead, slow or silent server costs at most
 * the timeout and never a hang.
 */
#ifndef JST_PTD_CONN_H
#define JST_PTD_CONN_H

#include "ptd_proto.h"

#include <stddef.h>

struct jst_ptd_conn {
	int fd; /* -1 when closed */
	int timeout_ms;
	int wake_fd; /* readable: give up any wait now (-ECANCELED); -1 for none */
	size_t have; /* bytes of the next reply(ies) already received */
	char buf[JST_PTD_LINE_MAX];
};

void jst_ptd_conn_init(struct jst_ptd_conn *c, int timeout_ms, int wake_fd);
/* Connect (within the timeout). 0 or negative errno with why in err. */
int jst_ptd_conn_open(struct jst_ptd_conn *c, const char *host, unsigned port, char *err,
                      size_t errlen);
/* Send cmd and read its one-line reply (without its line end) into reply.
 * 0; -ETIMEDOUT (no whole line within the timeout), -ECONNRESET (the server
 * closed), -ECANCELED (woken),
 * -EMSGSIZE (a line longer than JST_PTD_LINE_MAX: the rest of it is
 * discarded), or another negative errno. After any error but -EMSGSIZE the
 * connection is closed: a late reply must never be taken for the next one's. */
int jst_ptd_conn_cmd(struct jst_ptd_conn *c, const char *cmd, char *reply, size_t len);
void jst_ptd_conn_close(struct jst_ptd_conn *c);

#endif
