// The container monitor (conmon) started without forking Node. libuv starts a child with
// fork(): for the daemon (≈ 150 MB resident, many threads) that copies its page tables and tears
// them down again at exec, and Node's main thread waits for the exec meanwhile (6-40 ms per
// CreateContainer here, more on a loaded node). glibc's posix_spawn clones with
// CLONE_VM|CLONE_VFORK instead: no copy. The monitor daemonizes at once; its first process is
// reaped with reapChild (exec_spawn.cc), since libuv only reaps the children it started.
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "exports.h"
#include "spawn.h"

namespace nori {

namespace {

// spawnMonitor(path, argv, env, cwd) -> {pid, sync}: runs `path` with argv and exactly env
// ("K=V" strings), in cwd, with stdin, stdout and stderr on /dev/null and fd 3 the write end of
// a new pipe; `sync` is its read end (close-on-exec). Signal dispositions and mask are reset as
// libuv does for its children. Throws like spawn would (ENOENT, EACCES) when the exec fails.
Napi::Value SpawnMonitor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  std::vector<std::string> args = StringArray(env, info[1], "argv");
  std::vector<std::string> envs = StringArray(env, info[2], "env");
  std::string cwd = StringArg(info, 3, "cwd");
  if (args.empty()) ThrowTypeError(env, "argv must not be empty");
  std::vector<char*> argv = Pointers(args);
  std::vector<char*> envp = Pointers(envs);

  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) ThrowErrno(env, errno, "pipe2");
  // dup2 onto itself would keep close-on-exec: never hand fd 3 over as its own source.
  if (p[1] == 3) {
    int moved = fcntl(p[1], F_DUPFD_CLOEXEC, 4);
    int e = errno;
    close(p[1]);
    if (moved < 0) {
      close(p[0]);
      ThrowErrno(env, e, "fcntl(F_DUPFD_CLOEXEC)");
    }
    p[1] = moved;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, p[1], 3);
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  ResetSignalsOnSpawn(&attr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, path.c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(p[1]);
  if (rc != 0) {
    close(p[0]);
    ThrowErrno(env, rc, "posix_spawn", path);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, pid));
  out.Set("sync", Napi::Number::New(env, p[0]));
  return out;
}

}  // namespace

void RegisterMonitorSpawnFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("spawnMonitor", Napi::Function::New(env, SpawnMonitor, "spawnMonitor"));
}

}  // namespace nori
