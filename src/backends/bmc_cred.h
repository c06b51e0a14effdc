/*
 * BMC credentials from a file only its owner can read: a password in an
 * option, an environment variable or a world-readable file would be seen by
 * others on the machine.
 */
#ifndef JST_BMC_CRED_H
#define JST_BMC_CRED_H

#include <stddef.h>

struct jst_bmc_cred {
	char user[128];
	char password[256];
};

/* Read path: "user:password" on one line, or the user on the first line and
 * the password on the second. Refuses (-EPERM) a file that is not a regular
 * file owned by this user with no permission for group or others, saying so in
 * reason; key names the option for messages ("redfish.credentials"). */
int jst_bmc_cred_read(const char *path, const char *key, struct jst_bmc_cred *out, char *reason,
                      size_t len);
/* Forget the password. */
void jst_bmc_cred_clear(struct jst_bmc_cred *c);

#endif
