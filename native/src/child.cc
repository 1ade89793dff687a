#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/close_range.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

namespace nori {

namespace {

constexpr size_t kStackSize = 64 * 1024;

struct ChildArgs {
  const Step* steps;
  size_t begin;
  size_t end;
  Outcome* out;
  bool top_level;
};

char* const kEmptyEnv[] = {nullptr};

// --- Everything below up to ChildMain runs in the child: syscalls only. ---

int Fail(Outcome* out, size_t index, Syscall sc, int err) {
  out->err = err;
  out->failed_step = static_cast<int>(index);
  out->syscall = sc;
  return 1;
}

int WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return 0;
}

int LoopbackUp(Syscall* failed) {
  int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sk < 0) {
    *failed = Syscall::kSocket;
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  if (ioctl(sk, SIOCGIFFLAGS, &ifr) < 0) {
    *failed = Syscall::kIoctl;
    int err = errno;
    close(sk);
    errno = err;
    return -1;
  }
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0) {
    *failed = Syscall::kIoctl;
    int err = errno;
    close(sk);
    errno = err;
    return -1;
  }
  close(sk);
  return 0;
}

int Connect(const Step& s, Syscall* failed) {
  int sk = socket(s.addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sk < 0) {
    *failed = Syscall::kSocket;
    return -1;
  }
  // On Linux SO_SNDTIMEO bounds a blocking connect(); it then fails with EINPROGRESS.
  struct timeval tv = {s.flags / 1000, (s.flags % 1000) * 1000};
  if (s.flags > 0 && setsockopt(sk, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
    *failed = Syscall::kSetsockopt;
    int err = errno;
    close(sk);
    errno = err;
    return -1;
  }
  int rc;
  do {
    rc = connect(sk, reinterpret_cast<const sockaddr*>(s.addr), s.addr_len);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    *failed = Syscall::kConnect;
    int err = errno == EINPROGRESS ? ETIMEDOUT : errno;
    close(sk);
    errno = err;
    return -1;
  }
  if (s.flags > 0) {
    struct timeval none = {0, 0};
    setsockopt(sk, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
  }
  return sk;
}

int Detach(int null_fd, Syscall* failed) {
  if (setsid() < 0) {
    *failed = Syscall::kSetsid;
    return -1;
  }
  if (chdir("/") < 0) {
    *failed = Syscall::kChdir;
    return -1;
  }
  int fd = null_fd >= 0 ? null_fd : open("/dev/null", O_RDWR);
  if (fd < 0) {
    *failed = Syscall::kOpen;
    return -1;
  }
  for (int i = 0; i < 3; i++) {
    if (fd != i && dup2(fd, i) < 0) {
      *failed = Syscall::kDup2;
      return -1;
    }
  }
  if (fd > 2 && fd != null_fd) close(fd);
  // Our fd table is a copy of Node's: whatever of it lacks O_CLOEXEC must not reach the exec'd
  // program. Best effort; the reaper closes them too.
  syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  return 0;
}

// The node's tree leaves this (already unshared) mount namespace: runc's pivot_root(".", ".")
// sequence, with an empty read-only tmpfs mounted over `dir` (any directory every node has; in
// a private namespace that hides nothing from anyone else) as the new root.
int EmptyRoot(const char* dir, Syscall* failed) {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) {
    *failed = Syscall::kMount;
    return -1;
  }
  if (mount("nori-empty", dir, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=4k,nr_inodes=1,mode=0555") < 0) {
    *failed = Syscall::kMount;
    return -1;
  }
  int old_root = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (old_root < 0) {
    *failed = Syscall::kOpen;
    return -1;
  }
  int rc = -1;
  if (chdir(dir) < 0) {
    *failed = Syscall::kChdir;
  } else if (syscall(SYS_pivot_root, ".", ".") < 0) {
    *failed = Syscall::kPivotRoot;
  } else if (fchdir(old_root) < 0) {  // the old tree now sits on top of "."
    *failed = Syscall::kChdir;
  } else if (umount2(".", MNT_DETACH) < 0) {
    *failed = Syscall::kUmount;
  } else if (chdir("/") < 0) {
    *failed = Syscall::kChdir;
  } else {
    rc = 0;
  }
  int err = errno;
  close(old_root);
  errno = err;
  return rc;
}

int ChildMain(void* arg);

int Execute(const ChildArgs* a) {
  Outcome* out = a->out;
  for (size_t i = a->begin; i < a->end; i++) {
    const Step& s = a->steps[i];
    Syscall failed = Syscall::kNone;
    int rc = 0;
    switch (s.op) {
      case StepOp::kSetns:
        rc = setns(s.fd, s.flags);
        failed = Syscall::kSetns;
        break;
      case StepOp::kUnshare:
        rc = unshare(s.flags);
        failed = Syscall::kUnshare;
        break;
      case StepOp::kSetHostname:
        rc = sethostname(s.data, s.len);
        failed = Syscall::kSethostname;
        break;
      case StepOp::kLoopbackUp:
        rc = LoopbackUp(&failed);
        break;
      case StepOp::kWriteFile: {
        int fd = open(s.path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
          rc = -1;
          failed = Syscall::kOpen;
          break;
        }
        rc = WriteAll(fd, s.data, s.len);
        failed = Syscall::kWrite;
        int err = errno;
        close(fd);
        errno = err;
        break;
      }
      case StepOp::kBindMount:
        rc = mount(s.path, s.target, nullptr, MS_BIND, nullptr);
        failed = Syscall::kMount;
        break;
      case StepOp::kConnect: {
        int fd = Connect(s, &failed);
        if (fd < 0) {
          rc = -1;
        } else {
          out->value = fd;
        }
        break;
      }
      case StepOp::kDetach:
        rc = Detach(s.fd, &failed);
        break;
      case StepOp::kExec:
        execve(s.path, s.argv, kEmptyEnv);
        return Fail(out, i, Syscall::kExecve, errno);
      case StepOp::kExecFd:
        syscall(SYS_execveat, s.fd, "", s.argv, kEmptyEnv, AT_EMPTY_PATH);
        return Fail(out, i, Syscall::kExecve, errno);
      case StepOp::kEmptyRoot:
        rc = EmptyRoot(s.path, &failed);
        break;
      case StepOp::kReadByte: {
        char b;
        ssize_t n;
        do {
          n = read(s.fd, &b, 1);
        } while (n < 0 && errno == EINTR);
        if (n == 0) errno = EPIPE;  // the other side gave up
        rc = n == 1 ? 0 : -1;
        failed = Syscall::kRead;
        break;
      }
      case StepOp::kWriteByte: {
        char b = 1;
        rc = WriteAll(s.fd, &b, 1);
        failed = Syscall::kWrite;
        break;
      }
      case StepOp::kOpenInto: {
        int fd = open(s.path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
          rc = -1;
          failed = Syscall::kOpen;
        } else {
          *s.out_fd = fd;
        }
        break;
      }
      case StepOp::kBecomeRoot:
        // Raw syscalls: glibc's wrappers would try to change every thread of "our" process,
        // and we share memory with Node's threads.
        if (syscall(SYS_setgroups, 0, nullptr) < 0) {
          rc = -1;
          failed = Syscall::kSetgroups;
        } else if (syscall(SYS_setresgid, 0, 0, 0) < 0) {
          rc = -1;
          failed = Syscall::kSetresgid;
        } else if (syscall(SYS_setresuid, 0, 0, 0) < 0) {
          rc = -1;
          failed = Syscall::kSetresuid;
        }
        break;
      case StepOp::kSpawnInNewPidNs: {
        ChildArgs sub = {a->steps, s.sub_begin, s.sub_end, out, false};
        // CLONE_VFORK: we resume once the grandchild has exec'd (or failed and exited).
        pid_t pid = clone(ChildMain, s.sub_stack_top, CLONE_VM | CLONE_VFORK | CLONE_NEWPID | SIGCHLD, &sub);
        if (pid < 0) return Fail(out, i, Syscall::kClone, errno);
        if (out->err != 0) {
          int status;
          while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
          }
          return 1;
        }
        // We exit next, so the grandchild is re-parented to init (or a subreaper) and Node
        // never has to reap it.
        out->value = pid;
        break;
      }
    }
    if (rc < 0) return Fail(out, i, failed, errno);
    if (a->top_level) out->steps_done = static_cast<int>(i + 1);
  }
  return 0;
}

int ChildMain(void* arg) { _exit(Execute(static_cast<const ChildArgs*>(arg))); }

}  // namespace

