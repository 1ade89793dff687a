/*
 * nori-exec: ExecSync's fast path. Runs one command in a running container the way
 * `runc exec` would, without a runc process per call (see src/container/exec_fast.ts).
 *
 *   nori-exec run <profile> <timeout-seconds> <argv0> [args...]
 *   nori-exec tty <profile> <cols> <rows> <argv0> [args...]   (interactive Exec with a terminal)
 *   nori-exec compile <rules-in> <bpf-out>      (seccomp.c: the container's filter, once)
 *   nori-exec attach <socket>                   (attach.c: stdin to conmon's attach socket)
 *
 * run: the parent opens the init's namespaces through one /proc/<pid> handle (checked against
 * the init's start time, so a reused pid is never entered), enters the pid namespace, forks the
 * child (enter.c), and waits. It reports on fd 3, one line each:
 *   "pid <host pid>"                      once the child exists
 *   "started"                             once it has exec'd the command
 *   "exit <code>" | "signal <n>"          how the command ended
 *   "timeout"                             the command (and its process group) was killed
 *   "setup <message>"                     the command never started; nothing ran
 * The command writes into pipes the helper forwards to its own stdout/stderr until the command
 * exits; the status then follows at once, even if something it left behind keeps writing.
 * tty: the child opens a pty in the container and makes it its terminal (runc's setupConsole);
 * the helper relays its stdin to it and it to its stdout, and reads "<cols> <rows>" lines on
 * fd 4 to resize it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enter.h"
#include "profile.h"

extern char **environ;

int seccomp_compile(const char *in, const char *out);
int attach_main(const char *path);

static int status_fd = -1;

static void report(const char *fmt, const char *a, long n) {
  char line[1024];
  int len = a ? snprintf(line, sizeof line, fmt, a) : snprintf(line, sizeof line, fmt, n);
  if (len < 0) return;
  if ((size_t)len >= sizeof line) len = sizeof line - 1;
  if (status_fd >= 0) {
    if (write(status_fd, line, (size_t)len) < 0) { /* nori went away; nothing to tell */ }
  } else if (!strncmp(line, "setup", 5)) {
    if (write(2, line, (size_t)len) < 0) { /* ignore */ }
  }
}

static unsigned long long starttime_of(int procfd) {
  char buf[1024];
  int fd = openat(procfd, "stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char *s = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
  if (!s) return 0;
  s++;
  for (int field = 3; field < 22 && s; field++) s = strchr(s + 1, ' ');
  return s ? strtoull(s + 1, NULL, 10) : 0;
}

static int read_all(const char *path, void **out, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % 8 != 0 || st.st_size > 65536 * 8) {
    close(fd);
    errno = EINVAL;
    return -1;
  }
  char *buf = malloc((size_t)st.st_size);
  size_t got = 0;
  while (buf && got < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
    if (r <= 0) {
      free(buf);
      buf = NULL;
      errno = r == 0 ? EIO : errno;
    } else {
      got += (size_t)r;
    }
  }
  close(fd);
  if (!buf) return -1;
  *out = buf;
  *len = got;
  return 0;
}

/* Host-side preparation; -1 with err set if anything is missing (nothing has changed yet). */
static int prepare(const struct profile *p, struct prepared *prep, char *err, size_t errlen) {
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%d", p->init_pid);
  int procfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (procfd < 0) {
    snprintf(err, errlen, "open %s: %s", dir, strerror(errno));
    return -1;
  }
  for (int i = 0; i < p->n_ns; i++) {
    char name[32];
    snprintf(name, sizeof name, "ns/%s", p->ns[i]);
    prep->ns_fds[i] = openat(procfd, name, O_RDONLY | O_CLOEXEC);
    if (prep->ns_fds[i] < 0) {
      snprintf(err, errlen, "open %s/%s: %s", dir, name, strerror(errno));
      return -1;
    }
  }
  /* Checked after the opens: the handles then belong to the container's init, not a successor. */
  if (starttime_of(procfd) != p->init_starttime) {
    snprintf(err, errlen, "process %d is no longer the container's init", p->init_pid);
    return -1;
  }
  close(procfd);
  if (p->seccomp && read_all(p->seccomp, &prep->bpf, &prep->bpf_len) < 0) {
    snprintf(err, errlen, "read seccomp program %s: %s", p->seccomp, strerror(errno));
    return -1;
  }
  for (int i = 0; i < p->n_ns; i++) {
    if (strcmp(p->ns[i], "pid")) continue;
    /* Affects only children: the command becomes a member, this process stays outside. */
    if (setns(prep->ns_fds[i], CLONE_NEWPID) < 0) {
      snprintf(err, errlen, "setns pid: %s", strerror(errno));
      return -1;
    }
  }
  return 0;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      poll(&pfd, 1, 1000);
      continue;
    }
    if (w <= 0) return; /* nori stopped reading: drop the rest */
    buf += w;
    len -= (size_t)w;
  }
}

