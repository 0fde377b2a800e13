//! A 1 GiB document through ITI-41 and back through ITI-43, streamed on
//! both sides (long mode). The client and the sandbox share this process,
//! so its peak resident memory (VmHWM) bounds what either held: it must
//! stay far below the document's size.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use axum::body::Bytes;
use common::xds::{DOCUMENT_CID, Doc, ITI41, start};
use dspconnect_sandbox::pki::Pki;
use dspconnect_sandbox::store::demo::{DEMO_PATIENT_WITH_RELATIONS, DEMO_REFERENT_GP};
use dspconnect_sandbox::xds::REPOSITORY_PATH;
use futures_util::stream::{self, StreamExt};
use ihe::mtom::{AttachmentSpec, MtomEvent, MtomLayout, MtomLimits, MtomParser, RootPart, Segment};
use ihe::soap::Envelope;
use ihe::xds::{Checked, RegistryResponse, Sha1Hash, XdsMessage};
use ihe::xml::ParseLimits;
use sha1::Digest;

static PKI_TEMPLATE: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = common::fresh_shared_dir("xds-large-tests").join("template");
    Pki::load_or_create(&dir).expect("PKI created");
    dir
});

/// The document's size: 1 GiB, or `DSPCONNECT_LARGE_DOCUMENT_BYTES`.
fn document_size() -> u64 {
    std::env::var("DSPCONNECT_LARGE_DOCUMENT_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30)
}

const CHUNK: usize = 64 * 1024;

/// What the process may grow by while the document goes up and down:
/// buffers of the runtime, TLS, MTOM parsers and files, far below the
/// 1 GiB document.
const MAX_GROWTH_KIB: u64 = 64 * 1024;

/// Peak resident memory of this process, from /proc.
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line")
}

/// `size` pseudo-random bytes in 64 KiB chunks, hashed as they are made.
fn generated(
    size: u64,
    hasher: Arc<Mutex<sha1::Sha1>>,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    let rng = fastrand::Rng::with_seed(0x5eed);
    stream::unfold((rng, 0u64), move |(mut rng, sent)| {
        let hasher = Arc::clone(&hasher);
        async move {
            if sent >= size {
                return None;
            }
            let length = CHUNK.min((size - sent) as usize);
            let mut chunk = vec![0u8; length];
            rng.fill(&mut chunk);
            hasher.lock().expect("hasher").update(&chunk);
            Some((Ok(Bytes::from(chunk)), (rng, sent + length as u64)))
        }
    })
}

