/** Audit document -> GitHub-flavoured Markdown. Every piece of text from the history is escaped. */
import { auditDocument, cell, type AuditDocument, type Block, type CellInput } from './document.js';
import type { AuditReport } from './model.js';

/** Escapes Markdown syntax (and raw HTML) in plain text; newlines become spaces. */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/\r?\n/g, ' ')
    .replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`)
    .replace(/&(?=[a-zA-Z#][a-zA-Z0-9]*;)/g, '&amp;');
}

function cellText(input: CellInput): string {
  const c = cell(input);
  const text = escapeMarkdown(c.text);
  if (c.tone === 'bad') return `**${text}**`;
  return text;
}

function block(b: Block): string {
  switch (b.kind) {
    case 'paragraph':
      return b.tone === 'muted' ? `_${escapeMarkdown(b.text)}_` : escapeMarkdown(b.text);
    case 'list':
      return b.items.map((i) => `- ${escapeMarkdown(i)}`).join('\n');
    case 'pairs':
      return [
        '| | |',
        '| --- | --- |',
        ...b.rows.map(([k, v]) => `| ${escapeMarkdown(k)} | ${cellText(v)} |`),
      ].join('\n');
    case 'table':
      return [
        `| ${b.columns.map(escapeMarkdown).join(' | ')} |`,
        `| ${b.columns.map(() => '---').join(' | ')} |`,
        ...b.rows.map((r) => `| ${r.map(cellText).join(' | ')} |`),
      ].join('\n');
    case 'code':
      // A tilde fence: the text is shown as is; a line of tildes inside could end it early.
      return ['~~~text', b.text.replace(/^~~~/gm, ' ~~~'), '~~~'].join('\n');
  }
}

export function renderMarkdown(doc: AuditDocument): string {
  const out = [`# ${escapeMarkdown(doc.title)}`, '', `Outcome: **${escapeMarkdown(doc.status.text)}**`];
  for (const s of doc.sections) {
    out.push('', `## ${escapeMarkdown(s.title)}`);
    for (const b of s.blocks) out.push('', block(b));
  }
  return out.join('\n') + '\n';
}

export function auditMarkdown(report: AuditReport): string {
  return renderMarkdown(auditDocument(report));
}
