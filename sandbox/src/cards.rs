//! The demo professionals' LuxTrust test cards.
//!
//! At start, every active demo professional who has no card bound in the
//! HPD gets one: a certificate from the LuxTrust test CA with a fresh RSA
//! key and a random PIN, kept in `<data dir>/cards/<eHealth id>/` (0700,
//! files 0600, the format of [`crate::pki::CardCredentials`]) and bound to
//! them in the HPD. `dspconnect-sandbox export-card <eHealth id> <dir>`
//! copies a stored card out ([`export_card`]).
//!
//! A professional pending activation has no card yet: exporting theirs
//! issues an *unbound* card (the activation request signed with it is what
//! binds it). A card the HPD does not know (a second card of an active
//! professional) is refused at login with `f:CertificateNotBound`.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::pki::files::{self, FileError};
use crate::pki::{
    CARD_MANIFEST, CardCredentials, CardError, CardPin, CertificateError, Fingerprint, Pki,
    PkiError, Professional, Validity,
};
use crate::policy::{EHealthId, InvalidIdentifier, ProfessionalStatus};
use crate::server::{Mount, MountError, SandboxContext};
use crate::store::demo::DEMO_PROFESSIONALS;
use crate::store::{ProfessionalRecord, Store, StoreError};

/// The directory of stored cards, inside the data directory.
pub const CARDS_DIR: &str = "cards";

/// How long a card issued by the sandbox stays valid (LuxTrust cards last
/// three years).
const CARD_VALIDITY_DAYS: i64 = 3 * 365;

/// Why a card cannot be prepared or exported.
#[derive(Debug, thiserror::Error)]
pub enum CardsError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Card(#[from] CardError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    InvalidId(#[from] InvalidIdentifier),
    #[error(
        "no professional '{ehealth_id}' in the sandbox's HPD; the HPD lists: {known} \
         (start the sandbox once to create the demo professionals)"
    )]
    UnknownProfessional { ehealth_id: String, known: String },
    #[error(
        "{ehealth_id} is deactivated in the HPD: a deactivated professional gets no card; \
         reactivate the account first"
    )]
    Deactivated { ehealth_id: String },
    #[error(
        "the card bound to {ehealth_id} in the HPD (certificate {fingerprint}) is not the one \
         stored in {dir}: it was issued elsewhere, and the sandbox cannot export it"
    )]
    BoundElsewhere {
        ehealth_id: String,
        fingerprint: String,
        dir: PathBuf,
    },
    #[error("{dir} is not empty; export a card into a new or empty directory")]
    OutputNotEmpty { dir: PathBuf },
}

/// Prepares the demo cards when the sandbox starts ([`ensure_demo_cards`]);
/// serves no route. Issuing takes one RSA key generation per new card, a
/// fraction of a second each, at the first start only.
pub fn mount(ctx: &SandboxContext) -> Result<Mount, MountError> {
    ensure_demo_cards(ctx.pki(), ctx.store(), ctx.data_dir(), ctx.clock().now())?;
    Ok(Mount::new(axum::Router::new()))
}

/// The stored card directory of a professional.
pub fn card_dir(data_dir: &Path, ehealth_id: &EHealthId) -> PathBuf {
    data_dir.join(CARDS_DIR).join(ehealth_id.as_str())
}

/// Whether an exported card is the one the HPD knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardBindingState {
    /// Bound to the professional: it logs in.
    Bound,
    /// Bound, but the card was deactivated (revoked): it is refused.
    Revoked,
    /// Not bound yet: the professional is pending activation, and the
    /// activation request signed with this card binds it.
    Unbound,
}

/// A card copied out by [`export_card`].
#[derive(Debug)]
pub struct ExportedCard {
    pub credentials: CardCredentials,
    pub state: CardBindingState,
    /// Whether the card was issued by this export (otherwise it was stored).
    pub newly_issued: bool,
}

