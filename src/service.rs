//! Talking to systemd when it supervises the process (`Type=notify`): `READY=1` once the
//! listeners and storage are up, `STOPPING=1` when shutdown begins, and `WATCHDOG=1`
//! pings at half the interval systemd asks for. The protocol is one datagram of
//! `KEY=VALUE` lines to the socket named in `$NOTIFY_SOCKET`, so a few lines over std's
//! Unix datagram socket do it, with no libsystemd (a C library) in a static binary.
//! Outside systemd the variable is unset and every call does nothing.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone)]
pub struct Notifier {
    target: Option<Target>,
    watchdog: Option<Duration>,
}

#[derive(Clone)]
enum Target {
    Path(PathBuf),
    /// `@name`: a Linux abstract-namespace socket (systemd may hand out either kind).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Abstract(Vec<u8>),
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` once, at start.
    pub fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|value| {
            let text = value.to_string_lossy().into_owned();
            match text.strip_prefix('@') {
                Some(name) => Some(Target::Abstract(name.as_bytes().to_vec())),
                None if text.starts_with('/') => Some(Target::Path(PathBuf::from(value))),
                None => None,
            }
        });
        // WATCHDOG_PID names the process meant to ping; a child that inherited the
        // variables must not ping on its parent's behalf.
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_none_or(|pid| pid == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|usec| usec.parse::<u64>().ok())
            .filter(|usec| *usec > 0 && for_us)
            .map(|usec| Duration::from_micros(usec / 2));
        Notifier { target, watchdog }
    }

    /// Sends one state line; failures are logged, never fatal (the service still runs).
    pub fn notify(&self, state: &str) {
        let Some(target) = &self.target else {
            return;
        };
        if let Err(error) = send(target, state.as_bytes()) {
            tracing::warn!(%error, state, "could not notify systemd");
        }
    }

    pub fn ready(&self) {
        self.notify(&format!("READY=1\nMAINPID={}", std::process::id()));
    }

    pub fn stopping(&self) {
        self.notify("STOPPING=1");
    }

    /// Pings `WATCHDOG=1` at half the configured interval from a task on the server's
    /// runtime: if the runtime stalls, the pings stop and systemd restarts the service.
    pub fn spawn_watchdog(&self) -> Option<tokio::task::JoinHandle<()>> {
        let period = self.watchdog?;
        self.target.as_ref()?;
        let notifier = self.clone();
        Some(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            loop {
                ticks.tick().await;
                notifier.notify("WATCHDOG=1");
            }
        }))
    }
}

fn send(target: &Target, message: &[u8]) -> std::io::Result<()> {
    let socket = UnixDatagram::unbound()?;
    match target {
        Target::Path(path) => socket.send_to(message, path).map(|_| ()),
        #[cfg(target_os = "linux")]
        Target::Abstract(name) => {
            use std::os::linux::net::SocketAddrExt;
            let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(message, &address).map(|_| ())
        }
        #[cfg(not(target_os = "linux"))]
        Target::Abstract(_) => Err(std::io::Error::other(
            "abstract NOTIFY_SOCKET names exist only on Linux",
        )),
    }
}
