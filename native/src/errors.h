// Errors shaped like Node's fs errors: code ('ENOENT'), errno (negative, as Node reports
// it), syscall, path, optional dest, and the message "ENOENT: no such file or directory,
// mount '/x'". A `step` names the higher-level stage of a multi-step child program.
#pragma once

#include <napi.h>

#include <string>

namespace nori {

struct SysError {
  int err = 0;  // positive errno
  std::string syscall;
  std::string path;
  std::string dest;
  std::string step;
};

Napi::Error MakeFsError(Napi::Env env, const SysError& e);

// Throws a JS exception built from errno for a failed synchronous syscall.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& path = "",
                             const std::string& dest = "");

// TypeError for bad arguments (programming errors, not system errors).
[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& message);

}  // namespace nori
