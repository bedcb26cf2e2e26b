//! The HTTP surface. One file a job:
//!
//! - `customer.rs`: the GWS customer chat API, `/api/v2/chats`.
//! - `admin.rs`: the emulator's own API, `/__admin`: health, chats, acting as the agent.
//! - `clock.rs`: the emulator's clock (`/__admin/clock`, `/__admin/chats/{id}/clock`).
//! - `events.rs`: long-polling reads (`wait`) and Server-Sent Event streams.
//! - `scenarios.rs`: agent scenarios (`/__admin/scenarios`, `/__admin/chats/{id}/scenario`).
//! - `faults.rs`, `journal.rs`: fault rules and the request journal (`/__admin/faults`,
//!   `/__admin/requests`); `traffic.rs` applies both to the customer API.
//! - `error.rs`: every GWS error (`statusCode`, `statusMessage`) and how store errors map to them.
//! - `extract.rs`: what handlers take from a request, parsed: the chat id, the JSON body, `index`.
//! - `middleware.rs`: what every response goes through (CORS, error bodies, the log line).
//! - `auth.rs`: the `apikey` check.
//!
//! The route table (`ROUTES`) is the one list of what is served: `routes` registers it and the
//! tests check the OpenAPI document against it.

pub mod admin;
pub mod auth;
pub mod clock;
pub mod customer;
pub mod error;
pub mod events;
pub mod extract;
pub mod faults;
pub mod journal;
pub mod middleware;
pub mod scenarios;
pub mod traffic;

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse, Responder, ResponseError};
use serde::Serialize;

use crate::faults::Faults;
use crate::journal::Journal;
use crate::scheduler::{self, StopFlag};
use crate::store::Store;
use error::ApiError;

/// What every handler can reach.
pub struct AppState {
    pub store: Store,
    pub limits: Limits,
    /// The key every customer API request must carry, when `--require-apikey` is on.
    pub apikey: Option<String>,
    /// The bearer token every admin request must carry, when `--admin-token` is set.
    pub admin_token: Option<String>,
    /// The fault rules applied to the customer API.
    pub faults: Arc<Faults>,
    /// The request journal's queue.
    pub journal: Arc<Journal>,
    /// Tells whether the scheduler runs (the health answer).
    pub scheduler: StopFlag,
    pub settings: scheduler::Settings,
    pub started: Instant,
}

/// What one request may ask for (see the `--max-*` options).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body: usize,
    /// `None`: any text that fits in the body.
    pub max_text: Option<usize>,
    /// `None`: every message in one read.
    pub transcript_page: Option<i64>,
}

/// The longest nickname, subject and pushed URL accepted, in characters.
pub const MAX_NICKNAME: usize = 256;
pub const MAX_SUBJECT: usize = 1024;
pub const MAX_URL: usize = 2048;

pub type State = web::Data<AppState>;

/// A successful answer: the fields of `T` and `"statusCode": 0`, the envelope of every GWS
/// answer. (RequestChat keeps GWS's documented field order with its own `statusCode`.)
pub struct Answer<T>(pub T);

#[derive(Serialize)]
struct Envelope<'a, T> {
    #[serde(flatten)]
    body: &'a T,
    #[serde(rename = "statusCode")]
    status_code: i32,
}

/// The plain `{"statusCode":0}`.
#[derive(Serialize)]
pub struct Done {}

impl Answer<Done> {
    pub fn done() -> Self {
        Answer(Done {})
    }
}

impl<T: Serialize> Responder for Answer<T> {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::Ok().json(Envelope { body: &self.0, status_code: error::code::OK })
    }
}

/// One method on one path, and the handler that answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    RequestChat,
    ChatOperation,
    GetChat,
    GetTranscript,
    Health,
    ListChats,
    DeleteAllChats,
    ChatDetail,
    AgentAction,
    AgentTranscript,
    OpenApi,
    GetClock,
    SetClock,
    AdvanceChatClock,
    ChatEvents,
    AllEvents,
    ListScenarios,
    ShowScenario,
    PutScenario,
    DeleteScenario,
    SwitchScenario,
    AddFault,
    ListFaults,
    ClearFaults,
    DeleteFault,
    ListRequests,
    ClearRequests,
}

