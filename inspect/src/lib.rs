//! graft-inspect: read an ELF object of any of the four arches and classify
//! every recorded ftrace site through its backend.
#![forbid(unsafe_code)]

/// One function's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteReport {
    /// Symbol name.
    pub function: String,
    /// Symbol address (section-relative in a relocatable object).
    pub address: u64,
    /// The recorded site address, if any record names this function.
    pub site: Option<u64>,
    /// Whether graft can patch the function.
    pub patchable: bool,
    /// The recognised form when patchable, else why not.
    pub reason: String,
}

/// Every function of an object.
#[derive(Clone, Debug)]
pub struct Report {
    /// Kernel arch name.
    pub arch: &'static str,
    /// Per function, in address order.
    pub functions: Vec<SiteReport>,
}

/// Why an object cannot be inspected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InspectError {
    /// Not an ELF file, or malformed.
    Malformed(String),
    /// An ELF machine graft has no backend for.
    UnsupportedArch(u16),
}

impl std::fmt::Display for InspectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InspectError::Malformed(m) => write!(f, "malformed ELF: {m}"),
            InspectError::UnsupportedArch(m) => write!(f, "unsupported ELF machine {m}"),
        }
    }
}
impl std::error::Error for InspectError {}

/// Inspect the ELF image `data`.
pub fn sites(data: &[u8]) -> Result<Report, InspectError> {
    let _ = data;
    Err(InspectError::Malformed("not yet implemented".into()))
}
