/* The serial floor: the reads of `list -l`, one at a time on one libxenstore
 * handle, as libxl does them. */
#include <xenstore.h>
#include "floor.h"

static struct xs_handle *handle;
static struct floor_stats stats;

static void read_value(const char *path)
{
	unsigned int len;
	char *value = xs_read(handle, XBT_NULL, path, &len);
	stats.requests++;
	if (value)
		stats.bytes += len;
	free(value);
}

static char **list(const char *path, unsigned int *num)
{
	char **names = xs_directory(handle, XBT_NULL, path, num);
	stats.requests++;
	if (!names) {
		*num = 0;
		return NULL;
	}
	for (unsigned int i = 0; i < *num; i++)
		stats.bytes += strlen(names[i]) + 1;
	return names;
}

static void read_domain(unsigned domid, int vcpus)
{
	char path[512];
	static const char *const keys[] = { "name", "vm", "memory/target", "memory/static-max" };
	unsigned int ncpus, nkinds;

	for (unsigned k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		snprintf(path, sizeof(path), "/local/domain/%u/%s", domid, keys[k]);
		read_value(path);
	}
	if (vcpus < 0) {
		snprintf(path, sizeof(path), "/local/domain/%u/cpu", domid);
		free(list(path, &ncpus));
	} else {
		ncpus = (unsigned)vcpus;
	}
	for (unsigned i = 0; i < ncpus; i++) {
		snprintf(path, sizeof(path), "/local/domain/%u/cpu/%u/availability", domid, i);
		read_value(path);
	}

	/* The device dirs and their devids: the template names the devices, so
	 * no key under a device node is read (README.md). */
	snprintf(path, sizeof(path), "/libxl/%u/device", domid);
	char **kinds = list(path, &nkinds);
	for (unsigned k = 0; k < nkinds; k++) {
		unsigned int ndevs;
		if (!floor_known_dir(kinds[k], strlen(kinds[k])))
			continue;
		snprintf(path, sizeof(path), "/libxl/%u/device/%s", domid, kinds[k]);
		free(list(path, &ndevs));
	}
	free(kinds);
	stats.domains++;
}

int main(int argc, char **argv)
{
	struct floor_args args;

	floor_parse_args(argc, argv, &args);
	handle = xs_open(0);
	if (!handle) {
		perror("xs_open");
		return 1;
	}

	uint64_t start = floor_now_ns();
	unsigned int npci;
	if (args.all) {
		unsigned int n;
		char **names = list("/local/domain", &n);
		free(list(FLOOR_PCI_BACKENDS, &npci));
		for (unsigned int i = 0; i < n; i++) {
			unsigned domid;
			if (floor_parse_domid(names[i], &domid))
				read_domain(domid, floor_vcpus(&args, domid));
		}
		free(names);
	} else {
		free(list(FLOOR_PCI_BACKENDS, &npci));
		for (unsigned i = 0; i < args.ndomids; i++)
			read_domain(args.domids[i], floor_vcpus(&args, args.domids[i]));
	}
	uint64_t elapsed = floor_now_ns() - start;

	xs_close(handle);
	floor_report(&stats, elapsed);
	free(args.domids);
	return 0;
}
