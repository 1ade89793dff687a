// Network counters of a pod: /proc/net/dev as seen from inside a pinned network namespace.
// nori has no pause process whose /proc/PID/net could be read, so a short-lived thread of
// our own joins the namespace and reads /proc/thread-self/net/dev. setns(CLONE_NEWNET) only
// moves the calling thread, and the thread exits right after, so no Node or libuv thread ever
// runs in the pod's namespace. The file is tiny: this costs a thread start (~50 us).
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <sched.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace nori {

namespace {

struct ReadResult {
  int err = 0;
  const char* syscall = "";
  std::string data;
};

void ReadInNetns(int nsfd, ReadResult* r) {
  if (setns(nsfd, CLONE_NEWNET) != 0) {
    r->err = errno;
    r->syscall = "setns";
    return;
  }
  int fd = open("/proc/thread-self/net/dev", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r->err = errno;
    r->syscall = "open";
    return;
  }
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r->err = errno;
      r->syscall = "read";
      break;
    }
    if (n == 0) break;
    r->data.append(buf, static_cast<size_t>(n));
  }
  close(fd);
}

// readNetDevInNetns(nsPath: string): string — the text of /proc/net/dev inside that netns.
Napi::Value ReadNetDevInNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ns = StringArg(info, 0, "nsPath");
  int nsfd = open(ns.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) ThrowErrno(env, errno, "open", ns);
  ReadResult r;
  try {
    std::thread t(ReadInNetns, nsfd, &r);
    t.join();
  } catch (const std::system_error& e) {
    close(nsfd);
    ThrowErrno(env, e.code().value(), "pthread_create", ns);
  }
  close(nsfd);
  if (r.err != 0) ThrowErrno(env, r.err, r.syscall, ns);
  return Napi::String::New(env, r.data);
}

}  // namespace

void RegisterNetStatsFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("readNetDevInNetns", Napi::Function::New(env, ReadNetDevInNetns, "readNetDevInNetns"));
}

}  // namespace nori
