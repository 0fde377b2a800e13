//! SOAP 1.2 faults (SOAP 1.2 part 1, §5.4): typed for the client, and a
//! writer for the sandbox.

use std::fmt;

use super::{Envelope, SOAP_PREFIX, SoapError};
use crate::xml::{Element, NsScope, ns};

/// A qualified name used as a value (fault subcodes such as
/// `wsse:InvalidSecurity`). Two names are equal when their namespace and
/// local name are; the prefix only says how to write it.
#[derive(Clone, Debug, Eq)]
pub struct QName {
    pub ns: String,
    pub prefix: String,
    pub local: String,
}

impl QName {
    pub fn new(ns: &str, prefix: &str, local: &str) -> Self {
        QName {
            ns: ns.to_owned(),
            prefix: prefix.to_owned(),
            local: local.to_owned(),
        }
    }

    /// True when this is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }
}

impl PartialEq for QName {
    fn eq(&self, other: &Self) -> bool {
        self.ns == other.ns && self.local == other.local
    }
}

impl fmt::Display for QName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}{}", self.ns, self.local)
    }
}

/// The top-level fault codes SOAP 1.2 defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultCode {
    VersionMismatch,
    MustUnderstand,
    DataEncodingUnknown,
    /// The message was wrong (the client's fault).
    Sender,
    /// The service failed (the server's fault).
    Receiver,
}

impl FaultCode {
    pub fn local_name(self) -> &'static str {
        match self {
            FaultCode::VersionMismatch => "VersionMismatch",
            FaultCode::MustUnderstand => "MustUnderstand",
            FaultCode::DataEncodingUnknown => "DataEncodingUnknown",
            FaultCode::Sender => "Sender",
            FaultCode::Receiver => "Receiver",
        }
    }

    fn from_local_name(local: &str) -> Option<Self> {
        Some(match local {
            "VersionMismatch" => FaultCode::VersionMismatch,
            "MustUnderstand" => FaultCode::MustUnderstand,
            "DataEncodingUnknown" => FaultCode::DataEncodingUnknown,
            "Sender" => FaultCode::Sender,
            "Receiver" => FaultCode::Receiver,
            _ => return None,
        })
    }
}

/// One `Reason/Text` in a given language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultReason {
    pub lang: String,
    pub text: String,
}

/// A SOAP 1.2 fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub code: FaultCode,
    /// Subcodes from the outermost to the innermost.
    pub subcodes: Vec<QName>,
    /// At least one reason; the first is the one shown.
    pub reasons: Vec<FaultReason>,
    pub node: Option<String>,
    pub role: Option<String>,
    /// The entries of `Detail` (none: no Detail element).
    pub detail: Vec<Element>,
}

impl Fault {
    /// A fault with one English reason.
    pub fn new(code: FaultCode, reason: impl Into<String>) -> Self {
        Fault {
            code,
            subcodes: Vec::new(),
            reasons: vec![FaultReason {
                lang: "en".into(),
                text: reason.into(),
            }],
            node: None,
            role: None,
            detail: Vec::new(),
        }
    }

    /// Adds a subcode below the existing ones.
    pub fn with_subcode(mut self, subcode: QName) -> Self {
        self.subcodes.push(subcode);
        self
    }

    /// Adds a Detail entry.
    pub fn with_detail(mut self, entry: Element) -> Self {
        self.detail.push(entry);
        self
    }

    /// The first reason text.
    pub fn reason(&self) -> &str {
        self.reasons.first().map(|r| r.text.as_str()).unwrap_or("")
    }

    /// True when one of the subcodes is `{ns}local`.
    pub fn has_subcode(&self, ns: &str, local: &str) -> bool {
        self.subcodes.iter().any(|q| q.is(ns, local))
    }

