// A small loopback TCP proxy for fault injection: added latency per chunk
// (order kept), dropping every live connection, or swallowing traffic.
import net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Delay every chunk in both directions by ms (0 = none). */
  setLatency(ms: number): void;
  /** Accept and read but never forward (a silent, hung peer). */
  setBlackhole(on: boolean): void;
  /** Destroys all live connections (the client sees a reset). */
  dropConnections(): void;
  /** Refuse new connections while true (existing ones are dropped). */
  setRefusing(on: boolean): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  let latencyMs = 0;
  let blackhole = false;
  let refusing = false;
  const sockets = new Set<net.Socket>();

  function relay(from: net.Socket, to: net.Socket): void {
    let lastDue = 0;
    from.on('data', (chunk) => {
      if (blackhole) return;
      if (latencyMs <= 0 && lastDue <= Date.now()) {
        to.write(chunk);
        return;
      }
      // Due times never go backwards, so chunks leave in the order they came.
      const due = Math.max(Date.now() + latencyMs, lastDue);
      lastDue = due;
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, due - Date.now());
    });
  }

  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const teardown = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', teardown).on('close', teardown);
    upstream.on('error', teardown).on('close', teardown);
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  const dropConnections = (): void => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  return {
    port,
    setLatency(ms) {
      latencyMs = ms;
    },
    setBlackhole(on) {
      blackhole = on;
    },
    dropConnections,
    setRefusing(on) {
      refusing = on;
      if (on) dropConnections();
    },
    close() {
      dropConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
