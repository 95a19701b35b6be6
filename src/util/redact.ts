// Credentials out of what Theo logs, labels and writes down: a URL keeps its scheme, host, port and the
// shape of its path, and loses its userinfo, its query values and any path segment that looks like a token
// (webhook URLs carry their secret in the path: /hooks/<token>). Every place that shows a configured or
// requested URL goes through here.

const REDACTED = '***';
/** A URL in free text (an error message): scheme, then everything up to whitespace or a quote. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
/** Path segments of this many characters with a digit in them, or twice as long without one, read as tokens. */
const TOKEN_MIN = 16;

/** `raw` with its userinfo, query values and token-like path segments replaced by ***. Not a URL: *** whole. */
export function redactUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return REDACTED;
  }
  const userinfo = u.username !== '' || u.password !== '' ? `${REDACTED}@` : '';
  const path = u.pathname
    .split('/')
    .map((seg) => (looksLikeToken(seg) ? REDACTED : seg))
    .join('/');
  const query = [...u.searchParams.keys()].map((k) => `${encodeURIComponent(k)}=${REDACTED}`).join('&');
  // `new URL` gives a bare origin the path '/': keep the URL as it was written.
  const bare = u.pathname === '/' && !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*\//i.test(raw);
  // Opaque URLs (mailto:, data:) have no host: nothing of them is kept.
  if (u.host === '') return `${u.protocol}${REDACTED}`;
  return `${u.protocol}//${userinfo}${u.host}${bare ? '' : path}${query ? `?${query}` : ''}${u.hash ? `#${REDACTED}` : ''}`;
}

/**
 * A URL to request, and the credentials it carried as a Basic Authorization value (fetch refuses URLs with
 * userinfo, and a URL is shown in logs and errors; a header is not).
 */
export function splitCredentials(raw: string): { url: string; basic: string | undefined } {
  const u = new URL(raw);
  if (u.username === '' && u.password === '') return { url: raw, basic: undefined };
  const basic = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
  u.username = '';
  u.password = '';
  return { url: u.href, basic };
}

/** host[:port] of a URL: a label that names an endpoint without anything secret in it. */
export function urlHost(raw: string): string {
  try {
    return new URL(raw).host || REDACTED;
  } catch {
    return REDACTED;
  }
}

/** Free text (an error message) with every URL in it redacted. */
export function redactText(text: string): string {
  return text.replace(URL_IN_TEXT, (m) => redactUrl(m));
}

/**
 * An error as it may be logged: the same error when its message names no URL, else a copy whose message and
 * stack have their URLs redacted (the name, code and cause's message likewise).
 */
export function redactError(err: unknown): unknown {
  if (!(err instanceof Error)) return typeof err === 'string' ? redactText(err) : err;
  const message = redactText(err.message);
  const cause = err.cause instanceof Error ? redactText(err.cause.message) : undefined;
  if (message === err.message && cause === (err.cause instanceof Error ? err.cause.message : undefined)) return err;
  const copy = new Error(message, cause !== undefined ? { cause: new Error(cause) } : undefined);
  copy.name = err.name;
  if (err.stack) copy.stack = redactText(err.stack);
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) (copy as { code?: unknown }).code = code;
  return copy;
}

function looksLikeToken(seg: string): boolean {
  // A file name (a model file on a hub) is not a token, however long.
  if (seg.length < TOKEN_MIN || /\.[a-z]{2,5}$/.test(seg)) return false;
  return /\d/.test(seg) || seg.length >= 2 * TOKEN_MIN;
}
