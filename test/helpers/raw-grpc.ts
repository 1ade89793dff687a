// A CRI client that sends bytes exactly as the test built them. proto-loader clients encode through
// protobufjs, which refuses (or re-encodes) what a hostile peer would send: invalid UTF-8 in a
// string field, wrong wire types, truncated frames. Here a generic grpc-js client with identity
// serializers carries raw frames, and `encode` builds a message from proto/api.proto's reflection
// where any string field may be given a Buffer (written as is).

import * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
import { join } from 'node:path';

const PROTO = join(__dirname, '..', '..', '..', 'proto', 'api.proto');

let rootCache: protobuf.Root | undefined;
export function protoRoot(): protobuf.Root {
  if (!rootCache) rootCache = new protobuf.Root().loadSync(PROTO, { keepCase: true }).resolveAll() as protobuf.Root;
  return rootCache;
}

/** Server streams that only end when the client cancels (their deadline is their normal end). */
export const ENDLESS = ['GetContainerEvents', 'StreamPodSandboxMetrics'];

export interface RpcInfo {
  service: 'RuntimeService' | 'ImageService';
  name: string;
  path: string;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
  serverStream: boolean;
}

/** Every RPC of proto/api.proto with its request and response types. */
export function allRpcs(): RpcInfo[] {
  const out: RpcInfo[] = [];
  for (const service of ['RuntimeService', 'ImageService'] as const) {
    const svc = protoRoot().lookupService(`runtime.v1.${service}`);
    for (const m of svc.methodsArray) {
      m.resolve();
      out.push({
        service,
        name: m.name,
        path: `/runtime.v1.${service}/${m.name}`,
        requestType: m.resolvedRequestType!,
        responseType: m.resolvedResponseType!,
        serverStream: !!m.responseStream,
      });
    }
  }
  return out;
}

export function rpcInfo(name: string): RpcInfo {
  const r = allRpcs().find((x) => x.name === name);
  if (!r) throw new Error(`no RPC ${name} in proto/api.proto`);
  return r;
}

export type RawValue = unknown;

/**
 * Encodes `obj` (snake_case field names, as in the proto) as message `type`. A Buffer given for a
 * string field is written byte for byte, so invalid UTF-8 reaches the server.
 */
export function encode(type: protobuf.Type, obj: Record<string, RawValue>): Buffer {
  const w = protobuf.Writer.create();
  writeMessage(w, type, obj);
  return Buffer.from(w.finish());
}

function writeMessage(w: protobuf.Writer, type: protobuf.Type, obj: Record<string, RawValue>): void {
  for (const [name, value] of Object.entries(obj)) {
    if (value === undefined || value === null) continue;
    const f = type.fields[name];
    if (!f) throw new Error(`${type.name} has no field ${name}`);
    f.resolve();
    if (f instanceof protobuf.MapField) {
      for (const [k, v] of Object.entries(value as Record<string, RawValue>)) {
        w.uint32((f.id << 3) | 2).fork();
        writeScalar(w, 1, f.keyType, k);
        if (f.resolvedType instanceof protobuf.Type) {
          w.uint32((2 << 3) | 2).fork();
          writeMessage(w, f.resolvedType, v as Record<string, RawValue>);
          w.ldelim();
        } else writeScalar(w, 2, f.resolvedType instanceof protobuf.Enum ? 'int32' : f.type, v);
        w.ldelim();
      }
      continue;
    }
    const values = f.repeated ? (value as RawValue[]) : [value];
    for (const v of values) {
      if (f.resolvedType instanceof protobuf.Type) {
        w.uint32((f.id << 3) | 2).fork();
        writeMessage(w, f.resolvedType, v as Record<string, RawValue>);
        w.ldelim();
      } else if (f.resolvedType instanceof protobuf.Enum) {
        writeScalar(w, f.id, 'int32', typeof v === 'string' ? f.resolvedType.values[v] : v);
      } else {
        writeScalar(w, f.id, f.type, v);
      }
    }
  }
}

function writeScalar(w: protobuf.Writer, id: number, type: string, v: RawValue): void {
  switch (type) {
    case 'string':
    case 'bytes':
      w.uint32((id << 3) | 2);
      if (Buffer.isBuffer(v) || v instanceof Uint8Array) w.bytes(v);
      else if (type === 'string') w.string(String(v));
      else w.bytes(Buffer.from(String(v)));
      return;
    case 'bool':
      w.uint32(id << 3).bool(Boolean(v));
      return;
    case 'int32':
    case 'int64':
    case 'uint32':
    case 'uint64':
    case 'sint32':
    case 'sint64': {
      w.uint32(id << 3);
      (w as unknown as Record<string, (x: unknown) => void>)[type]!.call(w, typeof v === 'bigint' ? v.toString() : v);
      return;
    }
    case 'double':
      w.uint32((id << 3) | 1).double(Number(v));
      return;
    case 'float':
      w.uint32((id << 3) | 5).float(Number(v));
      return;
    default:
      throw new Error(`raw encoder: unsupported field type ${type}`);
  }
}

export interface RawResult {
  code: grpc.status;
  details: string;
  /** Response bytes (the first message for a stream). */
  body?: Buffer;
}

/** A client whose calls take and return raw message bytes. */
export class RawClient {
  readonly client: grpc.Client;

  constructor(socket: string, options: grpc.ClientOptions = {}) {
    const target = socket.startsWith('unix://') ? socket : `unix://${socket}`;
    this.client = new grpc.Client(target, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * 1024 * 1024, ...options });
  }

  /** Sends `body` to `rpc` (a name or a full path); resolves with the status, never rejects. */
  call(rpc: string | RpcInfo, body: Buffer, deadlineMs = 30_000): Promise<RawResult> {
    const info = typeof rpc === 'string' ? (rpc.startsWith('/') ? undefined : rpcInfo(rpc)) : rpc;
    const path = info ? info.path : (rpc as string);
    const deadline = new Date(Date.now() + deadlineMs);
    const id = (b: Buffer) => b;
    return new Promise((resolve) => {
      if (info?.serverStream) {
        const s = this.client.makeServerStreamRequest(path, id, id, body, { deadline });
        let first: Buffer | undefined;
        let done = false;
        const finish = (r: RawResult) => {
          if (!done) resolve(r);
          done = true;
        };
        s.on('data', (b: Buffer) => (first ??= b));
        s.on('error', (e: grpc.ServiceError) => finish({ code: e.code, details: e.details, body: first }));
        s.on('status', (st: grpc.StatusObject) => {
          if (st.code === grpc.status.OK) finish({ code: st.code, details: st.details, body: first });
        });
        return;
      }
      this.client.makeUnaryRequest(path, id, id, body, { deadline }, (e, v) =>
        resolve(e ? { code: e.code, details: e.details } : { code: grpc.status.OK, details: '', body: v }),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

export function statusName(code: number): string {
  return grpc.status[code] ?? String(code);
}
