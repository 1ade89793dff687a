// Argument readers for the exported functions: they throw TypeError on misuse.
#pragma once

#include <napi.h>

#include <optional>
#include <string>
#include <vector>

#include "errors.h"

namespace nori {

inline std::string CheckedString(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsString()) ThrowTypeError(env, what + " must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) ThrowTypeError(env, what + " must not contain NUL bytes");
  return s;
}

inline std::string StringArg(const Napi::CallbackInfo& info, size_t i, const std::string& what) {
  return CheckedString(info.Env(), info[i], what);
}

// undefined and null mean "absent".
inline std::optional<std::string> OptionalString(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  return CheckedString(env, v, what);
}

inline std::vector<std::string> StringArray(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) ThrowTypeError(env, what + " must be an array of strings");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(CheckedString(env, arr.Get(i), what + "[i]"));
  return out;
}

inline int64_t IntArg(const Napi::CallbackInfo& info, size_t i, const std::string& what) {
  if (!info[i].IsNumber()) ThrowTypeError(info.Env(), what + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) ThrowTypeError(info.Env(), what + " must be an integer");
  return static_cast<int64_t>(d);
}

inline int64_t OptionalIntArg(const Napi::CallbackInfo& info, size_t i, const std::string& what, int64_t dflt) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return dflt;
  return IntArg(info, i, what);
}

// An open file descriptor or absent (undefined/null: -1).
inline int OptionalFd(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (v.IsUndefined() || v.IsNull()) return -1;
  if (!v.IsNumber()) ThrowTypeError(env, what + " must be a file descriptor");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d < 0 || d > 1048576 || d != static_cast<double>(static_cast<int>(d))) ThrowTypeError(env, what + " must be a file descriptor");
  return static_cast<int>(d);
}

inline Napi::Object ObjectArg(const Napi::CallbackInfo& info, size_t i, const std::string& what) {
  if (!info[i].IsObject()) ThrowTypeError(info.Env(), what + " must be an object");
  return info[i].As<Napi::Object>();
}

// A string or a Buffer, as bytes.
inline std::string BytesValue(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (v.IsBuffer()) {
    auto b = v.As<Napi::Buffer<char>>();
    return std::string(b.Data(), b.Length());
  }
  if (v.IsString()) return v.As<Napi::String>().Utf8Value();
  ThrowTypeError(env, what + " must be a string or a Buffer");
}

}  // namespace nori
