//! Completing the generated OpenAPI document with what every authenticated operation can answer,
//! whatever its handler declares: the edge's own responses (400 for a malformed query, path or body;
//! 401 without a valid credential; 413 past the body limit; 408 for a body sent too slowly; 429 over the rate limit, with
//! `Retry-After`; 503 past the request timeout) and the bearer security requirement. Declaring them
//! once here keeps every route - including routes added later - honest about them, which schema-based
//! fuzzers (schemathesis in `.ci/run`) check.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr};

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorResponse")))
                    .build(),
            )
            .build(),
    )
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Add the edge's responses and the bearer requirement to every operation that lacks them.
pub fn add_common_responses(doc: &mut OpenApi) {
    let common = [
        (
            "400",
            "validation_failed: a malformed path, query or body, each bad field named",
        ),
        ("401", "unauthenticated: a missing or invalid credential"),
        (
            "429",
            "rate_limited: too many requests for this credential; see Retry-After",
        ),
        (
            "503",
            "timeout: the request took longer than the server allows",
        ),
    ];
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            let has_body = op.request_body.is_some();
            for (status, description) in common {
                op.responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error_response(description));
            }
            if has_body {
                op.responses
                    .responses
                    .entry("413".to_owned())
                    .or_insert_with(|| error_response("payload_too_large: the body exceeds 1 MiB"));
                op.responses
                    .responses
                    .entry("408".to_owned())
                    .or_insert_with(|| {
                        error_response("request_timeout: the body did not arrive in time")
                    });
            }
            if op.security.is_none() {
                op.security = Some(vec![SecurityRequirement::new(
                    "bearer",
                    Vec::<String>::new(),
                )]);
            }
        }
    }
}
