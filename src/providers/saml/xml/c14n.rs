//! Exclusive XML Canonicalization 1.0 without comments
//! (`http://www.w3.org/2001/10/xml-exc-c14n#`) of one element's subtree, the only
//! canonicalization SAML signatures use in practice.
//!
//! What makes it "exclusive": a namespace declaration is written on an element only when
//! that element (or one of its attributes) uses the prefix, and an output ancestor has not
//! already written the same binding; declarations from outside the subtree matter only for
//! the prefixes of an `InclusiveNamespaces PrefixList`, which behave as in inclusive
//! canonicalization. xml:* attributes of ancestors are not inherited (unlike inclusive
//! C14N).
//!
//! The output: start and end tags for every element (never `<a/>`), namespace
//! declarations sorted by prefix (default first) before the attributes, attributes sorted
//! by namespace URI then local name (unqualified first), double-quoted values, the C14N
//! escapes for text (`&amp; &lt; &gt; &#xD;`) and attributes (`&amp; &lt; &quot; &#x9;
//! &#xA; &#xD;`), whitespace text kept as it is, CDATA already turned into text by the
//! parser, comments dropped, processing instructions kept.

use super::dom::{
    Element, NamespaceDecl, Node, XML_NS, escape_attribute, escape_text, lookup, write_pi,
};

pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// The `#default` token of a PrefixList stands for the default namespace.
pub const DEFAULT_PREFIX_TOKEN: &str = "#default";

/// Canonicalizes `element` and its subtree.
///
/// - `inherited`: the namespace declarations in scope at the element's parent (outermost
///   first), from the document it sits in; only PrefixList prefixes read them.
/// - `inclusive_prefixes`: the PrefixList tokens (`#default` for the default namespace).
/// - `exclude`: an element left out with its subtree, compared by identity (the
///   Signature, for the enveloped-signature transform).
pub fn canonicalize(
    element: &Element,
    inherited: &[NamespaceDecl],
    inclusive_prefixes: &[String],
    exclude: Option<&Element>,
) -> String {
    let inclusive: Vec<Option<&str>> = inclusive_prefixes
        .iter()
        .map(|token| (token != DEFAULT_PREFIX_TOKEN).then_some(token.as_str()))
        .collect();
    let mut state = State {
        scope: inherited.to_vec(),
        rendered: Vec::new(),
        inclusive,
        exclude,
        out: String::new(),
    };
    state.element(element);
    state.out
}

/// Adds a binding to `wanted` unless its prefix is there already (the first one seen wins:
/// the element's own name, then its attributes, then the PrefixList) or is `xml`, which
/// is never declared.
fn want(prefix: Option<&str>, uri: &str, wanted: &mut Vec<(Option<String>, String)>) {
    if prefix == Some("xml") || wanted.iter().any(|(p, _)| p.as_deref() == prefix) {
        return;
    }
    wanted.push((prefix.map(str::to_owned), uri.to_owned()));
}

/// Splits a PrefixList attribute value into its tokens.
pub fn prefix_list(value: &str) -> Vec<String> {
    value.split_ascii_whitespace().map(str::to_owned).collect()
}

struct State<'a> {
    /// Namespace declarations in scope in the document (outermost first).
    scope: Vec<NamespaceDecl>,
    /// Namespace declarations written by output ancestors (outermost first).
    rendered: Vec<NamespaceDecl>,
    inclusive: Vec<Option<&'a str>>,
    exclude: Option<&'a Element>,
    out: String,
}

