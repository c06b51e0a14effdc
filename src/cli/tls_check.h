/* The web-config's certificate and key checked with GnuTLS before `joulestat
 * serve` opens the meter: each file what it should be, the key the
 * certificate's, the TLS versions a range GnuTLS accepts. libmicrohttpd
 * finds the same faults only when its server starts, with a message that
 * names neither file. */
#ifndef JST_TLS_CHECK_H
#define JST_TLS_CHECK_H

#include <stddef.h>

/* cert and key are the files' contents (PEM), named cert_path and key_path in
 * messages; priorities a GnuTLS priority string. 0, or -EINVAL with msg
 * filled, or -ENOSYS when GnuTLS cannot be loaded (msg says why). */
int jst_tls_check(const char *cert_path, const char *cert, const char *key_path, const char *key,
                  const char *priorities, char *msg, size_t msglen);

#endif
