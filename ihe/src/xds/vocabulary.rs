//! Closed vocabularies of XDS metadata as Rust enums. Each keeps values it
//! does not know in an `Other` variant, so reading never loses them.

use super::constants::{association_type, object_type, status};

macro_rules! uri_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $uri:expr ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this crate does not know, kept as received.
            Other(String),
        }

        impl $name {
            /// The wire value.
            pub fn as_uri(&self) -> &str {
                match self {
                    $( $name::$variant => $uri, )+
                    $name::Other(s) => s,
                }
            }

            /// Reads a wire value (UUIDs and URNs compare case-insensitively).
            pub fn from_uri(value: &str) -> Self {
                $( if value.eq_ignore_ascii_case($uri) { return $name::$variant; } )+
                $name::Other(value.to_owned())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_uri())
            }
        }
    };
}

uri_enum! {
    /// Availability status of a registry object (its `status` attribute).
    AvailabilityStatus {
        Approved => status::APPROVED,
        Deprecated => status::DEPRECATED,
        Submitted => status::SUBMITTED,
    }
}

uri_enum! {
    /// Kind of DocumentEntry (its `objectType` attribute).
    DocumentEntryType {
        Stable => object_type::STABLE_DOCUMENT_ENTRY,
        OnDemand => object_type::ON_DEMAND_DOCUMENT_ENTRY,
    }
}

uri_enum! {
    /// Type of an association (ITI TF-3 4.2.2).
    AssociationType {
        HasMember => association_type::HAS_MEMBER,
        /// RPLC: the source DocumentEntry replaces the target.
        Replace => association_type::REPLACE,
        Transform => association_type::TRANSFORM,
        Append => association_type::APPEND,
        TransformAndReplace => association_type::TRANSFORM_AND_REPLACE,
        Signs => association_type::SIGNS,
        IsSnapshotOf => association_type::IS_SNAPSHOT_OF,
        UpdateAvailabilityStatus => association_type::UPDATE_AVAILABILITY_STATUS,
        SubmitAssociation => association_type::SUBMIT_ASSOCIATION,
    }
}

uri_enum! {
    /// The `SubmissionSetStatus` slot of a HasMember association from a
    /// SubmissionSet: whether the member is submitted here or referenced.
    SubmissionSetStatus {
        Original => "Original",
        Reference => "Reference",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_round_trip_and_unknown_ones_are_kept() {
        for t in [
            AssociationType::HasMember,
            AssociationType::Replace,
            AssociationType::IsSnapshotOf,
        ] {
            assert_eq!(AssociationType::from_uri(t.as_uri()), t);
        }
        assert_eq!(
            DocumentEntryType::from_uri("URN:UUID:7EDCA82F-054D-47F2-A032-9B2A5B5186C1"),
            DocumentEntryType::Stable
        );
        let other = AvailabilityStatus::from_uri("urn:x:Limbo");
        assert_eq!(other, AvailabilityStatus::Other("urn:x:Limbo".into()));
        assert_eq!(other.as_uri(), "urn:x:Limbo");
    }
}
