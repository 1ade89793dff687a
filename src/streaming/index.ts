// The streaming subsystem's public surface.

export { StreamingServer, parseListen, type StreamingServerOptions } from './server';
export type { ExecTarget, ExecProcess, StdioOptions, StreamKind, ExecPayload, AttachPayload, PortForwardPayload, TlsOptions, PortDialer } from './types';
export { TOKEN_TTL_MS } from './tokens';
export { validateStreamRequest } from './validate';
