//! Domain management (SPEC section 9): name servers and DNS records of a `domain` service.
//!
//! The database is the zone of record; the registrar is told about every change first, outside any
//! transaction (never hold a write transaction across a provider call), and only then is the change
//! written, under the service's row lock, after the gate ([`crate::manage`]) has run again on the
//! state the write is based on. A provider failure therefore writes nothing (502 `provider_error`),
//! and retrying is safe: name servers are a replacement, and an upsert matches the record it replaced
//! by type and name (plus value for MX/TXT/NS/SRV/CAA), so it reuses that record's id at the registrar.

use agent_store_core::dns::{self, Record, RecordInput, RecordType};
use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::time::{format_rfc3339, now_ms};
use agent_store_providers::{DnsRecordSpec, DomainRef, ProviderError};
use agent_store_store::dns_records::{self, DnsRecord};
use agent_store_store::services::{self, Service};
use agent_store_store::{AnyConnection, commit};
use serde::Serialize;
use serde_json::{Value, json};

use crate::manage::{Action, ServiceState};
use crate::pagination::{Page, PageRequest};
use crate::services::ServiceView;
use crate::{App, AppError, AppResult, Principal};

const SET_NAMESERVERS: Action =
    Action::new("domain", "domain:nameservers:set", ServiceState::Active);
const READ_RECORDS: Action = Action::new(
    "domain",
    "domain:dns-records:read",
    ServiceState::Provisioned,
);
const WRITE_RECORDS: Action =
    Action::new("domain", "domain:dns-records:write", ServiceState::Active);

/// The most records one domain may hold: far above real zones, low enough that checks over all of a
/// domain's records stay cheap and one agent cannot grow a zone without bound.
pub const MAX_RECORDS_PER_DOMAIN: usize = 500;

/// A DNS record as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsRecordView {
    pub id: String,
    pub service_id: String,
    /// `A`, `AAAA`, `CNAME`, `MX`, `TXT`, `NS`, `SRV` or `CAA`.
    #[serde(rename = "type")]
    pub record_type: String,
    /// `@` for the domain itself, else the name relative to it (`www`).
    pub name: String,
    /// The fully qualified name, e.g. `www.launchpad.com`.
    pub fqdn: String,
    pub value: String,
    pub ttl: i64,
    /// MX and SRV only.
    pub priority: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

/// The result of an upsert: the record and whether it was new (else it replaced one).
#[derive(Debug, Clone)]
pub struct Upserted {
    pub record: DnsRecordView,
    pub created: bool,
}

fn view(r: DnsRecord, domain: &str) -> DnsRecordView {
    let fqdn = if r.name == "@" {
        domain.to_owned()
    } else {
        format!("{}.{domain}", r.name)
    };
    DnsRecordView {
        id: r.id,
        service_id: r.service_id,
        record_type: r.record_type,
        name: r.name,
        fqdn,
        value: r.value,
        ttl: r.ttl,
        priority: r.priority,
        created_at: format_rfc3339(r.created_at),
        updated_at: format_rfc3339(r.updated_at),
    }
}

/// The registered name of a domain service (from the registrar's details, else the configuration).
fn domain_name(service: &Service) -> String {
    let from = |json: &str| {
        serde_json::from_str::<Value>(json).ok().and_then(|v| {
            v.get("domainName")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
        })
    };
    from(&service.details)
        .or_else(|| from(&service.configuration))
        .unwrap_or_default()
}

fn domain_ref(service: &Service) -> DomainRef {
    DomainRef {
        service_id: service.id.clone(),
        provider_ref: service.provider_ref.clone().unwrap_or_default(),
        domain_name: domain_name(service),
    }
}

fn provider_error(err: ProviderError) -> AppError {
    AppError::ProviderError(err.to_string())
}

fn match_value(record: &Record) -> String {
    record.upsert_key().2.unwrap_or_default().to_owned()
}

/// What an upsert will do, computed from the domain's current records.
struct Plan {
    /// The record replaced (same upsert key), if any.
    replaces: Option<DnsRecord>,
    id: String,
}

