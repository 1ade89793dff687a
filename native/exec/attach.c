/*
 * `nori-exec attach <socket>`: stdin to a container's conmon attach socket (SOCK_SEQPACKET,
 * which Node cannot open), in place of socat. Run with the socket's directory as cwd and its
 * relative name (a full path can exceed sun_path). Each read of stdin goes as one packet of at
 * most 8 KiB; the end of stdin is a shutdown(SHUT_WR), which conmon takes as the end of the
 * container's stdin for StdinOnce containers. What conmon sends back is copied to stdout. Ends
 * when conmon closes the socket or on SIGTERM.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int write_all_fd(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    buf += w;
    len -= (size_t)w;
  }
  return 0;
}

int attach_main(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) {
    fprintf(stderr, "nori-exec attach: socket name too long\n");
    return 1;
  }
  strcpy(sa.sun_path, path);
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
    fprintf(stderr, "nori-exec attach: connect %s: %s\n", path, strerror(errno));
    return 1;
  }
  int in = 0;
  static char buf[65536];
  for (;;) {
    struct pollfd fds[2] = {{.fd = s, .events = POLLIN}, {.fd = in, .events = POLLIN}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[0].revents) {
      ssize_t r = read(s, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return 0; /* conmon closed it: the container is gone */
      if (write_all_fd(1, buf, (size_t)r) < 0) { /* nobody reads our output: fine */ }
    }
    if (fds[1].revents) {
      ssize_t r = read(0, buf, 8192);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        shutdown(s, SHUT_WR);
        in = -1;
      } else if (write_all_fd(s, buf, (size_t)r) < 0) {
        return 1;
      }
    }
  }
}
