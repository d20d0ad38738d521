// The official Node `openai` SDK (v6) against the router: models list, a completion and a stream with
// usage, against the offline sandbox/echo model and against a configured upstream (the mock) reached
// through an alias. Usage: node node_client.mjs BASE_URL ROUTER_KEY UPSTREAM_MODEL_ALIAS
import OpenAI from "openai";

const [baseURL, apiKey, alias] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30000 });
const fail = (message) => { console.error(message); process.exit(1); };
const ids = [];
for await (const model of client.models.list()) ids.push(model.id);
if (!ids.includes("sandbox/echo")) fail(`models: ${ids}`);

async function check(model, prompt, expected, completionTokens) {
  const reply = await client.chat.completions.create({
    model, messages: [{ role: "user", content: prompt }], max_tokens: 50,
  });
  if (reply.choices[0].message.content !== expected) fail(`${model}: ${JSON.stringify(reply)}`);
  if (reply.usage.completion_tokens !== completionTokens) fail(`${model} usage: ${JSON.stringify(reply.usage)}`);
  const stream = await client.chat.completions.create({
    model, messages: [{ role: "user", content: prompt }],
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
  if (text !== expected) fail(`${model} stream text: ${text}`);
  if (!usage || usage.completion_tokens !== completionTokens) fail(`${model} stream usage: ${JSON.stringify(usage)}`);
  const plain = await client.chat.completions.create({
    model, messages: [{ role: "user", content: prompt }], stream: true,
  });
  for await (const chunk of plain) if (chunk.usage) fail(`${model}: usage chunk without include_usage`);
  return count;
}

const n = await check("sandbox/echo", "hello from node", "Echo: hello from node", 4);
const m = await check(alias, "hello from node", "mock reply to: hello from node", 3);
console.log(`node openai ok: ${ids.length} models; sandbox and upstream (${alias}): completion, stream (${n} and ${m} chunks) with usage, stream without usage`);
