// Shared pieces of the addon: per-environment data, errors, argument checks.
#pragma once

#include <napi.h>

#include <string>

#include "xenstore_api.h"

namespace xdc {

struct AddonData {
  Napi::FunctionReference error_constructor;  // XenStoreError, set from JS
};

// An error as JS sees it: a code ('ENOENT', 'ERR_XENSTORE_CLOSED', …), the
// errno (0 when none), the libxenstore call and the path involved.
struct Failure {
  int err = 0;
  std::string code;  // empty: derived from err
  const char* syscall = "";
  std::string path;
  std::string detail;  // replaces the strerror text in the message when set
};

// Builds a XenStoreError (or a plain Error before setErrorConstructor).
Napi::Error MakeXenStoreError(Napi::Env env, const Failure& failure);
[[noreturn]] void ThrowXenStoreError(Napi::Env env, const Failure& failure);
[[noreturn]] void ThrowClosed(Napi::Env env, const char* syscall);
[[noreturn]] void ThrowTypeError(Napi::Env env, const char* code, const std::string& message);

// Argument readers: throw TypeError ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE.
std::string PathArg(const Napi::Value& value, const char* name);
std::string StringArg(const Napi::Value& value, const char* name);
uint32_t UintArg(const Napi::Value& value, const char* name, uint32_t max);

// False once the environment can no longer run JS (a worker thread after
// process.exit() or terminate()): libuv callbacks then must not touch JS,
// or node-addon-api aborts the process while wrapping the failure.
bool JsCallable(napi_env env);

// Loads libxenstore or throws ERR_DLOPEN_FAILED naming every attempt.
const XsApi* RequireXenstore(Napi::Env env);

// Opens a handle or throws the errno of xs_open.
xs_handle* OpenOrThrow(Napi::Env env, const XsApi* xs, const Napi::Value& path_value, unsigned long flags);

// Most libxenstore handles one Connection holds.
constexpr uint32_t kMaxPoolSize = 64;

Napi::Function DefineConnection(Napi::Env env);
// Connection's request names → ordinals, for `constants.ops`.
Napi::Object OpOrdinals(Napi::Env env);
Napi::Function DefineWatcher(Napi::Env env);

}  // namespace xdc
