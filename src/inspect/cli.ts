// `nori inspect POD|CONTAINER [--json]`: asks the running nori over its CRI socket for the
// verbose status (PodSandboxStatus first, then ContainerStatus; full ids or unique prefixes) and
// draws its kernel view as a tree (tree.ts); --json prints the verbose info as it came.

import * as grpc from '@grpc/grpc-js';
import type { Config } from '../config';
import { ContainerState, PodSandboxState, RuntimeServiceDefinition, type MessageFns } from '../gen/api';
import { renderContainer, renderPod } from './tree';

/** A unary call of one method of the generated (library-free) definition over a plain grpc-js client. */
function call<Req, Res>(client: grpc.Client, method: { name: string; requestType: MessageFns<Req>; responseType: MessageFns<Res> }, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      `/${RuntimeServiceDefinition.fullName}/${method.name}`,
      (m: Req) => Buffer.from(method.requestType.encode(m).finish()),
      (b: Buffer) => method.responseType.decode(b),
      req,
      new grpc.Metadata(),
      { deadline: Date.now() + 30_000 },
      (e, r) => (e ? reject(e) : resolve(r!)),
    );
  });
}

const { podSandboxStatus, containerStatus } = RuntimeServiceDefinition.methods;

export async function runInspect(config: Config, args: string[], json: boolean, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  if (args.length !== 1) {
    process.stderr.write('usage: nori inspect POD|CONTAINER [--json] [--listen unix:///run/nori/nori.sock]\n');
    return 2;
  }
  const id = args[0]!;
  const client = new grpc.Client(`unix://${config.listen}`, grpc.credentials.createInsecure());
  try {
    try {
      const r = await call(client, podSandboxStatus, { podSandboxId: id, verbose: true });
      const info = JSON.parse(r.info.info ?? '{}');
      if (json) out.write(JSON.stringify({ status: r.status, info }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n');
      else {
        const s = r.status!;
        out.write(renderPod({
          id: s.id, name: s.metadata?.name ?? '', namespace: s.metadata?.namespace ?? '',
          state: s.state === PodSandboxState.SANDBOX_READY ? 'READY' : 'NOTREADY', ip: s.network?.ip ?? '',
        }, info.kernel));
      }
      return 0;
    } catch (e) {
      if ((e as grpc.ServiceError).code !== grpc.status.NOT_FOUND) throw e;
    }
    try {
      const r = await call(client, containerStatus, { containerId: id, verbose: true });
      const info = JSON.parse(r.info.info ?? '{}');
      if (json) out.write(JSON.stringify({ status: r.status, info }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n');
      else {
        const s = r.status!;
        out.write(renderContainer({
          id: s.id, name: s.metadata?.name ?? '', podId: String(info.sandboxID ?? ''),
          state: ContainerState[s.state]?.replace('CONTAINER_', '') ?? String(s.state), image: s.image?.image ?? s.imageRef,
        }, info.kernel));
      }
      return 0;
    } catch (e) {
      if ((e as grpc.ServiceError).code === grpc.status.NOT_FOUND) {
        process.stderr.write(`nori inspect: no pod or container "${id}"\n`);
        return 1;
      }
      throw e;
    }
  } catch (e) {
    process.stderr.write(`nori inspect: ${(e as Error).message} (is nori serving on ${config.listen}?)\n`);
    return 1;
  } finally {
    client.close();
  }
}
