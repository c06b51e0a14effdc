/* The HTTP side of `joulestat serve`: libmicrohttpd serving /metrics from a
 * live snapshot, with the web-config's TLS and basic auth. */
#ifndef JST_SERVE_HTTP_H
#define JST_SERVE_HTTP_H

#include "live.h"
#include "webconfig.h"

struct jst_http;

/* Parse "HOST:PORT" ("[::1]:9100", ":9100" is every address): 0, or -EINVAL
 * with msg filled. */
int jst_http_parse_listen(const char *listen, char *host, size_t hostlen, unsigned *port, char *msg,
                          size_t msglen);
/* Whether host resolves and the port is free: 0, or -errno with msg filled
 * (-EADDRINUSE for a port taken). */
int jst_http_check(const char *host, unsigned port, char *msg, size_t msglen);
/* Whether the web-config's certificate and key can be read, are a PEM
 * certificate and its private key, and its TLS versions a range GnuTLS takes
 * (tls_check.h): 0 (also without TLS), or -errno with msg filled. */
int jst_http_check_tls(const struct jst_webconfig *wc, char *msg, size_t msglen);
/* Serve on host:port (port 0: any free one) until jst_http_stop. live is
 * used from the server's one thread only. wc may be NULL. 0, or -errno with
 * msg filled. */
int jst_http_start(const char *host, unsigned port, const struct jst_webconfig *wc,
                   struct jst_live *live, struct jst_http **out, char *msg, size_t msglen);
/* The port it listens on. */
unsigned jst_http_port(const struct jst_http *h);
void jst_http_stop(struct jst_http *h);

#endif
