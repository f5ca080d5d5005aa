//! Route-level authorization: required scopes (delegated) or roles (application).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use entra_jwt::core::{Challenge, Claims, Error, Match, challenge};
use http::{Request, Response};
use tower::{Layer, Service};

use crate::claims::VerifiedClaims;
use crate::rejection::Rejection;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    how: Match,
    values: Vec<String>,
}

impl Rule {
    fn new<I, S>(how: Match, values: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        if values.is_empty() || !values.iter().all(|v| is_scope_token(v)) {
            return Err(Error::InvalidConfig {
                reason: "invalid required scope or role",
            });
        }
        Ok(Self { how, values })
    }

    fn met_by(&self, have: &[String]) -> bool {
        let has = |v: &String| have.iter().any(|h| h == v);
        match self.how {
            Match::Any => self.values.iter().any(has),
            Match::All => self.values.iter().all(has),
        }
    }
}

/// Scope and role names are RFC 6749 §3.3 scope-tokens (printable ASCII but
/// space, `"` and `\`), so they can be quoted in `scope="..."` unescaped.
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// What a route requires of the verified token, and the [`Layer`] that enforces it.
///
/// Delegated (user) tokens carry scopes in `scp`; application (app-only)
/// tokens carry roles in `roles`. Require either kind, any-of or all-of; with
/// both a scope rule and a role rule, a token that meets **either** passes
/// (a user with the scope, or an application with the role: MIW's
/// `RequiredScopeOrAppPermission`, and what [`Policy`](entra_jwt::core::Policy)
/// does). A token that meets neither is refused with 403
/// `Bearer error="insufficient_scope", scope="<every required value>"`.
///
/// Put it inside [`EntraAuthLayer`](crate::EntraAuthLayer), which verifies
/// the token first; in axum, `.route_layer(Require::...)` on a route or a
/// router, with `.layer(EntraAuthLayer::new(..))` outside. A request that
/// reaches the guard without verified claims (the auth layer is missing, or
/// the path is excluded) is answered 500 and logged at `error`: the guard
/// fails closed.
///
/// ```
/// use entra_jwt_tower::{Match, Require};
///
/// let readers = Require::scopes(Match::Any, ["Data.Read", "Data.ReadWrite"])?;
/// let admins = Require::roles(Match::All, ["Data.Admin"])?;
/// let either = Require::scopes(Match::Any, ["Data.Read"])?.or_roles(Match::Any, ["Data.Reader"])?;
/// # let _ = (readers, admins, either);
/// # Ok::<(), entra_jwt_tower::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Require {
    scopes: Option<Rule>,
    roles: Option<Rule>,
    /// The `scope` attribute of the 403 challenge, built once.
    scope_attribute: Arc<str>,
}

impl Require {
    /// Requires delegated scopes (`scp`), any or all of them.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the list is empty or a value is not a
    /// scope-token (empty, or holding a space, `"`, `\` or a control character).
    pub fn scopes<I, S>(how: Match, scopes: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Ok(Self::build(Some(Rule::new(how, scopes)?), None))
    }

    /// Requires application roles (`roles`), any or all of them.
    ///
    /// # Errors
    /// As [`Require::scopes`].
    pub fn roles<I, S>(how: Match, roles: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Ok(Self::build(None, Some(Rule::new(how, roles)?)))
    }

    /// Also lets through tokens that meet this scope rule (replacing any
    /// scope rule set before).
    ///
    /// # Errors
    /// As [`Require::scopes`].
    pub fn or_scopes<I, S>(self, how: Match, scopes: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Ok(Self::build(Some(Rule::new(how, scopes)?), self.roles))
    }

    /// Also lets through tokens that meet this role rule (replacing any role
    /// rule set before).
    ///
    /// # Errors
    /// As [`Require::scopes`].
    pub fn or_roles<I, S>(self, how: Match, roles: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Ok(Self::build(self.scopes, Some(Rule::new(how, roles)?)))
    }

    fn build(scopes: Option<Rule>, roles: Option<Rule>) -> Self {
        let attribute = [&scopes, &roles]
            .into_iter()
            .flatten()
            .flat_map(|r| r.values.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            scopes,
            roles,
            scope_attribute: attribute.into(),
        }
    }

    /// Whether `claims` meet the requirement.
    #[must_use]
    pub fn is_met_by(&self, claims: &Claims) -> bool {
        let scope_ok = self.scopes.as_ref().is_some_and(|r| r.met_by(&claims.scp));
        let role_ok = self.roles.as_ref().is_some_and(|r| r.met_by(&claims.roles));
        scope_ok || role_ok
    }

    /// `Ok` when `claims` meet the requirement, else the 403 refusal: for
    /// checks inside a handler (`require.check(&claims)?` in a handler that
    /// returns `Result<_, Rejection>`).
    ///
    /// # Errors
    /// A [`Rejection`] for [`Error::InsufficientScope`] with this requirement's challenge.
    pub fn check(&self, claims: &Claims) -> Result<(), Rejection> {
        if self.is_met_by(claims) {
            Ok(())
        } else {
            Err(Rejection::with_challenge(
                Error::InsufficientScope,
                self.challenge(),
            ))
        }
    }

    /// The 403 answer: `Bearer error="insufficient_scope", scope="<values>"`,
    /// the required scopes then roles, space-separated.
    #[must_use]
    pub fn challenge(&self) -> Challenge {
        challenge(&Error::InsufficientScope, Some(&self.scope_attribute))
    }

    fn judge(&self, extensions: &http::Extensions) -> Result<(), Rejection> {
        match VerifiedClaims::from_extensions(extensions) {
            Some(claims) => self.check(claims),
            None => Err(Rejection::new(Error::InvalidConfig {
                reason: "route guard without EntraAuthLayer in front",
            })),
        }
    }
}

impl<S> Layer<S> for Require {
    type Service = RequireService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireService {
            inner,
            require: Arc::new(self.clone()),
        }
    }
}

/// The [`Service`] made by the [`Require`] layer.
#[derive(Debug, Clone)]
pub struct RequireService<S> {
    inner: S,
    require: Arc<Require>,
}

impl<S> RequireService<S> {
    /// The requirement enforced.
    #[must_use]
    pub fn requirement(&self) -> &Require {
        &self.require
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = RequireFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match self.require.judge(req.extensions()) {
            Ok(()) => RequireFuture {
                kind: Kind::Inner {
                    future: self.inner.call(req),
                },
            },
            Err(rejection) => RequireFuture {
                kind: Kind::Refused {
                    response: Some(rejection.to_response()),
                },
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RequireService`]: the inner service's future,
    /// or the refusal, ready at once.
    pub struct RequireFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Inner {
            #[pin]
            future: F,
        },
        Refused {
            response: Option<Response<B>>,
        },
    }
}

impl<F, B> fmt::Debug for RequireFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for RequireFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                // Polled after completion: a contract violation by the caller.
                None => Poll::Pending,
            },
        }
    }
}
