// Idmapped mounts (Linux 5.12+): a clone of a directory or file whose owners read through the
// mapping of a user namespace, so a pod with its own user namespace sees the image's and the
// volumes' files with their owners (on-disk 0 shows as the pod's root), and nothing is chowned.
// runc 1.1 cannot make them (no mount idmaps), so nori makes each one on a host path that the
// runtime then bind-mounts, or that overlayfs takes as a layer.
//
//   open_tree(OPEN_TREE_CLONE) → mount_setattr(MOUNT_ATTR_IDMAP, userns fd) → move_mount
//
// Synchronous: a handful of syscalls on local paths.
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace nori {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// Makes `target` a mount point of the source's kind: a directory, or an empty file.
int CreateMountPoint(const std::string& target, bool dir) {
  struct stat st;
  if (lstat(target.c_str(), &st) == 0) return S_ISDIR(st.st_mode) == dir ? 0 : EEXIST;
  if (errno != ENOENT) return errno;
  if (dir) return mkdir(target.c_str(), 0755) == 0 ? 0 : errno;
  int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

// idmapMount(source, target, usernsPath, recursive): target is created (directory or file, as
// the source is) when missing. Undo with umount2(target, MNT_DETACH).
Napi::Value IdmapMount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string source = StringArg(info, 0, "source");
  std::string target = StringArg(info, 1, "target");
  std::string userns = StringArg(info, 2, "usernsPath");
  bool recursive = info.Length() > 3 && info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();

  Fd ns;
  ns.fd = open(userns.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns.fd < 0) ThrowErrno(env, errno, "open", userns);
  struct stat st;
  if (stat(source.c_str(), &st) != 0) ThrowErrno(env, errno, "stat", source);
  Fd tree;
  unsigned rec = recursive ? AT_RECURSIVE : 0;
  tree.fd = open_tree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
  if (tree.fd < 0) ThrowErrno(env, errno, "open_tree", source);
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(ns.fd);
  if (mount_setattr(tree.fd, "", AT_EMPTY_PATH | rec, &attr, sizeof attr) != 0)
    ThrowErrno(env, errno, "mount_setattr", source);
  if (int err = CreateMountPoint(target, S_ISDIR(st.st_mode))) ThrowErrno(env, err, "mkdir", target);
  if (move_mount(tree.fd, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    ThrowErrno(env, errno, "move_mount", source, target);
  return env.Undefined();
}

}  // namespace

void RegisterIdmapFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("idmapMount", Napi::Function::New(env, IdmapMount));
}

}  // namespace nori
