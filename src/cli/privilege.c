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

/* The variables that point joulestat at other files or figures. In a
 * privileged process the library reads them with secure_getenv, i.e. not at
 * all; the user is told, so that an ignored override is not a mystery. */
static const char *const overrides[] = {
    "JOULESTAT_SYSFS_ROOT",
    "JOULESTAT_PROCFS_ROOT",
    "JOULESTAT_NVML_LIBRARY",
    "JOULESTAT_CPU_TDP_W",
};

int jst_cli_privileged(void)
{
	return getauxval(AT_SECURE) != 0;
}

void jst_cli_warn_ignored_overrides(void)
{
	if (!jst_cli_privileged())
		return;
	for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++)
		if (getenv(overrides[i]))
			jst_cli_error("privileged install: %s is ignored", overrides[i]);
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
