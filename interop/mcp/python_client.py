"""The purchase flow through the official Python MCP SDK (2.x), against a running Agent Store.

Usage: python_client.py {http|stdio} {auto|legacy} DEMO_JSON AGENT_STORE_BINARY

`auto` probes `server/discover` (protocol 2026-07-28) and falls back to `initialize`; `legacy` forces the
`initialize` handshake. Over http the client talks to `mcpUrl` from demo.json with the agent key as a
bearer token; over stdio it starts `agent-store mcp` with the two environment variables.
Exits non-zero (with the reason) on any deviation.
"""

import asyncio
import json
import sys
import time

from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def structured(result, tool):
    if result.is_error:
        raise SystemExit(f"{tool} failed: {result.structured_content}")
    # The same JSON is also the text content.
    text = json.loads(result.content[0].text)
    if text != result.structured_content:
        raise SystemExit(f"{tool}: text and structuredContent differ")
    return result.structured_content


async def flow(client, tag):
    async def call(tool, **arguments):
        return structured(await client.call_tool(tool, arguments), tool)

    tools = await client.list_tools()
    names = {t.name for t in tools.tools}
    assert "purchase_create" in names and len(names) >= 12, names
    categories = await call("catalog_categories")
    assert any(c["id"] == "storage" for c in categories["categories"]), categories
    found = await call("catalog_search", category="storage", q="object", limit=3)
    item = found["items"][0]["id"]
    assert item == "cat_storage_object_001", found
    checkout = await call("catalog_checkout_requirements", catalogItemId=item)
    assert "capacityGb" in checkout["requiredFields"], checkout
    configuration = {"region": "us-east", "storageClass": "object", "capacityGb": 250}
    quote = await call("quote_create", catalogItemId=item, quantity=1, configuration=configuration)
    assert quote["quote"]["totalPriceMinor"] == 500, quote
    key = f"interop-{tag}-{time.time_ns()}"
    purchase = await call("purchase_create", quoteId=quote["quote"]["id"], idempotencyKey=key)
    purchase_id = purchase["purchase"]["id"]
    replay = await call("purchase_create", quoteId=quote["quote"]["id"], idempotencyKey=key)
    assert replay == purchase, "a retry with the same key returns the same purchase"
    deadline = time.monotonic() + 15
    while True:
        status = (await call("purchase_get_status", purchaseId=purchase_id))["purchase"]
        if status["status"] != "provisioning":
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"purchase {purchase_id} still provisioning after 15 s")
        await asyncio.sleep(0.1)
    assert status["status"] == "completed", status
    service = await call("service_get", serviceId=status["serviceId"])
    assert service["service"]["status"] == "active", service
    # A business error is a result with isError and the API's error object, not an exception.
    missing = await client.call_tool("purchase_get_status", {"purchaseId": "pur_missing"})
    assert missing.is_error and missing.structured_content["error"]["code"] == "not_found", missing
    print(f"python mcp {tag} (protocol {client.session.protocol_version}): purchase {purchase_id} completed, service {status['serviceId']} active")


async def main():
    transport, mode, demo_path, binary = sys.argv[1:5]
    demo = json.load(open(demo_path))
    key = demo["agentApiKey"]
    if transport == "http":
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
        server = streamable_http_client(demo["mcpUrl"], http_client=http)
    else:
        server = StdioServerParameters(
            command=binary,
            args=["mcp"],
            env={"AGENT_STORE_API_BASE_URL": demo["apiBaseUrl"], "AGENT_STORE_AGENT_API_KEY": key},
        )
    async with Client(server, mode=mode, read_timeout_seconds=30) as client:
        await flow(client, f"{transport}-{mode}")


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(), timeout=90))
