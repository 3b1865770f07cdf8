//! The text fields of a small form upload: `multipart/form-data` (RFC 7578), as
//! authentik's metadata import is sent, or a JSON object of strings. Enough for a few
//! fields and one text file already held in memory (the body limit applies first); no
//! streaming, no nested multiparts, and files are read as UTF-8 text.

use std::collections::HashMap;

/// The fields by name (the first of a repeated name wins).
pub fn form_fields(content_type: &str, body: &[u8]) -> Result<HashMap<String, String>, String> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if media.eq_ignore_ascii_case("application/json") {
        let object: HashMap<String, serde_json::Value> =
            serde_json::from_slice(body).map_err(|error| format!("JSON parse error - {error}"))?;
        return Ok(object
            .into_iter()
            .filter_map(|(name, value)| match value {
                serde_json::Value::String(text) => Some((name, text)),
                _ => None,
            })
            .collect());
    }
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return Err("Send multipart/form-data (or application/json).".into());
    }
    let boundary = content_type
        .split(';')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
        .filter(|boundary| !boundary.is_empty())
        .ok_or("The multipart form has no boundary.")?;
    let text = std::str::from_utf8(body).map_err(|_| "The form is not UTF-8 text.")?;
    let delimiter = format!("--{boundary}");
    let mut fields = HashMap::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let Some((headers, content)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let content = content.strip_suffix("\r\n").unwrap_or(content);
        if let Some(name) = field_name(headers) {
            fields.entry(name).or_insert_with(|| content.to_owned());
        }
    }
    Ok(fields)
}

/// `name="..."` of the part's Content-Disposition.
fn field_name(headers: &str) -> Option<String> {
    let disposition = headers.lines().find(|line| {
        line.to_ascii_lowercase()
            .starts_with("content-disposition:")
    })?;
    disposition.split(';').find_map(|parameter| {
        let (key, value) = parameter.trim().split_once('=')?;
        (key.trim() == "name").then(|| value.trim().trim_matches('"').to_owned())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_a_file() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nWiki\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"sp.xml\"\r\nContent-Type: text/xml\r\n\r\n<a>\r\n</a>\r\n--XyZ--\r\n";
        let fields = form_fields("multipart/form-data; boundary=XyZ", body.as_bytes()).unwrap();
        assert_eq!(fields["name"], "Wiki");
        assert_eq!(fields["file"], "<a>\r\n</a>");
        let json = form_fields("application/json", br#"{"name": "Wiki", "n": 1}"#).unwrap();
        assert_eq!(json.len(), 1);
        assert!(form_fields("text/plain", b"").is_err());
        assert!(form_fields("multipart/form-data", b"").is_err());
    }
}
