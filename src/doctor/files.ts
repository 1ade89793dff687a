// nori's own files: the config file, the root and state directories and the CRI socket (owner
// and mode: they name binaries nori runs as root and hold every pod's state), and free space.

import { lstatSync, statfsSync, statSync, type Stats } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { Config } from '../config';
import { fail, pass, warn, type Check } from './check';
import { nearestExisting } from '../sys/probe_dirs';

const mode = (st: Stats) => (st.mode & 0o7777).toString(8).padStart(4, '0');

function ownership(label: string, path: string, st: Stats, what: string): Check {
  const facts = { path, uid: st.uid, gid: st.gid, mode: mode(st) };
  if (st.uid !== 0) return fail('files', label, `${path} is owned by uid ${st.uid}, not root`, `chown root ${path}`, facts);
  if (st.mode & 0o022) return fail('files', label, `${path} is ${mode(st)}: writable by group or others, who could ${what}`, `chmod go-w ${path}`, facts);
  return pass('files', label, `${path} root-owned, ${mode(st)}`, facts);
}

export function configFileCheck(config: Config): Check {
  let st: Stats;
  try {
    st = statSync(config.configFile);
  } catch {
    return pass('files', 'config file', `${config.configFile} absent: built-in defaults and flags apply`);
  }
  return ownership('config file', config.configFile, st, 'choose the binaries nori runs as root');
}

function dirCheck(label: string, path: string): Check {
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return pass('files', label, `${path} absent: nori creates it at start`);
  }
  if (!st.isDirectory()) return fail('files', label, `${path} is not a directory`, `move it away; nori creates ${path} at start`);
  return ownership(label, path, st, 'change pod state');
}

/** The socket: absent (not running), served by a live nori, or stale (replaced at next start). */
export async function socketCheck(config: Config): Promise<Check> {
  const path = config.listen;
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    const dir = dirname(path);
    try {
      const d = statSync(dir);
      if (d.mode & 0o002) return fail('files', 'socket', `${dir} is world-writable: anyone could plant the CRI socket`, `chmod o-w ${dir}`);
    } catch {
      // the directory does not exist yet: nori creates it 0700
    }
    return pass('files', 'socket', `${path} absent: nori is not running`);
  }
  if (!st.isSocket()) return fail('files', 'socket', `${path} exists and is not a socket: nori refuses to start`, `rm ${path} (after checking what it is)`);
  const facts = { path, uid: st.uid, gid: st.gid, mode: mode(st) };
  if (st.uid !== 0) return fail('files', 'socket', `${path} is owned by uid ${st.uid}`, `stop whatever made it; nori recreates it owned by root`, facts);
  if (st.mode & 0o007) return fail('files', 'socket', `${path} is ${mode(st)}: anyone may drive the runtime`, `chmod 0660 ${path}`, facts);
  const live = await answers(path);
  return live
    ? pass('files', 'socket', `${path} ${mode(st)}, served by a running nori`, facts)
    : warn('files', 'socket', `${path} ${mode(st)} is stale (nobody answers)`, 'nothing: the next start replaces it (start nori)', facts);
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export function spaceCheck(label: string, path: string, failBelow: number, warnBelow: number): Check {
  const at = nearestExisting(path);
  const s = statfsSync(at);
  const free = Number(s.bavail) * Number(s.bsize);
  const total = Number(s.blocks) * Number(s.bsize);
  const usedPct = total > 0 ? Math.round((1 - Number(s.bfree) / Number(s.blocks)) * 100) : 0;
  const human = free >= GiB ? `${(free / GiB).toFixed(1)} GiB` : `${(free / MiB).toFixed(0)} MiB`;
  const facts = { path: at, freeBytes: free, totalBytes: total, usedPercent: usedPct };
  const msg = `${human} free on the filesystem of ${at} (${usedPct}% used)`;
  if (free < failBelow) return fail('files', label, msg, `free space under ${at} (remove unused images: crictl rmi --prune) or move ${label.split(' ')[0]} to a larger filesystem`, facts);
  if (free < warnBelow || usedPct >= 85) return warn('files', label, `${msg}: kubelet's image GC starts at 85% used`, `free space under ${at}: crictl rmi --prune`, facts);
  return pass('files', label, msg, facts);
}

export async function fileChecks(config: Config): Promise<Check[]> {
  return [
    configFileCheck(config),
    dirCheck('root dir', config.root),
    dirCheck('state dir', config.state),
    await socketCheck(config),
    spaceCheck('root space', config.root, 1 * GiB, 10 * GiB),
    spaceCheck('state space', config.state, 16 * MiB, 256 * MiB),
  ];
}
