/* Mapping in, at once, the memory that recording a run in the history is
 * about to touch (prefault.c). */
#ifndef JST_PREFAULT_H
#define JST_PREFAULT_H

/* Best effort: nothing is said when the kernel cannot (before Linux 5.14). */
void jst_prefault_history(void);

#endif
