// fast-check arbitraries for any HTTP request to a server with a known route list: a route (or an
// unknown path), its method (sometimes another), path parameters, query, headers and a body that
// are weird more often than not — and now and then valid, so the fuzz also walks past validation.
import fc from 'fast-check';

export interface RouteSpec {
  method: string;
  url: string;
}

export interface AnyRequest {
  /** `METHOD url-pattern` of the route aimed at ('? <path>' for an unknown path). */
  route: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

/** Values that break naive parsers: empty, huge, encoded, negative, special numbers, unicode. */
export const weird: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom(
    '',
    '..',
    '%2e%2e',
    '%00',
    '%',
    '0',
    '-1',
    '1e309',
    'NaN',
    'null',
    'true',
    '[]',
    '{}',
    ' ',
    '💥',
    'a'.repeat(300),
  ),
  fc.integer().map(String),
  fc.uuid(),
  fc.constantFrom('azure', 'aws', 'web-01', 'solo', 'drill', 'notify', '1', '2'),
);

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/cloudevents+json',
  'application/cloudevents-batch+json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/json; charset=latin1',
  'nonsense',
];

/** Objects with the field names our bodies use and random values: sometimes they validate. */
function shapedBody(fields: string[]): fc.Arbitrary<unknown> {
  const value = fc.oneof(
    weird,
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.oneof(weird, fc.integer({ min: 1, max: 5 })), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...fields), fc.oneof(weird, fc.integer()), { maxKeys: 3 }),
  );
  return fc.dictionary(fc.constantFrom(...fields), value, { maxKeys: 5 });
}

export interface RequestOptions {
  routes: readonly RouteSpec[];
  /** Authorization (or other auth) header sets to pick from; `{}` is "none". */
  auth: Record<string, string>[];
  /** Query keys the routes know. */
  queryKeys: string[];
  /** Body field names the routes know. */
  bodyFields: string[];
  /** Path parameter values worth trying besides weird ones (existing VMs, ids). */
  known: string[];
  /** Extra, specialised requests mixed in (e.g. the ingest fuzz's bad payloads). */
  extra?: fc.Arbitrary<AnyRequest>;
  /** URL prefix for unknown paths. */
  prefix: string;
}

export function anyRequest(o: RequestOptions): fc.Arbitrary<AnyRequest> {
  const param = fc.oneof(weird, fc.constantFrom(...o.known));
  const body = fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: shapedBody(o.bodyFields).map((b) => JSON.stringify(b)) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  );
  const query = fc.dictionary(fc.oneof(fc.constantFrom(...o.queryKeys), fc.string({ maxLength: 6 })), weird, {
    maxKeys: 3,
  });
  const routed = fc
    .record({
      route: fc.constantFrom(...o.routes),
      otherMethod: fc.option(fc.constantFrom(...METHODS), { freq: 6 }),
      params: fc.array(param, { minLength: 4, maxLength: 4 }),
      rawParams: fc.boolean(),
      query,
      auth: fc.constantFrom(...o.auth),
      contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { freq: 8 }),
      body,
    })
    .map(({ route, otherMethod, params, rawParams, query: q, auth, contentType, body: b }) => {
      let i = 0;
      const path = route.url
        .replace(/:\w+/g, () => {
          const v = params[i++ % params.length]!;
          // Raw values include '%' and '/' on purpose: the router and the URL parser must cope.
          return rawParams ? v.replace(/[\s#?]/g, '') : encodeURIComponent(v);
        })
        .replace(/\*$/, () => encodeURIComponent(params[3]!));
      const qs = new URLSearchParams(q).toString();
      const method = otherMethod ?? route.method;
      const bodyless = method === 'GET' || method === 'OPTIONS';
      return {
        route: `${route.method} ${route.url}`,
        method,
        path: `${path}${qs ? `?${qs}` : ''}`,
        headers: {
          ...auth,
          ...(contentType !== null && !bodyless && b !== undefined ? { 'content-type': contentType } : {}),
        },
        body: bodyless ? undefined : b,
      } satisfies AnyRequest;
    });
  const unknown = fc
    .record({
      tail: fc.string({ maxLength: 30 }),
      method: fc.constantFrom(...METHODS),
      auth: fc.constantFrom(...o.auth),
    })
    .map(({ tail, method, auth }) => ({
      route: '? unknown path',
      method,
      path: `${o.prefix}${encodeURIComponent(tail)}`,
      headers: auth,
    }));
  return fc.oneof(
    { weight: 8, arbitrary: routed },
    { weight: 1, arbitrary: unknown },
    ...(o.extra ? [{ weight: 3, arbitrary: o.extra }] : []),
  );
}
