/* Help texts: `joulestat --help`, `joulestat help CMD`, `joulestat CMD --help`. */
#include "cli.h"

#include <string.h>

static const char overview[] =
    "usage: joulestat COMMAND [OPTIONS]\n"
    "\n"
    "Measure the energy that commands spend, on GPUs, CPU packages, DRAM and whole\n"
    "nodes, with the most accurate method the machine offers, and say how accurate\n"
    "every figure is.\n"
    "\n"
    "commands:\n"
    "  list       what can measure this machine: backends and domains\n"
    "  run        measure a command: joulestat run [OPTIONS] -- COMMAND [ARGS]\n"
    "  validate   measure a workload with every method and compare them\n"
    "  burn       a built-in CPU load to measure\n"
    "  report     draw a run's JSON as an HTML page or an SVG figure\n"
    "  history    the runs recorded: joulestat history [--command S] [--json]\n"
    "  show ID    one recorded run, in full\n"
    "  compare A B  whether run B used less energy than run A, and how surely\n"
    "  export     the recorded runs as CSV or JSON\n"
    "  serve      a Prometheus exporter: /metrics from the sampler\n"
    "  top        a live view of every domain in the terminal\n"
    "  help CMD   the options of one command\n"
    "\n"
    "  --version  print the version;  --help  print this\n"
    "\n"
    "See joulestat(1).\n";

static const char common[] =
    "  --backends LIST   backends to try, e.g. nvml,rapl (default: all)\n"
    "  --gpus LIST       GPU indices or UUIDs (default: CUDA_VISIBLE_DEVICES, else all)\n"
    "  --period MS       sampler period in milliseconds (default 100)\n"
    "  --cross-validate  keep every method of each device as its own domain\n"
    "  --no-estimate     never estimate; measure or say why not\n"
    "  --option KEY=VALUE  a setting, repeatable: nvml.library=PATH, sysfs.root=DIR,\n"
    "                    procfs.root=DIR, or a core key (backends, gpus, period_ms,\n"
    "                    cross_validate, estimate, series_capacity, edge_read); wins\n"
    "                    over the options above and over JOULESTAT_OPTIONS (see\n"
    "                    joulestat(1))\n";

static const char list_help[] =
    "usage: joulestat list [OPTIONS]\n"
    "\n"
    "Every backend with its status (available, or unavailable and why), then every\n"
    "domain: name, kind, backend, method, accuracy, device, whether it is the figure\n"
    "counted for its device, parent, sample period and caveats.\n"
    "\n"
    "  --json            the same as JSON on stdout\n";

static const char run_help[] =
    "usage: joulestat run [OPTIONS] [--] COMMAND [ARGS]\n"
    "\n"
    "Run COMMAND and print to stderr the energy each domain spent while it ran, with\n"
    "average and peak power, method and accuracy, then the totals. Exits with the\n"
    "command's status (128 + N when signal N ended it; 126/127 when it could not be\n"
    "started; 125 when joulestat failed). SIGINT, SIGTERM, SIGHUP and SIGQUIT go on to\n"
    "the command and the measurement is still reported.\n"
    "\n"
    "  --json FILE|-     write the measurement as JSON (docs/output.md)\n"
    "  --csv FILE|-      write it as CSV\n"
    "  -r, --repeat N    run N times; report mean ± standard deviation\n"
    "  -I, --interval MS also print a row per interval while the command runs\n"
    "  -o, --output FILE write the table to FILE instead of stderr\n"
    "  -q, --quiet       no table (JSON and CSV are still written)\n"
    "  --series          add every sampler reading to the JSON (\"series\")\n"
    "  --no-history      do not record the run in the history\n"
    "                    ($XDG_DATA_HOME/joulestat/history.db)\n"
    "  --no-settle       end each run's window at once, not once slow GPU energy\n"
    "                    counters (10-100 ms refresh) have latched after it\n"
    "  --region CODE     carbon intensity of this grid: FR, DE, US, US-CAMX, ...\n"
    "                    (docs/carbon.md; else JOULESTAT_REGION or the config file)\n"
    "  --carbon-intensity G  grams CO2e per kWh, instead of a region's\n"
    "  --pue N           power usage effectiveness of the site (default 1.0)\n"
    "  --price P         price per kWh: report the cost too\n"
    "  --attribute       also the share of the energy that is the command's process\n"
    "                    tree's (CPU time per package, GPU use per process), idle\n"
    "                    apart\n"
    "  --pid PID         the same for a process tree already running (repeatable)\n"
    "  --cgroup PATH     the same for a cgroup v2 below the cgroup root (repeatable)\n"
    "  --option attribute.idle-w=W|DOMAIN:W,...  idle power to take off (else fitted)\n"
    "  --option attribute.cgroup-root=DIR  where cgroup v2 is (default\n"
    "                    /sys/fs/cgroup, or JOULESTAT_CGROUP_ROOT)\n"
    "  --option attribute.period-ms=MS     how often shares are taken (default 200)\n"
    "                    See docs/attribution.md.\n";

static const char history_help[] =
    "usage: joulestat history [--command TEXT] [--host NAME] [--since T] [--until T]\n"
    "                         [-n N] [--json]\n"
    "\n"
    "The runs joulestat run recorded, oldest first: id, start, host, energy of all\n"
    "repetitions with its uncertainty, CO2e, exit status, command; [partial]\n"
    "marks a run whose figure leaves out a device lost during it.\n"
    "\n"
    "  --command TEXT    runs whose command line contains TEXT\n"
    "  --host NAME       runs on host NAME\n"
    "  --since T, --until T  runs that started at or after / before T: a date\n"
    "                    (2026-12-01, midnight UTC) or an RFC 3339 time, seconds\n"
    "                    and fraction optional, in UTC or at an offset\n"
    "                    (2026-12-01T22:00Z, 2026-12-01T23:00:00.5+01:00)\n"
    "  -n, --limit N     the newest N only\n"
    "  --json            the same as JSON on stdout\n";

