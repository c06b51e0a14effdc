/*
 * The joulestatd wire protocol, shared by the daemon (src/daemon/) and the
 * library's daemon backend (daemon.c). Messages travel over a local
 * SOCK_SEQPACKET socket, one request or reply per packet, so that no frame is
 * ever split or merged. Every message starts with a fixed header; numbers are
 * little-endian and fixed-width, doubles as their IEEE-754 bits, strings
 * fixed-size and NUL-terminated. docs/daemon.md describes it for people.
 *
 * A client sends HELLO first (the versions it speaks); the daemon answers with
 * the version both speak, the number of domains and the time resolution it
 * grants this client. DOMAIN i describes domain i; READ returns one reading
 * of every domain; MAP (for a client whose readings are limited) hands it a
 * shared page holding the same readings. Anything malformed is answered with
 * ERROR and the connection is closed.
 */
#ifndef JST_DAEMON_PROTO_H
#define JST_DAEMON_PROTO_H

#include "backend.h"

#include <stddef.h>
#include <stdint.h>

#define JST_DPROTO_MAGIC 0x4453544au /* "JSTD" */
#define JST_DPROTO_VERSION 1
#define JST_DPROTO_HDR_LEN 16
/* Domains one daemon serves: more than any machine's RAPL zones. */
#define JST_DPROTO_DOMAINS_MAX 64
/* No request is longer; a longer packet is an error, not a truncated read. */
#define JST_DPROTO_REQ_MAX 64
/* One reading per domain: the longest reply. */
#define JST_DPROTO_READING_LEN 36
#define JST_DPROTO_REPLY_MAX                                                                       \
	(JST_DPROTO_HDR_LEN + 4 + JST_DPROTO_DOMAINS_MAX * JST_DPROTO_READING_LEN)
#define JST_DPROTO_ERROR_TEXT 128
#define JST_DPROTO_VIA_MAX 16

enum jst_dproto_type {
	JST_DPROTO_HELLO = 1,
	JST_DPROTO_DOMAIN = 2,
	JST_DPROTO_READ = 3,
	JST_DPROTO_MAP = 4,
	JST_DPROTO_ERROR = 15,
};

/* The view MAP hands a client whose readings are limited: a read-only shared
 * page the daemon rewrites once per resolution, under a sequence lock, with
 * what a READ would answer. Reading it costs no system call. Its instants are
 * the daemon's CLOCK_MONOTONIC; the MAP reply gives the daemon's clock so a
 * client in another time namespace can place them. */
#define JST_DSHM_MAGIC 0x4d485344u /* "DSHM" */

struct jst_dshm_reading {
	int32_t status;
	int32_t pad;
	int64_t t_ns; /* when the daemon read it, its clock */
	int64_t t_err_ns;
	uint64_t counter;
	double power_w;
};

/* The shared page's sequence lock orders its reads and writes with fences.
 * ThreadSanitizer models no fences (GCC refuses them under it); its build, used
 * only by the tests, gets compiler barriers instead, which keep loads in order
 * on x86. The page's writer is another process, which TSan cannot see anyway. */
#if defined(__SANITIZE_THREAD__)
#define JST_DSHM_FENCE(order) __atomic_signal_fence(order)
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define JST_DSHM_FENCE(order) __atomic_signal_fence(order)
#endif
#endif
#ifndef JST_DSHM_FENCE
#define JST_DSHM_FENCE(order) __atomic_thread_fence(order)
#endif

struct jst_dshm {
	uint32_t magic;
	uint32_t ndomains;
	uint64_t seq;       /* odd while the daemon writes; read with __atomic builtins */
	int64_t updated_ns; /* the daemon's clock at the last rewrite */
	int64_t resolution_ns;
	struct jst_dshm_reading rd[JST_DPROTO_DOMAINS_MAX];
};

struct jst_dproto_map {
	uint32_t ndomains;
	uint64_t size;         /* of the shared page */
	int64_t daemon_now_ns; /* the daemon's clock as it replied */
};

/* A request as the daemon parses it. */
struct jst_dproto_req {
	uint16_t type;
	uint32_t seq;     /* echoed in the reply */
	uint16_t min_ver; /* HELLO: the versions the client speaks */
	uint16_t max_ver;
	uint32_t index; /* DOMAIN: which one */
};

struct jst_dproto_hello {
	uint16_t version;
	uint32_t ndomains;
	uint64_t resolution_ns; /* distinct readings at most this often; 0 = unlimited */
};

/* One served domain: the underlying backend's description, and its name. */
struct jst_dproto_domain {
	struct jst_domain_desc desc;
	char via[JST_DPROTO_VIA_MAX]; /* the daemon's backend: "rapl" */
};

struct jst_dproto_reading {
	int32_t status;
	int64_t age_ns;   /* how long before the reply was written the value was read */
	int64_t t_err_ns; /* how far that instant may be off */
	uint64_t counter;
	double power_w;
};

/* Requests, as a client writes them. Each returns the length written into
 * buf (at least JST_DPROTO_REQ_MAX bytes), or negative. */
size_t jst_dproto_hello_req(uint8_t *buf, uint32_t seq);
size_t jst_dproto_domain_req(uint8_t *buf, uint32_t seq, uint32_t index);
size_t jst_dproto_read_req(uint8_t *buf, uint32_t seq);
size_t jst_dproto_map_req(uint8_t *buf, uint32_t seq);

/* Parse a request. 0, -EBADMSG (malformed), -EPROTONOSUPPORT (HELLO with no
 * version in common: the reply says which ones the daemon speaks). */
int jst_dproto_req_parse(const uint8_t *buf, size_t len, struct jst_dproto_req *out);

/* Replies, as the daemon writes them into buf (JST_DPROTO_REPLY_MAX bytes).
 * Each returns the length written. */
size_t jst_dproto_hello_reply(uint8_t *buf, uint32_t seq, const struct jst_dproto_hello *h);
size_t jst_dproto_domain_reply(uint8_t *buf, uint32_t seq, const struct jst_dproto_domain *d);
size_t jst_dproto_read_reply(uint8_t *buf, uint32_t seq, const struct jst_dproto_reading *r,
                             size_t n);
size_t jst_dproto_error_reply(uint8_t *buf, uint32_t seq, int32_t code, const char *text);
/* The page itself travels beside it as SCM_RIGHTS. */
size_t jst_dproto_map_reply(uint8_t *buf, uint32_t seq, const struct jst_dproto_map *m);

/* Parse a reply to the request of type want with sequence seq. 0, or
 * negative: -EBADMSG (malformed or not what was asked), or the daemon's own
 * ERROR code (negative errno) with its text in err (JST_DPROTO_ERROR_TEXT). */
int jst_dproto_hello_parse(const uint8_t *buf, size_t len, uint32_t seq,
                           struct jst_dproto_hello *out, char *err);
int jst_dproto_domain_parse(const uint8_t *buf, size_t len, uint32_t seq, uint32_t ndomains,
                            struct jst_dproto_domain *out, char *err);
int jst_dproto_map_parse(const uint8_t *buf, size_t len, uint32_t seq, uint32_t ndomains,
                         struct jst_dproto_map *out, char *err);
/* n: the readings expected (the domain count the HELLO stated). */
int jst_dproto_read_parse(const uint8_t *buf, size_t len, uint32_t seq,
                          struct jst_dproto_reading *out, size_t n, char *err);

#endif
