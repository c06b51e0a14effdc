/* The joulestatd protocol (daemon_proto.c) and the daemon backend (daemon.c)
 * against a stand-in daemon on a thread: round trips, what a parser must
 * refuse, the resolution raising the sensor's refresh, ages turned into
 * instants, the shared page (and one the daemon stopped rewriting), and a
 * daemon that hangs up, falls silent or changes its domains; protocol 2's
 * fields (round trip, garbled ones refused), the versions negotiated both
 * ways, and power means handed to each client once, with their gaps. */
#include "daemon_proto.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

static struct jst_dproto_domain sample_domain(const char *name, const char *dev, int parent)
{
	struct jst_dproto_domain d = {0};
	snprintf(d.desc.name, sizeof d.desc.name, "%s", name);
	snprintf(d.desc.device, sizeof d.desc.device, "%s", dev);
	snprintf(d.desc.source, sizeof d.desc.source, "powercap");
	snprintf(d.via, sizeof d.via, "rapl");
	d.desc.kind = parent < 0 ? JST_KIND_PACKAGE : JST_KIND_CORE;
	d.desc.method = JST_METHOD_COUNTER;
	d.desc.accuracy = 0.05;
	d.desc.parent = parent;
	d.desc.unit_j = 1e-6;
	d.desc.modulus = 262143328851ull;
	d.desc.max_power_w = 1000;
	d.desc.refresh_s = 0.001;
	return d;
}

/* A reading with nothing known beyond its status, age and counter. */
static struct jst_dproto_reading reading(int status, int64_t age_ns, uint64_t counter)
{
	return (struct jst_dproto_reading){.status = status,
	                                   .age_ns = age_ns,
	                                   .t_err_ns = 20,
	                                   .counter = counter,
	                                   .power_w = NAN,
	                                   .value_seq = 1,
	                                   .temperature_c = NAN,
	                                   .utilization_pct = NAN,
	                                   .clock_mhz = NAN,
	                                   .power_limit_w = NAN,
	                                   .telemetry_power_w = NAN};
}

/* ---- protocol --------------------------------------------------------------- */

static void test_requests_round_trip(void **st)
{
	(void)st;
	uint8_t b[JST_DPROTO_REQ_MAX];
	struct jst_dproto_req q;
	assert_int_equal(jst_dproto_req_parse(b, jst_dproto_hello_req(b, 7), &q), 0);
	assert_int_equal(q.type, JST_DPROTO_HELLO);
	assert_int_equal(q.seq, 7);
	assert_int_equal(jst_dproto_req_parse(b, jst_dproto_domain_req(b, 8, 3), &q), 0);
	assert_int_equal(q.index, 3);
	size_t n = jst_dproto_read_req(b, 9);
	assert_int_equal(jst_dproto_req_parse(b, n, &q), 0);
	assert_int_equal(q.type, JST_DPROTO_READ);
	/* One byte short, one too many, a bad magic: refused. */
	assert_int_equal(jst_dproto_req_parse(b, n - 1, &q), -EBADMSG);
	b[0] ^= 1;
	assert_int_equal(jst_dproto_req_parse(b, n, &q), -EBADMSG);
	/* A HELLO from a client that speaks only versions 3 to 4. */
	n = jst_dproto_hello_req(b, 1);
	b[16] = 3;
	b[18] = 4;
	assert_int_equal(jst_dproto_req_parse(b, n, &q), -EPROTONOSUPPORT);
}

static void test_domain_reply_round_trips_and_bad_ones_are_refused(void **st)
{
	(void)st;
	uint8_t b[JST_DPROTO_REPLY_MAX];
	char err[JST_DPROTO_ERROR_TEXT];
	struct jst_dproto_domain d = sample_domain("core-0", "cpu:package-0/core", 0), got;
	size_t n = jst_dproto_domain_reply(b, 5, 2, &d);
	assert_int_equal(jst_dproto_domain_parse(b, n, 5, 2, 2, &got, err), 0);
	assert_string_equal(got.desc.name, "core-0");
	assert_string_equal(got.desc.device, "cpu:package-0/core");
	assert_string_equal(got.via, "rapl");
	assert_int_equal(got.desc.kind, JST_KIND_CORE);
	assert_int_equal(got.desc.parent, 0);
	assert_true(got.desc.modulus == d.desc.modulus);
	assert_true(got.desc.unit_j == 1e-6);
	/* Another request's reply, or a parent beyond the table: refused. */
	assert_int_equal(jst_dproto_domain_parse(b, n, 6, 2, 2, &got, err), -EBADMSG);
	assert_int_equal(jst_dproto_domain_parse(b, n, 5, 2, 0, &got, err), -EBADMSG);
	d.desc.unit_j = NAN;
	n = jst_dproto_domain_reply(b, 5, 2, &d);
	assert_int_equal(jst_dproto_domain_parse(b, n, 5, 2, 2, &got, err), -EBADMSG);
	d = sample_domain("x", "y", -1);
	d.desc.kind = JST_KIND_COUNT_;
	n = jst_dproto_domain_reply(b, 5, 2, &d);
	assert_int_equal(jst_dproto_domain_parse(b, n, 5, 2, 2, &got, err), -EBADMSG);
}

