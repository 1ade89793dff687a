// The `bandwidth` capability from the pod annotations kubelet documents
// (kubernetes.io/ingress-bandwidth, kubernetes.io/egress-bandwidth, quantities in bits/s),
// validated as kubelet's ExtractPodBandwidthResources does (1k … 1P) and with containerd's
// burst of MaxUint32 (no burst limit in practice).

import { InvalidArgumentError } from '../errors';
import type { CniBandwidth } from './cni-types';

export const INGRESS_BANDWIDTH_ANNOTATION = 'kubernetes.io/ingress-bandwidth';
export const EGRESS_BANDWIDTH_ANNOTATION = 'kubernetes.io/egress-bandwidth';

const MAX_UINT32 = 4294967295;
const MIN_RATE = 1e3;
const MAX_RATE = 1e15;

/** null when neither annotation is set. */
export function bandwidthFromAnnotations(annotations: Readonly<Record<string, string>>): CniBandwidth | null {
  const ingress = annotations[INGRESS_BANDWIDTH_ANNOTATION];
  const egress = annotations[EGRESS_BANDWIDTH_ANNOTATION];
  if (ingress === undefined && egress === undefined) return null;
  const out: CniBandwidth = {};
  if (ingress !== undefined) {
    out.ingressRate = rate(INGRESS_BANDWIDTH_ANNOTATION, ingress);
    out.ingressBurst = MAX_UINT32;
  }
  if (egress !== undefined) {
    out.egressRate = rate(EGRESS_BANDWIDTH_ANNOTATION, egress);
    out.egressBurst = MAX_UINT32;
  }
  return out;
}

function rate(key: string, text: string): number {
  const value = parseQuantity(text);
  if (value === null) throw new InvalidArgumentError(`annotation ${key}: invalid quantity "${text}"`);
  if (value < MIN_RATE) throw new InvalidArgumentError(`annotation ${key}: resource is unreasonably small (< 1kbit)`);
  if (value > MAX_RATE) throw new InvalidArgumentError(`annotation ${key}: resource is unreasonably large (> 1Pbit)`);
  return value;
}

const SUFFIX: Record<string, number> = {
  '': 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A Kubernetes resource.Quantity's Value(): rounded up to an integer. */
export function parseQuantity(text: string): number | null {
  const m = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$/.exec(text.trim());
  if (!m) return null;
  const base = Number(m[1]);
  const mult = m[2] !== undefined ? 10 ** Number(m[2].slice(1)) : SUFFIX[m[3] ?? '']!;
  return Math.ceil(base * mult);
}
