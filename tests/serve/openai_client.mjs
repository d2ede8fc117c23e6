// openai_client.mjs - the official `openai` Node.js library (v4) against `sigmaops serve`:
// node openai_client.mjs BASE_URL API_KEY MODEL. Prints one JSON object of what it saw; the C++
// test (test_serve_openai_node.cpp) checks it.
import OpenAI from 'openai';

const [baseURL, apiKey, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });
const messages = [{ role: 'user', content: 'How do I list open ports?' }];
const out = {};

const models = await client.models.list();
out.models = models.data.map((m) => m.id);

const c = await client.chat.completions.create({ model, messages, max_tokens: 16, temperature: 0 });
out.chat = { content: c.choices[0].message.content, finish: c.choices[0].finish_reason, usage: c.usage, object: c.object };

const stream = await client.chat.completions.create({
  model, messages, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true },
});
let text = '', finish = null, usage = null, chunks = 0;
for await (const chunk of stream) {
  chunks += 1;
  if (chunk.choices.length) {
    text += chunk.choices[0].delta?.content ?? '';
    if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
  }
  if (chunk.usage) usage = chunk.usage;
}
out.stream = { content: text, finish, usage, chunks };

const stop = out.chat.content.slice(4, 7);
const s = await client.chat.completions.create({ model, messages, max_tokens: 16, temperature: 0, stop: [stop] });
out.stop = { stop, content: s.choices[0].message.content, finish: s.choices[0].finish_reason };

const comp = await client.completions.create({ model, prompt: 'The command to show disk usage is', max_tokens: 8, temperature: 0 });
out.completion = { text: comp.choices[0].text, usage: comp.usage };

const seeded = { model, messages, max_tokens: 12, temperature: 0.9, seed: 77 };
const a = await client.chat.completions.create(seeded);
const b = await client.chat.completions.create(seeded);
out.seed_same = a.choices[0].message.content === b.choices[0].message.content;

async function error_of(fn) {
  try { await fn(); return { status: 0 }; } catch (e) { return { status: e.status ?? -1, code: e.code ?? null, type: e.type ?? null, message: e.message }; }
}
out.unknown_model = await error_of(() => client.chat.completions.create({ model: 'gpt-9', messages }));
out.n2 = await error_of(() => client.chat.completions.create({ model, messages, n: 2 }));
const wrong = new OpenAI({ baseURL, apiKey: apiKey + '-wrong', maxRetries: 0 });
out.wrong_key = await error_of(() => wrong.models.list());

console.log(JSON.stringify(out));
