/*
 * The -ENOSYS stub runc 1.1 (libcontainer/seccomp/patchbpf/enosys_linux.go) prepends to the
 * filter libseccomp builds. Without it a syscall the profile does not know (newer than the
 * profile) gets the default action, EPERM with the usual profiles, and programs that probe for
 * a new syscall and fall back on ENOSYS (glibc's clone3, statx, faccessat2...) break. runc's
 * container init has the stub, so an exec must have it too or the two see different errnos.
 *
 * Layout, as runc's (jumps are relative, so sections are laid out forward here and resolved):
 *   ld [arch]; jeq ARCH_k → section_k ...; ja filter
 *   section_k: ld [nr]; (x86_64: jset X32 bit picks the amd64 or the x32 limit)
 *              jgt limit → enosys; ja filter
 *   enosys: ret ERRNO(ENOSYS)
 *   filter: libseccomp's program
 */
#include "enosys_stub.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define X32_BIT 0x40000000u
#define MAX_INSNS 4096

int enosys_add_arch(struct enosys_input *in, uint32_t arch) {
  for (size_t i = 0; i < in->n_arches; i++)
    if (in->arches[i] == arch) return 0;
  if (in->n_arches == sizeof in->arches / sizeof in->arches[0]) return -1;
  in->arches[in->n_arches++] = arch;
  return 0;
}

int enosys_add_name(struct enosys_input *in, const char *name) {
  if (in->n_names == in->cap_names) {
    size_t cap = in->cap_names ? in->cap_names * 2 : 64;
    char **n = realloc(in->names, cap * sizeof *n);
    if (!n) return -1;
    in->names = n;
    in->cap_names = cap;
  }
  if (!(in->names[in->n_names] = strdup(name))) return -1;
  in->n_names++;
  return 0;
}

void enosys_free(struct enosys_input *in) {
  for (size_t i = 0; i < in->n_names; i++) free(in->names[i]);
  free(in->names);
  in->names = NULL;
  in->n_names = in->cap_names = 0;
}

/* AUDIT_ARCH_* of a libseccomp arch (x32 runs on x86_64's); 0 when runc has no mapping. */
static uint32_t native_of(uint32_t arch) {
  if (arch == SCMP_ARCH_X32) return AUDIT_ARCH_X86_64;
  switch (arch) {
  case SCMP_ARCH_X86: case SCMP_ARCH_X86_64: case SCMP_ARCH_ARM: case SCMP_ARCH_AARCH64:
  case SCMP_ARCH_MIPS: case SCMP_ARCH_MIPS64: case SCMP_ARCH_MIPS64N32: case SCMP_ARCH_MIPSEL:
  case SCMP_ARCH_MIPSEL64: case SCMP_ARCH_MIPSEL64N32: case SCMP_ARCH_PPC: case SCMP_ARCH_PPC64:
  case SCMP_ARCH_PPC64LE: case SCMP_ARCH_S390: case SCMP_ARCH_S390X:
    return arch; /* libseccomp's tokens are the AUDIT_ARCH_ values for these */
  default:
    return 0;
  }
}

/* runc's findLastSyscalls: the largest number any listed name has on arch (0: none). */
static uint32_t largest(const struct enosys_input *in, uint32_t arch) {
  int max = 0;
  for (size_t i = 0; i < in->n_names; i++) {
    int nr = seccomp_syscall_resolve_name_arch(arch, in->names[i]);
    if (nr != __NR_SCMP_ERROR && nr > max) max = nr;
  }
  return (uint32_t)max;
}

/* One instruction with symbolic jump targets, resolved once the layout is known. */
enum { L_NEXT = -1, L_FILTER = -2, L_ENOSYS = -3 };
struct insn {
  uint16_t code;
  uint32_t k;
  int jt, jf; /* L_* or a section index (>= 0) */
};

struct section {
  uint32_t native;
  uint32_t amd64, x32, other; /* limits; 0 = absent */
  int other_arch;             /* an arch that is neither amd64 nor x32 */
};

