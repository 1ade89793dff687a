// The contract between the streaming server (protocols) and the container subsystem (processes).

import type { Readable, Writable } from 'node:stream';

export interface StdioOptions {
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface ExecProcess {
  stdin?: Writable;
  stdout?: Readable;
  stderr?: Readable;
  resize(cols: number, rows: number): void;
  /** Resolves when the process has exited and its output streams have ended. */
  wait(): Promise<{ exitCode: number }>;
  /**
   * The client went away: for exec, end the process (tree); for attach, only detach (close the
   * attach socket) and let wait() resolve: the container keeps running. Safe after exit.
   */
  kill(): void;
}

export interface ExecTarget {
  /** Starts cmd in the container; stdio as Node streams; tty with initial size. */
  exec(containerId: string, cmd: string[], opts: StdioOptions): Promise<ExecProcess>;
  /**
   * Attaches to the container's own stdio. wait() resolves when the container exits or the
   * attachment ends; the exit code is not reported (kubelet reports Success). The client's stdin
   * half-close arrives as stdin.end(): close the container's stdin only if it was created StdinOnce.
   */
  attach(containerId: string, opts: StdioOptions): Promise<ExecProcess>;
  /** netns path of the pod, or null for host network. */
  podNetns(sandboxId: string): string | null;
}

export type StreamKind = 'exec' | 'attach' | 'portforward';

export interface ExecPayload extends StdioOptions {
  containerId: string;
  cmd: string[];
}

export interface AttachPayload extends StdioOptions {
  containerId: string;
}

export interface PortForwardPayload {
  sandboxId: string;
  /** Ports named in the CRI request; WebSocket clients may name them in the query instead. */
  ports: number[];
}

export interface PayloadOf {
  exec: ExecPayload;
  attach: AttachPayload;
  portforward: PortForwardPayload;
}

export type AnyPayload =
  | { kind: 'exec'; payload: ExecPayload }
  | { kind: 'attach'; payload: AttachPayload }
  | { kind: 'portforward'; payload: PortForwardPayload };

export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
}

/** Opens a TCP connection to localhost:port in a pod (or the host for host-network pods). */
export type PortDialer = (sandboxId: string, port: number) => Promise<import('node:net').Socket>;

/** Terminal size as the remotecommand resize stream carries it. */
export interface TerminalSize {
  Width: number;
  Height: number;
}
