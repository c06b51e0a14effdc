#include "integrate.h"

void jst_integrator_init(struct jst_integrator *in)
{
	*in = (struct jst_integrator){0};
}

double jst_integrator_add(struct jst_integrator *in, int64_t t_ns, double power_w)
{
	if (!in->primed) {
		in->primed = 1;
		in->t_ns = t_ns;
		in->power_w = power_w;
		return 0;
	}
	if (t_ns <= in->t_ns)
		return 0;
	double de = 0.5 * (in->power_w + power_w) * (double)(t_ns - in->t_ns) * 1e-9;
	in->energy_j += de;
	in->t_ns = t_ns;
	in->power_w = power_w;
	return de;
}
