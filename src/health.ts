/** One readiness condition as Status reports it (RuntimeReady, NetworkReady). */
export interface ReadinessCheck {
  ready: boolean;
  reason: string;
  message: string;
}
