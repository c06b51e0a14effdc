/* joulestat serve's HTTP server on libmicrohttpd (serve_http.h). One internal
 * polling thread answers every connection, so a snapshot is taken by one
 * thread at a time and a scrape costs a copy of the sampler's latest samples
 * and the formatting: no device is read. A password that needs bcrypt is
 * checked by serve_auth's workers while its connection is suspended, so the
 * polling thread never waits on a hash. */
#include "serve_http.h"
#include "mhd_lib.h"
#include "serve_auth.h"
#include "tls_check.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connections at once, and from one address: a peer can hold a quarter. */
enum { JST_HTTP_CONNECTIONS = 256, JST_HTTP_CONNECTIONS_PER_PEER = 64 };

/* libmicrohttpd: loaded by jst_http_start before its server threads begin, and
 * read by them and by jst_http_stop after (mhd_lib.h). */
static const struct jst_mhd *mhd;

struct jst_http {
	struct MHD_Daemon *d;
	struct jst_live *live;
	const struct jst_webconfig *wc;
	char *cert, *key;
	char priorities[128];
	struct jst_auth *auth; /* NULL without basic_auth_users */
	double scrapes;
	unsigned port;
};

int jst_http_parse_listen(const char *listen, char *host, size_t hostlen, unsigned *port, char *msg,
                          size_t msglen)
{
	const char *colon = strrchr(listen, ':');
	if (!colon) {
		snprintf(msg, msglen, "--listen %s: expected HOST:PORT", listen);
		return -EINVAL;
	}
	const char *h = listen;
	size_t n = (size_t)(colon - listen);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	} else if (memchr(h, ':', n)) {
		snprintf(msg, msglen, "--listen %s: an IPv6 address goes in brackets: [::1]:9100",
		         listen);
		return -EINVAL;
	}
	if (n >= hostlen) {
		snprintf(msg, msglen, "--listen %s: host name too long", listen);
		return -EINVAL;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	char *end;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p > 65535 || colon[1] == '-' || colon[1] == '+') {
		snprintf(msg, msglen, "--listen %s: the port must be 0 to 65535", listen);
		return -EINVAL;
	}
	*port = (unsigned)p;
	return 0;
}

/* A response of body (freed with it), with a Content-Type where type is
 * given; NULL (body freed) where none could be made. */
static struct MHD_Response *response(char *body, size_t len, const char *type)
{
	struct MHD_Response *r =
	    body ? mhd->create_response_from_buffer_with_free_callback(len, body, free) : NULL;
	if (!r) {
		free(body);
		return NULL;
	}
	if (type)
		mhd->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	return r;
}

/* A copy of s as a response's body. */
static struct MHD_Response *text_response(const char *s, const char *type)
{
	char *b = strdup(s);
	return response(b, b ? strlen(b) : 0, type);
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
	if (!r)
		return MHD_NO;
	enum MHD_Result q = mhd->queue_response(c, status, r);
	mhd->destroy_response(r);
	return q;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             char *body, size_t len)
{
	return queue(c, status, response(body, len, type));
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *s)
{
	return queue(c, status, text_response(s, "text/plain; charset=utf-8"));
}

static const char index_page[] =
    "<html><head><title>joulestat</title></head><body><h1>joulestat</h1>"
    "<p><a href=\"/metrics\">Metrics</a></p></body></html>\n";

/* One request's state, from its first call to its completion. */
struct request {
	struct MHD_Connection *c;
	int pending; /* suspended while a worker checks its password */
	int result;  /* the worker's verdict, set before it resumes c */
};

static void suspend(void *arg)
{
	struct request *r = arg;
	r->pending = 1;
	mhd->suspend_connection(r->c);
}

static void resume(void *arg)
{
	struct request *r = arg;
	mhd->resume_connection(r->c);
}

static void completed(void *cls, struct MHD_Connection *c, void **req,
                      enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)c;
	(void)code;
	free(*req);
	*req = NULL;
}

/* The peer's address bytes (not its port): the unit of the budget of
 * password checks. */
static size_t peer_of(struct MHD_Connection *c, const void **addr)
{
	const union MHD_ConnectionInfo *ci =
	    mhd->get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	if (sa && sa->sa_family == AF_INET) {
		*addr = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		return sizeof(struct in_addr);
	}
	if (sa && sa->sa_family == AF_INET6) {
		*addr = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		return sizeof(struct in6_addr);
	}
	*addr = "";
	return 0;
}

