//! Phone number tools: top up the balance, read inbound SMS, missed calls and the call log.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Number, json};

use super::{Hints, READ, ToolSpec, define};
use crate::request::ApiRequest;

pub fn tools() -> Vec<ToolSpec> {
    vec![
        define::<TopupArgs>(
            "phone_balance_topup",
            "Top up a phone number's balance",
            // Spends wallet money into the number's balance; the required idempotency key makes a
            // repeated call a replay. Only adds money: nothing is destroyed.
            Hints {
                read_only: false,
                destructive: false,
                idempotent: true,
                open_world: false,
            },
            "Move money from the account's wallet to one of your phone_number services' prepaid \
             balance, which pays for inbound SMS, call minutes and the monthly rental. A spend: \
             checked against the spending policy (policy_denied, also when it would need a human \
             approval) and the wallet (insufficient_funds). idempotencyKey is required: a new unique \
             key per top-up, the SAME key when retrying, so it is paid at most once. A suspended \
             number (balance used up) becomes active again. Returns {\"topUp\": {\"id\", \
             \"amountMinor\", \"balanceMinor\", \"balanceMicroUsd\", ...}, \"service\": {...}}.",
            |a: TopupArgs| {
                ApiRequest::post(
                    &["services", &a.service_id, "phone", "topup"],
                    json!({"amountUsd": a.amount_usd, "idempotencyKey": a.idempotency_key}),
                )
            },
        ),
        define::<ListArgs>(
            "phone_message_list",
            "List inbound SMS",
            READ,
            "List the SMS received by one of your phone numbers, newest first, optionally only those \
             received since a time. Returns {\"items\": [{\"id\": \"msg_...\", \"from\", \"to\", \
             \"body\", \"receivedAt\", \"costMicroUsd\"}], \"nextCursor\"}; pass nextCursor as cursor \
             for the next page.",
            |a: ListArgs| list(&a, "messages"),
        ),
        define::<MessageArgs>(
            "phone_message_get",
            "Get one inbound SMS",
            READ,
            "Get one SMS received by one of your phone numbers by its id (\"msg_...\" from \
             phone_message_list). Returns {\"message\": {\"id\", \"from\", \"to\", \"body\", \
             \"receivedAt\", \"costMicroUsd\"}}.",
            |a: MessageArgs| {
                ApiRequest::get(&[
                    "services",
                    &a.service_id,
                    "phone",
                    "messages",
                    &a.message_id,
                ])
            },
        ),
        define::<ListArgs>(
            "phone_missed_call_list",
            "List missed calls",
            READ,
            "List the inbound calls nobody answered on one of your phone numbers, newest first. \
             Returns {\"items\": [{\"id\": \"call_...\", \"from\", \"to\", \"direction\", \"status\": \
             \"missed\", \"startedAt\", \"durationSeconds\", \"costMicroUsd\"}], \"nextCursor\"}.",
            |a: ListArgs| list(&a, "missed-calls"),
        ),
        define::<ListArgs>(
            "phone_call_log_get",
            "Get the call log",
            READ,
            "Get the call log of one of your phone numbers, newest first: every call with its status \
             (missed or completed), start time, duration and cost in micro-USD (1 USD = 1000000), \
             charged per started minute. Returns {\"items\": [call, ...], \"nextCursor\"}.",
            |a: ListArgs| list(&a, "calls"),
        ),
    ]
}

fn list(a: &ListArgs, what: &str) -> ApiRequest {
    ApiRequest::get(&["services", &a.service_id, "phone", what])
        .param("since", a.since.clone())
        .param("limit", a.limit)
        .param("cursor", a.cursor.clone())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TopupArgs {
    /// The phone_number service id ("svc_...").
    pub service_id: String,
    /// US dollars to add, at most 2 decimal places, e.g. 10 or 12.50.
    pub amount_usd: Number,
    /// Required. 1 to 255 printable ASCII characters, unique per top-up; reuse it when retrying.
    pub idempotency_key: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListArgs {
    /// The phone_number service id ("svc_...").
    pub service_id: String,
    /// Only events at or after this RFC 3339 time, e.g. "2026-11-28T00:00:00Z".
    pub since: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
    /// nextCursor from the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MessageArgs {
    /// The phone_number service id ("svc_...").
    pub service_id: String,
    /// The message id ("msg_...").
    pub message_id: String,
}
