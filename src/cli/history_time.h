/* The time bounds of `joulestat history` and `export` (--since, --until):
 * parsed into the form the runs' starts are stored in, so that the two
 * compare as text exactly as the instants do (docs/history.md). */
#ifndef JST_HISTORY_TIME_H
#define JST_HISTORY_TIME_H

#include <stddef.h>

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" and its NUL: the stored form of runs.start. */
#define JST_HISTORY_TIME_LEN 25

/* arg: a date (2026-12-01, its midnight UTC) or an RFC 3339 time with or
 * without seconds and a fraction of them, in UTC (Z) or at an offset
 * (+01:00): 2026-12-01T22:00Z, 2026-12-01T23:00:00.25+01:00. Written into
 * out in UTC at the stored milliseconds, a finer fraction rounded up: a
 * start recorded to the millisecond is at or after the bound exactly when
 * its text sorts at or after out's. 0; -EINVAL with why when arg is not one
 * of those forms or names a day or time that does not exist; -ERANGE when
 * it falls outside the years 0000 to 9999 in UTC. */
int jst_history_time_bound(const char *arg, char out[JST_HISTORY_TIME_LEN], char *why,
                           size_t whylen);

#endif
