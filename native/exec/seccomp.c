/*
 * `nori-exec compile <rules> <bpf>`: the container's seccomp filter, built once with libseccomp
 * as runc builds it (runc libcontainer/seccomp: default action, extra architectures, no NNP
 * attribute, one rule per syscall name, unknown syscall names skipped, rules equal to the
 * default skipped) and exported as raw BPF, which each exec then loads with one prctl.
 * nori (exec_seccomp.ts) writes the rules, one line each:
 *   default <action> <errno>
 *   arch <libseccomp arch name>
 *   rule <action> <errno> <syscall> <nconds> [<index> <op> <value> <value2>]...
 * action: kill_thread kill_process trap errno trace allow log; op: ne lt le eq ge gt masked_eq.
 * Before the exported program goes runc's -ENOSYS stub (enosys_stub.c), so a syscall newer than
 * the profile gets the same errno from an exec as from the container's init.
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enosys_stub.h"

static int action_of(const char *name, unsigned errno_ret, uint32_t *out) {
  if (!strcmp(name, "kill_thread")) *out = SCMP_ACT_KILL_THREAD;
  else if (!strcmp(name, "kill_process")) *out = SCMP_ACT_KILL_PROCESS;
  else if (!strcmp(name, "trap")) *out = SCMP_ACT_TRAP;
  else if (!strcmp(name, "errno")) *out = SCMP_ACT_ERRNO(errno_ret);
  else if (!strcmp(name, "trace")) *out = SCMP_ACT_TRACE(errno_ret);
  else if (!strcmp(name, "allow")) *out = SCMP_ACT_ALLOW;
  else if (!strcmp(name, "log")) *out = SCMP_ACT_LOG;
  else return -1;
  return 0;
}

static int op_of(const char *name, enum scmp_compare *out) {
  static const struct { const char *n; enum scmp_compare op; } ops[] = {
      {"ne", SCMP_CMP_NE}, {"lt", SCMP_CMP_LT}, {"le", SCMP_CMP_LE}, {"eq", SCMP_CMP_EQ},
      {"ge", SCMP_CMP_GE}, {"gt", SCMP_CMP_GT}, {"masked_eq", SCMP_CMP_MASKED_EQ},
  };
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (!strcmp(name, ops[i].n)) {
      *out = ops[i].op;
      return 0;
    }
  return -1;
}

static int bad(int line, const char *what) {
  fprintf(stderr, "nori-exec compile: line %d: %s\n", line, what);
  return 1;
}

int seccomp_compile(const char *in, const char *out) {
  FILE *f = fopen(in, "re");
  if (!f) {
    fprintf(stderr, "nori-exec compile: %s: %s\n", in, strerror(errno));
    return 1;
  }
  scmp_filter_ctx ctx = NULL;
  uint32_t def = 0;
  const char *def_name = "";
  static char def_buf[32];
  struct enosys_input stub = {0};
  char line[4096];
  int no = 0;
  while (fgets(line, sizeof line, f)) {
    no++;
    char *save, *kind = strtok_r(line, " \n", &save);
    if (!kind) continue;
    if (!strcmp(kind, "default")) {
      char *act = strtok_r(NULL, " \n", &save), *e = strtok_r(NULL, " \n", &save);
      if (ctx || !act || !e || action_of(act, (unsigned)strtoul(e, NULL, 10), &def)) return bad(no, "bad default");
      snprintf(def_buf, sizeof def_buf, "%s", act);
      def_name = def_buf;
      if (!(ctx = seccomp_init(def))) return bad(no, "seccomp_init failed");
      /* runc leaves no_new_privs to the spec */
      if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0) return bad(no, "cannot clear the NNP attribute");
      continue;
    }
    if (!ctx) return bad(no, "no default action first");
    if (!strcmp(kind, "arch")) {
      char *name = strtok_r(NULL, " \n", &save);
      uint32_t arch = name ? seccomp_arch_resolve_name(name) : 0;
      if (!arch) return bad(no, "unknown architecture");
      int r = seccomp_arch_add(ctx, arch);
      if (r < 0 && r != -EEXIST) return bad(no, "seccomp_arch_add failed");
      if (enosys_add_arch(&stub, arch) < 0) return bad(no, "too many architectures");
    } else if (!strcmp(kind, "rule")) {
      char *act = strtok_r(NULL, " \n", &save), *e = strtok_r(NULL, " \n", &save);
      char *name = strtok_r(NULL, " \n", &save), *n = strtok_r(NULL, " \n", &save);
      uint32_t action;
      if (!act || !e || !name || !n || action_of(act, (unsigned)strtoul(e, NULL, 10), &action)) return bad(no, "bad rule");
      unsigned ncond = (unsigned)strtoul(n, NULL, 10);
      struct scmp_arg_cmp conds[6];
      if (ncond > 6) return bad(no, "too many conditions");
      for (unsigned i = 0; i < ncond; i++) {
        char *idx = strtok_r(NULL, " \n", &save), *op = strtok_r(NULL, " \n", &save);
        char *v1 = strtok_r(NULL, " \n", &save), *v2 = strtok_r(NULL, " \n", &save);
        if (!idx || !op || !v1 || !v2 || op_of(op, &conds[i].op)) return bad(no, "bad condition");
        conds[i].arg = (unsigned)strtoul(idx, NULL, 10);
        conds[i].datum_a = strtoull(v1, NULL, 10);
        conds[i].datum_b = strtoull(v2, NULL, 10);
      }
      /* runc's stub counts every rule's name, the redundant ones too */
      if (enosys_add_name(&stub, name) < 0) return bad(no, "out of memory");
      if (action == def) continue; /* redundant: libseccomp would refuse it */
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == __NR_SCMP_ERROR) continue; /* unknown to this libseccomp: runc skips it too */
      int r = seccomp_rule_add_array(ctx, action, nr, ncond, ncond ? conds : NULL);
      if (r < 0) {
        fprintf(stderr, "nori-exec compile: line %d: rule for %s: %s\n", no, name, strerror(-r));
        return 1;
      }
    } else {
      return bad(no, "unknown line");
    }
  }
  fclose(f);
  if (!ctx) return bad(no, "empty rules");
  int r = enosys_write(ctx, &stub, def_name, out);
  seccomp_release(ctx);
  enosys_free(&stub);
  return r;
}
