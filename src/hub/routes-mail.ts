// GET /api/v1/demo/mail: the mails the demo's capture SMTP server received (read role), so a
// newcomer sees what the rules would have sent. Registered only when the hub has a capture.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Authenticator } from './auth.js';
import type { MailCapture } from './mail-capture.js';
import { guard } from './routes-agents.js';

export function mailRoutes(ctx: { auth: Authenticator; capture: MailCapture }) {
  return async function routes(base: FastifyInstance): Promise<void> {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    app.get(
      '/api/v1/demo/mail',
      {
        schema: {
          tags: ['demo'],
          description: 'Mails received by the demo capture SMTP server, newest first.',
          querystring: Type.Object(
            {
              limit: Type.Optional(
                Type.String({ pattern: '^(?:[1-9]\\d{0,2})$', description: 'at most 999 (default 50)' }),
              ),
            },
            { additionalProperties: false },
          ),
        },
        onRequest: guard(ctx.auth, 'read'),
      },
      async (req) => {
        const all = ctx.capture.list().reverse();
        return {
          smtp: `${ctx.capture.host}:${ctx.capture.port}`,
          total: all.length,
          mails: all.slice(0, req.query.limit ? Number(req.query.limit) : 50),
        };
      },
    );
  };
}
