/* The pipelined floor: the same reads as serial_floor, written to xenstored's
 * Unix socket in the wire protocol with up to WINDOW requests in flight, each
 * reply queueing the requests that depend on it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "floor.h"   /* before xs_wire.h, which needs <stdint.h> */
#include <xen/io/xs_wire.h>

#define WINDOW 256
#define HEADER_SIZE sizeof(struct xsd_sockmsg)
#define MESSAGE_MAX (HEADER_SIZE + XENSTORE_PAYLOAD_MAX)

/* What a reply leads to. */
enum action {
	A_VALUE,          /* a read: count its bytes */
	A_DOMAINS,        /* /local/domain: queue each domain's requests */
	A_DOMAINS_PART,   /* the same through DIRECTORY_PART, when the list is too long */
	A_CPUS,           /* cpu/: read cpu/<i>/availability for each */
	A_KINDS,          /* /libxl/D/device: list each kind */
	A_DEVS,           /* /libxl/D/device/<kind> (or dom0's pci backends): names, nothing below */
};

struct op {
	uint32_t type;
	enum action action;
	uint32_t offset;  /* DIRECTORY_PART offset */
	char *path;
};

static struct op *ops;
static size_t nops, ops_capacity, next_send, nanswered;
static struct floor_stats stats;
static struct floor_args args;

/* The /local/domain list read in parts. */
static char *domain_list;
static size_t domain_list_len;
static char domain_list_gen[32];

static void die(const char *what)
{
	fprintf(stderr, "pipelined_floor: %s\n", what);
	exit(1);
}

/* Queues a request; `counted` is false for DIRECTORY_PART continuations, which
 * libxenstore also hides inside one xs_directory call. */
