/* Signals meant for the measured command: while it runs, joulestat passes
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT on to it and keeps measuring, so that
 * an interrupted command still gets its measurement written. */
#ifndef JST_FORWARD_H
#define JST_FORWARD_H

#include <signal.h>
#include <sys/types.h>

/* Install the forwarding handlers. Call before any thread is started. */
int jst_forward_install(void);
/* Block / unblock the forwarded signals in the calling thread; threads started
 * while they are blocked never run the handler. */
void jst_forward_block(void);
void jst_forward_unblock(void);
/* Ignore SIGPIPE in joulestat (a reader that goes away, `| head -1`, must not
 * kill it while the command runs: a write then fails with EPIPE instead); the
 * command still starts with SIGPIPE as joulestat found it. Before any thread. */
void jst_forward_ignore_sigpipe(void);
/* The signal mask and dispositions the command must start with. */
void jst_forward_child_attrs(sigset_t *mask, sigset_t *defaults);
/* Publish (or with 0, withdraw) the process that signals go to. */
void jst_forward_set_child(pid_t pid);
/* The last forwarded signal received, or 0. Any thread may ask. */
int jst_forward_received(void);
/* "SIGTERM" for people: the forwarded signals by name, others "a signal". */
const char *jst_forward_signal_name(int sig);

#endif
