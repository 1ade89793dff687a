// Synchronous filesystem syscalls Node lacks: mount/umount2, l*xattr, mknod.
#include <errno.h>
#include <napi.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace nori {

namespace {

Napi::Value Mount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto source = OptionalString(env, info[0], "source");
  std::string target = StringArg(info, 1, "target");
  auto fstype = OptionalString(env, info[2], "fstype");
  int64_t flags = OptionalIntArg(info, 3, "flags", 0);
  if (flags < 0 || flags > 0xffffffffLL) ThrowTypeError(env, "flags out of range");
  auto data = OptionalString(env, info[4], "data");
  if (mount(source ? source->c_str() : nullptr, target.c_str(), fstype ? fstype->c_str() : nullptr,
            static_cast<unsigned long>(flags), data ? data->c_str() : nullptr) != 0) {
    ThrowErrno(env, errno, "mount", target);
  }
  return env.Undefined();
}

Napi::Value Umount2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string target = StringArg(info, 0, "target");
  int64_t flags = OptionalIntArg(info, 1, "flags", 0);
  if (umount2(target.c_str(), static_cast<int>(flags)) != 0) ThrowErrno(env, errno, "umount2", target);
  return env.Undefined();
}

Napi::Value Lsetxattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  std::string name = StringArg(info, 1, "name");
  std::string value = BytesValue(env, info[2], "value");
  int64_t flags = OptionalIntArg(info, 3, "flags", 0);
  if (lsetxattr(path.c_str(), name.c_str(), value.data(), value.size(), static_cast<int>(flags)) != 0)
    ThrowErrno(env, errno, "lsetxattr", path);
  return env.Undefined();
}

// Returns null when the attribute is absent (ENODATA), as callers mostly ask "is it set?".
Napi::Value Lgetxattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  std::string name = StringArg(info, 1, "name");
  std::vector<char> buf(256);
  for (;;) {
    ssize_t n = lgetxattr(path.c_str(), name.c_str(), buf.data(), buf.size());
    if (n >= 0) return Napi::Buffer<char>::Copy(env, buf.data(), static_cast<size_t>(n));
    if (errno == ENODATA) return env.Null();
    if (errno != ERANGE) ThrowErrno(env, errno, "lgetxattr", path);
    ssize_t size = lgetxattr(path.c_str(), name.c_str(), nullptr, 0);  // value grew: ask its size
    if (size < 0) {
      if (errno == ENODATA) return env.Null();
      ThrowErrno(env, errno, "lgetxattr", path);
    }
    buf.resize(static_cast<size_t>(size) + 1);
  }
}

Napi::Value Llistxattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  std::vector<char> buf(1024);
  ssize_t n;
  for (;;) {
    n = llistxattr(path.c_str(), buf.data(), buf.size());
    if (n >= 0) break;
    if (errno != ERANGE) ThrowErrno(env, errno, "llistxattr", path);
    ssize_t size = llistxattr(path.c_str(), nullptr, 0);
    if (size < 0) ThrowErrno(env, errno, "llistxattr", path);
    buf.resize(static_cast<size_t>(size) + 1);
  }
  Napi::Array names = Napi::Array::New(env);
  uint32_t count = 0;
  for (ssize_t start = 0; start < n;) {
    std::string name(buf.data() + start);
    start += static_cast<ssize_t>(name.size()) + 1;
    if (!name.empty()) names.Set(count++, Napi::String::New(env, name));
  }
  return names;
}

Napi::Value Mknod(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  int64_t mode = IntArg(info, 1, "mode");
  int64_t major_num = IntArg(info, 2, "major");
  int64_t minor_num = IntArg(info, 3, "minor");
  if (major_num < 0 || minor_num < 0 || major_num > 0xfffff || minor_num > 0xfffff)
    ThrowTypeError(env, "major/minor out of range");
  if (mknod(path.c_str(), static_cast<mode_t>(mode),
            makedev(static_cast<unsigned>(major_num), static_cast<unsigned>(minor_num))) != 0)
    ThrowErrno(env, errno, "mknod", path);
  return env.Undefined();
}

}  // namespace

void RegisterFsFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("mount", Napi::Function::New(env, Mount));
  exports.Set("umount2", Napi::Function::New(env, Umount2));
  exports.Set("lsetxattr", Napi::Function::New(env, Lsetxattr));
  exports.Set("lgetxattr", Napi::Function::New(env, Lgetxattr));
  exports.Set("llistxattr", Napi::Function::New(env, Llistxattr));
  exports.Set("mknod", Napi::Function::New(env, Mknod));
}

}  // namespace nori