/// Issues and binds a card for every active demo professional who has none
/// bound (first start, or a store created afresh next to kept cards).
/// Returns the eHealth ids that were given a card.
pub fn ensure_demo_cards(
    pki: &Pki,
    store: &Store,
    data_dir: &Path,
    now: OffsetDateTime,
) -> Result<Vec<EHealthId>, CardsError> {
    let mut bound = Vec::new();
    for demo in DEMO_PROFESSIONALS {
        let id = EHealthId::new(demo.ehealth_id)?;
        let Some(record) = store.professional(&id)? else {
            continue;
        };
        if record.status != ProfessionalStatus::Active || !store.card_bindings_of(&id)?.is_empty() {
            continue;
        }
        let (card, _) = stored_or_new_card(pki, data_dir, &record, now)?;
        bind(store, &record, &card, now)?;
        bound.push(id);
    }
    Ok(bound)
}

/// Copies the stored card of `ehealth_id` into `out_dir` (new or empty,
/// created 0700; files 0600). An active professional without a bound card
/// gets one issued and bound first; a professional pending activation gets
/// an unbound card.
pub fn export_card(
    pki: &Pki,
    store: &Store,
    data_dir: &Path,
    ehealth_id: &str,
    out_dir: &Path,
    now: OffsetDateTime,
) -> Result<ExportedCard, CardsError> {
    let id = EHealthId::new(ehealth_id)?;
    let Some(record) = store.professional(&id)? else {
        let known: Vec<String> = store
            .professionals()?
            .into_iter()
            .map(|p| p.ehealth_id.to_string())
            .collect();
        return Err(CardsError::UnknownProfessional {
            ehealth_id: ehealth_id.to_owned(),
            known: if known.is_empty() {
                "nobody".to_owned()
            } else {
                known.join(", ")
            },
        });
    };
    if record.status == ProfessionalStatus::Deactivated {
        return Err(CardsError::Deactivated {
            ehealth_id: ehealth_id.to_owned(),
        });
    }
    let bindings = store.card_bindings_of(&id)?;
    let (card, newly_issued) = stored_or_new_card(pki, data_dir, &record, now)?;
    let fingerprint = Fingerprint::of_der(&card.certificate_der).to_string();
    let revoked_in_pki = pki.is_revoked(&card.serial)?;
    let state = match bindings.iter().find(|b| b.fingerprint == fingerprint) {
        Some(binding) if binding.revoked || revoked_in_pki => CardBindingState::Revoked,
        Some(_) => CardBindingState::Bound,
        None if record.status == ProfessionalStatus::Active && bindings.is_empty() => {
            bind(store, &record, &card, now)?;
            CardBindingState::Bound
        }
        None if record.status == ProfessionalStatus::Active => {
            return Err(CardsError::BoundElsewhere {
                ehealth_id: ehealth_id.to_owned(),
                fingerprint: bindings
                    .first()
                    .map(|b| b.fingerprint.clone())
                    .unwrap_or_default(),
                dir: card_dir(data_dir, &id),
            });
        }
        None => CardBindingState::Unbound,
    };
    copy_card(&card_dir(data_dir, &id), out_dir)?;
    Ok(ExportedCard {
        credentials: CardCredentials::load(out_dir)?,
        state,
        newly_issued,
    })
}

