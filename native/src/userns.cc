// A pod's own user namespace and the namespaces it owns, pinned on files.
//
// Order matters: a namespace belongs to the user namespace of the process that creates it, so
// the user namespace comes first and net/ipc/uts are made inside it. A child can neither write
// its own uid/gid maps with a range (that needs CAP_SETUID in the parent namespace) nor pin
// anything on the host's mount namespace, so the work is split between a child and us:
//
//   child (clone CLONE_NEWUSER|CLONE_FILES)   this worker thread
//   wait on `go`                              write /proc/CHILD/{uid,gid}_map, then `go`
//   become the namespace's root
//   unshare net/ipc/uts, hostname, lo,
//   sysctls, open its /proc/self/ns/* (the
//   fds land in our table), exit              reap it, bind-mount each fd on its pin file
//
// The child shares our memory (CLONE_VM, no page-table copy) and, with it, this thread's TLS:
// the pipe and the wait make us take turns, so errno is never written by both at once.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "exports.h"
#include "ns_job.h"

namespace nori {

namespace {

struct IdRange {
  uint32_t container_id;
  uint32_t host_id;
  uint32_t length;
};

struct UsernsRequest {
  std::string user_pin;
  std::vector<NsPath> targets;  // net, ipc, uts (any subset)
  std::vector<IdRange> uids;
  std::vector<IdRange> gids;
  NsConfig config;
};

std::vector<IdRange> ParseRanges(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) ThrowTypeError(env, what + " must be an array of {containerId, hostId, length}");
  Napi::Array arr = v.As<Napi::Array>();
  if (arr.Length() == 0 || arr.Length() > 340) ThrowTypeError(env, what + " must have 1-340 ranges");
  std::vector<IdRange> out;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value item = arr.Get(i);
    if (!item.IsObject()) ThrowTypeError(env, what + " items must be objects");
    Napi::Object o = item.As<Napi::Object>();
    auto num = [&](const char* key) -> uint32_t {
      Napi::Value n = o.Get(key);
      if (!n.IsNumber()) ThrowTypeError(env, what + "." + key + " must be a number");
      double d = n.As<Napi::Number>().DoubleValue();
      if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d)))
        ThrowTypeError(env, what + "." + key + " must be an integer 0-4294967295");
      return static_cast<uint32_t>(d);
    };
    IdRange r{num("containerId"), num("hostId"), num("length")};
    if (r.length == 0) ThrowTypeError(env, what + ".length must be > 0");
    out.push_back(r);
  }
  return out;
}

std::string MapText(const std::vector<IdRange>& ranges) {
  std::string s;
  for (const auto& r : ranges)
    s += std::to_string(r.container_id) + " " + std::to_string(r.host_id) + " " + std::to_string(r.length) + "\n";
  return s;
}

int WriteProcFile(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = write(fd, data.data(), data.size());
  int err = n == static_cast<ssize_t>(data.size()) ? 0 : (n < 0 ? errno : EIO);
  close(fd);
  return err;
}

struct Pipe {
  int r = -1, w = -1;
  ~Pipe() {
    if (r >= 0) close(r);
    if (w >= 0) close(w);
  }
  bool Open() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) return false;
    r = fds[0];
    w = fds[1];
    return true;
  }
};

