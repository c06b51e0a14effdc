/* Writing the simulators' small JSON files (truth, ready) without a library:
 * they must not depend on what the code under test uses. */
#ifndef JST_SIM_JSON_OUT_H
#define JST_SIM_JSON_OUT_H

#include <stdio.h>

/* s as a JSON string literal, quotes included. */
void sim_json_string(FILE *f, const char *s);

#endif
