/**
 * Which replies move the last zxid a client has seen, the zxid it presents when it reconnects
 * (a server that has not seen it refuses the connection).
 *
 * @module
 */
import { type ReplyHeader, Xid } from "./_records.ts";

/**
 * The last zxid seen after `header` arrived. As the Java client (`ClientCnxn.readResponse`):
 * only replies to requests the client queued (ordinary requests and SetWatches) count, and only
 * with a zxid above 0. Pings, auth replies and watch events do not: a ping reply carries the
 * answering server's own last zxid, and taking it would make a lagging but consistent server
 * (a follower behind the leader) refuse the reconnection as if it had lost data.
 */
export function lastZxidAfterReply(lastZxid: bigint, header: ReplyHeader): bigint {
  switch (header.xid) {
    case Xid.ping:
    case Xid.auth:
    case Xid.notification:
      return lastZxid;
  }
  return header.zxid > lastZxid ? header.zxid : lastZxid;
}
