/*
 * The joulestatd wire protocol, shared by the daemon (src/daemon/) and the
 * library's daemon backend (daemon.c). Messages travel over a local
 * SOCK_SEQPACKET socket, one request or reply per packet, so that no frame is
 * ever split or merged. Every message starts with a fixed header; numbers are
 * little-endian and fixed-width, doubles as their IEEE-754 bits, strings
 * fixed-size and NUL-terminated. docs/daemon.md describes it for people.
 *
 * A client sends HELLO first (the versions it speaks); the daemon answers with
 * the newest version both speak, the number of domains and the time
 * resolution it grants this client. Version 2 carries the whole sensor model
 * (a domain's power_mean and covers; a reading's refresh, unseen totals, the
 * running total its power means' gaps are differenced from, telemetry);
 * version 1 only counters and instantaneous power, and the DOMAIN and READ
 * bodies are laid out as the session's version says. DOMAIN i describes domain i; READ returns one
 * reading of every domain; MAP (for a client whose readings are limited) hands it a shared page
 * holding the same readings. Anything malformed is answered with ERROR and the connection is
 * closed.
 */
#ifndef JST_DAEMON_PROTO_H
#define JST_DAEMON_PROTO_H

#include "backend.h"

#include <stddef.h>
#include <stdint.h>

#define JST_DPROTO_MAGIC 0x4453544au /* "JSTD" */
#define JST_DPROTO_VERSION 2
#define JST_DPROTO_VERSION_MIN 1
#define JST_DPROTO_HDR_LEN 16
/* Domains one daemon serves: more than any machine's RAPL zones. */
#define JST_DPROTO_DOMAINS_MAX 64
/* No request is longer; a longer packet is an error, not a truncated read. */
#define JST_DPROTO_REQ_MAX 64
/* One reading per domain, as each version lays it out: the longest reply. */
#define JST_DPROTO_READING_LEN_V1 36
#define JST_DPROTO_READING_LEN 128
#define JST_DPROTO_REPLY_MAX                                                                       \
	(JST_DPROTO_HDR_LEN + 4 + JST_DPROTO_DOMAINS_MAX * JST_DPROTO_READING_LEN)
/* Bounds a v2 reading's totals must keep: a running total no real source
 * reaches (a megawatt for eleven days; thirty years unseen). */
#define JST_DPROTO_TOTAL_J_MAX 1e12
#define JST_DPROTO_UNSEEN_S_MAX 1e9
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

/* One domain on the page: a v2 READ reading (struct jst_dproto_reading),
 * with the daemon's instant instead of an age. 128 bytes. */
struct jst_dshm_reading {
	int32_t status;
	uint32_t gap_epoch;
	int64_t t_ns; /* when the daemon read it, its clock */
	int64_t t_err_ns;
	uint64_t counter;
	double power_w;
	uint64_t value_seq;
	double refresh_s;
	double unseen_u_j;
	double unseen_s;
	double mean_start_j;
	double mean_end_j;
	double temperature_c;
	double utilization_pct;
	double clock_mhz;
	double power_limit_w;
	double telemetry_power_w;
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

/* The page: 32 bytes and 64 readings, 8224 bytes (three 4 KiB pages; a
 * reader copies only the readings of the domains it has). Only a v2
 * session is handed it. */
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
	uint16_t version; /* the session's: every DOMAIN and READ body is laid out as it says */
	uint32_t ndomains;
	uint64_t resolution_ns; /* distinct readings at most this often; 0 = unlimited */
};

/* One served domain: the underlying backend's description, and its name. */
struct jst_dproto_domain {
	struct jst_domain_desc desc;
	char via[JST_DPROTO_VIA_MAX]; /* the daemon's backend: "rapl" */
};

/* One domain's reading. Version 1 carries status, age_ns, t_err_ns, counter
 * and power_w only.
 *
 * Version 2 carries what jst_raw gives the core, in forms right for any number
 * of clients reading at any times (the daemon reads its backend on its own
 * schedule, and a backend hands a value over once: jst_raw's "unchanged" and
 * gap_j are relative to the previous read, which was another client's):
 *  - value_seq counts the distinct values the daemon's backend has handed
 *    over for the domain (0: none yet). A client that sees the one it saw
 *    last has nothing new (JST_RAW_UNCHANGED for a power mean).
 *  - mean_start_j and mean_end_j: for power means, the running total (J) of
 *    the means' energy and the gaps between them, at the start and at the
 *    end of this mean's refresh. The gap a client's previous mean k leaves
 *    before this one m is mean_start_j(m) - mean_end_j(k), whatever means it
 *    missed between, provided gap_epoch is the same: the daemon bumps it at
 *    each mean whose gap its backend did not know.
 *  - unseen_u_j and unseen_s are the backend's running totals already. */
