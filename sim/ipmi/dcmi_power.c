/*
 * A module for OpenIPMI's ipmi_sim (its lan.conf: loadlib "jst-ipmi-dcmi.so"
 * "TRACE REFRESH_S READY_FILE"): ipmi_sim answers no DCMI by itself, so this
 * registers the DCMI group extension (network function 0x2C, group 0xDC) and
 * answers "Get Power Reading" (command 0x02) from a power trace
 * (sim/common/trace.h). The BMC updates its reading every REFRESH_S seconds:
 * the reading is the trace's mean power over the refresh that ended last, in
 * whole watts as DCMI has it. The trace's instant 0 (CLOCK_MONOTONIC, ns) is
 * written to READY_FILE, so that a test has the truth of any window.
 */
#include "trace.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The few declarations of OpenIPMI's lanserv (mcserv.h, msg.h) this needs:
 * only pointers cross, and msg_t's fields are read through its header's
 * layout below. */
#include <OpenIPMI/mcserv.h>
#include <OpenIPMI/msg.h>

#define DCMI_GROUP 0xDC
#define DCMI_GET_POWER_READING 0x02
#define CC_OK 0x00
#define CC_INVALID_CMD 0xC1
#define CC_LENGTH 0xC7

static struct sim_trace *trace;
static double refresh_s = 1.0;
static int64_t t0_ns;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v & 0xff);
	p[1] = (unsigned char)((v >> 8) & 0xff);
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)((v >> (8 * i)) & 0xff);
}

/* The reading on show at t s: the mean of the refresh that ended last. */
static double shown_w(double t)
{
	double hi = floor(t / refresh_s) * refresh_s;
	if (hi <= 0)
		return sim_trace_power(trace, 0);
	return sim_trace_energy(trace, hi - refresh_s, hi) / refresh_s;
}

static void dcmi_handler(lmc_data_t *mc, msg_t *msg, unsigned char *rdata, unsigned int *rdata_len,
                         void *cb_data)
{
	(void)mc, (void)cb_data;
	if (msg->len < 1 || msg->data[0] != DCMI_GROUP) {
		rdata[0] = CC_INVALID_CMD;
		*rdata_len = 1;
		return;
	}
	if (msg->cmd != DCMI_GET_POWER_READING) {
		rdata[0] = CC_INVALID_CMD;
		rdata[1] = DCMI_GROUP;
		*rdata_len = 2;
		return;
	}
	if (msg->len < 4) {
		rdata[0] = CC_LENGTH;
		rdata[1] = DCMI_GROUP;
		*rdata_len = 2;
		return;
	}
	double t = (double)(now_ns() - t0_ns) * 1e-9;
	unsigned w = (unsigned)lround(shown_w(t));
	rdata[0] = CC_OK;
	rdata[1] = DCMI_GROUP;
	put16(rdata + 2, w);                                  /* current power */
	put16(rdata + 4, w);                                  /* minimum over the period */
	put16(rdata + 6, w);                                  /* maximum */
	put16(rdata + 8, w);                                  /* average */
	put32(rdata + 10, (uint32_t)time(NULL));              /* IPMI timestamp */
	put32(rdata + 14, (uint32_t)lround(refresh_s * 1e3)); /* the period, ms */
	rdata[18] = 0x40;                                     /* power measurement active */
	*rdata_len = 19;
}

/* ipmi_sim calls these by name (dlsym) after loading the module. */
int ipmi_sim_module_init(sys_data_t *sys, const char *initstr);
int ipmi_sim_module_print_version(sys_data_t *sys, char *initstr);

int ipmi_sim_module_init(sys_data_t *sys, const char *initstr)
{
	(void)sys;
	char spec[1024], ready[1024];
	double r;
	if (!initstr || sscanf(initstr, "%1023s %lf %1023s", spec, &r, ready) != 3 || !(r > 0)) {
		fprintf(stderr, "jst-ipmi-dcmi: want \"TRACE REFRESH_S READY_FILE\", got %s\n",
		        initstr ? initstr : "nothing");
		return -1;
	}
	char err[256];
	trace = sim_trace_parse(spec, err, sizeof err);
	if (!trace) {
		fprintf(stderr, "jst-ipmi-dcmi: %s\n", err);
		return -1;
	}
	refresh_s = r;
	t0_ns = now_ns();
	ipmi_emu_register_group_extension_handler(DCMI_GROUP, dcmi_handler, NULL);
	char tmp[1100];
	snprintf(tmp, sizeof tmp, "%s.tmp", ready);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "{\"t0_ns\": %lld}\n", (long long)t0_ns);
	fclose(f);
	return rename(tmp, ready) == 0 ? 0 : -1;
}

int ipmi_sim_module_print_version(sys_data_t *sys, char *initstr)
{
	(void)sys, (void)initstr;
	printf("jst-ipmi-dcmi: DCMI Get Power Reading from a trace\n");
	return 0;
}
