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

xs_handle* OpenXenstore(const XsApi* xs, const std::string* path, unsigned long flags, int* err) {
  std::lock_guard<std::mutex> lock(env_mutex);
  if (!path) {
    errno = 0;
    xs_handle* h = xs->open(flags);
    *err = h ? 0 : (errno ? errno : ENOENT);
    return h;
  }
  const char* previous = getenv("XENSTORED_PATH");
  std::string saved = previous ? previous : "";
  setenv("XENSTORED_PATH", path->c_str(), 1);
  errno = 0;
  xs_handle* h = xs->open(flags);
  *err = h ? 0 : (errno ? errno : ENOENT);
  if (previous) {
    setenv("XENSTORED_PATH", saved.c_str(), 1);
  } else {
    unsetenv("XENSTORED_PATH");
  }
  return h;
}

}  // namespace xdc