#[tokio::test]
#[ignore = "long mode: streams a 1 GiB document up and down"]
async fn a_gigabyte_document_is_streamed_in_and_out() {
    let size = document_size();
    // The PKI, the database and the demo data's password hashes are made
    // first: the measure starts once the sandbox serves.
    let (sandbox, platform) = start(&PKI_TEMPLATE).await;
    let before = vm_hwm_kib();
    let gp = platform.professional(DEMO_REFERENT_GP);
    let doc = Doc::new(DEMO_PATIENT_WITH_RELATIONS, DEMO_REFERENT_GP, "N");
    let mut request = doc.request(platform.now());
    // Hash and size are optional for the source: the repository computes
    // them while it writes the file.
    request.submission.objects.document_entries[0].hash = None;
    request.submission.objects.document_entries[0].size = None;
    let (envelope, _) = gp.envelope(
        request.to_element().expect("writable"),
        ITI41,
        REPOSITORY_PATH,
    );
    let layout = MtomLayout::new(
        RootPart {
            content_id: "root@test.dspconnect".into(),
            envelope,
        },
        vec![AttachmentSpec {
            content_id: DOCUMENT_CID.into(),
            content_type: "application/pdf".into(),
            length: size,
        }],
        Some(ITI41),
    )
    .expect("layout");
    let content_type = layout.content_type().to_owned();
    let content_length = layout.content_length();
    let sent_hash = Arc::new(Mutex::new(sha1::Sha1::new()));
    let hasher = Arc::clone(&sent_hash);
    let body = stream::iter(layout.into_segments()).flat_map(move |segment| match segment {
        Segment::Bytes(bytes) => stream::once(async move { Ok(Bytes::from(bytes)) }).boxed(),
        Segment::Attachment { length, .. } => generated(length, Arc::clone(&hasher)).boxed(),
    });
    let upload = common::pinned_client(&platform.ca_pem)
        .post(platform.url(REPOSITORY_PATH))
        .header("content-type", &content_type)
        .header("content-length", content_length)
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .expect("the upload is answered");
    assert_eq!(upload.status(), 200);
    let answer = upload.bytes().await.expect("answer");
    let payload = Envelope::parse(&answer, &ParseLimits::SOAP)
        .expect("an envelope")
        .into_payload()
        .expect("a payload");
    RegistryResponse::from_element(&payload)
        .expect("a RegistryResponse")
        .into_result()
        .expect("registered");
    let sent = Sha1Hash(sent_hash.lock().expect("hasher").clone().finalize().into());
    let uploaded = vm_hwm_kib();

    // The registry computed the same hash and size.
    let entry = gp.get_documents(&[&doc.unique_id]).await.remove(0);
    assert_eq!(entry.hash.as_ref().and_then(Checked::valid), Some(&sent));
    assert_eq!(entry.size.as_ref().and_then(Checked::valid), Some(&size));

    // ITI-43, read as it arrives.
    let request = ihe::xds::RetrieveDocumentSetRequest {
        documents: vec![ihe::xds::DocumentRequest {
            home_community_id: None,
            repository_unique_id: dspconnect_sandbox::xds::REPOSITORY_UNIQUE_ID.into(),
            document_unique_id: doc.unique_id.clone(),
        }],
    };
    let (envelope, _) = gp.envelope(
        request.to_element().expect("writable"),
        common::xds::ITI43,
        REPOSITORY_PATH,
    );
    let mut download = gp
        .send(
            REPOSITORY_PATH,
            "application/soap+xml; charset=UTF-8",
            envelope,
        )
        .await
        .expect("the retrieve is answered");
    assert_eq!(download.status(), 200);
    let announced = download.content_length();
    let content_type = download.headers()["content-type"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    let mut parser = MtomParser::new(&content_type, MtomLimits::default()).expect("MTOM");
    let mut received_hash = sha1::Sha1::new();
    let mut received = 0u64;
    let mut total = 0u64;
    let mut ended = false;
    while !ended {
        match download.chunk().await.expect("the download goes on") {
            Some(chunk) => {
                total += chunk.len() as u64;
                parser.feed(&chunk);
            }
            None => parser.end_input(),
        }
        while let Some(event) = parser.next_event().expect("valid MTOM") {
            match event {
                MtomEvent::AttachmentData { data, .. } => {
                    received_hash.update(data);
                    received += data.len() as u64;
                }
                MtomEvent::End => {
                    ended = true;
                    break;
                }
                _ => {}
            }
        }
    }
    assert_eq!(
        announced,
        Some(total),
        "Content-Length is the body's length"
    );
    assert_eq!(received, size);
    assert_eq!(Sha1Hash(received_hash.finalize().into()), sent);

    let after = vm_hwm_kib();
    println!(
        "VmHWM with the sandbox started: {before} KiB, after the upload: {uploaded} KiB, \
         after the download: {after} KiB; growth {} KiB for a {} MiB document up and down",
        after.saturating_sub(before),
        size >> 20
    );
    assert!(
        after.saturating_sub(before) < MAX_GROWTH_KIB,
        "the process grew by {} KiB while moving {size} bytes: a document is never held in memory",
        after - before
    );
    sandbox.shutdown().await.expect("clean shutdown");
    // A gigabyte is not left behind for the next run to find.
    std::fs::remove_dir_all(platform.context.data_dir()).expect("remove the data directory");
}
