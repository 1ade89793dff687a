/*
 * The child half of nori-exec: the same steps in the same order as runc's setns init
 * (libcontainer/setns_init_linux.go + finalizeNamespace + setupUser), so the exec'd process
 * ends up with what `runc exec` would give it: cgroups, namespaces, session keyring,
 * no_new_privs, umask, rlimits, seccomp (before the capability drop without no_new_privs, last
 * with it), bounding set, user and groups, cwd, capabilities, env, PATH lookup.
 */
#include "enter.h"
#include "passwd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_LOWER 3
#endif
#define KEYCTL_JOIN_SESSION_KEYRING 1

static int failf(char *err, size_t len, const char *fmt, ...) {
  int e = errno;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(err, len, fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n < len) snprintf(err + n, len - (size_t)n, ": %s", strerror(e));
  return -1;
}

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  int e = errno;
  close(fd);
  errno = e;
  return n < 0 ? -1 : 0;
}

static int ns_type(const char *name) {
  if (!strcmp(name, "user")) return CLONE_NEWUSER;
  if (!strcmp(name, "ipc")) return CLONE_NEWIPC;
  if (!strcmp(name, "uts")) return CLONE_NEWUTS;
  if (!strcmp(name, "net")) return CLONE_NEWNET;
  if (!strcmp(name, "pid")) return CLONE_NEWPID;
  if (!strcmp(name, "mnt")) return CLONE_NEWNS;
  if (!strcmp(name, "cgroup")) return CLONE_NEWCGROUP;
  return 0;
}

static const char *env_get(char *const *env, const char *key) {
  size_t k = strlen(key);
  for (; *env; env++)
    if (!strncmp(*env, key, k) && (*env)[k] == '=') return *env + k + 1;
  return NULL;
}

/* runc's fixStdioPermissions: the stdio the user writes to must be the user's (e.g. /dev/stdout). */
static int fix_stdio(uid_t uid, char *err, size_t errlen) {
  struct stat null;
  if (stat("/dev/null", &null) < 0) return failf(err, errlen, "stat /dev/null");
  for (int fd = 0; fd < 3; fd++) {
    struct stat s;
    if (fstat(fd, &s) < 0) return failf(err, errlen, "fstat %d", fd);
    if (s.st_uid == uid || s.st_rdev == null.st_rdev) continue;
    if (fchown(fd, uid, s.st_gid) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
      return failf(err, errlen, "fchown stdio %d", fd);
  }
  return 0;
}

static int load_seccomp(const struct profile *p, const struct prepared *prep, char *err, size_t errlen) {
  struct sock_fprog prog = {.len = (unsigned short)(prep->bpf_len / sizeof(struct sock_filter)),
                            .filter = (struct sock_filter *)prep->bpf};
  int r = p->seccomp_flags ? (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &prog)
                           : prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
  return r < 0 ? failf(err, errlen, "load seccomp filter") : 0;
}

static int is_executable_file(const char *path) {
  struct stat s;
  if (stat(path, &s) < 0) return -errno;
  if (S_ISDIR(s.st_mode) || !(s.st_mode & 0111)) return -EACCES;
  return 0;
}

/* Go's exec.LookPath (runc 1.1) over the spec's PATH; a name with a slash is taken as is. */
static int look_path(const char *name, char *const *env, char *out, size_t len, char *err, size_t errlen) {
  if (strchr(name, '/')) {
    int r = is_executable_file(name);
    if (r < 0) {
      errno = -r;
      return failf(err, errlen, "exec: \"%s\": stat %s", name, name);
    }
    snprintf(out, len, "%s", name);
    return 0;
  }
  const char *path = env_get(env, "PATH");
  if (path && name[0]) {
    for (const char *s = path;;) {
      const char *e = strchr(s, ':');
      size_t n = e ? (size_t)(e - s) : strlen(s);
      if (n == 0) snprintf(out, len, "./%s", name);
      else snprintf(out, len, "%.*s/%s", (int)n, s, name);
      if (is_executable_file(out) == 0) return 0;
      if (!e) break;
      s = e + 1;
    }
  }
  errno = ENOENT;
  snprintf(err, errlen, "exec: \"%s\": executable file not found in $PATH", name);
  return -1;
}

/*
 * runc's setupConsole for `exec --tty`: a pty of the container's own devpts (its /dev/ptmx),
 * the master handed to the parent, the slave as stdio and controlling terminal.
 */
static int setup_console(const struct prepared *prep, char *err, size_t errlen) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return failf(err, errlen, "open /dev/ptmx");
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) return failf(err, errlen, "unlockpt");
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) return failf(err, errlen, "open the pty slave");
  struct winsize ws = {.ws_row = prep->rows, .ws_col = prep->cols};
  if (ws.ws_row && ws.ws_col) ioctl(master, TIOCSWINSZ, &ws);
  char byte = 0;
  char ctl[CMSG_SPACE(sizeof(int))];
  memset(ctl, 0, sizeof ctl);
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &master, sizeof(int));
  if (sendmsg(prep->tty_sock, &msg, 0) < 0) return failf(err, errlen, "send the pty master");
  close(master);
  close(prep->tty_sock);
  if (setsid() < 0) return failf(err, errlen, "setsid");
  if (ioctl(slave, TIOCSCTTY, 0) < 0) return failf(err, errlen, "set the controlling terminal");
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0) return failf(err, errlen, "dup2 the pty slave");
  if (slave > 2) close(slave);
  return 0;
}

