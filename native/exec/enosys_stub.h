/* runc's -ENOSYS stub (libcontainer/seccomp/patchbpf), for `nori-exec compile`. */
#pragma once

#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>

struct enosys_input {
  uint32_t arches[16]; /* libseccomp arch tokens, as the profile lists them */
  size_t n_arches;
  char **names; /* every syscall name a rule lists */
  size_t n_names, cap_names;
};

int enosys_add_arch(struct enosys_input *in, uint32_t arch);
int enosys_add_name(struct enosys_input *in, const char *name);
void enosys_free(struct enosys_input *in);

/*
 * Exports ctx's BPF to `out` with runc's stub in front: for each architecture of the profile, a
 * syscall number above the largest one the profile names (for that architecture) returns
 * ENOSYS; everything else runs the filter. No stub when the default action lets calls through
 * (allow, log, trace), as runc. 0, or 1 after a message on stderr.
 */
int enosys_write(scmp_filter_ctx ctx, const struct enosys_input *in, const char *default_action, const char *out);
