// A registry far away, on loopback: an HTTP proxy on 127.0.0.1 that holds every request for
// `delayMs` before it forwards it, and every response for `delayMs` before it answers, so each
// round trip through it costs at least 2 x delayMs more than going direct (netem, which would do
// this in the kernel, is not available on the test bed). Everything else is forwarded faithfully:
// method, path and query, every header including Host (registry 2.8 builds absolute Location URLs
// from it, so clients keep coming back through the proxy), and bodies streamed both ways.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface DelayProxy {
  /** `127.0.0.1:PORT`, as it appears in image references */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** requests forwarded so far */
  requests(): number;
  /** Closes the listener, every connection and the upstream sockets. */
  stop(): Promise<void>;
}

export interface StartDelayProxyOptions {
  /** The registry: `http://127.0.0.1:PORT`. */
  target: string;
  /** Delay added to each request and to each response, in ms (default 25: a registry 50 ms away round trip). */
  delayMs?: number;
}

export async function startDelayProxy(opts: StartDelayProxyOptions): Promise<DelayProxy> {
  const target = new URL(opts.target);
  if (target.protocol !== 'http:') throw new Error(`delay proxy: target must be http://, got ${opts.target}`);
  const delayMs = opts.delayMs ?? 25;
  if (!Number.isFinite(delayMs) || delayMs < 0)
    throw new Error(`delay proxy: delayMs must be >= 0, got ${delayMs}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const sockets = new Set<Socket>();
  let count = 0;

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    count++;
    req.pause(); // the body waits with the request line and headers
    setTimeout(() => {
      const up = http.request(
        {
          host: target.hostname,
          port: Number(target.port || 80),
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent,
        },
        (upRes) => {
          upRes.pause();
          setTimeout(() => {
            res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, upRes.headers);
            upRes.pipe(res);
          }, delayMs);
        },
      );
      up.on('error', (err) => {
        if (res.headersSent) res.destroy(err);
        else
          res
            .writeHead(502, { 'Content-Type': 'text/plain' })
            .end(`delay proxy: upstream error: ${err.message}`);
      });
      req.pipe(up);
      req.resume();
    }, delayMs);
  };

  const server = http.createServer(forward);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('delay proxy: no port');
  const host = `127.0.0.1:${address.port}`;
  return {
    host,
    url: `http://${host}`,
    requests: () => count,
    stop: async () => {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
