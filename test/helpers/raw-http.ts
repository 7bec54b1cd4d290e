// Raw bytes to an HTTP listener over a fresh TCP socket: what a parser-level
// test needs (smuggling, framing Node would refuse itself).
import net from 'node:net';

/** Sends `bytes` to `url`'s port on 127.0.0.1; resolves with everything written back until the socket closed (or giveUpMs). */
export function rawHttp(url: string, bytes: string, giveUpMs = 2000): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(out);
    }, giveUpMs);
    sock.on('data', (d) => {
      out += d.toString('latin1');
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    sock.on('error', reject);
    sock.write(bytes);
  });
}
