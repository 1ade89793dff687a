// A CRI client built from proto/ at run time with @grpc/proto-loader, independent of the ts-proto
// output, so an encoding slip in the generated code shows up as a test failure.

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { scaled } from './slow';

const PROTO = join(__dirname, '..', '..', '..', 'proto', 'api.proto');

let pkgCache: grpc.GrpcObject | undefined;
function pkg(): grpc.GrpcObject {
  if (!pkgCache) {
    const def = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
    pkgCache = grpc.loadPackageDefinition(def);
  }
  return pkgCache;
}

export type Msg = Record<string, any>;

export interface CriClient {
  /** Calls a unary RPC by its proto name, e.g. call('Version', {}). */
  call(rpc: string, req?: Msg, opts?: { deadlineMs?: number }): Promise<Msg>;
  /** Calls a server-streaming RPC and collects every message. */
  stream(rpc: string, req?: Msg, opts?: { deadlineMs?: number }): Promise<Msg[]>;
  runtime: grpc.Client;
  image: grpc.Client;
  close(): void;
}

export function criClient(socket: string): CriClient {
  const v1 = (pkg().runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
  const target = socket.startsWith('unix://') ? socket : `unix://${socket}`;
  const opts = { 'grpc.max_receive_message_length': 64 * 1024 * 1024 };
  const RuntimeService = v1.RuntimeService as grpc.ServiceClientConstructor;
  const ImageService = v1.ImageService as grpc.ServiceClientConstructor;
  const runtime = new RuntimeService(target, grpc.credentials.createInsecure(), opts);
  const image = new ImageService(target, grpc.credentials.createInsecure(), opts);
  const clientFor = (rpc: string): grpc.Client & Record<string, Function> => {
    const c = (RuntimeService.service[rpc] ? runtime : ImageService.service[rpc] ? image : undefined) as
      | (grpc.Client & Record<string, Function>)
      | undefined;
    if (!c) throw new Error(`no RPC named ${rpc} in proto/api.proto`);
    return c;
  };
  return {
    runtime,
    image,
    call(rpc, req = {}, o = {}) {
      const c = clientFor(rpc);
      const deadline = new Date(Date.now() + scaled(o.deadlineMs ?? 120_000));
      return new Promise((resolve, reject) => {
        c[rpc]!.call(c, req, { deadline }, (err: grpc.ServiceError | null, res: Msg) => (err ? reject(err) : resolve(res)));
      });
    },
    stream(rpc, req = {}, opts = {}) {
      const c = clientFor(rpc);
      return new Promise((resolve, reject) => {
        const out: Msg[] = [];
        const callOpts = opts.deadlineMs ? { deadline: Date.now() + opts.deadlineMs } : {};
        const s = c[rpc]!.call(c, req, callOpts) as grpc.ClientReadableStream<Msg>;
        s.on('data', (m: Msg) => out.push(m));
        s.on('error', reject);
        s.on('end', () => resolve(out));
      });
    },
    close() {
      runtime.close();
      image.close();
    },
  };
}

/** Every RPC name per service, as proto/api.proto declares it. */
export function protoRpcs(): { runtime: string[]; image: string[] } {
  const v1 = (pkg().runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
  const names = (c: grpc.ServiceClientConstructor) => Object.values(c.service).map((m) => m.path.split('/').pop()!);
  return {
    runtime: names(v1.RuntimeService as grpc.ServiceClientConstructor),
    image: names(v1.ImageService as grpc.ServiceClientConstructor),
  };
}

export function isStreaming(rpc: string): boolean {
  const v1 = (pkg().runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
  for (const svc of [v1.RuntimeService, v1.ImageService] as grpc.ServiceClientConstructor[]) {
    for (const m of Object.values(svc.service)) if (m.path.endsWith(`/${rpc}`)) return m.responseStream;
  }
  return false;
}
