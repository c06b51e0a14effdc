/*
 * Settling a power domain's window edge after the fact. A meter its backend
 * polls on a thread of its own (a BMC) gives readings that stand for an
 * instant a refresh or so before they arrive: at a window's edge the last
 * reading is older than the edge, and the edge is bridged from it with its
 * power (read.c, edge_take), stated with the power's spread over the gap. A
 * window's begin need not stay so: once a reading stamped after it has been
 * folded, the integration itself passes the edge (the trapezoid between the
 * readings around it), and the edge takes that value, so that the begin and
 * the readings inside the window rest on the same integral. What a step
 * between those two readings can hide is in the integration's own variance
 * (read.c, fold_power), which the window counts; the bridge's share of the
 * edge's uncertainty goes. A window's end has no later reading when its
 * figure is formed: it stays bridged, and stated so.
 */
#include "meter_internal.h"

void jst_power_edge_settle(const struct jst_dom *dom, struct jst_edge *e)
{
	const struct jst_integrator *in = &dom->integ;
	int64_t t0 = dom->prev_reading.t_ns, t1 = in->t_ns;
	if (!e->unsettled || dom->failed || !in->primed || t1 <= e->t_ns || t0 == 0 || t0 > e->t_ns)
		return;
	double f = (double)(e->t_ns - t0) / (double)(t1 - t0);
	double w0 = dom->prev_reading.power_w;
	double w = w0 + (in->power_w - w0) * f;
	e->energy_j = dom->prev_reading.energy_j + 0.5 * (w0 + w) * (double)(e->t_ns - t0) * 1e-9;
	e->u_j -= e->bridge_spread_j;
	if (e->u_j < 0)
		e->u_j = 0;
	e->unsettled = 0;
}
