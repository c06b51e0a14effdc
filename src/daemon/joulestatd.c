/*
 * joulestatd: opens the energy counters only root may read (RAPL's energy_uj
 * since Linux 5.10, MSRs, the perf power PMU), drops every privilege, and
 * serves readings to permitted local users over a Unix socket, no finer in
 * time than its resolution for anyone but root. No network listener, ever.
 * docs/daemon.md is its manual.
 */
#include "joulestatd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/joulestat/joulestat.sock"
#define DEFAULT_CONFIG "/etc/joulestat/joulestatd.conf"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: joulestatd [OPTIONS]\n"
	        "Serve energy counters only root may read to permitted local users.\n\n"
	        "  -s, --socket PATH      listen here (default " DEFAULT_SOCKET ")\n"
	        "  -f, --foreground       stay in the foreground, log to stderr (containers)\n"
	        "  -c, --config FILE      access file (default " DEFAULT_CONFIG ", if present)\n"
	        "  -u, --user NAME        run as this user once the sources are open\n"
	        "                         (default: joulestatd if it exists, else nobody)\n"
	        "      --allow-user WHO   let this user (name or uid) read; repeatable\n"
	        "      --allow-group WHO  let members of this group read; repeatable\n"
	        "                         (default: group joulestat, where it exists)\n"
	        "  -r, --resolution-ms N  distinct readings at most every N ms for users other\n"
	        "                         than root (default 10; 0 to 60000)\n"
	        "  -b, --backends LIST    sources to try, first that answers wins\n"
	        "                         (default rapl,rapl-perf,rapl-msr)\n"
	        "  -O, --option KEY=VAL   a backend option (sysfs.root=/sys)\n"
	        "      --max-clients N    connections at once (default 1024)\n"
	        "      --max-per-user N   connections of one user at once (default 256)\n"
	        "      --pidfile PATH     write the pid here once it serves (privileges dropped)\n"
	        "  -h, --help\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	if (!*s || *s == '-')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out > max ? -1 : 0;
}

static int add_option(struct jstd_settings *s, const char *kv)
{
	size_t n = strlen(kv) + 1;
	if (!strchr(kv, '=') || s->options_len + n + 1 > sizeof s->options)
		return -1;
	memcpy(s->options + s->options_len, kv, n);
	s->options_len += n;
	s->options[s->options_len] = 0;
	return 0;
}

