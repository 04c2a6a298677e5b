// Chat presets for the webhook action: the body Slack, Microsoft Teams or a generic chat endpoint
// (Mattermost, Rocket.Chat, Google Chat, Zulip's Slack-compatible hook …) expects, built from the
// same event fields the email uses. `text` (a template) replaces the one-line summary.
import type { ActionContext } from './action.js';
import { eventContext, noticeOf } from './event-context.js';
import { renderString } from './template.js';

export const PRESETS = ['slack', 'teams', 'chat'] as const;
export type Preset = (typeof PRESETS)[number];

export const DEFAULT_SUMMARY = '{{type}} of {{vm}} {{transition}}: NotBefore {{notBeforeUtc}} ({{timeLeft}})';
const NOTICE_SUMMARY =
  '{{notice.kind}}: {{rule}} {{notice.step}} for {{vm}} ({{type}} {{transition}}) {{notice.detail}}';

function facts(c: Record<string, unknown>): [string, string][] {
  const rows: [string, string][] = [
    ['VM', String(c.vm)],
    ['Event', `${String(c.type)} (${String(c.transition)}), ${String(c.origin)}`],
    ['NotBefore', `${String(c.notBeforeUtc)}${c.timeZone === 'UTC' ? '' : ` / ${String(c.notBeforeLocal)}`}`],
    ['Time left', String(c.timeLeft)],
    ['Rule', `${String(c.rule)} / ${String(c.step)}`],
    ['Event id', `${String(c.provider)} ${String(c.eventId)}`],
  ];
  if (c.description) rows.push(['Description', String(c.description)]);
  return rows;
}

/** Slack's mrkdwn treats &, < and > as control characters. */
const slackEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function presetBody(
  preset: Preset,
  ctx: ActionContext,
  params: Record<string, unknown>,
): Record<string, unknown> {
  const c = eventContext(ctx, params, params.timeZone as string | undefined);
  const template =
    (params.text as string | undefined) ?? (noticeOf(params) ? NOTICE_SUMMARY : DEFAULT_SUMMARY);
  const summary = renderString(template, c).replace(/\s+/g, ' ').trim();
  const rows = facts(c);
  if (preset === 'slack') {
    return {
      text: summary, // the notification and fallback text
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: summary.slice(0, 150) } },
        {
          type: 'section',
          fields: rows.slice(0, 10).map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${slackEscape(v)}` })),
        },
        {
          type: 'actions',
          elements: [
            { type: 'button', text: { type: 'plain_text', text: 'Open the event' }, url: ctx.eventUrl },
          ],
        },
      ],
    };
  }
  if (preset === 'teams') {
    // An Adaptive Card in the message envelope Teams Workflows ("Post to a channel when a
    // webhook request is received") and incoming webhooks accept.
    return {
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          contentUrl: null,
          content: {
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            type: 'AdaptiveCard',
            version: '1.4',
            body: [
              { type: 'TextBlock', size: 'Medium', weight: 'Bolder', wrap: true, text: summary },
              { type: 'FactSet', facts: rows.map(([title, value]) => ({ title, value })) },
            ],
            actions: [{ type: 'Action.OpenUrl', title: 'Open the event', url: ctx.eventUrl }],
          },
        },
      ],
    };
  }
  return { text: `${summary}\n${rows.map(([k, v]) => `${k}: ${v}`).join('\n')}\n${ctx.eventUrl}` };
}
