// Entry point: exports the Connection and Watcher classes, flock, and the
// hook through which JS hands over its XenStoreError class.
#include "addon.h"

#include <sys/file.h>
#include <uv.h>

#include <cerrno>
#include <cstring>

namespace xdc {

static const char* ErrnoCode(int err) { return uv_err_name(-err); }

Napi::Error MakeXenStoreError(Napi::Env env, const Failure& failure) {
  std::string code = failure.code.empty() ? ErrnoCode(failure.err) : failure.code;
  std::string message = code + ": " + (failure.detail.empty() ? strerror(failure.err) : failure.detail);
  if (*failure.syscall) message += std::string(", ") + failure.syscall;
  if (!failure.path.empty()) message += " '" + failure.path + "'";

  Napi::Object error;
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data && !data->error_constructor.IsEmpty()) {
    error = data->error_constructor.New({Napi::String::New(env, message)});
  } else {
    error = Napi::Error::New(env, message).Value();
  }
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, failure.err));
  error.Set("syscall", Napi::String::New(env, failure.syscall));
  if (!failure.path.empty()) error.Set("path", Napi::String::New(env, failure.path));
  return Napi::Error(env, error);
}

void ThrowXenStoreError(Napi::Env env, const Failure& failure) { throw MakeXenStoreError(env, failure); }

void ThrowClosed(Napi::Env env, const char* syscall) {
  Failure failure;
  failure.err = EBADF;
  failure.code = "ERR_XENSTORE_CLOSED";
  failure.syscall = syscall;
  failure.detail = "the xenstore connection is closed";
  ThrowXenStoreError(env, failure);
}

void ThrowTypeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  throw error;
}

std::string StringArg(const Napi::Value& value, const char* name) {
  if (!value.IsString()) {
    ThrowTypeError(value.Env(), "ERR_INVALID_ARG_TYPE", std::string("The \"") + name + "\" argument must be a string");
  }
  return value.As<Napi::String>().Utf8Value();
}

std::string PathArg(const Napi::Value& value, const char* name) {
  std::string path = StringArg(value, name);
  if (path.empty() || path.find('\0') != std::string::npos) {
    ThrowTypeError(value.Env(), "ERR_INVALID_ARG_VALUE",
                   std::string("The \"") + name + "\" argument must be a non-empty string without NUL bytes");
  }
  if (path.size() >= kPayloadMax) {
    Failure failure;
    failure.err = E2BIG;
    failure.detail = "path longer than the xenstore payload limit";
    failure.path = path.substr(0, 64) + "…";
    ThrowXenStoreError(value.Env(), failure);
  }
  return path;
}

uint32_t UintArg(const Napi::Value& value, const char* name, uint32_t max) {
  if (!value.IsNumber()) {
    ThrowTypeError(value.Env(), "ERR_INVALID_ARG_TYPE", std::string("The \"") + name + "\" argument must be a number");
  }
  double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= 0 && number <= max) || number != static_cast<double>(static_cast<uint32_t>(number))) {
    ThrowTypeError(value.Env(), "ERR_OUT_OF_RANGE",
                   std::string("The \"") + name + "\" argument must be an integer from 0 to " + std::to_string(max));
  }
  return static_cast<uint32_t>(number);
}

bool JsCallable(napi_env env) {
  // napi_set_element runs NAPI_PREAMBLE, which checks that JS can run.
  napi_value array;
  napi_value undefined;
  return napi_create_array(env, &array) == napi_ok && napi_get_undefined(env, &undefined) == napi_ok &&
         napi_set_element(env, array, 0, undefined) == napi_ok;
}

const XsApi* RequireXenstore(Napi::Env env) {
  std::string why;
  const XsApi* xs = LoadXenstore(&why);
  if (!xs) {
    Failure failure;
    failure.err = ENOENT;
    failure.code = "ERR_DLOPEN_FAILED";
    failure.syscall = "dlopen";
    failure.detail = why;
    ThrowXenStoreError(env, failure);
  }
  return xs;
}

xs_handle* OpenOrThrow(Napi::Env env, const XsApi* xs, const Napi::Value& path_value, unsigned long flags) {
  std::string path;
  bool explicit_path = !path_value.IsUndefined() && !path_value.IsNull();
  if (explicit_path) path = PathArg(path_value, "path");
  int err = 0;
  xs_handle* h = OpenXenstore(xs, explicit_path ? &path : nullptr, flags, &err);
  if (!h) {
    Failure failure;
    failure.err = err;
    failure.syscall = "xs_open";
    failure.path = path;
    ThrowXenStoreError(env, failure);
  }
  return h;
}

// flock(fd, 'ex' | 'ex-nb' | 'un') → true, or false when 'ex-nb' would block.
static Napi::Value Flock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t fd = UintArg(info[0], "fd", INT32_MAX);
  std::string op = StringArg(info[1], "op");
  int operation;
  if (op == "ex") {
    operation = LOCK_EX;
  } else if (op == "ex-nb") {
    operation = LOCK_EX | LOCK_NB;
  } else if (op == "un") {
    operation = LOCK_UN;
  } else {
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", "The \"op\" argument must be 'ex', 'ex-nb' or 'un'");
  }
  int rc;
  do {
    rc = flock(static_cast<int>(fd), operation);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) return Napi::Boolean::New(env, true);
  int err = errno;
  if (err == EWOULDBLOCK && (operation & LOCK_NB)) return Napi::Boolean::New(env, false);
  std::string code = ErrnoCode(err);
  Napi::Error error = Napi::Error::New(env, code + ": " + strerror(err) + ", flock");
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, "flock"));
  throw error;
}

static Napi::Value SetErrorConstructor(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", "expected a constructor");
  info.Env().GetInstanceData<AddonData>()->error_constructor = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// { loaded, library?, error? }: whether libxenstore can be loaded here.
static Napi::Value LibraryStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string why;
  Napi::Object status = Napi::Object::New(env);
  bool ok = LoadXenstore(&why) != nullptr;
  status.Set("loaded", Napi::Boolean::New(env, ok));
  if (ok) status.Set("library", Napi::String::New(env, LoadedXenstoreName()));
  if (!ok) status.Set("error", Napi::String::New(env, why));
  return status;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  exports.Set("Connection", DefineConnection(env));
  exports.Set("Watcher", DefineWatcher(env));
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  exports.Set("setErrorConstructor", Napi::Function::New(env, SetErrorConstructor, "setErrorConstructor"));
  exports.Set("libraryStatus", Napi::Function::New(env, LibraryStatus, "libraryStatus"));
  return exports;
}

}  // namespace xdc

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return xdc::Init(env, exports); }
NODE_API_MODULE(xen_domconfig, InitAddon)
