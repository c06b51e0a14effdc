/*
 * Encoding and decoding of the joulestatd protocol (daemon_proto.h). Every
 * decoder checks lengths before it reads and rejects what a well-behaved peer
 * never sends, since the daemon parses what any local user writes and the
 * client what a socket anyone could bind answers.
 */
#include "daemon_proto.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* ---- primitives ------------------------------------------------------------- */

struct wr {
	uint8_t *p;
	size_t n;
};

static void put_u(struct wr *w, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		w->p[w->n++] = (uint8_t)(v >> (8 * i));
}

static void put_f64(struct wr *w, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof v);
	put_u(w, v, 8);
}

/* A fixed-size string field: the text, cut to fit, then NULs. */
static void put_str(struct wr *w, const char *s, size_t field)
{
	size_t n = strnlen(s, field - 1);
	memcpy(w->p + w->n, s, n);
	memset(w->p + w->n + n, 0, field - n);
	w->n += field;
}

struct rd {
	const uint8_t *p;
	size_t n, at;
	int bad;
};

static uint64_t get_u(struct rd *r, int bytes)
{
	if (r->bad || r->n - r->at < (size_t)bytes) {
		r->bad = 1;
		return 0;
	}
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)r->p[r->at + i] << (8 * i);
	r->at += (size_t)bytes;
	return v;
}

static double get_f64(struct rd *r)
{
	uint64_t v = get_u(r, 8);
	double d;
	memcpy(&d, &v, sizeof d);
	return d;
}

/* A string field must end within itself: a peer that fills it to the brim
 * sends something no encoder here writes. */
static void get_str(struct rd *r, char *dst, size_t field)
{
	if (r->bad || r->n - r->at < field || !memchr(r->p + r->at, 0, field)) {
		r->bad = 1;
		dst[0] = 0;
		return;
	}
	memcpy(dst, r->p + r->at, field);
	r->at += field;
}

/* The header's version is the body's layout: the session's, or this build's
 * newest where the body is the same in every version. */
static void put_hdr_v(struct wr *w, uint16_t ver, uint16_t type, uint32_t seq, uint32_t body)
{
	put_u(w, JST_DPROTO_MAGIC, 4);
	put_u(w, ver, 2);
	put_u(w, type, 2);
	put_u(w, seq, 4);
	put_u(w, body, 4);
}

static void put_hdr(struct wr *w, uint16_t type, uint32_t seq, uint32_t body)
{
	put_hdr_v(w, JST_DPROTO_VERSION, type, seq, body);
}

/* The header, checked: the body's stated length must be exactly what is left. */
static int get_hdr(struct rd *r, uint16_t *type, uint32_t *seq)
{
	uint32_t magic = (uint32_t)get_u(r, 4);
	uint16_t ver = (uint16_t)get_u(r, 2);
	*type = (uint16_t)get_u(r, 2);
	*seq = (uint32_t)get_u(r, 4);
	uint32_t body = (uint32_t)get_u(r, 4);
	if (r->bad || magic != JST_DPROTO_MAGIC || ver == 0 || body != r->n - r->at)
		return -EBADMSG;
	return 0;
}

/* ---- requests --------------------------------------------------------------- */

size_t jst_dproto_hello_req_versions(uint8_t *buf, uint32_t seq, uint16_t min, uint16_t max)
{
	struct wr w = {buf, 0};
	put_hdr(&w, JST_DPROTO_HELLO, seq, 4);
	put_u(&w, min, 2); /* the oldest it speaks */
	put_u(&w, max, 2); /* the newest */
	return w.n;
}

size_t jst_dproto_hello_req(uint8_t *buf, uint32_t seq)
{
	return jst_dproto_hello_req_versions(buf, seq, JST_DPROTO_VERSION_MIN, JST_DPROTO_VERSION);
}

uint16_t jst_dproto_version_pick(const struct jst_dproto_req *hello)
{
	return hello->max_ver < JST_DPROTO_VERSION ? hello->max_ver : JST_DPROTO_VERSION;
}

