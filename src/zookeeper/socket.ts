/**
 * The one place where a connection to a ZooKeeper server is opened. Plain TCP today; TLS to
 * ZooKeeper (a later goal) is added here and nowhere else.
 *
 * @module
 */
import net from "node:net";

/** One member of the ensemble, as named in the connection string. */
export interface ZkServerAddress {
  host: string;
  port: number;
}

/** Opens a socket to one ZooKeeper server, with Nagle's algorithm off (requests are small). */
export function openZkSocket(server: ZkServerAddress): net.Socket {
  const socket = net.connect({ host: server.host, port: server.port });
  socket.setNoDelay(true);
  return socket;
}
