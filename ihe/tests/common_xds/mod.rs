//! Shared by the `xds_*` tests: schema validation with xmllint, the shared
//! IHE material, realistic metadata, and an independent reading of the
//! *meaning* of ebRIM XML (straight from the XML tree, not through the
//! types under test) to compare an input with what we write back.

#![allow(dead_code)] // each test binary uses a part

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use ihe::xds::*;
use ihe::xml::{Element, ns};

/// The shared IHE folder (`schema/`, `samples/`): `$DSPCONNECT_IHE_DIR`,
/// or `ihe/reference` in this repository.
pub fn ihe_dir() -> PathBuf {
    let dir = std::env::var_os("DSPCONNECT_IHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("reference"));
    assert!(
        dir.join("schema/ebRS30/rim.xsd").is_file(),
        "the IHE schemas are not at {} (expected schema/ebRS30/rim.xsd there); \
         set DSPCONNECT_IHE_DIR to the folder holding schema/ and samples/",
        dir.display()
    );
    dir
}

/// Which entry schema validates a message kind (see shared/recipes.md).
#[derive(Clone, Copy, Debug)]
pub enum Schema {
    /// SubmitObjectsRequest.
    Lcm,
    /// AdhocQueryRequest / AdhocQueryResponse.
    Query,
    /// RegistryResponse.
    Rs,
    /// ProvideAndRegister and Retrieve (XOP infoset form).
    Repository,
}

impl Schema {
    pub fn path(self) -> PathBuf {
        let rel = match self {
            Schema::Lcm => "schema/ebRS30/lcm.xsd",
            Schema::Query => "schema/ebRS30/query.xsd",
            Schema::Rs => "schema/ebRS30/rs.xsd",
            Schema::Repository => "schema/IHE/XDS.b_DocumentRepository.xsd",
        };
        ihe_dir().join(rel)
    }

    /// The schema for a message with this root element.
    pub fn for_root(ns_uri: &str, local: &str) -> Option<Schema> {
        Some(match (ns_uri, local) {
            (ns::LCM, "SubmitObjectsRequest") => Schema::Lcm,
            (ns::QUERY, "AdhocQueryRequest" | "AdhocQueryResponse") => Schema::Query,
            (ns::RS, "RegistryResponse") => Schema::Rs,
            (
                ns::XDSB,
                "ProvideAndRegisterDocumentSetRequest"
                | "RetrieveDocumentSetRequest"
                | "RetrieveDocumentSetResponse",
            ) => Schema::Repository,
            _ => return None,
        })
    }
}

/// Runs `xmllint --noout --schema` on `xml`; the error output on failure.
pub fn xmllint(xml: &[u8], schema: Schema) -> Result<(), String> {
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(xml).expect("write temporary file");
    let out = match Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema.path())
        .arg(file.path())
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "xmllint is not installed (Debian package libxml2-utils; scripts/test.sh installs it)"
        ),
        Err(e) => panic!("cannot run xmllint: {e}"),
    };
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

pub fn assert_valid(xml: &[u8], schema: Schema, what: &str) {
    if let Err(e) = xmllint(xml, schema) {
        panic!(
            "{what} does not validate against {}:\n{e}\n--- document ---\n{}",
            schema.path().display(),
            String::from_utf8_lossy(xml)
        );
    }
}

/// Writes a message, checks it against its schema, and returns the bytes.
pub fn write_valid<M: XdsMessage>(msg: &M, what: &str) -> Vec<u8> {
    let xml = msg
        .to_xml()
        .unwrap_or_else(|e| panic!("{what}: cannot write: {e}"));
    let schema = Schema::for_root(M::ROOT.0, M::ROOT.1).expect("a schema for every message kind");
    assert_valid(&xml, schema, what);
    xml
}

// ------------------------------------------------------------ test data

pub const PATIENT: &str = "1893120105732^^^&1.3.182.4.4&ISO";

