//! The generic ebRIM 3.0 pieces every XDS object is made of: slots,
//! classifications, external identifiers, object references, localized
//! strings, and the common parts of a `RegistryObject`.
//!
//! References (`id`, `lid`, `classifiedObject`, `classificationScheme`,
//! `sourceObject`…) that start with `urn:uuid:` must hold a well-formed
//! UUID, or the reader refuses the message. Whitespace inside such a
//! reference is dropped first: copies of the ITI TF-3 tables (the IPF
//! samples among them) carry line-break artifacts such as
//! `urn:uuid:58a6f841-87b3-4a3e-92fd- a8ffeff98427`. Other values (symbolic
//! ids like `Document01`, URNs) are kept as they are.
//!
//! Of a `Name` or `Description`, only the value of the first
//! `LocalizedString` is kept (XDS attributes have one; its `xml:lang` and
//! `charset` are not kept).

use crate::xml::{Element, ns};

use super::constants::{URN_UUID_PREFIX, object_type};
use super::error::{ReadError, WriteError, element_name};

/// ebRIM `LongName`: slot names and values, codes, identifiers.
pub(crate) const LONG_NAME: usize = 256;
/// ebRIM `FreeFormText`: localized strings (titles, comments).
pub(crate) const FREE_FORM_TEXT: usize = 1024;
/// ebRIM `String16`: version names.
pub(crate) const STRING16: usize = 16;

/// A named list of string values attached to a registry object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    pub name: String,
    pub values: Vec<String>,
}

impl Slot {
    pub fn new(name: impl Into<String>, values: Vec<String>) -> Self {
        Slot {
            name: name.into(),
            values,
        }
    }

    /// A slot with one value.
    pub fn single(name: impl Into<String>, value: impl Into<String>) -> Self {
        Slot::new(name, vec![value.into()])
    }

    /// The value of a slot that has exactly one.
    pub fn only_value(&self) -> Option<&str> {
        match self.values.as_slice() {
            [v] => Some(v),
            _ => None,
        }
    }

    /// The first value, for slots that carry one.
    pub fn first(&self) -> Option<&str> {
        self.values.first().map(String::as_str)
    }

    pub fn to_element(&self) -> Result<Element, WriteError> {
        check_len(
            || format!("slot name '{}'", self.name),
            &self.name,
            LONG_NAME,
            "LongName",
        )?;
        let mut list = rim("ValueList");
        for v in &self.values {
            check_len(
                || format!("a value of slot '{}'", self.name),
                v,
                LONG_NAME,
                "LongName",
            )?;
            list.push(rim("Value").with_text(v.clone()));
        }
        Ok(rim("Slot")
            .with_attr("name", self.name.clone())
            .with_child(list))
    }

    pub fn from_element(el: &Element) -> Result<Self, ReadError> {
        let name = required_attr(el, "name")?.to_owned();
        only_children(el, &[(ns::RIM, "ValueList")])?;
        let list = single_child(el, ns::RIM, "ValueList")?
            .ok_or_else(|| missing_child(el, "rim:ValueList"))?;
        only_children(list, &[(ns::RIM, "Value")])?;
        let values = list
            .children_named(ns::RIM, "Value")
            .map(|v| {
                only_children(v, &[])?;
                Ok(v.text())
            })
            .collect::<Result<_, ReadError>>()?;
        Ok(Slot { name, values })
    }
}

/// Finds a slot by name.
pub fn find_slot<'a>(slots: &'a [Slot], name: &str) -> Option<&'a Slot> {
    slots.iter().find(|s| s.name == name)
}

/// A classification as written, for the ones the XDS types do not model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Classification {
    pub id: String,
    pub classified_object: String,
    pub classification_scheme: Option<String>,
    pub classification_node: Option<String>,
    pub node_representation: Option<String>,
    pub name: Option<String>,
    pub slots: Vec<Slot>,
}

