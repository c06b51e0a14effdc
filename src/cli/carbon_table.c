/* The offline carbon-intensity table: yearly average grid intensity, g CO2e
 * per kWh of electricity consumed, per country (ISO 3166-1 alpha-2) and per
 * grid region where a public inventory gives one. Each entry names its
 * source and year; docs/carbon.md lists them. Figures are rounded to the
 * gram; a yearly average says nothing of the hour a job ran in.
 *
 * Sources:
 *   Ember, "Yearly electricity data" (ember-energy.org, CC BY 4.0): country
 *     carbon intensity of generation, lifecycle g CO2e/kWh.
 *   US EPA, eGRID2022 (epa.gov/egrid, released 2024): subregion CO2e total
 *     output emission rates, converted from lb/MWh (x 0.4536).
 */
#include "carbon.h"

#include <strings.h>

const struct jst_carbon_region jst_carbon_regions[] = {
    {"WORLD", "World", 481, "Ember, Yearly electricity data", 2023},
    {"AU", "Australia", 549, "Ember, Yearly electricity data", 2023},
    {"BR", "Brazil", 98, "Ember, Yearly electricity data", 2023},
    {"CA", "Canada", 170, "Ember, Yearly electricity data", 2023},
    {"CN", "China", 582, "Ember, Yearly electricity data", 2023},
    {"DE", "Germany", 381, "Ember, Yearly electricity data", 2023},
    {"DK", "Denmark", 151, "Ember, Yearly electricity data", 2023},
    {"ES", "Spain", 174, "Ember, Yearly electricity data", 2023},
    {"FI", "Finland", 79, "Ember, Yearly electricity data", 2023},
    {"FR", "France", 56, "Ember, Yearly electricity data", 2023},
    {"GB", "United Kingdom", 238, "Ember, Yearly electricity data", 2023},
    {"IE", "Ireland", 282, "Ember, Yearly electricity data", 2023},
    {"IN", "India", 713, "Ember, Yearly electricity data", 2023},
    {"IT", "Italy", 331, "Ember, Yearly electricity data", 2023},
    {"JP", "Japan", 485, "Ember, Yearly electricity data", 2023},
    {"KR", "South Korea", 432, "Ember, Yearly electricity data", 2023},
    {"NL", "Netherlands", 268, "Ember, Yearly electricity data", 2023},
    {"NO", "Norway", 30, "Ember, Yearly electricity data", 2023},
    {"PL", "Poland", 662, "Ember, Yearly electricity data", 2023},
    {"SE", "Sweden", 41, "Ember, Yearly electricity data", 2023},
    {"US", "United States", 369, "Ember, Yearly electricity data", 2023},
    {"ZA", "South Africa", 709, "Ember, Yearly electricity data", 2023},
    {"US-CAMX", "WECC California (eGRID CAMX)", 226, "US EPA eGRID2022", 2022},
    {"US-ERCT", "ERCOT All (Texas, eGRID ERCT)", 350, "US EPA eGRID2022", 2022},
    {"US-NEWE", "NPCC New England (eGRID NEWE)", 243, "US EPA eGRID2022", 2022},
    {"US-NYUP", "NPCC Upstate NY (eGRID NYUP)", 106, "US EPA eGRID2022", 2022},
    {"US-NWPP", "WECC Northwest (eGRID NWPP)", 273, "US EPA eGRID2022", 2022},
    {"US-RFCE", "RFC East (eGRID RFCE)", 284, "US EPA eGRID2022", 2022},
};
const size_t jst_carbon_region_count = sizeof jst_carbon_regions / sizeof jst_carbon_regions[0];

const struct jst_carbon_region *jst_carbon_region_find(const char *code)
{
	for (size_t i = 0; code && i < jst_carbon_region_count; i++)
		if (!strcasecmp(jst_carbon_regions[i].code, code))
			return &jst_carbon_regions[i];
	return 0;
}
