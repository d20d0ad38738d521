//! The sandbox model `sandbox/echo`: answers `Echo: <the last user message>` word by word, so tests
//! and demos see real token accounting with no network. Tokens are counted deterministically:
//! a prompt costs 3 tokens per message plus one per whitespace-separated word of its text; each word
//! of the answer is one completion token. `max_tokens` (or `max_completion_tokens`) cuts the answer
//! short with `finish_reason: "length"`.

use futures_util::stream;
use serde_json::{Value, json};

use super::UpstreamReply;

/// The public id of the sandbox model.
pub const MODEL: &str = "sandbox/echo";

/// The text of a message's `content`: a string, or the text parts of an array of parts.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// Prompt tokens of a request, as the sandbox counts them.
pub fn prompt_tokens(body: &Value) -> i64 {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let words: usize = messages
        .iter()
        .map(|m| {
            content_text(m.get("content").unwrap_or(&Value::Null))
                .split_whitespace()
                .count()
                + 3
        })
        .sum();
    i64::try_from(words).unwrap_or(i64::MAX)
}

/// The answer's words (before `max_tokens`) for a request.
fn answer_words(body: &Value) -> Vec<String> {
    let last_user = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
        .map(|m| content_text(m.get("content").unwrap_or(&Value::Null)))
        .unwrap_or_default();
    let mut words = vec!["Echo:".to_owned()];
    words.extend(last_user.split_whitespace().map(str::to_owned));
    words
}

/// The words actually answered and the finish reason.
fn answer(body: &Value) -> (Vec<String>, &'static str) {
    let mut words = answer_words(body);
    let limit = body
        .get("max_completion_tokens")
        .or_else(|| body.get("max_tokens"))
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok());
    match limit {
        Some(limit) if limit < words.len() => {
            words.truncate(limit);
            (words, "length")
        }
        _ => (words, "stop"),
    }
}

fn usage(prompt: i64, completion: usize) -> Value {
    let completion = i64::try_from(completion).unwrap_or(i64::MAX);
    json!({"prompt_tokens": prompt, "completion_tokens": completion,
           "total_tokens": prompt.saturating_add(completion)})
}

/// Answer a request, as JSON or as a stream of chunks (with a trailing usage chunk when
/// `stream_options.include_usage` is set).
pub fn chat(body: &Value, streaming: bool) -> UpstreamReply {
    let model = body.get("model").and_then(Value::as_str).unwrap_or(MODEL);
    let prompt = prompt_tokens(body);
    let (words, finish) = answer(body);
    // Deterministic ids and timestamps: the same request always gets the same answer.
    let id = format!("chatcmpl-sandbox-{prompt}-{}", words.len());
    let created = 1_767_225_600;
    if !streaming {
        return UpstreamReply::Complete(json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": words.join(" ")},
                         "logprobs": null, "finish_reason": finish}],
            "usage": usage(prompt, words.len()),
        }));
    }
    let chunk = |delta: Value, finish: Value| {
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
        .to_string()
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    for (i, word) in words.iter().enumerate() {
        let text = if i == 0 {
            word.clone()
        } else {
            format!(" {word}")
        };
        events.push(chunk(json!({"content": text}), Value::Null));
    }
    events.push(chunk(json!({}), json!(finish)));
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if include_usage {
        events.push(
            json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [], "usage": usage(prompt, words.len())})
            .to_string(),
        );
    }
    UpstreamReply::Stream(Box::pin(stream::iter(events.into_iter().map(Ok))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[test]
    fn the_answer_echoes_the_last_user_message_and_counts_tokens() {
        let body = json!({"model": MODEL, "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello there world"}]});
        let UpstreamReply::Complete(v) = chat(&body, false) else {
            panic!("expected JSON");
        };
        assert_eq!(
            v["choices"][0]["message"]["content"],
            "Echo: hello there world"
        );
        assert_eq!(v["usage"]["prompt_tokens"], 2 + 3 + 3 + 3);
        assert_eq!(v["usage"]["completion_tokens"], 4);
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn max_tokens_cuts_the_answer_with_finish_reason_length() {
        let body = json!({"messages": [{"role": "user", "content": "a b c d e"}], "max_tokens": 2});
        let UpstreamReply::Complete(v) = chat(&body, false) else {
            panic!("expected JSON");
        };
        assert_eq!(v["choices"][0]["message"]["content"], "Echo: a");
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        assert_eq!(v["usage"]["completion_tokens"], 2);
    }

    #[tokio::test]
    async fn a_stream_sends_one_chunk_per_word_then_usage() {
        let body = json!({"messages": [{"role": "user", "content": "x y"}],
                          "stream_options": {"include_usage": true}});
        let UpstreamReply::Stream(s) = chat(&body, true) else {
            panic!("expected a stream");
        };
        let events: Vec<Value> = s
            .map(|e| serde_json::from_str(&e.unwrap()).unwrap())
            .collect()
            .await;
        assert_eq!(events.len(), 1 + 3 + 1 + 1);
        assert_eq!(events[5]["usage"]["completion_tokens"], 3);
        assert_eq!(events[4]["choices"][0]["finish_reason"], "stop");
    }
}