/// The professional's stored card if it is theirs and still valid for this
/// PKI; otherwise a new one, stored in its place. `true` when new.
fn stored_or_new_card(
    pki: &Pki,
    data_dir: &Path,
    record: &ProfessionalRecord,
    now: OffsetDateTime,
) -> Result<(CardCredentials, bool), CardsError> {
    let dir = card_dir(data_dir, &record.ehealth_id);
    if dir.join(CARD_MANIFEST).is_file() {
        let stored = CardCredentials::load(&dir)?;
        // A revoked card stays: it is what the professional holds, and the
        // export says it is refused. An expired one, or one of another
        // PKI, is replaced.
        let verdict = pki.verify_professional_certificate(&stored.certificate_der, now);
        let usable = stored.professional.ehealth_id == record.ehealth_id.as_str()
            && matches!(verdict, Ok(_) | Err(CertificateError::Revoked { .. }));
        if usable {
            return Ok((stored, false));
        }
        tracing::info!(
            ehealth_id = %record.ehealth_id,
            serial = %stored.serial,
            "the stored card is expired or from another PKI; issuing a new one"
        );
    }
    if dir.exists() {
        // An interrupted issue (no manifest) or an unusable card: both are
        // ours to replace.
        std::fs::remove_dir_all(&dir)
            .map_err(|e| FileError::io("remove the unusable card", &dir, e))?;
    }
    let cards = data_dir.join(CARDS_DIR);
    files::ensure_private_dir(&cards, 0o077)?;
    let professional = Professional {
        name: record.full_name(),
        ehealth_id: record.ehealth_id.to_string(),
    };
    let issued = pki.export_card(
        &professional,
        Validity::days_from_now(CARD_VALIDITY_DAYS),
        &CardPin::generate(),
        &dir,
    )?;
    tracing::info!(
        ehealth_id = %record.ehealth_id,
        serial = %issued.serial(),
        card_dir = %dir.display(),
        "issued a LuxTrust test card"
    );
    Ok((CardCredentials::load(&dir)?, true))
}

fn bind(
    store: &Store,
    record: &ProfessionalRecord,
    card: &CardCredentials,
    now: OffsetDateTime,
) -> Result<(), CardsError> {
    let fingerprint = Fingerprint::of_der(&card.certificate_der);
    store.bind_card_certificate(&record.ehealth_id, &fingerprint, Some(&card.serial), now)?;
    tracing::info!(
        ehealth_id = %record.ehealth_id,
        serial = %card.serial,
        "bound the demo card in the HPD"
    );
    Ok(())
}