static void test_error_reply_gives_its_code_and_text(void **st)
{
	(void)st;
	uint8_t b[JST_DPROTO_REPLY_MAX];
	char err[JST_DPROTO_ERROR_TEXT];
	struct jst_dproto_hello h;
	size_t n = jst_dproto_error_reply(b, 0, -EACCES, "uid 1000 may not");
	/* Sequence 0: a refusal said before any request answers any of them. */
	assert_int_equal(jst_dproto_hello_parse(b, n, 1, &h, err), -EACCES);
	assert_string_equal(err, "uid 1000 may not");
	/* A positive "code" would pass for success: refused. */
	n = jst_dproto_error_reply(b, 3, 5, "no");
	assert_int_equal(jst_dproto_hello_parse(b, n, 3, &h, err), -EBADMSG);
}

static void test_read_reply_round_trips(void **st)
{
	(void)st;
	uint8_t b[JST_DPROTO_REPLY_MAX];
	char err[JST_DPROTO_ERROR_TEXT];
	struct jst_dproto_reading r[2] = {reading(0, 1500, 123456789), reading(-EIO, 0, 0)}, got[2];
	size_t n = jst_dproto_read_reply(b, 4, 2, r, 2);
	assert_int_equal(jst_dproto_read_parse(b, n, 4, 2, got, 2, err), 0);
	assert_true(got[0].counter == 123456789);
	assert_int_equal(got[0].age_ns, 1500);
	assert_int_equal(got[1].status, -EIO);
	/* Fewer readings than domains: refused, never half-filled. */
	assert_int_equal(jst_dproto_read_parse(b, n, 4, 2, got, 3, err), -EBADMSG);
}

/* A PTD analyser's domain: its readings are means over a 0.5 s refresh. */
static struct jst_dproto_domain mean_domain(void)
{
	struct jst_dproto_domain d = sample_domain("ptd-0", "node:ptd-0", -1);
	snprintf(d.desc.source, sizeof d.desc.source, "average-power");
	snprintf(d.via, sizeof d.via, "ptd");
	d.desc.kind = JST_KIND_NODE;
	d.desc.method = JST_METHOD_POWER;
	d.desc.refresh_s = 0.5;
	d.desc.power_mean = 1;
	d.desc.covers = JST_COVERS_MODULE;
	return d;
}

static void test_v2_domain_carries_the_means_model_and_refuses_garbled(void **st)
{
	(void)st;
	uint8_t b[JST_DPROTO_REPLY_MAX];
	char err[JST_DPROTO_ERROR_TEXT];
	struct jst_dproto_domain d = mean_domain(), got;
	size_t n = jst_dproto_domain_reply(b, 5, 2, &d);
	assert_int_equal(jst_dproto_domain_parse(b, n, 5, 2, 1, &got, err), 0);
	assert_int_equal(got.desc.power_mean, 1);
	assert_int_equal(got.desc.covers, JST_COVERS_MODULE);
	assert_true(got.desc.refresh_s == 0.5);
	/* Version 1 has neither: 8 bytes shorter, read back as nothing declared;
	 * a v2 body read as v1 (or the reverse) is refused by its length. */
	size_t n1 = jst_dproto_domain_reply(b, 5, 1, &d);
	assert_int_equal(n1 + 8, n);
	assert_int_equal(jst_dproto_domain_parse(b, n1, 5, 1, 1, &got, err), 0);
	assert_int_equal(got.desc.power_mean, 0);
	assert_int_equal(got.desc.covers, 0);
	assert_int_equal(jst_dproto_domain_parse(b, n1, 5, 2, 1, &got, err), -EBADMSG);
	/* A mean that is no 0 or 1, a mean of a counter, covers of kinds that
	 * do not exist: refused. */
	d.desc.power_mean = 2;
	n = jst_dproto_domain_reply(b, 5, 2, &d);
	assert_int_equal(jst_dproto_domain_parse(b, n, 5, 2, 1, &got, err), -EBADMSG);
	d = mean_domain();
	d.desc.method = JST_METHOD_COUNTER;
	n = jst_dproto_domain_reply(b, 5, 2, &d);
	assert_int_equal(jst_dproto_domain_parse(b, n, 5, 2, 1, &got, err), -EBADMSG);
	d = mean_domain();
	d.desc.covers = 1u << 31;
	n = jst_dproto_domain_reply(b, 5, 2, &d);
	assert_int_equal(jst_dproto_domain_parse(b, n, 5, 2, 1, &got, err), -EBADMSG);
}

