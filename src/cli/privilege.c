/*
 * Privileged installs (setuid root, or file capabilities such as
 * cap_dac_read_search for RAPL): the privilege is for opening the energy
 * counters, nothing else. Once the meter has opened them (it keeps them open
 * and re-reads them with pread), joulestat becomes the user who ran it again,
 * before it opens an output or starts a command, so that neither can do what
 * that user could not.
 */
#include "cli.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* What a privileged process still reads of joulestat's variables: the carbon
 * figures, which point at no file and change no reading. The library reads
 * every other with secure_getenv, i.e. not at all there. */
static const char *const carbon_vars[] = {
    "JOULESTAT_REGION",
    "JOULESTAT_CARBON_INTENSITY",
    "JOULESTAT_PUE",
    "JOULESTAT_PRICE",
};

int jst_cli_privileged(void)
{
	return getauxval(AT_SECURE) != 0;
}

static int named(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncmp(name, want, len) == 0;
}

int jst_cli_env_applies(const char *name, size_t len)
{
	/* CUDA's own variable: the GPU selection reads it with getenv, always. */
	if (named(name, len, "CUDA_VISIBLE_DEVICES"))
		return 1;
	if (len < 10 || strncmp(name, "JOULESTAT_", 10) != 0)
		return 0;
	if (!jst_cli_privileged())
		return 1;
	for (size_t i = 0; i < sizeof carbon_vars / sizeof carbon_vars[0]; i++)
		if (named(name, len, carbon_vars[i]))
			return 1;
	return 0;
}

/* The user is told of each override ignored, so that it is not a mystery. */
void jst_cli_warn_ignored_overrides(void)
{
	extern char **environ;
	if (!jst_cli_privileged())
		return;
	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
		if (!strncmp(*e, "JOULESTAT_", 10) && !jst_cli_env_applies(*e, len))
			jst_cli_error("privileged install: %.*s is ignored", (int)len, *e);
	}
}

static int caps_clear(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	memset(d, 0, sizeof d);
	/* Lowering one's own capabilities is always allowed; a kernel or sandbox
	 * that refuses the call still counts only if capabilities remain. */
	if (syscall(SYS_capset, &h, d) && errno != ENOSYS && errno != EPERM)
		return -errno;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capget, &h, d))
		return errno == ENOSYS ? 0 : -errno;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (d[i].permitted || d[i].effective)
			return -EPERM;
	return 0;
}

int jst_cli_drop_privileges(void)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	if (getresuid(&ruid, &euid, &suid) || getresgid(&rgid, &egid, &sgid))
		return -errno;
	/* The group first: once the uid is the user's, setresgid is no longer allowed. */
	if ((egid != rgid || sgid != rgid) && setresgid(rgid, rgid, rgid))
		return -errno;
	if ((euid != ruid || suid != ruid) && setresuid(ruid, ruid, ruid))
		return -errno;
	/* Root who ran it (sudo) is root: nothing to give up. Anyone else keeps no
	 * capability: file capabilities leave the uids alone. */
	if (ruid != 0) {
		int rc = caps_clear();
		if (rc)
			return rc;
	}
	if (getresuid(&ruid, &euid, &suid) || getresgid(&rgid, &egid, &sgid))
		return -errno;
	if (euid != ruid || suid != ruid || egid != rgid || sgid != rgid)
		return -EPERM;
	/* Proof, not hope: a privilege still held would let this succeed. */
	if (ruid != 0 && setuid(0) == 0)
		return -EPERM;
	return 0;
}
