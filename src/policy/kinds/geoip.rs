//! GeoIP policies (authentik's `GeoIPPolicy.passes`): the client address passes when its
//! country is in `countries` OR its autonomous system is in `asns`; an empty list is no
//! check, and with no check at all the policy passes. Like authentik, an address the
//! database has no answer for, or a database that is not configured, is an error rather
//! than a plain failure, so the binding's `failure_result` decides (an admin who wants
//! LAN addresses, which no GeoIP database knows, to pass can set it, or bind a network
//! policy beside this one in mode "any"). One difference: authentik stops at the first
//! error, while here a check that passes wins over the other check's error, as "OR"
//! promises. authentik's distance and impossible-travel checks are not implemented (see
//! `GeoipPolicy`). Look-ups are in memory (`geoip_db.rs`): no I/O per request.

use std::net::IpAddr;

use crate::model::policy::GeoipPolicy;
use crate::policy::{GeoipDatabases, GeoipDb, PolicyError, PolicyOutcome, PolicyRequest};

/// authentik's messages, word for word, so translations and guides match.
const NOT_ALLOWED_COUNTRY: &str = "Client IP is not in an allowed country.";
const NOT_ALLOWED_ASN: &str = "Client IP is not part of an allowed autonomous system.";

/// Where each database is configured, for the error an admin sees when it is missing.
const CITY_SETTING: &str = "geoip.city_database (GATEHOUSE_GEOIP__CITY_DATABASE, \
                            AUTHENTIK_EVENTS__CONTEXT_PROCESSORS__GEOIP)";
const ASN_SETTING: &str = "geoip.asn_database (GATEHOUSE_GEOIP__ASN_DATABASE, \
                           AUTHENTIK_EVENTS__CONTEXT_PROCESSORS__ASN)";

pub fn evaluate(
    policy: &GeoipPolicy,
    request: &PolicyRequest,
    databases: &GeoipDatabases,
) -> Result<PolicyOutcome, PolicyError> {
    if policy.asns.is_empty() && policy.countries.is_empty() {
        return Ok(PolicyOutcome::pass());
    }
    let ip = request
        .client_ip
        .ok_or(PolicyError::MissingInput("a client address"))?
        .to_canonical();
    let mut messages = Vec::new();
    let mut errors = Vec::new();
    let checks = [
        (!policy.asns.is_empty()).then(|| asn_check(policy, ip, databases)),
        (!policy.countries.is_empty()).then(|| country_check(policy, ip, databases)),
    ];
    for check in checks.into_iter().flatten() {
        match check {
            Ok(None) => return Ok(PolicyOutcome::pass()),
            Ok(Some(message)) => messages.push(message.to_owned()),
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(PolicyError::Geoip(errors.join("; ")));
    }
    Ok(PolicyOutcome {
        passing: false,
        messages,
        effects: Vec::new(),
    })
}

/// `Ok(None)`: passes; `Ok(Some(message))`: fails; `Err`: cannot tell.
type Check = Result<Option<&'static str>, String>;

fn country_check(policy: &GeoipPolicy, ip: IpAddr, databases: &GeoipDatabases) -> Check {
    let database = configured(databases.city.as_deref(), "City/Country", CITY_SETTING)?;
    let country = database
        .country(ip)
        .map_err(|error| format!("City/Country database: {error}"))?
        .ok_or_else(|| format!("client IP {ip} not found in the City/Country database"))?;
    let allowed = policy
        .countries
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(&country));
    Ok((!allowed).then_some(NOT_ALLOWED_COUNTRY))
}

fn asn_check(policy: &GeoipPolicy, ip: IpAddr, databases: &GeoipDatabases) -> Check {
    let database = configured(databases.asn.as_deref(), "ASN", ASN_SETTING)?;
    let asn = database
        .asn(ip)
        .map_err(|error| format!("ASN database: {error}"))?
        .ok_or_else(|| format!("client IP {ip} not found in the ASN database"))?;
    Ok((!policy.asns.contains(&asn)).then_some(NOT_ALLOWED_ASN))
}

