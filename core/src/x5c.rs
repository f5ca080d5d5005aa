//! The RSA public key inside an `x5c` certificate (SPEC §4).
//!
//! Certificates are parsed only to extract their SubjectPublicKeyInfo; they are
//! not chain-validated, and their validity dates are not checked. Trust in an
//! Entra key comes from fetching the metadata over HTTPS from the configured
//! authority, not from the certificate (Entra's are self-signed).

use der::{Decode, Reader, SliceReader, asn1::UintRef};
use x509_cert::Certificate;

/// `rsaEncryption` (RFC 8017 Appendix A.1): the only SPKI algorithm we accept.
const RSA_ENCRYPTION: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Why a certificate yielded no RSA key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum X5cError {
    /// Not a DER X.509 certificate.
    NotACertificate,
    /// The certificate's key is not an RSA key.
    NotRsa,
}

/// The big-endian modulus and exponent (leading zeros stripped) of a DER
/// certificate's RSA key.
pub(crate) fn rsa_components(
    cert_der: &[u8],
) -> Result<(alloc::vec::Vec<u8>, alloc::vec::Vec<u8>), X5cError> {
    let cert = Certificate::from_der(cert_der).map_err(|_| X5cError::NotACertificate)?;
    let spki = cert.tbs_certificate().subject_public_key_info();
    if spki.algorithm.oid != RSA_ENCRYPTION {
        return Err(X5cError::NotRsa);
    }
    let key_der = spki.subject_public_key.as_bytes().ok_or(X5cError::NotRsa)?;
    // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017 A.1.1)
    let mut reader = SliceReader::new(key_der).map_err(|_| X5cError::NotRsa)?;
    let (n, e) = reader
        .sequence(|r| {
            let n = UintRef::decode(r)?;
            let e = UintRef::decode(r)?;
            Ok::<_, der::Error>((n.as_bytes().to_vec(), e.as_bytes().to_vec()))
        })
        .map_err(|_| X5cError::NotRsa)?;
    reader.finish().map_err(|_| X5cError::NotRsa)?;
    Ok((n, e))
}
