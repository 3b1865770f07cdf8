//! The QR code of an enrollment URI as inline SVG, rendered here so the secret never
//! leaves the server for a QR service.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An SVG image of `text`, or `None` when it is too long for a QR code.
pub fn svg(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_an_svg() {
        let image = super::svg("otpauth://totp/gatehouse:alice?secret=ABC").unwrap_or_default();
        assert!(
            image.starts_with("<?xml") || image.starts_with("<svg"),
            "{image}"
        );
        assert!(image.contains("<svg"));
    }
}
