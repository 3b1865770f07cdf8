//! Signs and verifies SAML documents with gatehouse's XML-DSig code, for the interop
//! check against xmlsec1 (tests/interop/saml/xmlsec_test.py). Not part of the server.
//!
//! ```text
//! cargo run --example saml_xmldsig -- sign --key key.pem --cert cert.pem --id _a1 [--id _r1]
//!     [--alg rsa-sha256|rsa-sha1|ecdsa-sha256] [--digest sha256|sha1] [--prefixes "xs"]
//!     [--no-keyinfo] IN.xml OUT.xml
//! cargo run --example saml_xmldsig -- verify --cert cert.pem [--cert other.pem] [--id _a1]
//!     [--allow-sha1] IN.xml
//! cargo run --example saml_xmldsig -- keygen --type rsa|ec KEY.pem CERT.pem
//! cargo run --example saml_xmldsig -- build --key key.pem --cert cert.pem [--alg ...] OUT.xml
//! cargo run --example saml_xmldsig -- sign-redirect --key key.pem --cert cert.pem [--alg ...]
//!     [--relay-state RS] MESSAGE_BASE64
//! cargo run --example saml_xmldsig -- verify-redirect --cert cert.pem [--allow-sha1] QUERY
//! cargo run --example saml_xmldsig -- encrypt --cert sp-cert.pem
//!     [--method aes256-gcm|aes128-gcm|aes256-cbc|aes128-cbc] IN.xml OUT.xml
//! ```
//!
//! `encrypt` wraps the root element of IN (an assertion) in a `saml:EncryptedAssertion`
//! for the holder of the certificate's key.
//!
//! `build` makes a Response with the tree builder (as the SAML endpoints will, not by
//! parsing a file), signs its assertion and then itself, and writes it. `sign-redirect`
//! prints a signed HTTP-Redirect query for a `SAMLResponse`; `verify-redirect` checks one
//! (`SAMLRequest` or `SAMLResponse`) and prints `OK` or the error.
//!
//! `sign` signs the elements with the given IDs in order (inner first). `verify` checks the
//! element with the given ID (the root without `--id`), prints `OK <ID>` and exits 0, or
//! prints the error and exits 1.

use std::process::ExitCode;

use anyhow::{Context, bail};
use gatehouse::crypto::{SigningKey, keys};
use gatehouse::model::{KeyType, Timestamp};
use gatehouse::providers::saml::xml::{
    self, DigestAlgorithm, Element, RedirectMessage, SignOptions, SignatureAlgorithm,
    TrustedCertificate, VerifyOptions,
};

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("saml_xmldsig: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Options as `--name value` pairs and bare flags, and positional arguments.
struct Args {
    pairs: Vec<(String, String)>,
    flags: Vec<String>,
    positional: Vec<String>,
}

const FLAGS: [&str; 2] = ["--allow-sha1", "--no-keyinfo"];

fn split(args: &[String]) -> anyhow::Result<Args> {
    let mut parsed = Args {
        pairs: Vec::new(),
        flags: Vec::new(),
        positional: Vec::new(),
    };
    let mut args = args.iter().cloned();
    while let Some(arg) = args.next() {
        if FLAGS.contains(&arg.as_str()) {
            parsed.flags.push(arg);
        } else if arg.starts_with("--") {
            let value = args
                .next()
                .with_context(|| format!("{arg} needs a value"))?;
            parsed.pairs.push((arg, value));
        } else {
            parsed.positional.push(arg);
        }
    }
    Ok(parsed)
}

impl Args {
    fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.all(name).last().copied()
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|flag| flag == name)
    }
}

fn run(args: Vec<String>) -> anyhow::Result<ExitCode> {
    let Some((command, rest)) = args.split_first() else {
        bail!("usage: saml_xmldsig sign|verify ... (see the source)");
    };
    let args = split(rest)?;
    match command.as_str() {
        "sign" => sign(&args),
        "verify" => verify(&args),
        "keygen" => keygen(&args),
        "build" => build(&args),
        "sign-redirect" => sign_redirect(&args),
        "verify-redirect" => verify_redirect(&args),
        "encrypt" => encrypt(&args),
        other => bail!("unknown command {other}"),
    }
}

fn read(path: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))
}

fn signing_key(args: &Args) -> anyhow::Result<(SigningKey, String)> {
    let certificate_pem = read(args.one("--cert").context("--cert is required")?)?;
    let key_pem = read(args.one("--key").context("--key is required")?)?;
    Ok((
        SigningKey::from_pem(&certificate_pem, &key_pem)?,
        certificate_pem,
    ))
}

