// A tiny program of raw syscalls, run in a child process that shares our memory
// (clone CLONE_VM|CLONE_VFORK, as posix_spawn does). Why a child: unshare/setns must never
// run on one of Node's threads, and why clone instead of fork: fork of a large multi-threaded
// Node process copies its page tables (milliseconds), while a vfork-style child costs tens of
// microseconds and can write its result straight into our memory, so no pipe is needed.
//
// Rules for everything executed in the child: only async-signal-safe calls (raw syscall
// wrappers), no allocation, no C++ objects built there, and it ends with _exit. All strings,
// addresses and stacks are prepared by the parent before the clone.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <vector>

namespace nori {

enum class StepOp : int {
  kSetns,            // setns(fd, flags)
  kUnshare,          // unshare(flags)
  kSetHostname,      // sethostname(data, len)
  kLoopbackUp,       // set IFF_UP on "lo" (SIOCGIFFLAGS + SIOCSIFFLAGS)
  kWriteFile,        // open(path, O_WRONLY) + write(data, len): sysctls and other /proc files
  kBindMount,        // mount(path, target, MS_BIND), e.g. /proc/self/ns/net onto a pin file
  kConnect,          // socket + connect(addr); fd stored in Outcome::value (needs CLONE_FILES)
  kDetach,           // setsid, chdir("/"), /dev/null on fds 0-2 (fd if >= 0, else opened by
                     // path), other fds close-on-exec
  kExec,             // execve(path, argv, {}) — only returns on failure
  kExecFd,           // execveat(fd, "", argv, {}, AT_EMPTY_PATH): a program that needs no path,
                     // in a mount namespace that has none — only returns on failure
  kEmptyRoot,        // in a mount namespace of our own: every mount private, an empty read-only
                     // tmpfs over `path` becomes the root (pivot_root), the old tree detached
  kSpawnInNewPidNs,  // clone a grandchild in a new PID namespace running steps [sub_begin,
                     // sub_end) (it ends with kExec); its host pid goes to Outcome::value
  kReadByte,         // read one byte from fd (a pipe): waits for the parent; EOF is a failure
  kWriteByte,        // write one byte to fd: tells the parent a stage is done
  kOpenInto,         // open(path, O_RDONLY|O_CLOEXEC) into *out_fd (needs CLONE_FILES to outlive us)
  kBecomeRoot,       // setgroups(0) + setresgid(0) + setresuid(0) as raw syscalls: become the
                     // user namespace's root (its mapped ids on the host) after the maps exist
};

enum class Syscall : int {
  kNone,
  kSetns,
  kUnshare,
  kSethostname,
  kSocket,
  kIoctl,
  kOpen,
  kWrite,
  kMount,
  kSetsockopt,
  kConnect,
  kSetsid,
  kChdir,
  kDup2,
  kExecve,
  kClone,
  kRead,
  kSetgroups,
  kSetresgid,
  kSetresuid,
  kPivotRoot,
  kUmount,
};

const char* SyscallName(Syscall s);

struct Step {
  StepOp op;
  int fd = -1;
  int flags = 0;                  // setns nstype, unshare flags, connect timeout (ms)
  const char* path = nullptr;     // file to open/write, mount source, exec path
  const char* target = nullptr;   // mount target
  const char* data = nullptr;     // hostname or file contents
  size_t len = 0;
  const sockaddr_storage* addr = nullptr;
  socklen_t addr_len = 0;
  char* const* argv = nullptr;
  size_t sub_begin = 0;
  size_t sub_end = 0;
  void* sub_stack_top = nullptr;
  int* out_fd = nullptr;          // kOpenInto: where the fd goes
};

// Written by the child (it shares our memory), read by the parent once the child has exited.
struct Outcome {
  int err = 0;              // errno of the failed call, 0 on success
  int failed_step = -1;     // index into the step list
  Syscall syscall = Syscall::kNone;
  int steps_done = 0;       // top-level steps [0, steps_done) succeeded
  int value = -1;           // a connected fd or a pid, for steps that produce one
};

// A stack for a child, allocated by the parent.
class ChildStack {
 public:
  ChildStack();
  void* top() const;

 private:
  std::unique_ptr<char[]> mem_;
};

// Runs steps [0, top_count) in a vfork-style child and waits for it (later steps are
// sub-programs, run by a kSpawnInNewPidNs step). Blocks the calling thread for as long as
// the steps take (call it from a worker thread for anything slow). extra_clone_flags is e.g.
// CLONE_FILES so a socket the child creates lands in our fd table. Returns 0 when the child ran
// (check out->err), else the errno of clone/waitpid.
int RunInChild(const std::vector<Step>& steps, size_t top_count, Outcome* out, int extra_clone_flags);

// Starts steps [0, top_count) in a CLONE_VM child WITHOUT waiting for it (e.g. with
// CLONE_NEWUSER, so the caller can write its uid/gid maps while it blocks in a kReadByte step).
// The caller and the child share memory and the thread's TLS (errno): they must take turns,
// the child blocked on a pipe whenever the caller runs, and back. `stack`, `steps` and `out`
// must outlive the child; reap it with WaitChild. Returns 0 and sets *pid, or clone's errno.
int StartChild(const std::vector<Step>& steps, size_t top_count, Outcome* out, int extra_clone_flags,
               ChildStack* stack, pid_t* pid);

// Waits for a child of StartChild; a child that died without reporting becomes ECHILD in *out.
int WaitChild(pid_t pid, Outcome* out);

}  // namespace nori