impl Endpoint {
    /// The HTTP method, uppercase.
    pub fn method(self) -> &'static str {
        match self {
            Endpoint::RequestChat
            | Endpoint::ChatOperation
            | Endpoint::AgentAction
            | Endpoint::SetClock
            | Endpoint::AdvanceChatClock
            | Endpoint::SwitchScenario
            | Endpoint::AddFault => "POST",
            Endpoint::DeleteAllChats
            | Endpoint::DeleteScenario
            | Endpoint::ClearFaults
            | Endpoint::DeleteFault
            | Endpoint::ClearRequests => "DELETE",
            Endpoint::PutScenario => "PUT",
            Endpoint::GetChat
            | Endpoint::GetTranscript
            | Endpoint::Health
            | Endpoint::ListChats
            | Endpoint::ChatDetail
            | Endpoint::AgentTranscript
            | Endpoint::OpenApi
            | Endpoint::GetClock
            | Endpoint::ChatEvents
            | Endpoint::AllEvents
            | Endpoint::ListScenarios
            | Endpoint::ShowScenario
            | Endpoint::ListFaults
            | Endpoint::ListRequests => "GET",
        }
    }

    /// The name of the log line (a handler may say more, e.g. which customer operation).
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::RequestChat => "RequestChat",
            Endpoint::ChatOperation => "ChatOperation",
            Endpoint::GetChat => "GetChat",
            Endpoint::GetTranscript => "GetTranscript",
            Endpoint::Health => "health",
            Endpoint::ListChats => "listChats",
            Endpoint::DeleteAllChats => "deleteAllChats",
            Endpoint::ChatDetail => "chatDetail",
            Endpoint::AgentAction => "agent",
            Endpoint::AgentTranscript => "agentTranscript",
            Endpoint::OpenApi => "openapi",
            Endpoint::GetClock => "getClock",
            Endpoint::SetClock => "setClock",
            Endpoint::AdvanceChatClock => "advanceChatClock",
            Endpoint::ChatEvents => "chatEvents",
            Endpoint::AllEvents => "allEvents",
            Endpoint::ListScenarios => "listScenarios",
            Endpoint::ShowScenario => "showScenario",
            Endpoint::PutScenario => "putScenario",
            Endpoint::DeleteScenario => "deleteScenario",
            Endpoint::SwitchScenario => "switchScenario",
            Endpoint::AddFault => "addFault",
            Endpoint::ListFaults => "listFaults",
            Endpoint::ClearFaults => "clearFaults",
            Endpoint::DeleteFault => "deleteFault",
            Endpoint::ListRequests => "listRequests",
            Endpoint::ClearRequests => "clearRequests",
        }
    }

    fn route(self) -> actix_web::Route {
        let method = match self.method() {
            "POST" => web::post(),
            "PUT" => web::put(),
            "DELETE" => web::delete(),
            _ => web::get(),
        };
        match self {
            Endpoint::RequestChat => method.to(customer::request_chat),
            Endpoint::ChatOperation => method.to(customer::chat_operation),
            Endpoint::GetChat => method.to(customer::get_chat),
            Endpoint::GetTranscript => method.to(customer::get_transcript),
            Endpoint::Health => method.to(admin::health),
            Endpoint::ListChats => method.to(admin::list_chats),
            Endpoint::DeleteAllChats => method.to(admin::delete_all_chats),
            Endpoint::ChatDetail => method.to(admin::chat_detail),
            Endpoint::AgentAction => method.to(admin::agent_action),
            Endpoint::AgentTranscript => method.to(events::agent_transcript),
            Endpoint::OpenApi => method.to(admin::openapi),
            Endpoint::GetClock => method.to(clock::get_clock),
            Endpoint::SetClock => method.to(clock::set_clock),
            Endpoint::AdvanceChatClock => method.to(clock::advance_chat),
            Endpoint::ChatEvents => method.to(events::chat_events),
            Endpoint::AllEvents => method.to(events::all_events),
            Endpoint::ListScenarios => method.to(scenarios::list),
            Endpoint::ShowScenario => method.to(scenarios::show),
            Endpoint::PutScenario => method.to(scenarios::put),
            Endpoint::DeleteScenario => method.to(scenarios::delete),
            Endpoint::SwitchScenario => method.to(scenarios::switch),
            Endpoint::AddFault => method.to(faults::add),
            Endpoint::ListFaults => method.to(faults::list),
            Endpoint::ClearFaults => method.to(faults::clear),
            Endpoint::DeleteFault => method.to(faults::delete),
            Endpoint::ListRequests => method.to(journal::list),
            Endpoint::ClearRequests => method.to(journal::clear),
        }
    }
}

