//! Parsing untrusted XML into the owned tree, with the hardening SAML endpoints need:
//! no DTD at all (so no external entities and no entity expansion bombs), only the five
//! predefined entities and character references, UTF-8 only, and limits on size, depth,
//! element and attribute counts checked while reading, before any of it is kept.
//!
//! quick-xml tokenizes; namespaces, attribute normalization and the limits are done here.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::dom::{
    Attribute, Element, NamespaceDecl, Node, XML_NS, is_xml_space, lookup, split_qname,
};

/// How much a document may hold. The defaults are generous for SAML messages (a signed
/// response with a few dozen attributes is a few KiB) and small enough to refuse a hostile
/// request cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of input, checked before anything is read.
    pub max_bytes: usize,
    /// Nesting depth of elements (the root is depth 1).
    pub max_depth: usize,
    /// Elements in the whole document.
    pub max_elements: usize,
    /// Attributes on one element, namespace declarations included.
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 256 * 1024,
            max_depth: 64,
            max_elements: 10_000,
            max_attributes: 64,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("the document is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the document nests elements deeper than {0}")]
    TooDeep(usize),
    #[error("the document has more than {0} elements")]
    TooManyElements(usize),
    #[error("an element has more than {0} attributes")]
    TooManyAttributes(usize),
    #[error("document type declarations (DTDs) are not allowed")]
    Doctype,
    #[error("the entity reference &{0}; is not allowed")]
    Entity(String),
    #[error("only UTF-8 documents are accepted: {0}")]
    Encoding(String),
    #[error("the namespace prefix {0:?} is not declared")]
    UnboundPrefix(String),
    #[error("malformed XML: {0}")]
    Malformed(String),
}

fn malformed(what: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(what.to_string())
}

/// Parses a document with the default limits and returns its root element.
pub fn parse(input: &[u8]) -> Result<Element, XmlError> {
    parse_with_limits(input, &Limits::default())
}