impl Classification {
    pub fn to_element(&self) -> Result<Element, WriteError> {
        let mut el = rim("Classification")
            .with_attr("id", self.id.clone())
            .with_attr("objectType", object_type::CLASSIFICATION)
            .with_attr("classifiedObject", self.classified_object.clone());
        if let Some(s) = &self.classification_scheme {
            el.set_attr("classificationScheme", s.clone());
        }
        if let Some(n) = &self.classification_node {
            el.set_attr("classificationNode", n.clone());
        }
        if let Some(r) = &self.node_representation {
            check_len(
                || format!("nodeRepresentation of classification '{}'", self.id),
                r,
                LONG_NAME,
                "LongName",
            )?;
            el.set_attr("nodeRepresentation", r.clone());
        }
        for s in &self.slots {
            el.push(s.to_element()?);
        }
        if let Some(n) = &self.name {
            el.push(international("Name", n, || {
                format!("name of classification '{}'", self.id)
            })?);
        }
        Ok(el)
    }

    pub fn from_element(el: &Element) -> Result<Self, ReadError> {
        let parts = RegistryObjectParts::read(el, &[])?;
        Ok(Classification {
            id: parts.id,
            classified_object: required_reference(el, "classifiedObject")?,
            classification_scheme: reference_attr(el, "classificationScheme")?,
            classification_node: reference_attr(el, "classificationNode")?,
            node_representation: el.attr("nodeRepresentation").map(str::to_owned),
            name: parts.name,
            slots: parts.slots,
        })
    }

    /// True when its scheme is `scheme` (UUIDs compare case-insensitively).
    pub fn has_scheme(&self, scheme: &str) -> bool {
        self.classification_scheme
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    }

    /// True when it classifies by node `node`.
    pub fn has_node(&self, node: &str) -> bool {
        self.classification_node
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(node))
    }
}

/// An external identifier as written, for the ones the XDS types do not model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExternalIdentifier {
    pub id: String,
    pub registry_object: String,
    pub identification_scheme: String,
    pub value: String,
    pub name: Option<String>,
}

impl ExternalIdentifier {
    pub fn to_element(&self) -> Result<Element, WriteError> {
        check_len(
            || format!("value of external identifier '{}'", self.id),
            &self.value,
            LONG_NAME,
            "LongName",
        )?;
        let mut el = rim("ExternalIdentifier")
            .with_attr("id", self.id.clone())
            .with_attr("objectType", object_type::EXTERNAL_IDENTIFIER)
            .with_attr("registryObject", self.registry_object.clone())
            .with_attr("identificationScheme", self.identification_scheme.clone())
            .with_attr("value", self.value.clone());
        if let Some(n) = &self.name {
            el.push(international("Name", n, || {
                format!("name of external identifier '{}'", self.id)
            })?);
        }
        Ok(el)
    }

    pub fn from_element(el: &Element) -> Result<Self, ReadError> {
        let parts = RegistryObjectParts::read(el, &[])?;
        Ok(ExternalIdentifier {
            id: parts.id,
            registry_object: required_reference(el, "registryObject")?,
            identification_scheme: required_reference(el, "identificationScheme")?,
            value: required_attr(el, "value")?.to_owned(),
            name: parts.name,
        })
    }

    /// True when its scheme is `scheme`.
    pub fn has_scheme(&self, scheme: &str) -> bool {
        self.identification_scheme.eq_ignore_ascii_case(scheme)
    }
}

/// A reference to a registry object (`rim:ObjectRef`), as returned by a
/// query with `returnType="ObjectRef"`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectRef {
    pub id: String,
    pub home: Option<String>,
}

impl ObjectRef {
    pub fn to_element(&self) -> Element {
        let mut el = rim("ObjectRef").with_attr("id", self.id.clone());
        if let Some(h) = &self.home {
            el.set_attr("home", h.clone());
        }
        el
    }

    pub fn from_element(el: &Element) -> Result<Self, ReadError> {
        only_children(el, &[(ns::RIM, "Slot")])?;
        Ok(ObjectRef {
            id: required_reference(el, "id")?,
            home: non_empty(el.attr("home")),
        })
    }
}

