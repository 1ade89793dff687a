{
  # Two products: the addon (nori_native.node) and the pod init (nori-reaper), both in
  # build/Release/. `npm run build:native` = `node-gyp rebuild --directory native`.
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
      ],
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
  ],
}