/// Parses a document and returns its root element. Comments and whitespace outside the
/// root, the XML declaration and processing instructions outside the root are dropped.
pub fn parse_with_limits(input: &[u8], limits: &Limits) -> Result<Element, XmlError> {
    if input.len() > limits.max_bytes {
        return Err(XmlError::TooLarge(limits.max_bytes));
    }
    let text = std::str::from_utf8(input).map_err(|e| XmlError::Encoding(e.to_string()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(bad) = text.chars().find(|c| !is_xml_char(*c)) {
        return Err(malformed(format!(
            "the character U+{:04X} is not allowed in XML",
            u32::from(bad)
        )));
    }
    Parser {
        limits,
        scope: Vec::new(),
        stack: Vec::new(),
        root: None,
        elements: 0,
        seen_markup: false,
    }
    .run(text)
}

/// XML 1.0 `Char`, without the surrogates a Rust `char` cannot hold anyway.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

struct Open {
    element: Element,
    /// Length of `Parser::scope` before this element's declarations.
    scope_mark: usize,
}

struct Parser<'l> {
    limits: &'l Limits,
    /// In-scope namespace declarations, outermost first.
    scope: Vec<NamespaceDecl>,
    stack: Vec<Open>,
    root: Option<Element>,
    elements: usize,
    /// Anything but the XML declaration seen yet (the declaration must come first).
    seen_markup: bool,
}

impl Parser<'_> {
    fn run(mut self, text: &str) -> Result<Element, XmlError> {
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.trim_text(false);
        config.expand_empty_elements = false;
        config.check_end_names = true;
        config.check_comments = true;
        config.allow_unmatched_ends = false;
        loop {
            let event = reader.read_event().map_err(malformed)?;
            let first = !self.seen_markup;
            if !matches!(event, Event::Decl(_)) {
                self.seen_markup = true;
            }
            match event {
                Event::Decl(decl) => {
                    if !first {
                        return Err(malformed("an XML declaration after the start"));
                    }
                    self.seen_markup = true;
                    let version = decl.version().map_err(malformed)?;
                    if version.as_ref() != b"1.0" {
                        return Err(malformed("only XML 1.0 is accepted"));
                    }
                    if let Some(encoding) = decl.encoding() {
                        let encoding = encoding.map_err(malformed)?;
                        if !encoding.eq_ignore_ascii_case(b"utf-8") {
                            return Err(XmlError::Encoding(
                                String::from_utf8_lossy(&encoding).into_owned(),
                            ));
                        }
                    }
                }
                Event::DocType(_) => return Err(XmlError::Doctype),
                Event::Start(start) => {
                    let open = self.open(&start)?;
                    self.stack.push(open);
                }
                Event::Empty(start) => {
                    let open = self.open(&start)?;
                    self.close(open)?;
                }
                Event::End(_) => {
                    let open = self
                        .stack
                        .pop()
                        .ok_or_else(|| malformed("an end tag without a start tag"))?;
                    self.close(open)?;
                }
                Event::Text(content) => {
                    let content = content.xml10_content().map_err(malformed)?;
                    self.text(&content)?;
                }
                Event::CData(content) => {
                    let raw = content.decode().map_err(malformed)?;
                    self.text(&normalize_line_ends(&raw))?;
                }
                Event::GeneralRef(reference) => {
                    let resolved = if reference.is_char_ref() {
                        let c = reference
                            .resolve_char_ref()
                            .map_err(malformed)?
                            .ok_or_else(|| malformed("a bad character reference"))?;
                        if !is_xml_char(c) {
                            return Err(malformed(
                                "a character reference to a forbidden character",
                            ));
                        }
                        c
                    } else {
                        let name = reference.decode().map_err(malformed)?;
                        predefined_entity(&name)
                            .ok_or_else(|| XmlError::Entity(name.into_owned()))?
                    };
                    self.text(resolved.encode_utf8(&mut [0; 4]))?;
                }
                Event::PI(pi) => {
                    // Only inside the root does a processing instruction belong to what
                    // we canonicalize; elsewhere it is dropped.
                    if let Some(parent) = self.stack.last_mut() {
                        let target = String::from_utf8_lossy(pi.target()).into_owned();
                        let data = String::from_utf8_lossy(pi.content()).into_owned();
                        if target.eq_ignore_ascii_case("xml") {
                            return Err(malformed("a processing instruction named xml"));
                        }
                        parent.element.children.push(Node::ProcessingInstruction {
                            target,
                            data: data.trim_start_matches(is_xml_space).to_owned(),
                        });
                    }
                }
                Event::Comment(_) => {}
                Event::Eof => break,
            }
        }
        if !self.stack.is_empty() {
            return Err(malformed("the document ends inside an element"));
        }
        self.root.ok_or_else(|| malformed("no root element"))
    }

    fn text(&mut self, content: &str) -> Result<(), XmlError> {
        match self.stack.last_mut() {
            Some(parent) => {
                parent.element.push_text(content);
                Ok(())
            }
            None if content.chars().all(is_xml_space) => Ok(()),
            None => Err(malformed("text outside the root element")),
        }
    }

    fn open(&mut self, start: &BytesStart<'_>) -> Result<Open, XmlError> {
        if self.root.is_some() {
            return Err(malformed("more than one root element"));
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep(self.limits.max_depth));
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(XmlError::TooManyElements(self.limits.max_elements));
        }
        let name = std::str::from_utf8(start.name().as_ref())
            .map_err(malformed)?
            .to_owned();
        let (prefix, local) =
            split_qname(&name).ok_or_else(|| malformed(format!("the element name {name:?}")))?;
        if prefix == Some("xmlns") {
            return Err(malformed("an element named with the xmlns prefix"));
        }

        let mut declarations = Vec::new();
        let mut raw_attributes: Vec<(String, String)> = Vec::new();
        for (count, attribute) in start.attributes().with_checks(true).enumerate() {
            if count >= self.limits.max_attributes {
                return Err(XmlError::TooManyAttributes(self.limits.max_attributes));
            }
            let attribute = attribute.map_err(malformed)?;
            let key = std::str::from_utf8(attribute.key.as_ref())
                .map_err(malformed)?
                .to_owned();
            let raw = std::str::from_utf8(&attribute.value).map_err(malformed)?;
            let value = normalize_attribute(raw)?;
            if key == "xmlns" {
                declarations.push(NamespaceDecl {
                    prefix: None,
                    uri: value,
                });
            } else if let Some(declared) = key.strip_prefix("xmlns:") {
                if declared.is_empty() || declared.contains(':') || declared == "xmlns" {
                    return Err(malformed(format!("the declaration {key}")));
                }
                if value.is_empty() {
                    return Err(malformed(format!(
                        "{key}=\"\" (prefixes cannot be undeclared)"
                    )));
                }
                if declared == "xml" || value == XML_NS {
                    // Only the xml prefix may name the xml namespace, and it is bound
                    // already; a correct redundant declaration changes nothing.
                    if declared == "xml" && value == XML_NS {
                        continue;
                    }
                    return Err(malformed(format!("the declaration {key}")));
                }
                declarations.push(NamespaceDecl {
                    prefix: Some(declared.to_owned()),
                    uri: value,
                });
            } else {
                raw_attributes.push((key, value));
            }
        }

        let scope_mark = self.scope.len();
        self.scope.extend(declarations.iter().cloned());
        let namespace = self.resolve(prefix, true)?;
        let mut attributes: Vec<Attribute> = Vec::with_capacity(raw_attributes.len());
        for (key, value) in raw_attributes {
            let (attribute_prefix, attribute_local) = split_qname(&key)
                .ok_or_else(|| malformed(format!("the attribute name {key:?}")))?;
            let attribute_namespace = match attribute_prefix {
                Some(_) => self.resolve(attribute_prefix, false)?,
                None => None,
            };
            // Two prefixes bound to one namespace can still spell the same attribute.
            if attributes
                .iter()
                .any(|a| a.local_name == attribute_local && a.namespace == attribute_namespace)
            {
                return Err(malformed(format!("the attribute {key} appears twice")));
            }
            attributes.push(Attribute {
                prefix: attribute_prefix.map(str::to_owned),
                local_name: attribute_local.to_owned(),
                namespace: attribute_namespace,
                value,
            });
        }
        Ok(Open {
            element: Element {
                prefix: prefix.map(str::to_owned),
                local_name: local.to_owned(),
                namespace,
                namespaces: declarations,
                attributes,
                children: Vec::new(),
            },
            scope_mark,
        })
    }

    /// The namespace a prefix stands for here; the default namespace only applies to
    /// element names.
    fn resolve(&self, prefix: Option<&str>, element: bool) -> Result<Option<String>, XmlError> {
        match prefix {
            None if element => Ok(lookup(&self.scope, None)
                .filter(|uri| !uri.is_empty())
                .map(str::to_owned)),
            None => Ok(None),
            Some(prefix) => lookup(&self.scope, Some(prefix))
                .map(|uri| Some(uri.to_owned()))
                .ok_or_else(|| XmlError::UnboundPrefix(prefix.to_owned())),
        }
    }

    fn close(&mut self, open: Open) -> Result<(), XmlError> {
        self.scope.truncate(open.scope_mark);
        match self.stack.last_mut() {
            Some(parent) => parent.element.children.push(Node::Element(open.element)),
            None if self.root.is_none() => self.root = Some(open.element),
            None => return Err(malformed("more than one root element")),
        }
        Ok(())
    }
}

