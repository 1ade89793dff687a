// The built-in pod network's netfilter rules through libnftables (nft_run_cmd_from_buffer), in
// process: no `nft` or `iptables` process per pod. libnftables is loaded with dlopen on first
// use, so the addon still loads on a node without it (the built-in network then reports why
// it is not ready instead of the whole daemon failing to start).
//
// One context for the process, behind a mutex: an nft_ctx is not safe to share between
// threads, and calls run on libuv's pool.
//
// The context is made when the addon loads (the daemon loads it first thing), while the process
// has few descriptors open: its netlink socket is opened then and kept, and libnftables waits on
// it with select(), which glibc aborts the whole process for when the descriptor is 1024 or
// above. Made at the first pod instead, after a thousand client connections or kept stats
// descriptors, it took the daemon down ("bit out of range 0 - FD_SETSIZE on fd_set").
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <napi.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>
#include <mutex>
#include <set>
#include <string>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace nori {

namespace {

struct nft_ctx;

struct NftApi {
  nft_ctx* (*ctx_new)(uint32_t) = nullptr;
  int (*buffer_output)(nft_ctx*) = nullptr;
  int (*buffer_error)(nft_ctx*) = nullptr;
  const char* (*get_error_buffer)(nft_ctx*) = nullptr;
  const char* (*get_output_buffer)(nft_ctx*) = nullptr;
  int (*run_cmd_from_buffer)(nft_ctx*, const char*) = nullptr;
  nft_ctx* ctx = nullptr;
  std::string load_error;
};

std::mutex g_mu;
NftApi* g_api = nullptr;

std::set<int> OpenFds() {
  std::set<int> fds;
  DIR* d = opendir("/proc/self/fd");
  if (!d) return fds;
  int own = dirfd(d);  // the listing's own descriptor is free again afterwards
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = std::atoi(e->d_name);
    if (fd != own) fds.insert(fd);
  }
  closedir(d);
  return fds;
}

// libmnl opens the context's netlink socket without SOCK_CLOEXEC, and conmon, runc and every
// other child nori spawns would inherit it: the netlink sockets the context made are marked.
void CloseOnExecNewNetlinkSockets(const std::set<int>& before) {
  for (int fd : OpenFds()) {
    if (before.count(fd)) continue;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0 || ss.ss_family != AF_NETLINK) continue;
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

// Loads the library and makes the context once (under g_mu).
NftApi* Api() {
  if (g_api) return g_api;
  auto* api = new NftApi();
  g_api = api;
  std::set<int> before = OpenFds();  // the library may open its socket as early as dlopen
  void* h = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    api->load_error = std::string("cannot load libnftables.so.1 (install Debian's libnftables1): ") + dlerror();
    return api;
  }
  api->ctx_new = reinterpret_cast<nft_ctx* (*)(uint32_t)>(dlsym(h, "nft_ctx_new"));
  api->buffer_output = reinterpret_cast<int (*)(nft_ctx*)>(dlsym(h, "nft_ctx_buffer_output"));
  api->buffer_error = reinterpret_cast<int (*)(nft_ctx*)>(dlsym(h, "nft_ctx_buffer_error"));
  api->get_error_buffer = reinterpret_cast<const char* (*)(nft_ctx*)>(dlsym(h, "nft_ctx_get_error_buffer"));
  api->get_output_buffer = reinterpret_cast<const char* (*)(nft_ctx*)>(dlsym(h, "nft_ctx_get_output_buffer"));
  api->run_cmd_from_buffer = reinterpret_cast<int (*)(nft_ctx*, const char*)>(dlsym(h, "nft_run_cmd_from_buffer"));
  if (!api->ctx_new || !api->buffer_output || !api->buffer_error || !api->get_error_buffer || !api->get_output_buffer ||
      !api->run_cmd_from_buffer) {
    api->load_error = "libnftables.so.1 lacks an expected symbol";
    return api;
  }
  api->ctx = api->ctx_new(0);
  CloseOnExecNewNetlinkSockets(before);
  if (!api->ctx) {
    api->load_error = "nft_ctx_new failed";
    return api;
  }
  api->buffer_output(api->ctx);
  api->buffer_error(api->ctx);
  return api;
}

class NftWorker : public Napi::AsyncWorker {
 public:
  NftWorker(Napi::Env env, std::string script)
      : Napi::AsyncWorker(env, "nori:nft"), deferred_(Napi::Promise::Deferred::New(env)), script_(std::move(script)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    std::lock_guard<std::mutex> lock(g_mu);
    NftApi* api = Api();
    if (!api->load_error.empty()) {
      error_ = api->load_error;
      unavailable_ = true;
      return;
    }
    int rc = api->run_cmd_from_buffer(api->ctx, script_.c_str());
    // Reading a buffer resets it, so both are read after every run.
    std::string err = api->get_error_buffer(api->ctx);
    output_ = api->get_output_buffer(api->ctx);
    if (rc != 0) error_ = err.empty() ? "nft command failed" : err;
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (!error_.empty()) {
      while (!error_.empty() && error_.back() == '\n') error_.pop_back();
      Napi::Error e = Napi::Error::New(env, error_);
      e.Value().Set("code", Napi::String::New(env, unavailable_ ? "ENFTUNAVAILABLE" : "ENFT"));
      deferred_.Reject(e.Value());
      return;
    }
    deferred_.Resolve(Napi::String::New(env, output_));
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string script_;
  std::string error_;
  std::string output_;
  bool unavailable_ = false;
};

// nftRun(script: string): Promise<string> — runs an nft script as one transaction; resolves
// with nft's output, rejects with nft's error text (code ENFT, or ENFTUNAVAILABLE).
Napi::Value NftRun(const Napi::CallbackInfo& info) {
  std::string script = StringArg(info, 0, "script");
  auto* w = new NftWorker(info.Env(), std::move(script));  // deletes itself when done
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void RegisterNftablesFunctions(Napi::Env env, Napi::Object exports) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    Api();  // a node without libnftables keeps the reason for the first nftRun to report
  }
  exports.Set("nftRun", Napi::Function::New(env, NftRun, "nftRun"));
}

}  // namespace nori