static void push(uint32_t type, enum action action, uint32_t offset, int counted, const char *fmt, ...)
{
	va_list ap;
	char *path;

	va_start(ap, fmt);
	if (vasprintf(&path, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (nops == ops_capacity) {
		ops_capacity = ops_capacity ? ops_capacity * 2 : 1024;
		ops = realloc(ops, ops_capacity * sizeof(*ops));
		if (!ops)
			abort();
	}
	ops[nops++] = (struct op){ .type = type, .action = action, .offset = offset, .path = path };
	if (counted)
		stats.requests++;
}

static void push_domain(unsigned domid)
{
	static const char *const keys[] = { "name", "vm", "memory/target", "memory/static-max" };

	for (unsigned k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		push(XS_READ, A_VALUE, 0, 1, "/local/domain/%u/%s", domid, keys[k]);
	int vcpus = floor_vcpus(&args, domid);
	if (vcpus < 0)
		push(XS_DIRECTORY, A_CPUS, 0, 1, "/local/domain/%u/cpu", domid);
	else
		for (int i = 0; i < vcpus; i++)
			push(XS_READ, A_VALUE, 0, 1, "/local/domain/%u/cpu/%d/availability", domid, i);
	push(XS_DIRECTORY, A_KINDS, 0, 1, "/libxl/%u/device", domid);
	stats.domains++;
}

static void push_domains_from(const char *names, size_t len)
{
	for (size_t pos = 0; pos < len; pos += strlen(names + pos) + 1) {
		unsigned domid;
		if (!names[pos])
			continue;
		stats.bytes += strlen(names + pos) + 1;
		if (floor_parse_domid(names + pos, &domid))
			push_domain(domid);
	}
}

/* One DIRECTORY_PART reply: `gencnt|names…`, the last part ending in an extra NUL. */
static void domains_part(const char *payload, size_t len, uint32_t offset)
{
	size_t genlen = strnlen(payload, len);
	if (genlen >= sizeof(domain_list_gen) || genlen == len)
		die("bad DIRECTORY_PART reply");
	if (offset && strcmp(domain_list_gen, payload) != 0)
		offset = 0, domain_list_len = 0;           /* changed meanwhile: start over */
	memcpy(domain_list_gen, payload, genlen + 1);
	const char *part = payload + genlen + 1;
	size_t partlen = len - genlen - 1;
	domain_list = realloc(domain_list, domain_list_len + partlen + 1);
	if (!domain_list)
		abort();
	memcpy(domain_list + domain_list_len, part, partlen);
	domain_list_len += partlen;
	domain_list[domain_list_len] = 0;
	if (partlen == 1 || (partlen >= 2 && part[partlen - 2] == 0)) {
		push_domains_from(domain_list, domain_list_len);
		return;
	}
	push(XS_DIRECTORY_PART, A_DOMAINS_PART, 0, 0, "/local/domain");
	ops[nops - 1].offset = (uint32_t)domain_list_len;
}

static void handle_reply(const struct xsd_sockmsg *header, const char *payload)
{
	if (header->req_id == 0 || header->req_id > next_send)
		die("reply with an unknown req_id");
	struct op op = ops[header->req_id - 1];   /* a copy: push() may move ops */
	ops[header->req_id - 1].path = NULL;
	nanswered++;

	if (header->type == XS_ERROR) {
		if (op.action == A_DOMAINS && strncmp(payload, "E2BIG", header->len) == 0)
			push(XS_DIRECTORY_PART, A_DOMAINS_PART, 0, 0, "/local/domain");
		free(op.path);
		return;
	}
	if (header->type != op.type)
		die("reply type does not match the request");

	if (op.action == A_VALUE) {
		stats.bytes += header->len;
	} else if (op.action == A_DOMAINS_PART) {
		domains_part(payload, header->len, op.offset);
	} else {
		unsigned count = 0;
		for (size_t pos = 0; pos < header->len; pos += strnlen(payload + pos, header->len - pos) + 1) {
			const char *name = payload + pos;
			size_t namelen = strnlen(name, header->len - pos);
			if (!namelen)
				continue;
			stats.bytes += namelen + 1;
			switch (op.action) {
			case A_DOMAINS: {
				char copy[16];
				unsigned domid;
				if (namelen < sizeof(copy)) {
					memcpy(copy, name, namelen);
					copy[namelen] = 0;
					if (floor_parse_domid(copy, &domid))
						push_domain(domid);
				}
				break;
			}
			case A_CPUS:
				count++;
				break;
			case A_KINDS:
				if (floor_known_dir(name, namelen))
					push(XS_DIRECTORY, A_DEVS, 0, 1, "%s/%.*s", op.path, (int)namelen, name);
				break;
			default:
				break;
			}
		}
		if (op.action == A_CPUS) {
			/* op.path is /local/domain/D/cpu */
			for (unsigned i = 0; i < count; i++)
				push(XS_READ, A_VALUE, 0, 1, "%s/%u/availability", op.path, i);
		}
	}
	free(op.path);
}

static int connect_xenstored(void)
{
	const char *path = getenv("XENSTORED_PATH");
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	if (!path) {
		const char *rundir = getenv("XENSTORED_RUNDIR");
		snprintf(buf, sizeof(buf), "%s/socket", rundir ? rundir : "/var/run/xenstored");
		path = buf;
	}
	if (strlen(path) >= sizeof(addr.sun_path))
		die("socket path too long");
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror(path);
		exit(1);
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl");
	return fd;
}

static void run(int fd)
{
	static char out[WINDOW * MESSAGE_MAX];
	static char in[1 << 20];
	size_t out_start = 0, out_end = 0, in_len = 0;

	while (nanswered < nops) {
		if (out_start > 0) {
			memmove(out, out + out_start, out_end - out_start);
			out_end -= out_start;
			out_start = 0;
		}
		while (next_send < nops && next_send - nanswered < WINDOW) {
			const struct op *op = &ops[next_send];
			char offset[16] = "";
			size_t pathlen = strlen(op->path) + 1;
			size_t offsetlen = op->type == XS_DIRECTORY_PART
				? (size_t)snprintf(offset, sizeof(offset), "%u", op->offset) + 1 : 0;
			struct xsd_sockmsg header = {
				.type = op->type, .req_id = (uint32_t)(next_send + 1), .tx_id = 0,
				.len = (uint32_t)(pathlen + offsetlen),
			};
			if (header.len > XENSTORE_PAYLOAD_MAX)
				die("request too long");
			memcpy(out + out_end, &header, HEADER_SIZE);
			memcpy(out + out_end + HEADER_SIZE, op->path, pathlen);
			memcpy(out + out_end + HEADER_SIZE + pathlen, offset, offsetlen);
			out_end += HEADER_SIZE + header.len;
			next_send++;
		}

		struct pollfd pfd = { .fd = fd, .events = POLLIN | (out_end > out_start ? POLLOUT : 0) };
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pfd.revents & POLLOUT) {
			ssize_t n = write(fd, out + out_start, out_end - out_start);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				die("write");
			if (n > 0)
				out_start += (size_t)n;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(fd, in + in_len, sizeof(in) - in_len);
			if (n == 0)
				die("xenstored closed the connection");
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				die("read");
			}
			in_len += (size_t)n;
			size_t pos = 0;
			while (in_len - pos >= HEADER_SIZE) {
				struct xsd_sockmsg header;
				memcpy(&header, in + pos, HEADER_SIZE);
				if (header.len > XENSTORE_PAYLOAD_MAX)
					die("reply longer than XENSTORE_PAYLOAD_MAX");
				if (in_len - pos < HEADER_SIZE + header.len)
					break;
				if (header.type != XS_WATCH_EVENT)
					handle_reply(&header, in + pos + HEADER_SIZE);
				pos += HEADER_SIZE + header.len;
			}
			memmove(in, in + pos, in_len - pos);
			in_len -= pos;
		}
	}
}

int main(int argc, char **argv)
{
	floor_parse_args(argc, argv, &args);
	int fd = connect_xenstored();

	uint64_t start = floor_now_ns();
	if (args.all)
		push(XS_DIRECTORY, A_DOMAINS, 0, 1, "/local/domain");
	push(XS_DIRECTORY, A_DEVS, 0, 1, FLOOR_PCI_BACKENDS);
	if (!args.all)
		for (unsigned i = 0; i < args.ndomids; i++)
			push_domain(args.domids[i]);
	run(fd);
	uint64_t elapsed = floor_now_ns() - start;

	close(fd);
	floor_report(&stats, elapsed);
	free(args.domids);
	free(domain_list);
	free(ops);
	return 0;
}
