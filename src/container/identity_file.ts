/** "<pid> <start time>" of the container's init, in its bundle (see proc/identity.ts). */
export const INIT_IDENTITY_FILE = 'init.identity';
