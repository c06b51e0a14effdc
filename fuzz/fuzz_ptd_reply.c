/* Fuzz target: what a PTDaemon may send. The input is a byte stream a server
 * wrote; it goes through the ptd backend's own line reader (a real socket
 * pair: partial lines, overlong lines, binary, an early close) and every line
 * it yields through each reply parser. A reading accepted has finite, bounded
 * numbers; a time, an uncertainty, an address, ranges are in their ranges. */
#include "fuzz.h"
#include "ptd_conn.h"
#include "ptd_proto.h"

#include <errno.h>
#include <math.h>
#include <sys/socket.h>
#include <unistd.h>

static void check_line(const char *line)
{
	struct jst_ptd_sample s;
	if (jst_ptd_parse_sample(line, &s) == 0) {
		if (!(s.watts >= 0 && s.watts <= 1e7))
			abort();
		if (s.has_time && !(s.time_s > 9e8 && s.time_s < 8e9))
			abort();
		if (!isnan(s.uncertainty) && !(s.uncertainty > 0 && s.uncertainty < 1))
			abort();
		if (!isnan(s.energy_j) && !(s.energy_j >= 0 && isfinite(s.energy_j)))
			abort();
		if (strlen(s.mark) >= sizeof s.mark)
			abort();
	}
	double t;
	if (jst_ptd_parse_time_reply(line, &t) == 0 && !(t > 9e8 && t < 8e9))
		abort();
	double u;
	if (jst_ptd_parse_uncertainty(line, &u) == 0 && !(u > 0 && u < 1))
		abort();
	char host[80], err[160];
	unsigned port;
	if (jst_ptd_parse_address(line, host, sizeof host, &port, err, sizeof err) == 0) {
		if (!port || port > 65535 || !host[0] || strlen(host) >= sizeof host)
			abort();
	} else if (strlen(err) >= sizeof err) {
		abort();
	}
	double v, a;
	if (jst_ptd_parse_ranges(line, &v, &a) == 0 && !(v >= 0 && a >= 0 && isfinite(v + a)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16384)
		return 0; /* more than a socket buffer holds unread */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		return 0;
	if (size && write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR); /* then the stream ends: no wait for more */
	struct jst_ptd_conn c;
	jst_ptd_conn_init(&c, 1000, -1);
	c.fd = sv[0];
	char reply[JST_PTD_LINE_MAX];
	for (int i = 0; i < 4096; i++) {
		int r = jst_ptd_conn_cmd(&c, "RL", reply, sizeof reply);
		if (r == -EMSGSIZE)
			continue;
		if (r)
			break;
		if (strlen(reply) >= sizeof reply)
			abort();
		check_line(reply);
	}
	jst_ptd_conn_close(&c);
	close(sv[1]);
	/* The whole input as one line too, past the reader's limits. */
	char *s = fuzz_cstring(data, size);
	if (s) {
		check_line(s);
		free(s);
	}
	return 0;
}
