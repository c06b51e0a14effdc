/*
 * The SPEC PTDaemon protocol as joulestat speaks it: parsing the replies of a
 * PTDaemon (lines of comma-separated "Key,value" pairs) and the addresses the
 * ptd backend is given. Pure functions, no I/O: the fuzz target feeds them
 * arbitrary bytes (fuzz/fuzz_ptd_reply.c).
 */
#ifndef JST_PTD_PROTO_H
#define JST_PTD_PROTO_H

#include <stddef.h>

#define JST_PTD_DEFAULT_PORT 8888
#define JST_PTD_LINE_MAX 1024
#define JST_PTD_MARK_MAX 64

/* One reading of the analyser: a reply to "RL" (the last sample, with its
 * time) or "Watts". Absent fields are NaN (has_time 0 when there is no time). */
struct jst_ptd_sample {
	int has_time;
	double time_s; /* the end of the sample, on the PTD host's clock (s since the epoch) */
	double watts;  /* mean power over the sample */
	double volts, amps, pf;
	double energy_j;    /* the analyser's integrated energy since "Go", where it gives one */
	double uncertainty; /* relative, where the analyser states one */
	char mark[JST_PTD_MARK_MAX];
};

/* Parse a reading. 0; -EPROTO for a reply that is an error ("Error: ..."),
 * -EBADMSG for anything else that is not a reading (garbage, a truncated line,
 * a number out of range), -ERANGE for a reading the analyser marks invalid
 * (negative watts: PTDaemon's -1 for "no value"). */
int jst_ptd_parse_sample(const char *line, struct jst_ptd_sample *out);

/* Parse a time: seconds since the epoch ("1764626000.25") or PTDaemon's log
 * form "MM-DD-YYYY HH:MM:SS.mmm" (UTC). 0 or -EBADMSG. */
int jst_ptd_parse_time(const char *text, double *out_s);

/* The reply to "Time": "Time,<time>" (or the bare time). 0 or negative. */
int jst_ptd_parse_time_reply(const char *line, double *out_s);

/* The reply to "Uncertainty": "Uncertainty,<relative>" or "...,<percent>%",
 * a relative error in (0, 1). 0, -EPROTO (an error: the analyser states
 * none) or -EBADMSG. */
int jst_ptd_parse_uncertainty(const char *line, double *out);

/* Is the reply an error ("Error..." / "ERROR...")? */
int jst_ptd_reply_is_error(const char *line);

/* One address: "host:port", "[v6addr]:port" or "host" (port 8888). 0 or
 * -EINVAL with why in err. */
int jst_ptd_parse_address(const char *text, char *host, size_t hostlen, unsigned *port, char *err,
                          size_t errlen);

/* Ranges for "SR": "auto" or "VOLTS,AMPS" (positive numbers). *volts and
 * *amps are 0 for auto. 0 or -EINVAL. */
int jst_ptd_parse_ranges(const char *text, double *volts, double *amps);

#endif
