//! A small owned XML tree: what the parser produces, what canonicalization and the
//! signature code walk, and what the SAML layer builds its own messages with.
//!
//! Every element and attribute carries the namespace URI its prefix resolved to when it
//! was parsed (or that the builder was given), so readers match on (namespace, local name)
//! and never on prefixes, which a sender may choose freely.
//!
//! Text is kept merged: the parser joins the pieces of text that comments, CDATA sections
//! and character references split, so `text()` sees the same string that was signed (the
//! classic `user@evil.com<!---->.example.com` NameID trick relies on a reader taking
//! only the first piece).

use std::fmt::Write as _;

/// The namespace bound to the `xml` prefix without any declaration.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// One `xmlns` / `xmlns:prefix` attribute. `prefix` is `None` for the default namespace;
/// `uri` is empty only for `xmlns=""`, which takes the default namespace away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceDecl {
    pub prefix: Option<String>,
    pub uri: String,
}

/// An attribute other than a namespace declaration. `namespace` is `None` for an
/// unprefixed attribute: the default namespace never applies to attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub prefix: Option<String>,
    pub local_name: String,
    pub namespace: Option<String>,
    pub value: String,
}

impl Attribute {
    /// `prefix:local` or `local`, as written.
    pub fn qualified_name(&self) -> String {
        qualified(self.prefix.as_deref(), &self.local_name)
    }
}

/// A child of an element. Comments are not kept (exclusive canonicalization without
/// comments drops them anyway); processing instructions are, because canonical XML keeps
/// them and a digest must match what other implementations compute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
    ProcessingInstruction { target: String, data: String },
}

/// An element with its namespace declarations (in document order), attributes (in
/// document order) and children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub(super) prefix: Option<String>,
    pub(super) local_name: String,
    pub(super) namespace: Option<String>,
    pub(super) namespaces: Vec<NamespaceDecl>,
    pub(super) attributes: Vec<Attribute>,
    pub(super) children: Vec<Node>,
}

pub(super) fn qualified(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(prefix) => format!("{prefix}:{local}"),
        None => local.to_owned(),
    }
}

/// Splits `p:local` into its parts; `None` for names with an empty part or two colons.
pub(super) fn split_qname(name: &str) -> Option<(Option<&str>, &str)> {
    match name.split_once(':') {
        None if !name.is_empty() => Some((None, name)),
        Some((prefix, local))
            if !prefix.is_empty() && !local.is_empty() && !local.contains(':') =>
        {
            Some((Some(prefix), local))
        }
        _ => None,
    }
}

impl Element {
    // --- building ----------------------------------------------------------------------

