/**
 * 405 for a method an endpoint does not serve (RFC 9110 §15.5.6: with `Allow`), in the OAuth error
 * shape so a client parsing JSON errors gets one.
 */
import type { RequestHandler } from 'express';
import { OAuthError, OAuthErrorCode } from '../oauthError.js';

export function allowedMethods(methods: string[]): RequestHandler {
  const allow = methods.join(', ');
  return (req, res, next) => {
    if (methods.includes(req.method)) return next();
    res.setHeader('Allow', allow);
    res
      .status(405)
      .json(
        new OAuthError(
          OAuthErrorCode.MethodNotAllowed,
          `the method ${req.method} is not allowed for this endpoint`,
        ).toResponseObject(),
      );
  };
}
