// The official Node `openai` SDK (v6) against the router: models list, a completion, a stream with usage.
import OpenAI from "openai";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30000 });
const fail = (message) => { console.error(message); process.exit(1); };
const ids = [];
for await (const model of client.models.list()) ids.push(model.id);
if (!ids.includes("sandbox/echo")) fail(`models: ${ids}`);
const reply = await client.chat.completions.create({
  model: "sandbox/echo", messages: [{ role: "user", content: "hello from node" }], max_tokens: 50,
});
if (reply.choices[0].message.content !== "Echo: hello from node") fail(JSON.stringify(reply));
const stream = await client.chat.completions.create({
  model: "sandbox/echo", messages: [{ role: "user", content: "stream this please" }],
  stream: true, stream_options: { include_usage: true },
});
let text = "";
let usage = null;
let count = 0;
for await (const chunk of stream) {
  count += 1;
  if (chunk.choices.length) text += chunk.choices[0].delta.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
if (text !== "Echo: stream this please") fail(`stream text: ${text}`);
if (!usage || usage.completion_tokens !== 4) fail(`stream usage: ${JSON.stringify(usage)}`);
console.log(`node openai ok: ${ids.length} models, completion and stream (${count} chunks) with usage`);