static size_t build(const struct enosys_input *in, struct insn *p, int *section_at, size_t *n_sections) {
  struct section secs[16];
  size_t ns = 0;
  for (size_t i = 0; i < in->n_arches; i++) {
    uint32_t native = native_of(in->arches[i]);
    uint32_t max = native ? largest(in, in->arches[i]) : 0;
    if (!max) continue; /* runc: "could not find any syscalls for arch", no section */
    size_t s = 0;
    while (s < ns && secs[s].native != native) s++;
    if (s == ns) memset(&secs[ns++], 0, sizeof secs[0]), secs[s].native = native;
    if (in->arches[i] == SCMP_ARCH_X86_64) secs[s].amd64 = max;
    else if (in->arches[i] == SCMP_ARCH_X32) secs[s].x32 = max;
    else secs[s].other = max, secs[s].other_arch = 1;
  }
  size_t n = 0;
  if (!ns) return 0;
  p[n++] = (struct insn){BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0};
  for (size_t s = 0; s < ns; s++) p[n++] = (struct insn){BPF_JMP | BPF_JEQ | BPF_K, secs[s].native, (int)s, L_NEXT};
  p[n++] = (struct insn){BPF_JMP | BPF_JA, 0, L_FILTER, L_FILTER};
  for (size_t s = 0; s < ns; s++) {
    struct section *c = &secs[s];
    section_at[s] = (int)n;
    p[n++] = (struct insn){BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0};
    if (c->native == AUDIT_ARCH_X86_64 && c->amd64 && c->x32) {
      /* jset X32: the x32 limit, else the amd64 one */
      p[n++] = (struct insn){BPF_JMP | BPF_JSET | BPF_K, X32_BIT, -100 - 2, L_NEXT};
      p[n++] = (struct insn){BPF_JMP | BPF_JGT | BPF_K, c->amd64, L_ENOSYS, L_FILTER};
      p[n++] = (struct insn){BPF_JMP | BPF_JGT | BPF_K, c->x32, L_ENOSYS, L_FILTER};
    } else if (c->native == AUDIT_ARCH_X86_64) {
      /* one mode only: a call of the other mode goes to the filter unchecked */
      int amd = c->amd64 != 0;
      p[n++] = (struct insn){BPF_JMP | BPF_JSET | BPF_K, X32_BIT, amd ? L_FILTER : L_NEXT, amd ? L_NEXT : L_FILTER};
      p[n++] = (struct insn){BPF_JMP | BPF_JGT | BPF_K, amd ? c->amd64 : c->x32, L_ENOSYS, L_FILTER};
    } else {
      if (c->native == AUDIT_ARCH_S390 || c->native == AUDIT_ARCH_S390X)
        p[n++] = (struct insn){BPF_JMP | BPF_JEQ | BPF_K, 0, L_ENOSYS, L_NEXT}; /* setup(2) multiplexes unknown calls */
      p[n++] = (struct insn){BPF_JMP | BPF_JGT | BPF_K, c->other, L_ENOSYS, L_FILTER};
    }
  }
  p[n++] = (struct insn){BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA), 0, 0};
  *n_sections = ns;
  return n;
}

static int resolve(int label, size_t at, size_t n_stub, const int *section_at, uint8_t *out) {
  size_t target;
  if (label == L_NEXT) target = at + 1;
  else if (label == L_FILTER) target = n_stub;
  else if (label == L_ENOSYS) target = n_stub - 1;
  else if (label <= -100) target = at + (size_t)(-100 - label); /* relative: the x32 branch */
  else target = (size_t)section_at[label];
  if (target <= at || target - at - 1 > 255) return -1;
  *out = (uint8_t)(target - at - 1);
  return 0;
}

static int fail(const char *what, int err) {
  fprintf(stderr, "nori-exec compile: %s: %s\n", what, strerror(err));
  return 1;
}

int enosys_write(scmp_filter_ctx ctx, const struct enosys_input *in, const char *default_action, const char *out) {
  int mem = memfd_create("nori-seccomp", MFD_CLOEXEC);
  if (mem < 0) return fail("memfd_create", errno);
  int r = seccomp_export_bpf(ctx, mem);
  if (r < 0) return close(mem), fail("export", -r);
  struct stat st;
  if (fstat(mem, &st) < 0) return close(mem), fail("fstat", errno);
  size_t n_filter = (size_t)st.st_size / sizeof(struct sock_filter);
  struct sock_filter *prog = calloc(MAX_INSNS + 64, sizeof *prog);
  if (!prog) return close(mem), fail("calloc", ENOMEM);

  size_t n_stub = 0;
  int allowish = !strcmp(default_action, "allow") || !strcmp(default_action, "log") || !strcmp(default_action, "trace");
  if (!allowish) {
    struct insn p[64];
    int section_at[16];
    size_t ns = 0;
    n_stub = build(in, p, section_at, &ns);
    for (size_t i = 0; i < n_stub; i++) {
      prog[i].code = p[i].code;
      prog[i].k = p[i].k;
      if (BPF_CLASS(p[i].code) == BPF_JMP && BPF_OP(p[i].code) == BPF_JA) {
        prog[i].k = (uint32_t)(n_stub - i - 1); /* ja: to the filter */
      } else if (BPF_CLASS(p[i].code) == BPF_JMP) {
        if (resolve(p[i].jt, i, n_stub, section_at, &prog[i].jt) < 0 || resolve(p[i].jf, i, n_stub, section_at, &prog[i].jf) < 0)
          return close(mem), free(prog), fail("stub jump out of range", ERANGE);
      }
    }
  }
  if (n_stub + n_filter > MAX_INSNS) return close(mem), free(prog), fail("filter too long", E2BIG);
  if (pread(mem, prog + n_stub, n_filter * sizeof *prog, 0) != (ssize_t)(n_filter * sizeof *prog))
    return close(mem), free(prog), fail("read back", errno ? errno : EIO);
  close(mem);
  int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return free(prog), fail(out, errno);
  size_t len = (n_stub + n_filter) * sizeof *prog;
  ssize_t w = write(fd, prog, len);
  free(prog);
  if (w != (ssize_t)len || fsync(fd) < 0 || close(fd) < 0) return fail("write", errno ? errno : EIO);
  return 0;
}