size_t jst_dproto_domain_req(uint8_t *buf, uint32_t seq, uint32_t index)
{
	struct wr w = {buf, 0};
	put_hdr(&w, JST_DPROTO_DOMAIN, seq, 4);
	put_u(&w, index, 4);
	return w.n;
}

size_t jst_dproto_read_req(uint8_t *buf, uint32_t seq)
{
	struct wr w = {buf, 0};
	put_hdr(&w, JST_DPROTO_READ, seq, 0);
	return w.n;
}

size_t jst_dproto_map_req(uint8_t *buf, uint32_t seq)
{
	struct wr w = {buf, 0};
	put_hdr(&w, JST_DPROTO_MAP, seq, 0);
	return w.n;
}

int jst_dproto_req_parse(const uint8_t *buf, size_t len, struct jst_dproto_req *out)
{
	struct rd r = {buf, len, 0, 0};
	memset(out, 0, sizeof *out);
	if (len > JST_DPROTO_REQ_MAX || get_hdr(&r, &out->type, &out->seq))
		return -EBADMSG;
	switch (out->type) {
	case JST_DPROTO_HELLO:
		out->min_ver = (uint16_t)get_u(&r, 2);
		out->max_ver = (uint16_t)get_u(&r, 2);
		if (r.bad || r.at != len || out->min_ver > out->max_ver)
			return -EBADMSG;
		if (out->min_ver > JST_DPROTO_VERSION || out->max_ver < JST_DPROTO_VERSION_MIN)
			return -EPROTONOSUPPORT;
		return 0;
	case JST_DPROTO_DOMAIN:
		out->index = (uint32_t)get_u(&r, 4);
		return r.bad || r.at != len ? -EBADMSG : 0;
	case JST_DPROTO_READ:
	case JST_DPROTO_MAP:
		return r.at != len ? -EBADMSG : 0;
	default:
		return -EBADMSG;
	}
}

/* ---- replies ---------------------------------------------------------------- */

size_t jst_dproto_hello_reply(uint8_t *buf, uint32_t seq, const struct jst_dproto_hello *h)
{
	struct wr w = {buf, 0};
	put_hdr(&w, JST_DPROTO_HELLO, seq, 16);
	put_u(&w, h->version, 2);
	put_u(&w, 0, 2);
	put_u(&w, h->ndomains, 4);
	put_u(&w, h->resolution_ns, 8);
	return w.n;
}

#define DOMAIN_BODY_V1                                                                             \
	(JST_NAME_MAX + 4 + JST_DEVICE_MAX + 4 + 32 + 8 + 4 + 8 + 8 + 8 + 8 + 8 + JST_NOTE_MAX +   \
	 JST_DPROTO_VIA_MAX)
/* Version 2 adds power_mean and covers. */
#define DOMAIN_BODY_V2 (DOMAIN_BODY_V1 + 4 + 4)

size_t jst_dproto_domain_reply(uint8_t *buf, uint32_t seq, uint16_t ver,
                               const struct jst_dproto_domain *dom)
{
	const struct jst_domain_desc *d = &dom->desc;
	struct wr w = {buf, 0};
	put_hdr_v(&w, ver, JST_DPROTO_DOMAIN, seq, ver >= 2 ? DOMAIN_BODY_V2 : DOMAIN_BODY_V1);
	put_str(&w, d->name, JST_NAME_MAX);
	put_u(&w, (uint32_t)d->kind, 4);
	put_str(&w, d->device, JST_DEVICE_MAX);
	put_u(&w, (uint32_t)d->method, 4);
	put_str(&w, d->source, sizeof d->source);
	put_f64(&w, d->accuracy);
	put_u(&w, (uint32_t)d->parent, 4);
	put_f64(&w, d->unit_j);
	put_u(&w, d->modulus, 8);
	put_f64(&w, d->max_power_w);
	put_f64(&w, d->refresh_s);
	put_f64(&w, d->resolution_j);
	put_str(&w, d->note, JST_NOTE_MAX);
	put_str(&w, dom->via, JST_DPROTO_VIA_MAX);
	if (ver >= 2) {
		put_u(&w, (uint32_t)d->power_mean, 4);
		put_u(&w, d->covers, 4);
	}
	return w.n;
}

