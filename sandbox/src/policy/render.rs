//! The decision table as markdown, computed by asking the engine every
//! question (never written by hand), for `docs/platform-protocol.md`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use dspconnect::model::ConfidentialityMode;

use super::decide::{Decision, Operation, Outcome, decide_for_roles};
use super::role::{Role, RoleSet};
use super::rules::ALL_RULES;

/// The line before the generated block in `docs/platform-protocol.md`.
pub const DOC_BEGIN_MARKER: &str = "<!-- policy-table:begin -->";
/// The line after it.
pub const DOC_END_MARKER: &str = "<!-- policy-table:end -->";

/// The whole decision table: roles, one table per operation (one column per
/// role, one row per mode), and the rules with their citations.
pub fn render_markdown() -> String {
    let mut out = String::new();
    out.push_str(
        "Generated from the engine (`sandbox/src/policy/`) by asking it every \
         question below, one role at a time; do not edit by hand. \
         Regenerate with `UPDATE_DOCS=1 cargo test -p dspconnect-sandbox policy_doc`.\n\
         ✔ allowed, ✗ refused, `no-op` refused with its own error (rule MODE-SAME). \
         Each row names the rules that decide it (the BL and PWD columns always rest on \
         `BLACK-LIST` and `PASSWORD-SESSION`); a refusal's fault carries the rule id.\n\n",
    );

    out.push_str("### Roles\n\n| role | who |\n|---|---|\n");
    for role in Role::ALL {
        let _ = writeln!(
            out,
            "| {} | {} |",
            role.code(),
            cell_text(role.description())
        );
    }
    out.push_str(
        "\nA subject may hold several roles at once (the author who is also the médecin \
         référent): an operation is allowed when one of them allows it, except that BL \
         refuses everything and PWD reaches no document. A subject that may not read a \
         document is refused every act on it by the reading rule.\n",
    );

    let modes = ConfidentialityMode::ALL;
    section(
        &mut out,
        "Read and list a document, by its mode",
        "mode",
        modes.iter().map(|&mode| {
            let row = Role::ALL.map(|role| one(role, Operation::Read, Some(mode)));
            (mode.charter_name().to_owned(), row)
        }),
    );
    section(
        &mut out,
        "Submit a document, in each mode",
        "mode",
        modes.iter().map(|&mode| {
            let row = Role::ALL.map(|role| one(role, Operation::Submit { mode }, None));
            (mode.charter_name().to_owned(), row)
        }),
    );
    section(
        &mut out,
        "Change a document's mode",
        "from → to",
        modes.iter().flat_map(|&from| {
            modes.iter().map(move |&to| {
                let row = Role::ALL.map(|role| one(role, Operation::ChangeMode { to }, Some(from)));
                (
                    format!("{} → {}", from.charter_name(), to.charter_name()),
                    row,
                )
            })
        }),
    );
    section(
        &mut out,
        "Replace a document (RPLC), by its mode",
        "mode",
        modes.iter().map(|&mode| {
            let row = Role::ALL.map(|role| one(role, Operation::Replace, Some(mode)));
            (mode.charter_name().to_owned(), row)
        }),
    );
    section(
        &mut out,
        "Report an anomaly in a document, by its mode",
        "mode",
        modes.iter().map(|&mode| {
            let row = Role::ALL.map(|role| one(role, Operation::ReportAnomaly, Some(mode)));
            (mode.charter_name().to_owned(), row)
        }),
    );
    section(
        &mut out,
        "See the access trail",
        "",
        std::iter::once((
            "any mode".to_owned(),
            Role::ALL.map(|role| one(role, Operation::SeeAccessTrail, None)),
        )),
    );
    section(
        &mut out,
        "Present a code de présence",
        "",
        std::iter::once((
            "any patient".to_owned(),
            Role::ALL.map(|role| one(role, Operation::PresentPresenceCode, None)),
        )),
    );

    out.push_str("\n### Rules\n\n| rule | says | rests on |\n|---|---|---|\n");
    for rule in ALL_RULES {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            rule.id,
            cell_text(rule.statement),
            cell_text(&rule.citation())
        );
    }
    out
}

fn one(role: Role, operation: Operation, mode: Option<ConfidentialityMode>) -> Decision {
    decide_for_roles(RoleSet::only(role), operation, mode)
}