const char* SyscallName(Syscall s) {
  switch (s) {
    case Syscall::kNone: return "child";
    case Syscall::kSetns: return "setns";
    case Syscall::kUnshare: return "unshare";
    case Syscall::kSethostname: return "sethostname";
    case Syscall::kSocket: return "socket";
    case Syscall::kIoctl: return "ioctl";
    case Syscall::kOpen: return "open";
    case Syscall::kWrite: return "write";
    case Syscall::kMount: return "mount";
    case Syscall::kSetsockopt: return "setsockopt";
    case Syscall::kConnect: return "connect";
    case Syscall::kSetsid: return "setsid";
    case Syscall::kChdir: return "chdir";
    case Syscall::kDup2: return "dup2";
    case Syscall::kExecve: return "execve";
    case Syscall::kClone: return "clone";
    case Syscall::kRead: return "read";
    case Syscall::kSetgroups: return "setgroups";
    case Syscall::kSetresgid: return "setresgid";
    case Syscall::kSetresuid: return "setresuid";
    case Syscall::kPivotRoot: return "pivot_root";
    case Syscall::kUmount: return "umount2";
  }
  return "child";
}

ChildStack::ChildStack() : mem_(new char[kStackSize]) {}

void* ChildStack::top() const {
  auto end = reinterpret_cast<uintptr_t>(mem_.get() + kStackSize);
  return reinterpret_cast<void*>(end & ~static_cast<uintptr_t>(63));
}

int RunInChild(const std::vector<Step>& steps, size_t top_count, Outcome* out, int extra_clone_flags) {
  ChildStack stack;
  ChildArgs args = {steps.data(), 0, top_count < steps.size() ? top_count : steps.size(), out, true};
  // The child shares our memory: with every signal blocked it can never run one of Node's
  // signal handlers. It inherits the mask; an exec'd program resets its own.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = clone(ChildMain, stack.top(), CLONE_VM | CLONE_VFORK | SIGCHLD | extra_clone_flags, &args);
  int clone_err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return clone_err;
  return WaitChild(pid, out);
}

int StartChild(const std::vector<Step>& steps, size_t top_count, Outcome* out, int extra_clone_flags,
               ChildStack* stack, pid_t* pid) {
  // Kept in the caller's memory until WaitChild: the child reads it while the caller goes on.
  static thread_local ChildArgs args;
  args = {steps.data(), 0, top_count < steps.size() ? top_count : steps.size(), out, true};
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t p = clone(ChildMain, stack->top(), CLONE_VM | SIGCHLD | extra_clone_flags, &args);
  int clone_err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (p < 0) return clone_err;
  *pid = p;
  return 0;
}

int WaitChild(pid_t pid, Outcome* out) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return errno;
  }
  if (out->err == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    // Died without reporting (a signal): report it as a generic child failure.
    out->err = ECHILD;
    out->failed_step = out->steps_done;
    out->syscall = Syscall::kNone;
  }
  return 0;
}

}  // namespace nori