struct jst_dproto_reading {
	int32_t status;
	uint32_t gap_epoch;
	int64_t age_ns;   /* how long before the reply was written the value was read */
	int64_t t_err_ns; /* how far that instant may be off */
	uint64_t counter;
	double power_w;
	uint64_t value_seq;
	double refresh_s; /* observed, where slower than declared; 0: as declared */
	double unseen_u_j;
	double unseen_s;
	double mean_start_j;
	double mean_end_j;
	/* Telemetry: NaN where absent. */
	double temperature_c;
	double utilization_pct;
	double clock_mhz;
	double power_limit_w;
	double telemetry_power_w;
};

/* Requests, as a client writes them. Each returns the length written into
 * buf (at least JST_DPROTO_REQ_MAX bytes), or negative. A HELLO offers every
 * version this build speaks; _versions offers min..max (tests, an older
 * client's view). */
size_t jst_dproto_hello_req(uint8_t *buf, uint32_t seq);
size_t jst_dproto_hello_req_versions(uint8_t *buf, uint32_t seq, uint16_t min, uint16_t max);
size_t jst_dproto_domain_req(uint8_t *buf, uint32_t seq, uint32_t index);
size_t jst_dproto_read_req(uint8_t *buf, uint32_t seq);
size_t jst_dproto_map_req(uint8_t *buf, uint32_t seq);

/* Parse a request. 0, -EBADMSG (malformed), -EPROTONOSUPPORT (HELLO with no
 * version in common: the reply says which ones the daemon speaks). */
/* The version a daemon answers a HELLO's min..max with: the newest both speak. */
uint16_t jst_dproto_version_pick(const struct jst_dproto_req *hello);
int jst_dproto_req_parse(const uint8_t *buf, size_t len, struct jst_dproto_req *out);

/* Replies, as the daemon writes them into buf (JST_DPROTO_REPLY_MAX bytes).
 * Each returns the length written; ver is the session's version (HELLO). */
size_t jst_dproto_hello_reply(uint8_t *buf, uint32_t seq, const struct jst_dproto_hello *h);
size_t jst_dproto_domain_reply(uint8_t *buf, uint32_t seq, uint16_t ver,
                               const struct jst_dproto_domain *d);
size_t jst_dproto_read_reply(uint8_t *buf, uint32_t seq, uint16_t ver,
                             const struct jst_dproto_reading *r, size_t n);
size_t jst_dproto_error_reply(uint8_t *buf, uint32_t seq, int32_t code, const char *text);
/* The page itself travels beside it as SCM_RIGHTS. */
size_t jst_dproto_map_reply(uint8_t *buf, uint32_t seq, const struct jst_dproto_map *m);

/* Parse a reply to the request of type want with sequence seq. 0, or
 * negative: -EBADMSG (malformed or not what was asked), or the daemon's own
 * ERROR code (negative errno) with its text in err (JST_DPROTO_ERROR_TEXT). */
int jst_dproto_hello_parse(const uint8_t *buf, size_t len, uint32_t seq,
                           struct jst_dproto_hello *out, char *err);
int jst_dproto_domain_parse(const uint8_t *buf, size_t len, uint32_t seq, uint16_t ver,
                            uint32_t ndomains, struct jst_dproto_domain *out, char *err);
int jst_dproto_map_parse(const uint8_t *buf, size_t len, uint32_t seq, uint32_t ndomains,
                         struct jst_dproto_map *out, char *err);
/* n: the readings expected (the domain count the HELLO stated). A version 1
 * reading's v2 fields come back as "nothing known": value_seq 0, totals 0,
 * telemetry NaN. */
int jst_dproto_read_parse(const uint8_t *buf, size_t len, uint32_t seq, uint16_t ver,
                          struct jst_dproto_reading *out, size_t n, char *err);
/* A v2 reading's fields, checked as the parser checks them (the shared page
 * is read through it too): 0, or -EBADMSG. */
int jst_dproto_reading_check(const struct jst_dproto_reading *r);

#endif
