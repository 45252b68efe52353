import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAiGenerator } from '@dataplane/rag';

type Handler = (req: IncomingMessage, body: Record<string, unknown>, res: ServerResponse) => void;
let handler: Handler = (_q, _b, res) => res.end();
let server: Server;
let base = '';
const seen: { headers: IncomingMessage['headers']; body: Record<string, unknown>; url: string | undefined }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      seen.push({ headers: req.headers, body, url: req.url });
      handler(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const sse = (res: ServerResponse, events: string[]): void => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const e of events) res.write(`data: ${e}\n\n`);
  res.end();
};
const chunk = (content: string | undefined, finish: string | null = null): string =>
  JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'mock-1', choices: [{ index: 0, delta: content === undefined ? {} : { content }, finish_reason: finish }] });
const req = { question: 'What produces lift?', sources: [{ n: 1, id: 'a#0', text: 'Wings produce lift.' }] };

describe('OpenAI-compatible generator against a mock server', () => {
  it('streams SSE chunks until [DONE], with usage, headers and prompt', async () => {
    handler = (_q, _b, res) =>
      sse(res, [
        chunk(undefined),
        chunk('Wings produce'),
        chunk(' lift. [1]'),
        chunk(undefined, 'stop'),
        JSON.stringify({ id: 'c1', model: 'mock-1', choices: [], usage: { prompt_tokens: 42, completion_tokens: 6, total_tokens: 48 } }),
        '[DONE]',
      ]);
    const deltas: string[] = [];
    const gen = createOpenAiGenerator({ baseUrl: `${base}/`, apiKey: 'sk-test', model: 'small' });
    const res = await gen.generate({ ...req, model: 'routed', onToken: (d) => deltas.push(d) });
    expect(res).toEqual({ text: 'Wings produce lift. [1]', model: 'mock-1', usage: { promptTokens: 42, completionTokens: 6, totalTokens: 48 }, finishReason: 'stop' });
    expect(deltas).toEqual(['Wings produce', ' lift. [1]']);
    const last = seen[seen.length - 1];
    expect(last?.url).toBe('/v1/chat/completions');
    expect(last?.headers.authorization).toBe('Bearer sk-test');
    expect(last?.body.model).toBe('routed');
    expect(last?.body.stream).toBe(true);
    expect(JSON.stringify(last?.body.messages)).toContain('[1] Wings produce lift.');
  });

  it('handles events split across network writes and CRLF framing', async () => {
    handler = (_q, _b, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const all = `: comment\r\n\r\ndata: ${chunk('Hel')}\r\n\r\ndata: ${chunk('lo', 'stop')}\r\n\r\ndata: [DONE]\r\n\r\n`;
      const mid = Math.floor(all.length / 2);
      res.write(all.slice(0, mid));
      setTimeout(() => res.end(all.slice(mid)), 10);
    };
    const res = await createOpenAiGenerator({ baseUrl: base, model: 'm' }).generate(req);
    expect(res.text).toBe('Hello');
    expect(res.usage.totalTokens).toBeGreaterThan(0);
  });

  it('non-streaming JSON responses', async () => {
    handler = (_q, _b, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ model: 'mock-2', choices: [{ message: { role: 'assistant', content: 'Lift. [1]' }, finish_reason: 'length' }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }));
    };
    const res = await createOpenAiGenerator({ baseUrl: base, model: 'm', stream: false }).generate(req);
    expect(res).toMatchObject({ text: 'Lift. [1]', model: 'mock-2', finishReason: 'length', usage: { totalTokens: 3 } });
  });

  it('maps 4xx, 5xx/429, malformed events, truncated streams and aborts to RagError codes', async () => {
    const gen = createOpenAiGenerator({ baseUrl: base, model: 'm' });
    handler = (_q, _b, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'Incorrect API key', type: 'invalid_request_error' } }));
    };
    await expect(gen.generate(req)).rejects.toMatchObject({ code: 'RAG_GENERATOR_FAILED', retryable: false, message: expect.stringContaining('Incorrect API key') });
    handler = (_q, _b, res) => {
      res.writeHead(429, { 'retry-after': '2' });
      res.end('slow down');
    };
    await expect(gen.generate(req)).rejects.toMatchObject({ code: 'RAG_GENERATOR_FAILED', retryable: true, retryAfterMs: 2000 });
    handler = (_q, _b, res) => {
      res.writeHead(503);
      res.end();
    };
    await expect(gen.generate(req)).rejects.toMatchObject({ code: 'RAG_GENERATOR_FAILED', retryable: true });
    handler = (_q, _b, res) => sse(res, [chunk('ok'), '{not json']);
    await expect(gen.generate(req)).rejects.toMatchObject({ code: 'RAG_GENERATOR_FAILED', message: expect.stringContaining('malformed SSE') });
    handler = (_q, _b, res) => sse(res, [chunk('cut')]);
    await expect(gen.generate(req)).rejects.toMatchObject({ code: 'RAG_GENERATOR_FAILED', message: expect.stringContaining('[DONE]') });
    handler = (_q, _b, res) => sse(res, [JSON.stringify({ error: { message: 'overloaded' } })]);
    await expect(gen.generate(req)).rejects.toMatchObject({ code: 'RAG_GENERATOR_FAILED', message: expect.stringContaining('overloaded') });
    handler = (_q, _b, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${chunk('slow')}\n\n`);
    };
    const ac = new AbortController();
    const p = gen.generate({ ...req, signal: ac.signal, onToken: () => ac.abort() });
    await expect(p).rejects.toMatchObject({ code: 'RAG_ABORTED' });
    await expect(gen.generate({ ...req, signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'RAG_ABORTED' });
    await expect(createOpenAiGenerator({ baseUrl: 'http://127.0.0.1:1/v1', model: 'm' }).generate(req)).rejects.toMatchObject({ code: 'RAG_GENERATOR_FAILED', retryable: true });
    expect(() => createOpenAiGenerator({ model: '' })).toThrow(expect.objectContaining({ code: 'RAG_INVALID_ARGUMENT' }));
    expect(() => createOpenAiGenerator({ model: 'm', baseUrl: 'not a url' })).toThrow(expect.objectContaining({ code: 'RAG_INVALID_ARGUMENT' }));
  });
});
