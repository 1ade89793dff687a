// Namespace work, each done in a short-lived child (see child.h): pin new namespaces on files,
// configure pinned ones (hostname, lo, sysctls, /proc writes), start a pod's PID-namespace init,
// and open a TCP connection from inside a network namespace.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "args.h"
#include "child.h"
#include "errors.h"
#include "exports.h"
#include "worker.h"
#include "ns_job.h"

namespace nori {

bool Has(const std::vector<NsPath>& v, int flag) {
  for (const auto& ns : v)
    if (ns.kind.flag == flag) return true;
  return false;
}

std::vector<NsPath> ParseNsPaths(Napi::Env env, const Napi::Value& v, const std::string& what) {
  std::vector<NsPath> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsObject()) ThrowTypeError(env, what + " must be an object");
  Napi::Object obj = v.As<Napi::Object>();
  Napi::Array keys = obj.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
    bool known = false;
    for (const auto& kind : kKinds) known = known || key == kind.name;
    if (!known) ThrowTypeError(env, what + "." + key + ": only user, net, ipc and uts are supported");
  }
  for (const auto& kind : kKinds) {
    auto path = OptionalString(env, obj.Get(kind.name), what + "." + kind.name);
    if (path) {
      if (path->empty()) ThrowTypeError(env, what + "." + kind.name + " must not be empty");
      out.push_back({kind, *path});
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ParsePairs(Napi::Env env, const Napi::Value& v,
                                                            const std::string& what) {
  std::vector<std::pair<std::string, std::string>> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) ThrowTypeError(env, what + " must be an array of [key, value] pairs");
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value item = arr.Get(i);
    if (!item.IsArray() || item.As<Napi::Array>().Length() != 2)
      ThrowTypeError(env, what + "[" + std::to_string(i) + "] must be a [key, value] pair");
    Napi::Array pair = item.As<Napi::Array>();
    out.emplace_back(CheckedString(env, pair.Get(0u), what + " key"), BytesValue(env, pair.Get(1u), what + " value"));
  }
  return out;
}

void CheckSysctlPath(Napi::Env env, const std::string& p) {
  if (p.empty() || p[0] == '/' || p.find("..") != std::string::npos)
    ThrowTypeError(env, "sysctl '" + p + "' must be a path relative to /proc/sys without '..'");
}

// Refuses settings that would land in the host's namespaces instead of the pod's.
void CheckConfigTargets(Napi::Env env, const NsConfig& c, const std::vector<NsPath>& ns) {
  if (c.hostname && !Has(ns, CLONE_NEWUTS)) ThrowTypeError(env, "hostname needs a uts namespace");
  if (c.loopback_up && !Has(ns, CLONE_NEWNET)) ThrowTypeError(env, "loopbackUp needs a net namespace");
  if ((!c.sysctls.empty() || !c.writes.empty()) && !Has(ns, CLONE_NEWNET) && !Has(ns, CLONE_NEWIPC))
    ThrowTypeError(env, "sysctls and writes need a net or ipc namespace");
}

NsConfig ParseConfig(Napi::Env env, Napi::Object opts, const std::vector<NsPath>& ns) {
  NsConfig c;
  c.hostname = OptionalString(env, opts.Get("hostname"), "hostname");
  Napi::Value lo = opts.Get("loopbackUp");
  c.loopback_up = lo.IsBoolean() && lo.As<Napi::Boolean>().Value();
  c.sysctls = ParsePairs(env, opts.Get("sysctls"), "sysctls");
  for (const auto& kv : c.sysctls) CheckSysctlPath(env, kv.first);
  c.writes = ParsePairs(env, opts.Get("writes"), "writes");
  for (const auto& kv : c.writes)
    if (kv.first.empty() || kv.first[0] != '/') ThrowTypeError(env, "writes: '" + kv.first + "' must be absolute");
  CheckConfigTargets(env, c, ns);
  return c;
}

