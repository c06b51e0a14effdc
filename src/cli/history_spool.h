/* The spool of a run's intervals, kept in a temporary file while the command
 * runs and read back when the run is recorded in the history: the numbers as
 * they are in memory, so that nothing is formatted while the run goes on nor
 * parsed when it is recorded (a JSON line per interval cost seconds at -I 1
 * with 64 GPUs). The file never outlives the process, so its layout is this
 * build's: native byte order and alignment. */
#ifndef JST_HISTORY_SPOOL_H
#define JST_HISTORY_SPOOL_H

#include <stdint.h>
#include <stdio.h>

typedef struct jst_measurement jst_measurement;

enum { JST_SPOOL_MAGIC = 0x4a53504c /* "JSPL" */ };

/* A string follows as its length and bytes; this length is NULL. */
#define JST_SPOOL_NULL 0xffffu

/* One interval: this, its name, then `entries` entries. */
struct jst_spool_head {
	uint32_t magic;
	uint32_t entries;
	uint64_t run; /* the repetition it belongs to, 1-based */
	int64_t begin_ns, end_ns;
	double duration_s;
	uint32_t partial;
	uint32_t reserved;
};

/* The strings that follow an entry, in this order (a total has only its
 * name: the others are NULL). */
enum jst_spool_str {
	JST_SPOOL_NAME,
	JST_SPOOL_KIND,
	JST_SPOOL_DEVICE,
	JST_SPOOL_BACKEND,
	JST_SPOOL_METHOD,
	JST_SPOOL_SOURCE,
	JST_SPOOL_NOTE,
	JST_SPOOL_PARENT, /* the parent domain's name */
	JST_SPOOL_STRINGS
};

/* A domain's or a total's figures, every one `run --json` writes of it
 * (docs/output.md): this, then its JST_SPOOL_STRINGS strings. */
struct jst_spool_entry {
	double accuracy, energy_j, uncertainty_j, avg_power_w, peak_power_w;
	double temperature_max_c, utilization_mean_pct, clock_mean_mhz, power_limit_w;
	uint64_t count; /* a domain's samples, a total's parts */
	uint8_t is_total, primary, counted, partial, short_window, bridged, estimated, reserved;
};

/* Append interval m of repetition run. 0, or -1 when the file failed. */
int jst_history_spool_interval(FILE *f, const jst_measurement *m, size_t run);

#endif
