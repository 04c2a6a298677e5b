// A TokenCredential (@azure/core-auth) for the Azure SDK, from the environment or files, never
// from the rules and never logged: either a bearer token (AZURE_ACCESS_TOKEN or
// AZURE_ACCESS_TOKEN_FILE, re-read on every call, so a sidecar that refreshes the file is
// followed), or a service principal's client secret (AZURE_TENANT_ID, AZURE_CLIENT_ID,
// AZURE_CLIENT_SECRET or …_FILE) exchanged for a token at the Microsoft identity platform's
// OAuth 2.0 client-credentials endpoint (AZURE_AUTHORITY_HOST, default login.microsoftonline.com),
// cached until five minutes before it expires. The same variables as @azure/identity uses.
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { ActionConfigError } from './action.js';
import { resolveSecret } from './secrets.js';

function env(name: string): string | undefined {
  const direct = process.env[name];
  if (direct) return direct.trim();
  const file = process.env[`${name}_FILE`];
  return file ? resolveSecret({ file }, `${name}_FILE`).trim() : undefined;
}

/** A token from the environment: we do not know its expiry, so it is taken as good for 5 minutes. */
const staticToken = (token: string): AccessToken => ({
  token,
  expiresOnTimestamp: Date.now() + 5 * 60_000,
});

export class EnvTokenCredential implements TokenCredential {
  private cached?: AccessToken;

  /** Throws ActionConfigError when neither a token nor a client secret is configured. */
  constructor() {
    const principal =
      process.env.AZURE_TENANT_ID && process.env.AZURE_CLIENT_ID && env('AZURE_CLIENT_SECRET');
    if (!env('AZURE_ACCESS_TOKEN') && !principal)
      throw new ActionConfigError(
        'credentials: set AZURE_ACCESS_TOKEN (or …_FILE), or AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or …_FILE)',
      );
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const token = env('AZURE_ACCESS_TOKEN');
    if (token) return staticToken(token);
    if (this.cached && this.cached.expiresOnTimestamp - Date.now() > 5 * 60_000) return this.cached;
    const tenant = process.env.AZURE_TENANT_ID!;
    const secret = env('AZURE_CLIENT_SECRET');
    if (!secret)
      throw new ActionConfigError('credentials: set AZURE_CLIENT_SECRET or AZURE_CLIENT_SECRET_FILE');
    const authority = (process.env.AZURE_AUTHORITY_HOST ?? 'https://login.microsoftonline.com').replace(
      /\/+$/,
      '',
    );
    const res = await fetch(`${authority}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: process.env.AZURE_CLIENT_ID!,
        client_secret: secret,
        scope: (Array.isArray(scopes) ? scopes : [scopes]).join(' '),
      }),
      signal: options?.abortSignal as AbortSignal | undefined,
    });
    const body = (await res.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      error?: string;
    };
    if (!res.ok || !body.access_token)
      // The error code only (e.g. invalid_client): the description may echo the request.
      throw Object.assign(new Error(`token request failed: HTTP ${res.status} ${body.error ?? ''}`.trim()), {
        statusCode: res.status,
        code: body.error,
      });
    this.cached = {
      token: body.access_token,
      expiresOnTimestamp: Date.now() + (body.expires_in ?? 3600) * 1000,
    };
    return this.cached;
  }
}
