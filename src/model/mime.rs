//! The document formats the DSP takes.

use std::fmt;
use std::str::FromStr;

/// A document's MIME type, limited to what the DSP takes:
///
/// | variant | MIME type | |
/// |---|---|---|
/// | `Pdf` | `application/pdf` | stored as is (PDF/A) |
/// | `CdaXml` | `text/xml` | a CDA document, as XDS usually labels it |
/// | `Hl7CdaXml` | `application/hl7-cda+xml` | a CDA document |
/// | `Doc` | `application/msword` | converted to PDF/A by the platform |
/// | `Docx` | `application/vnd.openxmlformats-officedocument.wordprocessingml.document` | converted |
/// | `Rtf` | `application/rtf` (`text/rtf` accepted) | converted |
/// | `Odt` | `application/vnd.oasis.opendocument.text` | converted |
///
/// Parsing ignores case, surrounding whitespace and parameters
/// (`text/xml; charset=UTF-8` is `text/xml`): XDS `mimeType` carries none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum MimeType {
    /// `application/pdf`.
    Pdf,
    /// `text/xml` (CDA).
    CdaXml,
    /// `application/hl7-cda+xml` (CDA).
    Hl7CdaXml,
    /// `application/msword` (Word 97–2003).
    Doc,
    /// Word 2007 and later.
    Docx,
    /// Rich Text Format.
    Rtf,
    /// OpenDocument text.
    Odt,
}

/// A MIME type the DSP does not take.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{value}' is not a format the DSP takes: use PDF (application/pdf), CDA (text/xml or application/hl7-cda+xml), or DOC, DOCX, RTF, ODT, which the platform converts to PDF/A"
)]
pub struct UnsupportedMimeType {
    /// The type (or file extension) given.
    pub value: String,
}

impl MimeType {
    /// Every supported type.
    pub const ALL: [MimeType; 7] = [
        MimeType::Pdf,
        MimeType::CdaXml,
        MimeType::Hl7CdaXml,
        MimeType::Doc,
        MimeType::Docx,
        MimeType::Rtf,
        MimeType::Odt,
    ];

    /// The MIME type as XDS writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MimeType::Pdf => "application/pdf",
            MimeType::CdaXml => "text/xml",
            MimeType::Hl7CdaXml => "application/hl7-cda+xml",
            MimeType::Doc => "application/msword",
            MimeType::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            MimeType::Rtf => "application/rtf",
            MimeType::Odt => "application/vnd.oasis.opendocument.text",
        }
    }

    /// True for CDA documents.
    pub fn is_cda(self) -> bool {
        matches!(self, MimeType::CdaXml | MimeType::Hl7CdaXml)
    }

    /// True for the word-processing formats the platform converts to PDF/A.
    pub fn is_converted_by_platform(self) -> bool {
        matches!(
            self,
            MimeType::Doc | MimeType::Docx | MimeType::Rtf | MimeType::Odt
        )
    }

    /// The type for a file extension (without the dot, any case), for the
    /// drop folder: pdf, xml (CDA), doc, docx, rtf, odt.
    pub fn from_extension(extension: &str) -> Result<MimeType, UnsupportedMimeType> {
        match extension.to_ascii_lowercase().as_str() {
            "pdf" => Ok(MimeType::Pdf),
            "xml" => Ok(MimeType::CdaXml),
            "doc" => Ok(MimeType::Doc),
            "docx" => Ok(MimeType::Docx),
            "rtf" => Ok(MimeType::Rtf),
            "odt" => Ok(MimeType::Odt),
            _ => Err(UnsupportedMimeType {
                value: format!(".{extension}"),
            }),
        }
    }
}

impl FromStr for MimeType {
    type Err = UnsupportedMimeType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let essence = s.split(';').next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case("text/rtf") {
            return Ok(MimeType::Rtf);
        }
        MimeType::ALL
            .into_iter()
            .find(|mime| mime.as_str().eq_ignore_ascii_case(essence))
            .ok_or_else(|| UnsupportedMimeType {
                value: s.to_owned(),
            })
    }
}

impl TryFrom<&str> for MimeType {
    type Error = UnsupportedMimeType;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl TryFrom<String> for MimeType {
    type Error = UnsupportedMimeType;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<MimeType> for String {
    fn from(value: MimeType) -> Self {
        value.as_str().to_owned()
    }
}

impl fmt::Display for MimeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips() {
        for mime in MimeType::ALL {
            assert_eq!(mime.as_str().parse(), Ok(mime));
            let json = serde_json::to_string(&mime).unwrap();
            assert_eq!(serde_json::from_str::<MimeType>(&json).unwrap(), mime);
        }
    }

    #[test]
    fn parsing_is_lenient_on_case_and_parameters_only() {
        assert_eq!(" Text/XML; charset=UTF-8 ".parse(), Ok(MimeType::CdaXml));
        assert_eq!("text/rtf".parse(), Ok(MimeType::Rtf));
        for bad in ["image/png", "application/pdfx", "", "text/plain"] {
            assert!(bad.parse::<MimeType>().is_err(), "{bad}");
        }
    }

    #[test]
    fn kinds_and_extensions() {
        assert!(MimeType::Hl7CdaXml.is_cda());
        assert!(!MimeType::Pdf.is_converted_by_platform());
        assert!(MimeType::Odt.is_converted_by_platform());
        assert_eq!(MimeType::from_extension("DOCX"), Ok(MimeType::Docx));
        assert_eq!(
            MimeType::from_extension("exe"),
            Err(UnsupportedMimeType {
                value: ".exe".into()
            })
        );
    }
}