fn plan(record: &Record, existing: &[DnsRecord]) -> AppResult<Plan> {
    let key_value = match_value(record);
    let replaces = existing
        .iter()
        .find(|r| {
            r.record_type == record.record_type.as_str()
                && r.name == record.name
                && r.match_value == key_value
        })
        .cloned();
    let others = existing
        .iter()
        .filter(|r| replaces.as_ref().is_none_or(|m| m.id != r.id))
        .filter_map(|r| RecordType::parse(&r.record_type).map(|t| (t, r.name.as_str())));
    if let Some(conflict) = dns::cname_conflict(record, others) {
        return Err(AppError::Conflict(conflict));
    }
    if replaces.is_none() && existing.len() >= MAX_RECORDS_PER_DOMAIN {
        return Err(AppError::Conflict(format!(
            "the domain already has {MAX_RECORDS_PER_DOMAIN} records, the most it can hold; delete some first"
        )));
    }
    let id = replaces
        .as_ref()
        .map_or_else(|| new_id(IdKind::DnsRecord), |r| r.id.clone());
    Ok(Plan { replaces, id })
}

impl App {
    /// Gate a domain action inside a write transaction, after taking the service's row lock so that
    /// concurrent changes to one domain are serialized on every backend.
    async fn locked_domain(
        &self,
        conn: &mut AnyConnection,
        principal: &Principal,
        service_id: &str,
        action: Action,
    ) -> AppResult<Service> {
        dns_records::lock_service(&mut *conn, service_id, now_ms()).await?;
        self.managed_service(conn, principal, service_id, action)
            .await
    }

    /// `PUT .../domain/nameservers`: delegate the domain to 2-13 name servers. Returns the service.
    pub async fn set_nameservers(
        &self,
        principal: &Principal,
        service_id: &str,
        nameservers: &[String],
    ) -> AppResult<ServiceView> {
        let nameservers = dns::validate_nameservers(nameservers)
            .map_err(|errors| AppError::validation(errors.into_vec()))?;
        let service = {
            let mut conn = self.store().acquire().await?;
            self.managed_service(&mut conn, principal, service_id, SET_NAMESERVERS)
                .await?
        };
        self.providers()
            .registrar
            .set_nameservers(&domain_ref(&service), &nameservers)
            .await
            .map_err(provider_error)?;
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        let service = self
            .locked_domain(&mut tx, principal, service_id, SET_NAMESERVERS)
            .await?;
        let mut details: Value =
            serde_json::from_str(&service.details).unwrap_or_else(|_| json!({}));
        if !details.is_object() {
            details = json!({});
        }
        let before = details.get("nameservers").cloned().unwrap_or(Value::Null);
        details["nameservers"] = json!(nameservers);
        services::set_details(&mut tx, &service.id, &details.to_string(), now).await?;
        self.record_service_action(
            &mut tx,
            principal,
            &service,
            SET_NAMESERVERS,
            json!({"before": before, "nameservers": nameservers}),
        )
        .await?;
        let updated = services::get_by_id(&mut *tx, &service.id)
            .await?
            .ok_or(AppError::NotFound("service"))?;
        let view = self.service_view(&mut tx, updated).await?;
        commit(tx).await?;
        Ok(view)
    }

