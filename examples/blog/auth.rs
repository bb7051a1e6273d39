//! Authentication, as simple as a demo allows: `Authorization: Bearer <user id>` names a
//! registered user. The middleware puts the user in the request's extensions, where the
//! handlers and the response cache's `vary_on` find it.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::data;

/// The signed-in user.
#[derive(Clone, Debug)]
pub(crate) struct CurrentUser(pub(crate) String);

/// Resolves the bearer token to a user (through the cached user objects); an unknown user is
/// `401 Unauthorized`, no token is an anonymous request.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned);
    if let Some(token) = token {
        match data::user(&state.db, &token).await {
            Ok(Some(user)) => {
                request.extensions_mut().insert(CurrentUser(user.id));
            }
            Ok(None) => return (StatusCode::UNAUTHORIZED, "unknown user").into_response(),
            Err(error) => return crate::routes::internal(error),
        }
    }
    next.run(request).await
}

/// The identity the response cache varies on: the signed-in user, or `None` for the shared
/// anonymous entry.
pub(crate) fn user_of(request: &Parts) -> Option<String> {
    request
        .extensions
        .get::<CurrentUser>()
        .map(|user| user.0.clone())
}