impl State<'_> {
    fn element(&mut self, element: &Element) {
        let scope_mark = self.scope.len();
        let rendered_mark = self.rendered.len();
        self.scope.extend(element.namespaces.iter().cloned());

        // The bindings this element needs written: those its name and attributes use
        // ("visibly utilized"), then the PrefixList ones in scope here.
        let mut bindings: Vec<(Option<String>, String)> = Vec::new();
        want(
            element.prefix.as_deref(),
            element.namespace.as_deref().unwrap_or(""),
            &mut bindings,
        );
        for attribute in &element.attributes {
            if let Some(prefix) = attribute.prefix.as_deref() {
                want(
                    Some(prefix),
                    attribute.namespace.as_deref().unwrap_or(""),
                    &mut bindings,
                );
            }
        }
        for prefix in self.inclusive.clone() {
            if let Some(uri) = lookup(&self.scope, prefix) {
                want(prefix, uri, &mut bindings);
            } else if prefix.is_none() {
                // No default namespace in scope is the same as xmlns="".
                want(None, "", &mut bindings);
            }
        }
        let mut declarations: Vec<NamespaceDecl> = bindings
            .into_iter()
            .filter(|(prefix, uri)| {
                let written = lookup(&self.rendered, prefix.as_deref());
                match prefix {
                    // An absent default namespace needs no xmlns="" unless an output
                    // ancestor wrote a non-empty one.
                    None => written.unwrap_or("") != uri,
                    Some(_) => written != Some(uri.as_str()),
                }
            })
            .map(|(prefix, uri)| NamespaceDecl { prefix, uri })
            .collect();
        declarations.sort_by(|a, b| {
            a.prefix
                .as_deref()
                .unwrap_or("")
                .cmp(b.prefix.as_deref().unwrap_or(""))
        });

        let name = element.qualified_name();
        self.out.push('<');
        self.out.push_str(&name);
        for decl in &declarations {
            match &decl.prefix {
                Some(prefix) => {
                    self.out.push_str(" xmlns:");
                    self.out.push_str(prefix);
                }
                None => self.out.push_str(" xmlns"),
            }
            self.out.push_str("=\"");
            escape_attribute(&decl.uri, &mut self.out);
            self.out.push('"');
        }
        self.rendered.extend(declarations);

        let mut attributes: Vec<_> = element.attributes.iter().collect();
        attributes.sort_by(|a, b| {
            (a.namespace.as_deref().unwrap_or(""), a.local_name.as_str())
                .cmp(&(b.namespace.as_deref().unwrap_or(""), b.local_name.as_str()))
        });
        for attribute in attributes {
            self.out.push(' ');
            // xml:* attributes keep their reserved prefix whatever the tree says.
            if attribute.namespace.as_deref() == Some(XML_NS) {
                self.out.push_str("xml:");
                self.out.push_str(&attribute.local_name);
            } else {
                self.out.push_str(&attribute.qualified_name());
            }
            self.out.push_str("=\"");
            escape_attribute(&attribute.value, &mut self.out);
            self.out.push('"');
        }
        self.out.push('>');

        for child in &element.children {
            match child {
                Node::Element(child) => {
                    if self
                        .exclude
                        .is_some_and(|excluded| std::ptr::eq(excluded, child))
                    {
                        continue;
                    }
                    self.element(child);
                }
                Node::Text(text) => escape_text(text, &mut self.out),
                Node::ProcessingInstruction { target, data } => {
                    write_pi(target, data, &mut self.out);
                }
            }
        }
        self.out.push_str("</");
        self.out.push_str(&name);
        self.out.push('>');
        self.scope.truncate(scope_mark);
        self.rendered.truncate(rendered_mark);
    }
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
    use crate::providers::saml::xml::parse::parse;

    fn c14n(xml: &str) -> String {
        canonicalize(&parse(xml.as_bytes()).unwrap(), &[], &[], None)
    }

    #[test]
    fn sorts_attributes_and_declarations_and_expands_empty_elements() {
        assert_eq!(
            c14n(
                r#"<r xmlns:b="urn:b" xmlns:a="urn:a" z="1" b:y="2" a:y="3" a="4" xml:lang="en"><e/></r>"#
            ),
            r#"<r xmlns:a="urn:a" xmlns:b="urn:b" a="4" z="1" xml:lang="en" a:y="3" b:y="2"><e></e></r>"#
        );
    }

    #[test]
    fn only_visibly_used_namespaces_are_written_once() {
        let xml = r#"<p:r xmlns:p="urn:p" xmlns:unused="urn:u" xmlns="urn:d"><p:c><d><p:g xmlns:p="urn:p"/></d></p:c></p:r>"#;
        assert_eq!(
            c14n(xml),
            r#"<p:r xmlns:p="urn:p"><p:c><d xmlns="urn:d"><p:g></p:g></d></p:c></p:r>"#
        );
    }

    #[test]
    fn a_subtree_carries_the_declarations_it_uses_from_outside() {
        let root = parse(
            br#"<r xmlns="urn:d" xmlns:s="urn:s" xmlns:x="urn:x"><s:a x:attr="1"><b/></s:a></r>"#,
        )
        .unwrap();
        let inner = root.child_elements().next().unwrap();
        let inherited = root.namespace_declarations();
        assert_eq!(
            canonicalize(inner, inherited, &[], None),
            r#"<s:a xmlns:s="urn:s" xmlns:x="urn:x" x:attr="1"><b xmlns="urn:d"></b></s:a>"#
        );
        // A PrefixList brings in bindings that are in scope but not used.
        assert_eq!(
            canonicalize(
                inner,
                inherited,
                &["#default".to_owned(), "x".to_owned(), "nope".to_owned()],
                None
            ),
            r#"<s:a xmlns="urn:d" xmlns:s="urn:s" xmlns:x="urn:x" x:attr="1"><b></b></s:a>"#
        );
    }

    #[test]
    fn undeclaring_the_default_namespace_is_written_only_when_needed() {
        assert_eq!(
            c14n(r#"<r xmlns="urn:d"><a xmlns=""><b xmlns=""/></a></r>"#),
            r#"<r xmlns="urn:d"><a xmlns=""><b></b></a></r>"#
        );
        assert_eq!(c14n(r#"<a xmlns=""><b/></a>"#), r#"<a><b></b></a>"#);
    }

    #[test]
    fn escapes_text_and_attributes_the_c14n_way() {
        assert_eq!(
            c14n("<a v=\"&lt;&amp;&gt;&quot;'&#9;&#10;&#13;\">&lt;&amp;&gt;\"'&#13;\r\n</a>"),
            "<a v=\"&lt;&amp;>&quot;'&#x9;&#xA;&#xD;\">&lt;&amp;&gt;\"'&#xD;\n</a>"
        );
        assert_eq!(
            c14n("<a>  <![CDATA[<x>]]>  <!-- gone --><?pi  some data ?></a>"),
            "<a>  &lt;x&gt;  <?pi some data ?></a>"
        );
    }

    #[test]
    fn leaves_out_the_excluded_element_but_keeps_the_whitespace_around_it() {
        let root = parse(b"<r ID=\"1\">\n  <s>sig</s>\n  <k/>\n</r>").unwrap();
        let signature = root.child_elements().next().unwrap();
        assert_eq!(
            canonicalize(&root, &[], &[], Some(signature)),
            "<r ID=\"1\">\n  \n  <k></k>\n</r>"
        );
    }

    #[test]
    fn canonicalizes_the_w3c_exclusive_example() {
        // Exclusive C14N spec, section 2.2: the same apex element under different
        // ancestors canonicalizes the same way.
        let one = parse(
            br#"<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n0:local>"#,
        )
        .unwrap();
        let two = parse(
            br#"<n2:pdu xmlns:n1="http://example.com" xmlns:n2="http://foo.example" xml:lang="fr" xml:space="retain"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n2:pdu>"#,
        )
        .unwrap();
        let expected = r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#;
        for root in [&one, &two] {
            let elem2 = root.child_elements().next().unwrap();
            assert_eq!(
                canonicalize(elem2, root.namespace_declarations(), &[], None),
                expected
            );
        }
    }
}