/// Copies every file of a card directory into `out_dir`, the manifest last
/// (its presence means the copy is complete).
fn copy_card(from: &Path, out_dir: &Path) -> Result<(), CardsError> {
    files::ensure_private_dir(out_dir, 0o077)?;
    let mut existing = std::fs::read_dir(out_dir).map_err(|e| FileError::io("list", out_dir, e))?;
    if existing.next().is_some() {
        return Err(CardsError::OutputNotEmpty {
            dir: out_dir.to_path_buf(),
        });
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(from).map_err(|e| FileError::io("list", from, e))? {
        let entry = entry.map_err(|e| FileError::io("list", from, e))?;
        let is_file = entry
            .file_type()
            .map_err(|e| FileError::io("inspect", &entry.path(), e))?
            .is_file();
        if is_file {
            names.push(entry.file_name());
        }
    }
    // The manifest sorts last.
    names.sort_by_key(|name| (name == CARD_MANIFEST, name.clone()));
    for name in names {
        let source = from.join(&name);
        let contents = zeroize::Zeroizing::new(
            std::fs::read(&source).map_err(|e| FileError::io("read", &source, e))?,
        );
        files::create_private_file(&out_dir.join(&name), &contents)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::demo::{DEMO_PENDING_ACTIVATION, DEMO_REFERENT_GP};

    fn prepared() -> (tempfile::TempDir, Pki, Store) {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = temp.path().join("data");
        let pki = Pki::load_or_create(&data_dir).unwrap();
        let store = Store::open_in_memory().unwrap();
        store.seed_demo(OffsetDateTime::now_utc()).unwrap();
        (temp, pki, store)
    }

    #[test]
    fn every_active_demo_professional_gets_one_bound_card_once() {
        let (temp, pki, store) = prepared();
        let data_dir = temp.path().join("data");
        let now = OffsetDateTime::now_utc();
        let first = ensure_demo_cards(&pki, &store, &data_dir, now).unwrap();
        let active: Vec<&str> = DEMO_PROFESSIONALS
            .iter()
            .filter(|p| p.status == ProfessionalStatus::Active)
            .map(|p| p.ehealth_id)
            .collect();
        assert_eq!(
            first.iter().map(EHealthId::as_str).collect::<Vec<_>>(),
            active
        );
        for id in &first {
            let dir = card_dir(&data_dir, id);
            let card = CardCredentials::load(&dir).unwrap();
            let bindings = store.card_bindings_of(id).unwrap();
            assert_eq!(bindings.len(), 1);
            assert_eq!(
                bindings[0].fingerprint,
                Fingerprint::of_der(&card.certificate_der).to_string()
            );
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
        }
        let pending = EHealthId::new(DEMO_PENDING_ACTIVATION).unwrap();
        assert!(!card_dir(&data_dir, &pending).exists());
        assert!(store.card_bindings_of(&pending).unwrap().is_empty());
        // A second start finds them bound and issues nothing.
        assert!(
            ensure_demo_cards(&pki, &store, &data_dir, now)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_fresh_store_next_to_kept_cards_binds_the_kept_cards() {
        let (temp, pki, store) = prepared();
        let data_dir = temp.path().join("data");
        let now = OffsetDateTime::now_utc();
        ensure_demo_cards(&pki, &store, &data_dir, now).unwrap();
        let gp = EHealthId::new(DEMO_REFERENT_GP).unwrap();
        let kept = CardCredentials::load(&card_dir(&data_dir, &gp)).unwrap();

        let fresh = Store::open_in_memory().unwrap();
        fresh.seed_demo(now).unwrap();
        ensure_demo_cards(&pki, &fresh, &data_dir, now).unwrap();
        assert_eq!(
            fresh.card_bindings_of(&gp).unwrap()[0].fingerprint,
            Fingerprint::of_der(&kept.certificate_der).to_string()
        );
    }

    #[test]
    fn export_copies_the_stored_card_and_refuses_unknown_ids() {
        let (temp, pki, store) = prepared();
        let data_dir = temp.path().join("data");
        let now = OffsetDateTime::now_utc();
        ensure_demo_cards(&pki, &store, &data_dir, now).unwrap();
        let gp = EHealthId::new(DEMO_REFERENT_GP).unwrap();
        let stored = CardCredentials::load(&card_dir(&data_dir, &gp)).unwrap();

        let out = temp.path().join("out");
        let exported = export_card(&pki, &store, &data_dir, DEMO_REFERENT_GP, &out, now).unwrap();
        assert_eq!(exported.state, CardBindingState::Bound);
        assert!(!exported.newly_issued);
        assert_eq!(exported.credentials.certificate_der, stored.certificate_der);
        assert_eq!(exported.credentials.pin, stored.pin);

        let again = export_card(&pki, &store, &data_dir, DEMO_REFERENT_GP, &out, now);
        assert!(matches!(again, Err(CardsError::OutputNotEmpty { .. })));

        let unknown = export_card(
            &pki,
            &store,
            &data_dir,
            "SBX-9999",
            &temp.path().join("x"),
            now,
        )
        .unwrap_err();
        let message = unknown.to_string();
        assert!(message.contains("SBX-9999") && message.contains(DEMO_REFERENT_GP));

        let pending = export_card(
            &pki,
            &store,
            &data_dir,
            DEMO_PENDING_ACTIVATION,
            &temp.path().join("pending"),
            now,
        )
        .unwrap();
        assert_eq!(pending.state, CardBindingState::Unbound);
        assert!(pending.newly_issued);
        let pending_id = EHealthId::new(DEMO_PENDING_ACTIVATION).unwrap();
        assert!(store.card_bindings_of(&pending_id).unwrap().is_empty());
        // The same unbound card the next time.
        let second = export_card(
            &pki,
            &store,
            &data_dir,
            DEMO_PENDING_ACTIVATION,
            &temp.path().join("pending-2"),
            now,
        )
        .unwrap();
        assert!(!second.newly_issued);
        assert_eq!(
            second.credentials.certificate_der,
            pending.credentials.certificate_der
        );

        // A revoked card is exported as it is, and said to be revoked.
        pki.revoke(&stored.serial).unwrap();
        let revoked = export_card(
            &pki,
            &store,
            &data_dir,
            DEMO_REFERENT_GP,
            &temp.path().join("revoked"),
            now,
        )
        .unwrap();
        assert_eq!(revoked.state, CardBindingState::Revoked);
        assert_eq!(revoked.credentials.certificate_der, stored.certificate_der);
    }
}