pub fn author() -> Author {
    Author {
        person: Some("2854201234^Muller^Anne^^^Dr^^^&1.3.182.2.4.2&ISO".into()),
        institutions: vec!["Cabinet Muller^^^^^^^^^1.3.182.4.10.99".into()],
        roles: vec!["Médecin référent".into()],
        specialties: vec!["General practice^^^&1.3.182.4.12&ISO".into()],
        telecom: vec!["^^Internet^anne.muller@example.lu".into()],
        extra_slots: vec![],
    }
}

/// A DocumentEntry with every attribute set, including a malformed time
/// kept as received, the patient's consent statement in an extension slot
/// and characters that need escaping.
pub fn full_entry(id: &str) -> DocumentEntry {
    DocumentEntry {
        entry_uuid: id.into(),
        logical_id: None,
        version: None,
        unique_id: Some("1.3.182.4.99.1.20240512.1".into()),
        patient_id: Some(PATIENT.into()),
        source_patient_id: Some("4711^^^&1.3.182.4.10.99.1&ISO".into()),
        source_patient_info: vec![
            "PID-3|4711^^^&1.3.182.4.10.99.1&ISO".into(),
            "PID-5|Dupont^Émile".into(),
        ],
        mime_type: Some("application/pdf".into()),
        title: Some("Compte rendu <consultation> & \"suivi\" d'Émile".into()),
        comments: Some("Ligne 1\nLigne 2\twith tab".into()),
        class_code: Some(Code::new(
            "11488-4",
            "2.16.840.1.113883.6.1",
            "Consultation note",
        )),
        type_code: Some(Code::new(
            "34133-9",
            "2.16.840.1.113883.6.1",
            "Summary of episode note",
        )),
        format_code: Some(Code::new(
            "urn:ihe:iti:xds:2017:mimeTypeSufficient",
            "1.3.6.1.4.1.19376.1.2.3",
            "mimeType Sufficient",
        )),
        practice_setting_code: Some(Code::new(
            "394802001",
            "2.16.840.1.113883.6.96",
            "General medicine",
        )),
        healthcare_facility_type_code: Some(Code::new("GP", "1.3.182.4.7", "Cabinet médical")),
        confidentiality_codes: vec![Code::new("N", "2.16.840.1.113883.5.25", "Normal")],
        event_codes: vec![
            Code::new("E1", "1.3.182.4.8", "Event one"),
            Code::new("E2", "1.3.182.4.8", "Event two"),
        ],
        creation_time: Some(Dtm::parse("20240512103000").unwrap().into()),
        service_start_time: Some(Dtm::parse("202405121000").unwrap().into()),
        service_stop_time: Some(Checked::Malformed {
            raw: "2024-05-12".into(),
            problem: Dtm::parse("2024-05-12").unwrap_err().to_string(),
        }),
        language_code: Some("fr-LU".into()),
        hash: Some(Sha1Hash::of(b"%PDF-1.4 test").into()),
        size: Some(13u64.into()),
        authors: vec![author()],
        legal_authenticator: Some("2854201234^Muller^Anne^^^Dr^^^&1.3.182.2.4.2&ISO".into()),
        repository_unique_id: Some("1.3.182.4.1.1".into()),
        availability_status: Some(AvailabilityStatus::Approved),
        home_community_id: Some("urn:oid:1.3.182.4".into()),
        object_type: Some(DocumentEntryType::Stable),
        extra_slots: vec![Slot::single(
            "urn:dspconnect:patientInformedConsent",
            "Patient informed and agrees (2854201234, 20240512103000)",
        )],
        other_classifications: vec![],
        other_external_identifiers: vec![],
    }
}