fn algorithm(args: &Args) -> anyhow::Result<SignatureAlgorithm> {
    Ok(match args.one("--alg").unwrap_or("rsa-sha256") {
        "rsa-sha256" => SignatureAlgorithm::RsaSha256,
        "rsa-sha1" => SignatureAlgorithm::RsaSha1,
        "ecdsa-sha256" => SignatureAlgorithm::EcdsaSha256,
        other => bail!("unknown --alg {other}"),
    })
}

fn sign(args: &Args) -> anyhow::Result<ExitCode> {
    let [input, output] = args.positional.as_slice() else {
        bail!("sign needs IN.xml OUT.xml");
    };
    let (key, certificate_pem) = signing_key(args)?;
    let algorithm = algorithm(args)?;
    let digest = match args.one("--digest").unwrap_or("sha256") {
        "sha256" => DigestAlgorithm::Sha256,
        "sha1" => DigestAlgorithm::Sha1,
        other => bail!("unknown --digest {other}"),
    };
    let mut options = SignOptions::new(algorithm, digest);
    if !args.flag("--no-keyinfo") {
        let trusted = TrustedCertificate::from_pem(&certificate_pem)?;
        let first = trusted.first().context("no certificate")?;
        options = options.with_certificate(first.der());
    }
    options.inclusive_prefixes = xml::prefix_list(args.one("--prefixes").unwrap_or(""));

    let mut document = xml::parse(read(input)?.as_bytes())?;
    let ids = args.all("--id");
    if ids.is_empty() {
        bail!("--id is required");
    }
    for id in ids {
        xml::sign_enveloped(&mut document, id, &key, &options)
            .with_context(|| format!("signing {id}"))?;
    }
    std::fs::write(output, document.to_document()).with_context(|| format!("writing {output}"))?;
    Ok(ExitCode::SUCCESS)
}

/// A Response built with the tree API: prefixes declared once on the root or nowhere
/// (the writer declares them), `xs` declared where the QName value uses it.
fn build(args: &Args) -> anyhow::Result<ExitCode> {
    let [output] = args.positional.as_slice() else {
        bail!("build needs OUT.xml");
    };
    let (key, certificate_pem) = signing_key(args)?;
    let trusted = TrustedCertificate::from_pem(&certificate_pem)?;
    let certificate = trusted.first().context("no certificate")?;
    let saml = |name: &str| Element::new(xml::SAML_NS, &format!("saml:{name}"));
    let value = |text: &str| {
        saml("AttributeValue")
            .with_namespace(Some("xs"), xml::XS_NS)
            .with_attribute_ns(xml::XSI_NS, "xsi:type", "xs:string")
            .with_text(text)
    };
    let assertion = saml("Assertion")
        .with_attribute("ID", "_a1")
        .with_attribute("Version", "2.0")
        .with_attribute("IssueInstant", "2026-11-23T19:00:00Z")
        .with_child(saml("Issuer").with_text("https://idp.example/"))
        .with_child(
            saml("Subject").with_child(
                saml("NameID")
                    .with_attribute(
                        "Format",
                        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                    )
                    .with_text("alice@example.com"),
            ),
        )
        .with_child(
            saml("AttributeStatement").with_child(
                saml("Attribute")
                    .with_attribute("Name", "http://schemas.xmlsoap.org/claims/Group")
                    .with_child(value("admins & <friends> \"quoted\""))
                    .with_child(value("Équipe\tcafé\r\n日本")),
            ),
        );
    let mut response = Element::new(xml::SAMLP_NS, "samlp:Response")
        .with_namespace(Some("samlp"), xml::SAMLP_NS)
        .with_attribute("ID", "_r1")
        .with_attribute("Version", "2.0")
        .with_attribute("Destination", "https://sp.example/acs?a=1&b=2")
        .with_child(saml("Issuer").with_text("https://idp.example/"))
        .with_child(
            Element::new(xml::SAMLP_NS, "samlp:Status").with_child(
                Element::new(xml::SAMLP_NS, "samlp:StatusCode")
                    .with_attribute("Value", "urn:oasis:names:tc:SAML:2.0:status:Success"),
            ),
        )
        .with_child(assertion);
    let algorithm = algorithm(args)?;
    let options =
        SignOptions::new(algorithm, DigestAlgorithm::Sha256).with_certificate(certificate.der());
    xml::sign_enveloped(&mut response, "_a1", &key, &options)?;
    xml::sign_enveloped(&mut response, "_r1", &key, &options)?;
    std::fs::write(output, response.to_document())?;
    Ok(ExitCode::SUCCESS)
}

