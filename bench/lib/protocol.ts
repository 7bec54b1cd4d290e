// Messages between the bench (parent) and its child processes over the fork IPC channel.

export type ChildRole = 'sim' | 'bare' | 'guard';

export interface StartMessage {
  readonly type: 'start';
  /** sim: none; bare and guard: the simulator they forward to. */
  readonly simUrl?: string;
  /** Bench-only Kiwoom credentials: random hex text per run, never real keys. */
  readonly appKey: string;
  readonly secretKey: string;
  readonly account: string;
  /** guard: pino level for the sidecar's log (written to a file in its temp dir). */
  readonly logLevel?: string;
  /** guard: extra config merged over the bench's (JSON object). */
  readonly guardConfig?: Record<string, unknown>;
  /** bare: upstream pool connections (the guard's default is mirrored). */
  readonly connections?: number;
}

export type ParentMessage = StartMessage | { readonly type: 'token' } | { readonly type: 'reset' } | { readonly type: 'close' };

export type ChildMessage =
  | { readonly type: 'ready'; readonly url: string; readonly adminUrl?: string }
  /** guard: a fresh sidecar session token (JWT) for the bench bot. */
  | { readonly type: 'token'; readonly token: string }
  | { readonly type: 'reset-done' }
  | { readonly type: 'error'; readonly message: string };