/* Moves what is in `from` to `to`; returns 0 at EOF, 1 if the pipe is still open. */
static int forward(int from, int to, int drain) {
  static char buf[65536];
  for (;;) {
    ssize_t r = read(from, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return 1; /* EAGAIN */
    if (r == 0) return 0;
    write_all(to, buf, (size_t)r);
    if (!drain) return 1;
  }
}

/* Forwards output until the command exits (or the timeout), then reports how it ended. */
static int supervise(pid_t child, int pidfd, int errfd, int outfd, int errout, unsigned timeout) {
  char why[1024];
  size_t got = 0;
  fcntl(outfd, F_SETFL, O_NONBLOCK);
  fcntl(errout, F_SETFL, O_NONBLOCK);
  fcntl(errfd, F_SETFL, O_NONBLOCK);
  long long deadline = timeout ? now_ms() + (long long)timeout * 1000 : 0;
  int timed_out = 0;
  for (;;) {
    struct pollfd fds[4] = {
        {.fd = pidfd, .events = POLLIN}, {.fd = errfd, .events = POLLIN},
        {.fd = outfd, .events = POLLIN}, {.fd = errout, .events = POLLIN},
    };
    int wait = -1;
    if (deadline) {
      long long left = deadline - now_ms();
      wait = left > 0 ? (int)left : 0;
    }
    int n = poll(fds, 4, wait);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      timed_out = 1;
      break;
    }
    if (fds[1].revents) {
      ssize_t r = read(errfd, why + got, sizeof why - 1 - got);
      if (r > 0) got += (size_t)r;
      if (r == 0 && got == 0) report("started\n", NULL, 0); /* exec'd: from here the command runs */
      if (r == 0 || got == sizeof why - 1) errfd = -1;
    }
    if (fds[2].revents && !forward(outfd, 1, 0)) outfd = -1;
    if (fds[3].revents && !forward(errout, 2, 0)) errout = -1;
    if (fds[0].revents) break;
  }
  if (timed_out) {
    kill(-child, SIGKILL); /* what the command started in its own group */
    kill(child, SIGKILL);
  } else {
    /* It has exited: whatever it wrote is in the pipes now. What it left running and still
     * writes later is not waited for. */
    if (outfd >= 0) forward(outfd, 1, 1);
    if (errout >= 0) forward(errout, 2, 1);
    if (errfd >= 0) {
      ssize_t r = read(errfd, why + got, sizeof why - 1 - got);
      if (r > 0) got += (size_t)r;
    }
  }
  int st = 0;
  while (waitpid(child, &st, 0) < 0) {
    if (errno != EINTR) {
      report("setup waitpid: %s\n", strerror(errno), 0);
      return 125;
    }
  }
  if (timed_out) {
    kill(-child, SIGKILL);
    report("timeout\n", NULL, 0);
    return 124;
  }
  why[got] = '\0';
  if (got > 0) {
    report("setup %s\n", why, 0);
    return 125;
  }
  if (WIFSIGNALED(st)) {
    report("signal %ld\n", NULL, WTERMSIG(st));
    return 128 + WTERMSIG(st);
  }
  report("exit %ld\n", NULL, WEXITSTATUS(st));
  return WEXITSTATUS(st);
}

/*
 * CVE-2019-5736: the child execs a file of the container, and a script whose interpreter is
 * /proc/self/exe would run this binary again inside the container, where a container process
 * could then reopen it through /proc/<pid>/exe and overwrite the host's nori-exec. As runc
 * does, run from a sealed in-memory copy instead: the container can only ever reach that.
 */
static int is_sealed_copy(void) {
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  int seals = fcntl(fd, F_GET_SEALS);
  close(fd);
  int want = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
  return seals >= 0 && (seals & want) == want;
}

