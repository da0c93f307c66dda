// Annotations placed on the workflow file: the line of the input concerned (`buildx-version:`,
// `policy:`, ...) or of this step's `uses:`; without a location when the step cannot be found.
// Deduplicated, and at most MAX_PER_KIND of each kind per step.

import * as core from '@actions/core';

import { lineFor, type StepLocation } from './workflow-step.js';

export type Kind = 'error' | 'warning' | 'notice';
export const MAX_PER_KIND = 10;

export interface AnnotateOptions {
  /** the input whose line it belongs on; else the `uses:` line */
  input?: string;
  title?: string;
}

export class Annotator {
  private readonly seen = new Set<string>();
  private readonly counts: Record<Kind, number> = { error: 0, warning: 0, notice: 0 };
  private location?: StepLocation | null;

  constructor(
    private readonly locate: () => StepLocation | undefined,
    /** `workflow-annotations: false`: messages go to the log instead */
    private readonly enabled = true,
    private readonly sink: Record<Kind, (message: string, props: core.AnnotationProperties) => void> = {
      error: core.error,
      warning: core.warning,
      notice: core.notice,
    },
  ) {}

  /** Where this step is in its workflow, found once. */
  step(): StepLocation | undefined {
    if (this.location === undefined) this.location = this.locate() ?? null;
    return this.location ?? undefined;
  }

  annotate(kind: Kind, message: string, opts: AnnotateOptions = {}): void {
    const key = `${kind}\n${opts.title ?? ''}\n${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (!this.enabled) {
      this.counts[kind]++;
      core.info(`${kind}: ${opts.title ? `${opts.title}: ` : ''}${message}`);
      return;
    }
    if (this.counts[kind] >= MAX_PER_KIND) {
      core.info(`(${kind} annotation not shown, ${MAX_PER_KIND} already): ${message}`);
      return;
    }
    this.counts[kind]++;
    const loc = this.step();
    const props: core.AnnotationProperties = { title: opts.title };
    if (loc) {
      props.file = loc.file;
      props.startLine = lineFor(loc, opts.input);
    }
    this.sink[kind](message, props);
  }

  /** How many messages of this kind were given (annotated, or logged with `workflow-annotations: false`). */
  said(kind: Kind): number {
    return this.counts[kind];
  }

  error(message: string, opts?: AnnotateOptions): void {
    this.annotate('error', message, opts);
  }

  warning(message: string, opts?: AnnotateOptions): void {
    this.annotate('warning', message, opts);
  }
}
