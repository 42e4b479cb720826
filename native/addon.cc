// Entry point: exports the Connection and Watcher classes, flock, the
// one-call file steps of the userdata lock and template read, the hook
// through which JS hands over its XenStoreError class, and `constants`: the
// numbers this build uses, which lib/native.ts checks against its own when
// it loads the addon.
#include "addon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <vector>

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

// The addon's own error codes, with the errno each carries.
static constexpr const char* kClosedCode = "ERR_XENSTORE_CLOSED";
static constexpr int kClosedErrno = EBADF;
static constexpr const char* kDlopenFailedCode = "ERR_DLOPEN_FAILED";
static constexpr int kDlopenFailedErrno = ENOENT;

void ThrowClosed(Napi::Env env, const char* syscall) {
  Failure failure;
  failure.err = kClosedErrno;
  failure.code = kClosedCode;
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
    failure.err = kDlopenFailedErrno;
    failure.code = kDlopenFailedCode;
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

static int FlockRetrying(int fd, int operation) {
  int rc;
  do {
    rc = flock(fd, operation);
  } while (rc != 0 && errno == EINTR);
  return rc;
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
  if (FlockRetrying(static_cast<int>(fd), operation) == 0) return Napi::Boolean::New(env, true);
  int err = errno;
  if (err == EWOULDBLOCK && (operation & LOCK_NB)) return Napi::Boolean::New(env, false);
  std::string code = ErrnoCode(err);
  Napi::Error error = Napi::Error::New(env, code + ": " + strerror(err) + ", flock");
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, "flock"));
  throw error;
}

// A failed system call as Node's fs reports it: code, negative errno,
// syscall, path, "ENOENT: no such file or directory, open '<path>'".
[[noreturn]] static void ThrowSystemError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  std::string code = ErrnoCode(err);
  Napi::Error error = Napi::Error::New(env, code + ": " + uv_strerror(-err) + ", " + syscall + " '" + path + "'");
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.Set("path", Napi::String::New(env, path));
  throw error;
}

// The file steps below are a few non-blocking system calls on local files
// each, done on the calling thread in one crossing: cheaper than a trip
// through the libuv pool per domain, whose thread wake-ups cost more CPU
// than the calls themselves.

static std::string FilePathArg(const Napi::Value& value) {
  std::string path = StringArg(value, "path");
  if (path.empty() || path.find('\0') != std::string::npos) {
    ThrowTypeError(value.Env(), "ERR_INVALID_ARG_VALUE", "The \"path\" argument must be a non-empty string without NUL bytes");
  }
  return path;
}

// One attempt of libxl's lock step on fd: flock(LOCK_EX|LOCK_NB), then
// whether path still names the locked inode (a previous holder may have
// unlinked it). "held", "busy", "replaced", or nullptr with errno and
// *syscall set.
static const char* AttemptLock(int fd, const std::string& path, const char** syscall) {
  if (FlockRetrying(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return "busy";
    *syscall = "flock";
    return nullptr;
  }
  struct stat held, current;
  if (fstat(fd, &held) != 0) {
    *syscall = "fstat";
    return nullptr;
  }
  if (stat(path.c_str(), &current) != 0) {
    if (errno == ENOENT) return "replaced";
    *syscall = "stat";
    return nullptr;
  }
  return held.st_dev == current.st_dev && held.st_ino == current.st_ino ? "held" : "replaced";
}

// tryLockFile(path, fd?) → { state: 'held' | 'busy', fd } | { state: 'replaced' }.
// Opens path O_RDWR|O_CREAT 0666 unless given the fd of a busy attempt; the
// fd is closed when replaced or on failure.
static Napi::Value TryLockFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = FilePathArg(info[0]);
  int fd = info[1].IsUndefined() ? -1 : static_cast<int>(UintArg(info[1], "fd", INT32_MAX));
  if (fd < 0) fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) ThrowSystemError(env, errno, "open", path);
  const char* syscall = "";
  const char* state = AttemptLock(fd, path, &syscall);
  if (state == nullptr || strcmp(state, "replaced") == 0) {
    int err = errno;
    close(fd);
    if (state == nullptr) ThrowSystemError(env, err, syscall, path);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("state", Napi::String::New(env, state));
  if (strcmp(state, "replaced") != 0) result.Set("fd", Napi::Number::New(env, fd));
  return result;
}

