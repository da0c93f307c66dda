// Renders a job summary the way GitHub shows it and measures it: GFM to HTML with micromark (a
// CommonMark and GFM spec implementation, as GitHub's cmark-gfm is; raw HTML kept for <details>
// and <br>), GitHub's markdown stylesheet (github-markdown-css, light theme) on an
// `article.markdown-body` whose content column is 1012 px wide (GitHub's job-summary column), in
// Debian's Chromium driven by playwright-core (never a browser download).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { micromark } from 'micromark';
import { gfm, gfmHtml } from 'micromark-extension-gfm';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** GitHub's job-summary content column, in CSS pixels. */
export const COLUMN_PX = 1012;
/** Space around the column (GitHub's summary box has some; it is not measured). */
const GUTTER_PX = 24;

/** Debian's chromium: env `TESTBED_CHROMIUM`, else `/usr/bin/chromium`. */
export function chromiumPath(): string {
  const file = process.env.TESTBED_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(file)) {
    throw new Error(
      `Chromium not found at ${file}: the render test needs Debian's chromium. Run \`npm run testbed\` ` +
        '(scripts/testbed-setup.sh installs it with apt-get), or set TESTBED_CHROMIUM to a Chromium binary.',
    );
  }
  return file;
}

/**
 * The flags that let Chromium run here: headless without a sandbox or GPU, and nothing that
 * reaches for the network (the network is closed; without these it hangs on refused connections).
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** An element wider than the column. */
export interface Overflow {
  /** `table`, `h3`, `p`, `pre`, `ul`, ... */
  tag: string;
  /** The start of its text. */
  text: string;
  /** How wide it wants to be (its content's width when it scrolls, else its box's), px. */
  width: number;
  /** `scrolls`: its content is wider than its box (a scroll bar); `past the column`: its box is. */
  how: 'scrolls' | 'past the column';
}

export interface Rendered {
  /** Every table, heading, paragraph, pre and list wider than the column, as first shown (details closed). */
  overflows: Overflow[];
  /** The rendered text as a person sees it (innerText: closed details left out). */
  text: string;
  /** Code spans in table cells (tags, lines) that wrap over more than one line, as shown. */
  wrapped: string[];
  /** Table columns empty in every row, by header (`table 2: wait after`). */
  emptyColumns: string[];
  /** Height of the page, px. */
  height: number;
  /** How often `needle` appears in the rendered text (runs of white space count as one space). */
  count(needle: string): number;
}

export interface RenderOptions {
  /** Write a full-page PNG (device scale 1) here. */
  screenshot?: string;
}

export interface Renderer {
  render(markdown: string, opts?: RenderOptions): Promise<Rendered>;
  close(): Promise<void>;
}

/** GFM to HTML as GitHub renders it (tables, strikethrough, autolinks, task lists; raw HTML kept). */
export function markdownToHtml(markdown: string): string {
  return micromark(markdown, {
    allowDangerousHtml: true,
    extensions: [gfm()],
    htmlExtensions: [gfmHtml()],
  });
}

let stylesheet: string | undefined;
function githubCss(): string {
  const require = createRequire(import.meta.url);
  stylesheet ??= readFileSync(require.resolve('github-markdown-css/github-markdown-light.css'), 'utf8');
  return stylesheet;
}