fn section(
    out: &mut String,
    title: &str,
    row_header: &str,
    rows: impl Iterator<Item = (String, [Decision; 9])>,
) {
    let _ = write!(out, "\n### {title}\n\n| {row_header} |");
    for role in Role::ALL {
        let _ = write!(out, " {} |", role.code());
    }
    out.push_str(" rules |\n|---|");
    for _ in Role::ALL {
        out.push_str("---|");
    }
    out.push_str("---|\n");
    for (label, decisions) in rows {
        let _ = write!(out, "| {label} |");
        for decision in &decisions {
            let mark = match decision.outcome {
                Outcome::Allowed => "✔",
                Outcome::Refused => "✗",
                Outcome::AlreadyInMode => "no-op",
            };
            let _ = write!(out, " {mark} |");
        }
        // The BL and PWD columns always cite BLACK-LIST and PASSWORD-SESSION.
        let rule_ids: BTreeSet<&str> = Role::ALL
            .iter()
            .zip(&decisions)
            .filter(|(role, _)| !matches!(role, Role::BlackListed | Role::PasswordSession))
            .map(|(_, d)| d.rule.id)
            .collect();
        let rule_ids: Vec<String> = rule_ids.into_iter().map(|id| format!("`{id}`")).collect();
        let _ = writeln!(out, " {} |", rule_ids.join(", "));
    }
}

/// Text safe inside a markdown table cell.
fn cell_text(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Replaces what lies between the markers in `document` by `block`; `None`
/// when the markers are missing or out of order.
pub fn splice_between_markers(document: &str, block: &str) -> Option<String> {
    let begin = document.find(DOC_BEGIN_MARKER)? + DOC_BEGIN_MARKER.len();
    let end = begin + document[begin..].find(DOC_END_MARKER)?;
    Some(format!(
        "{}\n{}{}",
        &document[..begin],
        block,
        &document[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/platform-protocol.md")
    }

    /// `docs/platform-protocol.md` holds exactly what the engine renders.
    /// `UPDATE_DOCS=1 cargo test -p dspconnect-sandbox policy_doc` rewrites it.
    #[test]
    fn policy_doc_matches_the_engine() {
        let path = doc_path();
        let document = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let rendered = render_markdown();
        let expected = splice_between_markers(&document, &rendered).unwrap_or_else(|| {
            panic!(
                "{} lacks the lines {DOC_BEGIN_MARKER} … {DOC_END_MARKER} \
                 under '## Access policy (generated)'",
                path.display()
            )
        });
        if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
            if expected != document {
                std::fs::write(&path, &expected)
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            }
            return;
        }
        assert!(
            expected == document,
            "the access-policy table in {} differs from what the engine decides; \
             regenerate it with: UPDATE_DOCS=1 cargo test -p dspconnect-sandbox policy_doc",
            path.display()
        );
    }

    #[test]
    fn splice_replaces_only_the_block() {
        let doc = format!("intro\n{DOC_BEGIN_MARKER}\nold\n{DOC_END_MARKER}\nafter\n");
        assert_eq!(
            splice_between_markers(&doc, "new\n").as_deref(),
            Some(format!("intro\n{DOC_BEGIN_MARKER}\nnew\n{DOC_END_MARKER}\nafter\n").as_str())
        );
        assert_eq!(splice_between_markers("no markers", "x"), None);
        let reversed = format!("{DOC_END_MARKER}\n{DOC_BEGIN_MARKER}\n");
        assert_eq!(splice_between_markers(&reversed, "x"), None);
    }

    #[test]
    fn rendering_shows_the_engine_not_a_copy() {
        let table = render_markdown();
        for to in ConfidentialityMode::ALL {
            let row = format!("| Privé → {} |", to.charter_name());
            assert_eq!(table.matches(&row).count(), 1, "{row}");
        }
        assert!(table.contains("| Privé | ✔ | ✔ | ✔ | ✗ | ✗ | ✗ | ✗ | ✗ | ✗ |"));
        assert!(table.contains("| Visite d'annonce | ✗ | ✗ | ✔ | ✔ | ✔ | ✔ | ✗ | ✗ | ✗ |"));
        for rule in ALL_RULES {
            assert!(table.contains(&format!("| `{}` |", rule.id)), "{}", rule.id);
        }
    }
}
