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

/* A domain's or a total's figures: this, then its name, kind, device,
 * backend and method (NULL for a total). */
struct jst_spool_entry {
	double accuracy, energy_j, uncertainty_j, avg_power_w;
	uint8_t is_total, primary, partial, reserved[5];
};

/* Append interval m of repetition run. 0, or -1 when the file failed. */
int jst_history_spool_interval(FILE *f, const jst_measurement *m, size_t run);

#endif
