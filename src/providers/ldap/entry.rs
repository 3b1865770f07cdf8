//! Directory entries as the LDAP provider serves them: a DN and attributes with their
//! values as text, names kept in the spelling clients see and compared
//! case-insensitively.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// As served (`memberOf`).
    pub name: String,
    /// Lowercased, for lookups (`memberof`).
    pub lower: String,
    pub values: Vec<String>,
    /// Operational attributes are sent only when asked for by name or with `+`.
    pub operational: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    /// `dn::normalize(dn)`, for matching bases and scopes.
    pub dn_norm: String,
    pub attributes: Vec<Attribute>,
}

impl Entry {
    pub fn new(dn: String) -> Entry {
        let dn_norm = super::dn::normalize(&dn);
        Entry {
            dn,
            dn_norm,
            attributes: Vec::new(),
        }
    }

    /// Adds values to an attribute (created on first use); empty values are skipped.
    pub fn add<I, S>(&mut self, name: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.push(name, values, false);
    }

    pub fn add_operational<I, S>(&mut self, name: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.push(name, values, true);
    }

    fn push<I, S>(&mut self, name: &str, values: I, operational: bool)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let values: Vec<String> = values
            .into_iter()
            .map(Into::into)
            .filter(|value| !value.is_empty())
            .collect();
        if values.is_empty() {
            return;
        }
        let lower = name.to_ascii_lowercase();
        match self.attributes.iter_mut().find(|a| a.lower == lower) {
            Some(existing) => existing.values.extend(values),
            None => self.attributes.push(Attribute {
                name: name.to_owned(),
                lower,
                values,
                operational,
            }),
        }
    }

    /// The attribute named `name` (any case).
    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|attribute| attribute.lower.eq_ignore_ascii_case(name))
    }
}

/// Case-insensitive equality of two values (ASCII fast path).
pub fn same_text(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}
