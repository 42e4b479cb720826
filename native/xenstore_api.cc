#include "xenstore_api.h"

#include <dlfcn.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>

namespace xdc {
namespace {

XsApi api;
bool loaded = false;
std::string load_error;
const char* loaded_name = "";
// Held by every use of the environment in the addon: the getenv calls of
// LoadXenstore and of libxenstore's xs_open, and the setenv / unsetenv around
// an xs_open against an explicit path (OpenXenstore, below).
std::mutex env_mutex;

template <typename Fn>
bool Bind(void* lib, const char* name, Fn* slot, std::string* missing) {
  void* sym = dlsym(lib, name);
  if (!sym) {
    if (!missing->empty()) *missing += ", ";
    *missing += name;
    return false;
  }
  *slot = reinterpret_cast<Fn>(sym);
  return true;
}

bool BindAll(void* lib, std::string* missing) {
  bool ok = true;
  ok &= Bind(lib, "xs_open", &api.open, missing);
  ok &= Bind(lib, "xs_close", &api.close, missing);
  ok &= Bind(lib, "xs_read", &api.read, missing);
  ok &= Bind(lib, "xs_write", &api.write, missing);
  ok &= Bind(lib, "xs_directory", &api.directory, missing);
  ok &= Bind(lib, "xs_mkdir", &api.mkdir, missing);
  ok &= Bind(lib, "xs_rm", &api.rm, missing);
  ok &= Bind(lib, "xs_get_permissions", &api.get_permissions, missing);
  ok &= Bind(lib, "xs_set_permissions", &api.set_permissions, missing);
  ok &= Bind(lib, "xs_watch", &api.watch, missing);
  ok &= Bind(lib, "xs_fileno", &api.fileno, missing);
  ok &= Bind(lib, "xs_check_watch", &api.check_watch, missing);
  ok &= Bind(lib, "xs_unwatch", &api.unwatch, missing);
  ok &= Bind(lib, "xs_transaction_start", &api.transaction_start, missing);
  ok &= Bind(lib, "xs_transaction_end", &api.transaction_end, missing);
  ok &= Bind(lib, "xs_get_domain_path", &api.get_domain_path, missing);
  ok &= Bind(lib, "xs_is_domain_introduced", &api.is_domain_introduced, missing);
  return ok;
}

}  // namespace

const XsApi* LoadXenstore(std::string* error) {
  std::lock_guard<std::mutex> lock(env_mutex);  // worker threads load too, and it reads the environment
  if (loaded) return &api;
  if (!load_error.empty()) {
    *error = load_error;
    return nullptr;
  }
  // XEN_DOMCONFIG_LIBXENSTORE names one library to use instead of the sonames.
  static const char* const kSonames[] = {"libxenstore.so.4", "libxenstore.so.3.0"};
  const char* override_name = getenv("XEN_DOMCONFIG_LIBXENSTORE");
  const char* const* names = kSonames;
  size_t count = 2;
  if (override_name && *override_name) {
    names = &override_name;
    count = 1;
  }
  std::string attempts;
  for (size_t i = 0; i < count; i++) {
    void* lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* why = dlerror();
      attempts += std::string(attempts.empty() ? "" : "; ") + (why ? why : names[i]);
      continue;
    }
    std::string missing;
    if (BindAll(lib, &missing)) {
      loaded = true;
      loaded_name = names[i];
      return &api;
    }
    attempts += std::string(attempts.empty() ? "" : "; ") + names[i] + " lacks " + missing;
    dlclose(lib);
  }
  load_error = attempts;
  *error = load_error;
  return nullptr;
}

const char* LoadedXenstoreName() { return loaded_name; }

// Why the environment is written, and why that is safe enough:
//
// libxenstore (4.17, tools/libs/store/xs.c and xs_lib.c) has no way to open a
// handle on a given path: xs_open(flags) takes only flags (XS_UNWATCH_FILTER
// just marks the handle), reads the path with getenv("XENSTORED_PATH") (else
// XENSTORED_RUNDIR/socket, built in a static buffer, then the xenbus device)
// and fills a private struct xs_handle, so no fd of ours can be handed to it.
// An explicit path can only reach it through XENSTORED_PATH.
//
// Every open, with or without a path, holds env_mutex: concurrent opens (the
// main thread and worker threads each construct Connections and Watchers)
// neither see each other's value nor share libxenstore's static buffer. No
// other thread of the addon reads the environment meanwhile: the addon's only
// getenv outside xs_open is LoadXenstore's, under the same mutex; requests on
// the libuv pool and libxenstore's watch reader threads (xs_read, xs_watch, …)
// never call getenv. The variable is written only when the path differs from
// its current value, and restored at once.
//
// Node guards its own environment accesses (process.env from any thread,
// which a worker reads only with `env: SHARE_ENV`; otherwise a worker's
// process.env is a copy) with its own per-process mutex, which an addon
// cannot take. What Node's other threads could read unguarded meanwhile is
// libc's: getaddrinfo on the libuv pool when it reads the resolver settings
// (RES_OPTIONS, LOCALDOMAIN) and tzset (TZ). Replacing an existing variable
// only swaps one pointer in environ (glibc keeps the old string); adding or
// removing one moves the array, which is why it happens only for an explicit
// path that the environment does not name already.
xs_handle* OpenXenstore(const XsApi* xs, const std::string* path, unsigned long flags, int* err) {
  std::lock_guard<std::mutex> lock(env_mutex);
  auto open = [&] {
    errno = 0;
    xs_handle* h = xs->open(flags);
    *err = h ? 0 : (errno ? errno : ENOENT);
    return h;
  };
  const char* previous = getenv("XENSTORED_PATH");
  if (!path || (previous && *path == previous)) return open();
  bool had_previous = previous != nullptr;
  std::string saved = had_previous ? previous : "";
  setenv("XENSTORED_PATH", path->c_str(), 1);
  xs_handle* h = open();
  if (had_previous) {
    setenv("XENSTORED_PATH", saved.c_str(), 1);
  } else {
    unsetenv("XENSTORED_PATH");
  }
  return h;
}

}  // namespace xdc