size_t jst_dproto_read_reply(uint8_t *buf, uint32_t seq, uint16_t ver,
                             const struct jst_dproto_reading *r, size_t n)
{
	struct wr w = {buf, 0};
	size_t each = ver >= 2 ? JST_DPROTO_READING_LEN : JST_DPROTO_READING_LEN_V1;
	if (n > JST_DPROTO_DOMAINS_MAX)
		n = JST_DPROTO_DOMAINS_MAX;
	put_hdr_v(&w, ver, JST_DPROTO_READ, seq, (uint32_t)(4 + n * each));
	put_u(&w, n, 4);
	for (size_t i = 0; i < n; i++) {
		const struct jst_dproto_reading *x = &r[i];
		put_u(&w, (uint32_t)x->status, 4);
		if (ver >= 2)
			put_u(&w, x->gap_epoch, 4);
		put_u(&w, (uint64_t)x->age_ns, 8);
		put_u(&w, (uint64_t)x->t_err_ns, 8);
		put_u(&w, x->counter, 8);
		put_f64(&w, x->power_w);
		if (ver < 2)
			continue;
		put_u(&w, x->value_seq, 8);
		put_f64(&w, x->refresh_s);
		put_f64(&w, x->unseen_u_j);
		put_f64(&w, x->unseen_s);
		put_f64(&w, x->mean_start_j);
		put_f64(&w, x->mean_end_j);
		put_f64(&w, x->temperature_c);
		put_f64(&w, x->utilization_pct);
		put_f64(&w, x->clock_mhz);
		put_f64(&w, x->power_limit_w);
		put_f64(&w, x->telemetry_power_w);
	}
	return w.n;
}

size_t jst_dproto_error_reply(uint8_t *buf, uint32_t seq, int32_t code, const char *text)
{
	struct wr w = {buf, 0};
	put_hdr(&w, JST_DPROTO_ERROR, seq, 4 + JST_DPROTO_ERROR_TEXT);
	put_u(&w, (uint32_t)code, 4);
	put_str(&w, text, JST_DPROTO_ERROR_TEXT);
	return w.n;
}

size_t jst_dproto_map_reply(uint8_t *buf, uint32_t seq, const struct jst_dproto_map *m)
{
	struct wr w = {buf, 0};
	put_hdr(&w, JST_DPROTO_MAP, seq, 24);
	put_u(&w, m->ndomains, 4);
	put_u(&w, 0, 4);
	put_u(&w, m->size, 8);
	put_u(&w, (uint64_t)m->daemon_now_ns, 8);
	return w.n;
}

/* The header of a reply to (want, seq); an ERROR reply becomes its code, with
 * its text in err. */
static int reply_hdr(struct rd *r, uint16_t want, uint32_t seq, char *err)
{
	uint16_t type;
	uint32_t got;
	err[0] = 0;
	/* An ERROR with sequence 0 was said before any request: a refusal. */
	if (get_hdr(r, &type, &got) || (got != seq && !(type == JST_DPROTO_ERROR && got == 0)))
		return -EBADMSG;
	if (type == JST_DPROTO_ERROR) {
		int32_t code = (int32_t)get_u(r, 4);
		get_str(r, err, JST_DPROTO_ERROR_TEXT);
		/* Only an errno is a code: anything else would pass for success or
		 * for a code the caller misreads. */
		if (r->bad || r->at != r->n || code >= 0 || code < -4095) {
			err[0] = 0;
			return -EBADMSG;
		}
		return code;
	}
	return type == want ? 0 : -EBADMSG;
}