static void test_v2_reading_round_trips_every_field(void **st)
{
	(void)st;
	uint8_t b[JST_DPROTO_REPLY_MAX];
	char err[JST_DPROTO_ERROR_TEXT];
	struct jst_dproto_reading r = {.status = 0,
	                               .age_ns = 7,
	                               .t_err_ns = 3,
	                               .counter = 9,
	                               .power_w = 412.5,
	                               .value_seq = 1ull << 40,
	                               .gap_epoch = 3,
	                               .refresh_s = 5.0,
	                               .unseen_u_j = 12.25,
	                               .unseen_s = 1.5,
	                               .mean_start_j = 1e6,
	                               .mean_end_j = 1e6 + 412.5,
	                               .temperature_c = -20,
	                               .utilization_pct = 55,
	                               .clock_mhz = 1800,
	                               .power_limit_w = 700,
	                               .telemetry_power_w = 412.5},
	                          got;
	size_t n = jst_dproto_read_reply(b, 4, 2, &r, 1);
	assert_int_equal(n, JST_DPROTO_HDR_LEN + 4 + JST_DPROTO_READING_LEN);
	assert_int_equal(jst_dproto_read_parse(b, n, 4, 2, &got, 1, err), 0);
	assert_memory_equal(&got, &r, sizeof r);
	/* The same reading as version 1: its first fields only, the rest
	 * "nothing known". */
	n = jst_dproto_read_reply(b, 4, 1, &r, 1);
	assert_int_equal(n, JST_DPROTO_HDR_LEN + 4 + JST_DPROTO_READING_LEN_V1);
	assert_int_equal(jst_dproto_read_parse(b, n, 4, 1, &got, 1, err), 0);
	assert_true(got.counter == 9 && got.power_w == 412.5 && got.age_ns == 7);
	assert_true(got.value_seq == 0 && got.unseen_s == 0 && isnan(got.telemetry_power_w));
}

/* Each field garbled as a broken or hostile daemon might: refused whole. */
static void test_v2_reading_garbled_is_refused(void **st)
{
	(void)st;
	uint8_t b[JST_DPROTO_REPLY_MAX];
	char err[JST_DPROTO_ERROR_TEXT];
	const struct jst_dproto_reading good = reading(0, 1, 2);
	const double bad[] = {NAN, -1.0, INFINITY, 1e300};
	for (size_t f = 0; f < 10; f++) {
		for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
			struct jst_dproto_reading r = good, got;
			double *const in_r[] = {&r.refresh_s,       &r.unseen_u_j,
			                        &r.unseen_s,        &r.mean_start_j,
			                        &r.mean_end_j,      &r.temperature_c,
			                        &r.utilization_pct, &r.clock_mhz,
			                        &r.power_limit_w,   &r.telemetry_power_w};
			/* NaN is "absent" for telemetry, and a temperature or a
			 * device's own power reading may be below zero: not
			 * garbled there. */
			if (f >= 5 && (isnan(bad[k]) || ((f == 5 || f == 9) && bad[k] == -1.0)))
				continue;
			*in_r[f] = bad[k];
			if (f == 3) /* a mean's start past its end is refused too */
				r.mean_end_j = isfinite(bad[k]) && bad[k] >= 0 ? bad[k] : 0;
			size_t n = jst_dproto_read_reply(b, 4, 2, &r, 1);
			int rc = jst_dproto_read_parse(b, n, 4, 2, &got, 1, err);
			if (rc != -EBADMSG)
				fail_msg("field %zu = %g accepted", f, bad[k]);
		}
	}
	/* A mean that ends before it starts; "unchanged" sent as a status (the
	 * client's to derive, never the daemon's to say). */
	struct jst_dproto_reading r = good, got;
	r.mean_start_j = 10;
	r.mean_end_j = 5;
	size_t n = jst_dproto_read_reply(b, 4, 2, &r, 1);
	assert_int_equal(jst_dproto_read_parse(b, n, 4, 2, &got, 1, err), -EBADMSG);
	r = good;
	r.status = JST_RAW_UNCHANGED;
	n = jst_dproto_read_reply(b, 4, 2, &r, 1);
	assert_int_equal(jst_dproto_read_parse(b, n, 4, 2, &got, 1, err), -EBADMSG);
	/* The good one parses, so the refusals above are the fields'. */
	n = jst_dproto_read_reply(b, 4, 2, &good, 1);
	assert_int_equal(jst_dproto_read_parse(b, n, 4, 2, &got, 1, err), 0);
}

