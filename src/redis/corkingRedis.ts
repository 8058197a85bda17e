/**
 * An ioredis connection whose commands, issued while handling one turn of the event loop, leave in
 * one socket write: the first command corks the socket and the check phase uncorks it, the moment
 * ioredis's auto-pipelining would flush. Unlike an auto-pipeline this allocates nothing per batch,
 * so a lone command (one session's request) and a burst both cost less CPU (docs/performance.md).
 * Order on the connection is unchanged: corked writes leave in the order made. The ioredis
 * internals this relies on are held to corking.test.ts.
 */
import { Redis } from 'ioredis';

type SendCommand = Redis['sendCommand'];

export class CorkingRedis extends Redis {
  private corked = false;

  override sendCommand(...args: Parameters<SendCommand>): ReturnType<SendCommand> {
    // A `stream` argument means a pipeline is assembling its own write: leave it alone.
    if (!this.corked && args[1] === undefined && this.status === 'ready') {
      const socket = this.stream;
      if (socket && !socket.destroyed) {
        this.corked = true;
        socket.cork();
        setImmediate(() => {
          this.corked = false;
          socket.uncork();
        });
      }
    }
    return super.sendCommand(...args);
  }
}