/// A path template (`{id}` for a chat id) and what answers on it. Served with and without a
/// trailing slash.
#[derive(Debug)]
pub struct Route {
    pub path: &'static str,
    pub endpoints: &'static [Endpoint],
}

/// Every route of the customer and admin APIs: `routes` registers exactly these, and the tests
/// check the OpenAPI document against them.
pub const ROUTES: &[Route] = &[
    Route { path: "/api/v2/chats", endpoints: &[Endpoint::RequestChat] },
    Route { path: "/api/v2/chats/{id}", endpoints: &[Endpoint::GetChat, Endpoint::ChatOperation] },
    Route { path: "/api/v2/chats/{id}/messages", endpoints: &[Endpoint::GetTranscript] },
    Route { path: "/__admin/health", endpoints: &[Endpoint::Health] },
    Route { path: "/__admin/chats", endpoints: &[Endpoint::ListChats, Endpoint::DeleteAllChats] },
    Route { path: "/__admin/chats/{id}", endpoints: &[Endpoint::ChatDetail] },
    Route { path: "/__admin/chats/{id}/agent", endpoints: &[Endpoint::AgentAction] },
    Route { path: "/__admin/chats/{id}/messages", endpoints: &[Endpoint::AgentTranscript] },
    Route { path: "/__admin/openapi.json", endpoints: &[Endpoint::OpenApi] },
    Route { path: "/__admin/clock", endpoints: &[Endpoint::GetClock, Endpoint::SetClock] },
    Route { path: "/__admin/chats/{id}/clock", endpoints: &[Endpoint::AdvanceChatClock] },
    Route { path: "/__admin/chats/{id}/events", endpoints: &[Endpoint::ChatEvents] },
    Route { path: "/__admin/events", endpoints: &[Endpoint::AllEvents] },
    Route { path: "/__admin/scenarios", endpoints: &[Endpoint::ListScenarios] },
    Route {
        path: "/__admin/scenarios/{name}",
        endpoints: &[Endpoint::ShowScenario, Endpoint::PutScenario, Endpoint::DeleteScenario],
    },
    Route { path: "/__admin/chats/{id}/scenario", endpoints: &[Endpoint::SwitchScenario] },
    Route {
        path: "/__admin/faults",
        endpoints: &[Endpoint::ListFaults, Endpoint::AddFault, Endpoint::ClearFaults],
    },
    Route { path: "/__admin/faults/{id}", endpoints: &[Endpoint::DeleteFault] },
    Route {
        path: "/__admin/requests",
        endpoints: &[Endpoint::ListRequests, Endpoint::ClearRequests],
    },
];

/// The endpoint a matched route pattern and method name, for the log line.
pub fn endpoint_of(pattern: &str, method: &str) -> Option<Endpoint> {
    let pattern = pattern.strip_suffix('/').unwrap_or(pattern);
    ROUTES
        .iter()
        .find(|r| r.path == pattern)?
        .endpoints
        .iter()
        .copied()
        .find(|e| e.method() == method)
}

/// Registers `ROUTES`, each with and without a trailing slash; another method on a known path
/// is a 405 naming the allowed ones.
pub fn routes(cfg: &mut web::ServiceConfig) {
    for route in ROUTES {
        let allowed: Vec<&'static str> = route.endpoints.iter().map(|e| e.method()).collect();
        let allowed = allowed.join(" or ");
        let mut resource = web::resource([route.path.to_string(), format!("{}/", route.path)]);
        for endpoint in route.endpoints {
            resource = resource.route(endpoint.route());
        }
        cfg.service(resource.default_service(web::to(move |r: HttpRequest| {
            let allowed = allowed.clone();
            async move { not_allowed(r, &allowed) }
        })));
    }
}

fn not_allowed(req: HttpRequest, allowed: &str) -> HttpResponse {
    let mut res = ApiError::method_not_allowed(req.method().as_str(), allowed).error_response();
    let allow = format!("{}, OPTIONS", allowed.replace(" or ", ", "));
    if let Ok(v) = HeaderValue::from_str(&allow) {
        res.headers_mut().insert(header::ALLOW, v);
    }
    res
}

/// Anything no route matched: a GWS 404.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    ApiError::route_not_found(req.method().as_str(), req.path()).error_response()
}
