/*
 * nori-reaper: PID 1 of a pod's shared PID namespace, started by startPodInit (src/sys).
 * It holds the namespace open and reaps every child and orphan re-parented to it, like the
 * pause container's init, and exits 0 on SIGTERM or SIGINT. The kernel then kills the rest
 * of the namespace.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
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

int main(void) {
  /* Nothing we inherit is ours to keep: nori's fds, an ignored SIGPIPE, a blocked mask. */
  syscall(__NR_close_range, 3U, ~0U, 0U);
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
