//! The MCP server of Agent Store (SPEC section 11).
//!
//! There is one tool table ([`tools::table`]): each entry has a name, a description written for a
//! model, an input JSON Schema derived from a typed argument struct, honest annotations, and a handler
//! that turns the validated arguments into one Agent API request ([`request::ApiRequest`]). Two
//! backends deliver that request, and the same [`server::McpServer`] serves both transports:
//!
//! - hosted at `/mcp` ([`hosted`]): stateless Streamable HTTP (rmcp, no sessions, JSON responses); the
//!   caller's agent key was already resolved into a `Principal` by the API's auth middleware, and the
//!   request is dispatched in-process to the Agent API's own handlers (no network hop);
//! - `agent-store mcp` over stdio ([`stdio`]): the request is sent over HTTP to the Agent API at
//!   `AGENT_STORE_API_BASE_URL` with `AGENT_STORE_AGENT_API_KEY`.
//!
//! Routing both through the Agent API's handlers is deliberate: a tool's result is the REST response
//! body itself (including a replayed purchase, byte for byte), its error object is the REST error
//! envelope from the one mapping in `api::error`, and an idempotency key is fingerprinted exactly as
//! REST does, so a key used over REST and retried over MCP (or the reverse) replays instead of paying
//! twice. Adding a tool is one entry in the table.

pub mod hosted;
pub mod http_backend;
pub mod request;
pub mod server;
pub mod stdio;
pub mod tools;

pub use server::McpServer;

/// The name this server reports in `initialize` (rmcp's default would report rmcp's own).
pub const SERVER_NAME: &str = "agent-store";
/// The version this server reports: the crate's (every crate shares the workspace version).
pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");
