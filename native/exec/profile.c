/*
 * Parser of the exec profile (profile.h). Keys (each a NUL-terminated "key=value" record):
 *   init=<pid>:<starttime>  ns=<name> (repeated, in join order)  cgroup=<dir> (repeated)
 *   oom=<int>  keyring=<name>  nnp=1  umask=<octal>  uid=<n>  gid=<n>  groups=<n,n,...>
 *   rootuid=<n> rootgid=<n> (a user namespace: the host ids of its root)
 *   cap.bnd|cap.eff|cap.prm|cap.inh|cap.amb=<hex mask>  rlimit=<resource>:<soft>:<hard>
 *   cwd=<path>  env=<K=V> (repeated)  seccomp=<bpf path>  seccomp.flags=<n>
 * An unknown key is an error: a profile written by a newer nori must not be half-applied.
 */
#include "profile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEADER "nori-exec-profile 1"

static int fail(char *err, size_t len, const char *fmt, const char *arg) {
  snprintf(err, len, fmt, arg);
  return -1;
}

static int parse_u64(const char *s, int base, uint64_t *out) {
  char *end;
  if (*s == '\0') return -1;
  errno = 0;
  unsigned long long v = strtoull(s, &end, base);
  if (errno || *end != '\0') return -1;
  *out = v;
  return 0;
}

static int parse_groups(const char *s, struct profile *p) {
  p->n_groups = 0;
  while (*s) {
    if (p->n_groups == MAX_GROUPS) return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || (*end != ',' && *end != '\0')) return -1;
    p->groups[p->n_groups++] = (gid_t)v;
    s = *end ? end + 1 : end;
  }
  return 0;
}

static int parse_rlimit(const char *s, struct profile *p) {
  if (p->n_rlimits == MAX_RLIMITS) return -1;
  struct rlim_entry *r = &p->rlimits[p->n_rlimits];
  char *end;
  errno = 0;
  r->resource = (int)strtol(s, &end, 10);
  if (errno || *end != ':') return -1;
  r->soft = strtoull(end + 1, &end, 10);
  if (errno || *end != ':') return -1;
  r->hard = strtoull(end + 1, &end, 10);
  if (errno || *end != '\0') return -1;
  p->n_rlimits++;
  return 0;
}

static int apply(struct profile *p, char *rec, char *err, size_t errlen) {
  char *eq = strchr(rec, '=');
  if (!eq) return fail(err, errlen, "profile record without '=': %s", rec);
  *eq = '\0';
  const char *k = rec, *v = eq + 1;
  uint64_t n;
  if (!strcmp(k, "init")) {
    char *end;
    p->init_pid = (pid_t)strtol(v, &end, 10);
    if (*end != ':' || parse_u64(end + 1, 10, &n) || p->init_pid <= 0) return fail(err, errlen, "bad init: %s", v);
    p->init_starttime = n;
  } else if (!strcmp(k, "ns")) {
    if (p->n_ns == MAX_NS) return fail(err, errlen, "too many namespaces%s", "");
    p->ns[p->n_ns++] = v;
  } else if (!strcmp(k, "cgroup")) {
    if (p->n_cgroups == MAX_CGROUPS) return fail(err, errlen, "too many cgroups%s", "");
    p->cgroups[p->n_cgroups++] = v;
  } else if (!strcmp(k, "oom")) {
    char *end;
    p->oom_score_adj = (int)strtol(v, &end, 10);
    if (*end) return fail(err, errlen, "bad oom: %s", v);
    p->has_oom = 1;
  } else if (!strcmp(k, "keyring")) {
    p->keyring = v;
  } else if (!strcmp(k, "nnp")) {
    p->nnp = !strcmp(v, "1");
  } else if (!strcmp(k, "umask")) {
    if (parse_u64(v, 8, &n)) return fail(err, errlen, "bad umask: %s", v);
    p->umask = (mode_t)n;
    p->has_umask = 1;
  } else if (!strcmp(k, "uid")) {
    if (parse_u64(v, 10, &n)) return fail(err, errlen, "bad uid: %s", v);
    p->uid = (uid_t)n;
  } else if (!strcmp(k, "gid")) {
    if (parse_u64(v, 10, &n)) return fail(err, errlen, "bad gid: %s", v);
    p->gid = (gid_t)n;
  } else if (!strcmp(k, "rootuid")) {
    if (parse_u64(v, 10, &n)) return fail(err, errlen, "bad rootuid: %s", v);
    p->root_uid = (uid_t)n;
    p->has_root_ids = 1;
  } else if (!strcmp(k, "rootgid")) {
    if (parse_u64(v, 10, &n)) return fail(err, errlen, "bad rootgid: %s", v);
    p->root_gid = (gid_t)n;
    p->has_root_ids = 1;
  } else if (!strcmp(k, "groups")) {
    if (parse_groups(v, p)) return fail(err, errlen, "bad groups: %s", v);
  } else if (!strncmp(k, "cap.", 4)) {
    uint64_t *dst = !strcmp(k, "cap.bnd")   ? &p->cap_bnd
                    : !strcmp(k, "cap.eff") ? &p->cap_eff
                    : !strcmp(k, "cap.prm") ? &p->cap_prm
                    : !strcmp(k, "cap.inh") ? &p->cap_inh
                    : !strcmp(k, "cap.amb") ? &p->cap_amb
                                            : NULL;
    if (!dst || parse_u64(v, 16, dst)) return fail(err, errlen, "bad capability record %s", k);
  } else if (!strcmp(k, "rlimit")) {
    if (parse_rlimit(v, p)) return fail(err, errlen, "bad rlimit: %s", v);
  } else if (!strcmp(k, "cwd")) {
    p->cwd = v;
  } else if (!strcmp(k, "env")) {
    if (p->n_env == MAX_ENV) return fail(err, errlen, "too many env entries%s", "");
    p->env[p->n_env++] = (char *)v;
  } else if (!strcmp(k, "seccomp")) {
    p->seccomp = v;
  } else if (!strcmp(k, "seccomp.flags")) {
    if (parse_u64(v, 10, &n)) return fail(err, errlen, "bad seccomp.flags: %s", v);
    p->seccomp_flags = (unsigned)n;
  } else {
    return fail(err, errlen, "unknown profile key %s", k);
  }
  return 0;
}

int profile_load(const char *path, struct profile *p, char *err, size_t errlen) {
  memset(p, 0, sizeof *p);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(err, errlen, "open profile: %s", strerror(errno));
  size_t cap = 64 * 1024, len = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (!buf) return fail(err, errlen, "profile: %s", "out of memory");
    ssize_t r = read(fd, buf + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      close(fd);
      return fail(err, errlen, "read profile: %s", strerror(errno));
    }
    if (r == 0) break;
    len += (size_t)r;
    if (len == cap) {
      cap *= 2;
      buf = realloc(buf, cap + 1);
    }
  }
  close(fd);
  buf[len] = '\0'; /* buffer is kept for the process lifetime: the profile points into it */
  if (len < sizeof HEADER || memcmp(buf, HEADER, sizeof HEADER) != 0) return fail(err, errlen, "%s is not an exec profile", path);
  if (buf[len - 1] != '\0') return fail(err, errlen, "profile %s is truncated", path);
  for (size_t off = sizeof HEADER; off < len;) {
    char *rec = buf + off;
    off += strlen(rec) + 1;
    if (apply(p, rec, err, errlen)) return -1;
  }
  if (p->init_pid <= 0) return fail(err, errlen, "profile %s names no init process", path);
  p->env[p->n_env] = NULL;
  return 0;
}
