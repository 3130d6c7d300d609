/** The body every session route answers while Redis is down or hung. */
export const UNAVAILABLE = {
  statusCode: 503,
  message: 'Session store unavailable',
  error: 'Service Unavailable',
};

/**
 * A generous upper bound for a request's wait with a given socket_timeout: it proves the wait is
 * bounded without turning the test into a performance assertion.
 */
export function budgetMs(socketTimeoutSeconds: number): number {
  return socketTimeoutSeconds * 1000 + 1500;
}
