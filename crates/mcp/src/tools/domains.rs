//! Domain tools: name servers and DNS records of a `domain` service. Changes reach the registrar.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Hints, ToolSpec, body, define};
use crate::request::ApiRequest;

/// Reads the store's copy of the zone.
const LIST: Hints = Hints {
    read_only: true,
    destructive: false,
    idempotent: true,
    open_world: false,
};

/// Replaces the delegation: the same list again changes nothing, but the old list is gone.
const SET_NAMESERVERS: Hints = Hints {
    read_only: false,
    destructive: true,
    idempotent: true,
    open_world: true,
};

/// An upsert replaces the record with the same key; repeating it changes nothing more.
const UPSERT: Hints = Hints {
    read_only: false,
    destructive: false,
    idempotent: true,
    open_world: true,
};

/// Deleting removes the record; deleting it again finds nothing more to remove.
const DELETE: Hints = Hints {
    read_only: false,
    destructive: true,
    idempotent: true,
    open_world: true,
};

pub fn tools() -> Vec<ToolSpec> {
    vec![
        define::<NameserversArgs>(
            "domain_nameservers_set",
            "Set a domain's name servers",
            SET_NAMESERVERS,
            "Delegate one of your domain services to 2-13 name servers (host names such as \
             ns1.example.net; case and a trailing dot are normalized, duplicates refused). This \
             replaces the current list at the registrar. Returns {\"service\": {...}} with \
             details.nameservers.",
            |a: NameserversArgs| {
                ApiRequest::put(
                    &["services", &a.service_id, "domain", "nameservers"],
                    json!({"nameservers": a.nameservers}),
                )
            },
        ),
        define::<ListArgs>(
            "domain_dns_record_list",
            "List a domain's DNS records",
            LIST,
            "List the DNS records of one of your domain services, newest first: {\"items\": [{\"id\": \
             \"dns_...\", \"type\", \"name\", \"fqdn\", \"value\", \"ttl\", \"priority\"}], \"nextCursor\"}.",
            |a: ListArgs| {
                ApiRequest::get(&["services", &a.service_id, "domain", "dns-records"])
                    .param("limit", a.limit)
                    .param("cursor", a.cursor)
            },
        ),
        define::<UpsertArgs>(
            "domain_dns_record_upsert",
            "Create or replace a DNS record",
            UPSERT,
            "Create or replace a DNS record of one of your domain services. A record with the same type \
             and name (for MX, TXT, NS, SRV and CAA also the same value) is replaced, so retrying is \
             safe. Values by type: A an IPv4 address, AAAA an IPv6 address, CNAME/MX/NS a host name, \
             TXT text, SRV \"weight port target\", CAA 'flags tag \"value\"'. MX and SRV need a \
             priority. A CNAME cannot be at @ or share a name with other records. Returns \
             {\"dnsRecord\": {\"id\": \"dns_...\", ...}}.",
            |a: UpsertArgs| {
                let record = RecordFields {
                    record_type: a.record_type,
                    name: a.name,
                    value: a.value,
                    ttl: a.ttl,
                    priority: a.priority,
                };
                ApiRequest::post(
                    &["services", &a.service_id, "domain", "dns-records"],
                    body(&record),
                )
            },
        ),
        define::<DeleteArgs>(
            "domain_dns_record_delete",
            "Delete a DNS record",
            DELETE,
            "Delete one DNS record (by its dns_... id from domain_dns_record_list or the upsert result) \
             from one of your domain services. Returns {\"dnsRecord\": {...}} as it was.",
            |a: DeleteArgs| {
                ApiRequest::delete(&[
                    "services",
                    &a.service_id,
                    "domain",
                    "dns-records",
                    &a.record_id,
                ])
            },
        ),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NameserversArgs {
    /// The domain service id ("svc_...").
    pub service_id: String,
    /// 2 to 13 host names, e.g. ["ns1.example.net", "ns2.example.net"].
    pub nameservers: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListArgs {
    /// The domain service id ("svc_...").
    pub service_id: String,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<u32>,
    /// nextCursor of the previous page.
    pub cursor: Option<String>,
}

/// DNS record types.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
pub enum RecordType {
    A,
    #[serde(rename = "AAAA")]
    Aaaa,
    #[serde(rename = "CNAME")]
    Cname,
    #[serde(rename = "MX")]
    Mx,
    #[serde(rename = "TXT")]
    Txt,
    #[serde(rename = "NS")]
    Ns,
    #[serde(rename = "SRV")]
    Srv,
    #[serde(rename = "CAA")]
    Caa,
}

/// The REST body of an upsert: the arguments without the service id, absent ones left out.
#[derive(Debug, Serialize)]
struct RecordFields {
    #[serde(rename = "type")]
    record_type: RecordType,
    name: String,
    value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpsertArgs {
    /// The domain service id ("svc_...").
    pub service_id: String,
    /// The record type.
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// "@" for the domain itself, or a name relative to it ("www", "_dmarc").
    pub name: String,
    /// The value, validated by type (e.g. "203.0.113.10" for A, "mail.example.com" for MX).
    pub value: String,
    /// Seconds, 60 to 86400 (default 3600).
    pub ttl: Option<i64>,
    /// Required for MX and SRV (0-65535), refused for other types.
    pub priority: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeleteArgs {
    /// The domain service id ("svc_...").
    pub service_id: String,
    /// The record id ("dns_...").
    pub record_id: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use serde_json::json;

    use super::super::find;

    #[test]
    fn domain_tools_build_the_rest_requests_and_hint_honestly() {
        let upsert = find("domain_dns_record_upsert").unwrap();
        let request = upsert
            .request(json!({"serviceId": "svc_1", "type": "MX", "name": "@", "value": "mail.example.com", "priority": 10}))
            .unwrap();
        assert_eq!(
            request.path_and_query(),
            "/services/svc_1/domain/dns-records"
        );
        assert_eq!(
            request.body,
            Some(json!({"type": "MX", "name": "@", "value": "mail.example.com", "priority": 10}))
        );
        assert!(
            upsert
                .request(json!({"serviceId": "svc_1", "type": "SPF", "name": "@", "value": "x"}))
                .is_err()
        );
        let ns = find("domain_nameservers_set")
            .unwrap()
            .request(json!({"serviceId": "svc_1", "nameservers": ["a.example", "b.example"]}))
            .unwrap();
        assert_eq!(ns.method, http::Method::PUT);
        assert_eq!(
            ns.body,
            Some(json!({"nameservers": ["a.example", "b.example"]}))
        );
        let delete = find("domain_dns_record_delete")
            .unwrap()
            .request(json!({"serviceId": "svc_1", "recordId": "dns_2"}))
            .unwrap();
        assert_eq!(
            delete.path_and_query(),
            "/services/svc_1/domain/dns-records/dns_2"
        );
        let hints = |name: &str| find(name).unwrap().tool.annotations.clone().unwrap();
        assert_eq!(hints("domain_dns_record_list").read_only_hint, Some(true));
        assert_eq!(
            hints("domain_dns_record_delete").destructive_hint,
            Some(true)
        );
        assert_eq!(
            hints("domain_dns_record_upsert").idempotent_hint,
            Some(true)
        );
        assert_eq!(
            hints("domain_dns_record_upsert").read_only_hint,
            Some(false)
        );
    }
}
