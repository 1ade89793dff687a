// The OCI spec builder in use (one place to swap it in tests).

export { buildOciSpec as buildSpec } from './spec/build';