    /// `GET .../domain/dns-records`: newest first.
    pub async fn list_dns_records(
        &self,
        principal: &Principal,
        service_id: &str,
        page: &PageRequest,
    ) -> AppResult<Page<DnsRecordView>> {
        let mut conn = self.store().acquire().await?;
        let service = self
            .managed_service(&mut conn, principal, service_id, READ_RECORDS)
            .await?;
        let domain = domain_name(&service);
        let rows = dns_records::list(
            &mut *conn,
            &service.id,
            page.cursor.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        Ok(Page::from_rows(
            rows,
            page,
            |r| r.id.clone(),
            |r| view(r, &domain),
        ))
    }

    /// `POST .../domain/dns-records`: create or replace a record (see the module docs).
    pub async fn upsert_dns_record(
        &self,
        principal: &Principal,
        service_id: &str,
        input: &RecordInput,
    ) -> AppResult<Upserted> {
        let (service, record, planned) = {
            let mut conn = self.store().acquire().await?;
            let service = self
                .managed_service(&mut conn, principal, service_id, WRITE_RECORDS)
                .await?;
            let record = dns::validate_record(input, &domain_name(&service))
                .map_err(|errors| AppError::validation(errors.into_vec()))?;
            let existing = dns_records::all(&mut *conn, &service.id).await?;
            let planned = plan(&record, &existing)?;
            (service, record, planned)
        };
        let domain = domain_ref(&service);
        let spec = DnsRecordSpec {
            id: planned.id.clone(),
            record_type: record.record_type.as_str().to_owned(),
            name: record.name.clone(),
            value: record.value.clone(),
            ttl: record.ttl,
            priority: record.priority,
        };
        self.providers()
            .registrar
            .upsert_dns_record(&domain, &spec)
            .await
            .map_err(provider_error)?;
        match self
            .write_upsert(principal, service_id, &record, &planned)
            .await
        {
            Ok(done) => Ok(done),
            Err(err) => {
                // The zone changed between the plan and the write (a concurrent change): take the
                // record we just pushed back out of the registrar's zone so it never holds one the
                // store does not know, unless it was the id of a record the store still has.
                if planned.replaces.is_none()
                    && let Err(cleanup) = self
                        .providers()
                        .registrar
                        .delete_dns_record(&domain, &planned.id)
                        .await
                {
                    tracing::warn!(record_id = %planned.id, error = %cleanup, "could not withdraw a DNS record from the registrar");
                }
                Err(err)
            }
        }
    }

    async fn write_upsert(
        &self,
        principal: &Principal,
        service_id: &str,
        record: &Record,
        planned: &Plan,
    ) -> AppResult<Upserted> {
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        let service = self
            .locked_domain(&mut tx, principal, service_id, WRITE_RECORDS)
            .await?;
        let existing = dns_records::all(&mut *tx, &service.id).await?;
        let again = plan(record, &existing)?;
        // The record to replace must still be the one the registrar was told about (or none).
        let same_target = match (&again.replaces, &planned.replaces) {
            (None, None) => true,
            (Some(now_replaced), Some(was)) => now_replaced.id == was.id,
            _ => false,
        };
        if !same_target {
            return Err(AppError::Conflict(
                "the domain's records changed while this one was being written; retry".to_owned(),
            ));
        }
        let row = DnsRecord {
            id: planned.id.clone(),
            service_id: service.id.clone(),
            account_id: service.account_id.clone(),
            record_type: record.record_type.as_str().to_owned(),
            name: record.name.clone(),
            value: record.value.clone(),
            match_value: match_value(record),
            ttl: record.ttl,
            priority: record.priority,
            created_at: again.replaces.as_ref().map_or(now, |r| r.created_at),
            updated_at: now,
        };
        let created = again.replaces.is_none();
        if created {
            dns_records::insert(&mut tx, &row).await?;
        } else {
            dns_records::replace(&mut tx, &row).await?;
        }
        self.record_service_action(
            &mut tx,
            principal,
            &service,
            WRITE_RECORDS,
            json!({
                "operation": if created { "create" } else { "replace" },
                "recordId": row.id,
                "type": row.record_type,
                "name": row.name,
                "value": row.value,
                "ttl": row.ttl,
                "priority": row.priority,
                "previousValue": again.replaces.as_ref().map(|r| r.value.clone()),
            }),
        )
        .await?;
        commit(tx).await?;
        Ok(Upserted {
            record: view(row, &domain_name(&service)),
            created,
        })
    }

    /// `DELETE .../domain/dns-records/{recordId}`: returns the removed record.
    pub async fn delete_dns_record(
        &self,
        principal: &Principal,
        service_id: &str,
        record_id: &str,
    ) -> AppResult<DnsRecordView> {
        let (service, record) = {
            let mut conn = self.store().acquire().await?;
            let service = self
                .managed_service(&mut conn, principal, service_id, WRITE_RECORDS)
                .await?;
            let record = dns_records::get(&mut *conn, &service.id, record_id)
                .await?
                .ok_or(AppError::NotFound("dns_record"))?;
            (service, record)
        };
        self.providers()
            .registrar
            .delete_dns_record(&domain_ref(&service), &record.id)
            .await
            .map_err(provider_error)?;
        let mut tx = self.store().begin_write().await?;
        let service = self
            .locked_domain(&mut tx, principal, service_id, WRITE_RECORDS)
            .await?;
        if !dns_records::delete(&mut tx, &service.id, &record.id).await? {
            return Err(AppError::NotFound("dns_record"));
        }
        self.record_service_action(
            &mut tx,
            principal,
            &service,
            WRITE_RECORDS,
            json!({
                "operation": "delete",
                "recordId": record.id,
                "type": record.record_type,
                "name": record.name,
                "value": record.value,
            }),
        )
        .await?;
        commit(tx).await?;
        Ok(view(record, &domain_name(&service)))
    }
}