static int parse_args(int argc, char **argv, struct jstd_settings *s, int *explicit_access)
{
	enum { O_ALLOW_USER = 256, O_ALLOW_GROUP, O_MAX_CLIENTS, O_MAX_PER_USER, O_PIDFILE };
	static const struct option longs[] = {
	    {"socket", required_argument, 0, 's'},
	    {"foreground", no_argument, 0, 'f'},
	    {"config", required_argument, 0, 'c'},
	    {"user", required_argument, 0, 'u'},
	    {"allow-user", required_argument, 0, O_ALLOW_USER},
	    {"allow-group", required_argument, 0, O_ALLOW_GROUP},
	    {"resolution-ms", required_argument, 0, 'r'},
	    {"backends", required_argument, 0, 'b'},
	    {"option", required_argument, 0, 'O'},
	    {"max-clients", required_argument, 0, O_MAX_CLIENTS},
	    {"max-per-user", required_argument, 0, O_MAX_PER_USER},
	    {"pidfile", required_argument, 0, O_PIDFILE},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	int opt;
	unsigned long v = 0;
	while ((opt = getopt_long(argc, argv, "s:fc:u:r:b:O:h", longs, NULL)) != -1) {
		int r = 0;
		switch (opt) {
		case 's':
			s->socket_path = optarg;
			break;
		case 'f':
			s->foreground = 1;
			break;
		case 'c':
			s->config = optarg;
			break;
		case 'u':
			s->user = optarg;
			break;
		case O_ALLOW_USER:
			r = jstd_allow_user(s, optarg);
			*explicit_access = 1;
			break;
		case O_ALLOW_GROUP:
			r = jstd_allow_group(s, optarg);
			*explicit_access = 1;
			break;
		case 'r':
			r = parse_uint(optarg, 60000, &v);
			s->resolution_ns = (uint64_t)v * 1000000u;
			break;
		case 'b':
			s->backends = optarg;
			break;
		case 'O':
			r = add_option(s, optarg);
			break;
		case O_MAX_CLIENTS:
			r = parse_uint(optarg, 65536, &v) || v == 0 ? -1 : 0;
			s->max_clients = (unsigned)v;
			break;
		case O_MAX_PER_USER:
			r = parse_uint(optarg, 65536, &v) || v == 0 ? -1 : 0;
			s->max_per_user = (unsigned)v;
			break;
		case O_PIDFILE:
			s->pidfile = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (r) {
			fprintf(stderr, "joulestatd: %s: %s\n", optarg ? optarg : "",
			        r == -ENOENT ? "no such user or group" : "not a valid value");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "joulestatd: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* systemd socket activation: the socket arrives as fd 3. */
static int activated_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid() || strcmp(fds, "1") != 0)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	fcntl(3, F_SETFD, FD_CLOEXEC);
	fcntl(3, F_SETFL, fcntl(3, F_GETFL) | O_NONBLOCK);
	return 3;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!path)
		return -1;
	if (strlen(path) >= sizeof sa.sun_path) {
		fprintf(stderr, "joulestatd: %s: too long for a socket path\n", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* Its directory, as systemd's RuntimeDirectory would make it. */
	char dir[sizeof sa.sun_path];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0755) && errno != EEXIST) {
			fprintf(stderr, "joulestatd: %s: %s\n", dir, strerror(errno));
			return -1;
		}
	}
	/* A socket left by an earlier run; anything else at the path is kept. */
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) ||
	    /* Anyone may connect: who may read is decided on the peer's credentials,
	     * and one who may not is told why rather than refused by the mode. */
	    chmod(path, 0666) || listen(fd, 128)) {
		fprintf(stderr, "joulestatd: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Become an unprivileged user for good: no groups, no capabilities (a
 * setuid from root clears them), no way to gain any back. */
static int drop_privileges(const char *user)
{
	if (geteuid() != 0 || !user[0])
		return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	struct passwd *pw = getpwnam(user);
	if (!pw || pw->pw_uid == 0) {
		fprintf(stderr, "joulestatd: --user %s: %s\n", user,
		        pw ? "is root: nothing would be dropped" : "no such user");
		return -1;
	}
	if (setgroups(0, NULL) || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		fprintf(stderr, "joulestatd: dropping to %s: %s\n", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		fprintf(stderr, "joulestatd: still able to become root after dropping\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct jstd_settings s = {
	    .socket_path = DEFAULT_SOCKET,
	    .backends = "rapl,rapl-perf,rapl-msr",
	    .resolution_ns = 10000000,
	    .max_clients = 1024,
	    .max_per_user = 256,
	};
	int explicit_access = 0;
	if (parse_args(argc, argv, &s, &explicit_access))
		return 2;
	if (!s.user)
		s.user = getpwnam("joulestatd") ? "joulestatd" : "nobody";
	if (s.config ? jstd_config_load(&s, s.config)
	             : access(DEFAULT_CONFIG, F_OK) == 0 && jstd_config_load(&s, DEFAULT_CONFIG))
		return 2;
	if (!explicit_access && !s.config)
		(void)jstd_allow_group(&s, "joulestat");

	struct jstd_sources *src = NULL;
	int rc = jstd_sources_open(&s, &src);
	if (rc) {
		fprintf(stderr, "joulestatd: no source to serve (%s)\n", strerror(-rc));
		return 1;
	}
	int lfd = activated_socket();
	if (lfd >= 0)
		s.socket_path = "the socket systemd passed";
	else
		lfd = listen_on(s.socket_path);
	if (lfd < 0) {
		jstd_sources_close(src);
		return 1;
	}
	if (!s.foreground && daemon(0, 0)) {
		perror("joulestatd: daemon");
		return 1;
	}
	/* The pid file is made while the daemon may still write where it lies,
	 * and filled once privileges are dropped: whoever waits for the pid finds
	 * a daemon that serves with none. */
	FILE *pf = NULL;
	if (s.pidfile && !(pf = fopen(s.pidfile, "we"))) {
		fprintf(stderr, "joulestatd: %s: %s\n", s.pidfile, strerror(errno));
		return 1;
	}
	if (drop_privileges(s.user)) {
		if (pf)
			fclose(pf);
		return 1;
	}
	if (pf && (fprintf(pf, "%ld\n", (long)getpid()) < 0 || fclose(pf))) {
		fprintf(stderr, "joulestatd: %s: %s\n", s.pidfile, strerror(errno));
		return 1;
	}
	fprintf(stderr, "joulestatd: serving %zu domains (%s) on %s\n", jstd_sources_count(src),
	        jstd_sources_domain(src, 0)->via, s.socket_path);
	rc = jstd_serve(&s, src, lfd);
	close(lfd);
	jstd_sources_close(src);
	return rc ? 1 : 0;
}