fn configured<'a>(
    database: Option<&'a GeoipDb>,
    which: &str,
    setting: &str,
) -> Result<&'a GeoipDb, String> {
    database.ok_or_else(|| format!("no {which} database is configured; set {setting}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::policy::GeoipDbKind;

    fn databases() -> GeoipDatabases {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/geoip");
        let open = |file: &str, kind| Arc::new(GeoipDb::open(&dir.join(file), kind).unwrap());
        GeoipDatabases {
            city: Some(open("GeoLite2-Country-Test.mmdb", GeoipDbKind::Country)),
            asn: Some(open("GeoLite2-ASN-Test.mmdb", GeoipDbKind::Asn)),
        }
    }

    fn policy(countries: &[&str], asns: &[u32]) -> GeoipPolicy {
        GeoipPolicy {
            countries: countries.iter().map(|code| (*code).to_owned()).collect(),
            asns: asns.to_vec(),
        }
    }

    fn from(ip: &str) -> PolicyRequest {
        PolicyRequest {
            client_ip: Some(ip.parse().unwrap()),
            ..PolicyRequest::default()
        }
    }

    // In the fixture: 192.0.2.0/24 is DE and AS3320, 198.51.100.0/24 is US and AS64496,
    // 2001:db8:1::/48 is FR (no AS), 203.0.113.0/24 is in neither database.

    #[test]
    fn an_allowed_country_passes_and_another_fails_with_authentiks_message() {
        let databases = databases();
        let europe = policy(&["DE", "FR"], &[]);
        assert!(
            evaluate(&europe, &from("192.0.2.10"), &databases)
                .unwrap()
                .passing
        );
        assert!(
            evaluate(&europe, &from("2001:db8:1::5"), &databases)
                .unwrap()
                .passing
        );
        assert!(
            evaluate(&europe, &from("::ffff:192.0.2.10"), &databases)
                .unwrap()
                .passing
        );
        let outcome = evaluate(&europe, &from("198.51.100.7"), &databases).unwrap();
        assert!(!outcome.passing);
        assert_eq!(outcome.messages, vec![NOT_ALLOWED_COUNTRY.to_owned()]);
    }

    #[test]
    fn a_matching_asn_passes_even_from_another_country() {
        let databases = databases();
        let documentation_as = policy(&["DE"], &[64496]);
        assert!(
            evaluate(&documentation_as, &from("198.51.100.7"), &databases)
                .unwrap()
                .passing
        );
        assert!(
            evaluate(&documentation_as, &from("192.0.2.10"), &databases)
                .unwrap()
                .passing
        );
        let asn_only = policy(&[], &[3320]);
        assert!(
            evaluate(&asn_only, &from("192.0.2.10"), &databases)
                .unwrap()
                .passing
        );
        let outcome = evaluate(&asn_only, &from("198.51.100.7"), &databases).unwrap();
        assert_eq!(outcome.messages, vec![NOT_ALLOWED_ASN.to_owned()]);
        let neither = evaluate(&policy(&["FR"], &[3320]), &from("198.51.100.7"), &databases);
        let neither = neither.unwrap();
        assert!(!neither.passing);
        assert_eq!(neither.messages, vec![NOT_ALLOWED_ASN, NOT_ALLOWED_COUNTRY]);
    }

    #[test]
    fn an_address_not_in_the_database_is_an_error() {
        let databases = databases();
        let error = evaluate(&policy(&["DE"], &[]), &from("203.0.113.9"), &databases);
        assert_eq!(
            error.unwrap_err().to_string(),
            "GeoIP: client IP 203.0.113.9 not found in the City/Country database"
        );
        // FR is in the Country database but has no AS: the country check still decides.
        let either = policy(&["FR"], &[3320]);
        assert!(
            evaluate(&either, &from("2001:db8:1::5"), &databases)
                .unwrap()
                .passing
        );
        let error = evaluate(
            &policy(&["DE"], &[3320]),
            &from("2001:db8:1::5"),
            &databases,
        );
        assert_eq!(
            error.unwrap_err().to_string(),
            "GeoIP: client IP 2001:db8:1::5 not found in the ASN database"
        );
    }

    #[test]
    fn a_missing_database_is_an_error_naming_the_setting() {
        let none = GeoipDatabases::default();
        let error = evaluate(&policy(&["DE"], &[]), &from("192.0.2.10"), &none).unwrap_err();
        let error = error.to_string();
        assert!(
            error.contains("no City/Country database is configured"),
            "{error}"
        );
        assert!(error.contains("GATEHOUSE_GEOIP__CITY_DATABASE"), "{error}");
        assert!(
            error.contains("AUTHENTIK_EVENTS__CONTEXT_PROCESSORS__GEOIP"),
            "{error}"
        );
        let error = evaluate(&policy(&[], &[3320]), &from("192.0.2.10"), &none).unwrap_err();
        assert!(error.to_string().contains("geoip.asn_database"), "{error}");
    }

    #[test]
    fn no_checks_pass_and_an_unknown_client_is_an_error() {
        let none = GeoipDatabases::default();
        assert!(
            evaluate(&policy(&[], &[]), &from("192.0.2.10"), &none)
                .unwrap()
                .passing
        );
        let error = evaluate(
            &policy(&["DE"], &[]),
            &PolicyRequest::default(),
            &databases(),
        );
        assert_eq!(
            error.unwrap_err(),
            PolicyError::MissingInput("a client address")
        );
    }

    /// Through the engine: the databases arrive with `with_geoip`, and an engine built
    /// without them fails the binding (its `failure_result`) with the setting to fix.
    #[tokio::test]
    async fn the_engine_hands_the_databases_to_the_kind() {
        use crate::clock::ManualClock;
        use crate::model::{
            BindingSubject, FlowId, Policy, PolicyBinding, PolicyBindingId, PolicyEngineMode,
            PolicyId, PolicyKind, PolicyTarget, Timestamp,
        };
        use crate::policy::{PolicyEngine, Reputation};
        use crate::store::Ephemeral;
        use crate::store::memory_kv::MemoryKv;

        let clock = Arc::new(ManualClock::starting_at(Timestamp(1_700_000_000)));
        let ephemeral = Ephemeral::new(Arc::new(MemoryKv::new()), clock.clone());
        let without = PolicyEngine::new(Reputation::new(ephemeral), clock);
        let with = without.clone().with_geoip(databases());
        let policy = Policy {
            id: PolicyId::random(),
            name: "germany".into(),
            execution_logging: false,
            kind: PolicyKind::Geoip(policy(&["DE"], &[])),
        };
        let binding = PolicyBinding {
            id: PolicyBindingId::random(),
            target: PolicyTarget::Flow(FlowId::random()),
            subject: BindingSubject::Policy(policy.id),
            order: 0,
            enabled: true,
            negate: false,
            timeout_secs: 30,
            failure_result: false,
        };
        let bindings = vec![(binding, Some(policy))];
        let mode = PolicyEngineMode::All;
        assert!(
            with.evaluate(&bindings, mode, &from("192.0.2.10"))
                .await
                .passing
        );
        let denied = with.evaluate(&bindings, mode, &from("198.51.100.7")).await;
        assert_eq!(denied.messages, vec![NOT_ALLOWED_COUNTRY.to_owned()]);

        let unconfigured = without.evaluate(&bindings, mode, &from("192.0.2.10")).await;
        assert!(!unconfigured.passing);
        let explanation = unconfigured.explain();
        assert!(explanation.contains("geoip.city_database"), "{explanation}");
    }
}
