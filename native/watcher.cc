// Watcher: one libxenstore handle opened with XS_UNWATCH_FILTER, used only
// for watches. libxenstore's reader thread queues events and makes
// xs_fileno() readable; a uv_poll on that fd drains xs_check_watch until
// EAGAIN and hands the batch to JS as [path, token, path, token, …].
#include <uv.h>

#include <cerrno>
#include <cstdlib>

#include "addon.h"

namespace xdc {
namespace {

class Watcher : public Napi::ObjectWrap<Watcher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Watcher",
                       {
                           InstanceMethod<&Watcher::Watch>("watch"),
                           InstanceMethod<&Watcher::Unwatch>("unwatch"),
                           InstanceMethod<&Watcher::Close>("close"),
                       });
  }

  // new Watcher(path: string | undefined, onEvents: (events: string[] | null, error?: Error) => void)
  explicit Watcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Watcher>(info) {
    Napi::Env env = info.Env();
    if (!info[1].IsFunction()) ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"onEvents\" argument must be a function");
    xs_ = RequireXenstore(env);
    handle_ = OpenOrThrow(env, xs_, info[0], kUnwatchFilter);
    int fd = xs_->fileno(handle_);
    uv_loop_t* loop = nullptr;
    if (fd < 0 || napi_get_uv_event_loop(env, &loop) != napi_ok) {
      int err = errno ? errno : EIO;
      xs_->close(handle_);
      handle_ = nullptr;
      Failure failure;
      failure.err = err;
      failure.syscall = "xs_fileno";
      ThrowXenStoreError(env, failure);
    }
    poll_ = new uv_poll_t;
    poll_->data = this;
    uv_poll_init(loop, poll_, fd);
    uv_poll_start(poll_, UV_READABLE, OnReadable);
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));  // only active watches keep the process alive
    on_events_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "xenstore.watch");
    napi_add_env_cleanup_hook(env, OnEnvCleanup, this);
    Ref();  // the poll callback needs this object until close()
  }

  ~Watcher() override { Shutdown(Teardown::kNo); }

 private:
  Napi::Value Watch(const Napi::CallbackInfo& info) {
    if (!handle_) ThrowClosed(info.Env(), "xs_watch");
    std::string path = PathArg(info[0], "path");
    std::string token = PathArg(info[1], "token");
    if (!xs_->watch(handle_, path.c_str(), token.c_str())) Throw(info.Env(), "xs_watch", path);
    if (active_++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Unwatch(const Napi::CallbackInfo& info) {
    if (!handle_) ThrowClosed(info.Env(), "xs_unwatch");
    std::string path = PathArg(info[0], "path");
    std::string token = PathArg(info[1], "token");
    bool ok = xs_->unwatch(handle_, path.c_str(), token.c_str());
    int err = errno;
    if (active_ > 0 && --active_ == 0) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    if (!ok) {
      errno = err;
      Throw(info.Env(), "xs_unwatch", path);
    }
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (handle_) {
      napi_remove_env_cleanup_hook(info.Env(), OnEnvCleanup, this);
      Shutdown(Teardown::kNo);
      Unref();
    }
    return info.Env().Undefined();
  }

  [[noreturn]] void Throw(Napi::Env env, const char* syscall, const std::string& path) {
    Failure failure;
    failure.err = errno ? errno : EIO;
    failure.syscall = syscall;
    failure.path = path;
    ThrowXenStoreError(env, failure);
  }

  enum class Teardown { kNo, kYes };

  // At environment teardown (a worker thread ending) the addon may be
  // unloaded before libuv runs close callbacks, so none of ours is passed
  // and the few bytes of the poll handle are left behind.
  static void OnEnvCleanup(void* self) { static_cast<Watcher*>(self)->Shutdown(Teardown::kYes); }

  void Shutdown(Teardown teardown) {
    if (!handle_) return;
    uv_poll_stop(poll_);
    if (teardown == Teardown::kYes) {
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), nullptr);
    } else {
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    }
    poll_ = nullptr;
    xs_->close(handle_);  // joins libxenstore's reader thread
    handle_ = nullptr;
    context_.reset();
  }

  static void OnReadable(uv_poll_t* poll, int status, int /*events*/) {
    static_cast<Watcher*>(poll->data)->Drain(status);
  }

  void Drain(int status) {
    if (!handle_) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (!JsCallable(env)) return;
    Napi::Value events = env.Null();
    Napi::Value error = env.Undefined();
    if (status < 0) {
      Failure failure;
      failure.err = -status;
      failure.syscall = "uv_poll";
      error = MakeXenStoreError(env, failure).Value();
    } else {
      Napi::Array batch = Napi::Array::New(env);
      uint32_t n = 0;
      for (;;) {
        char** event = xs_->check_watch(handle_);
        if (!event) {
          if (errno != EAGAIN) {
            Failure failure;
            failure.err = errno ? errno : EIO;
            failure.syscall = "xs_check_watch";
            error = MakeXenStoreError(env, failure).Value();
          }
          break;
        }
        batch.Set(n++, Napi::String::New(env, event[0]));  // XS_WATCH_PATH
        batch.Set(n++, Napi::String::New(env, event[1]));  // XS_WATCH_TOKEN
        free(event);
      }
      if (n == 0 && error.IsUndefined()) return;
      events = batch;
    }
    // Raw call: the callback's microtasks may stop the environment (a worker
    // calling process.exit()), and the node-addon-api wrapper would abort
    // the process while turning that into a C++ exception.
    napi_value argv[] = {events, error};
    napi_value result;
    napi_status called = napi_make_callback(env, *context_, Value(), on_events_.Value(), 2, argv, &result);
    if (called != napi_ok && JsCallable(env)) {
      napi_value exception;
      if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
    }
  }

  const XsApi* xs_ = nullptr;
  xs_handle* handle_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  uint32_t active_ = 0;
  Napi::FunctionReference on_events_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

}  // namespace

Napi::Function DefineWatcher(Napi::Env env) { return Watcher::Define(env); }

}  // namespace xdc
