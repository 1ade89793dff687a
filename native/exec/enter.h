#ifndef NORI_EXEC_ENTER_H
#define NORI_EXEC_ENTER_H

#include "profile.h"

/* Everything the child needs that only the host side can reach, opened before it forks. */
struct prepared {
  int ns_fds[MAX_NS];
  void *bpf;      /* the compiled seccomp program (struct sock_filter[]), or NULL */
  size_t bpf_len; /* in bytes */
  int tty_sock;   /* tty mode: where the child sends the pty master it opens in the container; else -1 */
  unsigned short cols, rows;
};

/*
 * The child: joins the container (cgroups, namespaces), takes on its process spec and execs
 * argv. Only returns on failure, with a message in err (the command never started).
 */
void enter_and_exec(const struct profile *p, const struct prepared *prep, char **argv, char *err, size_t errlen);

#endif
