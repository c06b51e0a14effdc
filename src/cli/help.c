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
    "                    cross_validate, estimate, series_capacity); wins over the\n"
    "                    options above and over JOULESTAT_OPTIONS (see joulestat(1))\n";

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

static const char burn_help[] =
    "usage: joulestat burn [--seconds S] [--threads N]\n"
    "\n"
    "Busy floating-point arithmetic on N threads (default: every CPU) for S seconds\n"
    "(default 2): a known load to measure, as in  joulestat run -- joulestat burn\n";

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
	} else if (!strcmp(cmd, "burn")) {
		fputs(burn_help, f);
	} else if (!strcmp(cmd, "help")) {
		fputs("usage: joulestat help [COMMAND]\n", f);
	} else {
		return -1;
	}
	return 0;
}
