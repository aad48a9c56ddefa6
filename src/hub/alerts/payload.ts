/**
 * Webhook bodies. `json` is Livestats's own shape; `slack` is `{ text, blocks }`, which Slack's
 * incoming webhooks take (and Mattermost, Rocket.Chat, Discord's `/slack` endpoint). Examples are
 * in docs/alerts.md.
 */
import type { Reading } from './evaluate'
import type { AlertRule } from './rules'

export interface Notification {
  /** Delivery id (the same across retries: a receiver can drop a repeat). */
  id: string
  status: 'firing' | 'resolved'
  rule: AlertRule
  reading: Reading
  /** When the condition began (firing) or when the alert had fired (resolved), ms. */
  since: number
  at: number
  /** Where the hub's dashboard is, when `publicUrl` is set. */
  hubUrl: string | null
}

/** The plain JSON body. */
export function jsonBody(n: Notification): Record<string, unknown> {
  const r = n.rule
  return {
    type: 'livestats.alert',
    id: n.id,
    status: n.status,
    rule: { id: r.id, name: r.name, kind: r.kind, site: r.site, page: r.page, app: r.app, job: r.job, op: r.op, threshold: r.threshold, for: r.forSec },
    value: n.reading.value,
    summary: n.reading.summary,
    since: new Date(n.since).toISOString(),
    at: new Date(n.at).toISOString(),
    dashboard: n.hubUrl,
  }
}

/** Slack's mrkdwn gives `&`, `<` and `>` meaning: a site or job name must not make a link or a mention. */
export function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** The Slack-compatible body: `text` for notifications and clients without blocks, `blocks` for the message. */
export function slackBody(n: Notification): { text: string; blocks: unknown[] } {
  const head = n.status === 'firing' ? ':rotating_light: Firing' : ':white_check_mark: Resolved'
  const text = `${n.status === 'firing' ? 'Firing' : 'Resolved'}: ${slackEscape(n.rule.name)}: ${slackEscape(n.reading.summary)}`
  const fields = [`*Rule:* ${slackEscape(n.rule.name)} (${n.rule.kind})`, `*Since:* ${new Date(n.since).toISOString()}`]
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${head}*: ${slackEscape(n.reading.summary)}` } },
    { type: 'context', elements: fields.map((f) => ({ type: 'mrkdwn', text: f })) },
  ]
  if (n.hubUrl !== null) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `<${n.hubUrl}|Open Livestats>` }] })
  return { text, blocks }
}

export function body(n: Notification): string {
  return JSON.stringify(n.rule.format === 'slack' ? slackBody(n) : jsonBody(n))
}