static void test_versions_negotiated(void **st)
{
	(void)st;
	uint8_t b[JST_DPROTO_REQ_MAX];
	struct jst_dproto_req q;
	/* This build offers 1..2 and a daemon of it picks 2. */
	assert_int_equal(jst_dproto_req_parse(b, jst_dproto_hello_req(b, 1), &q), 0);
	assert_int_equal(q.min_ver, 1);
	assert_int_equal(q.max_ver, 2);
	assert_int_equal(jst_dproto_version_pick(&q), 2);
	/* A version 1 client: 1. One from the future that still speaks 2: 2. */
	assert_int_equal(jst_dproto_req_parse(b, jst_dproto_hello_req_versions(b, 1, 1, 1), &q), 0);
	assert_int_equal(jst_dproto_version_pick(&q), 1);
	assert_int_equal(jst_dproto_req_parse(b, jst_dproto_hello_req_versions(b, 1, 2, 7), &q), 0);
	assert_int_equal(jst_dproto_version_pick(&q), 2);
	/* Only 3 and later, or only 0: nothing in common. */
	assert_int_equal(jst_dproto_req_parse(b, jst_dproto_hello_req_versions(b, 1, 3, 7), &q),
	                 -EPROTONOSUPPORT);
	assert_int_equal(jst_dproto_req_parse(b, jst_dproto_hello_req_versions(b, 1, 0, 0), &q),
	                 -EPROTONOSUPPORT);
	/* A HELLO reply of a version this client does not speak: refused. */
	uint8_t r[JST_DPROTO_REPLY_MAX];
	char err[JST_DPROTO_ERROR_TEXT];
	struct jst_dproto_hello h = {3, 1, 0}, got;
	assert_int_equal(jst_dproto_hello_parse(r, jst_dproto_hello_reply(r, 2, &h), 2, &got, err),
	                 -EBADMSG);
	h.version = 1;
	assert_int_equal(jst_dproto_hello_parse(r, jst_dproto_hello_reply(r, 2, &h), 2, &got, err),
	                 0);
	assert_int_equal(got.version, 1);
}

/* ---- the backend against a stand-in daemon -------------------------------------- */

struct fake {
	char path[108];
	int lfd;
	pthread_t th;
	uint64_t resolution_ns;
	uint32_t ndomains;
	int hangup_after_reads; /* close the connection after this many READs; 0 never */
	int silent_reads;       /* READs left unanswered from this one on; 0 never */
	uint64_t counter;
	int64_t age_ns;
	int map;               /* answer MAP with a page (else -EOPNOTSUPP) */
	struct jst_dshm *page; /* the page, for the test to rewrite */
	uint16_t version;      /* the one it answers HELLO with; 0: the newest */
	/* Connections still served: fake_stop waits for none, so that no
	 * thread outlives the test's fake. */
	pthread_mutex_t mu;
	pthread_cond_t idle;
	int live;
	int power; /* domain 0 is a PTD's power mean; READ answers rd[] */
	struct jst_dproto_reading rd[2];
};

/* A page as joulestatd writes it, every domain's counter at value, read now. */
static struct jst_dshm *fake_page(int *fd, uint32_t n, uint64_t value)
{
	*fd = memfd_create("fake-view", MFD_CLOEXEC);
	assert_true(*fd >= 0);
	assert_int_equal(ftruncate(*fd, sizeof(struct jst_dshm)), 0);
	struct jst_dshm *p = mmap(NULL, sizeof *p, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	assert_true(p != MAP_FAILED);
	p->magic = JST_DSHM_MAGIC;
	p->ndomains = n;
	p->seq = 2;
	p->resolution_ns = 10000000;
	p->updated_ns = jst_backend_now_ns();
	for (uint32_t i = 0; i < n; i++)
		p->rd[i] = (struct jst_dshm_reading){
		    .t_ns = p->updated_ns, .counter = value, .value_seq = 1};
	return p;
}

static void fake_send_fd(int sock, const uint8_t *buf, size_t n, int fd)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = n};
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	sendmsg(sock, &mh, MSG_NOSIGNAL);
}

struct fake_conn {
	struct fake *f;
	int fd;
};

static void *fake_serve(void *arg);

/* Each connection on its own thread: two clients may hold one at once. */
static void *fake_main(void *arg)
{
	struct fake *f = arg;
	for (;;) {
		int fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		struct fake_conn *c = malloc(sizeof *c);
		pthread_t th;
		assert_non_null(c);
		*c = (struct fake_conn){f, fd};
		pthread_mutex_lock(&f->mu);
		f->live++;
		pthread_mutex_unlock(&f->mu);
		assert_int_equal(pthread_create(&th, NULL, fake_serve, c), 0);
		pthread_detach(th);
	}
}