fn predefined_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

/// `\r\n` and lone `\r` become `\n`, as an XML processor sees line ends.
fn normalize_line_ends(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// An attribute value as the XML spec normalizes it (CDATA-typed, as every attribute
/// is without a DTD): references resolved, and each literal tab, line feed, carriage
/// return or CRLF pair turned into one space. Characters written as references stay.
fn normalize_attribute(raw: &str) -> Result<String, XmlError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        match c {
            '&' => {
                let end = rest
                    .find(';')
                    .ok_or_else(|| malformed("an unterminated reference in an attribute"))?;
                let name = rest.get(1..end).unwrap_or_default();
                let resolved = match name.strip_prefix('#') {
                    Some(number) => char_reference(number)?,
                    None => {
                        predefined_entity(name).ok_or_else(|| XmlError::Entity(name.to_owned()))?
                    }
                };
                out.push(resolved);
                rest = rest.get(end + 1..).unwrap_or_default();
                continue;
            }
            '<' => return Err(malformed("'<' in an attribute value")),
            '\r' => {
                out.push(' ');
                if rest.starts_with("\r\n") {
                    rest = rest.get(2..).unwrap_or_default();
                    continue;
                }
            }
            '\t' | '\n' => out.push(' '),
            c => out.push(c),
        }
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
    }
    Ok(out)
}

