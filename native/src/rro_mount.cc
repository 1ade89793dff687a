// Recursive read-only bind mounts made by nori itself, for runtimes without the `rro` mount
// option (crun 1.8, runc < 1.1): a detached copy of the whole mount tree at `source`
// (open_tree OPEN_TREE_CLONE | AT_RECURSIVE) is made read-only and private in one step
// (mount_setattr AT_RECURSIVE: MOUNT_ATTR_RDONLY, MS_PRIVATE) and only then attached at `target`
// (move_mount), so no writable or shared moment is ever visible. The runtime then bind-mounts
// `target`; a bind copy keeps each mount's read-only flag. Raw syscalls: glibc 2.36's wrappers
// clash with <linux/mount.h>, and older glibc has none.
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "args.h"
#include "errors.h"
#include "exports.h"

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

namespace nori {

namespace {

constexpr unsigned kOpenTreeClone = 1;               // OPEN_TREE_CLONE
constexpr unsigned kOpenTreeCloexec = O_CLOEXEC;     // OPEN_TREE_CLOEXEC
constexpr unsigned kAtRecursive = 0x8000;            // AT_RECURSIVE
constexpr unsigned kAtEmptyPath = 0x1000;            // AT_EMPTY_PATH
constexpr unsigned kMoveMountFEmptyPath = 0x4;       // MOVE_MOUNT_F_EMPTY_PATH
constexpr uint64_t kMountAttrRdonly = 0x1;           // MOUNT_ATTR_RDONLY

struct MountAttr {  // struct mount_attr (MOUNT_ATTR_SIZE_VER0 = 32)
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// bindRecursiveReadOnly(source, target): target must exist (a directory for a directory source,
// a file for a file source).
Napi::Value BindRecursiveReadOnly(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string source = StringArg(info, 0, "source");
  std::string target = StringArg(info, 1, "target");
  Fd tree(static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, source.c_str(), kOpenTreeClone | kOpenTreeCloexec | kAtRecursive)));
  if (tree.get() < 0) ThrowErrno(env, errno, "open_tree", source);
  MountAttr attr{kMountAttrRdonly, 0, MS_PRIVATE, 0};
  if (syscall(SYS_mount_setattr, tree.get(), "", kAtEmptyPath | kAtRecursive, &attr, sizeof attr) != 0)
    ThrowErrno(env, errno, "mount_setattr", source);
  if (syscall(SYS_move_mount, tree.get(), "", AT_FDCWD, target.c_str(), kMoveMountFEmptyPath) != 0)
    ThrowErrno(env, errno, "move_mount", source, target);
  return env.Undefined();
}

// Whether the kernel has mount_setattr (5.12+): a call with a bad fd fails with EBADF or
// EINVAL there, ENOSYS (or EPERM from a seccomp filter) where it is missing.
Napi::Value MountSetattrAvailable(const Napi::CallbackInfo& info) {
  MountAttr attr{0, 0, 0, 0};
  long r = syscall(SYS_mount_setattr, -1, "", kAtEmptyPath, &attr, sizeof attr);
  bool ok = r == 0 || (errno != ENOSYS && errno != EPERM);
  return Napi::Boolean::New(info.Env(), ok);
}

}  // namespace

void RegisterRroMountFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("bindRecursiveReadOnly", Napi::Function::New(env, BindRecursiveReadOnly));
  exports.Set("mountSetattrAvailable", Napi::Function::New(env, MountSetattrAvailable));
}

}  // namespace nori
