/** Extracted text of an HTML document with a map from each text char to its source offset. */
export interface HtmlText {
  text: string;
  /** `map[i]` is the source offset of `text[i]`. */
  map: number[];
  /** Headings found: level, text and the text offset where the heading starts. */
  headings: { level: number; title: string; at: number; endAt: number }[];
}

const BLOCK = new Set(['p', 'div', 'section', 'article', 'li', 'ul', 'ol', 'br', 'tr', 'table', 'pre', 'blockquote', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'footer', 'main', 'nav', 'hr']);
const SKIP = new Set(['script', 'style', 'noscript', 'template', 'head']);
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/**
 * Extracts visible text from HTML (no DOM; tolerant of malformed markup) keeping a char-level offset map.
 *
 * @internal
 */
export function htmlToText(html: string): HtmlText {
  const out: string[] = [];
  const map: number[] = [];
  const headings: HtmlText['headings'] = [];
  let open: { level: number; at: number } | undefined;
  const push = (ch: string, at: number): void => {
    out.push(ch);
    map.push(at);
  };
  const newline = (at: number): void => {
    if (out.length > 0 && out[out.length - 1] !== '\n') push('\n', at);
    if (out.length > 1 && out[out.length - 2] !== '\n') push('\n', at);
  };
  let i = 0;
  while (i < html.length) {
    const c = html[i] as string;
    if (c === '<') {
      if (html.startsWith('<!--', i)) {
        const e = html.indexOf('-->', i + 4);
        i = e < 0 ? html.length : e + 3;
        continue;
      }
      const close = html.indexOf('>', i + 1);
      if (close < 0) {
        i = html.length;
        continue;
      }
      const m = /^<\s*(\/?)\s*([a-zA-Z0-9]+)/.exec(html.slice(i, close + 1));
      const name = m?.[2]?.toLowerCase() ?? '';
      const closing = m?.[1] === '/';
      if (!closing && SKIP.has(name)) {
        const endTag = new RegExp(`<\\s*/\\s*${name}\\s*>`, 'i');
        const rest = endTag.exec(html.slice(close + 1));
        i = rest === null ? html.length : close + 1 + rest.index + rest[0].length;
        continue;
      }
      if (BLOCK.has(name)) newline(i);
      const h = /^h([1-6])$/.exec(name);
      if (h !== null) {
        if (!closing) open = { level: Number(h[1]), at: out.length };
        else if (open !== undefined) {
          const title = out.slice(open.at).join('').trim();
          if (title !== '') headings.push({ level: open.level, title, at: open.at, endAt: out.length });
          open = undefined;
        }
      }
      i = close + 1;
      continue;
    }
    if (c === '&') {
      const m = /^&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/.exec(html.slice(i, i + 12));
      if (m !== null) {
        const body = m[1] as string;
        let ch: string | undefined;
        if (body.startsWith('#x')) ch = String.fromCodePoint(Number.parseInt(body.slice(2), 16) % 0x110000);
        else if (body.startsWith('#')) ch = String.fromCodePoint(Number.parseInt(body.slice(1), 10) % 0x110000);
        else ch = ENTITIES[body.toLowerCase()];
        if (ch !== undefined) {
          for (const u of ch) push(u, i);
          i += m[0].length;
          continue;
        }
      }
    }
    push(/\s/.test(c) ? ' ' : c, i);
    i++;
  }
  return { text: out.join(''), map, headings };
}
