/* The C side of `npm run bench:xenstore`: xs_read of the given keys, one at a
 * time on one libxenstore handle, PASSES times over the list.
 *
 *   read_loop [-n PASSES] [-w WARMUP_PASSES] -f KEYFILE | KEY...
 *
 * KEYFILE holds one key per line. The warm-up passes are not timed. Every key
 * must exist: a failed read ends the program, so that the time is that of
 * reads that returned a value. Prints one line:
 *   reads=<n> keys=<k> passes=<p> bytes=<value bytes> elapsed_ns=<t> ns_per_read=<t/n> ns_per_pass=<t/p>
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

static void usage(const char *program)
{
	fprintf(stderr,
		"usage: %s [-n PASSES] [-w WARMUP_PASSES] -f KEYFILE | KEY...\n"
		"  xenstored socket: $XENSTORED_PATH, else ${XENSTORED_RUNDIR:-/var/run/xenstored}/socket\n",
		program);
	exit(2);
}

static long count_arg(const char *text, const char *program)
{
	char *end;
	long value = strtol(text, &end, 10);
	if (*end || !*text || value < 0 || value > 100000000)
		usage(program);
	return value;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The non-empty lines of path; their number goes to *count. */
static char **read_key_file(const char *path, unsigned *count)
{
	FILE *file = fopen(path, "r");
	char **keys = NULL, *line = NULL;
	size_t capacity = 0, size = 0;
	ssize_t len;

	if (!file) {
		perror(path);
		exit(1);
	}
	*count = 0;
	while ((len = getline(&line, &size, file)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (*count == capacity) {
			capacity = capacity ? 2 * capacity : 128;
			keys = realloc(keys, capacity * sizeof(*keys));
			if (!keys)
				abort();
		}
		keys[(*count)++] = strdup(line);
	}
	free(line);
	fclose(file);
	return keys;
}

static uint64_t read_pass(struct xs_handle *handle, char **keys, unsigned count)
{
	uint64_t bytes = 0;

	for (unsigned i = 0; i < count; i++) {
		unsigned int len;
		char *value = xs_read(handle, XBT_NULL, keys[i], &len);
		if (!value) {
			fprintf(stderr, "xs_read %s: %s\n", keys[i], strerror(errno));
			exit(1);
		}
		bytes += len;
		free(value);
	}
	return bytes;
}

int main(int argc, char **argv)
{
	long passes = 1, warmup = 0;
	const char *key_file = NULL;
	char **keys;
	unsigned count;
	int opt;

	while ((opt = getopt(argc, argv, "n:w:f:")) != -1) {
		switch (opt) {
		case 'n': passes = count_arg(optarg, argv[0]); break;
		case 'w': warmup = count_arg(optarg, argv[0]); break;
		case 'f': key_file = optarg; break;
		default: usage(argv[0]);
		}
	}
	if (passes < 1 || (key_file != NULL) == (optind < argc))
		usage(argv[0]);
	if (key_file) {
		keys = read_key_file(key_file, &count);
	} else {
		keys = argv + optind;
		count = (unsigned)(argc - optind);
	}
	if (count == 0)
		usage(argv[0]);

	struct xs_handle *handle = xs_open(0);
	if (!handle) {
		perror("xs_open");
		return 1;
	}
	for (long p = 0; p < warmup; p++)
		read_pass(handle, keys, count);

	uint64_t bytes = 0;
	uint64_t start = now_ns();
	for (long p = 0; p < passes; p++)
		bytes += read_pass(handle, keys, count);
	uint64_t elapsed = now_ns() - start;
	xs_close(handle);

	uint64_t reads = (uint64_t)passes * count;
	printf("reads=%llu keys=%u passes=%ld bytes=%llu elapsed_ns=%llu ns_per_read=%.0f ns_per_pass=%.0f\n",
	       (unsigned long long)reads, count, passes, (unsigned long long)bytes,
	       (unsigned long long)elapsed, (double)elapsed / (double)reads,
	       (double)elapsed / (double)passes);
	return 0;
}