TaskResult RunPinUserns(const UsernsRequest& r) {
  std::vector<std::string> files{r.user_pin};
  for (const auto& t : r.targets) files.push_back(t.path);
  std::vector<std::string> created;
  if (auto e = CreatePinFiles(files, &created)) return Failed(*e);
  std::vector<std::string> mounted;
  // One slot per namespace the child opens in our (shared) fd table: user first, then targets.
  std::vector<int> ns_fds(files.size(), -1);
  auto undo = [&]() {
    for (const auto& m : mounted) umount2(m.c_str(), MNT_DETACH);
    for (const auto& c : created) unlink(c.c_str());
    for (int fd : ns_fds)
      if (fd >= 0) close(fd);
  };

  Pipe go;
  if (!go.Open()) {
    int err = errno;
    undo();
    return Failed(SysError{err, "pipe2", "", "", "userns"});
  }

  ChildJob job;
  Step wait_go{StepOp::kReadByte};
  wait_go.fd = go.r;
  job.Add(wait_go, "wait-maps", "");
  job.Add(Step{StepOp::kBecomeRoot}, "become-root", "");
  AddUnshareSteps(job, r.targets, r.config);
  // The namespaces outlive the child as fds in our table (CLONE_FILES): no handshake is
  // needed to keep it alive while we pin them.
  std::vector<std::string> kinds{"user"};
  for (const auto& t : r.targets) kinds.emplace_back(t.kind.name);
  for (size_t i = 0; i < kinds.size(); i++) {
    Step open_ns{StepOp::kOpenInto};
    open_ns.path = job.Keep("/proc/self/ns/" + kinds[i]);
    open_ns.out_fd = &ns_fds[i];
    job.Add(open_ns, "open-ns", kinds[i]);
  }

  Outcome out;
  ChildStack stack;
  pid_t pid = -1;
  int err = StartChild(job.steps, job.steps.size(), &out, CLONE_NEWUSER | CLONE_FILES, &stack, &pid);
  if (err != 0) {
    undo();
    return Failed(SysError{err, "clone", "", "", "userns"});
  }
  auto abort_child = [&](SysError e) {
    kill(pid, SIGKILL);
    WaitChild(pid, &out);
    undo();
    return Failed(std::move(e));
  };
  std::string proc = "/proc/" + std::to_string(pid);
  // gid_map before uid_map is what runc does; setgroups stays "allow": a privileged writer.
  if (int e = WriteProcFile(proc + "/gid_map", MapText(r.gids))) return abort_child(SysError{e, "write", proc + "/gid_map", "", "gid_map"});
  if (int e = WriteProcFile(proc + "/uid_map", MapText(r.uids))) return abort_child(SysError{e, "write", proc + "/uid_map", "", "uid_map"});
  char b = 1;
  if (write(go.w, &b, 1) != 1) return abort_child(SysError{errno, "write", "", "", "userns"});
  WaitChild(pid, &out);
  if (out.err != 0) {
    undo();
    return Failed(job.ErrorFrom(out));
  }
  for (size_t i = 0; i < files.size(); i++) {
    std::string src = "/proc/self/fd/" + std::to_string(ns_fds[i]);
    if (mount(src.c_str(), files[i].c_str(), nullptr, MS_BIND, nullptr) < 0) {
      SysError e{errno, "mount", "/proc/self/ns/" + kinds[i], files[i], "pin"};
      undo();
      return Failed(e);
    }
    mounted.push_back(files[i]);
  }
  for (int& fd : ns_fds) close(fd), fd = -1;
  return TaskResult{};
}

Task PinUsernsTask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object opts = ObjectArg(info, 0, "options");
  auto req = std::make_shared<UsernsRequest>();
  req->user_pin = CheckedString(env, opts.Get("user"), "user");
  if (req->user_pin.empty()) ThrowTypeError(env, "user must not be empty");
  req->targets = ParseNsPaths(env, opts.Get("targets"), "targets");
  if (Has(req->targets, CLONE_NEWUSER)) ThrowTypeError(env, "targets.user: the user namespace pin is `user`");
  req->uids = ParseRanges(env, opts.Get("uidMappings"), "uidMappings");
  req->gids = ParseRanges(env, opts.Get("gidMappings"), "gidMappings");
  req->config = ParseConfig(env, opts, req->targets);
  return [req]() { return RunPinUserns(*req); };
}

}  // namespace

void RegisterUsernsFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("pinUserNamespace", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return RunAsync(info.Env(), PinUsernsTask(info));
              }));
}

}  // namespace nori
