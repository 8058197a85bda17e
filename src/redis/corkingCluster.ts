/**
 * The cluster counterpart of corkingRedis.ts: commands issued while handling one turn of the event
 * loop leave in one socket write per node. The first command of a turn corks the socket of every
 * connected node; the check phase uncorks them. ioredis's own auto-pipelining would batch too, but
 * it returns a mixed batch's MOVED errors to the callers during a failover (connections.ts). The
 * ioredis internals this relies on are held to corking.test.ts.
 */
import { Cluster } from 'ioredis';

type SendCommand = Cluster['sendCommand'];

export class CorkingCluster extends Cluster {
  private corked = false;

  override sendCommand(...args: Parameters<SendCommand>): ReturnType<SendCommand> {
    // A `stream` or `node` argument means a pipeline or a redirect is sending: leave it alone.
    if (!this.corked && args[1] === undefined && args[2] === undefined && this.status === 'ready') {
      const sockets = this.nodes('all').flatMap((node) =>
        node.status === 'ready' && node.stream && !node.stream.destroyed ? [node.stream] : [],
      );
      if (sockets.length > 0) {
        this.corked = true;
        for (const s of sockets) s.cork();
        setImmediate(() => {
          this.corked = false;
          for (const s of sockets) s.uncork();
        });
      }
    }
    return super.sendCommand(...args);
  }
}
