{
  # Three products, all in build/Release/: the addon (nori_native.node), the pod init
  # (nori-reaper) and the exec helper (nori-exec, see exec/main.c).
  # `npm run build:native` = `node-gyp rebuild --directory native`.
  'targets': [
    {
      'target_name': 'nori_native',
      'sources': [
        'src/addon.cc',
        'src/errors.cc',
        'src/child.cc',
        'src/worker.cc',
        'src/namespaces.cc',
        'src/fs_ops.cc',
        'src/fd_ops.cc',
        'src/net_stats.cc',
        'src/memory.cc',
        'src/host_probe.cc',
        'src/netlink.cc',
        'src/netlink_read.cc',
        'src/nftables.cc',
        'src/dir_usage.cc',
        'src/rro_mount.cc',
        'src/userns.cc',
        'src/idmap.cc',
        'src/exec_spawn.cc',
        'src/monitor_spawn.cc',
        'src/inspect_read.cc',
        'src/empty_root.cc',
      ],
      # libnftables is dlopen()ed by nftables.cc (the addon loads without it).
      'libraries': ['-ldl'],
      # node-addon-api's headers with C++ exceptions on (what its except.gypi sets), included
      # directly: depending on its gyp target makes gyp write Makefiles into native/node_modules.
      'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")"],
      'defines': ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', '_GNU_SOURCE'],
      'cflags': ['-Wall', '-Wextra', '-O2'],
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions'],
      'cflags_cc': ['-std=c++17', '-fexceptions'],
    },
    {
      'target_name': 'nori-reaper',
      'type': 'executable',
      'sources': ['reaper.c'],
      'defines': ['_GNU_SOURCE'],
      'cflags': ['-Wall', '-Wextra', '-O2'],
      # Static, so a pod's init does not depend on the host's shared libraries staying put.
      'ldflags': ['-static', '-s'],
    },
    {
      # ExecSync's fast path (exec/main.c): static like the reaper, libseccomp only for `compile`.
      'target_name': 'nori-exec',
      'type': 'executable',
      'sources': ['exec/main.c', 'exec/profile.c', 'exec/enter.c', 'exec/seccomp.c', 'exec/attach.c', 'exec/passwd.c', 'exec/enosys_stub.c'],
      'defines': ['_GNU_SOURCE'],
      'cflags': ['-Wall', '-Wextra', '-O2'],
      'ldflags': ['-static', '-s'],
      'libraries': ['-lseccomp'],
    },
  ],
}
