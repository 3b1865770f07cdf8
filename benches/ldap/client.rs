//! The LDAP load generator of benches/ldap.py: one client for both servers (gatehouse and
//! OpenLDAP slapd), so the two figures differ only by the server. Standard library only,
//! built by the script with `rustc -O` (no Cargo package, no dependencies).
//!
//! N threads, each with its own persistent connection (TCP_NODELAY, one write per
//! request), for a fixed time:
//!   bind — simple bind of `user{n}` (n random below `bind_users`) with `user_password`;
//!   eq   — after one bind as `bind_dn`, subtree search `(uid=user{n})` (n random below
//!          `users`), all user attributes;
//!   all  — after one bind as `bind_dn`, subtree search `(objectClass=<all_class>)`, all
//!          user attributes.
//! Responses are framed by their BER lengths and read whole (every byte of every entry
//! comes off the socket); the client checks result codes and counts entries, it does not
//! decode attributes. Prints one JSON line.
//!
//! Usage: client key=value ... (addr, mode, seconds, conns, base, bind_dn, password,
//! user_dn (with {n}), user_password, bind_users, users, all_class, expect_all)

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let args: HashMap<String, String> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    let get = |name: &str| -> String {
        args.get(name)
            .cloned()
            .unwrap_or_else(|| fail(&format!("missing argument {name}=")))
    };
    let number = |name: &str, default: u64| -> u64 {
        args.get(name)
            .map(|v| v.parse().unwrap_or_else(|_| fail(&format!("{name} must be a number"))))
            .unwrap_or(default)
    };
    let config = Arc::new(Config {
        addr: get("addr"),
        mode: get("mode"),
        base: get("base"),
        bind_dn: args.get("bind_dn").cloned().unwrap_or_default(),
        password: args.get("password").cloned().unwrap_or_default(),
        user_dn: args.get("user_dn").cloned().unwrap_or_default(),
        user_password: args.get("user_password").cloned().unwrap_or_default(),
        bind_users: number("bind_users", 20).max(1),
        users: number("users", 1000).max(1),
        all_class: args.get("all_class").cloned().unwrap_or_else(|| "inetOrgPerson".into()),
        expect_all: number("expect_all", 0),
    });
    if !matches!(config.mode.as_str(), "bind" | "eq" | "all") {
        fail("mode must be bind, eq or all");
    }
    let seconds = number("seconds", 15);
    let conns = number("conns", 8).max(1);
    // Connect and bind every connection first, then start the clock for all of them.
    let mut sessions = Vec::new();
    for i in 0..conns {
        sessions.push(Session::open(&config, 0x9E37_79B9_7F4A_7C15 ^ (i + 1) * 0x1234_5678_9ABC));
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let handles: Vec<_> = sessions
        .into_iter()
        .map(|mut session| {
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                let mut stats = Stats::default();
                while Instant::now() < deadline {
                    session.one(&config, &mut stats);
                }
                stats
            })
        })
        .collect();
    let mut total = Stats::default();
    for handle in handles {
        let stats = handle.join().unwrap_or_else(|_| fail("a client thread panicked"));
        total.latencies_us.extend(stats.latencies_us);
        total.errors += stats.errors;
        total.entries += stats.entries;
        total.bytes += stats.bytes;
        total.wrong_count += stats.wrong_count;
        if total.first_error.is_empty() {
            total.first_error = stats.first_error;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let ops = total.latencies_us.len() as u64;
    total.latencies_us.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if total.latencies_us.is_empty() {
            return 0.0;
        }
        let index = ((total.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        total.latencies_us[index] as f64 / 1000.0
    };
    let per_op = |value: u64| if ops == 0 { 0.0 } else { value as f64 / ops as f64 };
    println!(
        "{{\"mode\": \"{}\", \"ops\": {ops}, \"seconds\": {elapsed:.3}, \"ops_per_s\": {:.1}, \
         \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"max_ms\": {:.3}, \"errors\": {}, \
         \"wrong_entry_count\": {}, \"entries_per_op\": {:.1}, \"bytes_per_op\": {:.0}, \
         \"first_error\": \"{}\"}}",
        config.mode,
        ops as f64 / elapsed,
        percentile(0.5),
        percentile(0.99),
        percentile(1.0),
        total.errors,
        total.wrong_count,
        per_op(total.entries),
        per_op(total.bytes),
        total.first_error.replace('\\', "\\\\").replace('"', "'"),
    );
}

fn fail(message: &str) -> ! {
    eprintln!("ldap bench client: {message}");
    std::process::exit(2);
}

struct Config {
    addr: String,
    mode: String,
    base: String,
    bind_dn: String,
    password: String,
    user_dn: String,
    user_password: String,
    bind_users: u64,
    users: u64,
    all_class: String,
    expect_all: u64,
}

#[derive(Default)]
struct Stats {
    /// Only successful operations are timed and counted.
    latencies_us: Vec<u32>,
    errors: u64,
    wrong_count: u64,
    entries: u64,
    bytes: u64,
    first_error: String,
}

struct Session {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    msgid: i32,
    rng: u64,
    request: Vec<u8>,
    message: Vec<u8>,
    /// Bytes read since the last `take_bytes`.
    received: u64,
}

impl Session {
    fn open(config: &Config, seed: u64) -> Session {
        let stream = TcpStream::connect(&config.addr)
            .unwrap_or_else(|e| fail(&format!("connect {}: {e}", config.addr)));
        let _ = stream.set_nodelay(true);
        let reader = BufReader::with_capacity(
            256 * 1024,
            stream.try_clone().unwrap_or_else(|e| fail(&e.to_string())),
        );
        let mut session = Session {
            writer: stream,
            reader,
            msgid: 0,
            rng: seed | 1,
            request: Vec::with_capacity(512),
            message: Vec::with_capacity(64 * 1024),
            received: 0,
        };
        if config.mode != "bind" {
            match session.bind(&config.bind_dn, &config.password) {
                Ok(0) => {}
                Ok(code) => fail(&format!("bind as {} answered result code {code}", config.bind_dn)),
                Err(e) => fail(&format!("bind as {}: {e}", config.bind_dn)),
            }
        }
        session
    }

    fn random(&mut self, below: u64) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) % below
    }

    fn one(&mut self, config: &Config, stats: &mut Stats) {
        let begin = Instant::now();
        let outcome = match config.mode.as_str() {
            "bind" => {
                let n = self.random(config.bind_users);
                let dn = config.user_dn.replace("{n}", &format!("{n:04}"));
                self.bind(&dn, &config.user_password).map(|code| (code, None))
            }
            "eq" => {
                let n = self.random(config.users);
                self.search(&config.base, "uid", &format!("user{n:04}"))
                    .map(|(code, entries)| (code, Some((entries, 1))))
            }
            _ => self
                .search(&config.base, "objectClass", &config.all_class)
                .map(|(code, entries)| (code, Some((entries, config.expect_all)))),
        };
        let elapsed = begin.elapsed();
        match outcome {
            Ok((0, counted)) => {
                stats.latencies_us.push(elapsed.as_micros().min(u32::MAX as u128) as u32);
                if let Some((entries, expected)) = counted {
                    stats.entries += entries;
                    if expected > 0 && entries != expected {
                        stats.wrong_count += 1;
                    }
                }
            }
            Ok((code, _)) => {
                stats.errors += 1;
                if stats.first_error.is_empty() {
                    stats.first_error = format!("result code {code}");
                }
            }
            Err(error) => {
                stats.errors += 1;
                if stats.first_error.is_empty() {
                    stats.first_error = error.to_string();
                }
                // The connection is gone: wait for the deadline rather than spin.
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        stats.bytes += self.take_bytes();
    }

    fn next_id(&mut self) -> i32 {
        self.msgid = self.msgid.wrapping_add(1).max(1);
        self.msgid
    }

    /// The result code of a simple bind.
    fn bind(&mut self, dn: &str, password: &str) -> std::io::Result<u32> {
        let id = self.next_id();
        let mut op = Vec::new();
        integer(&mut op, 3);
        octets(&mut op, 0x04, dn.as_bytes());
        octets(&mut op, 0x80, password.as_bytes());
        self.send(id, 0x60, &op)?;
        loop {
            let tag = self.receive()?;
            if tag == 0x61 {
                return Ok(self.result_code());
            }
        }
    }

    /// The result code of a subtree equality search and the number of entries returned.
    fn search(&mut self, base: &str, attribute: &str, value: &str) -> std::io::Result<(u32, u64)> {
        let id = self.next_id();
        let mut op = Vec::new();
        octets(&mut op, 0x04, base.as_bytes());
        octets(&mut op, 0x0a, &[2]); // scope: wholeSubtree
        octets(&mut op, 0x0a, &[0]); // derefAliases: never
        integer(&mut op, 0); // sizeLimit
        integer(&mut op, 0); // timeLimit
        octets(&mut op, 0x01, &[0]); // typesOnly: false
        let mut filter = Vec::new();
        octets(&mut filter, 0x04, attribute.as_bytes());
        octets(&mut filter, 0x04, value.as_bytes());
        octets(&mut op, 0xa3, &filter); // equalityMatch
        octets(&mut op, 0x30, &[]); // no attribute list: all user attributes
        self.send(id, 0x63, &op)?;
        let mut entries = 0;
        loop {
            match self.receive()? {
                0x64 => entries += 1,
                0x65 => return Ok((self.result_code(), entries)),
                _ => {}
            }
        }
    }

    fn send(&mut self, id: i32, tag: u8, op: &[u8]) -> std::io::Result<()> {
        let mut body = Vec::with_capacity(op.len() + 16);
        integer(&mut body, id as i64);
        octets(&mut body, tag, op);
        self.request.clear();
        let mut request = std::mem::take(&mut self.request);
        octets(&mut request, 0x30, &body);
        let written = self.writer.write_all(&request);
        self.request = request;
        written
    }

    /// Reads one whole LDAPMessage into `self.message`; returns its protocolOp tag.
    fn receive(&mut self) -> std::io::Result<u8> {
        let mut head = [0u8; 2];
        self.reader.read_exact(&mut head)?;
        if head[0] != 0x30 {
            return Err(bad("not an LDAPMessage"));
        }
        let length = self.read_length(head[1])?;
        self.message.resize(length, 0);
        self.reader.read_exact(&mut self.message)?;
        self.received += (2 + length) as u64;
        // messageID INTEGER, then the protocolOp's tag.
        let message = &self.message;
        if message.len() < 3 || message[0] != 0x02 {
            return Err(bad("no messageID"));
        }
        let skip = 2 + message[1] as usize;
        message.get(skip).copied().ok_or_else(|| bad("no protocolOp"))
    }

    fn read_length(&mut self, first: u8) -> std::io::Result<usize> {
        if first & 0x80 == 0 {
            return Ok(first as usize);
        }
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 4 {
            return Err(bad("unsupported BER length"));
        }
        let mut bytes = [0u8; 4];
        self.reader.read_exact(&mut bytes[..count])?;
        Ok(bytes[..count].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize))
    }

    /// The resultCode of the LDAPResult in `self.message` (BindResponse/SearchResultDone).
    fn result_code(&self) -> u32 {
        let message = &self.message;
        let mut at = 2 + message[1] as usize; // past messageID
        at += 1; // op tag
        let Some(&first) = message.get(at) else { return u32::MAX };
        at += 1 + if first & 0x80 == 0 { 0 } else { (first & 0x7f) as usize };
        // resultCode ENUMERATED
        match (message.get(at), message.get(at + 1), message.get(at + 2)) {
            (Some(0x0a), Some(1), Some(code)) => *code as u32,
            _ => u32::MAX,
        }
    }

    fn take_bytes(&mut self) -> u64 {
        std::mem::take(&mut self.received)
    }
}

fn bad(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_owned())
}

fn length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn octets(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    length(out, value.len());
    out.extend_from_slice(value);
}

fn integer(out: &mut Vec<u8>, value: i64) {
    let bytes = value.to_be_bytes();
    // Minimal two's-complement encoding.
    let mut start = 0;
    while start < 7
        && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    octets(out, 0x02, &bytes[start..]);
}