fn sign_redirect(args: &Args) -> anyhow::Result<ExitCode> {
    let [message] = args.positional.as_slice() else {
        bail!("sign-redirect needs MESSAGE_BASE64");
    };
    let (key, _) = signing_key(args)?;
    let query = xml::sign_redirect(
        RedirectMessage::Response,
        message,
        args.one("--relay-state"),
        &key,
        algorithm(args)?,
    )?;
    println!("{query}");
    Ok(ExitCode::SUCCESS)
}

fn verify_redirect(args: &Args) -> anyhow::Result<ExitCode> {
    let [query] = args.positional.as_slice() else {
        bail!("verify-redirect needs QUERY");
    };
    let mut trusted = Vec::new();
    for path in args.all("--cert") {
        trusted.extend(TrustedCertificate::from_pem(&read(path)?)?);
    }
    let options = VerifyOptions {
        allow_sha1: args.flag("--allow-sha1"),
    };
    match xml::verify_redirect(query, &trusted, &options) {
        Ok(verified) => {
            println!(
                "OK {:?} {:?} message={} relay_state={}",
                verified.message_kind,
                verified.algorithm,
                verified.message,
                verified.relay_state.unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            println!("FAIL {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// A key and self-signed certificate, as gatehouse generates them for its keypairs.
fn keygen(args: &Args) -> anyhow::Result<ExitCode> {
    let [key_path, cert_path] = args.positional.as_slice() else {
        bail!("keygen needs KEY.pem CERT.pem");
    };
    let key_type = match args.one("--type").unwrap_or("rsa") {
        "rsa" => KeyType::Rsa,
        "ec" => KeyType::EcP256,
        other => bail!("unknown --type {other}"),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let pair = keys::generate(
        key_type,
        "saml interop",
        &[],
        30,
        Timestamp(i64::try_from(now)?),
    )?;
    std::fs::write(key_path, pair.private_key_pem)?;
    std::fs::write(cert_path, pair.certificate_pem)?;
    Ok(ExitCode::SUCCESS)
}

fn find_by_id<'a>(element: &'a Element, id: &str) -> Option<&'a Element> {
    if element.attribute(xml::ID_ATTRIBUTE) == Some(id) {
        return Some(element);
    }
    element
        .child_elements()
        .find_map(|child| find_by_id(child, id))
}

fn verify(args: &Args) -> anyhow::Result<ExitCode> {
    let [input] = args.positional.as_slice() else {
        bail!("verify needs IN.xml");
    };
    let mut trusted = Vec::new();
    for path in args.all("--cert") {
        trusted.extend(TrustedCertificate::from_pem(&read(path)?)?);
    }
    let options = VerifyOptions {
        allow_sha1: args.flag("--allow-sha1"),
    };
    let document = match xml::parse(read(input)?.as_bytes()) {
        Ok(document) => document,
        Err(error) => {
            println!("FAIL parse: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let element = match args.one("--id") {
        Some(id) => find_by_id(&document, id).with_context(|| format!("no element {id}"))?,
        None => &document,
    };
    match xml::verify_enveloped(&document, element, &trusted, &options) {
        Ok(verified) => {
            println!(
                "OK {} {:?} {:?}",
                verified.element.attribute(xml::ID_ATTRIBUTE).unwrap_or(""),
                verified.algorithm,
                verified.digest
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            println!("FAIL {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn encrypt(args: &Args) -> anyhow::Result<ExitCode> {
    use gatehouse::providers::saml::xml::encrypt::{DataEncryption, encrypt_element};
    let [input, output] = args.positional.as_slice() else {
        bail!("encrypt needs IN.xml OUT.xml");
    };
    let certificate =
        TrustedCertificate::from_pem(&read(args.one("--cert").context("--cert is required")?)?)?;
    let certificate = certificate.first().context("no certificate in --cert")?;
    let method = match args.one("--method").unwrap_or("aes256-gcm") {
        "aes128-cbc" => DataEncryption::Aes128Cbc,
        "aes256-cbc" => DataEncryption::Aes256Cbc,
        "aes128-gcm" => DataEncryption::Aes128Gcm,
        "aes256-gcm" => DataEncryption::Aes256Gcm,
        other => bail!("unknown --method {other}"),
    };
    let element = xml::parse(read(input)?.as_bytes())?;
    let encrypted = encrypt_element(&element, certificate.der(), method)?;
    let wrapper = Element::new(xml::SAML_NS, "saml:EncryptedAssertion")
        .with_namespace(Some("saml"), xml::SAML_NS)
        .with_child(encrypted);
    std::fs::write(output, wrapper.to_document()).with_context(|| format!("writing {output}"))?;
    Ok(ExitCode::SUCCESS)
}
