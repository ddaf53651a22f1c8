/**
 * A fastify application served over proactor connections: fastify builds its node:http server
 * as usual (no change to the application), and `serveHttp` feeds it the connections a proactor
 * queue accepts, instead of `app.listen()` opening a node:net server.
 */
import { createQueue } from '@proactor/aio';
import { serveHttp } from '@proactor/aio-streams';
import Fastify, { type FastifyInstance } from 'fastify';

export interface FastifyOverProactor {
  app: FastifyInstance;
  port: number;
  /** The queue's backend ('io_uring', 'node', ...). */
  backend: string;
  close(): Promise<void>;
}

/** The application: nothing in it knows about proactor. */
export function buildApp(): FastifyInstance {
  const app = Fastify();
  app.get('/', async () => ({ hello: 'world' }));
  app.get<{ Params: { name: string } }>('/greet/:name', async (request) => ({
    greeting: `hello, ${request.params.name}`,
  }));
  app.post('/echo', async (request, reply) => {
    reply.header('content-type', 'application/json');
    return request.body;
  });
  return app;
}

export async function startFastifyServer(
  options: { port?: number; host?: string } = {},
): Promise<FastifyOverProactor> {
  const queue = await createQueue();
  const app = buildApp();
  await app.ready();
  const server = serveHttp(queue, app.server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return {
    app,
    port: address !== null && typeof address === 'object' ? address.port : 0,
    backend: queue.backend.name,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections idle in fastify's server end now.
        app.server.closeIdleConnections();
      });
      await app.close();
      await queue.destroy();
    },
  };
}
