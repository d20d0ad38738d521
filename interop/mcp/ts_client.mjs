// The purchase flow through the official TypeScript MCP SDK over Streamable HTTP, against a running
// Agent Store. Usage: node ts_client.mjs DEMO_JSON. run.sh copies this file next to the pinned
// node_modules (ES modules resolve packages from the script's own folder). Exits non-zero on any
// deviation.

import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const demo = JSON.parse(readFileSync(process.argv[2], "utf8"));
const fail = (message) => {
  console.error(`ts sdk: ${message}`);
  process.exit(1);
};
setTimeout(() => fail("timed out after 90 s"), 90_000).unref();

const transport = new StreamableHTTPClientTransport(new URL(demo.mcpUrl), {
  requestInit: { headers: { Authorization: `Bearer ${demo.agentApiKey}` } },
});
const client = new Client({ name: "agent-store-interop", version: "1.0.0" });
await client.connect(transport);

async function call(name, args = {}) {
  const result = await client.callTool({ name, arguments: args });
  if (result.isError) fail(`${name} failed: ${JSON.stringify(result.structuredContent)}`);
  if (JSON.stringify(JSON.parse(result.content[0].text)) !== JSON.stringify(result.structuredContent)) {
    fail(`${name}: text and structuredContent differ`);
  }
  return result.structuredContent;
}

const { tools } = await client.listTools();
if (tools.length < 12 || !tools.some((t) => t.name === "purchase_create")) fail("tools/list is incomplete");
const categories = await call("catalog_categories");
if (!categories.categories.some((c) => c.id === "storage")) fail("no storage category");
const found = await call("catalog_search", { category: "storage", q: "object", limit: 3 });
const item = found.items[0].id;
if (item !== "cat_storage_object_001") fail(`unexpected search result ${item}`);
const checkout = await call("catalog_checkout_requirements", { catalogItemId: item });
if (!checkout.requiredFields.includes("capacityGb")) fail("capacityGb is not required");
const quote = await call("quote_create", {
  catalogItemId: item,
  quantity: 1,
  configuration: { region: "us-east", storageClass: "object", capacityGb: 250 },
});
if (quote.quote.totalPriceMinor !== 500) fail(`quote total ${quote.quote.totalPriceMinor}`);
const key = `interop-ts-${Date.now()}`;
const purchase = await call("purchase_create", { quoteId: quote.quote.id, idempotencyKey: key });
const replay = await call("purchase_create", { quoteId: quote.quote.id, idempotencyKey: key });
if (JSON.stringify(replay) !== JSON.stringify(purchase)) fail("a replay returned a different purchase");
let status;
for (let i = 0; ; i++) {
  status = (await call("purchase_get_status", { purchaseId: purchase.purchase.id })).purchase;
  if (status.status !== "provisioning") break;
  if (i > 150) fail("still provisioning after 15 s");
  await new Promise((resolve) => setTimeout(resolve, 100));
}
if (status.status !== "completed") fail(`purchase ended ${status.status}`);
const service = await call("service_get", { serviceId: status.serviceId });
if (service.service.status !== "active") fail(`service is ${service.service.status}`);
const missing = await client.callTool({ name: "purchase_get_status", arguments: { purchaseId: "pur_missing" } });
if (!missing.isError || missing.structuredContent.error.code !== "not_found") fail("not_found was not an isError result");
console.log(`ts sdk http: purchase ${purchase.purchase.id} completed, service ${status.serviceId} active`);
await client.close();
