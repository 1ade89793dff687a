// Milliseconds per step of one operation (0.1 ms resolution), for the log line that ends it:
// where a CreateContainer or RemoveContainer spends its time.

export interface StepTimer {
  readonly steps: Record<string, number>;
  /** Records the time since the previous step (or the start) under `name`. */
  step(name: string): void;
}

export function stepTimer(): StepTimer {
  const steps: Record<string, number> = {};
  let mark = performance.now();
  return {
    steps,
    step(name: string): void {
      const now = performance.now();
      steps[name] = Math.round((now - mark) * 10) / 10;
      mark = now;
    },
  };
}
