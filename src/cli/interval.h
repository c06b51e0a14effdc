/* --interval: a thread that measures back-to-back windows while the command
 * runs, printing a row for each and keeping their measurements if asked to. */
#ifndef JST_INTERVAL_H
#define JST_INTERVAL_H

#include <joulestat.h>
#include <stdio.h>

struct jst_interval;

/* Start measuring windows of period_ms on meter. rows: where rows are printed
 * (NULL: nowhere), each with run, the command's run they belong to; the header is printed before
 * the first row when *header is 0, which is then set. Window names go on from *serial (shared
 * across runs). keep: keep the measurements for jst_interval_stop; without it each is freed once
 * printed, so that a long run takes no more memory than a short one. */
int jst_interval_start(jst_meter *meter, unsigned period_ms, FILE *rows, size_t run, int *header,
                       unsigned *serial, int keep, struct jst_interval **out);
/* End the current window (its row is printed too), stop the thread, and append
 * the kept interval measurements to *list (*n entries, grown as needed; ownership
 * passes to the caller). 0 or a negative code; the thread is gone either way. */
int jst_interval_stop(struct jst_interval *iv, jst_measurement ***list, size_t *n);

#endif