    /// An element in `namespace` named `qualified_name` (`samlp:Response`, or `Response`
    /// for the default namespace); an empty `namespace` means none (and no prefix). The
    /// writer declares the prefix where no ancestor does, so declaring it yourself
    /// (`with_namespace`) only chooses where it appears.
    pub fn new(namespace: &str, qualified_name: &str) -> Element {
        let (prefix, local) = match qualified_name.split_once(':') {
            Some((prefix, local)) if !namespace.is_empty() => {
                (Some(prefix.to_owned()), local.to_owned())
            }
            Some((_, local)) => (None, local.to_owned()),
            None => (None, qualified_name.to_owned()),
        };
        Element {
            prefix,
            local_name: local,
            namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
            namespaces: Vec::new(),
            attributes: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Declares `xmlns:prefix="uri"` (or `xmlns="uri"` for `None`) on this element,
    /// replacing an earlier declaration of the same prefix here.
    pub fn with_namespace(mut self, prefix: Option<&str>, uri: &str) -> Element {
        self.declare_namespace(prefix, uri);
        self
    }

    pub fn declare_namespace(&mut self, prefix: Option<&str>, uri: &str) {
        let prefix = prefix.map(str::to_owned);
        self.namespaces.retain(|decl| decl.prefix != prefix);
        self.namespaces.push(NamespaceDecl {
            prefix,
            uri: uri.to_owned(),
        });
    }

    /// Sets an unprefixed attribute (`ID`, `Version`, `Destination`...).
    pub fn with_attribute(mut self, name: &str, value: impl Into<String>) -> Element {
        self.set_attribute(name, value);
        self
    }

    pub fn set_attribute(&mut self, name: &str, value: impl Into<String>) {
        self.set_attribute_in(None, name, value);
    }

    /// Sets an attribute in a namespace (`xsi:type`), written with `qualified_name`. An
    /// attribute in a namespace needs a prefix: without one it is set unqualified.
    pub fn with_attribute_ns(
        mut self,
        namespace: &str,
        qualified_name: &str,
        value: impl Into<String>,
    ) -> Element {
        self.set_attribute_in(Some(namespace), qualified_name, value);
        self
    }

    fn set_attribute_in(
        &mut self,
        namespace: Option<&str>,
        qualified_name: &str,
        value: impl Into<String>,
    ) {
        let (prefix, local, namespace) = match (namespace, qualified_name.split_once(':')) {
            // The xml namespace has one spelling.
            (Some(XML_NS), Some((_, local))) => (Some("xml".to_owned()), local, Some(XML_NS)),
            (Some(namespace), Some((prefix, local))) if !namespace.is_empty() => {
                (Some(prefix.to_owned()), local, Some(namespace))
            }
            (_, Some((_, local))) => (None, local, None),
            (_, None) => (None, qualified_name, None),
        };
        let namespace = namespace.map(str::to_owned);
        let value = value.into();
        if let Some(existing) = self
            .attributes
            .iter_mut()
            .find(|a| a.namespace == namespace && a.local_name == local)
        {
            existing.value = value;
            existing.prefix = prefix;
            return;
        }
        self.attributes.push(Attribute {
            prefix,
            local_name: local.to_owned(),
            namespace,
            value,
        });
    }

    pub fn with_child(mut self, child: Element) -> Element {
        self.children.push(Node::Element(child));
        self
    }

    pub fn push_child(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    /// Inserts a node among the children (all nodes count, text included); past the end
    /// it is appended.
    pub fn insert_node(&mut self, index: usize, node: Node) {
        let index = index.min(self.children.len());
        self.children.insert(index, node);
    }

    pub fn with_text(mut self, text: impl Into<String>) -> Element {
        self.push_text(text);
        self
    }

    /// Appends text, merged with a text node already at the end.
    pub fn push_text(&mut self, text: impl Into<String>) {
        let text = text.into();
        if text.is_empty() {
            return;
        }
        if let Some(Node::Text(last)) = self.children.last_mut() {
            last.push_str(&text);
        } else {
            self.children.push(Node::Text(text));
        }
    }

    // --- reading -----------------------------------------------------------------------

    pub fn local_name(&self) -> &str {
        &self.local_name
    }

    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// The namespace URI of the element's name; `None` when it is in no namespace.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// `prefix:local` or `local`, as written.
    pub fn qualified_name(&self) -> String {
        qualified(self.prefix.as_deref(), &self.local_name)
    }

    /// Whether this element is `{namespace}local`.
    pub fn is(&self, namespace: &str, local_name: &str) -> bool {
        self.local_name == local_name && self.namespace.as_deref() == Some(namespace)
    }

    /// The namespace declarations written on this element, in document order.
    pub fn namespace_declarations(&self) -> &[NamespaceDecl] {
        &self.namespaces
    }

    /// The attributes (namespace declarations excluded), in document order.
    pub fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    /// The value of an unprefixed attribute.
    pub fn attribute(&self, local_name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.namespace.is_none() && a.local_name == local_name)
            .map(|a| a.value.as_str())
    }

    /// The value of the attribute `{namespace}local_name`.
    pub fn attribute_ns(&self, namespace: &str, local_name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.namespace.as_deref() == Some(namespace) && a.local_name == local_name)
            .map(|a| a.value.as_str())
    }

    pub fn children(&self) -> &[Node] {
        &self.children
    }

    /// The child elements, in order.
    pub fn child_elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            _ => None,
        })
    }

    /// The child elements named `{namespace}local_name`, in order.
    pub fn find_children<'a>(
        &'a self,
        namespace: &'a str,
        local_name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.child_elements()
            .filter(move |child| child.is(namespace, local_name))
    }

    /// The first child element named `{namespace}local_name`.
    pub fn find_child(&self, namespace: &str, local_name: &str) -> Option<&Element> {
        self.child_elements()
            .find(|child| child.is(namespace, local_name))
    }

    pub fn find_child_mut(&mut self, namespace: &str, local_name: &str) -> Option<&mut Element> {
        self.children.iter_mut().find_map(|node| match node {
            Node::Element(element) if element.is(namespace, local_name) => Some(element),
            _ => None,
        })
    }

    /// The element's own text: its text children joined (text inside child elements is
    /// not included).
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|node| match node {
                Node::Text(text) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The text of an element that must hold text only: `None` when it has child
    /// elements (a NameID or an AttributeValue with markup inside is not a plain value).
    pub fn text_only(&self) -> Option<String> {
        if self.child_elements().next().is_some() {
            return None;
        }
        Some(self.text())
    }

    /// Whether the element has non-whitespace text among its children (structural
    /// elements of SAML and XML-DSig may only hold whitespace between their children).
    pub(super) fn has_significant_text(&self) -> bool {
        self.children.iter().any(|node| match node {
            Node::Text(text) => !text.chars().all(is_xml_space),
            _ => false,
        })
    }

    // --- writing -----------------------------------------------------------------------

    /// The element as XML text, without an XML declaration. Prefixes used but declared
    /// nowhere above are declared where they are first used.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        let mut scope = Vec::new();
        write_element(self, &mut scope, &mut out);
        out
    }

    /// The element as a UTF-8 document with an XML declaration.
    pub fn to_document(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        out.push_str(&self.to_xml());
        out
    }
}