/// The parts common to every `RegistryObject` (ebRIM `RegistryObjectType`).
pub(crate) struct RegistryObjectParts {
    pub id: String,
    pub lid: Option<String>,
    pub status: Option<String>,
    pub object_type: Option<String>,
    pub home: Option<String>,
    pub slots: Vec<Slot>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub version_name: Option<String>,
    pub classifications: Vec<Classification>,
    pub external_identifiers: Vec<ExternalIdentifier>,
}

impl RegistryObjectParts {
    /// Reads the common parts; `extra` lists the children the subtype adds.
    pub fn read(el: &Element, extra: &[(&str, &str)]) -> Result<Self, ReadError> {
        let mut allowed: Vec<(&str, &str)> = vec![
            (ns::RIM, "Slot"),
            (ns::RIM, "Name"),
            (ns::RIM, "Description"),
            (ns::RIM, "VersionInfo"),
            (ns::RIM, "Classification"),
            (ns::RIM, "ExternalIdentifier"),
        ];
        allowed.extend_from_slice(extra);
        only_children(el, &allowed)?;
        let slots = el
            .children_named(ns::RIM, "Slot")
            .map(Slot::from_element)
            .collect::<Result<_, _>>()?;
        let name = single_child(el, ns::RIM, "Name")?
            .map(read_international)
            .transpose()?
            .flatten();
        let description = single_child(el, ns::RIM, "Description")?
            .map(read_international)
            .transpose()?
            .flatten();
        let version_name = single_child(el, ns::RIM, "VersionInfo")?
            .and_then(|v| v.attr("versionName").map(str::to_owned));
        let classifications = el
            .children_named(ns::RIM, "Classification")
            .map(Classification::from_element)
            .collect::<Result<_, _>>()?;
        let external_identifiers = el
            .children_named(ns::RIM, "ExternalIdentifier")
            .map(ExternalIdentifier::from_element)
            .collect::<Result<_, _>>()?;
        Ok(RegistryObjectParts {
            id: required_reference(el, "id")?,
            lid: reference_attr(el, "lid")?,
            status: non_empty(el.attr("status")),
            object_type: reference_attr(el, "objectType")?,
            home: non_empty(el.attr("home")),
            slots,
            name,
            description,
            version_name,
            classifications,
            external_identifiers,
        })
    }
}

/// Writes the children common to every `RegistryObject`, in schema order:
/// Slot*, Name?, Description?, VersionInfo?, Classification*,
/// ExternalIdentifier*.
pub(crate) struct RegistryObjectWriter<'a> {
    pub what: &'a str,
    pub slots: Vec<Slot>,
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub version_name: Option<&'a str>,
    pub classifications: Vec<Classification>,
    pub external_identifiers: Vec<ExternalIdentifier>,
}

impl RegistryObjectWriter<'_> {
    pub fn write_into(self, el: &mut Element) -> Result<(), WriteError> {
        for s in &self.slots {
            el.push(s.to_element()?);
        }
        if let Some(n) = self.name {
            el.push(international("Name", n, || {
                format!("title of {}", self.what)
            })?);
        }
        if let Some(d) = self.description {
            el.push(international("Description", d, || {
                format!("comments of {}", self.what)
            })?);
        }
        if let Some(v) = self.version_name {
            check_len(
                || format!("version of {}", self.what),
                v,
                STRING16,
                "String16",
            )?;
            el.push(rim("VersionInfo").with_attr("versionName", v));
        }
        for c in &self.classifications {
            el.push(c.to_element()?);
        }
        for e in &self.external_identifiers {
            el.push(e.to_element()?);
        }
        Ok(())
    }
}

// ------------------------------------------------------------------ helpers

/// An element in the rim namespace.
pub(crate) fn rim(local: &str) -> Element {
    Element::new(ns::RIM, "rim", local)
}

