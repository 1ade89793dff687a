// Shared by the namespace tasks (namespaces.cc, userns.cc): the namespace kinds, a step list
// with its labels and kept-alive strings and fds, and the settings applied inside namespaces.
#pragma once

#include <fcntl.h>
#include <napi.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "child.h"
#include "errors.h"
#include "worker.h"

namespace nori {

struct NsKind {
  const char* name;
  int flag;
};

// The user namespace first: joining it before the others is what lets us join namespaces it owns.
constexpr NsKind kKinds[] = {
    {"user", CLONE_NEWUSER}, {"net", CLONE_NEWNET}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}};

struct NsPath {
  NsKind kind;
  std::string path;
};

struct Label {
  std::string step;
  std::string path;
};

// Steps plus everything the parent keeps alive for them: strings, namespace fds, and a label
// per step so a failure reads as "EPERM: ..., setns '/run/nori/ns/net/abc'".
class ChildJob {
 public:
  ChildJob() = default;
  ChildJob(const ChildJob&) = delete;
  ChildJob& operator=(const ChildJob&) = delete;
  ~ChildJob() {
    for (int fd : fds_) close(fd);
  }

  const char* Keep(std::string s) {
    strings_.push_back(std::move(s));
    return strings_.back().c_str();
  }

  void Add(const Step& s, std::string step, std::string path) {
    steps.push_back(s);
    labels_.push_back({std::move(step), std::move(path)});
  }

  // The job closes fd when it ends.
  int KeepFd(int fd) {
    fds_.push_back(fd);
    return fd;
  }

  // Opens a namespace file and adds a setns step for it.
  std::optional<SysError> AddSetns(const NsPath& ns) {
    int fd = open(ns.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return SysError{errno, "open", ns.path, "", "setns"};
    fds_.push_back(fd);
    Step s{StepOp::kSetns};
    s.fd = fd;
    s.flags = ns.kind.flag;
    Add(s, "setns", ns.path);
    return std::nullopt;
  }

  SysError ErrorFrom(const Outcome& out) const {
    SysError e;
    e.err = out.err;
    e.syscall = SyscallName(out.syscall);
    if (out.failed_step >= 0 && static_cast<size_t>(out.failed_step) < labels_.size()) {
      e.step = labels_[out.failed_step].step;
      e.path = labels_[out.failed_step].path;
    }
    return e;
  }

  std::vector<Step> steps;

 private:
  std::deque<std::string> strings_;  // a deque never moves its elements, so c_str()s stay valid
  std::vector<Label> labels_;
  std::vector<int> fds_;
};

// Settings applied inside the namespaces, shared by pin and configure.
struct NsConfig {
  std::optional<std::string> hostname;
  bool loopback_up = false;
  std::vector<std::pair<std::string, std::string>> sysctls;  // path under /proc/sys, value
  std::vector<std::pair<std::string, std::string>> writes;   // absolute path, bytes
};

bool Has(const std::vector<NsPath>& v, int flag);
std::vector<NsPath> ParseNsPaths(Napi::Env env, const Napi::Value& v, const std::string& what);
// The settings in opts, refused (TypeError) where one would land in the host's namespaces
// instead of those in `ns`.
NsConfig ParseConfig(Napi::Env env, Napi::Object opts, const std::vector<NsPath>& ns);
void AddConfigSteps(ChildJob& job, const NsConfig& c);
// Unshares the target namespaces in one step (none named: no step), then applies the settings
// inside them: the child-side sequence of pinNamespaces and pinUserNamespace.
void AddUnshareSteps(ChildJob& job, const std::vector<NsPath>& targets, const NsConfig& c);
// Creates the pin files that do not exist yet; on failure removes those it made and says which
// file and syscall failed.
std::optional<SysError> CreatePinFiles(const std::vector<std::string>& files, std::vector<std::string>* created);
inline TaskResult Failed(SysError e) { return TaskResult{std::move(e), std::nullopt}; }

}  // namespace nori
