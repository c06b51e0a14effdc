/* Files named on the command line for --json, --csv and -o; "-" is stdout. */
#include "cli.h"

#include <errno.h>
#include <string.h>

FILE *jst_cli_output_open(const char *path)
{
	if (!strcmp(path, "-"))
		return stdout;
	/* "e": O_CLOEXEC, or the measured command would inherit the file. */
	FILE *f = fopen(path, "we");
	if (!f)
		jst_cli_error("cannot write '%s': %s", path, strerror(errno));
	return f;
}

int jst_cli_output_close(FILE *f, const char *path)
{
	if (!f)
		return 0;
	int bad = fflush(f) != 0 || ferror(f);
	int err = errno;
	if (f != stdout && fclose(f))
		bad = 1, err = errno;
	if (bad) {
		jst_cli_error("cannot write '%s': %s", path, strerror(err ? err : EIO));
		return -1;
	}
	return 0;
}
