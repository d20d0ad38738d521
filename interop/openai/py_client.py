"""The official Python `openai` SDK against the router: models list, a completion, a stream with usage."""
import sys

from openai import OpenAI

base_url, key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)
ids = [m.id for m in client.models.list()]
assert "sandbox/echo" in ids, ids
reply = client.chat.completions.create(
    model="sandbox/echo", messages=[{"role": "user", "content": "hello from python"}], max_tokens=50
)
assert reply.choices[0].message.content == "Echo: hello from python", reply
assert reply.usage.completion_tokens == 4, reply.usage
chunks = list(
    client.chat.completions.create(
        model="sandbox/echo",
        messages=[{"role": "user", "content": "stream this please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
)
text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
assert text == "Echo: stream this please", text
assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4, chunks[-1]
print(f"python openai ok: {len(ids)} models, completion and stream ({len(chunks)} chunks) with usage")
