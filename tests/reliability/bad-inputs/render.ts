/**
 * Renders the catalogue section of `docs/bad-inputs.md` from the rows, so the doc and the test
 * cannot drift: the test compares the section between the markers with {@link renderCatalogue}.
 * @module
 */
import type { BadInputCase, Expectation } from './cases.js';
import { CATEGORIES } from './cases.js';

export const START_MARKER =
  '<!-- bad-inputs:catalogue:start (generated from tests/reliability/bad-inputs/cases.ts) -->';
export const END_MARKER = '<!-- bad-inputs:catalogue:end -->';

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function literal(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

function errorCell(expectation: Expectation): string {
  return expectation.reported === 'returns' ? 'none' : `\`${expectation.error.name}\``;
}

function codeCell(expectation: Expectation): string {
  if (expectation.reported === 'returns') return '—';
  const parts: string[] = [];
  if (expectation.code !== undefined) parts.push(`\`${expectation.code}\``);
  for (const [key, value] of Object.entries(expectation.props ?? {}))
    parts.push(`\`${key}: ${literal(value)}\``);
  if (expectation.code === undefined && expectation.mentions !== undefined) {
    parts.push(`message names \`${expectation.mentions}\``);
  }
  return parts.join(', ') || '—';
}

function reportedCell(expectation: Expectation): string {
  switch (expectation.reported) {
    case 'thrown':
      return 'thrown';
    case 'rejected':
      return 'rejected promise';
    case 'outcome':
      return `task outcome: FAILED${expectation.failedFrom ? ` in ${expectation.failedFrom}` : ''}`;
    case 'returns':
      return `returns \`${literal(expectation.value)}\`, changes nothing`;
  }
}

/** Code points, as the Markdown formatter (biome) measures a cell. */
function width(text: string): number {
  return [...text].length;
}

/** A Markdown table padded the way `biome format` pads it, so the generated doc passes `biome ci`. */
function formatTable(rows: string[][]): string[] {
  const widths = (rows[0] as string[]).map((_, column) =>
    Math.max(3, ...rows.map((row) => width(row[column] as string))),
  );
  const line = (cells: string[]): string =>
    `| ${cells.map((text, column) => text + ' '.repeat((widths[column] as number) - width(text))).join(' | ')} |`;
  const [header, ...body] = rows as [string[], ...string[][]];
  return [line(header), line(widths.map((n) => '-'.repeat(n))), ...body.map(line)];
}

/**
 * A table row with its padding removed, so the doc check does not depend on how a formatter aligns
 * the columns.
 */
export function normalizeTables(markdown: string): string {
  return markdown
    .split('\n')
    .map((text) =>
      text.startsWith('|')
        ? text
            .split(/(?<!\\)\|/)
            .map((part) => (/^\s*-{3,}\s*$/.test(part) ? '---' : part.trim()))
            .join('|')
        : text,
    )
    .join('\n');
}

/** The doc's "runtime afterwards" text of a row. */
export function afterwardsCell(row: BadInputCase): string {
  if (row.afterwardsText !== undefined) return row.afterwardsText;
  if (row.afterwards === 'closed') return 'stays closed (by design); `close()` again resolves; nothing left';
  if (row.afterwards === 'fatal') {
    return 'refuses work until restarted (by design); queries, `checkInvariants()` and `close()` work; nothing left';
  }
  switch (row.env) {
    case 'inline':
      return 'serves the next task; slot table unchanged';
    case 'worker':
      return 'serves the next task on the same `WorkerExecutor`; no thread left';
    case 'process':
      return 'serves the next task on the same `ProcessExecutor`; no process left';
  }
}

/** The generated section: one table per category, then the rows that reveal gaps. */
export function renderCatalogue(rows: readonly BadInputCase[]): string {
  const lines: string[] = [START_MARKER, ''];
  for (const [category, title] of Object.entries(CATEGORIES)) {
    const inCategory = rows.filter((row) => row.category === category);
    if (inCategory.length === 0) continue;
    lines.push(`### ${title}`, '');
    const table = [['#', 'input', 'given to', 'error', 'code', 'reported as', 'runtime afterwards']];
    for (const row of inCategory) {
      table.push([
        row.bug === undefined ? row.id : `${row.id} ⚠`,
        cell(row.input),
        cell(row.givenTo),
        errorCell(row.expect),
        cell(codeCell(row.expect)),
        reportedCell(row.expect),
        cell(afterwardsCell(row)),
      ]);
    }
    lines.push(...formatTable(table));
    lines.push('');
  }
  const gaps = rows.filter((row) => row.bug !== undefined);
  lines.push('### Known gaps (⚠)', '');
  if (gaps.length === 0) {
    lines.push('None: every row passes.', '');
  } else {
    lines.push(
      'These rows state what the rule demands and fail today; each is reported as a bug. What happens instead:',
      '',
    );
    for (const row of gaps) lines.push(`- **${row.id}** — ${row.bug}`);
    lines.push('');
  }
  lines.push(END_MARKER);
  return lines.join('\n');
}
