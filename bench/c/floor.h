/* Shared by the two floor programs: arguments, timing, the result line.
 *
 * Both programs make exactly the xenstore requests of a `list -l` of the
 * benchmark's domains (see README.md): /local/domain and dom0's pci backends
 * once, then per domain name, vm, memory/target and memory/static-max, the
 * vCPUs' availability, /libxl/D/device and each known device dir in it. They
 * print one line:
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
	int dom0_vcpus;        /* -0 N: the same for domain 0 (default: -c's) */
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
		"usage: %s [-c VCPUS] [-0 VCPUS] all | DOMID...\n"
		"  -c: the vCPUs whose availability is read (the templates' max_vcpus); without it cpu/ is listed first\n"
		"  -0: the same for domain 0\n"
		"  xenstored socket: $XENSTORED_PATH, else ${XENSTORED_RUNDIR:-/var/run/xenstored}/socket\n",
		program);
	exit(2);
}

static int floor_parse_vcpus(const char *text)
{
	char *end;
	long vcpus = strtol(text, &end, 10);
	if (*end || !*text || vcpus < 0 || vcpus > 4096)
		return -1;
	return (int)vcpus;
}

static void floor_parse_args(int argc, char **argv, struct floor_args *args)
{
	int i = 1;

	args->vcpus = -1;
	args->dom0_vcpus = -2;
	args->all = 0;
	args->ndomids = 0;
	while (i + 1 < argc && (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "-0") == 0)) {
		int vcpus = floor_parse_vcpus(argv[i + 1]);
		if (vcpus < 0)
			floor_usage(argv[0]);
		if (argv[i][1] == 'c')
			args->vcpus = vcpus;
		else
			args->dom0_vcpus = vcpus;
		i += 2;
	}
	if (args->dom0_vcpus == -2)
		args->dom0_vcpus = args->vcpus;
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

/* The vCPU count of one domain: -1 to list cpu/ first. */
static int floor_vcpus(const struct floor_args *args, unsigned domid)
{
	return domid == 0 ? args->dom0_vcpus : args->vcpus;
}

/* The device dirs under /libxl/D/device that `list -l` lists: those of the
 * device kinds it knows (test/xenstore/wire-floors.test.ts checks them
 * against the library's table); others, such as console, it never reads. */
static const char *const floor_device_dirs[] = {
	"vbd", "virtio_disk", "vif", "vtpm", "vusb", "vdispl", "vsnd", "vfb", "vkbd", "9pfs", "pvcalls",
};

static int floor_known_dir(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(floor_device_dirs) / sizeof(floor_device_dirs[0]); i++)
		if (strlen(floor_device_dirs[i]) == len && memcmp(floor_device_dirs[i], name, len) == 0)
			return 1;
	return 0;
}

/* Listed once per run, as a list of many domains does (the pci probe). */
#define FLOOR_PCI_BACKENDS "/local/domain/0/backend/pci"

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
