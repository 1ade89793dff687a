// ExecSync's helper started without forking Node. libuv starts a child with fork(): for the
// daemon (a large, multi-threaded process) that copies its page tables and then tears them down
// again at exec, milliseconds of CPU per ExecSync. posix_spawn in glibc clones with
// CLONE_VM|CLONE_VFORK instead (no copy). And the helper is started from one sealed in-memory
// copy made once (sealedExecCopy), so it need not copy itself into a memfd and exec again on
// every call (its CVE-2019-5736 guard, exec/main.c, sees it already runs from a sealed copy).
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "exports.h"
#include "spawn.h"

extern char** environ;

namespace nori {

namespace {

// sealedExecCopy(path) -> fd: a close-on-exec memfd holding the file, sealed against any change.
Napi::Value SealedExecCopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  int src = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) ThrowErrno(env, errno, "open", path);
  struct stat st;
  if (fstat(src, &st) < 0) {
    int e = errno;
    close(src);
    ThrowErrno(env, e, "fstat", path);
  }
  int mem = memfd_create("nori-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mem < 0) {
    int e = errno;
    close(src);
    ThrowErrno(env, e, "memfd_create");
  }
  for (off_t left = st.st_size; left > 0;) {
    ssize_t n = sendfile(mem, src, nullptr, static_cast<size_t>(left));
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      close(src);
      close(mem);
      ThrowErrno(env, e, "sendfile", path);
    }
    left -= n;
  }
  close(src);
  if (fcntl(mem, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
    int e = errno;
    close(mem);
    ThrowErrno(env, e, "fcntl(F_ADD_SEALS)");
  }
  return Napi::Number::New(env, mem);
}

// spawnPiped(execFd, argv) -> {pid, stdout, stderr, status}: runs the file behind execFd with
// stdin on /dev/null and pipes on fds 1, 2 and 3 (their read ends returned, close-on-exec).
// Signal dispositions and mask are reset as libuv does for its children.
Napi::Value SpawnPiped(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int execFd = static_cast<int>(IntArg(info, 0, "execFd"));
  std::vector<std::string> args = StringArray(env, info[1], "argv");
  if (args.empty()) ThrowTypeError(env, "argv must not be empty");
  std::vector<char*> argv = Pointers(args);

  int fds[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  auto closeAll = [&]() {
    for (auto& p : fds)
      for (int f : p)
        if (f >= 0) close(f);
  };
  for (auto& p : fds) {
    if (pipe2(p, O_CLOEXEC) < 0) {
      int e = errno;
      closeAll();
      ThrowErrno(env, e, "pipe2");
    }
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  for (int i = 0; i < 3; i++) posix_spawn_file_actions_adddup2(&fa, fds[i][1], i + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  ResetSignalsOnSpawn(&attr);
  char exe[64];
  snprintf(exe, sizeof exe, "/proc/self/fd/%d", execFd);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, exe, &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  for (auto& p : fds) {
    close(p[1]);
    p[1] = -1;
  }
  if (rc != 0) {
    closeAll();
    ThrowErrno(env, rc, "posix_spawn", exe);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, pid));
  out.Set("stdout", Napi::Number::New(env, fds[0][0]));
  out.Set("stderr", Napi::Number::New(env, fds[1][0]));
  out.Set("status", Napi::Number::New(env, fds[2][0]));
  return out;
}

// reapChild(pid) -> exit status (>= 0), a signal as -signo, null while it runs, or undefined
// when there is no such child (already reaped).
Napi::Value ReapChild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = static_cast<pid_t>(IntArg(info, 0, "pid"));
  int st = 0;
  pid_t r;
  do r = waitpid(pid, &st, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0) return env.Null();
  if (r < 0) {
    if (errno == ECHILD) return env.Undefined();
    ThrowErrno(env, errno, "waitpid");
  }
  if (WIFSIGNALED(st)) return Napi::Number::New(env, -WTERMSIG(st));
  return Napi::Number::New(env, WEXITSTATUS(st));
}

}  // namespace

void RegisterExecSpawnFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("sealedExecCopy", Napi::Function::New(env, SealedExecCopy, "sealedExecCopy"));
  exports.Set("spawnPiped", Napi::Function::New(env, SpawnPiped, "spawnPiped"));
  exports.Set("reapChild", Napi::Function::New(env, ReapChild, "reapChild"));
}

}  // namespace nori
