import { describe, expect, it } from 'vitest';
import { LineSplitter, TailBuffer } from './line-splitter.js';

function split(chunks: Array<string | Buffer>, max = 10): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter(max, (line) => lines.push(line));
  for (const chunk of chunks) splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  splitter.end();
  return lines;
}

describe('LineSplitter', () => {
  it('splits lines across chunks, drops \\r and flushes a last line without newline', () => {
    expect(split(['ab', 'c\nde\r\n', 'f'])).toEqual(['abc', 'de', 'f']);
    expect(split(['\n\n'])).toEqual(['', '']);
  });

  it('cuts overlong lines, whether they arrive whole or in pieces, and says how much it dropped', () => {
    expect(split(['0123456789abcdef\nok\n'])).toEqual(['0123456789 [… 6 more characters cut]', 'ok']);
    expect(split(['01234', '56789ab', 'cdef', '\nok'])).toEqual([
      '0123456789 [… 6 more characters cut]',
      'ok',
    ]);
    expect(split(['0123456789abc'])).toEqual(['0123456789 [… 3 more characters cut]']);
  });

  it('keeps multi-byte characters split across chunks intact', () => {
    const bytes = Buffer.from('héllo\n');
    expect(split([bytes.subarray(0, 2), bytes.subarray(2)])).toEqual(['héllo']);
  });
});

describe('TailBuffer', () => {
  it('keeps only the last maxBytes bytes', () => {
    const tail = new TailBuffer(8);
    tail.push(Buffer.from('abcdef'));
    tail.push(Buffer.from('ghij'));
    expect(tail.toString()).toBe('cdefghij');
    tail.push(Buffer.from('0123456789'));
    expect(tail.toString()).toBe('23456789');
  });
});
