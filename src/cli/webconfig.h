/* Prometheus's web configuration file (the exporter-toolkit format that
 * node_exporter and friends take with --web.config.file): TLS and basic
 * auth for `joulestat serve`, in the part of it libmicrohttpd can honour. */
#ifndef JST_WEBCONFIG_H
#define JST_WEBCONFIG_H

#include <stddef.h>

#define JST_WEBCONFIG_USERS_MAX 64

struct jst_webconfig {
	char *cert_file; /* tls_server_config, resolved against the file's directory */
	char *key_file;
	const char *min_version; /* "TLS10".."TLS13", or NULL */
	const char *max_version;
	struct {
		char *user;
		char *hash; /* a crypt(3) hash: bcrypt $2b$/$2y$/$2a$ as Prometheus's */
	} users[JST_WEBCONFIG_USERS_MAX];
	size_t nusers;
	char error[512]; /* what is wrong, with the line */
};

/* Parse the file at path into *c (zeroed first). 0, or -EINVAL / -errno with
 * c->error saying what and where. Keys the exporter-toolkit knows but
 * libmicrohttpd cannot honour (client certificates, cipher suites, HTTP/2
 * headers) are refused by name rather than silently ignored. */
int jst_webconfig_load(const char *path, struct jst_webconfig *c);
/* Parse text as if read from a file in directory dir. */
int jst_webconfig_parse(const char *text, const char *dir, struct jst_webconfig *c);
void jst_webconfig_free(struct jst_webconfig *c);

/* The GnuTLS priority string for the configured versions, into buf. */
void jst_webconfig_priorities(const struct jst_webconfig *c, char *buf, size_t len);

#endif
