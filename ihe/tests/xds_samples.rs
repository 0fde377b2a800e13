//! Every sample in the shared `samples/` folder parses into our types and,
//! written back, still validates and says the same thing.

mod common_xds;

use std::path::{Path, PathBuf};

use common_xds::*;
use ihe::xds::*;
use ihe::xml::{self, Element, ParseLimits, ns};

fn samples() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "xml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&ihe_dir().join("samples"), &mut out);
    out.sort();
    assert!(
        !out.is_empty(),
        "no .xml sample under {}",
        ihe_dir().join("samples").display()
    );
    out
}

/// Parses with our types and writes back; checks that the written form
/// validates and says the same as the original, and that reading it again
/// gives the same values.
fn round_trip<M: XdsMessage + PartialEq + std::fmt::Debug>(root: &Element, name: &str) {
    let parsed = M::from_element(root).unwrap_or_else(|e| panic!("{name}: does not parse: {e}"));
    let written = write_valid(&parsed, &format!("{name} written back"));
    let written_root = xml::parse(&written, &ParseLimits::default()).expect("written form is XML");
    let before = meaning(root);
    assert!(
        before.total() > 3,
        "{name}: the meaning extractor found almost nothing: {before:?}"
    );
    assert_same_meaning(&before, &meaning(&written_root), name);
    let again = M::from_element(&written_root)
        .unwrap_or_else(|e| panic!("{name}: our own output does not parse: {e}"));
    assert_eq!(
        again, parsed,
        "{name}: parse(write(parse(x))) differs from parse(x)"
    );
}

#[test]
fn every_sample_parses_validates_when_written_back_and_keeps_its_meaning() {
    let mut kinds = Vec::new();
    for path in samples() {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&path).expect("read sample");
        let root =
            xml::parse(&bytes, &ParseLimits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ns_uri = root.ns.clone().unwrap_or_default();
        let schema = Schema::for_root(&ns_uri, &root.local).unwrap_or_else(|| {
            panic!(
                "{name}: no message kind for root <{}> in {ns_uri}",
                root.local
            )
        });
        // The samples are valid to start with; otherwise the comparison
        // below would prove nothing about our writer.
        assert_valid(&bytes, schema, &name);

        match (ns_uri.as_str(), root.local.as_str()) {
            (ns::LCM, _) => round_trip::<SubmitObjectsRequest>(&root, &name),
            (ns::QUERY, "AdhocQueryRequest") => round_trip::<AdhocQueryRequest>(&root, &name),
            (ns::QUERY, _) => round_trip::<AdhocQueryResponse>(&root, &name),
            (ns::RS, _) => round_trip::<RegistryResponse>(&root, &name),
            (_, "ProvideAndRegisterDocumentSetRequest") => {
                round_trip::<ProvideAndRegisterRequest>(&root, &name)
            }
            (_, "RetrieveDocumentSetRequest") => {
                round_trip::<RetrieveDocumentSetRequest>(&root, &name)
            }
            _ => round_trip::<RetrieveDocumentSetResponse>(&root, &name),
        }
        kinds.push(root.local.clone());
    }
    assert!(kinds.iter().any(|k| k == "SubmitObjectsRequest"));
    assert!(kinds.iter().any(|k| k == "AdhocQueryRequest"));
}

fn sample(name: &str) -> Vec<u8> {
    let path = samples()
        .into_iter()
        .find(|p| p.file_name().is_some_and(|f| f == name))
        .unwrap_or_else(|| panic!("sample {name} not found"));
    std::fs::read(path).expect("read sample")
}

#[test]
fn the_injection_looking_patient_id_is_carried_as_data() {
    let request =
        AdhocQueryRequest::from_xml(&sample("iti18request.xml"), &ParseLimits::default()).unwrap();
    // The raw slot value is kept exactly.
    assert_eq!(
        request.parameters[0].values,
        vec!["'593603^^^&2.16.756.5.33.2.5.1.5.1&ISO''%20and%20611%3d611--%20".to_owned()]
    );
    let StoredQuery::FindDocuments(q) = request.stored_query().unwrap() else {
        panic!("iti18request.xml is a FindDocuments query");
    };
    // One string, the doubled quote unescaped, nothing after it interpreted.
    assert_eq!(
        q.patient_id,
        "593603^^^&2.16.756.5.33.2.5.1.5.1&ISO'%20and%20611%3d611--%20"
    );
    assert_eq!(q.statuses, vec![AvailabilityStatus::Approved]);
    // One time quoted, one not: both read as times.
    assert_eq!(
        q.creation_time_from,
        Some(Dtm::parse("20221015151515").unwrap())
    );
    assert_eq!(
        q.creation_time_to,
        Some(Dtm::parse("20221016161616").unwrap())
    );
    assert!(q.other_parameters.is_empty());
    assert_eq!(request.return_type, ReturnType::LeafClass);

    // Written again, the id is one quoted literal with the quote doubled:
    // no reader can take the tail for query syntax.
    let again = AdhocQueryRequest::new(
        &StoredQuery::FindDocuments(q.clone()),
        ReturnType::LeafClass,
    )
    .unwrap();
    let slot = again
        .parameters
        .iter()
        .find(|s| s.name == "$XDSDocumentEntryPatientId")
        .unwrap();
    assert_eq!(
        slot.values,
        vec!["'593603^^^&2.16.756.5.33.2.5.1.5.1&ISO''%20and%20611%3d611--%20'".to_owned()]
    );
    let StoredQuery::FindDocuments(back) = again.stored_query().unwrap() else {
        panic!("still FindDocuments");
    };
    assert_eq!(back, q);
    write_valid(&again, "FindDocuments rebuilt from iti18request.xml");
}

