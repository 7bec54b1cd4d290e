// A file that replays a corpus is bound by CPU, not by events it waits for: on
// a machine running several suites at once it takes as many times longer as
// the cores are shared, and tap's per-file time-out (package.json, 300 s) is a
// wall-clock bound it would fail by. Such a file asks its runner for longer
// (tap's root t.setTimeout tells the parent process); a hung file still ends.
import type { Test } from 'tap';

/** The per-file time-out a CPU-bound file asks for. */
export const CPU_BOUND_FILE_TIMEOUT_MS = 1_200_000;

export function allowCpuBoundFile(t: Pick<Test, 'setTimeout'>): void {
  t.setTimeout(CPU_BOUND_FILE_TIMEOUT_MS);
}