    /// The `soap:Fault` element.
    pub fn to_element(&self) -> Element {
        let mut code = Element::new(ns::SOAP12, SOAP_PREFIX, "Code").with_child(
            Element::new(ns::SOAP12, SOAP_PREFIX, "Value")
                .with_text(format!("{SOAP_PREFIX}:{}", self.code.local_name())),
        );
        // Subcodes nest: build from the innermost out.
        let mut inner: Option<Element> = None;
        for q in self.subcodes.iter().rev() {
            // The value's prefix must not clash with the prefix of the Value
            // element itself.
            let prefix = if q.prefix.is_empty() || (q.prefix == SOAP_PREFIX && q.ns != ns::SOAP12) {
                "sc"
            } else {
                q.prefix.as_str()
            };
            let mut sub = Element::new(ns::SOAP12, SOAP_PREFIX, "Subcode").with_child(
                Element::new(ns::SOAP12, SOAP_PREFIX, "Value")
                    .with_decl(prefix, &q.ns)
                    .with_text(format!("{prefix}:{}", q.local)),
            );
            if let Some(i) = inner.take() {
                sub.push(i);
            }
            inner = Some(sub);
        }
        if let Some(i) = inner {
            code.push(i);
        }
        let mut reason = Element::new(ns::SOAP12, SOAP_PREFIX, "Reason");
        for r in &self.reasons {
            reason.push(
                Element::new(ns::SOAP12, SOAP_PREFIX, "Text")
                    .with_attr_ns(ns::XML, "xml", "lang", r.lang.clone())
                    .with_text(r.text.clone()),
            );
        }
        let mut fault = Element::new(ns::SOAP12, SOAP_PREFIX, "Fault")
            .with_child(code)
            .with_child(reason);
        if let Some(n) = &self.node {
            fault.push(Element::new(ns::SOAP12, SOAP_PREFIX, "Node").with_text(n.clone()));
        }
        if let Some(r) = &self.role {
            fault.push(Element::new(ns::SOAP12, SOAP_PREFIX, "Role").with_text(r.clone()));
        }
        if !self.detail.is_empty() {
            let mut detail = Element::new(ns::SOAP12, SOAP_PREFIX, "Detail");
            for d in &self.detail {
                detail.push(d.clone());
            }
            fault.push(detail);
        }
        fault
    }

    /// An envelope whose Body is this fault.
    pub fn to_envelope(&self) -> Envelope {
        Envelope::new(self.to_element())
    }

