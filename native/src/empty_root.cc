// One mount namespace holding nothing but an empty read-only tmpfs, made once per daemon and
// kept by a file descriptor. Every pod's init joins it (startPodInit's mountNsFd) instead of
// building such a namespace itself: unshare(CLONE_NEWNS) copies the node's whole mount table
// and detaching the copy walks it again, both under the kernel's mount lock, per pod — the cost
// grew with the node's mounts. Joining an existing namespace costs the same on every node.
#include <napi.h>
#include <sched.h>

#include "child.h"
#include "exports.h"
#include "ns_job.h"
#include "worker.h"

namespace nori {

namespace {

TaskResult RunMakeEmptyMountNamespace() {
  ChildJob job;
  int ns_fd = -1;
  Step unshare{StepOp::kUnshare};
  unshare.flags = CLONE_NEWNS;
  job.Add(unshare, "unshare", "");
  // Opened before the pivot: afterwards there is no /proc. The fd names the namespace, not
  // the proc mount, so detaching the node's tree leaves it valid.
  Step open_ns{StepOp::kOpenInto};
  open_ns.path = "/proc/self/ns/mnt";
  open_ns.out_fd = &ns_fd;
  job.Add(open_ns, "open", "/proc/self/ns/mnt");
  Step root{StepOp::kEmptyRoot};
  root.path = "/proc";  // a directory every node has
  job.Add(root, "empty-root", "/proc");
  Outcome out;
  // CLONE_FILES: the namespace fd the child opens lands in our table.
  int err = RunInChild(job.steps, job.steps.size(), &out, CLONE_FILES);
  if (err != 0) return Failed(SysError{err, "clone", "", "", "fork"});
  if (out.err != 0) {
    if (ns_fd >= 0) close(ns_fd);
    return Failed(job.ErrorFrom(out));
  }
  return TaskResult{std::nullopt, static_cast<double>(ns_fd)};
}

}  // namespace

void RegisterEmptyRootFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("makeEmptyMountNamespace", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return RunAsync(info.Env(), RunMakeEmptyMountNamespace);
              }));
}

}  // namespace nori
