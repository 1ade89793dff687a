// Each source file registers its own functions on the addon's exports.
#pragma once

#include <napi.h>

namespace nori {

void RegisterNamespaceFunctions(Napi::Env env, Napi::Object exports);
void RegisterFsFunctions(Napi::Env env, Napi::Object exports);
void RegisterFdFunctions(Napi::Env env, Napi::Object exports);
void RegisterNetStatsFunctions(Napi::Env env, Napi::Object exports);
void RegisterMemoryFunctions(Napi::Env env, Napi::Object exports);
void RegisterHostProbeFunctions(Napi::Env env, Napi::Object exports);
void RegisterNetlinkFunctions(Napi::Env env, Napi::Object exports);
void RegisterNetlinkReadFunctions(Napi::Env env, Napi::Object exports);
void RegisterNftablesFunctions(Napi::Env env, Napi::Object exports);
void RegisterDirUsageFunctions(Napi::Env env, Napi::Object exports);
void RegisterRroMountFunctions(Napi::Env env, Napi::Object exports);
void RegisterUsernsFunctions(Napi::Env env, Napi::Object exports);
void RegisterIdmapFunctions(Napi::Env env, Napi::Object exports);
void RegisterExecSpawnFunctions(Napi::Env env, Napi::Object exports);
void RegisterMonitorSpawnFunctions(Napi::Env env, Napi::Object exports);
void RegisterInspectReadFunctions(Napi::Env env, Napi::Object exports);
void RegisterEmptyRootFunctions(Napi::Env env, Napi::Object exports);

}  // namespace nori
