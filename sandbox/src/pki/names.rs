//! Rebuilding an issuer's distinguished name from its stored certificate, so
//! that certificates issued after a restart name their issuer with exactly
//! the bytes of the CA certificate's subject (chain building compares them
//! byte for byte).

use rcgen::string::{Ia5String, PrintableString};
use rcgen::{DistinguishedName, DnType, DnValue};
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::x509::X509Name;

/// A subject attribute this rebuilding does not support.
#[derive(Debug, thiserror::Error)]
#[error("subject attribute {oid} of the stored CA certificate cannot be reproduced: {reason}")]
pub struct UnsupportedName {
    pub oid: String,
    pub reason: &'static str,
}

/// The rcgen form of a parsed X.509 name: same attributes, same order, same
/// string types.
pub fn distinguished_name_of(name: &X509Name<'_>) -> Result<DistinguishedName, UnsupportedName> {
    let mut dn = DistinguishedName::new();
    for attribute in name.iter_attributes() {
        let oid = attribute.attr_type();
        let unsupported = |reason| UnsupportedName {
            oid: oid.to_id_string(),
            reason,
        };
        let components: Vec<u64> = oid
            .iter()
            .ok_or_else(|| unsupported("OID component larger than 64 bits"))?
            .collect();
        let text = attribute
            .as_str()
            .map_err(|_| unsupported("value is not a string"))?;
        let value = match attribute.attr_value().tag() {
            Tag::PrintableString => DnValue::PrintableString(
                PrintableString::try_from(text)
                    .map_err(|_| unsupported("invalid PrintableString"))?,
            ),
            Tag::Ia5String => DnValue::Ia5String(
                Ia5String::try_from(text).map_err(|_| unsupported("invalid IA5String"))?,
            ),
            Tag::Utf8String => DnValue::Utf8String(text.to_owned()),
            _ => return Err(unsupported("string type other than Printable, IA5 or UTF8")),
        };
        let kind = DnType::CustomDnType(components);
        if dn.get(&kind).is_some() {
            return Err(unsupported("attribute repeated"));
        }
        dn.push(kind, value);
    }
    Ok(dn)
}
