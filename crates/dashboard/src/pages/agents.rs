//! Agents (create, rename, suspend, resume) and their API keys (create - the secret shown once with
//! a copy button - and revoke).

use agent_store_app::App;
use agent_store_app::pagination::PageRequest;
use agent_store_app::views::{AgentView, ApiKeyView};
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::fmt;
use crate::web::{
    Authed, Chrome, FieldMap, check_csrf, error_page, field_errors, render, see_other,
};

#[derive(Debug, Clone)]
pub struct AgentRow {
    pub id: String,
    pub name: String,
    pub status: String,
    pub status_label: String,
    pub created: String,
}

impl From<&AgentView> for AgentRow {
    fn from(a: &AgentView) -> Self {
        Self {
            id: a.id.clone(),
            name: a.name.clone(),
            status: a.status.clone(),
            status_label: fmt::label(&a.status),
            created: fmt::when(&a.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "agents.html")]
struct ListPage {
    c: Chrome,
    agents: Vec<AgentRow>,
    name: String,
    errors: FieldMap,
}

#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

async fn list_page(
    app: &App,
    authed: &Authed,
    notice: Option<&str>,
    name: String,
    errors: FieldMap,
    status: StatusCode,
) -> Response {
    let agents = match app
        .list_agents(&authed.principal, &PageRequest::first(100))
        .await
    {
        Ok(page) => page.items,
        Err(err) => return error_page(&err),
    };
    let page = ListPage {
        c: Chrome::new(app, authed, "agents", "Agents")
            .await
            .with_notice(notice),
        agents: agents.iter().map(AgentRow::from).collect(),
        name,
        errors,
    };
    render(status, &page)
}

/// `GET /dashboard/agents`.
pub async fn list(
    State(app): State<App>,
    authed: Authed,
    Query(q): Query<NoticeQuery>,
) -> Response {
    list_page(
        &app,
        &authed,
        q.notice.as_deref(),
        String::new(),
        FieldMap::new(),
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct NameForm {
    csrf: Option<String>,
    name: Option<String>,
}

/// `POST /dashboard/agents`: create an agent, then go to its page to give it a key.
pub async fn create(
    State(app): State<App>,
    authed: Authed,
    headers: HeaderMap,
    Form(form): Form<NameForm>,
) -> Response {
    if let Err(refused) = check_csrf(&authed, &headers, form.csrf.as_deref()) {
        return refused;
    }
    let name = form.name.unwrap_or_default();
    match app.create_agent(&authed.principal, &name).await {
        Ok(agent) => see_other(&format!("/dashboard/agents/{}", agent.id), "agent_created"),
        Err(err) => {
            list_page(
                &app,
                &authed,
                None,
                name,
                field_errors(&err),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: String,
    pub label: String,
    pub created: String,
    pub last_used: String,
    pub expires: String,
    pub revoked: bool,
}

impl From<&ApiKeyView> for KeyRow {
    fn from(k: &ApiKeyView) -> Self {
        Self {
            id: k.id.clone(),
            label: k.label.clone(),
            created: fmt::when(&k.created_at),
            last_used: k
                .last_used_at
                .as_deref()
                .map_or_else(|| "never".to_owned(), fmt::when),
            expires: k
                .expires_at
                .as_deref()
                .map_or_else(|| "never".to_owned(), fmt::when),
            revoked: k.revoked_at.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "agent.html")]
struct AgentPage {
    c: Chrome,
    agent: AgentRow,
    keys: Vec<KeyRow>,
    new_key: Option<(String, String)>,
    name: String,
    label: String,
    errors: FieldMap,
}

/// What to show besides the agent itself.
#[derive(Default)]
struct Extra {
    notice: Option<String>,
    new_key: Option<(String, String)>,
    name: Option<String>,
    label: String,
    errors: FieldMap,
}

async fn agent_page(
    app: &App,
    authed: &Authed,
    agent_id: &str,
    extra: Extra,
    status: StatusCode,
) -> Response {
    let p = &authed.principal;
    let agent = match app.get_agent(p, agent_id).await {
        Ok(a) => a,
        Err(err) => return error_page(&err),
    };
    let keys = match app
        .list_agent_keys(p, agent_id, &PageRequest::first(100))
        .await
    {
        Ok(page) => page.items,
        Err(err) => return error_page(&err),
    };
    let page = AgentPage {
        c: Chrome::new(app, authed, "agents", &format!("Agent: {}", agent.name))
            .await
            .with_notice(extra.notice.as_deref()),
        name: extra.name.unwrap_or_else(|| agent.name.clone()),
        agent: AgentRow::from(&agent),
        keys: keys.iter().map(KeyRow::from).collect(),
        new_key: extra.new_key,
        label: extra.label,
        errors: extra.errors,
    };
    render(status, &page)
}

/// `GET /dashboard/agents/{id}`.
pub async fn show(
    State(app): State<App>,
    authed: Authed,
    Path(agent_id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let extra = Extra {
        notice: q.notice,
        ..Extra::default()
    };
    agent_page(&app, &authed, &agent_id, extra, StatusCode::OK).await
}

/// `POST /dashboard/agents/{id}/rename`.
pub async fn rename(
    State(app): State<App>,
    authed: Authed,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
    Form(form): Form<NameForm>,
) -> Response {
    if let Err(refused) = check_csrf(&authed, &headers, form.csrf.as_deref()) {
        return refused;
    }
    let name = form.name.unwrap_or_default();
    match app
        .update_agent(&authed.principal, &agent_id, Some(&name), None)
        .await
    {
        Ok(_) => see_other(&format!("/dashboard/agents/{agent_id}"), "renamed"),
        Err(err @ agent_store_app::AppError::Validation { .. }) => {
            let extra = Extra {
                name: Some(name),
                errors: field_errors(&err),
                ..Extra::default()
            };
            agent_page(
                &app,
                &authed,
                &agent_id,
                extra,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(err) => error_page(&err),
    }
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    csrf: Option<String>,
    status: Option<String>,
}

/// `POST /dashboard/agents/{id}/status` with `status` = `suspended` or `active`.
pub async fn set_status(
    State(app): State<App>,
    authed: Authed,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
    Form(form): Form<StatusForm>,
) -> Response {
    if let Err(refused) = check_csrf(&authed, &headers, form.csrf.as_deref()) {
        return refused;
    }
    let status = form.status.unwrap_or_default();
    match app
        .update_agent(&authed.principal, &agent_id, None, Some(&status))
        .await
    {
        Ok(a) => see_other(
            &format!("/dashboard/agents/{agent_id}"),
            if a.status == "suspended" {
                "suspended"
            } else {
                "resumed"
            },
        ),
        Err(err) => error_page(&err),
    }
}

#[derive(Debug, Deserialize)]
pub struct KeyForm {
    csrf: Option<String>,
    label: Option<String>,
}

/// `POST /dashboard/agents/{id}/keys`: mint a key and show its secret on this response only.
pub async fn create_key(
    State(app): State<App>,
    authed: Authed,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
    Form(form): Form<KeyForm>,
) -> Response {
    if let Err(refused) = check_csrf(&authed, &headers, form.csrf.as_deref()) {
        return refused;
    }
    let label = form.label.unwrap_or_default();
    match app
        .create_agent_key(&authed.principal, &agent_id, &label, None)
        .await
    {
        Ok(key) => {
            let extra = Extra {
                new_key: key.key.map(|secret| (key.label.clone(), secret)),
                ..Extra::default()
            };
            agent_page(&app, &authed, &agent_id, extra, StatusCode::OK).await
        }
        Err(err @ agent_store_app::AppError::Validation { .. }) => {
            let extra = Extra {
                label,
                errors: field_errors(&err),
                ..Extra::default()
            };
            agent_page(
                &app,
                &authed,
                &agent_id,
                extra,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(err) => error_page(&err),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /dashboard/agents/{id}/keys/{keyId}/revoke`.
pub async fn revoke_key(
    State(app): State<App>,
    authed: Authed,
    headers: HeaderMap,
    Path((agent_id, key_id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = check_csrf(&authed, &headers, form.csrf.as_deref()) {
        return refused;
    }
    match app
        .revoke_agent_key(&authed.principal, &agent_id, &key_id)
        .await
    {
        Ok(_) => see_other(&format!("/dashboard/agents/{agent_id}"), "revoked"),
        Err(err) => error_page(&err),
    }
}
