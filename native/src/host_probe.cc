// Two host facts Node cannot reach by itself, for `nori doctor` and for running under systemd:
//  - sdNotify(socketPath, message): sd_notify(3) — one datagram to $NOTIFY_SOCKET. Node's net
//    module has stream sockets only, and systemd's notify socket is AF_UNIX SOCK_DGRAM.
//  - probeIdmappedMount(dir): whether the kernel and the filesystem under `dir` accept an
//    idmapped mount (mount_setattr MOUNT_ATTR_IDMAP on a detached clone of `dir`). Nothing is
//    attached anywhere: the clone is dropped when its fd closes.
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace nori {

namespace {

// sdNotify(socketPath: string, message: string): void. A leading '@' names an abstract socket,
// as in systemd's own sd_notify.
Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "socketPath");
  std::string message = StringArg(info, 1, "message");
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) ThrowTypeError(env, "sdNotify: bad socket path");
  memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + path.size());
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket", path);
  ssize_t n = sendto(fd, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<struct sockaddr*>(&addr), len);
  int err = errno;
  close(fd);
  if (n < 0) ThrowErrno(env, err, "sendto", path);
  return env.Undefined();
}

bool WriteFile(const std::string& path, const char* text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = write(fd, text, strlen(text));
  close(fd);
  return n == static_cast<ssize_t>(strlen(text));
}

// probeIdmappedMount(dir: string): { ok: boolean, syscall: string, errno: number }.
// A child in a new user namespace (clone with CLONE_NEWUSER: unshare is refused in a threaded
// process) waits on a pipe while we map it and use its namespace as the idmap.
Napi::Value ProbeIdmappedMount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir = StringArg(info, 0, "dir");
  Napi::Object out = Napi::Object::New(env);
  auto finish = [&](const char* syscall, int err) {
    out.Set("ok", Napi::Boolean::New(env, err == 0));
    out.Set("syscall", Napi::String::New(env, syscall));
    out.Set("errno", Napi::Number::New(env, err));
    return out;
  };
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return finish("pipe2", errno);
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    int err = errno;
    close(pipefd[0]);
    close(pipefd[1]);
    return finish("clone(CLONE_NEWUSER)", err);
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls. Block until the parent closes its end.
    close(pipefd[1]);
    char c;
    while (read(pipefd[0], &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  close(pipefd[0]);
  const char* failed = "";
  int err = 0;
  std::string proc = "/proc/" + std::to_string(pid);
  if (!WriteFile(proc + "/uid_map", "0 1000000 65536\n")) {
    failed = "write uid_map";
    err = errno;
  } else if (!WriteFile(proc + "/gid_map", "0 1000000 65536\n")) {
    failed = "write gid_map";
    err = errno;
  }
  int nsfd = -1;
  if (err == 0) {
    nsfd = open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
      failed = "open ns/user";
      err = errno;
    }
  }
  if (err == 0) {
    int tree = static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    if (tree < 0) {
      failed = "open_tree";
      err = errno;
    } else {
      struct mount_attr attr;
      memset(&attr, 0, sizeof attr);
      attr.attr_set = MOUNT_ATTR_IDMAP;
      attr.userns_fd = static_cast<__u64>(nsfd);
      if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
        failed = "mount_setattr";
        err = errno;
      }
      close(tree);
    }
  }
  if (nsfd >= 0) close(nsfd);
  close(pipefd[1]);
  int status;
  while (waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {
  }
  return finish(err == 0 ? "mount_setattr" : failed, err);
}

}  // namespace

void RegisterHostProbeFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify));
  exports.Set("probeIdmappedMount", Napi::Function::New(env, ProbeIdmappedMount));
}

}  // namespace nori
