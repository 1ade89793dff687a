// `nori config`: the effective configuration as a TOML document that `--config` reads back.

import { stringify } from 'smol-toml';
import { DEFAULT_POD_CIDR, type Config } from './config';

export function configToToml(c: Config): string {
  const doc: Record<string, unknown> = {
    listen: `unix://${c.listen}`,
    root: c.root,
    state: c.state,
    'log-level': c.logLevel,
    'log-format': c.logFormat,
    'metrics-listen': c.metricsListen,
    'streaming-listen': c.streamingListen,
    'default-runtime': c.defaultRuntime,
    conmon: c.conmon,
    'cni-conf-dir': c.cniConfDir,
    'cni-bin-dir': c.cniBinDirs.join(':'),
    network: c.network,
    bridge: c.bridge,
    // "" (unset) prints as "", so the output reads back to the same thing: UpdateRuntimeConfig's
    // pod CIDR, else the default (the header comment says which).
    'pod-cidr': c.podCidr,
    'registries-conf': c.registriesConf,
    'auth-file': c.authFile,
    'cgroup-driver': c.cgroupDriver,
    'cgroup-root-prefix': c.cgroupRootPrefix,
    'seccomp-profile': c.seccompProfile,
    'shm-size': c.shmSize,
    'max-concurrent-downloads': c.maxConcurrentDownloads,
    'pull-progress-timeout': c.pullProgressTimeoutSeconds,
    'pinned-images': c.pinnedImages,
    'shutdown-grace': c.shutdownGraceSeconds,
    runtimes: Object.fromEntries(
      Object.entries(c.runtimes).map(([name, r]) => [name, { path: r.path, options: r.options, root: r.root }]),
    ),
  };
  const podCidr = c.podCidr === '' ? `# pod-cidr "": UpdateRuntimeConfig's pod CIDR, else ${DEFAULT_POD_CIDR}\n` : '';
  return `# effective configuration (file: ${c.configFile})\n${podCidr}${stringify(doc)}\n`;
}
