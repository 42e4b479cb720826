// Connection: a small pool of libxenstore handles. libxenstore serialises the
// requests of one handle, so async callers are spread over the pool; a
// transaction stays on the handle that started it (xenstored binds
// transactions to the connection). Every request, sync or async, is parsed on
// the main thread into a Request, run by Execute (on the libuv pool when
// async) and turned into JS values by ToJS.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "addon.h"

namespace xdc {
namespace {

// The request kinds, by ordinal, with the names `constants.ops` reports them
// by (lib/native.ts refuses an addon whose list differs from NativeOp).
#define XDC_OPS(X)                            \
  X(kRead, "read")                            \
  X(kReadBuffer, "readBuffer")                \
  X(kWrite, "write")                          \
  X(kDirectory, "directory")                  \
  X(kMkdir, "mkdir")                          \
  X(kRm, "rm")                                \
  X(kGetPermissions, "getPermissions")        \
  X(kSetPermissions, "setPermissions")        \
  X(kReadMany, "readMany")                    \
  X(kReadTree, "readTree")                    \
  X(kGetDomainPath, "getDomainPath")          \
  X(kIsDomainIntroduced, "isDomainIntroduced") \
  X(kTransactionStart, "transactionStart")    \
  X(kTransactionEnd, "transactionEnd")        \
  X(kBatch, "batch")

enum class Op : uint32_t {
#define XDC_OP_ID(id, name) id,
  XDC_OPS(XDC_OP_ID)
#undef XDC_OP_ID
  kCount,
};

constexpr const char* kOpNames[] = {
#define XDC_OP_NAME(id, name) name,
    XDC_OPS(XDC_OP_NAME)
#undef XDC_OP_NAME
};
constexpr uint32_t kMaxDomid = 0xFFFF;
constexpr size_t kMaxBatch = 1 << 20;
constexpr size_t kMaxTreeNodes = 1 << 20;

struct MallocFree {
  void operator()(void* p) const { free(p); }
};

struct Bytes {
  std::unique_ptr<char, MallocFree> data;  // null: the node does not exist
  unsigned int len = 0;
};

struct TreeEntry {
  std::string name;
  Bytes value;
  uint32_t children = 0;
};

struct Request {
  Op op = Op::kRead;
  int slot = -1;
  xs_transaction_t tx = 0;
  std::string path;
  std::string data;                   // write
  std::vector<std::string> paths;     // readMany
  std::vector<xs_permissions> perms;  // setPermissions
  uint32_t number = 0;                // domid, or the abort flag of transactionEnd
  std::vector<Request> steps;         // batch
};

struct Result {
  bool failed = false;
  Failure failure;
  Bytes value;  // read, readBuffer, getDomainPath
  std::unique_ptr<char*, MallocFree> names;
  unsigned int count = 0;  // directory
  std::unique_ptr<xs_permissions, MallocFree> perms;
  std::vector<Bytes> values;     // readMany
  std::vector<TreeEntry> tree;   // readTree, preorder
  bool flag = false;             // isDomainIntroduced
  xs_transaction_t tx = 0;       // transactionStart
  std::vector<Result> steps;     // batch
};

void Fail(Result& out, int err, const char* syscall, const std::string& path) {
  out.failed = true;
  out.failure.err = err ? err : EIO;
  out.failure.syscall = syscall;
  out.failure.path = path;
}

std::string ChildPath(const std::string& parent, const char* name) {
  std::string path = parent;
  if (path.empty() || path.back() != '/') path += '/';
  path += name;
  return path;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Reads a subtree depth first. Nodes that vanish between the directory
// listing and their own read are skipped (their parent's count is fixed up).
void ReadTree(const XsApi* xs, xs_handle* h, const Request& r, Result& out) {
  struct Pending {
    std::string path;
    std::string name;
    size_t parent;  // index in out.tree, SIZE_MAX for the root
  };
  std::vector<Pending> stack;
  stack.push_back({r.path, BaseName(r.path), SIZE_MAX});
  while (!stack.empty()) {
    Pending item = std::move(stack.back());
    stack.pop_back();
    if (out.tree.size() >= kMaxTreeNodes) return Fail(out, E2BIG, "xs_read", r.path);
    unsigned int len = 0;
    void* value = xs->read(h, r.tx, item.path.c_str(), &len);
    if (!value) {
      if (errno != ENOENT) return Fail(out, errno, "xs_read", item.path);
      if (item.parent == SIZE_MAX) return;  // no root: undefined
      out.tree[item.parent].children--;
      continue;
    }
    size_t index = out.tree.size();
    out.tree.push_back({std::move(item.name), {std::unique_ptr<char, MallocFree>(static_cast<char*>(value)), len}, 0});
    unsigned int num = 0;
    std::unique_ptr<char*, MallocFree> names(xs->directory(h, r.tx, item.path.c_str(), &num));
    if (!names) {
      if (errno != ENOENT) return Fail(out, errno, "xs_directory", item.path);
      num = 0;
    }
    out.tree[index].children = num;
    for (unsigned int i = num; i-- > 0;) {
      stack.push_back({ChildPath(item.path, names.get()[i]), names.get()[i], index});
    }
  }
}

void Execute(const XsApi* xs, xs_handle* h, const Request& r, Result& out) {
  const char* path = r.path.c_str();
  switch (r.op) {
    case Op::kRead:
    case Op::kReadBuffer: {
      void* value = xs->read(h, r.tx, path, &out.value.len);
      if (value) {
        out.value.data.reset(static_cast<char*>(value));
      } else if (errno != ENOENT) {
        Fail(out, errno, "xs_read", r.path);
      }
      break;
    }
    case Op::kWrite:
      if (!xs->write(h, r.tx, path, r.data.data(), static_cast<unsigned int>(r.data.size()))) {
        Fail(out, errno, "xs_write", r.path);
      }
      break;
    case Op::kDirectory:
      out.names.reset(xs->directory(h, r.tx, path, &out.count));
      if (!out.names && errno != ENOENT) Fail(out, errno, "xs_directory", r.path);
      break;
    case Op::kMkdir:
      if (!xs->mkdir(h, r.tx, path)) Fail(out, errno, "xs_mkdir", r.path);
      break;
    case Op::kRm:
      if (!xs->rm(h, r.tx, path)) Fail(out, errno, "xs_rm", r.path);
      break;
    case Op::kGetPermissions:
      out.perms.reset(xs->get_permissions(h, r.tx, path, &out.count));
      if (!out.perms) Fail(out, errno, "xs_get_permissions", r.path);
      break;
    case Op::kSetPermissions: {
      std::vector<xs_permissions> perms = r.perms;  // libxenstore takes a non-const array
      if (!xs->set_permissions(h, r.tx, path, perms.data(), static_cast<unsigned int>(perms.size()))) {
        Fail(out, errno, "xs_set_permissions", r.path);
      }
      break;
    }
    case Op::kReadMany:
      out.values.resize(r.paths.size());
      for (size_t i = 0; i < r.paths.size(); i++) {
        Bytes& slot = out.values[i];
        void* value = xs->read(h, r.tx, r.paths[i].c_str(), &slot.len);
        if (value) {
          slot.data.reset(static_cast<char*>(value));
        } else if (errno != ENOENT) {
          return Fail(out, errno, "xs_read", r.paths[i]);
        }
      }
      break;
    case Op::kReadTree:
      ReadTree(xs, h, r, out);
      break;
    case Op::kGetDomainPath: {
      char* domain_path = xs->get_domain_path(h, r.number);
      if (!domain_path) return Fail(out, errno, "xs_get_domain_path", "");
      out.value.data.reset(domain_path);
      out.value.len = static_cast<unsigned int>(strlen(domain_path));
      break;
    }
    case Op::kIsDomainIntroduced:
      // false means "not introduced" or a failed request; errno tells them apart.
      errno = 0;
      out.flag = xs->is_domain_introduced(h, r.number);
      if (!out.flag && errno != 0) Fail(out, errno, "xs_is_domain_introduced", "");
      break;
    case Op::kTransactionStart:
      out.tx = xs->transaction_start(h);
      if (out.tx == 0) Fail(out, errno, "xs_transaction_start", "");
      break;
    case Op::kTransactionEnd:
      if (!xs->transaction_end(h, r.tx, r.number != 0)) Fail(out, errno, "xs_transaction_end", "");
      break;
    case Op::kBatch:
      // One after another on this handle; an rm of a node already gone is
      // done, any other failure ends the batch with that step's error.
      out.steps.resize(r.steps.size());
      for (size_t i = 0; i < r.steps.size(); i++) {
        Result& step = out.steps[i];
        Execute(xs, h, r.steps[i], step);
        if (!step.failed) continue;
        if (r.steps[i].op == Op::kRm && step.failure.err == ENOENT) continue;
        out.failed = true;
        out.failure = step.failure;
        return;
      }
      break;
    case Op::kCount:
      break;
  }
}

Napi::Value BytesToString(Napi::Env env, const Bytes& bytes) {
  if (!bytes.data) return env.Undefined();
  return Napi::String::New(env, bytes.data.get(), bytes.len);
}

Napi::Value ToJS(Napi::Env env, const Request& r, Result& out, int slot) {
  switch (r.op) {
    case Op::kRead:
    case Op::kGetDomainPath:
      return BytesToString(env, out.value);
    case Op::kReadBuffer:
      if (!out.value.data) return env.Undefined();
      return Napi::Buffer<char>::Copy(env, out.value.data.get(), out.value.len);
    case Op::kDirectory: {
      if (!out.names) return env.Undefined();
      Napi::Array names = Napi::Array::New(env, out.count);
      for (unsigned int i = 0; i < out.count; i++) names.Set(i, Napi::String::New(env, out.names.get()[i]));
      return names;
    }
    case Op::kGetPermissions: {
      // Flat [domid, bits, domid, bits, …], owner first.
      Napi::Array flat = Napi::Array::New(env, out.count * 2);
      for (unsigned int i = 0; i < out.count; i++) {
        flat.Set(2 * i, Napi::Number::New(env, out.perms.get()[i].id));
        flat.Set(2 * i + 1, Napi::Number::New(env, out.perms.get()[i].perms));
      }
      return flat;
    }
    case Op::kReadMany: {
      Napi::Array values = Napi::Array::New(env, out.values.size());
      for (size_t i = 0; i < out.values.size(); i++) values.Set(i, BytesToString(env, out.values[i]));
      return values;
    }
    case Op::kReadTree: {
      // [names and values interleaved, child counts], preorder.
      if (out.tree.empty()) return env.Undefined();
      Napi::Array strings = Napi::Array::New(env, out.tree.size() * 2);
      Napi::Uint32Array counts = Napi::Uint32Array::New(env, out.tree.size());
      for (size_t i = 0; i < out.tree.size(); i++) {
        const TreeEntry& entry = out.tree[i];
        strings.Set(2 * i, Napi::String::New(env, entry.name));
        strings.Set(2 * i + 1, BytesToString(env, entry.value));
        counts[i] = entry.children;
      }
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, strings);
      pair.Set(1u, counts);
      return pair;
    }
    case Op::kIsDomainIntroduced:
      return Napi::Boolean::New(env, out.flag);
    case Op::kTransactionStart: {
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::Number::New(env, slot));
      pair.Set(1u, Napi::Number::New(env, out.tx));
      return pair;
    }
    case Op::kBatch: {
      Napi::Array results = Napi::Array::New(env, out.steps.size());
      for (size_t i = 0; i < out.steps.size(); i++) results.Set(i, ToJS(env, r.steps[i], out.steps[i], slot));
      return results;
    }
    default:
      return env.Undefined();
  }
}

class Connection;

class RequestWorker : public Napi::AsyncWorker {
 public:
  RequestWorker(Napi::Env env, Connection* connection, Request request);
  Napi::Promise Promise() const { return deferred_.Promise(); }
  void Execute() override;
  void OnOK() override;

