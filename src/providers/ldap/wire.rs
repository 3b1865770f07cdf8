//! The LDAP wire codec. ldap3_proto decodes every request and encodes the few kinds of
//! answers; search result entries — nearly all the bytes a directory sends — are written
//! to BER here, straight from the view's entries. Going through ldap3_proto's tree of
//! `StructureTag`s costs several allocations per value; for a search of every user that
//! was most of the time spent (benches/ldap.py). A SearchResultEntry is a fixed shape
//! of octet strings, sequences and sets, so writing it by hand is short and is checked
//! below against ldap3_proto's own decoder.

use bytes::BytesMut;
use ldap3_proto::LdapCodec;
use ldap3_proto::proto::LdapMsg;
use tokio_util::codec::{Decoder, Encoder};

use super::entry::Attribute;

/// What the connection loop writes: a message for ldap3_proto to encode, or messages
/// already encoded here.
#[derive(Debug)]
pub enum Outgoing {
    Message(LdapMsg),
    Encoded(Vec<u8>),
}

impl From<LdapMsg> for Outgoing {
    fn from(message: LdapMsg) -> Outgoing {
        Outgoing::Message(message)
    }
}

/// ldap3_proto's codec for reading, and for writing `Outgoing`.
pub struct WireCodec(LdapCodec);

impl WireCodec {
    pub fn new(max_message_bytes: usize) -> WireCodec {
        WireCodec(LdapCodec::new(Some(max_message_bytes), None))
    }
}

impl Decoder for WireCodec {
    type Item = LdapMsg;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<LdapMsg>, std::io::Error> {
        self.0.decode(buf)
    }
}

impl Encoder<Outgoing> for WireCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: Outgoing, buf: &mut BytesMut) -> Result<(), std::io::Error> {
        match item {
            Outgoing::Message(message) => self.0.encode(message, buf),
            Outgoing::Encoded(bytes) => {
                buf.extend_from_slice(&bytes);
                Ok(())
            }
        }
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
/// `[APPLICATION 4]`, constructed: SearchResultEntry.
const SEARCH_RESULT_ENTRY: u8 = 0x64;

/// Appends one LDAPMessage carrying a SearchResultEntry (no controls) to `out`.
pub fn write_entry<'a>(
    out: &mut Vec<u8>,
    msgid: i32,
    dn: &str,
    attributes: impl Iterator<Item = &'a Attribute> + Clone,
) {
    let attribute_len = |attribute: &Attribute| {
        let values: usize = attribute
            .values
            .iter()
            .map(|value| tlv_len(value.len()))
            .sum();
        tlv_len(attribute.name.len()) + tlv_len(values)
    };
    let list: usize = attributes
        .clone()
        .map(|attribute| tlv_len(attribute_len(attribute)))
        .sum();
    let entry = tlv_len(dn.len()) + tlv_len(list);
    let id = integer_bytes(msgid);
    out.reserve(tlv_len(tlv_len(id.len()) + tlv_len(entry)));
    header(out, SEQUENCE, tlv_len(id.len()) + tlv_len(entry));
    header(out, INTEGER, id.len());
    out.extend_from_slice(&id);
    header(out, SEARCH_RESULT_ENTRY, entry);
    octet_string(out, dn);
    header(out, SEQUENCE, list);
    for attribute in attributes {
        header(out, SEQUENCE, attribute_len(attribute));
        octet_string(out, &attribute.name);
        let values = attribute.values.iter().map(|value| tlv_len(value.len()));
        header(out, SET, values.sum());
        for value in &attribute.values {
            octet_string(out, value);
        }
    }
}

/// The size of a tag-length-value whose value is `content` bytes long.
fn tlv_len(content: usize) -> usize {
    1 + length_len(content) + content
}

fn length_len(content: usize) -> usize {
    if content < 0x80 {
        1
    } else {
        1 + content
            .to_be_bytes()
            .iter()
            .skip_while(|byte| **byte == 0)
            .count()
    }
}

/// A tag and a definite length (short form below 128, else the long form).
fn header(out: &mut Vec<u8>, tag: u8, content: usize) {
    out.push(tag);
    if content < 0x80 {
        out.push(content as u8);
        return;
    }
    let bytes = content.to_be_bytes();
    let zeros = bytes.iter().take_while(|byte| **byte == 0).count();
    let significant = bytes.get(zeros..).unwrap_or_default();
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

fn octet_string(out: &mut Vec<u8>, text: &str) {
    header(out, OCTET_STRING, text.len());
    out.extend_from_slice(text.as_bytes());
}

/// The shortest two's-complement big-endian form of `value`, as BER wants.
fn integer_bytes(value: i32) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start + 1 < bytes.len() {
        let (Some(&first), Some(&second)) = (bytes.get(start), bytes.get(start + 1)) else {
            break;
        };
        let redundant =
            (first == 0x00 && second & 0x80 == 0) || (first == 0xff && second & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    bytes.get(start..).unwrap_or(&bytes).to_vec()
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use ldap3_proto::proto::{LdapOp, LdapPartialAttribute, LdapSearchResultEntry};

    use super::super::entry::Entry;
    use super::*;

    fn decoded(bytes: &[u8]) -> LdapMsg {
        let mut buf = BytesMut::from(bytes);
        let message = LdapCodec::new(Some(1 << 24), None)
            .decode(&mut buf)
            .expect("decodes")
            .expect("one whole message");
        assert!(buf.is_empty(), "nothing left over");
        message
    }

    #[test]
    fn entries_written_here_decode_as_ldap3_proto_reads_them() {
        let long_value = "x".repeat(70_000);
        let mut entry = Entry::new("cn=ada,ou=users,dc=example,dc=org".into());
        entry.add("objectClass", ["top", "person"]);
        entry.add("cn", ["ada"]);
        entry.add("description", [long_value.as_str()]);
        entry.add(
            "memberOf",
            (0..40).map(|n| format!("cn=group{n},ou=groups")),
        );
        // MessageID is INTEGER (0..maxInt).
        for msgid in [0, 1, 127, 128, 255, 256, 65_535, i32::MAX] {
            let mut out = Vec::new();
            write_entry(&mut out, msgid, &entry.dn, entry.attributes.iter());
            let expected = LdapMsg {
                msgid,
                op: LdapOp::SearchResultEntry(LdapSearchResultEntry {
                    dn: entry.dn.clone(),
                    attributes: entry
                        .attributes
                        .iter()
                        .map(|attribute| LdapPartialAttribute {
                            atype: attribute.name.clone(),
                            vals: attribute
                                .values
                                .iter()
                                .map(|value| value.as_bytes().to_vec())
                                .collect(),
                        })
                        .collect(),
                }),
                ctrl: Vec::new(),
            };
            // Compared without printing: the entry holds a 70 kB value.
            assert!(decoded(&out) == expected, "msgid {msgid}");
        }
    }

    #[test]
    fn an_entry_without_attributes_and_several_in_one_buffer() {
        let entry = Entry::new("ou=users,dc=example,dc=org".into());
        let mut out = Vec::new();
        write_entry(&mut out, 7, &entry.dn, entry.attributes.iter());
        write_entry(&mut out, 8, &entry.dn, entry.attributes.iter());
        let mut buf = BytesMut::from(&out[..]);
        let mut codec = LdapCodec::default();
        for msgid in [7, 8] {
            let message = codec.decode(&mut buf).expect("decodes").expect("whole");
            assert_eq!(message.msgid, msgid);
        }
        assert!(buf.is_empty());
    }
}