void AddConfigSteps(ChildJob& job, const NsConfig& c) {
  if (c.hostname) {
    Step s{StepOp::kSetHostname};
    s.data = job.Keep(*c.hostname);
    s.len = c.hostname->size();
    job.Add(s, "hostname", "");
  }
  if (c.loopback_up) job.Add(Step{StepOp::kLoopbackUp}, "loopback-up", "lo");
  auto add_write = [&job](const std::string& path, const std::string& value, const char* step) {
    Step s{StepOp::kWriteFile};
    s.path = job.Keep(path);
    s.data = job.Keep(value);
    s.len = value.size();
    job.Add(s, step, path);
  };
  for (const auto& kv : c.sysctls) add_write("/proc/sys/" + kv.first, kv.second, "sysctl");
  for (const auto& kv : c.writes) add_write(kv.first, kv.second, "write");
}

void AddUnshareSteps(ChildJob& job, const std::vector<NsPath>& targets, const NsConfig& c) {
  int flags = 0;
  for (const auto& t : targets) flags |= t.kind.flag;
  if (flags != 0) {
    Step unshare_step{StepOp::kUnshare};
    unshare_step.flags = flags;
    job.Add(unshare_step, "unshare", "");
  }
  AddConfigSteps(job, c);
}

std::optional<SysError> CreatePinFiles(const std::vector<std::string>& files, std::vector<std::string>* created) {
  for (const auto& f : files) {
    struct stat st;
    if (lstat(f.c_str(), &st) == 0) continue;
    int err = errno;
    const char* syscall = "lstat";
    if (err == ENOENT) {
      int fd = open(f.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
      if (fd >= 0) {
        close(fd);
        created->push_back(f);
        continue;
      }
      err = errno;
      syscall = "open";
    }
    for (const auto& c : *created) unlink(c.c_str());
    created->clear();
    return SysError{err, syscall, f, "", "pin"};
  }
  return std::nullopt;
}

namespace {

// ---- pinNamespaces ----

struct PinRequest {
  std::vector<NsPath> targets;
  NsConfig config;
};

PinRequest ParsePin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object opts = ObjectArg(info, 0, "options");
  PinRequest r;
  r.targets = ParseNsPaths(env, opts.Get("targets"), "targets");
  if (r.targets.empty()) ThrowTypeError(env, "targets must name at least one of net, ipc, uts");
  if (Has(r.targets, CLONE_NEWUSER)) ThrowTypeError(env, "a user namespace is pinned with pinUserNamespace");
  r.config = ParseConfig(env, opts, r.targets);
  return r;
}

TaskResult RunPin(const PinRequest& r) {
  std::vector<std::string> files;
  for (const auto& t : r.targets) files.push_back(t.path);
  std::vector<std::string> created;
  if (auto e = CreatePinFiles(files, &created)) return Failed(*e);
  auto rollback = [&created](size_t mounted_upto, const std::vector<const NsPath*>& mounted) {
    for (size_t i = 0; i < mounted_upto && i < mounted.size(); i++) umount2(mounted[i]->path.c_str(), MNT_DETACH);
    for (const auto& c : created) unlink(c.c_str());
  };

  ChildJob job;
  AddUnshareSteps(job, r.targets, r.config);
  size_t first_bind = job.steps.size();
  std::vector<const NsPath*> mounted;
  for (const auto& t : r.targets) {
    Step s{StepOp::kBindMount};
    s.path = job.Keep(std::string("/proc/self/ns/") + t.kind.name);
    s.target = t.path.c_str();
    job.Add(s, "pin", t.path);
    mounted.push_back(&t);
  }

  Outcome out;
  int err = RunInChild(job.steps, job.steps.size(), &out, 0);
  if (err != 0) {
    rollback(0, {});
    return Failed(SysError{err, "clone", "", "", "fork"});
  }
  if (out.err != 0) {
    size_t done = static_cast<size_t>(out.steps_done);
    rollback(done > first_bind ? done - first_bind : 0, mounted);
    return Failed(job.ErrorFrom(out));
  }
  return TaskResult{};
}

Task PinTask(const Napi::CallbackInfo& info) {
  auto req = std::make_shared<PinRequest>(ParsePin(info));
  return [req]() { return RunPin(*req); };
}

// ---- configureNamespaces ----

struct ConfigureRequest {
  std::vector<NsPath> join;
  NsConfig config;
};

TaskResult RunConfigure(const ConfigureRequest& r) {
  ChildJob job;
  for (const auto& ns : r.join)
    if (auto e = job.AddSetns(ns)) return Failed(*e);
  AddConfigSteps(job, r.config);
  Outcome out;
  int err = RunInChild(job.steps, job.steps.size(), &out, 0);
  if (err != 0) return Failed(SysError{err, "clone", "", "", "fork"});
  if (out.err != 0) return Failed(job.ErrorFrom(out));
  return TaskResult{};
}

Task ConfigureTask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object opts = ObjectArg(info, 0, "options");
  auto req = std::make_shared<ConfigureRequest>();
  req->join = ParseNsPaths(env, opts.Get("join"), "join");
  if (req->join.empty()) ThrowTypeError(env, "join must name at least one of net, ipc, uts");
  req->config = ParseConfig(env, opts, req->join);
  return [req]() { return RunConfigure(*req); };
}

