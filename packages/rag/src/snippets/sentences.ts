/** A sentence span in a text. */
export interface SentenceSpan {
  text: string;
  start: number;
  end: number;
}

/**
 * Splits text into sentences (ends at `.`, `!`, `?` followed by space and an upper-case letter, digit or
 * bracket, or at blank lines), returning trimmed spans with offsets.
 *
 * @internal
 */
export function splitSentences(text: string): SentenceSpan[] {
  const out: SentenceSpan[] = [];
  const re = /[.!?]+["')\]]*(?=\s+(?:[A-Z0-9"'([]|$))|\n\s*\n/g;
  let from = 0;
  const emit = (a: number, b: number): void => {
    while (a < b && /\s/.test(text[a] as string)) a++;
    while (b > a && /\s/.test(text[b - 1] as string)) b--;
    if (b > a) out.push({ text: text.slice(a, b), start: a, end: b });
  };
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const end = m[0].startsWith('\n') ? m.index : m.index + m[0].length;
    emit(from, end);
    from = m.index + m[0].length;
  }
  emit(from, text.length);
  return out;
}
