// AppArmor: the profile name for process.apparmorProfile, or none.

import { InvalidArgumentError } from '../../errors';
import { SecurityProfile_ProfileType, type LinuxContainerSecurityContext } from '../../gen/api';

/**
 * Where AppArmor is not enabled every request is accepted and ignored with a warning (as
 * containerd does); privileged containers are never confined.
 */
export function buildApparmor(
  sc: LinuxContainerSecurityContext | undefined,
  privileged: boolean,
  enabled: boolean,
  defaultProfile: string | undefined,
  warnings: string[],
): string | undefined {
  let choice: { kind: 'unconfined' } | { kind: 'default' } | { kind: 'localhost'; name: string };
  const prof = sc?.apparmor;
  if (prof) {
    if (prof.profileType === SecurityProfile_ProfileType.Localhost) {
      choice = { kind: 'localhost', name: prof.localhostRef.replace(/^localhost\//, '') };
    } else if (prof.profileType === SecurityProfile_ProfileType.RuntimeDefault) {
      choice = { kind: 'default' };
    } else {
      choice = { kind: 'unconfined' };
    }
  } else {
    const s = sc?.apparmorProfile ?? '';
    if (s === '' || s === 'unconfined') choice = { kind: 'unconfined' };
    else if (s === 'runtime/default') choice = { kind: 'default' };
    else if (s.startsWith('localhost/')) choice = { kind: 'localhost', name: s.slice('localhost/'.length) };
    else throw new InvalidArgumentError(`invalid apparmor profile "${s}"`);
  }
  if (choice.kind === 'localhost' && choice.name === '') throw new InvalidArgumentError('apparmor localhost profile has no name');
  if (privileged || choice.kind === 'unconfined') return undefined;
  if (!enabled) {
    warnings.push('AppArmor is not enabled on this host: apparmor profile ignored');
    return undefined;
  }
  if (choice.kind === 'localhost') return choice.name;
  if (!defaultProfile) {
    warnings.push('no default AppArmor profile configured: running unconfined');
    return undefined;
  }
  return defaultProfile;
}
