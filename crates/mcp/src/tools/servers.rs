//! Server tools: restart, reinstall and power of a `server` service. Each answers at once with the
//! service in a transitional `details.powerState`; poll service_get until it settles.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Hints, ToolSpec, define, wire};
use crate::request::ApiRequest;

/// A reboot interrupts the server but destroys nothing; each call reboots again (unless it carries
/// the same idempotency key).
const RESTART: Hints = Hints {
    read_only: false,
    destructive: false,
    idempotent: false,
    open_world: true,
};

/// Wipes the disk.
const REINSTALL: Hints = Hints {
    read_only: false,
    destructive: true,
    idempotent: false,
    open_world: true,
};

/// Powering off stops what runs (destructive for in-memory state); asking for the state the server
/// is already in does nothing.
const POWER: Hints = Hints {
    read_only: false,
    destructive: true,
    idempotent: true,
    open_world: true,
};

pub fn tools() -> Vec<ToolSpec> {
    vec![
        define::<RestartArgs>(
            "server_restart",
            "Restart a server",
            RESTART,
            "Reboot one of your running servers. Returns {\"service\": {...}} at once with \
             details.powerState \"restarting\"; call service_get until it is \"running\". Refused with \
             invalid_state while another action runs or when the server is stopped. Pass an \
             idempotencyKey to make a retry replay instead of rebooting twice.",
            |a: RestartArgs| {
                ApiRequest::post(
                    &["services", &a.service_id, "server", "restart"],
                    key_body(json!({}), a.idempotency_key),
                )
            },
        ),
        define::<ReinstallArgs>(
            "server_reinstall",
            "Reinstall a server",
            REINSTALL,
            "Wipe one of your servers and install another image (one of the item's supportedImages, \
             see catalog_checkout_requirements; nvidia-ai-ubuntu only on GPU servers). Everything on \
             the disk is lost. Returns {\"service\": {...}} with details.powerState \"reinstalling\"; \
             call service_get until it is \"running\" with the new details.image.",
            |a: ReinstallArgs| {
                ApiRequest::post(
                    &["services", &a.service_id, "server", "reinstall"],
                    key_body(json!({"image": a.image}), a.idempotency_key),
                )
            },
        ),
        define::<PowerArgs>(
            "server_power",
            "Power a server on or off",
            POWER,
            "Power one of your servers on or off. Returns {\"service\": {...}} with details.powerState \
             \"starting\" or \"stopping\" until it settles at \"running\" or \"stopped\" (poll \
             service_get); if the server is already in that state nothing happens.",
            |a: PowerArgs| {
                ApiRequest::post(
                    &["services", &a.service_id, "server", "power"],
                    key_body(json!({"state": wire(a.state)}), a.idempotency_key),
                )
            },
        ),
    ]
}

fn key_body(mut body: serde_json::Value, key: Option<String>) -> serde_json::Value {
    if let Some(key) = key {
        body["idempotencyKey"] = json!(key);
    }
    body
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RestartArgs {
    /// The server service id ("svc_...").
    pub service_id: String,
    /// Optional: reuse it when retrying, so the server is restarted once.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReinstallArgs {
    /// The server service id ("svc_...").
    pub service_id: String,
    /// The image to install, e.g. "debian-12".
    pub image: String,
    /// Optional: reuse it when retrying, so the server is reinstalled once.
    pub idempotency_key: Option<String>,
}

/// The power state to reach.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PowerTarget {
    On,
    Off,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PowerArgs {
    /// The server service id ("svc_...").
    pub service_id: String,
    /// "on" or "off".
    pub state: PowerTarget,
    /// Optional, as on every POST.
    pub idempotency_key: Option<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use serde_json::json;

    use super::super::find;

    #[test]
    fn server_tools_build_the_rest_requests_and_hint_honestly() {
        let power = find("server_power").unwrap();
        let request = power
            .request(json!({"serviceId": "svc_1", "state": "off"}))
            .unwrap();
        assert_eq!(request.path_and_query(), "/services/svc_1/server/power");
        assert_eq!(request.body, Some(json!({"state": "off"})));
        assert!(
            power
                .request(json!({"serviceId": "svc_1", "state": "sideways"}))
                .is_err()
        );
        let restart = find("server_restart")
            .unwrap()
            .request(json!({"serviceId": "svc_1", "idempotencyKey": "r1"}))
            .unwrap();
        assert_eq!(restart.body, Some(json!({"idempotencyKey": "r1"})));
        let reinstall = find("server_reinstall")
            .unwrap()
            .request(json!({"serviceId": "svc_1", "image": "debian-12"}))
            .unwrap();
        assert_eq!(reinstall.body, Some(json!({"image": "debian-12"})));
        let hints = |name: &str| find(name).unwrap().tool.annotations.clone().unwrap();
        assert_eq!(hints("server_reinstall").destructive_hint, Some(true));
        assert_eq!(hints("server_reinstall").idempotent_hint, Some(false));
        assert_eq!(hints("server_restart").destructive_hint, Some(false));
        assert_eq!(hints("server_power").idempotent_hint, Some(true));
    }
}
