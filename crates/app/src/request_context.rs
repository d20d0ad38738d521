//! The id of the request being served, carried in a task-local so that audit events and error logs can
//! name it without threading it through every call. The HTTP layer sets it per request.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Run `future` with `id` as the current request id.
pub async fn with_request_id<F: Future>(id: String, future: F) -> F::Output {
    REQUEST_ID.scope(id, future).await
}

/// The current request id, if inside a request.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}
