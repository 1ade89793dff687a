// malloc_trim: glibc keeps freed memory in its arenas (one per thread that allocated, and
// libuv's pool threads all allocate), so after a burst of work the daemon's RSS stays at its
// high-water mark although neither V8 nor the addon holds the memory. Node has no way to ask
// glibc to hand it back.
#include <malloc.h>

#include "exports.h"

namespace nori {

static Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
}

void RegisterMemoryFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("mallocTrim", Napi::Function::New(env, MallocTrim));
}

}  // namespace nori
