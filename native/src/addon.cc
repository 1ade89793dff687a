// nori_native: the few Linux syscalls Node lacks. See src/sys/types.ts for the typed API.
#include <napi.h>
#include <sys/mount.h>
#include <sys/xattr.h>

#include "exports.h"

namespace nori {

namespace {

void SetConstants(Napi::Env env, Napi::Object exports) {
  Napi::Object c = Napi::Object::New(env);
  auto set = [&](const char* name, double value) { c.Set(name, Napi::Number::New(env, value)); };
#define NORI_CONST(name) set(#name, name)
  NORI_CONST(MS_RDONLY);
  NORI_CONST(MS_NOSUID);
  NORI_CONST(MS_NODEV);
  NORI_CONST(MS_NOEXEC);
  NORI_CONST(MS_SYNCHRONOUS);
  NORI_CONST(MS_REMOUNT);
  NORI_CONST(MS_MANDLOCK);
  NORI_CONST(MS_DIRSYNC);
  NORI_CONST(MS_NOSYMFOLLOW);
  NORI_CONST(MS_NOATIME);
  NORI_CONST(MS_NODIRATIME);
  NORI_CONST(MS_BIND);
  NORI_CONST(MS_MOVE);
  NORI_CONST(MS_REC);
  NORI_CONST(MS_SILENT);
  NORI_CONST(MS_POSIXACL);
  NORI_CONST(MS_UNBINDABLE);
  NORI_CONST(MS_PRIVATE);
  NORI_CONST(MS_SLAVE);
  NORI_CONST(MS_SHARED);
  NORI_CONST(MS_RELATIME);
  NORI_CONST(MS_STRICTATIME);
  NORI_CONST(MS_LAZYTIME);
  NORI_CONST(MNT_FORCE);
  NORI_CONST(MNT_DETACH);
  NORI_CONST(MNT_EXPIRE);
  NORI_CONST(UMOUNT_NOFOLLOW);
  NORI_CONST(XATTR_CREATE);
  NORI_CONST(XATTR_REPLACE);
#undef NORI_CONST
  exports.Set("constants", c);
}

}  // namespace

}  // namespace nori

static Napi::Object InitNoriNative(Napi::Env env, Napi::Object exports) {
  nori::SetConstants(env, exports);
  nori::RegisterNamespaceFunctions(env, exports);
  nori::RegisterFsFunctions(env, exports);
  nori::RegisterFdFunctions(env, exports);
  nori::RegisterNetStatsFunctions(env, exports);
  nori::RegisterMemoryFunctions(env, exports);
  nori::RegisterHostProbeFunctions(env, exports);
  nori::RegisterNetlinkFunctions(env, exports);
  nori::RegisterNetlinkReadFunctions(env, exports);
  nori::RegisterNftablesFunctions(env, exports);
  nori::RegisterDirUsageFunctions(env, exports);
  nori::RegisterRroMountFunctions(env, exports);
  nori::RegisterUsernsFunctions(env, exports);
  nori::RegisterIdmapFunctions(env, exports);
  nori::RegisterExecSpawnFunctions(env, exports);
  nori::RegisterMonitorSpawnFunctions(env, exports);
  nori::RegisterInspectReadFunctions(env, exports);
  nori::RegisterEmptyRootFunctions(env, exports);
  return exports;
}

NODE_API_MODULE(nori_native, InitNoriNative)
