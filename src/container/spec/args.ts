// Process args and working directory from the image config and the CRI container config.

import { InvalidArgumentError } from '../../errors';
import type { OciImageConfig } from '../../image/api';

/**
 * Merges CRI command/args with the image Entrypoint/Cmd the way Docker and containerd do:
 * a CRI command replaces the entrypoint and drops the image Cmd; CRI args replace the Cmd.
 * An image Entrypoint of [""] means "no entrypoint" (Docker's way to reset it).
 */
export function buildArgs(command: string[], args: string[], image: OciImageConfig): string[] {
  let cmd = command;
  let rest = args;
  if (cmd.length === 0) {
    if (rest.length === 0) rest = [...(image.Cmd ?? [])];
    const entrypoint = image.Entrypoint ?? [];
    if (!(entrypoint.length === 1 && entrypoint[0] === '')) cmd = [...entrypoint];
  }
  const merged = [...cmd, ...rest];
  if (merged.length === 0) throw new InvalidArgumentError('no command specified');
  return merged;
}

/** CRI working_dir, else the image's WorkingDir, else "/". */
export function buildCwd(workingDir: string, image: OciImageConfig): string {
  return workingDir || image.WorkingDir || '/';
}
