/* Starting the measured command and waiting for it, the way a shell does. */
#ifndef JST_COMMAND_H
#define JST_COMMAND_H

#include <sys/types.h>

/* Start argv[0] (searched in PATH) with the signals the forwarder hands over.
 * 0 and *pid, or -errno when it could not be started (already reported as
 * "joulestat: cannot run 'X': ..."), or -EINTR without a word when a
 * forwarded signal came before the command started. */
int jst_command_start(char *const argv[], pid_t *pid);
/* Exit status for rc, a failure of jst_command_start: 128 + the signal for
 * -EINTR, else what a shell would give: 127 not found, else 126. */
int jst_command_failure_status(int rc);
/* Wait for pid, forwarding signals meanwhile; its exit status, 128 + signal
 * when a signal killed it. */
int jst_command_wait(pid_t pid);

#endif
