// The serial log: scripted sequences of sections over a real Writable, then real child processes
// printing workflow commands at the same time through runProcess.
import { Writable } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { HeadTail, interruptLiveSections, type LogSection, SerialLog } from '../../src/exec/log.js';
import { runProcess } from '../../src/exec/process.js';
import { logStructure } from '../testbed/logcheck.js';

/** A real Writable that keeps what it is given; `slow` makes it apply backpressure. */
function sink(slow = false) {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    highWaterMark: slow ? 1 : 16 * 1024,
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      if (slow) setTimeout(done, 5);
      else done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

function tokens(): () => string {
  let n = 0;
  return () => `tok${++n}`;
}

/**
 * Runs `open X`, `write X text`, `close X` and `say X` (the action saying `said X` by whenFree)
 * events and returns what the log printed.
 */
function play(events: string[], plain = false): string {
  const out = sink();
  const log = new SerialLog(out.stream, { token: tokens(), plain });
  const open = new Map<string, LogSection>();
  for (const e of events) {
    const [verb, name = '', ...rest] = e.split(' ');
    if (verb === 'open') open.set(name, log.open(name));
    else if (verb === 'write') open.get(name)?.write(Buffer.from(`${rest.join(' ')}\n`));
    else if (verb === 'say') void log.whenFree(() => out.stream.write(`said ${name}\n`));
    else open.get(name)?.close(`${name} done`);
  }
  return out.text();
}

const block = (name: string, token: string, lines: string[]) =>
  [`::group::${name}`, `::stop-commands::${token}`, ...lines, `::${token}::`, '::endgroup::', `${name} done`]
    .map((l) => `${l}\n`)
    .join('');

describe('SerialLog', () => {
  it.each([
    ['alone: printed live', ['open A', 'write A a1', 'close A'], block('A', 'tok1', ['a1'])],
    [
      'B ends while A holds the log: B is printed after A, as its own group',
      ['open A', 'open B', 'write B b1', 'write A a1', 'close B', 'write A a2', 'close A'],
      block('A', 'tok1', ['a1', 'a2']) + block('B', 'tok2', ['b1']),
    ],
    [
      'B still runs when A ends: B takes the log over, its output so far first',
      ['open A', 'open B', 'write B b1', 'write A a1', 'close A', 'write B b2', 'close B'],
      block('A', 'tok1', ['a1']) + block('B', 'tok2', ['b1', 'b2']),
    ],
    [
      'C ended, B still runs when A ends: C is printed, then B goes live',
      [
        'open A',
        'open B',
        'open C',
        'write C c1',
        'close C',
        'write B b1',
        'close A',
        'write B b2',
        'close B',
      ],
      block('A', 'tok1', []) + block('C', 'tok3', ['c1']) + block('B', 'tok2', ['b1', 'b2']),
    ],
    [
      'a section opened after the log was freed owns it at once',
      ['open A', 'close A', 'open B', 'write B b1', 'close B'],
      block('A', 'tok1', []) + block('B', 'tok2', ['b1']),
    ],
    [
      'what the action says when no section is live: at once',
      ['say s', 'open A', 'write A a1', 'close A'],
      'said s\n' + block('A', 'tok1', ['a1']),
    ],
    [
      'what the action says while A holds the log: after A and what ended meanwhile, before B goes live',
      ['open A', 'open B', 'open C', 'say s', 'close C', 'write B b1', 'close A', 'say t', 'close B'],
      block('A', 'tok1', []) + block('C', 'tok3', []) + 'said s\n' + block('B', 'tok2', ['b1']) + 'said t\n',
    ],
  ])('%s', (_name, events, expected) => {
    expect(play(events)).toBe(expected);
  });

  it('whenFree gives what its function returns, or its error', async () => {
    const log = new SerialLog(sink().stream, { token: tokens() });
    const a = log.open('A');
    const got = log.whenFree(() => 42);
    const failed = log.whenFree(() => {
      throw new Error('no');
    });
    a.close();
    await expect(got).resolves.toBe(42);
    await expect(failed).rejects.toThrow('no');
  });

  it('the last resort frees the log: what waited for it is said after the block is closed', () => {
    const out = sink();
    const log = new SerialLog(out.stream, { token: tokens() });
    log.open('A').write(Buffer.from('a1\n'));
    void log.whenFree(() => out.stream.write('said s\n'));
    log.interrupt();
    expect(out.text()).toBe('::group::A\n::stop-commands::tok1\na1\n::tok1::\n::endgroup::\nsaid s\n');
  });

  it('a title with line breaks stays one line; a trailer too', () => {
    const out = sink();
    const s = new SerialLog(out.stream, { token: tokens() }).open('a\nb%');
    s.close('x\r\ny');
    expect(out.text()).toBe('::group::a%0Ab%25\n::stop-commands::tok1\n::tok1::\n::endgroup::\nx y\n');
  });

  it('a section kept while another holds the log is bounded: head, a line for the gap, tail', () => {
    const out = sink();
    const log = new SerialLog(out.stream, { keepBytes: 100, token: tokens() });
    const a = log.open('A');
    const b = log.open('B');
    for (let i = 0; i < 1000; i++) b.write(Buffer.from(`line ${String(i).padStart(4, '0')}\n`)); // 10 bytes each
    b.close();
    a.close();
    const lines = logStructure(out.text(), () => false).blocks[1]!.lines;
    expect(lines.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `line 000${i}`));
    expect(lines[10]).toBe('[... 9800 bytes of output left out here ...]');
    expect(lines.slice(11)).toEqual(Array.from({ length: 10 }, (_, i) => `line 09${90 + i}`));
  });

  it('HeadTail keeps whole chunks and counts what it left out', () => {
    const h = new HeadTail(4);
    for (const s of ['ab\n', 'cd\n', 'ef\n', 'gh\n', 'ij\n', 'kl\n']) h.push(Buffer.from(s));
    expect(Buffer.concat(h.take()).toString()).toBe(
      'ab\ncd\n[... 6 bytes of output left out here ...]\nij\nkl\n',
    );
    expect(h.take()).toEqual([]);
  });

  it('passes backpressure on while live: write returns false and the section emits drain', async () => {
    const out = sink(true);
    const s = new SerialLog(out.stream, { token: tokens() }).open('A');
    let full = false;
    for (let i = 0; i < 10 && !full; i++) full = !s.write(Buffer.from('x'.repeat(100) + '\n'));
    expect(full).toBe(true);
    await new Promise<void>((resolve) => s.once('drain', resolve));
    s.close();
  });

  it('two real children printing workflow commands at once: each in its own group and block', async () => {
    const out = sink();
    const log = new SerialLog(out.stream);
    const child = (who: string, delayMs: number) => {
      const section = log.open(`child ${who.length}`);
      const code = `
        const say = (l) => process.stdout.write(l + '\\n');
        say('::error::${who} first'); say('::add-mask::${who}'); say('::endgroup::');
        setTimeout(() => { process.stderr.write('::warning::${who} late\\n::stop-commands::x\\n'); say('${who} last') }, ${delayMs});`;
      return runProcess({ file: process.execPath, args: ['-e', code], echo: section }).then(() =>
        section.close(`done ${who.length}`),
      );
    };
    await Promise.all([child('one', 300), child('two', 50), child('three', 600)]);
    const log2 = logStructure(out.text(), (l) => /\b(one|two|three)\b/.test(l));
    expect(log2.problems).toEqual([]);
    expect(log2.groups).toEqual(['child 3', 'child 3', 'child 5']);
    for (const [i, who] of ['one', 'two', 'three'].entries()) {
      expect(log2.blocks[i]!.lines).toEqual([
        `::error::${who} first`,
        `::add-mask::${who}`,
        '::endgroup::',
        `::warning::${who} late`,
        '::stop-commands::x',
        `${who} last`,
      ]);
    }
  });
});

