/* Integration of power readings into energy (trapezoid rule). */
#ifndef JST_INTEGRATE_H
#define JST_INTEGRATE_H

#include <stdint.h>

struct jst_integrator {
	int primed;
	int64_t t_ns;    /* time of the last reading */
	double power_w;  /* last reading */
	double energy_j; /* integral since the first reading */
};

void jst_integrator_init(struct jst_integrator *in);
/* Add a reading at t_ns; readings at or before the last one are ignored.
 * Returns the energy added. */
double jst_integrator_add(struct jst_integrator *in, int64_t t_ns, double power_w);

#endif
