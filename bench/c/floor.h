/* Shared by the two floor programs: arguments, timing, the result line.
 *
 * Both programs make the minimal set of xenstore requests `list -l` needs per
 * domain (see README.md) and print one line:
 *   requests=<n> bytes=<value and name bytes> domains=<n> elapsed_ns=<t> ns_per_request=<t/n>
 * so that their counts and bytes can be compared and their times set side by side.
 */
#ifndef FLOOR_H
#define FLOOR_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct floor_args {
	int vcpus;             /* -c N: read cpu/<i> for i < N; -1: list cpu/ first */
	int all;               /* domids come from /local/domain */
	unsigned ndomids;
	unsigned *domids;
};

struct floor_stats {
	uint64_t requests;
	uint64_t bytes;
	unsigned domains;
};

static void floor_usage(const char *program)
{
	fprintf(stderr,
		"usage: %s [-c VCPUS] all | DOMID...\n"
		"  xenstored socket: $XENSTORED_PATH, else ${XENSTORED_RUNDIR:-/var/run/xenstored}/socket\n",
		program);
	exit(2);
}

static void floor_parse_args(int argc, char **argv, struct floor_args *args)
{
	int i = 1;

	args->vcpus = -1;
	args->all = 0;
	args->ndomids = 0;
	if (i + 1 < argc && strcmp(argv[i], "-c") == 0) {
		char *end;
		long vcpus = strtol(argv[i + 1], &end, 10);
		if (*end || vcpus < 0 || vcpus > 4096)
			floor_usage(argv[0]);
		args->vcpus = (int)vcpus;
		i += 2;
	}
	if (i >= argc)
		floor_usage(argv[0]);
	if (strcmp(argv[i], "all") == 0) {
		if (i + 1 != argc)
			floor_usage(argv[0]);
		args->all = 1;
		args->domids = NULL;
		return;
	}
	args->domids = calloc((size_t)(argc - i), sizeof(*args->domids));
	if (!args->domids)
		abort();
	for (; i < argc; i++) {
		char *end;
		long domid = strtol(argv[i], &end, 10);
		if (*end || !*argv[i] || domid < 0 || domid > 0x7fef)
			floor_usage(argv[0]);
		args->domids[args->ndomids++] = (unsigned)domid;
	}
}

static uint64_t floor_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void floor_report(const struct floor_stats *stats, uint64_t elapsed_ns)
{
	printf("requests=%llu bytes=%llu domains=%u elapsed_ns=%llu ns_per_request=%.0f\n",
	       (unsigned long long)stats->requests, (unsigned long long)stats->bytes,
	       stats->domains, (unsigned long long)elapsed_ns,
	       stats->requests ? (double)elapsed_ns / (double)stats->requests : 0.0);
}

/* Node names from /local/domain that are domids; anything else is skipped. */
static int floor_parse_domid(const char *name, unsigned *domid)
{
	char *end;
	long value = strtol(name, &end, 10);
	if (*end || !*name || value < 0 || value > 0x7fef)
		return 0;
	*domid = (unsigned)value;
	return 1;
}

#endif