static const char show_help[] =
    "usage: joulestat show [--json] ID\n"
    "\n"
    "One recorded run: identity, each repetition's domains and totals, carbon.\n"
    "--json writes the document joulestat run --json wrote, with \"id\", and its\n"
    "intervals and series when it had them.\n";

static const char compare_help[] =
    "usage: joulestat compare [--json] A B\n"
    "\n"
    "Whether run B used less energy than run A: the difference of their totals\n"
    "(mean over repetitions), its uncertainty from both accuracy classes and the\n"
    "spread of -r repetitions, and whether the difference is larger than that\n"
    "(significant). See docs/history.md.\n";

static const char export_help[] =
    "usage: joulestat export [--format csv|json] [-o FILE] [FILTERS]\n"
    "\n"
    "The recorded runs: CSV, one line per run; JSON, each run's whole document.\n"
    "FILTERS are those of joulestat history (--command, --host, --since, --until,\n"
    "-n).\n";

static const char validate_help[] =
    "usage: joulestat validate [OPTIONS] [--seconds S | -- COMMAND [ARGS]]\n"
    "\n"
    "Measure a workload (the built-in CPU burn for S seconds, default 3, or COMMAND)\n"
    "with every method each device offers, and show per device how far each method\n"
    "is from the most accurate one, and whether that lies inside their combined\n"
    "accuracy classes. Exits 1 when a method disagrees. See docs/cross-validation.md.\n"
    "\n"
    "  --seconds S       length of the built-in burn (default 3)\n"
    "  --threads N       threads of the built-in burn (default: every CPU)\n"
    "  -r, --repeat N    repeat; report mean and spread of each difference\n"
    "  --json FILE|-     the same as JSON\n";

static const char report_help[] =
    "usage: joulestat report [-o FILE] [--format html|svg] FILE.json|RUN_ID\n"
    "\n"
    "Draw a run written by joulestat run --json (- reads stdin): power over time\n"
    "per domain (from --series, else the -I rows, else the runs), energy per\n"
    "domain and totals with their uncertainty, -I intervals as bands, the methods\n"
    "of --cross-validate overlaid, and the identity of the run. One\n"
    "self-contained HTML page (nothing fetched), or the figure alone as SVG.\n"
    "\n"
    "  -o, --output FILE  where to write (default: stdout); FILE ending in .svg\n"
    "                     gets the SVG figure alone\n"
    "  --format FMT       html or svg, whatever FILE is called\n";

static const char burn_help[] =
    "usage: joulestat burn [--seconds S] [--threads N]\n"
    "\n"
    "Busy floating-point arithmetic on N threads (default: every CPU) for S seconds\n"
    "(default 2): a known load to measure, as in  joulestat run -- joulestat burn\n";

static const char serve_help[] =
    "usage: joulestat serve [OPTIONS]\n"
    "\n"
    "Serve the meter's figures to Prometheus at /metrics (the text format, or\n"
    "OpenMetrics when the Accept header asks): energy since start per domain as a\n"
    "counter, power, accuracy, temperature, utilisation, clock, power limit, and\n"
    "joulestat_up per backend. Values come from the sampler (--period); a scrape\n"
    "reads no device. Runs until SIGINT, SIGTERM or SIGHUP. See docs/serve.md.\n"
    "\n"
    "  --listen HOST:PORT  address to serve on (default 127.0.0.1:9977; [::1]:9977;\n"
    "                    :9977 for every address; port 0 takes a free one)\n"
    "  --web-config FILE Prometheus web-config file: tls_server_config (cert_file,\n"
    "                    key_file, min_version, max_version) and basic_auth_users\n"
    "                    (bcrypt hashes); also --web.config.file\n";

static const char top_help[] =
    "usage: joulestat top [OPTIONS]\n"
    "\n"
    "A live view of every domain in the terminal: power, energy since start,\n"
    "accuracy, temperature, utilisation, clock, and the total. Keys: q quits;\n"
    "p, e, n sort by power, energy or name.\n"
    "\n"
    "  -I, --interval MS refresh every MS milliseconds (default 1000, at least 50)\n"
    "  --sort KEY        power (default), energy or name\n"
    "  -n, --iterations N  quit after N refreshes\n";

int jst_cli_help(FILE *f, const char *cmd)
{
	if (!cmd) {
		fputs(overview, f);
	} else if (!strcmp(cmd, "list")) {
		fprintf(f, "%s%s", list_help, common);
	} else if (!strcmp(cmd, "run")) {
		fprintf(f, "%s%s", run_help, common);
	} else if (!strcmp(cmd, "validate")) {
		fprintf(f, "%s%s", validate_help, common);
	} else if (!strcmp(cmd, "report")) {
		fputs(report_help, f);
	} else if (!strcmp(cmd, "burn")) {
		fputs(burn_help, f);
	} else if (!strcmp(cmd, "history")) {
		fputs(history_help, f);
	} else if (!strcmp(cmd, "show")) {
		fputs(show_help, f);
	} else if (!strcmp(cmd, "compare")) {
		fputs(compare_help, f);
	} else if (!strcmp(cmd, "export")) {
		fputs(export_help, f);
	} else if (!strcmp(cmd, "serve")) {
		fprintf(f, "%s%s", serve_help, common);
	} else if (!strcmp(cmd, "top")) {
		fprintf(f, "%s%s", top_help, common);
	} else if (!strcmp(cmd, "help")) {
		fputs("usage: joulestat help [COMMAND]\n", f);
	} else {
		return -1;
	}
	return 0;
}
