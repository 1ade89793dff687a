// Pod cgroup parents: a manager for both layouts and the driver name conversions.

export { CgroupManager, detectLayout, type CgroupLayout, type CgroupManagerOptions, type CreatedDirs } from './manager';
export { cgroupfsComponents, containerCgroupDir, defaultPodParent, expandSlice, isSystemdSlice, toCgroupfsPath, toSystemdSlice } from './names';
export { SystemdUnits, type UnitProperty } from './systemd';
