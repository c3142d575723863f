/**
 * Searches a Temporal workflow history for secret values: every text in it, with every payload's
 * data decoded (payloads are base64 in the JSON form `temporal workflow show --output json` and
 * `historyToJSON` write), checked for each value, its base64 form, and each line of a PEM body
 * (a key leaked in pieces or re-wrapped still shows its lines).
 */
import type { History } from '@temporalio/common/lib/proto-utils.js';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';

/** All text of a history: its JSON, plus every base64 payload `data` decoded. */
export function historyText(history: History): string {
  const json = historyToJSON(history);
  const parts: string[] = [json];
  const walk = (value: unknown, key?: string): void => {
    if (typeof value === 'string') {
      if (key === 'data' && /^[A-Za-z0-9+/]+=*$/.test(value))
        parts.push(Buffer.from(value, 'base64').toString('utf8'));
    } else if (Array.isArray(value)) {
      for (const item of value) walk(item);
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, k);
    }
  };
  walk(JSON.parse(json));
  return parts.join('\n');
}

/** The strings whose presence would show a secret value. */
export function needlesOf(value: string): string[] {
  const needles = [value, Buffer.from(value).toString('base64')];
  if (value.includes('-----BEGIN')) {
    for (const line of value.split('\n')) {
      const t = line.trim();
      if (t.length >= 24 && !t.startsWith('-----')) needles.push(t);
    }
  }
  // JSON-escaped (a PEM inside a JSON string has "\n" for its line breaks).
  needles.push(JSON.stringify(value).slice(1, -1));
  return [...new Set(needles)];
}

/** The secrets (by `what`) found in `text`. */
export function secretsFoundIn(text: string, secrets: { what: string; value: string }[]): string[] {
  return secrets.filter((s) => needlesOf(s.value).some((n) => text.includes(n))).map((s) => s.what);
}
