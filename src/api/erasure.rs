//! `POST /api/v1/contacts/{id}/erasure`: the right to be forgotten over HTTP, through the same
//! `storage::erasure::erase_contact` as `touchbot contact erase --yes`.

use axum::Json;
use axum::extract::{Path, State};

use super::error::ErrorBody;
use super::{ApiError, ApiState};
use crate::domain::ContactId;
use crate::storage::StoreError;
use crate::storage::erasure::{self, ErasureReport};

/// Erase a contact: their name, address, words and messages go for good, table by table
/// (the report lists what was removed); the contact stays as a tombstone so counts hold.
/// Asking again changes nothing and answers with `already_erased: true`.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/erasure", tag = "contacts",
    params(("id" = i64, Path, description = "the contact's id")), security(("bearer" = [])),
    responses((status = 200, body = ErasureReport,
        description = "erased now, or before (`already_erased`)"),
        (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(contact = id))]
pub async fn erase(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<ErasureReport>, ApiError> {
    match erasure::erase_contact(&state.pool, ContactId(id)).await {
        Ok(report) => Ok(Json(report)),
        // The store's message points at the command line; say it in the API's terms.
        Err(StoreError::NotFound { .. }) => {
            Err(ApiError::NotFound(format!("no contact has the id {id}")))
        }
        Err(e) => Err(e.into()),
    }
}
