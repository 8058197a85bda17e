import { once } from 'node:events';
import { createServer as createNetServer, type AddressInfo } from 'node:net';

/** A loopback port free at the time of asking, for a process the bench starts. */
export async function freePort(): Promise<number> {
  const srv = createNetServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  srv.close();
  return port;
}
