//! Shared by the integration tests: a verifier on a mock issuer, test-tenant
//! tokens, a plain-HTTP reqwest client, and the "no reason leaks" check.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use entra_jwt::core::{KeySource, Policy, RefreshConfig};
use entra_jwt::{AsyncVerifier, FetchConfig};
use entra_jwt_mock_issuer::MockIssuer;
use entra_jwt_reqwest::ReqwestFetcher;
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};
use serde_json::Value;

/// The exact `WWW-Authenticate` values of SPEC §8.
pub const BARE: &str = "Bearer";
pub const INVALID_TOKEN: &str =
    r#"Bearer error="invalid_token", error_description="the access token is invalid""#;
pub const INVALID_REQUEST: &str = r#"Bearer error="invalid_request""#;

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A mock issuer playing the test tenant.
pub fn issuer() -> MockIssuer {
    MockIssuer::entra(tt::TENANT_ID)
}

/// The shared async verifier of the test tenant, keys from `issuer` over
/// loopback HTTP, system clock.
pub fn verifier(issuer: &MockIssuer) -> AsyncVerifier<ReqwestFetcher> {
    let policy = Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .build()
        .unwrap();
    let source = KeySource::from_discovery_url(&issuer.discovery_url(), RefreshConfig::default());
    let fetcher = ReqwestFetcher::new(
        FetchConfig {
            timeout: Duration::from_secs(5),
            ..FetchConfig::default()
        }
        .dangerous_allow_http_loopback(),
    );
    AsyncVerifier::builder(policy, source, fetcher).build()
}

pub fn sign(claims: &Value) -> String {
    TestTenant::get().sign(Key::Rsa2048, &TestTenant::header(Key::Rsa2048), claims)
}

/// A user's token (`scp` = `Data.Read User.Read`), valid now.
pub fn user_token() -> String {
    sign(&TestTenant::v2_claims(now()))
}

/// An application's token (`roles` = `["Data.Admin"]`), valid now.
pub fn app_token() -> String {
    sign(&TestTenant::app_claims(now()))
}

/// A user's token with `claim` set to `value`.
pub fn user_token_with(claim: &str, value: Value) -> String {
    let mut claims = TestTenant::v2_claims(now());
    claims[claim] = value;
    sign(&claims)
}

/// A reqwest client for plain HTTP on loopback (no redirects, no proxy).
pub fn client() -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// What a response said.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub www_authenticate: Option<String>,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Answer {
    pub async fn of(response: reqwest::Response) -> Self {
        let header = |name: &str| {
            let all: Vec<_> = response.headers().get_all(name).iter().collect();
            assert!(all.len() <= 1, "{name} sent {} times", all.len());
            all.first().map(|v| v.to_str().unwrap().to_string())
        };
        let www_authenticate = header("www-authenticate");
        let retry_after = header("retry-after");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        Self {
            status,
            www_authenticate,
            retry_after,
            body,
        }
    }

    /// Asserts the status, the exact `WWW-Authenticate`, and that the body
    /// names none of `secrets` (error codes, error texts, the token).
    pub fn assert_refused(&self, status: u16, www_authenticate: Option<&str>, secrets: &[&str]) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.www_authenticate.as_deref(),
            www_authenticate,
            "{self:?}"
        );
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            assert!(
                !self.body.contains(secret),
                "body {:?} leaks {secret:?}",
                self.body
            );
        }
        // The internal reason never appears, whatever it was.
        for code in entra_jwt::core::ALL_CODES {
            assert!(
                !self.body.contains(code),
                "body {:?} leaks {code}",
                self.body
            );
        }
    }
}
