/**
 * Errors of the ZooKeeper session layer: one class per outcome a caller may want to tell apart,
 * each carrying the znode path it concerns (when there is one).
 *
 * @module
 */

/** Base class of every error the session layer raises. */
export class ZkError extends Error {
  /** ZooKeeper's numeric error code (negative), or 0 for errors of our own. */
  readonly code: number;
  /** The znode path the failed request was about, when there is one. */
  readonly path?: string;

  /** The message gets `: path` appended when there is a path. */
  constructor(message: string, code = 0, path?: string, options?: ErrorOptions) {
    super(path === undefined ? message : `${message}: ${path}`, options);
    this.name = new.target.name;
    this.code = code;
    this.path = path;
  }
}

/** The znode does not exist. */
export class ZkNoNodeError extends ZkError {}
/** The znode already exists. */
export class ZkNodeExistsError extends ZkError {}
/** The znode has children and cannot be deleted. */
export class ZkNotEmptyError extends ZkError {}
/** A conditional write named a version the znode no longer has. */
export class ZkBadVersionError extends ZkError {}
/** The session's identity (see `ZK_AUTH`) is not allowed to do this to the znode. */
export class ZkNoAuthError extends ZkError {}
/** Ephemeral znodes cannot have children. */
export class ZkNoChildrenForEphemeralsError extends ZkError {}
/** The ACL given is invalid (for example an `auth` ACL without credentials). */
export class ZkInvalidAclError extends ZkError {}
/**
 * The connection dropped while the request was in flight: the outcome is unknown. Writes may or
 * may not have been applied.
 */
export class ZkConnectionLossError extends ZkError {}
/**
 * A connection loss of one particular kind: the server closed the connection while this request
 * was the last one written and nothing had been received since. That is how some servers answer
 * an operation they do not know; it is also what a server going down at that moment looks like.
 */
export class ZkHungUpAfterRequestError extends ZkConnectionLossError {}
/** The session this request belonged to has expired. */
export class ZkSessionExpiredError extends ZkError {}
/** The server refused our credentials. */
export class ZkAuthFailedError extends ZkError {}
/**
 * No answer within the request timeout. Like a connection loss, the outcome is unknown: the request
 * may still be applied later.
 */
export class ZkTimeoutError extends ZkError {}
/**
 * The server does not know the operation: `multiRead`, `addWatch` and persistent watches need
 * ZooKeeper 3.6 or later.
 */
export class ZkUnimplementedError extends ZkError {}
/** The session was closed by its owner; no more requests are accepted. */
export class ZkClosedError extends ZkError {}

/**
 * ZooKeeper's error codes by name (`KeeperException.Code` in the Java server), for the few places
 * that look at a code before an error exists: a reply header, one result of a `multi`.
 */
export const ZkErrorCode = {
  /** In a failed `multi`: this op was rolled back because another one failed. */
  runtimeInconsistency: -2,
  connectionLoss: -4,
  unimplemented: -6,
  noNode: -101,
  noAuth: -102,
  badVersion: -103,
  noChildrenForEphemerals: -108,
  nodeExists: -110,
  notEmpty: -111,
  sessionExpired: -112,
  invalidAcl: -114,
  authFailed: -115,
  sessionMoved: -118,
  throttled: -124,
} as const;

const Code = ZkErrorCode;

const errorByCode: Record<number, new (message: string, code: number, path?: string) => ZkError> = {
  [Code.noNode]: ZkNoNodeError,
  [Code.nodeExists]: ZkNodeExistsError,
  [Code.notEmpty]: ZkNotEmptyError,
  [Code.badVersion]: ZkBadVersionError,
  [Code.noAuth]: ZkNoAuthError,
  [Code.noChildrenForEphemerals]: ZkNoChildrenForEphemeralsError,
  [Code.invalidAcl]: ZkInvalidAclError,
  [Code.connectionLoss]: ZkConnectionLossError,
  [Code.sessionExpired]: ZkSessionExpiredError,
  [Code.authFailed]: ZkAuthFailedError,
  [Code.unimplemented]: ZkUnimplementedError,
};

const messageByCode: Record<number, string> = {
  [Code.noNode]: "no such znode",
  [Code.nodeExists]: "znode already exists",
  [Code.notEmpty]: "znode has children",
  [Code.badVersion]: "znode version changed",
  [Code.noAuth]: "not authorized (check ZK_AUTH and the znode's ACL)",
  [Code.noChildrenForEphemerals]: "ephemeral znodes cannot have children",
  [Code.invalidAcl]: "invalid ACL",
  [Code.connectionLoss]: "connection lost before the answer, outcome unknown",
  [Code.sessionExpired]: "session expired",
  [Code.authFailed]: "authentication failed",
  [Code.throttled]: "request throttled by the server",
  [Code.unimplemented]: "operation not implemented by this server (ZooKeeper before 3.6?)",
};

/** Builds the error class that matches a ZooKeeper error code. */
export function zkErrorFromCode(code: number, path?: string): ZkError {
  const ErrorClass = errorByCode[code] ?? ZkError;
  const message = messageByCode[code] ?? `ZooKeeper error ${code}`;
  return new ErrorClass(message, code, path);
}
