/* GnuTLS checks of a web-config's certificate and key (tls_check.h). GnuTLS is
 * loaded with dlopen, as libmicrohttpd is (mhd_lib.h): linked, it would cost
 * every joulestat command its start-up. Its header gives the types. */
#include "tls_check.h"

#include <dlfcn.h>
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

#define SYM(lib, slot, name)                                                                       \
	do {                                                                                       \
		if (!(*(void **)&(slot) = dlsym(lib, name))) {                                     \
			snprintf(why_, sizeof why_, "libgnutls.so.30 lacks %s", name);             \
			dlclose(lib);                                                              \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static void load(void)
{
	void *l = dlopen("libgnutls.so.30", RTLD_NOW | RTLD_LOCAL);
	if (!l) {
		const char *e = dlerror();
		snprintf(why_, sizeof why_, "cannot load libgnutls.so.30 (%s)",
		         e ? e : "not found");
		return;
	}
	SYM(l, fn.strerror_, "gnutls_strerror");
	SYM(l, fn.crt_init, "gnutls_x509_crt_init");
	SYM(l, fn.crt_import, "gnutls_x509_crt_import");
	SYM(l, fn.crt_deinit, "gnutls_x509_crt_deinit");
	SYM(l, fn.key_init, "gnutls_x509_privkey_init");
	SYM(l, fn.key_import, "gnutls_x509_privkey_import2");
	SYM(l, fn.key_deinit, "gnutls_x509_privkey_deinit");
	SYM(l, fn.cred_alloc, "gnutls_certificate_allocate_credentials");
	SYM(l, fn.cred_set_key, "gnutls_certificate_set_x509_key_mem");
	SYM(l, fn.cred_free, "gnutls_certificate_free_credentials");
	SYM(l, fn.prio_init, "gnutls_priority_init");
	SYM(l, fn.prio_deinit, "gnutls_priority_deinit");
	loaded = 1; /* kept loaded: the table points into it */
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
