//! Slow clients: a request body must arrive in full within `limits.body_read_timeout_seconds` of the
//! request's start. Without this, a client that sends its headers and then trickles the body (a byte
//! every few seconds) kept a handler, and on routes without the request timeout of the auth layer
//! (the dashboard's forms, the `/openai/v1` router, the telephony webhook) its task and connection,
//! for as long as it liked. The deadline covers the whole body, not each read: tower-http's
//! `RequestBodyTimeout` resets its timer after every frame, so it would not stop a trickle. The
//! header read timeout is set on the connection (see [`crate::serve`]).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Sleep;

/// The error a body reports past its deadline; the extractors recognise it by this text and answer
/// 408 `request_timeout` (see [`is_deadline_error`]).
pub const BODY_DEADLINE_MESSAGE: &str = "the request body did not arrive in time";

/// A body that fails once its deadline passes (and says so in `expired`).
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
    expired: Arc<AtomicBool>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(axum::Error::new(BODY_DEADLINE_MESSAGE))));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: give the request body a deadline of `limit` from now. A handler that failed because
/// the deadline passed answers 408 `request_timeout`, whatever its own extractor made of the error
/// (the JSON APIs and the router say so themselves; the dashboard's form extractor would say 400).
pub async fn body_deadline(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    // A body already complete (no body, or fully known and empty) needs no timer.
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let body = Body::new(DeadlineBody {
        inner: body,
        deadline: Box::pin(tokio::time::sleep(limit)),
        expired: expired.clone(),
    });
    let response = next.run(Request::from_parts(parts, body)).await;
    if expired.load(Ordering::Relaxed) && response.status() != StatusCode::REQUEST_TIMEOUT {
        return crate::error::ApiError::request_timeout().into_response();
    }
    response
}

/// Whether a body-reading failure (its rejection text) was the deadline.
pub fn is_deadline_error(text: &str) -> bool {
    text.contains(BODY_DEADLINE_MESSAGE)
}