// ---- startPodInit ----

struct PodInitRequest {
  std::string reaper_path;  // exec'd by path unless reaper_fd is set
  int reaper_fd = -1;       // the reaper as an open file (a sealed memfd of the daemon's)
  int mount_ns_fd = -1;     // a mount namespace to start in (makeEmptyMountNamespace)
  std::vector<std::string> cgroup_tasks;  // v1 `tasks` files the child writes "0" to
  std::vector<NsPath> join;
};

TaskResult RunPodInit(const PodInitRequest& r) {
  ChildJob job;
  ChildStack grandchild_stack;
  // The child moves itself into the pod init's cgroups, so the init is born there. A thread
  // that moves itself through a v1 `tasks` file skips the kernel's global threadgroup lock,
  // whose write side waits out an RCU grace period (7-16 ms for nine hierarchies here when
  // another process is moved through cgroup.procs, under 1 ms this way). First, while the
  // host's /sys is still in view.
  for (const auto& tasks : r.cgroup_tasks) {
    Step move{StepOp::kWriteFile};
    move.path = tasks.c_str();
    move.data = "0";
    move.len = 1;
    job.Add(move, "cgroup", tasks);
  }
  // Then the empty mount namespace: once in the pod's user namespace the child holds no
  // capability over a namespace the host's user namespace owns. It has no /proc and no /dev,
  // so /dev/null is opened here and the reaper is exec'd by its fd.
  if (r.mount_ns_fd >= 0) {
    Step mnt{StepOp::kSetns};
    mnt.fd = r.mount_ns_fd;
    mnt.flags = CLONE_NEWNS;
    job.Add(mnt, "setns", "the empty mount namespace");
  }
  // A pod with its own user namespace: the child enters it before the clone, so the new PID
  // namespace is owned by it (the container's /proc mount needs that), and the init becomes
  // the namespace's root, a mapped id on the host.
  bool userns = Has(r.join, CLONE_NEWUSER);
  for (const auto& ns : r.join)
    if (ns.kind.flag == CLONE_NEWUSER)
      if (auto e = job.AddSetns(ns)) return Failed(*e);
  size_t spawn_at = job.steps.size();
  Step spawn{StepOp::kSpawnInNewPidNs};
  spawn.sub_stack_top = grandchild_stack.top();
  job.Add(spawn, "spawn", r.reaper_path);
  for (const auto& ns : r.join)
    if (ns.kind.flag != CLONE_NEWUSER)
      if (auto e = job.AddSetns(ns)) return Failed(*e);
  if (userns) job.Add(Step{StepOp::kBecomeRoot}, "become-root", "");
  Step detach{StepOp::kDetach};
  if (r.mount_ns_fd >= 0) {
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) return Failed(SysError{errno, "open", "/dev/null", "", "detach"});
    detach.fd = job.KeepFd(null_fd);
  }
  job.Add(detach, "detach", "");
  char* argv[] = {const_cast<char*>(job.Keep("nori-reaper")), nullptr};
  Step exec{r.reaper_fd >= 0 ? StepOp::kExecFd : StepOp::kExec};
  exec.path = r.reaper_path.c_str();
  exec.fd = r.reaper_fd;
  exec.argv = argv;
  job.Add(exec, "exec", r.reaper_path);
  job.steps[spawn_at].sub_begin = spawn_at + 1;
  job.steps[spawn_at].sub_end = job.steps.size();

  Outcome out;
  int err = RunInChild(job.steps, spawn_at + 1, &out, 0);  // the spawn step runs the rest in the grandchild
  if (err != 0) return Failed(SysError{err, "clone", "", "", "fork"});
  if (out.err != 0) return Failed(job.ErrorFrom(out));
  return TaskResult{std::nullopt, static_cast<double>(out.value)};
}

