// Input text shown safely: control characters found, and escaped in error messages.

/** Whether the text holds a control character (a line break among them). */
export function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++)
    if (text.charCodeAt(i) < 0x20 || text.charCodeAt(i) === 0x7f) return true;
  return false;
}

/** Shows control characters escaped, so an error message cannot be used to forge log lines. */
export function printable(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}