static void *fake_serve(void *arg)
{
	struct fake_conn *conn = arg;
	struct fake *f = conn->f;
	int fd = conn->fd;
	free(conn);
	{
		int reads = 0;
		uint16_t ver = f->version ? f->version : JST_DPROTO_VERSION;
		uint8_t in[JST_DPROTO_REQ_MAX], out[JST_DPROTO_REPLY_MAX];
		ssize_t r;
		while ((r = recv(fd, in, sizeof in, 0)) > 0) {
			struct jst_dproto_req q;
			size_t n = 0;
			if (jst_dproto_req_parse(in, (size_t)r, &q))
				break;
			if (q.type == JST_DPROTO_HELLO) {
				struct jst_dproto_hello h = {ver, f->ndomains, f->resolution_ns};
				n = jst_dproto_hello_reply(out, q.seq, &h);
			} else if (q.type == JST_DPROTO_MAP && f->map) {
				int pfd;
				if (!f->page)
					f->page = fake_page(&pfd, f->ndomains, 777);
				else
					pfd = -1;
				struct jst_dproto_map m = {f->ndomains, sizeof(struct jst_dshm),
				                           jst_backend_now_ns()};
				n = jst_dproto_map_reply(out, q.seq, &m);
				if (pfd >= 0) {
					fake_send_fd(fd, out, n, pfd);
					close(pfd);
					continue;
				}
			} else if (q.type == JST_DPROTO_MAP) {
				n = jst_dproto_error_reply(out, q.seq, -EOPNOTSUPP, "READ them");
			} else if (q.type == JST_DPROTO_DOMAIN) {
				struct jst_dproto_domain d =
				    q.index == 0 && f->power ? mean_domain()
				    : q.index == 0
				        ? sample_domain("package-0", "cpu:package-0", -1)
				        : sample_domain("core-0", "cpu:package-0/core", 0);
				n = jst_dproto_domain_reply(out, q.seq, ver, &d);
			} else {
				reads++;
				if (f->silent_reads && reads >= f->silent_reads)
					continue;
				struct jst_dproto_reading rd[2] = {
				    reading(0, f->age_ns, f->counter),
				    reading(0, f->age_ns, f->counter / 2)};
				if (f->power)
					memcpy(rd, f->rd, sizeof rd);
				n = jst_dproto_read_reply(out, q.seq, ver, rd, f->ndomains);
			}
			send(fd, out, n, MSG_NOSIGNAL);
			if (f->hangup_after_reads && reads >= f->hangup_after_reads)
				break;
		}
		close(fd);
	}
	pthread_mutex_lock(&f->mu);
	if (--f->live == 0)
		pthread_cond_broadcast(&f->idle);
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static void fake_start(struct fake *f)
{
	snprintf(f->path, sizeof f->path, "/tmp/jst-test-daemon-%d.sock", (int)getpid());
	unlink(f->path);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->path);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->idle, NULL);
	f->live = 0;
	f->lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	shutdown(f->lfd, SHUT_RDWR);
	close(f->lfd);
	pthread_join(f->th, NULL);
	/* Every client is closed by now: each connection's thread ends. */
	pthread_mutex_lock(&f->mu);
	while (f->live)
		pthread_cond_wait(&f->idle, &f->mu);
	pthread_mutex_unlock(&f->mu);
	pthread_cond_destroy(&f->idle);
	pthread_mutex_destroy(&f->mu);
	unlink(f->path);
}

static int probe(struct fake *f, const char *mode, int denied, void **state, char *reason)
{
	char opts[512];
	int n = snprintf(opts, sizeof opts, "daemon.socket=%s", f ? f->path : "/nonexistent");
	n += 1 + snprintf(opts + n + 1, sizeof opts - (size_t)n - 1, "daemon.mode=%s", mode);
	opts[n + 1] = 0;
	struct jst_backend_ctx ctx = {.options = opts, .direct_denied = denied};
	return jst_backend_daemon.probe(&ctx, state, reason, JST_REASON_MAX);
}

static void test_auto_only_when_a_direct_source_is_denied(void **st)
{
	(void)st;
	void *s = NULL;
	char reason[JST_REASON_MAX];
	assert_int_equal(probe(NULL, "auto", 0, &s, reason), -ENODEV);
	assert_non_null(strstr(reason, "not needed"));
	assert_int_equal(probe(NULL, "never", 1, &s, reason), -ENODEV);
	assert_int_equal(probe(NULL, "sometimes", 1, &s, reason), -EINVAL);
	/* Denied, and no daemon: a reason, at once. */
	assert_true(probe(NULL, "auto", 1, &s, reason) < 0);
	assert_non_null(strstr(reason, "joulestatd does not answer at /nonexistent"));
}

static void test_domains_keep_identity_and_refresh_is_the_resolution(void **st)
{
	(void)st;
	struct fake f = {
	    .resolution_ns = 10000000, .ndomains = 2, .counter = 5000000, .age_ns = 3000000};
	fake_start(&f);
	void *s = NULL;
	char reason[JST_REASON_MAX];
	assert_int_equal(probe(&f, "auto", 1, &s, reason), 0);
	const struct jst_domain_desc *d;
	assert_int_equal(jst_backend_daemon.domains(s, &d), 2);
	assert_string_equal(d[0].device, "cpu:package-0");
	assert_string_equal(d[1].device, "cpu:package-0/core");
	assert_int_equal(d[1].parent, 0);
	assert_true(d[0].refresh_s == 0.010); /* 1 ms counter, 10 ms for this user */
	struct jst_raw raw[2];
	jst_raw_clear(&raw[0]);
	jst_raw_clear(&raw[1]);
	int64_t t0 = jst_backend_now_ns();
	assert_int_equal(jst_backend_daemon.read(s, raw, 2, 0), 0);
	int64_t t1 = jst_backend_now_ns();
	assert_int_equal(raw[0].status, 0);
	assert_true(raw[0].counter == 5000000);
	assert_true(raw[1].counter == 2500000);
	/* 3 ms old when the daemon replied: its instant is 3 ms before then. */
	assert_true(raw[0].t_ns >= t0 - 3000000 && raw[0].t_ns <= t1 - 3000000);
	jst_backend_daemon.close(s);
	fake_stop(&f);
}