static int setup(const struct profile *p, const struct prepared *prep, char **argv, char *path, size_t pathlen,
                 char *err, size_t errlen) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
  /* Its own process group (with a tty: its own session), so a timeout can kill what the
   * command started along with it. */
  if (prep->tty_sock < 0) setpgid(0, 0);
  /* Nothing of the helper's may reach the command (runc: CloseExecFrom(3)). */
  syscall(__NR_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);

  /* Still on the host's /proc and /sys/fs/cgroup: this process is in the pid namespace already
   * (its parent entered it), and the host's proc resolves "self" for it. */
  if (p->has_oom) {
    char v[16];
    snprintf(v, sizeof v, "%d", p->oom_score_adj);
    if (write_file("/proc/self/oom_score_adj", v) < 0) return failf(err, errlen, "write oom_score_adj");
  }
  for (int i = 0; i < p->n_cgroups; i++) {
    char procs[4096];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", p->cgroups[i]);
    if (write_file(procs, "0") < 0) return failf(err, errlen, "join cgroup %s", p->cgroups[i]);
  }
  /* The user namespace comes first in the profile: entered, it grants the capabilities to
   * enter the namespaces it owns. */
  int joined_user = 0;
  for (int i = 0; i < p->n_ns; i++) {
    int type = ns_type(p->ns[i]);
    if (type == CLONE_NEWPID) continue; /* entered by the parent before fork */
    if (setns(prep->ns_fds[i], type) < 0) return failf(err, errlen, "setns %s", p->ns[i]);
    close(prep->ns_fds[i]);
    joined_user |= type == CLONE_NEWUSER;
  }
  /* runc's nsexec, stage 2: become the user namespace's root (a mapped id on the host) before
   * anything else; the container's user and groups follow in setupUser. */
  if (joined_user) {
    if (syscall(SYS_setresuid, 0, 0, 0) < 0) return failf(err, errlen, "setresuid to the user namespace's root");
    if (syscall(SYS_setresgid, 0, 0, 0) < 0) return failf(err, errlen, "setresgid to the user namespace's root");
    if (syscall(SYS_setgroups, 0, NULL) < 0) return failf(err, errlen, "setgroups in the user namespace");
  }

  if (p->keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, p->keyring) < 0 && errno != ENOSYS)
    return failf(err, errlen, "join session keyring");
  if (prep->tty_sock >= 0 && setup_console(prep, err, errlen) < 0) return -1;
  if (p->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return failf(err, errlen, "set no_new_privs");
  if (p->has_umask) umask(p->umask);
  for (int i = 0; i < p->n_rlimits; i++) {
    struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
    if (setrlimit(p->rlimits[i].resource, &rl) < 0) return failf(err, errlen, "setrlimit %d", p->rlimits[i].resource);
  }
  /* Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it while we have it. */
  if (prep->bpf && !p->nnp && load_seccomp(p, prep, err, errlen) < 0) return -1;

  /* finalizeNamespace */
  int chdir_pending = 0;
  if (p->cwd && p->cwd[0] && chdir(p->cwd) < 0) {
    if (errno != EACCES && errno != EPERM) return failf(err, errlen, "chdir to cwd (\"%s\")", p->cwd);
    chdir_pending = 1; /* the container user may be allowed where root (squashed) is not */
  }
  for (int c = 0; prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
    if (!(p->cap_bnd & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      return failf(err, errlen, "drop bounding capability %d", c);
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return failf(err, errlen, "set keepcaps");

  /* setupUser */
  char **env = (char **)p->env;
  /* A terminal needs TERM for most interactive tools (nori's execProcessSpec adds it too). */
  if (prep->tty_sock >= 0 && !env_get(env, "TERM")) {
    int i = 0;
    while (env[i]) i++;
    env[i] = "TERM=xterm";
    env[i + 1] = NULL;
  }
  const char *home = env_get(env, "HOME");
  static char home_entry[4096 + 5];
  if (!home || !home[0]) {
    char h[4096];
    passwd_home("/etc/passwd", p->uid, h, sizeof h); /* capped, timed: see passwd.c */
    snprintf(home_entry, sizeof home_entry, "HOME=%s", h);
    int i = 0;
    while (env[i] && strncmp(env[i], "HOME=", 5)) i++;
    if (!env[i]) env[i + 1] = NULL; /* appended; else replaced in place (HOME= was empty) */
    env[i] = home_entry;
  }
  if (fix_stdio(p->uid, err, errlen) < 0) return -1;
  if (syscall(SYS_setgroups, (size_t)p->n_groups, p->groups) < 0) return failf(err, errlen, "setgroups");
  if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0) return failf(err, errlen, "setgid %u", p->gid);
  if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0) return failf(err, errlen, "setuid %u", p->uid);
  if (chdir_pending && chdir(p->cwd) < 0) return failf(err, errlen, "chdir to cwd (\"%s\")", p->cwd);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return failf(err, errlen, "clear keepcaps");

  /* Caps this kernel does not know are ignored, as runc ignores them. */
  int last = 0;
  while (last < 63 && prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0) last++;
  uint64_t known = last >= 63 ? ~0ULL : (1ULL << (last + 1)) - 1;
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2] = {
      {.effective = (uint32_t)(p->cap_eff & known), .permitted = (uint32_t)(p->cap_prm & known),
       .inheritable = (uint32_t)(p->cap_inh & known)},
      {.effective = (uint32_t)((p->cap_eff & known) >> 32), .permitted = (uint32_t)((p->cap_prm & known) >> 32),
       .inheritable = (uint32_t)((p->cap_inh & known) >> 32)},
  };
  if (syscall(SYS_capset, &hdr, data) < 0) return failf(err, errlen, "capset");
  /* As runc's capability library: raise or lower each ambient cap, errors ignored. */
  for (int c = 0; c < 64 && prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
    prctl(PR_CAP_AMBIENT, ((p->cap_amb >> c) & 1) ? PR_CAP_AMBIENT_RAISE : PR_CAP_AMBIENT_LOWER, c, 0, 0);

  if (look_path(argv[0], env, path, pathlen, err, errlen) < 0) return -1;
  /* With no_new_privs the filter goes on last, so as few syscalls as possible run under it. */
  if (prep->bpf && p->nnp && load_seccomp(p, prep, err, errlen) < 0) return -1;
  return 0;
}

void enter_and_exec(const struct profile *p, const struct prepared *prep, char **argv, char *err, size_t errlen) {
  char path[4096];
  if (setup(p, prep, argv, path, sizeof path, err, errlen) < 0) return;
  execve(path, argv, (char *const *)p->env);
  failf(err, errlen, "exec %s", path);
}
