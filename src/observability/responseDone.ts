/**
 * One set of `finish`/`close`/`error` listeners per response, shared by everything that wants to
 * know when a response is over (access log, HTTP metrics, auth-failure counter). Each of them used
 * to add its own listeners (`once` wrappers included): six registrations and as many closures per
 * request on the hot path, for one event.
 */
import type { ServerResponse } from 'node:http';

/** How the response ended: fully sent (`finish`), cut off (`close` first) or failed (`error`). */
export type ResponseEnd = 'finish' | 'close' | 'error';
export type ResponseDoneCallback = (end: ResponseEnd, err?: Error) => void;

const kCallbacks = Symbol('responseDone');

type Tracked = ServerResponse & { [kCallbacks]?: ResponseDoneCallback[] };

/** Calls `callback` once, when `res` first finishes, closes or fails; callbacks run in the order added. */
export function onResponseDone(res: ServerResponse, callback: ResponseDoneCallback): void {
  const tracked = res as Tracked;
  const existing = tracked[kCallbacks];
  if (existing) {
    existing.push(callback);
    return;
  }
  const callbacks = [callback];
  tracked[kCallbacks] = callbacks;
  const fire = (end: ResponseEnd, err?: Error) => {
    res.off('finish', onFinish);
    res.off('close', onClose);
    res.off('error', onError);
    for (const cb of callbacks) cb(end, err);
    callbacks.length = 0;
  };
  const onFinish = () => fire('finish');
  const onClose = () => fire('close');
  const onError = (err: Error) => fire('error', err);
  res.on('finish', onFinish);
  res.on('close', onClose);
  res.on('error', onError);
}