static void test_hangup_is_transient_then_reconnected(void **st)
{
	(void)st;
	struct fake f = {.ndomains = 2, .counter = 42, .hangup_after_reads = 1};
	fake_start(&f);
	void *s = NULL;
	char reason[JST_REASON_MAX];
	assert_int_equal(probe(&f, "always", 0, &s, reason), 0);
	struct jst_raw raw[2];
	assert_int_equal(jst_backend_daemon.read(s, raw, 2, 0), 0);
	assert_int_equal(raw[0].status, 0);
	/* The daemon hung up: this reading fails, transiently. */
	assert_int_equal(jst_backend_daemon.read(s, raw, 2, 0), 0);
	assert_int_equal(raw[0].status, -EAGAIN);
	assert_non_null(strstr(raw[0].error, "joulestatd"));
	/* And the next one reconnects. */
	assert_int_equal(jst_backend_daemon.read(s, raw, 2, 0), 0);
	assert_int_equal(raw[0].status, 0);
	assert_true(raw[0].counter == 42);
	/* A daemon that comes back with other domains serves other devices. */
	f.ndomains = 1;
	assert_int_equal(jst_backend_daemon.read(s, raw, 2, 0), 0);
	assert_int_equal(jst_backend_daemon.read(s, raw, 2, 0), 0);
	assert_int_equal(raw[0].status, -ENODEV);
	jst_backend_daemon.close(s);
	fake_stop(&f);
}

static void test_silent_daemon_is_a_failed_reading_not_a_hang(void **st)
{
	(void)st;
	struct fake f = {.ndomains = 2, .counter = 1, .silent_reads = 2};
	fake_start(&f);
	void *s = NULL;
	char reason[JST_REASON_MAX];
	assert_int_equal(probe(&f, "always", 0, &s, reason), 0);
	struct jst_raw raw[2];
	assert_int_equal(jst_backend_daemon.read(s, raw, 2, 0), 0);
	assert_int_equal(raw[0].status, 0);
	int64_t t0 = jst_backend_now_ns();
	assert_int_equal(jst_backend_daemon.read(s, raw, 2, 0), 0);
	int64_t waited = jst_backend_now_ns() - t0;
	assert_int_equal(raw[0].status, -EAGAIN);
	assert_true(waited < 2000000000LL); /* the 0.5 s timeout, not forever */
	jst_backend_daemon.close(s);
	fake_stop(&f);
}

static void test_shared_page_read_and_a_stale_one_falls_back(void **st)
{
	(void)st;
	struct fake f = {.resolution_ns = 10000000, .ndomains = 2, .counter = 42, .map = 1};
	fake_start(&f);
	void *s = NULL;
	char reason[JST_REASON_MAX];
	assert_int_equal(probe(&f, "auto", 1, &s, reason), 0);
	struct jst_raw raw[2];
	/* From the page (777), not a READ (42). */
	assert_int_equal(jst_backend_daemon.read(s, raw, 2, 0), 0);
	assert_int_equal(raw[0].status, 0);
	assert_true(raw[0].counter == 777);
	/* Rewritten: the next reading shows it, at its instant. */
	int64_t t = jst_backend_now_ns();
	__atomic_store_n(&f.page->seq, 3, __ATOMIC_RELEASE);
	f.page->rd[0].counter = 800;
	f.page->rd[0].t_ns = t;
	f.page->updated_ns = t;
	__atomic_store_n(&f.page->seq, 4, __ATOMIC_RELEASE);
	assert_int_equal(jst_backend_daemon.read(s, raw, 2, 0), 0);
	assert_true(raw[0].counter == 800);
	assert_true(llabs(raw[0].t_ns - t) < 50000000); /* the same clock, give or take */
	/* A reading garbled on the page (a refresh that is no number): that
	 * domain's reading fails, as a READ's parser would refuse it; the other
	 * stands. */
	__atomic_store_n(&f.page->seq, 5, __ATOMIC_RELEASE);
	f.page->rd[0].refresh_s = NAN;
	__atomic_store_n(&f.page->seq, 6, __ATOMIC_RELEASE);
	assert_int_equal(jst_backend_daemon.read(s, raw, 2, 0), 0);
	assert_int_equal(raw[0].status, -EBADMSG);
	assert_int_equal(raw[1].status, 0);
	assert_true(raw[1].counter == 777);
	/* Last rewritten 10 s ago: the daemon stopped; the socket is asked. */
	__atomic_store_n(&f.page->seq, 7, __ATOMIC_RELEASE);
	f.page->rd[0].refresh_s = 0;
	f.page->updated_ns = t - 10000000000LL;
	__atomic_store_n(&f.page->seq, 8, __ATOMIC_RELEASE);
	assert_int_equal(jst_backend_daemon.read(s, raw, 2, 0), 0);
	assert_true(raw[0].counter == 42);
	/* Caught mid-rewrite for good (odd sequence): the socket too, no spin. */
	f.page->updated_ns = jst_backend_now_ns();
	__atomic_store_n(&f.page->seq, 9, __ATOMIC_RELEASE);
	assert_int_equal(jst_backend_daemon.read(s, raw, 2, 0), 0);
	assert_true(raw[0].counter == 42);
	jst_backend_daemon.close(s);
	fake_stop(&f);
	munmap(f.page, sizeof *f.page);
}

