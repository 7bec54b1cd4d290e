// Bounded request-body reading, shared by the bot listener and the admin listener.
import type { IncomingMessage } from 'node:http';
import { GuardError } from './errors.js';

/** Reads at most `max` bytes; a declared or actual excess is refused without buffering it. */
export async function readBody(req: IncomingMessage, max: number, signal: AbortSignal): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) throw new GuardError('KG1002', `max ${max} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > max) throw new GuardError('KG1002', `max ${max} bytes`);
      chunks.push(chunk as Buffer);
      if (signal.aborted) throw new GuardError('KG1013');
    }
  } catch (err) {
    for (const c of chunks) c.fill(0);
    if (err instanceof GuardError) throw err;
    throw new GuardError('KG1013', undefined, { cause: err });
  }
  const body = Buffer.concat(chunks, size);
  for (const c of chunks) c.fill(0);
  return body;
}
