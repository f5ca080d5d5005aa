#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The Layer on its own, without axum (this file builds with
//! `--no-default-features`): `tower::ServiceExt::oneshot` over a
//! `service_fn`, and a plain hyper 1 server on 127.0.0.1.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use common::{Answer, BARE, INVALID_REQUEST, INVALID_TOKEN, client, issuer, user_token, verifier};
use entra_jwt::core::{ALL_CODES, Challenge, Claims, Error, challenge};
use entra_jwt_tower::{
    BearerVerifier, CheckedBody, EntraAuthLayer, Match, Rejection, Require, VerifiedClaims,
};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};

/// The inner service: answers with the caller's `oid`, or "none".
async fn inner(
    req: Request<CheckedBody<Full<Bytes>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let oid = VerifiedClaims::from_extensions(req.extensions())
        .and_then(|c| c.oid.clone())
        .unwrap_or_else(|| "none".into());
    Ok(Response::new(Full::new(Bytes::from(oid))))
}

fn request(path: &str, authorization: Option<&str>) -> Request<Full<Bytes>> {
    let mut builder = Request::get(path);
    if let Some(value) = authorization {
        builder = builder.header("Authorization", value);
    }
    builder.body(Full::default()).unwrap()
}

async fn body_text(response: Response<Full<Bytes>>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn www(response: &Response<Full<Bytes>>) -> Option<&str> {
    response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap())
}

/// A test double: answers every token with the same result, and counts calls.
#[derive(Clone)]
struct Fixed {
    result: Result<Claims, Error>,
    calls: Arc<AtomicUsize>,
}

impl Fixed {
    fn failing(error: Error) -> Self {
        Self {
            result: Err(error),
            calls: Arc::default(),
        }
    }
}

impl BearerVerifier for Fixed {
    async fn verify(&self, _token: &str) -> Result<Claims, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.result.clone()
    }
}

#[tokio::test]
async fn oneshot_with_the_real_verifier() {
    let issuer = issuer();
    let layer = EntraAuthLayer::new(verifier(&issuer)).exclude_path("/health");
    let service = layer.layer(service_fn(inner));

    let response = service.clone().oneshot(request("/x", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(www(&response), Some(BARE));
    assert_eq!(body_text(response).await, "");

    let response = service
        .clone()
        .oneshot(request("/x", Some(&format!("Bearer {}", user_token()))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body_text(response).await,
        "2c7f1d38-58a3-4d3e-9d2b-8a4a5cf0e6b1"
    );

    let response = service
        .clone()
        .oneshot(request("/x", Some("Bearer a.b.c")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(www(&response), Some(INVALID_TOKEN));

    let response = service.oneshot(request("/health", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "none");
}

#[tokio::test]
async fn guard_in_a_service_builder() {
    let issuer = issuer();
    let service = ServiceBuilder::new()
        .layer(EntraAuthLayer::new(verifier(&issuer)))
        .layer(Require::roles(Match::Any, ["Data.Admin"]).unwrap())
        .service(service_fn(inner));
    let response = service
        .oneshot(request("/admin", Some(&format!("Bearer {}", user_token()))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        www(&response),
        Some(r#"Bearer error="insufficient_scope", scope="Data.Admin""#)
    );
    assert_eq!(body_text(response).await, "");
}

#[tokio::test]
async fn guard_without_the_auth_layer_fails_closed() {
    let service = Require::scopes(Match::Any, ["Data.Read"])
        .unwrap()
        .layer(service_fn(|_req: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("reached"))))
        }));
    let response = service.oneshot(request("/x", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(www(&response), None);
    assert_eq!(body_text(response).await, "");
}

/// Every error code the verifier can return maps through the core's
/// `challenge`, and no body carries the code or the error text.
#[tokio::test]
async fn every_error_maps_through_the_core_challenge_and_never_leaks() {
    let errors = [
        Error::NoCredentials,
        Error::InvalidRequest,
        Error::TooLarge,
        Error::Malformed,
        Error::EncryptedToken,
        Error::UnsupportedAlg,
        Error::CritHeader,
        Error::FirstPartyToken,
        Error::UnknownKey,
        Error::BadSignature,
        Error::Expired,
        Error::NotYetValid,
        Error::IssuedInFuture,
        Error::BadClaim { claim: "tid" },
        Error::WrongAudience,
        Error::WrongIssuer,
        Error::WrongTenant,
        Error::WrongVersion,
        Error::KeyIssuerMismatch,
        Error::ClientNotAllowed,
        Error::MissingScopeOrRole,
        Error::InsufficientScope,
        Error::KeysUnavailable,
        Error::InvalidKeySet { reason: "r" },
        Error::InvalidDiscovery { reason: "r" },
        Error::InvalidConfig { reason: "r" },
    ];
    assert_eq!(errors.len(), ALL_CODES.len());
    for error in errors {
        let fixed = Fixed::failing(error);
        let service = EntraAuthLayer::new(fixed.clone()).layer(service_fn(inner));
        let response = service
            .oneshot(request("/x", Some("Bearer a.b.c")))
            .await
            .unwrap();
        let expected: Challenge = challenge(&error, None);
        assert_eq!(response.status().as_u16(), expected.status, "{error:?}");
        assert_eq!(
            www(&response),
            expected.www_authenticate.as_deref(),
            "{error:?}"
        );
        assert_eq!(
            response.headers().contains_key("retry-after"),
            expected.status == 503,
            "{error:?}"
        );
        let body = body_text(response).await;
        assert!(!body.contains(error.code()), "{error:?}");
        assert!(!body.contains(&error.to_string()), "{error:?}");
        assert_eq!(fixed.calls.load(Ordering::SeqCst), 1);
        // The same through the public mapping.
        let r: Response<Full<Bytes>> = Rejection::new(error).to_response();
        assert_eq!(r.status().as_u16(), expected.status);
    }
}

#[tokio::test]
async fn duplicate_tokens_are_refused_before_verification() {
    let fixed = Fixed::failing(Error::Expired);
    let service = EntraAuthLayer::new(fixed.clone()).layer(service_fn(inner));
    let response = service
        .clone()
        .oneshot(request("/x?access_token=abc", Some("Bearer a.b.c")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(www(&response), Some(INVALID_REQUEST));
    // A token that is too large is refused before verification too.
    let huge = format!("Bearer {}", "a".repeat(40 * 1024));
    let response = service.oneshot(request("/x", Some(&huge))).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(www(&response), Some(INVALID_TOKEN));
    assert_eq!(fixed.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_plain_hyper_server() {
    let issuer = issuer();
    let service = EntraAuthLayer::new(verifier(&issuer)).layer(service_fn(
        |req: Request<CheckedBody<hyper::body::Incoming>>| async move {
            let oid = VerifiedClaims::from_extensions(req.extensions())
                .and_then(|c| c.oid.clone())
                .unwrap_or_default();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(oid))))
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    let http = client();
    let answer = Answer::of(http.get(format!("{base}/x")).send().await.unwrap()).await;
    answer.assert_refused(401, Some(BARE), &[]);
    let answer = Answer::of(
        http.get(format!("{base}/x"))
            .bearer_auth(user_token())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "2c7f1d38-58a3-4d3e-9d2b-8a4a5cf0e6b1");
}
