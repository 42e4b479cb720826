// Entry point: exports the Connection and Watcher classes, flock, the
// one-call file steps of the userdata lock and template read, and the hook
// through which JS hands over its XenStoreError class.
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
static Napi::Error SystemError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  std::string code = ErrnoCode(err);
  Napi::Error error = Napi::Error::New(env, code + ": " + uv_strerror(-err) + ", " + syscall + " '" + path + "'");
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.Set("path", Napi::String::New(env, path));
  return error;
}

// A few file system calls on the libuv pool, settled as one promise: the
// per-domain file steps of `list -l` cost one crossing each instead of one
// per system call, and none of them blocks the JS thread.
class FileWorker : public Napi::AsyncWorker {
 public:
  FileWorker(Napi::Env env, std::string path)
      : Napi::AsyncWorker(env, "xen-domconfig:file"), deferred_(Napi::Promise::Deferred::New(env)), path_(std::move(path)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  // The result once Execute() succeeded (main thread).
  virtual Napi::Value Result(Napi::Env env) = 0;
  // Called instead of Result() when JS can no longer run: give back what is held.
  virtual void Abandon() {}

  bool Fail(const char* syscall) {
    err_ = errno;
    syscall_ = syscall;
    return false;
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (!JsCallable(env)) return Abandon();
    if (err_ != 0) {
      deferred_.Reject(SystemError(env, err_, syscall_, path_).Value());
    } else {
      deferred_.Resolve(Result(env));
    }
  }

  Napi::Promise::Deferred deferred_;
  const std::string path_;
  int err_ = 0;
  const char* syscall_ = "";
};

// One attempt of libxl's lock step: open(O_RDWR|O_CREAT, 0666) unless an
// fd of an earlier busy attempt is given, flock(LOCK_EX|LOCK_NB), and the
// check that the path still names the locked inode (a previous holder may
// have unlinked it). Resolves to { state: 'held' | 'busy', fd } or
// { state: 'replaced' }; the fd is closed when replaced or on failure.
class TryLockWorker : public FileWorker {
 public:
  TryLockWorker(Napi::Env env, std::string path, int fd) : FileWorker(env, std::move(path)), fd_(fd) {}

  void Execute() override {
    if (fd_ < 0) fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd_ < 0) {
      Fail("open");
      return;
    }
    state_ = Attempt();
    if (state_ == nullptr || strcmp(state_, "replaced") == 0) {
      close(fd_);
      fd_ = -1;
    }
  }

 private:
  // "held", "busy", "replaced", or nullptr on failure (err_ set).
  const char* Attempt() {
    if (FlockRetrying(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) return "busy";
      Fail("flock");
      return nullptr;
    }
    struct stat held, current;
    if (fstat(fd_, &held) != 0) {
      Fail("fstat");
      return nullptr;
    }
    if (stat(path_.c_str(), &current) != 0) {
      if (errno == ENOENT) return "replaced";
      Fail("stat");
      return nullptr;
    }
    return held.st_dev == current.st_dev && held.st_ino == current.st_ino ? "held" : "replaced";
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    result.Set("state", Napi::String::New(env, state_));
    if (fd_ >= 0) result.Set("fd", Napi::Number::New(env, fd_));
    return result;
  }

  void Abandon() override {
    if (fd_ >= 0) close(fd_);
  }

  int fd_;
  const char* state_ = nullptr;
};

// libxl's release: unlink (already gone is fine), then close; an unlink
// failure is reported once the fd is closed.
class UnlockWorker : public FileWorker {
 public:
  UnlockWorker(Napi::Env env, std::string path, int fd) : FileWorker(env, std::move(path)), fd_(fd) {}

  void Execute() override {
    int unlinked = unlink(path_.c_str());
    int unlink_errno = errno;
    if (close(fd_) != 0 && errno != EINTR) Fail("close");
    if (unlinked != 0 && unlink_errno != ENOENT) {
      errno = unlink_errno;
      Fail("unlink");
    }
  }