int jst_dproto_hello_parse(const uint8_t *buf, size_t len, uint32_t seq,
                           struct jst_dproto_hello *out, char *err)
{
	struct rd r = {buf, len, 0, 0};
	int rc = reply_hdr(&r, JST_DPROTO_HELLO, seq, err);
	if (rc)
		return rc;
	out->version = (uint16_t)get_u(&r, 2);
	(void)get_u(&r, 2);
	out->ndomains = (uint32_t)get_u(&r, 4);
	out->resolution_ns = get_u(&r, 8);
	if (r.bad || r.at != len || out->version < JST_DPROTO_VERSION_MIN ||
	    out->version > JST_DPROTO_VERSION || out->ndomains > JST_DPROTO_DOMAINS_MAX ||
	    out->resolution_ns > 3600000000000ull)
		return -EBADMSG;
	return 0;
}

static int finite_nonneg(double v)
{
	return isfinite(v) && v >= 0;
}

int jst_dproto_domain_parse(const uint8_t *buf, size_t len, uint32_t seq, uint16_t ver,
                            uint32_t ndomains, struct jst_dproto_domain *out, char *err)
{
	struct rd r = {buf, len, 0, 0};
	int rc = reply_hdr(&r, JST_DPROTO_DOMAIN, seq, err);
	if (rc)
		return rc;
	struct jst_domain_desc *d = &out->desc;
	memset(out, 0, sizeof *out);
	get_str(&r, d->name, JST_NAME_MAX);
	uint32_t kind = (uint32_t)get_u(&r, 4);
	get_str(&r, d->device, JST_DEVICE_MAX);
	uint32_t method = (uint32_t)get_u(&r, 4);
	get_str(&r, d->source, sizeof d->source);
	d->accuracy = get_f64(&r);
	int32_t parent = (int32_t)get_u(&r, 4);
	d->unit_j = get_f64(&r);
	d->modulus = get_u(&r, 8);
	d->max_power_w = get_f64(&r);
	d->refresh_s = get_f64(&r);
	d->resolution_j = get_f64(&r);
	get_str(&r, d->note, JST_NOTE_MAX);
	get_str(&r, out->via, JST_DPROTO_VIA_MAX);
	uint32_t mean = 0, covers = 0;
	if (ver >= 2) {
		mean = (uint32_t)get_u(&r, 4);
		covers = (uint32_t)get_u(&r, 4);
	}
	if (r.bad || r.at != len)
		return -EBADMSG;
	/* A mean is a power reading's; covers names kinds the core knows. */
	if (mean > 1 || (mean && method != JST_METHOD_POWER) ||
	    (covers & ~((1u << JST_KIND_COUNT_) - 1u)))
		return -EBADMSG;
	d->power_mean = (int)mean;
	d->covers = covers;
	/* What the core would misread: a kind or method it has no name for, a
	 * parent outside the table, a unit or bound that is no number. */
	if (kind >= JST_KIND_COUNT_ || method >= JST_METHOD_COUNT_ || !d->name[0] ||
	    !d->device[0] || parent < -1 || (parent >= 0 && (uint32_t)parent >= ndomains) ||
	    !finite_nonneg(d->accuracy) || !finite_nonneg(d->max_power_w) ||
	    !finite_nonneg(d->refresh_s) || d->refresh_s > 3600 || !finite_nonneg(d->resolution_j))
		return -EBADMSG;
	if (method != JST_METHOD_POWER && !(isfinite(d->unit_j) && d->unit_j > 0))
		return -EBADMSG;
	d->kind = (jst_kind)kind;
	d->method = (jst_method)method;
	d->parent = parent;
	return 0;
}

/* A telemetry value: absent, or a finite number within what a device shows. */
static int telemetry_ok(double v, double lo, double hi)
{
	return isnan(v) || (isfinite(v) && v >= lo && v <= hi);
}

static int total_ok(double v, double max)
{
	return finite_nonneg(v) && v <= max;
}

