//! Checking a typed code (TOTP or recovery code) against a user's devices, without a
//! browser: the authenticator validation stage uses it, and so will the LDAP bind
//! (`password;123456`) and RADIUS. One write transaction reads the devices and spends
//! the code, so two requests racing with one code cannot both pass.

use crate::crypto::SecretBox;
use crate::model::{DeviceClass, DeviceData, DeviceId, Timestamp, UserId};
use crate::store::{Db, DeviceFilter, StoreResult};

use super::{static_codes, totp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The code was good for this device, and is spent.
    Valid {
        device: DeviceId,
        class: DeviceClass,
    },
    /// The user has devices of the allowed classes, and the code fits none.
    Invalid,
    /// The user has no confirmed device of the allowed classes.
    NoDevices,
}

/// Tries `code` on the user's confirmed devices of `classes` (TOTP and static only: the
/// others are not typed codes), oldest first.
pub async fn check_code(
    db: &Db,
    secret_box: &SecretBox,
    now: Timestamp,
    user: UserId,
    code: &str,
    classes: &[DeviceClass],
) -> StoreResult<CodeCheck> {
    let code = code.trim().to_owned();
    let classes: Vec<DeviceClass> = classes
        .iter()
        .copied()
        .filter(|class| matches!(class, DeviceClass::Totp | DeviceClass::Static))
        .collect();
    let secret_box = secret_box.clone();
    let unix_time = u64::try_from(now.0).unwrap_or_default();
    db.write(move |tx| {
        let devices = tx.devices(DeviceFilter {
            user: Some(user),
            confirmed: Some(true),
            ..DeviceFilter::default()
        })?;
        let mut candidates = devices
            .into_iter()
            .filter(|device| classes.contains(&device.class()))
            .peekable();
        if candidates.peek().is_none() {
            return Ok(CodeCheck::NoDevices);
        }
        for mut device in candidates {
            let accepted = match &mut device.data {
                DeviceData::Totp(data) => match totp::check(data, &secret_box, &code, unix_time) {
                    Some(step) => {
                        data.last_step = step;
                        true
                    }
                    None => false,
                },
                DeviceData::Static(data) => static_codes::spend(data, &code),
                DeviceData::Webauthn(_) | DeviceData::Email(_) => false,
            };
            if accepted {
                device.last_used = Some(now);
                device.last_updated = now;
                tx.update_device(&device)?;
                return Ok(CodeCheck::Valid {
                    device: device.id,
                    class: device.class(),
                });
            }
        }
        Ok(CodeCheck::Invalid)
    })
    .await
}
