// Takes credentials out of free text before the dashboard shows it: an action's error detail or
// response excerpt may quote a URL whose path or query is the secret (Slack and Teams webhook
// URLs, `?token=`, `https://user:pass@host`). Hosts and ordinary paths stay readable.

const URL_RE = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;
/** A path segment that looks like a key: long, and mixes letters with digits. */
const SECRETISH = /^(?=[^/]*\d)(?=[^/]*[a-z])[A-Za-z0-9_~.-]{16,}$/i;
const PATH_SEGMENT_RE = /\/([A-Za-z0-9_~.-]{16,})/g;
const BEARER_RE = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;

function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return raw;
  }
  const hadAuth = url.username || url.password;
  const path = url.pathname
    .split('/')
    .map((seg) => (SECRETISH.test(seg) ? '…' : seg))
    .join('/');
  const query = [...url.searchParams.keys()].map((k) => `${k}=…`).join('&');
  return `${url.protocol}//${hadAuth ? '…@' : ''}${url.host}${path}${query ? `?${query}` : ''}`;
}

export function redact(text: string): string;
export function redact(text: string | undefined): string | undefined;
export function redact(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  return (
    text
      .replace(URL_RE, redactUrl)
      // A path quoted without its URL (a receiver's "Route POST:/services/… not found").
      .replace(PATH_SEGMENT_RE, (m, seg: string) => (SECRETISH.test(seg) ? '/…' : m))
      .replace(BEARER_RE, (_m, scheme: string) => `${scheme} …`)
  );
}
