// The image metrics: pulls by registry and result, bytes pulled, pull duration, pulls running.

import type { Metrics } from '../metrics';
import type { PullMetrics } from './puller';

export function pullMetrics(m: Metrics): PullMetrics {
  const total = m.counter('nori_image_pulls_total', 'Image pulls by registry and result', ['registry', 'result'] as const);
  const bytes = m.counter('nori_image_pull_bytes_total', 'Compressed layer bytes downloaded');
  const seconds = m.histogram('nori_image_pull_duration_seconds', 'Image pull duration', ['registry'] as const, [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]);
  const running = m.gauge('nori_image_pulls_in_progress', 'Image pulls running');
  return {
    pullStarted: () => running.inc(),
    pullFinished(registry, result, s) {
      running.dec();
      total.inc({ registry, result });
      seconds.observe({ registry }, s);
    },
    bytes: (n) => bytes.inc(n),
  };
}
