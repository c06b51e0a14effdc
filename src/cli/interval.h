/* --interval: a thread that measures back-to-back windows while the command
 * runs, printing a row for each and handing each measurement to a writer. */
#ifndef JST_INTERVAL_H
#define JST_INTERVAL_H

#include <joulestat.h>
#include <stdio.h>

struct jst_interval;

/* What becomes of each finished interval besides its row: called on the
 * interval thread, in order, with a measurement freed as soon as it returns,
 * so that a long run takes no more memory than a short one. A writer that
 * fails keeps its error to itself: the intervals go on for the others. */
struct jst_interval_writer {
	void (*put)(void *ctx, const jst_measurement *m);
	void *ctx;
};

/* Start measuring windows of period_ms on meter. rows: where rows are printed
 * (NULL: nowhere), each with run, the command's run they belong to; the header is printed
 * before the first row when *header is 0, which is then set. Window names go on from *serial
 * (shared across runs). writer: NULL, or where each measurement goes once its row is
 * printed. */
int jst_interval_start(jst_meter *meter, unsigned period_ms, FILE *rows, size_t run, int *header,
                       unsigned *serial, const struct jst_interval_writer *writer,
                       struct jst_interval **out);
/* End the current window (its row is printed and written too) and stop the
 * thread. 0 or a negative code; the thread is gone either way. */
int jst_interval_stop(struct jst_interval *iv);

#endif
