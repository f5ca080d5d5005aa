//! The request body as the inner service receives it, and the form-body check.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

/// The name of the RFC 6750 §2.2 / §2.3 parameter (form body and query).
const ACCESS_TOKEN: &str = "access_token";

pin_project_lite::pin_project! {
    /// The request body behind [`EntraAuth`](crate::EntraAuth): the client's
    /// body as it streams in, or, for an `application/x-www-form-urlencoded`
    /// request that the layer read to look for a second token, the same bytes
    /// replayed.
    ///
    /// Data frames are [`Bytes`] (a `Bytes` body passes through without a
    /// copy); errors are the original body's. axum's routers accept it as is.
    #[derive(Debug)]
    pub struct CheckedBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<B> {
        Streaming {
            #[pin]
            body: B,
        },
        Replay {
            data: Option<Bytes>,
            trailers: Option<HeaderMap>,
        },
    }
}

impl<B> CheckedBody<B> {
    /// The client's body, streamed through untouched.
    pub fn streaming(body: B) -> Self {
        Self {
            kind: Kind::Streaming { body },
        }
    }

    /// A body already read: `data`, then `trailers` if any.
    pub fn replay(data: Bytes, trailers: Option<HeaderMap>) -> Self {
        Self {
            kind: Kind::Replay {
                data: (!data.is_empty()).then_some(data),
                trailers,
            },
        }
    }
}

impl<B> Body for CheckedBody<B>
where
    B: Body,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProj::Streaming { body } => body.poll_frame(cx).map(|frame| {
                frame.map(|r| r.map(|f| f.map_data(|mut d| d.copy_to_bytes(d.remaining()))))
            }),
            KindProj::Replay { data, trailers } => {
                if let Some(data) = data.take() {
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(t))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Streaming { body } => body.is_end_stream(),
            Kind::Replay { data, trailers } => data.is_none() && trailers.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Streaming { body } => body.size_hint(),
            Kind::Replay { data, .. } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}

/// Whether a query string carries an `access_token` parameter (RFC 6750 §2.3),
/// names compared after form-urlencoded decoding (so `access%5Ftoken` counts).
pub(crate) fn query_has_access_token(query: Option<&str>) -> bool {
    query.is_some_and(|q| has_access_token(q.as_bytes()))
}

fn has_access_token(form: &[u8]) -> bool {
    form_urlencoded::parse(form).any(|(name, _)| name == ACCESS_TOKEN)
}

/// Whether the request declares an `application/x-www-form-urlencoded` body
/// (media type compared case-insensitively, parameters ignored; any of
/// several `Content-Type` values counts).
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers.get_all(CONTENT_TYPE).iter().any(|value| {
        let bytes = value.as_bytes();
        let media_type = bytes.split(|&b| b == b';').next().unwrap_or_default();
        media_type
            .trim_ascii()
            .eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
    })
}

/// Whether the body is content-coded (its bytes are not the form itself).
fn is_encoded(headers: &HeaderMap) -> bool {
    headers
        .get_all(CONTENT_ENCODING)
        .iter()
        .any(|v: &HeaderValue| !v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"identity"))
}

/// Why a form body could not be passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormRefusal {
    /// The body carries `access_token`: the token is given twice.
    SecondToken,
    /// The body is over the cap, content-coded, or failed while being read:
    /// it cannot be checked, so it is not passed on.
    Unchecked,
}

/// Reads a form body of at most `cap` bytes, refuses it if it carries
/// `access_token`, and returns it for replay.
pub(crate) async fn check_form_body<B>(
    headers: &HeaderMap,
    body: B,
    cap: usize,
) -> Result<CheckedBody<B>, FormRefusal>
where
    B: Body,
{
    let cap_u64 = u64::try_from(cap).unwrap_or(u64::MAX);
    if is_encoded(headers) || body.size_hint().lower() > cap_u64 {
        return Err(FormRefusal::Unchecked);
    }
    let mut body = std::pin::pin!(body);
    let mut data = BytesMut::new();
    let mut trailers: Option<HeaderMap> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| FormRefusal::Unchecked)?;
        match frame.into_data() {
            Ok(mut chunk) => {
                if data.len().saturating_add(chunk.remaining()) > cap {
                    return Err(FormRefusal::Unchecked);
                }
                data.put(&mut chunk);
            }
            Err(frame) => {
                if let Ok(t) = frame.into_trailers() {
                    trailers.get_or_insert_with(HeaderMap::new).extend(t);
                }
            }
        }
    }
    let data = data.freeze();
    if has_access_token(&data) {
        return Err(FormRefusal::SecondToken);
    }
    Ok(CheckedBody::replay(data, trailers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameter_is_found_after_decoding() {
        assert!(query_has_access_token(Some("access_token=abc")));
        assert!(query_has_access_token(Some("a=1&access_token=")));
        assert!(query_has_access_token(Some("x=1&access%5Ftoken=abc")));
        assert!(!query_has_access_token(Some("access_tokens=abc")));
        assert!(!query_has_access_token(Some("my_access_token=abc")));
        assert!(!query_has_access_token(Some("q=access_token")));
        assert!(!query_has_access_token(None));
    }

    #[test]
    fn form_media_type() {
        let mut h = HeaderMap::new();
        assert!(!is_form(&h));
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("Application/X-WWW-Form-Urlencoded ; charset=utf-8"),
        );
        assert!(is_form(&h));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(!is_form(&h));
        h.append(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert!(is_form(&h));
    }
}
