// Pod cgroup parents: a manager for both layouts and the driver name conversions.

export { CgroupManager, detectLayout, type CgroupLayout, type CgroupManagerOptions, type CreatedDirs } from './manager';
export { cgroupfsComponents, expandSlice, isSystemdSlice, toCgroupfsPath, toSystemdSlice } from './names';
