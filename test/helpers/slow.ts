// Deadlines inside tests and helpers, stretched on slow machines: NORI_TEST_TIMEOUT_SCALE (set by
// npm run test:vm's guest, which runs under emulation ~10-15x slower) multiplies them. 1 elsewhere.

const SCALE = Math.max(1, Number(process.env.NORI_TEST_TIMEOUT_SCALE || '1') || 1);

export function scaled(ms: number): number {
  return ms * SCALE;
}
