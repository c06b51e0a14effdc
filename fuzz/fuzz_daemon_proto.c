/* Fuzz target: the joulestatd protocol (src/backends/daemon_proto.c), both
 * sides: any packet as a request the daemon parses, and as each reply the
 * library's daemon backend parses. Whatever parses must encode back to what
 * parses the same, and nothing may read past the packet. */
#include "daemon_proto.h"
#include "fuzz.h"

#include <errno.h>
#include <math.h>

static uint32_t seq_of(const uint8_t *d, size_t n)
{
	return n >= 12 ? (uint32_t)d[8] | (uint32_t)d[9] << 8 | (uint32_t)d[10] << 16 |
	                     (uint32_t)d[11] << 24
	               : 0;
}

static void check_request(const uint8_t *data, size_t size)
{
	struct jst_dproto_req q;
	uint8_t buf[JST_DPROTO_REQ_MAX];
	int rc = jst_dproto_req_parse(data, size, &q);
	if (rc != 0 && rc != -EBADMSG && rc != -EPROTONOSUPPORT)
		abort();
	if (rc)
		return;
	size_t n = q.type == JST_DPROTO_HELLO    ? jst_dproto_hello_req(buf, q.seq)
	           : q.type == JST_DPROTO_DOMAIN ? jst_dproto_domain_req(buf, q.seq, q.index)
	           : q.type == JST_DPROTO_READ   ? jst_dproto_read_req(buf, q.seq)
	           : q.type == JST_DPROTO_MAP    ? jst_dproto_map_req(buf, q.seq)
	                                         : (abort(), 0);
	struct jst_dproto_req again;
	if (n > sizeof buf || jst_dproto_req_parse(buf, n, &again) || again.type != q.type ||
	    again.seq != q.seq || again.index != q.index)
		abort();
}

static void check_versioned(const uint8_t *data, size_t size, uint32_t seq, uint16_t ver);

static void check_replies(const uint8_t *data, size_t size)
{
	uint32_t seq = seq_of(data, size);
	char err[JST_DPROTO_ERROR_TEXT];
	uint8_t buf[JST_DPROTO_REPLY_MAX];

	struct jst_dproto_hello h;
	int rc = jst_dproto_hello_parse(data, size, seq, &h, err);
	if (rc > 0 || strnlen(err, sizeof err) == sizeof err)
		abort();
	if (rc == 0) {
		struct jst_dproto_hello h2;
		size_t n = jst_dproto_hello_reply(buf, seq, &h);
		if (jst_dproto_hello_parse(buf, n, seq, &h2, err) || h2.ndomains != h.ndomains ||
		    h2.resolution_ns != h.resolution_ns)
			abort();
	}

	/* Every reply body as each version lays it out. */
	for (uint16_t ver = JST_DPROTO_VERSION_MIN; ver <= JST_DPROTO_VERSION; ver++)
		check_versioned(data, size, seq, ver);
}

static void check_versioned(const uint8_t *data, size_t size, uint32_t seq, uint16_t ver)
{
	char err[JST_DPROTO_ERROR_TEXT];
	uint8_t buf[JST_DPROTO_REPLY_MAX];
	struct jst_dproto_domain d, d2;
	int rc = jst_dproto_domain_parse(data, size, seq, ver, JST_DPROTO_DOMAINS_MAX, &d, err);
	if (rc > 0)
		abort();
	if (rc == 0) {
		/* What the core relies on: a known kind and method, a parent in range,
		 * numbers that are numbers. */
		if (d.desc.kind >= JST_KIND_COUNT_ || d.desc.method >= JST_METHOD_COUNT_ ||
		    d.desc.parent < -1 || d.desc.parent >= JST_DPROTO_DOMAINS_MAX ||
		    !isfinite(d.desc.accuracy) || !isfinite(d.desc.refresh_s) ||
		    (d.desc.power_mean && d.desc.method != JST_METHOD_POWER) ||
		    d.desc.covers >> JST_KIND_COUNT_)
			abort();
		size_t n = jst_dproto_domain_reply(buf, seq, ver, &d);
		if (n > sizeof buf ||
		    jst_dproto_domain_parse(buf, n, seq, ver, JST_DPROTO_DOMAINS_MAX, &d2, err) ||
		    strcmp(d.desc.name, d2.desc.name) != 0 ||
		    strcmp(d.desc.device, d2.desc.device) != 0 ||
		    d.desc.modulus != d2.desc.modulus || d.desc.parent != d2.desc.parent ||
		    d.desc.power_mean != d2.desc.power_mean || d.desc.covers != d2.desc.covers)
			abort();
	}

	static struct jst_dproto_reading rd[JST_DPROTO_DOMAINS_MAX];
	size_t want = size >= 20 ? data[16] % (JST_DPROTO_DOMAINS_MAX + 1) : 0;
	rc = jst_dproto_read_parse(data, size, seq, ver, rd, want, err);
	if (rc > 0)
		abort();
	for (size_t i = 0; rc == 0 && i < want; i++)
		if (jst_dproto_reading_check(&rd[i]))
			abort();
	if (rc == 0) {
		/* What parsed encodes back to what parses the same. */
		static struct jst_dproto_reading rd2[JST_DPROTO_DOMAINS_MAX];
		size_t n = jst_dproto_read_reply(buf, seq, ver, rd, want);
		if (jst_dproto_read_parse(buf, n, seq, ver, rd2, want, err))
			abort();
		for (size_t i = 0; i < want; i++)
			if (rd2[i].value_seq != rd[i].value_seq ||
			    rd2[i].gap_epoch != rd[i].gap_epoch || rd2[i].counter != rd[i].counter)
				abort();
	}

	struct jst_dproto_map m;
	uint32_t nd = size >= 20 ? data[16] : 0;
	rc = jst_dproto_map_parse(data, size, seq, nd, &m, err);
	if (rc > 0 || (rc == 0 && (m.ndomains != nd || m.size != sizeof(struct jst_dshm))))
		abort();
	if (rc == 0) {
		struct jst_dproto_map m2;
		size_t n = jst_dproto_map_reply(buf, seq, &m);
		if (jst_dproto_map_parse(buf, n, seq, nd, &m2, err) ||
		    m2.daemon_now_ns != m.daemon_now_ns)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so that a read past the packet is caught. */
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	check_request(copy, size);
	check_replies(copy, size);
	free(copy);
	return 0;
}
