//! The MCP server handler shared by both transports: `tools/list` from the table, `tools/call` through
//! the table's handler and a [`Backend`]. Arguments that do not match a tool's schema, and unknown
//! tools, are JSON-RPC errors (invalid params); everything the Agent API answers, success or business
//! error, is a tool result.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;

use crate::request::{Backend, error_object, to_result};
use crate::tools;

/// What a client is told on `initialize`, so a model knows the order of the calls.
const INSTRUCTIONS: &str = "Agent Store sells infrastructure (domains, VPS servers, phone numbers, \
object and block storage, LLM router credits) paid from your account's wallet, within the spending \
policy your human set. Purchase flow: catalog_categories -> catalog_search -> \
catalog_checkout_requirements -> quote_create -> purchase_create (with an idempotencyKey; reuse it when \
retrying) -> purchase_get_status (until not provisioning) -> service_list / service_get. Money is in \
US cents in fields ending in Minor. Errors come back as results with isError and an error object \
{code, message, details, requestId}.";

/// The MCP server over a backend that reaches the Agent API.
#[derive(Debug, Clone)]
pub struct McpServer<B> {
    backend: B,
}

impl<B: Backend> McpServer<B> {
    pub fn new(backend: B) -> Self {
        Self { backend }
    }
}

impl<B: Backend + std::fmt::Debug> ServerHandler for McpServer<B> {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new(crate::SERVER_NAME, crate::SERVER_VERSION)
                    .with_title("Agent Store"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(
            tools::table()
                .iter()
                .map(|spec| spec.tool.clone())
                .collect(),
        ))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools::find(name).map(|spec| spec.tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let spec = tools::find(&request.name).ok_or_else(|| {
            ErrorData::invalid_params(format!("unknown tool: {}", request.name), None)
        })?;
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let api_request = spec
            .request(arguments)
            .map_err(|message| ErrorData::invalid_params(message, None))?;
        let result = match self.backend.send(api_request, &context.extensions).await {
            Ok(reply) => {
                tracing::info!(tool = %request.name, status = reply.status, replayed = reply.replayed, "tool call");
                to_result(reply)
            }
            Err(message) => {
                tracing::warn!(tool = %request.name, error = %message, "Agent API unreachable");
                CallToolResult::structured_error(error_object("api_unreachable", &message))
            }
        };
        Ok(result.into())
    }
}
