// Runs a blocking task either on libuv's thread pool (returning a Promise) or inline, and turns
// its result into a value or a Node-shaped error.
#pragma once

#include <napi.h>

#include <functional>
#include <optional>

#include "errors.h"

namespace nori {

struct TaskResult {
  std::optional<SysError> error;
  std::optional<double> number;  // resolved value; undefined when absent
};

using Task = std::function<TaskResult()>;

Napi::Value RunAsync(Napi::Env env, Task task);
Napi::Value RunSync(Napi::Env env, const Task& task);

}  // namespace nori
