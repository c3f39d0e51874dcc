//! The authenticated caller of a REST request: `Authorization: Bearer`.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};
use cms_actors::{Identity, Role};
use cms_domain::Caller;

use crate::routes::error::ApiError;
use crate::state::AppState;

/// A caller with the login session their token names. Derefs to the
/// [`Caller`] the use cases take.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub caller: Caller,
    pub session_id: String,
}

impl std::ops::Deref for AuthUser {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl AuthUser {
    pub fn identity(&self) -> Identity {
        Identity {
            user_id: self.user_id.clone(),
            name: self.name.clone(),
            role: self.role,
            session_id: self.session_id.clone(),
        }
    }

    /// The caller's family, for endpoints only parents may use.
    pub fn parent_family(&self) -> Result<&str, ApiError> {
        self.require(Role::Parent)?;
        self.caller
            .parent_family()
            .ok_or_else(|| ApiError::Forbidden("this parent has no family".into()))
    }

    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role == role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(match role {
                Role::Admin => "only an admin may do this".into(),
                other => format!("only a {other} may do this"),
            }))
        }
    }
}

/// Checks a token: signature, expiry, and that its session is live.
pub async fn authenticate(state: &AppState, token: &str) -> Result<AuthUser, ApiError> {
    let now = state.clock.now();
    let claims = state
        .keys
        .verify(token, now)
        .ok_or(ApiError::Unauthorized)?;
    let s = match state.store.live_session(&claims.sid, now).await {
        Ok(s) => s,
        Err(cms_store::StoreError::NotFound) => return Err(ApiError::Unauthorized),
        Err(e) => return Err(e.into()),
    };
    if s.user_id != claims.sub {
        return Err(ApiError::Unauthorized);
    }
    Ok(AuthUser {
        caller: Caller {
            role: s.role,
            user_id: s.user_id,
            name: s.name,
            family_id: s.family_id,
        },
        session_id: claims.sid,
    })
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        Box::pin(async move {
            let (Some(state), Some(token)) = (state, token) else {
                return Err(ApiError::Unauthorized);
            };
            authenticate(&state, &token).await
        })
    }
}

/// A caller who must hold one role, checked before anything else is read
/// (a body, a query), so a wrong role is a 403 whatever else is wrong.
macro_rules! role_extractor {
    ($(#[$meta:meta])* $name:ident, $check:expr) => {
        $(#[$meta])*
        pub struct $name(pub AuthUser);

        impl FromRequest for $name {
            type Error = ApiError;
            type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

            fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
                let user = AuthUser::from_request(req, payload);
                Box::pin(async move {
                    let user = user.await?;
                    let check: fn(&AuthUser) -> Result<(), ApiError> = $check;
                    check(&user)?;
                    Ok(Self(user))
                })
            }
        }
    };
}

role_extractor!(
    /// An admin.
    AdminUser,
    |u| u.require(Role::Admin)
);
role_extractor!(
    /// A tutor.
    TutorUser,
    |u| u.require(Role::Tutor)
);
role_extractor!(
    /// A parent with a family.
    ParentUser,
    |u| u.parent_family().map(|_| ())
);
