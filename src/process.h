/*
 * Which process this is, cheaply: a meter belongs to the process that opened
 * it (its sampler thread and locks do not survive fork()), and the calls on
 * the measuring path check that without a getpid() system call each time.
 */
#ifndef JST_PROCESS_H
#define JST_PROCESS_H

#include <sys/types.h>

/* This process's id, kept current across fork() by an atfork handler. */
pid_t jst_self_pid(void);

#endif
