/*
 * fakehv.c - LD_PRELOAD library that lets Debian's real C xenstored (Xen 4.17)
 * run on a machine without a hypervisor, for xen-domconfig's tests, demo and
 * benchmarks.
 *
 * xenstored needs very little of Xen when every client talks to it over its
 * Unix socket:
 *   - libxenctrl: xc_interface_open/close, xc_domain_getinfo. Every domid below
 *     DOMID_FIRST_RESERVED "exists" (so permissions may name any guest) unless
 *     it is listed in $FAKEHV_DEAD_DOMIDS (comma-separated).
 *   - libxenevtchn: a handle whose fd never becomes readable; ports are
 *     handed out by a counter; notify/unmask succeed.
 *   - libxengnttab: grant maps are anonymous pages (only used if a test
 *     introduces a domain).
 *   - /proc/xen/xsd_port and /proc/xen/xsd_kva: dom0's event channel and
 *     ring page, served from memfds so that dom0_init() succeeds.
 * Calls from xenstored into these libraries cross the PLT, so the definitions
 * here win over the real ones.
 *
 * The same library runs the OCaml oxenstored (--no-fork --config-file FILE,
 * with xenstored-kva/-port naming the /proc/xen files above), which also needs:
 *   - xc_domain_getinfolist (its Xenctrl.domain_getinfo), xc_get_last_error
 *     (its error path) and xc_map_foreign_range (an introduced domain's ring);
 *   - setrlimit: it raises RLIMIT_NOFILE to fs.nr_open, which fails with
 *     EPERM without CAP_SYS_RESOURCE; the request is clamped to the hard limit;
 *   - its run folder is compiled in as /var/run/xenstored: open, mkdir,
 *     unlink and AF_UNIX bind/connect of paths below it are redirected to
 *     $XENSTORED_RUNDIR (which C xenstored reads itself) when that is set.
 *
 * Build: gcc -O2 -Wall -Wextra -fPIC -shared -o libfakehv.so fakehv.c -ldl
 */
#define _GNU_SOURCE
#define XC_WANT_COMPAT_MAP_FOREIGN_API  /* xc_map_foreign_range */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define DOM0_EVTCHN_PORT "1"

/* ------------------------------------------------------------- libxenctrl */

static int dummy_handle;

xc_interface *xc_interface_open(xentoollog_logger *logger,
                                xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    (void)logger; (void)dombuild_logger; (void)open_flags;
    return (xc_interface *)&dummy_handle;
}

int xc_interface_close(xc_interface *xch)
{
    (void)xch;
    return 0;
}

static int domid_is_dead(uint32_t domid)
{
    const char *dead = getenv("FAKEHV_DEAD_DOMIDS");
    if (!dead)
        return 0;
    for (const char *p = dead; *p; ) {
        char *end;
        unsigned long d = strtoul(p, &end, 10);
        if (end == p)
            break;
        if (d == domid)
            return 1;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

/* xenstored asks about one domain at a time and checks info->domid. */
int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid,
                      unsigned int max_doms, xc_dominfo_t *info)
{
    (void)xch;
    if (max_doms == 0 || first_domid >= DOMID_FIRST_RESERVED)
        return 0;
    uint32_t domid = first_domid;
    while (domid < DOMID_FIRST_RESERVED && domid_is_dead(domid))
        domid++;
    if (domid >= DOMID_FIRST_RESERVED)
        return 0;
    memset(info, 0, sizeof(*info));
    info->domid = domid;
    info->running = 1;
    info->max_vcpu_id = 0;
    info->nr_online_vcpus = 1;
    return 1;
}

/* oxenstored asks with max_doms 1 and checks info->domain. */
int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain,
                          unsigned int max_domains, xc_domaininfo_t *info)
{
    xc_dominfo_t one;
    unsigned int n = 0;
    uint32_t domid = first_domain;
    while (n < max_domains && xc_domain_getinfo(xch, domid, 1, &one) == 1) {
        memset(&info[n], 0, sizeof(info[n]));
        info[n].domain = (domid_t)one.domid;
        info[n].flags = XEN_DOMINF_running;
        n++;
        domid = one.domid + 1;
    }
    return (int)n;
}

