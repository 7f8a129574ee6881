/**
 * A free TCP port on the loopback interface, for QEMU's hostfwd. The kernel
 * picks it (bind to port 0); there is a window between our close and QEMU's
 * bind in which another process could take it, so the launcher retries with
 * a fresh port when QEMU reports the forward could not be set up.
 */
import { createServer } from 'node:net';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not determine a free port'))));
    });
  });
}