 private:
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

  const int fd_;
};

// A small file's bytes: open (no symlinks; O_NONBLOCK so a FIFO fails
// instead of hanging a pool thread), read to the end, close. More than
// max_bytes fails with EFBIG.
class ReadFileWorker : public FileWorker {
 public:
  ReadFileWorker(Napi::Env env, std::string path, size_t max_bytes) : FileWorker(env, std::move(path)), max_bytes_(max_bytes) {}

  void Execute() override {
    int fd = open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      Fail("open");
      return;
    }
    ReadAll(fd);
    close(fd);
  }

 private:
  void ReadAll(int fd) {
    static constexpr size_t kFirstChunk = 16 * 1024;
    bytes_.resize(kFirstChunk);
    size_t used = 0;
    for (;;) {
      if (used == bytes_.size()) bytes_.resize(bytes_.size() * 2);
      ssize_t n = read(fd, bytes_.data() + used, bytes_.size() - used);
      if (n < 0) {
        if (errno == EINTR) continue;
        Fail("read");
        return;
      }
      if (n == 0) break;
      used += static_cast<size_t>(n);
      if (used > max_bytes_) {
        errno = EFBIG;
        Fail("read");
        return;
      }
    }
    bytes_.resize(used);
  }

  Napi::Value Result(Napi::Env env) override { return Napi::Buffer<char>::Copy(env, bytes_.data(), bytes_.size()); }

  const size_t max_bytes_;
  std::vector<char> bytes_;
};

static std::string FilePathArg(const Napi::Value& value) {
  std::string path = StringArg(value, "path");
  if (path.empty() || path.find('\0') != std::string::npos) {
    ThrowTypeError(value.Env(), "ERR_INVALID_ARG_VALUE", "The \"path\" argument must be a non-empty string without NUL bytes");
  }
  return path;
}

template <typename Worker, typename... Args>
static Napi::Value QueueFileWorker(Napi::Env env, Args&&... args) {
  auto* worker = new Worker(env, std::forward<Args>(args)...);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// tryLockFile(path, fd?) → Promise<{ state, fd? }>
static Napi::Value TryLockFile(const Napi::CallbackInfo& info) {
  std::string path = FilePathArg(info[0]);
  int fd = info[1].IsUndefined() ? -1 : static_cast<int>(UintArg(info[1], "fd", INT32_MAX));
  return QueueFileWorker<TryLockWorker>(info.Env(), std::move(path), fd);
}

// unlockFile(path, fd) → Promise<void>
static Napi::Value UnlockFile(const Napi::CallbackInfo& info) {
  std::string path = FilePathArg(info[0]);
  int fd = static_cast<int>(UintArg(info[1], "fd", INT32_MAX));
  return QueueFileWorker<UnlockWorker>(info.Env(), std::move(path), fd);
}

// readSmallFile(path, maxBytes) → Promise<Buffer>
static Napi::Value ReadSmallFile(const Napi::CallbackInfo& info) {
  std::string path = FilePathArg(info[0]);
  size_t max_bytes = UintArg(info[1], "maxBytes", INT32_MAX);
  return QueueFileWorker<ReadFileWorker>(info.Env(), std::move(path), max_bytes);
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
  exports.Set("tryLockFile", Napi::Function::New(env, TryLockFile, "tryLockFile"));
  exports.Set("unlockFile", Napi::Function::New(env, UnlockFile, "unlockFile"));
  exports.Set("readSmallFile", Napi::Function::New(env, ReadSmallFile, "readSmallFile"));
  exports.Set("setErrorConstructor", Napi::Function::New(env, SetErrorConstructor, "setErrorConstructor"));
  exports.Set("libraryStatus", Napi::Function::New(env, LibraryStatus, "libraryStatus"));
  return exports;
}

}  // namespace xdc

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return xdc::Init(env, exports); }
NODE_API_MODULE(xen_domconfig, InitAddon)
