// libxenstore, loaded with dlopen at first use so that the addon installs and
// loads on machines without Xen. The declarations mirror xenstore.h and
// xenstore_lib.h (stable ABI since Xen 4.2, sonames .so.3.0 and .so.4).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace xdc {

using xs_transaction_t = uint32_t;
struct xs_handle;
struct xs_permissions {
  unsigned int id;
  unsigned int perms;
};

constexpr unsigned long kUnwatchFilter = 1UL << 2;  // XS_UNWATCH_FILTER
constexpr unsigned int kPermRead = 0x01;            // XS_PERM_READ
constexpr unsigned int kPermWrite = 0x02;           // XS_PERM_WRITE
constexpr size_t kPayloadMax = 4096;                // XENSTORE_PAYLOAD_MAX

struct XsApi {
  xs_handle* (*open)(unsigned long flags);
  void (*close)(xs_handle* h);
  void* (*read)(xs_handle* h, xs_transaction_t t, const char* path, unsigned int* len);
  bool (*write)(xs_handle* h, xs_transaction_t t, const char* path, const void* data, unsigned int len);
  char** (*directory)(xs_handle* h, xs_transaction_t t, const char* path, unsigned int* num);
  bool (*mkdir)(xs_handle* h, xs_transaction_t t, const char* path);
  bool (*rm)(xs_handle* h, xs_transaction_t t, const char* path);
  xs_permissions* (*get_permissions)(xs_handle* h, xs_transaction_t t, const char* path, unsigned int* num);
  bool (*set_permissions)(xs_handle* h, xs_transaction_t t, const char* path, xs_permissions* perms,
                          unsigned int num);
  bool (*watch)(xs_handle* h, const char* path, const char* token);
  int (*fileno)(xs_handle* h);
  char** (*check_watch)(xs_handle* h);
  bool (*unwatch)(xs_handle* h, const char* path, const char* token);
  xs_transaction_t (*transaction_start)(xs_handle* h);
  bool (*transaction_end)(xs_handle* h, xs_transaction_t t, bool abort);
  char* (*get_domain_path)(xs_handle* h, unsigned int domid);
  bool (*is_domain_introduced)(xs_handle* h, unsigned int domid);
};

// Loads libxenstore once per process (main thread). Returns nullptr and sets
// *error to a description of every attempt when it cannot be loaded.
const XsApi* LoadXenstore(std::string* error);

// The soname that was loaded, or "" before a successful load.
const char* LoadedXenstoreName();

// xs_open, optionally against an explicit socket or device path. libxenstore
// only reads the path from XENSTORED_PATH, so the variable is set around the
// call and restored afterwards (see xenstore_api.cc for why that is safe).
xs_handle* OpenXenstore(const XsApi* api, const std::string* path, unsigned long flags, int* err);

}  // namespace xdc
