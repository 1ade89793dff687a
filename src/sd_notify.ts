// Readiness for systemd (Type=notify in hack/systemd/nori.service): READY=1 once the CRI socket
// serves calls past the init gate, STOPPING=1 when a signal starts the shutdown.
// $NOTIFY_SOCKET is taken out of the environment at start-up: runc treats an inherited
// NOTIFY_SOCKET as a request to proxy sd_notify into the container, which nori never asks for.

import { sdNotifyRaw } from './sys/host_probe';

export class SystemdNotifier {
  private constructor(private readonly socket: string | undefined) {}

  /** Reads and removes NOTIFY_SOCKET from the process environment. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): SystemdNotifier {
    const socket = env.NOTIFY_SOCKET;
    delete env.NOTIFY_SOCKET;
    return new SystemdNotifier(socket !== undefined && socket !== '' ? socket : undefined);
  }

  get enabled(): boolean {
    return this.socket !== undefined;
  }

  /** Sends one sd_notify message; does nothing when not started by systemd. */
  notify(message: string): void {
    if (this.socket !== undefined) sdNotifyRaw(this.socket, message);
  }

  ready(status: string): void {
    this.notify(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);
  }

  stopping(): void {
    this.notify('STOPPING=1');
  }
}