/* oxenstored's stubs report a failed call with the handle's last error. */
const xc_error *xc_get_last_error(xc_interface *xch)
{
    static const xc_error none = { .code = XC_ERROR_NONE };
    (void)xch;
    return &none;
}

/* An introduced domain's ring page, as for the grant maps below. */
void *xc_map_foreign_range(xc_interface *xch, uint32_t dom, int size, int prot,
                           unsigned long mfn)
{
    (void)xch; (void)dom; (void)mfn;
    void *page = mmap(NULL, (size_t)size, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return page == MAP_FAILED ? NULL : page;
}

/* ----------------------------------------------------------- libxenevtchn */

struct xenevtchn_handle {
    int fd;
    evtchn_port_t next_port;
};

xenevtchn_handle *xenevtchn_open(xentoollog_logger *logger, unsigned open_flags)
{
    (void)logger; (void)open_flags;
    xenevtchn_handle *xce = calloc(1, sizeof(*xce));
    if (!xce)
        return NULL;
    xce->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);   /* never signalled */
    xce->next_port = 10;
    if (xce->fd < 0) {
        free(xce);
        return NULL;
    }
    return xce;
}

xenevtchn_handle *xenevtchn_fdopen(xentoollog_logger *logger, int fd,
                                   unsigned open_flags)
{
    (void)fd;
    return xenevtchn_open(logger, open_flags);
}

int xenevtchn_close(xenevtchn_handle *xce)
{
    if (xce) {
        close(xce->fd);
        free(xce);
    }
    return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce) { return xce->fd; }

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    (void)xce; (void)port;
    return 0;
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
    (void)virq;
    return xce->next_port++;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
                                                     evtchn_port_t remote_port)
{
    (void)domid; (void)remote_port;
    return xce->next_port++;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    (void)xce; (void)port;
    return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    uint64_t drained;
    (void)!read(xce->fd, &drained, sizeof(drained));
    return -1;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    (void)xce; (void)port;
    return 0;
}

/* ------------------------------------------------------------ libxengnttab */

xengnttab_handle *xengnttab_open(xentoollog_logger *logger, unsigned open_flags)
{
    (void)logger; (void)open_flags;
    return (xengnttab_handle *)&dummy_handle;
}

int xengnttab_close(xengnttab_handle *xgt)
{
    (void)xgt;
    return 0;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
    (void)xgt; (void)nr_grants;
    return 0;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot)
{
    (void)xgt; (void)domid; (void)ref;
    void *page = mmap(NULL, XC_PAGE_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return page == MAP_FAILED ? NULL : page;
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
    (void)xgt;
    return munmap(start_address, (size_t)count * XC_PAGE_SIZE);
}

/* --------------------------------------------------- /proc/xen/xsd_{port,kva} */

static int memfd_with(const char *name, const void *data, size_t len, size_t size)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)size) < 0 || (len && pwrite(fd, data, len, 0) != (ssize_t)len)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int fake_proc_xen(const char *path)
{
    if (strcmp(path, "/proc/xen/xsd_port") == 0)
        return memfd_with("xsd_port", DOM0_EVTCHN_PORT, strlen(DOM0_EVTCHN_PORT),
                          strlen(DOM0_EVTCHN_PORT));
    if (strcmp(path, "/proc/xen/xsd_kva") == 0)
        return memfd_with("xsd_kva", NULL, 0, XC_PAGE_SIZE);
    return -2;
}

/* ------------------------------------------------- /var/run/xenstored/... */

#define COMPILED_RUNDIR "/var/run/xenstored"

/* path, or the same path below $XENSTORED_RUNDIR if it lies below
 * COMPILED_RUNDIR; NULL (errno ENAMETOOLONG) if that does not fit in buf. */