 private:
  Napi::Promise::Deferred deferred_;
  Connection* connection_;
  Request request_;
  Result result_;
};

class Connection : public Napi::ObjectWrap<Connection> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Connection",
                       {
                           InstanceMethod<&Connection::RequestSync>("request"),
                           InstanceMethod<&Connection::RequestAsync>("requestAsync"),
                           InstanceMethod<&Connection::Close>("close"),
                           InstanceAccessor<&Connection::PoolSize>("poolSize"),
                           InstanceAccessor<&Connection::Closed>("closed"),
                       });
  }

  // new Connection(path: string | undefined, poolSize: number)
  explicit Connection(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Connection>(info) {
    Napi::Env env = info.Env();
    uint32_t size = UintArg(info[1], "poolSize", kMaxPoolSize);
    if (size == 0) ThrowTypeError(env, "ERR_OUT_OF_RANGE", "The \"poolSize\" argument must be at least 1");
    xs_ = RequireXenstore(env);
    try {
      for (uint32_t i = 0; i < size; i++) handles_.push_back(OpenOrThrow(env, xs_, info[0], 0));
    } catch (...) {
      CloseHandles();
      throw;
    }
    inflight_.assign(size, 0);
  }

  ~Connection() override { CloseHandles(); }

  // Runs on a libuv thread (async) or the main thread (sync).
  void Run(const Request& request, Result& result) { Execute(xs_, handles_[request.slot], request, result); }

  // Main thread, after an async request finished.
  void Finished(const Request& request, bool js_callable) {
    inflight_[request.slot]--;
    total_inflight_--;
    Unref();
    if (closed_ && total_inflight_ == 0) FinishClose(js_callable);
  }

 private:
  Request Parse(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) ThrowClosed(env, "xs_request");
    Request r;
    uint32_t op = UintArg(info[0], "op", static_cast<uint32_t>(Op::kCount) - 1);
    r.op = static_cast<Op>(op);
    r.slot = PickSlot(info[1]);
    r.tx = UintArg(info[2], "tx", UINT32_MAX);
    if (r.tx != 0 && r.slot < 0) {
      ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", "a transaction needs the slot that started it");
    }
    if (r.slot < 0) r.slot = LeastBusySlot();
    ParseArgs(env, r, info[3], info[4]);
    return r;
  }

  // The path and argument of one request (or of each step of a batch).
  static void ParseArgs(Napi::Env env, Request& r, const Napi::Value& path, const Napi::Value& arg) {
    switch (r.op) {
      case Op::kWrite:
        r.path = PathArg(path, "path");
        if (arg.IsString()) {
          r.data = arg.As<Napi::String>().Utf8Value();
        } else if (arg.IsTypedArray() && arg.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
          Napi::Uint8Array bytes = arg.As<Napi::Uint8Array>();
          r.data.assign(reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength());
        } else {
          ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"value\" argument must be a string or a Buffer");
        }
        if (r.data.size() > kPayloadMax) {
          Failure failure;
          failure.err = E2BIG;
          failure.syscall = "xs_write";
          failure.path = r.path;
          failure.detail = "value of " + std::to_string(r.data.size()) + " bytes exceeds the " +
                           std::to_string(kPayloadMax) + "-byte payload limit";
          ThrowXenStoreError(env, failure);
        }
        break;
      case Op::kSetPermissions: {
        r.path = PathArg(path, "path");
        if (!arg.IsArray()) ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"perms\" argument must be an array");
        Napi::Array flat = arg.As<Napi::Array>();
        uint32_t length = flat.Length();
        if (length == 0 || length % 2 != 0 || length > 2 * kPayloadMax) {
          ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", "The \"perms\" argument must hold [domid, bits] pairs");
        }
        for (uint32_t i = 0; i < length; i += 2) {
          r.perms.push_back(
              {UintArg(flat.Get(i), "domid", kMaxDomid), UintArg(flat.Get(i + 1), "bits", kPermRead | kPermWrite)});
        }
        break;
      }
      case Op::kReadMany: {
        if (!arg.IsArray()) ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"paths\" argument must be an array");
        Napi::Array paths = arg.As<Napi::Array>();
        uint32_t length = paths.Length();
        if (length > kMaxBatch) ThrowTypeError(env, "ERR_OUT_OF_RANGE", "too many paths in one batch");
        r.paths.reserve(length);
        for (uint32_t i = 0; i < length; i++) r.paths.push_back(PathArg(paths.Get(i), "paths[]"));
        break;
      }
      case Op::kGetDomainPath:
      case Op::kIsDomainIntroduced:
        r.number = UintArg(arg, "domid", kMaxDomid);
        break;
      case Op::kTransactionStart:
        if (r.tx != 0) ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", "transactions do not nest");
        break;
      case Op::kTransactionEnd:
        if (r.tx == 0) ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", "no transaction to end");
        r.number = arg.ToBoolean().Value() ? 1 : 0;
        break;
      case Op::kBatch: {
        // [op, path, arg, op, path, arg, …] of the steps a batch may hold.
        if (!arg.IsArray()) ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"steps\" argument must be an array");
        Napi::Array flat = arg.As<Napi::Array>();
        uint32_t length = flat.Length();
        if (length % 3 != 0) ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", "The \"steps\" argument must hold [op, path, arg] triples");
        if (length / 3 > kMaxBatch) ThrowTypeError(env, "ERR_OUT_OF_RANGE", "too many steps in one batch");
        r.steps.resize(length / 3);
        for (uint32_t i = 0; i < length; i += 3) {
          Request& step = r.steps[i / 3];
          step.op = static_cast<Op>(UintArg(flat.Get(i), "op", static_cast<uint32_t>(Op::kCount) - 1));
          if (!IsBatchStep(step.op)) ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", "a batch holds reads, writes, directories, mkdirs, rms and setPermissions");
          step.slot = r.slot;
          step.tx = r.tx;
          ParseArgs(env, step, flat.Get(i + 1), flat.Get(i + 2));
        }
        break;
      }
      default:
        r.path = PathArg(path, "path");
        break;
    }
  }

  static bool IsBatchStep(Op op) {
    return op == Op::kRead || op == Op::kWrite || op == Op::kDirectory || op == Op::kMkdir || op == Op::kRm ||
           op == Op::kSetPermissions;
  }

  int PickSlot(const Napi::Value& value) {
    if (value.IsNumber() && value.As<Napi::Number>().DoubleValue() == -1) return -1;
    return static_cast<int>(UintArg(value, "slot", static_cast<uint32_t>(handles_.size()) - 1));
  }

  int LeastBusySlot() {
    size_t n = handles_.size();
    size_t best = next_slot_ % n;
    for (size_t k = 1; k < n && inflight_[best] != 0; k++) {
      size_t i = (next_slot_ + k) % n;
      if (inflight_[i] < inflight_[best]) best = i;
    }
    next_slot_ = best + 1;
    return static_cast<int>(best);
  }

  Napi::Value RequestSync(const Napi::CallbackInfo& info) {
    Request request = Parse(info);
    Result result;
    Run(request, result);
    if (result.failed) ThrowXenStoreError(info.Env(), result.failure);
    return ToJS(info.Env(), request, result, request.slot);
  }

  Napi::Value RequestAsync(const Napi::CallbackInfo& info) {
    Request request = Parse(info);
    inflight_[request.slot]++;
    total_inflight_++;
    Ref();  // kept alive until the worker finishes
    auto* worker = new RequestWorker(info.Env(), this, std::move(request));
    worker->Queue();
    return worker->Promise();
  }

  // Refuses new requests at once; resolves when in-flight ones are done and
  // the handles are closed.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Promise::Deferred done = Napi::Promise::Deferred::New(info.Env());
    closed_ = true;
    if (total_inflight_ == 0) {
      CloseHandles();
      done.Resolve(info.Env().Undefined());
    } else {
      close_waiters_.push_back(done);
    }
    return done.Promise();
  }

  void FinishClose(bool js_callable) {
    CloseHandles();
    std::vector<Napi::Promise::Deferred> waiters;
    waiters.swap(close_waiters_);
    if (js_callable) {
      for (auto& waiter : waiters) waiter.Resolve(Env().Undefined());
    }
  }

  void CloseHandles() {
    for (xs_handle* h : handles_) xs_->close(h);
    handles_.clear();
  }

  Napi::Value PoolSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(inflight_.size()));
  }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_); }

  const XsApi* xs_ = nullptr;
  std::vector<xs_handle*> handles_;
  std::vector<uint32_t> inflight_;
  uint32_t total_inflight_ = 0;
  size_t next_slot_ = 0;
  bool closed_ = false;
  std::vector<Napi::Promise::Deferred> close_waiters_;
};

