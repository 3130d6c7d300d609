/**
 * Whether a GraphQL response body reports an error: a single result or a batch (an array of
 * results) with a non-empty `errors` list. GraphQL answers 200 when a field fails, and a guard's
 * refusal never reaches the interceptor, so the body is the only place the failure shows.
 * Anything that is not a complete JSON body (a stream, a chunk of multipart) says no error.
 * @internal
 */
export function hasGraphqlErrors(body: unknown): boolean {
  const text =
    typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : undefined;
  // Cheap first: most answers have no errors, and only a text naming them is parsed.
  if (text === undefined || !text.includes('"errors"')) return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  const results = Array.isArray(parsed) ? parsed : [parsed];
  return results.some((result) => {
    const errors = (result as { errors?: unknown } | null)?.errors;
    return Array.isArray(errors) && errors.length > 0;
  });
}