pub fn submission_set(id: &str) -> SubmissionSet {
    SubmissionSet {
        entry_uuid: id.into(),
        unique_id: Some("1.3.182.4.99.2.20240512.1".into()),
        source_id: Some("1.3.182.4.99".into()),
        patient_id: Some(PATIENT.into()),
        submission_time: Some(Dtm::parse("20240512103100").unwrap().into()),
        content_type_code: Some(Code::new(
            "11488-4",
            "2.16.840.1.113883.6.1",
            "Consultation note",
        )),
        authors: vec![author()],
        title: Some("Envoi DSP".into()),
        comments: None,
        intended_recipients: vec!["^Weber^Paul^^^^^^&1.3.182.2.4.2&ISO".into()],
        availability_status: None,
        home_community_id: None,
        extra_slots: vec![],
        other_classifications: vec![],
        other_external_identifiers: vec![],
    }
}

pub fn submission(entry: DocumentEntry, set: SubmissionSet) -> SubmitObjectsRequest {
    let member =
        Association::has_member("Assoc01", set.entry_uuid.clone(), entry.entry_uuid.clone());
    SubmitObjectsRequest {
        objects: RegistryObjectList {
            submission_sets: vec![set],
            document_entries: vec![entry],
            associations: vec![member],
            ..RegistryObjectList::default()
        },
        request_slots: vec![],
    }
}

// ------------------------------------------------------------ meaning

/// What an ebRIM message says, read straight from the XML tree: each fact
/// as a sorted, normalized string, so that two messages that say the same
/// thing in different layouts compare equal.
#[derive(Debug, PartialEq, Eq, Default)]
pub struct Meaning {
    pub objects: Vec<String>,
    pub slots: Vec<String>,
    pub classifications: Vec<String>,
    pub external_identifiers: Vec<String>,
    pub associations: Vec<String>,
    pub other: Vec<String>,
}

impl Meaning {
    pub fn total(&self) -> usize {
        self.objects.len()
            + self.slots.len()
            + self.classifications.len()
            + self.external_identifiers.len()
            + self.associations.len()
            + self.other.len()
    }
}

/// A reference with `urn:uuid:` compared without whitespace and case.
fn norm_ref(v: &str) -> String {
    let t = v.trim();
    if t.to_ascii_lowercase().starts_with("urn:uuid:") {
        t.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase()
    } else {
        t.to_owned()
    }
}

fn attr(el: &Element, name: &str) -> String {
    el.attr(name).map(norm_ref).unwrap_or_default()
}

fn localized(el: &Element, local: &str) -> String {
    el.child(ns::RIM, local)
        .and_then(|n| n.child(ns::RIM, "LocalizedString"))
        .and_then(|ls| ls.attr("value"))
        .unwrap_or_default()
        .to_owned()
}

fn slots_of(el: &Element) -> Vec<String> {
    let mut v: Vec<String> = el
        .children_named(ns::RIM, "Slot")
        .map(|s| {
            let values: Vec<String> = s
                .child(ns::RIM, "ValueList")
                .map(|l| {
                    l.children_named(ns::RIM, "Value")
                        .map(|v| v.text())
                        .collect()
                })
                .unwrap_or_default();
            format!("{}={:?}", s.attr("name").unwrap_or_default(), values)
        })
        .collect();
    v.sort();
    v
}

