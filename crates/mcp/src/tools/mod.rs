//! The tool table: every MCP tool, once, for both transports. An entry is a name, a title, a
//! description written for a model, annotations, and a handler from a typed argument struct (whose
//! doc comments and serde attributes are also its published input schema) to one Agent API request.
//!
//! Adding a tool: write its argument struct and one [`define`] call in the module of its area, and
//! list that module's `tools()` in [`table`] if it is a new module.

mod account;
mod catalog;
mod domains;
mod phones;
mod purchases;
mod router;
mod servers;
mod storage;

use std::sync::{Arc, OnceLock};

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::request::ApiRequest;

/// How a tool touches the world, published as MCP tool annotations (hints for clients deciding
/// whether to ask a human before calling).
#[derive(Debug, Clone, Copy)]
pub struct Hints {
    /// Changes nothing.
    pub read_only: bool,
    /// May destroy or irreversibly replace something (only meaningful when not read-only).
    pub destructive: bool,
    /// Calling again with the same arguments has no further effect.
    pub idempotent: bool,
    /// Reaches systems outside this store (a registrar, a cloud, a carrier).
    pub open_world: bool,
}

/// A read of this store's own data.
pub const READ: Hints = Hints {
    read_only: true,
    destructive: false,
    idempotent: true,
    open_world: false,
};

type Handler = Box<dyn Fn(Value) -> Result<ApiRequest, String> + Send + Sync>;

/// One tool: its MCP description and its handler.
pub struct ToolSpec {
    pub tool: Tool,
    handler: Handler,
}

impl std::fmt::Debug for ToolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSpec")
            .field("name", &self.tool.name)
            .finish_non_exhaustive()
    }
}

impl ToolSpec {
    /// Validate `arguments` against the tool's argument type and build its request. `Err` is a
    /// message for a JSON-RPC invalid-params error (the arguments do not match the schema).
    pub fn request(&self, arguments: Value) -> Result<ApiRequest, String> {
        (self.handler)(arguments)
    }
}

/// Define a tool whose arguments are `A`.
pub fn define<A: DeserializeOwned + JsonSchema + 'static>(
    name: &'static str,
    title: &'static str,
    hints: Hints,
    description: &'static str,
    handler: fn(A) -> ApiRequest,
) -> ToolSpec {
    let annotations = ToolAnnotations::with_title(title)
        .read_only(hints.read_only)
        .destructive(hints.destructive)
        .idempotent(hints.idempotent)
        .open_world(hints.open_world);
    let tool = Tool::new(name, description, input_schema::<A>())
        .with_title(title)
        .with_annotations(annotations);
    ToolSpec {
        tool,
        handler: Box::new(move |arguments| {
            serde_json::from_value::<A>(arguments)
                .map(handler)
                .map_err(|err| format!("invalid arguments for {name}: {err}"))
        }),
    }
}

/// The JSON Schema (draft 2020-12) of `A` as a tool's `inputSchema`: subschemas inlined (some
/// clients do not resolve `$ref`), optional fields simply not required (not `"type": [.., "null"]`),
/// and no root title or description (the tool has its own).
fn input_schema<A: JsonSchema>() -> Arc<JsonObject> {
    let settings = SchemaSettings::draft2020_12().with(|s| s.inline_subschemas = true);
    let schema = settings.into_generator().into_root_schema_for::<A>();
    let mut schema = serde_json::to_value(schema).unwrap_or(Value::Null);
    tidy(&mut schema);
    let mut object = match schema {
        Value::Object(object) => object,
        // Unreachable for derived schemas; an open object schema is still valid.
        _ => JsonObject::from_iter([("type".to_owned(), Value::from("object"))]),
    };
    object.remove("title");
    object.remove("description");
    // Some clients require `properties` on every object schema, even an empty one.
    object
        .entry("properties")
        .or_insert_with(|| Value::Object(JsonObject::new()));
    Arc::new(object)
}

/// Remove the `null` that schemars allows for `Option` fields (an optional argument is one that may
/// be left out; none accepts `null` meaningfully), and join the lines of descriptions taken from doc
/// comments.
fn tidy(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if let Some(Value::String(text)) = object.get_mut("description") {
                *text = text.replace('\n', " ");
            }
            if let Some(Value::Array(types)) = object.get_mut("type") {
                types.retain(|t| t != "null");
                if let [only] = types.as_slice() {
                    let only = only.clone();
                    object.insert("type".to_owned(), only);
                }
            }
            if let Some(Value::Array(values)) = object.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
            if let Some(Value::Array(options)) = object.get_mut("anyOf") {
                options.retain(|o| o.get("type").is_none_or(|t| t != "null"));
                if let [Value::Object(only)] = options.as_slice() {
                    let only = only.clone();
                    object.remove("anyOf");
                    object.extend(only);
                }
            }
            object.values_mut().for_each(tidy);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// Every tool, in the order of the purchase flow.
pub fn table() -> &'static [ToolSpec] {
    static TABLE: OnceLock<Vec<ToolSpec>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut tools = catalog::tools();
        tools.extend(purchases::tools());
        tools.extend(account::tools());
        tools.extend(router::tools());
        tools.extend(domains::tools());
        tools.extend(servers::tools());
        tools.extend(phones::tools());
        tools.extend(storage::tools());
        tools
    })
}

/// The tool called `name`.
pub fn find(name: &str) -> Option<&'static ToolSpec> {
    table().iter().find(|spec| spec.tool.name == name)
}

/// The JSON body of a request built from arguments: the arguments as given, absent ones left out,
/// so the body (and so its idempotency fingerprint) is what a REST client would send.
fn body<T: serde::Serialize>(args: &T) -> Value {
    serde_json::to_value(args).unwrap_or_else(|_| Value::Object(JsonObject::new()))
}

/// The wire name of an enum value (its serde name), for query parameters.
fn wire<T: serde::Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        _ => String::new(),
    }
}

/// Arguments of tools that take none.
#[derive(Debug, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArguments {}

#[cfg(test)]
mod tests;
