//! The GeoIP databases the GeoIP policy looks client addresses up in: MaxMind DB files
//! (GeoLite2/GeoIP2 City or Country, and ASN, or compatible ones such as DB-IP's), read
//! into memory once at start-up so that a look-up during evaluation is a few hundred
//! nanoseconds of tree walking and never touches the disk. It owns reading and checking
//! the files and the two questions asked of them (country ISO code, AS number); it knows
//! nothing about settings keys (the caller names those in its errors) or policy rules.
//!
//! The files are read, not memory-mapped: `maxminddb`'s mapping is an `unsafe fn`
//! (the file must not change under the map), and this crate forbids `unsafe`. The cost is
//! the file's size in memory: about 9 MB for GeoLite2-Country, 60 MB for GeoLite2-City,
//! 10 MB for GeoLite2-ASN; a small machine should prefer the Country database, which
//! answers the country question as well as the City one does.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use maxminddb::{PathElement, Reader};

/// The databases configured under `[geoip]`; either may be missing. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct GeoipDatabases {
    /// A City or Country database: answers "which country".
    pub city: Option<Arc<GeoipDb>>,
    /// An ASN (or ISP) database: answers "which autonomous system".
    pub asn: Option<Arc<GeoipDb>>,
}

/// Which question a database is expected to answer, so a City file configured as the
/// ASN database (or the reverse) is refused at start-up instead of failing every look-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeoipDbKind {
    /// City or Country.
    Country,
    Asn,
}

impl GeoipDbKind {
    fn describe(self) -> &'static str {
        match self {
            GeoipDbKind::Country => "a City/Country",
            GeoipDbKind::Asn => "an ASN",
        }
    }

    /// The `database_type` in the file's metadata ("GeoLite2-City", "GeoLite2-ASN",
    /// "DBIP-City-Lite", ...) clearly belongs to the other kind. Deliberately loose: other
    /// vendors' names vary, and only an obvious mix-up is worth refusing to start over.
    fn contradicts(self, database_type: &str) -> bool {
        let names_asn = database_type.contains("ASN");
        let names_place = database_type.contains("City") || database_type.contains("Country");
        match self {
            GeoipDbKind::Country => names_asn && !names_place,
            GeoipDbKind::Asn => names_place && !names_asn,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeoipDbError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("not a MaxMind DB file: {0}")]
    Format(String),
    #[error("this is a {found} database, expected {expected} database")]
    WrongKind {
        found: String,
        expected: &'static str,
    },
    #[error("look-up failed (damaged database?): {0}")]
    Lookup(String),
}

/// One MaxMind DB file, held in memory.
#[derive(Debug)]
pub struct GeoipDb {
    reader: Reader<Vec<u8>>,
}

impl GeoipDb {
    /// Reads the file at `path` and checks its metadata.
    pub fn open(path: &Path, kind: GeoipDbKind) -> Result<GeoipDb, GeoipDbError> {
        let bytes = std::fs::read(path).map_err(|error| GeoipDbError::Read {
            path: path.display().to_string(),
            reason: error.to_string(),
        })?;
        GeoipDb::from_bytes(bytes, kind)
    }

    /// A database from bytes already in memory.
    pub fn from_bytes(bytes: Vec<u8>, kind: GeoipDbKind) -> Result<GeoipDb, GeoipDbError> {
        let reader =
            Reader::from_source(bytes).map_err(|error| GeoipDbError::Format(error.to_string()))?;
        let database_type = &reader.metadata().database_type;
        if kind.contradicts(database_type) {
            return Err(GeoipDbError::WrongKind {
                found: database_type.clone(),
                expected: kind.describe(),
            });
        }
        Ok(GeoipDb { reader })
    }

    /// The vendor's name for the database ("GeoLite2-City"), for the start-up log.
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// When the database was built (seconds since the Unix epoch): stale data is the
    /// usual cause of a wrong answer, so the start-up log shows it.
    pub fn build_epoch(&self) -> u64 {
        self.reader.metadata().build_epoch
    }

    /// The ISO 3166-1 alpha-2 code of the country the address is in (GeoIP2's
    /// `country.iso_code`, what authentik's context processor reports), or `None` when the
    /// database has no country for it.
    pub fn country(&self, ip: IpAddr) -> Result<Option<String>, GeoipDbError> {
        self.lookup(
            ip,
            &[PathElement::Key("country"), PathElement::Key("iso_code")],
        )
    }

    /// The number of the autonomous system announcing the address, or `None`.
    pub fn asn(&self, ip: IpAddr) -> Result<Option<u32>, GeoipDbError> {
        self.lookup(ip, &[PathElement::Key("autonomous_system_number")])
    }