// unlockFile(path, fd): libxl's release, unlink (already gone is fine) then
// close; an unlink failure is thrown once the fd is closed.
static Napi::Value UnlockFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = FilePathArg(info[0]);
  int fd = static_cast<int>(UintArg(info[1], "fd", INT32_MAX));
  int unlinked = unlink(path.c_str());
  int unlink_errno = errno;
  if (close(fd) != 0 && errno != EINTR) ThrowSystemError(env, errno, "close", path);
  if (unlinked != 0 && unlink_errno != ENOENT) ThrowSystemError(env, unlink_errno, "unlink", path);
  return env.Undefined();
}

// Reads fd to its end into bytes; false with errno set on failure (EFBIG past max_bytes).
static bool ReadAll(int fd, size_t max_bytes, std::vector<char>& bytes) {
  static constexpr size_t kFirstChunk = 16 * 1024;
  bytes.resize(kFirstChunk);
  size_t used = 0;
  for (;;) {
    if (used == bytes.size()) bytes.resize(bytes.size() * 2);
    ssize_t n = read(fd, bytes.data() + used, bytes.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
    if (used > max_bytes) {
      errno = EFBIG;
      return false;
    }
  }
  bytes.resize(used);
  return true;
}

// readSmallFile(path, maxBytes) → Buffer: open (no symlinks; O_NONBLOCK so
// a FIFO cannot hang the thread), read to the end, close.
static Napi::Value ReadSmallFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = FilePathArg(info[0]);
  size_t max_bytes = UintArg(info[1], "maxBytes", INT32_MAX);
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) ThrowSystemError(env, errno, "open", path);
  std::vector<char> bytes;
  bool ok = ReadAll(fd, max_bytes, bytes);
  int err = errno;
  close(fd);
  if (!ok) ThrowSystemError(env, err, "read", path);
  return Napi::Buffer<char>::Copy(env, bytes.data(), bytes.size());
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

// The errno values libxenstore sets from xenstored's error replies (xsd_errors
// in xs_wire.h), reported under the names errors carry (ErrnoCode).
constexpr int kXenstoredErrnos[] = {EINVAL, EACCES, EEXIST,    EISDIR, ENOENT, ENOMEM,  ENOSPC, EIO,
                                    ENOTEMPTY, ENOSYS, EROFS, EBUSY, EAGAIN, EISCONN, E2BIG, EPERM};

static Napi::Object Constants(Napi::Env env) {
  Napi::Object permissions = Napi::Object::New(env);
  permissions.Set("read", kPermRead);
  permissions.Set("write", kPermWrite);
  Napi::Object errors = Napi::Object::New(env);
  for (int err : kXenstoredErrnos) errors.Set(ErrnoCode(err), err);
  errors.Set(kClosedCode, kClosedErrno);
  errors.Set(kDlopenFailedCode, kDlopenFailedErrno);
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("ops", OpOrdinals(env));
  constants.Set("maxPoolSize", kMaxPoolSize);
  constants.Set("payloadMax", static_cast<double>(kPayloadMax));
  constants.Set("permissions", permissions);
  constants.Set("errors", errors);
  return constants;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  exports.Set("Connection", DefineConnection(env));
  exports.Set("Watcher", DefineWatcher(env));
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  exports.Set("tryLockFile", Napi::Function::New(env, TryLockFile, "tryLockFile"));
  exports.Set("unlockFile", Napi::Function::New(env, UnlockFile, "unlockFile"));
  exports.Set("readSmallFile", Napi::Function::New(env, ReadSmallFile, "readSmallFile"));
  exports.Set("setErrorConstructor", Napi::Function::New(env, SetErrorConstructor, "setErrorConstructor"));
  exports.Set("libraryStatus", Napi::Function::New(env, LibraryStatus, "libraryStatus"));
  exports.Set("constants", Constants(env));
  return exports;
}

}  // namespace xdc

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return xdc::Init(env, exports); }
NODE_API_MODULE(xen_domconfig, InitAddon)
