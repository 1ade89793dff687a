// Protocol names as kubelet's streaming server negotiates them.

export const SPDY_31 = 'SPDY/3.1';
export const HEADER_PROTOCOL_VERSION = 'X-Stream-Protocol-Version';
export const HEADER_ACCEPTED_PROTOCOL_VERSIONS = 'X-Accepted-Stream-Protocol-Versions';

/** remotecommand over SPDY, newest first (the server's preference only breaks no ties: the client's order wins). */
export const SPDY_REMOTECOMMAND = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'] as const;
export const SPDY_PORTFORWARD = ['portforward.k8s.io'] as const;

export interface WsProtocol {
  binary: boolean;
  /** v4+: the error channel carries a JSON metav1.Status. */
  jsonStatus: boolean;
  /** v5: channel 255 closes a channel (stdin half-close). */
  closeSignal: boolean;
}

/** "" is a client that named no subprotocol: kubelet serves it the plain binary channel protocol. */
export const WS_REMOTECOMMAND: Record<string, WsProtocol> = {
  '': { binary: true, jsonStatus: false, closeSignal: false },
  'channel.k8s.io': { binary: true, jsonStatus: false, closeSignal: false },
  'base64.channel.k8s.io': { binary: false, jsonStatus: false, closeSignal: false },
  'v4.channel.k8s.io': { binary: true, jsonStatus: true, closeSignal: false },
  'v4.base64.channel.k8s.io': { binary: false, jsonStatus: true, closeSignal: false },
  'v5.channel.k8s.io': { binary: true, jsonStatus: true, closeSignal: true },
};

export const WS_PORTFORWARD: Record<string, WsProtocol> = {
  '': { binary: true, jsonStatus: false, closeSignal: false },
  'v4.portforward.k8s.io': { binary: true, jsonStatus: false, closeSignal: false },
  'v4.base64.portforward.k8s.io': { binary: false, jsonStatus: false, closeSignal: false },
};

export const WS_CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/** The first of the client's protocols the server supports (the client lists in preference order). */
export function negotiate(client: string[], server: readonly string[]): string | undefined {
  return client.find((p) => server.includes(p));
}