/// A `Name`/`Description` with one `LocalizedString`.
pub(crate) fn international(
    local: &str,
    value: &str,
    field: impl FnOnce() -> String,
) -> Result<Element, WriteError> {
    check_len(field, value, FREE_FORM_TEXT, "FreeFormText")?;
    Ok(rim(local).with_child(rim("LocalizedString").with_attr("value", value)))
}

/// The value of the first `LocalizedString` (other languages are dropped:
/// XDS attributes carry one).
pub(crate) fn read_international(el: &Element) -> Result<Option<String>, ReadError> {
    only_children(el, &[(ns::RIM, "LocalizedString")])?;
    match el.child(ns::RIM, "LocalizedString") {
        Some(ls) => Ok(Some(required_attr(ls, "value")?.to_owned())),
        None => Ok(None),
    }
}

pub(crate) fn check_len(
    field: impl FnOnce() -> String,
    value: &str,
    limit: usize,
    kind: &'static str,
) -> Result<(), WriteError> {
    // The schema limits count characters, not bytes.
    let length = value.chars().count();
    if length > limit {
        return Err(WriteError::TooLong {
            field: field(),
            length,
            limit,
            kind,
        });
    }
    Ok(())
}

pub(crate) fn expect_root(el: &Element, ns: &str, local: &str) -> Result<(), ReadError> {
    if el.is(ns, local) {
        return Ok(());
    }
    let expected = match super::error::conventional_prefix(ns) {
        Some(p) => format!("{p}:{local}"),
        None => format!("{{{ns}}}{local}"),
    };
    Err(ReadError::WrongRoot {
        expected,
        found: element_name(el),
    })
}

pub(crate) fn required_attr<'a>(el: &'a Element, name: &'static str) -> Result<&'a str, ReadError> {
    el.attr(name).ok_or_else(|| ReadError::MissingAttribute {
        element: element_name(el),
        attribute: name,
    })
}

/// An attribute that refers to a registry object or a scheme (see the
/// module documentation for the `urn:uuid:` rule).
pub(crate) fn reference_attr(
    el: &Element,
    name: &'static str,
) -> Result<Option<String>, ReadError> {
    let Some(value) = el.attr(name) else {
        return Ok(None);
    };
    let trimmed = value.trim();
    let is_uuid_ref = trimmed
        .get(..URN_UUID_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(URN_UUID_PREFIX));
    if !is_uuid_ref {
        return Ok(Some(value.to_owned()));
    }
    let compact: String = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
    let uuid_part = &compact[URN_UUID_PREFIX.len()..];
    if is_hyphenated_uuid(uuid_part) {
        Ok(Some(compact))
    } else {
        Err(ReadError::MalformedUuid {
            element: element_name(el),
            attribute: name,
            value: value.to_owned(),
        })
    }
}

pub(crate) fn required_reference(el: &Element, name: &'static str) -> Result<String, ReadError> {
    reference_attr(el, name)?.ok_or_else(|| ReadError::MissingAttribute {
        element: element_name(el),
        attribute: name,
    })
}

/// `8-4-4-4-12` hexadecimal digits.
pub(crate) fn is_hyphenated_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

pub(crate) fn parse_bool(el: &Element, name: &'static str) -> Result<Option<bool>, ReadError> {
    match el.attr(name).map(str::trim) {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(other) => Err(ReadError::MalformedBoolean {
            element: element_name(el),
            attribute: name,
            value: other.to_owned(),
        }),
    }
}

/// Refuses child elements other than `allowed` (bad nesting). Text between
/// elements is ignored.
pub(crate) fn only_children(el: &Element, allowed: &[(&str, &str)]) -> Result<(), ReadError> {
    for child in el.elements() {
        if !allowed.iter().any(|(n, l)| child.is(n, l)) {
            return Err(ReadError::UnexpectedElement {
                parent: element_name(el),
                found: element_name(child),
            });
        }
    }
    Ok(())
}

