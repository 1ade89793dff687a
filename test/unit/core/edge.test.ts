import * as grpc from '@grpc/grpc-js';
import type { GrpcServer } from '../../../src/grpc/h2_server';
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CallContext, HandlerTable } from '../../../src/cri/context';
import { Edge, InitGate } from '../../../src/cri/edge';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../../../src/errors';
import { ImageServiceDefinition, RuntimeServiceDefinition, StreamContainersResponse } from '../../../src/gen/api';
import { silentLogger } from '../../../src/log';
import { Metrics } from '../../../src/metrics';
import { bindUnix, createServer } from '../../../src/server';
import { criClient, type CriClient } from '../../helpers/cri-client';

describe('edge wrapper', () => {
  let dir: string;
  let server: GrpcServer;
  let listener: import('node:net').Server;
  let client: CriClient;
  let gate: InitGate;
  let metrics: Metrics;
  let aborted: Promise<unknown>;
  let resolveAborted: (v: unknown) => void;

  const handlers: HandlerTable = {
    Version: async () => ({ version: '0.1.0', runtimeName: 'x', runtimeVersion: '1', runtimeApiVersion: 'v1' }),
    PodSandboxStatus: async () => {
      throw new NotFoundError('pod sandbox "abc" not found');
    },
    RunPodSandbox: async () => {
      throw new AlreadyExistsError('pod sandbox name "p_ns_uid_0" is reserved by "123"');
    },
    CreateContainer: async () => {
      throw new InvalidArgumentError('container config is required');
    },
    StartContainer: async () => {
      throw new FailedPreconditionError('container "c" is not CREATED');
    },
    StopContainer: async () => {
      throw new TypeError('boom');
    },
    RemoveContainer: async (_req: unknown, ctx: CallContext) => {
      ctx.signal.addEventListener('abort', () => resolveAborted(ctx.signal.reason));
      await new Promise((r) => setTimeout(r, 5000));
      return {};
    },
    StreamContainers: async (_req, _ctx, send) => {
      for (let i = 0; i < 3; i++) await send(StreamContainersResponse.fromPartial({ containers: [{ id: `c${i}` }] }));
    },
  };

  before(async () => {
    dir = mkdtempSync('/tmp/nori-edge-');
    server = createServer();
    gate = new InitGate();
    metrics = new Metrics({ processMetrics: false });
    const edge = new Edge(silentLogger(), metrics, gate);
    server.addMethods(edge.implement(RuntimeServiceDefinition, handlers));
    server.addMethods(edge.implement(ImageServiceDefinition, handlers));
    listener = await bindUnix(server, join(dir, 's.sock'));
    client = criClient(join(dir, 's.sock'));
  });
  after(() => {
    client.close();
    server.forceShutdown();
    listener.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers UNAVAILABLE until the init gate opens', async () => {
    await assert.rejects(client.call('Version'), (e: any) => e.code === grpc.status.UNAVAILABLE && /recovery/.test(e.details));
    gate.markReady();
    assert.equal((await client.call('Version')).runtime_name, 'x');
  });

  const cases: [string, grpc.status, RegExp][] = [
    ['PodSandboxStatus', grpc.status.NOT_FOUND, /pod sandbox "abc" not found/],
    ['RunPodSandbox', grpc.status.ALREADY_EXISTS, /reserved by "123"/],
    ['CreateContainer', grpc.status.INVALID_ARGUMENT, /container config is required/],
    ['StartContainer', grpc.status.FAILED_PRECONDITION, /not CREATED/],
    ['StopContainer', grpc.status.INTERNAL, /boom/],
    ['ListImages', grpc.status.UNIMPLEMENTED, /ListImages is not implemented/],
  ];
  for (const [rpc, code, msg] of cases) {
    it(`maps ${rpc}'s error to ${grpc.status[code]} keeping the message`, async () => {
      await assert.rejects(client.call(rpc), (e: any) => e.code === code && msg.test(e.details));
    });
  }

  it('streams every message a stream handler sends', async () => {
    const msgs = await client.stream('StreamContainers');
    assert.deepEqual(msgs.map((m) => m.containers[0].id), ['c0', 'c1', 'c2']);
  });

  it('turns a client deadline into an aborted signal in the handler', async () => {
    aborted = new Promise((r) => (resolveAborted = r));
    await assert.rejects(client.call('RemoveContainer', {}, { deadlineMs: 200 }), (e: any) => e.code === grpc.status.DEADLINE_EXCEEDED);
    const reason = await aborted;
    assert.ok(reason instanceof Error);
  });

  it('counts calls by RPC and code', async () => {
    const text = await metrics.registry.metrics();
    assert.match(text, /nori_cri_requests_total\{rpc="PodSandboxStatus",code="NOT_FOUND"\} 1/);
    assert.match(text, /nori_cri_requests_total\{rpc="Version",code="UNAVAILABLE"\} 1/);
    assert.match(text, /nori_cri_requests_total\{rpc="Version",code="OK"\} 1/);
  });
});
