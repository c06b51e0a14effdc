/* Carbon and cost of the energy measured: grams CO2e = energy x PUE x the
 * grid's carbon intensity; cost = energy x PUE x price (docs/carbon.md). */
#ifndef JST_CARBON_H
#define JST_CARBON_H

#include <jansson.h>

/* One entry of the offline intensity table (carbon_table.c). */
struct jst_carbon_region {
	const char *code;   /* "FR", "US-CAMX" */
	const char *name;   /* "France" */
	double g_per_kwh;   /* yearly average, g CO2e per kWh */
	const char *source; /* who published it */
	int year;           /* the year the figure is of */
};

extern const struct jst_carbon_region jst_carbon_regions[];
extern const size_t jst_carbon_region_count;
/* The entry for code (case-insensitive), or NULL. */
const struct jst_carbon_region *jst_carbon_region_find(const char *code);

/* What the command line asked; NaN / NULL where it said nothing. */
struct jst_carbon_request {
	const char *region;
	double intensity, pue, price;
};

/* The settings in force once the command line, the environment and the
 * config file are read. */
struct jst_carbon {
	int set;          /* an intensity is known: carbon is reported */
	char region[64];  /* table code, or "" when the intensity was given */
	double intensity; /* g CO2e per kWh */
	double pue;       /* 1.0 unless given */
	int pue_default;  /* pue is the default, not given */
	double price;     /* per kWh, NaN when none */
	char source[192]; /* where the intensity came from */
};

/* Resolve: command line, else JOULESTAT_REGION, JOULESTAT_CARBON_INTENSITY,
 * JOULESTAT_PUE, JOULESTAT_PRICE, else $XDG_CONFIG_HOME/joulestat/config
 * (lines "key = value": region, carbon_intensity, pue, price; any other line
 * but a blank or a comment is refused). 0, or -1 after a usage error was
 * reported naming the bad setting (cmd: for it). */
int jst_carbon_resolve(const char *cmd, const struct jst_carbon_request *req,
                       struct jst_carbon *out);

/* Grams CO2e of energy_j with its uncertainty: the same relative uncertainty
 * as the energy's (the intensity's own spread is not known, so it is never
 * less uncertain than the energy). Cost likewise (NaN without a price). */
struct jst_carbon_figure {
	double co2e_g, co2e_uncertainty_g, cost, cost_uncertainty;
};
void jst_carbon_of(const struct jst_carbon *c, double energy_j, double uncertainty_j,
                   struct jst_carbon_figure *out);

/* The "carbon" object of docs/output.md for energy_j ± uncertainty_j. */
json_t *jst_carbon_json(const struct jst_carbon *c, double energy_j, double uncertainty_j);

#endif