/// The child `{ns}local` when there is at most one.
pub(crate) fn single_child<'a>(
    el: &'a Element,
    ns: &str,
    local: &str,
) -> Result<Option<&'a Element>, ReadError> {
    let mut found = el.elements().filter(|e| e.is(ns, local));
    let first = found.next();
    if let Some(second) = found.next() {
        return Err(ReadError::DuplicateChild {
            parent: element_name(el),
            child: element_name(second),
        });
    }
    Ok(first)
}

pub(crate) fn missing_child(el: &Element, child: &str) -> ReadError {
    ReadError::MissingChild {
        parent: element_name(el),
        child: child.to_owned(),
    }
}

/// An attribute value, with the empty string read as absent (`home=""` in
/// the wild means "no home").
pub(crate) fn non_empty(v: Option<&str>) -> Option<String> {
    v.filter(|s| !s.is_empty()).map(str::to_owned)
}

/// A stable UUID id for a classification or external identifier we write:
/// name-based (SHA-1, as UUID version 5) on the owner's id, the role and an
/// index, so the same metadata is always written the same way and ids never
/// collide between owners.
pub(crate) fn derived_id(owner: &str, role: &str, index: usize) -> String {
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(b"dspconnect-ihe-xds\0");
    h.update(owner.as_bytes());
    h.update([0]);
    h.update(role.as_bytes());
    h.update([0]);
    h.update(index.to_string().as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let id = uuid::Builder::from_sha1_bytes(bytes).into_uuid();
    format!("{URN_UUID_PREFIX}{}", id.hyphenated())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{ParseLimits, parse_str};

    fn el(xml: &str) -> Element {
        parse_str(xml, &ParseLimits::default()).unwrap()
    }

    const RIM_NS: &str = "xmlns:rim=\"urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0\"";

    #[test]
    fn uuid_references_are_checked_and_compacted() {
        let e = el(&format!(
            "<rim:ObjectRef {RIM_NS} id=\"urn:uuid:58a6f841-87b3-4a3e-92fd- a8ffeff98427\"/>"
        ));
        assert_eq!(
            ObjectRef::from_element(&e).unwrap().id,
            "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
        );
        let e = el(&format!(
            "<rim:ObjectRef {RIM_NS} id=\"urn:uuid:58a6f841-87b3\"/>"
        ));
        assert!(matches!(
            ObjectRef::from_element(&e),
            Err(ReadError::MalformedUuid {
                attribute: "id",
                ..
            })
        ));
        let e = el(&format!("<rim:ObjectRef {RIM_NS} id=\"Document01\"/>"));
        assert_eq!(ObjectRef::from_element(&e).unwrap().id, "Document01");
    }

    #[test]
    fn slot_without_value_list_is_refused() {
        let e = el(&format!("<rim:Slot {RIM_NS} name=\"a\"/>"));
        let err = Slot::from_element(&e).unwrap_err();
        assert_eq!(
            err.to_string(),
            "<rim:Slot> has no <rim:ValueList> child, which the schema requires"
        );
    }

    #[test]
    fn slot_value_over_long_name_is_a_write_error() {
        let s = Slot::single("x", "é".repeat(257));
        assert!(matches!(
            s.to_element(),
            Err(WriteError::TooLong {
                length: 257,
                limit: 256,
                ..
            })
        ));
        assert!(Slot::single("x", "é".repeat(256)).to_element().is_ok());
    }

    #[test]
    fn derived_ids_are_stable_distinct_uuids() {
        let a = derived_id("Document01", "classCode", 0);
        assert_eq!(a, derived_id("Document01", "classCode", 0));
        assert_ne!(a, derived_id("Document01", "classCode", 1));
        assert_ne!(a, derived_id("Document02", "classCode", 0));
        assert!(is_hyphenated_uuid(&a[URN_UUID_PREFIX.len()..]));
        assert_eq!(
            &a[URN_UUID_PREFIX.len() + 14..URN_UUID_PREFIX.len() + 15],
            "5"
        );
    }
}