static const char *rundir_path(const char *path, char *buf, size_t size)
{
    const char *rundir = getenv("XENSTORED_RUNDIR");
    size_t len = strlen(COMPILED_RUNDIR);
    if (!rundir || !path || strncmp(path, COMPILED_RUNDIR, len) != 0 ||
        (path[len] != '/' && path[len] != '\0'))
        return path;
    if ((size_t)snprintf(buf, size, "%s%s", rundir, path + len) >= size) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    return buf;
}

#define REAL(ret, sym, ...) ((ret (*)(__VA_ARGS__))dlsym(RTLD_NEXT, sym))

int unlink(const char *path)
{
    char buf[PATH_MAX];
    path = rundir_path(path, buf, sizeof(buf));
    return path ? REAL(int, "unlink", const char *)(path) : -1;
}

int mkdir(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    path = rundir_path(path, buf, sizeof(buf));
    return path ? REAL(int, "mkdir", const char *, mode_t)(path, mode) : -1;
}

/* addr, or a copy in *buf naming the redirected socket path. */
static const struct sockaddr *rundir_sockaddr(const struct sockaddr *addr, socklen_t *len,
                                              struct sockaddr_un *buf)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
    char path[sizeof(un->sun_path) + 1] = "";
    if (!addr || addr->sa_family != AF_UNIX || *len <= offsetof(struct sockaddr_un, sun_path))
        return addr;
    size_t n = *len - offsetof(struct sockaddr_un, sun_path);
    memcpy(path, un->sun_path, n < sizeof(un->sun_path) ? n : sizeof(un->sun_path));
    const char *to = rundir_path(path, buf->sun_path, sizeof(buf->sun_path));
    if (to == path)
        return addr;
    if (!to)
        return NULL;
    buf->sun_family = AF_UNIX;
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(to) + 1);
    return (const struct sockaddr *)buf;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct sockaddr_un buf;
    addr = rundir_sockaddr(addr, &len, &buf);
    return addr ? REAL(int, "bind", int, const struct sockaddr *, socklen_t)(fd, addr, len) : -1;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct sockaddr_un buf;
    addr = rundir_sockaddr(addr, &len, &buf);
    return addr ? REAL(int, "connect", int, const struct sockaddr *, socklen_t)(fd, addr, len) : -1;
}

/* ------------------------------------------------------------------- open */

/* open() and open64() are both exported by glibc; xenstored may call either. */
static int open_or_fake(const char *sym, const char *path, int flags, va_list ap)
{
    char buf[PATH_MAX];
    int fd = fake_proc_xen(path);
    if (fd != -2)
        return fd;
    if (!(path = rundir_path(path, buf, sizeof(buf))))
        return -1;
    int (*real)(const char *, int, ...) = REAL(int, sym, const char *, int, ...);
    if (flags & (O_CREAT | O_TMPFILE))
        return real(path, flags, va_arg(ap, mode_t));
    return real(path, flags);
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int fd = open_or_fake("open", path, flags, ap);
    va_end(ap);
    return fd;
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int fd = open_or_fake("open64", path, flags, ap);
    va_end(ap);
    return fd;
}

/* -------------------------------------------------------------- setrlimit */

/* oxenstored sets RLIMIT_NOFILE to fs.nr_open and exits if that fails. */
int setrlimit(__rlimit_resource_t resource, const struct rlimit *rlim)
{
    int (*real)(__rlimit_resource_t, const struct rlimit *) =
        REAL(int, "setrlimit", __rlimit_resource_t, const struct rlimit *);
    struct rlimit now, clamped;
    if (real(resource, rlim) == 0)
        return 0;
    if (errno != EPERM || getrlimit(resource, &now) < 0 || rlim->rlim_max <= now.rlim_max)
        return -1;
    clamped.rlim_max = now.rlim_max;
    clamped.rlim_cur = rlim->rlim_cur < now.rlim_max ? rlim->rlim_cur : now.rlim_max;
    return real(resource, &clamped);
}
