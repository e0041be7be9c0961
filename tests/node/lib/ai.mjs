// tests/node/lib/ai.mjs — an OpenAI-compatible chat-completions endpoint on loopback that
// records every request it receives (headers, raw body, the parsed user message) and answers
// with reply(request), by default a valid answer for the task the system message asks for.
import http from 'node:http';

/** The output key the instruction asks for: {"answer": …} or {"body": …}. */
export const outputKey = (system) => (system.includes('{"answer"') ? 'answer' : 'body');

/** A chat completion whose message content is content (a string). */
export const completion = (content, model = 'stand-in-1') => ({
  id: 'chatcmpl-test', object: 'chat.completion', model,
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
});

export async function startAI() {
  const ai = {
    received: [],
    // (request) => {status, body (object or string)} ; request = {headers, raw, json, system, user}
    reply: (r) => ({ status: 200, body: completion(JSON.stringify({ [outputKey(r.system)]: `The cards speak, ${r.received}.` })) }),
    onRequest: null, // async hook run before answering
  };
  ai.server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { raw += d; });
    req.on('end', async () => {
      const json = JSON.parse(raw);
      const r = {
        method: req.method, url: req.url, headers: req.headers, raw, json,
        system: json.messages?.find((m) => m.role === 'system')?.content ?? '',
        user: JSON.parse(json.messages?.find((m) => m.role === 'user')?.content ?? 'null'),
        received: ai.received.length + 1,
      };
      ai.received.push(r);
      if (ai.onRequest) await ai.onRequest(r);
      const { status, body } = ai.reply(r);
      if (status === 0) return; // hang: the client's timeout must act
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
  });
  await new Promise((resolve) => ai.server.listen(0, '127.0.0.1', resolve));
  ai.url = `http://127.0.0.1:${ai.server.address().port}/v1/chat/completions`;
  ai.stop = () => new Promise((resolve) => { ai.server.closeAllConnections(); ai.server.close(resolve); });
  return ai;
}