static void test_no_page_reads_over_the_socket(void **st)
{
	(void)st;
	struct fake f = {.resolution_ns = 10000000, .ndomains = 2, .counter = 42};
	fake_start(&f);
	void *s = NULL;
	char reason[JST_REASON_MAX];
	assert_int_equal(probe(&f, "auto", 1, &s, reason), 0);
	struct jst_raw raw[2];
	assert_int_equal(jst_backend_daemon.read(s, raw, 2, 0), 0);
	assert_true(raw[0].counter == 42);
	jst_backend_daemon.close(s);
	fake_stop(&f);
}

/* A mean as the daemon serves it: the sequence'th value, ending at end_j of
 * its running total after a mean of w over 0.5 s. */
static struct jst_dproto_reading mean_reading(uint64_t seq, uint32_t epoch, double w, double end_j)
{
	struct jst_dproto_reading r = reading(0, 1000, 0);
	r.power_w = w;
	r.telemetry_power_w = w;
	r.value_seq = seq;
	r.gap_epoch = epoch;
	r.mean_end_j = end_j;
	r.mean_start_j = end_j - 0.5 * w;
	return r;
}

static void read_one(void *s, struct jst_raw *raw)
{
	jst_raw_clear(&raw[0]);
	assert_int_equal(jst_backend_daemon.read(s, raw, 1, JST_READ_TELEMETRY), 0);
}

/* Two clients of one daemon read its means at other times: each is handed
 * each mean once, and the gap since the one it was handed last, whatever it
 * missed between. */
static void test_means_handed_once_with_their_gaps_per_client(void **st)
{
	(void)st;
	struct fake f = {.ndomains = 1, .power = 1};
	f.rd[0] = mean_reading(1, 0, 100, 50); /* 100 W over 0.5 s: 50 J */
	fake_start(&f);
	void *a = NULL, *b = NULL;
	char reason[JST_REASON_MAX];
	assert_int_equal(probe(&f, "always", 0, &a, reason), 0);
	assert_int_equal(probe(&f, "always", 0, &b, reason), 0);
	const struct jst_domain_desc *d;
	assert_int_equal(jst_backend_daemon.domains(a, &d), 1);
	assert_int_equal(d[0].power_mean, 1);
	assert_int_equal(d[0].covers, JST_COVERS_MODULE);
	assert_string_equal(d[0].note, "");
	struct jst_raw raw[1];
	/* A's first mean: no gap known (nothing handed before it). */
	read_one(a, raw);
	assert_int_equal(raw[0].status, 0);
	assert_true(raw[0].power_w == 100);
	assert_true(isnan(raw[0].gap_j));
	/* The same mean again: nothing new for A. */
	read_one(a, raw);
	assert_int_equal(raw[0].status, JST_RAW_UNCHANGED);
	/* The next mean, 20 J of gap after the first (170 - 50 - 0.5 x 200). */
	f.rd[0] = mean_reading(2, 0, 200, 170);
	read_one(a, raw);
	assert_int_equal(raw[0].status, 0);
	assert_true(fabs(raw[0].gap_j - 20) < 1e-9);
	/* B first reads here: its first, no gap; then two means on, A's gap
	 * spans the mean it missed (3: 60 J, its gap 5 J) and the gap before 4
	 * (10 J): 170 -> 245 -> start of 4 at 255. */
	read_one(b, raw);
	assert_true(isnan(raw[0].gap_j));
	f.rd[0] = mean_reading(4, 0, 300, 255 + 150);
	read_one(a, raw);
	assert_true(fabs(raw[0].gap_j - 85) < 1e-9);
	read_one(b, raw);
	assert_true(fabs(raw[0].gap_j - 85) < 1e-9);
	/* A gap a little below zero (an integrator's rounding): handed over as
	 * it is, for the core to ignore as it would the backend's own. */
	f.rd[0] = mean_reading(5, 0, 300, 404.9 + 150);
	read_one(a, raw);
	assert_true(fabs(raw[0].gap_j + 0.1) < 1e-9);
	/* A gap the backend did not know (a new epoch): unknown for both. */
	f.rd[0] = mean_reading(6, 1, 300, 900);
	read_one(a, raw);
	assert_true(isnan(raw[0].gap_j));
	assert_true(raw[0].telemetry_power_w == 300);
	/* Nothing handed over yet (a daemon restarted, count 0): unchanged. */
	f.rd[0] = mean_reading(0, 0, 0, 0);
	read_one(a, raw);
	assert_int_equal(raw[0].status, JST_RAW_UNCHANGED);
	jst_backend_daemon.close(a);
	jst_backend_daemon.close(b);
	fake_stop(&f);
}