static void reexec_from_sealed_copy(char **argv) {
  if (is_sealed_copy()) return;
  int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  int mem = memfd_create("nori-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  struct stat st;
  if (self < 0 || mem < 0 || fstat(self, &st) < 0) goto fail;
  for (off_t left = st.st_size; left > 0;) {
    ssize_t n = sendfile(mem, self, NULL, (size_t)left);
    if (n <= 0) goto fail;
    left -= n;
  }
  if (fcntl(mem, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) goto fail;
  close(self);
  fexecve(mem, argv, environ);
fail:
  report("setup cannot run from a sealed copy of nori-exec: %s\n", strerror(errno), 0);
  _exit(125);
}

/* The pty master the child opened in the container (tty mode), or -1 if it failed first. */
static int receive_master(int sock) {
  char byte;
  char ctl[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  ssize_t r;
  do r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  struct cmsghdr *c = r > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

/* Reads "<cols> <rows>\n" lines from the control fd and resizes the terminal. */
static int control(int ctl, int master) {
  static char line[64];
  static size_t len;
  ssize_t r = read(ctl, line + len, sizeof line - 1 - len);
  if (r <= 0) return r < 0 && errno == EAGAIN ? 1 : 0;
  len += (size_t)r;
  char *nl;
  while ((nl = memchr(line, '\n', len))) {
    *nl = '\0';
    unsigned cols, rows;
    if (sscanf(line, "%u %u", &cols, &rows) == 2 && cols && rows && cols < 65536 && rows < 65536) {
      struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
      ioctl(master, TIOCSWINSZ, &ws);
    }
    len -= (size_t)(nl + 1 - line);
    memmove(line, nl + 1, len);
  }
  if (len == sizeof line - 1) len = 0;
  return 1;
}

/* tty mode: our stdin to the terminal (its end as ^D, as `script` does), the terminal to our
 * stdout, resizes from fd 4, until the command exits. */
static int supervise_tty(pid_t child, int pidfd, int master, int ctl) {
  fcntl(master, F_SETFL, O_NONBLOCK);
  fcntl(0, F_SETFL, O_NONBLOCK);
  if (ctl >= 0) fcntl(ctl, F_SETFL, O_NONBLOCK);
  int in = 0;
  for (;;) {
    struct pollfd fds[4] = {
        {.fd = pidfd, .events = POLLIN}, {.fd = master, .events = POLLIN},
        {.fd = in, .events = POLLIN}, {.fd = ctl, .events = POLLIN},
    };
    if (poll(fds, 4, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents && !forward(master, 1, 0)) master = -1; /* EIO: every slave closed */
    if (fds[2].revents) {
      static char buf[65536];
      ssize_t r = read(0, buf, sizeof buf);
      if (r > 0) write_all(master, buf, (size_t)r);
      else if (r == 0 || errno != EAGAIN) {
        write_all(master, "\x04", 1);
        in = -1;
      }
    }
    if (fds[3].revents && !control(ctl, master)) ctl = -1;
    if (fds[0].revents) break;
  }
  if (master >= 0) forward(master, 1, 1);
  int st = 0;
  while (waitpid(child, &st, 0) < 0 && errno == EINTR) {}
  if (WIFSIGNALED(st)) {
    report("signal %ld\n", NULL, WTERMSIG(st));
    return 128 + WTERMSIG(st);
  }
  report("exit %ld\n", NULL, WEXITSTATUS(st));
  return WEXITSTATUS(st);
}

/* Waits for the child's exec: "" if it happened, else why not (the child's message). */
static const char *await_exec(int errfd) {
  static char why[1024];
  size_t got = 0;
  for (;;) {
    ssize_t r = read(errfd, why + got, sizeof why - 1 - got);
    if (r > 0 && (got += (size_t)r) < sizeof why - 1) continue;
    if (r < 0 && errno == EINTR) continue;
    break;
  }
  why[got] = '\0';
  close(errfd);
  return why;
}

/* run: argv = run <profile> <timeout> cmd...; tty: argv = tty <profile> <cols> <rows> cmd... */
static int run(int argc, char **argv, int tty) {
  int first = tty ? 5 : 4;
  if (argc <= first) {
    fprintf(stderr, "usage: nori-exec run <profile> <timeout-seconds> <argv0> [args...]\n"
                    "       nori-exec tty <profile> <cols> <rows> <argv0> [args...]\n");
    return 2;
  }
  if (fcntl(3, F_GETFD) >= 0) status_fd = 3;
  int ctl = tty && fcntl(4, F_GETFD) >= 0 ? 4 : -1;
  reexec_from_sealed_copy(argv);
  fcntl(3, F_SETFD, FD_CLOEXEC);
  if (ctl >= 0) fcntl(ctl, F_SETFD, FD_CLOEXEC);
  /* Nothing in the container may ptrace or read /proc/<pid>/ of ours before the exec (runc's
   * nsexec does the same); exec makes the command dumpable again as usual. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  unsigned timeout = tty ? 0 : (unsigned)strtoul(argv[3], NULL, 10);
  char err[1024] = "";
  static struct profile p;
  static struct prepared prep;
  prep.tty_sock = -1;
  if (tty) {
    prep.cols = (unsigned short)strtoul(argv[3], NULL, 10);
    prep.rows = (unsigned short)strtoul(argv[4], NULL, 10);
  }
  if (profile_load(argv[2], &p, err, sizeof err) < 0 || prepare(&p, &prep, err, sizeof err) < 0) {
    report("setup %s\n", err, 0);
    return 125;
  }
  /* The child tells why it could not exec through this pipe; exec closes it (EOF, no data).
   * Without a tty its stdout and stderr are pipes of ours, as runc gives it (nori's own are
   * sockets, which /dev/stdout cannot reopen); what it writes is forwarded until it exits. */
  int errp[2], outp[2], errout[2], ttys[2] = {-1, -1};
  if (pipe2(errp, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errout, O_CLOEXEC) < 0 ||
      (tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ttys) < 0)) {
    report("setup pipe: %s\n", strerror(errno), 0);
    return 125;
  }
  /* runc's InitializeIO: in a user namespace the pipes belong to its root, or the command (as
   * root there, or as its user after fix_stdio) could not reopen them as /dev/stdout. */
  if (p.has_root_ids) {
    int ends[] = {outp[0], outp[1], errout[0], errout[1]};
    for (int i = 0; i < 4; i++)
      if (fchown(ends[i], p.root_uid, p.root_gid) < 0) {
        report("setup fchown stdio pipe: %s\n", strerror(errno), 0);
        return 125;
      }
  }
  prep.tty_sock = ttys[1];
  pid_t child = fork();
  if (child < 0) {
    report("setup fork: %s\n", strerror(errno), 0);
    return 125;
  }
  if (child == 0) {
    if (!tty && (dup2(outp[1], 1) < 0 || dup2(errout[1], 2) < 0)) {
      snprintf(err, sizeof err, "dup2: %s", strerror(errno));
    } else {
      enter_and_exec(&p, &prep, argv + first, err, sizeof err);
    }
    if (write(errp[1], err, strlen(err)) < 0) { /* the parent sees EOF and no status */ }
    _exit(125);
  }
  close(errp[1]);
  close(outp[1]);
  close(errout[1]);
  report("pid %ld\n", NULL, (long)child);
  int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
  if (pidfd < 0) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    report("setup pidfd_open: %s\n", strerror(errno), 0);
    return 125;
  }
  if (!tty) return supervise(child, pidfd, errp[0], outp[0], errout[0], timeout);

  close(ttys[1]);
  int master = receive_master(ttys[0]);
  close(ttys[0]);
  const char *why = await_exec(errp[0]);
  if (master < 0 || why[0]) {
    kill(child, SIGKILL);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
    report("setup %s\n", why[0] ? why : "no terminal from the child", 0);
    return 125;
  }
  report("started\n", NULL, 0);
  return supervise_tty(child, pidfd, master, ctl);
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "run")) return run(argc, argv, 0);
  if (argc >= 2 && !strcmp(argv[1], "tty")) return run(argc, argv, 1);
  if (argc == 4 && !strcmp(argv[1], "compile")) return seccomp_compile(argv[2], argv[3]);
  if (argc == 3 && !strcmp(argv[1], "attach")) return attach_main(argv[2]);
  fprintf(stderr, "usage: nori-exec run <profile> <timeout-seconds> <argv0> [args...]\n"
                  "       nori-exec tty <profile> <cols> <rows> <argv0> [args...]\n"
                  "       nori-exec compile <rules-in> <bpf-out>\n"
                  "       nori-exec attach <socket>\n");
  return 2;
}
