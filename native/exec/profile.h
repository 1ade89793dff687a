/*
 * The exec profile of one container: what nori-exec applies before it execs a command there.
 * Written once per container by nori (src/container/exec_profile*.ts) as NUL-terminated
 * "key=value" records after a "nori-exec-profile 1" header; see profile.c for the keys.
 */
#ifndef NORI_EXEC_PROFILE_H
#define NORI_EXEC_PROFILE_H

#include <stdint.h>
#include <sys/types.h>

#define MAX_NS 8
#define MAX_CGROUPS 32
#define MAX_GROUPS 256
#define MAX_RLIMITS 32
#define MAX_ENV 1024

struct rlim_entry {
  int resource;
  uint64_t soft, hard;
};

struct profile {
  pid_t init_pid;
  unsigned long long init_starttime; /* field 22 of /proc/<pid>/stat: guards against pid reuse */
  const char *ns[MAX_NS];            /* "user", "ipc", "uts", "net", "pid", "mnt", "cgroup", in join order */
  int n_ns;
  const char *cgroups[MAX_CGROUPS]; /* host cgroup dirs to join (their cgroup.procs) */
  int n_cgroups;
  int has_oom;
  int oom_score_adj;
  const char *keyring;
  int nnp;
  int has_umask;
  mode_t umask;
  uid_t uid;
  gid_t gid;
  gid_t groups[MAX_GROUPS];
  int n_groups;
  uint64_t cap_bnd, cap_eff, cap_prm, cap_inh, cap_amb;
  struct rlim_entry rlimits[MAX_RLIMITS];
  int n_rlimits;
  const char *cwd;
  char *env[MAX_ENV + 3]; /* + HOME and TERM if added + NULL */
  int n_env;
  int has_root_ids;    /* a user namespace: the host ids of its root, owners of the stdio pipes */
  uid_t root_uid;
  gid_t root_gid;
  const char *seccomp; /* path of the compiled BPF program, or NULL */
  unsigned int seccomp_flags;
};

/* Reads and parses path; on failure returns -1 with a message in err. */
int profile_load(const char *path, struct profile *p, char *err, size_t errlen);

#endif
