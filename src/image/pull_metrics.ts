// The image metrics: pulls by registry and result, bytes pulled, pull duration, pulls running.

import type { Metrics } from '../metrics';
import type { PullMetrics } from './puller';

export function pullMetrics(m: Metrics): PullMetrics {
  const total = m.counter('nori_image_pulls_total', 'Image pulls by registry and result', ['registry', 'result'] as const);
  const bytes = m.counter('nori_image_pull_bytes_total', 'Compressed layer bytes downloaded');
  const seconds = m.histogram('nori_image_pull_duration_seconds', 'Image pull duration', ['registry'] as const, [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]);
  const running = m.gauge('nori_image_pulls_in_progress', 'Image pulls running');
  // per running pull, updated every second and dropped when it ends
  const done = m.gauge('nori_image_pull_progress_bytes', 'Compressed layer bytes a running pull has received', ['image'] as const);
  const expected = m.gauge('nori_image_pull_expected_bytes', 'Compressed layer bytes a running pull needs in all', ['image'] as const);
  return {
    pullStarted: () => running.inc(),
    pullFinished(registry, result, s) {
      running.dec();
      total.inc({ registry, result });
      seconds.observe({ registry }, s);
    },
    bytes: (n) => bytes.inc(n),
    progress(image, bytesDone, bytesTotal) {
      done.set({ image }, bytesDone);
      expected.set({ image }, bytesTotal);
    },
    progressEnded(image) {
      done.remove({ image });
      expected.remove({ image });
    },
  };
}
