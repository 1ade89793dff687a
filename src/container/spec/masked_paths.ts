// Masked and read-only paths: containerd's defaults, replaced by non-empty CRI lists, and none
// for privileged containers.

export const DEFAULT_MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
  '/sys/devices/virtual/powercap',
];

export const DEFAULT_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * An empty CRI list is indistinguishable from an unset one on the wire (proto3 repeated field),
 * so like containerd only a non-empty list replaces the defaults.
 */
export function buildPaths(
  masked: string[],
  readonly: string[],
  privileged: boolean,
): { maskedPaths: string[]; readonlyPaths: string[] } {
  if (privileged) return { maskedPaths: [], readonlyPaths: [] };
  return {
    maskedPaths: masked.length > 0 ? [...masked] : [...DEFAULT_MASKED_PATHS],
    readonlyPaths: readonly.length > 0 ? [...readonly] : [...DEFAULT_READONLY_PATHS],
  };
}