    fn lookup<T>(&self, ip: IpAddr, path: &[PathElement<'_>]) -> Result<Option<T>, GeoipDbError>
    where
        T: for<'de> serde::Deserialize<'de>,
    {
        // An IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack socket reports an
        // IPv4 client) is stored under its IPv4 form.
        let ip = ip.to_canonical();
        // An IPv4-only database cannot hold an IPv6 address: no answer, not a failure.
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return Ok(None);
        }
        let found = self
            .reader
            .lookup(ip)
            .map_err(|error| GeoipDbError::Lookup(error.to_string()))?;
        found
            .decode_path(path)
            .map_err(|error| GeoipDbError::Lookup(error.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Written by tests/fixtures/geoip/make_fixtures.py (documentation address ranges).
    const COUNTRY_DB: &[u8] =
        include_bytes!("../../tests/fixtures/geoip/GeoLite2-Country-Test.mmdb");
    const ASN_DB: &[u8] = include_bytes!("../../tests/fixtures/geoip/GeoLite2-ASN-Test.mmdb");

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn countries_are_found_for_ipv4_ipv6_and_mapped_addresses() {
        let db = GeoipDb::from_bytes(COUNTRY_DB.to_vec(), GeoipDbKind::Country).unwrap();
        assert_eq!(db.database_type(), "GeoLite2-Country");
        assert_eq!(db.build_epoch(), 1_700_000_000);
        assert_eq!(db.country(ip("192.0.2.77")).unwrap().as_deref(), Some("DE"));
        assert_eq!(
            db.country(ip("198.51.100.1")).unwrap().as_deref(),
            Some("US")
        );
        assert_eq!(
            db.country(ip("2001:db8:1::9")).unwrap().as_deref(),
            Some("FR")
        );
        assert_eq!(
            db.country(ip("::ffff:192.0.2.77")).unwrap().as_deref(),
            Some("DE")
        );
        assert_eq!(db.country(ip("203.0.113.1")).unwrap(), None);
        assert_eq!(db.country(ip("2001:db8:2::1")).unwrap(), None);
        // A Country database has no AS numbers: no answer rather than an error.
        assert_eq!(db.asn(ip("192.0.2.77")).unwrap(), None);
    }

    #[test]
    fn asns_are_found() {
        let db = GeoipDb::from_bytes(ASN_DB.to_vec(), GeoipDbKind::Asn).unwrap();
        assert_eq!(db.asn(ip("192.0.2.1")).unwrap(), Some(3320));
        assert_eq!(db.asn(ip("198.51.100.200")).unwrap(), Some(64496));
        assert_eq!(db.asn(ip("203.0.113.1")).unwrap(), None);
    }

    #[test]
    fn a_database_of_the_other_kind_is_refused() {
        let error = GeoipDb::from_bytes(ASN_DB.to_vec(), GeoipDbKind::Country).unwrap_err();
        assert_eq!(
            error.to_string(),
            "this is a GeoLite2-ASN database, expected a City/Country database"
        );
        let error = GeoipDb::from_bytes(COUNTRY_DB.to_vec(), GeoipDbKind::Asn).unwrap_err();
        assert!(matches!(error, GeoipDbError::WrongKind { .. }), "{error}");
        assert!(!GeoipDbKind::Asn.contradicts("GeoIP2-ISP"));
        assert!(!GeoipDbKind::Asn.contradicts("DBIP-ASN-Lite (compat=GeoLite2-ASN)"));
        assert!(!GeoipDbKind::Country.contradicts("DBIP-City-Lite"));
    }

    #[test]
    fn files_are_read_and_bad_ones_refused() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/geoip/GeoLite2-Country-Test.mmdb");
        let db = GeoipDb::open(&path, GeoipDbKind::Country).unwrap();
        assert_eq!(db.country(ip("192.0.2.1")).unwrap().as_deref(), Some("DE"));

        let missing = GeoipDb::open(Path::new("/nonexistent/City.mmdb"), GeoipDbKind::Country);
        let error = missing.unwrap_err().to_string();
        assert!(
            error.starts_with("cannot read /nonexistent/City.mmdb:"),
            "{error}"
        );

        let garbage = GeoipDb::from_bytes(b"not a database".to_vec(), GeoipDbKind::Country);
        assert!(matches!(garbage, Err(GeoipDbError::Format(_))));
        // A file cut short (a download that stopped half-way) loses its metadata.
        let truncated = COUNTRY_DB.get(..COUNTRY_DB.len() / 2).unwrap().to_vec();
        let truncated = GeoipDb::from_bytes(truncated, GeoipDbKind::Country);
        assert!(matches!(truncated, Err(GeoipDbError::Format(_))));
    }
}
