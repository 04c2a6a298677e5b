// Server-side checks of the request signatures the official cloud SDKs send, recomputed from the
// request as received (metadata-apis.md §4.4, §5.2):
// - Alibaba ACS3-HMAC-SHA256 (what @alicloud/openapi-core sends by default): an Authorization
//   header over the method, path, sorted query, the x-acs-*/host/content-type headers it names and
//   the body's SHA-256.
// - Alibaba RPC signature 1.0 (HMAC-SHA1 over the sorted parameters, `Signature` in the query),
//   what older SDKs and `signatureAlgorithm: 'v2'` send.
// - Tencent TC3-HMAC-SHA256: a key derived from the date and service, over the method, path,
//   query, content-type and host (the host name, no port) and the body's SHA-256.
// Each returns undefined when the signature holds, else the cloud's error code and message.
import { createHash, createHmac } from 'node:crypto';
import { sameSecret } from '../core/same-secret.js';

export interface SignatureProblem {
  code: string;
  message: string;
}

export type SecretLookup = (keyId: string) => string | undefined;

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
/** One step of TC3's and SigV4's signing-key derivation chains. */
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** Alibaba's percent-encoding (RFC 3986: also ! ' ( ) *). */
export function acsEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/!/g, '%21')
    .replace(/'/g, '%27')
    .replace(/\(/g, '%28')
    .replace(/\)/g, '%29')
    .replace(/\*/g, '%2A');
}

/** The query of a raw URL as ordered pairs, decoded (`+` is a space, as in forms). */
export function queryPairs(rawUrl: string): [string, string][] {
  const q = rawUrl.indexOf('?');
  return q < 0 ? [] : [...new URLSearchParams(rawUrl.slice(q + 1))];
}

type Headers = Record<string, string | string[] | undefined>;
const header = (headers: Headers, name: string) => {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : (v ?? '');
};

export interface SignedRequest {
  method: string;
  /** As received: path and raw query. */
  url: string;
  headers: Headers;
  body: string;
}

export function verifyAcs3(req: SignedRequest, secretOf: SecretLookup): SignatureProblem | undefined {
  const auth = header(req.headers, 'authorization');
  const m = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]+)$/.exec(auth);
  if (!m)
    return {
      code: 'IncompleteSignature',
      message: 'The request signature does not conform to Aliyun standards.',
    };
  const [, keyId, signedHeaders, signature] = m as unknown as [string, string, string, string];
  const secret = secretOf(keyId);
  if (secret === undefined)
    return { code: 'InvalidAccessKeyId.NotFound', message: 'Specified access key is not found.' };
  const payloadHash = sha256(req.body);
  if (header(req.headers, 'x-acs-content-sha256') !== payloadHash)
    return {
      code: 'SignatureDoesNotMatch',
      message: 'The request body does not match x-acs-content-sha256.',
    };
  const path = req.url.split('?')[0] || '/';
  const pairs = queryPairs(req.url).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const query = pairs.map(([k, v]) => `${k}=${acsEncode(v)}`).join('&');
  const names = signedHeaders.split(';');
  const canonicalHeaders = names.map((n) => `${n}:${header(req.headers, n).trim()}\n`).join('');
  const canonical = [req.method, path, query, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const toSign = `ACS3-HMAC-SHA256\n${sha256(canonical)}`;
  const expected = createHmac('sha256', secret).update(toSign).digest('hex');
  if (!sameSecret(expected, signature))
    return {
      code: 'SignatureDoesNotMatch',
      message: 'Specified signature is not matched with our calculation.',
    };
  return undefined;
}

/** RPC signature 1.0: `params` are the query and form fields together, `Signature` among them. */
export function verifyAcsRpc(
  method: string,
  params: Record<string, string>,
  secretOf: SecretLookup,
): SignatureProblem | undefined {
  const { Signature: signature, ...signed } = params;
  if (signed.SignatureMethod !== 'HMAC-SHA1' || signed.SignatureVersion !== '1.0')
    return {
      code: 'IncompleteSignature',
      message: 'SignatureMethod must be HMAC-SHA1, SignatureVersion 1.0.',
    };
  const secret = signed.AccessKeyId === undefined ? undefined : secretOf(signed.AccessKeyId);
  if (secret === undefined)
    return { code: 'InvalidAccessKeyId.NotFound', message: 'Specified access key is not found.' };
  const canonical = Object.keys(signed)
    .sort()
    .map((k) => `${acsEncode(k)}=${acsEncode(signed[k]!)}`)
    .join('&');
  const toSign = `${method}&${acsEncode('/')}&${acsEncode(canonical)}`;
  const expected = createHmac('sha1', `${secret}&`).update(toSign).digest('base64');
  if (!signature || !sameSecret(expected, signature))
    return {
      code: 'SignatureDoesNotMatch',
      message: 'Specified signature is not matched with our calculation.',
    };
  return undefined;
}

