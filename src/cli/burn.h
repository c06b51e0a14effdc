/* A known CPU load: busy arithmetic on N threads for S seconds. */
#ifndef JST_BURN_H
#define JST_BURN_H

/* Threads 0 = every online CPU. Ends early once stop (if not NULL, called
 * from every burning thread) returns non-zero. 0 or a negative code. */
int jst_burn(double seconds, unsigned threads, int (*stop)(void));
/* Online CPUs (at least 1). */
unsigned jst_burn_default_threads(void);

#endif