/* JST_AUTH_OK, _DENIED, _BUSY, or _PENDING with the connection suspended. */
static enum jst_auth_verdict authorise(struct jst_http *h, struct MHD_Connection *c,
                                       struct request *r)
{
	if (!h->auth)
		return JST_AUTH_OK;
	if (r->pending) {
		r->pending = 0;
		return (enum jst_auth_verdict)r->result;
	}
	char *pass = NULL;
	char *user = mhd->basic_auth_get_username_password(c, &pass);
	const void *peer;
	size_t peerlen = peer_of(c, &peer);
	r->c = c;
	enum jst_auth_verdict v =
	    jst_auth_check(h->auth, user, pass, peer, peerlen, &r->result, suspend, resume, r);
	if (pass)
		mhd->free(pass);
	if (user)
		mhd->free(user);
	return v;
}

static enum MHD_Result refuse(struct MHD_Connection *c, enum jst_auth_verdict v)
{
	if (v == JST_AUTH_BUSY) {
		/* Too many of this peer's passwords are being checked: answered
		 * without a hash, so its flood costs the others nothing. */
		struct MHD_Response *r =
		    text_response("too many password checks from this address at once\n", NULL);
		if (r)
			mhd->add_response_header(r, "Retry-After", "1");
		return queue(c, MHD_HTTP_TOO_MANY_REQUESTS, r);
	}
	struct MHD_Response *r = text_response("Unauthorized\n", NULL);
	if (!r)
		return MHD_NO;
	enum MHD_Result q = mhd->queue_basic_auth_fail_response(c, "joulestat", r);
	mhd->destroy_response(r);
	return q;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req)
{
	(void)version;
	(void)upload;
	struct jst_http *h = cls;
	/* The first call only announces the request; answer on the second. */
	if (!*req) {
		*req = calloc(1, sizeof(struct request));
		return *req ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	enum jst_auth_verdict v = authorise(h, c, *req);
	if (v == JST_AUTH_PENDING)
		return MHD_YES; /* called again once resumed */
	if (v != JST_AUTH_OK)
		return refuse(c, v);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (!strcmp(url, "/"))
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", strdup(index_page),
		             sizeof index_page - 1);
	if (strcmp(url, "/metrics") != 0)
		return text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");

	const char *accept = mhd->lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
	int format = jst_prom_negotiate(accept);
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	if (!f)
		return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	struct jst_prom_snapshot s = *jst_live_snapshot(h->live);
	s.scrapes = h->scrapes++;
	int rc = jst_prom_write(f, &s, format);
	if (fclose(f) || rc) {
		free(body);
		return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot format the metrics\n");
	}
	return reply(c, MHD_HTTP_OK, jst_prom_content_type(format), body, len);
}

static char *slurp(const char *path, char *msg, size_t msglen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(msg, msglen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while (m && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, m);
	int bad = ferror(f);
	fclose(f);
	if (!m || fclose(m) || bad) {
		free(buf);
		snprintf(msg, msglen, "cannot read %s", path);
		return NULL;
	}
	return buf;
}

/* The address to listen on ("" for every one): 0 and *ai (freeaddrinfo it),
 * or -EINVAL with msg. */
static int resolve(const char *host, unsigned port, struct addrinfo **ai, char *msg, size_t msglen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	char portstr[8];
	snprintf(portstr, sizeof portstr, "%u", port);
	int g = getaddrinfo(*host ? host : NULL, portstr, &hints, ai);
	if (g) {
		snprintf(msg, msglen, "cannot resolve '%s': %s", host, gai_strerror(g));
		return -EINVAL;
	}
	return 0;
}

int jst_http_check(const char *host, unsigned port, char *msg, size_t msglen)
{
	struct addrinfo *ai;
	int g = resolve(host, port, &ai, msg, msglen);
	if (g)
		return g;
	/* A port already taken is said now rather than after the meter opens
	 * (libmicrohttpd binds with SO_REUSEADDR too, so this asks the same). */
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1, busy = 0;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		busy = bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno == EADDRINUSE;
		close(fd);
	}
	freeaddrinfo(ai);
	if (busy) {
		snprintf(msg, msglen, "cannot listen on %s:%u: the port is in use",
		         *host ? host : "*", port);
		return -EADDRINUSE;
	}
	return 0;
}

