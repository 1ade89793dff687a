// Shared by the posix_spawn helpers (exec_spawn.cc, monitor_spawn.cc): argv/envp arrays and the
// spawn attributes that give the child the signal state libuv gives its children.
#pragma once

#include <signal.h>
#include <spawn.h>

#include <string>
#include <vector>

namespace nori {

// NULL-terminated pointers into `strings` (which must outlive them), for argv or envp.
inline std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Every signal back to its default disposition and an empty mask, as libuv does for its
// children: nothing of Node's signal handling (an ignored SIGPIPE) reaches the child.
inline void ResetSignalsOnSpawn(posix_spawnattr_t* attr) {
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(attr, &all);
  posix_spawnattr_setsigmask(attr, &none);
  posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
}

}  // namespace nori
