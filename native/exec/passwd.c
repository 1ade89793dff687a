/*
 * /etc/passwd inside the container belongs to the container: it may be a FIFO nobody writes,
 * a symlink to /dev/zero, gigabytes long, or on a filesystem that never answers. So it is
 * opened O_NONBLOCK (a FIFO opens at once), must be a regular file by fstat, is read in bounded
 * chunks up to PASSWD_MAX_BYTES, and the whole lookup runs under an alarm: a read that blocks
 * is interrupted (no SA_RESTART) and the lookup gives up with HOME=/.
 */
#include "passwd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig) {
  (void)sig;
  timed_out = 1;
}

/* One passwd line (NUL-terminated, no newline): HOME into out when its uid matches. */
static int match_line(char *line, uid_t uid, char *out, size_t len) {
  char *field[7] = {0};
  int n = 0;
  for (char *s = line; n < 7; n++) {
    field[n] = s;
    char *c = strchr(s, ':');
    if (!c) {
      n++;
      break;
    }
    *c = '\0';
    s = c + 1;
  }
  if (n < 3 || !field[2][0]) return 0;
  char *end;
  errno = 0;
  unsigned long u = strtoul(field[2], &end, 10);
  if (*end || errno || u != uid) return 0;
  snprintf(out, len, "%s", n > 5 ? field[5] : "");
  return 1;
}

static void scan(int fd, uid_t uid, char *out, size_t len) {
  static char line[65536];
  size_t used = 0, total = 0;
  int skipping = 0; /* inside a line longer than the buffer: not a valid entry */
  char chunk[8192];
  while (!timed_out && total < PASSWD_MAX_BYTES) {
    size_t want = sizeof chunk;
    if (want > PASSWD_MAX_BYTES - total) want = PASSWD_MAX_BYTES - total;
    ssize_t r = read(fd, chunk, want);
    if (r < 0 && errno == EINTR && !timed_out) continue;
    if (r <= 0) break;
    total += (size_t)r;
    for (ssize_t i = 0; i < r; i++) {
      char ch = chunk[i];
      if (ch == '\n') {
        line[used] = '\0';
        if (!skipping && match_line(line, uid, out, len)) return;
        used = 0;
        skipping = 0;
      } else if (used + 1 < sizeof line) {
        line[used++] = ch;
      } else {
        skipping = 1;
      }
    }
  }
  if (!timed_out && total < PASSWD_MAX_BYTES && used && !skipping) {
    line[used] = '\0';
    match_line(line, uid, out, len); /* a last line without a newline */
  }
}

void passwd_home(const char *path, uid_t uid, char *out, size_t len) {
  snprintf(out, len, "/");
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm; /* no SA_RESTART: a blocked open or read returns EINTR */
  sigemptyset(&sa.sa_mask);
  timed_out = 0;
  if (sigaction(SIGALRM, &sa, &old) < 0) return;
  unsigned prev = alarm(PASSWD_TIMEOUT_SECONDS);
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    char home[4096];
    snprintf(home, sizeof home, "/");
    scan(fd, uid, home, sizeof home);
    if (!timed_out) snprintf(out, len, "%s", home);
  }
  if (fd >= 0) close(fd);
  alarm(prev);
  sigaction(SIGALRM, &old, NULL);
}
