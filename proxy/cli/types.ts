// The CLI contract: each subcommand module exports a CliCommand. main.ts
// routes `kguard <name> ...` to it. Commands never take secrets from argv.

export interface CliIO {
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

/** Returns the process exit code. Throwing prints the error (without secrets) and exits 1. */
export type CliCommand = (args: string[], io: CliIO) => Promise<number>;
