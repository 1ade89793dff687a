/*
 * nori-reaper: PID 1 of a pod's shared PID namespace, started by startPodInit (src/sys).
 * It holds the namespace open and reaps every child and orphan re-parented to it, like the
 * pause container's init, and exits 0 on SIGTERM or SIGINT. The kernel then kills the rest
 * of the namespace.
 *
 * Every container of a pod that shares its PID namespace sees this process as pid 1, and
 * /proc/1/{root,cwd,exe,mem} of pid 1 lead wherever this process stands. Started in the node's
 * mount namespace as root, it would hand the node's whole filesystem (the CRI socket
 * included) to any such container holding CAP_SYS_PTRACE (kubectl debug's "general" profile
 * adds it). So before anything else it confines itself: not dumpable, its own mount namespace
 * rooted in an empty read-only tmpfs with the node's tree detached, no capabilities left in
 * any set, no_new_privs. A container that can still reach it finds an empty directory and a
 * process with nothing to give. If any step fails it exits rather than serve unconfined.
 *
 * nori normally starts it already inside such a namespace (one per daemon, made by
 * makeEmptyMountNamespace, which every pod's init joins): then "/" is an empty read-only tmpfs
 * and it only checks that. Started anywhere else, it builds its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __NR_close_range
#define __NR_close_range 436
#endif

static void reap_all(void) {
  for (;;) {
    pid_t pid = waitpid(-1, NULL, WNOHANG);
    if (pid > 0) continue;
    if (pid < 0 && errno == EINTR) continue;
    return; /* 0: children left but none exited; -1 ECHILD: no children */
  }
}

static void die(const char *what) {
  fprintf(stderr, "nori-reaper: %s: %s\n", what, strerror(errno));
  exit(126);
}

/*
 * Its own mount namespace, rooted in an empty read-only tmpfs, the node's tree detached (runc's
 * pivot_root(".", ".") sequence). The tmpfs goes over /proc because /proc exists on every node
 * nori runs on; in this private namespace that hides nothing from anyone else.
 */
static void leave_node_filesystem(void) {
  if (unshare(CLONE_NEWNS) != 0) die("unshare(CLONE_NEWNS)");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make / private");
  if (mount("nori-reaper", "/proc", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=4k,nr_inodes=1,mode=0555") != 0)
    die("mount the empty root");
  int old_root = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (old_root < 0) die("open /");
  if (chdir("/proc") != 0) die("chdir to the empty root");
  if (syscall(SYS_pivot_root, ".", ".") != 0) die("pivot_root");
  /* The node's tree now sits on top of "."; detach it, whatever the kernel left as cwd. */
  if (fchdir(old_root) != 0) die("fchdir to the old root");
  if (umount2(".", MNT_DETACH) != 0) die("detach the node's tree");
  close(old_root);
  if (chdir("/") != 0) die("chdir /");
}

/* Is "/" an empty read-only tmpfs, i.e. are we already where leave_node_filesystem leads? */
static int root_is_empty(void) {
  struct statfs st;
  if (statfs("/", &st) != 0 || st.f_type != TMPFS_MAGIC || !(st.f_flags & ST_RDONLY)) return 0;
  int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[512];
  long n;
  int others = 0;
  while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      /* struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name */
      unsigned short reclen;
      memcpy(&reclen, buf + off + 16, sizeof reclen);
      const char *name = buf + off + 19;
      if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) others++;
      off += reclen;
    }
  }
  close(fd);
  return n == 0 && others == 0;
}

/* Nothing it does afterwards (wait, sigwait, exit) needs a capability. */
static void drop_privileges(void) {
  for (unsigned long cap = 0; cap <= 63; cap++)
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) die("drop the bounding set");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) die("clear ambient caps");
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];
  memset(none, 0, sizeof none);
  if (syscall(SYS_capset, &header, none) != 0) die("capset");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs");
  /* Again: credential changes may reset it. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) die("not dumpable");
}

int main(void) {
  /* Before anything else: a container must never catch it dumpable in the node's namespace. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) die("not dumpable");
  /* Exec'd from nori's sealed copy (/proc/self/fd/N), its name would be "N" in ps and top. */
  prctl(PR_SET_NAME, "nori-reaper", 0, 0, 0);
  /* Nothing we inherit is ours to keep: nori's fds, an ignored SIGPIPE, a blocked mask. */
  syscall(__NR_close_range, 3U, ~0U, 0U);
  if (!root_is_empty()) leave_node_filesystem();
  drop_privileges();
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);

  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGCHLD);
  sigaddset(&wanted, SIGTERM);
  sigaddset(&wanted, SIGINT);
  /* Blocked signals are queued even for a namespace's init, so sigwaitinfo sees them. */
  sigprocmask(SIG_SETMASK, &wanted, NULL);

  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&wanted, &info);
    if (sig < 0) continue; /* EINTR */
    if (sig == SIGTERM || sig == SIGINT) {
      reap_all();
      return 0;
    }
    reap_all();
  }
}