    /// Reads a `soap:Fault` element; `parent_scope` is the namespace scope
    /// of its parent (the Body), needed to resolve the QName values.
    pub fn from_element(fault: &Element, parent_scope: &NsScope) -> Result<Fault, SoapError> {
        let scope = parent_scope.inside(fault);
        let code_el = required(fault, "Code")?;
        let code_scope = scope.inside(code_el);
        let value = required(code_el, "Value")?;
        let code_name = resolve_qname(&value.text(), &code_scope.inside(value))?;
        if code_name.ns != ns::SOAP12 {
            return Err(malformed(format!(
                "fault code {code_name} is not in the SOAP 1.2 namespace"
            )));
        }
        let code = FaultCode::from_local_name(&code_name.local)
            .ok_or_else(|| malformed(format!("unknown fault code {code_name}")))?;

        let mut subcodes = Vec::new();
        let mut level = code_el;
        let mut level_scope = code_scope;
        while let Some(sub) = level.child(ns::SOAP12, "Subcode") {
            let sub_scope = level_scope.inside(sub);
            let value = required(sub, "Value")?;
            subcodes.push(resolve_qname(&value.text(), &sub_scope.inside(value))?);
            level = sub;
            level_scope = sub_scope;
        }

        let reason_el = required(fault, "Reason")?;
        let reasons: Vec<FaultReason> = reason_el
            .children_named(ns::SOAP12, "Text")
            .map(|t| FaultReason {
                lang: t.attr_ns(ns::XML, "lang").unwrap_or("").to_owned(),
                text: t.text(),
            })
            .collect();
        if reasons.is_empty() {
            return Err(malformed("Reason has no Text".into()));
        }
        let text_of = |local: &str| {
            fault
                .child(ns::SOAP12, local)
                .map(|e| e.text().trim().to_owned())
        };
        Ok(Fault {
            code,
            subcodes,
            reasons,
            node: text_of("Node"),
            role: text_of("Role"),
            detail: fault
                .child(ns::SOAP12, "Detail")
                .map(|d| d.elements().cloned().collect())
                .unwrap_or_default(),
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SOAP fault {}", self.code.local_name())?;
        for s in &self.subcodes {
            write!(f, " / {}", s.local)?;
        }
        write!(f, ": {}", self.reason())
    }
}

fn malformed(problem: String) -> SoapError {
    SoapError::MalformedFault { problem }
}

fn required<'a>(parent: &'a Element, local: &'static str) -> Result<&'a Element, SoapError> {
    parent
        .child(ns::SOAP12, local)
        .ok_or_else(|| malformed(format!("{} has no {local}", parent.local)))
}

fn resolve_qname(text: &str, scope: &NsScope) -> Result<QName, SoapError> {
    let text = text.trim();
    let (prefix, local) = match text.split_once(':') {
        Some((p, l)) => (p, l),
        None => ("", text),
    };
    if local.is_empty() {
        return Err(malformed("empty fault code value".into()));
    }
    let uri = scope
        .lookup(prefix)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| malformed(format!("fault code '{text}' uses an undeclared prefix")))?;
    Ok(QName::new(uri, prefix, local))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::ParseLimits;

    #[test]
    fn written_fault_reads_back_as_a_typed_error() {
        let fault = Fault::new(FaultCode::Sender, "signature <invalid> & refused")
            .with_subcode(QName::new(ns::WSSE, "wsse", "InvalidSecurity"))
            .with_subcode(QName::new("urn:inner", "", "Detailed"))
            .with_detail(Element::new("urn:d", "d", "Why").with_text("digest"));
        let bytes = fault.to_envelope().to_bytes();
        match Envelope::parse(&bytes, &ParseLimits::default()) {
            Err(SoapError::Fault(got)) => {
                assert_eq!(
                    (got.code, &got.subcodes, &got.reasons),
                    (fault.code, &fault.subcodes, &fault.reasons)
                );
                assert_eq!(
                    crate::xml::to_string(&got.detail[0]),
                    r#"<d:Why xmlns:d="urn:d">digest</d:Why>"#
                );
                assert!(got.has_subcode(ns::WSSE, "InvalidSecurity"));
                assert_eq!(
                    got.to_string(),
                    "SOAP fault Sender / InvalidSecurity / Detailed: signature <invalid> & refused"
                );
            }
            other => panic!("expected a fault, got {other:?}"),
        }
    }

    #[test]
    fn reads_a_foreign_fault_with_its_own_prefixes() {
        let doc = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope">
          <e:Body><e:Fault>
            <e:Code><e:Value>e:Receiver</e:Value>
              <e:Subcode><e:Value xmlns:x="urn:x">x:Busy</e:Value></e:Subcode></e:Code>
            <e:Reason><e:Text xml:lang="fr">occupé</e:Text><e:Text xml:lang="en">busy</e:Text></e:Reason>
            <e:Role>urn:role</e:Role>
          </e:Fault></e:Body></e:Envelope>"#;
        let Err(SoapError::Fault(f)) = Envelope::parse(doc.as_bytes(), &ParseLimits::default())
        else {
            panic!("expected a fault");
        };
        assert_eq!(f.code, FaultCode::Receiver);
        assert_eq!(f.subcodes, vec![QName::new("urn:x", "x", "Busy")]);
        assert_eq!(f.reason(), "occupé");
        assert_eq!(f.reasons[1].lang, "en");
        assert_eq!(f.role.as_deref(), Some("urn:role"));
    }

    #[test]
    fn refuses_malformed_faults() {
        let s = ns::SOAP12;
        let cases = [
            format!(
                r#"<e:Envelope xmlns:e="{s}"><e:Body><e:Fault><e:Reason><e:Text xml:lang="en">r</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>"#
            ),
            format!(
                r#"<e:Envelope xmlns:e="{s}"><e:Body><e:Fault><e:Code><e:Value>e:Nope</e:Value></e:Code><e:Reason><e:Text xml:lang="en">r</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>"#
            ),
            format!(
                r#"<e:Envelope xmlns:e="{s}"><e:Body><e:Fault><e:Code><e:Value>zz:Sender</e:Value></e:Code><e:Reason><e:Text xml:lang="en">r</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>"#
            ),
            format!(
                r#"<e:Envelope xmlns:e="{s}"><e:Body><e:Fault><e:Code><e:Value>e:Sender</e:Value></e:Code><e:Reason></e:Reason></e:Fault></e:Body></e:Envelope>"#
            ),
            format!(
                r#"<e:Envelope xmlns:e="{s}"><e:Body><e:Fault><e:Code><e:Value>e:Sender</e:Value></e:Code><e:Reason><e:Text xml:lang="en">r</e:Text></e:Reason></e:Fault><x/></e:Body></e:Envelope>"#
            ),
        ];
        for doc in cases {
            assert!(
                matches!(
                    Envelope::parse(doc.as_bytes(), &ParseLimits::default()),
                    Err(SoapError::MalformedFault { .. })
                ),
                "{doc}"
            );
        }
    }
}