/* A failure beside a mean the client was never handed (the daemon's backend
 * failed a poll after it): the mean first, then the failure, once per value;
 * a daemon's backend that is gone is said at once. */
static void test_held_mean_handed_before_a_failure_after_it(void **st)
{
	(void)st;
	struct fake f = {.ndomains = 1, .power = 1};
	f.rd[0] = mean_reading(1, 0, 100, 50);
	f.rd[0].status = -EIO;
	fake_start(&f);
	void *a = NULL;
	char reason[JST_REASON_MAX];
	assert_int_equal(probe(&f, "always", 0, &a, reason), 0);
	struct jst_raw raw[1];
	read_one(a, raw);
	assert_int_equal(raw[0].status, 0);
	assert_true(raw[0].power_w == 100);
	assert_true(raw[0].t_ns > 0);
	read_one(a, raw);
	assert_int_equal(raw[0].status, -EIO);
	/* A later mean, still beside a failure: handed, its gap known. */
	f.rd[0] = mean_reading(2, 0, 200, 170);
	f.rd[0].status = -EIO;
	read_one(a, raw);
	assert_int_equal(raw[0].status, 0);
	assert_true(fabs(raw[0].gap_j - 20) < 1e-9);
	read_one(a, raw);
	assert_int_equal(raw[0].status, -EIO);
	f.rd[0] = mean_reading(3, 0, 200, 300);
	f.rd[0].status = -ENODEV;
	read_one(a, raw);
	assert_int_equal(raw[0].status, -ENODEV);
	jst_backend_daemon.close(a);
	fake_stop(&f);
}

/* A version 1 daemon: still read, and a power domain says what it loses. */
static void test_v1_daemon_read_and_its_power_noted(void **st)
{
	(void)st;
	struct fake f = {.ndomains = 1, .power = 1, .version = 1};
	f.rd[0] = mean_reading(1, 0, 100, 50);
	fake_start(&f);
	void *a = NULL;
	char reason[JST_REASON_MAX];
	assert_int_equal(probe(&f, "always", 0, &a, reason), 0);
	const struct jst_domain_desc *d;
	assert_int_equal(jst_backend_daemon.domains(a, &d), 1);
	assert_int_equal(d[0].power_mean, 0);
	assert_non_null(strstr(d[0].note, "protocol 1: no means model"));
	struct jst_raw raw[1];
	read_one(a, raw);
	assert_int_equal(raw[0].status, 0);
	assert_true(raw[0].power_w == 100);
	/* As v1 said it: the same value again, not "unchanged"; no gap. */
	read_one(a, raw);
	assert_int_equal(raw[0].status, 0);
	assert_true(isnan(raw[0].gap_j));
	jst_backend_daemon.close(a);
	fake_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v2_domain_carries_the_means_model_and_refuses_garbled),
	    cmocka_unit_test(test_v2_reading_round_trips_every_field),
	    cmocka_unit_test(test_v2_reading_garbled_is_refused),
	    cmocka_unit_test(test_versions_negotiated),
	    cmocka_unit_test(test_means_handed_once_with_their_gaps_per_client),
	    cmocka_unit_test(test_held_mean_handed_before_a_failure_after_it),
	    cmocka_unit_test(test_v1_daemon_read_and_its_power_noted),
	    cmocka_unit_test(test_requests_round_trip),
	    cmocka_unit_test(test_domain_reply_round_trips_and_bad_ones_are_refused),
	    cmocka_unit_test(test_error_reply_gives_its_code_and_text),
	    cmocka_unit_test(test_read_reply_round_trips),
	    cmocka_unit_test(test_auto_only_when_a_direct_source_is_denied),
	    cmocka_unit_test(test_domains_keep_identity_and_refresh_is_the_resolution),
	    cmocka_unit_test(test_hangup_is_transient_then_reconnected),
	    cmocka_unit_test(test_silent_daemon_is_a_failed_reading_not_a_hang),
	    cmocka_unit_test(test_shared_page_read_and_a_stale_one_falls_back),
	    cmocka_unit_test(test_no_page_reads_over_the_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