RequestWorker::RequestWorker(Napi::Env env, Connection* connection, Request request)
    : Napi::AsyncWorker(env, "xenstore"),
      deferred_(Napi::Promise::Deferred::New(env)),
      connection_(connection),
      request_(std::move(request)) {}

void RequestWorker::Execute() { connection_->Run(request_, result_); }

void RequestWorker::OnOK() {
  Napi::Env env = Env();
  if (!JsCallable(env)) return connection_->Finished(request_, false);
  // Settle first so the request's promise resolves before a pending close().
  struct FinishGuard {
    Connection* connection;
    const Request& request;
    ~FinishGuard() { connection->Finished(request, true); }
  } guard{connection_, request_};
  if (result_.failed) {
    deferred_.Reject(MakeXenStoreError(env, result_.failure).Value());
  } else {
    deferred_.Resolve(ToJS(env, request_, result_, request_.slot));
  }
}

}  // namespace

Napi::Function DefineConnection(Napi::Env env) { return Connection::Define(env); }

Napi::Object OpOrdinals(Napi::Env env) {
  Napi::Object ops = Napi::Object::New(env);
  for (uint32_t i = 0; i < static_cast<uint32_t>(Op::kCount); i++) ops.Set(kOpNames[i], Napi::Number::New(env, i));
  return ops;
}

}  // namespace xdc