int jst_dproto_reading_check(const struct jst_dproto_reading *x)
{
	/* A status is 0 or an errno ("unchanged" is the client's to derive);
	 * an age is never negative; a running total is a number within reach,
	 * and a mean ends after it starts. */
	if (x->status > 0 || x->status < -4095 || x->age_ns < 0 || x->t_err_ns < 0)
		return -EBADMSG;
	if (!finite_nonneg(x->refresh_s) || x->refresh_s > 3600 ||
	    !total_ok(x->unseen_u_j, JST_DPROTO_TOTAL_J_MAX) ||
	    !total_ok(x->unseen_s, JST_DPROTO_UNSEEN_S_MAX) ||
	    !total_ok(x->mean_start_j, JST_DPROTO_TOTAL_J_MAX) ||
	    !total_ok(x->mean_end_j, JST_DPROTO_TOTAL_J_MAX) || x->mean_end_j < x->mean_start_j)
		return -EBADMSG;
	if (!telemetry_ok(x->temperature_c, -273.15, 1000) ||
	    !telemetry_ok(x->utilization_pct, 0, 100) || !telemetry_ok(x->clock_mhz, 0, 1e6) ||
	    !telemetry_ok(x->power_limit_w, 0, 1e7) ||
	    !telemetry_ok(x->telemetry_power_w, -1e7, 1e7))
		return -EBADMSG;
	return 0;
}

int jst_dproto_read_parse(const uint8_t *buf, size_t len, uint32_t seq, uint16_t ver,
                          struct jst_dproto_reading *out, size_t n, char *err)
{
	struct rd r = {buf, len, 0, 0};
	int rc = reply_hdr(&r, JST_DPROTO_READ, seq, err);
	if (rc)
		return rc;
	if (get_u(&r, 4) != n || n > JST_DPROTO_DOMAINS_MAX)
		return -EBADMSG;
	for (size_t i = 0; i < n && !r.bad; i++) {
		struct jst_dproto_reading *x = &out[i];
		*x = (struct jst_dproto_reading){.temperature_c = NAN,
		                                 .utilization_pct = NAN,
		                                 .clock_mhz = NAN,
		                                 .power_limit_w = NAN,
		                                 .telemetry_power_w = NAN};
		x->status = (int32_t)get_u(&r, 4);
		if (ver >= 2)
			x->gap_epoch = (uint32_t)get_u(&r, 4);
		x->age_ns = (int64_t)get_u(&r, 8);
		x->t_err_ns = (int64_t)get_u(&r, 8);
		x->counter = get_u(&r, 8);
		x->power_w = get_f64(&r);
		if (ver >= 2) {
			x->value_seq = get_u(&r, 8);
			x->refresh_s = get_f64(&r);
			x->unseen_u_j = get_f64(&r);
			x->unseen_s = get_f64(&r);
			x->mean_start_j = get_f64(&r);
			x->mean_end_j = get_f64(&r);
			x->temperature_c = get_f64(&r);
			x->utilization_pct = get_f64(&r);
			x->clock_mhz = get_f64(&r);
			x->power_limit_w = get_f64(&r);
			x->telemetry_power_w = get_f64(&r);
		}
		if (!r.bad && jst_dproto_reading_check(x))
			r.bad = 1;
	}
	return r.bad || r.at != len ? -EBADMSG : 0;
}

int jst_dproto_map_parse(const uint8_t *buf, size_t len, uint32_t seq, uint32_t ndomains,
                         struct jst_dproto_map *out, char *err)
{
	struct rd r = {buf, len, 0, 0};
	int rc = reply_hdr(&r, JST_DPROTO_MAP, seq, err);
	if (rc)
		return rc;
	out->ndomains = (uint32_t)get_u(&r, 4);
	(void)get_u(&r, 4);
	out->size = get_u(&r, 8);
	out->daemon_now_ns = (int64_t)get_u(&r, 8);
	/* The page must hold the domains it is for, and nothing the client would
	 * map is larger than the struct. */
	if (r.bad || r.at != len || out->ndomains != ndomains ||
	    out->size != sizeof(struct jst_dshm) || out->daemon_now_ns < 0)
		return -EBADMSG;
	return 0;
}
