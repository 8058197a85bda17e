/**
 * Every close code the /ws endpoint sends, in one place (docs/operations.md lists the same table).
 * Standard codes come from RFC 6455 §7.4.1 (and the IANA "WebSocket Close Code Number Registry");
 * the server's own come from the private-use range 4000–4999 (RFC 6455 §7.4.2), numbered 4000 + the
 * HTTP status with the same meaning where there is one, so a client can map them without a table.
 *
 * `reason` is the bounded label of `mcp_websockets_closed_total{reason}` and of the close log line;
 * it is also the close frame's reason text (≤ 123 bytes, RFC 6455 §5.5).
 */
import type { WebSocketCloseReason } from '../observability/metrics.js';

export const CloseCode = {
  /** RFC 6455: the client ended the connection, or the server ended a session the client asked to end. */
  Normal: 1000,
  /** RFC 6455: the server is shutting down (SIGTERM); reconnect, through the load balancer, elsewhere. */
  GoingAway: 1001,
  /** RFC 6455: a binary frame; MCP messages are JSON text, one per text frame. */
  UnsupportedData: 1003,
  /** RFC 6455: a text frame that is not valid UTF-8 (sent by the `ws` library itself). */
  InvalidPayload: 1007,
  /** RFC 6455: a frame larger than MAX_BODY_BYTES (sent by the `ws` library itself). */
  MessageTooBig: 1009,
  /** RFC 6455: the server failed unexpectedly (e.g. Redis unreachable while creating the session). */
  InternalError: 1011,
  /**
   * Private: the access token the socket was opened with has expired, or is no longer accepted
   * (revoked); reconnect with a fresh one (new session).
   */
  TokenExpired: 4401,
  /** Private: the session no longer exists (ended through DELETE /sessions/<id>, expired, or lost with its state). */
  SessionEnded: 4404,
  /**
   * Private: slow consumer. More than WEBSOCKET_SEND_BUFFER_BYTES were still unsent when the next
   * message was due; the server stops sending rather than buffer without bound. No HTTP analogue.
   */
  SlowConsumer: 4008,
} as const;

/** Why a socket closed: the label of the close metric and log line (a small fixed set, defined with the metric). */
export type CloseReason = WebSocketCloseReason;

/** A close the server initiates: the code, its reason label, and the text sent in the close frame. */
export interface ServerClose {
  code: number;
  reason: CloseReason;
  text: string;
}

export const SERVER_CLOSES = {
  goingAway: { code: CloseCode.GoingAway, reason: 'going_away', text: 'server shutting down' },
  tokenExpired: { code: CloseCode.TokenExpired, reason: 'token_expired', text: 'access token expired' },
  tokenRevoked: { code: CloseCode.TokenExpired, reason: 'token_revoked', text: 'access token no longer valid' },
  sessionEnded: { code: CloseCode.SessionEnded, reason: 'session_ended', text: 'session ended' },
  slowConsumer: { code: CloseCode.SlowConsumer, reason: 'slow_consumer', text: 'slow consumer: send buffer full' },
  binaryFrame: { code: CloseCode.UnsupportedData, reason: 'protocol_error', text: 'binary frames are not supported' },
  internalError: { code: CloseCode.InternalError, reason: 'internal_error', text: 'internal error' },
} as const satisfies Record<string, ServerClose>;

/** The reason label of a close the server did not initiate, from its code (client closes, ws-level errors). */
export function reasonOfPeerClose(code: number): CloseReason {
  switch (code) {
    case CloseCode.InvalidPayload:
    case CloseCode.MessageTooBig:
    case 1002: // protocol error
      return 'protocol_error';
    default:
      return 'client_closed';
  }
}
