/* GnuTLS checks of a web-config's certificate and key (tls_check.h). GnuTLS is
 * loaded with dlopen, as libmicrohttpd is (mhd_lib.h): linked, it would cost
 * every joulestat command its start-up. Its header gives the types. */
#include "tls_check.h"
#include "dl_table.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct gnutls_fns {
	__typeof__(gnutls_strerror) *strerror_;
	__typeof__(gnutls_x509_crt_init) *crt_init;
	__typeof__(gnutls_x509_crt_import) *crt_import;
	__typeof__(gnutls_x509_crt_deinit) *crt_deinit;
	__typeof__(gnutls_x509_privkey_init) *key_init;
	__typeof__(gnutls_x509_privkey_import2) *key_import;
	__typeof__(gnutls_x509_privkey_deinit) *key_deinit;
	__typeof__(gnutls_certificate_allocate_credentials) *cred_alloc;
	__typeof__(gnutls_certificate_set_x509_key_mem) *cred_set_key;
	__typeof__(gnutls_certificate_free_credentials) *cred_free;
	__typeof__(gnutls_priority_init) *prio_init;
	__typeof__(gnutls_priority_deinit) *prio_deinit;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct gnutls_fns fn;
static int loaded;
static char why_[256];

static void load(void)
{
	const struct jst_dl_sym syms[] = {
	    {"gnutls_strerror", (void **)&fn.strerror_},
	    {"gnutls_x509_crt_init", (void **)&fn.crt_init},
	    {"gnutls_x509_crt_import", (void **)&fn.crt_import},
	    {"gnutls_x509_crt_deinit", (void **)&fn.crt_deinit},
	    {"gnutls_x509_privkey_init", (void **)&fn.key_init},
	    {"gnutls_x509_privkey_import2", (void **)&fn.key_import},
	    {"gnutls_x509_privkey_deinit", (void **)&fn.key_deinit},
	    {"gnutls_certificate_allocate_credentials", (void **)&fn.cred_alloc},
	    {"gnutls_certificate_set_x509_key_mem", (void **)&fn.cred_set_key},
	    {"gnutls_certificate_free_credentials", (void **)&fn.cred_free},
	    {"gnutls_priority_init", (void **)&fn.prio_init},
	    {"gnutls_priority_deinit", (void **)&fn.prio_deinit},
	};
	loaded = !jst_dl_table("libgnutls.so.30", syms, sizeof syms / sizeof syms[0], NULL, why_,
	                       sizeof why_);
}

static gnutls_datum_t datum(const char *s)
{
	/* GnuTLS only reads it. */
	return (gnutls_datum_t){(unsigned char *)s, (unsigned)strlen(s)};
}

int jst_tls_check(const char *cert_path, const char *cert, const char *key_path, const char *key,
                  const char *priorities, char *msg, size_t msglen)
{
	pthread_once(&once, load);
	if (!loaded) {
		snprintf(msg, msglen, "%s", why_);
		return -ENOSYS;
	}
	gnutls_datum_t c = datum(cert), k = datum(key);
	gnutls_x509_crt_t crt;
	int g = fn.crt_init(&crt);
	if (!g) {
		g = fn.crt_import(crt, &c, GNUTLS_X509_FMT_PEM);
		fn.crt_deinit(crt);
	}
	if (g) {
		snprintf(msg, msglen, "tls_server_config.cert_file %s: not a PEM certificate (%s)",
		         cert_path, fn.strerror_(g));
		return -EINVAL;
	}
	gnutls_x509_privkey_t pk;
	g = fn.key_init(&pk);
	if (!g) {
		g = fn.key_import(pk, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
		fn.key_deinit(pk);
	}
	if (g) {
		snprintf(msg, msglen,
		         "tls_server_config.key_file %s: not an unencrypted PEM private key (%s)",
		         key_path, fn.strerror_(g));
		return -EINVAL;
	}
	gnutls_certificate_credentials_t cred;
	g = fn.cred_alloc(&cred);
	if (!g) {
		g = fn.cred_set_key(cred, &c, &k, GNUTLS_X509_FMT_PEM);
		fn.cred_free(cred);
	}
	if (g) {
		snprintf(msg, msglen,
		         "tls_server_config: key_file %s is not the key of cert_file %s (%s)",
		         key_path, cert_path, fn.strerror_(g));
		return -EINVAL;
	}
	gnutls_priority_t p;
	const char *where = NULL;
	g = fn.prio_init(&p, priorities, &where);
	if (g) {
		snprintf(msg, msglen,
		         "tls_server_config: min_version/max_version: GnuTLS refuses '%s' (%s)",
		         priorities, fn.strerror_(g));
		return -EINVAL;
	}
	fn.prio_deinit(p);
	return 0;
}
