// buildOciSpec: the pure function from (image, sandbox, container config, node defaults) to an
// OCI runtime-spec config.json, following containerd's CRI plugin where CRI leaves room.

import { InvalidArgumentError } from '../../errors';
import { buildArgs, buildCwd } from './args';
import { buildApparmor } from './apparmor';
import { ALL_CAPABILITIES, buildCapabilities } from './capabilities';
import { buildDevices } from './devices';
import { buildEnv } from './env';
import { buildPaths } from './masked_paths';
import { buildMounts, terminationMessagePath } from './mounts';
import { buildNamespaces, ociIdMappings, pidMode } from './namespaces';
import { buildResources, cgroupsPath, clampOomScoreAdj, resourceEnvOf } from './resources';
import { buildSeccomp, chooseSeccomp, goArch } from './seccomp';
import type { OciSpec, SpecInput, SpecResult } from './types';
import { resolveUser } from './user';

export const OCI_VERSION = '1.0.2-dev';

/** Annotations containerd sets on every container spec (some runtimes and hooks read them). */
export const ANNOTATION = {
  containerType: 'io.kubernetes.cri.container-type',
  containerName: 'io.kubernetes.cri.container-name',
  sandboxId: 'io.kubernetes.cri.sandbox-id',
  sandboxName: 'io.kubernetes.cri.sandbox-name',
  sandboxNamespace: 'io.kubernetes.cri.sandbox-namespace',
  sandboxUid: 'io.kubernetes.cri.sandbox-uid',
  imageName: 'io.kubernetes.cri.image-name',
} as const;

function sandboxPrivileged(sc: unknown): boolean {
  return typeof sc === 'object' && sc !== null && (sc as { privileged?: unknown }).privileged === true;
}

export function buildOciSpec(input: SpecInput): SpecResult {
  const { config, sandbox, image, defaults } = input;
  const warnings: string[] = [];
  const sc = config.linux?.securityContext;
  const privileged = sc?.privileged ?? false;
  if (privileged && !sandboxPrivileged(sandbox.securityContext)) {
    throw new InvalidArgumentError('no privileged container allowed in sandbox');
  }
  const readonlyRootfs = sc?.readonlyRootfs ?? false;

  const hostname = sandbox.network === 'NODE' ? sandbox.hostname || defaults.nodeHostname || '' : sandbox.hostname;
  const user = resolveUser(sc, image.config.User, image.files);
  const capabilities = buildCapabilities(sc?.capabilities, privileged, defaults.allCapabilities ?? ALL_CAPABILITIES, warnings);

  const linux: Record<string, unknown> = {};
  const resources: Record<string, unknown> = { ...buildResources(config.linux?.resources, resourceEnvOf(defaults), warnings) };
  const devices = buildDevices(config.devices, privileged, defaults.hostDevices ?? [], defaults.statDevice ?? (() => null));
  resources.devices = devices.rules;
  linux.resources = resources;
  if (devices.devices.length > 0) linux.devices = devices.devices;
  linux.cgroupsPath = cgroupsPath(sandbox.cgroupParent, input.containerId, defaults.cgroupDriver);
  linux.namespaces = buildNamespaces(sandbox, pidMode(sc, sandbox, config.mounts), input.targetPidNamespace, defaults.cgroupV2 ?? false);
  Object.assign(linux, ociIdMappings(sandbox));
  const paths = buildPaths(sc?.maskedPaths ?? [], sc?.readonlyPaths ?? [], privileged);
  if (paths.maskedPaths.length > 0) linux.maskedPaths = paths.maskedPaths;
  if (paths.readonlyPaths.length > 0) linux.readonlyPaths = paths.readonlyPaths;
  if (Object.keys(sandbox.sysctls).length > 0) linux.sysctl = { ...sandbox.sysctls };

  const mounts = buildMounts(config.mounts, sandbox, privileged, readonlyRootfs, {
    resolveHostPath: defaults.resolveHostPath ?? ((p) => p),
    mountInfo: defaults.mountInfo ?? '',
    recursiveReadOnlySupported: defaults.recursiveReadOnlySupported ?? false,
    prepared: input.preparedMounts,
  }, { containerPath: terminationMessagePath(config.annotations), hostPath: input.terminationMessagePath });
  if (mounts.rootfsPropagation) linux.rootfsPropagation = mounts.rootfsPropagation;

  if (!privileged) {
    const seccomp = buildSeccomp(chooseSeccomp(sc), defaults.defaultSeccompProfile, defaults.readLocalhostProfile, {
      capabilities: capabilities.bounding,
      arch: defaults.arch ?? goArch(process.arch),
      kernelVersion: defaults.kernelVersion,
    });
    if (seccomp) linux.seccomp = seccomp;
  }
  const apparmorProfile = buildApparmor(sc, privileged, defaults.apparmorEnabled, defaults.apparmorDefaultProfile, warnings);

  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: config.tty,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      args: buildArgs(config.command, config.args, image.config),
      env: buildEnv(image.config.Env, config.envs, hostname),
      cwd: buildCwd(config.workingDir, image.config),
      capabilities,
      noNewPrivileges: sc?.noNewPrivs ?? false,
      oomScoreAdj: clampOomScoreAdj(config.linux?.resources?.oomScoreAdj ?? 0n, defaults.minOomScoreAdj, warnings),
    },
    root: { path: input.rootfs, readonly: readonlyRootfs },
    mounts: mounts.mounts,
    annotations: {
      [ANNOTATION.containerType]: 'container',
      [ANNOTATION.containerName]: config.metadata?.name ?? '',
      [ANNOTATION.sandboxId]: sandbox.id,
      [ANNOTATION.sandboxName]: sandbox.name,
      [ANNOTATION.sandboxNamespace]: sandbox.namespace,
      [ANNOTATION.sandboxUid]: sandbox.uid,
      [ANNOTATION.imageName]: config.image?.userSpecifiedImage || config.image?.image || '',
    },
    linux,
  };
  if (apparmorProfile) spec.process.apparmorProfile = apparmorProfile;
  // Joining the pod's UTS namespace: runc sets the same name again; with the host's, it must not.
  if (sandbox.nsPaths.uts && sandbox.hostname) spec.hostname = sandbox.hostname;
  return { spec, warnings };
}