const TC3 =
  /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/([a-z0-9]+)\/tc3_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

export function verifyTc3(
  req: SignedRequest,
  service: string,
  secretOf: SecretLookup,
  nowMs: number,
): SignatureProblem | undefined {
  const m = TC3.exec(header(req.headers, 'authorization'));
  if (!m) return { code: 'AuthFailure.InvalidAuthorization', message: 'Authorization is invalid.' };
  const [, secretId, date, scopeService, signedHeaders, signature] = m as unknown as string[];
  const secret = secretOf(secretId!);
  if (secret === undefined)
    return {
      code: 'AuthFailure.SecretIdNotFound',
      message: 'The SecretId is not found, please ensure that your SecretId is correct.',
    };
  const timestamp = Number(header(req.headers, 'x-tc-timestamp'));
  if (!Number.isInteger(timestamp))
    return {
      code: 'MissingParameter',
      message: 'The request is missing a required parameter `X-TC-Timestamp`.',
    };
  if (Math.abs(nowMs / 1000 - timestamp) > 300)
    return {
      code: 'AuthFailure.SignatureExpire',
      message: 'The signature is expired: X-TC-Timestamp is more than 5 minutes off.',
    };
  if (scopeService !== service || date !== new Date(timestamp * 1000).toISOString().slice(0, 10))
    return {
      code: 'AuthFailure.InvalidAuthorization',
      message: `Credential scope must be <date>/${service}/tc3_request.`,
    };
  const [path = '/', query = ''] = req.url.split('?');
  const canonicalHeaders = signedHeaders!
    .split(';')
    .map((n) => {
      // The SDK signs the host name without the port (new URL(url).hostname).
      const v = n === 'host' ? header(req.headers, 'host').replace(/:\d+$/, '') : header(req.headers, n);
      return `${n}:${v.trim()}\n`;
    })
    .join('');
  const canonical = [req.method, path, query, canonicalHeaders, signedHeaders, sha256(req.body)].join('\n');
  const toSign = [
    'TC3-HMAC-SHA256',
    String(timestamp),
    `${date}/${service}/tc3_request`,
    sha256(canonical),
  ].join('\n');
  const kSigning = hmac(hmac(hmac(`TC3${secret}`, date!), service), 'tc3_request');
  const expected = createHmac('sha256', kSigning).update(toSign).digest('hex');
  if (!sameSecret(expected, signature!))
    return {
      code: 'AuthFailure.SignatureFailure',
      message: 'The provided credentials could not be validated. Please check your signature is correct.',
    };
  return undefined;
}

const SIGV4 =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** AWS Signature Version 4 over the request as received (EC2's query API: POST form to `/`). */
export function verifySigV4(
  req: SignedRequest,
  service: string,
  secretOf: SecretLookup,
  nowMs: number,
): SignatureProblem | undefined {
  const m = SIGV4.exec(header(req.headers, 'authorization'));
  if (!m)
    return {
      code: 'IncompleteSignature',
      message: 'Authorization header is not a valid AWS4-HMAC-SHA256 signature.',
    };
  const [, keyId, date, region, scopeService, signedHeaders, signature] = m as unknown as string[];
  const secret = secretOf(keyId!);
  if (secret === undefined)
    return { code: 'AuthFailure', message: 'AWS was not able to validate the provided access credentials' };
  const amzDate = header(req.headers, 'x-amz-date');
  const at = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!at || amzDate.slice(0, 8) !== date || scopeService !== service)
    return {
      code: 'IncompleteSignature',
      message: `Credential scope must be <date>/<region>/${service}/aws4_request.`,
    };
  const t = Date.UTC(+at[1]!, +at[2]! - 1, +at[3]!, +at[4]!, +at[5]!, +at[6]!);
  if (Math.abs(nowMs - t) > 15 * 60_000) return { code: 'RequestExpired', message: 'Request has expired.' };
  const payloadHash = sha256(req.body);
  const claimed = header(req.headers, 'x-amz-content-sha256');
  if (claimed && claimed !== payloadHash)
    return {
      code: 'SignatureDoesNotMatch',
      message: 'The request body does not match x-amz-content-sha256.',
    };
  const [path = '/', rawQuery = ''] = req.url.split('?');
  const enc = (s: string) => acsEncode(s).replace(/%7E/g, '~');
  const query = queryPairs(`?${rawQuery}`)
    .map(([k, v]) => [enc(k), enc(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = signedHeaders!
    .split(';')
    .map((n) => `${n}:${header(req.headers, n).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonical = [req.method, path, query, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${secret}`, date!), region!), service), 'aws4_request');
  const expected = createHmac('sha256', kSigning).update(toSign).digest('hex');
  if (!sameSecret(expected, signature!))
    return {
      code: 'SignatureDoesNotMatch',
      message: 'The request signature we calculated does not match the signature you provided.',
    };
  return undefined;
}
