/* Starting the measured command with posix_spawnp: it reports exec failures
 * as a return value, which is what lets joulestat say "cannot run" clearly. */
#include "command.h"
#include "cli.h"
#include "forward.h"

#include <errno.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

int jst_command_start(char *const argv[], pid_t *pid)
{
	posix_spawnattr_t attr;
	sigset_t mask, defaults;
	int rc = posix_spawnattr_init(&attr);
	if (rc) {
		jst_cli_error("cannot run '%s': %s", argv[0], strerror(rc));
		return -rc;
	}
	jst_forward_child_attrs(&mask, &defaults);
	posix_spawnattr_setsigmask(&attr, &mask);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

	/* Blocked across the start and the publication of the pid: a signal that
	 * arrives meanwhile is delivered after, and forwarded. */
	jst_forward_block();
	if (jst_forward_received()) {
		/* Asked to stop before the command started: do not start it. */
		jst_forward_unblock();
		posix_spawnattr_destroy(&attr);
		return -EINTR;
	}
	rc = posix_spawnp(pid, argv[0], NULL, &attr, argv, environ);
	if (rc == 0)
		jst_forward_set_child(*pid);
	jst_forward_unblock();
	posix_spawnattr_destroy(&attr);
	if (rc) {
		jst_cli_error("cannot run '%s': %s", argv[0], strerror(rc));
		return -rc;
	}
	return 0;
}

int jst_command_failure_status(int err)
{
	return err == ENOENT || err == ENOTDIR ? JST_EXIT_NOTFOUND : JST_EXIT_NOEXEC;
}

int jst_command_wait(pid_t pid)
{
	int status = 0;
	pid_t r;
	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	jst_forward_set_child(0);
	if (r < 0)
		return JST_EXIT_RUN_FAIL;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