#[test]
fn the_submission_sample_reads_into_typed_metadata() {
    let req = SubmitObjectsRequest::from_xml(
        &sample("SubmitObjectsRequest_ebrs30.xml"),
        &ParseLimits::default(),
    )
    .unwrap();
    let objects = &req.objects;
    let [entry] = objects.document_entries.as_slice() else {
        panic!("one entry expected: {objects:?}");
    };
    assert_eq!(entry.entry_uuid, "Document01");
    // The scheme UUIDs of this sample carry a space ("…-92fd- a8ff…"):
    // they are still recognised.
    assert_eq!(
        entry.patient_id.as_deref(),
        Some("SELF-5^^^&1.3.6.1.4.1.21367.2005.3.7&ISO")
    );
    assert_eq!(
        entry.unique_id.as_deref(),
        Some("1.3.6.1.4.1.21367.2005.3.9999.32")
    );
    assert_eq!(
        entry.creation_time,
        Some(Checked::Valid(Dtm::parse("20051224").unwrap()))
    );
    assert_eq!(
        entry.class_code.as_ref().map(|c| c.code.as_str()),
        Some("History and Physical")
    );
    assert_eq!(
        entry.confidentiality_codes,
        vec![Code::new(
            "1.3.6.1.4.1.21367.2006.7.101",
            "Connect-a-thon confidentialityCodes",
            "Clinical-Staff"
        )]
    );
    assert_eq!(entry.source_patient_info.len(), 5);
    assert_eq!(entry.authors.len(), 1);
    assert_eq!(
        entry.authors[0].institutions,
        vec!["Cleveland Clinic", "Parma Community"]
    );
    // The old spelling is not authorSpecialty: kept as received.
    assert_eq!(entry.authors[0].extra_slots[0].name, "authorSpeciality");
    assert!(entry.other_classifications.is_empty());
    assert!(entry.other_external_identifiers.is_empty());

    // The SubmissionSet classification sits next to the package here.
    let [set] = objects.submission_sets.as_slice() else {
        panic!("one submission set expected");
    };
    assert_eq!(set.source_id.as_deref(), Some("3670984664"));
    assert_eq!(
        set.patient_id.as_deref(),
        Some("SELF-5^^^&1.3.6.1.4.1.21367.2005.3.7&ISO")
    );
    assert!(set.other_classifications.is_empty());
    assert!(objects.other_objects.is_empty());

    // The IsSnapshotOf association points outside the request: read as is.
    assert_eq!(objects.associations.len(), 2);
    assert_eq!(
        objects.associations[0].submission_set_status,
        Some(SubmissionSetStatus::Original)
    );
    assert_eq!(
        objects.associations[1].association_type,
        AssociationType::IsSnapshotOf
    );
    assert_eq!(
        objects.associations[1].target,
        "urn:uuid:e0985823-dc50-45a5-a6c8-a11a829893bd"
    );
}

#[test]
fn the_update_sample_is_seen_as_a_metadata_update() {
    let req = SubmitObjectsRequest::from_xml(
        &sample("SubmitObjectsRequest_ebrs30_update.xml"),
        &ParseLimits::default(),
    )
    .unwrap();
    assert!(req.is_metadata_update());
    let updates = req.document_updates();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].previous_version, "1");
    assert_eq!(
        updates[0].entry.logical_id.as_deref(),
        Some("urn:uuid:20744602-ba65-44e9-87ee-a52303a5183e")
    );
    let entry = updates[0].entry;
    assert_eq!(entry.version.as_deref(), Some("1"));
    assert_eq!(entry.event_codes.len(), 2);
    assert_eq!(entry.size, Some(Checked::Valid(1459)));
    assert_eq!(
        entry.hash.as_ref().map(Checked::to_wire).as_deref(),
        Some("31e311402a7e717d1bede88df6b42c0b8e91ea91")
    );
    assert_eq!(entry.authors.len(), 2);
    assert_eq!(
        entry.authors[1].person.as_deref(),
        Some("^Dopplemeyer^Sherry^^^")
    );
    assert_eq!(entry.home_community_id, None, "home=\"\" reads as no home");
    let slot_names: Vec<&str> = entry.extra_slots.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(slot_names, vec!["URI", "documentAvailability"]);
    let status_change = &req.objects.associations[1];
    assert_eq!(
        status_change.association_type,
        AssociationType::UpdateAvailabilityStatus
    );
    assert_eq!(status_change.extra_slots.len(), 2);
}
