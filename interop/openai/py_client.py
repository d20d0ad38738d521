"""The official Python `openai` SDK against the router: models list, a completion and a stream with
usage, against the offline sandbox/echo model and against a configured upstream (the mock) reached
through an alias. Usage: py_client.py BASE_URL ROUTER_KEY UPSTREAM_MODEL_ALIAS"""
import sys

from openai import OpenAI

base_url, key, alias = sys.argv[1], sys.argv[2], sys.argv[3]
client = OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)
ids = [m.id for m in client.models.list()]
assert "sandbox/echo" in ids, ids


def check(model, prompt, expected, completion_tokens):
    reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}], max_tokens=50)
    assert reply.choices[0].message.content == expected, reply
    assert reply.usage.completion_tokens == completion_tokens, reply.usage
    chunks = list(
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": prompt}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected, text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == completion_tokens, chunks[-1]
    # Without include_usage the router still meters the stream but shows no usage chunk.
    plain = list(client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}], stream=True))
    assert all(c.usage is None for c in plain), plain[-1]
    return len(chunks)


n = check("sandbox/echo", "hello from python", "Echo: hello from python", 4)
m = check(alias, "hello from python", "mock reply to: hello from python", 3)
print(f"python openai ok: {len(ids)} models; sandbox and upstream ({alias}): completion, stream "
      f"({n} and {m} chunks) with usage, stream without usage")