int jst_http_check_tls(const struct jst_webconfig *wc, char *msg, size_t msglen)
{
	if (!wc || !wc->cert_file)
		return 0;
	char *cert = slurp(wc->cert_file, msg, msglen);
	char *key = cert ? slurp(wc->key_file, msg, msglen) : NULL;
	int rc = -EINVAL;
	if (key) {
		char prio[128];
		jst_webconfig_priorities(wc, prio, sizeof prio);
		rc = jst_tls_check(wc->cert_file, cert, wc->key_file, key, prio, msg, msglen);
		/* Without GnuTLS here, libmicrohttpd (which needs it for TLS) says
		 * so when it starts. */
		if (rc == -ENOSYS)
			rc = 0;
	}
	free(cert);
	free(key);
	return rc;
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fputs("joulestat: serve: ", stderr);
	vfprintf(stderr, fmt, ap);
}

int jst_http_start(const char *host, unsigned port, const struct jst_webconfig *wc,
                   struct jst_live *live, struct jst_http **out, char *msg, size_t msglen)
{
	struct addrinfo *ai;
	int g = resolve(host, port, &ai, msg, msglen);
	if (g)
		return g;
	if (!mhd && !(mhd = jst_mhd_load(msg, msglen))) {
		freeaddrinfo(ai);
		return -ENOSYS;
	}
	struct jst_http *h = calloc(1, sizeof *h);
	if (!h) {
		freeaddrinfo(ai);
		return -ENOMEM;
	}
	h->live = live;
	h->wc = wc;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	if (wc && wc->nusers) {
		int a = jst_auth_open(wc, &h->auth);
		if (a) {
			snprintf(msg, msglen, "cannot start the password checks: %s", strerror(-a));
			freeaddrinfo(ai);
			free(h);
			return a;
		}
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (wc && wc->cert_file) {
		if (mhd->is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(msg, msglen, "this libmicrohttpd was built without TLS");
			freeaddrinfo(ai);
			jst_http_stop(h);
			return -ENOTSUP;
		}
		h->cert = slurp(wc->cert_file, msg, msglen);
		h->key = h->cert ? slurp(wc->key_file, msg, msglen) : NULL;
		if (!h->key) {
			freeaddrinfo(ai);
			jst_http_stop(h);
			return -EINVAL;
		}
		flags |= MHD_USE_TLS;
		jst_webconfig_priorities(wc, h->priorities, sizeof h->priorities);
	}
	struct MHD_OptionItem tls[] = {
	    {MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, h->key},
	    {MHD_OPTION_HTTPS_PRIORITIES, 0, h->priorities},
	    {MHD_OPTION_END, 0, NULL},
	};
	struct MHD_OptionItem none[] = {{MHD_OPTION_END, 0, NULL}};
	h->d = mhd->start_daemon(
	    flags, (uint16_t)port, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
	    /* One peer holding connections open (idle, or
	     * sending a request a byte at a time) must not keep
	     * Prometheus from scraping: it gets a share only. */
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)JST_HTTP_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)JST_HTTP_CONNECTIONS_PER_PEER,
	    MHD_OPTION_ARRAY, h->cert ? tls : none, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!h->d) {
		snprintf(msg, msglen, "cannot listen on %s:%u (in use, or not an address here?)",
		         *host ? host : "*", port);
		jst_http_stop(h);
		return -EADDRINUSE;
	}
	const union MHD_DaemonInfo *info = mhd->get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : port;
	*out = h;
	return 0;
}

unsigned jst_http_port(const struct jst_http *h)
{
	return h->port;
}

void jst_http_stop(struct jst_http *h)
{
	if (!h)
		return;
	/* The checks under way finish first and resume their connections:
	 * libmicrohttpd cannot stop with one suspended. */
	if (h->auth)
		jst_auth_stop(h->auth);
	if (h->d)
		mhd->stop_daemon(h->d);
	jst_auth_close(h->auth);
	free(h->cert);
	free(h->key);
	free(h);
}