pub(super) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// The URI a prefix is bound to in `scope` (declarations in document order, innermost
/// last). `None` prefix is the default namespace; an empty URI means "none".
pub(super) fn lookup<'a>(scope: &'a [NamespaceDecl], prefix: Option<&str>) -> Option<&'a str> {
    if prefix == Some("xml") {
        return Some(XML_NS);
    }
    scope
        .iter()
        .rev()
        .find(|decl| decl.prefix.as_deref() == prefix)
        .map(|decl| decl.uri.as_str())
}

/// Text escaped as canonical XML escapes it (so what we write is already close to its
/// canonical form): `&`, `<`, `>` and carriage returns.
pub(super) fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Attribute values escaped as canonical XML escapes them: `&`, `<`, `"` and the three
/// whitespace characters a parser would otherwise turn into spaces.
pub(super) fn escape_attribute(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn write_element(element: &Element, scope: &mut Vec<NamespaceDecl>, out: &mut String) {
    let mark = scope.len();
    let name = element.qualified_name();
    out.push('<');
    out.push_str(&name);
    let mut declarations: Vec<NamespaceDecl> = element.namespaces.clone();
    // Bindings the element's own name and attributes need but nobody declared: declare
    // them here so the text we write means what the tree says.
    let mut needed: Vec<(Option<&str>, &str)> = Vec::new();
    needed.push((
        element.prefix.as_deref(),
        element.namespace.as_deref().unwrap_or(""),
    ));
    for attribute in &element.attributes {
        if let (Some(prefix), Some(namespace)) = (&attribute.prefix, &attribute.namespace) {
            needed.push((Some(prefix.as_str()), namespace.as_str()));
        }
    }
    for (prefix, uri) in needed {
        if prefix == Some("xml") {
            continue;
        }
        // What the tree says wins over a declaration that contradicts it here.
        if let Some(declared) = declarations
            .iter_mut()
            .find(|d| d.prefix.as_deref() == prefix)
        {
            uri.clone_into(&mut declared.uri);
            continue;
        }
        let visible = lookup(scope, prefix).unwrap_or("");
        if visible != uri {
            declarations.push(NamespaceDecl {
                prefix: prefix.map(str::to_owned),
                uri: uri.to_owned(),
            });
        }
    }
    for decl in &declarations {
        match &decl.prefix {
            Some(prefix) => {
                let _ = write!(out, " xmlns:{prefix}=\"");
            }
            None => out.push_str(" xmlns=\""),
        }
        escape_attribute(&decl.uri, out);
        out.push('"');
    }
    scope.extend(declarations);
    for attribute in &element.attributes {
        out.push(' ');
        out.push_str(&attribute.qualified_name());
        out.push_str("=\"");
        escape_attribute(&attribute.value, out);
        out.push('"');
    }
    if element.children.is_empty() {
        out.push_str("/>");
    } else {
        out.push('>');
        for child in &element.children {
            match child {
                Node::Element(child) => write_element(child, scope, out),
                Node::Text(text) => escape_text(text, out),
                Node::ProcessingInstruction { target, data } => {
                    write_pi(target, data, out);
                }
            }
        }
        out.push_str("</");
        out.push_str(&name);
        out.push('>');
    }
    scope.truncate(mark);
}

pub(super) fn write_pi(target: &str, data: &str, out: &mut String) {
    out.push_str("<?");
    out.push_str(target);
    if !data.is_empty() {
        out.push(' ');
        out.push_str(data);
    }
    out.push_str("?>");
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

    const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
    const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

    #[test]
    fn builds_and_writes_with_escaping_and_declarations() {
        let response = Element::new(SAMLP, "samlp:Response")
            .with_namespace(Some("samlp"), SAMLP)
            .with_attribute("ID", "_a\"<&>")
            .with_child(
                Element::new(SAML, "saml:Issuer").with_text("https://idp.example/ a<b & c>d\r\n"),
            )
            .with_child(Element::new("", "Empty"));
        assert_eq!(
            response.to_xml(),
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
             ID=\"_a&quot;&lt;&amp;>\"><saml:Issuer \
             xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">https://idp.example/ \
             a&lt;b &amp; c&gt;d&#xD;\n</saml:Issuer><Empty/></samlp:Response>"
        );
    }

    #[test]
    fn an_unqualified_child_under_a_default_namespace_gets_xmlns_empty() {
        let root = Element::new("urn:x", "Root")
            .with_namespace(None, "urn:x")
            .with_child(Element::new("", "Plain"));
        assert_eq!(
            root.to_xml(),
            "<Root xmlns=\"urn:x\"><Plain xmlns=\"\"/></Root>"
        );
    }

    #[test]
    fn lookups_go_by_namespace_not_prefix() {
        let root = Element::new(SAMLP, "p:Response")
            .with_child(Element::new(SAML, "a:Issuer").with_text("x"))
            .with_child(Element::new(SAMLP, "p:Issuer").with_text("wrong namespace"))
            .with_attribute_ns(XML_NS, "xml:lang", "en");
        assert_eq!(root.find_child(SAML, "Issuer").unwrap().text(), "x");
        assert_eq!(root.find_children(SAML, "Issuer").count(), 1);
        assert_eq!(root.attribute_ns(XML_NS, "lang"), Some("en"));
        assert_eq!(root.attribute("lang"), None);
        assert!(root.is(SAMLP, "Response"));
        assert!(!root.is(SAML, "Response"));
    }

    #[test]
    fn the_writer_keeps_the_tree_meaning_when_the_builder_is_misused() {
        let element = Element::new("urn:a", "p:x")
            .with_namespace(Some("p"), "urn:b")
            .with_child(Element::new("", "q:none"))
            .with_attribute_ns("urn:n", "unprefixed", "1")
            .with_attribute_ns(XML_NS, "other:lang", "en");
        assert_eq!(
            element.to_xml(),
            "<p:x xmlns:p=\"urn:a\" unprefixed=\"1\" xml:lang=\"en\"><none/></p:x>"
        );
    }

    #[test]
    fn text_only_refuses_mixed_content() {
        let mut element = Element::new(SAML, "saml:NameID").with_text("a");
        element.push_text("b");
        assert_eq!(element.children().len(), 1, "adjacent text merges");
        assert_eq!(element.text_only().as_deref(), Some("ab"));
        element.push_child(Element::new(SAML, "saml:X"));
        assert_eq!(element.text_only(), None);
    }
}
