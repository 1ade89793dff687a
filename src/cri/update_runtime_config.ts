import type { UpdateRuntimeConfigRequest, UpdateRuntimeConfigResponse } from '../gen/api';
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../errors';
import type { UnaryHandler } from './context';
import { POD_CIDR_KEY, type RuntimeDeps } from './deps';

/** Stores the node's pod CIDR (kubelet sends it once the node object has one). */
export function updateRuntimeConfig(d: Pick<RuntimeDeps, 'kv'>): UnaryHandler<UpdateRuntimeConfigRequest, UpdateRuntimeConfigResponse> {
  return async (req, ctx) => {
    const cidr = req.runtimeConfig?.networkConfig?.podCidr ?? '';
    if (cidr === '') return {};
    for (const part of cidr.split(',')) {
      if (!isCidr(part.trim())) throw new InvalidArgumentError(`pod CIDR "${part}" is not an IPv4 or IPv6 CIDR`);
    }
    if (d.kv.get(POD_CIDR_KEY) !== cidr) {
      d.kv.set(POD_CIDR_KEY, cidr);
      ctx.log.info({ podCIDR: cidr }, 'pod CIDR updated');
    }
    return {};
  };
}

function isCidr(s: string): boolean {
  const m = /^(.+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const family = isIP(m[1]!);
  const bits = Number(m[2]);
  return (family === 4 && bits <= 32) || (family === 6 && bits <= 128);
}