/** The whole page: GitHub's stylesheet, and the body in an `article.markdown-body` 1012 px wide. */
export function summaryPage(markdown: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>job summary</title>
<style>${githubCss()}</style>
<style>
  html, body { margin: 0; background: #ffffff; }
  body { padding: ${GUTTER_PX}px; }
  article.markdown-body { box-sizing: content-box; width: ${COLUMN_PX}px; padding: 0; margin: 0; }
</style></head>
<body><article class="markdown-body">
${markdownToHtml(markdown)}
</article></body></html>`;
}

const normalize = (s: string): string => s.replace(/\s+/g, ' ');

/** Non-overlapping occurrences of `needle` in `text`, white space normalised in both. */
export function countIn(text: string, needle: string): number {
  const hay = normalize(text);
  const n = normalize(needle);
  if (n === '') throw new Error('countIn: empty needle');
  let count = 0;
  for (let i = hay.indexOf(n); i >= 0; i = hay.indexOf(n, i + n.length)) count++;
  return count;
}

// The little of the DOM that measure() uses (the project's TypeScript has no DOM library).
interface PageElement {
  tagName: string;
  innerText: string;
  scrollWidth: number;
  clientWidth: number;
  getBoundingClientRect(): { left: number; right: number };
  /** false inside a closed <details> (Chromium hides its content with content-visibility) */
  checkVisibility(): boolean;
  querySelectorAll(selector: string): Iterable<PageElement>;
  getClientRects(): { length: number };
  textContent: string | null;
}
declare const document: {
  querySelector(selector: string): PageElement;
  documentElement: { scrollHeight: number };
  fonts: { ready: Promise<unknown> };
};

/** Runs in the page: the elements wider than the column. */
function measure(): {
  overflows: Overflow[];
  text: string;
  height: number;
  wrapped: string[];
  emptyColumns: string[];
} {
  const article = document.querySelector('article.markdown-body');
  const right = article.getBoundingClientRect().left + article.clientWidth;
  const overflows: Overflow[] = [];
  for (const el of article.querySelectorAll('table, h1, h2, h3, h4, h5, h6, p, pre, ul, ol')) {
    if (!el.checkVisibility()) continue; // not shown: inside a closed <details>
    const box = el.getBoundingClientRect();
    const text = (el.innerText ?? '').replace(/\s+/g, ' ').trim().slice(0, 80);
    const tag = el.tagName.toLowerCase();
    // GitHub's CSS makes tables (and pre) scroll: their content is wider than their box
    if (el.scrollWidth > el.clientWidth + 1)
      overflows.push({ tag, text, width: el.scrollWidth, how: 'scrolls' });
    else if (box.right > right + 0.5)
      overflows.push({ tag, text, width: Math.round(box.right - box.left), how: 'past the column' });
  }
  const wrapped: string[] = [];
  for (const code of article.querySelectorAll('td code'))
    if (code.checkVisibility() && code.getClientRects().length > 1) wrapped.push(code.textContent ?? '');
  const emptyColumns: string[] = [];
  let t = 0;
  for (const table of article.querySelectorAll('table')) {
    t++;
    const heads = [...table.querySelectorAll('thead th')].map((h) => (h.textContent ?? '').trim());
    const rows = [...table.querySelectorAll('tbody tr')].map((r) =>
      [...r.querySelectorAll('td')].map((c) => (c.textContent ?? '').trim()),
    );
    heads.forEach((h, i) => {
      if (rows.length > 0 && rows.every((r) => !r[i]))
        emptyColumns.push(`table ${t}: ${h || `column ${i + 1}`}`);
    });
  }
  return {
    overflows,
    text: article.innerText,
    height: document.documentElement.scrollHeight,
    wrapped,
    emptyColumns,
  };
}

async function renderOn(page: Page, markdown: string, opts: RenderOptions): Promise<Rendered> {
  await page.setContent(summaryPage(markdown), { waitUntil: 'load' });
  await page.evaluate(async () => {
    await document.fonts.ready;
  });
  const m = await page.evaluate(measure);
  if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true });
  return { ...m, count: (needle: string) => countIn(m.text, needle) };
}

/** Starts Chromium (a fresh profile folder, removed on close) with a 1012 px column. */
export async function startRenderer(): Promise<Renderer> {
  const executablePath = chromiumPath();
  const profile = mkdtempSync(path.join(os.tmpdir(), 'sit-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: COLUMN_PX + 2 * GUTTER_PX, height: 600 },
      deviceScaleFactor: 1,
      offline: true,
      timeout: 60_000,
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw new Error(`could not start ${executablePath}: ${(e as Error).message}`, { cause: e });
  }
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    render: (markdown, opts = {}) => renderOn(page, markdown, opts),
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