pub fn meaning(root: &Element) -> Meaning {
    let mut m = Meaning::default();
    let mut walk: Vec<&Element> = vec![root];
    walk.extend(root.descendants());
    for el in walk {
        if el.ns.as_deref() == Some(ns::RIM) {
            match el.local.as_str() {
                "ExtrinsicObject" => {
                    let id = attr(el, "id");
                    m.objects.push(format!(
                        "ExtrinsicObject id={id} objectType={} mimeType={} status={} lid={} home={} title={:?} comments={:?} version={}",
                        attr(el, "objectType"),
                        attr(el, "mimeType"),
                        attr(el, "status"),
                        attr(el, "lid"),
                        attr(el, "home"),
                        localized(el, "Name"),
                        localized(el, "Description"),
                        el.child(ns::RIM, "VersionInfo").and_then(|v| v.attr("versionName")).unwrap_or_default(),
                    ));
                    for s in slots_of(el) {
                        m.slots.push(format!("{id}: {s}"));
                    }
                }
                "RegistryPackage" => {
                    let id = attr(el, "id");
                    m.objects.push(format!(
                        "RegistryPackage id={id} status={} home={} title={:?} comments={:?}",
                        attr(el, "status"),
                        attr(el, "home"),
                        localized(el, "Name"),
                        localized(el, "Description"),
                    ));
                    for s in slots_of(el) {
                        m.slots.push(format!("{id}: {s}"));
                    }
                }
                "Classification" => m.classifications.push(format!(
                    "on={} scheme={} node={} code={:?} name={:?} slots={:?}",
                    attr(el, "classifiedObject"),
                    attr(el, "classificationScheme"),
                    attr(el, "classificationNode"),
                    // absent and "" are the same (author classifications)
                    el.attr("nodeRepresentation").unwrap_or_default(),
                    localized(el, "Name"),
                    slots_of(el),
                )),
                "ExternalIdentifier" => m.external_identifiers.push(format!(
                    "on={} scheme={} value={:?} name={:?}",
                    attr(el, "registryObject"),
                    attr(el, "identificationScheme"),
                    el.attr("value").unwrap_or_default(),
                    localized(el, "Name"),
                )),
                "Association" => m.associations.push(format!(
                    "id={} type={} {} -> {} status={} slots={:?}",
                    attr(el, "id"),
                    attr(el, "associationType"),
                    attr(el, "sourceObject"),
                    attr(el, "targetObject"),
                    attr(el, "status"),
                    slots_of(el),
                )),
                "ObjectRef" => m.objects.push(format!(
                    "ObjectRef id={} home={}",
                    attr(el, "id"),
                    attr(el, "home")
                )),
                "AdhocQuery" => {
                    m.objects.push(format!(
                        "AdhocQuery id={} home={}",
                        attr(el, "id"),
                        attr(el, "home")
                    ));
                    for s in slots_of(el) {
                        m.slots.push(format!("query: {s}"));
                    }
                }
                _ => {}
            }
        } else if el.is(ns::QUERY, "ResponseOption") {
            m.other.push(format!(
                "ResponseOption returnType={} composed={}",
                attr(el, "returnType"),
                attr(el, "returnComposedObjects")
            ));
        } else if el.is(ns::XDSB, "Document") {
            m.other.push(format!(
                "Document id={} content={:?}",
                attr(el, "id"),
                el.text().split_whitespace().collect::<String>()
            ));
        } else if el.is(ns::RS, "RegistryError") {
            m.other.push(format!(
                "RegistryError code={} context={:?} location={:?} severity={}",
                attr(el, "errorCode"),
                el.attr("codeContext").unwrap_or_default(),
                el.attr("location").unwrap_or_default(),
                el.attr("severity")
                    .unwrap_or("urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"),
            ));
        }
    }
    for v in [
        &mut m.objects,
        &mut m.slots,
        &mut m.classifications,
        &mut m.external_identifiers,
        &mut m.associations,
        &mut m.other,
    ] {
        v.sort();
    }
    m
}

/// Compares two meanings field by field, naming the first difference.
pub fn assert_same_meaning(original: &Meaning, written: &Meaning, what: &str) {
    let fields: BTreeMap<&str, (&Vec<String>, &Vec<String>)> = BTreeMap::from([
        ("objects", (&original.objects, &written.objects)),
        ("slots", (&original.slots, &written.slots)),
        (
            "classifications",
            (&original.classifications, &written.classifications),
        ),
        (
            "external identifiers",
            (
                &original.external_identifiers,
                &written.external_identifiers,
            ),
        ),
        (
            "associations",
            (&original.associations, &written.associations),
        ),
        ("other", (&original.other, &written.other)),
    ]);
    for (name, (a, b)) in fields {
        if a != b {
            let missing: Vec<_> = a.iter().filter(|x| !b.contains(x)).collect();
            let added: Vec<_> = b.iter().filter(|x| !a.contains(x)).collect();
            panic!("{what}: {name} differ\n  lost: {missing:#?}\n  added: {added:#?}");
        }
    }
}