/// `#x41` / `#65` without the `#` (already stripped): the character, when it is one
/// XML allows.
fn char_reference(number: &str) -> Result<char, XmlError> {
    let bad = || malformed(format!("the character reference &#{number};"));
    let value = match number.strip_prefix('x') {
        Some(hex) if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) => {
            u32::from_str_radix(hex, 16).map_err(|_| bad())?
        }
        None if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) => {
            number.parse::<u32>().map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    char::from_u32(value)
        .filter(|c| is_xml_char(*c))
        .ok_or_else(bad)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;

    const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

    #[test]
    fn parses_namespaces_attributes_and_text() {
        let root = parse(
            br#"<?xml version="1.0" encoding="utf-8"?>
<!-- a comment before the root -->
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" a="x&#9;y&#x20;z	w&amp;&lt;&quot;&apos;&gt;">
  <Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion">idp &amp; co<!-- split -->&#x41;<![CDATA[<b>]]></Issuer>
  <plain xmlns="" xml:lang="en"/>
  <?keep this?>
</samlp:Response>
"#,
        )
        .unwrap();
        assert!(root.is("urn:oasis:names:tc:SAML:2.0:protocol", "Response"));
        assert_eq!(root.prefix(), Some("samlp"));
        assert_eq!(root.attribute("ID"), Some("_1"));
        assert_eq!(root.attribute("a"), Some("x\ty z w&<\"'>"));
        let issuer = root.find_child(SAML, "Issuer").unwrap();
        assert_eq!(issuer.text(), "idp & coA<b>");
        assert_eq!(issuer.children().len(), 1, "the pieces are one text node");
        let plain = root.child_elements().nth(1).unwrap();
        assert_eq!(plain.namespace(), None);
        assert_eq!(plain.attribute_ns(XML_NS, "lang"), Some("en"));
        assert!(root.children().iter().any(|node| matches!(
            node,
            Node::ProcessingInstruction { target, data } if target == "keep" && data == "this"
        )));
    }

    #[test]
    fn line_ends_are_normalized_in_text_and_attributes() {
        let root = parse(b"<a b=\"1\r\n2\">x\r\ny\rz</a>").unwrap();
        assert_eq!(root.attribute("b"), Some("1 2"));
        assert_eq!(root.text(), "x\ny\nz");
        let root = parse(b"<a b=\"1&#13;&#10;2\">x&#13;</a>").unwrap();
        assert_eq!(root.attribute("b"), Some("1\r\n2"));
        assert_eq!(root.text(), "x\r");
    }

    #[test]
    fn refuses_doctypes_and_entities() {
        let billion_laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"#;
        assert_eq!(parse(billion_laughs), Err(XmlError::Doctype));
        let external = br#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert_eq!(parse(external), Err(XmlError::Doctype));
        assert_eq!(parse(b"<r>&x;</r>"), Err(XmlError::Entity("x".into())));
        assert_eq!(parse(b"<r a=\"&x;\"/>"), Err(XmlError::Entity("x".into())));
    }

    #[test]
    fn enforces_limits() {
        let limits = Limits {
            max_bytes: 100,
            max_depth: 3,
            max_elements: 5,
            max_attributes: 2,
        };
        assert_eq!(
            parse_with_limits(&[b' '; 101], &limits),
            Err(XmlError::TooLarge(100))
        );
        assert_eq!(
            parse_with_limits(b"<a><b><c><d/></c></b></a>", &limits),
            Err(XmlError::TooDeep(3))
        );
        assert!(parse_with_limits(b"<a><b><c/></b></a>", &limits).is_ok());
        assert_eq!(
            parse_with_limits(b"<a><b/><b/><b/><b/><b/></a>", &limits),
            Err(XmlError::TooManyElements(5))
        );
        assert_eq!(
            parse_with_limits(b"<a x='1' y='2' z='3'/>", &limits),
            Err(XmlError::TooManyAttributes(2))
        );
        let deep = "<a>".repeat(100_000);
        assert_eq!(
            parse_with_limits(
                deep.as_bytes(),
                &Limits {
                    max_bytes: 1 << 20,
                    ..Limits::default()
                }
            ),
            Err(XmlError::TooDeep(64))
        );
        let big = vec![b'a'; 5 << 20];
        assert_eq!(parse(&big), Err(XmlError::TooLarge(256 * 1024)));
    }

    #[test]
    fn refuses_malformed_input_without_panicking() {
        let cases: &[&[u8]] = &[
            b"",
            b"   ",
            b"<a>",
            b"</a>",
            b"<a></b>",
            b"<a/><b/>",
            b"text<a/>",
            b"<a/>text",
            b"<a b='1' b='2'/>",
            b"<a xmlns:p='u' xmlns:q='u' p:x='1' q:x='2'/>",
            b"<p:a/>",
            b"<a p:b='1'/>",
            b"<a xmlns:p=''/>",
            b"<a:b:c/>",
            b"<a>&#0;</a>",
            b"<a>&#xD800;</a>",
            b"<a>\x01</a>",
            b"<a b='<'/>",
            b"<a b='&amp'/>",
            b"<a>&amp</a>",
            b"\xff\xfe<a/>",
            b"<?xml version='1.0' encoding='ISO-8859-1'?><a/>",
            b"<?xml version='1.1'?><a/>",
            b"<a/><?xml version='1.0'?>",
            b"<a><!-- -- --></a>",
            b"<a><![CDATA[x</a>",
            b"<a b=\"1\"",
            b"<xmlns:a/>",
            b"<a xmlns:xml='urn:other'/>",
            b"<a xmlns:p='http://www.w3.org/XML/1998/namespace'/>",
        ];
        for case in cases {
            assert!(
                parse(case).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(case)
            );
        }
        // Odd but well-formed: kept.
        assert!(parse(b"\xef\xbb\xbf<a/>").is_ok(), "a UTF-8 BOM is fine");
        assert!(parse(b"<a xmlns:xml='http://www.w3.org/XML/1998/namespace'/>").is_ok());
    }

    #[test]
    fn truncated_and_mutated_inputs_never_panic() {
        let doc = br#"<?xml version="1.0"?><r xmlns="urn:a" xmlns:p="urn:p"><p:x a="1&amp;2">t&#x41;<![CDATA[c]]><?pi d?></p:x><!--c--></r>"#;
        for end in 0..doc.len() {
            let _ = parse(&doc[..end]);
        }
        for index in 0..doc.len() {
            for byte in [b'<', b'>', b'&', b'"', b':', 0, b'/', b'!', b'?'] {
                let mut copy = doc.to_vec();
                copy[index] = byte;
                let _ = parse(&copy);
            }
        }
    }
}