const plainBlock = (name: string, lines: string[]) =>
  [`==> ${name}`, ...lines, `${name} done`].map((l) => `${l}\n`).join('');

/** The lines of a plain log that would be workflow commands on GitHub: there should be none. */
const commandLines = (text: string) => text.split('\n').filter((l) => l.startsWith('::'));

describe('SerialLog, plain (a terminal or another CI system): no workflow commands', () => {
  it.each([
    [
      'alone: printed live, header then trailer',
      ['open A', 'write A a1', 'close A'],
      plainBlock('A', ['a1']),
    ],
    [
      'B ends while A holds the log: B is printed after A, with its header',
      ['open A', 'open B', 'write B b1', 'write A a1', 'close B', 'write A a2', 'close A'],
      plainBlock('A', ['a1', 'a2']) + plainBlock('B', ['b1']),
    ],
    [
      'B still runs when A ends: B takes the log over, its output so far first',
      ['open A', 'open B', 'write B b1', 'write A a1', 'close A', 'write B b2', 'close B'],
      plainBlock('A', ['a1']) + plainBlock('B', ['b1', 'b2']),
    ],
    [
      'what the action says while A holds the log: after A and what ended meanwhile, before B goes live',
      ['open A', 'open B', 'open C', 'say s', 'close C', 'write B b1', 'close A', 'say t', 'close B'],
      plainBlock('A', []) + plainBlock('C', []) + 'said s\n' + plainBlock('B', ['b1']) + 'said t\n',
    ],
  ])('%s', (_name, events, expected) => {
    const text = play(events, true);
    expect(text).toBe(expected);
    expect(commandLines(text)).toEqual([]);
  });

  it('a title with line breaks stays one line, unescaped; a trailer too', () => {
    const out = sink();
    new SerialLog(out.stream, { plain: true }).open('a\nb%').close('x\r\ny');
    expect(out.text()).toBe('==> a b%\nx y\n');
  });

  it('a section kept while another holds the log is bounded: head, a line for the gap, tail', () => {
    const out = sink();
    const log = new SerialLog(out.stream, { keepBytes: 100, plain: true });
    const a = log.open('A');
    const b = log.open('B');
    for (let i = 0; i < 1000; i++) b.write(Buffer.from(`line ${String(i).padStart(4, '0')}\n`)); // 10 bytes each
    b.close('B done');
    a.close('A done');
    const lines = out.text().split('\n').slice(0, -1);
    expect(lines.slice(0, 3)).toEqual(['==> A', 'A done', '==> B']);
    expect(lines.slice(3, 13)).toEqual(Array.from({ length: 10 }, (_, i) => `line 000${i}`));
    expect(lines[13]).toBe('[... 9800 bytes of output left out here ...]');
    expect(lines.slice(14, 24)).toEqual(Array.from({ length: 10 }, (_, i) => `line 09${90 + i}`));
    expect(lines.slice(24)).toEqual(['B done']);
  });

  it.each([
    ['::error::x', 'live'],
    ['::stop-commands::y', 'live'],
    ['::endgroup::', 'live'],
    ['::error::x', 'kept'],
    ['::stop-commands::y', 'kept'],
  ])('a child printing %s (%s) is passed through as text', (line, how) => {
    const out = sink();
    const log = new SerialLog(out.stream, { plain: true });
    const first = how === 'kept' ? log.open('A') : undefined;
    const s = log.open('B');
    s.write(Buffer.from(`${line}\n`));
    s.close('B done');
    first?.close('A done');
    expect(out.text()).toBe((first ? plainBlock('A', []) : '') + plainBlock('B', [line]));
  });

  it('the last resort prints nothing of its own; what waited is said after the section', () => {
    const out = sink();
    const log = new SerialLog(out.stream, { plain: true });
    log.open('A').write(Buffer.from('a1\n'));
    void log.whenFree(() => out.stream.write('said s\n'));
    interruptLiveSections();
    expect(out.text()).toBe('==> A\na1\nsaid s\n');
  });
});

describe('interruptLiveSections: the last resort speaks outside every block', () => {
  it('closes the live block and group; nothing of the section is printed after it', async () => {
    const out = sink();
    const log = new SerialLog(out.stream, { token: tokens() });
    const a = log.open('a');
    const b = log.open('b'); // kept: a holds the log
    a.write(Buffer.from('::error::from buildx, inside the block\n'));
    b.write(Buffer.from('kept\n'));
    interruptLiveSections();
    out.stream.write('::error::the action itself\n');
    a.write(Buffer.from('late\n'));
    a.close('a done');
    b.close('b done');
    await new Promise((r) => setImmediate(r));
    expect(out.text()).toBe(
      '::group::a\n::stop-commands::tok1\n::error::from buildx, inside the block\n::tok1::\n::endgroup::\n' +
        '::error::the action itself\n',
    );
  });
});