// ---- connectInNetns ----

struct ConnectRequest {
  NsPath netns;
  sockaddr_storage addr;
  socklen_t addr_len;
  std::string where;  // "host:port" for error messages
  int timeout_ms;
};

TaskResult RunConnect(const ConnectRequest& r) {
  ChildJob job;
  if (auto e = job.AddSetns(r.netns)) return Failed(*e);
  Step s{StepOp::kConnect};
  s.addr = &r.addr;
  s.addr_len = r.addr_len;
  s.flags = r.timeout_ms;
  job.Add(s, "connect", r.where);
  Outcome out;
  // CLONE_FILES: the socket the child creates (in the target netns) is created in our fd table.
  int err = RunInChild(job.steps, job.steps.size(), &out, CLONE_FILES);
  if (err != 0) return Failed(SysError{err, "clone", "", "", "fork"});
  if (out.err != 0) {
    SysError e = job.ErrorFrom(out);
    if (out.syscall == Syscall::kConnect || out.syscall == Syscall::kSocket) e.dest = r.netns.path;
    return Failed(e);
  }
  return TaskResult{std::nullopt, static_cast<double>(out.value)};
}

Task ConnectTask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto req = std::make_shared<ConnectRequest>();
  req->netns = {NsKind{"net", CLONE_NEWNET}, StringArg(info, 0, "nsPath")};
  std::string host = StringArg(info, 1, "host");
  int64_t port = IntArg(info, 2, "port");
  if (port < 1 || port > 65535) ThrowTypeError(env, "port must be 1-65535");
  int64_t timeout = OptionalIntArg(info, 3, "timeoutMs", 0);
  if (timeout < 0 || timeout > 3600 * 1000) ThrowTypeError(env, "timeoutMs must be 0-3600000");
  req->timeout_ms = static_cast<int>(timeout);
  memset(&req->addr, 0, sizeof req->addr);
  std::string bare = host.size() > 2 && host.front() == '[' && host.back() == ']' ? host.substr(1, host.size() - 2) : host;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&req->addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&req->addr);
  if (inet_pton(AF_INET, bare.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    req->addr_len = sizeof *v4;
    req->where = bare + ":" + std::to_string(port);
  } else if (inet_pton(AF_INET6, bare.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    req->addr_len = sizeof *v6;
    req->where = "[" + bare + "]:" + std::to_string(port);
  } else {
    ThrowTypeError(env, "host must be an IPv4 or IPv6 address, got '" + host + "'");
  }
  return [req]() { return RunConnect(*req); };
}

}  // namespace

void RegisterNamespaceFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("pinNamespaces", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return RunAsync(info.Env(), PinTask(info));
              }));
  exports.Set("pinNamespacesSync", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return RunSync(info.Env(), PinTask(info));
              }));
  exports.Set("configureNamespaces", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return RunAsync(info.Env(), ConfigureTask(info));
              }));
  exports.Set("configureNamespacesSync", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return RunSync(info.Env(), ConfigureTask(info));
              }));
  exports.Set("startPodInit", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                Napi::Env e = info.Env();
                Napi::Object opts = ObjectArg(info, 0, "options");
                auto req = std::make_shared<PodInitRequest>();
                req->reaper_path = CheckedString(e, opts.Get("reaperPath"), "reaperPath");
                req->reaper_fd = OptionalFd(e, opts.Get("reaperFd"), "reaperFd");
                req->mount_ns_fd = OptionalFd(e, opts.Get("mountNsFd"), "mountNsFd");
                Napi::Value tasks = opts.Get("cgroupTasks");
                if (!tasks.IsUndefined() && !tasks.IsNull()) req->cgroup_tasks = StringArray(e, tasks, "cgroupTasks");
                req->join = ParseNsPaths(e, opts.Get("join"), "join");
                return RunAsync(e, [req]() { return RunPodInit(*req); });
              }));
  exports.Set("connectInNetns", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return RunAsync(info.Env(), ConnectTask(info));
              }));
}

}  // namespace nori
