//! The OpenAPI 3 document, generated from the handlers' and types' annotations.

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::account_views::{
    AccountDetail, AccountInput, AccountPage, AccountPatch, AccountView, HealthView,
};
use super::contacts::{ContactInput, ContactPatch, ContactView, JoinLinkView};
use super::error::{ErrorBody, FieldProblem};
use super::escalations::{EscalationDetail, EscalationPage};
use super::health::HealthHistory;
use super::replies::ReplyPage;
use super::reports::TeamReport;
use super::signals::{SignalInput, SignalResult, SignalsBody, SignalsResponse};
use super::webhooks::{CreatedWebhook, DeliveryPage, WebhookInput, WebhookList};
use crate::metrics::CsmMetrics;
use crate::status::{AccountStatus, Portfolio};
use crate::storage::erasure::{Change, ErasureReport};
use crate::webhooks::{Delivery, Subscription};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "touchbot integration API",
        description = "Accounts, contacts and signals in, for CRMs and products; health \
                       history, escalations, replies and the team metrics out; contact \
                       erasure; subscriptions to outgoing events. Every /api/v1 route needs \
                       `Authorization: Bearer <token>` (touchbot token create). Errors share \
                       one shape: `error`, and `fields` naming each bad field or query \
                       parameter for 422."
    ),
    paths(
        super::accounts::create,
        super::accounts::upsert,
        super::accounts::update,
        super::accounts::show,
        super::accounts::list,
        super::contacts::add,
        super::contacts::update,
        super::contacts::remove,
        super::erasure::erase,
        super::signals::add,
        super::webhooks::create,
        super::webhooks::list,
        super::webhooks::remove,
        super::webhooks::deliveries,
        super::health::history,
        super::replies::list,
        super::escalations::list,
        super::escalations::show,
        super::reports::portfolio,
        super::reports::team,
        super::reports::csm,
    ),
    components(schemas(
        AccountInput, AccountPatch, AccountView, AccountDetail, AccountPage, HealthView,
        ContactInput, ContactPatch, ContactView, JoinLinkView, SignalInput, SignalsBody, SignalResult,
        SignalsResponse, ErasureReport, Change, WebhookInput, CreatedWebhook, WebhookList,
        Subscription, DeliveryPage, Delivery, ErrorBody, FieldProblem,
        SignalsResponse, ErrorBody, FieldProblem, AccountStatus, HealthHistory, ReplyPage,
        EscalationPage, EscalationDetail, Portfolio, TeamReport, CsmMetrics,
    )),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// `GET /api/openapi.json`: served without a token, so tools can read it.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
