#include "errors.h"

#include <string.h>
#include <uv.h>

namespace nori {

namespace {

// Node takes code and message from libuv (uv_err_name/uv_strerror); use the same so our
// errors read exactly like fs errors. glibc's strerrorname_np covers errnos libuv lacks.
std::string CodeOf(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "UNKNOWN";
}

std::string MessageOf(int err) {
  const char* name = strerrorname_np(err);
  // uv_strerror leaks a string for errnos it does not know; only ask it about known ones.
  if (name != nullptr && strcmp(uv_err_name(-err), name) == 0) return uv_strerror(-err);
  return strerror(err);
}

}  // namespace

Napi::Error MakeFsError(Napi::Env env, const SysError& e) {
  std::string code = CodeOf(e.err);
  std::string message = code + ": " + MessageOf(e.err) + ", " + e.syscall;
  if (!e.path.empty()) message += " '" + e.path + "'";
  if (!e.dest.empty()) message += " -> '" + e.dest + "'";
  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object obj = error.Value();
  obj.Set("errno", Napi::Number::New(env, -e.err));
  obj.Set("code", Napi::String::New(env, code));
  obj.Set("syscall", Napi::String::New(env, e.syscall));
  if (!e.path.empty()) obj.Set("path", Napi::String::New(env, e.path));
  if (!e.dest.empty()) obj.Set("dest", Napi::String::New(env, e.dest));
  if (!e.step.empty()) obj.Set("step", Napi::String::New(env, e.step));
  return error;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& path, const std::string& dest) {
  SysError e;
  e.err = err;
  e.syscall = syscall;
  e.path = path;
  e.dest = dest;
  throw MakeFsError(env, e);
}

void ThrowTypeError(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }

}  // namespace nori
