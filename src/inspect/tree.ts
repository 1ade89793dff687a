// `nori inspect`'s picture: the verbose info's kernel view as a tree, in the order the seed
// articles explain a container — namespaces, cgroup, layers (the union filesystem), network
// (veth to the bridge, then the netfilter rules), and the processes. Pure: fixed input → text.

import type { CgroupView } from './cgroup';
import type { ContainerKernelView, PodKernelView } from './model';
import type { NamespaceEntry } from './namespaces';
import type { NetfilterView } from './netfilter';
import type { NetworkView } from './network';
import type { OverlayView } from './overlay';

export interface Node {
  text: string;
  children?: Node[];
}

export function drawTree(root: Node): string {
  const lines = [root.text];
  const walk = (nodes: Node[], prefix: string) => {
    nodes.forEach((n, i) => {
      const last = i === nodes.length - 1;
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${n.text}`);
      if (n.children?.length) walk(n.children, prefix + (last ? '   ' : '│  '));
    });
  };
  walk(root.children ?? [], '');
  return lines.join('\n') + '\n';
}

function namespacesNode(ns: NamespaceEntry[]): Node {
  const w = Math.max(0, ...ns.map((n) => n.type.length));
  return {
    text: 'namespaces',
    children: ns.length
      ? ns.map((n) => ({ text: `${n.type.padEnd(w)}  ${n.type}:[${n.inode}]  ${n.sharedWith === 'own' ? 'own' : `shared with the ${n.sharedWith}`}${n.path ? `  ${n.path}` : ''}` }))
      : [{ text: '(not running: no process to read)' }],
  };
}

function cgroupNode(c: CgroupView | null): Node {
  if (!c) return { text: 'cgroup (not running)' };
  return {
    text: `cgroup ${c.configured}`,
    children: c.hierarchies.map((h) => ({
      text: `${h.controllers.length ? h.controllers.join(',') : 'cgroup2'}  ${h.dir ?? h.path}`,
      children: Object.entries(h.files).map(([k, v]) => ({ text: `${k} = ${v === '' ? '(empty)' : v.replace(/\n/g, ' ')}` })),
    })),
  };
}

function layersNode(o: OverlayView | null): Node {
  if (!o) return { text: 'layers (no overlay mounted)' };
  const top = o.lowerdirs.length;
  return {
    text: `layers: overlay at ${o.mountPoint}`,
    children: [
      { text: `upper  ${o.resolved.upperdir}  (the container's writes)` },
      ...o.resolved.lowerdirs.map((l, i) => ({ text: `lower ${top - i}  ${l}${i === 0 ? '  (top)' : ''}` })),
      { text: `work   ${o.resolved.workdir}` },
    ],
  };
}

function networkNode(n: NetworkView | null, nf: NetfilterView | null): Node {
  if (!n) return { text: 'network: the host\'s (no network namespace of its own)' };
  const children: Node[] = n.interfaces.map((i) => ({
    text: `${i.name} ${i.addresses.join(' ') || '(no address)'}  ${i.kind} ${i.mac}${i.peer ? `  ⇄  ${i.peer.name} on the host${i.peer.bridge ? `  →  bridge ${i.peer.bridge}` : ''}` : ''}`,
  }));
  for (const b of n.bridges) children.push({ text: `bridge ${b.name} ${b.addresses.join(' ')}` });
  if (n.error) children.push({ text: `(${n.error})` });
  if (nf) {
    children.push({
      text: `netfilter (${nf.rules.length} rule${nf.rules.length === 1 ? '' : 's'} for ${[...nf.ips, nf.id.slice(0, 12)].filter(Boolean).join(', ')})`,
      children: nf.rules.map((r) => ({ text: `${r.source} ${r.table} ${r.chain}: ${r.rule}` })),
    });
  }
  return { text: `network: netns ${n.netns}`, children };
}

function pidsNode(p: { init: number | null; inCgroup: number[] }): Node {
  return { text: `processes: init ${p.init ?? '-'}; in the cgroup ${p.inCgroup.length ? p.inCgroup.join(' ') : 'none'}` };
}

export interface PodHeader {
  id: string;
  name: string;
  namespace: string;
  state: string;
  ip: string;
}

export function renderPod(h: PodHeader, k: PodKernelView): string {
  return drawTree({
    text: `pod ${h.namespace}/${h.name} ${h.id.slice(0, 12)} ${h.state}${h.ip ? ` ${h.ip}` : ''}`,
    children: [namespacesNode(k.namespaces), cgroupNode(k.cgroup), networkNode(k.network, k.netfilter), pidsNode(k.pids)],
  });
}

export interface ContainerHeader {
  id: string;
  name: string;
  podId: string;
  state: string;
  image: string;
}

export function renderContainer(h: ContainerHeader, k: ContainerKernelView): string {
  return drawTree({
    text: `container ${h.name} ${h.id.slice(0, 12)} ${h.state} (pod ${h.podId.slice(0, 12)}, image ${h.image})`,
    children: [namespacesNode(k.namespaces), cgroupNode(k.cgroup), layersNode(k.rootfs), pidsNode(k.pids)],
  });
}
